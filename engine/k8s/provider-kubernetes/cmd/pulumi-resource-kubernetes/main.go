// The pulumi-kubernetes provider plugin: the upstream's cmd/pulumi-resource-kubernetes/main.go
// (which cannot be built from the module cache: it embeds files that `go generate` writes next to
// it). engine/k8s/build.sh builds a copy of this module in its cache, after writing there
// schema-embed.json (the upstream's schema.json with this version set) and
// terraform-mapping-embed.json; so this package does not compile in place.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

// PackageVersion is the @pulumi/kubernetes release this provider module's commit was tagged as;
// build.sh checks it against package.json and sets version.Version to it.
const PackageVersion = "4.25.0"

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
