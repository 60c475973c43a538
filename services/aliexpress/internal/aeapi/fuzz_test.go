package aeapi_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dropsync/dropsync/services/aliexpress/internal/aeapi"
)

// seed adds the testdata bodies to f's corpus, those named prefix first.
func seed(f *testing.F, prefix string) {
	files := responses(f)
	slices.SortStableFunc(files, func(a, b string) int {
		pa, pb := strings.HasPrefix(a, prefix), strings.HasPrefix(b, prefix)
		switch {
		case pa && !pb:
			return -1
		case pb && !pa:
			return 1
		}
		return 0
	})
	for _, file := range files {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// refusal checks that a decoder's error is ErrMalformed or an *APIError:
// what the connector retries or reports, never anything else.
func refusal(t *testing.T, err error) {
	t.Helper()
	var ae *aeapi.APIError
	if !errors.Is(err, aeapi.ErrMalformed) && !errors.As(err, &ae) {
		t.Fatalf("error %v is neither ErrMalformed nor *APIError", err)
	}
}

func FuzzParseCreateOrder(f *testing.F) {
	seed(f, "order_create")
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := aeapi.ParseCreateOrder(body)
		if err != nil {
			refusal(t, err)
			return
		}
		if !r.Success {
			if len(r.OrderIDs) > 0 || len(r.Products) > 0 {
				t.Fatalf("a failure with orders: %+v", r)
			}
			return
		}
		if len(r.OrderIDs) == 0 {
			t.Fatal("a success without order ids")
		}
		for i, id := range r.OrderIDs {
			if id == "" || slices.Index(r.OrderIDs, id) != i {
				t.Fatalf("order ids %q: empty or repeated", r.OrderIDs)
			}
		}
		for _, p := range r.Products {
			if !slices.Contains(r.OrderIDs, p.OrderID) || p.Count < 0 {
				t.Fatalf("product %+v: not in orders %q, or a negative count", p, r.OrderIDs)
			}
		}
	})
}

func FuzzParseOrder(f *testing.F) {
	seed(f, "order_get")
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := aeapi.ParseOrder(body)
		if err != nil {
			refusal(t, err)
			return
		}
		if o.Status == "" {
			t.Fatal("an order without status")
		}
		for _, c := range o.Children {
			if c.Count < 0 {
				t.Fatalf("child %+v: negative count", c)
			}
		}
		for _, l := range o.Logistics {
			if l.LogisticsNo == "" {
				t.Fatal("logistics without a number")
			}
		}
		if !o.Created.IsZero() && o.Created.Location() != aeapi.Zone {
			t.Fatalf("gmt_create read in %v", o.Created.Location())
		}
	})
}

func FuzzParseTracking(f *testing.F) {
	seed(f, "tracking_get")
	f.Fuzz(func(t *testing.T, body []byte) {
		pkgs, err := aeapi.ParseTracking(body)
		if err != nil {
			refusal(t, err)
			return
		}
		for _, p := range pkgs {
			if p.LogisticsNo == "" {
				t.Fatal("a package without a number")
			}
			if !slices.IsSortedFunc(p.Checkpoints, func(a, b aeapi.Checkpoint) int { return a.At.Compare(b.At) }) {
				t.Fatalf("checkpoints not oldest first: %v", p.Checkpoints)
			}
			switch {
			case len(p.Checkpoints) == 0:
				if p.Latest != (aeapi.Checkpoint{}) || p.Delivered {
					t.Fatalf("no checkpoint, yet latest %v delivered %v", p.Latest, p.Delivered)
				}
			case p.Latest != p.Checkpoints[len(p.Checkpoints)-1]:
				t.Fatalf("latest %v is not the newest checkpoint", p.Latest)
			}
			for _, it := range p.Items {
				if it.Count < 0 {
					t.Fatalf("item %+v: negative count", it)
				}
			}
		}
	})
}

func FuzzParseToken(f *testing.F) {
	seed(f, "token_")
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := aeapi.ParseToken(aeapi.PathTokenRefresh, body)
		if err != nil {
			refusal(t, err)
			return
		}
		if tok.AccessToken == "" {
			t.Fatal("a token without access_token")
		}
	})
}

func FuzzParseError(f *testing.F) {
	seed(f, "error_response")
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := aeapi.ParseError(body)
		if err != nil {
			if !errors.Is(err, aeapi.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if e != nil && e.Code == "" && e.SubCode == "" {
			t.Fatalf("a refusal without a code: %+v", e)
		}
		if e != nil && e.Error() == "" {
			t.Fatal("an empty error text")
		}
	})
}
