// pulumi-tfgen-docker writes the Pulumi package schema of the bridged docker
// provider: `pulumi-tfgen-docker schema --skip-examples --out DIR` writes
// DIR/schema.json and DIR/bridge-metadata.json, which
// cmd/pulumi-resource-docker embeds (see ../../../build.sh).
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	provider "mailserver.local/engine/provider-docker"
)

// The plugin reports the version of the npm package it matches.
var version = provider.PackageVersion

func main() {
	tfgen.Main("docker", version, provider.Provider(version, []byte("{}")))
}
