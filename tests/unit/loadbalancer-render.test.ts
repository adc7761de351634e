// The nginx.conf and log-exporter renderers, called directly: every setting of DESIGN.md section 1,
// the division of limits by the replica count (or none with client affinity), 429 statuses, and resolve vs static upstreams.
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
        expect(conf).toContain("# Limits are the tier's whole per-client limits: the Service pins each client to one of the 3 replicas (ClientIP affinity).");
    });

    test("without clientAffinity the zones carry this instance's share of the rates (1000/500/100 r/s over 3)", () => {
        const divided = renderNginxConf({ ...prod, clientAffinity: false });
        expect(divided).toContain("limit_req_zone $binary_remote_addr zone=global:100m rate=20000r/m;");
        expect(divided).toContain("limit_req_zone $binary_remote_addr zone=api:100m rate=10000r/m;");
        expect(divided).toContain("limit_req_zone $binary_remote_addr zone=trading:100m rate=2000r/m;");
        expect(divided).toContain("limit_conn perip 333;");
        expect(divided).toContain("limit_req zone=trading burst=33 nodelay;");
        expect(divided).not.toMatch(/rate=(1000|500|100)r\/s/);
    });

    test("limited requests get 429, not 503", () => {
        expect(http).toContain("limit_req_status 429;");
        expect(http).toContain("limit_conn_status 429;");
    });

    test("locations: global on all, api under /api/, trading under /api/trading/, bursts with nodelay", () => {
        const root = directives(block(conf, "location /"));
        const api = directives(block(conf, "location /api/"));
        const trading = directives(block(conf, "location /api/trading/"));
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
            // 100,000 req/s x 100 ms in flight over 3 instances x 4 workers.
            "keepalive 834;",
            "keepalive_requests 10000;",
            "keepalive_timeout 4s;",
            "}",
        ]);
        expect(http).toContain("resolver kube-dns.kube-system.svc.cluster.local valid=5s;");
    });

    test("proxy timeouts, next-upstream policy and HTTP/1.1 keepalive to the upstream", () => {
        const server = directives(block(conf, "server"));
        expect(server).toEqual(
            expect.arrayContaining([
                "proxy_connect_timeout 5s;",
                "proxy_send_timeout 60s;",
                "proxy_read_timeout 60s;",
                "proxy_next_upstream error timeout invalid_header http_500 http_502 http_503 http_504;",
                "proxy_next_upstream_tries 3;",
                "proxy_next_upstream_timeout 10s;",
                "proxy_http_version 1.1;",
                'proxy_set_header Connection "";',
            ]),
        );
    });

    test("/healthz is answered by nginx, not limited by rate, not proxied", () => {
        const health = directives(block(conf, "location = /healthz"));
        expect(health).toContain('return 200 "ok\\n";');
        expect(health.some((d) => d.startsWith("limit_req") || d.startsWith("proxy_pass"))).toBe(false);
    });

    test("stub_status on a separate loopback-only server", () => {
        const status = block(conf, "location = /stub_status");
        expect(status).toContain("stub_status;");
        const statusServer = conf.slice(conf.lastIndexOf("server {"));
        expect(statusServer).toContain("listen 127.0.0.1:8081;");
        expect(statusServer).toContain("location = /stub_status");
        expect(block(conf, "server")).not.toContain("stub_status");
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

    test("a burst of 0 renders nodelay without burst", () => {
        const conf = renderNginxConf({ ...prod, burst: 0 });
        expect(conf).toContain("limit_req zone=global nodelay;");
        expect(conf).not.toContain("burst=");
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
