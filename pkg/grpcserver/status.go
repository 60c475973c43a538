package grpcserver

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// Status is the error a handler returns: code and message, with details
// (errdetails.ErrorInfo with the reason code, BadRequest with the field
// violations, RetryInfo...) attached so clients act on them without
// parsing the message. A detail that cannot be marshalled is left out
// rather than losing the status.
func Status(c codes.Code, msg string, details ...protoadapt.MessageV1) error {
	st := status.New(c, msg)
	for _, d := range details {
		if s, err := st.WithDetails(d); err == nil {
			st = s
		}
	}
	return st.Err()
}
