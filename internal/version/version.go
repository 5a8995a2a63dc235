// Package version reports the build's version, stamped by the release build's ldflags and
// falling back to the module information that `go install` records.
package version

import (
	"runtime/debug"
	"sync"
)

// stamped is set at link time: -ldflags "-X github.com/aigw/aigw/internal/version.stamped=v1.2.3".
var stamped string

var fromBuildInfo = sync.OnceValue(func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok || info.Main.Version == "" {
		return "dev"
	}
	return info.Main.Version
})

// Version returns the version of this build: the ldflags stamp when present, the module version
// when installed with `go install`, and "dev" otherwise.
func Version() string {
	if stamped != "" {
		return stamped
	}
	return fromBuildInfo()
}

// UserAgent is the product token aigw sends where it speaks for itself (health checks, model lists).
func UserAgent() string { return "aigw/" + Version() }
