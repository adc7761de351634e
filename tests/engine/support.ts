// Helpers of the engine and cluster tests around the sandbox of tools/engine/sandbox.ts (the real CLI
// with its own Pulumi home, file backend and passphrase): previews and their changes, and readers
// for the manifests that renderYamlToDirectory and `npm run render` write.
import * as fs from "fs";
import * as path from "path";
import { parseAllDocuments } from "yaml";
import { EngineSandbox, ENGINE_BIN, requireSuccess, TSX_CLI } from "../../tools/engine/sandbox";
export { EngineSandbox, newPassword, PROJECT_ROOT, requireSuccess } from "../../tools/engine/sandbox";

/** Throws unless tools/engine/build.sh has built the CLI and the provider (`script` builds them first). */
export function requireEngineBuilt(script: string): void {
    for (const binary of ["pulumi", "pulumi-resource-kubernetes"]) {
        if (!fs.existsSync(path.join(ENGINE_BIN, binary))) throw new Error(`${binary} is not built: run tools/engine/build.sh (${script} does)`);
    }
}

/** One step of `pulumi preview --json`. */
interface PlanStep {
    op: string;
    urn: string;
    newState?: { type: string; inputs?: { kind?: string; metadata?: { name?: string; namespace?: string } } };
}
/** `pulumi preview --json`. */
export interface PreviewJson {
    steps: PlanStep[];
    changeSummary: Record<string, number>;
    diagnostics?: { severity: string; message: string }[];
}

/**
 * `pulumi preview --json` of `stack` in `project`, which must succeed. With the replacement steps
 * (`create-replacement`, `delete-replaced`), whose order tells which of the two comes first.
 */
export async function previewPlan(sandbox: EngineSandbox, project: string, stack: string): Promise<PreviewJson> {
    const result = await sandbox.withProgram(project, ["preview", "--stack", stack, "--json", "--show-replacement-steps"]);
    requireSuccess(result, `preview ${stack}`);
    return JSON.parse(result.stdout) as PreviewJson;
}

/**
 * What a plan changes: each step that is not `same`, as `<op> <type without package> <name>` (e.g.
 * `update core/v1:ConfigMap lb-config`), sorted. A replacement is one entry, `replace (create first)`
 * when the new object is created before the old one is deleted (another name: nothing is ever
 * missing), `replace (delete first)` when the old one goes first (the same name: a gap, and the
 * engine replaces what refers to it too).
 */
export function changes(plan: PreviewJson): string[] {
    const steps = plan.steps.filter((step) => step.op !== "same");
    const position = (op: string, urn: string) => steps.findIndex((step) => step.op === op && step.urn === urn);
    return steps
        .filter((step) => step.op !== "create-replacement" && step.op !== "delete-replaced")
        .map((step) => {
            if (step.op !== "replace") return describeStep(step);
            const created = position("create-replacement", step.urn);
            const deleted = position("delete-replaced", step.urn);
            const order = created < 0 || deleted < 0 ? "order unknown" : created < deleted ? "create first" : "delete first";
            return describeStep({ ...step, op: `replace (${order})` });
        })
        .sort();
}

function describeStep(step: PlanStep): string {
    // urn:pulumi:<stack>::<project>::<parent types $ type>::<name>
    const [, , typeChain, name] = step.urn.split("::");
    const type = typeChain.split("$").pop() ?? typeChain;
    return `${step.op} ${type.replace(/^kubernetes:/, "")} ${name}`;
}

/**
 * Each config change a user makes, and exactly what it may touch: a roll of the pods that read the
 * config (checksum annotation on `rolls`), the HPA, or the PVCs; never a replacement of a workload
 * (the Redis bootstrap Job aside, re-run by a scale-out). The config object is named after its
 * content (k8s.ts contentNamedConfigMap): replaced by a new one created first.
 * The engine test previews each change; the cluster test applies it and watches `rolls` roll.
 */
export const CONFIG_CHANGES: Array<{
    what: string;
    key: string;
    value: string;
    expected: string[];
    rolls?: { kind: "deployments" | "statefulsets"; name: string };
}> = [
    {
        what: "an nginx rate",
        key: "loadBalancer.rateLimits.api.rate",
        value: "60",
        expected: ["update apps/v1:Deployment lb", "replace (create first) core/v1:ConfigMap lb-config"],
        rolls: { kind: "deployments", name: "lb" },
    },
    {
        what: "a PostgreSQL runtime parameter",
        key: "postgres.parameters.work_mem",
        value: "8MB",
        expected: ["update apps/v1:StatefulSet postgres", "replace (create first) core/v1:ConfigMap postgres-patroni"],
        rolls: { kind: "statefulsets", name: "postgres" },
    },
    {
        what: "Redis maxmemory",
        key: "redis.maxmemory",
        // Within 80% of dev's 256Mi limit (the maxmemory rule); 256mb, used before that rule, is refused.
        value: "180mb",
        expected: ["update apps/v1:StatefulSet redis", "replace (create first) core/v1:ConfigMap redis-config"],
        rolls: { kind: "statefulsets", name: "redis" },
    },
    {
        what: "Redis storage (every PVC grown in place, the StatefulSet untouched)",
        key: "redis.storage",
        value: "2Gi",
        expected: [0, 1, 2].map((ordinal) => `update core/v1:PersistentVolumeClaimPatch redis-data-redis-${ordinal}`),
    },
    {
        what: "PostgreSQL storage (every PVC grown in place, the StatefulSet untouched)",
        key: "postgres.storage",
        value: "4Gi",
        expected: [0, 1].map((ordinal) => `update core/v1:PersistentVolumeClaimPatch postgres-data-postgres-${ordinal}`),
    },
    {
        what: "a service's replica bounds",
        key: "services[1].autoscaling.maxReplicas",
        value: "3",
        expected: ["update autoscaling/v2:HorizontalPodAutoscaler services-user-service"],
    },
    // Last: the cluster test applies the changes in turn, and this one adds a pod and its PVC.
    {
        what: "Redis scale-out (a fourth master: the bootstrap Job runs again with the new node list)",
        key: "redis.masters",
        value: "4",
        expected: [
            "update apps/v1:StatefulSet redis",
            "create core/v1:PersistentVolumeClaimPatch redis-data-redis-3",
            // The script lists the new node: its ConfigMap has a new name, so the Job is new and runs again.
            "replace (create first) core/v1:ConfigMap redis-bootstrap",
            "replace (delete first) batch/v1:Job redis-bootstrap",
            // The new node's hostname joins the names of the nodes' certificate.
            "update cert-manager.io/v1:Certificate redis-tls",
            // The services' seed node list and the masters alert follow.
            "update apps/v1:Deployment services-api-gateway",
            "update apps/v1:Deployment services-user-service",
            "replace (create first) core/v1:ConfigMap monitoring-prometheus-config",
            "update apps/v1:StatefulSet monitoring-prometheus",
        ],
    },
];

/** A Kubernetes object as written to YAML. */
interface ManifestObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string } & Record<string, unknown>;
    data?: Record<string, string>;
    stringData?: Record<string, string>;
    [field: string]: unknown;
}

function identity(object: ManifestObject): string {
    return `${object.kind} ${object.metadata.namespace ?? "-"}/${object.metadata.name}`;
}

function parseObjects(text: string, source: string): ManifestObject[] {
    return parseAllDocuments(text)
        .map((document) => {
            if (document.errors.length > 0) throw new Error(`${source}: ${document.errors[0].message}`);
            return document.toJS() as ManifestObject | null;
        })
        .filter((object): object is ManifestObject => object !== null);
}

/** Every object renderYamlToDirectory wrote under `dir`, by `<kind> <namespace>/<name>`. */
export function readRenderedDirectory(dir: string): Map<string, ManifestObject> {
    const objects = new Map<string, ManifestObject>();
    const visit = (current: string): void => {
        for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
            const file = path.join(current, entry.name);
            if (entry.isDirectory()) visit(file);
            else for (const object of parseObjects(fs.readFileSync(file, "utf8"), file)) objects.set(identity(object), object);
        }
    };
    visit(dir);
    return objects;
}

/** Runs `npm run render` of `stack` in the project copy `project`: every object of its manifests.yaml, by `<kind> <namespace>/<name>`. */
export async function renderStack(sandbox: EngineSandbox, project: string, stack: string): Promise<Map<string, ManifestObject>> {
    const out = path.join(sandbox.root, `render-${stack}`);
    const render = await sandbox.exec(process.execPath, [TSX_CLI, "scripts/render.ts", "--stack", stack, "--out", out], project);
    requireSuccess(render, `npm run render ${stack}`);
    const file = path.join(out, "manifests.yaml");
    return new Map(parseObjects(fs.readFileSync(file, "utf8"), file).map((object) => [identity(object), object]));
}

/** Keys in a stable order, so two objects compare by content. */
function canonical(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(canonical);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical((value as Record<string, unknown>)[key])]));
    }
    return value;
}

/** Each field whose value differs, as `<path>: engine <value>, render <value>`. */
function fieldDifferences(engine: unknown, render: unknown, at: string): string[] {
    const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object";
    if (isObject(engine) && isObject(render) && Array.isArray(engine) === Array.isArray(render)) {
        const keys = [...new Set([...Object.keys(engine), ...Object.keys(render)])].sort();
        return keys.flatMap((key) => fieldDifferences(engine[key], render[key], at ? `${at}.${key}` : key));
    }
    if (JSON.stringify(engine) === JSON.stringify(render)) return [];
    return [`${at}: engine ${JSON.stringify(engine) ?? "nothing"}, render ${JSON.stringify(render) ?? "nothing"}`];
}

/**
 * What differs between the engine's objects and the render's. Secrets are compared without their
 * values (the render redacts them; the engine writes them base64-encoded): same metadata, same keys.
 */
export function manifestDifferences(engine: Map<string, ManifestObject>, render: Map<string, ManifestObject>): string[] {
    const differences: string[] = [];
    for (const key of engine.keys()) if (!render.has(key)) differences.push(`only in the engine's manifests: ${key}`);
    for (const [key, expected] of render) {
        const actual = engine.get(key);
        if (!actual) {
            differences.push(`only in npm run render: ${key}`);
            continue;
        }
        if (expected.kind === "Secret") {
            const keysOf = (object: ManifestObject) => [...Object.keys(object.data ?? {}), ...Object.keys(object.stringData ?? {})].sort();
            const { data: _a, stringData: _b, ...actualRest } = actual;
            const { data: _c, stringData: _d, ...expectedRest } = expected;
            if (JSON.stringify(keysOf(actual)) !== JSON.stringify(keysOf(expected))) differences.push(`${key}: keys ${keysOf(actual)} vs ${keysOf(expected)}`);
            if (JSON.stringify(canonical(actualRest)) !== JSON.stringify(canonical(expectedRest))) differences.push(`${key}: metadata or type differ`);
            continue;
        }
        differences.push(...fieldDifferences(actual, expected, "").map((field) => `${key}: ${field}`));
    }
    return differences;
}

/** Prints a line of figures to the terminal (jest's console adds a stack trace per line). */
export function report(line: string): void {
    process.stdout.write(`engine: ${line}\n`);
}
