// The report people look at: one self-contained HTML page (inline SVG and CSS, no script, nothing
// fetched) per set of runs, each with its verdict, figures, latency over time, requests per second
// and the latency histogram. Pure: a LoadResult in, text out.
import { formatMs, HistogramBin, histogramBin, LatencySummary, LoadResult, TimelinePoint } from "./loadtest-stats";

const WIDTH = 760;
const HEIGHT = 240;
const MARGIN = { left: 64, right: 16, top: 16, bottom: 40 };
const COLORS = { p50: "#2b8a3e", p95: "#1c7ed6", p99: "#e8590c", slo: "#c92a2a", ok: "#74c0fc", limited: "#fcc419", errors: "#fa5252", bar: "#4dabf7" };

/** Text safe inside HTML/SVG elements and attribute values. */
export function escapeHtml(text: string): string {
    return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);
}

/** A round step for about `ticks` axis ticks up to `max` (1, 2 or 5 times a power of ten). */
export function niceStep(max: number, ticks = 5): number {
    if (!(max > 0)) return 1;
    const raw = max / ticks;
    const power = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= raw) ?? 10 * power;
    return step;
}

function number(value: number, digits = 2): string {
    return Number(value.toFixed(digits)).toString();
}

interface Axis {
    /** Pixel of a value. */
    at(value: number): number;
    ticks: number[];
}

function linearAxis(max: number, from: number, to: number): Axis {
    const step = niceStep(max);
    const top = Math.max(step, Math.ceil(max / step) * step);
    const ticks: number[] = [];
    for (let value = 0; value <= top + step / 2; value += step) ticks.push(Number(value.toPrecision(6)));
    return { at: (value) => from + ((to - from) * value) / top, ticks };
}

function frame(title: string, body: string[], yLabel: string, xLabel: string): string {
    return [
        `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeHtml(title)}">`,
        `<title>${escapeHtml(title)}</title>`,
        ...body,
        `<text x="${MARGIN.left + (WIDTH - MARGIN.left - MARGIN.right) / 2}" y="${HEIGHT - 6}" text-anchor="middle" class="label">${escapeHtml(xLabel)}</text>`,
        `<text x="14" y="${MARGIN.top + (HEIGHT - MARGIN.top - MARGIN.bottom) / 2}" text-anchor="middle" class="label" transform="rotate(-90 14 ${MARGIN.top + (HEIGHT - MARGIN.top - MARGIN.bottom) / 2})">${escapeHtml(yLabel)}</text>`,
        "</svg>",
    ].join("\n");
}

function yGrid(axis: Axis, format: (value: number) => string): string[] {
    return axis.ticks.flatMap((tick) => {
        const y = number(axis.at(tick), 1);
        return [
            `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y}" y2="${y}" class="grid"/>`,
            `<text x="${MARGIN.left - 6}" y="${y}" dy="4" text-anchor="end" class="tick">${escapeHtml(format(tick))}</text>`,
        ];
    });
}

function legend(entries: [string, string][]): string[] {
    return entries.map(([label, color], index) => {
        const x = MARGIN.left + 10 + index * 110;
        return `<rect x="${x}" y="${MARGIN.top}" width="10" height="10" fill="${color}"/><text x="${x + 14}" y="${MARGIN.top + 9}" class="tick">${escapeHtml(label)}</text>`;
    });
}

/** p50, p95 and p99 of the requests due in each second, with the SLO's p95 as a dashed line. */
export function latencyOverTimeSvg(timeline: TimelinePoint[], sloP95Ms: number): string {
    const seconds = Math.max(1, timeline.length);
    const max = Math.max(sloP95Ms * 1.1, ...timeline.map((point) => point.p99));
    const y = linearAxis(max, HEIGHT - MARGIN.bottom, MARGIN.top + 16);
    const x = (second: number): number => MARGIN.left + ((WIDTH - MARGIN.left - MARGIN.right) * (second + 0.5)) / seconds;
    const line = (key: "p50" | "p95" | "p99"): string => {
        const points = timeline.filter((point) => point.requests > 0).map((point) => `${number(x(point.second), 1)},${number(y.at(point[key]), 1)}`);
        return points.length ? `<polyline points="${points.join(" ")}" fill="none" stroke="${COLORS[key]}" stroke-width="2"/>` : "";
    };
    const sloY = number(y.at(sloP95Ms), 1);
    return frame(
        "Latency over time",
        [
            ...yGrid(y, (tick) => `${number(tick, 3)} ms`),
            ...xTicks(seconds, x),
            `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${sloY}" y2="${sloY}" stroke="${COLORS.slo}" stroke-dasharray="6 4" class="slo"/>`,
            line("p50"),
            line("p95"),
            line("p99"),
            ...legend([
                ["p50", COLORS.p50],
                ["p95", COLORS.p95],
                ["p99", COLORS.p99],
                [`SLO p95 ${formatMs(sloP95Ms)}`, COLORS.slo],
            ]),
        ],
        "latency (ms, from when due)",
        "second of the run (by when the request was due)",
    );
}

function xTicks(seconds: number, x: (second: number) => number): string[] {
    const step = Math.max(1, niceStep(seconds, 10));
    const ticks: string[] = [];
    for (let second = 0; second < seconds; second += step) {
        ticks.push(`<text x="${number(x(second), 1)}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle" class="tick">${second}</text>`);
    }
    return ticks;
}

/** Requests due in each second, stacked by how they ended: ok, 429, errors. */
function requestsOverTimeSvg(timeline: TimelinePoint[]): string {
    const seconds = Math.max(1, timeline.length);
    const max = Math.max(1, ...timeline.map((point) => point.ok + point.limited + point.errors));
    const y = linearAxis(max, HEIGHT - MARGIN.bottom, MARGIN.top + 16);
    const width = (WIDTH - MARGIN.left - MARGIN.right) / seconds;
    const x = (second: number): number => MARGIN.left + width * (second + 0.5);
    const bars = timeline.flatMap((point) => {
        let base = 0;
        return (["ok", "limited", "errors"] as const).map((key) => {
            const from = base;
            base += point[key];
            if (point[key] === 0) return "";
            const top = y.at(base);
            return `<rect x="${number(MARGIN.left + width * point.second + width * 0.1, 1)}" y="${number(top, 1)}" width="${number(width * 0.8, 1)}" height="${number(y.at(from) - top, 1)}" fill="${COLORS[key]}"/>`;
        });
    });
    return frame(
        "Requests per second",
        [
            ...yGrid(y, (tick) => String(tick)),
            ...xTicks(seconds, x),
            ...bars,
            ...legend([
                ["ok", COLORS.ok],
                ["429", COLORS.limited],
                ["errors", COLORS.errors],
            ]),
        ],
        "requests",
        "second of the run (by when the request was due)",
    );
}

/** Edges labelled on the histogram's axis: 1, 3.16, 10, 31.6... ms. */
function isDecadeOrHalf(ms: number): boolean {
    const tenths = Math.round(10 * Math.log10(ms));
    return Math.abs(10 * Math.log10(ms) - tenths) < 0.01 && tenths % 5 === 0;
}

/** The latency histogram on a log axis (bins of loadtest-stats), with p50/p95/p99 and the SLO marked. */
export function histogramSvg(bins: HistogramBin[], latency: LatencySummary, sloP95Ms: number): string {
    // From the first bin with requests to the last one or the SLO's, whichever is further right.
    const used = bins.map((bin, index) => (bin.count > 0 ? index : -1)).filter((index) => index >= 0);
    const sloBin = histogramBin(sloP95Ms);
    const first = Math.max(0, Math.min(used.length ? used[0] : sloBin, sloBin) - 1);
    const last = Math.min(bins.length - 1, Math.max(used.length ? used[used.length - 1] : 0, sloBin) + 1);
    const shown = bins.slice(first, last + 1);
    const max = Math.max(1, ...shown.map((bin) => bin.count));
    const y = linearAxis(max, HEIGHT - MARGIN.bottom, MARGIN.top + 16);
    const width = (WIDTH - MARGIN.left - MARGIN.right) / shown.length;
    // Bins are a tenth of a decade wide (the last one, open, is drawn as wide).
    const lastBin = shown[shown.length - 1];
    const logTo = lastBin.toMs !== null ? Math.log10(lastBin.toMs) : Math.log10(lastBin.fromMs) + 0.1;
    const logFrom = logTo - 0.1 * shown.length;
    const xOf = (ms: number): number => MARGIN.left + ((WIDTH - MARGIN.left - MARGIN.right) * (Math.log10(Math.max(ms, 1e-3)) - logFrom)) / (logTo - logFrom);
    const bars = shown.map((bin, index) => {
        if (bin.count === 0) return "";
        const top = y.at(bin.count);
        const label = `${formatMs(bin.fromMs)} - ${bin.toMs === null ? "more" : formatMs(bin.toMs)}: ${bin.count}`;
        return `<rect x="${number(MARGIN.left + width * index + 1, 1)}" y="${number(top, 1)}" width="${number(Math.max(1, width - 2), 1)}" height="${number(y.at(0) - top, 1)}" fill="${COLORS.bar}"><title>${escapeHtml(label)}</title></rect>`;
    });
    const xLabels = shown
        .map((bin, index) => {
            if (bin.toMs === null || !isDecadeOrHalf(bin.toMs)) return "";
            const x = MARGIN.left + width * (index + 1);
            const anchor = x > WIDTH - MARGIN.right - 24 ? "end" : "middle";
            return `<text x="${number(x, 1)}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="${anchor}" class="tick">${escapeHtml(formatMs(bin.toMs))}</text>`;
        })
        .filter(Boolean);
    const marker = (ms: number, color: string, label: string, row: number): string => {
        const at = number(Math.min(WIDTH - MARGIN.right, Math.max(MARGIN.left, xOf(ms))), 1);
        const anchor = Number(at) > WIDTH - MARGIN.right - 40 ? 'text-anchor="end" dx="-3"' : 'dx="3"';
        return `<line x1="${at}" x2="${at}" y1="${MARGIN.top + 16}" y2="${HEIGHT - MARGIN.bottom}" stroke="${color}" stroke-dasharray="4 3"/><text x="${at}" y="${MARGIN.top + 28 + row * 12}" ${anchor} class="tick" fill="${color}">${escapeHtml(label)}</text>`;
    };
    return frame(
        "Latency histogram",
        [
            ...yGrid(y, (tick) => String(tick)),
            ...bars,
            ...xLabels,
            marker(latency.p50, COLORS.p50, "p50", 0),
            marker(latency.p95, COLORS.p95, "p95", 1),
            marker(latency.p99, COLORS.p99, "p99", 2),
            marker(sloP95Ms, COLORS.slo, "SLO", 3),
        ],
        "requests",
        "latency (log scale)",
    );
}

function summaryTable(result: LoadResult): string {
    const { latencyMs: l, totals: t, throughput, plan } = result;
    const rows: [string, string][] = [
        ["targets", result.targets.join(", ")],
        ["users / think time / rate", `${plan.users} / ${formatMs(plan.thinkTimeMs)} / ${number(plan.rate)} req/s scheduled for ${formatMs(plan.durationMs)}`],
        ["client source addresses", plan.sourceAddresses ? String(plan.sourceAddresses) : "chosen by the OS"],
        ["requests", `${t.scheduled} scheduled, ${t.completed} answered or failed, ${t.unfinished} unfinished at the end`],
        ["throughput", `${number(throughput.requestsPerSecond, 1)} req/s (${number(throughput.okPerSecond, 1)} ok/s) over ${number(result.elapsedSeconds, 1)} s`],
        ["latency p50 / p95 / p99 / max", [l.p50, l.p95, l.p99, l.max].map(formatMs).join(" / ")],
        ["ok / 429 / HTTP errors / failures", `${t.ok} / ${t.limited} / ${t.httpErrors} / ${t.failures}`],
        ["statuses", JSON.stringify(t.byStatus)],
        ["failures by cause", Object.keys(t.byFailure).length ? JSON.stringify(t.byFailure) : "none"],
        ["tester's own lag p99 / max", `${formatMs(result.senderLagMs.p99)} / ${formatMs(result.senderLagMs.max)} (late starts count in the latency)`],
        ["tester's machine", result.machine ? `${result.machine.cpus} CPUs, load average ${number(result.machine.loadAverage1m, 1)} at the end` : "not recorded"],
    ];
    const steps = Object.entries(result.byStep).map(([name, s]) => [`step ${name} p50 / p95 / p99`, `${[s.p50, s.p95, s.p99].map(formatMs).join(" / ")} (${s.count} requests)`] as [string, string]);
    return `<table>${[...rows, ...steps].map(([key, value]) => `<tr><th>${escapeHtml(key)}</th><td>${escapeHtml(value)}</td></tr>`).join("")}</table>`;
}

function section(result: LoadResult): string {
    const { slo } = result;
    const verdict = slo.passed
        ? `<p class="pass">SLO met: p95 ${escapeHtml(formatMs(slo.measuredP95Ms))} &le; ${escapeHtml(formatMs(slo.p95Ms))}, errors and 429s within their shares.</p>`
        : `<p class="fail">SLO missed: ${slo.failures.map(escapeHtml).join("; ")}.</p>`;
    return [
        `<section><h2>${escapeHtml(result.label)} <small>started ${escapeHtml(result.startedAt)}</small></h2>`,
        verdict,
        summaryTable(result),
        "<h3>Latency over time</h3>",
        latencyOverTimeSvg(result.timeline, slo.p95Ms),
        "<h3>Requests per second</h3>",
        requestsOverTimeSvg(result.timeline),
        "<h3>Latency histogram</h3>",
        histogramSvg(result.histogram, result.latencyMs, slo.p95Ms),
        "</section>",
    ].join("\n");
}

/** The report page for one or more runs (e.g. through nginx and direct). */
export function renderReport(title: string, results: LoadResult[]): string {
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        `<title>${escapeHtml(title)}</title>`,
        "<style>",
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:820px;color:#212529}",
        "table{border-collapse:collapse;margin:1em 0}th,td{text-align:left;padding:2px 10px;border-bottom:1px solid #dee2e6;font-size:14px}",
        ".pass{color:#2b8a3e;font-weight:bold}.fail{color:#c92a2a;font-weight:bold}",
        "svg{display:block;margin:0.5em 0}.grid{stroke:#e9ecef}.tick{font-size:11px;fill:#495057}.label{font-size:12px;fill:#212529}",
        "</style></head><body>",
        `<h1>${escapeHtml(title)}</h1>`,
        "<p>Latency is measured from when each request was due on the open-loop schedule, so a request the tester had to send late because the user's previous one was still running counts its wait.</p>",
        ...results.map(section),
        "</body></html>",
        "",
    ].join("\n");
}

/** The run in a few lines of text, for the terminal and CI logs. */
export function summaryLines(result: LoadResult): string[] {
    const { latencyMs: l, totals: t, throughput, slo } = result;
    return [
        `${result.label}: ${t.scheduled} requests scheduled (${number(result.plan.rate)} req/s, ${result.plan.users} users, think time ${formatMs(result.plan.thinkTimeMs)}), ` +
            `${number(throughput.requestsPerSecond, 1)} req/s achieved over ${number(result.elapsedSeconds, 1)} s`,
        `${result.label}: latency p50 ${formatMs(l.p50)}, p95 ${formatMs(l.p95)}, p99 ${formatMs(l.p99)}, max ${formatMs(l.max)} (tester lag p99 ${formatMs(result.senderLagMs.p99)}` +
            `${result.machine ? `; load average ${number(result.machine.loadAverage1m, 1)} on ${result.machine.cpus} CPUs` : ""})`,
        `${result.label}: ok ${t.ok}, 429 ${t.limited}, HTTP errors ${t.httpErrors}, failures ${t.failures}${Object.keys(t.byFailure).length ? ` ${JSON.stringify(t.byFailure)}` : ""}, unfinished ${t.unfinished}`,
        slo.passed
            ? `${result.label}: SLO met (p95 ${formatMs(slo.measuredP95Ms)} <= ${formatMs(slo.p95Ms)})`
            : `${result.label}: SLO MISSED: ${slo.failures.join("; ")}`,
    ];
}
