package stores_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dropsync/dropsync/services/woocommerce/internal/adapters/wcapi"
	"github.com/dropsync/dropsync/services/woocommerce/internal/stores"
)

func TestResolveFromEnvAndFiles(t *testing.T) {
	dir := t.TempDir()
	for name, v := range map[string]string{"consumer_key": "ck_file\n", "consumer_secret": "cs_file", "webhook_secret": "wh_file"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"WOO_ACME_CONSUMER_KEY": "ck_env", "WOO_ACME_CONSUMER_SECRET": "cs_env", "WOO_ACME_WEBHOOK_SECRET": "wh_env"}
	specs, err := stores.ParseSpecs(`[
		{"slug":"acme","site_url":"https://acme.example/","credentials_ref":"env:WOO_ACME"},
		{"slug":"beta","site_url":"http://beta.example/shop","credentials_ref":"file:` + dir + `","webhook_source":"https://www.beta.example/shop/"}
	]`)
	if err != nil {
		t.Fatal(err)
	}
	list, err := stores.Resolve(specs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := stores.New(list)
	if err != nil {
		t.Fatal(err)
	}
	acme, _ := reg.BySlug("acme")
	if acme.Auth != wcapi.AuthBasic || acme.ConsumerSecret.Reveal() != "cs_env" || acme.SiteURL != "https://acme.example" {
		t.Fatalf("acme %+v", acme)
	}
	beta, err := reg.BySource("https://WWW.beta.example/shop/")
	if err != nil || beta.Slug != "beta" || beta.Auth != wcapi.AuthOAuth || beta.ConsumerKey.Reveal() != "ck_file" {
		t.Fatalf("beta %+v %v", beta, err)
	}

	// Secrets never print.
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("store", "store", acme, "secret", acme.ConsumerSecret)
	out := buf.String() + fmt.Sprintf("%v %+v %#v", acme, acme, acme)
	for _, s := range []string{"cs_env", "ck_env", "wh_env"} {
		if strings.Contains(out, s) {
			t.Fatalf("credential %s printed: %s", s, out)
		}
	}
}

func TestResolveReportsEveryProblem(t *testing.T) {
	specs := []stores.Spec{
		{Slug: "a", SiteURL: "ftp://a.example", CredentialsRef: "env:A"},
		{Slug: "b", SiteURL: "http://b.example", Auth: "basic", CredentialsRef: "env:B"},
		{Slug: "c", SiteURL: "https://c.example", CredentialsRef: "env:C"},
	}
	_, err := stores.Resolve(specs, func(k string) (string, bool) {
		if k == "C_CONSUMER_SECRET" {
			return "cs_secret_value", true
		}
		return "", false
	}, nil)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"ftp://a.example", "needs an https site_url", "consumer_key not found"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "cs_secret_value") {
		t.Fatal("a credential in an error")
	}
	if _, err := stores.New([]stores.Store{{Slug: "x", SiteURL: "https://x.example"}, {Slug: "x", SiteURL: "https://y.example"}}); err == nil {
		t.Fatal("duplicate slug accepted")
	}
	if _, err := (&stores.Registry{}).BySlug("nope"); !errors.Is(err, stores.ErrUnknownStore) {
		t.Fatalf("unknown: %v", err)
	}
}
