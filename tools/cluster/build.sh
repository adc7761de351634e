#!/usr/bin/env bash
# Builds a local Kubernetes control plane from the Go module proxy into tools/cluster/bin
# (git-ignored), for npm run test:cluster:
#   etcd                      go.etcd.io/etcd/server/v3 v3.6.14
#   kube-apiserver            k8s.io/kubernetes v1.34.4 (version-stamped: clients see v1.34.4)
#   kube-controller-manager   the same
#   kube-scheduler            the same
#   kwok                      sigs.k8s.io/kwok v0.8.0, the controller that plays the kubelet of fake nodes
# Each binary is rebuilt only when its wrapper module, this script, tools/stamps.sh or the Go version
# changed (a stamp per binary, as for tools/engine/build.sh); Go's module and build caches make a
# rebuild incremental.
set -euo pipefail
cd "$(dirname "$0")"
CLUSTER_DIR=$(pwd)
BIN_DIR="$CLUSTER_DIR/bin"
mkdir -p "$BIN_DIR"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly

KUBERNETES_VERSION=v1.34.4
ETCD_VERSION=v3.6.14
KWOK_VERSION=v0.8.0

BUILD_SCRIPT="$CLUSTER_DIR/build.sh"
# shellcheck source=../stamps.sh
source "$CLUSTER_DIR/../stamps.sh"

build_etcd() {
  (cd etcd && go build -trimpath -ldflags "-s -w" -o "$BIN_DIR/etcd" go.etcd.io/etcd/server/v3)
}

build_kubernetes() {
  # Without the stamp the binaries report v0.0.0 and the Kubernetes provider refuses the cluster.
  local minor=${KUBERNETES_VERSION#v1.}
  minor=${minor%%.*}
  local flags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION"
  flags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  flags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  (cd kubernetes && go build -trimpath -ldflags "$flags" -o "$BIN_DIR/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler)
}

build_kwok() {
  (cd kwok && go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" -o "$BIN_DIR/kwok" sigs.k8s.io/kwok/cmd/kwok)
}

build etcd "etcd $ETCD_VERSION" etcd
build kwok "kwok $KWOK_VERSION" kwok
build kubernetes "kube-apiserver, kube-controller-manager, kube-scheduler $KUBERNETES_VERSION" kube-apiserver kube-controller-manager kube-scheduler

# The stages kwok runs: kwok's own fast node, pod and volume stages from its module (not copied into
# this repository) and ours for LoadBalancer Services. Written each run: cheap, and always in step
# with the module version in kwok/go.mod.
write_stages() {
  local kwok_dir
  kwok_dir=$(cd kwok && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  local stage_dir="$kwok_dir/kustomize/stage"
  {
    for file in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
      pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml \
      volume/fast/pvc-provision.yaml volume/fast/pv-bind.yaml volume/fast/pvc-delete.yaml volume/fast/pv-delete.yaml; do
      echo "---"
      cat "$stage_dir/$file"
    done
    echo "---"
    cat "$CLUSTER_DIR/load-balancer-stage.yaml"
  } > "$BIN_DIR/stages.yaml.tmp"
  mv "$BIN_DIR/stages.yaml.tmp" "$BIN_DIR/stages.yaml"
}
write_stages

"$BIN_DIR/kube-apiserver" --version
"$BIN_DIR/etcd" --version | sed -n 1p
