//go:build tools

// Pins the Prometheus server that Dockerfile.prometheus builds (go.mod, go.sum).
package tools

import _ "github.com/prometheus/prometheus/cmd/prometheus"
