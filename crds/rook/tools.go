//go:build tools

// Package tools pins the API types the rook CRDs are generated from, and controller-gen.
package tools

import (
	_ "github.com/rook/rook/pkg/apis/ceph.rook.io/v1"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
