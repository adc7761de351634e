// The load balancer tier's rendered nginx.conf on Debian's nginx (127.0.0.1 only, run unprivileged
// as `nobody` when the tests run as root), started by the container's rendered start script (which
// reloads nginx when its certificate changes): prod's settings with the upstream rendered as a
// static list of local HTTP servers (Debian's nginx 1.22 predates `resolve`) and a certificate from
// a test CA made with openssl; only ports and paths differ from what the component deploys. Checks
// TLS (versions, ciphers, verification, redirect, HSTS, plain HTTP on the TLS port, a renewed
// certificate picked up), retries (never a POST that reached a gateway, never on a 500, a refused
// connection retried), X-Forwarded-For and real_ip, and the client header timeout. Measures: spread
// over the upstreams, client requests failed while an upstream is killed mid-run, the share of
// 429s above the trading rate, upstream connection reuse, graceful drain, and the access-log lines
// the log exporter parses.
import * as dgram from "dgram";
import { execFile } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as net from "net";
import * as path from "path";
import * as tls from "tls";
import {
    ACCESS_LOG_SYSLOG_TAG,
    HEALTH_PATH,
    METRICS_LOG_FORMAT,
    NginxConfOptions,
    perInstanceLimits,
    renderNginxConf,
    renderNginxStartScript,
    TLS12_CIPHERS,
    upstreamKeepaliveFor,
} from "../../components/loadbalancer/render";
import { deployedNginxConfOptions, localNginxConfOptions, NGINX_BINARY, NGINX_RUN_AS, prepareLocalNginxDir } from "../../scripts/local-nginx";
import { freePorts, isAlive, killServer, makeTempDir, report, Server, sleep, startServer, stopAllServers, stopServer, waitFor } from "./support";
import { issueServerCertificate, makeTestCa, mountAsSecret, TestCa, TestServerCertificate } from "./tls-support";

/** What the tier renders nginx.conf with in prod; the test replaces the upstream, ports, paths and certificate (local-nginx.ts). */
const deployed = deployedNginxConfOptions("prod");
const limits = perInstanceLimits(deployed);
/** The name the test certificates are for (and the Host clients send). */
const SERVER_NAME = "localhost";
/** How often the start script looks at the certificate here (the pod: CERTIFICATE_CHECK_SECONDS). */
const CERTIFICATE_CHECK_SECONDS = 1;
const HSTS = `max-age=${deployed.tls.hstsMaxAgeSeconds}; includeSubDomains`;

/**
 * One upstream "gateway": answers with its name, `/slow...` after 1.5 s, `/busy...` after 20 ms
 * (so requests overlap), `/reset...` by resetting the connection once it has read the request,
 * `/fail...` with 500, `/echo...` with the client-address headers it got, and its counters and
 * the requests it got on `/__stats` (asked directly, not through nginx). It counts the distinct TCP connections that
 * carried proxied requests, to measure keepalive reuse. Its idle timeout is longer than nginx's
 * upstream keepalive_timeout, as the gateways' must be.
 */
const UPSTREAM_SCRIPT = `
const http = require("http");
const [name, port] = process.argv.slice(1);
let requests = 0, connections = 0;
const seen = new WeakSet();
const log = [];
const server = http.createServer((req, res) => {
    if (req.url === "/__stats") {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ name, requests, connections, log }));
        return;
    }
    requests++;
    log.push(req.method + " " + req.url);
    // After reading the request: a reset (nginx: an error after the request was sent), or a 500.
    if (req.url.startsWith("/reset")) { req.resume(); req.on("end", () => req.socket.resetAndDestroy()); return; }
    if (req.url.startsWith("/fail")) { res.statusCode = 500; res.end(name); return; }
    if (req.url.startsWith("/echo")) {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ name, forwardedFor: req.headers["x-forwarded-for"] ?? null, realIp: req.headers["x-real-ip"] ?? null }));
        return;
    }
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
    /** The whole body. */
    body: string;
    /** The Strict-Transport-Security header, if any. */
    hsts?: string;
    /** The Location header, if any. */
    location?: string;
    /** Set when the request got no HTTP response at all. */
    error?: string;
}

/** A request's method, headers and body (GET without a body by default). */
interface RequestOptions {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
}

/** A running nginx: the start script's shell (the Server) and nginx's ports and files. */
interface Nginx {
    server: Server;
    httpPort: number;
    tlsPort: number;
    dir: string;
    pidFile: string;
    errorLog: string;
}

let root: string;
let ca: TestCa;
let certificates: TestServerCertificate[];
/** The mounted-Secret directory every nginx of this file reads its certificate from. */
let tlsFiles: { certificateFile: string; keyFile: string };
let nginx: Nginx;
let upstreams: Upstream[];
let syslog: dgram.Socket;
/** Where the other nginx instances send their access log: not counted with the main instance's. */
let otherSyslog: dgram.Socket;
const syslogLines: string[] = [];
/** Every response status the clients saw through nginx, for comparison with the access log. */
const clientStatuses = new Map<number, number>();
let agent: https.Agent;

/**
 * A request to nginx's HTTPS port on 127.0.0.1, verified against the test CA, or with `plain` an
 * HTTP request (to the plain port, or to the TLS port to see it refused).
 */
function request(
    port: number,
    urlPath: string,
    timeoutMs = 10000,
    httpAgent: https.Agent | false = agent,
    options: RequestOptions & { plain?: boolean } = {},
): Promise<Outcome> {
    return new Promise((resolve) => {
        const common = { host: "127.0.0.1", port, path: urlPath, method: options.method ?? "GET", headers: { host: SERVER_NAME, ...options.headers }, timeout: timeoutMs };
        const onResponse = (res: http.IncomingMessage): void => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => (body += chunk));
            res.on("end", () =>
                resolve({
                    status: res.statusCode ?? 0,
                    upstream: res.statusCode === 200 ? body : "",
                    body,
                    hsts: res.headers["strict-transport-security"],
                    location: res.headers.location,
                }),
            );
            res.on("error", (error) => resolve({ status: 0, upstream: "", body: "", error: String(error) }));
        };
        const req = options.plain
            ? http.request({ ...common, agent: false }, onResponse)
            : https.request({ ...common, agent: httpAgent, ca: ca.pem, servername: SERVER_NAME }, onResponse);
        req.on("timeout", () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
        req.on("error", (error) => resolve({ status: 0, upstream: "", body: "", error: String(error) }));
        req.end(options.body);
    });
}

/** A request through the main nginx over HTTPS, its status recorded for the access-log comparison. */
async function viaNginx(urlPath: string): Promise<Outcome> {
    const outcome = await request(nginx.tlsPort, urlPath);
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

interface UpstreamStats {
    requests: number;
    connections: number;
    /** `METHOD /path` of every request it got, in order. */
    log: string[];
}

async function stats(upstream: Upstream): Promise<UpstreamStats> {
    const outcome = await new Promise<string>((resolve, reject) => {
        http.get({ host: "127.0.0.1", port: upstream.port, path: "/__stats", agent: false }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => (body += chunk));
            res.on("end", () => resolve(body));
        }).on("error", reject);
    });
    return JSON.parse(outcome) as UpstreamStats;
}

/** nginx as the unprivileged user; resolves with its stderr (nginx -t reports there). */
function nginxCommand(args: string[]): Promise<{ code: number; stderr: string }> {
    return new Promise((resolve) => {
        execFile(NGINX_BINARY, args, { ...NGINX_RUN_AS, timeout: 15000 }, (error, _stdout, stderr) => {
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

/** Starts `count` upstream gateways named `<prefix>-<n>` and waits until each answers. */
async function startUpstreams(prefix: string, count: number): Promise<Upstream[]> {
    const ports = await freePorts(count);
    const started = ports.map((port, index) => {
        const name = `${prefix}-${index + 1}`;
        const server = startServer(name, process.execPath, ["-e", UPSTREAM_SCRIPT, name, String(port)], path.join(root, `${name}.log`));
        return { name, port, server };
    });
    for (const upstream of started) await waitFor(`${upstream.name} listening`, () => stats(upstream), 10000, 100);
    return started;
}

/**
 * An nginx rendered from the deployed options as a local run renders them (local-nginx.ts: the
 * `servers` as a static upstream, free ports, paths in its own directory under the temp dir, the
 * test certificate; its HTTPS port is the public one, so redirects name it), with `overrides` (what
 * the test changes), started by the rendered start script as the pod starts it; resolves once
 * /healthz answers over HTTPS.
 */
async function startNginx(name: string, servers: string[], overrides: Partial<NginxConfOptions> = {}, accessLog: dgram.Socket = otherSyslog): Promise<Nginx> {
    const dir = path.join(root, name);
    prepareLocalNginxDir(dir);
    const [httpPort, tlsPort, statusPort] = await freePorts(3);
    const options: NginxConfOptions = {
        ...localNginxConfOptions(deployed, {
            dir,
            servers,
            listenPort: httpPort,
            statusPort,
            accessLogSyslog: `127.0.0.1:${(accessLog.address() as { port: number }).port}`,
            tls: { listenPort: tlsPort, ...tlsFiles },
        }),
        ...overrides,
    };
    const conf = path.join(dir, "nginx.conf");
    fs.writeFileSync(conf, renderNginxConf(options));
    const script = renderNginxStartScript({ nginxCommand: [NGINX_BINARY, "-p", dir, "-c", conf], watchedFiles: [tlsFiles.certificateFile, tlsFiles.keyFile], intervalSeconds: CERTIFICATE_CHECK_SECONDS });
    const server = startServer(`nginx-${name}`, "/bin/sh", ["-c", script], path.join(dir, "nginx.out"), NGINX_RUN_AS);
    await waitFor(`nginx ${name} answering /healthz over HTTPS`, async () => (await request(tlsPort, HEALTH_PATH, 2000, false)).status === 200, 10000, 100);
    return { server, httpPort, tlsPort, dir, pidFile: options.paths.pidFile, errorLog: options.paths.errorLog };
}

/** The `127.0.0.1:port` upstream entries of `servers`. */
function addresses(servers: Upstream[]): string[] {
    return servers.map((upstream) => `127.0.0.1:${upstream.port}`);
}

/** The requests every upstream got for exactly `method path`, summed. */
async function received(servers: Upstream[], method: string, urlPath: string): Promise<number> {
    const all = await Promise.all(servers.map(stats));
    return all.reduce((total, s) => total + s.log.filter((line) => line === `${method} ${urlPath}`).length, 0);
}

/** What a TLS handshake with nginx gave: the protocol, cipher and certificate, or the error. */
interface Handshake {
    protocol?: string | null;
    cipher?: string;
    authorized?: boolean;
    /** The server certificate's serial (upper-case hex, no leading zeros). */
    serial?: string;
    error?: string;
}

/** A TLS handshake with 127.0.0.1:`port` for SERVER_NAME, verifying against the test CA unless told otherwise; bounded by 5 s. */
function handshake(port: number, options: tls.ConnectionOptions = {}): Promise<Handshake> {
    return new Promise((resolve) => {
        const socket = tls.connect({ host: "127.0.0.1", port, servername: SERVER_NAME, ca: ca.pem, ...options });
        socket.setTimeout(5000, () => socket.destroy(new Error("handshake timed out")));
        socket.once("secureConnect", () => {
            resolve({
                protocol: socket.getProtocol(),
                cipher: socket.getCipher().name,
                authorized: socket.authorized,
                serial: socket.getPeerCertificate().serialNumber.toUpperCase().replace(/^0+/, ""),
            });
            socket.end();
        });
        socket.once("error", (error) => resolve({ error: String(error) }));
    });
}

/** A client that speaks TLS 1.0 and 1.1 only, with the old cipher suites OpenSSL 3 keeps behind security level 0. */
const OLD_TLS_CLIENT: tls.ConnectionOptions = { minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT:@SECLEVEL=0" };
/** A TLS 1.2 client offering only a CBC suite with SHA-1 MACs (not in TLS12_CIPHERS). */
const WEAK_CIPHER_CLIENT: tls.ConnectionOptions = { minVersion: "TLSv1.2", maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0" };

/** Raw bytes to 127.0.0.1:`port`; resolves with what came back and when the server closed, bounded by `maxMs`. */
function rawExchange(port: number, payload: string, maxMs: number): Promise<{ received: string; closedAfterMs?: number }> {
    return new Promise((resolve) => {
        const started = Date.now();
        let received = "";
        const socket = net.connect({ host: "127.0.0.1", port }, () => socket.write(payload));
        const timer = setTimeout(() => {
            socket.destroy();
            resolve({ received });
        }, maxMs);
        socket.setEncoding("utf8");
        socket.on("data", (chunk: string) => (received += chunk));
        socket.on("error", () => undefined); // a reset: the close below reports it
        socket.on("close", () => {
            clearTimeout(timer);
            resolve({ received, closedAfterMs: Date.now() - started });
        });
    });
}

beforeAll(async () => {
    root = makeTempDir("nginx");
    // Every nginx's directory and the certificates are under it: the user nginx runs as must reach them.
    if (NGINX_RUN_AS.uid !== undefined && NGINX_RUN_AS.gid !== undefined) fs.chownSync(root, NGINX_RUN_AS.uid, NGINX_RUN_AS.gid);
    ca = await makeTestCa(path.join(root, "ca"));
    // Two certificates for the same names: the second stands for cert-manager's renewal.
    certificates = [];
    for (const generation of ["first", "renewed"]) {
        certificates.push(await issueServerCertificate(ca, path.join(root, "certificates", generation), { dnsNames: [SERVER_NAME], ipAddresses: ["127.0.0.1"] }));
    }
    tlsFiles = mountAsSecret(path.join(root, "tls"), certificates[0]);
    if (NGINX_RUN_AS.uid !== undefined && NGINX_RUN_AS.gid !== undefined) {
        for (const certificate of certificates) for (const file of [certificate.certificateFile, certificate.keyFile]) fs.chownSync(file, NGINX_RUN_AS.uid, NGINX_RUN_AS.gid);
    }
    agent = new https.Agent({ keepAlive: true, maxSockets: 32, ca: ca.pem });

    upstreams = await startUpstreams("gateway", 3);

    // The log exporter's stand-in: a UDP syslog receiver on loopback; the other instances' lines go elsewhere.
    syslog = dgram.createSocket("udp4");
    syslog.on("message", (message) => syslogLines.push(message.toString("utf8")));
    await new Promise<void>((resolve) => syslog.bind(0, "127.0.0.1", resolve));
    otherSyslog = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => otherSyslog.bind(0, "127.0.0.1", resolve));

    nginx = await startNginx("main", addresses(upstreams), {}, syslog);
});

afterAll(async () => {
    agent?.destroy();
    syslog?.close();
    otherSyslog?.close();
    await stopAllServers();
    if (root) fs.rmSync(root, { recursive: true, force: true });
});

test("the rendered nginx.conf passes nginx -t, run unprivileged", async () => {
    const confPath = path.join(nginx.dir, "nginx.conf");
    const { code, stderr } = await nginxCommand(["-t", "-p", nginx.dir, "-c", confPath]);
    expect(stderr).toContain("syntax is ok");
    expect(stderr).toContain("test is successful");
    expect(code).toBe(0);
    const conf = fs.readFileSync(confPath, "utf8");
    expect(conf).toContain(`limit_req_zone $binary_remote_addr zone=trading:${deployed.zoneSize} rate=${limits.rate.trading};`);
});

describe("TLS at the edge", () => {
    test("the handshake verifies against the CA, over TLS 1.3 and over TLS 1.2 with a listed cipher", async () => {
        const tls13 = await handshake(nginx.tlsPort);
        const tls12 = await handshake(nginx.tlsPort, { maxVersion: "TLSv1.2" });
        report(`nginx TLS: default handshake ${tls13.protocol} ${tls13.cipher}; TLS 1.2 ${tls12.protocol} ${tls12.cipher}`);
        expect(tls13).toMatchObject({ protocol: "TLSv1.3", authorized: true });
        expect(tls12).toMatchObject({ protocol: "TLSv1.2", authorized: true });
        expect(TLS12_CIPHERS).toContain(tls12.cipher);
        // The verification is real: without the CA the same certificate is refused.
        expect((await handshake(nginx.tlsPort, { ca: undefined })).error).toMatch(/unable to (get local issuer|verify)/);
    });

    test("TLS 1.0 and 1.1 and a CBC/SHA-1 suite are refused, though the client can use them", async () => {
        // The control: a server that allows them accepts this very client.
        const [certificate] = certificates;
        const permissive = tls.createServer({ key: fs.readFileSync(certificate.keyFile), cert: fs.readFileSync(certificate.certificateFile), minVersion: "TLSv1", ciphers: "DEFAULT:@SECLEVEL=0" });
        await new Promise<void>((resolve) => permissive.listen(0, "127.0.0.1", resolve));
        const permissivePort = (permissive.address() as net.AddressInfo).port;
        try {
            const control = {
                "TLS 1.0": await handshake(permissivePort, { ...OLD_TLS_CLIENT, maxVersion: "TLSv1" }),
                "TLS 1.1": await handshake(permissivePort, OLD_TLS_CLIENT),
                "CBC/SHA-1": await handshake(permissivePort, WEAK_CIPHER_CLIENT),
            };
            const refused = {
                "TLS 1.0": await handshake(nginx.tlsPort, { ...OLD_TLS_CLIENT, maxVersion: "TLSv1" }),
                "TLS 1.1": await handshake(nginx.tlsPort, OLD_TLS_CLIENT),
                "CBC/SHA-1": await handshake(nginx.tlsPort, WEAK_CIPHER_CLIENT),
            };
            report(`nginx TLS refusals: ${Object.entries(refused).map(([what, outcome]) => `${what} -> ${/alert [a-z ]+/.exec(outcome.error ?? "")?.[0] ?? outcome.error ?? outcome.protocol}`).join("; ")}`);
            expect(control["TLS 1.0"]).toMatchObject({ protocol: "TLSv1", authorized: true });
            expect(control["TLS 1.1"]).toMatchObject({ protocol: "TLSv1.1", authorized: true });
            expect(control["CBC/SHA-1"]).toMatchObject({ protocol: "TLSv1.2", cipher: "ECDHE-ECDSA-AES128-SHA" });
            expect(refused["TLS 1.0"].error).toMatch(/alert protocol version/i);
            expect(refused["TLS 1.1"].error).toMatch(/alert protocol version/i);
            expect(refused["CBC/SHA-1"].error).toMatch(/alert handshake failure/i);
        } finally {
            await new Promise((resolve) => permissive.close(resolve));
        }
    });

    test("plain HTTP is redirected to HTTPS with 308, except the health path; HTTPS answers carry HSTS", async () => {
        const redirected = await request(nginx.httpPort, "/api/users/7?view=full", 5000, false, { plain: true });
        const health = await request(nginx.httpPort, HEALTH_PATH, 5000, false, { plain: true });
        expect(redirected.status).toBe(308);
        expect(redirected.location).toBe(`https://${SERVER_NAME}:${nginx.tlsPort}/api/users/7?view=full`);
        expect(redirected.hsts).toBeUndefined(); // browsers ignore HSTS over plain HTTP; nginx sends none there
        expect(health).toMatchObject({ status: 200, body: "ok\n" });
        const followed = await request(nginx.tlsPort, "/api/users/7?view=full");
        const healthOverTls = await request(nginx.tlsPort, HEALTH_PATH);
        report(`nginx redirect: http -> ${redirected.status} ${redirected.location}; followed -> ${followed.status} from ${followed.upstream}, Strict-Transport-Security: ${followed.hsts}`);
        expect(followed.status).toBe(200);
        expect(followed.hsts).toBe(HSTS);
        expect(healthOverTls).toMatchObject({ status: 200, hsts: HSTS });
    });
});

describe("an nginx like the deployed one, on gateways that fail on purpose", () => {
    let gateways: Upstream[];
    let edge: Nginx;

    beforeAll(async () => {
        gateways = await startUpstreams("retry-gateway", 3);
        // The deployed settings, with a 1 s client header timeout so the test of it is short.
        edge = await startNginx("edge", addresses(gateways), { client: { ...deployed.client, headerTimeoutSeconds: 1 } });
    });

    test("a POST that reached a gateway is never sent to another, even when it reset the connection; a GET is", async () => {
        // First, while no upstream connection is cached (a failed cached connection earns nginx an extra try).
        const order = { method: "POST", headers: { "content-type": "application/json" }, body: '{"side":"buy","qty":1}' };
        const post = await request(edge.tlsPort, "/reset/order-1", 10000, false, order);
        const get = await request(edge.tlsPort, "/reset/quote-1", 10000, false);
        const postsReceived = await received(gateways, "POST", "/reset/order-1");
        const getsReceived = await received(gateways, "GET", "/reset/quote-1");
        report(`nginx retries on a reset after the request was read: POST -> ${post.status}, received by ${postsReceived} gateway(s); GET -> ${get.status}, received by ${getsReceived}`);
        expect(post.status).toBe(502);
        expect(postsReceived).toBe(1);
        expect(get.status).toBe(502);
        expect(getsReceived).toBe(Math.min(deployed.proxy.nextUpstreamTries, gateways.length));
    });

    test("a 500 is the gateway's answer: neither a POST nor a GET is sent to another gateway", async () => {
        const post = await request(edge.tlsPort, "/fail/order-2", 10000, false, { method: "POST", body: "{}" });
        const get = await request(edge.tlsPort, "/fail/quote-2", 10000, false);
        expect([post.status, get.status]).toEqual([500, 500]);
        expect([await received(gateways, "POST", "/fail/order-2"), await received(gateways, "GET", "/fail/quote-2")]).toEqual([1, 1]);
    });

    test("a refused connection is retried on another gateway, for a GET and a POST alike (nothing was sent)", async () => {
        const [deadPort] = await freePorts(1); // nothing listens there
        const refusing = await startNginx("refusing", [`127.0.0.1:${deadPort}`, ...addresses(gateways.slice(0, 2))]);
        try {
            const outcomes: Outcome[] = [];
            for (let i = 0; i < 6; i++) {
                outcomes.push(await request(refusing.tlsPort, `/echo/refused-get-${i}`, 10000, false));
                outcomes.push(await request(refusing.tlsPort, `/echo/refused-post-${i}`, 10000, false, { method: "POST", body: "{}" }));
            }
            const refusals = (fs.readFileSync(refusing.errorLog, "utf8").match(/Connection refused\) while connecting to upstream/g) ?? []).length;
            const once = await Promise.all(Array.from({ length: 6 }, async (_, i) => [await received(gateways, "GET", `/echo/refused-get-${i}`), await received(gateways, "POST", `/echo/refused-post-${i}`)]));
            report(`nginx retries on refused connections: ${outcomes.length} requests -> ${JSON.stringify(countBy(outcomes, (o) => String(o.status || o.error)))}, ${refusals} refusals absorbed`);
            expect(outcomes.map((o) => o.status)).toEqual(Array(12).fill(200));
            expect(refusals).toBeGreaterThan(0);
            expect(once.flat()).toEqual(Array(12).fill(1));
        } finally {
            await stopServer(refusing.server);
        }
    });

    test("POST over plain HTTP is redirected with 308 (method and body kept), and plain HTTP on the TLS port gets 400", async () => {
        const post = await request(edge.httpPort, "/api/trading/orders", 5000, false, { plain: true, method: "POST", body: "{}" });
        const plainOnTls = await request(edge.tlsPort, "/api/users/7", 5000, false, { plain: true });
        report(`nginx plain HTTP on the TLS port -> ${plainOnTls.status}: ${/<title>(.*)<\/title>/.exec(plainOnTls.body)?.[1]}`);
        expect(post).toMatchObject({ status: 308, location: `https://${SERVER_NAME}:${edge.tlsPort}/api/trading/orders` });
        expect(plainOnTls.status).toBe(400);
        expect(plainOnTls.body).toContain("The plain HTTP request was sent to HTTPS port");
    });

    test("a client's own X-Forwarded-For never reaches the gateway as its address", async () => {
        const forged = await request(edge.tlsPort, "/echo/forged", 5000, false, { headers: { "x-forwarded-for": "6.6.6.6", "x-real-ip": "6.6.6.6" } });
        const seen = JSON.parse(forged.body) as { forwardedFor: string; realIp: string };
        report(`nginx X-Forwarded-For: the client sent 6.6.6.6, the gateway got ${JSON.stringify(seen)}`);
        expect(seen).toMatchObject({ forwardedFor: "127.0.0.1", realIp: "127.0.0.1" });
    });

    test("behind trusted balancers real_ip takes the address they add, never one the client wrote; untrusted peers' headers are ignored", async () => {
        const behind = await startNginx("behind-balancer", addresses(gateways), { trustedProxies: ["127.0.0.1/32"] });
        const elsewhere = await startNginx("balancer-elsewhere", addresses(gateways), { trustedProxies: ["10.0.0.0/8"] });
        try {
            const echo = async (instance: Nginx, forwardedFor?: string) =>
                JSON.parse((await request(instance.tlsPort, "/echo/balancer", 5000, false, forwardedFor ? { headers: { "x-forwarded-for": forwardedFor } } : {})).body) as { forwardedFor: string; realIp: string };
            // The client forged 6.6.6.6; the trusted balancer (127.0.0.1) appended the address it saw.
            const appended = await echo(behind, "6.6.6.6, 203.0.113.7");
            const direct = await echo(behind);
            const untrusted = await echo(elsewhere, "203.0.113.7");
            report(`nginx real_ip: behind a trusted balancer ${JSON.stringify(appended)}, no header ${JSON.stringify(direct)}, from an untrusted peer ${JSON.stringify(untrusted)}`);
            expect(appended).toMatchObject({ forwardedFor: "203.0.113.7", realIp: "203.0.113.7" });
            expect(direct).toMatchObject({ forwardedFor: "127.0.0.1", realIp: "127.0.0.1" });
            expect(untrusted).toMatchObject({ forwardedFor: "127.0.0.1", realIp: "127.0.0.1" });
        } finally {
            await Promise.all([stopServer(behind.server), stopServer(elsewhere.server)]);
        }
    });

    test("a client that does not finish its request header is cut off after client_header_timeout", async () => {
        const slow = await rawExchange(edge.httpPort, `GET ${HEALTH_PATH} HTTP/1.1\r\nHost: ${SERVER_NAME}\r\n`, 5000);
        report(`nginx client_header_timeout 1s: an unfinished header was cut off after ${slow.closedAfterMs} ms (deployed: ${deployed.client.headerTimeoutSeconds}s)`);
        expect(slow.closedAfterMs).toBeGreaterThanOrEqual(900);
        expect(slow.closedAfterMs).toBeLessThan(4000);
        expect(slow.received).toBe("");
    });

    afterAll(async () => {
        if (edge) await stopServer(edge.server);
    });
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
 * and stopped here; clients keep their TLS connections. Bounded by the request count and 60 s.
 */
async function keepaliveReuse(name: string, keepalive: number, workers: number, clients: number, perClient: number): Promise<{ requests: number; newConnections: number; failed: number }> {
    const instance = await startNginx(name, addresses(upstreams), {
        workerProcesses: workers,
        upstreamKeepalive: keepalive,
        rateLimits: { global: 1_000_000, api: 1_000_000, trading: 1_000_000 },
        // Requests arriving in the same millisecond count against the burst, whatever the rate.
        burst: 100_000,
        limitConn: 65_535,
    });
    const clientAgent = new https.Agent({ keepAlive: true, maxSockets: clients, ca: ca.pem });
    try {
        const before = await Promise.all(upstreams.map(stats));
        const deadline = Date.now() + 60000;
        const failures: Record<string, number> = {};
        await Promise.all(
            Array.from({ length: clients }, async (_, client) => {
                for (let i = 0; i < perClient && Date.now() < deadline; i++) {
                    const outcome = await request(instance.tlsPort, `/busy/${client}/${i}`, 10000, clientAgent);
                    if (outcome.status !== 200) {
                        const key = String(outcome.status || outcome.error);
                        failures[key] = (failures[key] ?? 0) + 1;
                    }
                }
            }),
        );
        const failed = Object.values(failures).reduce((total, count) => total + count, 0);
        if (failed > 0) report(`nginx ${name}: failures ${JSON.stringify(failures)}; error log: ${fs.readFileSync(instance.errorLog, "utf8").split("\n").slice(-3).join(" | ")}`);
        const after = await Promise.all(upstreams.map(stats));
        const delta = (key: "requests" | "connections") => after.reduce((total, s, i) => total + s[key] - before[i][key], 0);
        return { requests: delta("requests"), newConnections: delta("connections"), failed };
    } finally {
        clientAgent.destroy();
        await stopServer(instance.server, 10000);
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
    // HSTS `always`: the limited answers carry it too.
    expect(outcomes.filter((o) => o.status === 429 && o.hsts !== HSTS)).toEqual([]);
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
    const errorLog = fs.readFileSync(nginx.errorLog, "utf8");
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

test("a renewed certificate is served without a restart (the start script reloads nginx)", async () => {
    const master = fs.readFileSync(nginx.pidFile, "utf8").trim();
    const [first, renewed] = certificates;
    expect((await handshake(nginx.tlsPort)).serial).toBe(first.serial.replace(/^0+/, ""));
    const swapped = Date.now();
    mountAsSecret(path.join(root, "tls"), renewed); // as the kubelet updates the Secret volume after cert-manager renews it
    const served = await waitFor("the renewed certificate served", async () => {
        const outcome = await handshake(nginx.tlsPort);
        return outcome.serial === renewed.serial.replace(/^0+/, "") ? outcome : undefined;
    }, 15000, 200);
    report(`nginx certificate renewal: served ${Date.now() - swapped} ms after the files changed (checked every ${CERTIFICATE_CHECK_SECONDS} s), master pid unchanged`);
    expect(served.authorized).toBe(true);
    expect(fs.readFileSync(nginx.pidFile, "utf8").trim()).toBe(master);
    expect(fs.readFileSync(path.join(nginx.dir, "nginx.out"), "utf8")).toContain("certificate changed: reloading nginx");
    expect((await request(nginx.tlsPort, HEALTH_PATH)).status).toBe(200);
});

test("graceful stop: an in-flight request completes, new connections are refused, nginx and its start script exit", async () => {
    const slow = request(nginx.tlsPort, "/slow/order", 10000, false);
    await sleep(300);
    const stopped = Date.now();
    // What the pod's preStop does: SIGQUIT to the master named in the pid file (nginx -s quit).
    const master = Number(fs.readFileSync(nginx.pidFile, "utf8").trim());
    process.kill(master, "SIGQUIT");
    await sleep(200);
    const refused = await request(nginx.tlsPort, HEALTH_PATH, 2000, false);
    const outcome = await slow;
    await waitFor("nginx master exits", () => !isAlive(master), 10000, 50);
    const masterGone = Date.now() - stopped;
    await waitFor("the start script exits with nginx", () => !isAlive(nginx.server.pid), 5000, 50);
    report(
        `nginx graceful stop: in-flight request -> ${outcome.status || outcome.error}, new connection -> ${refused.error ?? refused.status}, ` +
            `master gone after ${masterGone} ms, start script after ${Date.now() - stopped} ms`,
    );
    expect(outcome.status).toBe(200);
    expect(refused.status).toBe(0);
    expect(refused.error).toMatch(/ECONNREFUSED/);
});
