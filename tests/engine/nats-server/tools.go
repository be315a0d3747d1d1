//go:build tools

// Package tools pins the NATS server whose `-t` checks the generated nats.conf (tests/engine/test_nats.py).
package tools

import (
	_ "github.com/nats-io/nats-server/v2"
)
