// A nested module under the upstream module's path, so that it may import
// the upstream's internal/provider package (Go's internal rule is by import
// path). The plugin module wires it in with a replace to this folder.
module github.com/terraform-providers/terraform-provider-docker/shim

go 1.25.8

require (
	github.com/hashicorp/terraform-plugin-sdk/v2 v2.40.1
	github.com/terraform-providers/terraform-provider-docker v0.0.0-20260916201441-96d331c98ff4
)
