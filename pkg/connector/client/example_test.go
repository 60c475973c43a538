package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/dropsync/dropsync/pkg/connector/client"
)

func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"ok":true}`)
	}))
	defer srv.Close()

	c := client.New(client.Config{Limit: client.PerMinute(200)}) // Wix: 200 a minute per app instance
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/ecom/v1/orders?access_token=secret", nil)
	resp, err := c.Do(context.Background(), req, client.WithKey("wix:site-1"))
	if err != nil {
		fmt.Println(client.RedactString(err.Error()))
		return
	}
	fmt.Println(resp.StatusCode, string(resp.Body))
	// Output: 200 {"ok":true}
}
