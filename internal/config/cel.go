package config

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/interpreter"
)

// The variables a CEL cost expression sees, with the reference's names and types (the
// llmRequestCosts cel field of the AIGatewayRoute CRD). route_name is an aigw addition.
const (
	celModel                    = "model"
	celBackend                  = "backend"
	celRouteName                = "route_name"
	celInputTokens              = "input_tokens"
	celCachedInputTokens        = "cached_input_tokens"
	celCacheCreationInputTokens = "cache_creation_input_tokens"
	celOutputTokens             = "output_tokens"
	celReasoningTokens          = "reasoning_tokens"
	celTotalTokens              = "total_tokens"
)

var costEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable(celModel, cel.StringType),
		cel.Variable(celBackend, cel.StringType),
		cel.Variable(celRouteName, cel.StringType),
		cel.Variable(celInputTokens, cel.UintType),
		cel.Variable(celCachedInputTokens, cel.UintType),
		cel.Variable(celCacheCreationInputTokens, cel.UintType),
		cel.Variable(celOutputTokens, cel.UintType),
		cel.Variable(celReasoningTokens, cel.UintType),
		cel.Variable(celTotalTokens, cel.UintType),
	)
})

// CompileCost compiles and type-checks a CEL cost expression. The expression must return an int
// or a uint, as the reference requires; a negative result is an error at evaluation.
func CompileCost(expr string) (CostProgram, error) {
	env, err := costEnv()
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		msgs := make([]string, 0, len(iss.Errors()))
		for _, e := range iss.Errors() {
			msg := strings.ReplaceAll(e.Message, " (in container '')", "")
			msgs = append(msgs, fmt.Sprintf("%s (at column %d)", msg, e.Location.Column()+1))
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	switch out := ast.OutputType(); {
	case out.IsExactType(cel.IntType), out.IsExactType(cel.UintType), out.IsExactType(cel.DynType):
	default:
		return nil, fmt.Errorf("the expression returns %s; it must return an int or a uint (use int(...) or uint(...) to convert)", out)
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, err
	}
	return celCost{prg}, nil
}

type celCost struct{ prg cel.Program }

var _ CostProgram = celCost{}

// Eval runs the expression on one request's usage.
func (c celCost) Eval(v CostVars) (uint64, error) {
	out, _, err := c.prg.Eval(costActivation{&v})
	if err != nil {
		return 0, err
	}
	switch r := out.(type) {
	case types.Int:
		if r < 0 {
			return 0, fmt.Errorf("cost expression returned a negative number (%d)", int64(r))
		}
		return uint64(r), nil
	case types.Uint:
		return uint64(r), nil
	}
	return 0, errors.New("cost expression did not return an integer")
}

// costActivation resolves the variables straight from CostVars, without building a map per
// request.
type costActivation struct{ v *CostVars }

var _ interpreter.Activation = costActivation{}

func (a costActivation) ResolveName(name string) (any, bool) {
	switch name {
	case celModel:
		return a.v.Model, true
	case celBackend:
		return a.v.Backend, true
	case celRouteName:
		return a.v.RouteName, true
	case celInputTokens:
		return a.v.InputTokens, true
	case celCachedInputTokens:
		return a.v.CachedInputTokens, true
	case celCacheCreationInputTokens:
		return a.v.CacheCreationInputTokens, true
	case celOutputTokens:
		return a.v.OutputTokens, true
	case celReasoningTokens:
		return a.v.ReasoningTokens, true
	case celTotalTokens:
		return a.v.TotalTokens, true
	}
	return nil, false
}

func (a costActivation) Parent() interpreter.Activation { return nil }
