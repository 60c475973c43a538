package shopifysim

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// This file collects a validated operation's selection from gqlparser's
// AST, works out its requested cost and executes it with the resolvers.
//
// The cost calculation and the throttling it feeds (api.go) stay hand
// written: Shopify's cost model (an object 1 point, a connection 2 plus
// first or last times the cost of a node, a mutation 10; requested cost
// charged up front from a leaky bucket, the difference to the actual cost
// refunded) is Shopify's own, and no GraphQL library implements it.

// field is one field of a collected selection.
type field struct {
	key  string               // the response key: the alias, or the name
	name string               // the field name
	ast  *ast.Field           // the first occurrence in the query
	def  *ast.FieldDefinition // nil for __typename
	obj  bool                 // whether it is of an object type (it has sel)
	args map[string]any       // coerced arguments
	sel  []*field
}

func (f *field) pos() gqlLocation { return location(f.ast.Position) }

// collect gathers the fields that selection sets select on object type t,
// as the GraphQL spec's CollectFields: fragment spreads and inline
// fragments are expanded, @skip and @include applied, and the fields with
// one response key merged (with their selections) into the first. The
// schema has no interfaces or unions, so a fragment applies exactly when
// its type condition is t. Other directives (the prelude's @defer) are
// refused: the simulator does not implement them.
func (c *opContext) collect(t string, sets []ast.SelectionSet) []*field {
	var out []*field
	var subs [][]ast.SelectionSet // the selection sets of out[i]
	var walk func(ss ast.SelectionSet)
	walk = func(ss ast.SelectionSet) {
		for _, s := range ss {
			switch s := s.(type) {
			case *ast.Field:
				if !c.included(s.Directives) {
					continue
				}
				i := 0
				for i < len(out) && out[i].key != s.Alias {
					i++
				}
				if i < len(out) {
					subs[i] = append(subs[i], s.SelectionSet)
					continue
				}
				f := &field{key: s.Alias, name: s.Name, ast: s}
				switch s.Name {
				case "__typename":
				case "__schema", "__type":
					c.fail(newGQLError(location(s.Position), "undefinedField", "Introspection (%s) is not served by this simulator", s.Name))
					continue
				default:
					f.def = s.Definition
					f.obj = c.s.objects[f.def.Type.Name()]
					f.args = c.args(s)
				}
				out, subs = append(out, f), append(subs, []ast.SelectionSet{s.SelectionSet})
			case *ast.FragmentSpread:
				if !c.included(s.Directives) {
					continue
				}
				if fd := c.doc.Fragments.ForName(s.Name); fd != nil && fd.TypeCondition == t {
					walk(fd.SelectionSet)
				}
			case *ast.InlineFragment:
				if !c.included(s.Directives) {
					continue
				}
				if s.TypeCondition == "" || s.TypeCondition == t {
					walk(s.SelectionSet)
				}
			}
		}
	}
	for _, ss := range sets {
		walk(ss)
	}
	for i, f := range out {
		if f.obj {
			f.sel = c.collect(f.def.Type.Name(), subs[i])
		}
	}
	return out
}

// included applies @skip and @include.
func (c *opContext) included(dirs ast.DirectiveList) bool {
	ok := true
	for _, d := range dirs {
		switch d.Name {
		case "skip", "include":
			cond, _ := d.ArgumentMap(c.vars)["if"].(bool)
			if cond == (d.Name == "skip") {
				ok = false
			}
		default:
			c.fail(newGQLError(location(d.Position), "directiveNotSupported", "Directive @%s is not supported by this simulator", d.Name))
		}
	}
	return ok
}

// cost returns the requested cost of a collected selection and checks
// Shopify's connection rules (first or last, at most 250).
func (c *opContext) cost(sel []*field) float64 {
	var total float64
	for _, f := range sel {
		if !f.obj {
			continue // scalars and enums are free
		}
		bt := f.def.Type.Name()
		if isConnection(bt) {
			perNode := c.connCost(f.sel)
			n := pageSize(f.args)
			if n < 0 {
				c.fail(newGQLError(f.pos(), "missingRequiredArguments", "you must provide one of first or last"))
				continue
			}
			if n > 250 {
				c.fail(newGQLError(f.pos(), "argumentLiteralsIncompatible", "The value of first or last on %s must be at most 250", f.name))
				continue
			}
			total += 2 + float64(n)*perNode
			continue
		}
		child := c.cost(f.sel)
		if f.def.Type.Elem != nil {
			n := pageSize(f.args)
			if n < 0 {
				n = 1
			}
			total += float64(n) * (1 + child)
		} else {
			total += 1 + child
		}
	}
	return total
}

// connCost returns the cost of one node of a connection: 1 for the node
// object plus what is selected in it (through nodes or edges.node);
// pageInfo and cursors are free.
func (c *opContext) connCost(sel []*field) float64 {
	var perNode float64
	for _, f := range sel {
		switch f.name {
		case "nodes":
			perNode = max(perNode, 1+c.cost(f.sel))
		case "edges":
			for _, e := range f.sel {
				if e.name == "node" {
					perNode = max(perNode, 1+c.cost(e.sel))
				}
			}
		}
	}
	return perNode
}

// pageSize is first or last, or -1.
func pageSize(args map[string]any) int {
	for _, k := range []string{"first", "last"} {
		if v, ok := args[k].(int64); ok {
			return int(v)
		}
	}
	return -1
}

// Execution.

// resolver computes a field of a source value.
type resolver func(src any, args map[string]any) (any, error)

// conn is what a connection field resolves to.
type conn struct {
	nodes            []any
	cursors          []string
	hasNext, hasPrev bool
}

type edge struct {
	cursor string
	node   any
}

// ordered is a JSON object that keeps the query's field order.
type ordered struct {
	keys []string
	vals []any
}

// MarshalJSON writes the object and everything in it in one buffer: the
// values the resolvers return (results, lists, strings, numbers, booleans,
// null) directly, anything else through encoding/json. The bytes are those
// json.Marshal would write for the same object with its keys in order.
func (o *ordered) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 1024)
	return appendJSON(b, o)
}

func appendJSON(b []byte, v any) ([]byte, error) {
	var err error
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case *ordered:
		b = append(b, '{')
		for i, k := range v.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			if b, err = appendJSON(b, v.vals[i]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendJSON(b, x); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case []string:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, x)
		}
		return append(b, ']'), nil
	case string:
		return appendJSONString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	}
	vb, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, vb...), nil
}

// appendJSONString writes s quoted; what needs escaping (quotes,
// backslashes, control and non-ASCII characters, and <, >, & which
// json.Marshal escapes too) goes through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// executor runs a validated operation.
type executor struct {
	c         *opContext
	resolvers map[string]map[string]resolver
	actual    float64
	errs      []*gqlError
	path      []any // the response path of the value being completed
}

func (x *executor) run(root any, rootType string) *ordered {
	return x.object(rootType, root, x.c.op.sel)
}

// errPath is a copy of the current response path, for an error.
func (x *executor) errPath() []any { return append([]any(nil), x.path...) }

func (x *executor) object(t string, src any, sel []*field) *ordered {
	out := &ordered{keys: make([]string, 0, len(sel)), vals: make([]any, 0, len(sel))}
	for _, f := range sel {
		out.keys = append(out.keys, f.key)
		if f.name == "__typename" {
			out.vals = append(out.vals, t)
			continue
		}
		x.path = append(x.path, f.key)
		val, err := x.resolve(t, f.name, src, f.args)
		if err != nil {
			ge := asGQLError(err)
			ge.Locations, ge.Path = []gqlLocation{f.pos()}, x.errPath()
			x.errs = append(x.errs, ge)
			val = nil
		} else {
			val = x.complete(f.def.Type, val, f)
		}
		out.vals = append(out.vals, val)
		x.path = x.path[:len(x.path)-1]
	}
	return out
}

func (x *executor) resolve(t, name string, src any, args map[string]any) (any, error) {
	switch {
	case isConnection(t):
		cn := src.(*conn)
		switch name {
		case "nodes":
			return cn.nodes, nil
		case "edges":
			es := make([]any, len(cn.nodes))
			for i := range cn.nodes {
				es[i] = &edge{cursor: cn.cursors[i], node: cn.nodes[i]}
			}
			return es, nil
		case "pageInfo":
			return cn, nil
		}
	case strings.HasSuffix(t, "Edge"):
		e := src.(*edge)
		if name == "cursor" {
			return e.cursor, nil
		}
		return e.node, nil
	case t == "PageInfo":
		cn := src.(*conn)
		var start, end any
		if len(cn.cursors) > 0 {
			start, end = cn.cursors[0], cn.cursors[len(cn.cursors)-1]
		}
		switch name {
		case "hasNextPage":
			return cn.hasNext, nil
		case "hasPreviousPage":
			return cn.hasPrev, nil
		case "startCursor":
			return start, nil
		case "endCursor":
			return end, nil
		}
	}
	r := x.resolvers[t][name]
	if r == nil {
		return nil, fmt.Errorf("internal: no resolver for %s.%s", t, name)
	}
	return r(src, args)
}

func (x *executor) complete(t *ast.Type, val any, f *field) any {
	if isNil(val) {
		if t.NonNull {
			x.errs = append(x.errs, &gqlError{Message: fmt.Sprintf("Cannot return null for non-nullable field %s", f.name), Path: x.errPath()})
		}
		return nil
	}
	if t.Elem != nil {
		items := toSlice(val)
		out := make([]any, len(items))
		for i, it := range items {
			x.path = append(x.path, i)
			out[i] = x.complete(t.Elem, it, f)
			x.path = x.path[:len(x.path)-1]
		}
		return out
	}
	if !f.obj {
		return val
	}
	bt := t.NamedType
	switch {
	case isConnection(bt):
		x.actual += 2
	case bt == "PageInfo" || strings.HasSuffix(bt, "Edge"):
	default:
		x.actual++
	}
	return x.object(bt, val, f.sel)
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return rv.IsNil() && rv.Kind() != reflect.Slice
	}
	return false
}

func toSlice(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case []string:
		out := make([]any, len(x))
		for i := range x {
			out[i] = x[i]
		}
		return out
	}
	panic(fmt.Sprintf("shopifysim: list field resolved to %T", v))
}
