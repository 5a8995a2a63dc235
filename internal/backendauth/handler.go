package backendauth

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

// Handler authenticates the upstream requests of one backend. It sees each request as it will
// be sent (method, path, headers and body, after translation and mutations), so a signer can sign
// the exact bytes, and it owns whatever its credential needs between requests: a cache, a token
// and its refresh. A Set builds one per backend and keeps it across configuration reloads while
// the backend's endpoint and credential configuration are unchanged.
type Handler interface {
	// Do authenticates one upstream request in place. Errors that the client caused (a missing
	// per-request credential) wrap ErrMissingCredential; others name the source that failed.
	Do(ctx context.Context, up *translate.Upstream) error
}

// builders is the one table of credential types aigw can authenticate with, each with the
// constructor of its handler. A type missing here is refused when the configuration loads.
var builders = map[config.AuthType]func(b *config.Backend) (Handler, error){
	config.AuthAPIKey:           newAPIKeyHandler,
	config.AuthAnthropicAPIKey:  newAPIKeyHandler,
	config.AuthAzureAPIKey:      newAPIKeyHandler,
	config.AuthAWSCredentials:   newAWSHandler,
	config.AuthGCPCredentials:   newGCPHandler,
	config.AuthAzureCredentials: newAzureHandler,
}

// Supported reports whether a handler exists for the credential type.
func Supported(t config.AuthType) bool {
	_, ok := builders[t]
	return ok
}

// SupportedTypes lists the credential types with a handler, sorted, for error messages.
func SupportedTypes() string {
	names := make([]string, 0, len(builders))
	for t := range builders {
		names = append(names, string(t))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// New builds the handler of one backend; a backend without credential gets one that passes the
// client's headers through.
func New(b *config.Backend) (Handler, error) {
	if b.Auth == nil {
		return noAuth{}, nil
	}
	build, ok := builders[b.Auth.Type]
	if !ok {
		return nil, fmt.Errorf("backend %s: credential type %s is not supported (supported: %s)", b.Name, b.Auth.Type, SupportedTypes())
	}
	return build(b)
}

// noAuth is the handler of a backend that needs no credential of aigw's (a local server).
type noAuth struct{}

func (noAuth) Do(context.Context, *translate.Upstream) error { return nil }

// apiKeyHandler sets a static key (or the request's own, with a credential override).
type apiKeyHandler struct{ auth *config.Auth }

func newAPIKeyHandler(b *config.Backend) (Handler, error) {
	if b.GeminiAPI() {
		return geminiAPIHandler{b.Auth}, nil
	}
	return apiKeyHandler{b.Auth}, nil
}

func (h apiKeyHandler) Do(_ context.Context, up *translate.Upstream) error {
	return Apply(h.auth, up.Header)
}

// Set holds the handler of every backend of the configurations in force. Lookups by backend
// (each Model has its own Backend values) cost one map read; a backend of a newly loaded Model
// takes over the handler of the backend of the same name before it when its endpoint and
// credential configuration are equal, so caches and tokens survive reloads.
type Set struct {
	byBackend sync.Map // *config.Backend → *setEntry

	mu     sync.Mutex
	byName map[string]*setEntry // the newest entry per backend name
}

type setEntry struct {
	backend *config.Backend
	h       Handler
	err     error
}

// For returns the handler of b, building it on first use.
func (s *Set) For(b *config.Backend) (Handler, error) {
	if e, ok := s.byBackend.Load(b); ok {
		e := e.(*setEntry)
		return e.h, e.err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byBackend.Load(b); ok { // built while this call waited
		e := e.(*setEntry)
		return e.h, e.err
	}
	if s.byName == nil {
		s.byName = map[string]*setEntry{}
	}
	e := &setEntry{backend: b}
	if old := s.byName[b.Name]; old != nil && old.err == nil && sameCredential(old.backend, b) {
		e.h = old.h
	} else {
		e.h, e.err = New(b)
	}
	if old := s.byName[b.Name]; old != nil && old.backend != b {
		s.byBackend.Delete(old.backend) // the older Model's backend: its requests have their handler
	}
	s.byName[b.Name] = e
	s.byBackend.Store(b, e)
	return e.h, e.err
}

// sameCredential reports whether two backends authenticate identically: same endpoint and equal
// credential configuration.
func sameCredential(a, b *config.Backend) bool {
	if (a.Endpoint == nil) != (b.Endpoint == nil) || (a.Endpoint != nil && a.Endpoint.String() != b.Endpoint.String()) {
		return false
	}
	return reflect.DeepEqual(a.Auth, b.Auth)
}
