// pulumi-resource-kubernetes built from the Go module proxy. Upstream's main embeds
// schema-embed.json and terraform-mapping-embed.json, which `go generate` writes and git ignores,
// so they are not in the module zip; build.sh writes them here from the module's schema.json
// and terraform-mapping.json (the same transformation as upstream's generate.go).
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
