package config

// KnowsModel reports whether name is a model the configuration names itself: the exact value of
// a model-header match, a backend reference's modelNameOverride, or a backend's listed model. Metrics keep such names as
// label values; names that only a pattern or a catch-all rule accepts come from clients, so the
// metrics bound how many of them they keep.
func (m *Model) KnowsModel(name string) bool {
	m.knownOnce.Do(func() {
		m.known = map[string]bool{}
		for _, b := range m.Backends {
			for _, name := range b.Models {
				m.known[name] = true
			}
		}
		for _, r := range m.Routes {
			for _, ru := range r.Rules {
				for _, mt := range ru.Matches {
					for _, h := range mt.Headers {
						if h.Name == ModelHeader && h.Regex == nil && h.Exact != "" {
							m.known[h.Exact] = true
						}
					}
				}
				for _, br := range ru.Backends {
					if br.ModelNameOverride != "" {
						m.known[br.ModelNameOverride] = true
					}
				}
			}
		}
	})
	return m.known[name]
}
