package mcpgw

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SeedFileName is the file under the data home that holds the random seed session ids are
// encrypted with. It is created with mode 0600 on first use and kept, so sessions survive a
// restart of aigw only as far as the clients' sessions do (the gateway keeps none on disk).
const SeedFileName = "mcp-session-seed"

const seedBytes = 32

// sessionCipher makes and opens session ids: AES-256-GCM over a random id, with the
// authenticated subject as additional data, so an id is unforgeable and useless to any other
// subject. Sealing costs a few microseconds; the key is derived once, at start.
type sessionCipher struct {
	aead cipher.AEAD
}

// loadSeed reads the seed at path, creating it (and its directory, 0700) when it is missing.
func loadSeed(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < seedBytes {
			return nil, fmt.Errorf("MCP session seed %s is too short (%d bytes); delete it to make a new one", path, len(b))
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("MCP session seed %s is readable by others (mode %o); chmod 600 it", path, fi.Mode().Perm())
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading the MCP session seed: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the MCP session seed: %w", err)
	}
	seed := make([]byte, seedBytes)
	rand.Read(seed)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadSeed(path) // another aigw made it first
	}
	if err != nil {
		return nil, fmt.Errorf("creating the MCP session seed: %w", err)
	}
	if _, err := f.Write(seed); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing the MCP session seed: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing the MCP session seed: %w", err)
	}
	return seed, nil
}

// newSessionCipher derives the key from seed: HKDF-SHA256, or PBKDF2 with iterations > 0 (the
// reference's --mcp-session-encryption-iterations; here it is paid once at start, not per session).
func newSessionCipher(seed []byte, iterations int) (*sessionCipher, error) {
	var key []byte
	var err error
	if iterations > 0 {
		key, err = pbkdf2.Key(sha256.New, string(seed), []byte("aigw mcp session ids"), iterations, 32)
	} else {
		key, err = hkdf.Key(sha256.New, seed, nil, "aigw mcp session ids v1", 32)
	}
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sessionCipher{aead: aead}, nil
}

// newID returns a fresh session id bound to subject.
func (c *sessionCipher) newID(subject string) string {
	buf := make([]byte, c.aead.NonceSize(), c.aead.NonceSize()+16+c.aead.Overhead())
	rand.Read(buf)
	var id [16]byte
	rand.Read(id[:])
	out := c.aead.Seal(buf, buf, id[:], []byte(subject))
	return base64.RawURLEncoding.EncodeToString(out)
}

// valid reports whether id was made by this cipher for subject.
func (c *sessionCipher) valid(id, subject string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) < c.aead.NonceSize()+c.aead.Overhead() {
		return false
	}
	n := c.aead.NonceSize()
	_, err = c.aead.Open(nil, raw[:n], raw[n:], []byte(subject))
	return err == nil
}
