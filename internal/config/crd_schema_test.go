package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/config/crdtest"
	"go.yaml.in/yaml/v3"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	kjson "k8s.io/apimachinery/pkg/util/json"
	sigsyaml "sigs.k8s.io/yaml"
)

// The CRD schemas are the reference's contract. They stay in ../shared/fixtures (never copied
// here); these tests skip when that folder is absent.
const crdDir = "../../../shared/fixtures/crds"

// loadCRDs returns the served CRD versions by "group/version/Kind".
func loadCRDs(t *testing.T) crdtest.Schemas { return crdtest.Load(t, crdDir) }

// TestCRDValidatorRejects makes sure the schema check is not vacuous.
func TestCRDValidatorRejects(t *testing.T) {
	obj := map[string]any{
		"apiVersion": "aigateway.envoyproxy.io/v1beta1", "kind": "AIServiceBackend",
		"metadata": map[string]any{"name": "x"},
		"spec": map[string]any{
			"schema":     map[string]any{"name": "OpenAi"},
			"backendRef": map[string]any{"name": "b", "kind": "Service"},
			"timeouts":   map[string]any{},
		},
	}
	msgs, _ := loadCRDs(t).Validate(obj)
	got := strings.Join(msgs, "\n")
	for _, want := range []string{"unknown field spec.timeouts", `Unsupported value: "OpenAi"`, "BackendRef must be a Backend resource of Envoy Gateway"} {
		if !strings.Contains(got, want) {
			t.Errorf("validation lacks %q:\n%s", want, got)
		}
	}
}

// TestExampleConfigsMatchCRDs validates every object of every example in configs/ that has a CRD
// against it, after ${VAR} substitution.
func TestExampleConfigsMatchCRDs(t *testing.T) {
	crds := loadCRDs(t)
	for _, f := range exampleConfigs(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			checked := 0
			for _, obj := range substitutedObjects(t, f, exampleEnv) {
				msgs, ok := crds.Validate(obj)
				if !ok {
					continue // no CRD in the fixtures (Gateway API, core): aigw's own checks apply
				}
				checked++
				for _, msg := range msgs {
					t.Errorf("%s %q: %s", obj["kind"], obj["metadata"].(map[string]any)["name"], msg)
				}
			}
			if checked == 0 {
				t.Error("no object with a CRD was checked")
			}
		})
	}
}

// substitutedObjects returns the documents of a file after substitution, as JSON-like maps.
func substitutedObjects(t *testing.T, path string, env map[string]string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := newDecoder(path)
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var out []map[string]any
	for {
		var doc yaml.Node
		if dec.Decode(&doc) != nil {
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		d.substitute(&doc, envOf(env))
		var v any
		if err := doc.Decode(&v); err != nil {
			t.Fatal(err)
		}
		js, err := sigsyaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		js, err = sigsyaml.YAMLToJSON(js)
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := kjson.Unmarshal(js, &obj); err != nil {
			t.Fatal(err)
		}
		out = append(out, obj)
	}
	if len(d.errs) > 0 {
		t.Fatal(sortedMessages(d.errs))
	}
	return out
}

// TestTypesCoverCRDs walks the decoder's types against the CRD schemas: every property a CRD
// allows must be a field (or inside a *yaml.Node subtree), so that a valid file is never
// rejected as having an unknown field, and every field must be a property of the CRD.
func TestTypesCoverCRDs(t *testing.T) {
	crds := loadCRDs(t)
	types := map[string]reflect.Type{
		"AIGatewayRoute":        reflect.TypeFor[aiGatewayRouteSpec](),
		"AIServiceBackend":      reflect.TypeFor[aiServiceBackendSpec](),
		"BackendSecurityPolicy": reflect.TypeFor[backendSecurityPolicySpec](),
		"GatewayConfig":         reflect.TypeFor[gatewayConfigSpec](),
		"MCPRoute":              reflect.TypeFor[mcpRouteSpec](),
		"QuotaPolicy":           reflect.TypeFor[quotaPolicySpec](),
		"Backend":               reflect.TypeFor[egBackendSpec](),
	}
	for gvk, c := range crds {
		kind := gvk[strings.LastIndex(gvk, "/")+1:]
		typ, ok := types[kind]
		if !ok {
			t.Errorf("%s: no decoder type", gvk)
			continue
		}
		spec := c.Props.Properties["spec"]
		if gvk == "aigateway.envoyproxy.io/v1alpha1/BackendSecurityPolicy" {
			// credentialOverride is v1beta1 only; the builder rejects it in v1alpha1.
			spec.Properties["credentialOverride"] = apiextensions.JSONSchemaProps{}
		}
		compareSchema(t, gvk+" spec", &spec, typ)
	}
}

func compareSchema(t *testing.T, path string, s *apiextensions.JSONSchemaProps, typ reflect.Type) {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		if typ == yamlNodeType {
			return
		}
		if typ.Kind() == reflect.Slice && s.Items != nil && s.Items.Schema != nil {
			s = s.Items.Schema
		}
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct || len(s.Properties) == 0 {
		return
	}
	fields := structFields(typ)
	for name, prop := range s.Properties {
		f, ok := fields[name]
		if !ok {
			if restField(typ) < 0 {
				t.Errorf("%s.%s: in the CRD but not decoded (it would be rejected as unknown)", path, name)
			}
			continue
		}
		compareSchema(t, path+"."+name, &prop, typ.Field(f.index).Type)
	}
	for name, f := range fields {
		if _, ok := s.Properties[name]; !ok && f.removed == "" && f.deprecated == "" {
			t.Errorf("%s.%s: decoded but not in the CRD", path, name)
		}
	}
}
