package jetstream

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// MaxStreamNameLen bounds stream names, in bytes, so subjects stay well
// under the NATS control line limit (4 KiB) even when encoded.
const MaxStreamNameLen = 1024

const (
	// noCategory is the category token of a name without a usable category.
	// It cannot be a category, which never starts with encodedMark.
	noCategory = "~"
	// encodedMark starts a token holding base64url (unpadded) of the text.
	encodedMark = '~'
)

// Subject returns the NATS subject that holds stream's events under
// subject prefix prefix.
//
// A subject is "<prefix>.<category>.<rest>", two tokens after the prefix.
// When the name has a '-' after a non-empty, subject-safe category, as in
// "order-shopify:acme:1001", the category is the part before the first '-'
// ("order") and rest the part after it; otherwise the category token is "~"
// and rest is the whole name. Each part is kept verbatim when it is
// subject-safe (printable ASCII without '.', '*', '>' and not starting with
// '~'), and otherwise written as "~" followed by its unpadded base64url
// encoding. So "order-shopify:acme:1001" is "es.order.shopify:acme:1001",
// "order-a.b" is "es.order.~YS5i" and "x y" is "es.~.~eCB5". The encoding
// is reversible ([StreamName]) and lets a filter on "order-" be the subject
// filter "es.order.>".
func Subject(prefix, stream string) (string, error) {
	if stream == "" {
		return "", errors.New("empty stream name")
	}
	if len(stream) > MaxStreamNameLen {
		return "", fmt.Errorf("stream name of %d bytes, longer than %d", len(stream), MaxStreamNameLen)
	}
	var b strings.Builder
	b.Grow(len(prefix) + len(stream) + 8)
	b.WriteString(prefix)
	b.WriteByte('.')
	if cat, rest, ok := category(stream); ok {
		b.WriteString(cat)
		b.WriteByte('.')
		writeToken(&b, rest)
	} else {
		b.WriteString(noCategory)
		b.WriteByte('.')
		writeToken(&b, stream)
	}
	return b.String(), nil
}

// StreamName returns the stream name subject encodes under prefix, the
// inverse of [Subject].
func StreamName(prefix, subject string) (string, error) {
	tokens, ok := strings.CutPrefix(subject, prefix)
	if !ok || len(tokens) == 0 || tokens[0] != '.' {
		return "", fmt.Errorf("subject %q not under %q", subject, prefix)
	}
	cat, rest, ok := strings.Cut(tokens[1:], ".")
	if !ok || cat == "" || rest == "" || strings.IndexByte(rest, '.') >= 0 {
		return "", fmt.Errorf("subject %q is not an event stream subject", subject)
	}
	name, err := decodeToken(rest)
	if err != nil {
		return "", fmt.Errorf("subject %q: %w", subject, err)
	}
	if cat == noCategory {
		return name, nil
	}
	return cat + "-" + name, nil
}

// filterSubject returns the narrowest subject filter that matches every
// stream whose name starts with streamPrefix. Callers still check the prefix
// on each name: the filter may match more.
func filterSubject(prefix, streamPrefix string) string {
	if i := strings.IndexByte(streamPrefix, '-'); i > 0 && safeCategory(streamPrefix[:i]) {
		return prefix + "." + streamPrefix[:i] + ".>"
	}
	return prefix + ".>"
}

// category splits name at its first '-' when the part before it is a
// non-empty, safe category.
func category(name string) (cat, rest string, ok bool) {
	i := strings.IndexByte(name, '-')
	if i <= 0 || !safeCategory(name[:i]) {
		return "", "", false
	}
	return name[:i], name[i+1:], true
}

func safeCategory(s string) bool { return s != "" && s[0] != encodedMark && safe(s) }

func writeToken(b *strings.Builder, s string) {
	if s != "" && s[0] != encodedMark && safe(s) {
		b.WriteString(s)
		return
	}
	b.WriteByte(encodedMark)
	b.WriteString(base64.RawURLEncoding.EncodeToString([]byte(s)))
}

func decodeToken(s string) (string, error) {
	if s == "" || s[0] != encodedMark {
		return s, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s[1:])
	if err != nil {
		return "", fmt.Errorf("decode token %q: %w", s, err)
	}
	return string(raw), nil
}

// safe reports whether s can be a literal subject token as is: printable
// ASCII other than the separator and the wildcards.
func safe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>' {
			return false
		}
	}
	return true
}
