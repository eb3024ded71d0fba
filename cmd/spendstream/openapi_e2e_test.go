package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/spendstream/spendstream/aggregates/api"
	"github.com/spendstream/spendstream/aggregates/auth"
	"github.com/spendstream/spendstream/consumers/ingest"
)

// The OpenAPI document is checked with github.com/santhosh-tekuri/jsonschema/v6: against the
// official OpenAPI 3.0 schema (kept in aggregates/api/openapi_test.go), for dangling references,
// path parameters, operation ids and security schemes; and its schemas, converted to JSON Schema
// draft 4 (nullable → a "null" type), validate the real requests and responses below.

const (
	oasDocURL  = "mem:///openapi.json"
	oasMetaURL = "https://spec.openapis.org/oas/3.0/schema/2021-09-28"
)

// oasMethods are the operation keys of a path item.
var oasMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// oasDoc is the OpenAPI document, parsed, with its schemas compiled on demand.
type oasDoc struct {
	raw      map[string]any // as written
	conv     map[string]any // schemas converted to JSON Schema draft 4
	compiler *jsonschema.Compiler
	mu       sync.Mutex
	cache    map[string]*jsonschema.Schema
	ops      []*oasOp
	examples []string // pointers of converted schemas that carry an example
}

// oasOp is one operation of the document.
type oasOp struct {
	method, path string // GET, /v1/tenants/{tenant_id}/costs
	ptr          string // JSON pointer of the operation
	re           *regexp.Regexp
	names        []string // path parameter names, in order
	op           map[string]any
	item         map[string]any
}

func (o *oasOp) key() string { return o.method + " " + o.path }

func oasEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func oasUnescape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

func oasDecode(b []byte) (any, error) { return jsonschema.UnmarshalJSON(bytes.NewReader(b)) }

// newOASDoc parses and compiles raw.
func newOASDoc(raw []byte) (*oasDoc, error) {
	v, err := oasDecode(raw)
	if err != nil {
		return nil, fmt.Errorf("openapi.json is not JSON: %w", err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapi.json is not an object")
	}
	d := &oasDoc{raw: doc, cache: map[string]*jsonschema.Schema{}}
	d.conv = d.convertDoc(doc, "").(map[string]any)
	d.compiler = jsonschema.NewCompiler()
	d.compiler.DefaultDraft(jsonschema.Draft4)
	d.compiler.AssertFormat()
	if err := d.compiler.AddResource(oasDocURL, d.conv); err != nil {
		return nil, err
	}
	paths, _ := doc["paths"].(map[string]any)
	for p, item := range paths {
		itemMap, ok := item.(map[string]any)
		if !ok {
			continue
		}
		re, names := oasTemplate(p)
		for _, m := range oasMethods {
			op, ok := itemMap[m].(map[string]any)
			if !ok {
				continue
			}
			d.ops = append(d.ops, &oasOp{method: strings.ToUpper(m), path: p, ptr: "/paths/" + oasEscape(p) + "/" + m,
				re: re, names: names, op: op, item: itemMap})
		}
	}
	sort.Slice(d.ops, func(i, j int) bool { return d.ops[i].key() < d.ops[j].key() })
	return d, nil
}

var oasParamRe = regexp.MustCompile(`\{([^}/]+)\}`)

// oasTemplate turns a path template into a regexp and its parameter names.
func oasTemplate(p string) (*regexp.Regexp, []string) {
	var names []string
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, m := range oasParamRe.FindAllStringSubmatchIndex(p, -1) {
		b.WriteString(regexp.QuoteMeta(p[last:m[0]]))
		b.WriteString("([^/]+)")
		names = append(names, p[m[2]:m[3]])
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(p[last:]))
	b.WriteString("$")
	return regexp.MustCompile(b.String()), names
}

// convertDoc copies v, converting every schema it holds (values of "schema" keys and of
// components.schemas).
func (d *oasDoc) convertDoc(v any, ptr string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			p := ptr + "/" + oasEscape(k)
			switch {
			case k == "schema":
				out[k] = d.convertSchema(e, p)
			case ptr == "/components/schemas":
				out[k] = d.convertSchema(e, p)
			default:
				out[k] = d.convertDoc(e, p)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = d.convertDoc(e, ptr+"/"+strconv.Itoa(i))
		}
		return out
	}
	return v
}

// convertSchema turns an OpenAPI 3.0 schema object into JSON Schema draft 4: nullable: true adds
// "null" to the type (or allows null beside the schema when it has no type), and null to an enum.
func (d *oasDoc) convertSchema(v any, ptr string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		p := ptr + "/" + oasEscape(k)
		switch k {
		case "properties":
			props := map[string]any{}
			for name, s := range e.(map[string]any) {
				props[name] = d.convertSchema(s, p+"/"+oasEscape(name))
			}
			out[k] = props
		case "items", "additionalProperties", "not":
			out[k] = d.convertSchema(e, p)
		case "allOf", "anyOf", "oneOf":
			list := e.([]any)
			conv := make([]any, len(list))
			for i, s := range list {
				conv[i] = d.convertSchema(s, p+"/"+strconv.Itoa(i))
			}
			out[k] = conv
		case "nullable", "discriminator", "xml", "externalDocs", "readOnly", "writeOnly", "deprecated":
		default:
			out[k] = e
		}
	}
	if _, ok := m["example"]; ok {
		d.examples = append(d.examples, ptr)
	}
	if m["nullable"] != true {
		return out
	}
	if t, ok := out["type"].(string); ok {
		out["type"] = []any{t, "null"}
		if enum, ok := out["enum"].([]any); ok && !slices.Contains(enum, nil) {
			out["enum"] = append(slices.Clone(enum), nil)
		}
		return out
	}
	return map[string]any{"anyOf": []any{map[string]any{"type": "null"}, out}}
}

// at returns the node of the raw document at a JSON pointer.
func (d *oasDoc) at(ptr string) (any, bool) {
	var cur any = d.raw
	if ptr == "" {
		return cur, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = oasUnescape(tok)
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// resolve follows $ref (local only) from ptr: the pointer and object it ends at.
func (d *oasDoc) resolve(ptr string) (string, map[string]any, error) {
	for range 10 {
		v, ok := d.at(ptr)
		if !ok {
			return "", nil, fmt.Errorf("no node at #%s", ptr)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return "", nil, fmt.Errorf("#%s is not an object", ptr)
		}
		r, ok := m["$ref"].(string)
		if !ok {
			return ptr, m, nil
		}
		if !strings.HasPrefix(r, "#/") {
			return "", nil, fmt.Errorf("#%s: non-local $ref %q", ptr, r)
		}
		ptr = strings.TrimPrefix(r, "#")
	}
	return "", nil, fmt.Errorf("#%s: $ref chain too long", ptr)
}

// schema compiles the (converted) schema at ptr.
func (d *oasDoc) schema(ptr string) (*jsonschema.Schema, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.cache[ptr]; ok {
		return s, nil
	}
	s, err := d.compiler.Compile(oasDocURL + "#" + ptr)
	if err != nil {
		return nil, err
	}
	d.cache[ptr] = s
	return s, nil
}

// validate validates a decoded JSON value against the schema at ptr.
func (d *oasDoc) validate(ptr string, v any) error {
	s, err := d.schema(ptr)
	if err != nil {
		return fmt.Errorf("compile #%s: %w", ptr, err)
	}
	return s.Validate(v)
}

// schemaType is the declared type of the schema at ptr (after $ref), "" when it has none.
func (d *oasDoc) schemaType(ptr string) string {
	_, m, err := d.resolve(ptr)
	if err != nil {
		return ""
	}
	t, _ := m["type"].(string)
	return t
}

// --- document checks --------------------------------------------------------------------------

// oasMetaSchema reads the official OpenAPI 3.0 schema kept as a constant in aggregates/api's test.
func oasMetaSchema() (string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../../aggregates/api/openapi_test.go", nil, 0)
	if err != nil {
		return "", err
	}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if name.Name == "oas30MetaSchema" && i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
						return strconv.Unquote(lit.Value)
					}
				}
			}
		}
	}
	return "", fmt.Errorf("const oas30MetaSchema not found in aggregates/api/openapi_test.go")
}

// checkDocument validates the document itself: the OpenAPI 3.0 schema, then what it cannot say.
func (d *oasDoc) checkDocument(t *testing.T) {
	t.Helper()
	meta, err := oasMetaSchema()
	require.NoError(t, err)
	metaDoc, err := oasDecode([]byte(meta))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	require.NoError(t, c.AddResource(oasMetaURL, metaDoc))
	metaSchema, err := c.Compile(oasMetaURL)
	require.NoError(t, err)
	require.NoError(t, metaSchema.Validate(d.raw), "openapi.json against the OpenAPI 3.0 schema")
	require.Equal(t, "3.0.3", d.raw["openapi"])

	// Every $ref resolves.
	var refs []string
	var walk func(v any, ptr string)
	walk = func(v any, ptr string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if r, ok := e.(string); ok && k == "$ref" {
					refs = append(refs, ptr+" → "+r)
					_, _, err := d.resolve(ptr)
					require.NoError(t, err, "$ref at #%s", ptr)
					continue
				}
				walk(e, ptr+"/"+oasEscape(k))
			}
		case []any:
			for i, e := range x {
				walk(e, ptr+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(d.raw, "")
	require.NotEmpty(t, refs)

	schemes, _ := d.raw["components"].(map[string]any)["securitySchemes"].(map[string]any)
	ids := map[string]string{}
	for _, op := range d.ops {
		// Operation ids: present and unique.
		id, _ := op.op["operationId"].(string)
		require.NotEmpty(t, id, "%s has no operationId", op.key())
		require.Empty(t, ids[id], "operationId %s of %s is also %s's", id, op.key(), ids[id])
		ids[id] = op.key()
		// Security requirements name declared schemes.
		sec, ok := op.op["security"].([]any)
		require.True(t, ok, "%s declares no security (use [] for none)", op.key())
		for _, req := range sec {
			for name := range req.(map[string]any) {
				require.Contains(t, schemes, name, "%s: unknown security scheme", op.key())
			}
		}
		// Path parameters: each template name declared (required) and nothing else.
		params := d.params(t, op)
		var declared []string
		for _, p := range params {
			name, in := p.m["name"].(string), p.m["in"].(string)
			if in == "path" {
				declared = append(declared, name)
				require.Equal(t, true, p.m["required"], "%s: path parameter %s must be required", op.key(), name)
			}
			sp := p.ptr + "/schema"
			_, err := d.schema(sp)
			require.NoError(t, err, "%s: parameter %s schema", op.key(), name)
			if _, sm, err := d.resolve(sp); err == nil {
				if def, ok := sm["default"]; ok {
					require.NoError(t, d.validate(sp, def), "%s: parameter %s default", op.key(), name)
				}
			}
		}
		sort.Strings(declared)
		want := slices.Clone(op.names)
		sort.Strings(want)
		require.Equal(t, want, declared, "%s: path parameters", op.key())
		// Every response and request body schema compiles.
		resps, _ := op.op["responses"].(map[string]any)
		require.NotEmpty(t, resps, op.key())
		for code := range resps {
			rp, r, err := d.resolve(op.ptr + "/responses/" + code)
			require.NoError(t, err)
			require.NotEmpty(t, r["description"], "%s %s", op.key(), code)
			content, _ := r["content"].(map[string]any)
			for mt := range content {
				_, err := d.schema(rp + "/content/" + oasEscape(mt) + "/schema")
				require.NoError(t, err, "%s %s %s", op.key(), code, mt)
			}
			hdrs, _ := r["headers"].(map[string]any)
			for h := range hdrs {
				hp, _, err := d.resolve(rp + "/headers/" + oasEscape(h))
				require.NoError(t, err)
				_, err = d.schema(hp + "/schema")
				require.NoError(t, err, "%s %s header %s", op.key(), code, h)
			}
		}
		if rb, ok := op.op["requestBody"].(map[string]any); ok {
			for mt := range rb["content"].(map[string]any) {
				_, err := d.schema(op.ptr + "/requestBody/content/" + oasEscape(mt) + "/schema")
				require.NoError(t, err, "%s request %s", op.key(), mt)
			}
		}
	}
	// Every component schema compiles, and every example validates against its schema.
	for name := range d.raw["components"].(map[string]any)["schemas"].(map[string]any) {
		_, err := d.schema("/components/schemas/" + oasEscape(name))
		require.NoError(t, err, "schema %s", name)
	}
	require.NotEmpty(t, d.examples)
	for _, p := range d.examples {
		_, m, err := d.resolve(p)
		require.NoError(t, err)
		require.NoError(t, d.validate(p, m["example"]), "example of #%s", p)
	}
}

type oasParam struct {
	ptr string
	m   map[string]any
}

// params are the parameters of an operation (path item ones first, overridden by the operation's).
func (d *oasDoc) params(t *testing.T, op *oasOp) []oasParam {
	byKey := map[string]oasParam{}
	var order []string
	for _, base := range []string{strings.TrimSuffix(op.ptr, "/"+strings.ToLower(op.method)), op.ptr} {
		v, ok := d.at(base + "/parameters")
		if !ok {
			continue
		}
		for i := range v.([]any) {
			p, m, err := d.resolve(base + "/parameters/" + strconv.Itoa(i))
			require.NoError(t, err)
			k := m["in"].(string) + ":" + strings.ToLower(m["name"].(string))
			if _, dup := byKey[k]; !dup {
				order = append(order, k)
			}
			byKey[k] = oasParam{ptr: p, m: m}
		}
	}
	out := make([]oasParam, 0, len(order))
	for _, k := range order {
		out = append(out, byKey[k])
	}
	return out
}

// --- routes -----------------------------------------------------------------------------------

var oasRouteRe = regexp.MustCompile(`"((?:GET|POST|PUT|PATCH|DELETE) /[^"]*)"`)

// routesIn returns the method-and-path route patterns quoted in a Go source file.
func oasRoutesIn(t *testing.T, file string, re *regexp.Regexp) map[string]bool {
	src, err := os.ReadFile(file)
	require.NoError(t, err)
	out := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		out[strings.ReplaceAll(m[1], "{$}", "")] = true // ServeMux's "/{$}" is the path "/" exactly
	}
	require.NotEmpty(t, out, "no routes found in %s", file)
	return out
}

// checkRoutes cross-checks the document's operations with the routes the code registers: those of
// aggregates/api/api.go, cmd/spendstream/serve.go and the web page (aggregates/web/web.go) must all
// be documented, and every documented operation must be one of them or a PostHog capture route
// (ingest.CapturePaths, listed whole in x-spendstream-capture-paths).
func (d *oasDoc) checkRoutes(t *testing.T) {
	apiRoutes := oasRoutesIn(t, "../../aggregates/api/api.go", oasRouteRe)
	serveRoutes := oasRoutesIn(t, "serve.go", regexp.MustCompile(`\.Handle\("((?:GET|POST|PUT|PATCH|DELETE) /[^"]*)"`))
	registered := map[string]string{}
	for r := range apiRoutes {
		registered[r] = "aggregates/api/api.go"
	}
	for r := range serveRoutes {
		registered[r] = "cmd/spendstream/serve.go"
	}
	if _, err := os.Stat("../../aggregates/web/web.go"); err == nil && apiRoutes["GET /"] {
		for r := range oasRoutesIn(t, "../../aggregates/web/web.go", regexp.MustCompile(`HandleFunc\("((?:GET|POST|PUT|PATCH|DELETE) /[^"]*)"`)) {
			registered[r] = "aggregates/web/web.go"
		}
	}
	documented := map[string]bool{}
	for _, op := range d.ops {
		documented[op.key()] = true
	}
	for r, file := range registered {
		require.True(t, documented[r], "route %s of %s is not in openapi.json", r, file)
	}
	var capture []string
	for _, p := range ingest.CapturePaths {
		capture = append(capture, p, p+"/")
	}
	var listed []string
	for _, v := range d.raw["x-spendstream-capture-paths"].([]any) {
		listed = append(listed, v.(string))
	}
	sort.Strings(capture)
	sort.Strings(listed)
	require.Equal(t, capture, listed, "x-spendstream-capture-paths lists every capture route")
	for _, op := range d.ops {
		k := op.key()
		isCapture := slices.Contains(capture, op.path) && (op.method == "POST" || op.method == "GET")
		require.True(t, registered[k] != "" || isCapture, "openapi.json documents %s, which no code registers", k)
	}
	for _, p := range []string{"/batch/", "/e/"} {
		require.True(t, documented["POST "+p], "POST %s is documented", p)
	}
}

// --- requests and responses -------------------------------------------------------------------

// find returns the documented operation serving method and path.
func (d *oasDoc) find(method, path string) *oasOp {
	var best *oasOp
	for _, op := range d.ops {
		if op.method != method || !op.re.MatchString(path) {
			continue
		}
		if best == nil || len(op.names) < len(best.names) { // literal paths win over templates
			best = op
		}
	}
	return best
}

// paramValue converts a raw parameter value to the JSON value its schema describes.
func (d *oasDoc) paramValue(p oasParam, raw string) any {
	sp := p.ptr + "/schema"
	switch d.schemaType(sp) {
	case "array":
		explode, _ := p.m["explode"].(bool)
		if style, _ := p.m["style"].(string); style == "form" && !explode {
			var out []any
			for _, part := range strings.Split(raw, ",") {
				out = append(out, part)
			}
			return out
		}
		return []any{raw}
	case "integer", "number":
		if _, err := strconv.ParseFloat(raw, 64); err == nil {
			return json.Number(raw)
		}
	case "boolean":
		if b, err := strconv.ParseBool(raw); err == nil {
			return b
		}
	}
	return raw
}

// checkRequest reports how req (with body) departs from the document's description of op.
func (d *oasDoc) checkRequest(t *testing.T, op *oasOp, req *http.Request, body []byte) error {
	params := d.params(t, op)
	seen := map[string]bool{}
	pathVals := op.re.FindStringSubmatch(req.URL.Path)
	for _, p := range params {
		name, in := p.m["name"].(string), p.m["in"].(string)
		var raw string
		var present bool
		switch in {
		case "path":
			for i, n := range op.names {
				if n == name {
					raw, present = pathVals[i+1], true
				}
			}
		case "query":
			vs, ok := req.URL.Query()[name]
			seen[name] = true
			if ok {
				if len(vs) != 1 {
					return fmt.Errorf("query parameter %s given %d times", name, len(vs))
				}
				raw, present = vs[0], true
			}
		case "header":
			raw = req.Header.Get(name)
			present = raw != ""
		}
		if !present {
			if p.m["required"] == true {
				return fmt.Errorf("required %s parameter %s missing", in, name)
			}
			continue
		}
		if err := d.validate(p.ptr+"/schema", d.paramValue(p, raw)); err != nil {
			return fmt.Errorf("%s parameter %s=%q: %w", in, name, raw, err)
		}
	}
	for name := range req.URL.Query() {
		if !seen[name] {
			return fmt.Errorf("query parameter %s is not documented", name)
		}
	}
	rb, ok := op.op["requestBody"].(map[string]any)
	if !ok {
		if len(body) > 0 {
			return fmt.Errorf("a body is not documented")
		}
		return nil
	}
	if len(body) == 0 {
		if rb["required"] == true {
			return fmt.Errorf("the request body is required")
		}
		return nil
	}
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil {
		return fmt.Errorf("request Content-Type %q: %w", req.Header.Get("Content-Type"), err)
	}
	if _, ok := rb["content"].(map[string]any)[mt]; !ok {
		return fmt.Errorf("request media type %s is not documented", mt)
	}
	if mt != "application/json" || req.Header.Get("Content-Encoding") != "" {
		return nil
	}
	v, err := oasDecode(body)
	if err != nil {
		return fmt.Errorf("request body is not JSON: %w", err)
	}
	return d.validate(op.ptr+"/requestBody/content/"+oasEscape(mt)+"/schema", v)
}

// checkResponse reports how a response departs from what the document declares for op.
func (d *oasDoc) checkResponse(op *oasOp, status int, h http.Header, body []byte) error {
	code := strconv.Itoa(status)
	rp := op.ptr + "/responses/" + code
	if _, ok := d.at(rp); !ok {
		rp = op.ptr + "/responses/" + code[:1] + "XX"
		if _, ok := d.at(rp); !ok {
			rp = op.ptr + "/responses/default"
			if _, ok := d.at(rp); !ok {
				return fmt.Errorf("status %d is not documented", status)
			}
		}
	}
	rp, r, err := d.resolve(rp)
	if err != nil {
		return err
	}
	hdrs, _ := r["headers"].(map[string]any)
	for name := range hdrs {
		hp, hm, err := d.resolve(rp + "/headers/" + oasEscape(name))
		if err != nil {
			return err
		}
		val := h.Get(name)
		if val == "" {
			if hm["required"] == true {
				return fmt.Errorf("required header %s missing", name)
			}
			continue
		}
		var v any = val
		if tp := d.schemaType(hp + "/schema"); tp == "integer" || tp == "number" {
			if _, err := strconv.ParseFloat(val, 64); err == nil {
				v = json.Number(val)
			}
		}
		if err := d.validate(hp+"/schema", v); err != nil {
			return fmt.Errorf("header %s: %w", name, err)
		}
	}
	content, _ := r["content"].(map[string]any)
	if len(content) == 0 {
		if len(body) > 0 {
			return fmt.Errorf("a body is not documented for %d", status)
		}
		return nil
	}
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return fmt.Errorf("Content-Type %q: %w", h.Get("Content-Type"), err)
	}
	if _, ok := content[mt]; !ok {
		return fmt.Errorf("media type %s is not documented for %d", mt, status)
	}
	var v any = string(body)
	if mt == "application/json" {
		if v, err = oasDecode(body); err != nil {
			return fmt.Errorf("body is not JSON: %w", err)
		}
	}
	return d.validate(rp+"/content/"+oasEscape(mt)+"/schema", v)
}

// --- the test ---------------------------------------------------------------------------------

// oasCall is one request of the test.
type oasCall struct {
	method, target string // target: path and query
	token          string // bearer credential ("" for none)
	header         map[string]string
	body           []byte
	contentType    string
	want           int    // expected status
	code           string // expected error code, if any
	invalidRequest bool   // the request is outside the document on purpose (error cases)
}

// oasE2E runs calls against a live spendstream and validates them against the document.
type oasE2E struct {
	t        *testing.T
	base     string
	doc      *oasDoc
	mu       sync.Mutex
	covered  map[string]map[int]int // operation → status → calls
	validate int
}

func (e *oasE2E) send(c oasCall) (*http.Request, *http.Response, []byte) {
	t := e.t
	t.Helper()
	req, err := http.NewRequest(c.method, e.base+c.target, bytes.NewReader(c.body))
	require.NoError(t, err)
	if c.body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return req, resp, body
}

// do sends c, checks the status (and error code), the request (unless invalid on purpose) and the
// response against the operation, and returns the response.
func (e *oasE2E) do(c oasCall) (http.Header, []byte) {
	t := e.t
	t.Helper()
	req, resp, body := e.send(c)
	require.Equal(t, c.want, resp.StatusCode, "%s %s: %s", c.method, c.target, body)
	op := e.doc.find(c.method, req.URL.Path)
	require.NotNil(t, op, "%s %s is not documented", c.method, req.URL.Path)
	if !c.invalidRequest {
		require.NoError(t, e.doc.checkRequest(t, op, req, c.body), "request %s %s", c.method, c.target)
	}
	require.NoError(t, e.doc.checkResponse(op, resp.StatusCode, resp.Header, body),
		"response %d of %s %s (%s): %s", resp.StatusCode, c.method, c.target, op.key(), oasShort(body))
	e.checkCode(c, body)
	e.count(op, resp.StatusCode)
	return resp.Header, body
}

func (e *oasE2E) count(op *oasOp, status int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.covered[op.key()] == nil {
		e.covered[op.key()] = map[int]int{}
	}
	e.covered[op.key()][status]++
	e.validate++
}

// record validates a response obtained outside do.
func (e *oasE2E) record(method, path string, status int, h http.Header, body []byte) {
	e.t.Helper()
	op := e.doc.find(method, path)
	require.NotNil(e.t, op, "%s %s is not documented", method, path)
	require.NoError(e.t, e.doc.checkResponse(op, status, h, body), "response %d of %s %s: %s", status, method, path, oasShort(body))
	e.count(op, status)
}

// doOutside sends a request no operation describes (unknown path, other method) and validates the
// answer against a component schema.
func (e *oasE2E) doOutside(c oasCall, schemaPtr string) http.Header {
	t := e.t
	t.Helper()
	_, resp, body := e.send(c)
	require.Equal(t, c.want, resp.StatusCode, "%s %s: %s", c.method, c.target, body)
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	require.Equal(t, "application/json", mt)
	v, err := oasDecode(body)
	require.NoError(t, err)
	require.NoError(t, e.doc.validate(schemaPtr, v), "%s %s: %s", c.method, c.target, body)
	e.checkCode(c, body)
	e.validate++
	return resp.Header
}

func (e *oasE2E) checkCode(c oasCall, body []byte) {
	if c.code == "" {
		return
	}
	var eb struct {
		Error struct{ Code string } `json:"error"`
	}
	require.NoError(e.t, json.Unmarshal(body, &eb), "%s %s", c.method, c.target)
	require.Equal(e.t, c.code, eb.Error.Code, "%s %s: %s", c.method, c.target, body)
}

func oasShort(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

func oasToken(t *testing.T, subject string, role auth.Role, tenant string) string {
	tok, err := auth.MintHS256([]byte(auth.DemoSecret), defaultIssuer, defaultAudience, subject, []auth.Role{role}, tenant,
		time.Hour, time.Now())
	require.NoError(t, err)
	return tok
}

// TestOpenAPIDocumentAndLiveResponses checks aggregates/api/openapi.json and validates the
// responses of a running spendstream (demo fleet, real ClickHouse and JetStream) against it: every
// documented operation, in success and in the error cases that can be produced from outside.
func TestOpenAPIDocumentAndLiveResponses(t *testing.T) {
	doc, err := newOASDoc(api.OpenAPI)
	require.NoError(t, err)
	doc.checkDocument(t)
	doc.checkRoutes(t)

	stack := newE2E(t, "e2e_openapi")
	base := stack.base
	stack.run(t,
		"--price-list", "../../deploy/pricelist.example.yaml", "--demo", "--demo-tenants", "4",
		"--demo-backfill", "72h", "--recommend-lookback-days", "2", "--cost-cache-ttl", "-1s",
		"--ingest-max-events", "100", "--posthog-max-events", "500", "--log-level", "warn")

	e := &oasE2E{t: t, base: base, doc: doc, covered: map[string]map[int]int{}}
	fleet := demoFleet(Config{DemoSeed: 42, DemoTenants: 4, DemoFaultRate: 0.002})
	tenant, other := fleet.Tenants[0].ID, fleet.Tenants[1].ID
	cfo := testToken
	poll := oasToken(t, "openapi-poll", auth.RoleCFO, "")
	ops := oasToken(t, "openapi-ops", auth.RoleOps, "")
	procurement := oasToken(t, "openapi-procurement", auth.RoleProcurement, "")
	admin := oasToken(t, "openapi-admin", auth.RoleTenantAdmin, tenant)

	// Wait for the demo history: roll-ups of both kinds, PostHog events and segments, and a
	// recommendation to track.
	var recID string
	require.Eventually(t, func() bool {
		var recs struct {
			Data struct {
				Items []struct{ ID, Kind string } `json:"items"`
			} `json:"data"`
		}
		var rows struct {
			Data []json.RawMessage `json:"data"`
		}
		for _, p := range []string{"/v1/rollups/vps-utilization", "/v1/rollups/email-volume", "/v1/rollups/events", "/v1/segments"} {
			rows.Data = nil
			if getJSONAs(t, poll, base+p, &rows) != http.StatusOK || len(rows.Data) == 0 {
				return false
			}
		}
		if getJSONAs(t, poll, base+"/v1/recommendations", &recs) != http.StatusOK || len(recs.Data.Items) == 0 {
			return false
		}
		recID = recs.Data.Items[0].ID
		for _, it := range recs.Data.Items {
			if it.Kind == "consolidate_vps" {
				recID = it.ID
			}
		}
		return true
	}, 90*time.Second, 500*time.Millisecond, "the demo data did not arrive")

	now := time.Now().UTC()
	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return "?" + v.Encode()
	}
	ts := func(at time.Time) string { return at.Format(time.RFC3339) }

	// Operations.
	e.do(oasCall{method: "GET", target: "/healthz", want: 200})
	e.do(oasCall{method: "GET", target: "/readyz", want: 200})
	e.do(oasCall{method: "GET", target: "/metrics", want: 200})
	h, served := e.do(oasCall{method: "GET", target: "/openapi.json", want: 200})
	require.Equal(t, api.OpenAPI, served, "GET /openapi.json serves the embedded document byte for byte")
	require.Contains(t, h.Get("Content-Type"), "application/json")

	// The web page, where the api role runs.
	h, page := e.do(oasCall{method: "GET", target: "/", want: 200})
	e.do(oasCall{method: "GET", target: "/", header: map[string]string{"If-None-Match": h.Get("ETag")}, want: 304})
	e.do(oasCall{method: "GET", target: "/ui/", want: 200})
	if m := regexp.MustCompile(`"(/ui/assets/[^"]+)"`).FindSubmatch(page); m != nil {
		e.do(oasCall{method: "GET", target: string(m[1]), want: 200})
	} else {
		t.Log("the page links no /ui/assets/ file")
	}
	e.do(oasCall{method: "GET", target: "/ui/assets/nope.0000000000000000.js", want: 404, code: "not_found"})
	e.do(oasCall{method: "GET", target: "/ui/config.json", want: 200})
	e.do(oasCall{method: "POST", target: "/ui/demo-token", contentType: "application/json", body: []byte(`{"role":"cfo"}`), want: 200})
	e.do(oasCall{method: "POST", target: "/ui/demo-token", contentType: "application/json",
		body: []byte(`{"role":"tenant_admin","tenant":"nobody"}`), want: 400, code: "bad_parameter"})
	e.do(oasCall{method: "POST", target: "/ui/demo-token", contentType: "text/plain", body: []byte(`{"role":"cfo"}`),
		want: 415, code: "unsupported_media_type", invalidRequest: true})
	e.do(oasCall{method: "POST", target: "/ui/demo-token", contentType: "application/json", body: []byte(`{"role":"cfo"}`),
		header: map[string]string{"Sec-Fetch-Site": "cross-site"}, want: 403, code: "forbidden"})

	// Roll-ups.
	for _, target := range []string{
		"/v1/rollups/email-volume",
		"/v1/rollups/email-volume" + q("step", "1d", "group_by", "pool,tenant_id,ip"),
		"/v1/rollups/email-volume" + q("from", ts(now.Add(-48*time.Hour)), "to", ts(now), "tenant_id", tenant, "group_by", "provider"),
		"/v1/rollups/vps-utilization",
		"/v1/rollups/vps-utilization" + q("step", "5m", "from", ts(now.Add(-2*time.Hour)), "group_by", "tenant_id,resource_id,provider,plan,region"),
		"/v1/rollups/vps-utilization" + q("step", "1d", "from", ts(now.Add(-96*time.Hour)), "provider", "hetzner", "group_by", "plan"),
		"/v1/rollups/events",
		"/v1/rollups/events" + q("step", "1d", "group_by", "event"),
		"/v1/rollups/events" + q("tenant_id", tenant, "event", "$pageview"),
		"/v1/segments",
		"/v1/segments" + q("tenant_id", tenant, "at", ts(now.Add(-time.Hour))),
		"/v1/freshness",
	} {
		e.do(oasCall{method: "GET", target: target, token: cfo, want: 200})
	}
	for _, target := range []string{"/v1/rollups/vps-utilization", "/v1/rollups/events", "/v1/segments", "/v1/freshness",
		"/v1/rollups/email-volume" + q("tenant_id", tenant)} {
		e.do(oasCall{method: "GET", target: target, token: admin, want: 200})
	}
	e.do(oasCall{method: "GET", target: "/v1/rollups/vps-utilization" + q("group_by", "tenant_id"), token: ops, want: 200})

	// Producers: POST /v1/events.
	evAt := now.Add(-10 * time.Minute)
	vps := func(id string) map[string]any {
		return map[string]any{"specversion": "1.0", "id": id, "source": "openapi-test", "type": "usage.vps.sample",
			"time": evAt.Format(time.RFC3339Nano), "tenantid": "t-openapi", "data": map[string]any{"resource_id": "oa-vps-1",
				"provider": "hetzner", "region": "fsn1", "plan": "cx22", "vcpus": 2, "memory_mb": 4096, "cpu_util": 0.25,
				"mem_util": 0.5, "interval_seconds": 60}}
	}
	email := map[string]any{"specversion": "1.0", "id": "oa-email-1", "source": "openapi-test", "type": "usage.email.volume",
		"time": evAt.Format(time.RFC3339), "tenantid": "t-openapi", "data": map[string]any{"ip": "192.0.2.10", "pool": "bulk",
			"provider": "mailgun", "sent": 100, "delivered": 97, "bounced": 2, "deferred": 1, "complained": 0, "interval_seconds": 300}}
	inventory := map[string]any{"specversion": "1.0", "id": "oa-inv-1", "source": "openapi-test", "type": "inventory.resource",
		"time": evAt.Format(time.RFC3339), "tenantid": "t-openapi", "historical": true, "data": map[string]any{
			"resource_id": "oa-vps-1", "kind": "vps", "provider": "hetzner", "region": "fsn1", "plan": "cx22",
			"action": "provisioned", "shared": false}}
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return b
	}
	// A VPS the price list has no plan for (unpriced), and usage of a VPS the inventory does not
	// show (a warning): the cost responses below then list both.
	unpriced := map[string]any{"specversion": "1.0", "id": "oa-inv-2", "source": "openapi-test", "type": "inventory.resource",
		"time": evAt.Add(-48 * time.Hour).Format(time.RFC3339), "tenantid": "t-openapi", "historical": true,
		"data": map[string]any{"resource_id": "oa-vps-2", "kind": "vps", "provider": "hetzner", "region": "fsn1",
			"plan": "no-such-plan", "action": "provisioned"}}
	ghost := vps("oa-ghost-1")
	ghost["data"].(map[string]any)["resource_id"] = "oa-ghost"
	key := auth.DemoProducerKey
	_, body := e.do(oasCall{method: "POST", target: "/v1/events", token: key, contentType: "application/json",
		body: mustJSON([]any{vps("oa-vps-a"), email, inventory, unpriced, ghost}), want: 202})
	require.Contains(t, string(body), `"accepted":5`)
	e.do(oasCall{method: "POST", target: "/v1/events", token: key, contentType: "application/json", body: mustJSON(vps("oa-vps-b")), want: 202})
	ndjson := bytes.Join([][]byte{mustJSON(vps("oa-vps-c")), []byte(`{"specversion":"0.3","id":"oa-bad"}`)}, []byte("\n"))
	_, body = e.do(oasCall{method: "POST", target: "/v1/events", token: key, contentType: "application/x-ndjson", body: ndjson, want: 202})
	require.Contains(t, string(body), `"reason":"bad_specversion"`)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write(mustJSON(vps("oa-vps-d")))
	require.NoError(t, zw.Close())
	e.do(oasCall{method: "POST", target: "/v1/events", token: key, contentType: "application/json", body: zipped.Bytes(),
		header: map[string]string{"Content-Encoding": "gzip"}, want: 202})
	e.do(oasCall{method: "POST", target: "/v1/events", contentType: "application/json", body: mustJSON(vps("oa-vps-e")),
		want: 401, code: "unauthenticated", invalidRequest: true})
	e.do(oasCall{method: "POST", target: "/v1/events", token: key, contentType: "application/json", body: []byte(`{"id":`),
		want: 400, code: "malformed", invalidRequest: true})
	_, body = e.do(oasCall{method: "POST", target: "/v1/events", token: key, contentType: "application/json",
		body: []byte(`[{"specversion":"1.0","id":"oa-x","type":"usage.nope"}]`), want: 400, code: "invalid_events", invalidRequest: true})
	require.Contains(t, string(body), `"rejected"`)
	e.do(oasCall{method: "POST", target: "/v1/events", token: key, contentType: "application/json", body: mustJSON(vps("oa-vps-f")),
		header: map[string]string{"Content-Encoding": "br"}, want: 415, code: "unsupported_encoding", invalidRequest: true})
	many := make([]any, 101)
	for i := range many {
		many[i] = vps(fmt.Sprintf("oa-many-%d", i))
	}
	e.do(oasCall{method: "POST", target: "/v1/events", token: key, contentType: "application/json", body: mustJSON(many),
		want: 413, code: "too_many_events", invalidRequest: true})

	// PostHog capture.
	phKey := DemoProjectKey + "_" + tenant
	phEvent := func(name, user string) map[string]any {
		return map[string]any{"event": name, "distinct_id": user, "timestamp": now.Add(-time.Minute).Format(time.RFC3339Nano),
			"properties": map[string]any{"$current_url": "https://example.com/"}}
	}
	_, body = e.do(oasCall{method: "POST", target: "/batch/", contentType: "application/json",
		body: mustJSON(map[string]any{"api_key": phKey, "batch": []any{phEvent("report_generated", "oa-1"),
			map[string]any{"distinct_id": "oa-2"}}}), want: 200})
	require.Contains(t, string(body), `"reason":"missing_event"`)
	single := phEvent("$pageview", "oa-3")
	single["api_key"] = phKey
	e.do(oasCall{method: "POST", target: "/e/", contentType: "application/json", body: mustJSON(single), want: 200})
	withToken := phEvent("$pageview", "oa-4")
	withToken["properties"].(map[string]any)["token"] = phKey
	e.do(oasCall{method: "POST", target: "/i/v0/e/" + q("ver", "1.200.0"), contentType: "application/json",
		body: mustJSON([]any{withToken}), want: 200})
	zipped.Reset()
	zw = gzip.NewWriter(&zipped)
	_, _ = zw.Write(mustJSON([]any{withToken}))
	require.NoError(t, zw.Close())
	e.do(oasCall{method: "POST", target: "/e/" + q("compression", "gzip-js"), contentType: "text/plain", body: zipped.Bytes(), want: 200})
	e.do(oasCall{method: "POST", target: "/batch/", contentType: "application/json",
		body: mustJSON(map[string]any{"api_key": "phc_nobody", "batch": []any{phEvent("e", "u")}}), want: 401, code: "invalid_api_key"})
	e.do(oasCall{method: "POST", target: "/batch/", contentType: "application/json",
		body: mustJSON(map[string]any{"api_key": "phx_personal", "batch": []any{phEvent("e", "u")}}), want: 401, code: "personal_api_key"})
	e.do(oasCall{method: "POST", target: "/e/", contentType: "application/json", body: []byte(`{"event":`),
		want: 400, code: "invalid_json", invalidRequest: true})
	bigBatch := make([]any, 501)
	for i := range bigBatch {
		bigBatch[i] = phEvent("e", "u")
	}
	e.do(oasCall{method: "POST", target: "/batch/", contentType: "application/json",
		body: mustJSON(map[string]any{"api_key": phKey, "batch": bigBatch}), want: 413, code: "too_many_events"})

	require.Eventually(t, func() bool {
		var ov struct {
			Data struct {
				Unpriced []json.RawMessage `json:"unpriced"`
				Warnings []json.RawMessage `json:"warnings"`
			} `json:"data"`
		}
		return getJSONAs(t, poll, base+"/v1/costs/overview", &ov) == http.StatusOK && len(ov.Data.Unpriced) > 0 && len(ov.Data.Warnings) > 0
	}, 30*time.Second, 250*time.Millisecond, "the unpriced VPS and the usage warning did not reach the cost model")

	// Costs.
	for _, target := range []string{
		"/v1/costs/overview",
		"/v1/costs/overview" + q("from", ts(now.Add(-72*time.Hour)), "to", ts(now)),
		"/v1/costs/breakdown",
		"/v1/costs/breakdown" + q("by", "provider", "step", "total"),
		"/v1/costs/breakdown" + q("by", "plan"),
		"/v1/costs/breakdown" + q("by", "tier", "step", "1d"),
		"/v1/costs/breakdown" + q("by", "tenant", "from", ts(now.Add(-72*time.Hour))),
		"/v1/tenants/" + tenant + "/costs",
		"/v1/tenants/" + other + "/costs" + q("from", ts(now.Add(-48*time.Hour)), "to", ts(now)),
		"/v1/vendors/compare",
		"/v1/vendors/compare" + q("kind", "email"),
		"/v1/vendors/compare" + q("kind", "vps"),
		"/v1/recommendations",
		"/v1/recommendations" + q("kind", "consolidate_vps"),
		"/v1/recommendations" + q("limit", "1"),
		"/v1/recommendations/" + recID,
		"/v1/costs/breakdown" + q("by", "tenant", "step", "total", "limit", "1"),
	} {
		e.do(oasCall{method: "GET", target: target, token: cfo, want: 200})
	}
	// Second pages, following next_cursor.
	for _, first := range []string{"/v1/recommendations" + q("limit", "1"), "/v1/costs/breakdown" + q("by", "tenant", "limit", "1")} {
		_, body := e.do(oasCall{method: "GET", target: first, token: cfo, want: 200})
		var page struct {
			Data struct {
				NextCursor string `json:"next_cursor"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(body, &page))
		require.NotEmpty(t, page.Data.NextCursor, "%s: the demo has more than one item, so a next page", first)
		e.do(oasCall{method: "GET", target: first + "&cursor=" + url.QueryEscape(page.Data.NextCursor), token: cfo, want: 200})
	}
	e.do(oasCall{method: "GET", target: "/v1/costs/overview", token: procurement, want: 200})
	e.do(oasCall{method: "GET", target: "/v1/recommendations", token: procurement, want: 200})
	e.do(oasCall{method: "GET", target: "/v1/recommendations", token: ops, want: 200})
	e.do(oasCall{method: "GET", target: "/v1/tenants/" + tenant + "/costs", token: admin, want: 200})

	// Initiatives: create from a recommendation, read, change with If-Match.
	createBody := []byte(fmt.Sprintf(`{"recommendation_id":%q,"owner":"finops","notes":"from the OpenAPI test"}`, recID))
	h, body = e.do(oasCall{method: "POST", target: "/v1/initiatives", token: cfo, body: createBody,
		contentType: "application/json", want: 201})
	var created struct {
		Data struct {
			ID       string `json:"id"`
			Revision uint64 `json:"revision"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &created))
	tag := h.Get("ETag")
	require.Equal(t, `"`+strconv.FormatUint(created.Data.Revision, 10)+`"`, tag)
	require.Equal(t, "/v1/initiatives/"+created.Data.ID, h.Get("Location"))
	path := "/v1/initiatives/" + created.Data.ID
	e.do(oasCall{method: "POST", target: "/v1/initiatives", token: cfo, body: createBody, contentType: "application/json",
		want: 409, code: "conflict"})
	e.do(oasCall{method: "POST", target: "/v1/initiatives", token: cfo, body: []byte(`{"recommendation_id":"rec_0000000000000000"}`),
		contentType: "application/json", want: 400, code: "bad_parameter"})
	e.do(oasCall{method: "POST", target: "/v1/initiatives", token: cfo, body: []byte(`{"recommendation_id":"` + recID + `","extra":1}`),
		contentType: "application/json", want: 400, code: "bad_parameter", invalidRequest: true})
	e.do(oasCall{method: "POST", target: "/v1/initiatives", token: ops, body: createBody, contentType: "application/json",
		want: 403, code: "forbidden"})
	h, _ = e.do(oasCall{method: "GET", target: path, token: cfo, want: 200})
	require.Equal(t, tag, h.Get("ETag"))
	e.do(oasCall{method: "GET", target: "/v1/initiatives", token: cfo, want: 200})
	e.do(oasCall{method: "GET", target: "/v1/initiatives" + q("status", "proposed"), token: cfo, want: 200})
	e.do(oasCall{method: "GET", target: "/v1/initiatives/ini_0000000000000000", token: cfo, want: 404, code: "not_found"})
	e.do(oasCall{method: "PATCH", target: path, token: cfo, body: []byte(`{"status":"in_progress"}`), contentType: "application/json",
		want: 428, code: "precondition_required", invalidRequest: true})
	h, _ = e.do(oasCall{method: "PATCH", target: path, token: cfo, body: []byte(`{"status":"in_progress","owner":"ops-team"}`),
		contentType: "application/json", header: map[string]string{"If-Match": tag}, want: 200})
	newTag := h.Get("ETag")
	require.NotEqual(t, tag, newTag)
	h, _ = e.do(oasCall{method: "PATCH", target: path, token: cfo, body: []byte(`{"notes":"a lost update"}`),
		contentType: "application/json", header: map[string]string{"If-Match": tag}, want: 412, code: "precondition_failed"})
	require.Equal(t, newTag, h.Get("ETag"), "412 carries the current ETag")
	e.do(oasCall{method: "PATCH", target: path, token: cfo, body: []byte(`{"status":"proposed"}`), contentType: "application/json",
		header: map[string]string{"If-Match": newTag}, want: 409, code: "conflict"})
	e.do(oasCall{method: "PATCH", target: path, token: cfo, body: []byte(`{}`), contentType: "application/json",
		header: map[string]string{"If-Match": newTag}, want: 400, code: "bad_parameter", invalidRequest: true})
	e.do(oasCall{method: "PATCH", target: "/v1/initiatives/ini_0000000000000000", token: cfo, body: []byte(`{"notes":"x"}`),
		contentType: "application/json", header: map[string]string{"If-Match": `"1"`}, want: 404, code: "not_found"})
	changed := now.Add(-24 * time.Hour).Truncate(time.Hour)
	_, body = e.do(oasCall{method: "PATCH", target: path, token: cfo,
		body:        []byte(fmt.Sprintf(`{"status":"succeeded","changed_at":%q}`, changed.Format(time.RFC3339))),
		contentType: "application/json", header: map[string]string{"If-Match": newTag}, want: 200})
	require.Contains(t, string(body), `"realized_savings"`, "a succeeded initiative carries its realized savings")
	e.do(oasCall{method: "GET", target: path, token: cfo, want: 200})
	e.do(oasCall{method: "GET", target: "/v1/initiatives", token: cfo, want: 200})

	// Query API errors.
	for _, c := range []oasCall{
		{target: "/v1/rollups/email-volume" + q("step", "5m"), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/rollups/vps-utilization" + q("step", "2h"), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/rollups/events" + q("provider", "x"), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/rollups/email-volume" + q("from", "yesterday"), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/rollups/vps-utilization" + q("group_by", "tenant_id,colour"), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/segments" + q("at", "soon"), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/freshness" + q("verbose", "1"), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/costs/overview" + q("from", ts(now), "to", ts(now.Add(-48*time.Hour))), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/costs/overview" + q("to", ts(now.Add(72*time.Hour))), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/costs/breakdown" + q("by", "colour"), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/costs/breakdown" + q("step", "1h"), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/tenants/bad.tenant/costs", token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/vendors/compare" + q("kind", "sms"), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/recommendations" + q("kind", "buy_more"), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/recommendations" + q("limit", "0"), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/costs/breakdown" + q("cursor", "x"), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/recommendations/rec_", token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/recommendations/rec_0000000000000000", token: cfo, want: 404, code: "not_found"},
		{target: "/v1/initiatives" + q("owner", "x"), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/initiatives" + q("status", "paused"), token: cfo, want: 400, code: "bad_parameter"},
		{target: "/v1/freshness", want: 401, code: "unauthenticated"},
		{target: "/v1/costs/overview", token: "not-a-jwt", want: 401, code: "unauthenticated"},
		{target: "/v1/initiatives", want: 401, code: "unauthenticated"},
		{target: "/v1/costs/overview", token: ops, want: 403, code: "forbidden"},
		{target: "/v1/costs/breakdown" + q("by", "tenant"), token: procurement, want: 403, code: "forbidden"},
		{target: "/v1/tenants/" + other + "/costs", token: admin, want: 403, code: "forbidden"},
		{target: "/v1/rollups/email-volume" + q("tenant_id", other), token: admin, want: 403, code: "forbidden"},
		{target: "/v1/segments", token: ops, want: 403, code: "forbidden"},
		{target: "/v1/vendors/compare", token: admin, want: 403, code: "forbidden"},
		{target: "/v1/recommendations", token: admin, want: 403, code: "forbidden"},
		{target: "/v1/recommendations/" + recID, token: admin, want: 403, code: "forbidden"},
		{target: "/v1/initiatives", token: procurement, want: 403, code: "forbidden"},
		{target: "/v1/initiatives/" + created.Data.ID, token: admin, want: 403, code: "forbidden"},
	} {
		c.method = "GET"
		c.invalidRequest = c.want == 400 || c.want == 401
		e.do(c)
	}
	// Outside the operations: unknown paths and other methods answer the same error body.
	e.doOutside(oasCall{method: "GET", target: "/v1/nope", token: cfo, want: 404, code: "not_found"}, "/components/schemas/Error")
	e.doOutside(oasCall{method: "GET", target: "/v1/events", token: cfo, want: 404, code: "not_found"}, "/components/schemas/Error")
	h = e.doOutside(oasCall{method: "DELETE", target: "/v1/freshness", token: cfo, want: 405, code: "method_not_allowed"},
		"/components/schemas/Error")
	require.NotEmpty(t, h.Get("Allow"))
	e.doOutside(oasCall{method: "PUT", target: "/batch/", want: 405, code: "method_not_allowed"}, "/components/schemas/CaptureError")

	// Rate limit: one caller's burst (100) exceeded; the first 429 is validated. The requests are
	// refused (400) right after the limiter, so they cost the server nothing.
	burst := oasToken(t, "openapi-burst", auth.RoleCFO, "")
	var wg sync.WaitGroup
	var mu429 sync.Mutex
	var h429 http.Header
	var b429 []byte
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 75 {
				mu429.Lock()
				done := h429 != nil
				mu429.Unlock()
				if done {
					return
				}
				req, _ := http.NewRequest(http.MethodGet, base+"/v1/freshness?burst=1", nil)
				req.Header.Set("Authorization", "Bearer "+burst)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu429.Lock()
				if resp.StatusCode == http.StatusTooManyRequests && h429 == nil {
					h429, b429 = resp.Header, b
				}
				mu429.Unlock()
			}
		}()
	}
	wg.Wait()
	require.NotNil(t, h429, "600 requests of one caller at once reach its rate limit")
	e.record("GET", "/v1/freshness", http.StatusTooManyRequests, h429, b429)
	e.checkCode(oasCall{method: "GET", target: "/v1/freshness", code: "rate_limited"}, b429)

	// Every documented operation answered at least once with a success, validated.
	var lines []string
	for _, op := range doc.ops {
		statuses := e.covered[op.key()]
		ok2xx := false
		var codes []string
		for s, n := range statuses {
			codes = append(codes, fmt.Sprintf("%d×%d", s, n))
			ok2xx = ok2xx || s/100 == 2
		}
		sort.Strings(codes)
		lines = append(lines, fmt.Sprintf("%-40s %s", op.key(), strings.Join(codes, " ")))
		if op.key() == "GET /ui/assets/{name}" && len(statuses) > 0 && !ok2xx {
			continue // the page links no asset yet
		}
		require.True(t, ok2xx, "%s was never exercised with a success", op.key())
	}
	t.Logf("validated %d responses against openapi.json:\n%s", e.validate, strings.Join(lines, "\n"))
}
