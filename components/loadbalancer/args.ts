// The load balancer tier's inputs, declared once: each knob with its doc, its default (the prod
// shape of DESIGN.md section 1) and its rule. config.ts composes `loadBalancerSettingsSchema` and
// `checkLoadBalancerSettings` into the stack schema; the component parses its args with
// `loadBalancerTierArgsSchema`.
import { z } from "zod";
import { dnsLabel, dnsName, imagePullSecretsSchema, input, int, ipv4Cidr, onlyWhenValid, pinnedImage, port, resourcesWithDefault } from "../schema";
import { serviceHost } from "../dns";
import { nginxWorkerProcesses, upstreamKeepaliveFor } from "./render";

/** First open-source nginx with `resolve` on upstream servers. */
const MIN_NGINX_VERSION = [1, 27, 3];

/** The nginx version in an image tag such as `nginx:1.28.0` or `nginx-unprivileged:1.28.0-alpine`; undefined for a digest or another scheme. */
function nginxImageVersion(image: string): number[] | undefined {
    const match = /:(\d+)\.(\d+)\.(\d+)(?:[-.][A-Za-z0-9._-]*)?$/.exec(image);
    return match ? match.slice(1, 4).map(Number) : undefined;
}

function compareVersions(left: number[], right: number[]): number {
    for (let index = 0; index < Math.max(left.length, right.length); index++) {
        const difference = (left[index] ?? 0) - (right[index] ?? 0);
        if (difference !== 0) return difference;
    }
    return 0;
}

/** A path prefix of a limited location: starts and ends with `/`, nothing nginx would parse. */
const pathPrefix = z.string().regex(/^\/[^\s;{}]*\/$/, "a path starting and ending with /");

/** An nginx size such as `10m` or `512k`. */
const nginxSize = z.string().regex(/^[1-9]\d*[km]$/, "an nginx size such as 10m or 512k");

/**
 * TLS at the edge: where the public certificate comes from, and the HTTPS port. The certificate is
 * a public one (Let's Encrypt or the operator's CA), not the stack's internal CA.
 */
const tlsSchema = z
    .strictObject({
        /** Port of the Service for HTTPS; nginx listens on 8443 inside the pod. servicePort (HTTP) redirects here. */
        servicePort: port.default(443),
        /**
         * The kubernetes.io/tls Secret (keys tls.crt, tls.key) nginx serves. With certManager, the
         * Secret cert-manager writes and renews; without, an existing Secret created by the operator.
         * Unset: `<component name>-tls` (the stack's tier is `lb`: `lb-tls`).
         */
        secretName: dnsLabel.optional(),
        /**
         * Have cert-manager (it must be installed in the cluster) issue and renew the certificate:
         * the tier declares a cert-manager.io/v1 Certificate for `dnsNames` from `issuerRef`, written
         * to secretName. Unset: secretName must already exist.
         */
        certManager: z
            .strictObject({
                /** Public names the certificate is for (the DNS records of the load balancer): the operator's domain. */
                dnsNames: z.array(dnsName).min(1),
                /** The Issuer or ClusterIssuer that signs it (its ACME solver must not need this tier: DNS-01, see the README). */
                issuerRef: z
                    .strictObject({
                        name: dnsName.default("letsencrypt-prod"),
                        kind: z.enum(["ClusterIssuer", "Issuer"]).default("ClusterIssuer"),
                        group: dnsName.default("cert-manager.io"),
                    })
                    .prefault({}),
            })
            .optional(),
        /** Strict-Transport-Security max-age (with includeSubDomains): browsers refuse plain HTTP to the host this long. One year by default. */
        hstsMaxAgeSeconds: int(1).default(31536000),
        /**
         * Size of each instance's TLS session cache (shared by its workers; about 4,000 sessions per
         * megabyte): resumed sessions skip the full handshake. 20m holds ~80,000, several times one
         * instance's share of prod's 100,000 concurrent users (12,500 over its 8 instances).
         */
        sessionCacheSize: nginxSize.default("20m"),
    })
    .prefault({});

/** Client-side timeouts and limits: how long a slow or idle client may hold a connection, and the largest body. */
const clientSchema = z
    .strictObject({
        /** client_header_timeout: time to send the whole request header (slowloris). */
        headerTimeoutSeconds: int(1, 300).default(10),
        /** client_body_timeout: longest pause between two reads of the request body. */
        bodyTimeoutSeconds: int(1, 300).default(10),
        /** send_timeout: longest pause between two writes of the response while the client does not read. */
        sendTimeoutSeconds: int(1, 600).default(10),
        /** keepalive_timeout: how long an idle client connection stays open. */
        keepaliveTimeoutSeconds: int(1, 3600).default(20),
        /** client_max_body_size: larger request bodies get 413 (the API takes small JSON bodies). */
        maxBodySize: nginxSize.default("1m"),
    })
    .prefault({});

/** A limit_req zone's rate in requests per second per client address, for the whole tier. */
const zoneRate = (rate: number) => z.strictObject({ rate: int(1).default(rate) }).prefault({});

/** The keys of the stack's `loadBalancer` section: plain data, no cross-field rules. */
export const loadBalancerSettingsSchema = z.strictObject({
    /** nginx instances. Rates, bursts and limit_conn are divided by this count (see perInstanceLimits). */
    replicas: int(1, 100).default(3),
    /** Service type: LoadBalancer (prod: a cloud load balancer in front), NodePort or ClusterIP. */
    serviceType: z.enum(["LoadBalancer", "NodePort", "ClusterIP"]).default("LoadBalancer"),
    /**
     * externalTrafficPolicy of LoadBalancer/NodePort Services. `Local` keeps the client's source
     * address (the per-IP limits key on it; with `Cluster` every request would appear to come from
     * a node) and skips the extra node hop. Ignored for ClusterIP.
     */
    externalTrafficPolicy: z.enum(["Local", "Cluster"]).default("Local"),
    /**
     * Annotations of the Service: the cloud's load balancer type. Without them the per-client
     * limits may key on a few balancer addresses (a classic ELB does not pass client addresses) or
     * the balancer may be internal. CLOUD_LOAD_BALANCER_ANNOTATIONS has the checked examples.
     */
    serviceAnnotations: z.record(z.string(), z.string()).default({}),
    /**
     * Port of the Service for plain HTTP; nginx listens on 8080 inside the pod and answers every
     * request there with a redirect to HTTPS (tls.servicePort), except its health path.
     */
    servicePort: port.default(80),
    /** HTTPS: the certificate's source, the HTTPS port, HSTS and the session cache. */
    tls: tlsSchema,
    /**
     * Addresses of balancers in front of nginx that add the client's address to X-Forwarded-For
     * (an L7 balancer or CDN). From these only, nginx takes the client address from that header
     * (real_ip: the right-most address not in these ranges); then the limits key on it and the
     * gateways get it. Empty (default): the client address is the connection's (an L4 balancer with
     * externalTrafficPolicy Local keeps it), and a client's own X-Forwarded-For is overwritten.
     */
    trustedProxies: z.array(ipv4Cidr).default([]),
    /** Client timeouts (header, body, send, keep-alive) and the largest request body. */
    client: clientSchema,
    /**
     * nginx image, pinned, open-source nginx >= 1.27.3 (`server ... resolve`). The default is the
     * official image's stable line.
     */
    image: pinnedImage
        .refine((image) => {
            const version = nginxImageVersion(image);
            return version === undefined || compareVersions(version, MIN_NGINX_VERSION) >= 0;
        }, { message: `must be nginx ${MIN_NGINX_VERSION.join(".")} or newer (open-source \`server ... resolve\`)`, ...onlyWhenValid })
        .default("nginx:1.28.0"),
    /** nginx-prometheus-exporter image, pinned (stub_status metrics and `nginx_up`). */
    exporterImage: pinnedImage.default("nginx/nginx-prometheus-exporter:1.4.1"),
    /** prometheus-nginxlog-exporter image, pinned: responses by status and the latency histogram, from nginx's access log. */
    logExporterImage: pinnedImage.default("quay.io/martinhelmich/prometheus-nginxlog-exporter:v1.11.0"),
    /** worker_connections per worker process (clients and upstream connections together). */
    workerConnections: int(512, 1048576).default(8192),
    /**
     * worker_rlimit_nofile: open files per worker, at least twice workerConnections (each
     * connection's socket, plus a temp file when a body is buffered to disk). nginx runs as non-root,
     * so it must not exceed the container runtime's hard limit (containerd 2.x: 524288).
     */
    workerRlimitNofile: int(1024, 1048576).default(65535),
    /**
     * Pin each client address to one nginx replica (the Service's `sessionAffinity: ClientIP`), so
     * every replica enforces the whole per-client limits below: a client gets the configured rate
     * whichever replica it lands on. nginx keeps limit state per replica, so without affinity the
     * limits are divided by replicas, and a client whose connections all land on one replica gets a
     * replica's share. The pinning holds end to end when the balancer in front also keeps a client
     * on one node (externalTrafficPolicy Local; see CLOUD_LOAD_BALANCER_ANNOTATIONS); where it
     * spreads a client over N nodes with nginx, the client gets up to N times the rate.
     */
    clientAffinity: z.boolean().default(true),
    /** How long a client stays pinned after its last connection (Kubernetes' default and maximum: 10800 and 86400). */
    clientAffinityTimeoutSeconds: int(1, 86400).default(10800),
    /** Requests per second per client address for the whole tier, per zone (divided by replicas unless clientAffinity). */
    rateLimits: z.strictObject({ global: zoneRate(1000), api: zoneRate(500), trading: zoneRate(100) }).prefault({}),
    /** limit_req burst for the whole tier (0 = none), applied with nodelay. */
    burst: int(0).default(100),
    /** Concurrent connections per client address for the whole tier (divided by replicas unless clientAffinity). */
    limitConn: int(1).default(1000),
    /** Size of each limit zone, e.g. `100m` (about 16,000 addresses per megabyte). */
    zoneSize: z.string().regex(/^\d+[km]$/, "an nginx size such as 10m").default("100m"),
    /**
     * Idle keepalive connections to the gateways cached per nginx worker. Unset: sized for
     * concurrentRequests (upstreamKeepaliveFor: its share per worker of every instance, at least 32).
     */
    upstreamKeepalive: int(1, 10000).optional(),
    /** Requests one upstream connection carries before nginx closes it (keepalive_requests; nginx's default is 1000). */
    upstreamKeepaliveRequests: int(1).default(10000),
    /**
     * Idle time of a cached upstream connection; keep it below the gateways' keep-alive timeout
     * (Node's default keepAliveTimeout is 5 s: nginx must drop idle connections first).
     */
    upstreamKeepaliveTimeoutSeconds: int(1).default(4),
    /** Failed attempts within failTimeoutSeconds that take a gateway pod out for failTimeoutSeconds. */
    maxFails: int(1, 100).default(3),
    /** Window for maxFails and how long a failed gateway pod is skipped. */
    failTimeoutSeconds: int(1, 3600).default(30),
    /** Proxy timeouts and next-upstream retry policy. */
    proxy: z
        .strictObject({
            connectTimeoutSeconds: int(1, 600).default(5),
            sendTimeoutSeconds: int(1, 3600).default(60),
            readTimeoutSeconds: int(1, 3600).default(60),
            /** proxy_next_upstream_tries: attempts per request, the first included. */
            nextUpstreamTries: int(1, 20).default(3),
            /** proxy_next_upstream_timeout: time budget for all attempts of one request. */
            nextUpstreamTimeoutSeconds: int(1, 600).default(10),
        })
        .prefault({}),
    /** DNS server nginx re-resolves the upstream with; unset = kube-dns of clusterDomain. */
    resolver: z
        .union([dnsName, z.string().regex(/^\d{1,3}(\.\d{1,3}){3}(:\d+)?$/)], { error: "a DNS name or IPv4 address" })
        .optional(),
    /** How long nginx trusts an answer before asking again (headless records change with the HPA). */
    resolverValidSeconds: int(1).default(5),
    /** Path prefix limited by the api zone. */
    apiPathPrefix: pathPrefix.default("/api/"),
    /** Path prefix limited by the trading zone (and the api and global zones); other than apiPathPrefix. */
    tradingPathPrefix: pathPrefix.default("/api/trading/"),
    /**
     * Seconds a stopping pod keeps serving before nginx starts its graceful quit: time for the
     * endpoint removal to reach kube-proxy and the cloud load balancer.
     */
    preStopDelaySeconds: int(0).default(10),
    /** Resources of each nginx container. */
    resources: resourcesWithDefault({ cpu: "2", memory: "1Gi" }, { cpu: "4", memory: "2Gi" }),
    /** Resources of each exporter sidecar (both exporters). */
    exporterResources: resourcesWithDefault({ cpu: "50m", memory: "32Mi" }, { cpu: "200m", memory: "64Mi" }),
    /** The cluster's DNS domain (in-cluster endpoint name and the default resolver). */
    clusterDomain: dnsName.default("cluster.local"),
    /** Share of 5xx responses through the tier that pages (Nginx5xxRatioHigh; 0.01 = 1%). */
    http5xxAlertRatio: z.number().gt(0).lt(1).default(0.01),
});

/**
 * `serviceAnnotations` for a public load balancer that keeps the client's address (with the default
 * externalTrafficPolicy Local), per cloud; the README shows them as stack config.
 * - aws: the AWS Load Balancer Controller makes an internal NLB unless told `internet-facing`;
 *   instance targets with Local traffic policy see the client's address; source-IP stickiness
 *   keeps a client on one node (clientAffinity).
 * - gcp: GKE's default external passthrough Network Load Balancer keeps client addresses; the
 *   annotation asks for the backend-service based one. Whether GKE carries the Service's ClientIP
 *   affinity into its backend service was not checked here.
 * - azure: AKS's default public Standard Load Balancer keeps client addresses with Local (its health
 *   probe follows the Service's healthCheckNodePort); the annotation only pins it public. The
 *   Azure cloud provider turns the Service's ClientIP affinity into the rule's SourceIP distribution.
 */
export const CLOUD_LOAD_BALANCER_ANNOTATIONS: Readonly<Record<"aws" | "gcp" | "azure", Readonly<Record<string, string>>>> = {
    aws: {
        "service.beta.kubernetes.io/aws-load-balancer-type": "external",
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "instance",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
        // Source-IP stickiness of the NLB's target group: a client stays on one node, where the
        // Service's ClientIP affinity keeps it on one nginx pod (clientAffinity).
        "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes": "stickiness.enabled=true,stickiness.type=source_ip",
    },
    gcp: { "cloud.google.com/l4-rbs": "enabled" },
    azure: { "service.beta.kubernetes.io/azure-load-balancer-internal": "false" },
};

/** nginx refuses a limit_conn of 65536 or more ("connection limit must be less 65536"). */
const NGINX_MAX_LIMIT_CONN = 65535;

/** The cross-field rules of the load balancer's settings. */
export function checkLoadBalancerSettings(value: z.output<typeof loadBalancerSettingsSchema>, ctx: z.RefinementCtx): void {
    if (value.tradingPathPrefix === value.apiPathPrefix) {
        ctx.addIssue({ code: "custom", path: ["tradingPathPrefix"], message: `must differ from apiPathPrefix (${value.apiPathPrefix})` });
    }
    if (value.tls.servicePort === value.servicePort) {
        ctx.addIssue({ code: "custom", path: ["tls", "servicePort"], message: `must differ from servicePort (${value.servicePort}), which redirects to it` });
    }
    const limitConnPerInstance = value.clientAffinity ? value.limitConn : Math.floor(value.limitConn / value.replicas);
    if (limitConnPerInstance > NGINX_MAX_LIMIT_CONN) {
        ctx.addIssue({
            code: "custom",
            path: ["limitConn"],
            message: `gives each nginx instance limit_conn ${limitConnPerInstance}, above nginx's maximum ${NGINX_MAX_LIMIT_CONN}${value.clientAffinity ? " (with clientAffinity every instance enforces the whole limit)" : ""}`,
        });
    }
    if (value.workerRlimitNofile < 2 * value.workerConnections) {
        ctx.addIssue({ code: "custom", path: ["workerRlimitNofile"], message: `must be at least 2 x workerConnections (${2 * value.workerConnections})` });
    }
}

/** What sizes each worker's upstream keepalive cache. */
type KeepaliveSizing = Pick<z.output<typeof loadBalancerSettingsSchema>, "upstreamKeepalive" | "replicas" | "resources"> & { concurrentRequests: number };

/** The keepalive each worker caches: upstreamKeepalive as given, or sized for concurrentRequests. */
export function upstreamKeepalive(value: KeepaliveSizing): number {
    return value.upstreamKeepalive ?? upstreamKeepaliveFor({ concurrentRequests: value.concurrentRequests, replicas: value.replicas, workerProcesses: nginxWorkerProcesses(value.resources.limits.cpu) });
}

/** The keepalive cache shares a worker's connection slots with the clients it serves: at most half of them. */
function checkKeepalive(value: KeepaliveSizing & { workerConnections: number }, ctx: z.RefinementCtx): void {
    const keepalive = upstreamKeepalive(value);
    if (keepalive > value.workerConnections / 2) {
        const path = value.upstreamKeepalive === undefined ? "concurrentRequests" : "upstreamKeepalive";
        ctx.addIssue({
            code: "custom",
            path: [path],
            message: `gives ${keepalive} idle upstream connections per worker, more than half of workerConnections (${value.workerConnections}): add replicas or CPU, or raise workerConnections`,
        });
    }
}

/** The kube-dns Service of a cluster, nginx's resolver unless one is given. */
function kubeDns(clusterDomain: string): string {
    return serviceHost("kube-dns", "kube-system", clusterDomain);
}

/** Arguments of a LoadBalancerTier: the settings plus where it runs and what it proxies to. */
export const loadBalancerTierArgsSchema = loadBalancerSettingsSchema
    .extend({
        /** Namespace for every object of the tier. */
        namespace: input(z.string()),
        /** Image pull Secrets (names in the namespace) on the ServiceAccounts of every pod. */
        imagePullSecrets: imagePullSecretsSchema,
        /**
         * The gateways nginx proxies to: `host` is the FQDN of their headless Service (one DNS record
         * per ready pod, re-resolved by nginx while running), `port` their container port.
         */
        upstream: z.strictObject({ host: input(dnsName), port }),
        /** The p95 latency SLO in ms (the stack's targets.p95LatencyMs): NginxP95LatencyAboveSlo fires above it. */
        p95LatencyMs: int(1).default(100),
        /**
         * Requests in flight through the whole tier at peak; sizes upstreamKeepalive when that is
         * unset. The stack passes concurrentRequestsFor(targets); the default is the plan's
         * 100,000 req/s x 100 ms.
         */
        concurrentRequests: int(1).default(10000),
    })
    .superRefine(checkLoadBalancerSettings, onlyWhenValid)
    .superRefine(checkKeepalive, onlyWhenValid)
    .transform((args) => ({ ...args, resolver: args.resolver ?? kubeDns(args.clusterDomain) }));

/** The upstream host once known (an Output host is checked when it resolves). */
export const resolvedUpstreamSchema = z.strictObject({ upstream: z.strictObject({ host: dnsName }) });

/** What callers pass to a LoadBalancerTier; every field but `namespace` and `upstream` has a default. */
export type LoadBalancerTierArgs = z.input<typeof loadBalancerTierArgsSchema>;
/** LoadBalancerTierArgs with every default applied (the resolver too). */
export type ResolvedLoadBalancerTierArgs = z.output<typeof loadBalancerTierArgsSchema>;

/**
 * Requests in flight through the tier at a target rate and latency (Little's law: rate x time in
 * the system), the p95 standing in for the mean on the safe side.
 */
export function concurrentRequestsFor(targets: { requestsPerSecond: number; p95LatencyMs: number }): number {
    return Math.ceil((targets.requestsPerSecond * targets.p95LatencyMs) / 1000);
}
