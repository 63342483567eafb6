//go:build tools

// Package tools pins the YAML language host's main package so that `go mod tidy`
// keeps every module it needs in go.mod and go.sum. Build it with
// `go build github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml` (see ../build-languages.sh).
package tools

import (
	_ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
)
