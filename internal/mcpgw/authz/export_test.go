package authz

import "testing"

// Test helpers for the external test package (e2e_test.go), which imports mcpgw.

const TestIssuer = testIssuer

func NewTestKey(t *testing.T, kid string) testKey { return newECKey(t, kid) }

func JWKSOf(t *testing.T, k testKey) []byte { return jwks(t, k) }

func SignToken(t *testing.T, k testKey, claims map[string]any) string { return sign(t, k, claims) }
