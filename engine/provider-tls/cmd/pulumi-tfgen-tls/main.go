// pulumi-tfgen-tls writes the Pulumi package schema of the bridged tls
// provider: `pulumi-tfgen-tls schema --skip-examples --out DIR` writes
// DIR/schema.json and DIR/bridge-metadata.json, which
// cmd/pulumi-resource-tls embeds (see ../../../build.sh).
package main

import (
	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	provider "mailserver.local/engine/provider-tls"
)

// The plugin reports the version of the npm package it matches.
var version = provider.PackageVersion

func main() {
	pftfgen.Main("tls", provider.Provider(version, []byte("{}")))
}
