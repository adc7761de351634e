// Pure renderers for the load balancer tier: nginx.conf, the per-instance share of the tier's
// limits, and the config of the access-log exporter that turns nginx's access log into the
// per-status and latency metrics the alert rules use. The component puts them in a ConfigMap;
// the live tests run the very same nginx.conf on Debian's nginx.
import { wholeCores } from "../units";

/** Port nginx serves plain HTTP on inside the pod (non-root: no port below 1024): the health path, and redirects to HTTPS. */
export const NGINX_HTTP_PORT = 8080;
/** Port nginx serves HTTPS on inside the pod. */
export const NGINX_HTTPS_PORT = 8443;
/** The port HTTPS clients expect: a redirect to it names no port. */
const DEFAULT_HTTPS_PORT = 443;
/** TLS versions nginx accepts: 1.0 and 1.1 are deprecated (RFC 8996). */
const TLS_PROTOCOLS = ["TLSv1.2", "TLSv1.3"] as const;
/**
 * TLS 1.2 cipher suites: forward-secret ECDHE with AEAD only, Mozilla's "intermediate" list without
 * its DHE suites (they would need a dhparam file). TLS 1.3 suites are all AEAD (OpenSSL's defaults).
 */
export const TLS12_CIPHERS = [
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
] as const;
/** Port of the internal stub_status server, bound to 127.0.0.1 (only the exporter sidecar reads it). */
export const NGINX_STATUS_PORT = 8081;
/** Path of the stub_status page on NGINX_STATUS_PORT. */
export const STUB_STATUS_PATH = "/stub_status";
/** Path of the health endpoint nginx answers itself (never proxied). */
export const HEALTH_PATH = "/healthz";
/** nginx-prometheus-exporter's metrics port (its default). */
export const STUB_EXPORTER_PORT = 9113;
/** prometheus-nginxlog-exporter's metrics port (its default). */
export const LOG_EXPORTER_PORT = 4040;
/** Container port name of STUB_EXPORTER_PORT (the pod's prometheus.io/port annotation points here). */
export const STUB_EXPORTER_PORT_NAME = "metrics";
/**
 * Container port name of LOG_EXPORTER_PORT. The prometheus.io/* annotations name one port per pod,
 * so Prometheus needs a job that keeps this port name to scrape the access-log metrics.
 */
export const LOG_EXPORTER_PORT_NAME = "metrics-log";
/** UDP port on 127.0.0.1 where the log exporter receives nginx's access log as syslog. */
export const LOG_EXPORTER_SYSLOG_PORT = 5531;
/** The metric namespace of the log exporter: metric names start with `nginx_`. */
const LOG_EXPORTER_NAMESPACE = "nginx";
/** The syslog tag nginx sends and the log exporter follows (it drops lines of other tags). */
export const ACCESS_LOG_SYSLOG_TAG = "nginx";
/** Name of the upstream block every proxied location passes to. */
const UPSTREAM_NAME = "gateways";

/**
 * The access-log line the log exporter parses. It holds what the metrics need and nothing more:
 * `$request` (the exporter takes the method label from its first word), `$status` (the status
 * label) and `$request_time` (the latency histogram). The same text is the exporter's `format`.
 */
export const METRICS_LOG_FORMAT = '$remote_addr "$request" $status $body_bytes_sent $request_time';

/**
 * Histogram buckets (seconds) of the latency metric. Dense around the 100 ms p95 SLO so
 * histogram_quantile(0.95, ...) is accurate where the alert decides; 0.1 must stay a bound.
 */
export const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Metric names the tier exports, for its alert rules (alerts.ts). The first two come from
 * prometheus-nginxlog-exporter (namespace `nginx`): a counter labelled `method` and `status`, and
 * a histogram of $request_time. That exporter names its histogram `<ns>_http_response_time_seconds_hist`
 * (the un-suffixed `<ns>_http_response_time_seconds` is a summary with fixed 0.5/0.9/0.99
 * quantiles, no p95, and cannot be aggregated across pods). `nginx_up` comes from
 * nginx-prometheus-exporter (1 while stub_status answers).
 */
export const LB_METRICS = {
    /** Counter of responses, labels `method`, `status`: the 5xx ratio. */
    responses: "nginx_http_response_count_total",
    /** Histogram buckets of the response time in seconds, label `le` (and `method`, `status`): p95 latency. */
    responseTimeBucket: "nginx_http_response_time_seconds_hist_bucket",
    /** 1 while the exporter can read nginx's stub_status, 0 otherwise. */
    up: "nginx_up",
} as const;

/** How nginx finds the upstream servers. */
export type NginxUpstream =
    /**
     * In the cluster: one name (the gateways' headless Service) that nginx re-resolves through
     * `resolver` while running, so every gateway pod is a peer of least_conn, max_fails and
     * proxy_next_upstream. Needs open-source nginx >= 1.27.3 (`server ... resolve`).
     */
    | { kind: "resolve"; host: string; port: number; resolver: string; resolverValidSeconds: number }
    /** A fixed list of `address:port` (the live tests: Debian's nginx 1.22 predates `resolve`). */
    | { kind: "static"; servers: string[] };

/** Requests per second per client address for the whole tier, per limit_req zone. */
export interface RateLimits {
    /** Every proxied request. */
    global: number;
    /** Requests under the API prefix. */
    api: number;
    /** Requests under the trading prefix (also counted against global and api). */
    trading: number;
}

/** Proxy timeouts and retry policy towards the gateways. */
export interface ProxySettings {
    connectTimeoutSeconds: number;
    sendTimeoutSeconds: number;
    readTimeoutSeconds: number;
    /** proxy_next_upstream_tries: attempts per request, the first included. */
    nextUpstreamTries: number;
    /** proxy_next_upstream_timeout: time budget for all attempts of one request. */
    nextUpstreamTimeoutSeconds: number;
}

/** TLS at the edge, as nginx.conf serves it. */
export interface NginxTlsOptions {
    /** HTTPS listen port. */
    listenPort: number;
    /** The certificate chain (PEM) and its private key: the mounted kubernetes.io/tls Secret's files. */
    certificateFile: string;
    keyFile: string;
    /** The port clients reach HTTPS on (the Service's): redirects name it unless it is 443. */
    publicPort: number;
    /** Strict-Transport-Security max-age, sent with includeSubDomains on every HTTPS response. */
    hstsMaxAgeSeconds: number;
    /** Size of the TLS session cache shared by the workers, e.g. `20m` (about 4,000 sessions per megabyte). */
    sessionCacheSize: string;
}

/** How long nginx waits for slow or idle clients, and the largest body it accepts. */
export interface ClientSettings {
    headerTimeoutSeconds: number;
    bodyTimeoutSeconds: number;
    sendTimeoutSeconds: number;
    keepaliveTimeoutSeconds: number;
    /** client_max_body_size, e.g. `1m`. */
    maxBodySize: string;
}

/** Where nginx writes at run time; all under writable volumes so the root filesystem stays read-only. */
export interface NginxPaths {
    /** The master's pid file (`nginx -s quit` reads it). */
    pidFile: string;
    /** Directory for the client body / proxy / fastcgi / uwsgi / scgi temp dirs. */
    tempDir: string;
    /** error_log target: `stderr` in a pod, a file in the live tests if wanted. */
    errorLog: string;
}

/** Everything renderNginxConf needs. Limits are for the whole tier; the renderer divides them unless clientAffinity. */
export interface NginxConfOptions {
    /** nginx instances of the tier: rates, bursts and limit_conn are divided by it unless clientAffinity. */
    replicas: number;
    /** Each client is pinned to one instance (the Service's ClientIP affinity): every instance enforces the whole limits. Default false. */
    clientAffinity?: boolean;
    /** worker_processes: from the container's CPU limit (nginxWorkerProcesses), never `auto`. */
    workerProcesses: number;
    workerConnections: number;
    workerRlimitNofile: number;
    rateLimits: RateLimits;
    /** limit_req burst for the whole tier (0 = none), divided by replicas. */
    burst: number;
    /** Concurrent connections per client address for the whole tier, divided by replicas. */
    limitConn: number;
    /** Size of each limit zone, e.g. `100m` (about 16,000 addresses per megabyte). */
    zoneSize: string;
    upstream: NginxUpstream;
    /** Idle keepalive connections to the gateways cached per worker. */
    upstreamKeepalive: number;
    /** Requests one upstream connection carries before nginx closes it (keepalive_requests). */
    upstreamKeepaliveRequests: number;
    /**
     * How long an idle upstream connection is kept. Must stay below the gateways' own idle
     * timeout (Node's default keepAliveTimeout is 5 s): a connection the gateway closes while
     * nginx reuses it fails, and a non-idempotent request on it is not retried.
     */
    upstreamKeepaliveTimeoutSeconds: number;
    maxFails: number;
    failTimeoutSeconds: number;
    proxy: ProxySettings;
    /** Plain HTTP port: the health path and redirects to HTTPS. */
    listenPort: number;
    /** HTTPS: certificate, port, HSTS, session cache. */
    tls: NginxTlsOptions;
    /** Client timeouts and the largest request body. */
    client: ClientSettings;
    /**
     * CIDRs of balancers in front of nginx whose X-Forwarded-For is believed (real_ip). Empty: the
     * connection's address is the client's.
     */
    trustedProxies: string[];
    /** stub_status port, bound to 127.0.0.1. */
    statusPort: number;
    paths: NginxPaths;
    /** Where the metrics access log goes: `host:port` of the log exporter's syslog listener. */
    accessLogSyslog: string;
    /** Path prefix limited by the api zone. */
    apiPathPrefix: string;
    /** Path prefix limited by the trading zone; should lie under apiPathPrefix. */
    tradingPathPrefix: string;
    /**
     * worker_shutdown_timeout: how long a gracefully stopping worker (`nginx -s quit`, SIGQUIT)
     * waits for in-flight requests before closing them (the tier uses drainSeconds).
     */
    shutdownTimeoutSeconds: number;
}

/** One instance's share of the tier's limits, as rendered. */
export interface PerInstanceLimits {
    /** Rates in requests per minute (nginx's finest unit), per zone. */
    ratePerMinute: RateLimits;
    /** The same rates as written in nginx.conf (`333r/s` style when whole, else `20000r/m`). */
    rate: { global: string; api: string; trading: string };
    burst: number;
    limitConn: number;
}

/**
 * Divides the tier's limits by its replica count: nginx keeps limit_req / limit_conn state per
 * instance, so N instances each allowing R let a client through at up to N x R. With
 * clientAffinity each client reaches one instance only, so every instance gets the whole limits.
 *
 * Rounding rule: every share is rounded DOWN, so the tier as a whole never admits more than the
 * configured limit, and is clamped to at least 1 so no instance blocks everything. Rates are
 * divided in requests per minute (1000 r/s over 3 replicas = 20000 r/m = 333.3 r/s each, exactly
 * 1000 r/s in total); burst and limit_conn are whole numbers (100 / 3 = 33, 1000 / 3 = 333).
 * A burst of 0 stays 0 (no burst). The division assumes the Service spreads a client's
 * connections over the instances; a client pinned to one instance gets that instance's share.
 */
export function perInstanceLimits(options: Pick<NginxConfOptions, "replicas" | "clientAffinity" | "rateLimits" | "burst" | "limitConn">): PerInstanceLimits {
    const { replicas } = options;
    if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`replicas must be a positive integer (got ${replicas})`);
    const sharers = options.clientAffinity ? 1 : replicas;
    const share = (total: number): number => Math.max(1, Math.floor(total / sharers));
    const perMinute = (perSecond: number): number => share(perSecond * 60);
    const ratePerMinute: RateLimits = {
        global: perMinute(options.rateLimits.global),
        api: perMinute(options.rateLimits.api),
        trading: perMinute(options.rateLimits.trading),
    };
    const written = (rpm: number): string => (rpm % 60 === 0 ? `${rpm / 60}r/s` : `${rpm}r/m`);
    return {
        ratePerMinute,
        rate: { global: written(ratePerMinute.global), api: written(ratePerMinute.api), trading: written(ratePerMinute.trading) },
        burst: options.burst === 0 ? 0 : share(options.burst),
        limitConn: share(options.limitConn),
    };
}

/**
 * worker_processes for a container's CPU limit: one per core of the limit, rounded up, at least
 * one (as the official image's 30-tune-worker-processes.sh does from the cgroup quota, which
 * the pod's own command bypasses). `auto` counts the node's online cores (sysconf), not the
 * quota: 64 workers squeezed into a 4-core limit are throttled by CFS.
 */
export function nginxWorkerProcesses(cpuLimit: string): number {
    return wholeCores(cpuLimit);
}

/** Fewest idle upstream connections a worker caches when sized from the tier's concurrency. */
export const MIN_UPSTREAM_KEEPALIVE = 32;

/**
 * Idle upstream connections each worker should cache (`keepalive`) to carry the tier's concurrency
 * without opening new ones: the requests in flight through the tier at peak, divided over every
 * worker of every instance, rounded up, at least MIN_UPSTREAM_KEEPALIVE. A cache smaller than a
 * worker's concurrent upstream requests closes the surplus connections as they finish, and the
 * next burst opens them again (measured by the live nginx test, which prints both: at 256
 * concurrent requests per worker, reuse was ~73% with `keepalive 64` and ~88% with this size).
 */
export function upstreamKeepaliveFor(tier: { concurrentRequests: number; replicas: number; workerProcesses: number }): number {
    return Math.max(MIN_UPSTREAM_KEEPALIVE, Math.ceil(tier.concurrentRequests / (tier.replicas * tier.workerProcesses)));
}

/** The longest a proxied request may legitimately take: what a graceful stop must wait for. */
export function drainSeconds(proxy: Pick<ProxySettings, "connectTimeoutSeconds" | "sendTimeoutSeconds" | "readTimeoutSeconds">): number {
    return proxy.connectTimeoutSeconds + Math.max(proxy.sendTimeoutSeconds, proxy.readTimeoutSeconds);
}

function renderUpstream(options: NginxConfOptions): string[] {
    const peer = `max_fails=${options.maxFails} fail_timeout=${options.failTimeoutSeconds}s`;
    const { upstream } = options;
    const resolverLines =
        upstream.kind === "resolve"
            ? [
                  "    # Re-resolve the headless Service while running: gateway pods come and go with the HPA.",
                  `    resolver ${upstream.resolver} valid=${upstream.resolverValidSeconds}s;`,
                  "    resolver_timeout 5s;",
                  "",
              ]
            : [];
    const servers =
        upstream.kind === "resolve"
            ? [`        server ${upstream.host}:${upstream.port} resolve ${peer};`]
            : upstream.servers.map((server) => `        server ${server} ${peer};`);
    if (servers.length === 0) throw new Error("upstream.servers must not be empty");
    return [
        ...resolverLines,
        `    upstream ${UPSTREAM_NAME} {`,
        // A shared zone: peer state (max_fails) is common to all workers, and `resolve` requires it.
        `        zone ${UPSTREAM_NAME} 1m;`,
        "        least_conn;",
        ...servers,
        `        keepalive ${options.upstreamKeepalive};`,
        `        keepalive_requests ${options.upstreamKeepaliveRequests};`,
        `        keepalive_timeout ${options.upstreamKeepaliveTimeoutSeconds}s;`,
        "    }",
    ];
}

/** `return 200` from nginx itself, for the probes: never proxied, never limited, not logged. */
function healthLocation(): string[] {
    return [
        `        location = ${HEALTH_PATH} {`,
        "            access_log off;",
        "            default_type text/plain;",
        '            return 200 "ok\\n";',
        "        }",
    ];
}

/** Where a plain HTTP request is sent: the same host and URI over HTTPS, on the public HTTPS port. */
function httpsRedirectTarget(publicPort: number): string {
    return `https://$host${publicPort === DEFAULT_HTTPS_PORT ? "" : `:${publicPort}`}$request_uri`;
}

/**
 * The client address: without trusted balancers, the connection's; with them, real_ip takes it from
 * X-Forwarded-For when (and only when) the connection comes from one of them, walking the header
 * from the right past every trusted address (real_ip_recursive), so a value the client wrote
 * itself further left is never taken.
 */
function renderClientAddress(trustedProxies: string[]): string[] {
    if (trustedProxies.length === 0) {
        return ["    # No balancer in front is trusted: the client address is the connection's ($remote_addr)."];
    }
    return [
        "    # The client address from X-Forwarded-For, believed only from these balancers.",
        ...trustedProxies.map((cidr) => `    set_real_ip_from ${cidr};`),
        "    real_ip_header X-Forwarded-For;",
        "    real_ip_recursive on;",
    ];
}

/** The TLS settings of the HTTPS server (Mozilla's "intermediate" profile, TLS 1.2 and 1.3 only). */
function renderTls(tls: NginxTlsOptions): string[] {
    return [
        `        ssl_certificate ${tls.certificateFile};`,
        `        ssl_certificate_key ${tls.keyFile};`,
        `        ssl_protocols ${TLS_PROTOCOLS.join(" ")};`,
        `        ssl_ciphers ${TLS12_CIPHERS.join(":")};`,
        "        # Every listed suite is strong: the client picks the fastest for its hardware.",
        "        ssl_prefer_server_ciphers off;",
        "        ssl_ecdh_curve X25519:prime256v1:secp384r1;",
        `        ssl_session_cache shared:TLS:${tls.sessionCacheSize};`,
        "        ssl_session_timeout 1d;",
        "        # Ticket keys would be per instance and never rotated: the session cache resumes sessions instead.",
        "        ssl_session_tickets off;",
        "        # On every response, errors and 429s included.",
        `        add_header Strict-Transport-Security "max-age=${tls.hstsMaxAgeSeconds}; includeSubDomains" always;`,
    ];
}

/**
 * nginx.conf for one instance of the tier (DESIGN.md section 1 and 2). Locations and their zones:
 * every proxied request counts against `global`; requests under apiPathPrefix also against `api`;
 * requests under tradingPathPrefix against `global`, `api` and `trading`. `/healthz` is answered by
 * nginx itself and never limited by rate. Over-limit requests get 429. Clients are served over
 * HTTPS (tls.listenPort); the plain HTTP port answers `/healthz` and redirects everything else.
 * Only the upstream block (and its resolver) differs between `resolve` and `static` upstreams.
 */
export function renderNginxConf(options: NginxConfOptions): string {
    const limits = perInstanceLimits(options);
    const { paths, proxy } = options;
    const burst = limits.burst > 0 ? ` burst=${limits.burst} nodelay` : " nodelay";
    const limitReq = (zone: keyof RateLimits): string => `            limit_req zone=${zone}${burst};`;
    const proxied = (location: string, zones: (keyof RateLimits)[]): string[] => [
        `        location ${location} {`,
        // limit_req directives are inherited only when a level has none, so each location lists all its zones.
        ...zones.map(limitReq),
        `            proxy_pass http://${UPSTREAM_NAME};`,
        "        }",
    ];

    return [
        "# Rendered by prepx-platform (components/loadbalancer/render.ts). Do not edit by hand.",
        options.clientAffinity
            ? `# Limits are the tier's whole per-client limits: the Service pins each client to one of the ${options.replicas} replicas (ClientIP affinity).`
            : `# Limits are this instance's share of the tier's (divided by ${options.replicas} replicas, rounded down, at least 1).`,
        "daemon off;",
        "# One worker per core of the container's CPU limit: `auto` would count the node's cores.",
        `worker_processes ${options.workerProcesses};`,
        `worker_rlimit_nofile ${options.workerRlimitNofile};`,
        `pid ${paths.pidFile};`,
        `error_log ${paths.errorLog} warn;`,
        "# Graceful stop (nginx -s quit / SIGQUIT): in-flight requests get this long to finish.",
        `worker_shutdown_timeout ${options.shutdownTimeoutSeconds}s;`,
        "",
        "events {",
        `    worker_connections ${options.workerConnections};`,
        "    use epoll;",
        "    multi_accept on;",
        "}",
        "",
        "http {",
        "    # Writable paths on a volume: the root filesystem is read-only and nginx runs as non-root.",
        `    client_body_temp_path ${paths.tempDir}/client_body;`,
        `    proxy_temp_path ${paths.tempDir}/proxy;`,
        `    fastcgi_temp_path ${paths.tempDir}/fastcgi;`,
        `    uwsgi_temp_path ${paths.tempDir}/uwsgi;`,
        `    scgi_temp_path ${paths.tempDir}/scgi;`,
        "",
        "    server_tokens off;",
        "    default_type application/octet-stream;",
        "    # Slow or idle clients give their connection back soon.",
        `    client_header_timeout ${options.client.headerTimeoutSeconds}s;`,
        `    client_body_timeout ${options.client.bodyTimeoutSeconds}s;`,
        `    send_timeout ${options.client.sendTimeoutSeconds}s;`,
        `    keepalive_timeout ${options.client.keepaliveTimeoutSeconds}s;`,
        `    client_max_body_size ${options.client.maxBodySize};`,
        "    reset_timedout_connection on;",
        ...renderClientAddress(options.trustedProxies),
        "    # One line per request to the log exporter sidecar (UDP: a missing exporter never slows a request).",
        `    log_format prepx_metrics '${METRICS_LOG_FORMAT}';`,
        `    access_log syslog:server=${options.accessLogSyslog},tag=${ACCESS_LOG_SYSLOG_TAG} prepx_metrics;`,
        "",
        "    # Per client address. Rates, burst and limit_conn are this instance's share of the tier's.",
        `    limit_req_zone $binary_remote_addr zone=global:${options.zoneSize} rate=${limits.rate.global};`,
        `    limit_req_zone $binary_remote_addr zone=api:${options.zoneSize} rate=${limits.rate.api};`,
        `    limit_req_zone $binary_remote_addr zone=trading:${options.zoneSize} rate=${limits.rate.trading};`,
        `    limit_conn_zone $binary_remote_addr zone=perip:${options.zoneSize};`,
        "    # Too many requests is 429, not nginx's default 503 (which clients and alerts read as an outage).",
        "    limit_req_status 429;",
        "    limit_conn_status 429;",
        "    limit_req_log_level warn;",
        "    limit_conn_log_level warn;",
        "",
        ...renderUpstream(options),
        "",
        "    # Plain HTTP: the health path for the probes; everything else to HTTPS (308 keeps the method and body).",
        "    server {",
        `        listen ${options.listenPort} default_server;`,
        ...healthLocation(),
        "        location / {",
        `            return 308 ${httpsRedirectTarget(options.tls.publicPort)};`,
        "        }",
        "    }",
        "",
        "    server {",
        `        listen ${options.tls.listenPort} ssl default_server;`,
        ...renderTls(options.tls),
        `        limit_conn perip ${limits.limitConn};`,
        "",
        "        proxy_http_version 1.1;",
        '        proxy_set_header Connection "";',
        "        proxy_set_header Host $host;",
        "        # The client address as nginx sees it, replacing whatever the client sent in these headers.",
        "        proxy_set_header X-Real-IP $remote_addr;",
        "        proxy_set_header X-Forwarded-For $remote_addr;",
        "        proxy_set_header X-Forwarded-Proto $scheme;",
        `        proxy_connect_timeout ${proxy.connectTimeoutSeconds}s;`,
        `        proxy_send_timeout ${proxy.sendTimeoutSeconds}s;`,
        `        proxy_read_timeout ${proxy.readTimeoutSeconds}s;`,
        "        # Another gateway is tried only when the attempt failed in transport (refused, reset, timed out),",
        "        # never on an answer: a gateway's 5xx is its answer, and retrying it multiplies the load of failing",
        "        # requests. Without `non_idempotent`, nginx passes a POST, PATCH or LOCK to another gateway only if",
        "        # no gateway got it yet (refused connection): an order is never placed twice.",
        "        proxy_next_upstream error timeout;",
        `        proxy_next_upstream_tries ${proxy.nextUpstreamTries};`,
        `        proxy_next_upstream_timeout ${proxy.nextUpstreamTimeoutSeconds}s;`,
        "",
        ...healthLocation(),
        ...proxied("/", ["global"]),
        ...proxied(options.apiPathPrefix, ["global", "api"]),
        ...proxied(options.tradingPathPrefix, ["global", "api", "trading"]),
        "    }",
        "",
        "    # stub_status for nginx-prometheus-exporter; loopback only, never reachable from outside the pod.",
        "    server {",
        `        listen 127.0.0.1:${options.statusPort};`,
        "        access_log off;",
        `        location = ${STUB_STATUS_PATH} {`,
        "            stub_status;",
        "        }",
        "        location / {",
        "            return 404;",
        "        }",
        "    }",
        "}",
        "",
    ].join("\n");
}

/** What the nginx container runs: nginx, and the watch that reloads it when its certificate is renewed. */
export interface NginxStartOptions {
    /** nginx's command line, e.g. `["nginx", "-c", "/etc/nginx/prepx/nginx.conf"]` (with `daemon off;` in the file). */
    nginxCommand: string[];
    /** Files whose change reloads nginx: the certificate and its key. */
    watchedFiles: string[];
    /** Seconds between two looks at the files. */
    intervalSeconds: number;
}

/** A word for `sh`, quoted so nothing in it is expanded. */
function shellWord(word: string): string {
    return `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * The nginx container's `sh -c` script. nginx reads its certificate only when it starts or
 * reloads, and cert-manager renews the Secret in place (the kubelet swaps the mounted files; the pod
 * template does not change, so nothing rolls). So the script starts nginx in the background and
 * watches the files: when their content changes and `nginx -t` accepts them, it sends the master
 * HUP (a graceful reload: in-flight requests finish on the old workers). It runs in the nginx
 * container, not in a sidecar: a sidecar could signal nginx only through a shared process namespace,
 * which would also let the exporters reach nginx's memory and key. The shell is PID 1: TERM and INT
 * go on to nginx as TERM, QUIT as QUIT (the preStop hook signals the master directly), and the
 * script exits with nginx's status as soon as nginx exits.
 */
export function renderNginxStartScript(options: NginxStartOptions): string {
    if (options.nginxCommand.length === 0) throw new Error("nginxCommand must not be empty");
    if (options.watchedFiles.length === 0) throw new Error("watchedFiles must not be empty");
    const [binary, ...args] = options.nginxCommand.map(shellWord);
    const nginx = [binary, ...args].join(" ");
    const check = [binary, "-t", "-q", ...args].join(" ");
    const files = options.watchedFiles.map(shellWord).join(" ");
    return [
        "# Rendered by prepx-platform (components/loadbalancer/render.ts). Do not edit by hand.",
        `${nginx} &`,
        "master=$!",
        "trap 'kill -TERM \"$master\" 2>/dev/null' TERM INT",
        "trap 'kill -QUIT \"$master\" 2>/dev/null' QUIT",
        `fingerprint() { cat ${files} 2>/dev/null | cksum; }`,
        "(",
        "  trap - TERM INT QUIT",
        "  seen=$(fingerprint)",
        '  while kill -0 "$master" 2>/dev/null; do',
        `    sleep ${options.intervalSeconds}`,
        "    current=$(fingerprint)",
        `    if [ "$current" != "$seen" ] && ${check}; then`,
        '      echo "certificate changed: reloading nginx" >&2',
        '      kill -HUP "$master" && seen=$current',
        "    fi",
        "  done",
        ") &",
        "watcher=$!",
        "# wait returns early when a trapped signal arrives: wait again until nginx is gone.",
        "status=0",
        "while :; do",
        '  wait "$master"; status=$?',
        '  kill -0 "$master" 2>/dev/null || break',
        "done",
        'kill "$watcher" 2>/dev/null',
        'exit "$status"',
        "",
    ].join("\n");
}

/** Options of the log exporter's config. */
export interface LogExporterConfigOptions {
    /** Metrics port (all interfaces: Prometheus scrapes the pod IP). */
    listenPort: number;
    /** `host:port` of the UDP syslog listener nginx sends to. */
    syslogAddress: string;
}

/**
 * prometheus-nginxlog-exporter's YAML config (v1.11): one namespace `nginx` reading nginx's access
 * log as RFC 3164 syslog with tag `nginx`. The exporter follows only listed tags, so the tag must
 * match what nginx sends. Metric names: see LB_METRICS; histogram buckets: LATENCY_BUCKETS_SECONDS.
 */
export function renderLogExporterConfig(options: LogExporterConfigOptions): string {
    // JSON strings are valid YAML double-quoted scalars, so no escaping of our own is needed.
    const quoted = (text: string): string => JSON.stringify(text);
    return [
        "# Rendered by prepx-platform (components/loadbalancer/render.ts). Do not edit by hand.",
        "listen:",
        `  address: ${quoted("0.0.0.0")}`,
        `  port: ${options.listenPort}`,
        `  metrics_endpoint: ${quoted("/metrics")}`,
        "namespaces:",
        `  - name: ${quoted(LOG_EXPORTER_NAMESPACE)}`,
        `    format: ${quoted(METRICS_LOG_FORMAT)}`,
        "    source:",
        "      syslog:",
        `        listen_address: ${quoted(`udp://${options.syslogAddress}`)}`,
        `        format: ${quoted("rfc3164")}`,
        `        tags: [${quoted(ACCESS_LOG_SYSLOG_TAG)}]`,
        `    histogram_buckets: [${LATENCY_BUCKETS_SECONDS.join(", ")}]`,
        "",
    ].join("\n");
}
