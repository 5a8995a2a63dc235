package observe

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// Defaults of the run log's rotation.
const (
	DefaultLogMaxSize  = 100 << 20
	DefaultLogMaxFiles = 5
)

// RotatingFile is an append-only log file that rotates by size: when a write would take it past
// MaxSize, the file becomes path.1 (path.1 becomes path.2, and so on; the oldest past MaxFiles is
// removed) and a new file is started. Every Write goes whole into one file under one lock, so as
// long as writers write whole lines (slog handlers and AccessLog do), no line is split, lost or
// interleaved with another across a rotation.
type RotatingFile struct {
	path     string
	maxSize  int64 // 0: never rotate
	maxFiles int   // old files kept

	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenRotatingFile opens (appending to) or creates path with mode 0600. maxSize 0 turns rotation
// off; maxFiles 0 keeps no old file.
func OpenRotatingFile(path string, maxSize int64, maxFiles int) (*RotatingFile, error) {
	if maxSize < 0 || maxFiles < 0 {
		return nil, errors.New("log rotation: the size and file count must not be negative")
	}
	r := &RotatingFile{path: path, maxSize: maxSize, maxFiles: maxFiles}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, fi.Size()
	return nil
}

// Name is the path of the current file.
func (r *RotatingFile) Name() string { return r.path }

// Write appends p to the current file, rotating first when p would take it past the size limit.
// A p larger than the limit goes whole into a file of its own.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, fs.ErrClosed
	}
	if r.maxSize > 0 && r.size > 0 && r.size+int64(len(p)) > r.maxSize {
		// On failure (say, a read-only directory) keep writing to the file we have, and try again
		// at the next write: a log that outgrows its limit beats a lost line.
		_ = r.rotate()
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// rotate shifts path.(i) to path.(i+1), path to path.1, and opens a new path. Called with mu held.
func (r *RotatingFile) rotate() error {
	if r.maxFiles == 0 {
		if err := r.f.Truncate(0); err != nil {
			return err
		}
		r.size = 0
		return nil
	}
	// Old files are path.1 to path.n, without gaps; only those are shifted.
	n := 0
	for n < r.maxFiles {
		if _, err := os.Lstat(r.old(n + 1)); err != nil {
			break
		}
		n++
	}
	if n == r.maxFiles {
		if err := os.Remove(r.old(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		n--
	}
	for i := n; i >= 1; i-- {
		if err := os.Rename(r.old(i), r.old(i+1)); err != nil {
			return err
		}
	}
	if err := os.Rename(r.path, r.old(1)); err != nil {
		return err
	}
	prev := r.f
	if err := r.open(); err != nil {
		// The current file was renamed away; appending to it still keeps every line.
		return err
	}
	return prev.Close()
}

func (r *RotatingFile) old(i int) string { return fmt.Sprintf("%s.%d", r.path, i) }

// Close closes the current file; later writes fail.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
