// A local Kubernetes control plane for tests and laptops, from the binaries tools/cluster/build.sh
// builds: etcd, kube-apiserver, kube-controller-manager and kube-scheduler run for real; kwok plays the
// kubelet of fake nodes (pods become Ready, Job pods complete, PVCs bind, LoadBalancer Services get an
// address), so no container ever runs and nothing sends traffic to pod or Service addresses.
// Everything listens on 127.0.0.1 on free ports, lives in one temp dir and is stopped by PID.
//
// `tsx tools/cluster/cluster.ts up [--dir <dir>]` starts one and prints its kubeconfig; Ctrl-C stops it.
// The nodes have kind's shape (NODES): one tainted control-plane node and two workers.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { parseFlags, runMain } from "../../scripts/cli";

const CLUSTER_BIN = path.join(__dirname, "bin");
/** The kubeconfig context of every local cluster. */
export const LOCAL_CONTEXT = "prepx-local";
/** Stages kwok moves objects through (assembled by build.sh from kwok's module plus ours). */
const STAGES_FILE = path.join(CLUSTER_BIN, "stages.yaml");
const SERVICE_CIDR = "10.96.0.0/16";
const POD_CIDR = "10.244.0.0/16";
/** How long one component may take to become ready; a start that takes longer is a failure. */
const READY_TIMEOUT_MS = 60_000;

/** A fake node kwok keeps Ready. */
interface FakeNode {
    name: string;
    zone: string;
    cpu: string;
    memory: string;
    /** The node's local disk for container writable layers, logs and emptyDirs: pods request some. */
    ephemeralStorage: string;
    pods: number;
    /** Taints, e.g. a control plane's NoSchedule, which pods without a toleration must avoid. */
    taints?: { key: string; effect: "NoSchedule" | "NoExecute" | "PreferNoSchedule" }[];
}

/**
 * kind's shape: a tainted control-plane node and two workers, in two zones. The workers hold prod's
 * requests at its HPA minimum (about 60 cores); the tainted node is what made a hard hostname spread
 * leave pods Pending.
 */
const NODES: FakeNode[] = [
    { name: "kwok-control-plane", zone: "zone-a", cpu: "8", memory: "16Gi", ephemeralStorage: "100Gi", pods: 110, taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] },
    { name: "kwok-worker-0", zone: "zone-a", cpu: "96", memory: "384Gi", ephemeralStorage: "500Gi", pods: 250 },
    { name: "kwok-worker-1", zone: "zone-b", cpu: "96", memory: "384Gi", ephemeralStorage: "500Gi", pods: 250 },
];

/** The answer of one API request. */
export interface ApiResponse {
    status: number;
    body: unknown;
}

/** A running local cluster. */
export interface LocalCluster {
    /** The temp dir holding its data, certificates, logs and kubeconfig. */
    readonly dir: string;
    /** An admin kubeconfig (client certificate in group system:masters), context LOCAL_CONTEXT. */
    readonly kubeconfig: string;
    /** https://127.0.0.1:<port> */
    readonly server: string;
    /** One request to the API server as the admin; the body is sent as JSON (or as `contentType`, e.g. an apply patch). */
    request(method: string, apiPath: string, body?: unknown, contentType?: string): Promise<ApiResponse>;
    /** Stops every process (SIGTERM, then SIGKILL after 10 s) and, unless kept, removes the dir. */
    stop(options?: { keepDir?: boolean }): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (the OS picks it; the listener is closed again at once). */
function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
        });
    });
}

function openssl(dir: string, args: string[]): void {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA, the API server's serving certificate, an admin client certificate and the service-account key pair. */
function createPki(dir: string): void {
    const days = "7";
    openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", days, "-subj", "/CN=prepx-local-ca"]);
    const sign = (name: string, subject: string, extensions: string): void => {
        fs.writeFileSync(path.join(dir, `${name}.ext`), extensions);
        openssl(dir, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject]);
        openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", days, "-extfile", `${name}.ext`]);
    };
    const names = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"];
    sign("apiserver", "/CN=kube-apiserver", `subjectAltName=IP:127.0.0.1,IP:10.96.0.1,${names.map((name) => `DNS:${name}`).join(",")}\nextendedKeyUsage=serverAuth\n`);
    sign("admin", "/O=system:masters/CN=prepx-admin", "extendedKeyUsage=clientAuth\n");
    openssl(dir, ["genrsa", "-out", "sa.key", "2048"]);
    openssl(dir, ["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
}

function writeKubeconfig(dir: string, server: string): string {
    const file = path.join(dir, "kubeconfig");
    fs.writeFileSync(
        file,
        [
            "apiVersion: v1",
            "kind: Config",
            "clusters:",
            `- name: ${LOCAL_CONTEXT}`,
            "  cluster:",
            `    server: ${server}`,
            `    certificate-authority: ${path.join(dir, "ca.crt")}`,
            "users:",
            "- name: prepx-admin",
            "  user:",
            `    client-certificate: ${path.join(dir, "admin.crt")}`,
            `    client-key: ${path.join(dir, "admin.key")}`,
            "contexts:",
            `- name: ${LOCAL_CONTEXT}`,
            "  context:",
            `    cluster: ${LOCAL_CONTEXT}`,
            "    user: prepx-admin",
            `current-context: ${LOCAL_CONTEXT}`,
            "",
        ].join("\n"),
    );
    return file;
}

function apiRequest(dir: string, server: string, method: string, apiPath: string, body?: unknown, contentType = "application/json"): Promise<ApiResponse> {
    const url = new URL(apiPath, server);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
        const request = https.request(
            url,
            {
                method,
                ca: fs.readFileSync(path.join(dir, "ca.crt")),
                cert: fs.readFileSync(path.join(dir, "admin.crt")),
                key: fs.readFileSync(path.join(dir, "admin.key")),
                headers: { accept: "application/json", ...(payload ? { "content-type": contentType } : {}) },
                timeout: 10_000,
            },
            (response) => {
                let text = "";
                response.on("data", (chunk: Buffer) => (text += chunk.toString()));
                response.on("end", () => {
                    let parsed: unknown = text;
                    try {
                        parsed = JSON.parse(text);
                    } catch {
                        // not JSON (readyz answers plain text)
                    }
                    resolve({ status: response.statusCode ?? 0, body: parsed });
                });
            },
        );
        request.on("timeout", () => request.destroy(new Error(`${method} ${apiPath}: no answer in 10 s`)));
        request.on("error", reject);
        if (payload) request.write(payload);
        request.end();
    });
}

/** Polls `check` every 250 ms until it returns true; throws naming `what` (and its log) after the timeout. */
async function waitFor(what: string, check: () => Promise<boolean>, logFile?: string): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
        try {
            if (await check()) return;
        } catch {
            // not up yet
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const log = logFile && fs.existsSync(logFile) ? `\n--- ${path.basename(logFile)} (end)\n${fs.readFileSync(logFile, "utf8").slice(-4000)}` : "";
    throw new Error(`${what} was not ready after ${READY_TIMEOUT_MS / 1000} s${log}`);
}

function plainHttpOk(url: string): Promise<boolean> {
    return fetch(url, { signal: AbortSignal.timeout(2000) }).then((response) => response.ok);
}

/** The cert-manager kinds the stack declares. */
const CERT_MANAGER_KINDS = ["Issuer", "ClusterIssuer", "Certificate"] as const;

/** A CustomResourceDefinition for `kind` in `group/version` that keeps any spec and status. */
function standInDefinition(group: string, version: string, kind: string): Record<string, unknown> {
    const plural = `${kind.toLowerCase()}s`;
    return {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: `${plural}.${group}` },
        spec: {
            group,
            scope: kind.startsWith("Cluster") ? "Cluster" : "Namespaced",
            names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
            versions: [{ name: version, served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
        },
    };
}

/** Starts a control plane with kwok nodes. The caller must `stop()` it (the test's afterAll does). */
export async function startCluster(options: { dir?: string } = {}): Promise<LocalCluster> {
    for (const binary of ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]) {
        if (!fs.existsSync(path.join(CLUSTER_BIN, binary))) throw new Error(`${binary} is not built: run tools/cluster/build.sh (npm run test:cluster does)`);
    }
    const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "prepx-cluster-"));
    fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
    createPki(dir);
    const [etcdClient, etcdPeer, apiserverPort, controllerPort, schedulerPort, kwokPort] = await Promise.all(Array.from({ length: 6 }, freePort));
    const server = `https://127.0.0.1:${apiserverPort}`;
    const kubeconfig = writeKubeconfig(dir, server);
    const file = (name: string) => path.join(dir, name);
    const children: ChildProcess[] = [];

    const start = (name: string, args: string[]): string => {
        const logFile = file(`logs/${name}.log`);
        const log = fs.openSync(logFile, "a");
        const child = spawn(path.join(CLUSTER_BIN, name), args, { cwd: dir, stdio: ["ignore", log, log], env: { ...process.env, KWOK_WORKDIR: file("kwok") } });
        fs.closeSync(log);
        if (child.pid === undefined) throw new Error(`${name} did not start`);
        children.push(child);
        return logFile;
    };

    const stop = async (stopOptions: { keepDir?: boolean } = {}): Promise<void> => {
        for (const child of [...children].reverse()) {
            if (child.exitCode !== null || child.signalCode !== null) continue;
            const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
            child.kill("SIGTERM");
            const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
            await exited;
            clearTimeout(timer);
        }
        if (!stopOptions.keepDir) fs.rmSync(dir, { recursive: true, force: true });
    };
    const request = (method: string, apiPath: string, body?: unknown, contentType?: string) => apiRequest(dir, server, method, apiPath, body, contentType);

    try {
        const etcdLog = start("etcd", [
            "--name=local",
            `--data-dir=${file("etcd")}`,
            `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
            `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
            `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
            `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
            `--initial-cluster=local=http://127.0.0.1:${etcdPeer}`,
            // A test cluster: durability of each write is not needed, speed is.
            "--unsafe-no-fsync",
        ]);
        await waitFor("etcd", () => plainHttpOk(`http://127.0.0.1:${etcdClient}/health`), etcdLog);

        const apiserverLog = start("kube-apiserver", [
            `--etcd-servers=http://127.0.0.1:${etcdClient}`,
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            `--secure-port=${apiserverPort}`,
            `--cert-dir=${file("apiserver-certs")}`,
            `--tls-cert-file=${file("apiserver.crt")}`,
            `--tls-private-key-file=${file("apiserver.key")}`,
            `--client-ca-file=${file("ca.crt")}`,
            `--service-account-key-file=${file("sa.pub")}`,
            `--service-account-signing-key-file=${file("sa.key")}`,
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            `--service-cluster-ip-range=${SERVICE_CIDR}`,
            "--authorization-mode=Node,RBAC",
            "--allow-privileged=true",
        ]);
        await waitFor("kube-apiserver", async () => (await request("GET", "/readyz")).status === 200, apiserverLog);

        // What the controller manager and the scheduler share: the admin kubeconfig for the API and for
        // delegated authentication and authorization, a self-signed port on 127.0.0.1, no leader election.
        const componentFlags = (port: number, certDir: string): string[] => [
            `--kubeconfig=${kubeconfig}`,
            `--authentication-kubeconfig=${kubeconfig}`,
            `--authorization-kubeconfig=${kubeconfig}`,
            "--bind-address=127.0.0.1",
            `--secure-port=${port}`,
            `--cert-dir=${file(certDir)}`,
            "--leader-elect=false",
        ];
        const controllerLog = start("kube-controller-manager", [
            ...componentFlags(controllerPort, "controller-manager-certs"),
            `--service-account-private-key-file=${file("sa.key")}`,
            `--root-ca-file=${file("ca.crt")}`,
            `--service-cluster-ip-range=${SERVICE_CIDR}`,
            "--cluster-name=prepx-local",
        ]);
        const schedulerLog = start("kube-scheduler", componentFlags(schedulerPort, "scheduler-certs"));
        const kwokLog = start("kwok", [
            `--kubeconfig=${kubeconfig}`,
            `--config=${STAGES_FILE}`,
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            `--server-address=127.0.0.1:${kwokPort}`,
            `--cidr=${POD_CIDR}`,
            "--node-ip=10.0.0.1",
            "--node-lease-duration-seconds=40",
        ]);
        // The default StorageClass kwok's volume stages provision for, then the nodes.
        await waitFor(
            "the kwok-volume StorageClass",
            async () =>
                [200, 201, 409].includes(
                    (
                        await request("POST", "/apis/storage.k8s.io/v1/storageclasses", {
                            apiVersion: "storage.k8s.io/v1",
                            kind: "StorageClass",
                            metadata: { name: "kwok-volume", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
                            provisioner: "kwok.x-k8s.io/volume",
                            reclaimPolicy: "Delete",
                            volumeBindingMode: "Immediate",
                            // Like the cloud CSI classes: PVCs grow in place (storage resize, components/storage.ts).
                            allowVolumeExpansion: true,
                        })
                    ).status,
                ),
            apiserverLog,
        );
        // cert-manager's Issuer and Certificate kinds, which the stack declares (components/tls.ts, the
        // edge certificate): stand-in definitions that accept any spec, since no cert-manager runs here
        // to issue anything (kwok's pods start without their certificate Secrets).
        for (const kind of CERT_MANAGER_KINDS) {
            const created = await request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", standInDefinition("cert-manager.io", "v1", kind));
            if (created.status !== 201) throw new Error(`CRD ${kind}: ${created.status} ${JSON.stringify(created.body)}`);
        }
        await waitFor(
            "cert-manager.io/v1",
            async () => {
                const resources = (await request("GET", "/apis/cert-manager.io/v1")).body as { resources?: { kind: string }[] };
                return CERT_MANAGER_KINDS.every((kind) => resources.resources?.some((resource) => resource.kind === kind) ?? false);
            },
            apiserverLog,
        );
        for (const node of NODES) {
            const created = await request("POST", "/api/v1/nodes", fakeNode(node));
            if (created.status !== 201) throw new Error(`node ${node.name}: ${created.status} ${JSON.stringify(created.body)}`);
        }
        await waitFor(
            "kwok's nodes",
            async () => {
                const list = (await request("GET", "/api/v1/nodes")).body as { items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[] };
                const ready = list.items.filter((node) => node.status?.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True"));
                return NODES.every(({ name }) => ready.some((node) => node.metadata.name === name));
            },
            kwokLog,
        );
        // The scheduler and the controllers answer their health checks once they run.
        for (const [name, port, log] of [["kube-scheduler", schedulerPort, schedulerLog], ["kube-controller-manager", controllerPort, controllerLog]] as const) {
            await waitFor(name, () => insecureHealthz(port), log);
        }
        return { dir, kubeconfig, server, request, stop };
    } catch (error) {
        await stop({ keepDir: true });
        throw new Error(`local cluster failed to start (logs in ${path.join(dir, "logs")}): ${(error as Error).message}`, { cause: error });
    }
}

/** /healthz of a component serving its self-signed certificate on 127.0.0.1. */
function insecureHealthz(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const request = https.get({ host: "127.0.0.1", port, path: "/healthz", rejectUnauthorized: false, timeout: 2000 }, (response) => {
            response.resume();
            resolve(response.statusCode === 200);
        });
        request.on("error", () => resolve(false));
        request.on("timeout", () => request.destroy());
    });
}

function fakeNode(node: FakeNode): unknown {
    const capacity = { cpu: node.cpu, memory: node.memory, "ephemeral-storage": node.ephemeralStorage, pods: String(node.pods) };
    return {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
            name: node.name,
            annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
            labels: {
                "kubernetes.io/hostname": node.name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/zone": node.zone,
                type: "kwok",
            },
        },
        spec: { taints: node.taints ?? [] },
        status: { allocatable: capacity, capacity },
    };
}

async function main(argv: string[]): Promise<number> {
    const usage = "usage: tsx tools/cluster/cluster.ts up [--dir <dir>]";
    if (argv[0] !== "up") {
        process.stderr.write(`${usage}\n`);
        return 2;
    }
    const flags = parseFlags(argv.slice(1), ["dir"], usage);
    const dir = flags.dir ? path.resolve(flags.dir) : undefined;
    if (dir) fs.mkdirSync(dir, { recursive: true });
    const cluster = await startCluster({ dir });
    process.stdout.write(`local cluster at ${cluster.server}\nexport KUBECONFIG=${cluster.kubeconfig}\nlogs: ${path.join(cluster.dir, "logs")}\nCtrl-C stops it.\n`);
    // `on`, not `once`: a terminal's Ctrl-C may reach this process more than once (npm and tsx relay
    // it), and a second signal must not kill it before the processes are stopped.
    await new Promise<void>((resolve) => {
        process.on("SIGINT", () => resolve());
        process.on("SIGTERM", () => resolve());
    });
    await cluster.stop({ keepDir: dir !== undefined });
    return 0;
}

if (require.main === module) runMain(main);
