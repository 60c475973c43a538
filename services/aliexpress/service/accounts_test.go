package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	aliexpressv1 "github.com/dropsync/dropsync/proto/dropsync/aliexpress/v1"
	"github.com/dropsync/dropsync/services/aliexpress/service"
)

// Two accounts in one deployment: each store places through its own
// account, and each account has its own budget and connection health.
func TestTwoAccountsHaveTheirOwnBudgetAndHealth(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.sim.AddApp("500999", "eu-secret")
	tok, err := h.sim.IssueToken("500999", "buyer-eu")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AE_EU_APP_SECRET", "eu-secret")
	t.Setenv("AE_EU_ACCESS_TOKEN", tok.AccessToken)
	t.Setenv("AE_EU_REFRESH_TOKEN", tok.RefreshToken)
	more, _ := json.Marshal([]service.AccountSpec{{Name: "eu", AppKey: "500999", CredentialsRef: "env:AE_EU", DailyBudget: 700, Stores: []string{"shopify:euro"}}})
	t.Setenv("DROPSYNC_ALIEXPRESS_ACCOUNTS", string(more))
	h.start()

	// The coaster has one in stock: the second order takes the mugs only.
	for i, tc := range []struct{ order, buyer string }{{"shopify:acme:7001", "buyer-1"}, {"shopify:euro:7002", "buyer-eu"}} {
		h.place(tc.order, "req-"+tc.order, "cmd-"+tc.order, items[:1+i%2])
		for _, o := range h.waitFor(tc.order, "SupplierOrderPlaced", 1)[0].GetSupplierOrderPlaced().GetOrders() {
			ae, err := h.sim.Order(aeID(t, o.GetSupplierOrderId()))
			if err != nil || ae.Account != tc.buyer {
				t.Errorf("%s: AliExpress order %s placed by %q (%v), want %s", tc.order, o.GetSupplierOrderId(), ae.Account, err, tc.buyer)
			}
		}
	}

	budget := func(store string) *aliexpressv1.ApiBudget {
		r, err := h.client.GetSyncQuota(context.Background(), &aliexpressv1.GetSyncQuotaRequest{StoreId: store})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetBudget()
	}
	acme, euro := budget("shopify:acme"), budget("shopify:euro")
	if acme.GetAccount() != "default" || euro.GetAccount() != "eu" || euro.GetDailyLimit() != 700 || acme.GetDailyLimit() != 5000 {
		t.Fatalf("budgets: acme %v, euro %v", acme, euro)
	}
	if acme.GetUsedToday() == 0 || euro.GetUsedToday() == 0 || acme.GetOpenOrders() == 0 || euro.GetOpenOrders() == 0 {
		t.Errorf("each account's calls and orders counted apart: acme %v, euro %v", acme, euro)
	}

	// Revoke the eu account's token: only its health changes.
	if err := h.sim.RevokeToken(tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	h.syncNow(&aliexpressv1.SyncNowRequest{StoreIds: []string{"shopify:acme"}})
	if _, err := h.client.SyncNow(context.Background(), &aliexpressv1.SyncNowRequest{StoreIds: []string{"shopify:euro"}}); status.Code(err) != codes.Unavailable {
		t.Errorf("sync of the revoked account's store: %v, want Unavailable", err)
	}
	health := func(account string) *aliexpressv1.GetConnectionHealthResponse {
		r, err := h.client.GetConnectionHealth(context.Background(), &aliexpressv1.GetConnectionHealthRequest{Account: account})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if d, eu := health(""), health("eu"); !d.GetHealthy() || d.GetAccount() != "default" || eu.GetHealthy() || eu.GetAccount() != "eu" {
		t.Errorf("health: default %v, eu %v", d, eu)
	}
	if _, err := h.client.GetConnectionHealth(context.Background(), &aliexpressv1.GetConnectionHealthRequest{Account: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown account: %v, want NotFound", err)
	}
}

func TestAccountsConfiguration(t *testing.T) {
	env := map[string]string{"A_APP_SECRET": "s", "A_ACCESS_TOKEN": "t", "B_APP_SECRET": "s"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	read := func(string) ([]byte, error) { return nil, fmt.Errorf("no files") }
	for _, tc := range []struct {
		name, accounts, appKey, wantErr string
		want                            []string
	}{
		{name: "single", appKey: "1", want: []string{"default*"}},
		{name: "more", appKey: "1", accounts: `[{"name":"a","app_key":"2","credentials_ref":"env:A","stores":["shopify:x"]}]`, want: []string{"default*", "a"}},
		{name: "only list", accounts: `[{"name":"a","app_key":"2","credentials_ref":"env:A"}]`, want: []string{"a*"}},
		{name: "missing token", accounts: `[{"name":"b","app_key":"2","credentials_ref":"env:B"}]`, wantErr: "access_token not found"},
		{name: "store twice", appKey: "1", accounts: `[{"name":"a","app_key":"2","credentials_ref":"env:A","stores":["shopify:x"]},{"name":"c","app_key":"3","credentials_ref":"env:A","stores":["shopify:x"]}]`, wantErr: "two AliExpress accounts"},
		{name: "bad name", accounts: `[{"name":"a b","app_key":"2","credentials_ref":"env:A"}]`, wantErr: "want letters"},
		{name: "none", wantErr: "no AliExpress account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := service.AliExpress{Account: "default", AppKey: tc.appKey, MoreAccounts: tc.accounts, DailyBudget: 5000}
			got, err := a.Accounts(lookup, read)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, acc := range got {
				n := acc.Name
				if acc.Default {
					n += "*"
				}
				names = append(names, n)
			}
			if fmt.Sprint(names) != fmt.Sprint(tc.want) {
				t.Errorf("accounts %v, want %v", names, tc.want)
			}
		})
	}
}
