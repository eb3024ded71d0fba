package events

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
)

// The published JSON Schemas (jsonschema/*.schema.json) must agree with Decode: every valid sample
// passes them, every invalid sample that a schema can express fails them, and their required lists
// are exactly the fields whose absence Decode reports as missing.

const schemaBase = "https://github.com/spendstream/spendstream/schemas/events/jsonschema/"

// schemaCannotExpress lists the invalid samples that JSON Schema passes, and why. Keep it short.
var schemaCannotExpress = map[string]string{
	"malformed__-__duplicate_id.json": "JSON Schema sees one value per key (the last); Decode refuses repeated keys",
}

// compileSchemas compiles every schema file, asserting formats (date-time, ipv4, ipv6).
func compileSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("jsonschema", "*.schema.json"))
	require.NoError(t, err)
	require.Len(t, paths, 4)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	names := []string{}
	for _, p := range paths {
		doc := readJSON(t, p)
		name := filepath.Base(p)
		require.Equal(t, schemaBase+name, doc.(map[string]any)["$id"], "%s: $id", p)
		require.Equal(t, "https://json-schema.org/draft/2020-12/schema", doc.(map[string]any)["$schema"], "%s: $schema", p)
		require.NoError(t, c.AddResource(schemaBase+name, doc))
		names = append(names, name)
	}
	out := map[string]*jsonschema.Schema{}
	for _, name := range names {
		s, err := c.Compile(schemaBase + name)
		require.NoError(t, err, name)
		out[strings.TrimSuffix(name, ".schema.json")] = s
	}
	return out
}

func readJSON(t *testing.T, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err, path)
	return doc
}

// validateSample validates an event against the envelope schema and, when its type is a known
// one, against that type's schema; it returns the first failure.
func validateSample(schemas map[string]*jsonschema.Schema, doc any) error {
	if err := schemas["cloudevent-envelope"].Validate(doc); err != nil {
		return err
	}
	if obj, ok := doc.(map[string]any); ok {
		if typ, ok := obj["type"].(string); ok && schemas[typ] != nil {
			return schemas[typ].Validate(doc)
		}
	}
	return nil
}

func TestSchemasAgreeWithTestdata(t *testing.T) {
	schemas := compileSchemas(t)
	for name, raw := range testdataFiles(t, "valid") {
		t.Run("valid/"+name, func(t *testing.T) {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			require.NoError(t, err)
			require.NoError(t, validateSample(schemas, doc))
		})
	}
	for name, raw := range testdataFiles(t, "invalid") {
		t.Run("invalid/"+name, func(t *testing.T) {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				reason, _ := invalidExpectation(t, name)
				require.Equal(t, ReasonMalformed, reason, "only malformed samples may be unparseable")
				return
			}
			err = validateSample(schemas, doc)
			if why, ok := schemaCannotExpress[name]; ok {
				require.NoError(t, err, "listed as inexpressible (%s) but the schemas refuse it: drop it from the list", why)
				return
			}
			require.Error(t, err, "Decode refuses this sample; the schemas must too")
		})
	}
}

// TestSchemaRequiredMatchesDecode removes each member of a valid event in turn: Decode must report
// it missing exactly when the schema lists it as required.
func TestSchemaRequiredMatchesDecode(t *testing.T) {
	compileSchemas(t) // the files must at least compile
	envelope := readJSON(t, filepath.Join("jsonschema", "cloudevent-envelope.schema.json")).(map[string]any)
	envRequired := stringList(t, envelope["required"])
	for _, typ := range Types {
		doc := readJSON(t, filepath.Join("jsonschema", string(typ)+".schema.json")).(map[string]any)
		data := doc["properties"].(map[string]any)["data"].(map[string]any)
		dataRequired := stringList(t, data["required"])
		props := data["properties"].(map[string]any)

		t.Run(string(typ), func(t *testing.T) {
			// Every data field of the Go rules has a schema property, and vice versa.
			var goFields, schemaFields []string
			for _, f := range baseData[typ] {
				goFields = append(goFields, f.key)
			}
			for k := range props {
				schemaFields = append(schemaFields, k)
			}
			slices.Sort(goFields)
			slices.Sort(schemaFields)
			require.Equal(t, goFields, schemaFields)

			for _, f := range baseData[typ] {
				_, err := Decode(build(typ, nil, map[string]string{f.key: ""}), DefaultLimits())
				missing := ReasonOf(err) == ReasonMissingField
				require.Equal(t, slices.Contains(dataRequired, f.key), missing, "data.%s: %v", f.key, err)
			}
			for _, f := range append(baseEnvelope, field{key: "data"}) {
				_, err := Decode(build(typ, map[string]string{f.key: ""}, nil), DefaultLimits())
				refused := err != nil
				require.Equal(t, slices.Contains(envRequired, f.key), refused, "%s: %v", f.key, err)
			}
		})
	}
}

func stringList(t *testing.T, v any) []string {
	t.Helper()
	list, ok := v.([]any)
	require.True(t, ok, "want a list, got %T", v)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		require.True(t, ok)
		out = append(out, s)
	}
	return out
}
