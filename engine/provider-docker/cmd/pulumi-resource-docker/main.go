// pulumi-resource-docker is the docker resource provider plugin: the
// Terraform docker provider served through the Pulumi Terraform bridge, with
// the schema written by pulumi-tfgen-docker embedded.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	provider "mailserver.local/engine/provider-docker"
)

// The plugin reports the version of the npm package it matches.
var version = provider.PackageVersion

// Both files are written by pulumi-tfgen-docker at build time (not committed).
//
//go:embed schema.json
var pulumiSchema []byte

//go:embed bridge-metadata.json
var bridgeMetadata []byte

func main() {
	tfbridge.Main("docker", version, provider.Provider(version, bridgeMetadata), pulumiSchema)
}
