package ports

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dropsync/dropsync/pkg/grpcserver"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/services/notifier/internal/app"
)

// ErrorDomain is the domain of every ErrorInfo this service sends.
const ErrorDomain = "dropsync.notifier"

// Reasons of the ErrorInfo of errors that follow from no SPEC rule.
const (
	// ReasonOrdersUnavailable: the orders service could not be reached.
	ReasonOrdersUnavailable = "ORDERS_UNAVAILABLE"
	// ReasonLedgerUnavailable: the ledger could not be read or written.
	ReasonLedgerUnavailable = "LEDGER_UNAVAILABLE"
	// ReasonEventNotPublished: the decision is recorded, its event not yet
	// stored on the bus; asking again returns the decision.
	ReasonEventNotPublished = "EVENT_NOT_PUBLISHED"
	// ReasonConfirmationNotFound: no decision is recorded for the shipment.
	ReasonConfirmationNotFound = "CONFIRMATION_NOT_FOUND"
	// ReasonBadPageToken: the page token is not from this listing.
	ReasonBadPageToken = "INVALID_PAGE_TOKEN"
)

// fieldError is a request field that is wrong, and why.
type fieldError struct {
	field, reason string
}

func (e *fieldError) Error() string { return e.field + ": " + e.reason }

func invalid(field, reason string) error { return &fieldError{field: field, reason: reason} }

// toStatus is the one place errors become gRPC statuses: InvalidArgument
// with a BadRequest naming the field; NotFound for an unknown order or
// confirmation; FailedPrecondition with the rule code as the ErrorInfo
// reason; Unavailable when the orders service, the ledger or the bus
// cannot be reached (retrying is the remedy). Anything unexpected is logged
// and sent as a bare Internal, never with its text.
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
	case errors.Is(err, app.ErrBadPageToken):
		return grpcserver.Status(codes.InvalidArgument, "page_token: "+err.Error(),
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "page_token", Description: "not from this listing"}}},
			&errdetails.ErrorInfo{Reason: ReasonBadPageToken, Domain: ErrorDomain})
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case errors.Is(err, app.ErrNotFound):
		return grpcserver.Status(codes.NotFound, "no confirmation recorded for the shipment",
			&errdetails.ErrorInfo{Reason: ReasonConfirmationNotFound, Domain: ErrorDomain})
	case errors.Is(err, app.ErrOrderNotFound):
		return grpcserver.Status(codes.NotFound, err.Error(), &errdetails.ErrorInfo{Reason: order.CodeNotFound, Domain: ErrorDomain})
	case errors.As(err, &re):
		return grpcserver.Status(codes.FailedPrecondition, err.Error(), &errdetails.ErrorInfo{
			Reason: re.Code, Domain: ErrorDomain, Metadata: map[string]string{"order_id": re.OrderID},
		})
	case errors.Is(err, order.ErrUnknownShipment):
		return grpcserver.Status(codes.FailedPrecondition, err.Error(), &errdetails.ErrorInfo{Reason: order.CodeUnknownShipment, Domain: ErrorDomain})
	case errors.Is(err, order.ErrInvalidID):
		return grpcserver.Status(codes.InvalidArgument, err.Error(), &errdetails.ErrorInfo{Reason: order.CodeInvalidID, Domain: ErrorDomain})
	case errors.Is(err, app.ErrOrdersUnavailable):
		log.WarnContext(ctx, "orders service unavailable", "err", err)
		return grpcserver.Status(codes.Unavailable, "orders service unavailable", &errdetails.ErrorInfo{Reason: ReasonOrdersUnavailable, Domain: ErrorDomain})
	case errors.Is(err, app.ErrNotPublished):
		log.WarnContext(ctx, "confirmation event not published", "err", err)
		return grpcserver.Status(codes.Unavailable, "decision recorded, event not published yet: call again", &errdetails.ErrorInfo{Reason: ReasonEventNotPublished, Domain: ErrorDomain})
	case errors.Is(err, app.ErrLedgerUnavailable):
		log.WarnContext(ctx, "ledger unavailable", "err", err)
		return grpcserver.Status(codes.Unavailable, "ledger unavailable", &errdetails.ErrorInfo{Reason: ReasonLedgerUnavailable, Domain: ErrorDomain})
	default:
		log.ErrorContext(ctx, "internal error", "err", err)
		return status.Error(codes.Internal, "internal error")
	}
}
