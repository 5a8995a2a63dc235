package config

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
)

// mcpRuleEnv is the CEL environment of MCPRoute authorization and backendSelector rules: one
// dynamic variable, request, with the reference's attributes (request.method, request.headers,
// request.headers_all, request.path, request.host, request.auth.jwt.claims,
// request.auth.jwt.scopes, request.mcp.method, request.mcp.backend, request.mcp.tool,
// request.mcp.params).
var mcpRuleEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(cel.Variable("request", cel.DynType), cel.OptionalTypes())
})

// mcpRuleCostLimit bounds the work one rule may do on one request.
const mcpRuleCostLimit = 10000

// CompileMCPRule compiles an authorization rule's CEL expression; it must return a bool.
func CompileMCPRule(expr string) (cel.Program, error) {
	env, err := mcpRuleEnv()
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		msgs := make([]string, 0, len(iss.Errors()))
		for _, e := range iss.Errors() {
			msgs = append(msgs, fmt.Sprintf("%s (at column %d)", strings.ReplaceAll(e.Message, " (in container '')", ""), e.Location.Column()+1))
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	if out := ast.OutputType(); !out.IsExactType(cel.BoolType) && !out.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("the expression returns %s; it must return a bool", out)
	}
	return env.Program(ast, cel.CostLimit(mcpRuleCostLimit), cel.EvalOptions(cel.OptOptimize))
}
