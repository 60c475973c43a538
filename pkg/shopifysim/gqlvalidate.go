package shopifysim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// This file parses and validates a request with gqlparser against the
// schema in schema/admin.graphql, picks its operation and coerces its
// variables. Errors take the shape of Shopify's: a message, locations and
// extensions.code with graphql-ruby's static validation codes (Shopify
// runs graphql-ruby), which the connector reports.

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

func asGQLError(err error) *gqlError {
	var g *gqlError
	if errors.As(err, &g) {
		return g
	}
	return newGQLError(gqlLocation{}, "parseError", "%s", err.Error())
}

func location(p *ast.Position) gqlLocation {
	if p == nil {
		return gqlLocation{}
	}
	return gqlLocation{Line: p.Line, Column: p.Column}
}

// schema is the part of the Admin API the simulator serves.
type schema struct {
	ast     *ast.Schema
	objects map[string]bool // names of the object types
	rules   []core.Rule     // sorted by name, as gqlparser runs them
	docs    docCache
}

// docCache keeps validated documents by their text. A client sends the
// same few operations again and again (gqlgen's server caches parsed
// documents the same way), and a validated document is only read, so
// requests, and Sims, share it. Only short documents are kept, and at most
// docCacheMax of them.
type docCache struct {
	mu   sync.Mutex
	docs map[string]*ast.QueryDocument
}

const (
	docCacheMax    = 256
	docCacheMaxLen = 16 << 10
)

func (dc *docCache) get(query string) *ast.QueryDocument {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	return dc.docs[query]
}

func (dc *docCache) put(query string, doc *ast.QueryDocument) {
	if len(query) > docCacheMaxLen {
		return
	}
	dc.mu.Lock()
	defer dc.mu.Unlock()
	if dc.docs == nil {
		dc.docs = map[string]*ast.QueryDocument{}
	}
	if len(dc.docs) >= docCacheMax {
		for k := range dc.docs { // evict one, any
			delete(dc.docs, k)
			break
		}
	}
	dc.docs[query] = doc
}

// validate runs the validation rules on a document. It does what
// validator.ValidateWithRules does, with the rule list made once rather
// than copied from a map and sorted on every call.
func (s *schema) validate(doc *ast.QueryDocument) gqlerror.List {
	var errs gqlerror.List
	observers := &core.Events{}
	for _, r := range s.rules {
		r.RuleFunc(observers, func(opts ...core.ErrorOption) {
			e := &gqlerror.Error{Rule: r.Name}
			for _, o := range opts {
				o(e)
			}
			errs = append(errs, e)
		})
	}
	core.Walk(s.ast, doc, observers)
	return errs
}

// document parses and validates a query, or returns the cached document.
func (s *schema) document(query string) (*ast.QueryDocument, []*gqlError) {
	if doc := s.docs.get(query); doc != nil {
		return doc, nil
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		var ge *gqlerror.Error
		if errors.As(err, &ge) {
			return nil, []*gqlError{fromGQLParser(ge)}
		}
		return nil, []*gqlError{newGQLError(gqlLocation{}, "parseError", "%s", err.Error())}
	}
	if len(doc.Operations) == 0 {
		return nil, []*gqlError{newGQLError(gqlLocation{}, "parseError", "No operations in query document")}
	}
	if errs := s.validate(doc); len(errs) > 0 {
		out := make([]*gqlError, len(errs))
		for i, e := range errs {
			out[i] = fromGQLParser(e)
		}
		return nil, out
	}
	s.docs.put(query, doc)
	return doc, nil
}

// loadSchema loads an SDL schema; it panics on a bad one (the schema is
// embedded, so a bad one is a bug caught by every test).
func loadSchema(name, sdl string) *schema {
	as, err := gqlparser.LoadSchema(&ast.Source{Name: name, Input: sdl})
	if err != nil {
		panic(fmt.Sprintf("shopifysim: schema %s: %v", name, err))
	}
	s := &schema{ast: as, objects: map[string]bool{}}
	rs := rules.NewDefaultRules()
	rs.ReplaceRule(rules.FieldsOnCorrectTypeRule.Name, fieldsOnCorrectType)
	for name, f := range rs.GetInner() {
		s.rules = append(s.rules, core.Rule{Name: name, RuleFunc: f})
	}
	sort.Sort(core.NameSorter(s.rules))
	for n, d := range as.Types {
		if d.Kind == ast.Object && !strings.HasPrefix(n, "__") {
			s.objects[n] = true
		}
	}
	return s
}

// fieldsOnCorrectType stands in for gqlparser's rule of that name: an
// unknown field is reported with Shopify's message, and the fields
// selected on a scalar or enum are not reported as unknown (ScalarLeafs
// reports the selection, as Shopify does, once).
func fieldsOnCorrectType(observers *core.Events, addError core.AddErrFunc) {
	observers.OnField(func(_ *core.Walker, f *ast.Field) {
		if f.ObjectDefinition == nil || f.Definition != nil || !f.ObjectDefinition.IsCompositeType() {
			return
		}
		addError(core.Message("Field '%s' doesn't exist on type '%s'", f.Name, f.ObjectDefinition.Name), core.At(f.Position))
	})
}

func isConnection(t string) bool { return strings.HasSuffix(t, "Connection") }

// ruleCodes maps gqlparser's validation rules to the extensions.code
// Shopify answers for the same mistake.
var ruleCodes = map[string]string{
	rules.FieldsOnCorrectTypeRule.Name:          "undefinedField",
	rules.FragmentsOnCompositeTypesRule.Name:    "fragmentOnNonCompositeType",
	rules.KnownArgumentNamesRule.Name:           "argumentNotAccepted",
	rules.KnownDirectivesRule.Name:              "undefinedDirective",
	rules.KnownFragmentNamesRule.Name:           "useAndDefineFragment",
	rules.KnownRootTypeRule.Name:                "missingSubscriptionConfiguration",
	rules.KnownTypeNamesRule.Name:               "undefinedType",
	rules.LoneAnonymousOperationRule.Name:       "uniquelyNamedOperations",
	rules.MaxIntrospectionDepth.Name:            "maxIntrospectionDepth",
	rules.NoFragmentCyclesRule.Name:             "infiniteLoop",
	rules.NoUndefinedVariablesRule.Name:         "variableNotDefined",
	rules.NoUnusedFragmentsRule.Name:            "useAndDefineFragment",
	rules.NoUnusedVariablesRule.Name:            "variableNotUsed",
	rules.OverlappingFieldsCanBeMergedRule.Name: "fieldConflict",
	rules.PossibleFragmentSpreadsRule.Name:      "cannotSpreadFragment",
	rules.ProvidedRequiredArgumentsRule.Name:    "missingRequiredArguments",
	rules.ScalarLeafsRule.Name:                  "selectionMismatch",
	rules.SingleFieldSubscriptionsRule.Name:     "subscriptionRootFieldCount",
	rules.UniqueArgumentNamesRule.Name:          "argumentNotUnique",
	rules.UniqueDirectivesPerLocationRule.Name:  "directiveNotUniqueForLocation",
	rules.UniqueFragmentNamesRule.Name:          "fragmentNotUnique",
	rules.UniqueInputFieldNamesRule.Name:        "inputFieldNotUnique",
	rules.UniqueOperationNamesRule.Name:         "uniquelyNamedOperations",
	rules.UniqueVariableNamesRule.Name:          "variableNotUnique",
	rules.ValuesOfCorrectTypeRule.Name:          "argumentLiteralsIncompatible",
	rules.VariablesAreInputTypesRule.Name:       "variableRequiresValidType",
	rules.VariablesInAllowedPositionRule.Name:   "variableMismatch",
}

// fromGQLParser converts one of gqlparser's errors.
func fromGQLParser(e *gqlerror.Error) *gqlError {
	code := "parseError" // parser errors carry no rule
	if e.Rule != "" {
		code = ruleCodes[e.Rule]
		switch {
		case code == "":
			code = "validationError"
		case e.Rule == rules.KnownDirectivesRule.Name && strings.Contains(e.Message, "may not be used on"):
			code = "directiveCannotBeApplied"
		case e.Rule == rules.ValuesOfCorrectTypeRule.Name && strings.Contains(e.Message, "is not defined by type"):
			code = "argumentNotAccepted"
		case e.Rule == rules.ValuesOfCorrectTypeRule.Name && strings.Contains(e.Message, "was not provided"):
			code = "missingRequiredInputObjectAttribute"
		case e.Rule == rules.KnownRootTypeRule.Name && strings.Contains(e.Message, `"mutation"`):
			code = "missingMutationConfiguration"
		}
	}
	g := &gqlError{Message: e.Message, Extensions: map[string]any{"code": code}}
	for _, l := range e.Locations {
		g.Locations = append(g.Locations, gqlLocation{Line: l.Line, Column: l.Column})
	}
	return g
}

// opContext is the state of one request.
type opContext struct {
	s    *schema
	doc  *ast.QueryDocument
	op   *operation
	vars map[string]any // coerced variable values
	errs []*gqlError
}

// operation is the operation a request runs.
type operation struct {
	kind string   // "query" or "mutation"
	sel  []*field // its root fields, collected (see collect)
	def  *ast.OperationDefinition
}

func (c *opContext) fail(e *gqlError) { c.errs = append(c.errs, e) }

// prepare parses and validates the query, picks the operation, coerces
// the variables, collects the selection and returns the requested cost.
func prepare(s *schema, query, opName string, rawVars map[string]any) (*opContext, float64, []*gqlError) {
	doc, errs := s.document(query)
	if errs != nil {
		return nil, 0, errs
	}
	var def *ast.OperationDefinition
	switch {
	case opName != "":
		if def = doc.Operations.ForName(opName); def == nil {
			return nil, 0, []*gqlError{newGQLError(gqlLocation{}, "operationNotFound", "No operation named %q", opName)}
		}
	case len(doc.Operations) == 1:
		def = doc.Operations[0]
	default:
		return nil, 0, []*gqlError{newGQLError(gqlLocation{}, "operationNameRequired", "An operation name is required")}
	}
	c := &opContext{s: s, doc: doc, vars: make(map[string]any, len(def.VariableDefinitions))}
	c.coerceVariables(def, rawVars)
	if len(c.errs) > 0 {
		return nil, 0, c.errs
	}
	root := s.ast.Query
	if def.Operation == ast.Mutation {
		root = s.ast.Mutation
	}
	c.op = &operation{kind: string(def.Operation), def: def}
	c.op.sel = c.collect(root.Name, []ast.SelectionSet{def.SelectionSet})
	cost := c.cost(c.op.sel)
	if def.Operation == ast.Mutation {
		cost = 10
	}
	if len(c.errs) > 0 {
		return nil, 0, c.errs
	}
	return c, cost, nil
}

// coerceVariables coerces the request's variables to the operation's
// declared types, as Shopify does: an invalid value is INVALID_VARIABLE
// with the path to the problem inside an input object.
func (c *opContext) coerceVariables(def *ast.OperationDefinition, rawVars map[string]any) {
	for _, vd := range def.VariableDefinitions {
		raw, present := rawVars[vd.Variable]
		if !present && vd.DefaultValue != nil {
			if v, ok := c.literal(vd.DefaultValue, vd.Type); ok {
				c.vars[vd.Variable] = v
			}
			continue
		}
		v, path, e := c.coerceJSON(raw, present, vd.Type)
		if e != "" {
			where := ""
			if path != "" {
				where = " for " + path
			}
			c.fail(&gqlError{
				Message:    fmt.Sprintf("Variable $%s of type %s was provided invalid value%s (%s)", vd.Variable, vd.Type, where, e),
				Locations:  []gqlLocation{location(vd.Position)},
				Extensions: map[string]any{"code": "INVALID_VARIABLE", "value": raw},
			})
			continue
		}
		if present {
			c.vars[vd.Variable] = v
		}
	}
}

// coerceJSON coerces a variable's JSON value to type t. path locates the
// problem inside an input object, e (non-empty) describes it.
func (c *opContext) coerceJSON(raw any, present bool, t *ast.Type) (v any, path, e string) {
	if !present || raw == nil {
		if t.NonNull {
			return nil, "", "Expected value to not be null"
		}
		return nil, "", ""
	}
	if t.Elem != nil {
		items, ok := raw.([]any)
		if !ok {
			items = []any{raw}
		}
		out := make([]any, 0, len(items))
		for i, it := range items {
			x, p, e := c.coerceJSON(it, true, t.Elem)
			if e != "" {
				return nil, joinPath(strconv.Itoa(i), p), e
			}
			out = append(out, x)
		}
		return out, "", ""
	}
	def := c.s.ast.Types[t.NamedType]
	switch def.Kind {
	case ast.InputObject:
		obj, ok := raw.(map[string]any)
		if !ok {
			return nil, "", "Expected value to be an object"
		}
		out := make(map[string]any, len(def.Fields))
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fd := def.Fields.ForName(k)
			if fd == nil {
				return nil, k, "Field is not defined on " + def.Name
			}
			x, p, e := c.coerceJSON(obj[k], true, fd.Type)
			if e != "" {
				return nil, joinPath(k, p), e
			}
			out[k] = x
		}
		for _, fd := range def.Fields { // in declaration order
			if _, ok := obj[fd.Name]; ok {
				continue
			}
			if fd.DefaultValue != nil {
				out[fd.Name], _ = c.literal(fd.DefaultValue, fd.Type)
			} else if fd.Type.NonNull {
				return nil, fd.Name, "Expected value to not be null"
			}
		}
		return out, "", ""
	case ast.Enum:
		s, ok := raw.(string)
		if !ok || def.EnumValues.ForName(s) == nil {
			names := make([]string, len(def.EnumValues))
			for i, ev := range def.EnumValues {
				names[i] = ev.Name
			}
			return nil, "", fmt.Sprintf("Expected \"%v\" to be one of: %s", raw, strings.Join(names, ", "))
		}
		return s, "", ""
	}
	switch t.NamedType {
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
	default: // String and the string-encoded custom scalars
		s, ok := raw.(string)
		if !ok {
			return nil, "", "Could not coerce value to " + t.NamedType
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

// literal coerces a value of the query text (validated, so of the right
// type) to type t: Int as int64, Float as float64, a single value given
// for a list as a list of one, input objects with their defaults.
// Variables take their coerced values; ok is false for a variable the
// request does not provide (the argument or field is then absent).
func (c *opContext) literal(v *ast.Value, t *ast.Type) (val any, ok bool) {
	switch v.Kind {
	case ast.Variable:
		val, ok = c.vars[v.Raw]
		return val, ok
	case ast.NullValue:
		return nil, true
	}
	if t.Elem != nil {
		if v.Kind != ast.ListValue {
			x, ok := c.literal(v, t.Elem)
			if !ok {
				x = nil
			}
			return []any{x}, true
		}
		out := make([]any, len(v.Children))
		for i, ch := range v.Children {
			if x, ok := c.literal(ch.Value, t.Elem); ok {
				out[i] = x
			}
		}
		return out, true
	}
	switch v.Kind {
	case ast.ObjectValue:
		def := c.s.ast.Types[t.NamedType]
		out := make(map[string]any, len(def.Fields))
		for _, fd := range def.Fields {
			if ch := v.Children.ForName(fd.Name); ch != nil {
				if x, ok := c.literal(ch, fd.Type); ok {
					out[fd.Name] = x
					continue
				}
			}
			if fd.DefaultValue != nil {
				out[fd.Name], _ = c.literal(fd.DefaultValue, fd.Type)
			}
		}
		return out, true
	case ast.IntValue:
		if t.NamedType == "Float" {
			f, _ := strconv.ParseFloat(v.Raw, 64)
			return f, true
		}
		if t.NamedType == "Int" {
			n, _ := strconv.ParseInt(v.Raw, 10, 64)
			return n, true
		}
		return v.Raw, true // an ID
	case ast.FloatValue:
		f, _ := strconv.ParseFloat(v.Raw, 64)
		return f, true
	case ast.BooleanValue:
		return v.Raw == "true", true
	}
	return v.Raw, true // strings, block strings, enums
}

// args coerces a field's arguments, defaults included.
func (c *opContext) args(f *ast.Field) map[string]any {
	defs := f.Definition.Arguments
	if len(defs) == 0 {
		return nil
	}
	out := make(map[string]any, len(defs))
	for _, ad := range defs {
		if a := f.Arguments.ForName(ad.Name); a != nil {
			if v, ok := c.literal(a.Value, ad.Type); ok {
				out[ad.Name] = v
				continue
			}
		}
		if ad.DefaultValue != nil {
			out[ad.Name], _ = c.literal(ad.DefaultValue, ad.Type)
		}
	}
	return out
}
