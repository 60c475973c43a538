// Package stores is the registry of the WooCommerce stores one connector
// serves: each store's dropsync slug, site URL, authentication mode and
// credentials. Credentials are Secrets, which print as "REDACTED" wherever
// they end up (logs, errors, %v), so they are never shown by accident.
//
// A store is registered by a Spec that names where its credentials are
// (CredentialsRef), never the credentials themselves:
//
//   - "env:WOO_ACME" (or just "WOO_ACME") reads WOO_ACME_CONSUMER_KEY,
//     WOO_ACME_CONSUMER_SECRET, WOO_ACME_WEBHOOK_SECRET and, during a
//     rotation, WOO_ACME_PREVIOUS_WEBHOOK_SECRET from the environment (a
//     Kubernetes Secret mounted with envFrom);
//   - "file:/var/run/secrets/woo-acme" reads the files consumer_key,
//     consumer_secret, webhook_secret and previous_webhook_secret of that
//     folder (a Kubernetes Secret mounted as a volume).
package stores

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/woocommerce/internal/adapters/wcapi"
	"github.com/dropsync/dropsync/services/woocommerce/internal/domain"
)

// Spec registers a store, as DROPSYNC_WOOCOMMERCE_STORES lists it (JSON).
type Spec struct {
	// Slug is the store id in dropsync ("acme"), part of every order id.
	Slug string `json:"slug"`
	// SiteURL is the store's home URL ("https://acme.example").
	SiteURL string `json:"site_url"`
	// Auth is basic, query or oauth1; default basic for an https site URL
	// and oauth1 for plain http, as WooCommerce requires.
	Auth string `json:"auth,omitempty"`
	// WebhookSource is the X-WC-Webhook-Source the store's webhooks carry
	// (its home_url('/')); default SiteURL.
	WebhookSource string `json:"webhook_source,omitempty"`
	// CredentialsRef names where the credentials are: "env:PREFIX" or
	// "file:/folder".
	CredentialsRef string `json:"credentials_ref"`
}

// ParseSpecs reads a JSON list of Specs.
func ParseSpecs(s string) ([]Spec, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var specs []Spec
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&specs); err != nil {
		return nil, fmt.Errorf("stores: %w", err)
	}
	return specs, nil
}

// Store is one registered store.
type Store struct {
	// Slug is the store id in dropsync.
	Slug string
	// SiteURL is the store's home URL, without a trailing slash.
	SiteURL string
	// Auth is the authentication mode.
	Auth wcapi.Auth
	// Source is the site key of X-WC-Webhook-Source (domain.SiteKey).
	Source string
	// ConsumerKey and ConsumerSecret are the REST API keys.
	ConsumerKey, ConsumerSecret config.Secret
	// WebhookSecret signs webhooks; PreviousWebhookSecret, when set, is
	// still accepted during a rotation.
	WebhookSecret, PreviousWebhookSecret config.Secret
	// CredentialsRef is where the credentials came from, for operators.
	CredentialsRef string
}

// Ref returns the store as the domain package names it.
func (s *Store) Ref() domain.Store {
	return domain.Store{Slug: s.Slug, Site: domain.SiteKey(s.SiteURL)}
}

// Key is the store key "woocommerce:<slug>".
func (s *Store) Key() string { return s.Ref().Key() }

// Lookup reads an environment variable (os.LookupEnv).
type Lookup func(string) (string, bool)

// ReadFile reads a file (os.ReadFile).
type ReadFile func(string) ([]byte, error)

// Resolve turns specs into stores, reading each one's credentials from its
// reference. Every problem is reported at once; no credential appears in
// an error.
func Resolve(specs []Spec, env Lookup, read ReadFile) ([]Store, error) {
	if env == nil {
		env = os.LookupEnv
	}
	if read == nil {
		read = os.ReadFile
	}
	var out []Store
	var errs []error
	for i, sp := range specs {
		where := fmt.Sprintf("store %d (%q)", i, sp.Slug)
		if sp.Slug == "" {
			errs = append(errs, fmt.Errorf("%s: slug is required", where))
		} else if _, err := order.NewID(eventsv1.Platform_PLATFORM_WOOCOMMERCE, sp.Slug, "1"); err != nil {
			errs = append(errs, fmt.Errorf("%s: slug: %w", where, err))
		}
		u, err := url.Parse(sp.SiteURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			errs = append(errs, fmt.Errorf("%s: site_url %q is not an http(s) URL", where, sp.SiteURL))
			continue
		}
		st := Store{Slug: sp.Slug, SiteURL: strings.TrimRight(sp.SiteURL, "/"), CredentialsRef: sp.CredentialsRef}
		st.Auth = wcapi.Auth(sp.Auth)
		if st.Auth == "" {
			st.Auth = wcapi.DefaultAuth(sp.SiteURL)
		}
		switch st.Auth {
		case wcapi.AuthBasic, wcapi.AuthQuery:
			if u.Scheme != "https" {
				errs = append(errs, fmt.Errorf("%s: auth %s needs an https site_url (over http WooCommerce accepts oauth1 only)", where, st.Auth))
			}
		case wcapi.AuthOAuth:
		default:
			errs = append(errs, fmt.Errorf("%s: auth %q is not basic, query or oauth1", where, sp.Auth))
		}
		src := sp.WebhookSource
		if src == "" {
			src = sp.SiteURL
		}
		st.Source = domain.SiteKey(src)
		get, file, err := source(sp.CredentialsRef, env, read)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		for _, c := range []struct {
			name     string
			dst      *config.Secret
			optional bool
		}{
			{"consumer_key", &st.ConsumerKey, false},
			{"consumer_secret", &st.ConsumerSecret, false},
			{"webhook_secret", &st.WebhookSecret, false},
			{"previous_webhook_secret", &st.PreviousWebhookSecret, true},
		} {
			v, ok := get(c.name)
			if !ok && !c.optional {
				errs = append(errs, fmt.Errorf("%s: %s not found in %s", where, c.name, sp.CredentialsRef))
			}
			*c.dst = config.NewSecret(v)
			if path := file(c.name); ok && path != "" {
				// Follows the file: a replaced Secret is taken without a restart.
				*c.dst = config.NewFileSecret(path, v)
			}
		}
		out = append(out, st)
	}
	return out, errors.Join(errs...)
}

// source returns a reader of named credentials for a reference, and the
// file each is read from ("" for the environment).
func source(ref string, env Lookup, read ReadFile) (get func(name string) (string, bool), file func(name string) string, err error) {
	switch {
	case strings.HasPrefix(ref, "file:"):
		dir := strings.TrimPrefix(ref, "file:")
		if dir == "" {
			return nil, nil, errors.New("credentials_ref file: needs a folder")
		}
		return func(name string) (string, bool) {
				b, err := read(filepath.Join(dir, name))
				if err != nil {
					return "", false
				}
				v := strings.TrimSpace(string(b))
				return v, v != ""
			}, func(name string) string {
				return filepath.Join(dir, name)
			}, nil
	default:
		prefix := strings.TrimPrefix(ref, "env:")
		if prefix == "" {
			return nil, nil, errors.New("credentials_ref is required (env:PREFIX or file:/folder)")
		}
		return func(name string) (string, bool) {
			v, ok := env(prefix + "_" + strings.ToUpper(name))
			return v, ok && v != ""
		}, func(string) string { return "" }, nil
	}
}

// ErrUnknownStore: no registered store has that slug or webhook source.
var ErrUnknownStore = errors.New("unknown woocommerce store")

// Registry holds the stores. It is read-only once built, so safe for
// concurrent use.
type Registry struct {
	bySlug   map[string]*Store
	bySource map[string]*Store
}

// New builds a registry, refusing duplicates.
func New(list []Store) (*Registry, error) {
	r := &Registry{bySlug: map[string]*Store{}, bySource: map[string]*Store{}}
	var errs []error
	for i := range list {
		s := list[i]
		if s.Source == "" {
			s.Source = domain.SiteKey(s.SiteURL)
		}
		if _, dup := r.bySlug[s.Slug]; dup {
			errs = append(errs, fmt.Errorf("store %q registered twice", s.Slug))
			continue
		}
		if _, dup := r.bySource[s.Source]; dup {
			errs = append(errs, fmt.Errorf("site %q registered twice", s.Source))
			continue
		}
		r.bySlug[s.Slug], r.bySource[s.Source] = &s, &s
	}
	return r, errors.Join(errs...)
}

// BySlug returns the store with that slug.
func (r *Registry) BySlug(slug string) (*Store, error) {
	if s, ok := r.bySlug[slug]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownStore, slug)
}

// BySource returns the store whose webhooks carry that
// X-WC-Webhook-Source.
func (r *Registry) BySource(source string) (*Store, error) {
	if s, ok := r.bySource[domain.SiteKey(source)]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("%w with webhook source %q", ErrUnknownStore, source)
}

// All lists the stores by slug.
func (r *Registry) All() []*Store {
	out := make([]*Store, 0, len(r.bySlug))
	for _, s := range r.bySlug {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slug < out[j].Slug })
	return out
}
