//go:build tools

// Pins the nats-server that Dockerfile.nats builds (go.mod, go.sum).
package tools

import _ "github.com/nats-io/nats-server/v2"
