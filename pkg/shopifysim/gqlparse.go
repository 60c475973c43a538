package shopifysim

import (
	"fmt"
	"strconv"
	"strings"
)

// This file holds a small GraphQL parser: executable documents with
// queries and mutations, variables, aliases, arguments and nested
// selections. Fragments and directives are refused: the connector does not
// use them, and a simulator that accepted more than the connector sends
// would hide mistakes.

// gqlError is an error reported in the response's "errors" list.
type gqlError struct {
	Message    string         `json:"message"`
	Locations  []gqlLocation  `json:"locations,omitempty"`
	Path       []any          `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

type gqlLocation struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

func (e *gqlError) Error() string { return e.Message }

func newGQLError(pos gqlLocation, code, format string, args ...any) *gqlError {
	e := &gqlError{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": code}}
	if pos.Line > 0 {
		e.Locations = []gqlLocation{pos}
	}
	return e
}

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokPunct
	tokName
	tokInt
	tokFloat
	tokString
	tokVariable // "$" is a punctuator; kept separate for clarity
)

type token struct {
	kind tokenKind
	text string
	pos  gqlLocation
}

type lexer struct {
	src  string
	i    int
	line int
	col0 int // index where the current line starts
}

func (l *lexer) pos() gqlLocation { return gqlLocation{Line: l.line, Column: l.i - l.col0 + 1} }

func (l *lexer) next() (token, error) {
	// Skip ignored tokens: whitespace, commas, comments, BOM.
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch {
		case c == '\n':
			l.i++
			l.line++
			l.col0 = l.i
		case c == ' ' || c == '\t' || c == '\r' || c == ',':
			l.i++
		case c == '#':
			for l.i < len(l.src) && l.src[l.i] != '\n' {
				l.i++
			}
		case strings.HasPrefix(l.src[l.i:], "\ufeff"):
			l.i += len("\ufeff")
		default:
			goto tok
		}
	}
	return token{kind: tokEOF, pos: l.pos()}, nil
tok:
	p := l.pos()
	c := l.src[l.i]
	switch {
	case strings.IndexByte("!$()[]{}:=@|&", c) >= 0:
		l.i++
		return token{kind: tokPunct, text: string(c), pos: p}, nil
	case c == '.':
		if strings.HasPrefix(l.src[l.i:], "...") {
			l.i += 3
			return token{kind: tokPunct, text: "...", pos: p}, nil
		}
		return token{}, newGQLError(p, "parseError", "Parse error on \".\" (%d:%d)", p.Line, p.Column)
	case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		j := l.i
		for j < len(l.src) && (l.src[j] == '_' || l.src[j] >= 'a' && l.src[j] <= 'z' || l.src[j] >= 'A' && l.src[j] <= 'Z' || l.src[j] >= '0' && l.src[j] <= '9') {
			j++
		}
		t := token{kind: tokName, text: l.src[l.i:j], pos: p}
		l.i = j
		return t, nil
	case c == '-' || c >= '0' && c <= '9':
		j := l.i + 1
		float := false
		for j < len(l.src) {
			d := l.src[j]
			if d >= '0' && d <= '9' {
				j++
				continue
			}
			if d == '.' || d == 'e' || d == 'E' || ((d == '+' || d == '-') && (l.src[j-1] == 'e' || l.src[j-1] == 'E')) {
				float = true
				j++
				continue
			}
			break
		}
		t := token{kind: tokInt, text: l.src[l.i:j], pos: p}
		if float {
			t.kind = tokFloat
		}
		l.i = j
		return t, nil
	case c == '"':
		if strings.HasPrefix(l.src[l.i:], `"""`) {
			end := strings.Index(l.src[l.i+3:], `"""`)
			if end < 0 {
				return token{}, newGQLError(p, "parseError", "Unterminated block string (%d:%d)", p.Line, p.Column)
			}
			s := l.src[l.i+3 : l.i+3+end]
			for _, r := range s {
				if r == '\n' {
					l.line++
				}
			}
			l.i += 3 + end + 3
			return token{kind: tokString, text: strings.TrimSpace(s), pos: p}, nil
		}
		j := l.i + 1
		for j < len(l.src) && l.src[j] != '"' {
			if l.src[j] == '\\' {
				j++
			}
			if j < len(l.src) && l.src[j] == '\n' {
				return token{}, newGQLError(p, "parseError", "Unterminated string (%d:%d)", p.Line, p.Column)
			}
			j++
		}
		if j >= len(l.src) {
			return token{}, newGQLError(p, "parseError", "Unterminated string (%d:%d)", p.Line, p.Column)
		}
		s, err := strconv.Unquote(l.src[l.i : j+1])
		if err != nil {
			return token{}, newGQLError(p, "parseError", "Bad string literal (%d:%d)", p.Line, p.Column)
		}
		l.i = j + 1
		return token{kind: tokString, text: s, pos: p}, nil
	}
	return token{}, newGQLError(p, "parseError", "Parse error on %q (%d:%d)", string(c), p.Line, p.Column)
}

// Parsed document.

type document struct {
	ops []*operation
}

type operation struct {
	kind string // "query" or "mutation"
	name string
	vars []*varDef
	sel  []*field
	pos  gqlLocation
}

type varDef struct {
	name string
	typ  string // e.g. "FulfillmentInput!", "[ID!]"
	def  value
	pos  gqlLocation
}

type field struct {
	alias string
	name  string
	args  []*argument
	sel   []*field
	pos   gqlLocation
	// argValues are the coerced arguments, set by validation.
	argValues map[string]any
}

func (f *field) key() string {
	if f.alias != "" {
		return f.alias
	}
	return f.name
}

type argument struct {
	name string
	val  value
	pos  gqlLocation
}

// value is a literal or a variable reference in the query text.
type value struct {
	kind   string // "var", "int", "float", "string", "bool", "null", "enum", "list", "object"
	text   string // variable name, literal text, enum name
	list   []value
	fields []objField
	pos    gqlLocation
}

type objField struct {
	name string
	val  value
}

type parser struct {
	lx  lexer
	tok token
}

func parseDocument(src string) (*document, error) {
	p := &parser{lx: lexer{src: src, line: 1}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	doc := &document{}
	for p.tok.kind != tokEOF {
		op, err := p.operation()
		if err != nil {
			return nil, err
		}
		doc.ops = append(doc.ops, op)
	}
	if len(doc.ops) == 0 {
		return nil, newGQLError(gqlLocation{}, "parseError", "No operations in query document")
	}
	return doc, nil
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) unexpected() error {
	what := p.tok.text
	if p.tok.kind == tokEOF {
		what = "end of file"
	}
	return newGQLError(p.tok.pos, "parseError", "Parse error on %q (%d:%d)", what, p.tok.pos.Line, p.tok.pos.Column)
}

func (p *parser) expect(punct string) error {
	if p.tok.kind != tokPunct || p.tok.text != punct {
		return p.unexpected()
	}
	return p.advance()
}

func (p *parser) is(punct string) bool { return p.tok.kind == tokPunct && p.tok.text == punct }

func (p *parser) name() (string, error) {
	if p.tok.kind != tokName {
		return "", p.unexpected()
	}
	n := p.tok.text
	return n, p.advance()
}

func (p *parser) operation() (*operation, error) {
	op := &operation{kind: "query", pos: p.tok.pos}
	if p.is("{") {
		sel, err := p.selectionSet()
		op.sel = sel
		return op, err
	}
	if p.tok.kind != tokName {
		return nil, p.unexpected()
	}
	switch p.tok.text {
	case "query", "mutation":
		op.kind = p.tok.text
	case "subscription":
		return nil, newGQLError(p.tok.pos, "parseError", "Subscriptions are not supported")
	case "fragment":
		return nil, newGQLError(p.tok.pos, "parseError", "Fragments are not supported by this simulator")
	default:
		return nil, p.unexpected()
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokName {
		op.name = p.tok.text
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if p.is("(") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		for !p.is(")") {
			vd := &varDef{pos: p.tok.pos}
			if err := p.expect("$"); err != nil {
				return nil, err
			}
			n, err := p.name()
			if err != nil {
				return nil, err
			}
			vd.name = n
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			if vd.typ, err = p.typeRef(); err != nil {
				return nil, err
			}
			if p.is("=") {
				if err := p.advance(); err != nil {
					return nil, err
				}
				if vd.def, err = p.value(true); err != nil {
					return nil, err
				}
			}
			op.vars = append(op.vars, vd)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if p.is("@") {
		return nil, newGQLError(p.tok.pos, "parseError", "Directives are not supported by this simulator")
	}
	sel, err := p.selectionSet()
	op.sel = sel
	return op, err
}

func (p *parser) typeRef() (string, error) {
	var t string
	if p.is("[") {
		if err := p.advance(); err != nil {
			return "", err
		}
		inner, err := p.typeRef()
		if err != nil {
			return "", err
		}
		if err := p.expect("]"); err != nil {
			return "", err
		}
		t = "[" + inner + "]"
	} else {
		n, err := p.name()
		if err != nil {
			return "", err
		}
		t = n
	}
	if p.is("!") {
		if err := p.advance(); err != nil {
			return "", err
		}
		t += "!"
	}
	return t, nil
}

func (p *parser) selectionSet() ([]*field, error) {
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	var out []*field
	for !p.is("}") {
		if p.is("...") {
			return nil, newGQLError(p.tok.pos, "parseError", "Fragments are not supported by this simulator")
		}
		f := &field{pos: p.tok.pos}
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		if p.is(":") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			f.alias = n
			if n, err = p.name(); err != nil {
				return nil, err
			}
		}
		f.name = n
		if p.is("(") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			for !p.is(")") {
				a := &argument{pos: p.tok.pos}
				if a.name, err = p.name(); err != nil {
					return nil, err
				}
				if err := p.expect(":"); err != nil {
					return nil, err
				}
				if a.val, err = p.value(false); err != nil {
					return nil, err
				}
				f.args = append(f.args, a)
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		if p.is("@") {
			return nil, newGQLError(p.tok.pos, "parseError", "Directives are not supported by this simulator")
		}
		if p.is("{") {
			if f.sel, err = p.selectionSet(); err != nil {
				return nil, err
			}
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, p.unexpected()
	}
	return out, p.advance()
}

func (p *parser) value(constant bool) (value, error) {
	v := value{pos: p.tok.pos}
	switch p.tok.kind {
	case tokPunct:
		switch p.tok.text {
		case "$":
			if constant {
				return v, p.unexpected()
			}
			if err := p.advance(); err != nil {
				return v, err
			}
			n, err := p.name()
			v.kind, v.text = "var", n
			return v, err
		case "[":
			v.kind = "list"
			if err := p.advance(); err != nil {
				return v, err
			}
			for !p.is("]") {
				item, err := p.value(constant)
				if err != nil {
					return v, err
				}
				v.list = append(v.list, item)
			}
			return v, p.advance()
		case "{":
			v.kind = "object"
			if err := p.advance(); err != nil {
				return v, err
			}
			for !p.is("}") {
				n, err := p.name()
				if err != nil {
					return v, err
				}
				if err := p.expect(":"); err != nil {
					return v, err
				}
				fv, err := p.value(constant)
				if err != nil {
					return v, err
				}
				v.fields = append(v.fields, objField{name: n, val: fv})
			}
			return v, p.advance()
		}
		return v, p.unexpected()
	case tokInt:
		v.kind, v.text = "int", p.tok.text
	case tokFloat:
		v.kind, v.text = "float", p.tok.text
	case tokString:
		v.kind, v.text = "string", p.tok.text
	case tokName:
		switch p.tok.text {
		case "true", "false":
			v.kind, v.text = "bool", p.tok.text
		case "null":
			v.kind = "null"
		default:
			v.kind, v.text = "enum", p.tok.text
		}
	default:
		return v, p.unexpected()
	}
	return v, p.advance()
}
