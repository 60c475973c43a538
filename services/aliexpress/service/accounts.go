package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/order"
)

// AccountSpec registers one more AliExpress account, as
// DROPSYNC_ALIEXPRESS_ACCOUNTS lists it (JSON). It names where the
// credentials are, never the credentials themselves:
//
//   - "env:AE_EU" reads AE_EU_APP_SECRET, AE_EU_ACCESS_TOKEN and (optional)
//     AE_EU_REFRESH_TOKEN from the environment (a Kubernetes Secret mounted
//     with envFrom);
//   - "file:/var/run/secrets/ae-eu" reads the files app_secret,
//     access_token and refresh_token of that folder (a Secret volume).
type AccountSpec struct {
	Name           string `json:"name"`
	AppKey         string `json:"app_key"`
	CredentialsRef string `json:"credentials_ref"`
	// DailyBudget is the account's calls a day; default DAILY_BUDGET.
	DailyBudget int `json:"daily_budget,omitempty"`
	// Stores are the stores ("<platform>:<store>") that place with and
	// follow their orders through this account.
	Stores []string `json:"stores"`
}

// Account is an account the connector serves, its credentials read.
type Account struct {
	Name, AppKey                         string
	AppSecret, AccessToken, RefreshToken config.Secret
	DailyBudget                          int
	// Stores are the stores the account serves; the default account also
	// serves every store no account names.
	Stores  []string
	Default bool
}

// Serves reports whether the account places and follows store's orders.
func (a Account) Serves(store string) bool { return a.Default || slices.Contains(a.Stores, store) }

// Lookup reads an environment variable (os.LookupEnv).
type Lookup func(string) (string, bool)

// Accounts is every account the configuration names: first the one of the
// single-account variables (APP_KEY, APP_SECRET, ...), named by ACCOUNT,
// when its app key is set; then those of ACCOUNTS. The first is the
// default account, for the stores no account names. A merchant with 25
// stores may use 3 accounts, each with its own credentials, token
// refresh, budget and connection health.
func (a AliExpress) Accounts(env Lookup, read func(string) ([]byte, error)) ([]Account, error) {
	var out []Account
	if a.AppKey != "" {
		out = append(out, Account{Name: a.Account, AppKey: a.AppKey, AppSecret: a.AppSecret, AccessToken: a.AccessToken,
			RefreshToken: a.RefreshToken, DailyBudget: a.DailyBudget})
	}
	if strings.TrimSpace(a.MoreAccounts) != "" {
		var specs []AccountSpec
		if err := json.Unmarshal([]byte(a.MoreAccounts), &specs); err != nil {
			return nil, fmt.Errorf("DROPSYNC_ALIEXPRESS_ACCOUNTS: %w", err)
		}
		var errs []error
		for i, sp := range specs {
			acc, err := sp.resolve(a.DailyBudget, env, read)
			if err != nil {
				errs = append(errs, fmt.Errorf("DROPSYNC_ALIEXPRESS_ACCOUNTS[%d]: %w", i, err))
				continue
			}
			out = append(out, acc)
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no AliExpress account: set DROPSYNC_ALIEXPRESS_APP_KEY (and its credentials) or DROPSYNC_ALIEXPRESS_ACCOUNTS")
	}
	out[0].Default = true
	names, stores := map[string]bool{}, map[string]string{}
	var errs []error
	for _, acc := range out {
		if names[acc.Name] {
			errs = append(errs, fmt.Errorf("AliExpress account %q named twice", acc.Name))
		}
		names[acc.Name] = true
		for _, s := range acc.Stores {
			if other, ok := stores[s]; ok {
				errs = append(errs, fmt.Errorf("store %s is served by two AliExpress accounts, %q and %q", s, other, acc.Name))
			}
			stores[s] = acc.Name
		}
	}
	return out, errors.Join(errs...)
}

func (sp AccountSpec) resolve(budget int, env Lookup, read func(string) ([]byte, error)) (Account, error) {
	if !accountName.MatchString(sp.Name) {
		return Account{}, fmt.Errorf("name %q: want letters, digits, '-' and '_'", sp.Name)
	}
	if sp.AppKey == "" || sp.CredentialsRef == "" {
		return Account{}, fmt.Errorf("account %s: app_key and credentials_ref are required", sp.Name)
	}
	if sp.DailyBudget < 0 {
		return Account{}, fmt.Errorf("account %s: daily_budget must not be negative", sp.Name)
	}
	acc := Account{Name: sp.Name, AppKey: sp.AppKey, DailyBudget: cmpOr(sp.DailyBudget, budget)}
	for _, s := range sp.Stores {
		p, store, err := order.ParseStoreKey(s)
		if err != nil {
			return Account{}, fmt.Errorf("account %s: store %q: %w", sp.Name, s, err)
		}
		acc.Stores = append(acc.Stores, order.StoreKey(p, store))
	}
	get, err := credentials(sp.CredentialsRef, env, read)
	if err != nil {
		return Account{}, fmt.Errorf("account %s: %w", sp.Name, err)
	}
	var errs []error
	for _, c := range []struct {
		name     string
		dst      *config.Secret
		optional bool
	}{{"app_secret", &acc.AppSecret, false}, {"access_token", &acc.AccessToken, false}, {"refresh_token", &acc.RefreshToken, true}} {
		v, ok := get(c.name)
		if !ok && !c.optional {
			errs = append(errs, fmt.Errorf("account %s: %s not found in %s", sp.Name, c.name, sp.CredentialsRef))
		}
		*c.dst = config.NewSecret(v)
	}
	return acc, errors.Join(errs...)
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// credentials returns a reader of named credentials for a reference
// ("env:PREFIX" or "file:/folder").
func credentials(ref string, env Lookup, read func(string) ([]byte, error)) (func(name string) (string, bool), error) {
	if dir, ok := strings.CutPrefix(ref, "file:"); ok {
		if dir == "" {
			return nil, errors.New("credentials_ref file: needs a folder")
		}
		return func(name string) (string, bool) {
			b, err := read(filepath.Join(dir, name))
			v := strings.TrimSpace(string(b))
			return v, err == nil && v != ""
		}, nil
	}
	prefix, _ := strings.CutPrefix(ref, "env:")
	if prefix == "" {
		return nil, errors.New("credentials_ref is required (env:PREFIX or file:/folder)")
	}
	return func(name string) (string, bool) {
		v, ok := env(prefix + "_" + strings.ToUpper(name))
		return v, ok && v != ""
	}, nil
}

// osAccounts is Accounts on the process environment and files.
func (a AliExpress) osAccounts() ([]Account, error) { return a.Accounts(os.LookupEnv, os.ReadFile) }
