package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

const secretDoc = `apiVersion: v1
kind: Secret
metadata:
  name: s
  annotations:
    substitution.aigw.run/env/fromEnv: MY_KEY
    substitution.aigw.run/file/fromFile: ~/key.txt
stringData:
  plain: "${A}-${B:=b}-${C:-c}-$${LITERAL}"
  fromEnv: placeholder
  port: ${PORT:=80}
---
apiVersion: v1
kind: Secret
metadata:
  name: t
data:
  apiKey: c2stZGF0YQ==
`

// TestSecretResolution checks the values that golden files can only show redacted.
func TestSecretResolution(t *testing.T) {
	env := envOf(map[string]string{"A": "a", "MY_KEY": "from-env", "HOME": "/home/u"})
	var read []string
	readFile := func(p string) ([]byte, error) {
		read = append(read, p)
		if p == "/home/u/key.txt" {
			return []byte("from-file\n"), nil
		}
		return nil, os.ErrNotExist
	}
	p := &parsed{d: newDecoder("x.yaml"), getenv: env, readFile: readFile, names: map[string]int{}}
	p.parse([]byte(secretDoc))
	p.build()
	if len(p.d.errs) > 0 {
		t.Fatal(sortedMessages(p.d.errs))
	}
	s := p.secretDataForTest("default/s")
	for k, want := range map[string]string{"plain": "a-b-c-${LITERAL}", "fromEnv": "from-env", "fromFile": "from-file\n", "port": "80"} {
		if s[k] != want {
			t.Errorf("%s = %q, want %q", k, s[k], want)
		}
	}
	if got := p.secretDataForTest("default/t")["apiKey"]; got != "sk-data" {
		t.Errorf("data apiKey = %q", got)
	}
	if len(read) == 0 || read[0] != "/home/u/key.txt" || p.model.Files[0] != "/home/u/key.txt" {
		t.Errorf("read %v, files %v", read, p.model.Files)
	}
}

func (p *parsed) secretDataForTest(k string) map[string]string {
	for _, s := range p.secrets {
		if key(s.Metadata) == k {
			b := &builder{parsed: p, secretData: map[string]*resolvedSecret{}}
			b.indexSecrets()
			return b.secretData[k].data
		}
	}
	return nil
}

func TestLoadRevealsKeys(t *testing.T) {
	m, err := LoadFile("testdata/multi_v1beta1.in.yaml", envOf(goldenEnv))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"openai": "sk-from-annotation", "anthropic": "sk-from-file", "azure": "az-from-data"}
	for _, b := range m.Backends {
		if got := b.Auth.Key.Reveal(); got != want[b.Name] {
			t.Errorf("%s key = %q, want %q", b.Name, got, want[b.Name])
		}
	}
}

func TestLoadFileMissing(t *testing.T) {
	if _, err := LoadFile("testdata/nope.yaml", envOf(nil)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v", err)
	}
}

func TestBareVariableWarning(t *testing.T) {
	m, err := load("x.yaml", []byte(strings.Replace(`apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {apiKey: $OPENAI_API_KEY}
`, "\t", "", -1)), envOf(map[string]string{"OPENAI_API_KEY": "k"}), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) != 1 || !contains(m.Warnings[0], "x.yaml:4: $OPENAI_API_KEY is not substituted: write ${OPENAI_API_KEY}") {
		t.Errorf("warnings %q", m.Warnings)
	}
}

func TestIntersectHost(t *testing.T) {
	cases := []struct{ l, h, want string }{
		{"api.example.com", "api.example.com", "api.example.com"},
		{"*.example.com", "api.example.com", "api.example.com"},
		{"api.example.com", "*.example.com", "api.example.com"},
		{"*.example.com", "*.foo.example.com", "*.foo.example.com"},
		{"*.foo.example.com", "*.example.com", "*.foo.example.com"},
		{"*.example.com", "example.com", ""},
		{"a.com", "b.com", ""},
	}
	for _, c := range cases {
		got, ok := intersectHost(c.l, c.h)
		if ok != (c.want != "") || ok && got != c.want {
			t.Errorf("intersectHost(%q, %q) = %q, %v", c.l, c.h, got, ok)
		}
	}
}

func TestSummary(t *testing.T) {
	m, err := LoadFile("testdata/multi_v1beta1.in.yaml", envOf(goldenEnv))
	if err != nil {
		t.Fatal(err)
	}
	s := Summary(m)
	for _, want := range []string{
		"testdata/multi_v1beta1.in.yaml: 1 route(s), 3 backend(s), listener port 8080",
		"main/1: x-ai-eg-model = claude-sonnet -> anthropic (weight 1), openai (weight 1, priority 1, model gpt-4o) [timeout 30s, stream idle 10s, 3 retries]",
		"backend azure: AzureOpenAI https://10.0.0.7:8443 api-version 2024-10-21 (AzureAPIKey)",
		"global costs: llm_total_token=TotalToken",
	} {
		if !contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	for _, secret := range []string{"sk-from-annotation", "sk-from-file", "az-from-data"} {
		if contains(s, secret) {
			t.Errorf("summary shows a secret")
		}
	}
}
