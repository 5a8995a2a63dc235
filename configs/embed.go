// Package configs holds the files a user copies or aigw builds in: the example configurations
// and the price catalog.
package configs

import _ "embed"

// Prices is prices.yaml, the built-in price catalog.
//
//go:embed prices.yaml
var Prices []byte
