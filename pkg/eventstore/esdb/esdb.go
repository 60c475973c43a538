package esdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/dropsync/dropsync/pkg/eventstore"
)

// DefaultContentType is the content type of events that give none.
const DefaultContentType = "application/x-protobuf"

// Config configures the adapter.
type Config struct {
	// ConnectionString is an EventStoreDB connection string, for example
	// "esdb://localhost:2113?tls=false" or
	// "esdb+discover://admin:changeit@cluster.example:2113". It may hold
	// credentials: it is never logged nor put in errors.
	ConnectionString string
	// Logger receives the client's log lines; nil discards them.
	Logger *slog.Logger
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.ConnectionString == "" {
		errs = append(errs, errors.New("esdb: connection string is required"))
	} else if _, err := parseConnectionString(c.ConnectionString); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Store is the EventStoreDB adapter of [eventstore.Store]. It is safe for
// concurrent use.
type Store struct {
	conf *esdbclient.Configuration

	mu     sync.Mutex
	client *esdbclient.Client // replaced when it gives up; see [Store.do]
	closed bool
}

var _ eventstore.Store = (*Store)(nil)

// New returns a store on the EventStoreDB that cfg names. It does not
// connect: the client connects on the first call, and again after losing
// the connection.
func New(cfg Config) (*Store, error) {
	conf, err := parseConnectionString(cfg.ConnectionString)
	if err != nil {
		return nil, err
	}
	conf.Logger = clientLogger(cfg.Logger)
	client, err := esdbclient.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("esdb: new client: %w", err)
	}
	return &Store{conf: conf, client: client}, nil
}

// do runs op with the client. The v4 client gives up for good when it
// fails to reach the server MaxDiscoverAttempts times in a row (10, 100 ms
// apart, by default): every later call fails with ErrorCodeConnectionClosed
// before sending anything. Then do replaces the client and runs op again,
// once, so the store recovers when the server comes back.
func (s *Store) do(op func(*esdbclient.Client) error) error {
	s.mu.Lock()
	client := s.client
	s.mu.Unlock()
	err := op(client)
	if esErr, ok := errors.AsType[*esdbclient.Error](err); !ok || esErr.Code() != esdbclient.ErrorCodeConnectionClosed {
		return err
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return err
	}
	if s.client == client {
		_ = client.Close()
		renewed, newErr := esdbclient.NewClient(s.conf)
		if newErr != nil {
			s.mu.Unlock()
			return err
		}
		s.client = renewed
	}
	client = s.client
	s.mu.Unlock()
	return op(client)
}

// parseConnectionString parses s, keeping s (and its credentials) out of
// the error.
func parseConnectionString(s string) (*esdbclient.Configuration, error) {
	conf, err := esdbclient.ParseConnectionString(s)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("esdb: parse connection string: %w", err)
	}
	return conf, nil
}

// clientLogger sends the client's log lines to logger, or nowhere.
func clientLogger(logger *slog.Logger) esdbclient.LoggingFunc {
	if logger == nil {
		return esdbclient.NoopLogging()
	}
	return func(level esdbclient.LogLevel, format string, args ...any) {
		l := slog.LevelInfo
		switch level {
		case esdbclient.LogDebug:
			l = slog.LevelDebug
		case esdbclient.LogWarn:
			l = slog.LevelWarn
		case esdbclient.LogError:
			l = slog.LevelError
		}
		logger.Log(context.Background(), l, fmt.Sprintf(format, args...), slog.String("component", "esdb-client"))
	}
}

// Close closes the connection. Calls after Close fail.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.client.Close()
}

// Append writes events to the end of stream, atomically, if expected holds.
// Appending again events with the same ids at the same expected revision
// succeeds without writing them twice.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if stream == "" {
		return eventstore.AppendResult{}, fmt.Errorf("append: empty stream name: %w", eventstore.ErrInvalidEvent)
	}
	if len(events) == 0 {
		return eventstore.AppendResult{}, fmt.Errorf("append %s: no events: %w", stream, eventstore.ErrInvalidEvent)
	}
	data := make([]esdbclient.EventData, len(events))
	for i, e := range events {
		d, err := eventData(e)
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("append %s: event %d: %w", stream, i, err)
		}
		data[i] = d
	}
	var res *esdbclient.WriteResult
	err := s.do(func(c *esdbclient.Client) (err error) {
		res, err = c.AppendToStream(ctx, stream, esdbclient.AppendToStreamOptions{ExpectedRevision: expectedRevision(expected)}, data...)
		return err
	})
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append %s at %s: %w", stream, expected, translate(ctx, err))
	}
	return eventstore.AppendResult{
		NextExpected: res.NextExpectedVersion,
		Position:     eventstore.Position{Commit: res.CommitPosition, Prepare: res.PreparePosition},
	}, nil
}

// expectedRevision maps the port's expected revision to the client's.
func expectedRevision(e eventstore.ExpectedRevision) esdbclient.ExpectedRevision {
	if rev, ok := e.Revision(); ok {
		return esdbclient.Revision(rev)
	}
	if e.IsNoStream() {
		return esdbclient.NoStream{}
	}
	return esdbclient.Any{}
}

// userMetadata is the user metadata of the events the adapter writes.
type userMetadata struct {
	ContentType string `json:"contentType,omitempty"`
	// Metadata is the event's eventstore.EventData.Metadata.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// eventData maps the port's event to the client's.
func eventData(e eventstore.EventData) (esdbclient.EventData, error) {
	if e.ID == "" || e.Type == "" {
		return esdbclient.EventData{}, fmt.Errorf("id and type are required: %w", eventstore.ErrInvalidEvent)
	}
	id, err := uuid.Parse(e.ID)
	if err != nil || id == uuid.Nil {
		return esdbclient.EventData{}, fmt.Errorf("id %q is not a UUID: %w", e.ID, eventstore.ErrInvalidEvent)
	}
	contentType := e.ContentType
	if contentType == "" {
		contentType = DefaultContentType
	}
	if err := eventstore.ValidMetadata(e.Metadata); err != nil {
		return esdbclient.EventData{}, err
	}
	meta, err := json.Marshal(userMetadata{ContentType: contentType, Metadata: e.Metadata})
	if err != nil {
		return esdbclient.EventData{}, fmt.Errorf("metadata: %w", err)
	}
	ct := esdbclient.ContentTypeBinary
	if contentType == "application/json" || strings.HasPrefix(contentType, "application/json;") {
		ct = esdbclient.ContentTypeJson
	}
	return esdbclient.EventData{
		EventID:     id,
		EventType:   e.Type,
		ContentType: ct,
		Data:        e.Data,
		Metadata:    meta,
	}, nil
}
