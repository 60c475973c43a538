// Package stores is the registry of the Shopify stores one connector
// serves: each store's dropsync slug, shop domain and credentials.
// Credentials are Secrets, which print as "REDACTED" wherever they end up
// (logs, errors, %v), so they are never shown by accident.
package stores

import (
	"errors"
	"fmt"
	"sort"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/services/shopify/internal/domain"
)

// Store is one registered shop.
type Store struct {
	// Slug is the store id in dropsync ("demo"), part of every order id.
	Slug string
	// Domain is the shop's myshopify domain ("demo.myshopify.com").
	Domain string
	// AccessToken is the Admin API token.
	AccessToken config.Secret
	// WebhookSecret is the app's client secret that signs webhooks;
	// Previous, when set, is still accepted during a rotation.
	WebhookSecret, PreviousWebhookSecret config.Secret
	// CredentialsRef names where the credentials come from (an environment
	// variable prefix or a Secret's folder), for operators; never the
	// credentials themselves.
	CredentialsRef string
}

// Ref returns the store as the domain package names it.
func (s Store) Ref() domain.Store { return domain.Store{Slug: s.Slug, Domain: s.Domain} }

// ErrUnknownStore: no registered store has that slug or domain.
var ErrUnknownStore = errors.New("unknown shopify store")

// Registry holds the stores. It is read-only once built, so safe for
// concurrent use.
type Registry struct {
	bySlug   map[string]*Store
	byDomain map[string]*Store
}

// New builds a registry, refusing duplicates.
func New(list []Store) (*Registry, error) {
	r := &Registry{bySlug: map[string]*Store{}, byDomain: map[string]*Store{}}
	var errs []error
	for i := range list {
		s := list[i]
		if _, dup := r.bySlug[s.Slug]; dup {
			errs = append(errs, fmt.Errorf("store %q registered twice", s.Slug))
			continue
		}
		if _, dup := r.byDomain[s.Domain]; dup {
			errs = append(errs, fmt.Errorf("shop domain %q registered twice", s.Domain))
			continue
		}
		r.bySlug[s.Slug], r.byDomain[s.Domain] = &s, &s
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

// ByDomain returns the store with that shop domain.
func (r *Registry) ByDomain(domain string) (*Store, error) {
	if s, ok := r.byDomain[domain]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownStore, domain)
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
