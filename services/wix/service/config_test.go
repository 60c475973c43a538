package service_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/wixsim"
	"github.com/dropsync/dropsync/services/wix/service"
)

func TestConfigFromEnvironment(t *testing.T) {
	pub, err := wixsim.PublicKeyPEM(&key().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("DROPSYNC_WIX_PUBLIC_KEY", pub)
	t.Setenv("DROPSYNC_WIX_STORES", `[{"slug":"berlin","site_id":"s1","instance_id":"i1","credentials_env":"WIX_BERLIN"},
		{"slug":"paris","site_id":"s2","instance_id":"i2","credentials_file":"/secrets/paris/api_key","auth":"api_key"}]`)
	t.Setenv("WIX_BERLIN", "token-berlin-SECRET")
	var cfg service.Config
	cfg.ReadFile = func(name string) ([]byte, error) {
		if name == "/secrets/paris/api_key" {
			return []byte("key-paris-SECRET\n"), nil
		}
		return nil, errors.New("no such file")
	}
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	stores, err := cfg.StoreConfigs()
	if err != nil {
		t.Fatal(err)
	}
	if len(stores) != 2 || stores[0].Site.Credential.Reveal() != "token-berlin-SECRET" || stores[1].Site.Credential.Reveal() != "key-paris-SECRET" ||
		!stores[1].Site.APIKey {
		t.Fatalf("stores %+v", stores)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("stores", "stores", stores, "cfg", cfg)
	js, _ := json.Marshal(stores)
	for _, shown := range []string{fmt.Sprintf("%v %+v %#v", stores, stores, stores), logged.String(), string(js)} {
		if strings.Contains(shown, "SECRET") {
			t.Errorf("a credential is shown: %s", shown)
		}
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	var cfg service.Config
	t.Setenv("DROPSYNC_WIX_STORES", `[{"slug":"a.b","site_id":"s","instance_id":"i","credentials_env":"UNSET_VAR"}]`)
	t.Setenv("DROPSYNC_WIX_DEDUPE_TTL", "1h")
	t.Setenv("DROPSYNC_WIX_BASE_URL", "not a url")
	err := config.Load(&cfg)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"DROPSYNC_WIX_PUBLIC_KEY", "UNSET_VAR is not set", "DROPSYNC_WIX_DEDUPE_TTL", "DROPSYNC_WIX_BASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	var s service.Stores
	if err := s.Decode(`[{"slug":"x","token":"inline"}]`); err == nil {
		t.Error("a store with an unknown field (an inline token) was accepted")
	}
}
