// Package shim exposes the upstream Terraform docker provider's SDKv2
// constructor, which lives in an internal package.
package shim

import (
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// NewProvider returns the upstream SDKv2 provider (the resources and data
// sources that pulumi-docker bridges; the upstream's plugin-framework half,
// docker_compose and a few data sources, is not part of @pulumi/docker).
func NewProvider(version string) *schema.Provider {
	return provider.New(version)()
}
