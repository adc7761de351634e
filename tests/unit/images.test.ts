// Built images: the paths and platform the docker provider gets (the same in every checkout, so no
// clone previews a rebuild), dev pushing to the local registry of scripts/kind-up.sh, and that
// script run against stand-in docker/kind/kubectl commands (CI has no kind and no registry).
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { buildPaths, hostPlatform } from "../../components/images";
import { exporterSidecar } from "../../components/k8s";
import { imageReferenceProblem, imageSourceSchema, pinnedImage, type ImageSource, type Registry } from "../../components/schema";
import { configErrorOf, configWith } from "../helpers/config-errors";
import { parseStackConfig } from "../../config";
import { find, installMocks, RecordedResource, settled, valueOf } from "../helpers/mocks";
import { PROJECT_ROOT, readStackConfig } from "../../scripts/stack-files";

const IMAGE = "docker:index/image:Image";
const MOCK_DIGEST = `@sha256:${"0".repeat(64)}`;

describe("buildPaths: what the provider gets is relative to the project directory", () => {
    test.each([
        ["a relative context", { context: "images/postgres" }],
        ["a context with ./ and a trailing slash", { context: "./images/postgres/" }],
    ])("%s, in two checkouts at different places: the same relative strings", (_title, files) => {
        const expected = { context: "images/postgres", dockerfile: "images/postgres/Dockerfile" };
        expect(buildPaths(files, "/home/alice/src/prepx-platform")).toEqual(expected);
        expect(buildPaths(files, "/builds/ci/4711/prepx-platform")).toEqual(expected);
    });

    test("an absolute context inside the checkout becomes the same relative path wherever the checkout is", () => {
        for (const root of ["/home/alice/src/prepx-platform", "/builds/ci/4711/prepx-platform"]) {
            expect(buildPaths({ context: path.join(root, "services/api-gateway"), dockerfile: "Dockerfile.dev" }, root)).toEqual({
                context: "services/api-gateway",
                dockerfile: "services/api-gateway/Dockerfile.dev",
            });
        }
    });

    test("the project directory itself is '.', its Dockerfile is named as is", () => {
        expect(buildPaths({ context: "." }, "/srv/prepx")).toEqual({ context: ".", dockerfile: "Dockerfile" });
        expect(buildPaths({ context: "/srv/prepx" }, "/srv/prepx")).toEqual({ context: ".", dockerfile: "Dockerfile" });
    });

    test("a context outside the project stays relative, with ..", () => {
        expect(buildPaths({ context: "../shared/images/base" }, "/srv/prepx")).toEqual({ context: "../shared/images/base", dockerfile: "../shared/images/base/Dockerfile" });
    });
});

describe("hostPlatform: Node's architecture as docker build --platform names it", () => {
    test.each([
        ["x64", "linux/amd64"],
        ["arm64", "linux/arm64"],
    ])("%s -> %s", (nodeArch, platform) => {
        expect(hostPlatform(nodeArch)).toBe(platform);
    });

    test.each(["ia32", "ppc64", "s390x", "riscv64"])("%s is not guessed", (nodeArch) => {
        expect(hostPlatform(nodeArch)).toBeUndefined();
    });
});

describe("image references pinned by tag or digest", () => {
    const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;

    test.each([
        ["a version tag", "redis:7.2.11"],
        ["a digest alone", `redis@${DIGEST}`],
        ["a tag and a digest (the digest is pulled, the tag is for people)", `redis:7.2.11@${DIGEST}`],
        ["a registry with a port, a path, a tag and a digest", `localhost:5001/prepx/postgres-patroni:15.10-patroni3.0.2@${DIGEST}`],
        ["a registry host and a nested path", "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0"],
        ["`latest` pinned by a digest", `nginx:latest@${DIGEST}`],
    ])("accepted: %s", (_title, reference) => {
        expect(imageReferenceProblem(reference)).toBeUndefined();
        expect(pinnedImage.safeParse(reference).success).toBe(true);
        expect(imageSourceSchema.parse({ prebuilt: reference })).toEqual({ prebuilt: reference });
    });

    const BAD_DIGEST = "must have a digest of the form sha256:<64 lower-case hex digits> after '@'";
    const UNPINNED = "must be an image pinned to a version tag or digest (not 'latest', not untagged)";
    const MALFORMED = "must be an image reference such as registry.example.com/team/name:1.2.3 or name@sha256:<digest>";
    test.each([
        ["an upper-case digest", `redis@sha256:${"0123456789ABCDEF".repeat(4)}`, BAD_DIGEST],
        ["a short digest", "redis:7.2.11@sha256:0123456789abcdef", BAD_DIGEST],
        ["another algorithm", `redis@md5:${"0".repeat(32)}`, BAD_DIGEST],
        ["an empty digest", "redis:7.2.11@", BAD_DIGEST],
        ["two digests", `redis@${DIGEST}@${DIGEST}`, "must be an image reference with at most one '@' (name[:tag]@sha256:<digest>)"],
        ["latest", "redis:latest", UNPINNED],
        ["no tag", "nginx", UNPINNED],
        ["a registry port but no tag", "localhost:5001/prepx/api", UNPINNED],
        ["an upper-case name", "Redis:7.2.11", MALFORMED],
        ["an empty tag", "redis:", MALFORMED],
        ["no name before the digest", `@${DIGEST}`, MALFORMED],
    ])("refused: %s", (_title, reference, message) => {
        expect(imageReferenceProblem(reference)).toBe(message);
        expect(pinnedImage.safeParse(reference).success).toBe(false);
    });

    test("a bad digest in the stack fails the preview with a message naming the key", () => {
        const bad = `redis:7.2.11@sha256:${"0".repeat(63)}`;
        expect(configErrorOf(configWith("prod", (raw) => (raw.redis.image = bad)), "prod")).toBe(`prod: redis.image ${BAD_DIGEST} (got "${bad}")`);
        expect(configErrorOf(configWith("prod", (raw) => (raw.monitoring.grafana.image = "grafana/grafana@sha256:xyz")), "prod")).toBe(
            `prod: monitoring.grafana.image ${BAD_DIGEST} (got "grafana/grafana@sha256:xyz")`,
        );
        expect(configErrorOf(configWith("prod", (raw) => (raw.services[0].image = { prebuilt: "ghcr.io/prepx/api-gateway@sha256:1" })), "prod")).toBe(
            `prod: services[0].image.prebuilt ${BAD_DIGEST} (got "ghcr.io/prepx/api-gateway@sha256:1")`,
        );
    });

    test("a digest-pinned prebuilt image and image arg come out of the stack config unchanged; a sidecar runs it pulled IfNotPresent", () => {
        const gateway = `ghcr.io/prepx/api-gateway:1.4.2@${DIGEST}`;
        const exporter = `oliver006/redis_exporter:v1.62.0@${DIGEST}`;
        const config = parseStackConfig("prod", configWith("prod", (raw) => ((raw.services[0].image = { prebuilt: gateway }), (raw.redis.exporterImage = exporter))));
        expect(config.services[0].image).toEqual({ prebuilt: gateway });
        expect(config.redis.exporterImage).toBe(exporter);
        const sidecar = exporterSidecar({ image: config.redis.exporterImage, port: 9121, resources: config.redis.exporterResources });
        expect(sidecar).toMatchObject({ image: exporter, imagePullPolicy: "IfNotPresent" });
    });
});

describe("the Image under mocks", () => {
    let recorded: RecordedResource[];
    let imagesModule: typeof import("../../components/images");
    let parent: pulumi.ComponentResource;
    const devConfig = () => parseStackConfig("dev", readStackConfig("dev"));

    beforeAll(async () => {
        recorded = await installMocks("dev");
        imagesModule = await import("../../components/images");
        parent = new pulumi.ComponentResource("test:index:ImageOwner", "owner");
    });

    /** resolveImage with the cwd set to `dir` for the call (the program's cwd is its project dir). */
    function resolveIn(dir: string, name: string, source: ImageSource, registry: Registry): pulumi.Output<string> {
        const previous = process.cwd();
        process.chdir(dir);
        try {
            return imagesModule.resolveImage(name, source, registry, { parent });
        } finally {
            process.chdir(previous);
        }
    }

    test("dev builds images/postgres for this machine and pushes it; pods get the pushed digest", async () => {
        const config = devConfig();
        expect(config.registry).toEqual({ server: "localhost:5001/prepx", push: true });
        const reference = await valueOf(resolveIn(PROJECT_ROOT, "dev-postgres", config.postgres.image, config.registry));
        await settled(recorded);
        const image = find(recorded, IMAGE, "dev-postgres-image").inputs;
        expect(image.imageName).toBe("localhost:5001/prepx/postgres-patroni:15.19-patroni3.0.2-pgbackrest2.45");
        expect(image.skipPush).toBe(false);
        expect(image.build).toEqual({ context: "images/postgres", dockerfile: "images/postgres/Dockerfile", platform: hostPlatform(process.arch) });
        expect(reference).toBe(`localhost:5001/prepx/postgres-patroni:15.19-patroni3.0.2-pgbackrest2.45${MOCK_DIGEST}`);
    });

    test("a second checkout elsewhere gives the Image the very same inputs, none naming either checkout", async () => {
        const config = devConfig();
        const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "prepx-other-checkout-"));
        try {
            fs.mkdirSync(path.join(elsewhere, "images", "postgres"), { recursive: true });
            fs.copyFileSync(path.join(PROJECT_ROOT, "images/postgres/Dockerfile"), path.join(elsewhere, "images/postgres/Dockerfile"));
            await valueOf(resolveIn(PROJECT_ROOT, "here", config.postgres.image, config.registry));
            await valueOf(resolveIn(elsewhere, "elsewhere", config.postgres.image, config.registry));
            await settled(recorded);
            const here = find(recorded, IMAGE, "here-image").inputs;
            const there = find(recorded, IMAGE, "elsewhere-image").inputs;
            expect(there).toEqual(here);
            const serialized = JSON.stringify(here);
            expect(serialized).not.toContain(PROJECT_ROOT);
            expect(JSON.stringify(there)).not.toContain(elsewhere);
        } finally {
            fs.rmSync(elsewhere, { recursive: true, force: true });
        }
    });

    test("registry.platform, when set, is the build platform", async () => {
        const config = devConfig();
        await valueOf(resolveIn(PROJECT_ROOT, "arm", config.postgres.image, { ...config.registry, platform: "linux/arm64" }));
        await valueOf(resolveIn(PROJECT_ROOT, "amd", config.postgres.image, { ...config.registry, platform: "linux/amd64" }));
        await settled(recorded);
        expect(find(recorded, IMAGE, "arm-image").inputs.build.platform).toBe("linux/arm64");
        expect(find(recorded, IMAGE, "amd-image").inputs.build.platform).toBe("linux/amd64");
    });

    test("on an architecture with no known Docker platform, an unset registry.platform stops the stack with what to set", () => {
        const config = devConfig();
        const actual = Object.getOwnPropertyDescriptor(process, "arch") as PropertyDescriptor;
        Object.defineProperty(process, "arch", { ...actual, value: "ppc64" });
        try {
            expect(() => resolveIn(PROJECT_ROOT, "ppc", config.postgres.image, config.registry)).toThrow(
                "ppc: no Docker platform is known for this machine's architecture 'ppc64'; set registry.platform (e.g. linux/amd64)",
            );
            // Set, it is used as given whatever the machine.
            expect(() => resolveIn(PROJECT_ROOT, "ppc-set", config.postgres.image, { ...config.registry, platform: "linux/amd64" })).not.toThrow();
        } finally {
            Object.defineProperty(process, "arch", actual);
        }
    });

    test("a prebuilt image pinned by digest is used as given: nothing is built", async () => {
        const pinned = `ghcr.io/prepx/postgres-patroni:15.10-patroni3.0.2-pgbackrest2.45@sha256:${"ab".repeat(32)}`;
        const reference = await valueOf(resolveIn(PROJECT_ROOT, "pinned", { prebuilt: pinned }, devConfig().registry));
        await settled(recorded);
        expect(reference).toBe(pinned);
        expect(recorded.filter((r) => r.type === IMAGE).map((r) => r.name)).not.toContain("pinned-image");
    });

    test("without push the image stays in the local Docker and pods run the tag", async () => {
        const config = devConfig();
        const reference = await valueOf(resolveIn(PROJECT_ROOT, "local", config.postgres.image, { ...config.registry, push: false }));
        await settled(recorded);
        expect(find(recorded, IMAGE, "local-image").inputs.skipPush).toBe(true);
        expect(reference).toBe("localhost:5001/prepx/postgres-patroni:15.19-patroni3.0.2-pgbackrest2.45");
    });
});

// ---- scripts/kind-up.sh ----------------------------------------------------------------------

const SCRIPT = path.join(PROJECT_ROOT, "scripts/kind-up.sh");

test("kind-up.sh parses (bash -n)", () => {
    expect(() => execFileSync("bash", ["-n", SCRIPT])).not.toThrow();
});

test("the registry kind-up.sh runs is the host of Pulumi.dev.yaml's registry.server, and dev pushes there", () => {
    const script = fs.readFileSync(SCRIPT, "utf8");
    const port = /^REGISTRY_PORT=(\d+)$/m.exec(script)?.[1];
    const registry = readStackConfig("dev").registry as Registry;
    expect(port).toBe("5001");
    expect(registry.server.split("/")[0]).toBe(`localhost:${port}`);
    expect(registry.push).toBe(true);
});

/**
 * Stand-ins for docker, kind and kubectl: each call is appended to calls.log (one line, arguments
 * joined by spaces), what a call reads on stdin is saved, and what exists (the registry container,
 * the cluster, the network link, metrics-server) is kept as files in `state/`, so a second run sees
 * what the first made.
 */
const STUBS: Record<string, string> = {
    docker: String.raw`#!/usr/bin/env bash
echo "docker $*" >> "$STUB_DIR/calls.log"
case "$1 $2" in
  "inspect -f")
    case "$3" in
      "{{.State.Running}}") [ -f "$STUB_DIR/state/registry" ] || { echo "No such object: $4" >&2; exit 1; }; cat "$STUB_DIR/state/registry" ;;
      *Networks.kind*) if [ -f "$STUB_DIR/state/network" ]; then echo '{"NetworkID":"kind"}'; else echo null; fi ;;
    esac ;;
  "run -d") echo true > "$STUB_DIR/state/registry" ;;
  "start kind-registry") echo true > "$STUB_DIR/state/registry" ;;
  "network connect") touch "$STUB_DIR/state/network" ;;
  "exec -i") cat > "$STUB_DIR/stdin.$3.$(basename "$6")" ;;
esac
`,
    kind: String.raw`#!/usr/bin/env bash
echo "kind $*" >> "$STUB_DIR/calls.log"
case "$1 $2" in
  "get clusters") [ -f "$STUB_DIR/state/cluster" ] && cat "$STUB_DIR/state/cluster"; exit 0 ;;
  "get nodes") echo "$4-control-plane"; [ -f "$STUB_DIR/state/workers" ] && echo "$4-worker" ;;
  "create cluster") cat > "$STUB_DIR/stdin.kind-config"; echo "$4" > "$STUB_DIR/state/cluster"
    grep -q "role: worker" "$STUB_DIR/stdin.kind-config" && touch "$STUB_DIR/state/workers" ;;
esac
exit 0
`,
    kubectl: String.raw`#!/usr/bin/env bash
echo "kubectl $*" >> "$STUB_DIR/calls.log"
args=" $* "
case "$args" in
  *" get deployment metrics-server "*) [ -f "$STUB_DIR/state/metrics" ] || exit 1 ;;
  *" apply -f - "*) cat > "$STUB_DIR/stdin.kubectl-apply" ;;
  *" apply -f https://"*) touch "$STUB_DIR/state/metrics" ;;
esac
exit 0
`,
};

describe("kind-up.sh against stand-in docker, kind and kubectl", () => {
    let stubDir: string;
    const calls = (): string[] => fs.readFileSync(path.join(stubDir, "calls.log"), "utf8").trim().split("\n");
    const saved = (name: string): string => fs.readFileSync(path.join(stubDir, name), "utf8");

    function runScript(env: Record<string, string> = {}): string {
        fs.rmSync(path.join(stubDir, "calls.log"), { force: true });
        return execFileSync("bash", [SCRIPT], {
            env: { PATH: `${path.join(stubDir, "bin")}:/usr/bin:/bin`, STUB_DIR: stubDir, ...env },
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
        });
    }

    beforeEach(() => {
        stubDir = fs.mkdtempSync(path.join(os.tmpdir(), "prepx-kind-up-"));
        fs.mkdirSync(path.join(stubDir, "bin"));
        fs.mkdirSync(path.join(stubDir, "state"));
        for (const [name, body] of Object.entries(STUBS)) fs.writeFileSync(path.join(stubDir, "bin", name), body, { mode: 0o755 });
    });

    afterEach(() => {
        fs.rmSync(stubDir, { recursive: true, force: true });
    });

    const METRICS_MANIFEST = "https://github.com/kubernetes-sigs/metrics-server/releases/download/v0.8.1/components.yaml";
    const INSECURE_TLS_PATCH = `[{"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"--kubelet-insecure-tls"}]`;

    test("a first run creates the registry, the cluster, the node's registry alias, the ConfigMap and metrics-server", () => {
        runScript();
        expect(calls()).toEqual([
            "docker inspect -f {{.State.Running}} kind-registry",
            "docker run -d --restart=always -p 127.0.0.1:5001:5000 --network bridge --name kind-registry registry:3.1.2",
            "kind get clusters",
            "kind create cluster --name prepx --config=-",
            "kind get nodes --name prepx",
            "docker exec prepx-control-plane mkdir -p /etc/containerd/certs.d/localhost:5001",
            "docker exec -i prepx-control-plane cp /dev/stdin /etc/containerd/certs.d/localhost:5001/hosts.toml",
            "docker inspect -f {{json .NetworkSettings.Networks.kind}} kind-registry",
            "docker network connect kind kind-registry",
            "kubectl --context kind-prepx apply -f -",
            "kubectl --context kind-prepx -n kube-system get deployment metrics-server",
            `kubectl --context kind-prepx apply -f ${METRICS_MANIFEST}`,
            `kubectl --context kind-prepx -n kube-system patch deployment metrics-server --type=json -p ${INSECURE_TLS_PATCH}`,
            "kubectl --context kind-prepx -n kube-system rollout status deployment metrics-server --timeout=180s",
        ]);
        expect(saved("stdin.kind-config")).toBe(
            [
                "kind: Cluster",
                "apiVersion: kind.x-k8s.io/v1alpha4",
                "containerdConfigPatches:",
                "- |-",
                '  [plugins."io.containerd.grpc.v1.cri".registry]',
                '    config_path = "/etc/containerd/certs.d"',
                "nodes:",
                "- role: control-plane",
                "",
            ].join("\n"),
        );
        expect(saved("stdin.prepx-control-plane.hosts.toml")).toBe('[host."http://kind-registry:5000"]\n');
        expect(saved("stdin.kubectl-apply")).toBe(
            [
                "apiVersion: v1",
                "kind: ConfigMap",
                "metadata:",
                "  name: local-registry-hosting",
                "  namespace: kube-public",
                "data:",
                "  localRegistryHosting.v1: |",
                '    host: "localhost:5001"',
                '    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"',
                "",
            ].join("\n"),
        );
    });

    test("a second run creates nothing again; it rewrites the node's registry alias and the ConfigMap", () => {
        runScript();
        runScript();
        expect(calls()).toEqual([
            "docker inspect -f {{.State.Running}} kind-registry",
            "kind get clusters",
            "kind get nodes --name prepx",
            "docker exec prepx-control-plane mkdir -p /etc/containerd/certs.d/localhost:5001",
            "docker exec -i prepx-control-plane cp /dev/stdin /etc/containerd/certs.d/localhost:5001/hosts.toml",
            "docker inspect -f {{json .NetworkSettings.Networks.kind}} kind-registry",
            "kubectl --context kind-prepx apply -f -",
            "kubectl --context kind-prepx -n kube-system get deployment metrics-server",
        ]);
    });

    test("a stopped registry is started, not created again", () => {
        runScript();
        fs.writeFileSync(path.join(stubDir, "state/registry"), "false\n");
        runScript();
        expect(calls().slice(0, 2)).toEqual(["docker inspect -f {{.State.Running}} kind-registry", "docker start kind-registry"]);
    });

    test("workers, a cluster name and a node image are taken from the environment; every kubectl call names the cluster's context", () => {
        runScript({ KIND_WORKERS: "2", KIND_CLUSTER_NAME: "trading", KIND_NODE_IMAGE: "kindest/node:v1.34.0", METRICS_SERVER: "skip" });
        expect(calls()).toContain("kind create cluster --name trading --image kindest/node:v1.34.0 --config=-");
        expect(saved("stdin.kind-config").split("\n").filter((line) => line.startsWith("- role:"))).toEqual(["- role: control-plane", "- role: worker", "- role: worker"]);
        const kubectlCalls = calls().filter((line) => line.startsWith("kubectl "));
        expect(kubectlCalls).toEqual(["kubectl --context kind-trading apply -f -"]);
    });

    test.each([
        [{ KIND_WORKERS: "two" }, "kind-up: KIND_WORKERS must be a whole number (got 'two')"],
        [{ METRICS_SERVER: "maybe" }, "kind-up: METRICS_SERVER must be install or skip (got 'maybe')"],
    ])("a bad setting %p stops it before anything is created", (env, message) => {
        let stderr = "";
        try {
            runScript(env);
        } catch (error) {
            stderr = String((error as { stderr: string }).stderr);
        }
        expect(stderr.trim()).toBe(message);
        expect(fs.existsSync(path.join(stubDir, "calls.log"))).toBe(false);
    });
});
