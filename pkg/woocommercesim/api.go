package woocommercesim

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dropsync/dropsync/pkg/internal/simctl"
)

// API path prefixes.
const (
	// RESTPrefix is the WooCommerce REST API v3.
	RESTPrefix = "/wp-json/wc/v3"
	// TrackingPrefix is the Shipment Tracking extension's API.
	TrackingPrefix = "/wp-json/wc-shipment-tracking/v3"
)

// route is one endpoint: its method, pattern and handler. Handlers run
// with s.mu held and return the status, the body and extra headers.
type route struct {
	method    string
	pattern   *regexp.Regexp
	name      string
	extension bool
	handle    func(s *Sim, r *http.Request, m []string, body []byte) (int, any, http.Header)
}

var routes = []route{
	{http.MethodGet, regexp.MustCompile(`^` + RESTPrefix + `/orders/?$`), "GET /orders", false, (*Sim).listOrders},
	{http.MethodPost, regexp.MustCompile(`^` + RESTPrefix + `/orders/batch/?$`), "POST /orders/batch", false, (*Sim).batchOrders},
	{http.MethodGet, regexp.MustCompile(`^` + RESTPrefix + `/orders/(\d+)/?$`), "GET /orders/{id}", false, (*Sim).getOrder},
	{http.MethodPut, regexp.MustCompile(`^` + RESTPrefix + `/orders/(\d+)/?$`), "PUT /orders/{id}", false, (*Sim).updateOrder},
	{http.MethodPost, regexp.MustCompile(`^` + RESTPrefix + `/orders/(\d+)/?$`), "PUT /orders/{id}", false, (*Sim).updateOrder},
	{http.MethodPatch, regexp.MustCompile(`^` + RESTPrefix + `/orders/(\d+)/?$`), "PUT /orders/{id}", false, (*Sim).updateOrder},
	{http.MethodDelete, regexp.MustCompile(`^` + RESTPrefix + `/orders/(\d+)/?$`), "DELETE /orders/{id}", false, (*Sim).deleteOrder},
	{http.MethodGet, regexp.MustCompile(`^` + RESTPrefix + `/orders/(\d+)/notes/?$`), "GET /notes", false, (*Sim).listNotes},
	{http.MethodPost, regexp.MustCompile(`^` + RESTPrefix + `/orders/(\d+)/notes/?$`), "POST /notes", false, (*Sim).createNote},
	{http.MethodDelete, regexp.MustCompile(`^` + RESTPrefix + `/orders/(\d+)/notes/(\d+)/?$`), "DELETE /notes/{id}", false, (*Sim).deleteNote},
	{http.MethodGet, regexp.MustCompile(`^` + RESTPrefix + `/orders/(\d+)/refunds/?$`), "GET /refunds", false, (*Sim).listRefunds},
	{http.MethodGet, regexp.MustCompile(`^` + RESTPrefix + `/settings/(email_customer_completed_order)/(enabled)/?$`), "GET /settings", false, (*Sim).getSetting},
	{http.MethodGet, regexp.MustCompile(`^` + TrackingPrefix + `/orders/(\d+)/shipment-trackings/providers/?$`), "GET /providers", true, (*Sim).listProviders},
	{http.MethodGet, regexp.MustCompile(`^` + TrackingPrefix + `/orders/(\d+)/shipment-trackings/?$`), "GET /shipment-trackings", true, (*Sim).listTrackings},
	{http.MethodPost, regexp.MustCompile(`^` + TrackingPrefix + `/orders/(\d+)/shipment-trackings/?$`), "POST /shipment-trackings", true, (*Sim).createTracking},
	{http.MethodDelete, regexp.MustCompile(`^` + TrackingPrefix + `/orders/(\d+)/shipment-trackings/([0-9a-f]+)/?$`), "DELETE /shipment-trackings", true, (*Sim).deleteTracking},
}

// ServeHTTP serves the REST API and the Shipment Tracking extension.
// Paths under /_sim/ are the simulator's own controls (see controlMux).
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, simctl.Prefix) {
		s.ctl.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, nil, apiError{Code: "rest_invalid_json", Message: "Invalid JSON body passed.", Data: map[string]any{"status": 400}})
		return
	}
	s.mu.Lock()
	s.stats.Calls++
	var rt *route
	var match []string
	for i := range routes {
		if routes[i].extension && !s.cfg.ShipmentTracking {
			continue
		}
		if m := routes[i].pattern.FindStringSubmatch(r.URL.Path); m != nil && routes[i].method == r.Method {
			rt, match = &routes[i], m
			break
		}
	}
	if rt == nil {
		s.mu.Unlock()
		status, e := newError(http.StatusNotFound, "rest_no_route", "No route was found matching the URL and request method.")
		writeJSON(w, status, nil, e)
		return
	}
	f := s.faults
	switch {
	case s.chance(f.TooManyRequests):
		s.stats.TooManyRequests++
		s.mu.Unlock()
		ra := f.RetryAfter
		if ra == 0 {
			ra = time.Second
		}
		h := http.Header{}
		if ra > 0 {
			h.Set("Retry-After", strconv.Itoa(int((ra+time.Second-1)/time.Second)))
		}
		status, e := newError(http.StatusTooManyRequests, "too_many_requests", "Too many requests.")
		writeJSON(w, status, h, e)
		return
	case s.chance(f.ServerErrors):
		s.stats.ServerErrors++
		code := []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}[s.rng.IntN(3)]
		s.mu.Unlock()
		status, e := newError(code, "internal_server_error", "There has been a critical error on this website.")
		writeJSON(w, status, nil, e)
		return
	}
	if ok, status, e := s.authenticate(r); !ok {
		s.stats.Unauthorized++
		s.mu.Unlock()
		writeJSON(w, status, nil, e)
		return
	}
	lost, slow := s.chance(f.LostResponses), s.chance(f.SlowResponses)
	if lost {
		s.stats.LostResponses++
	} else if slow {
		s.stats.SlowResponses++
	}
	if s.stats.Routes == nil {
		s.stats.Routes = map[string]int{}
	}
	s.stats.Routes[rt.name]++
	if ct := r.Header.Get("Content-Type"); len(body) > 0 && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json") {
		// WordPress reads a JSON body only when it is sent as JSON: any
		// other body gives the endpoint no parameters at all.
		body = nil
	}
	status, resp, hdr := rt.handle(s, r, match, body)
	if status == http.StatusBadRequest {
		s.stats.BadRequests++
	}
	s.mu.Unlock()

	switch {
	case lost:
		st, e := newError(http.StatusGatewayTimeout, "gateway_timeout", "Gateway Timeout")
		writeJSON(w, st, nil, e)
		return
	case slow:
		d := f.SlowDelay
		if d <= 0 {
			d = 10 * time.Second
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	writeJSON(w, status, hdr, resp)
}

func writeJSON(w http.ResponseWriter, status int, h http.Header, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimRight(b.Bytes(), "\n"))
}

func invalidParam(name, why string) (int, any, http.Header) {
	return http.StatusBadRequest, apiError{
		Code: "rest_invalid_param", Message: "Invalid parameter(s): " + name,
		Data: map[string]any{"status": 400, "params": map[string]string{name: why}},
	}, nil
}

func orderNotFound() (int, any, http.Header) {
	status, e := newError(http.StatusNotFound, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
	return status, e, nil
}

func (s *Sim) orderFrom(m []string) (*order, bool) {
	id, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return nil, false
	}
	o, ok := s.orders[id]
	return o, ok
}

// parseDate reads an ISO 8601 date as WordPress's rest_parse_date does: a
// zone, when given, is honoured; without one the time is in loc.
func parseDate(v string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{wcDate, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date %q", v)
}

func truthy(v string) bool { return v == "true" || v == "1" }

// listOrders is GET /orders.
func (s *Sim) listOrders(r *http.Request, _ []string, _ []byte) (int, any, http.Header) {
	q := r.URL.Query()
	perPage, page := 10, 1
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return invalidParam("per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)")
		}
		perPage = n
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return invalidParam("page", "page must be greater than or equal to 1")
		}
		page = n
	}
	var statuses []string
	for _, v := range append(q["status"], q["status[]"]...) {
		for _, st := range strings.Split(v, ",") {
			st = strings.TrimSpace(st)
			if st != "any" && !validStatus(st) {
				return invalidParam("status", "status["+strconv.Itoa(len(statuses))+"] is not one of any, "+strings.Join(Statuses, ", ")+".")
			}
			statuses = append(statuses, st)
		}
	}
	// "any" (the default) is every status but trash.
	anyStatus := len(statuses) == 0 || slices.Contains(statuses, "any")
	loc := s.cfg.Location
	if truthy(q.Get("dates_are_gmt")) {
		loc = time.UTC
	}
	bounds := map[string]time.Time{}
	for _, p := range []string{"after", "before", "modified_after", "modified_before"} {
		if v := q.Get(p); v != "" {
			t, err := parseDate(v, loc)
			if err != nil {
				return invalidParam(p, "Invalid date.")
			}
			bounds[p] = t
		}
	}
	orderby := q.Get("orderby")
	if orderby == "" {
		orderby = "date"
	}
	if !slices.Contains([]string{"date", "id", "include", "title", "slug", "modified"}, orderby) {
		return invalidParam("orderby", "orderby is not one of date, id, include, title, slug, and modified.")
	}
	dir := q.Get("order")
	if dir == "" {
		dir = "desc"
	}
	if dir != "asc" && dir != "desc" {
		return invalidParam("order", "order is not one of asc and desc.")
	}
	var include []int64
	for _, v := range append(q["include"], q["include[]"]...) {
		for _, x := range strings.Split(v, ",") {
			if id, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
				include = append(include, id)
			}
		}
	}

	var match []*order
	for _, o := range s.list {
		if anyStatus && o.status == StatusTrash && !slices.Contains(statuses, StatusTrash) ||
			!anyStatus && !slices.Contains(statuses, o.status) {
			continue
		}
		if len(include) > 0 && !slices.Contains(include, o.id) {
			continue
		}
		if t, ok := bounds["after"]; ok && !o.created.After(t) {
			continue
		}
		if t, ok := bounds["before"]; ok && !o.created.Before(t) {
			continue
		}
		if t, ok := bounds["modified_after"]; ok && !o.modified.After(t) {
			continue
		}
		if t, ok := bounds["modified_before"]; ok && !o.modified.Before(t) {
			continue
		}
		match = append(match, o)
	}
	key := func(o *order) (time.Time, int64) {
		switch orderby {
		case "modified":
			return o.modified, o.id
		case "id", "include", "title", "slug":
			return time.Time{}, o.id
		}
		return o.created, o.id
	}
	less := func(a, b *order) bool {
		ta, ia := key(a)
		tb, ib := key(b)
		return ta.Before(tb) || ta.Equal(tb) && ia < ib
	}
	sort.SliceStable(match, func(i, j int) bool {
		if dir == "desc" {
			return less(match[j], match[i])
		}
		return less(match[i], match[j])
	})
	total := len(match)
	pages := (total + perPage - 1) / perPage
	out := []orderJSON{}
	if from := (page - 1) * perPage; from < total {
		for _, o := range match[from:min(from+perPage, total)] {
			out = append(out, s.render(o))
		}
	}
	h := http.Header{}
	h.Set("X-WP-Total", strconv.Itoa(total))
	h.Set("X-WP-TotalPages", strconv.Itoa(pages))
	link := func(p int) string {
		qq := url.Values{}
		for k, v := range q {
			if !strings.HasPrefix(k, "oauth_") && k != "consumer_key" && k != "consumer_secret" {
				qq[k] = v
			}
		}
		qq.Set("page", strconv.Itoa(p))
		return "<" + s.siteURL + r.URL.Path + "?" + qq.Encode() + ">"
	}
	var links []string
	if page > 1 && page-1 <= max(pages, 1) {
		links = append(links, link(page-1)+`; rel="prev"`)
	}
	if page < pages {
		links = append(links, link(page+1)+`; rel="next"`)
	}
	if len(links) > 0 {
		h.Set("Link", strings.Join(links, ", "))
	}
	return http.StatusOK, out, h
}

func (s *Sim) getOrder(_ *http.Request, m []string, _ []byte) (int, any, http.Header) {
	o, ok := s.orderFrom(m)
	if !ok {
		return orderNotFound()
	}
	return http.StatusOK, s.render(o), nil
}

// orderUpdate is the part of an order update body the simulator applies.
type orderUpdate struct {
	ID           int64   `json:"id"`
	Status       *string `json:"status"`
	CustomerNote *string `json:"customer_note"`
	SetPaid      bool    `json:"set_paid"`
}

// update applies u to o; s.mu is held. A zero status means success.
func (s *Sim) update(o *order, u orderUpdate) (int, any, http.Header) {
	if u.Status != nil && !validStatus(*u.Status) {
		return invalidParam("status", "status is not one of "+strings.Join(Statuses, ", ")+".")
	}
	now := s.now()
	changed := false
	if u.SetPaid && o.paid.IsZero() {
		o.paid = now
		s.transition(o, StatusProcessing, now)
		changed = true
	}
	if u.Status != nil && s.transition(o, *u.Status, now) {
		changed = true
	}
	if changed {
		o.modified = now
		if o.status == StatusTrash {
			s.trigger(o, "order.deleted")
		} else {
			s.trigger(o, "order.updated")
		}
	}
	return 0, nil, nil
}

// updateOrder is PUT /orders/{id}. Setting the status an order already has
// changes nothing: no e-mail, no webhook.
func (s *Sim) updateOrder(_ *http.Request, m []string, body []byte) (int, any, http.Header) {
	o, ok := s.orderFrom(m)
	if !ok {
		return orderNotFound()
	}
	var u orderUpdate
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &u); err != nil {
			status, e := newError(http.StatusBadRequest, "rest_invalid_json", "Invalid JSON body passed.")
			return status, e, nil
		}
	}
	if status, e, h := s.update(o, u); status != 0 {
		return status, e, h
	}
	return http.StatusOK, s.render(o), nil
}

// deleteOrder is DELETE /orders/{id}: to the trash, or for good with
// force=true.
func (s *Sim) deleteOrder(r *http.Request, m []string, _ []byte) (int, any, http.Header) {
	o, ok := s.orderFrom(m)
	if !ok {
		return orderNotFound()
	}
	j := s.render(o)
	if truthy(r.URL.Query().Get("force")) {
		s.trigger(o, "order.deleted")
		s.remove(o)
		return http.StatusOK, j, nil
	}
	if o.status == StatusTrash {
		status, e := newError(http.StatusGone, "woocommerce_rest_already_trashed", "The order has already been deleted.")
		return status, e, nil
	}
	s.transition(o, StatusTrash, s.now())
	s.trigger(o, "order.deleted")
	return http.StatusOK, s.render(o), nil
}

// MaxBatch is the most items one batch request may carry.
const MaxBatch = 100

// batchOrders is POST /orders/batch (update and delete).
func (s *Sim) batchOrders(_ *http.Request, _ []string, body []byte) (int, any, http.Header) {
	var req struct {
		Create []json.RawMessage `json:"create"`
		Update []orderUpdate     `json:"update"`
		Delete []int64           `json:"delete"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		status, e := newError(http.StatusBadRequest, "rest_invalid_json", "Invalid JSON body passed.")
		return status, e, nil
	}
	if len(req.Create)+len(req.Update)+len(req.Delete) > MaxBatch {
		status, e := newError(http.StatusRequestEntityTooLarge, "woocommerce_rest_request_entity_too_large",
			fmt.Sprintf("Unable to accept more than %d items for this request.", MaxBatch))
		return status, e, nil
	}
	resp := map[string][]any{}
	for range req.Create {
		_, e := newError(http.StatusBadRequest, "woocommerce_rest_cannot_create", "Creating orders is not simulated.")
		resp["create"] = append(resp["create"], map[string]any{"id": 0, "error": e})
	}
	for _, u := range req.Update {
		o, ok := s.orders[u.ID]
		if !ok {
			_, e := newError(http.StatusBadRequest, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
			resp["update"] = append(resp["update"], map[string]any{"id": u.ID, "error": e})
			continue
		}
		if status, e, _ := s.update(o, u); status != 0 {
			resp["update"] = append(resp["update"], map[string]any{"id": u.ID, "error": e})
			continue
		}
		resp["update"] = append(resp["update"], s.render(o))
	}
	for _, id := range req.Delete {
		o, ok := s.orders[id]
		if !ok {
			_, e := newError(http.StatusBadRequest, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
			resp["delete"] = append(resp["delete"], map[string]any{"id": id, "error": e})
			continue
		}
		s.transition(o, StatusTrash, s.now())
		s.trigger(o, "order.deleted")
		resp["delete"] = append(resp["delete"], s.render(o))
	}
	return http.StatusOK, resp, nil
}

type noteJSON struct {
	ID             int64   `json:"id"`
	Author         string  `json:"author"`
	DateCreated    *string `json:"date_created"`
	DateCreatedGMT *string `json:"date_created_gmt"`
	Note           string  `json:"note"`
	CustomerNote   bool    `json:"customer_note"`
}

func (s *Sim) renderNote(n *Note) noteJSON {
	l, g := s.dates(n.Created)
	return noteJSON{ID: n.ID, Author: n.Author, DateCreated: l, DateCreatedGMT: g, Note: n.Note, CustomerNote: n.CustomerNote}
}

// listNotes is GET /orders/{id}/notes, newest first; type any, customer
// or internal.
func (s *Sim) listNotes(r *http.Request, m []string, _ []byte) (int, any, http.Header) {
	o, ok := s.orderFrom(m)
	if !ok {
		return orderNotFound()
	}
	typ := r.URL.Query().Get("type")
	if typ == "" {
		typ = "any"
	}
	if typ != "any" && typ != "customer" && typ != "internal" {
		return invalidParam("type", "type is not one of any, customer, and internal.")
	}
	out := []noteJSON{}
	for i := len(o.notes) - 1; i >= 0; i-- {
		n := o.notes[i]
		if typ == "customer" && !n.CustomerNote || typ == "internal" && n.CustomerNote {
			continue
		}
		out = append(out, s.renderNote(n))
	}
	return http.StatusOK, out, nil
}

// deleteNote is DELETE /orders/{id}/notes/{note_id}. Notes have no trash:
// WooCommerce answers 501 woocommerce_rest_trash_not_supported unless
// force=true (with the notes controller's own message, copied from its
// webhooks controller).
func (s *Sim) deleteNote(r *http.Request, m []string, _ []byte) (int, any, http.Header) {
	o, ok := s.orderFrom(m)
	if !ok {
		return orderNotFound()
	}
	if force, _ := strconv.ParseBool(r.URL.Query().Get("force")); !force {
		status, e := newError(http.StatusNotImplemented, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")
		return status, e, nil
	}
	id, _ := strconv.ParseInt(m[2], 10, 64)
	for i, n := range o.notes {
		if n.ID == id {
			o.notes = slices.Delete(o.notes, i, i+1)
			return http.StatusOK, s.renderNote(n), nil
		}
	}
	status, e := newError(http.StatusNotFound, "woocommerce_rest_invalid_id", "Invalid resource ID.")
	return status, e, nil
}

// createNote is POST /orders/{id}/notes; customer_note true e-mails the
// customer the note.
func (s *Sim) createNote(_ *http.Request, m []string, body []byte) (int, any, http.Header) {
	o, ok := s.orderFrom(m)
	if !ok {
		return orderNotFound()
	}
	var req struct {
		Note         string `json:"note"`
		CustomerNote bool   `json:"customer_note"`
		AddedByUser  bool   `json:"added_by_user"`
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, &req); err != nil {
		status, e := newError(http.StatusBadRequest, "rest_invalid_json", "Invalid JSON body passed.")
		return status, e, nil
	}
	if strings.TrimSpace(req.Note) == "" {
		status, e := newError(http.StatusBadRequest, "rest_missing_callback_param", "Missing parameter(s): note")
		return status, e, nil
	}
	now := s.now()
	author := "WooCommerce"
	if req.AddedByUser {
		author = "api"
	}
	n := &Note{ID: s.newID(), Author: author, Note: req.Note, CustomerNote: req.CustomerNote, Created: now}
	o.notes = append(o.notes, n)
	if req.CustomerNote {
		s.email(o, EmailNote, req.Note, now)
	}
	return http.StatusCreated, s.renderNote(n), nil
}

// listRefunds is GET /orders/{id}/refunds, newest first.
func (s *Sim) listRefunds(_ *http.Request, m []string, _ []byte) (int, any, http.Header) {
	o, ok := s.orderFrom(m)
	if !ok {
		return orderNotFound()
	}
	out := []map[string]any{}
	for i := len(o.refunds) - 1; i >= 0; i-- {
		r := o.refunds[i]
		l, g := s.dates(r.created)
		items := []map[string]any{}
		ids := make([]int64, 0, len(r.lines))
		for lid := range r.lines {
			ids = append(ids, lid)
		}
		slices.Sort(ids)
		for _, lid := range ids {
			ol := o.line(lid)
			q := r.lines[lid]
			items = append(items, map[string]any{
				"id": r.lineIDs[lid], "name": ol.name, "product_id": ol.productID, "variation_id": ol.variationID,
				"quantity": -q, "subtotal": money(-ol.price * int64(q)), "total": money(-ol.price * int64(q)),
				"sku": ol.sku, "price": price(-ol.price),
				"meta_data": []map[string]any{{"id": r.lineIDs[lid] + 1, "key": "_refunded_item_id", "value": strconv.FormatInt(lid, 10)}},
			})
		}
		out = append(out, map[string]any{
			"id": r.id, "date_created": l, "date_created_gmt": g, "amount": money(r.amount), "reason": r.reason,
			"refunded_by": 1, "refunded_payment": false, "meta_data": []any{}, "line_items": items,
		})
	}
	return http.StatusOK, out, nil
}

// getSetting is GET /settings/email_customer_completed_order/enabled.
func (s *Sim) getSetting(_ *http.Request, m []string, _ []byte) (int, any, http.Header) {
	v := "no"
	if s.completed {
		v = "yes"
	}
	return http.StatusOK, map[string]any{
		"id": m[2], "label": "Enable/Disable", "description": "", "type": "checkbox",
		"default": "yes", "tip": "", "value": v, "group_id": m[1],
	}, nil
}

// Providers are the Shipment Tracking extension's known providers, by
// country: name -> tracking URL (%1$s is the number, %2$s the postcode).
var Providers = map[string]map[string]string{
	"Australia":      {"Australia Post": "https://auspost.com.au/mypost/track/#/details/%1$s", "Fastway Couriers": "https://www.fastway.com.au/tools/track/?l=%1$s"},
	"Canada":         {"Canada Post": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor=%1$s", "Purolator": "https://www.purolator.com/purolator/ship-track/tracking-summary.page?pin=%1$s"},
	"Germany":        {"DHL Intraship (DE)": "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?lang=de&idc=%1$s", "Hermes": "https://www.myhermes.de/empfangen/sendungsverfolgung/sendungsinformation/#%1$s", "Deutsche Post DHL": "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?lang=de&idc=%1$s", "DPD.de": "https://tracking.dpd.de/parcelstatus?query=%1$s&locale=en_DE"},
	"France":         {"Colissimo": "https://www.laposte.fr/outils/suivre-vos-envois?code=%1$s"},
	"Netherlands":    {"PostNL": "https://postnl.nl/tracktrace/?B=%1$s&P=%2$s&D=NL&T=C", "DPD.NL": "https://tracking.dpd.de/status/en_US/parcel/%1$s"},
	"United Kingdom": {"DHL": "https://www.dhl.com/content/g0/en/express/tracking.shtml?brand=DHL&AWB=%1$s", "Royal Mail": "https://www.royalmail.com/track-your-item#/tracking-results/%1$s", "ParcelForce": "https://www.parcelforce.com/track-trace?trackNumber=%1$s", "DPD.co.uk": "https://www.dpd.co.uk/apps/tracking/?reference=%1$s"},
	"United States":  {"Fedex": "https://www.fedex.com/apps/fedextrack/?action=track&action=track&tracknumbers=%1$s", "FedEx Sameday": "https://www.fedexsameday.com/fdx_dotracking_ua.aspx?tracknum=%1$s", "OnTrac": "https://www.ontrac.com/trackingdetail.asp?tracking=%1$s", "UPS": "https://www.ups.com/track?loc=en_US&tracknum=%1$s", "USPS": "https://tools.usps.com/go/TrackConfirmAction_input?qtc_tLabels1=%1$s", "DHL US": "https://www.logistics.dhl/us-en/home/tracking/tracking-ecommerce.html?tracking-id=%1$s"},
}

// provider finds a known provider by its name or sanitized name.
func provider(name string) (display, link string, ok bool) {
	want := sanitizeTitle(name)
	for _, ps := range Providers {
		for n, l := range ps {
			if sanitizeTitle(n) == want {
				return n, l, true
			}
		}
	}
	return "", "", false
}

func (s *Sim) listProviders(_ *http.Request, m []string, _ []byte) (int, any, http.Header) {
	if _, ok := s.orderFrom(m); !ok {
		return orderNotFound()
	}
	return http.StatusOK, Providers, nil
}

type trackingJSON struct {
	TrackingID       string `json:"tracking_id"`
	TrackingProvider string `json:"tracking_provider"`
	TrackingLink     string `json:"tracking_link"`
	TrackingNumber   string `json:"tracking_number"`
	DateShipped      string `json:"date_shipped"`
}

func renderTracking(t *TrackingItem) trackingJSON {
	j := trackingJSON{TrackingID: t.ID, TrackingNumber: t.Number, DateShipped: t.DateShipped.UTC().Format("2006-01-02")}
	if t.Provider != "" {
		name, link, _ := provider(t.Provider)
		j.TrackingProvider = name
		j.TrackingLink = strings.ReplaceAll(link, "%1$s", url.QueryEscape(t.Number))
		j.TrackingLink = strings.ReplaceAll(j.TrackingLink, "%2$s", "")
	} else {
		j.TrackingProvider = t.CustomProvider
		j.TrackingLink = t.CustomLink
	}
	return j
}

func (s *Sim) listTrackings(_ *http.Request, m []string, _ []byte) (int, any, http.Header) {
	o, ok := s.orderFrom(m)
	if !ok {
		return orderNotFound()
	}
	out := []trackingJSON{}
	for _, t := range o.trackings {
		out = append(out, renderTracking(t))
	}
	return http.StatusOK, out, nil
}

// createTracking is POST .../shipment-trackings. The extension adds the
// item whatever is there already: sending the same number twice gives
// two items (and two lines in the Completed e-mail).
func (s *Sim) createTracking(_ *http.Request, m []string, body []byte) (int, any, http.Header) {
	o, ok := s.orderFrom(m)
	if !ok {
		return orderNotFound()
	}
	var req struct {
		TrackingProvider       string          `json:"tracking_provider"`
		CustomTrackingProvider string          `json:"custom_tracking_provider"`
		CustomTrackingLink     string          `json:"custom_tracking_link"`
		TrackingNumber         string          `json:"tracking_number"`
		DateShipped            json.RawMessage `json:"date_shipped"`
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, &req); err != nil {
		status, e := newError(http.StatusBadRequest, "rest_invalid_json", "Invalid JSON body passed.")
		return status, e, nil
	}
	if strings.TrimSpace(req.TrackingNumber) == "" {
		status, e := newError(http.StatusBadRequest, "rest_missing_callback_param", "Missing parameter(s): tracking_number")
		return status, e, nil
	}
	t := &TrackingItem{Number: strings.TrimSpace(req.TrackingNumber), ReceivedAt: s.cfg.Now()}
	switch {
	case req.TrackingProvider != "":
		if _, _, ok := provider(req.TrackingProvider); !ok {
			return invalidParam("tracking_provider", "tracking_provider is not a provider the extension knows; use custom_tracking_provider and custom_tracking_link.")
		}
		t.Provider = sanitizeTitle(req.TrackingProvider)
	case req.CustomTrackingProvider != "":
		if u, err := url.Parse(req.CustomTrackingLink); req.CustomTrackingLink == "" || err != nil || u.Scheme == "" || u.Host == "" {
			return invalidParam("custom_tracking_link", "custom_tracking_link must be an absolute URL with a custom provider.")
		}
		t.CustomProvider, t.CustomLink = req.CustomTrackingProvider, req.CustomTrackingLink
	default:
		status, e := newError(http.StatusBadRequest, "woocommerce_shipment_tracking_missing_provider", "Missing tracking_provider or custom_tracking_provider.")
		return status, e, nil
	}
	now := s.now()
	t.DateShipped = now.Truncate(24 * time.Hour)
	if len(req.DateShipped) > 0 && string(req.DateShipped) != "null" {
		var v any
		_ = json.Unmarshal(req.DateShipped, &v)
		switch x := v.(type) {
		case string:
			if ts, err := strconv.ParseInt(x, 10, 64); err == nil {
				t.DateShipped = time.Unix(ts, 0).UTC()
			} else if d, err := time.Parse("2006-01-02", x); err == nil {
				t.DateShipped = d
			} else {
				return invalidParam("date_shipped", "date_shipped must be a date (YYYY-MM-DD) or a timestamp.")
			}
		case float64:
			t.DateShipped = time.Unix(int64(x), 0).UTC()
		default:
			return invalidParam("date_shipped", "date_shipped must be a date (YYYY-MM-DD) or a timestamp.")
		}
	}
	sum := md5.Sum([]byte(t.Number + t.Provider + t.CustomProvider + t.CustomLink + strconv.FormatInt(t.DateShipped.Unix(), 10) + strconv.Itoa(len(o.trackings))))
	t.ID = hex.EncodeToString(sum[:])
	if o.metaID == 0 {
		o.metaID = s.newID()
	}
	o.trackings = append(o.trackings, t)
	return http.StatusCreated, renderTracking(t), nil
}

func (s *Sim) deleteTracking(_ *http.Request, m []string, _ []byte) (int, any, http.Header) {
	o, ok := s.orderFrom(m)
	if !ok {
		return orderNotFound()
	}
	for i, t := range o.trackings {
		if t.ID == m[2] {
			o.trackings = slices.Delete(o.trackings, i, i+1)
			return http.StatusOK, map[string]any{"message": "Deleted", "tracking_id": m[2]}, nil
		}
	}
	status, e := newError(http.StatusNotFound, "woocommerce_shipment_tracking_invalid_id", "Invalid tracking ID.")
	return status, e, nil
}
