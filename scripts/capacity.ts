// The capacity report: does the stack's sizing carry what it is sized for? Each line shows its
// arithmetic and says OK or SHORT. Computed from the validated StackConfig (the same object the
// program is built from), plus what was rendered: resource totals for the budget lines, scraped
// pods for the Prometheus line.
// Pure: scripts/render.ts prints it, tests/unit/capacity.test.ts checks it.
import { connectionBudgetInput, StackConfig } from "../config";
import { connectionBudget } from "../components/budget";
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

/** Figures the report cannot take from the config; each is stated in the line that uses it. */
export interface CapacityAssumptions {
    /** Series each scrape target exposes (exporters expose a few hundred to a few thousand). */
    seriesPerTarget: number;
    /** Bytes per sample on disk after TSDB compression (Prometheus: 1-2; the upper end is the safe side). */
    bytesPerSample: number;
    /** Connections one concurrent user holds open through the load balancers. */
    connectionsPerUser: number;
    /** The original plan's budget. */
    plan: { cores: number; memoryBytes: number; storageBytes: number };
}

export const DEFAULT_ASSUMPTIONS: CapacityAssumptions = {
    seriesPerTarget: 1000,
    bytesPerSample: 2,
    connectionsPerUser: 1,
    // "50+ cores, 200+ GB memory, 1+ TB storage": decimal units, as the plan writes them.
    plan: { cores: 50, memoryBytes: 200e9, storageBytes: 1e12 },
};

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
function nginxLine(config: StackConfig, assumptions: CapacityAssumptions): CapacityLine {
    const lb = config.loadBalancer;
    const cores = wholeCores(lb.resources.limits.cpu);
    // A worker cannot hold more connections than it may open files.
    const perWorker = Math.min(lb.workerConnections, lb.workerRlimitNofile);
    const capped = perWorker < lb.workerConnections ? ` (capped by worker_rlimit_nofile ${lb.workerRlimitNofile})` : "";
    const clients = Math.floor((lb.replicas * cores * perWorker) / 2);
    const needed = config.targets.concurrentUsers * assumptions.connectionsPerUser;
    const ok = clients >= needed;
    const replicasNeeded = Math.ceil((needed * 2) / (cores * perWorker));
    return {
        check: "nginx connections",
        ok,
        detail:
            `${lb.replicas} pods x ${cores} workers (worker_processes from the LB pod's CPU limit ${lb.resources.limits.cpu}) ` +
            `x ${perWorker} worker_connections${capped} / 2 (proxying) = ${number(clients)} concurrent clients; ` +
            `target ${number(config.targets.concurrentUsers)} concurrent users x ${assumptions.connectionsPerUser} connection` +
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
function prometheusLine(config: StackConfig, workloads: readonly WorkloadRow[], assumptions: CapacityAssumptions): CapacityLine {
    const prometheus = config.monitoring.prometheus;
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
            `${targets.total} targets (${targets.terms}) x ${assumptions.seriesPerTarget} series (assumed) = ${number(series)} series / ` +
            `${prometheus.scrapeInterval} = ${number(samplesPerSecond)} samples/s x ${assumptions.bytesPerSample} B/sample (assumed; 1-2 after compression) ` +
            `x ${prometheus.retentionTime} = ${formatGiB(estimate)}; retentionSize ${prometheus.retentionSize}, PVC ${prometheus.storage}` +
            (ok ? "" : `; size retention keeps only ~${keptDays.toFixed(1)} days of ${prometheus.retentionTime}`),
    };
}

/**
 * The plan's budget against what the rendered workloads request at their maximum replicas (the
 * worst case the HPAs may reach): SHORT means provisioning only the plan's figures would not fit
 * the stack. Requests, not limits: requests are what the scheduler reserves.
 */
function budgetLines(totals: ResourceSummary["totals"], assumptions: CapacityAssumptions): CapacityLine[] {
    const { plan } = assumptions;
    /** How a measure prints: its own unit, plus the plan's decimal unit in brackets where they differ. */
    interface Measure {
        text(value: number): string;
        unit: string;
        decimal?: { divisor: number; suffix: string };
    }
    const span = (min: number, max: number, format: (value: number) => string): string => (min === max ? format(max) : `${format(min)}-${format(max)}`);
    const amount = (min: number, max: number, measure: Measure): string => {
        const decimal = measure.decimal;
        // Four significant digits keep small dev totals visible next to the plan's round figures.
        const inDecimal = decimal ? ` (${span(min, max, (value) => String(Number((value / decimal.divisor).toPrecision(4))))} ${decimal.suffix})` : "";
        return `${span(min, max, measure.text)}${measure.unit}${inDecimal}`;
    };
    const line = (check: string, min: number, max: number, budget: number, measure: Measure): CapacityLine => {
        const ok = max <= budget;
        const hpa = min === max ? "" : " (HPA min-max)";
        const budgetText = measure.decimal ? `${budget / measure.decimal.divisor} ${measure.decimal.suffix}` : `${budget}${measure.unit}`;
        const atMax = min === max ? "" : ` at max replicas${min <= budget ? "; fits at HPA min replicas only" : ""}`;
        const shortBy = ok ? "" : `: short by ${measure.text(max - budget)}${measure.unit}${atMax}`;
        return { check, ok, detail: `${amount(min, max, measure)}${hpa} of rendered workloads vs the plan's ${budgetText}${shortBy}` };
    };
    const cores: Measure = { text: formatCores, unit: " cores" };
    const memory: Measure = { text: formatGiB, unit: "", decimal: { divisor: 1e9, suffix: "GB" } };
    const storage: Measure = { text: formatGiB, unit: "", decimal: { divisor: 1e12, suffix: "TB" } };
    return [
        line("budget cpu requests", totals.min.cpuRequests, totals.max.cpuRequests, plan.cores, cores),
        line("budget memory requests", totals.min.memoryRequests, totals.max.memoryRequests, plan.memoryBytes, memory),
        line("budget storage", totals.min.storage, totals.max.storage, plan.storageBytes, storage),
    ];
}

/** The whole report. `rendered` is the summary of the rendered objects (scripts/summary.ts). */
export function capacityReport(
    config: StackConfig,
    rendered: Pick<ResourceSummary, "totals" | "workloads">,
    assumptions: CapacityAssumptions = DEFAULT_ASSUMPTIONS,
): CapacityLine[] {
    return [
        ...connectionLines(config),
        nginxLine(config, assumptions),
        prometheusLine(config, rendered.workloads, assumptions),
        ...budgetLines(rendered.totals, assumptions),
    ];
}

/** The report as printed: `OK    <check>: <detail>`. */
export function formatCapacity(lines: readonly CapacityLine[]): string[] {
    return lines.map((line) => `  ${verdict(line.ok).padEnd(6)}${line.check}: ${line.detail}`);
}
