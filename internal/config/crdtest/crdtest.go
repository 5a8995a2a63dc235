// Package crdtest validates Kubernetes objects against CRD schemas the way the API server does
// (defaulting, pruning of unknown fields, the OpenAPI schema, then the CEL rules), for tests of
// code that writes such objects. The schemas are data files outside the repository
// (../shared/fixtures); tests skip when they are absent.
package crdtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	kjson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	sigsyaml "sigs.k8s.io/yaml"
)

// Version is one served version of a CRD, ready to validate objects.
type Version struct {
	// Props is the version's OpenAPI schema, for tests that compare it with Go types.
	Props      *apiextensions.JSONSchemaProps
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// Schemas are CRD versions by "group/version/Kind".
type Schemas map[string]*Version

var (
	mu    sync.Mutex
	cache = map[string]Schemas{}
)

// Load reads every CRD in dirs, skipping t when a directory has none. Results are cached per
// set of directories, as compiling the CEL rules is slow.
func Load(t testing.TB, dirs ...string) Schemas {
	t.Helper()
	var files []string
	for _, d := range dirs {
		fs, _ := filepath.Glob(filepath.Join(d, "*.yaml"))
		if len(fs) == 0 {
			t.Skipf("CRD schemas not found in %s (the shared fixtures are not checked out)", d)
		}
		files = append(files, fs...)
	}
	k := strings.Join(dirs, "\x00")
	mu.Lock()
	defer mu.Unlock()
	if s, ok := cache[k]; ok {
		return s
	}
	s, err := read(files)
	if err != nil {
		t.Fatal(err)
	}
	cache[k] = s
	return s
}

func read(files []string) (Schemas, error) {
	out := Schemas{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := sigsyaml.Unmarshal(data, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema == nil {
				continue
			}
			props := &apiextensions.JSONSchemaProps{}
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, props, nil); err != nil {
				return nil, fmt.Errorf("%s %s: %w", f, v.Name, err)
			}
			structural, err := structuralschema.NewStructural(props)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", f, v.Name, err)
			}
			validator, _, err := apiservervalidation.NewSchemaValidator(props)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", f, v.Name, err)
			}
			out[crd.Spec.Group+"/"+v.Name+"/"+crd.Spec.Names.Kind] = &Version{
				Props: props, structural: structural, validator: validator,
				cel: cel.NewValidator(structural, true, celconfig.PerCallLimit),
			}
		}
	}
	return out, nil
}

// Validate returns the API server's complaints about obj (a JSON-like map, as decoded from JSON;
// it is defaulted and pruned in place), and false when no CRD of the schemas serves its kind.
func (s Schemas) Validate(obj map[string]any) ([]string, bool) {
	av, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	c, ok := s[av+"/"+kind]
	if !ok {
		return nil, false
	}
	// A copy with JSON numbers as int64 or float64, as the API server decodes them.
	data, err := json.Marshal(obj)
	if err != nil {
		return []string{err.Error()}, true
	}
	obj = nil
	if err := kjson.Unmarshal(data, &obj); err != nil {
		return []string{err.Error()}, true
	}
	var msgs []string
	structuraldefaulting.Default(obj, c.structural)
	for _, p := range pruning.PruneWithOptions(obj, c.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		if !strings.HasPrefix(p, "metadata.") {
			msgs = append(msgs, "unknown field "+p)
		}
	}
	for _, e := range apiservervalidation.ValidateCustomResource(nil, obj, c.validator) {
		msgs = append(msgs, e.Error())
	}
	errs, _ := c.cel.Validate(context.Background(), field.NewPath(""), c.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	return msgs, true
}
