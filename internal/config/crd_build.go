package config

import (
	"encoding/base64"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file compiles the decoded objects of a CRD YAML file to a Model, applying the CRDs'
// defaults and the checks the API server and the reference's controller would make (the CEL rules
// of the CRDs, dangling references, duplicates). Every message carries the file and line of the
// field it is about. Backends are in crd_backend.go, routes and policies in crd_route.go, MCP routes
// in crd_mcproute.go, quota in crd_other.go.

// Reference behaviour this follows:
//   - the key a security policy reads from its Secret is "apiKey" (AWS: "credentials", Azure:
//     "client-secret"), from data or stringData;
//   - substitution.aigw.run/env/<key> and substitution.aigw.run/file/<key> annotations on a Secret
//     replace the value of <key> with an environment variable or a file's content;
//   - one Gateway at most, and its first listener's port is the gateway port;
//   - a GatewayConfig applies when the Gateway names it in the aigateway.envoyproxy.io/gateway-config
//     annotation.
const (
	substEnvPrefix          = "substitution.aigw.run/env/"
	substFilePrefix         = "substitution.aigw.run/file/"
	gatewayConfigAnnotation = "aigateway.envoyproxy.io/gateway-config"
	secretAPIKey            = "apiKey"
	defaultModelsOwnedBy    = "Envoy AI Gateway"
)

// build compiles p into p.model.
func (p *parsed) build() {
	p.model = &Model{MaxRequestBodyBytes: DefaultMaxRequestBodyBytes}
	b := &builder{
		parsed:        p,
		secretData:    map[string]*resolvedSecret{},
		configMapData: map[string]*configMapObject{},
		egBackendIdx:  map[string]*object[egBackendSpec]{},
		aiBackendIdx:  map[string]*object[aiServiceBackendSpec]{},
		built:         map[string]*Backend{},
		auth:          map[string]*Auth{},
		tls:           map[string]*object[backendTLSPolicySpec]{},
	}
	b.multiNS = b.namespaces() > 1
	b.indexSecrets()
	for _, c := range p.configMaps {
		b.configMapData[key(c.Metadata)] = c
	}
	for _, o := range p.backends {
		b.egBackendIdx[key(o.Metadata)] = o
	}
	for _, o := range p.aiBackends {
		b.aiBackendIdx[key(o.Metadata)] = o
	}
	b.gateway()
	b.checkGatewayClasses()
	b.tlsPolicies()
	b.securityPolicies()
	b.buildBackends()
	b.globalCosts()
	b.buildRoutes()
	b.trafficPolicies()
	b.rateLimits()
	b.buildMCPRoutes()
	b.checkQuotaPolicies()
	p.d.subject = ""
}

// builder holds the indexes the compilation looks references up in, keyed "namespace/name".
type builder struct {
	*parsed
	multiNS       bool
	secretData    map[string]*resolvedSecret
	configMapData map[string]*configMapObject
	egBackendIdx  map[string]*object[egBackendSpec]
	aiBackendIdx  map[string]*object[aiServiceBackendSpec]
	// built are the Model backends by AIServiceBackend key; auth the credential for each.
	built map[string]*Backend
	auth  map[string]*Auth
	// tls are BackendTLSPolicies by the key of the Envoy Gateway Backend they target.
	tls map[string]*object[backendTLSPolicySpec]
	// gw is the one Gateway, if any; listenerHosts are its listeners' hostnames (nil: any host).
	gw            *object[gatewaySpec]
	listenerHosts []string
	// routeByKey maps an AIGatewayRoute key to its Model route, for traffic policies.
	routeByKey map[string]*Route
}

func namespaceOf(m objectMeta) string {
	if m.Namespace == "" {
		return "default"
	}
	return m.Namespace
}

func key(m objectMeta) string { return namespaceOf(m) + "/" + m.Name }

// refKey is the key of a reference from an object in namespace from.
func refKey(from, refNamespace, name string) string {
	if refNamespace == "" {
		refNamespace = from
	}
	return refNamespace + "/" + name
}

// displayName is how the Model names an object: its name, qualified by its namespace only when
// the file uses more than one.
func (b *builder) displayName(m objectMeta) string {
	if b.multiNS {
		return key(m)
	}
	return m.Name
}

func (b *builder) namespaces() int {
	seen := map[string]bool{}
	for _, o := range b.routes {
		seen[namespaceOf(o.Metadata)] = true
	}
	for _, o := range b.aiBackends {
		seen[namespaceOf(o.Metadata)] = true
	}
	return len(seen)
}

// about sets the subject of the following messages.
func (b *builder) about(kind string, m objectMeta) {
	b.d.subject = kind + " " + quote(m.Name) + ": "
}

func quote(s string) string { return `"` + s + `"` }

// resolvedSecret is a Secret's data after base64 decoding and substitution.
type resolvedSecret struct {
	obj  *secretObject
	data map[string]string
	// sources names where a key's value came from: "env:VAR" or "file:PATH" (Auth.Source).
	sources map[string]string
}

// indexSecrets decodes every Secret and applies its substitution annotations.
func (b *builder) indexSecrets() {
	for _, s := range b.secrets {
		b.about("Secret", s.Metadata)
		rs := &resolvedSecret{obj: s, data: map[string]string{}, sources: map[string]string{}}
		for k, v := range s.Data {
			raw, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				b.d.errorf(b.d.line(&s.Data), "data.%s: not valid base64 (use stringData for plain text): %v", k, err)
				continue
			}
			rs.data[k] = string(raw)
		}
		for k, v := range s.StringData {
			rs.data[k] = v // stringData wins, as the API server merges it
			if name, ok := b.d.envOf[v]; ok {
				rs.sources[k] = "env:" + name
			}
		}
		for _, a := range slices.Sorted(mapKeys(s.Metadata.Annotations)) {
			v := s.Metadata.Annotations[a]
			line := b.d.line(&s.Metadata.Annotations)
			switch {
			case strings.HasPrefix(a, substEnvPrefix):
				k := strings.TrimPrefix(a, substEnvPrefix)
				val := b.getenv(v)
				if val == "" {
					b.d.errorf(line, "annotation %s: environment variable %s is not set", a, v)
					continue
				}
				rs.data[k] = val
				rs.sources[k] = "env:" + v
			case strings.HasPrefix(a, substFilePrefix):
				k := strings.TrimPrefix(a, substFilePrefix)
				path := expandHome(v, b.getenv)
				raw, err := b.readFile(path)
				if err != nil {
					b.d.errorf(line, "annotation %s: %v", a, err)
					continue
				}
				rs.data[k] = string(raw)
				if abs, err := filepath.Abs(path); err == nil {
					path = abs
				}
				rs.sources[k] = "file:" + path
				if !slices.Contains(b.model.Files, path) {
					b.model.Files = append(b.model.Files, path)
				}
			}
		}
		b.secretData[key(s.Metadata)] = rs
	}
}

// secretValue returns a key of a referenced Secret, reporting a dangling reference at line.
func (b *builder) secretValue(line int, from, refNamespace, name, dataKey string) (string, bool) {
	s, ok := b.secretData[refKey(from, refNamespace, name)]
	if !ok {
		b.d.errorf(line, "Secret %q is not defined in this file", name)
		return "", false
	}
	v, ok := s.data[dataKey]
	if !ok {
		b.d.errorf(line, "Secret %q has no key %q", name, dataKey)
		return "", false
	}
	return strings.TrimSpace(v), true
}

// gateway takes the listener port and host names of the one Gateway.
func (b *builder) gateway() {
	for i, g := range b.gateways {
		b.about("Gateway", g.Metadata)
		if i > 0 {
			b.d.errorf(b.d.line(g), "more than one Gateway: aigw runs one gateway (the first is %q)", b.gateways[0].Metadata.Name)
			continue
		}
		b.gw = g
		if len(g.Spec.Listeners) == 0 {
			b.d.errorf(b.d.line(&g.Spec.Listeners), "spec.listeners: the Gateway has no listener")
			continue
		}
		anyHost := false
		seen := map[string]bool{}
		for j := range g.Spec.Listeners {
			l := &g.Spec.Listeners[j]
			if seen[l.Name] {
				b.d.errorf(b.d.line(l), "spec.listeners[%d].name: duplicate listener name %q", j, l.Name)
			}
			seen[l.Name] = true
			if l.Port < 1 || l.Port > 65535 {
				b.d.errorf(b.d.line(&l.Port), "spec.listeners[%d].port: %d is not a port", j, l.Port)
			}
			if l.Protocol != "HTTP" {
				b.d.warnf(b.d.line(&l.Protocol), "spec.listeners[%d].protocol: %s is served as plain HTTP", j, l.Protocol)
			}
			if j > 0 && l.Port != g.Spec.Listeners[0].Port {
				b.d.warnf(b.d.line(&l.Port), "spec.listeners[%d].port: only the first listener's port (%d) is served", j, g.Spec.Listeners[0].Port)
			}
			if l.Hostname == "" {
				anyHost = true
			} else if b.checkHostname(b.d.line(&l.Hostname), "spec.listeners["+itoa(j)+"].hostname", l.Hostname) {
				b.listenerHosts = append(b.listenerHosts, l.Hostname)
			}
		}
		if anyHost {
			b.listenerHosts = nil
		}
		b.model.Port = int(g.Spec.Listeners[0].Port)
	}
}

func (b *builder) checkGatewayClasses() {
	for _, c := range b.gatewayClasses {
		b.about("GatewayClass", c.Metadata)
		if b.gw != nil && b.gw.Spec.GatewayClassName != c.Metadata.Name {
			b.d.warnf(b.d.line(c), "no Gateway uses this class (the Gateway uses %q)", b.gw.Spec.GatewayClassName)
		}
	}
}

// globalCosts takes globalLLMRequestCosts from the GatewayConfig the Gateway names, or from the
// only GatewayConfig when the file has no Gateway.
func (b *builder) globalCosts() {
	var use *object[gatewayConfigSpec]
	name := ""
	if b.gw != nil {
		name = b.gw.Metadata.Annotations[gatewayConfigAnnotation]
	}
	for _, gc := range b.gatewayConfigs {
		b.about("GatewayConfig", gc.Metadata)
		switch {
		case b.gw == nil && len(b.gatewayConfigs) == 1:
			use = gc
		case b.gw == nil:
			b.d.errorf(b.d.line(gc), "more than one GatewayConfig and no Gateway to choose one with the %s annotation", gatewayConfigAnnotation)
		case gc.Metadata.Name == name && namespaceOf(gc.Metadata) == namespaceOf(b.gw.Metadata):
			use = gc
		default:
			b.d.warnf(b.d.line(gc), "not used: the Gateway does not name it in its %s annotation", gatewayConfigAnnotation)
		}
		if gc.Spec.ExtProc != nil {
			b.d.warnf(b.d.line(&gc.Spec.ExtProc), "spec.extProc: %s", notHonoured)
		}
		if gc.Spec.ForwardProxy != nil {
			b.d.warnf(b.d.line(&gc.Spec.ForwardProxy), "spec.forwardProxy: %s", notHonoured)
		}
	}
	if name != "" && use == nil {
		b.about("Gateway", b.gw.Metadata)
		b.d.errorf(b.d.line(&b.gw.Metadata.Annotations), "annotation %s: GatewayConfig %q is not defined in this file", gatewayConfigAnnotation, name)
	}
	if use == nil {
		return
	}
	b.about("GatewayConfig", use.Metadata)
	seen := map[string]bool{}
	for i := range use.Spec.GlobalLLMRequestCosts {
		c := &use.Spec.GlobalLLMRequestCosts[i]
		if seen[c.MetadataKey] {
			b.d.errorf(b.d.line(c), "spec.globalLLMRequestCosts[%d].metadataKey: duplicate key %q", i, c.MetadataKey)
			continue
		}
		seen[c.MetadataKey] = true
		if cost, ok := b.cost("spec.globalLLMRequestCosts["+itoa(i)+"]", c); ok {
			b.model.GlobalCosts = append(b.model.GlobalCosts, cost)
		}
	}
}

// cost compiles one llmRequestCosts entry.
func (b *builder) cost(path string, c *llmRequestCost) (Cost, bool) {
	out := Cost{MetadataKey: c.MetadataKey, Type: CostType(c.Type)}
	if c.MetadataKey == "" {
		b.d.errorf(b.d.line(&c.MetadataKey), "%s.metadataKey: must not be empty", path)
		return out, false
	}
	if out.Type != CostCEL {
		if c.CEL != "" {
			b.d.warnf(b.d.line(&c.CEL), "%s.cel: ignored: type is %s, not CEL", path, c.Type)
		}
		return out, true
	}
	if c.CEL == "" {
		b.d.errorf(b.d.line(c), "%s.cel: required when type is CEL", path)
		return out, false
	}
	prg, err := CompileCost(c.CEL)
	if err != nil {
		b.d.errorf(b.d.line(&c.CEL), "%s.cel: invalid CEL expression: %s", path, oneLine(err.Error()))
		return out, false
	}
	out.CEL, out.Program = c.CEL, prg
	return out, true
}

// oneLine folds a multi-line message (CEL errors point at the column with a second line).
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " ")
}

// durationPattern is the Gateway API Duration format the CRDs use.
var durationPattern = regexp.MustCompile(`^([0-9]{1,5}(h|m|s|ms)){1,4}$`)

// duration parses a Gateway API duration ("60s", "1m30s", "500ms").
func (b *builder) duration(line int, path, v string) (time.Duration, bool) {
	if !durationPattern.MatchString(v) {
		b.d.errorf(line, "%s: %q is not a duration (e.g. 60s, 1m30s, 500ms)", path, v)
		return 0, false
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		b.d.errorf(line, "%s: %q is not a duration: %v", path, v, err)
		return 0, false
	}
	return d, true
}

var hostnamePattern = regexp.MustCompile(`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// checkHostname validates a Gateway API hostname (lower case, optionally "*." first).
func (b *builder) checkHostname(line int, path, h string) bool {
	if len(h) > 253 || !hostnamePattern.MatchString(h) {
		b.d.errorf(line, "%s: %q is not a valid hostname (lower case letters, digits, '-' and '.', optionally starting with \"*.\")", path, h)
		return false
	}
	return true
}

var headerNamePattern = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+\-.^_` + "`" + `|~]+$`)

func (b *builder) checkHeaderName(line int, path, name string) bool {
	if len(name) > 256 || !headerNamePattern.MatchString(name) {
		b.d.errorf(line, "%s: %q is not a valid header name", path, name)
		return false
	}
	return true
}

func itoa(i int) string { return strconv.Itoa(i) }
