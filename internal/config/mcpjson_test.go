package config

import (
	"regexp"
	"strings"
	"testing"
)

func TestLoadMCPJSON(t *testing.T) {
	env := map[string]string{"GH_TOKEN": "ghp_x", "HOME": "/home/u"}
	getenv := func(k string) string { return env[k] }
	in := `{
	"mcpServers": {
		"everything": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"], "env": {"B": "2", "A": "${HOME}"}, "cwd": "/tmp"},
		"github": {"url": "https://api.githubcopilot.com/mcp/", "headers": {"Authorization": "Bearer ${GH_TOKEN}", "X-Extra": "yes"},
			"includeTools": ["create_issue"], "excludeTools": ["delete_repo"]},
		"legacy": {"type": "sse", "url": "http://127.0.0.1:9/sse"},
		"off": {"command": "x", "disabled": true}
	}
}`
	r, warns, err := LoadMCPJSON("mcp.json", []byte(in), getenv)
	if err != nil {
		t.Fatal(err)
	}
	if r.Path != "/mcp" || len(r.Backends) != 3 {
		t.Fatalf("route %+v", r)
	}
	ev, gh, lg := r.Backends[0], r.Backends[1], r.Backends[2]
	if ev.Name != "everything" || !ev.Stdio() || ev.Cwd != "/tmp" || len(ev.Args) != 2 || ev.Env[0] != (EnvVar{"A", "/home/u"}) || ev.Env[1] != (EnvVar{"B", "2"}) {
		t.Errorf("everything: %+v", ev)
	}
	if gh.Transport != MCPTransportStreamableHTTP || len(gh.Headers) != 2 || gh.Headers[0] != (Header{"Authorization", "Bearer ghp_x"}) || gh.Headers[1].Name != "X-Extra" {
		t.Errorf("github: %+v", gh)
	}
	if !gh.Tools.Allows("create_issue") || gh.Tools.Allows("list_issues") || gh.Tools.Allows("delete_repo") {
		t.Errorf("github filter: %+v", gh.Tools)
	}
	if lg.Transport != MCPTransportSSE || lg.Stdio() {
		t.Errorf("legacy: %+v", lg)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "mcp.json:") || !strings.Contains(warns[0], "off: disabled") {
		t.Errorf("warnings: %q", warns)
	}
}

func TestLoadMCPJSONErrors(t *testing.T) {
	getenv := func(string) string { return "" }
	for _, c := range []struct{ in, want string }{
		{`{"mcpServers": {"a": {"command": "x"}}`, "mcp.json:1: not valid JSON"},
		{"{\n\"mcpServers\": {\n\"a\": {\"url\": \"http://h\", \"headers\": {\"A\": \"${NOPE}\"}}}}", "mcp.json:3: ${NOPE}: environment variable NOPE is not set"},
		{"{\"mcpServers\": {\n\"a\": {\"comand\": \"x\"}}}", `mcp.json:2: mcpServers.a.comand: unknown field (did you mean "command"?)`},
		{`{"mcpServers": {"a": {"command": "x", "url": "http://h"}}}`, "not both"},
		{`{"mcpServers": {"a": {}}}`, "needs command"},
		{`{"mcpServers": {"a__b": {"command": "x"}}}`, `contains "__"`},
		{`{"mcpServers": {"a": {"url": "ftp://h"}}}`, "is not an http(s) URL"},
		{`{"mcpServers": {"a": {"url": "http://h", "type": "websocket"}}}`, `unsupported value "websocket"`},
		{`{"other": {}}`, "unknown field"},
		{`{}`, `no "mcpServers" object`},
	} {
		_, _, err := LoadMCPJSON("mcp.json", []byte(c.in), getenv)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.in, err, c.want)
		}
	}
}

func TestToolFilterRegex(t *testing.T) {
	f := ToolFilter{IncludeRegex: []*regexp.Regexp{regexp.MustCompile(`^get_.*$`)}, ExcludeRegex: []*regexp.Regexp{regexp.MustCompile(`secret`)}}
	for tool, want := range map[string]bool{"get_x": true, "get_secret": false, "put_x": false} {
		if f.Allows(tool) != want {
			t.Errorf("%s: %v", tool, !want)
		}
	}
	if !(ToolFilter{}).Allows("anything") || !(ToolFilter{}).Empty() {
		t.Error("empty filter")
	}
}
