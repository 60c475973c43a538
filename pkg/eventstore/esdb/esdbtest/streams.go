package esdbtest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// maxAppendSize is EventStoreDB's default MaxAppendSize, in bytes.
const maxAppendSize = 1024 * 1024

// Metadata keys of the system metadata EventStoreDB attaches to an event.
const (
	metadataType        = "type"
	metadataContentType = "content-type"
	metadataCreated     = "created"
)

// streamsServer implements Streams.Append and Streams.Read.
type streamsServer struct {
	streams.UnimplementedStreamsServer
	log  *eventLog
	done <-chan struct{} // closed when the server stops
}

// Append receives the options, then the events, then writes them at once.
func (s *streamsServer) Append(call streams.Streams_AppendServer) error {
	first, err := call.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "the first append message must carry the options")
	}
	stream := string(opts.GetStreamIdentifier().GetStreamName())
	if stream == "" || stream == "$all" {
		return status.Errorf(codes.InvalidArgument, "cannot append to stream %q", stream)
	}
	exp, err := expectationFromProto(opts)
	if err != nil {
		return err
	}

	var events []proposed
	size := 0
	for {
		req, err := call.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		msg := req.GetProposedMessage()
		if msg == nil {
			return status.Error(codes.InvalidArgument, "append messages after the first must carry an event")
		}
		e, err := proposedFromProto(msg)
		if err != nil {
			return err
		}
		if size += e.size(); size > maxAppendSize {
			call.SetTrailer(metadata.Pairs("exception", "maximum-append-size-exceeded"))
			return status.Errorf(codes.InvalidArgument, "Maximum Append Size of %d Exceeded.", maxAppendSize)
		}
		events = append(events, e)
	}

	return call.SendAndClose(appendRespToProto(s.log.append(stream, exp, events), exp))
}

// Read serves a read of a stream or $all, or a subscription to either.
func (s *streamsServer) Read(req *streams.ReadReq, call streams.Streams_ReadServer) error {
	opts := req.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "read without options")
	}
	f, err := filterFromProto(opts.GetFilter())
	if err != nil {
		return err
	}
	r := reader{call: call, structured: opts.GetUuidOption().GetString_() == nil}

	if _, ok := opts.GetCountOption().(*streams.ReadReq_Options_Subscription); ok {
		return s.subscribe(call.Context(), opts, f, r)
	}
	count := opts.GetCount()
	backwards := opts.GetReadDirection() == streams.ReadReq_Options_Backwards

	switch {
	case opts.GetStream() != nil:
		so := opts.GetStream()
		name := string(so.GetStreamIdentifier().GetStreamName())
		recs, _ := s.log.snapshotStream(name)
		if len(recs) == 0 {
			return call.Send(&streams.ReadResp{Content: &streams.ReadResp_StreamNotFound_{
				StreamNotFound: &streams.ReadResp_StreamNotFound{StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)}},
			}})
		}
		var from int
		switch o := so.GetRevisionOption().(type) {
		case *streams.ReadReq_Options_StreamOptions_Start:
			from = 0
		case *streams.ReadReq_Options_StreamOptions_End:
			from = len(recs)
			if backwards {
				from = len(recs) - 1
			}
		case *streams.ReadReq_Options_StreamOptions_Revision:
			from = int(min(o.Revision, uint64(len(recs))))
			if backwards {
				from = int(min(o.Revision, uint64(len(recs)-1)))
			}
		default:
			return status.Error(codes.InvalidArgument, "stream read without a revision option")
		}
		return r.send(recs, from, backwards, count, f)

	case opts.GetAll() != nil:
		recs, _ := s.log.snapshotAll()
		var from int
		switch o := opts.GetAll().GetAllOption().(type) {
		case *streams.ReadReq_Options_AllOptions_Start:
			from = 0
			if backwards {
				from = -1
			}
		case *streams.ReadReq_Options_AllOptions_End:
			from = len(recs)
			if backwards {
				from = len(recs) - 1
			}
		case *streams.ReadReq_Options_AllOptions_Position:
			p := pos{commit: o.Position.GetCommitPosition(), prepare: o.Position.GetPreparePosition()}
			if p.commit < p.prepare {
				return status.Error(codes.InvalidArgument, "the commit position cannot be less than the prepare position")
			}
			from = firstAtOrAfter(recs, p) // forwards: from p on
			if backwards {
				from-- // backwards: what comes before p
			}
		default:
			return status.Error(codes.InvalidArgument, "$all read without a position option")
		}
		return r.send(recs, from, backwards, count, f)
	}
	return status.Error(codes.InvalidArgument, "read of neither a stream nor $all")
}

// subscribe sends the confirmation, the events after the starting point,
// CaughtUp, then every new event, until the call or the server ends.
func (s *streamsServer) subscribe(ctx context.Context, opts *streams.ReadReq_Options, f *filter, r reader) error {
	var snapshot func() ([]*record, <-chan struct{})
	var next int
	switch {
	case opts.GetStream() != nil:
		so := opts.GetStream()
		name := string(so.GetStreamIdentifier().GetStreamName())
		snapshot = func() ([]*record, <-chan struct{}) { return s.log.snapshotStream(name) }
		recs, _ := snapshot()
		switch o := so.GetRevisionOption().(type) {
		case *streams.ReadReq_Options_StreamOptions_Start:
			next = 0
		case *streams.ReadReq_Options_StreamOptions_End:
			next = len(recs)
		case *streams.ReadReq_Options_StreamOptions_Revision:
			next = int(o.Revision) + 1 // after the revision
		default:
			return status.Error(codes.InvalidArgument, "stream subscription without a revision option")
		}
	case opts.GetAll() != nil:
		snapshot = s.log.snapshotAll
		recs, _ := snapshot()
		switch o := opts.GetAll().GetAllOption().(type) {
		case *streams.ReadReq_Options_AllOptions_Start:
			next = 0
		case *streams.ReadReq_Options_AllOptions_End:
			next = len(recs)
		case *streams.ReadReq_Options_AllOptions_Position:
			p := pos{commit: o.Position.GetCommitPosition(), prepare: o.Position.GetPreparePosition()}
			next = firstAtOrAfter(recs, p)
			if next < len(recs) && recs[next].pos == p {
				next++ // after the position
			}
		default:
			return status.Error(codes.InvalidArgument, "$all subscription without a position option")
		}
	default:
		return status.Error(codes.InvalidArgument, "subscription to neither a stream nor $all")
	}

	err := r.call.Send(&streams.ReadResp{Content: &streams.ReadResp_Confirmation{
		Confirmation: &streams.ReadResp_SubscriptionConfirmation{SubscriptionId: uuid.NewString()},
	}})
	if err != nil {
		return err
	}
	caughtUp := false
	scanned := uint64(0)
	for {
		recs, changed := snapshot()
		for ; next < len(recs); next++ {
			rec := recs[next]
			if f.match(rec) {
				if err := r.event(rec); err != nil {
					return err
				}
			}
			scanned++
			if f.checkpointEvery(scanned) {
				if err := r.checkpoint(rec.pos); err != nil {
					return err
				}
			}
		}
		if !caughtUp {
			caughtUp = true
			if err := r.call.Send(&streams.ReadResp{Content: &streams.ReadResp_CaughtUp_{CaughtUp: &streams.ReadResp_CaughtUp{}}}); err != nil {
				return err
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-s.done:
			return status.Error(codes.Unavailable, "server stopped")
		}
	}
}

// reader sends events to a read call.
type reader struct {
	call       streams.Streams_ReadServer
	structured bool // send event ids as two int64s rather than strings
}

// send sends up to count records matching f, from recs[from] on, forwards
// or backwards.
func (r reader) send(recs []*record, from int, backwards bool, count uint64, f *filter) error {
	step := 1
	if backwards {
		step = -1
	}
	for i := from; i >= 0 && i < len(recs) && count > 0; i += step {
		if !f.match(recs[i]) {
			continue
		}
		if err := r.event(recs[i]); err != nil {
			return err
		}
		count--
	}
	return nil
}

func (r reader) event(rec *record) error {
	contentType := "application/octet-stream"
	if rec.json {
		contentType = "application/json"
	}
	return r.call.Send(&streams.ReadResp{Content: &streams.ReadResp_Event{Event: &streams.ReadResp_ReadEvent{
		Event: &streams.ReadResp_ReadEvent_RecordedEvent{
			Id:               uuidToProto(rec.id, r.structured),
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(rec.stream)},
			StreamRevision:   rec.revision,
			PreparePosition:  rec.pos.prepare,
			CommitPosition:   rec.pos.commit,
			Metadata: map[string]string{
				metadataType:        rec.eventType,
				metadataContentType: contentType,
				metadataCreated:     strconv.FormatInt(rec.created, 10),
			},
			CustomMetadata: rec.metadata,
			Data:           rec.data,
		},
		Position: &streams.ReadResp_ReadEvent_CommitPosition{CommitPosition: rec.pos.commit},
	}}})
}

func (r reader) checkpoint(p pos) error {
	return r.call.Send(&streams.ReadResp{Content: &streams.ReadResp_Checkpoint_{
		Checkpoint: &streams.ReadResp_Checkpoint{CommitPosition: p.commit, PreparePosition: p.prepare},
	}})
}

// firstAtOrAfter is the index of the first record at or after p.
func firstAtOrAfter(recs []*record, p pos) int {
	return sort.Search(len(recs), func(i int) bool { return !recs[i].pos.less(p) })
}

// filter is a server-side filter of $all, on stream names or event types.
type filter struct {
	onEventType bool
	prefixes    []string
	regex       *regexp.Regexp
	interval    uint64 // events scanned between checkpoints
}

// filterFromProto returns nil for no filter.
func filterFromProto(fo *streams.ReadReq_Options_FilterOptions) (*filter, error) {
	if fo == nil {
		return nil, nil
	}
	var expr *streams.ReadReq_Options_FilterOptions_Expression
	f := &filter{}
	switch o := fo.GetFilter().(type) {
	case *streams.ReadReq_Options_FilterOptions_StreamIdentifier:
		expr = o.StreamIdentifier
	case *streams.ReadReq_Options_FilterOptions_EventType:
		expr, f.onEventType = o.EventType, true
	default:
		return nil, status.Error(codes.InvalidArgument, "filter on neither stream names nor event types")
	}
	f.prefixes = expr.GetPrefix()
	if expr.GetRegex() != "" {
		re, err := regexp.Compile(expr.GetRegex())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "filter regex: %v", err)
		}
		f.regex = re
	}
	window := uint64(32) // the client's default max search window
	if m, ok := fo.GetWindow().(*streams.ReadReq_Options_FilterOptions_Max); ok && m.Max > 0 {
		window = uint64(m.Max)
	}
	f.interval = window * uint64(max(fo.GetCheckpointIntervalMultiplier(), 1))
	return f, nil
}

// match reports whether rec passes f; everything passes a nil filter.
func (f *filter) match(rec *record) bool {
	if f == nil {
		return true
	}
	subject := rec.stream
	if f.onEventType {
		subject = rec.eventType
	}
	if f.regex != nil && !f.regex.MatchString(subject) {
		return false
	}
	if len(f.prefixes) == 0 {
		return true
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(subject, p) {
			return true
		}
	}
	return false
}

// checkpointEvery reports whether a checkpoint is due after scanned events.
func (f *filter) checkpointEvery(scanned uint64) bool {
	return f != nil && scanned%f.interval == 0
}

func expectationFromProto(opts *streams.AppendReq_Options) (expectation, error) {
	switch o := opts.GetExpectedStreamRevision().(type) {
	case *streams.AppendReq_Options_Any:
		return expectation{kind: expectAny}, nil
	case *streams.AppendReq_Options_NoStream:
		return expectation{kind: expectNoStream}, nil
	case *streams.AppendReq_Options_StreamExists:
		return expectation{kind: expectStreamExists}, nil
	case *streams.AppendReq_Options_Revision:
		return expectation{kind: expectRevision, revision: o.Revision}, nil
	}
	return expectation{}, status.Error(codes.InvalidArgument, "append without an expected stream revision")
}

func proposedFromProto(m *streams.AppendReq_ProposedMessage) (proposed, error) {
	id, err := uuidFromProto(m.GetId())
	if err != nil {
		return proposed{}, status.Errorf(codes.InvalidArgument, "event id: %v", err)
	}
	eventType, ok := m.GetMetadata()[metadataType]
	if !ok || eventType == "" {
		return proposed{}, status.Errorf(codes.InvalidArgument, "required metadata property %q is missing", metadataType)
	}
	contentType, ok := m.GetMetadata()[metadataContentType]
	if !ok {
		return proposed{}, status.Errorf(codes.InvalidArgument, "required metadata property %q is missing", metadataContentType)
	}
	return proposed{
		id:        id,
		eventType: eventType,
		json:      contentType == "application/json",
		metadata:  m.GetCustomMetadata(),
		data:      m.GetData(),
	}, nil
}

func appendRespToProto(out outcome, exp expectation) *streams.AppendResp {
	if out.ok {
		success := &streams.AppendResp_Success{}
		if out.current < 0 {
			success.CurrentRevisionOption = &streams.AppendResp_Success_NoStream{NoStream: &shared.Empty{}}
		} else {
			success.CurrentRevisionOption = &streams.AppendResp_Success_CurrentRevision{CurrentRevision: uint64(out.current)}
		}
		if out.written {
			success.PositionOption = &streams.AppendResp_Success_Position{Position: &streams.AppendResp_Position{
				CommitPosition: out.pos.commit, PreparePosition: out.pos.prepare,
			}}
		} else {
			success.PositionOption = &streams.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}
		}
		return &streams.AppendResp{Result: &streams.AppendResp_Success_{Success: success}}
	}

	wrong := &streams.AppendResp_WrongExpectedVersion{}
	if out.current < 0 {
		wrong.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		wrong.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: &shared.Empty{}}
	} else {
		wrong.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(out.current)}
		wrong.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: uint64(out.current)}
	}
	switch exp.kind {
	case expectAny:
		wrong.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
		wrong.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_Any_20_6_0{Any_20_6_0: &shared.Empty{}}
	case expectNoStream:
		wrong.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
	case expectStreamExists:
		wrong.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
		wrong.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: &shared.Empty{}}
	case expectRevision:
		wrong.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: exp.revision}
		wrong.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: exp.revision}
	}
	return &streams.AppendResp{Result: &streams.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: wrong}}
}

// uuidToProto encodes id the way the client asked: two big-endian int64s
// (structured) or the string form.
func uuidToProto(id uuid.UUID, structured bool) *shared.UUID {
	if !structured {
		return &shared.UUID{Value: &shared.UUID_String_{String_: id.String()}}
	}
	return &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits:  int64(binary.BigEndian.Uint64(id[:8])),
		LeastSignificantBits: int64(binary.BigEndian.Uint64(id[8:])),
	}}}
}

func uuidFromProto(u *shared.UUID) (uuid.UUID, error) {
	switch v := u.GetValue().(type) {
	case *shared.UUID_Structured_:
		var id uuid.UUID
		binary.BigEndian.PutUint64(id[:8], uint64(v.Structured.GetMostSignificantBits()))
		binary.BigEndian.PutUint64(id[8:], uint64(v.Structured.GetLeastSignificantBits()))
		return id, nil
	case *shared.UUID_String_:
		return uuid.Parse(v.String_)
	}
	return uuid.Nil, fmt.Errorf("missing")
}
