package k8sgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

// TestSecretSourcesFromConfigFile: a key given as ${VAR} in a Secret, by an env substitution
// annotation or by a file substitution annotation keeps its source on the rendered Secret
// (aigw.run/secret-source and aigw's substitution annotation), so that the placeholder output
// loads back with the real keys; an inline key has no source and stays a placeholder.
func TestSecretSourcesFromConfigFile(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.txt")
	const fileKey, varKey, annKey, inlineKey = "sk-from-file-2c8d", "sk-from-var-91e3", "sk-from-annotation-5a0b", "sk-inline-7f1e"
	if err := os.WriteFile(keyFile, []byte(fileKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	in.WriteString("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  gatewayClassName: aigw\n  listeners: [{name: http, protocol: HTTP, port: 1975}]\n")
	secrets := map[string]string{
		"var":    "stringData:\n  apiKey: ${SOURCE_TEST_KEY}",
		"ann":    "metadata: {name: ann, annotations: {substitution.aigw.run/env/apiKey: SOURCE_TEST_ANN}}",
		"file":   "metadata: {name: file, annotations: {substitution.aigw.run/file/apiKey: " + keyFile + "}}",
		"inline": "stringData: {apiKey: " + inlineKey + "}",
	}
	for _, n := range []string{"var", "ann", "file", "inline"} {
		in.WriteString("---\napiVersion: aigateway.envoyproxy.io/v1beta1\nkind: AIGatewayRoute\nmetadata: {name: " + n + "}\nspec:\n  parentRefs: [{name: gw}]\n  rules:\n    - matches: [{headers: [{name: x-ai-eg-model, value: m-" + n + "}]}]\n      backendRefs: [{name: " + n + "}]\n")
		in.WriteString("---\napiVersion: aigateway.envoyproxy.io/v1beta1\nkind: AIServiceBackend\nmetadata: {name: " + n + "}\nspec:\n  schema: {name: OpenAI}\n  backendRef: {name: " + n + ", kind: Backend, group: gateway.envoyproxy.io}\n")
		in.WriteString("---\napiVersion: gateway.envoyproxy.io/v1alpha1\nkind: Backend\nmetadata: {name: " + n + "}\nspec:\n  endpoints: [{ip: {address: 10.0.0.1, port: 8000}}]\n")
		in.WriteString("---\napiVersion: aigateway.envoyproxy.io/v1beta1\nkind: BackendSecurityPolicy\nmetadata: {name: " + n + "}\nspec:\n  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: " + n + "}]\n  type: APIKey\n  apiKey: {secretRef: {name: " + n + "}}\n")
		s := secrets[n]
		if !strings.HasPrefix(s, "metadata:") {
			s = "metadata: {name: " + n + "}\n" + s
		}
		in.WriteString("---\napiVersion: v1\nkind: Secret\n" + s + "\n")
	}
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(in.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SOURCE_TEST_KEY": varKey, "SOURCE_TEST_ANN": annKey}
	m, err := config.LoadFile(path, getenvOf(env))
	if err != nil {
		t.Fatal(err)
	}
	res, out := render(t, m, false)
	for _, s := range []string{varKey, annKey, fileKey, inlineKey} {
		if strings.Contains(string(out), s) {
			t.Errorf("%q is in the output", s)
		}
	}
	want := map[string]SecretInfo{
		"var-api-key":    {Env: "SOURCE_TEST_KEY"},
		"ann-api-key":    {Env: "SOURCE_TEST_ANN"},
		"file-api-key":   {Path: keyFile},
		"inline-api-key": {},
	}
	for _, s := range res.Secrets {
		w, ok := want[s.Name]
		if !ok || s.Env != w.Env || s.Path != w.Path {
			t.Errorf("secret %s: env %q path %q, want %+v", s.Name, s.Env, s.Path, w)
		}
	}
	for _, line := range []string{"aigw.run/secret-source: env:SOURCE_TEST_KEY", "substitution.aigw.run/env/apiKey: SOURCE_TEST_ANN",
		"aigw.run/secret-source: file:" + keyFile, "substitution.aigw.run/file/apiKey: " + keyFile} {
		if !strings.Contains(string(out), line) {
			t.Errorf("output lacks %q", line)
		}
	}
	back := filepath.Join(dir, "rendered.yaml")
	if err := os.WriteFile(back, out, 0o600); err != nil {
		t.Fatal(err)
	}
	bm, err := config.LoadFile(back, getenvOf(env))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, b := range bm.Backends {
		got[b.Name] = b.Auth.Key.Reveal()
	}
	for name, key := range map[string]string{"var": varKey, "ann": annKey, "file": fileKey, "inline": Placeholder} {
		if got[name] != key {
			t.Errorf("backend %s loads back with key %q, want %q", name, got[name], key)
		}
	}
}
