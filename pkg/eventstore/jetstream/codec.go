package jetstream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/eventstore"
)

// HeaderCount marks a packed message, the events of one multi-event
// append, and holds their number n (2 or more). HeaderRevision holds the
// first event's revision, Nats-Msg-Id the first event's id, and the payload
// is n records of four uvarint-length-prefixed fields each: id, type,
// content type ("" for DefaultContentType), data. The i-th event (from 0)
// is at Position{Commit: seq, Prepare: seq + i}, seq the message's stream
// sequence; a message of one event has the event's data as its payload and
// is at Position{Commit: seq, Prepare: seq}.
const HeaderCount = "Dropsync-Count"

// message is the NATS message of event ev at revision rev of subj.
func message(subj string, rev uint64, ev eventstore.EventData) *nats.Msg {
	h := make(nats.Header, 8)
	h[jetstream.MsgIDHeader] = []string{ev.ID}
	h[HeaderRevision] = []string{strconv.FormatUint(rev, 10)}
	h[HeaderType] = []string{ev.Type}
	if ev.ContentType != "" && ev.ContentType != DefaultContentType {
		h[HeaderContentType] = []string{ev.ContentType}
	}
	return &nats.Msg{Subject: subj, Header: h, Data: ev.Data}
}

// packedSize is the payload size of events packed.
func packedSize(events []eventstore.EventData) int {
	n := 0
	for _, ev := range events {
		ct := ev.ContentType
		if ct == DefaultContentType {
			ct = ""
		}
		for _, l := range []int{len(ev.ID), len(ev.Type), len(ct), len(ev.Data)} {
			n += uvarintLen(uint64(l)) + l
		}
	}
	return n
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// packed is the message holding events, the first at revision rev of subj.
func packed(subj string, rev uint64, events []eventstore.EventData) *nats.Msg {
	buf := make([]byte, 0, packedSize(events))
	field := func(s []byte) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	for _, ev := range events {
		ct := ev.ContentType
		if ct == DefaultContentType {
			ct = ""
		}
		field([]byte(ev.ID))
		field([]byte(ev.Type))
		field([]byte(ct))
		field(ev.Data)
	}
	return &nats.Msg{Subject: subj, Data: buf, Header: nats.Header{
		jetstream.MsgIDHeader: []string{events[0].ID},
		HeaderRevision:        []string{strconv.FormatUint(rev, 10)},
		HeaderCount:           []string{strconv.Itoa(len(events))},
	}}
}

var errMalformed = errors.New("malformed packed events")

// decode calls fn with each event of the message of stream at sequence seq,
// in order, until fn returns false; it returns false then.
func decode(stream string, h nats.Header, data []byte, seq uint64, created time.Time, fn func(eventstore.RecordedEvent) bool) (bool, error) {
	rev, err := strconv.ParseUint(h.Get(HeaderRevision), 10, 64)
	if err != nil {
		return false, fmt.Errorf("message %d: bad %s header: %w", seq, HeaderRevision, err)
	}
	count := h.Get(HeaderCount)
	if count == "" {
		ct := h.Get(HeaderContentType)
		if ct == "" {
			ct = DefaultContentType
		}
		return fn(eventstore.RecordedEvent{
			Stream:      stream,
			Revision:    rev,
			Position:    eventstore.Position{Commit: seq, Prepare: seq},
			ID:          h.Get(jetstream.MsgIDHeader),
			Type:        h.Get(HeaderType),
			Data:        data,
			ContentType: ct,
			Created:     created,
		}), nil
	}
	n, err := strconv.ParseUint(count, 10, 32)
	if err != nil || n < 2 {
		return false, fmt.Errorf("message %d: bad %s header %q", seq, HeaderCount, count)
	}
	field := func() ([]byte, error) {
		l, k := binary.Uvarint(data)
		if k <= 0 || l > uint64(len(data)-k) {
			return nil, errMalformed
		}
		f := data[k : k+int(l) : k+int(l)]
		data = data[k+int(l):]
		return f, nil
	}
	for i := range n {
		var fields [4][]byte
		for j := range fields {
			if fields[j], err = field(); err != nil {
				return false, fmt.Errorf("message %d: event %d: %w", seq, i, err)
			}
		}
		ct := string(fields[2])
		if ct == "" {
			ct = DefaultContentType
		}
		ev := eventstore.RecordedEvent{
			Stream:      stream,
			Revision:    rev + i,
			Position:    eventstore.Position{Commit: seq, Prepare: seq + i},
			ID:          string(fields[0]),
			Type:        string(fields[1]),
			Data:        fields[3],
			ContentType: ct,
			Created:     created,
		}
		if !fn(ev) {
			return false, nil
		}
	}
	if len(data) != 0 {
		return false, fmt.Errorf("message %d: %w: %d bytes after %d events", seq, errMalformed, len(data), n)
	}
	return true, nil
}

// lastRevision is the revision of the last event in a message with h.
func lastRevision(h nats.Header) (uint64, error) {
	rev, err := strconv.ParseUint(h.Get(HeaderRevision), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad %s header: %w", HeaderRevision, err)
	}
	if count := h.Get(HeaderCount); count != "" {
		n, err := strconv.ParseUint(count, 10, 32)
		if err != nil || n < 2 {
			return 0, fmt.Errorf("bad %s header %q", HeaderCount, count)
		}
		rev += n - 1
	}
	return rev, nil
}
