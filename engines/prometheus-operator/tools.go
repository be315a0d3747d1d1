//go:build tools

// The Prometheus Operator as the rehearsal cluster runs it (ops/rehearsal/controllers.py): its own `operator`
// command, built from its module's cmd/operator at the release the Go module proxy here serves.
package tools

import (
	_ "github.com/prometheus-operator/prometheus-operator/cmd/operator"
)
