// Package natsserver runs an in-process NATS server with JetStream: the
// embedded default of `make run`, and the real server every test uses.
package natsserver

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure an embedded server.
type Options struct {
	// Host to listen on; "127.0.0.1" when empty.
	Host string
	// Port to listen on; -1 picks a free port.
	Port int
	// StoreDir holds JetStream's files.
	StoreDir string
	// ServerName names the server (JetStream needs a stable name to reuse StoreDir).
	ServerName string
	// RelaxedSync turns off fsync after every write. By default the server
	// runs with `sync_interval: always`: the Jepsen analysis of NATS 2.12.1
	// lost acknowledged writes with the 2-minute default. Relax it only where
	// losing the last acknowledged events on a power cut is acceptable.
	RelaxedSync bool
	// Users, when set, turn authentication on: a client must log in as one
	// of them and may use only the subjects its permissions allow
	// (natsperm.EmbeddedUsers gives dropsync's identities). Empty: any
	// client may do anything.
	Users []User
	// NoAuthUser is the user a client without credentials is taken for;
	// empty refuses such clients when Users is set.
	NoAuthUser string
}

// User is one user of an embedded server and what it may do. Publish and
// Subscribe are the only subjects allowed (wildcards allowed); empty
// allows nothing.
type User struct {
	Name, Password     string
	Publish, Subscribe []string
	// DenyPublish carves subjects out of Publish.
	DenyPublish []string
}

// Server is a running embedded server.
type Server struct {
	*server.Server
}

// Start starts a server and waits until it accepts connections.
func Start(opts Options) (*Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("natsserver: StoreDir is required")
	}
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	name := opts.ServerName
	if name == "" {
		name = "dropsync-embedded"
	}
	so := &server.Options{
		ServerName: name,
		Host:       host,
		Port:       opts.Port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		NoLog:      true,
		NoSigs:     true,
		SyncAlways: !opts.RelaxedSync,
		NoAuthUser: opts.NoAuthUser,
	}
	for _, u := range opts.Users {
		so.Users = append(so.Users, &server.User{
			Username: u.Name,
			Password: u.Password,
			Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: allowNothing(u.Publish), Deny: u.DenyPublish},
				Subscribe: &server.SubjectPermission{Allow: allowNothing(u.Subscribe)},
			},
		})
	}
	s, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("natsserver: new: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("natsserver: not ready after 10s")
	}
	return &Server{Server: s}, nil
}

// allowNothing is subjects, or when there are none a subject no client
// can use, since an empty allow list would allow everything.
func allowNothing(subjects []string) []string {
	if len(subjects) == 0 {
		return []string{"_dropsync.nothing"}
	}
	return subjects
}

// URL is the client URL of the server.
func (s *Server) URL() string { return s.ClientURL() }

// Stop shuts the server down and waits for it.
func (s *Server) Stop() {
	s.Shutdown()
	s.WaitForShutdown()
}
