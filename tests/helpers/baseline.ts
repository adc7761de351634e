// The workload baseline of DESIGN.md section 4, as a check over recorded resources. Returns the
// list of violations (empty = every workload meets it) so a failure names each one.
import { RecordedResource } from "./mocks";

const WORKLOAD_TYPES = ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job"];
const REQUIRED_LABELS = [
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
];

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
    return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** Every violation of the baseline among the recorded workloads. */
export function baselineViolations(recorded: RecordedResource[]): string[] {
    const problems: string[] = [];
    const pdbs = recorded.filter((r) => r.type === "kubernetes:policy/v1:PodDisruptionBudget");
    for (const workload of recorded.filter((r) => WORKLOAD_TYPES.includes(r.type))) {
        const where = `${workload.type.split(":").pop()} ${workload.name}`;
        const isJob = workload.type.endsWith(":Job");
        const template = workload.inputs.spec?.template ?? {};
        const podSpec = template.spec ?? {};
        const podLabels: Record<string, string> = template.metadata?.labels ?? {};
        for (const label of REQUIRED_LABELS) {
            if (!podLabels[label]) problems.push(`${where}: pod template lacks label ${label}`);
            if (!workload.inputs.metadata?.labels?.[label]) problems.push(`${where}: lacks label ${label}`);
        }
        if (podSpec.securityContext?.runAsNonRoot !== true) problems.push(`${where}: pod securityContext.runAsNonRoot is not true`);
        const containers = [...(podSpec.initContainers ?? []), ...(podSpec.containers ?? [])];
        if (containers.length === 0) problems.push(`${where}: no containers`);
        for (const container of containers) {
            const at = `${where} container ${container.name}`;
            const isInit = (podSpec.initContainers ?? []).includes(container);
            for (const kind of ["requests", "limits"]) {
                for (const resource of ["cpu", "memory"]) {
                    if (!container.resources?.[kind]?.[resource]) problems.push(`${at}: no ${kind}.${resource}`);
                }
            }
            const sc = container.securityContext ?? {};
            if (sc.allowPrivilegeEscalation !== false) problems.push(`${at}: allowPrivilegeEscalation is not false`);
            if (JSON.stringify(sc.capabilities?.drop) !== JSON.stringify(["ALL"])) problems.push(`${at}: capabilities do not drop ALL`);
            if (sc.seccompProfile?.type !== "RuntimeDefault" && podSpec.securityContext?.seccompProfile?.type !== "RuntimeDefault") {
                problems.push(`${at}: no RuntimeDefault seccomp profile`);
            }
            if (sc.runAsNonRoot !== true && podSpec.securityContext?.runAsNonRoot !== true) problems.push(`${at}: runAsNonRoot is not set`);
            if (sc.readOnlyRootFilesystem === undefined) problems.push(`${at}: readOnlyRootFilesystem not decided`);
            if (!isJob && !isInit) {
                if (!container.readinessProbe) problems.push(`${at}: no readinessProbe`);
                if (!container.livenessProbe) problems.push(`${at}: no livenessProbe`);
            }
            if (typeof container.image !== "string" || /:latest$/.test(container.image) || !/[:@]/.test(container.image.split("/").pop() ?? "")) {
                problems.push(`${at}: image not pinned (${container.image})`);
            }
        }
        const usesConfigMap = (podSpec.volumes ?? []).some((volume: { configMap?: unknown; projected?: unknown }) => volume.configMap || volume.projected);
        if (!isJob && usesConfigMap && !template.metadata?.annotations?.["checksum/config"]) {
            problems.push(`${where}: mounts a ConfigMap but has no checksum/config annotation`);
        }
        const replicas: number = workload.inputs.spec?.replicas ?? 1;
        if (!isJob && replicas > 1) {
            const selector: Record<string, string> = workload.inputs.spec?.selector?.matchLabels ?? {};
            const hasPdb = pdbs.some((pdb) => selects(pdb.inputs.spec?.selector?.matchLabels ?? {}, podLabels) && Object.keys(pdb.inputs.spec?.selector?.matchLabels ?? {}).length > 0);
            if (!hasPdb) problems.push(`${where}: ${replicas} replicas but no PodDisruptionBudget selects its pods`);
            const spreads = (podSpec.topologySpreadConstraints ?? []).some(
                (c: { topologyKey?: string; labelSelector?: { matchLabels?: Record<string, string> } }) => c.topologyKey === "kubernetes.io/hostname" && selects(c.labelSelector?.matchLabels ?? {}, podLabels),
            );
            const antiAffinity = Boolean(podSpec.affinity?.podAntiAffinity);
            if (!spreads && !antiAffinity) problems.push(`${where}: ${replicas} replicas but no spreading across nodes`);
            if (Object.keys(selector).length === 0) problems.push(`${where}: empty selector`);
        }
    }
    return problems;
}
