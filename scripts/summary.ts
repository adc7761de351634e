// What a render adds up to: objects by kind, CPU and memory (containers x replicas) and storage
// (PVC templates x replicas), computed from the rendered objects themselves so every component,
// including ones added later, is counted the way Kubernetes would count it. Pure.
import { parseCpuQuantity, parseMemoryQuantity } from "../components/units";
import type { Json, JsonObject } from "./manifests";

/** CPU in cores, memory in bytes. */
export interface Resources {
    cpuRequests: number;
    cpuLimits: number;
    memoryRequests: number;
    memoryLimits: number;
}

/** Resources of a set of pods plus the storage their PVCs claim (bytes). */
export interface Footprint extends Resources {
    storage: number;
}

/** One pod-running object and what it costs. */
export interface WorkloadRow {
    kind: string;
    namespace: string;
    name: string;
    /** Replicas counted: `min` = spec.replicas or the HPA minimum, `max` = the HPA maximum (= min without an HPA). */
    replicas: { min: number; max: number; hpa?: string };
    /** Effective resources of one pod (init containers and sidecars counted as the scheduler does). */
    perPod: Resources;
    /** PVC storage of one pod (StatefulSet claim templates, ephemeral volumes). */
    storagePerPod: number;
    /** Prometheus scrapes its pods (pod template annotated `prometheus.io/scrape: "true"`). */
    scraped: boolean;
}

/** The summary of one render. */
export interface ResourceSummary {
    /** [kind, count], in the order of the rendered objects. */
    kinds: [string, number][];
    /** Long-running workloads, counted in the totals. */
    workloads: WorkloadRow[];
    /** Jobs and CronJobs: run to completion, not counted in the steady-state totals. */
    runOnce: WorkloadRow[];
    /** DaemonSets: one pod per node, which a render cannot know; not counted. */
    perNode: WorkloadRow[];
    /** Storage of PersistentVolumeClaims declared on their own (bytes). */
    standaloneStorage: number;
    /** Totals at minimum replicas and at maximum (HPA) replicas. */
    totals: { min: Footprint; max: Footprint };
    /** Containers without a request or limit, quantities that do not parse: each one named. */
    problems: string[];
}

/** A rendered object as the summary needs it. */
export interface SummaryInput {
    kind: string;
    namespace: string;
    name: string;
    object: JsonObject;
    /** The Pulumi type it was rendered from: a `<Kind>Patch` changes an object that something else creates. */
    source?: { type: string };
}

/** A patch of an existing object (e.g. a PVC grown in place), not an object of its own. */
function isPatch(input: SummaryInput): boolean {
    return input.source?.type.endsWith("Patch") ?? false;
}

const ZERO: Resources = { cpuRequests: 0, cpuLimits: 0, memoryRequests: 0, memoryLimits: 0 };
const KEYS = Object.keys(ZERO) as (keyof Resources)[];

export function obj(value: Json | undefined): JsonObject {
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value : {};
}
export function list(value: Json | undefined): JsonObject[] {
    return Array.isArray(value) ? value.map((item) => obj(item)) : [];
}
function intOr(value: Json | undefined, fallback: number): number {
    return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

function add(a: Resources, b: Resources): Resources {
    return { cpuRequests: a.cpuRequests + b.cpuRequests, cpuLimits: a.cpuLimits + b.cpuLimits, memoryRequests: a.memoryRequests + b.memoryRequests, memoryLimits: a.memoryLimits + b.memoryLimits };
}
function max(a: Resources, b: Resources): Resources {
    return { cpuRequests: Math.max(a.cpuRequests, b.cpuRequests), cpuLimits: Math.max(a.cpuLimits, b.cpuLimits), memoryRequests: Math.max(a.memoryRequests, b.memoryRequests), memoryLimits: Math.max(a.memoryLimits, b.memoryLimits) };
}
function scale(a: Resources, factor: number): Resources {
    return { cpuRequests: a.cpuRequests * factor, cpuLimits: a.cpuLimits * factor, memoryRequests: a.memoryRequests * factor, memoryLimits: a.memoryLimits * factor };
}

/** Parses a quantity that may be a number (`cpu: 2`) or a string; records a problem and counts 0 when it does not parse. */
function quantity(value: Json | undefined, parse: (text: string) => number, where: string, problems: string[]): number {
    if (value === undefined) return 0;
    try {
        return parse(String(value));
    } catch {
        problems.push(`${where}: cannot read quantity ${JSON.stringify(value)}`);
        return 0;
    }
}

function containerTotals(container: JsonObject, where: string, problems: string[]): Resources {
    const resources = obj(container.resources);
    const requests = obj(resources.requests);
    const limits = obj(resources.limits);
    const at = `${where} container ${String(container.name)}`;
    for (const [section, values] of [["requests", requests], ["limits", limits]] as const) {
        for (const resource of ["cpu", "memory"]) {
            if (values[resource] === undefined) problems.push(`${at}: no ${section}.${resource} (counted as 0)`);
        }
    }
    return {
        cpuRequests: quantity(requests.cpu, parseCpuQuantity, at, problems),
        cpuLimits: quantity(limits.cpu, parseCpuQuantity, at, problems),
        memoryRequests: quantity(requests.memory, parseMemoryQuantity, at, problems),
        memoryLimits: quantity(limits.memory, parseMemoryQuantity, at, problems),
    };
}

/**
 * Effective resources of a pod, as the scheduler computes them: the larger of (all app containers
 * + all sidecars) and, for each init container, itself plus the sidecars started before it.
 * Sidecars are init containers with restartPolicy Always (they keep running).
 */
export function podResources(podSpec: JsonObject, where: string, problems: string[]): Resources {
    let sidecars = ZERO;
    let initPeak = ZERO;
    for (const init of list(podSpec.initContainers)) {
        const own = containerTotals(init, where, problems);
        if (init.restartPolicy === "Always") {
            sidecars = add(sidecars, own);
            initPeak = max(initPeak, sidecars);
        } else {
            initPeak = max(initPeak, add(own, sidecars));
        }
    }
    const app = list(podSpec.containers).reduce((sum, container) => add(sum, containerTotals(container, where, problems)), ZERO);
    return max(add(app, sidecars), initPeak);
}

function claimStorage(claimSpec: JsonObject, where: string, problems: string[]): number {
    return quantity(obj(obj(claimSpec.resources).requests).storage, parseMemoryQuantity, where, problems);
}

/** PVC storage one pod claims through generic ephemeral volumes. */
function ephemeralStorage(podSpec: JsonObject, where: string, problems: string[]): number {
    return list(podSpec.volumes).reduce(
        (sum, volume) => sum + claimStorage(obj(obj(obj(volume.ephemeral).volumeClaimTemplate).spec), where, problems),
        0,
    );
}

/** The pod template and replica count of a pod-running object; undefined for other kinds. */
export function podsOf(input: SummaryInput): { template: JsonObject; replicas: number; claimTemplates: JsonObject[] } | undefined {
    const spec = obj(input.object.spec);
    switch (input.kind) {
        case "Deployment":
        case "ReplicaSet":
        case "ReplicationController":
            return { template: obj(spec.template), replicas: intOr(spec.replicas, 1), claimTemplates: [] };
        case "StatefulSet":
            return { template: obj(spec.template), replicas: intOr(spec.replicas, 1), claimTemplates: list(spec.volumeClaimTemplates) };
        case "DaemonSet":
            return { template: obj(spec.template), replicas: 1, claimTemplates: [] };
        case "Job":
            return { template: obj(spec.template), replicas: intOr(spec.parallelism, 1), claimTemplates: [] };
        case "CronJob": {
            const jobSpec = obj(obj(spec.jobTemplate).spec);
            return { template: obj(jobSpec.template), replicas: intOr(jobSpec.parallelism, 1), claimTemplates: [] };
        }
        case "Pod":
            return { template: { metadata: obj(input.object.metadata), spec }, replicas: 1, claimTemplates: [] };
        default:
            return undefined;
    }
}

/** The HPA that scales an object, if any (same namespace, scaleTargetRef naming its kind and name). */
function autoscalerOf(input: SummaryInput, inputs: readonly SummaryInput[]): { name: string; min: number; max: number } | undefined {
    for (const candidate of inputs) {
        if (candidate.kind !== "HorizontalPodAutoscaler" || candidate.namespace !== input.namespace) continue;
        const spec = obj(candidate.object.spec);
        const target = obj(spec.scaleTargetRef);
        if (target.kind === input.kind && target.name === input.name) {
            // minReplicas defaults to 1 in autoscaling/v2.
            return { name: candidate.name, min: intOr(spec.minReplicas, 1), max: intOr(spec.maxReplicas, 1) };
        }
    }
    return undefined;
}

/** Objects by kind, resources and storage of a render. */
export function summarize(inputs: readonly SummaryInput[]): ResourceSummary {
    const kinds = new Map<string, number>();
    const problems: string[] = [];
    const workloads: WorkloadRow[] = [];
    const runOnce: WorkloadRow[] = [];
    const perNode: WorkloadRow[] = [];
    let standaloneStorage = 0;
    for (const input of inputs) {
        const kind = isPatch(input) ? `${input.kind}Patch` : input.kind;
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        const where = `${kind} ${input.namespace ? `${input.namespace}/` : ""}${input.name}`;
        // A claim patch grows a StatefulSet's claim, already counted with its claim templates.
        if (kind === "PersistentVolumeClaim") standaloneStorage += claimStorage(obj(input.object.spec), where, problems);
        const pods = podsOf(input);
        if (!pods) continue;
        const podSpec = obj(pods.template.spec);
        const hpa = autoscalerOf(input, inputs);
        const row: WorkloadRow = {
            kind: input.kind,
            namespace: input.namespace,
            name: input.name,
            replicas: hpa ? { min: hpa.min, max: hpa.max, hpa: hpa.name } : { min: pods.replicas, max: pods.replicas },
            perPod: podResources(podSpec, where, problems),
            storagePerPod:
                pods.claimTemplates.reduce((sum, claim) => sum + claimStorage(obj(claim.spec), where, problems), 0) +
                ephemeralStorage(podSpec, where, problems),
            scraped: obj(obj(pods.template.metadata).annotations)["prometheus.io/scrape"] === "true",
        };
        if (input.kind === "Job" || input.kind === "CronJob") runOnce.push(row);
        else if (input.kind === "DaemonSet") perNode.push(row);
        else workloads.push(row);
    }
    const total = (pick: "min" | "max"): Footprint => {
        const resources = workloads.reduce((sum, row) => add(sum, scale(row.perPod, row.replicas[pick])), ZERO);
        const storage = workloads.reduce((sum, row) => sum + row.storagePerPod * row.replicas[pick], standaloneStorage);
        return { ...resources, storage };
    };
    return { kinds: [...kinds.entries()], workloads, runOnce, perNode, standaloneStorage, totals: { min: total("min"), max: total("max") }, problems };
}

const GIB = 2 ** 30;

/** Cores, without float noise: 58.65, 0.2. */
export function formatCores(cores: number): string {
    return String(Math.round(cores * 1000) / 1000);
}

/** Bytes in binary units: `1.83Ti`, `48.4Gi`, below 1 GiB `320Mi` (small dev figures stay readable), `0`. */
export function formatGiB(bytes: number): string {
    if (bytes === 0) return "0";
    if (bytes >= 1024 * GIB) return `${(bytes / (1024 * GIB)).toFixed(2)}Ti`;
    if (bytes >= GIB) return `${(bytes / GIB).toFixed(1)}Gi`;
    return `${Math.round((bytes / 2 ** 20) * 10) / 10}Mi`;
}

function range(min: number, maxValue: number, format: (value: number) => string): string {
    return min === maxValue ? format(min) : `${format(min)}-${format(maxValue)}`;
}

function pad(text: string, width: number): string {
    return text.length >= width ? `${text} ` : text.padEnd(width);
}

/** The summary as printed: kinds, a table of workloads, the totals. */
export function formatResourceSummary(summary: ResourceSummary): string[] {
    const lines: string[] = [];
    const objects = summary.kinds.reduce((sum, [, count]) => sum + count, 0);
    lines.push(`Objects by kind (${objects}):`);
    for (const [kind, count] of summary.kinds) lines.push(`  ${pad(kind, 26)}${count}`);
    lines.push("");
    lines.push("Resources (containers x replicas; an HPA-managed workload counts its HPA min and max replicas):");
    const header = `  ${pad("workload", 52)}${pad("replicas", 14)}${pad("cpu req", 14)}${pad("cpu lim", 14)}${pad("mem req", 18)}${pad("mem lim", 18)}storage`;
    lines.push(header);
    const row = (label: string, min: Footprint, maxValue: Footprint, replicas: string): string =>
        `  ${pad(label, 52)}${pad(replicas, 14)}` +
        KEYS.map((key) => pad(range(min[key], maxValue[key], key.startsWith("cpu") ? formatCores : formatGiB), key.startsWith("cpu") ? 14 : 18)).join("") +
        range(min.storage, maxValue.storage, formatGiB);
    const rowOf = (workload: WorkloadRow): string => {
        const at = (count: number): Footprint => ({ ...scale(workload.perPod, count), storage: workload.storagePerPod * count });
        const replicas = workload.replicas.hpa ? `${workload.replicas.min}-${workload.replicas.max} (HPA)` : String(workload.replicas.min);
        const label = `${workload.kind} ${workload.namespace ? `${workload.namespace}/` : ""}${workload.name}`;
        return row(label, at(workload.replicas.min), at(workload.replicas.max), replicas);
    };
    for (const workload of summary.workloads) lines.push(rowOf(workload));
    if (summary.standaloneStorage > 0) {
        const pvc: Footprint = { ...ZERO, storage: summary.standaloneStorage };
        lines.push(row("PersistentVolumeClaims", pvc, pvc, "-"));
    }
    const hasHpa = summary.workloads.some((workload) => workload.replicas.hpa);
    lines.push(row(hasHpa ? "total (HPA min-max)" : "total", summary.totals.min, summary.totals.max, ""));
    for (const workload of summary.runOnce) lines.push(`${rowOf(workload)}   (runs to completion: not in the total)`);
    for (const workload of summary.perNode) lines.push(`${rowOf(workload)}   (per node: not in the total)`);
    if (summary.problems.length > 0) {
        lines.push("", "Resource problems:");
        for (const problem of summary.problems) lines.push(`  ${problem}`);
    }
    return lines;
}
