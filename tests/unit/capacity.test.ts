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

    test("throughput: nginx, each service with a capacity figure at its HPA max and CPU target, PgBouncer's server pools, Redis masters", () => {
        const lines = capacityReport(prod, small);
        expect(line(lines, "nginx throughput")).toEqual({
            check: "nginx throughput",
            ok: true,
            detail: "8 pods x 4 workers x 10,000 req/s per core (capacity.nginx) x 0.8 utilisation = 256,000 req/s; target 100,000 req/s",
        });
        expect(line(lines, "api-gateway throughput")).toEqual({
            check: "api-gateway throughput",
            ok: true,
            detail: "HPA max 16 pods x 12,500 req/s per pod (capacity.services) x 70% target CPU = 140,000 req/s; target 100,000 req/s x 1 share = 100,000",
        });
        expect(line(lines, "PgBouncer transactions")).toMatchObject({ ok: true, detail: expect.stringContaining("3 replicas x 134 default_pool_size x 250 transactions/s per server connection (capacity.pgbouncer) = 100,500/s") });
        expect(line(lines, "redis throughput")).toMatchObject({ ok: true, detail: expect.stringContaining("8 masters x 50,000 ops/s per master (capacity.redis) x 0.8 utilisation = 320,000 ops/s; target 100,000 req/s x 3 ops = 300,000 ops/s") });
        // The plan's hand sizing: 3 nginx pods, 3 Redis masters, pools of 120, user-service at 40 pods.
        const plan = withChanges((c) => {
            c.loadBalancer.replicas = 3;
            c.redis.masters = 3;
            c.pgbouncer.defaultPoolSize = 120;
            c.services[1].autoscaling.maxReplicas = 40;
        });
        const short = capacityReport(plan, small);
        expect(line(short, "nginx throughput")).toMatchObject({ ok: false, detail: expect.stringContaining("3 pods x 4 workers x 10,000 req/s per core (capacity.nginx) x 0.8 utilisation = 96,000 req/s") });
        expect(line(short, "user-service throughput")).toMatchObject({ ok: false, detail: expect.stringContaining("HPA max 40 pods x 2,500 req/s per pod (capacity.services) x 70% target CPU = 70,000 req/s") });
        expect(line(short, "PgBouncer transactions")).toMatchObject({ ok: false, detail: expect.stringContaining("= 90,000/s; target 100,000 req/s x 1 = 100,000/s") });
        expect(line(short, "redis throughput")).toMatchObject({ ok: false, detail: expect.stringContaining("3 masters x 50,000 ops/s per master (capacity.redis) x 0.8 utilisation = 120,000 ops/s") });
        // A service without a capacity figure has no throughput line.
        const unlisted = withChanges((c) => (c.capacity.services = {}));
        expect(capacityReport(unlisted, small).map((l) => l.check)).not.toContain("api-gateway throughput");
    });

    test("cost: requests at HPA min and max x the config's prices, against the budget, the plan's range beside it", () => {
        const totals = { min: footprint(80, 200, 2000), max: footprint(100, 250, 2000) };
        const cost = costEstimate(prod, totals);
        // 100 cores x 0.04048 x 730 + 250 GiB x 0.004445 x 730 + 2000 GiB x 0.08 + 1 LB x 0.0225 x 730 + 500Gi x 7 backups x 0.023.
        expect(cost.max.totalUsd).toBeCloseTo(2955.04 + 811.2125 + 160 + 16.425 + 80.5, 3);
        expect(line(capacityReport(prod, { ...small, totals }), "budget monthly cost")).toEqual({
            check: "budget monthly cost",
            ok: true,
            detail: "$3,270-$4,023 (HPA min-max) a month at config prices vs the budget's $10,000 (the plan: $5,000-$10,000)",
        });
        const tight = withChanges((c) => (c.budget.monthlyCostUsd = 4000));
        expect(line(capacityReport(tight, { ...small, totals }), "budget monthly cost")).toMatchObject({ ok: false, detail: expect.stringMatching(/: over by \$23 at max replicas$/) });
        // No cloud load balancer for a NodePort tier, no object storage for a volume repository.
        const local = withChanges((c) => {
            c.loadBalancer.serviceType = "NodePort";
            c.postgres.backup.repository = { type: "volume", size: "5Gi", accessMode: "ReadWriteOnce" };
        });
        expect(costEstimate(local, totals).max.parts.filter((p) => p.usd > 0).map((p) => p.item)).toEqual(["cpu", "memory", "ssd"]);
        expect(formatCost(prod, totals)).toEqual([
            "  cpu                 $2,955  100 vCPU x $0.04048/h x 730 h",
            "  memory                $811  250 GiB x $0.004445/h x 730 h",
            "  ssd                   $160  2,000 GiB x $0.08/month",
            "  load balancers         $16  1 x $0.0225/h x 730 h",
            "  object storage         $81  3,500 GiB x $0.023/month",
            "  total               $4,023  requests, not limits; node overhead, traffic and load-balancer traffic units not counted",
        ]);
    });

    test("formatSizing: derived numbers with their arithmetic; the stack file's own values beside what would have been derived", () => {
        const lines = formatSizing(prod);
        expect(lines).toContain(
            "  derived   loadBalancer.replicas 8 = max(2, ceil(100,000 users x 1 connection x 2 (client + upstream) / (4 workers x 8192 connections) / 0.8) = 8, " +
                "ceil(100,000 req/s / (4 workers x 10,000 req/s per core) / 0.8) = 4)",
        );
        expect(lines).toContain(
            "  explicit  services[user-service].autoscaling.minReplicas 40 (stack file; derived would be 58 = max(2, ceil(100,000 req/s x 1 share / 2,500 req/s per pod / 70% target CPU) = 58))",
        );
        expect(lines).toHaveLength(prod.sizing.length);
    });

    test("formatCapacity: one line per check, the verdict first", () => {
        const lines = formatCapacity([
            { check: "a", ok: true, detail: "1 <= 2" },
            { check: "b", ok: false, detail: "3 > 2" },
        ]);
        expect(lines).toEqual(["  OK    a: 1 <= 2", "  SHORT b: 3 > 2"]);
    });
});
