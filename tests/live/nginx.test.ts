// The load balancer tier's rendered nginx.conf on Debian's nginx (127.0.0.1 only, run unprivileged
// as `nobody` when the tests run as root): prod's settings with the upstream rendered as a static
// list of three local HTTP servers (Debian's nginx 1.22 predates `resolve`); only ports and paths
// differ from what the component deploys. Measures: spread over the upstreams, client requests
// failed while an upstream is killed mid-run, the share of 429s above the trading rate, upstream
// connection reuse, graceful drain, and the access-log lines the log exporter parses.
import * as dgram from "dgram";
import { execFile } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import {
    ACCESS_LOG_SYSLOG_TAG,
    HEALTH_PATH,
    METRICS_LOG_FORMAT,
    perInstanceLimits,
    renderNginxConf,
    upstreamKeepaliveFor,
} from "../../components/loadbalancer/render";
import { deployedNginxConfOptions, localNginxConfOptions, NGINX_BINARY as NGINX, NGINX_RUN_AS as RUN_AS, prepareLocalNginxDir } from "../../scripts/local-nginx";
import { freePorts, isAlive, killServer, makeTempDir, report, Server, sleep, startServer, stopAllServers, stopServer, waitFor } from "./support";

/** What the tier renders nginx.conf with in prod; the test replaces the upstream, ports and paths. */
const deployed = deployedNginxConfOptions("prod");
const limits = perInstanceLimits(deployed);

/**
 * One upstream "gateway": answers with its name, `/slow...` after 1.5 s, `/busy...` after 20 ms
 * (so requests overlap), and its counters on
 * `/__stats` (asked directly, not through nginx). It counts the distinct TCP connections that
 * carried proxied requests, to measure keepalive reuse. Its idle timeout is longer than nginx's
 * upstream keepalive_timeout, as the gateways' must be.
 */
const UPSTREAM_SCRIPT = `
const http = require("http");
const [name, port] = process.argv.slice(1);
let requests = 0, connections = 0;
const seen = new WeakSet();
const server = http.createServer((req, res) => {
    if (req.url === "/__stats") {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ name, requests, connections }));
        return;
    }
    requests++;
    if (!seen.has(req.socket)) { seen.add(req.socket); connections++; }
    const reply = () => { res.setHeader("content-type", "text/plain"); res.end(name); };
    if (req.url.startsWith("/slow")) setTimeout(reply, 1500);
    else if (req.url.startsWith("/busy")) setTimeout(reply, 20);
    else reply();
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 121000;
server.listen(Number(port), "127.0.0.1");
`;

interface Upstream {
    name: string;
    port: number;
    server: Server;
}

interface Outcome {
    status: number;
    /** The upstream's name (body) for 200s; empty otherwise. */
    upstream: string;
    /** Set when the request got no HTTP response at all. */
    error?: string;
}

let root: string;
let nginxPort: number;
let confPath: string;
let nginx: Server;
let upstreams: Upstream[];
let syslog: dgram.Socket;
const syslogLines: string[] = [];
/** Every response status the clients saw through nginx, for comparison with the access log. */
const clientStatuses = new Map<number, number>();
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

function request(port: number, urlPath: string, timeoutMs = 10000, httpAgent: http.Agent | false = agent): Promise<Outcome> {
    return new Promise((resolve) => {
        const req = http.get({ host: "127.0.0.1", port, path: urlPath, agent: httpAgent, timeout: timeoutMs }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => (body += chunk));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, upstream: res.statusCode === 200 ? body : "" }));
            res.on("error", (error) => resolve({ status: 0, upstream: "", error: String(error) }));
        });
        req.on("timeout", () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
        req.on("error", (error) => resolve({ status: 0, upstream: "", error: String(error) }));
    });
}

/** A request through nginx, its status recorded for the access-log comparison. */
async function viaNginx(urlPath: string): Promise<Outcome> {
    const outcome = await request(nginxPort, urlPath);
    if (outcome.status) clientStatuses.set(outcome.status, (clientStatuses.get(outcome.status) ?? 0) + 1);
    return outcome;
}

/**
 * `count` requests started `intervalMs` apart (below the zone's rate, so none is limited),
 * at most `maxInFlight` at once; `onStart(i)` runs before request i. Bounded by `maxMs`.
 */
async function paced(count: number, intervalMs: number, urlPath: (i: number) => string, maxMs: number, onStart?: (i: number) => Promise<void> | void): Promise<Outcome[]> {
    const deadline = Date.now() + maxMs;
    const pending: Promise<Outcome>[] = [];
    const inFlight = new Set<Promise<Outcome>>();
    for (let i = 0; i < count; i++) {
        if (Date.now() > deadline) throw new Error(`paced: only ${i} of ${count} requests started within ${maxMs} ms`);
        await onStart?.(i);
        while (inFlight.size >= 16) await Promise.race(inFlight);
        const outcome = viaNginx(urlPath(i));
        inFlight.add(outcome);
        void outcome.then(() => inFlight.delete(outcome));
        pending.push(outcome);
        await sleep(intervalMs);
    }
    return Promise.all(pending);
}

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
    return counts;
}

async function stats(upstream: Upstream): Promise<{ requests: number; connections: number }> {
    const outcome = await new Promise<string>((resolve, reject) => {
        http.get({ host: "127.0.0.1", port: upstream.port, path: "/__stats", agent: false }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => (body += chunk));
            res.on("end", () => resolve(body));
        }).on("error", reject);
    });
    return JSON.parse(outcome) as { requests: number; connections: number };
}

/** nginx as the unprivileged user; resolves with its stderr (nginx -t reports there). */
function nginxCommand(args: string[]): Promise<{ code: number; stderr: string }> {
    return new Promise((resolve) => {
        execFile(NGINX, args, { ...RUN_AS, timeout: 15000 }, (error, _stdout, stderr) => {
            resolve({ code: error ? Number((error as NodeJS.ErrnoException).code ?? 1) || 1 : 0, stderr });
        });
    });
}

/**
 * The exporter's parser (gonx, as prometheus-nginxlog-exporter uses it): each `$var` followed by
 * the character c matches `[^c]*`; the format gets a trailing space so the last variable ends too,
 * then that space is trimmed and the expression anchored at the start only.
 */
function exporterPattern(format: string): RegExp {
    const text = `${format} `;
    let pattern = "";
    for (let i = 0; i < text.length; ) {
        const variable = /^\$([a-z_]+)/.exec(text.slice(i));
        if (variable) {
            const next = text[i + variable[0].length];
            pattern += `(?<${variable[1]}>[^${next.replace(/[\]\\^-]/g, "\\$&")}]*)`;
            i += variable[0].length;
        } else {
            pattern += text[i].replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
            i++;
        }
    }
    return new RegExp(`^${pattern.replace(/ +$/, "")}`);
}

beforeAll(async () => {
    root = makeTempDir("nginx");
    const upstreamPorts = await freePorts(3);
    [nginxPort] = await freePorts(1);
    let statusPort = nginxPort;
    while (statusPort === nginxPort || upstreamPorts.includes(statusPort)) [statusPort] = await freePorts(1);
    upstreams = upstreamPorts.map((port, index) => {
        const name = `gateway-${index + 1}`;
        const server = startServer(name, process.execPath, ["-e", UPSTREAM_SCRIPT, name, String(port)], path.join(root, `${name}.log`));
        return { name, port, server };
    });
    for (const upstream of upstreams) await waitFor(`${upstream.name} listening`, () => stats(upstream), 10000, 100);

    // The log exporter's stand-in: a UDP syslog receiver on loopback.
    syslog = dgram.createSocket("udp4");
    syslog.on("message", (message) => syslogLines.push(message.toString("utf8")));
    await new Promise<void>((resolve) => syslog.bind(0, "127.0.0.1", resolve));

    prepareLocalNginxDir(root);
    const options = localNginxConfOptions(deployed, {
        dir: root,
        servers: upstreams.map((upstream) => `127.0.0.1:${upstream.port}`),
        listenPort: nginxPort,
        statusPort,
        accessLogSyslog: `127.0.0.1:${(syslog.address() as { port: number }).port}`,
    });
    confPath = path.join(root, "nginx.conf");
    fs.writeFileSync(confPath, renderNginxConf(options));

    nginx = startServer("nginx", NGINX, ["-p", root, "-c", confPath], path.join(root, "nginx.out"), RUN_AS);
    await waitFor("nginx answering /healthz", async () => (await request(nginxPort, HEALTH_PATH, 2000, false)).status === 200, 10000, 100);
});

afterAll(async () => {
    agent.destroy();
    syslog?.close();
    await stopAllServers();
    if (root) fs.rmSync(root, { recursive: true, force: true });
});

test("the rendered nginx.conf passes nginx -t, run unprivileged", async () => {
    const { code, stderr } = await nginxCommand(["-t", "-p", root, "-c", confPath]);
    expect(stderr).toContain("syntax is ok");
    expect(stderr).toContain("test is successful");
    expect(code).toBe(0);
    const conf = fs.readFileSync(confPath, "utf8");
    expect(conf).toContain(`limit_req_zone $binary_remote_addr zone=trading:${deployed.zoneSize} rate=${limits.rate.trading};`);
});

test("requests spread over the three upstreams", async () => {
    const outcomes = await paced(600, 6, (i) => `/users/${i}`, 30000);
    const statuses = countBy(outcomes, (o) => String(o.status || o.error));
    const spread = countBy(outcomes, (o) => o.upstream);
    report(`nginx spread of 600 requests: ${JSON.stringify(spread)} (statuses ${JSON.stringify(statuses)})`);
    expect(statuses).toEqual({ "200": 600 });
    for (const upstream of upstreams) expect(spread[upstream.name]).toBeGreaterThanOrEqual(600 * 0.2);
});

test("upstream connections are reused (keepalive)", async () => {
    const before = await Promise.all(upstreams.map(stats));
    const outcomes = await paced(600, 6, (i) => `/api/users/${i}`, 30000);
    const after = await Promise.all(upstreams.map(stats));
    const sum = (list: { requests: number; connections: number }[], key: "requests" | "connections"): number => list.reduce((total, s) => total + s[key], 0);
    // Since nginx started: every proxied request and every upstream TCP connection that carried one.
    const requests = sum(after, "requests");
    const connections = sum(after, "connections");
    const phaseRequests = requests - sum(before, "requests");
    const phaseConnections = connections - sum(before, "connections");
    report(
        `nginx keepalive: ${requests} upstream requests over ${connections} upstream TCP connections since start ` +
            `(${(requests / connections).toFixed(1)} per connection; this phase: ${phaseRequests} requests, ${phaseConnections} new connections)`,
    );
    expect(outcomes.every((o) => o.status === 200)).toBe(true);
    expect(phaseRequests).toBe(600);
    expect(connections).toBeGreaterThanOrEqual(upstreams.length);
    // Without keepalive every request opens its own connection.
    expect(connections).toBeLessThanOrEqual(requests / 10);
});

/**
 * Upstream connection reuse at `clients` concurrent client connections, each sending `perClient`
 * requests one after another to the upstreams' 20 ms `/busy` path, through an nginx rendered from
 * the deployed options with `workers` workers and `keepalive` idle connections per worker. The
 * limits are raised out of the way (this measures keepalive, not limiting). Its own nginx, started
 * and stopped here; bounded by the request count and 60 s.
 */
async function keepaliveReuse(name: string, keepalive: number, workers: number, clients: number, perClient: number): Promise<{ requests: number; newConnections: number; failed: number }> {
    const dir = path.join(root, name);
    prepareLocalNginxDir(dir);
    const [port, statusPort] = await freePorts(2);
    const conf = path.join(dir, "nginx.conf");
    fs.writeFileSync(
        conf,
        renderNginxConf({
            ...localNginxConfOptions(deployed, {
                dir,
                servers: upstreams.map((upstream) => `127.0.0.1:${upstream.port}`),
                listenPort: port,
                statusPort,
                accessLogSyslog: `127.0.0.1:${(syslog.address() as { port: number }).port}`,
            }),
            workerProcesses: workers,
            upstreamKeepalive: keepalive,
            rateLimits: { global: 1_000_000, api: 1_000_000, trading: 1_000_000 },
            // Requests arriving in the same millisecond count against the burst, whatever the rate.
            burst: 100_000,
            // nginx's ceiling for limit_conn (each instance gets all of it with client affinity).
            limitConn: 65_535,
        }),
    );
    const server = startServer(`nginx-${name}`, NGINX, ["-p", dir, "-c", conf], path.join(dir, "nginx.out"), RUN_AS);
    const clientAgent = new http.Agent({ keepAlive: true, maxSockets: clients });
    try {
        await waitFor(`nginx ${name} answering`, async () => (await request(port, HEALTH_PATH, 2000, false)).status === 200, 10000, 100);
        const before = await Promise.all(upstreams.map(stats));
        const deadline = Date.now() + 60000;
        const failures: Record<string, number> = {};
        await Promise.all(
            Array.from({ length: clients }, async (_, client) => {
                for (let i = 0; i < perClient && Date.now() < deadline; i++) {
                    const outcome = await request(port, `/busy/${client}/${i}`, 10000, clientAgent);
                    if (outcome.status !== 200) {
                        const key = String(outcome.status || outcome.error);
                        failures[key] = (failures[key] ?? 0) + 1;
                    }
                }
            }),
        );
        const failed = Object.values(failures).reduce((total, count) => total + count, 0);
        if (failed > 0) report(`nginx ${name}: failures ${JSON.stringify(failures)}; error log: ${fs.readFileSync(path.join(dir, "error.log"), "utf8").split("\n").slice(-3).join(" | ")}`);
        const after = await Promise.all(upstreams.map(stats));
        const delta = (key: "requests" | "connections") => after.reduce((total, s, i) => total + s[key] - before[i][key], 0);
        return { requests: delta("requests"), newConnections: delta("connections"), failed };
    } finally {
        clientAgent.destroy();
        await stopServer(server, 10000);
    }
}

test("upstream keepalive sized for the concurrency reuses connections where the old 64 could not", async () => {
    // Two workers, as a 2-CPU limit gives; 512 client connections are 256 per worker, above the old 64.
    const workers = 2;
    const clients = 512;
    const perClient = 10;
    const sized = upstreamKeepaliveFor({ concurrentRequests: clients, replicas: 1, workerProcesses: workers });
    const results: Record<string, { requests: number; newConnections: number; failed: number }> = {};
    for (const [name, keepalive] of [["old-64", 64], [`sized-${sized}`, sized]] as const) {
        const result = await keepaliveReuse(name, keepalive, workers, clients, perClient);
        results[name] = result;
        const reuse = 1 - result.newConnections / result.requests;
        report(
            `nginx keepalive ${keepalive}/worker, ${workers} workers, ${clients} concurrent clients x ${perClient} requests: ${result.requests} upstream requests over ` +
                `${result.newConnections} new upstream connections (the first ${clients} concurrent requests need ${clients}; ${result.newConnections - clients} beyond), ` +
                `reuse ${(100 * reuse).toFixed(1)}% (${result.failed} failed)`,
        );
        expect(result.failed).toBe(0);
        expect(result.requests).toBe(clients * perClient);
    }
    const [old, fitted] = Object.values(results);
    expect(fitted.newConnections).toBeLessThan(old.newConnections);
}, 180000);

test("requests above the trading rate get 429", async () => {
    await sleep(1500); // let earlier phases' buckets drain
    const total = 300;
    const started = Date.now();
    const pending: Promise<Outcome>[] = [];
    // As fast as 20 concurrent clients go: far above the instance's trading share.
    let next = 0;
    const worker = async (): Promise<void> => {
        while (next < total && Date.now() - started < 30000) {
            next++;
            const outcome = viaNginx(`/api/trading/orders/${next}`);
            pending.push(outcome);
            await outcome;
        }
    };
    await Promise.all(Array.from({ length: 20 }, worker));
    const outcomes = await Promise.all(pending);
    const elapsedSeconds = (Date.now() - started) / 1000;
    const ok = outcomes.filter((o) => o.status === 200).length;
    const limited = outcomes.filter((o) => o.status === 429).length;
    const ratePerSecond = limits.ratePerMinute.trading / 60;
    const ceiling = Math.ceil(limits.burst + 1 + ratePerSecond * elapsedSeconds);
    report(
        `nginx trading limit: ${total} requests in ${elapsedSeconds.toFixed(2)} s -> ${ok} x 200, ${limited} x 429 ` +
            `(${((100 * limited) / total).toFixed(1)}% 429; instance share ${ratePerSecond.toFixed(1)} r/s, burst ${limits.burst}, so at most ${ceiling} may pass)`,
    );
    expect(ok + limited).toBe(total);
    expect(limited).toBeGreaterThan(0);
    expect(ok).toBeGreaterThanOrEqual(limits.burst);
    expect(ok).toBeLessThanOrEqual(ceiling);
});

test("with one upstream killed mid-run no client request fails", async () => {
    await sleep(1500);
    const victim = upstreams[2];
    let killedAt = -1;
    const outcomes = await paced(900, 6, (i) => `/orders/${i}`, 40000, async (i) => {
        if (i === 300) {
            await killServer(victim.server);
            killedAt = i;
        }
    });
    const failed = outcomes.filter((o) => o.status !== 200);
    const afterKill = outcomes.slice(killedAt + 16); // requests started after the kill and after the in-flight window
    const errorLog = fs.readFileSync(path.join(root, "error.log"), "utf8");
    const retried = (errorLog.match(/while connecting to upstream|prematurely closed|upstream timed out/g) ?? []).length;
    report(
        `nginx upstream kill: ${victim.name} SIGKILLed at request ${killedAt} of ${outcomes.length}; failed client requests: ${failed.length}; ` +
            `upstream errors nginx absorbed: ${retried}; spread before ${JSON.stringify(countBy(outcomes.slice(0, killedAt), (o) => o.upstream))} after ${JSON.stringify(countBy(afterKill, (o) => o.upstream))}`,
    );
    expect(isAlive(victim.server.pid)).toBe(false);
    expect(failed).toEqual([]);
    expect(afterKill.some((o) => o.upstream === victim.name)).toBe(false);
});

test("the access log reaches the log exporter's syslog port in the format it parses", async () => {
    await waitFor(
        "access-log lines",
        () => syslogLines.length >= 0.95 * [...clientStatuses.values()].reduce((sum, n) => sum + n, 0),
        5000,
        100,
    );
    const pattern = exporterPattern(METRICS_LOG_FORMAT);
    const header = new RegExp(`^<\\d+>\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d \\S+ ${ACCESS_LOG_SYSLOG_TAG}: (.*)$`);
    const unparsed: string[] = [];
    const logged = new Map<number, number>();
    for (const line of syslogLines) {
        const content = header.exec(line)?.[1];
        const fields = content !== undefined ? pattern.exec(content)?.groups : undefined;
        if (!fields || !/^\d+\.\d{3}$/.test(fields.request_time) || !/^GET \//.test(fields.request)) {
            unparsed.push(line);
            continue;
        }
        logged.set(Number(fields.status), (logged.get(Number(fields.status)) ?? 0) + 1);
    }
    report(`nginx access log: ${syslogLines.length} syslog lines, statuses ${JSON.stringify(Object.fromEntries(logged))}; clients saw ${JSON.stringify(Object.fromEntries(clientStatuses))}`);
    expect(unparsed.slice(0, 3)).toEqual([]);
    // UDP may drop a line under load; on loopback nearly all arrive.
    for (const status of [200, 429]) expect(logged.get(status) ?? 0).toBeGreaterThanOrEqual(0.95 * (clientStatuses.get(status) ?? 0));
    expect(logged.get(429) ?? 0).toBeGreaterThan(0);
});

test("graceful stop: an in-flight request completes, new connections are refused, nginx exits", async () => {
    const slow = request(nginxPort, "/slow/order", 10000, false);
    await sleep(300);
    const stopped = Date.now();
    process.kill(nginx.pid, "SIGQUIT"); // what the pod's preStop sends (nginx -s quit)
    await sleep(200);
    const refused = await request(nginxPort, HEALTH_PATH, 2000, false);
    const outcome = await slow;
    await waitFor("nginx master exits", () => !isAlive(nginx.pid), 10000, 50);
    report(`nginx graceful stop: in-flight request -> ${outcome.status || outcome.error}, new connection -> ${refused.error ?? refused.status}, master gone after ${Date.now() - stopped} ms`);
    expect(outcome.status).toBe(200);
    expect(refused.status).toBe(0);
    expect(refused.error).toMatch(/ECONNREFUSED/);
});
