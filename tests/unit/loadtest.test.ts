// The load tester's pure parts: its command line, the open-loop schedule, percentiles and the SLO
// verdict, and the report page. The runs themselves are in tests/live/loadtest.test.ts.
import {
    isLoopback,
    JOURNEY,
    loopbackSourceAddresses,
    parseLoadTestArgs,
    planFromFlags,
    requestsDueBy,
    resolveLoad,
    scheduledRequest,
    sloFromFlags,
} from "../../scripts/loadtest-plan";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readCaFile } from "../../scripts/loadtest-run";
import { escapeHtml, histogramSvg, latencyOverTimeSvg, niceStep, renderReport } from "../../scripts/loadtest-report";
import { classifyStatus, evaluateSlo, HISTOGRAM_EDGES_MS, histogramBin, LoadResult, nginxOverhead, Recorder } from "../../scripts/loadtest-stats";
import { upstreamReuse } from "../../scripts/loadtest-gateway";

const plan = (...argv: string[]) => planFromFlags(parseLoadTestArgs(argv));

describe("command line", () => {
    test("users, think time and duration give the rate and the request count", () => {
        const parsed = plan("--url", "http://127.0.0.1:8080", "--users", "300", "--think-time", "500ms", "--duration", "2m");
        expect(parsed).toMatchObject({ users: 300, thinkTimeMs: 500, rate: 600, durationMs: 120_000, requests: 72_000, timeoutMs: 10_000 });
        expect(parsed.targets.map(String)).toEqual(["http://127.0.0.1:8080/"]);
    });

    test("any two of users, rate and think time decide the third; all three must agree", () => {
        expect(resolveLoad({ users: 100, rate: 50 })).toEqual({ users: 100, rate: 50, thinkTimeMs: 2000 });
        expect(resolveLoad({ rate: 200, thinkTimeMs: 500 })).toEqual({ users: 100, rate: 200, thinkTimeMs: 500 });
        expect(resolveLoad({ users: 10, thinkTimeMs: 250 })).toEqual({ users: 10, rate: 40, thinkTimeMs: 250 });
        expect(resolveLoad({})).toEqual({ users: 100, rate: 100, thinkTimeMs: 1000 });
        expect(resolveLoad({ users: 10, rate: 10, thinkTimeMs: 1000 })).toEqual({ users: 10, rate: 10, thinkTimeMs: 1000 });
        expect(() => resolveLoad({ users: 10, rate: 20, thinkTimeMs: 1000 })).toThrow("--users 10 with --think-time 1000ms gives 10 requests/s, not --rate 20: give two of the three");
        expect(() => resolveLoad({ rate: 2.5 })).toThrow("--rate 2.5 with --think-time 1000ms gives 2.5 users");
    });

    test("bad input is refused with a message naming the flag", () => {
        const url = ["--url", "http://127.0.0.1:8080"];
        expect(() => plan()).toThrow("--url is required");
        expect(() => plan("--url", "127.0.0.1:8080")).toThrow("--url must be a URL such as http://127.0.0.1:8080 (got '127.0.0.1:8080')");
        expect(() => plan("--url", "not a url")).toThrow("--url must be a URL such as http://127.0.0.1:8080 (got 'not a url')");
        expect(() => plan("--url", "ftp://example.com")).toThrow("--url must use http:// or https:// (got 'ftp://example.com')");
        expect(() => plan("--url", "http://example.com/?x=1")).toThrow("--url must be a base URL without query or fragment");
        expect(plan("--url", "https://example.com/prefix").targets[0].pathname).toBe("/prefix");
        expect(() => plan(...url, "--users", "abc")).toThrow("--users must be a whole number of at least 1 (got 'abc')");
        expect(() => plan(...url, "--users", "0")).toThrow("--users must be a whole number of at least 1");
        expect(() => plan(...url, "--users", "1.5")).toThrow("--users must be a whole number");
        expect(() => plan(...url, "--rate", "-3")).toThrow("--rate must be a number above zero (got '-3')");
        expect(() => plan(...url, "--duration", "60")).toThrow("--duration must be a duration such as 500ms, 60s or 2m (got '60')");
        expect(() => plan(...url, "--think-time", "0s")).toThrow("--think-time must be above zero");
        expect(() => plan(...url, "--users", "60000")).toThrow("--users 60000 is above 50000");
        expect(() => plan(...url, "--users", "50000", "--think-time", "10ms", "--duration", "1h")).toThrow("is above 20000000: shorten the run");
        expect(() => plan(...url, "--users", "1", "--think-time", "1m", "--duration", "1ms")).toThrow("schedules no request");
        expect(() => plan("--url", "http://10.0.0.5", "--source-addresses", "4")).toThrow("--source-addresses needs loopback targets");
        expect(() => parseLoadTestArgs([...url, "--concurrency", "5"])).toThrow("unexpected argument '--concurrency'");
        expect(() => parseLoadTestArgs([...url, "--users"])).toThrow("--users needs a value");
    });

    test("--ca-file is kept for https targets and refused without one; a missing or non-PEM file is an error naming the flag", () => {
        expect(plan("--url", "https://127.0.0.1:8443", "--ca-file", "/tmp/ca.crt").caFile).toBe("/tmp/ca.crt");
        expect(plan("--url", "http://127.0.0.1:8080,https://127.0.0.1:8443", "--ca-file", "/tmp/ca.crt").caFile).toBe("/tmp/ca.crt");
        expect(plan("--url", "https://127.0.0.1:8443").caFile).toBeUndefined();
        expect(() => plan("--url", "http://127.0.0.1:8080", "--ca-file", "/tmp/ca.crt")).toThrow("--ca-file verifies https:// targets: none of --url is https (got 'http://127.0.0.1:8080')");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ca-file-"));
        try {
            expect(() => readCaFile(path.join(dir, "missing.crt"))).toThrow(`--ca-file ${path.join(dir, "missing.crt")}: no such file`);
            fs.writeFileSync(path.join(dir, "not-pem.crt"), "hello\n");
            expect(() => readCaFile(path.join(dir, "not-pem.crt"))).toThrow("no PEM certificate in it");
            const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
            fs.writeFileSync(path.join(dir, "ca.crt"), pem);
            expect(readCaFile(path.join(dir, "ca.crt"))).toBe(pem);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("flags with digits in their names parse", () => {
        expect(parseLoadTestArgs(["--url=http://127.0.0.1", "--slo-p95", "50ms", "--max-429-rate", "0"])).toEqual({ url: "http://127.0.0.1", "slo-p95": "50ms", "max-429-rate": "0" });
    });

    test("the SLO comes from --slo-p95 or else the stack's target; shares are checked", () => {
        const stackTarget = jest.fn(() => 100);
        expect(sloFromFlags({}, stackTarget)).toEqual({ p95Ms: 100, maxErrorRate: 0.001, max429Rate: 0.001 });
        expect(stackTarget).toHaveBeenCalledTimes(1);
        expect(sloFromFlags({ "slo-p95": "250ms", "max-error-rate": "0.01", "max-429-rate": "0" }, stackTarget)).toEqual({ p95Ms: 250, maxErrorRate: 0.01, max429Rate: 0 });
        expect(stackTarget).toHaveBeenCalledTimes(1);
        expect(() => sloFromFlags({ "max-error-rate": "2" }, stackTarget)).toThrow("--max-error-rate must be a share between 0 and 1 (got '2')");
        expect(() => sloFromFlags({ "slo-p95": "fast" }, stackTarget)).toThrow("--slo-p95 must be a duration");
    });
});

describe("client source addresses", () => {
    test("loopback targets get one address per user in 127.1.0.0 and up, others none", () => {
        expect(plan("--url", "http://127.0.0.1:8080", "--users", "600").sourceAddresses).toHaveLength(600);
        expect(plan("--url", "http://localhost:8080", "--users", "600", "--source-addresses", "16").sourceAddresses).toHaveLength(16);
        expect(plan("--url", "http://10.0.0.5:80", "--users", "600").sourceAddresses).toEqual([]);
        expect(isLoopback([new URL("http://127.0.0.1"), new URL("http://10.1.1.1")])).toBe(false);
    });

    test("addresses are distinct, valid and skip host parts 0 and 255", () => {
        const addresses = loopbackSourceAddresses(70_000);
        expect(new Set(addresses).size).toBe(70_000);
        expect(addresses.slice(0, 2)).toEqual(["127.1.0.1", "127.1.0.2"]);
        expect(addresses[254]).toBe("127.1.1.1");
        const invalid = addresses.filter((address) => {
            const parts = address.split(".").map(Number);
            return parts.length !== 4 || parts[0] !== 127 || parts[1] < 1 || parts[1] > 254 || parts[2] > 255 || parts[3] < 1 || parts[3] > 254;
        });
        expect(invalid).toEqual([]);
    });
});

describe("open-loop schedule", () => {
    const schedule = { users: 4, rate: 8, requests: 40, journey: JOURNEY };

    test("requests are due 1/rate apart whatever happens, users take turns, one think time apart", () => {
        const requests = Array.from({ length: 12 }, (_, index) => scheduledRequest(schedule, index));
        expect(requests.map((r) => r.dueMs)).toEqual([0, 125, 250, 375, 500, 625, 750, 875, 1000, 1125, 1250, 1375]);
        expect(requests.map((r) => r.user)).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
        // User 1: its requests 500 ms (users / rate) apart, walking the journey in order.
        const user1 = requests.filter((r) => r.user === 1);
        expect(user1.map((r) => r.dueMs)).toEqual([125, 625, 1125]);
        expect(user1.map((r) => r.step.name)).toEqual(["health", "profile", "positions"]);
        expect(scheduledRequest(schedule, 13).step.name).toBe("health");
    });

    test("the count due by a time follows the clock and never exceeds the plan", () => {
        expect(requestsDueBy(schedule, -1)).toBe(0);
        expect(requestsDueBy(schedule, 0)).toBe(1);
        expect(requestsDueBy(schedule, 124)).toBe(1);
        expect(requestsDueBy(schedule, 125)).toBe(2);
        expect(requestsDueBy(schedule, 1000)).toBe(9);
        expect(requestsDueBy(schedule, 60_000)).toBe(40);
    });

    test("the journey is the plan's: health, profile, trading positions", () => {
        expect(JOURNEY.map((step) => step.path)).toEqual(["/api/health", "/api/users/profile", "/api/trading/positions"]);
    });
});

describe("percentiles and the SLO verdict", () => {
    const testPlan = planFromFlags({ url: "http://10.0.0.1", users: "10", "think-time": "1s", duration: "10s" });
    const slo = { p95Ms: 100, maxErrorRate: 0.01, max429Rate: 0.01 };

    test("percentiles of known latencies (3 significant digits)", () => {
        const recorder = new Recorder();
        for (let ms = 1; ms <= 100; ms++) recorder.record("health", ms * 10, ms, { kind: "response", status: 200 });
        const result = recorder.result({ label: "t", startedAt: new Date(0), plan: testPlan, elapsedSeconds: 10, slo });
        expect(result.latencyMs.count).toBe(100);
        expect(result.latencyMs.p50).toBeCloseTo(50, 1);
        expect(result.latencyMs.p95).toBeCloseTo(95, 1);
        expect(result.latencyMs.p99).toBeCloseTo(99, 1);
        expect(result.latencyMs.max).toBeCloseTo(100, 1);
        expect(result.latencyMs.min).toBeCloseTo(1, 2);
        expect(result.byStep.health.count).toBe(100);
        // Requests by the second they were due in: 10 ms apart, so 100 per second in the first second.
        expect(result.timeline.map((point) => point.requests)).toEqual([99, 1]);
        expect(result.histogram.reduce((sum, bin) => sum + bin.count, 0)).toBe(100);
        expect(result.throughput.requestsPerSecond).toBe(10);
        expect(result.slo.passed).toBe(true);
        // A percentile never exceeds the largest latency (HdrHistogram reports its bucket's top).
        const single = new Recorder();
        single.record("health", 0, 17.1, { kind: "response", status: 200 });
        const one = single.result({ label: "t", startedAt: new Date(0), plan: testPlan, elapsedSeconds: 1, slo }).latencyMs;
        expect(one.p95).toBe(one.max);
        expect(one.max).toBeCloseTo(17.1, 2);
    });

    test("statuses, failures and unfinished requests are counted apart; errors share the scheduled count", () => {
        const recorder = new Recorder();
        const outcomes = [
            { kind: "response", status: 200 },
            { kind: "response", status: 302 },
            { kind: "response", status: 429 },
            { kind: "response", status: 503 },
            { kind: "response", status: 404 },
            { kind: "failure", code: "ECONNREFUSED" },
            { kind: "unfinished" },
        ] as const;
        outcomes.forEach((outcome, index) => recorder.record("profile", index, 5, outcome));
        const result = recorder.result({ label: "t", startedAt: new Date(0), plan: testPlan, elapsedSeconds: 1, slo });
        expect(result.totals).toEqual({
            scheduled: 100,
            completed: 6,
            ok: 2,
            limited: 1,
            httpErrors: 2,
            failures: 1,
            unfinished: 1,
            byStatus: { "200": 1, "302": 1, "404": 1, "429": 1, "503": 1 },
            byFailure: { ECONNREFUSED: 1, unfinished: 1 },
        });
        expect(result.slo.errorRate).toBeCloseTo(0.04);
        expect(result.slo.passed).toBe(false);
        expect(result.timeline[0]).toMatchObject({ ok: 2, limited: 1, errors: 4 });
        expect(classifyStatus(204)).toBe("ok");
        expect(classifyStatus(429)).toBe("limited");
        expect(classifyStatus(500)).toBe("error");
    });

    test("each missed threshold is named; meeting all of them passes", () => {
        expect(evaluateSlo(slo, { p95Ms: 100, scheduled: 1000, errors: 10, limited: 10 })).toMatchObject({ passed: true, failures: [] });
        expect(evaluateSlo(slo, { p95Ms: 100.5, scheduled: 1000, errors: 0, limited: 0 }).failures).toEqual(["p95 100.5 ms is above the target 100.0 ms"]);
        expect(evaluateSlo(slo, { p95Ms: 1, scheduled: 1000, errors: 11, limited: 0 }).failures).toEqual(["1.1% of requests failed (allowed 1.0%)"]);
        expect(evaluateSlo(slo, { p95Ms: 1, scheduled: 1000, errors: 0, limited: 500 }).failures).toEqual(["50.0% of requests got 429 (allowed 1.0%)"]);
        expect(evaluateSlo(slo, { p95Ms: 0, scheduled: 0, errors: 0, limited: 0 }).passed).toBe(false);
    });

    test("histogram bins: 10 per decade, each latency in the first bin whose edge reaches it", () => {
        expect(HISTOGRAM_EDGES_MS.slice(0, 3)).toEqual([0.1, 0.126, 0.158]);
        expect(HISTOGRAM_EDGES_MS[10]).toBe(1);
        expect(HISTOGRAM_EDGES_MS[60]).toBe(100_000);
        expect(histogramBin(0.05)).toBe(0);
        expect(histogramBin(1)).toBe(10);
        expect(histogramBin(1.01)).toBe(11);
        expect(histogramBin(1e9)).toBe(HISTOGRAM_EDGES_MS.length);
    });
});

describe("report", () => {
    const testPlan = planFromFlags({ url: "http://127.0.0.1:9", users: "20", "think-time": "1s", duration: "3s" });
    function result(label: string, latencies: number[], p95Ms = 100): LoadResult {
        const recorder = new Recorder();
        latencies.forEach((ms, index) => recorder.record("health", index * 50, ms, { kind: "response", status: index % 10 === 0 ? 429 : 200 }));
        return recorder.result({ label, startedAt: new Date(0), plan: testPlan, elapsedSeconds: 3, slo: { p95Ms, maxErrorRate: 0.001, max429Rate: 1 } });
    }

    test("a self-contained page: verdict, figures, three charts per run, nothing fetched", () => {
        const page = renderReport("Load test of <prod>", [result("nginx", [1, 2, 3, 4, 200, 5, 6]), result("direct", [1, 1, 1], 10)]);
        expect(page).toContain("<title>Load test of &lt;prod&gt;</title>");
        expect(page.match(/<svg /g)).toHaveLength(6);
        // 200 ms to HdrHistogram's 3 significant digits.
        expect(page).toMatch(/SLO missed: p95 200\.\d ms is above the target 100\.0 ms/);
        expect(page).toContain("SLO met: p95 1.00 ms &le; 10.0 ms");
        expect(page).toContain("<th>latency p50 / p95 / p99 / max</th>");
        // Self-contained: no script, stylesheet or image loaded from anywhere.
        expect(page).not.toMatch(/<script|<link|<img|src=|@import|url\(/i);
        expect(page.match(/https?:\/\/[^"\s<]+/g)?.filter((url) => url !== "http://www.w3.org/2000/svg" && !url.startsWith("http://127.0.0.1:9"))).toEqual([]);
    });

    test("latency over time draws p50, p95 and p99 per second and the SLO line", () => {
        const svg = latencyOverTimeSvg(result("r", Array.from({ length: 60 }, (_, i) => 1 + (i % 7))).timeline, 100);
        expect(svg.match(/<polyline /g)).toHaveLength(3);
        expect(svg.match(/class="slo"/g)).toHaveLength(1);
        // One point per second with requests (3 seconds of requests due 50 ms apart).
        expect(svg.match(/points="([^"]*)"/)?.[1].split(" ")).toHaveLength(3);
    });

    test("the histogram spans the requests and the SLO and marks the percentiles", () => {
        const run = result("r", [2, 2, 3, 40]);
        const svg = histogramSvg(run.histogram, run.latencyMs, 100);
        expect(svg.match(/<rect /g)?.length).toBe(3);
        for (const label of ["p50", "p95", "p99", "SLO"]) expect(svg).toContain(`>${label}</text>`);
        expect(svg).toContain(">100.0 ms</text>");
    });

    test("axis steps are round and text is escaped", () => {
        expect([niceStep(100), niceStep(7), niceStep(0.3), niceStep(0), niceStep(4200)]).toEqual([20, 2, 0.1, 1, 1000]);
        expect(escapeHtml(`<a href="x">&'`)).toBe("&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    });
});

describe("local run figures", () => {
    test("what nginx adds is the difference of the percentiles, reuse is 1 - new connections / requests", () => {
        const testPlan = planFromFlags({ url: "http://10.0.0.1", users: "1", "think-time": "1s", duration: "1s" });
        const slo = { p95Ms: 100, maxErrorRate: 0, max429Rate: 0 };
        const run = (ms: number): LoadResult => {
            const recorder = new Recorder();
            recorder.record("health", 0, ms, { kind: "response", status: 200 });
            return recorder.result({ label: "r", startedAt: new Date(0), plan: testPlan, elapsedSeconds: 1, slo });
        };
        const overhead = nginxOverhead(run(3.5), run(3));
        expect(overhead.p95Ms).toBeCloseTo(0.5, 2);
        expect(overhead.p50Ms).toBeCloseTo(0.5, 2);
        const stats = (requests: number, connections: number) => ({ name: "g", requests, connections, clientAddresses: 1 });
        expect(upstreamReuse([stats(10, 2), stats(5, 1)], [stats(110, 3), stats(105, 2)])).toEqual({ requests: 200, newConnections: 2, reuse: 0.99 });
        expect(upstreamReuse([stats(0, 0)], [stats(0, 0)])).toEqual({ requests: 0, newConnections: 0, reuse: 0 });
    });
});
