package woocommercesim_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/dropsync/dropsync/pkg/woocommercesim"
)

// Example serves a store that pretends to be on HTTPS, creates an order as
// checkout would, and completes it over the REST API: WooCommerce sends
// its Completed order e-mail once.
func Example() {
	sim := woocommercesim.New(woocommercesim.Config{HTTPS: true, ConsumerKey: "ck_demo", ConsumerSecret: "cs_demo", Seed: 1})
	defer sim.Close()
	srv := httptest.NewServer(sim)
	defer srv.Close()
	sim.SetSiteURL(srv.URL)

	id, _ := sim.CreateOrder(woocommercesim.OrderSpec{
		Status: woocommercesim.StatusProcessing,
		Lines:  []woocommercesim.LineSpec{{ProductID: 11, Name: "Mug", Quantity: 1, PriceCents: 1495}},
	})
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, fmt.Sprintf("%s/wp-json/wc/v3/orders/%d", srv.URL, id), strings.NewReader(`{"status":"completed"}`))
	req.SetBasicAuth("ck_demo", "cs_demo")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	status, _ := sim.Status(id)
	fmt.Println(resp.StatusCode, status, sim.ShippingEmails(id))
	// Output: 200 completed 1
}
