//go:build tools

// Package tools pins the Pulumi CLI's main package so that `go mod tidy`
// keeps every module it needs in go.mod and go.sum. Build it with
// `go build github.com/pulumi/pulumi/pkg/v3/cmd/pulumi` (see ../build.sh).
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
