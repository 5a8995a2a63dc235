package config

import (
	"regexp"
	"strings"
)

// MCPRoute and QuotaPolicy are decoded and validated now so that a file using them fails early
// with the right message; the Model does not carry them yet.

func (b *builder) checkMCPRoutes() {
	for _, r := range b.mcpRoutes {
		b.about("MCPRoute", r.Metadata)
		ns := namespaceOf(r.Metadata)
		s := &r.Spec
		b.d.warnf(b.d.line(r), "MCPRoute is validated but not served from a CRD file yet")
		if len(s.ParentRefs) == 0 {
			b.d.errorf(b.d.line(&s.ParentRefs), "spec.parentRefs: at least one parent is required")
		}
		b.parentRefs(r.Metadata, s.ParentRefs)
		for i, h := range s.Hostnames {
			b.checkHostname(b.d.line(&s.Hostnames[i]), "spec.hostnames["+itoa(i)+"]", h)
		}
		if s.Path != nil && (!strings.HasPrefix(*s.Path, "/") || len(*s.Path) > 1024) {
			b.d.errorf(b.d.line(&s.Path), "spec.path: %q must be an absolute path", *s.Path)
		}
		b.match("spec", &routeMatch{Headers: s.Headers})
		if len(s.BackendRefs) == 0 {
			b.d.errorf(b.d.line(&s.BackendRefs), "spec.backendRefs: at least one backend is required")
		}
		names := map[string]bool{}
		for i := range s.BackendRefs {
			ref := &s.BackendRefs[i]
			path := "spec.backendRefs[" + itoa(i) + "]"
			if names[ref.Name] {
				b.d.errorf(b.d.line(&ref.Name), "%s.name: all backendRefs names must be unique (%q is used twice)", path, ref.Name)
			}
			names[ref.Name] = true
			group, kind := deref(ref.Group, ""), deref(ref.Kind, "Service")
			if group != groupEG || kind != "Backend" {
				b.d.errorf(b.d.line(ref), "%s: aigw resolves MCP backends through Envoy Gateway Backends (group: %s, kind: Backend), not %s", path, groupEG, strings.TrimPrefix(group+"/"+kind, "/"))
			} else if _, ok := b.egBackendIdx[refKey(ns, ref.Namespace, ref.Name)]; !ok {
				b.d.errorf(b.d.line(&ref.Name), "%s: Backend %q is not defined in this file", path, ref.Name)
			}
			if ref.Path != nil && !strings.HasPrefix(*ref.Path, "/") {
				b.d.errorf(b.d.line(&ref.Path), "%s.path: %q must be an absolute path", path, *ref.Path)
			}
			if t := ref.ToolSelector; t != nil {
				b.toolSelector(path+".toolSelector", t)
			}
		}
	}
}

func (b *builder) toolSelector(path string, t *toolSelector) {
	line := b.d.line(t)
	if t.Include != nil && t.IncludeRegex != nil {
		b.d.errorf(line, "%s: include and includeRegex are mutually exclusive", path)
	}
	if t.Exclude != nil && t.ExcludeRegex != nil {
		b.d.errorf(line, "%s: exclude and excludeRegex are mutually exclusive", path)
	}
	if t.Include == nil && t.IncludeRegex == nil && t.Exclude == nil && t.ExcludeRegex == nil {
		b.d.errorf(line, "%s: at least one of include, includeRegex, exclude, or excludeRegex must be specified", path)
	}
	for name, list := range map[string][]string{"includeRegex": t.IncludeRegex, "excludeRegex": t.ExcludeRegex} {
		for i, re := range list {
			if _, err := regexp.Compile(re); err != nil {
				b.d.errorf(b.d.line(&list[i]), "%s.%s[%d]: invalid regular expression: %s", path, name, i, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			}
		}
	}
}

func (b *builder) checkQuotaPolicies() {
	for _, q := range b.quotaPolicies {
		b.about("QuotaPolicy", q.Metadata)
		ns := namespaceOf(q.Metadata)
		s := &q.Spec
		b.d.warnf(b.d.line(q), "QuotaPolicy is validated but not enforced yet")
		for i := range s.TargetRefs {
			t := &s.TargetRefs[i]
			path := "spec.targetRefs[" + itoa(i) + "]"
			if t.Group != groupAIGateway || t.Kind != "AIServiceBackend" {
				b.d.errorf(b.d.line(t), "%s: targetRefs must reference AIServiceBackend resources", path)
				continue
			}
			if _, ok := b.aiBackendIdx[refKey(ns, "", t.Name)]; !ok {
				b.d.errorf(b.d.line(&t.Name), "%s: AIServiceBackend %q is not defined in this file", path, t.Name)
			}
		}
		if sq := s.ServiceQuota; sq != nil && sq.CostExpression != nil {
			b.costExpression("spec.serviceQuota.costExpression", sq.CostExpression)
		}
		for i := range s.PerModelQuotas {
			if e := s.PerModelQuotas[i].Quota.CostExpression; e != nil {
				b.costExpression("spec.perModelQuotas["+itoa(i)+"].quota.costExpression", e)
			}
		}
	}
}

func (b *builder) costExpression(path string, expr *string) {
	if _, err := CompileCost(*expr); err != nil {
		b.d.errorf(b.d.line(expr), "%s: invalid CEL expression: %s", path, oneLine(err.Error()))
	}
}
