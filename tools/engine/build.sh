#!/usr/bin/env bash
# Builds the Pulumi engine pieces the engine test needs from the Go module proxy into
# tools/engine/bin (git-ignored):
#   pulumi                      the CLI, github.com/pulumi/pulumi/pkg/v3 v3.248.0 (= @pulumi/pulumi)
#   pulumi-resource-kubernetes  github.com/pulumi/pulumi-kubernetes/provider/v4 at v4.25.0's commit
# Each binary is rebuilt only when its wrapper module (go.mod, go.sum, main.go), this script,
# tools/stamps.sh or the Go version changed; a second run with nothing changed takes well under a second. Go's module and
# build caches (GOMODCACHE, GOCACHE) make a rebuild after a small change incremental.
# What the proxy does not serve (the Node.js language host, the random and docker providers) is
# listed in tools/engine/README.md with what the engine test does instead.
set -euo pipefail
cd "$(dirname "$0")"
ENGINE_DIR=$(pwd)
BIN_DIR="$ENGINE_DIR/bin"
mkdir -p "$BIN_DIR"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly

PULUMI_VERSION=v3.248.0
KUBERNETES_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
KUBERNETES_VERSION=4.25.0

BUILD_SCRIPT="$ENGINE_DIR/build.sh"
# shellcheck source=../stamps.sh
source "$ENGINE_DIR/../stamps.sh"

build_cli() {
  (cd cli && go build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    -o "$BIN_DIR/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
}

build_kubernetes() {
  (
    cd kubernetes
    go mod download "$KUBERNETES_MODULE"
    local module_dir
    module_dir=$(go list -m -f '{{.Dir}}' "$KUBERNETES_MODULE")
    # What upstream's generate.go does: the schema with its version set, both files compacted.
    node -e '
      const fs = require("fs");
      const [dir, version] = process.argv.slice(1);
      const read = (file) => JSON.parse(fs.readFileSync(`${dir}/cmd/pulumi-resource-kubernetes/${file}`, "utf8"));
      fs.writeFileSync("schema-embed.json", JSON.stringify({ ...read("schema.json"), version }));
      fs.writeFileSync("terraform-mapping-embed.json", JSON.stringify(read("terraform-mapping.json")));
    ' "$module_dir" "$KUBERNETES_VERSION"
    go build -trimpath \
      -ldflags "-s -w -X $KUBERNETES_MODULE/pkg/version.Version=$KUBERNETES_VERSION" \
      -o "$BIN_DIR/pulumi-resource-kubernetes" .
  )
}

build cli "pulumi $PULUMI_VERSION" pulumi
build kubernetes "pulumi-resource-kubernetes $KUBERNETES_VERSION" pulumi-resource-kubernetes

"$BIN_DIR/pulumi" version
