package mcpstdio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The Node-based tests use the packages pinned in the repository's package.json and
// package-lock.json: the real @modelcontextprotocol/server-everything and the TypeScript client
// SDK. They run from node_modules (never npx -y); when node_modules is missing, `npm ci` runs
// once per test process under a file lock (other packages' tests may install concurrently).

var (
	npmOnce sync.Once
	npmRoot string
	npmErr  error
)

// nodeModules returns the repository root with node_modules installed, or skips the test
// with the reason it cannot be.
func nodeModules(t testing.TB) string {
	t.Helper()
	npmOnce.Do(func() { npmRoot, npmErr = installNodeModules() })
	if npmErr != nil {
		t.Skipf("skipping: the Node test dependencies are not available: %v", npmErr)
	}
	return npmRoot
}

func installNodeModules() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("node is not installed: %w", err)
	}
	marker := filepath.Join(root, "node_modules", ".bin", "mcp-server-everything")
	if _, err := os.Stat(marker); err == nil {
		return root, nil
	}
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "aigw-npm-ci.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(marker); err == nil { // installed while we waited
		return root, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("npm ci in %s failed: %w\n%s", root, err, out)
	}
	if _, err := os.Stat(marker); err != nil {
		return "", fmt.Errorf("npm ci did not install mcp-server-everything: %w", err)
	}
	return root, nil
}

// repoRoot finds the directory holding go.mod and package.json above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		_, e1 := os.Stat(filepath.Join(dir, "go.mod"))
		_, e2 := os.Stat(filepath.Join(dir, "package.json"))
		if e1 == nil && e2 == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no package.json next to go.mod above the test directory")
		}
		dir = parent
	}
}

// everythingConfig runs the npm server-everything (stdio) as the bridge's child.
func everythingConfig(t testing.TB) Config {
	root := nodeModules(t)
	return Config{
		Name:            "everything",
		Command:         filepath.Join(root, "node_modules", ".bin", "mcp-server-everything"),
		Args:            []string{"stdio"},
		StopTimeout:     2 * time.Second,
		MaxRestartDelay: 200 * time.Millisecond,
		InitTimeout:     30 * time.Second,
		// server-everything speaks only the session revisions; TestEverythingServer checks that
		// the probe finds so, the others save the probe's process.
		Modern: ModernTranslate,
	}
}
