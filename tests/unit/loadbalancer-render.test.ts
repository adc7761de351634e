// The nginx.conf, start-script and log-exporter renderers, called directly: every setting of
// DESIGN.md section 1, the division of limits by the replica count (or none with client affinity),
// 429 statuses, resolve vs static upstreams, TLS and the plain HTTP redirect, the client address,
// client timeouts and retries.
import { loadBalancerTierArgsSchema } from "../../components/loadbalancer/args";
import {
    LATENCY_BUCKETS_SECONDS,
    LB_METRICS,
    METRICS_LOG_FORMAT,
    NginxConfOptions,
    NginxUpstream,
    drainSeconds,
    MIN_UPSTREAM_KEEPALIVE,
    nginxWorkerProcesses,
    perInstanceLimits,
    upstreamKeepaliveFor,
    renderLogExporterConfig,
    renderNginxConf,
    renderNginxStartScript,
    TLS12_CIPHERS,
} from "../../components/loadbalancer/render";
import { LOG_EXPORTER_CONFIG, nginxConfOptions } from "../../components/loadbalancer/specs";
import { parseStackConfig } from "../../config";
import { readStackConfig } from "../../scripts/stack-files";
import { loadBalancerTierArgs } from "../../stack-args";

const HEADLESS = "api-gateway-headless.prepx.svc.cluster.local";
const staticUpstream: NginxUpstream = { kind: "static", servers: ["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"] };
const prodConfig = parseStackConfig("prod", readStackConfig("prod"));
const prodArgs = loadBalancerTierArgsSchema.parse(loadBalancerTierArgs(prodConfig, prodConfig.namespace, HEADLESS));

/** What the tier renders nginx.conf with in prod (resolving the gateways' headless Service). */
const prod: NginxConfOptions = nginxConfOptions(prodArgs, HEADLESS);

/** The directives of one `name {` block (first match), without nested blocks' closing braces. */
function block(conf: string, opener: string): string {
    const start = conf.indexOf(`${opener} {`);
    if (start < 0) throw new Error(`no block '${opener}' in:\n${conf}`);
    let depth = 0;
    for (let i = conf.indexOf("{", start); i < conf.length; i++) {
        if (conf[i] === "{") depth++;
        if (conf[i] === "}" && --depth === 0) return conf.slice(start, i + 1);
    }
    throw new Error(`unbalanced block '${opener}'`);
}

/** The `server` block that listens on `listen` (e.g. `8443 ssl`). */
function serverListening(conf: string, listen: string): string {
    for (let from = conf.indexOf("server {"); from >= 0; from = conf.indexOf("server {", from + 1)) {
        const server = block(conf.slice(from), "server");
        if (server.includes(`listen ${listen}`)) return server;
    }
    throw new Error(`no server listening on '${listen}'`);
}

function directives(text: string): string[] {
    return text
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith("#"));
}

describe("perInstanceLimits", () => {
    test("prod: 1000/500/100 r/s over 3 replicas, rounded down in requests per minute", () => {
        const limits = perInstanceLimits({ replicas: 3, rateLimits: { global: 1000, api: 500, trading: 100 }, burst: 100, limitConn: 1000 });
        expect(limits.ratePerMinute).toEqual({ global: 20000, api: 10000, trading: 2000 });
        expect(limits.rate).toEqual({ global: "20000r/m", api: "10000r/m", trading: "2000r/m" });
        // The tier as a whole admits exactly the configured rate, never more.
        expect((limits.ratePerMinute.global * 3) / 60).toBe(1000);
        expect(limits.burst).toBe(33);
        expect(limits.limitConn).toBe(333);
    });

    test("one replica keeps the configured numbers, whole rates written per second", () => {
        const limits = perInstanceLimits({ replicas: 1, rateLimits: { global: 100, api: 50, trading: 10 }, burst: 20, limitConn: 100 });
        expect(limits.rate).toEqual({ global: "100r/s", api: "50r/s", trading: "10r/s" });
        expect(limits.burst).toBe(20);
        expect(limits.limitConn).toBe(100);
    });

    test("rounds down but never below 1; a burst of 0 stays 0", () => {
        const limits = perInstanceLimits({ replicas: 7, rateLimits: { global: 1, api: 1, trading: 1 }, burst: 3, limitConn: 5 });
        expect(limits.ratePerMinute.trading).toBe(8); // 60 / 7 = 8.57 -> 8
        expect(limits.burst).toBe(1); // 3 / 7 = 0.43 -> clamped to 1
        expect(limits.limitConn).toBe(1);
        expect(perInstanceLimits({ replicas: 200, rateLimits: { global: 1, api: 1, trading: 1 }, burst: 0, limitConn: 1 })).toMatchObject({
            ratePerMinute: { global: 1, api: 1, trading: 1 },
            burst: 0,
        });
    });

    test("with clientAffinity every replica keeps the whole limits: a client reaches one of them", () => {
        const limits = perInstanceLimits({ replicas: 3, clientAffinity: true, rateLimits: { global: 1000, api: 500, trading: 100 }, burst: 100, limitConn: 1000 });
        expect(limits.rate).toEqual({ global: "1000r/s", api: "500r/s", trading: "100r/s" });
        expect(limits.burst).toBe(100);
        expect(limits.limitConn).toBe(1000);
    });

    test("refuses a replica count below 1", () => {
        expect(() => perInstanceLimits({ replicas: 0, rateLimits: { global: 1, api: 1, trading: 1 }, burst: 1, limitConn: 1 })).toThrow(/replicas/);
    });
});

describe("renderNginxConf (prod, resolve upstream)", () => {
    const conf = renderNginxConf(prod);
    const main = directives(conf.slice(0, conf.indexOf("events {")));
    const http = block(conf, "http");
    const https = serverListening(conf, "8443 ssl");
    const plain = serverListening(conf, "8080 ");

    test("worker and event settings of the plan", () => {
        // prod's nginx limit is 4 CPUs: 4 workers, whatever the node's core count.
        expect(main).toEqual(expect.arrayContaining(["worker_processes 4;", "worker_rlimit_nofile 65535;", "daemon off;"]));
        expect(conf).not.toContain("worker_processes auto");
        expect(directives(block(conf, "events"))).toEqual(["events {", "worker_connections 8192;", "use epoll;", "multi_accept on;", "}"]);
    });

    test("with clientAffinity (prod) every instance carries the whole per-client limits (1000/500/100 r/s)", () => {
        expect(http).toContain("limit_req_zone $binary_remote_addr zone=global:100m rate=1000r/s;");
        expect(http).toContain("limit_req_zone $binary_remote_addr zone=api:100m rate=500r/s;");
        expect(http).toContain("limit_req_zone $binary_remote_addr zone=trading:100m rate=100r/s;");
        expect(http).toContain("limit_conn_zone $binary_remote_addr zone=perip:100m;");
        expect(http).toContain("limit_conn perip 1000;");
        expect(conf).toContain("# Limits are the tier's whole per-client limits: the Service pins each client to one of the 8 replicas (ClientIP affinity).");
    });

    test("without clientAffinity the zones carry this instance's share of the rates (1000/500/100 r/s over prod's 8 derived replicas)", () => {
        const divided = renderNginxConf({ ...prod, clientAffinity: false });
        expect(divided).toContain("limit_req_zone $binary_remote_addr zone=global:100m rate=125r/s;");
        expect(divided).toContain("limit_req_zone $binary_remote_addr zone=api:100m rate=3750r/m;");
        expect(divided).toContain("limit_req_zone $binary_remote_addr zone=trading:100m rate=750r/m;");
        expect(divided).toContain("limit_conn perip 125;");
        expect(divided).toContain("limit_req zone=trading burst=12 nodelay;");
        expect(divided).not.toMatch(/rate=(1000|500|100)r\/s/);
    });

    test("limited requests get 429, not 503", () => {
        expect(http).toContain("limit_req_status 429;");
        expect(http).toContain("limit_conn_status 429;");
    });

    test("locations: global on all, api under /api/, trading under /api/trading/, bursts with nodelay", () => {
        const root = directives(block(https, "location /"));
        const api = directives(block(https, "location /api/"));
        const trading = directives(block(https, "location /api/trading/"));
        expect(root.filter((d) => d.startsWith("limit_req "))).toEqual(["limit_req zone=global burst=100 nodelay;"]);
        expect(api.filter((d) => d.startsWith("limit_req "))).toEqual(["limit_req zone=global burst=100 nodelay;", "limit_req zone=api burst=100 nodelay;"]);
        expect(trading.filter((d) => d.startsWith("limit_req "))).toEqual([
            "limit_req zone=global burst=100 nodelay;",
            "limit_req zone=api burst=100 nodelay;",
            "limit_req zone=trading burst=100 nodelay;",
        ]);
        for (const location of [root, api, trading]) expect(location).toContain("proxy_pass http://gateways;");
    });

    test("least_conn upstream on the headless Service, re-resolved by nginx in a shared zone", () => {
        const upstream = directives(block(conf, "upstream gateways"));
        expect(upstream).toEqual([
            "upstream gateways {",
            "zone gateways 1m;",
            "least_conn;",
            "server api-gateway-headless.prepx.svc.cluster.local:8080 resolve max_fails=3 fail_timeout=30s;",
            // 100,000 req/s x 100 ms in flight over 8 instances x 4 workers.
            "keepalive 313;",
            "keepalive_requests 10000;",
            "keepalive_timeout 4s;",
            "}",
        ]);
        expect(http).toContain("resolver kube-dns.kube-system.svc.cluster.local valid=5s;");
    });

    test("proxy timeouts, HTTP/1.1 keepalive to the upstream; another gateway only after a transport failure, a bounded number of times", () => {
        const server = directives(https);
        expect(server).toEqual(
            expect.arrayContaining([
                "proxy_connect_timeout 5s;",
                "proxy_send_timeout 60s;",
                "proxy_read_timeout 60s;",
                "proxy_next_upstream error timeout;",
                "proxy_next_upstream_tries 3;",
                "proxy_next_upstream_timeout 10s;",
                "proxy_http_version 1.1;",
                'proxy_set_header Connection "";',
            ]),
        );
        // Never on an answer (a 500 retried on every gateway triples the failing load), never a replayed POST.
        expect(server.filter((d) => d.startsWith("proxy_next_upstream "))).toEqual(["proxy_next_upstream error timeout;"]);
        expect(directives(conf).join("\n")).not.toMatch(/http_50\d|non_idempotent|invalid_header/);
    });

    test("/healthz is answered by nginx on both ports, not limited by rate, not proxied", () => {
        for (const server of [plain, https]) {
            const health = directives(block(server, "location = /healthz"));
            expect(health).toContain('return 200 "ok\\n";');
            expect(health.some((d) => d.startsWith("limit_req") || d.startsWith("proxy_pass"))).toBe(false);
        }
    });

    test("plain HTTP: only /healthz and a 308 to the same host and URI over HTTPS on 443 (no port named)", () => {
        expect(directives(plain)).toEqual([
            "server {",
            "listen 8080 default_server;",
            "location = /healthz {",
            "access_log off;",
            "default_type text/plain;",
            'return 200 "ok\\n";',
            "}",
            "location / {",
            "return 308 https://$host$request_uri;",
            "}",
            "}",
        ]);
    });

    test("HTTPS: the mounted certificate, TLS 1.2 and 1.3 only, ECDHE with AEAD suites, a shared session cache, HSTS on every answer", () => {
        expect(directives(https)).toEqual(
            expect.arrayContaining([
                "listen 8443 ssl default_server;",
                "ssl_certificate /etc/nginx/tls/tls.crt;",
                "ssl_certificate_key /etc/nginx/tls/tls.key;",
                "ssl_protocols TLSv1.2 TLSv1.3;",
                `ssl_ciphers ${TLS12_CIPHERS.join(":")};`,
                "ssl_prefer_server_ciphers off;",
                "ssl_session_cache shared:TLS:20m;",
                "ssl_session_timeout 1d;",
                "ssl_session_tickets off;",
                'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;',
            ]),
        );
        for (const cipher of TLS12_CIPHERS) expect(cipher).toMatch(/^ECDHE-(ECDSA|RSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/);
        expect(directives(conf).join("\n")).not.toMatch(/TLSv1(\.1)?[ ;]/);
        // No location adds headers of its own, which would drop the server's HSTS header there.
        expect(directives(https).filter((d) => d.startsWith("add_header"))).toHaveLength(1);
    });

    test("the client address: the connection's, overwriting the client's own X-Forwarded-For and X-Real-IP", () => {
        expect(directives(https)).toEqual(expect.arrayContaining(["proxy_set_header X-Forwarded-For $remote_addr;", "proxy_set_header X-Real-IP $remote_addr;", "proxy_set_header X-Forwarded-Proto $scheme;"]));
        expect(conf).not.toContain("$proxy_add_x_forwarded_for");
        expect(conf).not.toMatch(/set_real_ip_from|real_ip_header/);
    });

    test("tight client timeouts and an explicit body limit", () => {
        expect(directives(http)).toEqual(
            expect.arrayContaining(["client_header_timeout 10s;", "client_body_timeout 10s;", "send_timeout 10s;", "keepalive_timeout 20s;", "client_max_body_size 1m;", "reset_timedout_connection on;"]),
        );
    });

    test("stub_status on a separate loopback-only server", () => {
        const status = block(conf, "location = /stub_status");
        expect(status).toContain("stub_status;");
        const statusServer = conf.slice(conf.lastIndexOf("server {"));
        expect(statusServer).toContain("listen 127.0.0.1:8081;");
        expect(statusServer).toContain("location = /stub_status");
        for (const server of [plain, https]) expect(server).not.toContain("stub_status");
    });

    test("graceful stop waits for the longest proxied request; paths come from the options", () => {
        expect(drainSeconds(prod.proxy)).toBe(65);
        expect(main).toContain("worker_shutdown_timeout 65s;");
        expect(main).toContain("pid /tmp/nginx/nginx.pid;");
        expect(main).toContain("error_log stderr warn;");
        expect(http).toContain("proxy_temp_path /tmp/nginx/proxy;");
        expect(http).toContain("client_body_temp_path /tmp/nginx/client_body;");
    });

    test("the metrics access log goes to the log exporter over syslog in the exporter's format", () => {
        expect(http).toContain(`log_format prepx_metrics '${METRICS_LOG_FORMAT}';`);
        expect(http).toContain("access_log syslog:server=127.0.0.1:5531,tag=nginx prepx_metrics;");
        for (const variable of ["$status", "$request_time", "$request"]) expect(METRICS_LOG_FORMAT).toContain(variable);
    });
});

describe("renderNginxConf options", () => {
    test("static: one server line per address, no resolver; everything else identical", () => {
        const resolved = renderNginxConf(prod);
        const fixed = renderNginxConf({ ...prod, upstream: staticUpstream });
        const upstream = directives(block(fixed, "upstream gateways"));
        expect(upstream.filter((d) => d.startsWith("server "))).toEqual([
            "server 127.0.0.1:9001 max_fails=3 fail_timeout=30s;",
            "server 127.0.0.1:9002 max_fails=3 fail_timeout=30s;",
            "server 127.0.0.1:9003 max_fails=3 fail_timeout=30s;",
        ]);
        expect(fixed).not.toContain("resolver");
        expect(fixed).not.toContain(" resolve ");
        // Outside the upstream block and its resolver lines the two files are the same text.
        const outside = (conf: string): string =>
            directives(conf.replace(block(conf, "upstream gateways"), ""))
                .filter((d) => !d.startsWith("resolver"))
                .join("\n");
        expect(outside(fixed)).toBe(outside(resolved));
    });

    test("an empty static list is refused", () => {
        expect(() => renderNginxConf({ ...prod, upstream: { kind: "static", servers: [] } })).toThrow(/servers/);
    });

    test("path prefixes and the shutdown timeout are rendered as given", () => {
        const conf = renderNginxConf({ ...prod, apiPathPrefix: "/v2/", tradingPathPrefix: "/v2/orders/", shutdownTimeoutSeconds: 17 });
        expect(directives(block(conf, "location /v2/")).filter((d) => d.startsWith("limit_req "))).toEqual([
            "limit_req zone=global burst=100 nodelay;",
            "limit_req zone=api burst=100 nodelay;",
        ]);
        expect(directives(block(conf, "location /v2/orders/"))).toContain("limit_req zone=trading burst=100 nodelay;");
        expect(conf).not.toContain("location /api/");
        expect(conf).toContain("worker_shutdown_timeout 17s;");
    });

    test("trusted balancers: real_ip from X-Forwarded-For for their ranges only, the header's right-most untrusted address", () => {
        const conf = renderNginxConf({ ...prod, trustedProxies: ["10.0.0.0/8", "192.168.1.0/24"] });
        expect(directives(block(conf, "http"))).toEqual(
            expect.arrayContaining(["set_real_ip_from 10.0.0.0/8;", "set_real_ip_from 192.168.1.0/24;", "real_ip_header X-Forwarded-For;", "real_ip_recursive on;"]),
        );
        expect(conf.match(/set_real_ip_from/g)).toHaveLength(2);
        // real_ip sets $remote_addr: the gateways get the address it found, not the header as sent.
        expect(conf).toContain("proxy_set_header X-Forwarded-For $remote_addr;");
    });

    test("a Service HTTPS port other than 443 is named in the redirect; client settings are rendered as given", () => {
        const conf = renderNginxConf({
            ...prod,
            tls: { ...prod.tls, publicPort: 30443 },
            client: { headerTimeoutSeconds: 3, bodyTimeoutSeconds: 4, sendTimeoutSeconds: 5, keepaliveTimeoutSeconds: 6, maxBodySize: "256k" },
        });
        expect(conf).toContain("return 308 https://$host:30443$request_uri;");
        for (const line of ["client_header_timeout 3s;", "client_body_timeout 4s;", "send_timeout 5s;", "keepalive_timeout 6s;", "client_max_body_size 256k;"]) expect(conf).toContain(line);
    });

    test("a burst of 0 renders nodelay without burst", () => {
        const conf = renderNginxConf({ ...prod, burst: 0 });
        expect(conf).toContain("limit_req zone=global nodelay;");
        expect(conf).not.toContain("burst=");
    });
});

describe("renderNginxStartScript", () => {
    const script = renderNginxStartScript({ nginxCommand: ["nginx", "-c", "/etc/nginx/prepx/nginx.conf"], watchedFiles: ["/etc/nginx/tls/tls.crt", "/etc/nginx/tls/tls.key"], intervalSeconds: 60 });

    test("starts nginx in the background, passes TERM/INT and QUIT on, exits with nginx", () => {
        expect(script).toContain("'nginx' '-c' '/etc/nginx/prepx/nginx.conf' &\nmaster=$!");
        expect(script).toContain(`trap 'kill -TERM "$master" 2>/dev/null' TERM INT`);
        expect(script).toContain(`trap 'kill -QUIT "$master" 2>/dev/null' QUIT`);
        expect(script).toContain('exit "$status"');
    });

    test("reloads (HUP) only when the certificate files' content changed and nginx -t accepts them", () => {
        expect(script).toContain("fingerprint() { cat '/etc/nginx/tls/tls.crt' '/etc/nginx/tls/tls.key' 2>/dev/null | cksum; }");
        expect(script).toContain("    sleep 60\n");
        expect(script).toContain(`if [ "$current" != "$seen" ] && 'nginx' -t -q '-c' '/etc/nginx/prepx/nginx.conf'; then`);
        expect(script).toContain('kill -HUP "$master" && seen=$current');
    });

    test("quotes every word; refuses an empty command or file list", () => {
        expect(renderNginxStartScript({ nginxCommand: ["/opt/it's/nginx"], watchedFiles: ["/a b"], intervalSeconds: 1 })).toContain(`'/opt/it'\\''s/nginx' &`);
        expect(() => renderNginxStartScript({ nginxCommand: [], watchedFiles: ["/a"], intervalSeconds: 1 })).toThrow(/nginxCommand/);
        expect(() => renderNginxStartScript({ nginxCommand: ["nginx"], watchedFiles: [], intervalSeconds: 1 })).toThrow(/watchedFiles/);
    });
});

describe("renderLogExporterConfig", () => {
    const config = renderLogExporterConfig(LOG_EXPORTER_CONFIG);

    test("namespace nginx, syslog source with nginx's tag, the same format as nginx's log_format", () => {
        expect(config).toContain('  - name: "nginx"');
        expect(config).toContain(`    format: ${JSON.stringify(METRICS_LOG_FORMAT)}`);
        expect(config).toContain('        listen_address: "udp://127.0.0.1:5531"');
        expect(config).toContain('        format: "rfc3164"');
        expect(config).toContain('        tags: ["nginx"]');
        expect(config).toContain("  port: 4040");
    });

    test("histogram buckets bound the 100 ms SLO", () => {
        expect(config).toContain(`    histogram_buckets: [${LATENCY_BUCKETS_SECONDS.join(", ")}]`);
        expect(LATENCY_BUCKETS_SECONDS).toContain(0.1);
        expect([...LATENCY_BUCKETS_SECONDS].sort((x, y) => x - y)).toEqual(LATENCY_BUCKETS_SECONDS);
    });

    test("the metric names the alert rules use", () => {
        expect(LB_METRICS).toEqual({
            responses: "nginx_http_response_count_total",
            responseTimeBucket: "nginx_http_response_time_seconds_hist_bucket",
            up: "nginx_up",
        });
    });
});

describe("limits from the container and the tier's concurrency", () => {
    test("worker_processes: one per core of the CPU limit, rounded up, at least one", () => {
        expect(nginxWorkerProcesses("4")).toBe(4);
        expect(nginxWorkerProcesses("2.5")).toBe(3);
        expect(nginxWorkerProcesses("500m")).toBe(1);
        expect(nginxWorkerProcesses("1")).toBe(1);
        expect(() => nginxWorkerProcesses("four")).toThrow("not a Kubernetes CPU quantity: four");
    });

    test("upstream keepalive: each worker's share of the requests in flight, at least the minimum", () => {
        expect(upstreamKeepaliveFor({ concurrentRequests: 10000, replicas: 3, workerProcesses: 4 })).toBe(834);
        // The measured case: 256 concurrent requests on one instance with 1 worker need 256 idle slots, not 64.
        expect(upstreamKeepaliveFor({ concurrentRequests: 256, replicas: 1, workerProcesses: 1 })).toBe(256);
        expect(upstreamKeepaliveFor({ concurrentRequests: 10, replicas: 1, workerProcesses: 1 })).toBe(MIN_UPSTREAM_KEEPALIVE);
    });
});
