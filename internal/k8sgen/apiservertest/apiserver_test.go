package apiservertest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	servertesting "k8s.io/apiextensions-apiserver/pkg/cmd/server/testing"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/k8sgen"
	"github.com/aigw/aigw/internal/run"
)

var crdDirs = []string{"../../../../shared/fixtures/crds", "../../../../shared/fixtures/crds-gateway"}

var testEnv = map[string]string{
	"OPENAI_API_KEY": "sk-a", "ANTHROPIC_API_KEY": "sk-b", "AZURE_OPENAI_API_KEY": "sk-c", "AZURE_OPENAI_RESOURCE": "example",
	"GEMINI_API_KEY": "k", "COHERE_API_KEY": "k", "MISTRAL_API_KEY": "k", "GROQ_API_KEY": "k", "TOGETHER_API_KEY": "k",
	"DEEPINFRA_API_KEY": "k", "DEEPSEEK_API_KEY": "k", "SAMBANOVA_API_KEY": "k", "XAI_API_KEY": "k", "HUNYUAN_API_KEY": "k",
	"OPENROUTER_API_KEY": "k", "AZURE_CLIENT_SECRET": "k", "GITHUB_TOKEN": "k", "AWS_OIDC_CLIENT_SECRET": "k",
}

// mcpEnv is the MCP JSON case's: its servers' secrets and no provider key (an MCP-only Model).
var mcpEnv = map[string]string{"EVERYTHING_TOKEN": "k", "FS_TOKEN": "k", "GITHUB_TOKEN": "k", "SEARCH_KEY": "k", "LEGACY_KEY": "k"}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startEtcd runs Debian's etcd (etcd-server) on free loopback ports until the test ends.
func startEtcd(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd is not installed (apt-get install etcd-server): the API server cannot start")
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "--data-dir", t.TempDir(), "--name", "test",
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "test="+peer, "--log-level", "error")
	cmd.Env = append(os.Environ(), "ETCD_UNSUPPORTED_ARCH="+os.Getenv("ETCD_UNSUPPORTED_ARCH"))
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Skipf("etcd cannot start: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(client + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return client
			}
		}
		select {
		case <-done:
			t.Skipf("etcd exited at start: %s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd did not become healthy: %s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startAPIServer starts the apiextensions API server on etcdURL and installs every fixture CRD.
func startAPIServer(t *testing.T, etcdURL string) (*rest.Config, map[string]string) {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	// The server's delegated authn/authz want a kubeconfig; it is never contacted.
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "http://127.0.0.1:1"}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
users: [{name: none, user: {}}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := servertesting.StartTestServer(t, nil, []string{
		"--etcd-prefix", "/aigw-test",
		"--etcd-servers", etcdURL,
		"--authentication-skip-lookup",
		"--authentication-kubeconfig", kubeconfig,
		"--authorization-kubeconfig", kubeconfig,
		"--kubeconfig", kubeconfig,
		"--enable-priority-and-fairness=false",
		"--disable-admission-plugins", "NamespaceLifecycle,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy",
	}, nil)
	if err != nil {
		t.Skipf("the API server cannot start: %v", err)
	}
	t.Cleanup(s.TearDownFn)

	cs, err := clientset.NewForConfig(s.ClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var names []string
	plurals := map[string]string{} // group/Kind → resource
	for _, dir := range crdDirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var crd apiextensionsv1.CustomResourceDefinition
			if err := sigsyaml.Unmarshal(data, &crd); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			crd.ResourceVersion = ""
			if _, err := cs.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &crd, metav1.CreateOptions{}); err != nil {
				t.Fatalf("installing %s: %v", f, err)
			}
			names = append(names, crd.Name)
			plurals[crd.Spec.Group+"/"+crd.Spec.Names.Kind] = crd.Spec.Names.Plural
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range names {
		for {
			crd, err := cs.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, n, metav1.GetOptions{})
			if err == nil && established(crd) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("CRD %s not established: %v", n, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return s.ClientConfig, plurals
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// models are the inputs rendered: every configs/ example, k8sgen's own cases (edge, MCPRoutes,
// cloud credentials), the MCP JSON case and the environment.
func models(t *testing.T) map[string]*config.Model {
	t.Helper()
	out := map[string]*config.Model{}
	files, _ := filepath.Glob("../../../configs/*.yaml")
	ins, _ := filepath.Glob("../testdata/*.in.yaml")
	files = append(files, ins...)
	jsons, _ := filepath.Glob("../testdata/*.in.json")
	for _, f := range jsons {
		m, err := run.LoadModel(run.Options{MCPConfigPath: f, Getenv: func(k string) string { return mcpEnv[k] }})
		if err != nil {
			t.Fatal(err)
		}
		out[f] = m
	}
	for _, f := range files {
		if filepath.Base(f) == "prices.yaml" {
			continue
		}
		m, err := config.LoadFile(f, func(k string) string { return testEnv[k] })
		if err != nil {
			t.Fatal(err)
		}
		out[f] = m
	}
	env := map[string]string{"OPENAI_API_KEY": "sk-a", "ANTHROPIC_API_KEY": "sk-b", "OPENAI_ORG_ID": "org-1"}
	m, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	out["environment"] = m
	if len(out) < 10 {
		t.Fatalf("only %d inputs", len(out))
	}
	return out
}

// TestAPIServerAcceptsRendering creates every rendered object of a CRD kind in a real API server
// (server-side dry run with strict field validation: OpenAPI schema, CEL rules, defaulting).
// kubectl_test.go sends the same objects through kubectl.
func TestAPIServerAcceptsRendering(t *testing.T) {
	for _, d := range crdDirs {
		if fs, _ := filepath.Glob(filepath.Join(d, "*.yaml")); len(fs) == 0 {
			t.Skipf("CRD schemas not found in %s", d)
		}
	}
	cfg, plurals := startAPIServer(t, startEtcd(t))
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	created, kinds := 0, map[string]int{}
	inputs := models(t)
	for name, m := range inputs {
		res, err := k8sgen.Render(m, k8sgen.Options{Namespace: "aigw-test", GatewayClass: "aigw", RenderGatewayClass: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			if o.Value == nil || o.Kind == "Secret" || o.Kind == "ConfigMap" {
				continue // a comment only; core kinds: the apiextensions server serves CRDs only
			}
			plain, err := k8sgen.Plain(o.Value)
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(mustJSON(t, plain)); err != nil {
				t.Fatal(err)
			}
			gvk := u.GroupVersionKind()
			gvr := gvk.GroupVersion().WithResource(plurals[gvk.Group+"/"+gvk.Kind])
			var ri dynamic.ResourceInterface = dyn.Resource(gvr)
			if u.GetNamespace() != "" {
				ri = dyn.Resource(gvr).Namespace(u.GetNamespace())
			}
			if _, err := ri.Create(ctx, u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}); err != nil {
				t.Errorf("%s: %s %q (%s) rejected: %v", name, o.Kind, o.Name, gvr, err)
				continue
			}
			created++
			kinds[o.Kind]++
		}
	}
	t.Logf("the API server accepted %d rendered objects: %v", created, kinds)
	for _, k := range []string{"MCPRoute", "BackendSecurityPolicy", "Backend", "BackendTrafficPolicy", "QuotaPolicy"} {
		if kinds[k] == 0 {
			t.Errorf("no %s was created", k)
		}
	}

	// The server does reject what the CRDs forbid (a reserved rule name, an unknown field).
	bad := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "aigateway.envoyproxy.io/v1beta1", "kind": "AIGatewayRoute",
		"metadata": map[string]any{"name": "bad", "namespace": "aigw-test"},
		"spec": map[string]any{"rules": []any{map[string]any{"name": "route-not-found",
			"backendRefs": []any{map[string]any{"name": "b"}}}}, "bogus": true},
	}}
	gvr := bad.GroupVersionKind().GroupVersion().WithResource(plurals["aigateway.envoyproxy.io/AIGatewayRoute"])
	if _, err := dyn.Resource(gvr).Namespace("aigw-test").Create(ctx, bad, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}); err == nil {
		t.Error("the API server accepted an invalid AIGatewayRoute: the check above proves nothing")
	}
	if created < 50 {
		t.Errorf("only %d objects created", created)
	}

}

func mustJSON(t *testing.T, v map[string]any) []byte {
	t.Helper()
	data, err := sigsyaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	js, err := sigsyaml.YAMLToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
