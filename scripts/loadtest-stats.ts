// What a load-test run measured, and its verdict against the SLO. Latencies go into HdrHistograms
// (hdr-histogram-js, microsecond resolution, 3 significant digits): one for the run, one per step
// of the journey and one per second of the schedule (the latency-over-time chart). Pure apart from
// the histograms' memory; the runner feeds it, the unit tests check it with known samples.
import * as hdr from "hdr-histogram-js";
import type { JourneyStep, LoadPlan, Slo } from "./loadtest-plan";

/** How a request ended. */
export type Outcome =
    /** An HTTP response (any status). */
    | { kind: "response"; status: number }
    /** No complete response: refused, reset, timed out (code such as ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT). */
    | { kind: "failure"; code: string }
    /** Not finished when the run's time was up (counted at the time it had waited, a lower bound). */
    | { kind: "unfinished" };

/** Percentiles of a set of latencies, in ms. */
export interface LatencySummary {
    count: number;
    min: number;
    mean: number;
    p50: number;
    p90: number;
    p95: number;
    p99: number;
    p999: number;
    max: number;
}

/** One second of the schedule (requests by the second they were due in). */
export interface TimelinePoint {
    /** Seconds after the start. */
    second: number;
    requests: number;
    ok: number;
    limited: number;
    errors: number;
    p50: number;
    p95: number;
    p99: number;
    max: number;
}

/** One bar of the latency histogram: requests with latency in (fromMs, toMs]; toMs null = no upper edge. */
export interface HistogramBin {
    fromMs: number;
    toMs: number | null;
    count: number;
}

/** The SLO's verdict. */
export interface SloVerdict extends Slo {
    passed: boolean;
    measuredP95Ms: number;
    errorRate: number;
    limitedRate: number;
    /** One sentence per missed threshold; empty when passed. */
    failures: string[];
}

/** The JSON result of a run (result.json). */
export interface LoadResult {
    /** Bumped when a field changes meaning. */
    format: 1;
    label: string;
    startedAt: string;
    targets: string[];
    plan: { users: number; rate: number; thinkTimeMs: number; durationMs: number; timeoutMs: number; scheduled: number; sourceAddresses: number; journey: JourneyStep[] };
    /** Seconds from the first due request to the last completion, at least the planned duration. */
    elapsedSeconds: number;
    totals: {
        scheduled: number;
        completed: number;
        ok: number;
        limited: number;
        /** HTTP statuses other than 2xx, 3xx and 429. */
        httpErrors: number;
        /** No complete response. */
        failures: number;
        unfinished: number;
        byStatus: Record<string, number>;
        byFailure: Record<string, number>;
    };
    throughput: { requestsPerSecond: number; okPerSecond: number };
    /** Every request that ended (response, failure or unfinished), from when it was due. */
    latencyMs: LatencySummary;
    byStep: Record<string, LatencySummary>;
    /** How late the tester itself started requests (its event loop): large values mean the tester, not the server, was the limit. */
    senderLagMs: LatencySummary;
    timeline: TimelinePoint[];
    histogram: HistogramBin[];
    slo: SloVerdict;
    /** The machine the tester ran on, at the end of the run: a loaded machine inflates every figure. */
    machine?: { cpus: number; loadAverage1m: number };
}

const MICROS = 1000;

function newHistogram(): hdr.Histogram {
    // Packed (sparse) counts: a run keeps one histogram per second of its schedule, most of them
    // holding a narrow range. Auto-resize keeps latencies of any length.
    return hdr.build({ bitBucketSize: "packed", lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

function micros(ms: number): number {
    return Math.max(1, Math.round(ms * MICROS));
}

/** Percentiles of a histogram in ms; zeros when empty. */
export function summarize(histogram: hdr.Histogram): LatencySummary {
    const count = histogram.totalCount;
    if (count === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0 };
    const max = histogram.maxValue / MICROS;
    // A percentile is its bucket's highest equivalent value, which may lie above the largest recorded value.
    const at = (percentile: number): number => Math.min(max, histogram.getValueAtPercentile(percentile) / MICROS);
    return {
        count,
        min: histogram.minNonZeroValue / MICROS,
        mean: histogram.mean / MICROS,
        p50: at(50),
        p90: at(90),
        p95: at(95),
        p99: at(99),
        p999: at(99.9),
        max,
    };
}

/** Bin edges of the histogram chart: 10 per decade from 0.1 ms to 100 s, then one open bin. */
export const HISTOGRAM_EDGES_MS: readonly number[] = Array.from({ length: 61 }, (_, i) => Number((0.1 * 10 ** (i / 10)).toPrecision(3)));

/** The bin index of a latency: the first edge at or above it (the last bin holds the rest). */
export function histogramBin(latencyMs: number): number {
    let low = 0;
    let high = HISTOGRAM_EDGES_MS.length;
    while (low < high) {
        const middle = (low + high) >> 1;
        if (HISTOGRAM_EDGES_MS[middle] < latencyMs) low = middle + 1;
        else high = middle;
    }
    return low;
}

/** A response status counts as ok (2xx, 3xx), limited (429) or an error (anything else). */
export function classifyStatus(status: number): "ok" | "limited" | "error" {
    if (status === 429) return "limited";
    return status >= 200 && status < 400 ? "ok" : "error";
}

/**
 * The SLO's verdict: p95 at or below the target, failures and 429s within their shares of the
 * scheduled requests (unfinished ones count as failures).
 */
export function evaluateSlo(slo: Slo, measured: { p95Ms: number; scheduled: number; errors: number; limited: number }): SloVerdict {
    const errorRate = measured.scheduled === 0 ? 0 : measured.errors / measured.scheduled;
    const limitedRate = measured.scheduled === 0 ? 0 : measured.limited / measured.scheduled;
    const failures: string[] = [];
    if (measured.scheduled === 0) failures.push("no request was scheduled");
    if (measured.p95Ms > slo.p95Ms) failures.push(`p95 ${formatMs(measured.p95Ms)} is above the target ${formatMs(slo.p95Ms)}`);
    if (errorRate > slo.maxErrorRate) failures.push(`${percent(errorRate)} of requests failed (allowed ${percent(slo.maxErrorRate)})`);
    if (limitedRate > slo.max429Rate) failures.push(`${percent(limitedRate)} of requests got 429 (allowed ${percent(slo.max429Rate)})`);
    return { ...slo, passed: failures.length === 0, measuredP95Ms: measured.p95Ms, errorRate, limitedRate, failures };
}

/** `12.3 ms`, `0.26 ms`, `1.52 s`. */
export function formatMs(ms: number): string {
    if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
    if (ms >= 10) return `${ms.toFixed(1)} ms`;
    return `${ms.toFixed(2)} ms`;
}

function percent(share: number): string {
    return `${(100 * share).toFixed(share < 0.01 ? 3 : 1)}%`;
}

interface Second {
    histogram: hdr.Histogram;
    ok: number;
    limited: number;
    errors: number;
}

/** Collects a run's outcomes; `result()` turns them into a LoadResult. */
export class Recorder {
    private readonly all = newHistogram();
    private readonly lag = newHistogram();
    private readonly steps = new Map<string, hdr.Histogram>();
    private readonly seconds: Second[] = [];
    private readonly bins = new Array<number>(HISTOGRAM_EDGES_MS.length + 1).fill(0);
    private readonly byStatus: Record<string, number> = {};
    private readonly byFailure: Record<string, number> = {};
    private ok = 0;
    private limited = 0;
    private httpErrors = 0;
    private failures = 0;
    private unfinished = 0;
    /** Requests that ended so far (for the progress line). */
    completed = 0;

    /** A request due at `dueMs` (ms after the start) of `step` ended after `latencyMs` with `outcome`. */
    record(step: string, dueMs: number, latencyMs: number, outcome: Outcome): void {
        const value = micros(latencyMs);
        this.all.recordValue(value);
        let stepHistogram = this.steps.get(step);
        if (!stepHistogram) this.steps.set(step, (stepHistogram = newHistogram()));
        stepHistogram.recordValue(value);
        this.bins[histogramBin(latencyMs)]++;
        const index = Math.max(0, Math.floor(dueMs / 1000));
        while (this.seconds.length <= index) this.seconds.push({ histogram: newHistogram(), ok: 0, limited: 0, errors: 0 });
        const second = this.seconds[index];
        second.histogram.recordValue(value);
        this.completed++;
        if (outcome.kind === "response") {
            this.byStatus[outcome.status] = (this.byStatus[outcome.status] ?? 0) + 1;
            const kind = classifyStatus(outcome.status);
            if (kind === "ok") {
                this.ok++;
                second.ok++;
            } else if (kind === "limited") {
                this.limited++;
                second.limited++;
            } else {
                this.httpErrors++;
                second.errors++;
            }
        } else {
            const code = outcome.kind === "failure" ? outcome.code : "unfinished";
            this.byFailure[code] = (this.byFailure[code] ?? 0) + 1;
            if (outcome.kind === "failure") this.failures++;
            else this.unfinished++;
            second.errors++;
        }
    }

    /** The tester started a request `lagMs` after it was due. */
    recordLag(lagMs: number): void {
        this.lag.recordValue(micros(lagMs));
    }

    /** Counts so far, for the progress line. */
    counts(): { ok: number; limited: number; errors: number } {
        return { ok: this.ok, limited: this.limited, errors: this.httpErrors + this.failures + this.unfinished };
    }

    /** p95 of the requests due in second `index`, 0 when none ended yet. */
    secondP95(index: number): number {
        const second = this.seconds[index];
        return second ? summarize(second.histogram).p95 : 0;
    }

    result(meta: { label: string; startedAt: Date; plan: LoadPlan; elapsedSeconds: number; slo: Slo }): LoadResult {
        const { plan } = meta;
        const latencyMs = summarize(this.all);
        const errors = this.httpErrors + this.failures + this.unfinished;
        const completed = this.ok + this.limited + this.httpErrors + this.failures;
        const elapsed = meta.elapsedSeconds > 0 ? meta.elapsedSeconds : 1;
        return {
            format: 1,
            label: meta.label,
            startedAt: meta.startedAt.toISOString(),
            targets: plan.targets.map((url) => url.toString()),
            plan: {
                users: plan.users,
                rate: plan.rate,
                thinkTimeMs: plan.thinkTimeMs,
                durationMs: plan.durationMs,
                timeoutMs: plan.timeoutMs,
                scheduled: plan.requests,
                sourceAddresses: plan.sourceAddresses.length,
                journey: [...plan.journey],
            },
            elapsedSeconds: meta.elapsedSeconds,
            totals: {
                scheduled: plan.requests,
                completed,
                ok: this.ok,
                limited: this.limited,
                httpErrors: this.httpErrors,
                failures: this.failures,
                unfinished: this.unfinished,
                byStatus: { ...this.byStatus },
                byFailure: { ...this.byFailure },
            },
            throughput: { requestsPerSecond: completed / elapsed, okPerSecond: this.ok / elapsed },
            latencyMs,
            byStep: Object.fromEntries([...this.steps].map(([name, histogram]) => [name, summarize(histogram)])),
            senderLagMs: summarize(this.lag),
            timeline: this.seconds.map((second, index) => {
                const summary = summarize(second.histogram);
                return {
                    second: index,
                    requests: summary.count,
                    ok: second.ok,
                    limited: second.limited,
                    errors: second.errors,
                    p50: summary.p50,
                    p95: summary.p95,
                    p99: summary.p99,
                    max: summary.max,
                };
            }),
            histogram: this.bins.map((count, index) => ({
                fromMs: index === 0 ? 0 : HISTOGRAM_EDGES_MS[index - 1],
                toMs: index < HISTOGRAM_EDGES_MS.length ? HISTOGRAM_EDGES_MS[index] : null,
                count,
            })),
            slo: evaluateSlo(meta.slo, { p95Ms: latencyMs.p95, scheduled: plan.requests, errors, limited: this.limited }),
        };
    }
}

/** What a proxy adds: the difference of two runs' percentiles (through it, and direct). */
export interface NginxOverhead {
    p50Ms: number;
    p95Ms: number;
    p99Ms: number;
}

/** The percentiles a proxy adds: the run through it minus the direct run (negative when noise outweighs it). */
export function nginxOverhead(viaNginx: LoadResult, direct: LoadResult): NginxOverhead {
    return {
        p50Ms: viaNginx.latencyMs.p50 - direct.latencyMs.p50,
        p95Ms: viaNginx.latencyMs.p95 - direct.latencyMs.p95,
        p99Ms: viaNginx.latencyMs.p99 - direct.latencyMs.p99,
    };
}
