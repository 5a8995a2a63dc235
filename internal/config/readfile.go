package config

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// Bounds on the files a configuration reads.
const (
	// MaxConfigFileBytes bounds the configuration file itself.
	MaxConfigFileBytes = 16 << 20
	// MaxSecretFileBytes bounds a file a Secret takes a value from (an API key, a service-account
	// JSON, an AWS credentials file: all a few kilobytes at most).
	MaxSecretFileBytes = 1 << 20
)

// readConfigFile reads the configuration file with ReadRegularFile's checks.
func readConfigFile(path string) ([]byte, error) { return ReadRegularFile(path, MaxConfigFileBytes) }

// readSecretFile reads a Secret's file with ReadRegularFile's checks.
func readSecretFile(path string) ([]byte, error) { return ReadRegularFile(path, MaxSecretFileBytes) }

// ReadRegularFile reads a regular file of at most limit bytes, and refuses anything else rather
// than block or exhaust memory: a named pipe (reading it waits for a writer), a device such as
// /dev/zero (endless), a directory, a socket, a file larger than limit. Symbolic links are
// followed (mounted Kubernetes secrets are links). The type is checked before opening; the open
// itself does not block (O_NONBLOCK), and the opened file is checked again, so a pipe swapped in
// between is still refused; the read stops at limit+1 bytes, so a file that grows is refused too.
func ReadRegularFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(path, fi, limit); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkRegular(path, fi, limit); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %s", path, byteSize(limit))
	}
	return data, nil
}

// checkRegular refuses a file that is not regular or is larger than limit.
func checkRegular(path string, fi fs.FileInfo, limit int64) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file (%s)", path, fileKind(fi.Mode()))
	}
	if fi.Size() > limit {
		return fmt.Errorf("%s: %s, larger than %s", path, byteSize(fi.Size()), byteSize(limit))
	}
	return nil
}

// fileKind names a non-regular file mode for an error message.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}

// byteSize writes n bytes in the largest whole binary unit.
func byteSize(n int64) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// checkOneLineKey reports why v cannot be an API key sent in a header: it spans several lines
// (a key file holding more than the key), or holds other control characters. Values from files
// and Secrets are trimmed first, so a single trailing newline there is fine.
func checkOneLineKey(v string) string {
	n := 0
	for _, l := range strings.Split(v, "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	if n > 1 {
		return fmt.Sprintf("has %d non-empty lines; an API key is a single line (remove the other lines from the file or value)", n)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return fmt.Sprintf("holds a control character (byte 0x%02x at offset %d); an API key is printable text", c, i)
		}
	}
	return ""
}
