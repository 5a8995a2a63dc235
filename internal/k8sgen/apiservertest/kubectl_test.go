package apiservertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/aigw/aigw/internal/k8sgen"
)

// coreDiscovery fronts the apiextensions test server for kubectl. That server serves each CRD
// group (/apis/<group>/<version>) but neither the core API nor the list of groups, and kubectl's
// discovery fails without /api and /apis; this proxy answers /api and /api/v1 with a core group
// that has no resources, /apis with the groups of the installed CRDs, and passes everything
// else, with the server's credentials, to the real server. So kubectl validates and dry-runs every CRD
// object for real; core objects (Secret, ConfigMap) cannot be sent (the server has no such
// resources) and are left out of what kubectl is given.
func coreDiscovery(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	target, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := clientset.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = tr
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"`+r.Host+`"}]}`)
		case "/api/v1":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"kind":"APIResourceList","groupVersion":"v1","resources":[]}`)
		case "/apis":
			// The server serves each CRD group (/apis/<group>/<version>) but not their list,
			// which the kube-apiserver's aggregator would: it is made from the CRDs installed.
			list, err := groupList(r.Context(), cs)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(list)
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// groupList is the API group list of the apiextensions group and every installed CRD's group,
// with the versions the CRDs serve (the storage version preferred).
func groupList(ctx context.Context, cs clientset.Interface) (*metav1.APIGroupList, error) {
	crds, err := cs.ApiextensionsV1().CustomResourceDefinitions().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	ext := apiextensionsv1.SchemeGroupVersion
	v := metav1.GroupVersionForDiscovery{GroupVersion: ext.String(), Version: ext.Version}
	list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"},
		Groups: []metav1.APIGroup{{Name: ext.Group, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v}}}
	byName := map[string]int{}
	for _, crd := range crds.Items {
		g := crd.Spec.Group
		i, ok := byName[g]
		if !ok {
			i = len(list.Groups)
			byName[g] = i
			list.Groups = append(list.Groups, metav1.APIGroup{Name: g})
		}
		for _, ver := range crd.Spec.Versions {
			if !ver.Served {
				continue
			}
			gv := metav1.GroupVersionForDiscovery{GroupVersion: g + "/" + ver.Name, Version: ver.Name}
			if !slices.Contains(list.Groups[i].Versions, gv) {
				list.Groups[i].Versions = append(list.Groups[i].Versions, gv)
			}
			if ver.Storage && list.Groups[i].PreferredVersion.Version == "" {
				list.Groups[i].PreferredVersion = gv
			}
		}
	}
	return list, nil
}

// writeKubeconfig writes a kubeconfig for a server without authentication (the proxy above).
func writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: server}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test", Namespace: "aigw-test"}
	kc.CurrentContext = "test"
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func kubectl(t *testing.T, bin, kubeconfig string, stdin []byte, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "KUBECACHEDIR="+t.TempDir())
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestKubectlApplyDryRun is the user's path: `aigw render manifests --out-dir DIR` then
// `kubectl apply -k DIR`, and `aigw render manifests | kubectl apply -f -`, each with
// --dry-run=server against the API server with the CRDs installed. Every input is rendered
// into a namespace of its own under one kustomization, so one kubectl run applies them all.
// Secrets and ConfigMaps are left out (see coreDiscovery).
func TestKubectlApplyDryRun(t *testing.T) {
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed (apt-get install kubernetes-client)")
	}
	for _, d := range crdDirs {
		if fs, _ := filepath.Glob(filepath.Join(d, "*.yaml")); len(fs) == 0 {
			t.Skipf("CRD schemas not found in %s", d)
		}
	}
	cfg, _ := startAPIServer(t, startEtcd(t))
	kc := writeKubeconfig(t, coreDiscovery(t, cfg))

	root := t.TempDir()
	inputs := models(t)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range inputs {
			if !yield(n) {
				return
			}
		}
	})
	var dirs []string
	want := 0
	var stream bytes.Buffer // the stdout path, for one input
	for i, name := range names {
		ns := fmt.Sprintf("in-%d", i)
		res, err := k8sgen.Render(inputs[name], k8sgen.Options{Namespace: ns, GatewayClass: "aigw-" + ns, RenderGatewayClass: true})
		if err != nil {
			t.Fatal(err)
		}
		var objs []k8sgen.Object
		for _, o := range res.Objects {
			if o.Kind == "Secret" || o.Kind == "ConfigMap" {
				continue
			}
			objs = append(objs, o)
			if o.Value != nil {
				want++
			}
		}
		dir := filepath.Join(root, ns)
		if _, err := k8sgen.WriteDir(dir, name, objs); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, ns)
		if strings.HasSuffix(name, "ratelimit.in.yaml") {
			if err := k8sgen.WriteYAML(&stream, name, objs); err != nil {
				t.Fatal(err)
			}
		}
	}
	kust := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
	for _, d := range dirs {
		kust += "  - " + d + "\n"
	}
	if err := os.WriteFile(filepath.Join(root, "kustomization.yaml"), []byte(kust), 0o600); err != nil {
		t.Fatal(err)
	}

	out, err := kubectl(t, bin, kc, nil, "apply", "--dry-run=server", "-k", root)
	if err != nil {
		t.Fatalf("kubectl apply -k: %v\n%s", err, out)
	}
	got := strings.Count(out, "(server dry run)")
	if got != want {
		t.Errorf("kubectl applied %d objects, want %d:\n%s", got, want, out)
	}
	t.Logf("kubectl apply --dry-run=server -k: %d objects from %d inputs", got, len(dirs))

	if stream.Len() == 0 {
		t.Fatal("the ratelimit case was not rendered")
	}
	out, err = kubectl(t, bin, kc, stream.Bytes(), "apply", "--dry-run=server", "-f", "-")
	if err != nil || !strings.Contains(out, "quotapolicy.aigateway.envoyproxy.io/primary-quota created (server dry run)") ||
		!strings.Contains(out, "backendtrafficpolicy.gateway.envoyproxy.io/aigw-rate-limits created (server dry run)") {
		t.Fatalf("kubectl apply -f -: %v\n%s", err, out)
	}

	// The server refuses what a CRD forbids, through kubectl too (so the runs above prove
	// something): a QuotaPolicy on a Backend instead of an AIServiceBackend breaks a CEL rule.
	bad := strings.Replace(stream.String(), "kind: AIServiceBackend\n    name: primary", "kind: Backend\n    name: primary", 1)
	if bad == stream.String() {
		t.Fatal("the QuotaPolicy target was not found to break")
	}
	out, err = kubectl(t, bin, kc, []byte(bad), "apply", "--dry-run=server", "-f", "-")
	if err == nil || !strings.Contains(out, "targetRefs must reference AIServiceBackend") {
		t.Fatalf("kubectl accepted a QuotaPolicy the CRD forbids: %v\n%s", err, out)
	}
}
