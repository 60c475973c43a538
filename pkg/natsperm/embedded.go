package natsperm

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/dropsync/dropsync/pkg/natsserver"
)

// PasswordPrefix starts every password NewPasswords makes: nats-server
// parses a variable's value as a configuration value, so a password must
// read as a plain string there (letters and digits, a letter first: not a
// number, a boolean or a quoted or keyed value).
const PasswordPrefix = "p"

// Passwords maps each identity's name to its password.
type Passwords map[string]string

// NewPasswords makes a random password for every identity of the table
// and DevTools: what the embedded server of `make run` and the tests use,
// new at every start, never written anywhere.
func NewPasswords() (Passwords, error) {
	p := Passwords{}
	for _, id := range append(Identities(), DevToolsIdentity()) {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("natsperm: password for %s: %w", id.Name, err)
		}
		p[id.Name] = PasswordPrefix + hex.EncodeToString(b)
	}
	return p, nil
}

// EmbeddedUsers are the table's identities as users of an embedded server,
// each with its password from p, DevTools included: start the server with
// them and NoAuthUser DevTools, and every service logs in as itself
// (natsconn with DROPSYNC_NATS_USER and _PASSWORD) while a local tool
// without credentials may only do what DevTools may.
func EmbeddedUsers(p Passwords) []natsserver.User {
	ids := append(Identities(), DevToolsIdentity())
	users := make([]natsserver.User, 0, len(ids))
	for _, id := range ids {
		users = append(users, natsserver.User{
			Name:        id.Name,
			Password:    p[id.Name],
			Publish:     id.PublishSubjects(),
			Subscribe:   id.SubscribeSubjects(),
			DenyPublish: id.DenyPublishSubjects(),
		})
	}
	return users
}
