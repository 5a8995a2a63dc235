package observe

import (
	"fmt"
	"net/http"
	"strings"
)

// HeaderMaps are the request headers copied to attributes, per signal. Request applies to all of
// them; Span, Metrics and Log add their own.
type HeaderMaps struct {
	Request, Span, Metrics, Log []HeaderAttribute
}

// DefaultRequestHeaderAttributes maps the agent session header for spans and logs, as the
// reference gateway does. Metrics get no default: a session id per request would be a label value
// per session.
const DefaultRequestHeaderAttributes = "agent-session-id:session.id"

// sensitiveHeaders never become attributes: they carry credentials.
var sensitiveHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Set-Cookie": true,
	"X-Api-Key": true, "Api-Key": true, "X-Goog-Api-Key": true, "Ocp-Apim-Subscription-Key": true,
	"X-Amz-Security-Token": true,
}

// HeaderMappings reads OTEL_AIGW_{REQUEST,SPAN,METRICS,LOG}_HEADER_ATTRIBUTES, each a list of
// header:attribute pairs separated by commas. The span and log mappings default (when unset) to
// agent-session-id:session.id; the request and metrics mappings have no default. Credential
// headers are refused.
func HeaderMappings(getenv func(string) string) (HeaderMaps, error) {
	var m HeaderMaps
	parse := func(name, def string) ([]HeaderAttribute, error) {
		v := getenv(name)
		if v == "" {
			v = def
		}
		var out []HeaderAttribute
		for _, pair := range strings.Split(v, ",") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			h, a, ok := strings.Cut(pair, ":")
			h, a = strings.TrimSpace(h), strings.TrimSpace(a)
			if !ok || h == "" || a == "" {
				return nil, fmt.Errorf("%s: %q is not header:attribute", name, pair)
			}
			h = http.CanonicalHeaderKey(h)
			if sensitiveHeaders[h] {
				return nil, fmt.Errorf("%s: %s carries credentials and is never copied to telemetry", name, h)
			}
			out = append(out, HeaderAttribute{Header: h, Attribute: a})
		}
		return out, nil
	}
	var err error
	if m.Request, err = parse("OTEL_AIGW_REQUEST_HEADER_ATTRIBUTES", ""); err != nil {
		return m, err
	}
	extra := [3][]HeaderAttribute{}
	for i, name := range []string{"OTEL_AIGW_SPAN_HEADER_ATTRIBUTES", "OTEL_AIGW_METRICS_HEADER_ATTRIBUTES", "OTEL_AIGW_LOG_HEADER_ATTRIBUTES"} {
		def := DefaultRequestHeaderAttributes
		if i == 1 {
			def = ""
		}
		if extra[i], err = parse(name, def); err != nil {
			return m, err
		}
	}
	join := func(more []HeaderAttribute) []HeaderAttribute {
		return append(append([]HeaderAttribute(nil), m.Request...), more...)
	}
	m.Span, m.Metrics, m.Log = join(extra[0]), join(extra[1]), join(extra[2])
	return m, nil
}

// Values are the mapped headers present in h, by attribute; nil when none.
func Values(maps []HeaderAttribute, h http.Header) map[string]string {
	var out map[string]string
	for _, m := range maps {
		if v := h.Get(m.Header); v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[m.Attribute] = v
		}
	}
	return out
}
