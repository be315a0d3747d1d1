//go:build tools

// trust-manager as the rehearsal cluster runs it (ops/rehearsal/controllers.py): its own `trust-manager` command,
// built from its module's cmd/trust-manager at the chart's pin.
package tools

import (
	_ "github.com/cert-manager/trust-manager/cmd/trust-manager"
)
