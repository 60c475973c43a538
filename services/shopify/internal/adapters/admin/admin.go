// Package admin calls Shopify's GraphQL Admin API for the connector: the
// order and its fulfillment orders, fulfillmentCreate,
// fulfillmentTrackingInfoUpdate and the orders changed since a time. Calls
// go through pkg/connector/client: per-store cost buckets fed by
// extensions.cost.throttleStatus, THROTTLED and 429 (Retry-After) waited
// out, 5xx and timeouts retried with backoff and jitter. Mutations are not
// idempotent on Shopify's side, so they are retried only when Shopify
// certainly did not act (429, 503, THROTTLED); the caller re-reads and
// decides again otherwise.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/services/shopify/internal/domain"
	"github.com/dropsync/dropsync/services/shopify/internal/stores"
)

// DefaultBaseURL reaches a shop on Shopify: {shop} is its domain.
const DefaultBaseURL = "https://{shop}"

// Errors, as the domain names them.
var (
	// ErrGraphQL: Shopify refused the operation itself (a GraphQL error
	// other than THROTTLED): retrying the same call cannot help.
	ErrGraphQL = fmt.Errorf("shopify graphql: %w", domain.ErrAPI)
	// ErrNotFound: the order does not exist on the shop (or no longer).
	ErrNotFound = fmt.Errorf("shopify: %w", domain.ErrNotFound)
	// ErrTooLarge: the order has more line items, fulfilments or refunds
	// than the connector reads in one query.
	ErrTooLarge = fmt.Errorf("shopify: %w", domain.ErrTooLarge)
)

// UserError is one of a mutation's userErrors: Shopify refused the input.
type UserError struct {
	Field   []string `json:"field"`
	Message string   `json:"message"`
}

// UserErrors is a mutation's refusal; it is permanent and matches
// domain.ErrRefused.
type UserErrors []UserError

// Is makes UserErrors match domain.ErrRefused.
func (u UserErrors) Is(target error) bool { return target == domain.ErrRefused }

func (u UserErrors) Error() string {
	msgs := make([]string, len(u))
	for i, e := range u {
		msgs[i] = e.Message
		if len(e.Field) > 0 {
			msgs[i] = strings.Join(e.Field, ".") + ": " + e.Message
		}
	}
	return "shopify refused: " + strings.Join(msgs, "; ")
}

// Config configures a Client.
type Config struct {
	// BaseURL is the API's base, with {shop} replaced by the shop domain;
	// default DefaultBaseURL. Point it at the simulator in development.
	BaseURL string
	// Version is the Admin API version, e.g. "2025-10".
	Version string
	// HTTP makes the calls; its Observer and Classifier should be
	// client.ShopifyGraphQL and client.ShopifyGraphQLClassifier (NewHTTP).
	HTTP *client.Client
}

// NewHTTP returns the pkg/connector/client configured for Shopify GraphQL.
func NewHTTP(cfg client.Config) *client.Client {
	cfg.Observer = client.ShopifyGraphQL
	cfg.Classifier = client.ShopifyGraphQLClassifier
	return client.New(cfg)
}

// Client calls the Admin API of the registered stores.
type Client struct {
	cfg Config
}

// New returns a Client.
func New(cfg Config) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	return &Client{cfg: cfg}
}

// endpoint is the GraphQL URL of a shop.
func (c *Client) endpoint(s *stores.Store) string {
	base := strings.TrimRight(strings.ReplaceAll(c.cfg.BaseURL, "{shop}", s.Domain), "/")
	return base + "/admin/api/" + c.cfg.Version + "/graphql.json"
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string `json:"message"`
		Extensions struct {
			Code string `json:"code"`
		} `json:"extensions"`
	} `json:"errors"`
}

// localCostCap bounds what one call takes from the client's local bucket.
// Shopify admits a query when its requested cost is available and at once
// refunds what the query did not use (a query asking for 50 lines of an
// order with 2 costs little); the local bucket learns of the refund only
// from the next response's throttleStatus. Charging the whole requested
// cost locally would make concurrent calls sleep for points Shopify has
// long refunded. So the local bucket spreads calls out, and Shopify's own
// THROTTLED answer, retried after the time the missing points take to
// restore, is the backstop.
const localCostCap = 100

// do runs one operation; cost is its requested cost.
func (c *Client) do(ctx context.Context, s *stores.Store, query string, vars map[string]any, cost float64, mutation bool, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return fmt.Errorf("encode query: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(s), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("shopify request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Shopify-Access-Token", s.AccessToken.Reveal())
	opts := []client.Option{client.WithKey("shopify:" + s.Slug), client.WithStore(s.Slug), client.WithCost(min(cost, localCostCap))}
	if mutation {
		opts = append(opts, client.NotIdempotent())
	}
	resp, err := c.cfg.HTTP.Do(ctx, req, opts...)
	if err != nil {
		return err
	}
	var r gqlResponse
	if err := json.Unmarshal(resp.Body, &r); err != nil {
		return client.Permanent(fmt.Errorf("%w: response is not JSON: %w", ErrGraphQL, err))
	}
	if len(r.Errors) > 0 {
		msgs := make([]string, len(r.Errors))
		for i, e := range r.Errors {
			msgs[i] = e.Message
			if e.Extensions.Code != "" {
				msgs[i] += " (" + e.Extensions.Code + ")"
			}
		}
		return fmt.Errorf("%w: %s", ErrGraphQL, strings.Join(msgs, "; "))
	}
	if err := json.Unmarshal(r.Data, out); err != nil {
		return fmt.Errorf("%w: unexpected data: %w", ErrGraphQL, err)
	}
	return nil
}

func orderGID(id string) string { return "gid://shopify/Order/" + id }

// legacyID is the numeric id at the end of a global id.
func legacyID(gid string) string {
	if i := strings.LastIndexByte(gid, '/'); i >= 0 {
		gid = gid[i+1:]
	}
	if i := strings.IndexByte(gid, '?'); i >= 0 {
		gid = gid[:i]
	}
	return gid
}

// Limits of one order read; larger orders give ErrTooLarge (one more
// fulfilment and refund than the limit is asked for, to tell).
const (
	maxLines        = 50
	maxFulfillments = 5
	maxFulfilLines  = 20
	maxRefunds      = 5
	maxRefundLines  = 20
)

// orderFields is the selection of an order snapshot.
var orderFields = fmt.Sprintf(`id legacyResourceId name email createdAt updatedAt cancelledAt cancelReason
    displayFinancialStatus displayFulfillmentStatus currencyCode
    currentTotalPriceSet { shopMoney { amount currencyCode } }
    shippingAddress { firstName lastName address1 address2 city province zip countryCodeV2 phone }
    lineItems(first: %d) {
      pageInfo { hasNextPage }
      nodes { id sku title quantity currentQuantity variant { id } product { id } originalUnitPriceSet { shopMoney { amount } } }
    }
    fulfillments(first: %d) {
      legacyResourceId status createdAt
      trackingInfo(first: 3) { company number url }
      fulfillmentLineItems(first: %d) { pageInfo { hasNextPage } nodes { quantity lineItem { id } } }
    }
    refunds(first: %d) {
      legacyResourceId createdAt totalRefundedSet { shopMoney { amount currencyCode } }
      refundLineItems(first: %d) { pageInfo { hasNextPage } nodes { quantity lineItem { id } } }
    }`, maxLines, maxFulfillments+1, maxFulfilLines, maxRefunds+1, maxRefundLines)

// orderCost is orderFields' requested cost, as Shopify computes it.
const orderCost = 802

var orderQuery = `query Order($id: ID!) {
  order(id: $id) {
    ` + orderFields + `
  }
}`

type gqlMoney struct {
	Amount       string `json:"amount"`
	CurrencyCode string `json:"currencyCode"`
}

type gqlRef struct {
	ID string `json:"id"`
}

type gqlOrder struct {
	ID                       string  `json:"id"`
	LegacyResourceID         string  `json:"legacyResourceId"`
	Name                     string  `json:"name"`
	Email                    *string `json:"email"`
	CreatedAt                string  `json:"createdAt"`
	UpdatedAt                string  `json:"updatedAt"`
	CancelledAt              *string `json:"cancelledAt"`
	CancelReason             *string `json:"cancelReason"`
	DisplayFinancialStatus   *string `json:"displayFinancialStatus"`
	DisplayFulfillmentStatus string  `json:"displayFulfillmentStatus"`
	CurrencyCode             string  `json:"currencyCode"`
	CurrentTotalPriceSet     struct {
		ShopMoney gqlMoney `json:"shopMoney"`
	} `json:"currentTotalPriceSet"`
	ShippingAddress *struct {
		FirstName     *string `json:"firstName"`
		LastName      *string `json:"lastName"`
		Address1      *string `json:"address1"`
		Address2      *string `json:"address2"`
		City          *string `json:"city"`
		Province      *string `json:"province"`
		Zip           *string `json:"zip"`
		CountryCodeV2 *string `json:"countryCodeV2"`
		Phone         *string `json:"phone"`
	} `json:"shippingAddress"`
	LineItems struct {
		PageInfo struct {
			HasNextPage bool `json:"hasNextPage"`
		} `json:"pageInfo"`
		Nodes []struct {
			ID                   string  `json:"id"`
			SKU                  *string `json:"sku"`
			Title                string  `json:"title"`
			Quantity             int     `json:"quantity"`
			CurrentQuantity      int     `json:"currentQuantity"`
			Variant              *gqlRef `json:"variant"`
			Product              *gqlRef `json:"product"`
			OriginalUnitPriceSet struct {
				ShopMoney gqlMoney `json:"shopMoney"`
			} `json:"originalUnitPriceSet"`
		} `json:"nodes"`
	} `json:"lineItems"`
	Fulfillments []struct {
		LegacyResourceID string `json:"legacyResourceId"`
		Status           string `json:"status"`
		CreatedAt        string `json:"createdAt"`
		TrackingInfo     []struct {
			Company *string `json:"company"`
			Number  *string `json:"number"`
			URL     *string `json:"url"`
		} `json:"trackingInfo"`
		FulfillmentLineItems gqlLineQtys `json:"fulfillmentLineItems"`
	} `json:"fulfillments"`
	Refunds []struct {
		LegacyResourceID string `json:"legacyResourceId"`
		CreatedAt        string `json:"createdAt"`
		TotalRefundedSet struct {
			ShopMoney gqlMoney `json:"shopMoney"`
		} `json:"totalRefundedSet"`
		RefundLineItems gqlLineQtys `json:"refundLineItems"`
	} `json:"refunds"`
}

type gqlLineQtys struct {
	PageInfo struct {
		HasNextPage bool `json:"hasNextPage"`
	} `json:"pageInfo"`
	Nodes []struct {
		Quantity int    `json:"quantity"`
		LineItem gqlRef `json:"lineItem"`
	} `json:"nodes"`
}

func (q gqlLineQtys) lines() []domain.LineQty {
	out := make([]domain.LineQty, 0, len(q.Nodes))
	for _, n := range q.Nodes {
		out = append(out, domain.LineQty{LineItemID: legacyID(n.LineItem.ID), Quantity: n.Quantity})
	}
	return out
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func gqlTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: time %q", ErrGraphQL, s)
	}
	return t, nil
}

// fulfillmentStatusWords maps displayFulfillmentStatus to the REST word.
var fulfillmentStatusWords = map[string]string{
	"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial", "RESTOCKED": "restocked",
}

// domainOrder converts the GraphQL order into the neutral form the REST
// webhook body converts into too: the same state, the same snapshot.
func (g *gqlOrder) domainOrder() (domain.Order, error) {
	if g.LineItems.PageInfo.HasNextPage || len(g.Fulfillments) > maxFulfillments || len(g.Refunds) > maxRefunds {
		return domain.Order{}, fmt.Errorf("%w: order %s", ErrTooLarge, g.LegacyResourceID)
	}
	o := domain.Order{
		ID: g.LegacyResourceID, Name: g.Name, Email: deref(g.Email), Currency: g.CurrencyCode,
		CancelReason: strings.ToLower(deref(g.CancelReason)),
		Financial:    strings.ToLower(deref(g.DisplayFinancialStatus)),
		Fulfillment:  fulfillmentStatusWords[g.DisplayFulfillmentStatus],
		Total:        g.CurrentTotalPriceSet.ShopMoney.Amount,
	}
	var err error
	if o.CreatedAt, err = gqlTime(g.CreatedAt); err != nil {
		return domain.Order{}, err
	}
	if o.UpdatedAt, err = gqlTime(g.UpdatedAt); err != nil {
		return domain.Order{}, err
	}
	if o.CancelledAt, err = gqlTime(deref(g.CancelledAt)); err != nil {
		return domain.Order{}, err
	}
	if a := g.ShippingAddress; a != nil {
		o.Shipping = &domain.Address{
			FirstName: deref(a.FirstName), LastName: deref(a.LastName), Address1: deref(a.Address1), Address2: deref(a.Address2),
			City: deref(a.City), Province: deref(a.Province), Zip: deref(a.Zip), CountryCode: deref(a.CountryCodeV2), Phone: deref(a.Phone),
		}
	}
	for _, n := range g.LineItems.Nodes {
		l := domain.Line{
			ID: legacyID(n.ID), SKU: deref(n.SKU), Title: n.Title, Quantity: n.Quantity, CurrentQuantity: n.CurrentQuantity,
			Price: n.OriginalUnitPriceSet.ShopMoney.Amount,
		}
		if n.Variant != nil {
			l.VariantID = legacyID(n.Variant.ID)
		}
		if n.Product != nil {
			l.ProductID = legacyID(n.Product.ID)
		}
		o.Lines = append(o.Lines, l)
	}
	for _, f := range g.Fulfillments {
		if f.FulfillmentLineItems.PageInfo.HasNextPage {
			return domain.Order{}, fmt.Errorf("%w: fulfillment %s", ErrTooLarge, f.LegacyResourceID)
		}
		created, err := gqlTime(f.CreatedAt)
		if err != nil {
			return domain.Order{}, err
		}
		df := domain.Fulfillment{ID: f.LegacyResourceID, Status: strings.ToLower(f.Status), CreatedAt: created, Lines: f.FulfillmentLineItems.lines()}
		for _, t := range f.TrackingInfo {
			df.Tracking = append(df.Tracking, domain.Tracking{Company: deref(t.Company), Number: deref(t.Number), URL: deref(t.URL)})
		}
		o.Fulfillments = append(o.Fulfillments, df)
	}
	for _, r := range g.Refunds {
		if r.RefundLineItems.PageInfo.HasNextPage {
			return domain.Order{}, fmt.Errorf("%w: refund %s", ErrTooLarge, r.LegacyResourceID)
		}
		created, err := gqlTime(r.CreatedAt)
		if err != nil {
			return domain.Order{}, err
		}
		var lines []domain.LineQty
		for _, l := range r.RefundLineItems.lines() {
			if l.Quantity > 0 {
				lines = append(lines, l)
			}
		}
		o.Refunds = append(o.Refunds, domain.Refund{
			ID: r.LegacyResourceID, CreatedAt: created, Lines: lines,
			Amount: r.TotalRefundedSet.ShopMoney.Amount, Currency: r.TotalRefundedSet.ShopMoney.CurrencyCode,
		})
	}
	return o, o.Validate()
}

// Order reads an order as Shopify shows it now.
func (c *Client) Order(ctx context.Context, s *stores.Store, orderID string) (domain.Order, error) {
	var out struct {
		Order *gqlOrder `json:"order"`
	}
	if err := c.do(ctx, s, orderQuery, map[string]any{"id": orderGID(orderID)}, orderCost, false, &out); err != nil {
		return domain.Order{}, fmt.Errorf("read order %s: %w", orderID, err)
	}
	if out.Order == nil {
		return domain.Order{}, fmt.Errorf("%w: %s", ErrNotFound, orderID)
	}
	return out.Order.domainOrder()
}

const stateQuery = `query FulfilmentState($id: ID!) {
  order(id: $id) {
    id
    cancelledAt
    fulfillments(first: 20) { legacyResourceId status trackingInfo(first: 5) { company number url } }
    fulfillmentOrders(first: 5) {
      nodes { id status lineItems(first: 50) { nodes { id remainingQuantity lineItem { id } } } }
    }
  }
}`

// stateCost is stateQuery's requested cost.
const stateCost = 640

// FulfilmentState reads an order's fulfilments and fulfillment orders.
func (c *Client) FulfilmentState(ctx context.Context, s *stores.Store, orderID string) (domain.FulfilmentState, error) {
	var out struct {
		Order *struct {
			CancelledAt  *string `json:"cancelledAt"`
			Fulfillments []struct {
				LegacyResourceID string `json:"legacyResourceId"`
				Status           string `json:"status"`
				TrackingInfo     []struct {
					Company *string `json:"company"`
					Number  *string `json:"number"`
					URL     *string `json:"url"`
				} `json:"trackingInfo"`
			} `json:"fulfillments"`
			FulfillmentOrders struct {
				Nodes []struct {
					ID        string `json:"id"`
					Status    string `json:"status"`
					LineItems struct {
						Nodes []struct {
							ID                string `json:"id"`
							RemainingQuantity int    `json:"remainingQuantity"`
							LineItem          gqlRef `json:"lineItem"`
						} `json:"nodes"`
					} `json:"lineItems"`
				} `json:"nodes"`
			} `json:"fulfillmentOrders"`
		} `json:"order"`
	}
	if err := c.do(ctx, s, stateQuery, map[string]any{"id": orderGID(orderID)}, stateCost, false, &out); err != nil {
		return domain.FulfilmentState{}, fmt.Errorf("read fulfilment state of %s: %w", orderID, err)
	}
	if out.Order == nil {
		return domain.FulfilmentState{}, fmt.Errorf("%w: %s", ErrNotFound, orderID)
	}
	st := domain.FulfilmentState{Cancelled: deref(out.Order.CancelledAt) != ""}
	for _, f := range out.Order.Fulfillments {
		df := domain.Fulfillment{ID: f.LegacyResourceID, Status: strings.ToLower(f.Status)}
		for _, t := range f.TrackingInfo {
			df.Tracking = append(df.Tracking, domain.Tracking{Company: deref(t.Company), Number: deref(t.Number), URL: deref(t.URL)})
		}
		st.Fulfillments = append(st.Fulfillments, df)
	}
	for _, n := range out.Order.FulfillmentOrders.Nodes {
		fo := domain.FulfillmentOrder{ID: n.ID, Status: n.Status}
		for _, l := range n.LineItems.Nodes {
			fo.Lines = append(fo.Lines, domain.FulfillmentOrderLine{ID: l.ID, LineItemID: legacyID(l.LineItem.ID), Remaining: l.RemainingQuantity})
		}
		st.FulfillmentOrders = append(st.FulfillmentOrders, fo)
	}
	return st, nil
}

const createMutation = `mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id legacyResourceId status trackingInfo { company number url } }
    userErrors { field message }
  }
}`

// mutationCost is what Shopify charges a mutation.
const mutationCost = 10

// trackingVars is a FulfillmentTrackingInput.
func trackingVars(t domain.TrackingInput) map[string]any {
	v := map[string]any{}
	if t.Company != "" {
		v["company"] = t.Company
	}
	switch len(t.Numbers) {
	case 0:
	case 1:
		v["number"] = t.Numbers[0]
		if len(t.URLs) == 1 {
			v["url"] = t.URLs[0]
		}
	default:
		v["numbers"] = t.Numbers
		if len(t.URLs) > 0 {
			v["urls"] = t.URLs
		}
	}
	return v
}

// CreateFulfillment creates a fulfilment of the allocated lines and returns
// its numeric id. Shopify's refusal is UserErrors.
func (c *Client) CreateFulfillment(ctx context.Context, s *stores.Store, alloc []domain.Allocation, tracking domain.TrackingInput, notify bool) (string, error) {
	groups := make([]any, 0, len(alloc))
	for _, a := range alloc {
		lines := make([]any, 0, len(a.Lines))
		for _, l := range a.Lines {
			lines = append(lines, map[string]any{"id": l.ID, "quantity": l.Quantity})
		}
		groups = append(groups, map[string]any{"fulfillmentOrderId": a.FulfillmentOrderID, "fulfillmentOrderLineItems": lines})
	}
	input := map[string]any{"lineItemsByFulfillmentOrder": groups, "notifyCustomer": notify}
	if len(tracking.Numbers) > 0 || tracking.Company != "" {
		input["trackingInfo"] = trackingVars(tracking)
	}
	var out struct {
		FulfillmentCreate *struct {
			Fulfillment *struct {
				LegacyResourceID string `json:"legacyResourceId"`
			} `json:"fulfillment"`
			UserErrors UserErrors `json:"userErrors"`
		} `json:"fulfillmentCreate"`
	}
	if err := c.do(ctx, s, createMutation, map[string]any{"fulfillment": input}, mutationCost, true, &out); err != nil {
		return "", fmt.Errorf("fulfillmentCreate: %w", err)
	}
	p := out.FulfillmentCreate
	switch {
	case p == nil:
		return "", fmt.Errorf("%w: fulfillmentCreate returned nothing", ErrGraphQL)
	case len(p.UserErrors) > 0:
		return "", p.UserErrors
	case p.Fulfillment == nil:
		return "", fmt.Errorf("%w: fulfillmentCreate returned no fulfillment", ErrGraphQL)
	}
	return p.Fulfillment.LegacyResourceID, nil
}

const trackingMutation = `mutation TrackingUpdate($fulfillmentId: ID!, $trackingInfoInput: FulfillmentTrackingInput!, $notifyCustomer: Boolean) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $fulfillmentId, trackingInfoInput: $trackingInfoInput, notifyCustomer: $notifyCustomer) {
    fulfillment { id }
    userErrors { field message }
  }
}`

// UpdateTracking replaces a fulfilment's tracking. Setting the same
// tracking twice changes nothing, so it is safe to retry.
func (c *Client) UpdateTracking(ctx context.Context, s *stores.Store, fulfillmentID string, tracking domain.TrackingInput, notify bool) error {
	vars := map[string]any{
		"fulfillmentId":     "gid://shopify/Fulfillment/" + fulfillmentID,
		"trackingInfoInput": trackingVars(tracking),
		"notifyCustomer":    notify,
	}
	var out struct {
		Update *struct {
			UserErrors UserErrors `json:"userErrors"`
		} `json:"fulfillmentTrackingInfoUpdate"`
	}
	if err := c.do(ctx, s, trackingMutation, vars, mutationCost, false, &out); err != nil {
		return fmt.Errorf("fulfillmentTrackingInfoUpdate: %w", err)
	}
	if out.Update == nil {
		return fmt.Errorf("%w: fulfillmentTrackingInfoUpdate returned nothing", ErrGraphQL)
	}
	if len(out.Update.UserErrors) > 0 {
		return out.Update.UserErrors
	}
	return nil
}

const changedQuery = `query Changed($query: String!, $after: String) {
  orders(first: 100, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { legacyResourceId updatedAt }
  }
}`

const changedCost = 102

// ChangedSince lists orders updated at or after since, oldest change first,
// one page from the cursor after ("" for the first).
func (c *Client) ChangedSince(ctx context.Context, s *stores.Store, since time.Time, after string) (domain.ChangedPage, error) {
	vars := map[string]any{"query": "updated_at:>='" + since.UTC().Format(time.RFC3339) + "'"}
	if after != "" {
		vars["after"] = after
	}
	var out struct {
		Orders struct {
			PageInfo struct {
				HasNextPage bool    `json:"hasNextPage"`
				EndCursor   *string `json:"endCursor"`
			} `json:"pageInfo"`
			Nodes []struct {
				LegacyResourceID string `json:"legacyResourceId"`
				UpdatedAt        string `json:"updatedAt"`
			} `json:"nodes"`
		} `json:"orders"`
	}
	if err := c.do(ctx, s, changedQuery, vars, changedCost, false, &out); err != nil {
		return domain.ChangedPage{}, fmt.Errorf("list changed orders: %w", err)
	}
	var page domain.ChangedPage
	for _, n := range out.Orders.Nodes {
		t, err := gqlTime(n.UpdatedAt)
		if err != nil {
			return domain.ChangedPage{}, err
		}
		page.Orders = append(page.Orders, domain.ChangedOrder{ID: n.LegacyResourceID, UpdatedAt: t})
	}
	if out.Orders.PageInfo.HasNextPage {
		page.Next = deref(out.Orders.PageInfo.EndCursor)
	}
	return page, nil
}
