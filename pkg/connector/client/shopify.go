package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ShopifyREST is an Observer for Shopify's REST Admin API leaky bucket:
// X-Shopify-Shop-Api-Call-Limit "32/40" sets the capacity (40) and the
// calls available (8); the leak rate is restPerSecond (2 on Standard
// plans, 4 on Advanced, 20 on Plus).
func ShopifyREST(restPerSecond float64) Observer {
	return func(resp *Response, b *Bucket) {
		used, capacity, ok := strings.Cut(resp.Header.Get("X-Shopify-Shop-Api-Call-Limit"), "/")
		if !ok {
			return
		}
		u, err1 := strconv.ParseFloat(strings.TrimSpace(used), 64)
		c, err2 := strconv.ParseFloat(strings.TrimSpace(capacity), 64)
		if err1 != nil || err2 != nil || c <= 0 {
			return
		}
		b.SetRate(restPerSecond)
		b.SetCapacity(c)
		b.SetAvailable(c - u)
	}
}

// ThrottleStatus is Shopify GraphQL's extensions.cost.throttleStatus.
type ThrottleStatus struct {
	MaximumAvailable   float64 `json:"maximumAvailable"`
	CurrentlyAvailable float64 `json:"currentlyAvailable"`
	RestoreRate        float64 `json:"restoreRate"`
}

// graphQLEnvelope is the part of a GraphQL response the client reads.
type graphQLEnvelope struct {
	Errors []struct {
		Message    string `json:"message"`
		Extensions struct {
			Code string `json:"code"`
		} `json:"extensions"`
	} `json:"errors"`
	Extensions struct {
		Cost struct {
			RequestedQueryCost float64         `json:"requestedQueryCost"`
			ThrottleStatus     *ThrottleStatus `json:"throttleStatus"`
		} `json:"cost"`
	} `json:"extensions"`
}

// decodeGraphQL reads the errors and cost of a GraphQL response.
func decodeGraphQL(body []byte) (graphQLEnvelope, bool) {
	var env graphQLEnvelope
	err := json.Unmarshal(body, &env)
	return env, err == nil
}

// ShopifyGraphQL is an Observer for Shopify's GraphQL Admin API cost
// limits: extensions.cost.throttleStatus {maximumAvailable,
// currentlyAvailable, restoreRate} sets the bucket, in cost points. Give
// each call its expected cost with WithCost.
func ShopifyGraphQL(resp *Response, b *Bucket) {
	env, ok := decodeGraphQL(resp.Body)
	if !ok || env.Extensions.Cost.ThrottleStatus == nil {
		return
	}
	ts := env.Extensions.Cost.ThrottleStatus
	if ts.MaximumAvailable > 0 {
		b.SetCapacity(ts.MaximumAvailable)
	}
	if ts.RestoreRate > 0 {
		b.SetRate(ts.RestoreRate)
	}
	b.SetAvailable(ts.CurrentlyAvailable)
}

// ErrThrottled: Shopify GraphQL answered THROTTLED.
var ErrThrottled = errors.New("shopify graphql: throttled")

// ShopifyGraphQLClassifier is StatusClassifier plus Shopify GraphQL's
// THROTTLED error (HTTP 200): retryable after the time the query's cost
// takes to restore.
func ShopifyGraphQLClassifier(resp *Response) error {
	if err := StatusClassifier(resp); err != nil {
		return err
	}
	env, ok := decodeGraphQL(resp.Body)
	if !ok {
		return nil // not GraphQL: nothing more to read
	}
	for _, e := range env.Errors {
		if e.Extensions.Code != "THROTTLED" {
			continue
		}
		var after time.Duration
		if ts := env.Extensions.Cost.ThrottleStatus; ts != nil && ts.RestoreRate > 0 {
			missing := env.Extensions.Cost.RequestedQueryCost - ts.CurrentlyAvailable
			after = time.Duration(max(missing, 1) / ts.RestoreRate * float64(time.Second))
		}
		return Retryable(fmt.Errorf("%w: %s", ErrThrottled, e.Message), after)
	}
	return nil
}
