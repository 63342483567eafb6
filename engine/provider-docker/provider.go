// Package provider maps the Terraform docker provider onto the Pulumi tokens
// and names of @pulumi/docker (see ../README.md). It mirrors the mapping of
// pulumi/pulumi-docker's provider/resources.go for the bridged resources.
package provider

import (
	"unicode"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/terraform-providers/terraform-provider-docker/shim"
)

// PackageVersion is the version of @pulumi/docker (package.json) whose schema this
// provider serves; the plugin reports it and is installed under it.
// engine/build.sh checks it against package.json.
const PackageVersion = "5.2.0"

const (
	dockerPkg = "docker"
	dockerMod = "index"
)

func dockerMember(mod, mem string) tokens.ModuleMember {
	return tokens.ModuleMember(dockerPkg + ":" + mod + ":" + mem)
}

// dockerResource makes "docker:index/<lowerCamel>:<Name>".
func dockerResource(mod, res string) tokens.Type {
	fn := string(unicode.ToLower(rune(res[0]))) + res[1:]
	return tokens.Type(dockerMember(mod+"/"+fn, res))
}

// dockerDataSource makes "docker:index/<name>:<name>".
func dockerDataSource(mod, res string) tokens.ModuleMember {
	fn := string(unicode.ToLower(rune(res[0]))) + res[1:]
	return dockerMember(mod+"/"+fn, res)
}

// Provider returns the bridge's description of the docker provider.
// metadata is the content of bridge-metadata.json ("{}" before tfgen ran).
func Provider(version string, metadata []byte) tfbridge.ProviderInfo {
	prov := tfbridge.ProviderInfo{
		P:            shimv2.NewProvider(shim.NewProvider(version)),
		Name:         dockerPkg,
		Version:      version,
		Description:  "A Pulumi package for interacting with Docker in Pulumi programs",
		Keywords:     []string{"pulumi", "docker"},
		License:      "Apache-2.0",
		Homepage:     "https://pulumi.io",
		Repository:   "https://github.com/pulumi/pulumi-docker",
		GitHubOrg:    "kreuzwerker",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Config: map[string]*tfbridge.SchemaInfo{
			"host": {
				Default: &tfbridge.DefaultInfo{
					Value:   "unix:///var/run/docker.sock",
					EnvVars: []string{"DOCKER_HOST"},
				},
			},
			"registry_auth": {
				Name:        "registryAuth", // not plural
				MaxItemsOne: tfbridge.False(),
			},
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_config": {Tok: dockerResource(dockerMod, "ServiceConfig")},
			"docker_container": {
				Tok:                 dockerResource(dockerMod, "Container"),
				DeleteBeforeReplace: true,
				Fields: map[string]*tfbridge.SchemaInfo{
					// A list, but one command: not pluralised.
					"command": {Name: "command"},
					// Not pluralised either.
					"networks_advanced": {Name: "networksAdvanced"},
				},
			},
			"docker_image": {
				Tok: dockerResource(dockerMod, "RemoteImage"),
				Fields: map[string]*tfbridge.SchemaInfo{
					"name": {Name: "name"},
				},
			},
			"docker_network":        {Tok: dockerResource(dockerMod, "Network")},
			"docker_secret":         {Tok: dockerResource(dockerMod, "Secret")},
			"docker_service":        {Tok: dockerResource(dockerMod, "Service")},
			"docker_volume":         {Tok: dockerResource(dockerMod, "Volume")},
			"docker_registry_image": {Tok: dockerResource(dockerMod, "RegistryImage")},
			"docker_plugin":         {Tok: dockerResource(dockerMod, "Plugin")},
			"docker_tag":            {Tok: dockerResource(dockerMod, "Tag")},
			"docker_buildx_builder": {Tok: dockerResource(dockerMod, "BuildxBuilder")},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"docker_network":                  {Tok: dockerDataSource(dockerMod, "getNetwork")},
			"docker_registry_image":           {Tok: dockerDataSource(dockerMod, "getRegistryImage")},
			"docker_registry_image_manifests": {Tok: dockerDataSource(dockerMod, "getRegistryImageManifests")},
			"docker_plugin":                   {Tok: dockerDataSource(dockerMod, "getPlugin")},
			"docker_image":                    {Tok: dockerDataSource(dockerMod, "getRemoteImage")},
			"docker_logs":                     {Tok: dockerDataSource(dockerMod, "getLogs")},
		},
	}
	prov.SetAutonaming(255, "-")
	return prov
}
