// The capacity report (scripts/capacity.ts): each line's arithmetic and verdict, from a StackConfig
// whose relevant figures each test sets itself.
import { parseStackConfig, StackConfig } from "../../config";
import { capacityReport, CapacityLine, costEstimate, formatCapacity, formatCost, formatSizing, scrapeTargets } from "../../scripts/capacity";
import { readStackConfig } from "../../scripts/stack-files";
import { Footprint, WorkloadRow } from "../../scripts/summary";

const GI = 2 ** 30;
const prod = parseStackConfig("prod", readStackConfig("prod"));

/** prod's config with some values replaced (typed, not re-validated: the report must judge any sizing). */
function withChanges(change: (config: StackConfig) => void): StackConfig {
    const config = structuredClone(prod);
    change(config);
    return config;
}

const footprint = (cores: number, memoryGi: number, storageGi: number): Footprint => ({
    cpuRequests: cores,
    cpuLimits: cores * 2,
    memoryRequests: memoryGi * GI,
    memoryLimits: memoryGi * 2 * GI,
    storage: storageGi * GI,
});
/** A rendered workload as scripts/summary.ts reports it; only name, replicas and `scraped` matter here. */
const workload = (name: string, min: number, max = min, scraped = true, kind = "Deployment"): WorkloadRow => ({
    kind,
    namespace: "prepx",
    name,
    replicas: { min, max },
    perPod: { cpuRequests: 0, cpuLimits: 0, memoryRequests: 0, memoryLimits: 0 },
    storagePerPod: 0,
    scraped,
});
/** prod's scraped pods (the rendered names, HPA services at their maximum), 94 in all. */
const prodWorkloads = [
    workload("redis", 6, 6, true, "StatefulSet"),
    workload("postgres", 3, 3, true, "StatefulSet"),
    workload("postgres-pooler", 3),
    workload("lb", 3),
    workload("api-gateway", 4, 16),
    workload("user-service", 4, 60),
    workload("monitoring-prometheus", 1, 1, true, "StatefulSet"),
    workload("monitoring-grafana", 1),
    workload("monitoring-kube-state-metrics", 1),
];
const small = { totals: { min: footprint(10, 20, 100), max: footprint(10, 20, 100) }, workloads: prodWorkloads };

function line(lines: CapacityLine[], check: string): CapacityLine {
    const found = lines.find((l) => l.check === check);
    if (!found) throw new Error(`no line ${check}`);
    return found;
}

describe("capacity report", () => {
    test("connection budget: both hops from components/budget.ts, OK when they fit", () => {
        const config = withChanges((c) => {
            c.services = c.services.map((s) => ({ ...s, usesDatabase: true, autoscaling: { ...s.autoscaling, maxReplicas: 10 } }));
            c.servicePool.max = 50;
            Object.assign(c.pgbouncer, { replicas: 2, maxClientConn: 1000, defaultPoolSize: 100, reservePoolSize: 10 });
            Object.assign(c.postgres.parameters, { max_connections: 300, superuser_reserved_connections: 5 });
            c.postgres.reservedConnections = 40;
        });
        const lines = capacityReport(config, small);
        expect(line(lines, "connections clients -> PgBouncer")).toEqual({
            check: "connections clients -> PgBouncer",
            ok: true,
            detail: "service pools api-gateway 10 x 50 + user-service 10 x 50 = 1000 client connections; PgBouncer accepts 2 x 1000 = 2000",
        });
        expect(line(lines, "connections PgBouncer -> PostgreSQL")).toMatchObject({ ok: true, detail: expect.stringContaining("2 x (100 + 10) = 220; PostgreSQL allows 300 - 5 superuser-reserved - 40 reserved = 255") });
    });

    test("connection budget: the plan's 40 pods x 100 straight into max_connections 500 is SHORT on both hops", () => {
        const config = withChanges((c) => {
            c.services = [{ ...c.services[1], autoscaling: { ...c.services[1].autoscaling, maxReplicas: 40 } }];
            Object.assign(c.pgbouncer, { replicas: 1, maxClientConn: 500, defaultPoolSize: 500, reservePoolSize: 0 });
        });
        const lines = capacityReport(config, small);
        expect(line(lines, "connections clients -> PgBouncer").ok).toBe(false);
        expect(line(lines, "connections clients -> PgBouncer").detail).toContain("user-service 40 x 100 = 4000 client connections; PgBouncer accepts 1 x 500 = 500");
        expect(line(lines, "connections PgBouncer -> PostgreSQL").ok).toBe(false);
    });

    test("nginx: replicas x workers x worker_connections / 2 against the target users; the plan's 3 x 4 x 8192 is SHORT of 100,000", () => {
        const config = withChanges((c) => {
            Object.assign(c.loadBalancer, { replicas: 3, workerConnections: 8192, workerRlimitNofile: 65535 });
            c.loadBalancer.resources.limits.cpu = "4";
            c.targets.concurrentUsers = 100000;
        });
        expect(line(capacityReport(config, small), "nginx connections")).toEqual({
            check: "nginx connections",
            ok: false,
            detail:
                "3 pods x 4 workers (worker_processes from the LB pod's CPU limit 4) x 8192 worker_connections / 2 (proxying) " +
                "= 49,152 concurrent clients; target 100,000 concurrent users x 1 connection; needs 7 pods at 4 workers",
        });
        const sevenPods = withChanges((c) => Object.assign(c, config, { loadBalancer: { ...config.loadBalancer, replicas: 7 } }));
        expect(line(capacityReport(sevenPods, small), "nginx connections")).toMatchObject({ ok: true, detail: expect.stringContaining("= 114,688 concurrent clients") });
    });

    test("nginx: a fractional CPU limit means one worker; worker_rlimit_nofile caps worker_connections", () => {
        const config = withChanges((c) => {
            Object.assign(c.loadBalancer, { replicas: 2, workerConnections: 8192, workerRlimitNofile: 4096 });
            c.loadBalancer.resources.limits.cpu = "500m";
            c.targets.concurrentUsers = 4096;
        });
        const nginx = line(capacityReport(config, small), "nginx connections");
        expect(nginx.detail).toContain("2 pods x 1 workers (worker_processes from the LB pod's CPU limit 500m) x 4096 worker_connections (capped by worker_rlimit_nofile 4096) / 2 (proxying) = 4,096 concurrent clients");
        expect(nginx.ok).toBe(true);
    });

    test("scrape targets: the rendered pods annotated for scraping, HPA workloads at their maximum", () => {
        expect(scrapeTargets(prodWorkloads)).toEqual({
            total: 94,
            terms: "redis 6 + postgres 3 + postgres-pooler 3 + lb 3 + api-gateway 16 + user-service 60 + monitoring-prometheus 1 + monitoring-grafana 1 + monitoring-kube-state-metrics 1",
        });
        expect(scrapeTargets([workload("api-gateway", 2, 8), workload("unscraped", 5, 5, false)])).toEqual({ total: 8, terms: "api-gateway 8" });
    });

    test("prometheus: series x samples/s x bytes x retention against retentionSize and the PVC", () => {
        const config = withChanges((c) => {
            Object.assign(c.monitoring.prometheus, { scrapeInterval: "15s", retentionTime: "30d", retentionSize: "50GB", storage: "64Gi" });
        });
        // 94,000 series / 15 s = 6,266.7 samples/s; x 2 B x 2,592,000 s = 32,486,400,000 B = 30.3 GiB <= 50 GiB.
        const prometheus = line(capacityReport(config, small), "prometheus disk");
        expect(prometheus.ok).toBe(true);
        expect(prometheus.detail).toContain("= 94,000 series / 15s = 6,267 samples/s x 2 B/sample (capacity.prometheus; 1-2 after compression) x 30d = 30.3Gi; retentionSize 50GB, PVC 64Gi");
        // With 20 GB of retention, size-based retention cuts the history: 20 GiB / (6,266.7 x 2 B/s) = 19.8 days.
        const tight = withChanges((c) => Object.assign(c, config, { monitoring: { ...config.monitoring, prometheus: { ...config.monitoring.prometheus, retentionSize: "20GB" } } }));
        const short = line(capacityReport(tight, small), "prometheus disk");
        expect(short.ok).toBe(false);
        expect(short.detail).toMatch(/size retention keeps only ~19\.8 days of 30d$/);
        // The assumptions are the stack's capacity figures: one byte per sample halves the estimate.
        const leanConfig = withChanges((c) => Object.assign(c, config, { capacity: { ...config.capacity, prometheus: { ...config.capacity.prometheus, bytesPerSample: 1 } } }));
        const lean = line(capacityReport(leanConfig, small), "prometheus disk");
        expect(lean.detail).toContain("= 15.1Gi;");
    });

    test("budget: requests at max replicas against the plan's 50 cores, 200 GB, 1 TB (the budget's defaults); SHORT says by how much and whether the HPA minimum fits", () => {
        const plan = withChanges((c) => (c.budget = { cores: 50, memoryGB: 200, storageTB: 1, monthlyCostUsd: 10000 }));
        const fits = capacityReport(plan, { totals: { min: footprint(40, 150, 800), max: footprint(50, 186, 931) }, workloads: prodWorkloads });
        expect(line(fits, "budget cpu requests")).toEqual({ check: "budget cpu requests", ok: true, detail: "40-50 cores (HPA min-max) of rendered workloads vs the budget's 50 cores" });
        expect(line(fits, "budget memory requests")).toMatchObject({ ok: true, detail: "150.0Gi-186.0Gi (161.1-199.7 GB) (HPA min-max) of rendered workloads vs the budget's 200 GB" });
        expect(line(fits, "budget storage")).toMatchObject({ ok: true, detail: "800.0Gi-931.0Gi (0.859-0.9997 TB) (HPA min-max) of rendered workloads vs the budget's 1 TB" });

        const over = capacityReport(plan, { totals: { min: footprint(45, 190, 1000), max: footprint(76, 200, 1000) }, workloads: prodWorkloads });
        expect(line(over, "budget cpu requests")).toEqual({
            check: "budget cpu requests",
            ok: false,
            detail: "45-76 cores (HPA min-max) of rendered workloads vs the budget's 50 cores: short by 26 cores at max replicas; fits at HPA min replicas only",
        });
        expect(line(over, "budget memory requests")).toMatchObject({ ok: false, detail: expect.stringContaining("190.0Gi-200.0Gi (204-214.7 GB) (HPA min-max) of rendered workloads vs the budget's 200 GB: short by") });
        expect(line(over, "budget storage")).toMatchObject({ ok: false, detail: "1000.0Gi (1.074 TB) of rendered workloads vs the budget's 1 TB: short by 68.7Gi" });
    });

    test("formatCapacity: one line per check, the verdict first", () => {
        const lines = formatCapacity([
            { check: "a", ok: true, detail: "1 <= 2" },
            { check: "b", ok: false, detail: "3 > 2" },
        ]);
        expect(lines).toEqual(["  OK    a: 1 <= 2", "  SHORT b: 3 > 2"]);
    });
});
