package ports

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/grpcserver"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/services/orders/internal/app"
	"github.com/dropsync/dropsync/services/orders/internal/readmodel"
)

// ErrorDomain is the domain of every ErrorInfo this service sends.
const ErrorDomain = "dropsync.orders"

// CodeUnsupportedSetting is the ErrorInfo reason of a store setting the
// platform cannot honour (FailedPrecondition; the message names the limit).
const CodeUnsupportedSetting = "SETTING_UNSUPPORTED_BY_PLATFORM"

// fieldError is a request field that is wrong, and why.
type fieldError struct {
	field, reason string
}

func (e *fieldError) Error() string { return e.field + ": " + e.reason }

func invalid(field, reason string) error { return &fieldError{field: field, reason: reason} }

// toStatus is the one place errors become gRPC statuses. Refusals carry an
// ErrorInfo whose reason is the rule code (RULE_5_FULFILLED_MANUALLY, ...);
// bad requests carry a BadRequest naming the field; anything unexpected is
// logged and sent as a bare Internal, never with its text.
func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var fe *fieldError
	var re *order.RuleError
	switch {
	case errors.As(err, &fe):
		return grpcserver.Status(codes.InvalidArgument, err.Error(), &errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: fe.field, Description: fe.reason}},
		})
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case errors.Is(err, order.ErrUnknownOrder), errors.Is(err, eventstore.ErrStreamNotFound):
		return grpcserver.Status(codes.NotFound, err.Error(), &errdetails.ErrorInfo{Reason: order.CodeNotFound, Domain: ErrorDomain})
	case errors.As(err, &re):
		return grpcserver.Status(codes.FailedPrecondition, err.Error(), &errdetails.ErrorInfo{
			Reason: re.Code, Domain: ErrorDomain, Metadata: map[string]string{"order_id": re.OrderID},
		})
	case errors.Is(err, order.ErrInvalidID), errors.Is(err, order.ErrInvalidRequest), errors.Is(err, readmodel.ErrBadPageToken),
		errors.Is(err, app.ErrInvalidSettings):
		return grpcserver.Status(codes.InvalidArgument, err.Error(), &errdetails.ErrorInfo{Reason: order.Code(err), Domain: ErrorDomain})
	case errors.Is(err, app.ErrUnsupportedSetting):
		return grpcserver.Status(codes.FailedPrecondition, err.Error(), &errdetails.ErrorInfo{Reason: CodeUnsupportedSetting, Domain: ErrorDomain})
	case errors.Is(err, order.ErrRequestReused):
		return grpcserver.Status(codes.FailedPrecondition, err.Error(), &errdetails.ErrorInfo{Reason: order.CodeRequestReused, Domain: ErrorDomain})
	case errors.Is(err, readmodel.ErrReplaying):
		return grpcserver.Status(codes.Unavailable, err.Error(), &errdetails.ErrorInfo{Reason: "READ_MODEL_REPLAYING", Domain: ErrorDomain})
	case errors.Is(err, app.ErrContention):
		return grpcserver.Status(codes.Aborted, err.Error(), &errdetails.ErrorInfo{Reason: "CONCURRENCY_EXHAUSTED", Domain: ErrorDomain})
	default:
		log.ErrorContext(ctx, "internal error", "err", err)
		return status.Error(codes.Internal, "internal error")
	}
}
