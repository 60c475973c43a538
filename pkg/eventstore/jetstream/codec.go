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

// HeaderMetaPrefix prefixes the headers holding a single event's metadata:
// key "traceparent" is header "Dropsync-Meta-traceparent".
const HeaderMetaPrefix = "Dropsync-Meta-"

// HeaderPackedMeta marks a packed message whose records have a fifth
// field, the event's metadata: uvarint-length-prefixed keys and values,
// alternating. Packed messages without it have four fields a record, so
// events stored before metadata existed read as they were.
const HeaderPackedMeta = "Dropsync-Packed-Meta"

// message is the NATS message of event ev at revision rev of subj.
func message(subj string, rev uint64, ev eventstore.EventData) *nats.Msg {
	h := make(nats.Header, 8)
	h[jetstream.MsgIDHeader] = []string{ev.ID}
	h[HeaderRevision] = []string{strconv.FormatUint(rev, 10)}
	h[HeaderType] = []string{ev.Type}
	if ev.ContentType != "" && ev.ContentType != DefaultContentType {
		h[HeaderContentType] = []string{ev.ContentType}
	}
	for k, v := range ev.Metadata {
		h[HeaderMetaPrefix+k] = []string{v}
	}
	return &nats.Msg{Subject: subj, Header: h, Data: ev.Data}
}

// hasMetadata reports whether any event has metadata.
func hasMetadata(events []eventstore.EventData) bool {
	for _, ev := range events {
		if len(ev.Metadata) > 0 {
			return true
		}
	}
	return false
}

// metaSize is the size of the metadata field of md, without its own length.
func metaSize(md map[string]string) int {
	n := 0
	for k, v := range md {
		n += uvarintLen(uint64(len(k))) + len(k) + uvarintLen(uint64(len(v))) + len(v)
	}
	return n
}

// packedSize is the payload size of events packed.
func packedSize(events []eventstore.EventData) int {
	n := 0
	withMeta := hasMetadata(events)
	for _, ev := range events {
		if withMeta {
			l := metaSize(ev.Metadata)
			n += uvarintLen(uint64(l)) + l
		}
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
	withMeta := hasMetadata(events)
	for _, ev := range events {
		ct := ev.ContentType
		if ct == DefaultContentType {
			ct = ""
		}
		field([]byte(ev.ID))
		field([]byte(ev.Type))
		field([]byte(ct))
		field(ev.Data)
		if withMeta {
			buf = binary.AppendUvarint(buf, uint64(metaSize(ev.Metadata)))
			for k, v := range ev.Metadata {
				buf = binary.AppendUvarint(buf, uint64(len(k)))
				buf = append(buf, k...)
				buf = binary.AppendUvarint(buf, uint64(len(v)))
				buf = append(buf, v...)
			}
		}
	}
	h := nats.Header{
		jetstream.MsgIDHeader: []string{events[0].ID},
		HeaderRevision:        []string{strconv.FormatUint(rev, 10)},
		HeaderCount:           []string{strconv.Itoa(len(events))},
	}
	if withMeta {
		h[HeaderPackedMeta] = []string{"1"}
	}
	return &nats.Msg{Subject: subj, Data: buf, Header: h}
}

// headerMetadata is the metadata in a single event's headers, nil if none.
func headerMetadata(h nats.Header) map[string]string {
	var md map[string]string
	for k, v := range h {
		if len(v) == 0 || len(k) <= len(HeaderMetaPrefix) || k[:len(HeaderMetaPrefix)] != HeaderMetaPrefix {
			continue
		}
		if md == nil {
			md = make(map[string]string, 2)
		}
		md[k[len(HeaderMetaPrefix):]] = v[0]
	}
	return md
}

// packedMetadata decodes a packed record's metadata field, nil if empty.
func packedMetadata(f []byte) (map[string]string, error) {
	var md map[string]string
	next := func() (string, error) {
		l, k := binary.Uvarint(f)
		if k <= 0 || l > uint64(len(f)-k) {
			return "", errMalformed
		}
		s := string(f[k : k+int(l)])
		f = f[k+int(l):]
		return s, nil
	}
	for len(f) > 0 {
		k, err := next()
		if err != nil {
			return nil, err
		}
		v, err := next()
		if err != nil {
			return nil, err
		}
		if md == nil {
			md = make(map[string]string, 2)
		}
		md[k] = v
	}
	return md, nil
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
			Metadata:    headerMetadata(h),
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
	nfields := 4
	if h.Get(HeaderPackedMeta) != "" {
		nfields = 5
	}
	for i := range n {
		var fields [5][]byte
		for j := range nfields {
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
		if nfields == 5 {
			if ev.Metadata, err = packedMetadata(fields[4]); err != nil {
				return false, fmt.Errorf("message %d: event %d: metadata: %w", seq, i, err)
			}
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
