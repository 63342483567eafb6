// A nested module under the upstream module's path, so that it may import
// the upstream's internal/provider package (Go's internal rule is by import
// path). The plugin module wires it in with a replace to this folder.
module github.com/hashicorp/terraform-provider-tls/shim

go 1.25.8

require (
	github.com/hashicorp/terraform-plugin-framework v1.19.0
	github.com/hashicorp/terraform-provider-tls v1.2.1-0.20260819085117-d044ca7c6f52
)
