package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file is the MCP JSON front end: the {"mcpServers": {...}} file MCP clients use (Claude
// Desktop, Cursor; VS Code's {"servers": {...}} too), given to `aigw run` by --mcp-config FILE or
// --mcp-json TEXT. It compiles to one MCPRoute served at DefaultMCPPath. The text goes through the
// same strict decoder and ${VAR} substitution as CRD YAML (JSON is YAML), so every error names
// its line.

// mcpJSONFile is the file's top level.
type mcpJSONFile struct {
	MCPServers map[string]*mcpJSONServer `json:"mcpServers"`
	Servers    map[string]*mcpJSONServer `json:"servers"` // VS Code's spelling
	Inputs     *yaml.Node                `json:"inputs"`  // VS Code prompts; not supported
}

// mcpJSONServer is one server entry.
type mcpJSONServer struct {
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env"`
	Cwd     string            `json:"cwd"`
	URL     string            `json:"url"`
	// Type is "stdio", "http"/"streamable-http"/"streamableHttp", or "sse"; inferred when absent.
	Type         string            `json:"type"`
	Transport    string            `json:"transport"` // an alias of type some clients write
	Headers      map[string]string `json:"headers"`
	IncludeTools []string          `json:"includeTools"`
	ExcludeTools []string          `json:"excludeTools"`
	Disabled     bool              `json:"disabled"`
	// Fields other clients define that aigw accepts and does not need.
	Description string     `json:"description"`
	Timeout     *yaml.Node `json:"timeout"`
	Trust       *yaml.Node `json:"trust"`
	EnvFile     string     `json:"envFile"`
}

// LoadMCPJSON compiles MCP JSON to an MCPRoute (named "mcp", at DefaultMCPPath). name is what
// messages call the input (a file path, or "--mcp-json"). Warnings are returned separately.
func LoadMCPJSON(name string, data []byte, getenv func(string) string) (*MCPRoute, []string, error) {
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
			return nil, nil, fmt.Errorf("%s:%d: not valid JSON: %v", name, line, err)
		}
		return nil, nil, fmt.Errorf("%s: not valid JSON: %v", name, err)
	}
	// A raw tab cannot occur inside a valid JSON string, so this only turns indentation the YAML
	// parser rejects into spaces.
	data = bytes.ReplaceAll(data, []byte("\t"), []byte(" "))
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", name, err)
	}
	d := newDecoder(name)
	if len(doc.Content) == 0 {
		return nil, nil, fmt.Errorf("%s: empty MCP JSON (expected {\"mcpServers\": {...}})", name)
	}
	root := doc.Content[0]
	d.substitute(root, getenv)
	var f mcpJSONFile
	if len(d.errs) == 0 {
		d.decode(root, reflect.ValueOf(&f).Elem(), "")
	}
	route := &MCPRoute{Name: "mcp", Path: DefaultMCPPath}
	if len(d.errs) == 0 {
		compileMCPJSON(d, &f, route)
	}
	if len(d.errs) > 0 {
		msgs := sortedMessages(d.errs)
		errs := make([]error, len(msgs))
		for i, m := range msgs {
			errs[i] = errors.New(m)
		}
		return nil, nil, errors.Join(errs...)
	}
	return route, sortedMessages(d.warnings), nil
}

func compileMCPJSON(d *decoder, f *mcpJSONFile, route *MCPRoute) {
	servers := f.MCPServers
	key := "mcpServers"
	if servers == nil {
		servers, key = f.Servers, "servers"
	} else if f.Servers != nil {
		d.errorf(d.line(&f.Servers), "servers: give the servers under mcpServers or servers, not both")
		return
	}
	if f.Inputs != nil {
		d.warnf(f.Inputs.Line, "inputs: VS Code input prompts are not supported; use ${VAR} substitution instead")
	}
	if servers == nil {
		d.errorf(1, "no %q object: expected {\"mcpServers\": {\"name\": {...}}}", "mcpServers")
		return
	}
	for _, name := range slices.Sorted(mapKeys(servers)) {
		s := servers[name]
		line := d.line(s)
		path := key + "." + name
		if s == nil {
			d.errorf(line, "%s: expected an object", path)
			continue
		}
		if err := ValidateMCPBackendName(name); err != nil {
			d.errorf(line, "%s: %v", path, err)
			continue
		}
		if s.Disabled {
			d.warnf(line, "%s: disabled, not served", path)
			continue
		}
		if s.EnvFile != "" {
			d.warnf(d.line(&s.EnvFile), "%s.envFile: not supported (put the variables in env)", path)
		}
		if b := compileMCPServer(d, path, line, name, s); b != nil {
			route.Backends = append(route.Backends, b)
		}
	}
	if len(route.Backends) == 0 && len(d.errs) == 0 {
		d.warnf(1, "%s: no MCP server is served", key)
	}
}

func compileMCPServer(d *decoder, path string, line int, name string, s *mcpJSONServer) *MCPBackend {
	b := &MCPBackend{Name: name, Command: s.Command, Args: s.Args, Cwd: s.Cwd, URL: s.URL}
	typ := s.Type
	if typ == "" {
		typ = s.Transport
	}
	switch {
	case s.Command != "" && s.URL != "":
		d.errorf(line, "%s: give command (a stdio server) or url (a remote one), not both", path)
		return nil
	case s.Command == "" && s.URL == "":
		d.errorf(line, "%s: needs command (a stdio server) or url (a remote one)", path)
		return nil
	case s.Command != "":
		if typ != "" && typ != "stdio" {
			d.errorf(d.line(&s.Type), "%s.type: %q does not go with command (use \"stdio\")", path, typ)
			return nil
		}
		if len(s.Headers) > 0 {
			d.warnf(d.line(&s.Headers), "%s.headers: a stdio server takes no headers; ignored", path)
		}
		for _, k := range slices.Sorted(mapKeys(s.Env)) {
			b.Env = append(b.Env, EnvVar{Name: k, Value: s.Env[k]})
		}
	default:
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.errorf(d.line(&s.URL), "%s.url: %q is not an http(s) URL", path, s.URL)
			return nil
		}
		switch strings.ToLower(typ) {
		case "", "http", "streamable-http", "streamablehttp", "streamable_http":
			b.Transport = MCPTransportStreamableHTTP
		case "sse":
			b.Transport = MCPTransportSSE
		default:
			d.errorf(d.line(&s.Type), "%s.type: unsupported value %q%s", path, typ, suggestValue(typ, []string{"http", "sse", "stdio"}))
			return nil
		}
		if len(s.Env) > 0 || s.Cwd != "" || len(s.Args) > 0 {
			d.warnf(line, "%s: env, cwd and args apply to stdio servers; ignored for a url", path)
		}
		for _, k := range slices.Sorted(mapKeys(s.Headers)) {
			b.Headers = append(b.Headers, Header{Name: k, Value: s.Headers[k]})
			v := s.Headers[k]
			if strings.EqualFold(k, "Authorization") && len(v) > len("bearer ") && strings.EqualFold(v[:len("bearer ")], "bearer ") {
				v = strings.TrimSpace(v[len("bearer "):]) // the source of the token, which is what a rendering keeps
			}
			if name, ok := d.envOf[v]; ok {
				if b.KeySources == nil {
					b.KeySources = map[string]string{}
				}
				b.KeySources[k] = "env:" + name
			}
		}
	}
	b.Tools = ToolFilter{Include: s.IncludeTools, Exclude: s.ExcludeTools}
	return b
}
