package config

// QuotaPolicy is compiled into the Model's quotas (crd_ratelimit.go). MCPRoutes are compiled in
// crd_mcproute.go.

func (b *builder) checkQuotaPolicies() {
	for _, q := range b.quotaPolicies {
		b.about("QuotaPolicy", q.Metadata)
		ns := namespaceOf(q.Metadata)
		s := &q.Spec
		var backends []*Backend
		for i := range s.TargetRefs {
			t := &s.TargetRefs[i]
			path := "spec.targetRefs[" + itoa(i) + "]"
			if t.Group != groupAIGateway || t.Kind != "AIServiceBackend" {
				b.d.errorf(b.d.line(t), "%s: targetRefs must reference AIServiceBackend resources", path)
				continue
			}
			if _, ok := b.aiBackendIdx[refKey(ns, "", t.Name)]; !ok {
				b.d.errorf(b.d.line(&t.Name), "%s: AIServiceBackend %q is not defined in this file", path, t.Name)
			} else if be := b.built[refKey(ns, "", t.Name)]; be != nil {
				backends = append(backends, be)
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
		b.quotaPolicy(q, backends)
	}
}

func (b *builder) costExpression(path string, expr *string) {
	if _, err := CompileCost(*expr); err != nil {
		b.d.errorf(b.d.line(expr), "%s: invalid CEL expression: %s", path, oneLine(err.Error()))
	}
}
