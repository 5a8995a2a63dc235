package run

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aigw/aigw/internal/backendauth"
	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

// LoadModel loads the configuration Run would serve from the same inputs (the file named, else
// config.yaml in the config home, else the environment), without serving it. --demo has no
// configuration of its own to load and is refused. The MCP servers of --mcp-config and --mcp-json
// are added as Run adds them.
func LoadModel(opts Options) (*config.Model, error) {
	if opts.Demo {
		return nil, errors.New("--demo serves a built-in simulator that exists only inside aigw; render a config file or the environment's keys instead")
	}
	m, err := loadConfig(opts)
	return withMCP(opts, m, err)
}

// served passes on a loaded Model only when aigw can serve every backend in it: a schema that
// no translator serves, or a credential type without a handler, is a load error naming what is
// supported, never a configuration that validates and then fails every request. The translator
// table and the handler table are the one source of what is supported.
func served(m *config.Model, err error) (*config.Model, error) {
	if err != nil || m == nil {
		return m, err
	}
	var errs []error
	for _, b := range m.Backends {
		if schemas := translate.Schemas(); !slices.Contains(schemas, b.Schema.Name) {
			errs = append(errs, fmt.Errorf("backend %s: schema %s is not supported yet (supported: %s)", b.Name, b.Schema.Name, joinNames(schemas)))
		}
		if b.Auth != nil && !backendauth.Supported(b.Auth.Type) {
			errs = append(errs, fmt.Errorf("backend %s: credential type %s is not supported yet (supported: %s)", b.Name, b.Auth.Type, backendauth.SupportedTypes()))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

func joinNames[S ~string](names []S) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = string(n)
	}
	return strings.Join(out, ", ")
}
