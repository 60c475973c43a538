package aliexpresssim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// serveControl serves the /_sim/ controls, for `make run` and manual
// demos: POST /_sim/pay, /_sim/ship, /_sim/cancel, /_sim/finish,
// /_sim/risk with order_id (and logistics_no, service, product_id+count
// pairs, reason, hours), GET /_sim/orders.
func (s *Sim) serveControl(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.URL.Path == "/_sim/orders" {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Orders())
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	id, err := strconv.ParseInt(r.Form.Get("order_id"), 10, 64)
	if err != nil {
		http.Error(w, "order_id: want a number", http.StatusBadRequest)
		return
	}
	switch r.URL.Path {
	case "/_sim/pay":
		err = s.Pay(id)
	case "/_sim/ship":
		var items []PackageItem
		counts := r.Form["count"]
		for i, pid := range r.Form["product_id"] {
			n := 1
			if i < len(counts) {
				n, _ = strconv.Atoi(counts[i])
			}
			items = append(items, PackageItem{ProductID: pid, Count: n})
		}
		err = s.Ship(id, r.Form.Get("logistics_no"), r.Form.Get("service"), items...)
	case "/_sim/cancel":
		err = s.Cancel(id, r.Form.Get("reason"))
	case "/_sim/finish":
		err = s.Finish(id)
	case "/_sim/risk":
		h, _ := strconv.ParseFloat(r.Form.Get("hours"), 64)
		if h <= 0 {
			h = 24
		}
		err = s.RiskControl(id, time.Duration(h*float64(time.Hour)))
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
