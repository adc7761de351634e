// `npm run loadtest:local`: the stack's rendered nginx.conf (local-nginx.ts) on Debian's nginx in
// front of reference gateways (loadtest-gateway.ts) on 127.0.0.1, and the load tester through
// nginx over HTTPS (a certificate from a test CA made for the run, which the tester verifies) and
// straight to the gateways over HTTP (on a second port of each) with the same plan, at the same
// time. Prints what nginx adds to the latency percentiles (TLS included), how many upstream TCP connections
// carried the proxied requests, and what one client gets of the per-client trading rate through the
// stack's nginx replicas. Every process it starts is stopped by PID at the end, also on failure,
// SIGINT or SIGTERM.
import * as dgram from "dgram";
import * as fs from "fs";
import * as path from "path";
import * as tls from "tls";
import { perInstanceLimits, renderNginxConf } from "../components";
import { freePorts, loopbackGet, makeTempDir, sleep, startServer, stopAllServers, waitFor } from "../tests/live/support";
import { Flags, parseFlags } from "./cli";
import { GATEWAY_STATS_PATH, GatewayStats, upstreamReuse, UpstreamReuse } from "./loadtest-gateway";
import { JOURNEY, LIMITS, LoadPlan, LoadTestFlag, loopbackSourceAddresses, parseDurationFlag, planFromFlags, Slo, sloFromFlags } from "./loadtest-plan";
import { summaryLines } from "./loadtest-report";
import { runLoadTest } from "./loadtest-run";
import { formatMs, LoadResult, nginxOverhead, NginxOverhead } from "./loadtest-stats";
import { defaultOutDir, SLO_MISSED_EXIT, stackP95Ms, writeResults } from "./loadtest";
import { deployedNginxConfOptions, localNginxConfOptions, makeLocalCertificate, NGINX_BINARY, NGINX_RUN_AS, prepareLocalNginxDir } from "./local-nginx";
import { PROJECT_ROOT } from "./stack-files";

const LOCAL_FLAGS = [
    "stack",
    "users",
    "rate",
    "think-time",
    "duration",
    "timeout",
    "slo-p95",
    "max-error-rate",
    "max-429-rate",
    "out",
    "gateways",
    "gateway-latency",
    "warmup",
    "per-client",
    "client-affinity",
] as const;

const USAGE = `usage: npm run loadtest:local -- [options]
  --stack NAME           whose nginx.conf and SLO (default prod)
  --users N, --rate R, --think-time T   the load, as for npm run loadtest (default 500 users, 1s)
  --duration T           each measured run (default 10s); --warmup T before them (default 2s, through nginx, not reported)
  --timeout T, --slo-p95 T, --max-error-rate F, --max-429-rate F, --out DIR   as for npm run loadtest
  --gateways N           reference gateways behind nginx (default 3)
  --gateway-latency T    each gateway's time to answer (default 1ms)
  --per-client T         the per-client check: one client at twice the trading rate for T (default 5s; 0s skips it),
                         pinned to one nginx replica and spread over the stack's replicas
  --client-affinity on|off   override the stack's loadBalancer.clientAffinity (off: limits divided by replicas)
Through nginx the tester speaks HTTPS, verified against a test CA made for the run (as --ca-file).
exit status: 0 SLO met through nginx, 99 SLO missed, 1 bad arguments or a failed run`;

/** One client's trading requests through the replicas: what got through. */
export interface PerClientOutcome {
    sent: number;
    ok: number;
    limited: number;
    /** ok per second of the check. */
    okPerSecond: number;
}

/** The per-client check: one client address offering twice the trading rate. */
export interface PerClientCheck {
    /** The stack's per-client trading rate (r/s) and burst, for the whole tier. */
    configuredRate: number;
    configuredBurst: number;
    replicas: number;
    clientAffinity: boolean;
    /** What each replica's nginx.conf allows a client (trading zone). */
    perReplica: { rate: string; burst: number };
    offeredRate: number;
    seconds: number;
    /** All the client's connections on one replica, as the Service's ClientIP affinity does. */
    pinned: PerClientOutcome;
    /** The client's connections spread over every replica, as a Service without affinity may; absent with one replica. */
    spread?: PerClientOutcome;
}

/** The local run's summary (local.json). */
export interface LocalRunSummary {
    stack: string;
    gateways: number;
    gatewayLatencyMs: number;
    nginxWorkers: number;
    /** The TLS protocol and cipher the tester's connections to nginx negotiated. */
    tls: { protocol: string; cipher: string };
    overhead: NginxOverhead;
    upstream: UpstreamReuse;
    viaNginx: { requestsPerSecond: number; p95Ms: number; sloPassed: boolean };
    direct: { requestsPerSecond: number; p95Ms: number; sloPassed: boolean };
    perClient?: PerClientCheck;
}

/** The per-client check's client address: the first one past every journey user's. */
const LIMITS_USERS_PLUS_ONE = LIMITS.users + 1;

/** The per-client check in words. */
function perClientLines(check: PerClientCheck): string[] {
    const allowed = Math.round(check.configuredRate * check.seconds + check.configuredBurst);
    const outcome = (what: string, result: PerClientOutcome): string =>
        `  ${what}: ${result.ok} of ${result.sent} admitted = ${result.okPerSecond.toFixed(1)} r/s (${result.limited} x 429)`;
    return [
        `per-client trading limit: ${check.configuredRate} r/s per client, burst ${check.configuredBurst}, over ${check.replicas} replicas with clientAffinity ${check.clientAffinity ? "on" : "off"} ` +
            `(each replica allows a client ${check.perReplica.rate}, burst ${check.perReplica.burst}); the configured rate allows ${allowed} in ${check.seconds} s ` +
            `(${(allowed / check.seconds).toFixed(1)} r/s); one client offering ${check.offeredRate} r/s for ${check.seconds} s:`,
        outcome("all its connections on one replica (what ClientIP affinity does)", check.pinned),
        ...(check.spread ? [outcome(`its connections spread over ${check.replicas} replicas (what a balancer without affinity may do)`, check.spread)] : []),
    ];
}

async function gatewayStats(port: number): Promise<GatewayStats> {
    const { status, body } = await loopbackGet(port, GATEWAY_STATS_PATH);
    if (status !== 200) throw new Error(`gateway on port ${port}: ${GATEWAY_STATS_PATH} answered ${status}`);
    return JSON.parse(body) as GatewayStats;
}

/** The protocol and cipher a client with Node's defaults negotiates with 127.0.0.1:`port`, verified against `caPem`. */
function negotiatedTls(port: number, caPem: string): Promise<{ protocol: string; cipher: string }> {
    return new Promise((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", port, ca: caPem });
        socket.setTimeout(5000, () => socket.destroy(new Error(`TLS handshake with 127.0.0.1:${port} timed out`)));
        socket.once("secureConnect", () => {
            resolve({ protocol: socket.getProtocol() ?? "unknown", cipher: socket.getCipher().name });
            socket.end();
        });
        socket.once("error", reject);
    });
}

function signed(ms: number): string {
    return `${ms >= 0 ? "+" : "-"}${formatMs(Math.abs(ms))}`;
}

/** Aborted by SIGINT/SIGTERM: the run stops, everything started is stopped, the exit status is 130. */
const aborter = new AbortController();

async function main(argv: string[]): Promise<number> {
    const flags = parseFlags(argv, LOCAL_FLAGS, USAGE);
    const stack = flags.stack ?? "prod";
    const gateways = flags.gateways === undefined ? 3 : Number(flags.gateways);
    if (!Number.isInteger(gateways) || gateways < 1 || gateways > 16) throw new Error(`--gateways must be a whole number from 1 to 16 (got '${flags.gateways}')\n${USAGE}`);
    const gatewayLatency = flags["gateway-latency"] ?? "1ms";
    const gatewayLatencyMs = gatewayLatency === "0ms" ? 0 : parseDurationFlag("gateway-latency", gatewayLatency);
    const warmupMs = flags.warmup === undefined ? 2000 : flags.warmup === "0s" ? 0 : parseDurationFlag("warmup", flags.warmup);
    const perClientMs = flags["per-client"] === undefined ? 5000 : flags["per-client"] === "0s" ? 0 : parseDurationFlag("per-client", flags["per-client"]);
    const loadFlags: Flags<LoadTestFlag> = {
        users: flags.users ?? (flags.rate === undefined ? "500" : undefined),
        rate: flags.rate,
        "think-time": flags["think-time"],
        duration: flags.duration ?? "10s",
        timeout: flags.timeout,
        "slo-p95": flags["slo-p95"],
        "max-error-rate": flags["max-error-rate"],
        "max-429-rate": flags["max-429-rate"],
    };
    const slo = sloFromFlags(loadFlags, () => stackP95Ms(stack));
    // Validates the load flags before anything starts (the URL is replaced below).
    planFromFlags({ ...loadFlags, url: "http://127.0.0.1:1" });
    const affinity = flags["client-affinity"];
    if (affinity !== undefined && affinity !== "on" && affinity !== "off") throw new Error(`--client-affinity must be on or off (got '${affinity}')\n${USAGE}`);
    const deployed = { ...deployedNginxConfOptions(stack), ...(affinity === undefined ? {} : { clientAffinity: affinity === "on" }) };
    const out = flags.out ?? defaultOutDir();

    const onSignal = (signal: NodeJS.Signals): void => {
        process.stderr.write(`loadtest:local: ${signal}, stopping\n`);
        aborter.abort();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const checkAborted = (): void => {
        if (aborter.signal.aborted) throw new Error("loadtest:local: interrupted");
    };
    const root = makeTempDir("loadtest");
    const syslog = dgram.createSocket("udp4");
    let accessLogLines = 0;
    let succeeded = false;
    try {
        // nginx runs as nobody when this runs as root: it must be able to reach its prefix directory.
        fs.chmodSync(root, 0o755);
        // The per-client check runs the stack's replica count of nginx instances; the journey uses the first.
        const nginxCount = perClientMs > 0 ? deployed.replicas : 1;
        const ports = await freePorts(2 * gateways + 3 * nginxCount);
        const gatewayPorts = ports.slice(0, gateways);
        const directPorts = ports.slice(gateways, 2 * gateways);
        const nginxPorts = ports.slice(2 * gateways);
        const gatewayScript = path.join(PROJECT_ROOT, "scripts", "loadtest-gateway.ts");
        gatewayPorts.forEach((port, index) => {
            const name = `gateway-${index + 1}`;
            const args = ["--name", name, "--port", String(port), "--direct-port", String(directPorts[index]), "--latency", gatewayLatency];
            const server = startServer(name, process.execPath, ["--import", "tsx", gatewayScript, ...args], path.join(root, `${name}.log`), { cwd: PROJECT_ROOT });
            process.stderr.write(`loadtest:local: started ${name} on 127.0.0.1:${port} for nginx and :${directPorts[index]} for the direct run (pid ${server.pid})\n`);
        });
        for (const port of gatewayPorts) await waitFor(`gateway on port ${port}`, () => gatewayStats(port), 20000, 100);
        checkAborted();

        // The access log goes to the log exporter's port in a pod; here to a UDP listener that counts lines.
        syslog.on("message", () => accessLogLines++);
        await new Promise<void>((resolve) => syslog.bind(0, "127.0.0.1", resolve));
        const certificate = await makeLocalCertificate(path.join(root, "tls"));
        const nginxUrls: string[] = [];
        let options = deployed;
        for (let index = 0; index < nginxCount; index++) {
            const name = nginxCount > 1 ? `nginx-${index + 1}` : "nginx";
            const [listenPort, tlsPort, statusPort] = nginxPorts.slice(3 * index, 3 * index + 3);
            const nginxDir = path.join(root, name);
            prepareLocalNginxDir(nginxDir);
            options = localNginxConfOptions(deployed, {
                dir: nginxDir,
                servers: gatewayPorts.map((port) => `127.0.0.1:${port}`),
                listenPort,
                statusPort,
                accessLogSyslog: `127.0.0.1:${(syslog.address() as { port: number }).port}`,
                tls: { listenPort: tlsPort, certificateFile: certificate.certificateFile, keyFile: certificate.keyFile },
            });
            const confPath = path.join(nginxDir, "nginx.conf");
            fs.writeFileSync(confPath, renderNginxConf(options));
            const nginx = startServer(name, NGINX_BINARY, ["-p", nginxDir, "-c", confPath], path.join(root, `${name}.out`), NGINX_RUN_AS);
            process.stderr.write(
                `loadtest:local: started ${name} (${stack}'s nginx.conf, ${options.workerProcesses} workers) on 127.0.0.1:${tlsPort} (HTTPS) and :${listenPort} (HTTP, redirects) (pid ${nginx.pid})\n`,
            );
            await waitFor(`${name} proxying /api/health over HTTPS`, async () => (await loopbackGet(tlsPort, "/api/health", { caFile: certificate.caFile, timeoutMs: 2000 })).status === 200, 20000, 100);
            nginxUrls.push(`https://127.0.0.1:${tlsPort}`);
            checkAborted();
        }

        const viaNginxUrl = nginxUrls[0];
        const viaNginxTls = await negotiatedTls(Number(new URL(viaNginxUrl).port), certificate.caPem);
        // Through nginx the tester verifies the test CA's certificate, as a client verifies the stack's.
        const caFlag = { "ca-file": certificate.caFile };
        const directUrl = directPorts.map((port) => `http://127.0.0.1:${port}`).join(",");
        const run = (label: string, plan: LoadPlan, runSlo: Slo = slo): Promise<LoadResult> => runLoadTest(plan, { label, slo: runSlo, signal: aborter.signal });

        /**
         * One client address (not one of the journey's) offering twice the stack's per-client trading
         * rate over 20 connections, first all to one replica, then spread over `urls` (connection u
         * to replica u mod count), as the Service with and without ClientIP affinity would send it.
         */
        const perClientCheck = async (urls: string[]): Promise<PerClientCheck> => {
            const limits = perInstanceLimits(deployed);
            const configuredRate = deployed.rateLimits.trading;
            const offeredRate = 2 * configuredRate;
            const connections = Math.min(20, offeredRate);
            const client = loopbackSourceAddresses(LIMITS_USERS_PLUS_ONE).slice(-1);
            const trading = JOURNEY.filter((step) => step.path.startsWith(deployed.tradingPathPrefix));
            const replicaRate = limits.ratePerMinute.trading / 60;
            const scenario = async (label: string, targets: string[]): Promise<PerClientOutcome> => {
                // Let the client's buckets from the previous scenario drain (burst at the replica's rate).
                await sleep(Math.min(10_000, Math.ceil((1000 * (limits.burst + 1)) / replicaRate) + 500));
                const plan: LoadPlan = {
                    ...planFromFlags({ url: targets.join(","), users: String(connections), rate: String(offeredRate), duration: `${perClientMs}ms`, ...caFlag }, trading),
                    sourceAddresses: client,
                };
                const result = await run(label, plan, { ...slo, max429Rate: 1 });
                const { scheduled: sent, ok, limited } = result.totals;
                return { sent, ok, limited, okPerSecond: ok / (perClientMs / 1000) };
            };
            process.stderr.write(`loadtest:local: per-client check: one client at ${offeredRate} trading requests/s for ${perClientMs / 1000} s\n`);
            const pinned = await scenario("one client, one replica", urls.slice(0, 1));
            const spread = urls.length > 1 ? await scenario(`one client, ${urls.length} replicas`, urls) : undefined;
            return {
                configuredRate,
                configuredBurst: deployed.burst,
                replicas: deployed.replicas,
                clientAffinity: deployed.clientAffinity ?? false,
                perReplica: { rate: limits.rate.trading, burst: limits.burst },
                offeredRate,
                seconds: perClientMs / 1000,
                pinned,
                spread,
            };
        };
        if (warmupMs > 0) {
            process.stderr.write(`loadtest:local: warm-up through nginx for ${warmupMs / 1000} s (not reported)\n`);
            await run("warm-up", planFromFlags({ ...loadFlags, duration: `${warmupMs}ms`, url: viaNginxUrl, ...caFlag }));
        }
        // Both runs at once: whatever else the machine does slows both alike, so their difference is nginx's.
        const before = await Promise.all(gatewayPorts.map(gatewayStats));
        const [viaNginx, direct] = await Promise.all([
            run("nginx", planFromFlags({ ...loadFlags, url: viaNginxUrl, ...caFlag })),
            run("direct", planFromFlags({ ...loadFlags, url: directUrl })),
        ]);
        const after = await Promise.all(gatewayPorts.map(gatewayStats));

        const perClient = perClientMs > 0 ? await perClientCheck(deployed.replicas > 1 ? nginxUrls : nginxUrls.slice(0, 1)) : undefined;
        const overhead = nginxOverhead(viaNginx, direct);
        const upstream = upstreamReuse(before, after);
        const summary: LocalRunSummary = {
            stack,
            gateways,
            gatewayLatencyMs,
            nginxWorkers: options.workerProcesses,
            tls: viaNginxTls,
            overhead,
            upstream,
            viaNginx: { requestsPerSecond: viaNginx.throughput.requestsPerSecond, p95Ms: viaNginx.latencyMs.p95, sloPassed: viaNginx.slo.passed },
            direct: { requestsPerSecond: direct.throughput.requestsPerSecond, p95Ms: direct.latencyMs.p95, sloPassed: direct.slo.passed },
            perClient,
        };
        const written = writeResults(out, `Local load test: ${stack}'s nginx.conf in front of ${gateways} reference gateways, and direct`, [
            { name: "nginx", result: viaNginx },
            { name: "direct", result: direct },
        ]);
        fs.writeFileSync(path.join(out, "local.json"), `${JSON.stringify(summary, null, 2)}\n`);
        console.log(
            [
                ...summaryLines(viaNginx),
                ...summaryLines(direct),
                `nginx adds: p50 ${signed(overhead.p50Ms)}, p95 ${signed(overhead.p95Ms)}, p99 ${signed(overhead.p99Ms)} ` +
                    `(p95 through nginx ${formatMs(viaNginx.latencyMs.p95)}, direct ${formatMs(direct.latencyMs.p95)}; ${viaNginx.throughput.requestsPerSecond.toFixed(1)} req/s through nginx; ` +
                    `HTTPS to nginx, ${viaNginxTls.protocol} ${viaNginxTls.cipher}, one handshake per client connection, plain HTTP direct)`,
                `upstream connection reuse: ${upstream.requests} proxied requests over ${upstream.newConnections} new TCP connections to the gateways during the nginx run ` +
                    `(${(100 * upstream.reuse).toFixed(1)}% reused; ${viaNginx.plan.users} client connections to nginx; ${options.workerProcesses} workers x keepalive ${options.upstreamKeepalive})`,
                `access log: ${accessLogLines} lines reached the syslog listener`,
                ...(perClient ? perClientLines(perClient) : []),
                `results: ${written.json.join(", ")}, ${path.join(out, "local.json")}; report: ${written.report}`,
            ].join("\n"),
        );
        succeeded = true;
        return viaNginx.slo.passed ? 0 : SLO_MISSED_EXIT;
    } finally {
        await stopAllServers();
        try {
            syslog.close();
        } catch {
            /* never bound */
        }
        // Logs are kept for a failure, not for a finished or interrupted run.
        if (succeeded || aborter.signal.aborted) fs.rmSync(root, { recursive: true, force: true });
        else process.stderr.write(`loadtest:local: logs kept in ${root}\n`);
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(aborter.signal.aborted ? 130 : code),
        (error: unknown) => {
            process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
            process.exit(aborter.signal.aborted ? 130 : 1);
        },
    );
}
