//go:build tools

// Records the provider package the plugin's main wraps, so that `go mod tidy` keeps its whole
// dependency graph in go.sum even though cmd/ does not compile in place.
package tools

import (
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)
