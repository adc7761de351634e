// `npm run test:cluster`: the stacks deployed with the real Pulumi engine (tools/engine) to a real
// kube-apiserver with its controllers and scheduler (tools/cluster; kwok plays the kubelet: pods
// become Ready, nothing runs). What the render-to-directory run cannot show: what the API server
// accepts (every field validated) and whether the provider's awaits end. Steps a-f of issue 10; g
// places pods by the stack's spread rule on kind's node shape.
import * as path from "path";
import { spreadAcrossNodes } from "../../components/k8s";
import { LOCAL_CONTEXT, LocalCluster, startCluster } from "../../tools/cluster/cluster";
import { prepareStack } from "../../tools/cluster/deploy";
import { changes, CONFIG_CHANGES, EngineSandbox, previewPlan, renderStack, requireEngineBuilt, requireSuccess } from "../engine/support";
import { apiPath, clusterReport, listNames, ObjectRef, strictDryRun, waitUntil } from "./support";

jest.setTimeout(900_000);

const sandbox = new EngineSandbox();
let cluster: LocalCluster;
let project: string;

/** An object of the render: its name, and the whole manifest (Secret values redacted). */
interface RenderedObject {
    ref: ObjectRef;
    manifest: Record<string, unknown>;
}

/** What `npm run render` says the stack creates: the objects the API server must hold afterwards. */
async function renderedObjects(stack: string): Promise<RenderedObject[]> {
    return [...(await renderStack(sandbox, project, stack)).values()].map((object) => ({
        ref: { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name, namespace: object.metadata.namespace },
        manifest: object,
    }));
}

/** The objects of `objects` the API server does not hold. */
async function missing(objects: RenderedObject[]): Promise<string[]> {
    const absent: string[] = [];
    for (const { ref } of objects) {
        const response = await cluster.request("GET", apiPath(ref));
        if (response.status !== 200) absent.push(`${ref.kind} ${ref.namespace ?? "-"}/${ref.name}: ${response.status}`);
    }
    return absent;
}

async function up(stack: string): Promise<number> {
    const result = await sandbox.withProgram(project, ["up", "--yes", "--skip-preview", "--stack", stack]);
    requireSuccess(result, `up ${stack}`);
    return result.seconds;
}

async function outputs(stack: string): Promise<Record<string, unknown>> {
    const result = await sandbox.cli(["stack", "output", "--json", "--stack", stack], project);
    requireSuccess(result, "stack output");
    return JSON.parse(result.stdout) as Record<string, unknown>;
}

beforeAll(async () => {
    requireEngineBuilt("npm run test:cluster");
    const started = Date.now();
    cluster = await startCluster();
    clusterReport(`control plane and kwok nodes (a tainted control plane, two workers) up in ${((Date.now() - started) / 1000).toFixed(1)} s at ${cluster.server}`);
    project = sandbox.copyProject("project");
    await prepareStack(sandbox, project, "dev", cluster.kubeconfig);
    await prepareStack(sandbox, project, "prod", cluster.kubeconfig);
}, 300_000);

afterAll(async () => {
    await cluster?.stop();
    sandbox.dispose();
});

let devObjects: RenderedObject[];

/** The API server's strict verdicts on `objects` that refused (empty = every object accepted). */
async function strictRefusals(objects: RenderedObject[]): Promise<string[]> {
    const refusals: string[] = [];
    for (const object of objects) {
        const refusal = await strictDryRun(cluster, object.ref, object.manifest);
        if (refusal) refusals.push(refusal);
    }
    return refusals;
}

test("a. `pulumi up` of dev ends with every await met, the API server holds every rendered object, outputs as documented", async () => {
    devObjects = await renderedObjects("dev");
    const seconds = await up("dev");
    const absent = await missing(devObjects);
    const refusals = await strictRefusals(devObjects);
    const stackOutputs = await outputs("dev");
    clusterReport(`a. up dev: ${devObjects.length} objects, ${absent.length} missing on the API server, ${refusals.length} refused by its strict field validation, ${seconds.toFixed(1)} s`);
    expect(absent).toEqual([]);
    expect(refusals).toEqual([]);
    expect(stackOutputs).toMatchObject({
        namespaceName: "prepx-dev",
        loadBalancerEndpoint: "lb.prepx-dev.svc.cluster.local",
        postgresPoolerHost: "postgres-pooler.prepx-dev.svc.cluster.local",
        postgresRwHost: "postgres-rw.prepx-dev.svc.cluster.local",
        postgresPort: 5432,
        postgresPoolerPort: 6432,
        redisHost: "redis.prepx-dev.svc.cluster.local",
        grafanaUrl: "http://monitoring-grafana.prepx-dev.svc.cluster.local:3000",
    });
    // Every workload is available as the provider awaited it: the pods exist (kwok made them Ready).
    const pods = await listNames(cluster, "/api/v1/namespaces/prepx-dev/pods");
    expect(pods.length).toBeGreaterThanOrEqual(10);
});

test("b. a preview afterwards has no changes", async () => {
    const result = await sandbox.withProgram(project, ["preview", "--expect-no-changes", "--stack", "dev"]);
    requireSuccess(result, "preview --expect-no-changes");
    clusterReport(`b. preview --expect-no-changes dev: passed in ${result.seconds.toFixed(1)} s`);
});

/** The checksum on a workload's pod template and the number of its pods carrying it. */
async function rollout(kind: "deployments" | "statefulsets", name: string): Promise<{ checksum: string; generation: number; observed: number; updated: number; replicas: number }> {
    const workload = (await cluster.request("GET", `/apis/apps/v1/namespaces/prepx-dev/${kind}/${name}`)).body as {
        metadata: { generation: number };
        spec: { replicas: number; template: { metadata: { annotations?: Record<string, string> } } };
        status: { observedGeneration?: number; updatedReplicas?: number };
    };
    return {
        checksum: workload.spec.template.metadata.annotations?.["checksum/config"] ?? "",
        generation: workload.metadata.generation,
        observed: workload.status.observedGeneration ?? 0,
        updated: workload.status.updatedReplicas ?? 0,
        replicas: workload.spec.replicas,
    };
}

async function claimUids(): Promise<string[]> {
    const claims = (await cluster.request("GET", "/api/v1/namespaces/prepx-dev/persistentvolumeclaims")).body as { items: { metadata: { uid: string } }[] };
    return claims.items.map((claim) => claim.metadata.uid).sort();
}

test.each(CONFIG_CHANGES)("c. $key: up changes exactly the expected objects, the pods roll, nothing stateful is replaced", async ({ key, value, expected, rolls }) => {
    const claimsBefore = await claimUids();
    const before = rolls ? await rollout(rolls.kind, rolls.name) : undefined;
    requireSuccess(await sandbox.cli(["config", "set", "--path", key, value, "--stack", "dev"], project), `config set ${key}`);
    const planned = changes(await previewPlan(sandbox, project, "dev"));
    expect(planned).toEqual([...expected].sort());
    const seconds = await up("dev");
    // Every claim survives with its UID (none replaced); a scale-out adds its new pod's claim.
    const claimsAfter = await claimUids();
    expect(claimsAfter).toEqual(expect.arrayContaining(claimsBefore));
    let rolled = "";
    if (rolls && before) {
        const after = await waitUntil(`${rolls.name} rolled`, () => rollout(rolls.kind, rolls.name), (state) => state.observed >= state.generation && state.updated === state.replicas, 60_000);
        expect(after.checksum).not.toBe(before.checksum);
        expect(after.generation).toBeGreaterThan(before.generation);
        rolled = `; ${rolls.name}: checksum changed, generation ${before.generation} -> ${after.generation}, ${after.updated}/${after.replicas} pods updated`;
    }
    clusterReport(`c. ${key} -> ${value}: ${planned.join("; ")} in ${seconds.toFixed(1)} s${rolled}; PVCs kept (${claimsBefore.length}), added ${claimsAfter.length - claimsBefore.length}`);
});

test("d. prod: up (the LoadBalancer gets its address from kwok), then destroy is refused by protect and deletes nothing", async () => {
    const prodObjects = await renderedObjects("prod");
    const seconds = await up("prod");
    expect(await missing(prodObjects)).toEqual([]);
    expect(await strictRefusals(prodObjects)).toEqual([]);
    expect((await outputs("prod")).loadBalancerEndpoint).toBe("192.0.2.10");
    const destroy = await sandbox.withProgram(project, ["destroy", "--yes", "--skip-preview", "--stack", "prod"]);
    const output = destroy.stdout + destroy.stderr;
    const absentAfter = await missing(prodObjects);
    clusterReport(
        `d. up prod: ${prodObjects.length} objects in ${seconds.toFixed(1)} s, endpoint 192.0.2.10; destroy: exit ${destroy.code}, ` +
            `${(output.match(/because it is protected/g) ?? []).length} refusals, ${absentAfter.length} objects gone`,
    );
    expect(destroy.code).not.toBe(0);
    expect(output).toContain("because it is protected");
    expect(absentAfter).toEqual([]);
});

test("e. `pulumi destroy` of dev removes every object; its PVCs go with it (retention Delete)", async () => {
    expect((await claimUids()).length).toBeGreaterThan(0);
    const destroy = await sandbox.withProgram(project, ["destroy", "--yes", "--skip-preview", "--stack", "dev"]);
    requireSuccess(destroy, "destroy dev");
    const gone = await waitUntil("dev's objects gone", () => missing(devObjects), (absent) => absent.length === devObjects.length, 120_000);
    const claims = await waitUntil("dev's PVCs gone", claimUids, (uids) => uids.length === 0, 120_000);
    clusterReport(`e. destroy dev: ${gone.length}/${devObjects.length} objects gone, ${claims.length} PVCs left, ${destroy.seconds.toFixed(1)} s`);
    expect(claims).toEqual([]);
});

/** Runs `up` of the bad-object fixture with `which`; `first` is applied once before, when given. */
async function upBadObject(which: string, first?: string): Promise<{ code: number; output: string; seconds: number }> {
    const program = path.join(project, "tests/cluster/bad-object");
    requireSuccess(await sandbox.cli(["stack", "init", which], program), "stack init");
    const settings = [`case=${which}`, `kubeconfig=${cluster.kubeconfig}`, `context=${LOCAL_CONTEXT}`, `version=${first ?? "1"}`].flatMap((pair) => ["--plaintext", pair]);
    requireSuccess(await sandbox.cli(["config", "set-all", ...settings, "--stack", which], program), "config");
    if (first !== undefined) {
        requireSuccess(await sandbox.withProgram(program, ["up", "--yes", "--skip-preview", "--stack", which]), "first up");
        requireSuccess(await sandbox.cli(["config", "set", "version", String(Number(first) + 1), "--stack", which], program), "config set version");
    }
    const result = await sandbox.withProgram(program, ["up", "--yes", "--skip-preview", "--stack", which]);
    return { code: result.code, output: result.stdout + result.stderr, seconds: result.seconds };
}

const REFUSED: Array<{ which: string; first?: string; message: RegExp }> = [
    { which: "bad-label", message: /metadata\.labels: Invalid value: "not a valid label value!"/ },
    { which: "pvc-resize", first: "1", message: /spec\.resources\.requests\.storage: Forbidden: field can not be less than/ },
];

test.each(REFUSED)("f. $which: `up` fails with the API server's message, not a hang", async ({ which, first, message }) => {
    const result = await upBadObject(which, first);
    clusterReport(`f. ${which}: exit ${result.code} in ${result.seconds.toFixed(1)} s: ${(message.exec(result.output)?.[0] ?? "message not found").slice(0, 160)}`);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(message);
    // Bounded well below the provider's 10-minute await: the API server's refusal ends `up` at once.
    expect(result.seconds).toBeLessThan(60);
});

test("f. unknown-field: `up` drops the field without a word, so the strict dry run of steps a and d is the guard", async () => {
    const result = await upBadObject("unknown-field");
    const stored = (await cluster.request("GET", "/apis/apps/v1/namespaces/bad-unknown-field/deployments/unknown-field")).body as {
        spec: { template: { spec: { containers: Record<string, unknown>[] } } };
    };
    const container = stored.spec.template.spec.containers[0];
    // Found here: neither the provider nor the API server refuses or warns; the object is stored without it.
    expect(result.code).toBe(0);
    expect(container).not.toHaveProperty("resourcez");
    // The guard that does refuse it: the API server's strict field validation, which step a and d
    // apply to every rendered object (the render's OpenAPI check does not see unknown fields).
    const refusal = await strictDryRun(cluster, { apiVersion: "apps/v1", kind: "Deployment", name: "unknown-field", namespace: "bad-unknown-field" }, {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "unknown-field", namespace: "bad-unknown-field" },
        spec: { selector: { matchLabels: { app: "x" } }, template: { metadata: { labels: { app: "x" } }, spec: { containers: [{ name: "x", image: "nginx:1.28.0", resourcez: {} }] } } },
    });
    expect(refusal).toMatch(/\.spec\.template\.spec\.containers\[name="x"\]\.resourcez: field not declared in schema/);
    clusterReport(`f. unknown-field: up exit ${result.code} in ${result.seconds.toFixed(1)} s, field dropped without a warning; strict dry run: ${refusal}`);
});

test("g. spread: three pods of one workload all run on kind's shape (a tainted control plane, two workers); the former hard rule left one Pending", async () => {
    const namespace = "spread-check";
    expect((await cluster.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } })).status).toBe(201);
    const statefulSet = (name: string, constraints: unknown) => ({
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name, namespace },
        spec: {
            replicas: 3,
            serviceName: name,
            selector: { matchLabels: { app: name } },
            template: {
                metadata: { labels: { app: name } },
                spec: { topologySpreadConstraints: constraints, containers: [{ name: "x", image: "redis:7.2.5" }] },
            },
        },
    });
    const hardRule = [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: "hard" } } }];
    for (const [name, constraints] of [["current", spreadAcrossNodes({ app: "current" })], ["hard", hardRule]] as const) {
        const created = await cluster.request("POST", `/apis/apps/v1/namespaces/${namespace}/statefulsets`, statefulSet(name, constraints));
        expect(created.status).toBe(201);
    }
    const scheduled = async (name: string) => {
        const pods = (await cluster.request("GET", `/api/v1/namespaces/${namespace}/pods?labelSelector=app%3D${name}`)).body as { items: { spec: { nodeName?: string } }[] };
        return pods.items.map((item) => item.spec.nodeName ?? "Pending");
    };
    const current = await waitUntil("the current spread's 3 pods scheduled", () => scheduled("current"), (nodes) => nodes.length === 3 && !nodes.includes("Pending"), 60_000);
    // The hard rule: the third pod (ordered StatefulSet start) cannot be placed; give it the same time.
    const hard = await waitUntil("the hard rule's third pod created", () => scheduled("hard"), (nodes) => nodes.length === 3, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const hardAfter = await scheduled("hard");
    clusterReport(`g. spread on kind's shape: current rule ${current.join(", ")}; former hard rule ${hardAfter.join(", ")}`);
    expect(current.every((node) => node.startsWith("kwok-worker-"))).toBe(true);
    expect(hard.length).toBe(3);
    expect(hardAfter.filter((node) => node === "Pending")).toHaveLength(1);
});
