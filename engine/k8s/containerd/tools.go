//go:build tools

// Records the commands engine/k8s/build.sh builds, so that `go mod tidy` keeps their whole
// dependency graph in go.sum.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
