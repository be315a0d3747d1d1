//go:build tools

// Package tools pins the API types the cert-manager CRDs are generated from, and controller-gen.
package tools

import (
	_ "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
