package grpcserver_test

import (
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dropsync/dropsync/pkg/grpcserver"
)

func TestStatusCarriesDetails(t *testing.T) {
	err := grpcserver.Status(codes.FailedPrecondition, "order is canceled",
		&errdetails.ErrorInfo{Reason: "ORDER_CANCELED", Domain: "orders.dropsync"})
	st := status.Convert(err)
	if st.Code() != codes.FailedPrecondition || st.Message() != "order is canceled" {
		t.Fatalf("status = %v", st)
	}
	if len(st.Details()) != 1 {
		t.Fatalf("details = %v", st.Details())
	}
	info, ok := st.Details()[0].(*errdetails.ErrorInfo)
	if !ok || info.GetReason() != "ORDER_CANCELED" || info.GetDomain() != "orders.dropsync" {
		t.Fatalf("detail = %v", st.Details()[0])
	}
}
