//go:build tools

// Package tools pins the API types the plugin-barman-cloud CRDs are generated from, and controller-gen.
package tools

import (
	_ "github.com/cloudnative-pg/plugin-barman-cloud/api/v1"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
