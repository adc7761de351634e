// The capacity report: does the stack's sizing carry what it is sized for? Each line shows its
// arithmetic and says OK or SHORT. Computed from the validated StackConfig (the same object the
// program is built from), plus what was rendered: resource totals for the budget lines, scraped
// pods for the Prometheus line.
// Pure: scripts/render.ts prints it, tests/unit/capacity.test.ts checks it.
import { connectionBudgetInput, StackConfig } from "../config";
import { connectionBudget } from "../components/budget";
import { CostEstimate, formatCount, formatUsd, monthlyCost, PLAN_MONTHLY_COST_USD } from "../components/sizing";
import { parseMemoryQuantity, parsePrometheusDuration, parsePrometheusSize, wholeCores } from "../components/units";
import { formatCores, formatGiB, ResourceSummary, WorkloadRow } from "./summary";

/** One line of the report. */
export interface CapacityLine {
    /** What is checked, e.g. "nginx connections". */
    check: string;
    ok: boolean;
    /** The arithmetic and the assumptions behind it. */
    detail: string;
}

const verdict = (ok: boolean): string => (ok ? "OK" : "SHORT");

function number(value: number): string {
    return Math.round(value).toLocaleString("en-US");
}

/** Connection budget, both hops (components/budget.ts does the arithmetic the config check uses). */
function connectionLines(config: StackConfig): CapacityLine[] {
    const budget = connectionBudget(connectionBudgetInput(config));
    return [
        { check: "connections clients -> PgBouncer", ok: budget.clientConnections <= budget.clientLimit, detail: budget.clientArithmetic },
        { check: "connections PgBouncer -> PostgreSQL", ok: budget.serverConnections <= budget.serverLimit, detail: budget.serverArithmetic },
    ];
}

/**
 * nginx tier: replicas x workers x worker_connections, halved because each proxied request holds a
 * client and an upstream connection. worker_processes is rendered from the pod's CPU limit (whole
 * cores rounded up, at least 1), so the report counts the workers nginx runs.
 */
function nginxLine(config: StackConfig): CapacityLine {
    const perUser = config.capacity.connectionsPerUser;
    const lb = config.loadBalancer;
    const cores = wholeCores(lb.resources.limits.cpu);
    // A worker cannot hold more connections than it may open files.
    const perWorker = Math.min(lb.workerConnections, lb.workerRlimitNofile);
    const capped = perWorker < lb.workerConnections ? ` (capped by worker_rlimit_nofile ${lb.workerRlimitNofile})` : "";
    const clients = Math.floor((lb.replicas * cores * perWorker) / 2);
    const needed = config.targets.concurrentUsers * perUser;
    const ok = clients >= needed;
    const replicasNeeded = Math.ceil((needed * 2) / (cores * perWorker));
    return {
        check: "nginx connections",
        ok,
        detail:
            `${lb.replicas} pods x ${cores} workers (worker_processes from the LB pod's CPU limit ${lb.resources.limits.cpu}) ` +
            `x ${perWorker} worker_connections${capped} / 2 (proxying) = ${number(clients)} concurrent clients; ` +
            `target ${number(config.targets.concurrentUsers)} concurrent users x ${perUser} connection` +
            (ok ? "" : `; needs ${replicasNeeded} pods at ${cores} workers`),
    };
}

/**
 * Scrape targets as rendered: every pod whose template asks Prometheus to scrape it, HPA-managed
 * workloads at their maximum (`workloads` are the long-running ones: Jobs and DaemonSets are not
 * among them). One target per pod; the second exporter port of a pod (nginx's access-log
 * exporter, Patroni's REST API) is left in the per-target series assumption.
 */
export function scrapeTargets(workloads: readonly WorkloadRow[]): { total: number; terms: string } {
    const parts = workloads.filter((row) => row.scraped).map((row): [string, number] => [row.name, row.replicas.max]);
    return { total: parts.reduce((sum, [, count]) => sum + count, 0), terms: parts.map(([name, count]) => `${name} ${count}`).join(" + ") };
}

/**
 * Prometheus disk: series x samples/s x bytes/sample x retention time. Prometheus deletes blocks
 * at whichever of retention time and size comes first, so the estimate must fit retentionSize for
 * the configured history to be kept (and retentionSize fits the PVC: checkMonitoringSettings
 * refuses otherwise).
 */
function prometheusLine(config: StackConfig, workloads: readonly WorkloadRow[]): CapacityLine {
    const prometheus = config.monitoring.prometheus;
    const assumptions = config.capacity.prometheus;
    const targets = scrapeTargets(workloads);
    const series = targets.total * assumptions.seriesPerTarget;
    const interval = parsePrometheusDuration(prometheus.scrapeInterval);
    const samplesPerSecond = series / interval;
    const retention = parsePrometheusDuration(prometheus.retentionTime);
    const estimate = samplesPerSecond * assumptions.bytesPerSample * retention;
    const sizeLimit = parsePrometheusSize(prometheus.retentionSize);
    const pvc = parseMemoryQuantity(prometheus.storage);
    const ok = estimate <= sizeLimit && estimate <= pvc;
    const keptDays = (sizeLimit / (samplesPerSecond * assumptions.bytesPerSample)) / 86400;
    return {
        check: "prometheus disk",
        ok,
        detail:
            `${targets.total} targets (${targets.terms}) x ${assumptions.seriesPerTarget} series (capacity.prometheus) = ${number(series)} series / ` +
            `${prometheus.scrapeInterval} = ${number(samplesPerSecond)} samples/s x ${assumptions.bytesPerSample} B/sample (capacity.prometheus; 1-2 after compression) ` +
            `x ${prometheus.retentionTime} = ${formatGiB(estimate)}; retentionSize ${prometheus.retentionSize}, PVC ${prometheus.storage}` +
            (ok ? "" : `; size retention keeps only ~${keptDays.toFixed(1)} days of ${prometheus.retentionTime}`),
    };
}

/**
 * The stack's budget (config.budget; its defaults are the plan's figures) against what the rendered
 * workloads request at their maximum replicas (the worst case the HPAs may reach): SHORT means
 * provisioning only the budget would not fit the stack. Requests, not limits: requests are what the
 * scheduler reserves.
 */
function budgetLines(totals: ResourceSummary["totals"], budget: StackConfig["budget"]): CapacityLine[] {
    const limits = { cores: budget.cores, memoryBytes: budget.memoryGB * 1e9, storageBytes: budget.storageTB * 1e12 };
    /** How a measure prints: its own unit, plus the budget's decimal unit in brackets where they differ. */
    interface Measure {
        text(value: number): string;
        unit: string;
        decimal?: { divisor: number; suffix: string };
    }
    const span = (min: number, max: number, format: (value: number) => string): string => (min === max ? format(max) : `${format(min)}-${format(max)}`);
    const amount = (min: number, max: number, measure: Measure): string => {
        const decimal = measure.decimal;
        // Four significant digits keep small dev totals visible next to the budget's round figures.
        const inDecimal = decimal ? ` (${span(min, max, (value) => String(Number((value / decimal.divisor).toPrecision(4))))} ${decimal.suffix})` : "";
        return `${span(min, max, measure.text)}${measure.unit}${inDecimal}`;
    };
    const line = (check: string, min: number, max: number, budget: number, measure: Measure): CapacityLine => {
        const ok = max <= budget;
        const hpa = min === max ? "" : " (HPA min-max)";
        const budgetText = measure.decimal ? `${Number((budget / measure.decimal.divisor).toPrecision(6))} ${measure.decimal.suffix}` : `${budget}${measure.unit}`;
        const atMax = min === max ? "" : ` at max replicas${min <= budget ? "; fits at HPA min replicas only" : ""}`;
        const shortBy = ok ? "" : `: short by ${measure.text(max - budget)}${measure.unit}${atMax}`;
        return { check, ok, detail: `${amount(min, max, measure)}${hpa} of rendered workloads vs the budget's ${budgetText}${shortBy}` };
    };
    const cores: Measure = { text: formatCores, unit: " cores" };
    const memory: Measure = { text: formatGiB, unit: "", decimal: { divisor: 1e9, suffix: "GB" } };
    const storage: Measure = { text: formatGiB, unit: "", decimal: { divisor: 1e12, suffix: "TB" } };
    return [
        line("budget cpu requests", totals.min.cpuRequests, totals.max.cpuRequests, limits.cores, cores),
        line("budget memory requests", totals.min.memoryRequests, totals.max.memoryRequests, limits.memoryBytes, memory),
        line("budget storage", totals.min.storage, totals.max.storage, limits.storageBytes, storage),
    ];
}

/** Per-pod throughput lines: each tier's capacity at its planned utilisation against the targets. */
function throughputLines(config: StackConfig): CapacityLine[] {
    const { capacity, targets } = config;
    const rps = targets.requestsPerSecond;
    const utilisation = capacity.targetUtilisation;
    const lb = config.loadBalancer;
    const workers = wholeCores(lb.resources.limits.cpu);
    const nginxRps = lb.replicas * workers * capacity.nginx.requestsPerSecondPerCore;
    const lines: CapacityLine[] = [
        {
            check: "nginx throughput",
            ok: nginxRps * utilisation >= rps,
            detail:
                `${lb.replicas} pods x ${workers} workers x ${number(capacity.nginx.requestsPerSecondPerCore)} req/s per core (capacity.nginx) x ${utilisation} utilisation ` +
                `= ${number(nginxRps * utilisation)} req/s; target ${number(rps)} req/s`,
        },
    ];
    for (const service of config.services) {
        const perPod = capacity.services[service.name];
        if (!perPod) continue;
        const { maxReplicas, targetCpuPercent } = service.autoscaling;
        const carried = maxReplicas * perPod.requestsPerSecondPerPod * (targetCpuPercent / 100);
        const needed = rps * perPod.requestShare;
        lines.push({
            check: `${service.name} throughput`,
            ok: carried >= needed,
            detail:
                `HPA max ${maxReplicas} pods x ${number(perPod.requestsPerSecondPerPod)} req/s per pod (capacity.services) x ${targetCpuPercent}% target CPU ` +
                `= ${number(carried)} req/s; target ${number(rps)} req/s x ${perPod.requestShare} share = ${number(needed)}`,
        });
    }
    const { pgbouncer } = config;
    const perConnection = capacity.pgbouncer.transactionsPerSecondPerServerConnection;
    const transactions = rps * capacity.pgbouncer.transactionsPerRequest;
    const pooled = pgbouncer.replicas * pgbouncer.defaultPoolSize * perConnection;
    lines.push({
        check: "PgBouncer transactions",
        ok: pooled >= transactions,
        detail:
            `${pgbouncer.replicas} replicas x ${pgbouncer.defaultPoolSize} default_pool_size x ${perConnection} transactions/s per server connection (capacity.pgbouncer) ` +
            `= ${number(pooled)}/s; target ${number(rps)} req/s x ${capacity.pgbouncer.transactionsPerRequest} = ${number(transactions)}/s`,
    });
    const { masters } = config.redis;
    const ops = rps * capacity.redis.opsPerRequest;
    const redisOps = masters * capacity.redis.opsPerSecondPerMaster * utilisation;
    lines.push({
        check: "redis throughput",
        ok: redisOps >= ops,
        detail:
            `${masters} masters x ${number(capacity.redis.opsPerSecondPerMaster)} ops/s per master (capacity.redis) x ${utilisation} utilisation = ${number(redisOps)} ops/s; ` +
            `target ${number(rps)} req/s x ${capacity.redis.opsPerRequest} ops = ${number(ops)} ops/s`,
    });
    return lines;
}

/** Bytes of object storage the backups take: each full backup at most one member's volume (compression not counted). */
function backupBytes(config: StackConfig): number {
    const backup = config.postgres.backup;
    if (!backup.enabled || backup.repository.type !== "s3") return 0;
    return parseMemoryQuantity(config.postgres.storage) * backup.retentionFull;
}

/** The monthly cost at HPA min and max replicas (config.prices), for the rendered totals. */
export function costEstimate(config: StackConfig, totals: ResourceSummary["totals"]): { min: CostEstimate; max: CostEstimate } {
    const at = (footprint: ResourceSummary["totals"]["min"]): CostEstimate =>
        monthlyCost(
            {
                cores: footprint.cpuRequests,
                memoryBytes: footprint.memoryRequests,
                storageBytes: footprint.storage,
                loadBalancers: config.loadBalancer.serviceType === "LoadBalancer" ? 1 : 0,
                objectStorageBytes: backupBytes(config),
            },
            config.prices,
        );
    return { min: at(totals.min), max: at(totals.max) };
}

/** The cost line: the estimate at HPA max replicas against the budget, the plan's range beside it. */
function costLine(config: StackConfig, totals: ResourceSummary["totals"]): CapacityLine {
    const cost = costEstimate(config, totals);
    const range = cost.min.totalUsd === cost.max.totalUsd ? formatUsd(cost.max.totalUsd) : `${formatUsd(cost.min.totalUsd)}-${formatUsd(cost.max.totalUsd)} (HPA min-max)`;
    const ok = cost.max.totalUsd <= config.budget.monthlyCostUsd;
    return {
        check: "budget monthly cost",
        ok,
        detail:
            `${range} a month at config prices vs the budget's ${formatUsd(config.budget.monthlyCostUsd)} ` +
            `(the plan: ${formatUsd(PLAN_MONTHLY_COST_USD.min)}-${formatUsd(PLAN_MONTHLY_COST_USD.max)})` +
            (ok ? "" : `: over by ${formatUsd(cost.max.totalUsd - config.budget.monthlyCostUsd)} at max replicas`),
    };
}

/** The cost estimate's parts, one line each, at HPA max replicas (the budget's case). */
export function formatCost(config: StackConfig, totals: ResourceSummary["totals"]): string[] {
    const { max } = costEstimate(config, totals);
    return [
        ...max.parts.map((part) => `  ${part.item.padEnd(16)}${formatUsd(part.usd).padStart(10)}  ${part.arithmetic}`),
        `  ${"total".padEnd(16)}${formatUsd(max.totalUsd).padStart(10)}  requests, not limits; node overhead, traffic and load-balancer traffic units not counted`,
    ];
}

/** The whole report. `rendered` is the summary of the rendered objects (scripts/summary.ts). */
export function capacityReport(config: StackConfig, rendered: Pick<ResourceSummary, "totals" | "workloads">): CapacityLine[] {
    return [
        ...connectionLines(config),
        nginxLine(config),
        ...throughputLines(config),
        prometheusLine(config, rendered.workloads),
        ...budgetLines(rendered.totals, config.budget),
        costLine(config, rendered.totals),
    ];
}

/**
 * The sizing derived from the targets, one line per number: `derived` where it applies, `explicit`
 * where the stack file's own value wins (the derived one beside it).
 */
export function formatSizing(config: StackConfig): string[] {
    return config.sizing.map((derivation) =>
        derivation.explicit === undefined
            ? `  derived   ${derivation.key} ${typeof derivation.value === "number" ? formatCount(derivation.value) : derivation.value} = ${derivation.rule}`
            : `  explicit  ${derivation.key} ${derivation.explicit} (stack file; derived would be ${derivation.value} = ${derivation.rule})`,
    );
}

/** The report as printed: `OK    <check>: <detail>`. */
export function formatCapacity(lines: readonly CapacityLine[]): string[] {
    return lines.map((line) => `  ${verdict(line.ok).padEnd(6)}${line.check}: ${line.detail}`);
}
