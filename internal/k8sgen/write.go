package k8sgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	sigsyaml "sigs.k8s.io/yaml"
)

// Plain turns a rendered object into the JSON-like map that is written. The CRD types are the
// loader's, whose fields have no omitempty, and metav1 writes creationTimestamp: null, so unset
// fields are dropped here: nulls, empty strings, maps and lists. The one empty value that means
// something is group "" (the core API group, required in a LocalObjectReference), which is kept.
func Plain(v any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	prune(m)
	return m, nil
}

func prune(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any:
		for k, e := range x {
			if k == "group" && e == "" {
				continue
			}
			if prune(e) {
				delete(x, k)
			}
		}
		return len(x) == 0
	case []any:
		for _, e := range x {
			prune(e)
		}
		return len(x) == 0
	}
	return false
}

// header starts every YAML output.
func header(source string) string {
	return "# Rendered by `aigw render manifests` from " + source + ".\n"
}

// WriteYAML writes the objects as one multi-document YAML stream. A comment-only object (what
// could not be rendered, said where it would have been) goes at the top of the next document.
func WriteYAML(w *bytes.Buffer, source string, objs []Object) error {
	w.WriteString(header(source))
	var pending strings.Builder
	wrote := false
	for _, o := range objs {
		if o.Value == nil {
			pending.WriteString(comment(o.Comment))
			continue
		}
		if wrote {
			w.WriteString("---\n")
		}
		w.WriteString(pending.String())
		pending.Reset()
		w.WriteString(comment(o.Comment))
		if err := writeOne(w, o); err != nil {
			return err
		}
		wrote = true
	}
	w.WriteString(pending.String())
	return nil
}

// comment turns text into YAML comment lines.
func comment(text string) string {
	if text == "" {
		return ""
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		b.WriteString(strings.TrimRight("# "+l, " ") + "\n")
	}
	return b.String()
}

func writeOne(w *bytes.Buffer, o Object) error {
	m, err := Plain(o.Value)
	if err != nil {
		return fmt.Errorf("%s %q: %w", o.Kind, o.Name, err)
	}
	y, err := sigsyaml.Marshal(m)
	if err != nil {
		return fmt.Errorf("%s %q: %w", o.Kind, o.Name, err)
	}
	w.Write(y)
	return nil
}

// WriteJSON writes the objects as one v1 List, which kubectl and aigw both read.
func WriteJSON(w *bytes.Buffer, objs []Object) error {
	items := make([]map[string]any, 0, len(objs))
	for _, o := range objs {
		if o.Value == nil {
			continue // JSON has no comments; the warnings say the same
		}
		m, err := Plain(o.Value)
		if err != nil {
			return fmt.Errorf("%s %q: %w", o.Kind, o.Name, err)
		}
		items = append(items, m)
	}
	data, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "  ")
	if err != nil {
		return err
	}
	w.Write(data)
	w.WriteByte('\n')
	return nil
}

// WriteDir writes one file per kind (gateway.yaml, aigatewayroute.yaml, ...) and a
// kustomization.yaml listing them, and returns the files written.
func WriteDir(dir, source string, objs []Object) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files := map[string]*bytes.Buffer{}
	pending := map[string]string{} // comments waiting for the next object of their file
	var order []string
	var orphans strings.Builder // comments of a kind that has no object
	for _, o := range objs {
		f := strings.ToLower(o.Kind) + ".yaml"
		if o.Value == nil {
			pending[f] += comment(o.Comment)
			continue
		}
		b, ok := files[f]
		if !ok {
			b = &bytes.Buffer{}
			b.WriteString(header(source))
			files[f] = b
			order = append(order, f)
		} else {
			b.WriteString("---\n")
		}
		b.WriteString(pending[f])
		delete(pending, f)
		b.WriteString(comment(o.Comment))
		if err := writeOne(b, o); err != nil {
			return nil, err
		}
	}
	for _, o := range objs {
		f := strings.ToLower(o.Kind) + ".yaml"
		if c, ok := pending[f]; ok {
			if b, has := files[f]; has {
				b.WriteString(c)
			} else {
				orphans.WriteString(c)
			}
			delete(pending, f)
		}
	}
	var k bytes.Buffer
	k.WriteString(header(source) + orphans.String() + "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	for _, f := range order {
		k.WriteString("  - " + f + "\n")
	}
	files["kustomization.yaml"] = &k
	order = append(order, "kustomization.yaml")
	var written []string
	for _, f := range order {
		p := filepath.Join(dir, f)
		// Secrets may hold real values (--include-secrets): no file is readable by others.
		if err := os.WriteFile(p, files[f].Bytes(), 0o600); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}
