// The render summary (scripts/summary.ts) on hand-made objects: replicas, HPAs, init containers
// and sidecars, storage, and what is left out of the totals.
import { JsonObject } from "../../scripts/manifests";
import { formatCores, formatGiB, formatResourceSummary, podResources, summarize, SummaryInput } from "../../scripts/summary";

const GI = 2 ** 30;
const MI = 2 ** 20;

function container(name: string, cpu: [string | number, string | number], memory: [string, string]): JsonObject {
    return { name, image: "x:1", resources: { requests: { cpu: cpu[0], memory: memory[0] }, limits: { cpu: cpu[1], memory: memory[1] } } };
}

function workload(kind: string, name: string, spec: JsonObject, namespace = "ns"): SummaryInput {
    return { kind, namespace, name, object: { apiVersion: "apps/v1", kind, metadata: { name, namespace }, spec } };
}

const api = workload("Deployment", "api", {
    replicas: 3,
    template: { spec: { containers: [container("api", ["500m", "1"], ["256Mi", "512Mi"]), container("proxy", ["100m", "200m"], ["64Mi", "64Mi"])] } },
});
const db = workload("StatefulSet", "db", {
    replicas: 2,
    template: { spec: { containers: [container("db", [2, 4], ["4Gi", "8Gi"])] } },
    volumeClaimTemplates: [{ spec: { resources: { requests: { storage: "100Gi" } } } }, { spec: { resources: { requests: { storage: "10Gi" } } } }],
});
const hpa = (target: string, min: number | undefined, max: number, namespace = "ns"): SummaryInput => ({
    kind: "HorizontalPodAutoscaler",
    namespace,
    name: `${target}-hpa`,
    object: { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: { name: `${target}-hpa`, namespace }, spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: target }, ...(min === undefined ? {} : { minReplicas: min }), maxReplicas: max } },
});

describe("summarize", () => {
    test("containers x replicas, PVC templates x replicas, objects by kind", () => {
        const summary = summarize([api, db]);
        expect(summary.kinds).toEqual([["Deployment", 1], ["StatefulSet", 1]]);
        const api3 = { cpuRequests: 3 * 0.6, cpuLimits: 3 * 1.2, memoryRequests: 3 * 320 * MI, memoryLimits: 3 * 576 * MI };
        const db2 = { cpuRequests: 4, cpuLimits: 8, memoryRequests: 8 * GI, memoryLimits: 16 * GI };
        expect(summary.totals.min.cpuRequests).toBeCloseTo(api3.cpuRequests + db2.cpuRequests);
        expect(summary.totals.min.cpuLimits).toBeCloseTo(api3.cpuLimits + db2.cpuLimits);
        expect(summary.totals.min.memoryRequests).toBe(api3.memoryRequests + db2.memoryRequests);
        expect(summary.totals.min.memoryLimits).toBe(api3.memoryLimits + db2.memoryLimits);
        expect(summary.totals.min.storage).toBe(2 * 110 * GI);
        expect(summary.totals.max).toEqual(summary.totals.min); // no HPA: one figure
        expect(summary.problems).toEqual([]);
    });

    test("an HPA-managed workload counts the HPA's min and max, not spec.replicas; minReplicas defaults to 1", () => {
        const summary = summarize([api, hpa("api", 4, 10)]);
        expect(summary.workloads[0].replicas).toEqual({ min: 4, max: 10, hpa: "api-hpa" });
        expect(summary.totals.min.cpuRequests).toBeCloseTo(4 * 0.6);
        expect(summary.totals.max.cpuRequests).toBeCloseTo(10 * 0.6);
        expect(summarize([api, hpa("api", undefined, 5)]).workloads[0].replicas).toEqual({ min: 1, max: 5, hpa: "api-hpa" });
        // An HPA in another namespace, or for another target, does not apply.
        expect(summarize([api, hpa("api", 4, 10, "other"), hpa("web", 4, 10)]).workloads[0].replicas).toEqual({ min: 3, max: 3 });
    });

    test("init containers and sidecars count as the scheduler counts them", () => {
        const problems: string[] = [];
        // A big init container that runs alone: the pod needs its peak, not the sum.
        const initHeavy = podResources({ initContainers: [container("migrate", ["2", "2"], ["1Gi", "1Gi"])], containers: [container("app", ["500m", "1"], ["256Mi", "256Mi"])] }, "pod", problems);
        expect(initHeavy).toEqual({ cpuRequests: 2, cpuLimits: 2, memoryRequests: GI, memoryLimits: GI });
        // A sidecar (restartPolicy Always) runs next to the app containers: added.
        const sidecar = { ...container("envoy", ["100m", "200m"], ["64Mi", "128Mi"]), restartPolicy: "Always" };
        const withSidecar = podResources({ initContainers: [sidecar], containers: [container("app", ["500m", "1"], ["256Mi", "256Mi"])] }, "pod", problems);
        expect(withSidecar.cpuRequests).toBeCloseTo(0.6);
        expect(withSidecar.memoryLimits).toBe(384 * MI);
        // An init container after a sidecar runs next to it.
        const afterSidecar = podResources({ initContainers: [sidecar, container("migrate", ["2", "2"], ["1Gi", "1Gi"])], containers: [container("app", ["500m", "1"], ["256Mi", "256Mi"])] }, "pod", problems);
        expect(afterSidecar.cpuRequests).toBeCloseTo(2.1);
        expect(problems).toEqual([]);
    });

    test("Jobs and DaemonSets are listed but kept out of the totals; standalone PVCs and ephemeral volumes count", () => {
        const job = workload("Job", "bootstrap", { template: { spec: { containers: [container("b", ["1", "1"], ["1Gi", "1Gi"])] } } });
        const daemon = workload("DaemonSet", "agent", { template: { spec: { containers: [container("a", ["1", "1"], ["1Gi", "1Gi"])] } } });
        const pvc: SummaryInput = { kind: "PersistentVolumeClaim", namespace: "ns", name: "shared", object: { spec: { resources: { requests: { storage: "5Gi" } } } } };
        const scratch = workload("Deployment", "scratch", {
            replicas: 2,
            template: { spec: { containers: [container("s", ["1", "1"], ["1Gi", "1Gi"])], volumes: [{ name: "tmp", ephemeral: { volumeClaimTemplate: { spec: { resources: { requests: { storage: "1Gi" } } } } } }] } },
        });
        const summary = summarize([job, daemon, pvc, scratch]);
        expect(summary.runOnce.map((w) => w.name)).toEqual(["bootstrap"]);
        expect(summary.perNode.map((w) => w.name)).toEqual(["agent"]);
        expect(summary.workloads.map((w) => w.name)).toEqual(["scratch"]);
        expect(summary.totals.min.cpuRequests).toBe(2);
        expect(summary.standaloneStorage).toBe(5 * GI);
        expect(summary.totals.min.storage).toBe(5 * GI + 2 * GI);
    });

    test("a PVC patch (a StatefulSet's claim grown in place) is counted as a patch, not as storage of its own", () => {
        const claim = { spec: { resources: { requests: { storage: "50Gi" } } } };
        const patch: SummaryInput = { kind: "PersistentVolumeClaim", namespace: "ns", name: "data-db-0", object: claim, source: { type: "kubernetes:core/v1:PersistentVolumeClaimPatch" } };
        const standalone: SummaryInput = { kind: "PersistentVolumeClaim", namespace: "ns", name: "shared", object: claim, source: { type: "kubernetes:core/v1:PersistentVolumeClaim" } };
        const summary = summarize([patch, standalone]);
        expect(summary.standaloneStorage).toBe(50 * GI);
        expect(Object.fromEntries(summary.kinds)).toEqual({ PersistentVolumeClaim: 1, PersistentVolumeClaimPatch: 1 });
    });

    test("a container without requests or limits, or with an unreadable quantity, is named", () => {
        const bare = workload("Deployment", "bare", { template: { spec: { containers: [{ name: "c", image: "x:1", resources: { requests: { cpu: "one", memory: "1Gi" } } }] } } });
        const summary = summarize([bare]);
        expect(summary.problems).toEqual([
            "Deployment ns/bare container c: no limits.cpu (counted as 0)",
            "Deployment ns/bare container c: no limits.memory (counted as 0)",
            'Deployment ns/bare container c: cannot read quantity "one"',
        ]);
        expect(summary.totals.min.memoryRequests).toBe(GI);
    });
});

describe("formatResourceSummary", () => {
    test("prints kinds, one row per workload with its replica range, the totals and the left-out workloads", () => {
        const job = workload("Job", "bootstrap", { template: { spec: { containers: [container("b", ["100m", "100m"], ["64Mi", "64Mi"])] } } });
        const lines = formatResourceSummary(summarize([api, hpa("api", 4, 10), db, job]));
        const text = lines.join("\n");
        expect(lines[0]).toBe("Objects by kind (4):");
        expect(text).toMatch(/\n {2}HorizontalPodAutoscaler +1\n/);
        expect(text).toMatch(/\n {2}Deployment ns\/api +4-10 \(HPA\) +2\.4-6 +4\.8-12 +1\.3Gi-3\.1Gi +2\.3Gi-5\.6Gi +0\n/);
        expect(text).toMatch(/\n {2}StatefulSet ns\/db +2 +4 +8 +8\.0Gi +16\.0Gi +220\.0Gi\n/);
        expect(text).toMatch(/\n {2}total \(HPA min-max\) +6\.4-10 +12\.8-20 +9\.3Gi-11\.1Gi +18\.3Gi-21\.6Gi +220\.0Gi\n/);
        expect(text).toMatch(/Job ns\/bootstrap .*\(runs to completion: not in the total\)/);
    });

    test("units stay readable at dev and prod sizes", () => {
        expect(formatCores(0.18000000000000002)).toBe("0.18");
        expect(formatGiB(0)).toBe("0");
        expect(formatGiB(864 * MI)).toBe("864Mi");
        expect(formatGiB(48.4 * GI)).toBe("48.4Gi");
        expect(formatGiB(1874 * GI)).toBe("1.83Ti");
    });
});
