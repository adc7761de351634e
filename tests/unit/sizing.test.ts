// The sizing derived from a stack's targets (components/sizing.ts): each rule on inputs the test
// sets itself, then through parseStackConfig (explicit values win, a refused derived value is named
// as derived), and the monthly cost arithmetic.
import { parseStackConfig } from "../../config";
import { capacitySchema, ConfigPath, Derivation, deriveSizing, monthlyCost, pricesSchema, SizingInput } from "../../components/sizing";
import { readStackConfig } from "../../scripts/stack-files";
import { configErrorOf, configWith } from "../helpers/config-errors";

const GI = 2 ** 30;

/** A sizing input of the prod shape; `explicit` holds the stack file's own values by dotted path. */
function input(change: (value: SizingInput) => void = () => undefined, explicit: Record<string, number | string> = {}): SizingInput {
    const value: SizingInput = {
        targets: { concurrentUsers: 100000, requestsPerSecond: 100000, p95LatencyMs: 100 },
        capacity: capacitySchema.parse(undefined),
        explicit: (path: ConfigPath) => explicit[path.join(".")],
        loadBalancer: { replicas: 3, cpuLimit: "4", workerConnections: 8192, workerRlimitNofile: 65535 },
        services: [
            { name: "api-gateway", usesDatabase: true, autoscaling: {} },
            { name: "user-service", usesDatabase: true, autoscaling: {} },
            { name: "notifier", usesDatabase: false, autoscaling: { minReplicas: 2, maxReplicas: 4, targetCpuPercent: 80 } },
        ],
        servicePoolMax: 100,
        pgbouncer: { replicas: 3, defaultPoolSize: 120, reservePoolSize: 20, maxClientConn: 5000 },
        postgres: { standbys: 2, maxConnections: 500, superuserReservedConnections: 5, reservedConnections: 40 },
        redis: { masters: 3, replicasPerMaster: 1 },
        prometheus: { scrapeInterval: "15s", retentionTime: "30d", retentionSize: "50GB", storage: "64Gi" },
    };
    change(value);
    return value;
}

function derived(derivations: Derivation[], key: string): Derivation {
    const found = derivations.find((d) => d.key === key);
    if (!found) throw new Error(`no derivation ${key} (have ${derivations.map((d) => d.key).join(", ")})`);
    return found;
}

describe("deriveSizing", () => {
    const prod = deriveSizing(input());

    test("LB replicas: the larger of what the connections and the throughput need at 80%, at least 2", () => {
        expect(derived(prod, "loadBalancer.replicas")).toEqual({
            path: ["loadBalancer", "replicas"],
            key: "loadBalancer.replicas",
            value: 8,
            rule:
                "max(2, ceil(100,000 users x 1 connection x 2 (client + upstream) / (4 workers x 8192 connections) / 0.8) = 8, " +
                "ceil(100,000 req/s / (4 workers x 10,000 req/s per core) / 0.8) = 4)",
        });
        // Throughput decides when each worker holds many connections: 1,000,000 req/s over 4 x 10,000 at 80% = 32.
        const busy = deriveSizing(input((i) => (i.targets = { concurrentUsers: 1000, requestsPerSecond: 1000000, p95LatencyMs: 100 })));
        expect(derived(busy, "loadBalancer.replicas").value).toBe(32);
        // A small target still gets two pods.
        const small = deriveSizing(input((i) => (i.targets = { concurrentUsers: 10, requestsPerSecond: 10, p95LatencyMs: 100 })));
        expect(derived(small, "loadBalancer.replicas").value).toBe(2);
    });

    test("worker_connections follow the replicas that apply (derived or the stack's), rounded up to 1024; the rlimit stays at least twice that", () => {
        expect(derived(prod, "loadBalancer.workerConnections")).toMatchObject({
            value: 8192,
            rule: "ceil(200,000 connections / (8 replicas x 4 workers) / 0.8) = 7,813, rounded up to 1024 (at least 1024)",
        });
        // The stack fixes 4 replicas: each worker then holds 15,625 connections -> 16384, and the rlimit doubles it.
        const four = deriveSizing(input(undefined, { "loadBalancer.replicas": 4 }));
        expect(derived(four, "loadBalancer.replicas")).toMatchObject({ value: 8, explicit: 4 });
        expect(derived(four, "loadBalancer.workerConnections").value).toBe(16384);
        expect(derived(four, "loadBalancer.workerRlimitNofile")).toMatchObject({ value: 65535, rule: "max(65535 default, 2 x 16384 worker_connections)" });
        const one = deriveSizing(input(undefined, { "loadBalancer.replicas": 1 }));
        // One pod: 200,000 / 4 workers / 0.8 = 62,500 per worker -> 63488, the rlimit twice that.
        expect(derived(one, "loadBalancer.workerConnections").value).toBe(63488);
        expect(derived(one, "loadBalancer.workerRlimitNofile").value).toBe(126976);
    });

    test("HPA bounds from capacity.services: min carries the share at the target CPU, max = min x headroom; unlisted services are left alone", () => {
        expect(derived(prod, "services[api-gateway].autoscaling.minReplicas")).toEqual({
            path: ["services", 0, "autoscaling", "minReplicas"],
            key: "services[api-gateway].autoscaling.minReplicas",
            value: 12,
            rule: "max(2, ceil(100,000 req/s x 1 share / 12,500 req/s per pod / 70% target CPU) = 12)",
        });
        expect(derived(prod, "services[api-gateway].autoscaling.maxReplicas")).toMatchObject({ value: 24, rule: "ceil(12 min x 2 headroom)" });
        expect(derived(prod, "services[user-service].autoscaling.minReplicas").value).toBe(58);
        expect(prod.some((d) => d.key.startsWith("services[notifier]"))).toBe(false);
        // The stack's own minimum and CPU target size the maximum; a share below 1 lowers the minimum.
        const own = deriveSizing(
            input(
                (i) => (i.capacity.services["user-service"] = { requestsPerSecondPerPod: 2500, requestShare: 0.5 }),
                { "services.1.autoscaling.minReplicas": 40, "services.1.autoscaling.targetCpuPercent": 50 },
            ),
        );
        expect(derived(own, "services[user-service].autoscaling.minReplicas")).toMatchObject({
            value: 40,
            explicit: 40,
            rule: "max(2, ceil(100,000 req/s x 0.5 share / 2,500 req/s per pod / 50% target CPU) = 40)",
        });
        expect(derived(own, "services[user-service].autoscaling.maxReplicas").value).toBe(80);
    });

    test("PgBouncer: server pools for the transactions, client limit for every pool at HPA max with one PgBouncer lost, max_connections to match", () => {
        expect(derived(prod, "pgbouncer.defaultPoolSize")).toMatchObject({
            value: 134,
            rule: "ceil(100,000 req/s x 1 transactions / 250 per server connection = 400 / 3 PgBouncer replicas)",
        });
        // Pools at the derived HPA maxima (24 + 116) x 100, over the 2 PgBouncers left when one is lost.
        expect(derived(prod, "pgbouncer.maxClientConn")).toMatchObject({
            value: 7000,
            rule: "ceil((api-gateway 24 + user-service 116) x 100 pool = 14,000 client connections / 2 (3 replicas, one lost))",
        });
        expect(derived(prod, "postgres.parameters.max_connections")).toMatchObject({
            value: 3 * (134 + 20) + 5 + 40,
            rule: "3 PgBouncer replicas x (134 + 20 reserve) + 5 superuser-reserved + 40 reserved",
        });
        // An explicit pool size is what max_connections is sized for.
        const pools = deriveSizing(input(undefined, { "pgbouncer.defaultPoolSize": 200 }));
        expect(derived(pools, "postgres.parameters.max_connections").value).toBe(3 * (200 + 20) + 45);
    });

    test("Redis masters for the round trips at 80%, at least 3 (a cluster's minimum)", () => {
        expect(derived(prod, "redis.masters")).toMatchObject({ value: 8, rule: "max(3, ceil(100,000 req/s x 3 ops / 50,000 ops/s per master / 0.8) = 8)" });
        const small = deriveSizing(input((i) => (i.targets.requestsPerSecond = 1000)));
        expect(derived(small, "redis.masters").value).toBe(3);
    });

    test("Prometheus: retentionSize and the PVC from the scraped pods the sizing gives, never below the component's values", () => {
        // Scraped pods: redis 16 + postgres 3 + pgbouncer 3 + lb 8 + 24 + 116 + notifier 4 + monitoring 3 = 177.
        const retention = derived(prod, "monitoring.prometheus.retentionSize");
        expect(retention.rule).toContain("177 targets (redis 16 + postgres 3 + pgbouncer 3 + lb 8 + api-gateway 24 + user-service 116 + notifier 4 + monitoring 3)");
        // 177,000 series / 15 s x 2 B x 30 d = 57.0 GiB x 1.2 = 68.4 -> 69 GB; storage 69 / 0.8 -> 87Gi.
        expect(retention.value).toBe("69GB");
        expect(derived(prod, "monitoring.prometheus.storage").value).toBe("87Gi");
        const small = deriveSizing(input((i) => (i.targets = { concurrentUsers: 100, requestsPerSecond: 100, p95LatencyMs: 100 })));
        expect(derived(small, "monitoring.prometheus.retentionSize").value).toBe("50GB");
        expect(derived(small, "monitoring.prometheus.storage").value).toBe("64Gi");
    });
});

describe("the stack config applies the derived sizing", () => {
    const prod = parseStackConfig("prod", readStackConfig("prod"));

    test("a derived value applies where the stack file sets none; the file's own value wins and is reported beside the derived one", () => {
        expect(prod.loadBalancer.replicas).toBe(8);
        expect(prod.redis.masters).toBe(8);
        expect(prod.pgbouncer).toMatchObject({ defaultPoolSize: 134, maxClientConn: 3800 });
        expect(prod.postgres.parameters.max_connections).toBe(507);
        const gateway = prod.services.find((s) => s.name === "api-gateway");
        expect(gateway?.autoscaling).toEqual({ minReplicas: 8, maxReplicas: 16, targetCpuPercent: 70 });
        expect(prod.sizing.find((d) => d.key === "services[api-gateway].autoscaling.minReplicas")).toMatchObject({ value: 12, explicit: 8 });
        expect(prod.sizing.find((d) => d.key === "loadBalancer.replicas")?.explicit).toBeUndefined();
        // Set in the stack file, the derived value no longer applies.
        const three = parseStackConfig("prod", configWith("prod", (r) => (r.loadBalancer.replicas = 3)));
        expect(three.loadBalancer.replicas).toBe(3);
    });

    test("the default capacity figures name the plan's services; a stack with other services derives nothing for them and is not refused", () => {
        const config = parseStackConfig(
            "prod",
            configWith("prod", (r) => {
                r.services = r.services.map((service: { name: string }) => ({ ...service, name: `${service.name}-v2` }));
                r.loadBalancer.upstreamService = "api-gateway-v2";
            }),
        );
        expect(config.sizing.filter((d) => d.key.startsWith("services["))).toEqual([]);
        expect(config.services.map((s) => s.autoscaling.maxReplicas)).toEqual([16, 60]);
    });

    test("a service without autoscaling in the stack file gets the derived bounds", () => {
        const raw = configWith("prod", (r) => delete r.services[0].autoscaling);
        const config = parseStackConfig("prod", raw);
        expect(config.services[0].autoscaling).toEqual({ minReplicas: 12, maxReplicas: 24, targetCpuPercent: 70 });
        // The raw config is left as it was.
        expect(raw.services[0].autoscaling).toBeUndefined();
    });

    test("a derived value the schema refuses fails with the key, and says it was derived and from what", () => {
        const message = configErrorOf(
            configWith("prod", (r) => {
                delete r.services[1].autoscaling;
                r.targets.requestsPerSecond = 1000000;
            }),
        );
        // 1,000,000 req/s over 2,500 per pod at 70% = 572 pods (within 1000), x 2 headroom = 1144 (not).
        expect(message).toBe(
            "prod: services[1].autoscaling.maxReplicas must be at most 1000 (got 1144)\n" +
                "prod: services[user-service].autoscaling.maxReplicas 1144 was derived from targets and capacity: ceil(572 min x 2 headroom); set it in the stack file or change targets/capacity",
        );
    });

    test("bad capacity, prices and budget values are refused naming the key; the issue's spelling of targets says what to write", () => {
        expect(configErrorOf(configWith("prod", (r) => (r.capacity.targetUtilisation = 1.5)))).toBe("prod: capacity.targetUtilisation must be at most 1 (got 1.5)");
        expect(configErrorOf(configWith("prod", (r) => (r.capacity.redis.opsPerSecondPerMaster = 0)))).toBe("prod: capacity.redis.opsPerSecondPerMaster must be at least 1 (got 0)");
        expect(configErrorOf(configWith("prod", (r) => (r.prices.vcpuHour = -1)))).toBe("prod: prices.vcpuHour must be at least 0 (got -1)");
        expect(configErrorOf(configWith("prod", (r) => (r.budget.cpus = 10)))).toBe("prod: budget.cpus is not a known key (got 10)");
        expect(configErrorOf(configWith("prod", (r) => (r.capacity.services = { "api-gateway": { requestsPerSecondPerPod: 1000 }, "order-service": { requestsPerSecondPerPod: 1000 } })))).toBe(
            "prod: capacity.services.order-service must name one of services (api-gateway, user-service)",
        );
        const renamed = configErrorOf(configWith("prod", (r) => (r.target = r.targets)));
        expect(renamed).toContain("prod: target is not a known key");
        expect(renamed).toContain("; it is now targets");
        expect(configErrorOf(configWith("prod", (r) => (r.targets.p95Ms = 100)))).toContain("prod: targets.p95Ms is not a known key (got 100); it is now targets.p95LatencyMs");
    });
});

describe("monthlyCost", () => {
    const prices = pricesSchema.parse(undefined);

    test("requests x hourly prices x 730 h, storage by the GiB-month, one load balancer, backups in object storage", () => {
        const cost = monthlyCost({ cores: 100, memoryBytes: 200 * GI, storageBytes: 1000 * GI, loadBalancers: 1, objectStorageBytes: 3500 * GI }, prices);
        expect(cost.parts).toEqual([
            { item: "cpu", usd: 100 * 0.04048 * 730, arithmetic: "100 vCPU x $0.04048/h x 730 h" },
            { item: "memory", usd: 200 * 0.004445 * 730, arithmetic: "200 GiB x $0.004445/h x 730 h" },
            { item: "ssd", usd: 1000 * 0.08, arithmetic: "1,000 GiB x $0.08/month" },
            { item: "load balancers", usd: 0.0225 * 730, arithmetic: "1 x $0.0225/h x 730 h" },
            { item: "object storage", usd: 3500 * 0.023, arithmetic: "3,500 GiB x $0.023/month" },
        ]);
        // 2,955.04 + 648.97 + 80 + 16.425 + 80.5
        expect(cost.totalUsd).toBeCloseTo(3780.935, 3);
    });

    test("the operator's own prices replace the defaults", () => {
        const own = pricesSchema.parse({ vcpuHour: 0.02, memoryGiBHour: 0, ssdGiBMonth: 0.1, loadBalancerHour: 0, objectStorageGiBMonth: 0 });
        expect(monthlyCost({ cores: 10, memoryBytes: GI, storageBytes: 10 * GI, loadBalancers: 1, objectStorageBytes: GI }, own).totalUsd).toBeCloseTo(10 * 0.02 * 730 + 1, 6);
    });
});
