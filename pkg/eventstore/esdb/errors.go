package esdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/dropsync/dropsync/pkg/eventstore"
)

// translate maps the client's errors to the port's, at the edge. The
// client's error stays in the chain for errors.As to *esdbclient.Error.
func translate(ctx context.Context, err error) error {
	if esErr, ok := errors.AsType[*esdbclient.Error](err); ok {
		switch esErr.Code() {
		case esdbclient.ErrorCodeWrongExpectedVersion:
			return fmt.Errorf("%w: %w", eventstore.ErrConcurrency, err)
		case esdbclient.ErrorCodeResourceNotFound:
			return fmt.Errorf("%w: %w", eventstore.ErrStreamNotFound, err)
		}
	}
	if ctxErr := contextErr(ctx); ctxErr != nil {
		// The call ended because its context did: say that, rather than
		// how the transport noticed.
		return ctxErr
	}
	return err
}

// contextErr is ctx.Err(), or DeadlineExceeded once ctx's deadline has
// passed: gRPC may notice the deadline a moment before ctx's own timer.
func contextErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return nil
}
