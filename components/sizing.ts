// Sizing derived from a stack's targets: how many pods of each tier, and the settings that follow
// from them, for `targets` (users, req/s) at the per-pod capacity figures of `capacity`. Also what a
// sizing costs a month at the `prices` of `prices`. Pure: config.ts applies the derived values where
// the stack file sets none (an explicit value always wins), scripts/capacity.ts reports them, and
// tests/unit/sizing.test.ts checks each rule directly.
import { z } from "zod";
import { dnsLabel, int } from "./schema";
import { parseMemoryQuantity, parsePrometheusDuration, parsePrometheusSize, wholeCores } from "./units";

const fraction = z.number().gt(0).max(1);
const factor = z.number().min(1);
const price = z.number().min(0);

/** Per-pod capacity of one service: what one pod serves at the p95 target. */
const serviceCapacitySchema = z.strictObject({
    /** Requests per second one pod serves within the p95 target at 100% of its CPU request. */
    requestsPerSecondPerPod: int(1),
    /** Share of the stack's requestsPerSecond that reaches this service (1 = every request). */
    requestShare: fraction.default(1),
});

/**
 * Per-pod capacity figures the sizing is derived from (`capacity:` in a stack file). Each default
 * says where it comes from: a measurement of this repo, a vendor's figure, or an assumption stated
 * as such. Replace the assumptions with your own measurements (`npm run loadtest`).
 */
export const capacitySchema = z
    .strictObject({
        /**
         * Share of a tier's capacity the sizing plans to use at the target (LB, Redis); the rest is
         * headroom for spikes and for a lost pod. Assumption: 0.8.
         */
        targetUtilisation: fraction.default(0.8),
        /** Connections one concurrent user holds open through the load balancers. Assumption: 1 (one keep-alive connection). */
        connectionsPerUser: int(1).default(1),
        nginx: z
            .strictObject({
                /** worker_connections per worker when the sizing picks the replicas: the original plan's 8192. */
                connectionsPerWorker: int(512, 1048576).default(8192),
                /**
                 * Proxied requests per second one nginx worker (one core) serves. Measured here
                 * 2026-11-30: ~40,500 req/s per worker-core (nginx 1.22.1 with upstream keepalive in front
                 * of a trivial upstream, wrk -c100, no TLS, no access log, shared 2-core VM). The default
                 * takes a quarter of that for the access log, limit_req zones and real bodies: an assumption.
                 */
                requestsPerSecondPerCore: int(1).default(10000),
            })
            .prefault({}),
        /**
         * Per-pod capacity by service name; a service listed here gets its HPA bounds derived. The
         * defaults are the original plan's own sizing divided out (100,000 req/s over its 8
         * api-gateway and 40 user-service pods): assumptions, not measurements of the services.
         */
        services: z
            .record(dnsLabel, serviceCapacitySchema)
            .default({ "api-gateway": { requestsPerSecondPerPod: 12500, requestShare: 1 }, "user-service": { requestsPerSecondPerPod: 2500, requestShare: 1 } }),
        autoscaling: z
            .strictObject({
                /** Least HPA minimum a derived service gets (two pods survive the loss of one). */
                minReplicas: int(1).default(2),
                /** HPA maximum = minimum x headroom: room for spikes above the target. Assumption: 2. */
                headroom: factor.default(2),
                /** targetCpuPercent of a derived service whose stack entry sets none: the plan's 70. */
                targetCpuPercent: int(1, 100).default(70),
            })
            .prefault({}),
        pgbouncer: z
            .strictObject({
                /**
                 * Transactions per second one PgBouncer server connection carries: one every 4 ms, an
                 * assumption for the application's mix of reads and writes (not measured). Measured here
                 * 2026-11-30 through PgBouncer 1.18 in transaction mode with 4 server connections (pgbench,
                 * 16 clients, PostgreSQL 15, load average ~14 on a shared 2-core VM): ~127 per server
                 * connection for pgbench's TPC-B-like write transaction, ~1,840 for its select-only one.
                 */
                transactionsPerSecondPerServerConnection: int(1).default(250),
                /** Database transactions per request. Assumption: 1 (every request is one transaction). */
                transactionsPerRequest: z.number().min(0).default(1),
            })
            .prefault({}),
        redis: z
            .strictObject({
                /**
                 * Round trips per second one Redis master serves. Measured here 2026-11-30: ~63,000 (Redis
                 * 7.0.15, redis-benchmark SET/GET/INCR, 50 clients, no pipelining, unix socket); the
                 * default allows for TCP, TLS and cluster redirects: an assumption.
                 */
                opsPerSecondPerMaster: int(1).default(50000),
                /** Redis round trips per request: one rate-limiter call per tier (global, ip, user). Assumption. */
                opsPerRequest: z.number().min(0).default(3),
            })
            .prefault({}),
        prometheus: z
            .strictObject({
                /** Series each scrape target exposes (exporters expose a few hundred to a few thousand). Assumption. */
                seriesPerTarget: int(1).default(1000),
                /**
                 * Bytes per sample on disk after compression: Prometheus' docs say 1-2
                 * (https://prometheus.io/docs/prometheus/latest/storage/#operational-aspects); the upper end.
                 */
                bytesPerSample: z.number().gt(0).default(2),
                /** retentionSize = estimate x headroom (the WAL and the block being compacted). Assumption: 1.2. */
                headroom: factor.default(1.2),
            })
            .prefault({}),
    })
    .prefault({});

/** The capacity figures with every default applied. */
export type Capacity = z.output<typeof capacitySchema>;

/**
 * Per-unit prices the capacity report estimates the monthly cost with (`prices:` in a stack file).
 * Defaults: AWS us-east-1 on-demand list prices, as published by third parties (not re-checked
 * here); set your own provider's.
 */
export const pricesSchema = z
    .strictObject({
        /** USD per vCPU-hour: AWS Fargate Linux/x86 us-east-1, $0.04048 (vantage.sh/blog/fargate-pricing; wring.co, March 2026). */
        vcpuHour: price.default(0.04048),
        /** USD per GiB of memory per hour: AWS Fargate us-east-1, $0.004445 per GB-hour (same sources). */
        memoryGiBHour: price.default(0.004445),
        /** USD per GiB-month of SSD volume: AWS EBS gp3 us-east-1 list price $0.08 (AWS EBS pricing page; not re-checked here). */
        ssdGiBMonth: price.default(0.08),
        /** USD per hour of a cloud load balancer: AWS NLB us-east-1 $0.0225, traffic units (LCU) not counted (not re-checked here). */
        loadBalancerHour: price.default(0.0225),
        /** USD per GiB-month of object storage (backups): AWS S3 Standard us-east-1 first 50 TB, $0.023 (not re-checked here). */
        objectStorageGiBMonth: price.default(0.023),
        /** Hours in a billing month: 730 (365 x 24 / 12, the figure AWS bills with). */
        hoursPerMonth: z.number().gt(0).default(730),
    })
    .prefault({});

/** The prices with every default applied. */
export type Prices = z.output<typeof pricesSchema>;

/**
 * What the stack may cost (`budget:` in a stack file); the capacity report's budget lines compare
 * the rendered workloads (requests at HPA max replicas) with it. Defaults: the original plan's
 * figures (50+ cores, 200+ GB memory, 1+ TB storage, $5,000-10,000 a month; decimal units as the
 * plan writes them).
 */
export const budgetSchema = z
    .strictObject({
        /** CPU cores the workloads may request. */
        cores: z.number().gt(0).default(50),
        /** Memory the workloads may request, in GB (10^9 bytes). */
        memoryGB: z.number().gt(0).default(200),
        /** Storage the PVCs may claim, in TB (10^12 bytes). */
        storageTB: z.number().gt(0).default(1),
        /** Monthly cost in USD the estimate (at HPA max replicas) may reach: the plan's upper $10,000. */
        monthlyCostUsd: z.number().gt(0).default(10000),
    })
    .prefault({});

/** The plan's monthly cost range, printed next to the estimate. */
export const PLAN_MONTHLY_COST_USD = { min: 5000, max: 10000 } as const;

/** What the stack is sized for (`targets:`). */
export interface Targets {
    /** Users connected at once. */
    concurrentUsers: number;
    /** Requests per second at peak. */
    requestsPerSecond: number;
    /** The p95 latency SLO, ms. */
    p95LatencyMs: number;
}

/** A key path in the stack config, e.g. ["services", 0, "autoscaling", "minReplicas"]. */
export type ConfigPath = readonly (string | number)[];

/** One derived number: where it goes, its value, and the arithmetic it came from. */
export interface Derivation {
    /** Where the value goes in the stack config. */
    path: ConfigPath;
    /** The path as people read it: services are named, `services[api-gateway].autoscaling.minReplicas`. */
    key: string;
    /** The derived value. */
    value: number | string;
    /** The arithmetic, with the figures' names: `ceil(100,000 users x 1 x 2 / (4 workers x 8192) / 0.8)`. */
    rule: string;
    /** The stack file's own value, which wins over the derived one; unset = the derived value applies. */
    explicit?: number | string;
}

/** A service as the sizing sees it: the stack file's own autoscaling values, where it sets them. */
export interface SizingService {
    /** The service's name (the key of its capacity figure). */
    name: string;
    /** Whether its pods hold a PostgreSQL pool (PgBouncer's client limit counts them). */
    usesDatabase: boolean;
    /** The stack file's own autoscaling values; unset ones may be derived. */
    autoscaling: { minReplicas?: number; maxReplicas?: number; targetCpuPercent?: number };
}

/**
 * Everything the derivation reads. Section values are as parsed (the stack's or the component
 * default); `explicit(path)` returns the stack file's own value of a derived key, if it sets one.
 */
export interface SizingInput {
    /** What the stack is sized for. */
    targets: Targets;
    /** The per-pod figures, defaults applied. */
    capacity: Capacity;
    /** The stack file's own value at a key path, if it sets one (it wins over the derived value). */
    explicit: (path: ConfigPath) => number | string | undefined;
    /** The LB tier as configured; `cpuLimit` gives the worker count, the rlimit's default is its floor. */
    loadBalancer: { replicas: number; cpuLimit: string; workerConnections: number; workerRlimitNofile: number };
    /** The stack's services, in stack order (derived paths index this list). */
    services: SizingService[];
    /** Each service pod's PostgreSQL pool (`servicePool.max`). */
    servicePoolMax: number;
    /** PgBouncer as configured (replicas and the reserve pool are inputs, not derived). */
    pgbouncer: { replicas: number; defaultPoolSize: number; reservePoolSize: number; maxClientConn: number };
    /** The PostgreSQL figures the connection budget reserves, and the members Prometheus scrapes. */
    postgres: { standbys: number; maxConnections: number; superuserReservedConnections: number; reservedConnections: number };
    /** Redis as configured (replicasPerMaster counts the scraped pods). */
    redis: { masters: number; replicasPerMaster: number };
    /** Prometheus as configured; retentionSize and storage are the floors of the derived ones. */
    prometheus: { scrapeInterval: string; retentionTime: string; retentionSize: string; storage: string };
}

/** Numbers as the rules print them: 100,000. */
export function formatCount(value: number): string {
    return value.toLocaleString("en-US", { maximumFractionDigits: 3 });
}

const GIB = 2 ** 30;

/** Pods Prometheus scrapes, as the config will render them (one target per pod, HPA workloads at their maximum). */
function scrapedPods(input: SizingInput, sized: { lbReplicas: number; serviceMax: number[]; masters: number }): { total: number; terms: string } {
    const parts: [string, number][] = [
        ["redis", sized.masters * (1 + input.redis.replicasPerMaster)],
        ["postgres", 1 + input.postgres.standbys],
        ["pgbouncer", input.pgbouncer.replicas],
        ["lb", sized.lbReplicas],
        ...input.services.map((service, index): [string, number] => [service.name, sized.serviceMax[index]]),
        // Prometheus, Grafana and kube-state-metrics.
        ["monitoring", 3],
    ];
    return { total: parts.reduce((sum, [, count]) => sum + count, 0), terms: parts.map(([name, count]) => `${name} ${count}`).join(" + ") };
}

/**
 * Derives the sizing from the targets. Each rule reads the values decided before it (the stack's
 * own where it sets them), so an explicit LB replica count sizes worker_connections, explicit HPA
 * maxima size PgBouncer's client limit, and so on. Rules:
 * - LB replicas = max(2, by connections, by throughput), each at capacity.targetUtilisation;
 *   worker_connections = what each worker then holds, rounded up to 1024; worker_rlimit_nofile at
 *   least twice that.
 * - a service in capacity.services: HPA min = max(autoscaling.minReplicas, ceil(req/s x share /
 *   per-pod req/s / targetCpuPercent)), max = ceil(min x headroom).
 * - PgBouncer default_pool_size = the server connections the transactions need, over the replicas;
 *   max_client_conn = every service pod's pool at HPA max over the replicas less one (a PgBouncer
 *   pod may be lost); PostgreSQL max_connections = what PgBouncer may open + the reserved ones.
 * - Redis masters = max(3, ceil(req/s x ops per request / ops per master / targetUtilisation)).
 * - Prometheus retentionSize = the disk estimate x headroom, storage = that / 0.8 (checkMonitoringSettings
 *   wants the PVC larger); both at least the component's value, since a PVC cannot shrink.
 */
export function deriveSizing(input: SizingInput): Derivation[] {
    const { targets, capacity } = input;
    const derivations: Derivation[] = [];
    /** Records a derivation and returns the value that applies: the stack's own, else the derived one. */
    const decide = <T extends number | string>(path: ConfigPath, key: string, value: T, rule: string): T => {
        const explicit = input.explicit(path);
        derivations.push({ path, key, value, rule, ...(explicit === undefined ? {} : { explicit }) });
        return explicit === undefined ? value : (explicit as T);
    };
    const utilisation = capacity.targetUtilisation;
    const rps = targets.requestsPerSecond;

    // Load balancer tier.
    const workers = wholeCores(input.loadBalancer.cpuLimit);
    const explicitWorkerConnections = input.explicit(["loadBalancer", "workerConnections"]);
    const perWorker = typeof explicitWorkerConnections === "number" ? explicitWorkerConnections : capacity.nginx.connectionsPerWorker;
    const connections = targets.concurrentUsers * capacity.connectionsPerUser * 2;
    const byConnections = Math.ceil(connections / (workers * perWorker) / utilisation);
    const byThroughput = Math.ceil(rps / (workers * capacity.nginx.requestsPerSecondPerCore) / utilisation);
    const lbReplicas = decide(
        ["loadBalancer", "replicas"],
        "loadBalancer.replicas",
        Math.max(2, byConnections, byThroughput),
        `max(2, ceil(${formatCount(targets.concurrentUsers)} users x ${capacity.connectionsPerUser} connection x 2 (client + upstream) / ` +
            `(${workers} workers x ${perWorker} connections) / ${utilisation}) = ${byConnections}, ` +
            `ceil(${formatCount(rps)} req/s / (${workers} workers x ${formatCount(capacity.nginx.requestsPerSecondPerCore)} req/s per core) / ${utilisation}) = ${byThroughput})`,
    );
    const neededPerWorker = Math.ceil(connections / (lbReplicas * workers) / utilisation);
    const workerConnections = decide(
        ["loadBalancer", "workerConnections"],
        "loadBalancer.workerConnections",
        Math.max(1024, Math.ceil(neededPerWorker / 1024) * 1024),
        `ceil(${formatCount(connections)} connections / (${lbReplicas} replicas x ${workers} workers) / ${utilisation}) = ${formatCount(neededPerWorker)}, rounded up to 1024 (at least 1024)`,
    );
    decide(
        ["loadBalancer", "workerRlimitNofile"],
        "loadBalancer.workerRlimitNofile",
        Math.max(input.loadBalancer.workerRlimitNofile, 2 * workerConnections),
        `max(${input.loadBalancer.workerRlimitNofile} default, 2 x ${workerConnections} worker_connections)`,
    );

    // Services with a capacity figure: HPA bounds.
    const serviceMax = input.services.map((service, index) => {
        const perPod = capacity.services[service.name];
        if (!perPod) return service.autoscaling.maxReplicas ?? service.autoscaling.minReplicas ?? 1;
        const at = (field: string): ConfigPath => ["services", index, "autoscaling", field];
        const key = (field: string): string => `services[${service.name}].autoscaling.${field}`;
        const cpuPercent = decide(at("targetCpuPercent"), key("targetCpuPercent"), capacity.autoscaling.targetCpuPercent, "capacity.autoscaling.targetCpuPercent");
        const served = rps * perPod.requestShare;
        const needed = Math.ceil(served / perPod.requestsPerSecondPerPod / (cpuPercent / 100));
        const min = decide(
            at("minReplicas"),
            key("minReplicas"),
            Math.max(capacity.autoscaling.minReplicas, needed),
            `max(${capacity.autoscaling.minReplicas}, ceil(${formatCount(rps)} req/s x ${perPod.requestShare} share / ` +
                `${formatCount(perPod.requestsPerSecondPerPod)} req/s per pod / ${cpuPercent}% target CPU) = ${needed})`,
        );
        return decide(at("maxReplicas"), key("maxReplicas"), Math.ceil(min * capacity.autoscaling.headroom), `ceil(${min} min x ${capacity.autoscaling.headroom} headroom)`);
    });

    // PgBouncer and the PostgreSQL connection budget.
    const { pgbouncer } = input;
    const transactions = rps * capacity.pgbouncer.transactionsPerRequest;
    const serverConnections = Math.ceil(transactions / capacity.pgbouncer.transactionsPerSecondPerServerConnection);
    const defaultPoolSize = decide(
        ["pgbouncer", "defaultPoolSize"],
        "pgbouncer.defaultPoolSize",
        Math.max(1, Math.ceil(serverConnections / pgbouncer.replicas)),
        `ceil(${formatCount(rps)} req/s x ${capacity.pgbouncer.transactionsPerRequest} transactions / ` +
            `${capacity.pgbouncer.transactionsPerSecondPerServerConnection} per server connection = ${formatCount(serverConnections)} / ${pgbouncer.replicas} PgBouncer replicas)`,
    );
    const pooled = input.services.map((service, index) => ({ service, max: serviceMax[index] })).filter(({ service }) => service.usesDatabase);
    const clients = pooled.reduce((sum, { max }) => sum + max * input.servicePoolMax, 0);
    const survivors = Math.max(1, pgbouncer.replicas - 1);
    decide(
        ["pgbouncer", "maxClientConn"],
        "pgbouncer.maxClientConn",
        Math.max(1, Math.ceil(clients / survivors)),
        `ceil((${pooled.map(({ service, max }) => `${service.name} ${max}`).join(" + ") || "no service"}) x ${input.servicePoolMax} pool = ` +
            `${formatCount(clients)} client connections / ${survivors} (${pgbouncer.replicas > 1 ? `${pgbouncer.replicas} replicas, one lost` : "1 replica"}))`,
    );
    const { postgres } = input;
    decide(
        ["postgres", "parameters", "max_connections"],
        "postgres.parameters.max_connections",
        pgbouncer.replicas * (defaultPoolSize + pgbouncer.reservePoolSize) + postgres.superuserReservedConnections + postgres.reservedConnections,
        `${pgbouncer.replicas} PgBouncer replicas x (${defaultPoolSize} + ${pgbouncer.reservePoolSize} reserve) + ` +
            `${postgres.superuserReservedConnections} superuser-reserved + ${postgres.reservedConnections} reserved`,
    );

    // Redis.
    const redisOps = rps * capacity.redis.opsPerRequest;
    const byOps = Math.ceil(redisOps / capacity.redis.opsPerSecondPerMaster / utilisation);
    const masters = decide(
        ["redis", "masters"],
        "redis.masters",
        Math.max(3, byOps),
        `max(3, ceil(${formatCount(rps)} req/s x ${capacity.redis.opsPerRequest} ops / ${formatCount(capacity.redis.opsPerSecondPerMaster)} ops/s per master / ${utilisation}) = ${byOps})`,
    );

    // Prometheus.
    const { prometheus } = input;
    const pods = scrapedPods(input, { lbReplicas, serviceMax, masters });
    const series = pods.total * capacity.prometheus.seriesPerTarget;
    const estimate = (series / parsePrometheusDuration(prometheus.scrapeInterval)) * capacity.prometheus.bytesPerSample * parsePrometheusDuration(prometheus.retentionTime);
    const sizeGiB = Math.max(Math.ceil((estimate * capacity.prometheus.headroom) / GIB), Math.ceil(parsePrometheusSize(prometheus.retentionSize) / GIB));
    decide(
        ["monitoring", "prometheus", "retentionSize"],
        "monitoring.prometheus.retentionSize",
        `${sizeGiB}GB`,
        `max(ceil(${pods.total} targets (${pods.terms}) x ${capacity.prometheus.seriesPerTarget} series / ${prometheus.scrapeInterval} x ` +
            `${capacity.prometheus.bytesPerSample} B/sample x ${prometheus.retentionTime} = ${(estimate / GIB).toFixed(1)} GiB x ${capacity.prometheus.headroom} headroom), ` +
            `${prometheus.retentionSize} default) (Prometheus' GB are GiB)`,
    );
    const storageGiB = Math.max(Math.ceil(sizeGiB / 0.8), Math.ceil(parseMemoryQuantity(prometheus.storage) / GIB));
    decide(
        ["monitoring", "prometheus", "storage"],
        "monitoring.prometheus.storage",
        `${storageGiB}Gi`,
        `max(ceil(${sizeGiB} GiB retentionSize / 0.8), ${prometheus.storage} default) (a PVC cannot shrink)`,
    );
    return derivations;
}

/** What the monthly estimate is computed from: the rendered workloads' requests and claims, plus what the render does not show. */
export interface CostInput {
    /** CPU cores requested. */
    cores: number;
    /** Memory requested, bytes. */
    memoryBytes: number;
    /** PVC storage claimed, bytes. */
    storageBytes: number;
    /** Cloud load balancers (Services of type LoadBalancer). */
    loadBalancers: number;
    /** Object storage (backups), bytes. */
    objectStorageBytes: number;
}

/** A monthly estimate: the total and its parts, each with its arithmetic. */
export interface CostEstimate {
    /** USD a month. */
    totalUsd: number;
    /** cpu, memory, ssd, load balancers, object storage: each with its USD and arithmetic. */
    parts: { item: string; usd: number; arithmetic: string }[];
}

/** Formats dollars the way the report prints them: `$4,210`. */
export function formatUsd(value: number): string {
    return `$${value.toLocaleString("en-US", { minimumFractionDigits: 0, maximumFractionDigits: 0 })}`;
}

/**
 * The monthly cost of a sizing at `prices`: requests are what a node pool must provide (the
 * scheduler reserves them), so they are priced, not limits; node overhead and traffic are not counted.
 */
export function monthlyCost(input: CostInput, prices: Prices): CostEstimate {
    const hours = prices.hoursPerMonth;
    const gib = (bytes: number): number => bytes / GIB;
    const round = (value: number): string => formatCount(Math.round(value * 10) / 10);
    const parts = [
        { item: "cpu", usd: input.cores * prices.vcpuHour * hours, arithmetic: `${round(input.cores)} vCPU x $${prices.vcpuHour}/h x ${hours} h` },
        { item: "memory", usd: gib(input.memoryBytes) * prices.memoryGiBHour * hours, arithmetic: `${round(gib(input.memoryBytes))} GiB x $${prices.memoryGiBHour}/h x ${hours} h` },
        { item: "ssd", usd: gib(input.storageBytes) * prices.ssdGiBMonth, arithmetic: `${round(gib(input.storageBytes))} GiB x $${prices.ssdGiBMonth}/month` },
        { item: "load balancers", usd: input.loadBalancers * prices.loadBalancerHour * hours, arithmetic: `${input.loadBalancers} x $${prices.loadBalancerHour}/h x ${hours} h` },
        {
            item: "object storage",
            usd: gib(input.objectStorageBytes) * prices.objectStorageGiBMonth,
            arithmetic: `${round(gib(input.objectStorageBytes))} GiB x $${prices.objectStorageGiBMonth}/month`,
        },
    ];
    return { totalUsd: parts.reduce((sum, part) => sum + part.usd, 0), parts };
}
