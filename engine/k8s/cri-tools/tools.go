//go:build tools

// Records the command engine/k8s/build.sh builds, so that `go mod tidy` keeps its whole
// dependency graph in go.sum.
package tools

import (
	_ "sigs.k8s.io/cri-tools/cmd/crictl"
)
