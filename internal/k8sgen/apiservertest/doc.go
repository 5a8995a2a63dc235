// Package apiservertest holds the test that creates every rendered object in a real API server
// (k8s.io/apiextensions-apiserver backed by an etcd the test starts) with server-side
// validation. It is a package of its own so that the API server's dependencies are compiled only
// for this test.
package apiservertest
