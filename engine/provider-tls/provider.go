// Package provider maps the Terraform tls provider onto the Pulumi tokens and
// names of @pulumi/tls (see ../README.md). It mirrors the mapping of
// pulumi/pulumi-tls's provider/resources.go.
package provider

import (
	"unicode"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/hashicorp/terraform-provider-tls/shim"
)

// PackageVersion is the version of @pulumi/tls (package.json) whose schema this
// provider serves; the plugin reports it and is installed under it.
// engine/build.sh checks it against package.json.
const PackageVersion = "5.6.1"

const (
	tlsPkg = "tls"
	tlsMod = "index"
)

func tlsMember(mod, mem string) tokens.ModuleMember {
	return tokens.ModuleMember(tlsPkg + ":" + mod + ":" + mem)
}

func tlsResource(mod, res string) tokens.Type {
	fn := string(unicode.ToLower(rune(res[0]))) + res[1:]
	return tokens.Type(tlsMember(mod+"/"+fn, res))
}

func tlsDataSource(mod, res string) tokens.ModuleMember {
	fn := string(unicode.ToLower(rune(res[0]))) + res[1:]
	return tlsMember(mod+"/"+fn, res)
}

// Provider returns the bridge's description of the tls provider.
// metadata is the content of bridge-metadata.json ("{}" before tfgen ran).
func Provider(version string, metadata []byte) tfbridge.ProviderInfo {
	return tfbridge.ProviderInfo{
		P:            pftfbridge.ShimProvider(shim.NewProvider()),
		Name:         tlsPkg,
		Version:      version,
		Description:  "A Pulumi package to create TLS resources in Pulumi programs.",
		Keywords:     []string{"pulumi", "tls"},
		License:      "Apache-2.0",
		Homepage:     "https://pulumi.io",
		Repository:   "https://github.com/pulumi/pulumi-tls",
		GitHubOrg:    "hashicorp",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Resources: map[string]*tfbridge.ResourceInfo{
			"tls_cert_request":        {Tok: tlsResource(tlsMod, "CertRequest")},
			"tls_locally_signed_cert": {Tok: tlsResource(tlsMod, "LocallySignedCert")},
			"tls_private_key":         {Tok: tlsResource(tlsMod, "PrivateKey")},
			"tls_self_signed_cert": {
				Tok:                 tlsResource(tlsMod, "SelfSignedCert"),
				PreStateUpgradeHook: selfSignedCertPreStateUpgradeHook,
			},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"tls_public_key":  {Tok: tlsDataSource(tlsMod, "getPublicKey")},
			"tls_certificate": {Tok: tlsDataSource(tlsMod, "getCertificate")},
		},
		EnableZeroDefaultSchemaVersion: true,
	}
}

// selfSignedCertPreStateUpgradeHook fixes up state written before the
// upstream moved to the plugin framework (as pulumi-tls does).
func selfSignedCertPreStateUpgradeHook(args tfbridge.PreStateUpgradeHookArgs) (int64, resource.PropertyMap, error) {
	if args.ResourceSchemaVersion != 0 || args.PriorStateSchemaVersion != 0 {
		return args.PriorStateSchemaVersion, args.PriorState, nil
	}
	s := args.PriorState
	for _, f := range []string{"setSubjectKeyId", "setAuthorityKeyId", "isCaCertificate"} {
		k := resource.PropertyKey(f)
		if _, ok := s[k]; !ok {
			s[k] = resource.NewBoolProperty(false)
		}
	}
	if subject, ok := s["subject"]; ok && subject.IsObject() {
		su := subject.ObjectValue()
		for _, name := range []string{"commonName", "country", "locality", "organization",
			"organizationalUnit", "postalCode", "province", "serialNumber"} {
			k := resource.PropertyKey(name)
			if x, ok := su[k]; ok && x.IsString() && x.StringValue() == "" {
				delete(su, k)
			}
		}
		if sa, ok := su["streetAddresses"]; ok && sa.IsArray() && len(sa.ArrayValue()) == 0 {
			delete(su, "streetAddresses")
		}
	}
	if _, ok := s["allowedUses"]; !ok {
		s["allowedUses"] = resource.NewArrayProperty([]resource.PropertyValue{})
	}
	return 0, s, nil
}
