// Command mailserver-sdkgen writes the Python or Go SDK of a Pulumi package schema. It does what
// the language hosts do for `pulumi package gen-sdk --language python|go` (their GeneratePackage:
// bind the schema allowing dangling references, run pkg/v3's code generator under the host's
// name, write the files), for machines where those hosts cannot be installed: the Go module
// proxy does not serve pulumi-language-python or pulumi-language-go, while pkg/v3's code
// generators, which they call, come with the CLI's own module. Like `pulumi package add`, which
// is how a user gets the SDK, it generates the SDK of a local package (SupportPack).
//
//	mailserver-sdkgen --language python|go --out DIR schema.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/blang/semver"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	pygen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

func main() {
	language := flag.String("language", "", "python or go")
	out := flag.String("out", "", "the folder to write the SDK into (emptied first)")
	flag.Parse()
	if flag.NArg() != 1 || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: mailserver-sdkgen --language python|go --out DIR schema.json")
		os.Exit(2)
	}
	if err := run(*language, *out, flag.Arg(0)); err != nil {
		fmt.Fprintf(os.Stderr, "mailserver-sdkgen: %v\n", err)
		os.Exit(1)
	}
}

func run(language, out, schemaPath string) error {
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("%s: %w", schemaPath, err)
	}
	pkg, diags, err := schema.BindSpec(spec, noOtherPackages{}, schema.ValidationOptions{AllowDanglingReferences: true})
	if err != nil {
		return err
	}
	if diags.HasErrors() {
		return diags
	}
	// As `pulumi package add` does (cmd/pulumi/packages InstallPackage): the SDK of a local package,
	// e.g. the Go SDK with a go.mod of its own.
	pkg.SupportPack = true
	var files map[string][]byte
	switch language {
	case "python":
		files, err = pygen.GeneratePackage("pulumi-language-python", pkg, nil, noOtherPackages{})
	case "go":
		files, err = gogen.GeneratePackage("pulumi-language-go", pkg, nil)
	default:
		return fmt.Errorf("unknown language %q (python or go)", language)
	}
	if err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	for name, content := range files {
		path := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// noOtherPackages is the schema loader: the hosts ask the engine for the packages a schema refers
// to; the schemas this tool is for refer to none, so asking for one is an error.
type noOtherPackages struct{}

func (noOtherPackages) LoadPackage(pkg string, _ *semver.Version) (*schema.Package, error) {
	return nil, fmt.Errorf("the schema refers to package %q; mailserver-sdkgen loads no other package", pkg)
}

func (l noOtherPackages) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return l.LoadPackage(d.Name, nil)
}

func (noOtherPackages) LoadPackageReference(pkg string, _ *semver.Version) (schema.PackageReference, error) {
	return nil, fmt.Errorf("the schema refers to package %q; mailserver-sdkgen loads no other package", pkg)
}

func (l noOtherPackages) LoadPackageReferenceV2(
	_ context.Context, d *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	return l.LoadPackageReference(d.Name, nil)
}
