// pulumi-resource-tls is the tls resource provider plugin: the Terraform tls
// provider (plugin framework) served through the bridge's pf layer, with the
// schema written by pulumi-tfgen-tls embedded.
package main

import (
	"context"
	_ "embed"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	provider "mailserver.local/engine/provider-tls"
)

// The plugin reports the version of the npm package it matches.
var version = provider.PackageVersion

// Both files are written by pulumi-tfgen-tls at build time (not committed).
//
//go:embed schema.json
var pulumiSchema []byte

//go:embed bridge-metadata.json
var bridgeMetadata []byte

func main() {
	meta := pftfbridge.ProviderMetadata{PackageSchema: pulumiSchema, BridgeMetadata: bridgeMetadata}
	pftfbridge.Main(context.Background(), "tls", provider.Provider(version, bridgeMetadata), meta)
}
