#!/usr/bin/env bash
# Creates the laptop cluster the dev stack deploys to: a kind cluster with a local image registry
# on localhost:5001 and metrics-server (the HPAs scale on CPU; kind ships no metrics API). Safe to
# run again: whatever already exists is kept, the rest is created. Not run in CI (it has no kind).
#
#   bash scripts/kind-up.sh          then: pulumi config set kubeContext kind-prepx -s dev; pulumi up -s dev
#
# Needs docker, kind and kubectl on PATH. Environment:
#   KIND_CLUSTER_NAME   cluster name (default prepx; the kubectl context is kind-<name>)
#   KIND_WORKERS        worker nodes besides the control plane (default 0: one node runs everything)
#   KIND_NODE_IMAGE     node image (default: the one your kind version defaults to)
#   METRICS_SERVER      "install" (default) or "skip" (the HPAs then show <unknown> and never scale)
#
# The registry is set up as kind's guide "Local Registry" does (kind.sigs.k8s.io/docs/user/local-registry/):
# a registry container published on 127.0.0.1:5001 of this machine, containerd on each node told
# through /etc/containerd/certs.d/localhost:5001/hosts.toml that localhost:5001 is that container on
# the kind network (localhost inside a node is the node itself), and the local-registry-hosting
# ConfigMap (KEP-1755) that tells tools where to push. So `docker push localhost:5001/...` from this
# machine and a pod's `image: localhost:5001/...` name the same registry: Pulumi.dev.yaml's
# registry.server is localhost:5001/prepx with push: true.
set -euo pipefail

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,/^set -euo pipefail$/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 0
fi

CLUSTER_NAME="${KIND_CLUSTER_NAME:-prepx}"
KUBE_CONTEXT="kind-${CLUSTER_NAME}"
WORKERS="${KIND_WORKERS:-0}"
METRICS_SERVER="${METRICS_SERVER:-install}"
# Pulumi.dev.yaml's registry.server names this port (tests/unit/images.test.ts checks they agree).
REGISTRY_PORT=5001
REGISTRY_NAME=kind-registry
# distribution/distribution's registry, pinned like every image of the stack.
REGISTRY_IMAGE=registry:3.1.2
# metrics-server v0.8.x serves Kubernetes 1.31 and newer (its README's compatibility matrix).
METRICS_SERVER_VERSION=v0.8.1
METRICS_SERVER_MANIFEST="https://github.com/kubernetes-sigs/metrics-server/releases/download/${METRICS_SERVER_VERSION}/components.yaml"

log() { printf 'kind-up: %s\n' "$*" >&2; }
fail() { log "$*"; exit 1; }

for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not on PATH"
done
case "$WORKERS" in
  '' | *[!0-9]*) fail "KIND_WORKERS must be a whole number (got '$WORKERS')" ;;
esac
case "$METRICS_SERVER" in
  install | skip) ;;
  *) fail "METRICS_SERVER must be install or skip (got '$METRICS_SERVER')" ;;
esac
# Every kubectl call names the context: nothing here may touch whatever cluster kubectl points at.
kube() { kubectl --context "$KUBE_CONTEXT" "$@"; }

# 1. The registry container, started again if it exists but stopped (e.g. after a reboot).
registry_state=$(docker inspect -f '{{.State.Running}}' "$REGISTRY_NAME" 2>/dev/null || true)
if [ "$registry_state" = "true" ]; then
  log "registry $REGISTRY_NAME is running"
elif [ "$registry_state" = "false" ]; then
  log "starting registry $REGISTRY_NAME"
  docker start "$REGISTRY_NAME" >/dev/null
else
  log "creating registry $REGISTRY_NAME ($REGISTRY_IMAGE) on 127.0.0.1:$REGISTRY_PORT"
  docker run -d --restart=always -p "127.0.0.1:${REGISTRY_PORT}:5000" --network bridge \
    --name "$REGISTRY_NAME" "$REGISTRY_IMAGE" >/dev/null
fi

# 2. The cluster, with containerd reading registry hosts from /etc/containerd/certs.d. kind's node
# images from v0.27.0 on do that already; the patch makes older ones do it too (kind's guide).
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
  log "cluster $CLUSTER_NAME exists"
else
  log "creating cluster $CLUSTER_NAME (1 control plane, $WORKERS workers)"
  cluster_config=$(
    cat <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
containerdConfigPatches:
- |-
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"
nodes:
- role: control-plane
EOF
    for _ in $(seq 1 "$WORKERS"); do printf -- '- role: worker\n'; done
  )
  image_args=()
  if [ -n "${KIND_NODE_IMAGE:-}" ]; then image_args=(--image "$KIND_NODE_IMAGE"); fi
  # ${a[@]+...}: macOS's bash 3.2 calls an empty array unbound under set -u.
  printf '%s\n' "$cluster_config" | kind create cluster --name "$CLUSTER_NAME" ${image_args[@]+"${image_args[@]}"} --config=-
fi

# 3. On every node: localhost:5001 is the registry container over plain HTTP. Written each run, so
# a node added since (or a changed file) is set right; containerd reads it on the next pull.
registry_dir="/etc/containerd/certs.d/localhost:${REGISTRY_PORT}"
for node in $(kind get nodes --name "$CLUSTER_NAME"); do
  docker exec "$node" mkdir -p "$registry_dir"
  printf '[host."http://%s:5000"]\n' "$REGISTRY_NAME" | docker exec -i "$node" cp /dev/stdin "$registry_dir/hosts.toml"
done

# 4. The registry joins the kind network, so the nodes reach it by its container name.
if [ "$(docker inspect -f '{{json .NetworkSettings.Networks.kind}}' "$REGISTRY_NAME")" = "null" ]; then
  log "connecting $REGISTRY_NAME to the kind network"
  docker network connect kind "$REGISTRY_NAME"
fi

# 5. Where the local registry is, for tools that read KEP-1755's ConfigMap (Tilt, Skaffold, ...).
kube apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "localhost:${REGISTRY_PORT}"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
EOF

# 6. metrics-server, so the HPAs get CPU figures. kind's kubelets serve self-signed certificates,
# which metrics-server refuses unless told --kubelet-insecure-tls (its README); acceptable on a
# laptop cluster only. Installed once: a second run does not re-apply (and restart) it.
if [ "$METRICS_SERVER" = "skip" ]; then
  log "metrics-server skipped; to install it later:"
  log "  kubectl --context $KUBE_CONTEXT apply -f $METRICS_SERVER_MANIFEST"
  log "  kubectl --context $KUBE_CONTEXT -n kube-system patch deployment metrics-server --type=json \\"
  log "    -p '[{\"op\":\"add\",\"path\":\"/spec/template/spec/containers/0/args/-\",\"value\":\"--kubelet-insecure-tls\"}]'"
elif kube -n kube-system get deployment metrics-server >/dev/null 2>&1; then
  log "metrics-server is installed"
else
  log "installing metrics-server $METRICS_SERVER_VERSION"
  kube apply -f "$METRICS_SERVER_MANIFEST" >/dev/null
  kube -n kube-system patch deployment metrics-server --type=json \
    -p '[{"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"--kubelet-insecure-tls"}]' >/dev/null
  kube -n kube-system rollout status deployment metrics-server --timeout=180s
fi

log "ready: context $KUBE_CONTEXT, registry localhost:$REGISTRY_PORT"
log "next:  pulumi config set kubeContext $KUBE_CONTEXT -s dev && pulumi up -s dev"
