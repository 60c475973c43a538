package natstest

import (
	"errors"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/dropsync/dropsync/pkg/natsperm"
	"github.com/dropsync/dropsync/pkg/natsserver"
)

// Superuser is the user of a Secured server that may do anything: the
// test's own connection, to set up and inspect what the services did.
const Superuser = "test"

// Secured is an embedded server with dropsync's NATS users and
// permissions (pkg/natsperm), each with a fresh password, plus Superuser.
type Secured struct {
	*natsserver.Server
	passwords natsperm.Passwords

	mu         sync.Mutex
	violations []error
}

// SecuredServer starts a Secured server on a free port, stopped when the
// test ends. Every connection made with Connect reports the permission
// violations the server tells it of, and the test fails at its end if
// there were any but those natsperm.Provoked expects: a service that needs
// a subject the table does not grant fails the test even when it retried
// its way through.
func SecuredServer(tb testing.TB) *Secured {
	tb.Helper()
	pw, err := natsperm.NewPasswords()
	if err != nil {
		tb.Fatal(err)
	}
	pw[Superuser] = "test-" + pw[natsperm.Orders]
	users := append(natsperm.EmbeddedUsers(pw), natsserver.User{Name: Superuser, Password: pw[Superuser], Publish: []string{">"}, Subscribe: []string{">"}})
	s, err := natsserver.Start(natsserver.Options{Port: -1, StoreDir: tb.TempDir(), Users: users, NoAuthUser: natsperm.DevTools})
	if err != nil {
		tb.Fatalf("start nats server: %v", err)
	}
	sec := &Secured{Server: s, passwords: pw}
	tb.Cleanup(func() {
		s.Stop()
		sec.mu.Lock()
		defer sec.mu.Unlock()
		for _, err := range sec.violations {
			tb.Errorf("NATS refused a service (pkg/natsperm lacks a permission): %v", err)
		}
	})
	return sec
}

// Password is the password of identity name (natsperm's names, or
// Superuser).
func (s *Secured) Password(name string) string { return s.passwords[name] }

// Connect logs in as identity name, with its inbox prefix, and closes the
// connection when the test ends.
func (s *Secured) Connect(tb testing.TB, name string) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(s.URL(),
		nats.Name(name),
		nats.UserInfo(name, s.passwords[name]),
		nats.CustomInboxPrefix(natsperm.InboxPrefix(name)),
		nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) && !natsperm.Provoked(err) {
				s.mu.Lock()
				s.violations = append(s.violations, err)
				s.mu.Unlock()
			}
		}),
	)
	if err != nil {
		tb.Fatalf("connect as %s: %v", name, err)
	}
	tb.Cleanup(nc.Close)
	return nc
}
