// Package shim exposes the upstream Terraform tls provider (a
// plugin-framework provider), whose constructor lives in an internal package.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	tlsprovider "github.com/hashicorp/terraform-provider-tls/internal/provider"
)

// NewProvider returns the upstream plugin-framework provider.
func NewProvider() provider.Provider {
	return tlsprovider.New()
}
