package shopifysim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// This file validates an operation against the schema (schema.go), works
// out its requested cost, coerces arguments and executes it with the
// resolvers.

// fieldDef is one field of an object type.
type fieldDef struct {
	typ  string            // "Order", "[Fulfillment!]!", "OrderConnection!"
	args map[string]string // argument name -> type
}

// schema describes the types the simulator serves.
type schema struct {
	objects map[string]map[string]fieldDef
	inputs  map[string]map[string]string
	enums   map[string][]string
}

var scalars = map[string]bool{
	"ID": true, "String": true, "Int": true, "Float": true, "Boolean": true,
	"DateTime": true, "URL": true, "Decimal": true, "UnsignedInt64": true,
}

// typeParts splits a type reference: "[X!]!" -> nonNull, list, inner "X!".
func typeParts(t string) (nonNull, list bool, inner string) {
	if strings.HasSuffix(t, "!") {
		nonNull, t = true, t[:len(t)-1]
	}
	if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
		return nonNull, true, t[1 : len(t)-1]
	}
	return nonNull, false, t
}

// baseType strips list and non-null markers.
func baseType(t string) string {
	return strings.Trim(t, "[]!")
}

func (s *schema) isObject(t string) bool { _, ok := s.objects[t]; return ok }

func isConnection(t string) bool { return strings.HasSuffix(t, "Connection") }

// opContext is the state of one request.
type opContext struct {
	s      *schema
	op     *operation
	vars   map[string]any // coerced variable values
	varDef map[string]*varDef
	used   map[string]bool
	errs   []*gqlError
}

func (c *opContext) fail(e *gqlError) { c.errs = append(c.errs, e) }

// prepare parses, picks the operation, coerces variables, validates the
// selection and returns the requested cost.
func prepare(s *schema, query, opName string, rawVars map[string]any) (*opContext, float64, []*gqlError) {
	doc, err := parseDocument(query)
	if err != nil {
		return nil, 0, []*gqlError{asGQLError(err)}
	}
	var op *operation
	switch {
	case opName != "":
		for _, o := range doc.ops {
			if o.name == opName {
				op = o
			}
		}
		if op == nil {
			return nil, 0, []*gqlError{newGQLError(gqlLocation{}, "operationNotFound", "No operation named %q", opName)}
		}
	case len(doc.ops) == 1:
		op = doc.ops[0]
	default:
		return nil, 0, []*gqlError{newGQLError(gqlLocation{}, "operationNameRequired", "An operation name is required")}
	}
	c := &opContext{s: s, op: op, vars: map[string]any{}, varDef: map[string]*varDef{}, used: map[string]bool{}}
	for _, vd := range op.vars {
		if _, dup := c.varDef[vd.name]; dup {
			c.fail(newGQLError(vd.pos, "variableNotUnique", "There can only be one variable named \"%s\"", vd.name))
			continue
		}
		c.varDef[vd.name] = vd
		bt := baseType(vd.typ)
		if !scalars[bt] && s.enums[bt] == nil && s.inputs[bt] == nil {
			c.fail(newGQLError(vd.pos, "variableRequiresValidType", "%s isn't a defined input type (on $%s)", bt, vd.name))
			continue
		}
		raw, present := rawVars[vd.name]
		if !present && vd.def.kind != "" {
			v, e := c.literal(vd.def, vd.typ)
			if e != "" {
				c.fail(newGQLError(vd.pos, "defaultValueInvalidType", "Default value for $%s doesn't match type %s", vd.name, vd.typ))
			}
			c.vars[vd.name] = v
			continue
		}
		v, path, e := c.coerceJSON(raw, present, vd.typ)
		if e != "" {
			where := ""
			if path != "" {
				where = " for " + path
			}
			c.fail(&gqlError{
				Message:    fmt.Sprintf("Variable $%s of type %s was provided invalid value%s (%s)", vd.name, vd.typ, where, e),
				Locations:  []gqlLocation{vd.pos},
				Extensions: map[string]any{"code": "INVALID_VARIABLE", "value": raw},
			})
			continue
		}
		if present || v != nil {
			c.vars[vd.name] = v
		}
	}
	root := "QueryRoot"
	if op.kind == "mutation" {
		root = "Mutation"
	}
	cost := c.validateSel(root, op.sel)
	for _, vd := range op.vars {
		if !c.used[vd.name] {
			c.fail(newGQLError(vd.pos, "variableNotUsed", "Variable $%s is declared by %s but not used", vd.name, opLabel(op)))
		}
	}
	if op.kind == "mutation" {
		cost = 10
	}
	if len(c.errs) > 0 {
		return nil, 0, c.errs
	}
	return c, cost, nil
}

func opLabel(op *operation) string {
	if op.name != "" {
		return op.name
	}
	return "anonymous " + op.kind
}

func asGQLError(err error) *gqlError {
	var g *gqlError
	if errors.As(err, &g) {
		return g
	}
	return newGQLError(gqlLocation{}, "parseError", "%s", err.Error())
}

// validateSel checks a selection on object type t and returns its
// requested cost.
func (c *opContext) validateSel(t string, sel []*field) float64 {
	fields := c.s.objects[t]
	var cost float64
	seen := map[string]*field{}
	for _, f := range sel {
		if prev, ok := seen[f.key()]; ok && prev.name != f.name {
			c.fail(newGQLError(f.pos, "fieldConflict", "Field '%s' has a field conflict: %s or %s?", f.key(), prev.name, f.name))
		}
		seen[f.key()] = f
		if f.name == "__typename" {
			if len(f.args) > 0 || f.sel != nil {
				c.fail(newGQLError(f.pos, "selectionMismatch", "Selections can't be made on scalars (field '__typename' returns String but has selections)"))
			}
			continue
		}
		fd, ok := fields[f.name]
		if !ok {
			c.fail(newGQLError(f.pos, "undefinedField", "Field '%s' doesn't exist on type '%s'", f.name, t))
			continue
		}
		args := c.checkArgs(f, fd)
		bt := baseType(fd.typ)
		if !c.s.isObject(bt) {
			if f.sel != nil {
				c.fail(newGQLError(f.pos, "selectionMismatch", "Selections can't be made on scalars (field '%s' returns %s but has selections [%s])", f.name, bt, selNames(f.sel)))
			}
			continue
		}
		if f.sel == nil {
			c.fail(newGQLError(f.pos, "selectionMismatch", "Field must have selections (field '%s' returns %s but has no selections. Did you mean '%s { ... }'?)", f.name, bt, f.name))
			continue
		}
		_, list, _ := typeParts(fd.typ)
		if isConnection(bt) {
			perNode := c.validateConn(bt, f.sel)
			n := pageSize(args)
			if n < 0 {
				c.fail(newGQLError(f.pos, "missingRequiredArguments", "you must provide one of first or last"))
				continue
			}
			if n > 250 {
				c.fail(newGQLError(f.pos, "argumentLiteralsIncompatible", "The value of first or last on %s must be at most 250", f.name))
				continue
			}
			cost += 2 + float64(n)*perNode
			continue
		}
		child := c.validateSel(bt, f.sel)
		switch {
		case list:
			n := pageSize(args)
			if n < 0 {
				n = 1
			}
			cost += float64(n) * (1 + child)
		default:
			cost += 1 + child
		}
	}
	return cost
}

// validateConn checks a selection on a connection type and returns the
// cost of one node: 1 for the node object plus what is selected in it
// (through nodes or edges.node); pageInfo and cursors are free.
func (c *opContext) validateConn(t string, sel []*field) float64 {
	node := strings.TrimSuffix(t, "Connection")
	var perNode float64
	for _, f := range sel {
		if f.name == "nodes" || f.name == "edges" {
			c.checkArgs(f, c.s.objects[t][f.name])
		}
		switch f.name {
		case "nodes":
			if f.sel == nil {
				c.validateSel(t, []*field{f}) // reports the missing selection
				continue
			}
			perNode = max(perNode, 1+c.validateSel(node, f.sel))
		case "edges":
			if f.sel == nil {
				c.validateSel(t, []*field{f})
				continue
			}
			for _, e := range f.sel {
				if e.name == "node" && e.sel != nil {
					perNode = max(perNode, 1+c.validateSel(node, e.sel))
				} else {
					c.validateSel(node+"Edge", []*field{e})
				}
			}
		default:
			c.validateSel(t, []*field{f})
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

func selNames(sel []*field) string {
	n := make([]string, len(sel))
	for i, f := range sel {
		n[i] = f.name
	}
	return strings.Join(n, ", ")
}

// checkArgs validates and coerces a field's arguments.
func (c *opContext) checkArgs(f *field, fd fieldDef) map[string]any {
	out := map[string]any{}
	given := map[string]bool{}
	for _, a := range f.args {
		at, ok := fd.args[a.name]
		if !ok {
			c.fail(newGQLError(a.pos, "argumentNotAccepted", "Field '%s' doesn't accept argument '%s'", f.name, a.name))
			continue
		}
		given[a.name] = true
		if a.val.kind == "var" {
			c.used[a.val.text] = true
			vd, ok := c.varDef[a.val.text]
			if !ok {
				c.fail(newGQLError(a.val.pos, "variableNotDefined", "Variable $%s is used by %s but not declared", a.val.text, opLabel(c.op)))
				continue
			}
			if baseType(vd.typ) != baseType(at) || strings.Count(vd.typ, "[") != strings.Count(at, "[") {
				c.fail(newGQLError(a.val.pos, "variableMismatch", "Type mismatch on variable $%s and argument %s (%s / %s)", vd.name, a.name, vd.typ, at))
				continue
			}
			if strings.HasSuffix(at, "!") && !strings.HasSuffix(vd.typ, "!") && vd.def.kind == "" {
				c.fail(newGQLError(a.val.pos, "variableMismatch", "Nullability mismatch on variable $%s and argument %s (%s / %s)", vd.name, a.name, vd.typ, at))
				continue
			}
			if v, ok := c.vars[a.val.text]; ok {
				out[a.name] = v
			}
			continue
		}
		v, e := c.literal(a.val, at)
		if e != "" {
			c.fail(newGQLError(a.pos, "argumentLiteralsIncompatible", "Argument '%s' on Field '%s' has an invalid value (%s). Expected type '%s'.", a.name, f.name, literalText(a.val), at))
			continue
		}
		out[a.name] = v
	}
	var missing []string
	for name, at := range fd.args {
		if strings.HasSuffix(at, "!") && !given[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		c.fail(newGQLError(f.pos, "missingRequiredArguments", "Field '%s' is missing required arguments: %s", f.name, strings.Join(missing, ", ")))
	}
	f.argValues = out
	return out
}

func literalText(v value) string {
	switch v.kind {
	case "string":
		return strconv.Quote(v.text)
	case "null":
		return "null"
	case "list":
		return "[...]"
	case "object":
		return "{...}"
	}
	return v.text
}

// literal coerces a literal of the query text to type t; e is the problem.
func (c *opContext) literal(v value, t string) (any, string) {
	nonNull, list, inner := typeParts(t)
	if v.kind == "null" {
		if nonNull {
			return nil, "Expected value to not be null"
		}
		return nil, ""
	}
	if v.kind == "var" {
		c.used[v.text] = true
		val, ok := c.vars[v.text]
		if !ok && nonNull {
			return nil, "Expected value to not be null"
		}
		return val, ""
	}
	if list {
		items := v.list
		if v.kind != "list" {
			items = []value{v}
		}
		out := make([]any, 0, len(items))
		for _, it := range items {
			x, e := c.literal(it, inner)
			if e != "" {
				return nil, e
			}
			out = append(out, x)
		}
		return out, ""
	}
	bt := inner
	if fields, ok := c.s.inputs[bt]; ok {
		if v.kind != "object" {
			return nil, "Expected an input object"
		}
		out := map[string]any{}
		for _, of := range v.fields {
			ft, ok := fields[of.name]
			if !ok {
				return nil, fmt.Sprintf("Field is not defined on %s", bt)
			}
			x, e := c.literal(of.val, ft)
			if e != "" {
				return nil, e
			}
			out[of.name] = x
		}
		for name, ft := range fields {
			if _, ok := out[name]; !ok && strings.HasSuffix(ft, "!") {
				return nil, fmt.Sprintf("Expected value for %s to not be null", name)
			}
		}
		return out, ""
	}
	if vals, ok := c.s.enums[bt]; ok {
		if v.kind != "enum" || !contains(vals, v.text) {
			return nil, fmt.Sprintf("Expected %s to be one of: %s", literalText(v), strings.Join(vals, ", "))
		}
		return v.text, ""
	}
	switch bt {
	case "Int":
		if v.kind != "int" {
			return nil, "Could not coerce value to Int"
		}
		n, err := strconv.ParseInt(v.text, 10, 32)
		if err != nil {
			return nil, "Could not coerce value to Int"
		}
		return n, ""
	case "Float":
		if v.kind != "int" && v.kind != "float" {
			return nil, "Could not coerce value to Float"
		}
		f, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			return nil, "Could not coerce value to Float"
		}
		return f, ""
	case "Boolean":
		if v.kind != "bool" {
			return nil, "Could not coerce value to Boolean"
		}
		return v.text == "true", ""
	case "ID":
		if v.kind != "string" && v.kind != "int" {
			return nil, "Could not coerce value to ID"
		}
		return v.text, ""
	default: // String, URL, DateTime, Decimal, UnsignedInt64
		if v.kind != "string" {
			return nil, "Could not coerce value to " + bt
		}
		return v.text, ""
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// coerceJSON coerces a variable's JSON value to type t. path locates the
// problem inside an input object, e (non-empty) describes it.
func (c *opContext) coerceJSON(raw any, present bool, t string) (v any, path, e string) {
	nonNull, list, inner := typeParts(t)
	if !present || raw == nil {
		if nonNull {
			return nil, "", "Expected value to not be null"
		}
		return nil, "", ""
	}
	if list {
		items, ok := raw.([]any)
		if !ok {
			items = []any{raw}
		}
		out := make([]any, 0, len(items))
		for i, it := range items {
			x, p, e := c.coerceJSON(it, true, inner)
			if e != "" {
				return nil, joinPath(strconv.Itoa(i), p), e
			}
			out = append(out, x)
		}
		return out, "", ""
	}
	bt := inner
	if fields, ok := c.s.inputs[bt]; ok {
		obj, ok := raw.(map[string]any)
		if !ok {
			return nil, "", "Expected value to be an object"
		}
		out := map[string]any{}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				return nil, k, "Field is not defined on " + bt
			}
			x, p, e := c.coerceJSON(obj[k], true, ft)
			if e != "" {
				return nil, joinPath(k, p), e
			}
			out[k] = x
		}
		names := make([]string, 0, len(fields))
		for k := range fields {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if _, ok := obj[k]; !ok && strings.HasSuffix(fields[k], "!") {
				return nil, k, "Expected value to not be null"
			}
		}
		return out, "", ""
	}
	if vals, ok := c.s.enums[bt]; ok {
		s, ok := raw.(string)
		if !ok || !contains(vals, s) {
			return nil, "", fmt.Sprintf("Expected \"%v\" to be one of: %s", raw, strings.Join(vals, ", "))
		}
		return s, "", ""
	}
	switch bt {
	case "Int":
		n, ok := raw.(json.Number)
		if !ok {
			return nil, "", "Could not coerce value to Int"
		}
		i, err := n.Int64()
		if err != nil || i > math.MaxInt32 || i < math.MinInt32 {
			return nil, "", "Could not coerce value to Int"
		}
		return i, "", ""
	case "Float":
		n, ok := raw.(json.Number)
		if !ok {
			return nil, "", "Could not coerce value to Float"
		}
		f, err := n.Float64()
		if err != nil {
			return nil, "", "Could not coerce value to Float"
		}
		return f, "", ""
	case "Boolean":
		b, ok := raw.(bool)
		if !ok {
			return nil, "", "Could not coerce value to Boolean"
		}
		return b, "", ""
	case "ID":
		switch x := raw.(type) {
		case string:
			return x, "", ""
		case json.Number:
			return x.String(), "", ""
		}
		return nil, "", "Could not coerce value to ID"
	default:
		s, ok := raw.(string)
		if !ok {
			return nil, "", "Could not coerce value to " + bt
		}
		return s, "", ""
	}
}

func joinPath(a, b string) string {
	if b == "" {
		return a
	}
	return a + "." + b
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

func (o *ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// executor runs a validated operation.
type executor struct {
	c         *opContext
	resolvers map[string]map[string]resolver
	actual    float64
	errs      []*gqlError
}

func (x *executor) run(root any, rootType string) *ordered {
	return x.object(rootType, root, x.c.op.sel, nil)
}

func (x *executor) object(t string, src any, sel []*field, path []any) *ordered {
	out := &ordered{}
	for _, f := range sel {
		p := append(append([]any(nil), path...), f.key())
		if f.name == "__typename" {
			out.keys, out.vals = append(out.keys, f.key()), append(out.vals, t)
			continue
		}
		fd := x.c.s.objects[t][f.name]
		val, err := x.resolve(t, f.name, src, f.argValues)
		if err != nil {
			ge := asGQLError(err)
			ge.Locations, ge.Path = []gqlLocation{f.pos}, p
			x.errs = append(x.errs, ge)
			out.keys, out.vals = append(out.keys, f.key()), append(out.vals, nil)
			continue
		}
		out.keys, out.vals = append(out.keys, f.key()), append(out.vals, x.complete(fd.typ, val, f, p))
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

func (x *executor) complete(t string, val any, f *field, path []any) any {
	nonNull, list, inner := typeParts(t)
	if isNil(val) {
		if nonNull {
			x.errs = append(x.errs, &gqlError{Message: fmt.Sprintf("Cannot return null for non-nullable field %s", f.name), Path: path})
		}
		return nil
	}
	if list {
		items := toSlice(val)
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = x.complete(inner, it, f, append(append([]any(nil), path...), i))
		}
		return out
	}
	bt := inner
	if !x.c.s.isObject(bt) {
		return val
	}
	switch {
	case isConnection(bt):
		x.actual += 2
	case bt == "PageInfo" || strings.HasSuffix(bt, "Edge"):
	default:
		x.actual++
	}
	return x.object(bt, val, f.sel, path)
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
