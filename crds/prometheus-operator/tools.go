//go:build tools

// Package tools pins the API types the prometheus-operator CRDs are generated from, and controller-gen.
package tools

import (
	_ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
