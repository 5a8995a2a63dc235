package run

import (
	"errors"

	"github.com/aigw/aigw/internal/config"
)

// LoadModel loads the configuration Run would serve from the same inputs (the file named, else
// config.yaml in the config home, else the environment), without serving it. --demo has no
// configuration of its own to load and is refused.
func LoadModel(opts Options) (*config.Model, error) {
	if opts.Demo {
		return nil, errors.New("--demo serves a built-in simulator that exists only inside aigw; render a config file or the environment's keys instead")
	}
	return loadConfig(opts)
}
