package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadFile reads a multi-document CRD YAML (or JSON) file, substitutes ${VAR} and
// ${VAR:=default} from getenv, decodes strictly, applies defaults, validates, and compiles it to
// a Model. Errors carry "file:line: ..." (several are joined with errors.Join); warnings go in
// Model.Warnings. Model.Files lists the file and every file it references
// (substitution.aigw.run/file/... secrets).
func LoadFile(path string, getenv func(string) string) (*Model, error) {
	data, err := readConfigFile(path)
	if err != nil {
		return nil, err
	}
	return load(path, data, getenv, readSecretFile)
}

// load is LoadFile on bytes, with the file reader for substitution files as a seam for tests.
func load(path string, data []byte, getenv func(string) string, readFile func(string) ([]byte, error)) (*Model, error) {
	p := &parsed{d: newDecoder(path), getenv: getenv, readFile: readFile, names: map[string]int{}}
	p.parse(data)
	if len(p.d.errs) == 0 {
		// Compile only what decoded cleanly: errors of a half-decoded object would only repeat.
		p.build()
	}
	if len(p.d.errs) > 0 {
		msgs := sortedMessages(p.d.errs)
		errs := make([]error, len(msgs))
		for i, m := range msgs {
			errs[i] = errors.New(m)
		}
		return nil, errors.Join(errs...)
	}
	m := p.model
	m.Source = path
	m.Warnings = sortedMessages(p.d.warnings)
	if abs, err := filepath.Abs(path); err == nil {
		m.Files = append([]string{abs}, m.Files...)
	} else {
		m.Files = append([]string{path}, m.Files...)
	}
	return m, nil
}

// parsed is everything one file declared, decoded, before it is compiled to a Model.
type parsed struct {
	d        *decoder
	getenv   func(string) string
	readFile func(string) ([]byte, error)
	// names maps kind/namespace/name to the line that declared it, to find duplicates.
	names map[string]int

	gateways       []*object[gatewaySpec]
	gatewayClasses []*object[gatewayClassSpec]
	routes         []*object[aiGatewayRouteSpec]
	aiBackends     []*object[aiServiceBackendSpec]
	securityPols   []*object[backendSecurityPolicySpec]
	gatewayConfigs []*object[gatewayConfigSpec]
	mcpRoutes      []*object[mcpRouteSpec]
	quotaPolicies  []*object[quotaPolicySpec]
	backends       []*object[egBackendSpec]
	trafficPols    []*object[backendTrafficPolicySpec]
	tlsPols        []*object[backendTLSPolicySpec]
	secrets        []*secretObject
	configMaps     []*configMapObject

	model *Model
}

// kindSpec says which versions of a kind are served and how its documents are kept.
type kindSpec struct {
	versions []string
	// add decodes the document and keeps it; nil for kinds accepted without being honoured.
	add func(p *parsed, n *yaml.Node)
	// why a kind without add is not honoured, for its warning; "" accepts it silently.
	ignored string
}

const (
	groupAIGateway  = "aigateway.envoyproxy.io"
	groupEG         = "gateway.envoyproxy.io"
	groupGatewayAPI = "gateway.networking.k8s.io"
)

var (
	aigVersions = []string{"v1alpha1", "v1beta1"}
	egVersions  = []string{"v1alpha1"}
	gwVersions  = []string{"v1", "v1beta1"}
)

const notHonoured = "accepted, but the builtin data plane does not honour it"

// kinds lists every group → kind aigw accepts. An apiVersion or kind not here is an error.
var kinds = map[string]map[string]kindSpec{
	groupAIGateway: {
		"AIGatewayRoute":        {versions: aigVersions, add: adder(func(p *parsed) *[]*object[aiGatewayRouteSpec] { return &p.routes })},
		"AIServiceBackend":      {versions: aigVersions, add: adder(func(p *parsed) *[]*object[aiServiceBackendSpec] { return &p.aiBackends })},
		"BackendSecurityPolicy": {versions: aigVersions, add: adder(func(p *parsed) *[]*object[backendSecurityPolicySpec] { return &p.securityPols })},
		"GatewayConfig":         {versions: aigVersions, add: adder(func(p *parsed) *[]*object[gatewayConfigSpec] { return &p.gatewayConfigs })},
		"MCPRoute":              {versions: aigVersions, add: adder(func(p *parsed) *[]*object[mcpRouteSpec] { return &p.mcpRoutes })},
		"QuotaPolicy":           {versions: []string{"v1alpha1"}, add: adder(func(p *parsed) *[]*object[quotaPolicySpec] { return &p.quotaPolicies })},
	},
	groupEG: {
		"Backend":              {versions: egVersions, add: adder(func(p *parsed) *[]*object[egBackendSpec] { return &p.backends })},
		"BackendTrafficPolicy": {versions: egVersions, add: adder(func(p *parsed) *[]*object[backendTrafficPolicySpec] { return &p.trafficPols })},
		"EnvoyProxy":           {versions: egVersions, ignored: notHonoured},
		"ClientTrafficPolicy":  {versions: egVersions, ignored: notHonoured},
		"SecurityPolicy":       {versions: egVersions, ignored: notHonoured},
		"EnvoyExtensionPolicy": {versions: egVersions, ignored: notHonoured},
		"EnvoyPatchPolicy":     {versions: egVersions, ignored: notHonoured},
		"HTTPRouteFilter":      {versions: egVersions, ignored: notHonoured},
	},
	groupGatewayAPI: {
		"Gateway":          {versions: gwVersions, add: adder(func(p *parsed) *[]*object[gatewaySpec] { return &p.gateways })},
		"GatewayClass":     {versions: gwVersions, add: adder(func(p *parsed) *[]*object[gatewayClassSpec] { return &p.gatewayClasses })},
		"BackendTLSPolicy": {versions: []string{"v1alpha3", "v1"}, add: adder(func(p *parsed) *[]*object[backendTLSPolicySpec] { return &p.tlsPols })},
		"HTTPRoute":        {versions: gwVersions, ignored: notHonoured + " (AIGatewayRoute is what aigw serves)"},
		"GRPCRoute":        {versions: []string{"v1"}, ignored: notHonoured},
		"ReferenceGrant":   {versions: []string{"v1beta1", "v1alpha2"}, ignored: "accepted; aigw resolves references across namespaces without it"},
	},
	"": { // core/v1
		"Secret": {versions: []string{"v1"}, add: func(p *parsed, n *yaml.Node) { p.secrets = append(p.secrets, decodeObject[secretObject](p, n)) }},
		"ConfigMap": {versions: []string{"v1"}, add: func(p *parsed, n *yaml.Node) {
			p.configMaps = append(p.configMaps, decodeObject[configMapObject](p, n))
		}},
		"Namespace": {versions: []string{"v1"}},
		"Service":   {versions: []string{"v1"}, ignored: notHonoured + " (use an Envoy Gateway Backend)"},
	},
	"inference.networking.k8s.io": {
		"InferencePool": {versions: []string{"v1"}, ignored: notHonoured},
	},
}

// adder returns a kindSpec.add that decodes into object[S] and appends it to the list.
func adder[S any](list func(*parsed) *[]*object[S]) func(*parsed, *yaml.Node) {
	return func(p *parsed, n *yaml.Node) {
		l := list(p)
		*l = append(*l, decodeObject[object[S]](p, n))
	}
}

func decodeObject[T any](p *parsed, n *yaml.Node) *T {
	obj := new(T)
	p.d.decode(n, reflect.ValueOf(obj).Elem(), "")
	return obj
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse splits the file into documents and decodes each.
func (p *parsed) parse(data []byte) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			line, msg := 0, err.Error()
			if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
				line, _ = strconv.Atoi(m[1])
				msg = m[2]
			}
			p.d.errorf(line, "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
			return
		}
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			continue // an empty document, e.g. after a trailing ---
		}
		p.d.subject = ""
		p.d.substitute(&doc, p.getenv)
		p.document(doc.Content[0])
	}
}

// document dispatches one top-level object by apiVersion and kind.
func (p *parsed) document(n *yaml.Node) {
	p.d.subject = ""
	if n.Kind != yaml.MappingNode {
		p.d.errorf(n.Line, "expected a Kubernetes object (a mapping with apiVersion and kind), got %s", describe(n))
		return
	}
	apiVersion, avLine := scalarField(n, "apiVersion")
	kind, kindLine := scalarField(n, "kind")
	if apiVersion == "" || kind == "" {
		p.d.errorf(n.Line, "object has no apiVersion or kind")
		return
	}
	name := ""
	if md := mappingField(n, "metadata"); md != nil {
		name, _ = scalarField(md, "name")
	}
	p.d.subject = fmt.Sprintf("%s %q: ", kind, name)

	if kind == "List" && apiVersion == "v1" {
		p.d.subject = ""
		if items := mappingField(n, "items"); items != nil && items.Kind == yaml.SequenceNode {
			for _, item := range items.Content {
				p.document(item)
			}
		}
		return
	}

	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok {
		group, version = "", apiVersion
	}
	byKind, ok := kinds[group]
	if !ok {
		groups := slices.Sorted(mapKeys(kinds))
		p.d.errorf(avLine, "unknown apiVersion %q%s", apiVersion, suggest(group, groups))
		return
	}
	spec, ok := byKind[kind]
	if !ok {
		p.d.errorf(kindLine, "unknown kind %q in %s%s", kind, apiVersion, suggest(kind, slices.Sorted(mapKeys(byKind))))
		return
	}
	if !slices.Contains(spec.versions, version) {
		served := make([]string, len(spec.versions))
		for i, v := range spec.versions {
			served[i] = strings.TrimPrefix(group+"/"+v, "/")
		}
		p.d.errorf(avLine, "%s is not served as %s (served: %s)", kind, apiVersion, strings.Join(served, ", "))
		return
	}
	if name == "" {
		p.d.errorf(n.Line, "metadata.name: missing required field")
		return
	}
	ns := "default"
	if md := mappingField(n, "metadata"); md != nil {
		if v, _ := scalarField(md, "namespace"); v != "" {
			ns = v
		}
	}
	key := group + "/" + kind + "/" + ns + "/" + name
	if first, dup := p.names[key]; dup {
		p.d.errorf(n.Line, "duplicate %s %q in namespace %q (first defined at line %d)", kind, name, ns, first)
		return
	}
	p.names[key] = n.Line

	if spec.add == nil {
		var loose looseObject
		p.d.decode(n, reflect.ValueOf(&loose).Elem(), "")
		if spec.ignored != "" {
			p.d.warnf(n.Line, "%s", spec.ignored)
		}
		return
	}
	spec.add(p, n)
}

// scalarField returns the text and line of a scalar value of a mapping.
func scalarField(n *yaml.Node, key string) (string, int) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.ScalarNode {
			return n.Content[i+1].Value, n.Content[i].Line
		}
	}
	return "", n.Line
}

func mappingField(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
