import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    ContainerResources,
    podTemplateAnnotations,
    containerResources,
    containerSecurityContext,
    disruptionBudget,
    podSecurityContext,
    requireArg,
    scratchVolume,
    selectorLabels,
    spreadAcrossNodes,
    standardLabels,
    withDefaults,
} from "../k8s";
import {
    HEALTH_PATH,
    LOG_EXPORTER_PORT,
    LOG_EXPORTER_PORT_NAME,
    LOG_EXPORTER_SYSLOG_PORT,
    NGINX_HTTP_PORT,
    NGINX_STATUS_PORT,
    ProxySettings,
    STUB_EXPORTER_PORT,
    STUB_EXPORTER_PORT_NAME,
    STUB_STATUS_PATH,
    drainSeconds,
    renderLogExporterConfig,
    renderNginxConf,
} from "./render";

export * from "./render";

/** Kubernetes Service types the tier can be exposed with. */
export type LoadBalancerServiceType = "LoadBalancer" | "NodePort" | "ClusterIP";

/** A limit_req zone's rate in requests per second per client address, for the whole tier. */
export interface ZoneRate {
    rate: number;
}

/**
 * Arguments of a LoadBalancerTier. Every field but `namespace` and `upstream` has a default
 * (LOAD_BALANCER_TIER_DEFAULTS, the prod shape of DESIGN.md). Field names match the stack's
 * `loadBalancer` config section, so `{ ...config.loadBalancer }` can be passed on.
 */
export interface LoadBalancerTierArgs {
    /** Namespace for every object of the tier. */
    namespace: pulumi.Input<string>;
    /**
     * The gateways nginx proxies to: `host` is the FQDN of their headless Service (one DNS record
     * per ready pod, re-resolved by nginx while running), `port` their container port.
     */
    upstream: { host: pulumi.Input<string>; port: number };
    /** nginx instances. Rates, bursts and limit_conn are divided by this count (see perInstanceLimits). */
    replicas?: number;
    /** Service type: LoadBalancer (prod: a cloud load balancer in front), NodePort or ClusterIP. */
    serviceType?: LoadBalancerServiceType;
    /**
     * externalTrafficPolicy of LoadBalancer/NodePort Services. `Local` keeps the client's source
     * address (the per-IP limits key on it; with `Cluster` every request would appear to come from
     * a node) and skips the extra node hop. Ignored for ClusterIP.
     */
    externalTrafficPolicy?: "Local" | "Cluster";
    /** Annotations of the Service, e.g. the cloud's load balancer type. */
    serviceAnnotations?: Record<string, string>;
    /** Port of the Service (clients); nginx listens on 8080 inside the pod. */
    servicePort?: number;
    /** nginx image, pinned, open-source nginx >= 1.27.3 (`server ... resolve`). */
    image?: string;
    /** nginx-prometheus-exporter image, pinned (stub_status metrics and `nginx_up`). */
    exporterImage?: string;
    /** prometheus-nginxlog-exporter image, pinned (per-status counts and latency histogram). */
    logExporterImage?: string;
    /** worker_connections per worker process. */
    workerConnections?: number;
    /** worker_rlimit_nofile: open files per worker (at least 2 per proxied connection). */
    workerRlimitNofile?: number;
    /** Requests per second per client address for the whole tier, per zone. */
    rateLimits?: { global: ZoneRate; api: ZoneRate; trading: ZoneRate };
    /** limit_req burst for the whole tier (0 = none), applied with nodelay. */
    burst?: number;
    /** Concurrent connections per client address for the whole tier. */
    limitConn?: number;
    /** Size of each limit zone, e.g. `100m`. */
    zoneSize?: string;
    /** Idle keepalive connections to the gateways cached per nginx worker. */
    upstreamKeepalive?: number;
    /** Idle time of a cached upstream connection; keep it below the gateways' keep-alive timeout. */
    upstreamKeepaliveTimeoutSeconds?: number;
    /** Failed attempts within failTimeoutSeconds that take a gateway pod out for failTimeoutSeconds. */
    maxFails?: number;
    /** Window for maxFails and how long a failed gateway pod is skipped. */
    failTimeoutSeconds?: number;
    /** Proxy timeouts and next-upstream retry policy. */
    proxy?: ProxySettings;
    /** DNS server nginx re-resolves the upstream with (default kube-dns of clusterDomain). */
    resolver?: string;
    /** How long nginx trusts an answer before asking again (headless records change with the HPA). */
    resolverValidSeconds?: number;
    /** Path prefix limited by the api zone. */
    apiPathPrefix?: string;
    /** Path prefix limited by the trading zone (and the api and global zones). */
    tradingPathPrefix?: string;
    /**
     * Seconds a stopping pod keeps serving before nginx starts its graceful quit: time for the
     * endpoint removal to reach kube-proxy and the cloud load balancer.
     */
    preStopDelaySeconds?: number;
    /** Resources of each nginx container. */
    resources?: ContainerResources;
    /** Resources of each exporter sidecar (both exporters). */
    exporterResources?: ContainerResources;
    /** The cluster's DNS domain (in-cluster endpoint name and the default resolver). */
    clusterDomain?: string;
}

/** Defaults of LoadBalancerTierArgs: the prod shape of DESIGN.md section 1. */
export const LOAD_BALANCER_TIER_DEFAULTS = {
    replicas: 3,
    serviceType: "LoadBalancer" as LoadBalancerServiceType,
    externalTrafficPolicy: "Local" as "Local" | "Cluster",
    serviceAnnotations: {} as Record<string, string>,
    servicePort: 80,
    // The official image's stable line; 1.28 includes `resolve` (open source since 1.27.3).
    image: "nginx:1.28.0",
    exporterImage: "nginx/nginx-prometheus-exporter:1.4.1",
    logExporterImage: "quay.io/martinhelmich/prometheus-nginxlog-exporter:v1.11.0",
    workerConnections: 8192,
    workerRlimitNofile: 65535,
    rateLimits: { global: { rate: 1000 }, api: { rate: 500 }, trading: { rate: 100 } },
    burst: 100,
    limitConn: 1000,
    zoneSize: "100m",
    upstreamKeepalive: 64,
    // Node's default keepAliveTimeout is 5 s: nginx must drop idle connections first.
    upstreamKeepaliveTimeoutSeconds: 4,
    maxFails: 3,
    failTimeoutSeconds: 30,
    proxy: { connectTimeoutSeconds: 5, sendTimeoutSeconds: 60, readTimeoutSeconds: 60, nextUpstreamTries: 3, nextUpstreamTimeoutSeconds: 10 } as ProxySettings,
    resolver: undefined as string | undefined,
    resolverValidSeconds: 5,
    apiPathPrefix: "/api/",
    tradingPathPrefix: "/api/trading/",
    preStopDelaySeconds: 10,
    resources: { requests: { cpu: "2", memory: "1Gi" }, limits: { cpu: "4", memory: "2Gi" } } as ContainerResources,
    exporterResources: { requests: { cpu: "50m", memory: "32Mi" }, limits: { cpu: "200m", memory: "64Mi" } } as ContainerResources,
    clusterDomain: "cluster.local",
};

/** The `nginx` user of the official nginx image; nginx runs as it from the start (no root master). */
const NGINX_UID = 101;
const CONF_DIR = "/etc/nginx/prepx";
const CONF_FILE = `${CONF_DIR}/nginx.conf`;
/** emptyDir for the pid file and temp dirs: the root filesystem is read-only. */
const RUN_DIR = "/tmp/nginx";
const PID_FILE = `${RUN_DIR}/nginx.pid`;
const LOG_EXPORTER_CONF_DIR = "/etc/nginxlog-exporter";
/** Extra seconds of grace beyond delay + drain, for the master to exit after its workers. */
const GRACE_MARGIN_SECONDS = 10;

const NGINX_SIZE = /^\d+[km]$/;
const PATH_PREFIX = /^\/[^\s;{}]*\/$/;
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.?$/;

/** First open-source nginx with `resolve` on upstream servers. */
const MIN_NGINX_VERSION = [1, 27, 3];

/** The nginx version in an image tag such as `nginx:1.28.0` or `nginx-unprivileged:1.28.0-alpine`; undefined for a digest or another scheme. */
export function nginxImageVersion(image: string): number[] | undefined {
    const match = /:(\d+)\.(\d+)\.(\d+)(?:[-.][A-Za-z0-9._-]*)?$/.exec(image);
    return match ? match.slice(1, 4).map(Number) : undefined;
}

function compareVersions(left: number[], right: number[]): number {
    for (let i = 0; i < Math.max(left.length, right.length); i++) {
        const difference = (left[i] ?? 0) - (right[i] ?? 0);
        if (difference !== 0) return difference;
    }
    return 0;
}

/**
 * The load balancer tier: nginx instances in front of the gateways' headless Service, with the
 * plan's rate limits divided over the replicas, 429 for limited requests, least_conn per gateway
 * pod (nginx re-resolves the headless name), graceful drain on stop, and two metrics sidecars:
 * nginx-prometheus-exporter (stub_status, `nginx_up`) and prometheus-nginxlog-exporter (responses
 * by status and a latency histogram, fed by nginx's access log over loopback syslog).
 */
export class LoadBalancerTier extends pulumi.ComponentResource {
    /** Name of the Service clients reach the tier through. */
    public readonly serviceName: pulumi.Output<string>;
    /**
     * Where clients reach the tier: the load balancer's hostname or IP from the Service status,
     * or, until one is assigned (and for NodePort/ClusterIP), the in-cluster DNS name.
     */
    public readonly endpoint: pulumi.Output<string>;
    /** The Service's client port. */
    public readonly port: number;
    /** Labels that select exactly the tier's nginx pods (for NetworkPolicies). */
    public readonly podLabels: Record<string, string>;
    /** Port nginx listens on in the pod (NetworkPolicy ingress to the pods targets this, not the Service port). */
    public readonly containerPort: number = NGINX_HTTP_PORT;
    /**
     * Metrics ports on every pod, path /metrics: `stubStatus` (nginx-prometheus-exporter, container
     * port name `metrics`, `nginx_up` and connection gauges) and `accessLog`
     * (prometheus-nginxlog-exporter, port name `metrics-log`, LB_METRICS.responses and
     * LB_METRICS.responseTimeBucket).
     */
    public readonly metricsPorts: { stubStatus: number; accessLog: number } = { stubStatus: STUB_EXPORTER_PORT, accessLog: LOG_EXPORTER_PORT };
    /** Name of the ConfigMap holding nginx.conf and the log exporter's config. */
    public readonly configMapName: pulumi.Output<string>;

    constructor(name: string, args: LoadBalancerTierArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("prepx:network:LoadBalancerTier", name, {}, opts);
        const a = withDefaults(LOAD_BALANCER_TIER_DEFAULTS, args);
        const fail = (arg: string, expected: string, got: unknown): string =>
            `LoadBalancerTier ${name}: args.${arg} must be ${expected} (got ${JSON.stringify(got)})`;
        const positiveInt = (arg: string, value: unknown, min = 1): void =>
            requireArg(typeof value === "number" && Number.isInteger(value) && value >= min, this, fail(arg, `an integer of at least ${min}`, value));

        positiveInt("replicas", a.replicas);
        requireArg(["LoadBalancer", "NodePort", "ClusterIP"].includes(a.serviceType), this, fail("serviceType", "LoadBalancer, NodePort or ClusterIP", a.serviceType));
        requireArg(["Local", "Cluster"].includes(a.externalTrafficPolicy), this, fail("externalTrafficPolicy", "Local or Cluster", a.externalTrafficPolicy));
        requireArg(Number.isInteger(a.servicePort) && a.servicePort >= 1 && a.servicePort <= 65535, this, fail("servicePort", "a port number", a.servicePort));
        positiveInt("workerConnections", a.workerConnections, 512);
        positiveInt("workerRlimitNofile", a.workerRlimitNofile, 1024);
        for (const zone of ["global", "api", "trading"] as const) {
            positiveInt(`rateLimits.${zone}.rate`, a.rateLimits?.[zone]?.rate);
        }
        positiveInt("burst", a.burst, 0);
        positiveInt("limitConn", a.limitConn);
        requireArg(NGINX_SIZE.test(a.zoneSize), this, fail("zoneSize", "an nginx size such as 10m", a.zoneSize));
        positiveInt("upstreamKeepalive", a.upstreamKeepalive);
        positiveInt("upstreamKeepaliveTimeoutSeconds", a.upstreamKeepaliveTimeoutSeconds);
        positiveInt("maxFails", a.maxFails);
        positiveInt("failTimeoutSeconds", a.failTimeoutSeconds);
        for (const key of ["connectTimeoutSeconds", "sendTimeoutSeconds", "readTimeoutSeconds", "nextUpstreamTries", "nextUpstreamTimeoutSeconds"] as const) {
            positiveInt(`proxy.${key}`, a.proxy?.[key]);
        }
        requireArg(args.upstream !== undefined && args.upstream !== null, this, fail("upstream", "{ host, port }", args.upstream));
        requireArg(
            Number.isInteger(args.upstream.port) && args.upstream.port >= 1 && args.upstream.port <= 65535,
            this,
            fail("upstream.port", "a port number", args.upstream.port),
        );
        if (typeof args.upstream.host === "string") {
            requireArg(HOSTNAME.test(args.upstream.host), this, fail("upstream.host", "a DNS name (the gateways' headless Service)", args.upstream.host));
        }
        const resolver = a.resolver ?? `kube-dns.kube-system.svc.${a.clusterDomain}`;
        requireArg(HOSTNAME.test(resolver) || /^\d{1,3}(\.\d{1,3}){3}(:\d+)?$/.test(resolver), this, fail("resolver", "a DNS name or IPv4 address", resolver));
        positiveInt("resolverValidSeconds", a.resolverValidSeconds);
        requireArg(PATH_PREFIX.test(a.apiPathPrefix), this, fail("apiPathPrefix", "a path starting and ending with /", a.apiPathPrefix));
        requireArg(
            PATH_PREFIX.test(a.tradingPathPrefix) && a.tradingPathPrefix !== a.apiPathPrefix,
            this,
            fail("tradingPathPrefix", "a path starting and ending with /, other than apiPathPrefix", a.tradingPathPrefix),
        );
        positiveInt("preStopDelaySeconds", a.preStopDelaySeconds, 0);
        const version = nginxImageVersion(a.image);
        requireArg(
            version === undefined || compareVersions(version, MIN_NGINX_VERSION) >= 0,
            this,
            fail("image", `nginx ${MIN_NGINX_VERSION.join(".")} or newer (open-source \`server ... resolve\`)`, a.image),
        );

        const child: pulumi.CustomResourceOptions = { parent: this };
        const labels = standardLabels("nginx", name, "load-balancer");
        const selector = selectorLabels(labels);
        this.podLabels = selector;
        this.port = a.servicePort;
        const namespace = pulumi.output(args.namespace);
        const drain = drainSeconds(a.proxy);

        const nginxConf = pulumi.output(args.upstream.host).apply((host) => {
            if (!HOSTNAME.test(host)) throw new pulumi.ResourceError(fail("upstream.host", "a DNS name (the gateways' headless Service)", host), this);
            return renderNginxConf({
                replicas: a.replicas,
                workerConnections: a.workerConnections,
                workerRlimitNofile: a.workerRlimitNofile,
                rateLimits: { global: a.rateLimits.global.rate, api: a.rateLimits.api.rate, trading: a.rateLimits.trading.rate },
                burst: a.burst,
                limitConn: a.limitConn,
                zoneSize: a.zoneSize,
                upstream: { kind: "resolve", host, port: args.upstream.port, resolver, resolverValidSeconds: a.resolverValidSeconds },
                upstreamKeepalive: a.upstreamKeepalive,
                upstreamKeepaliveTimeoutSeconds: a.upstreamKeepaliveTimeoutSeconds,
                maxFails: a.maxFails,
                failTimeoutSeconds: a.failTimeoutSeconds,
                proxy: a.proxy,
                listenPort: NGINX_HTTP_PORT,
                statusPort: NGINX_STATUS_PORT,
                paths: { pidFile: PID_FILE, tempDir: RUN_DIR, errorLog: "stderr" },
                accessLogSyslog: `127.0.0.1:${LOG_EXPORTER_SYSLOG_PORT}`,
                apiPrefix: a.apiPathPrefix,
                tradingPrefix: a.tradingPathPrefix,
                shutdownTimeoutSeconds: drain,
            });
        });
        const logExporterConf = renderLogExporterConfig({ listenPort: LOG_EXPORTER_PORT, syslogAddress: `127.0.0.1:${LOG_EXPORTER_SYSLOG_PORT}` });

        const configMap = new k8s.core.v1.ConfigMap(
            `${name}-config`,
            {
                metadata: { name: `${name}-config`, namespace: args.namespace, labels },
                data: { "nginx.conf": nginxConf, "nginxlog-exporter.yaml": logExporterConf },
            },
            child,
        );
        this.configMapName = configMap.metadata.name;

        const healthProbe = (periodSeconds: number, failureThreshold: number): k8s.types.input.core.v1.Probe => ({
            httpGet: { path: HEALTH_PATH, port: "http" },
            periodSeconds,
            timeoutSeconds: 3,
            failureThreshold,
        });
        const metricsProbe = (port: string, periodSeconds: number): k8s.types.input.core.v1.Probe => ({
            httpGet: { path: "/metrics", port },
            periodSeconds,
            timeoutSeconds: 3,
            failureThreshold: 3,
        });
        // Stop sequence: keep serving while the endpoint removal propagates, then SIGQUIT (what
        // `nginx -s quit` sends, without re-reading the config) so workers finish in-flight
        // requests, and wait for the master to exit (it removes its pid file), bounded by the drain.
        const preStop = [
            `sleep ${a.preStopDelaySeconds}`,
            `kill -QUIT "$(cat ${PID_FILE})"`,
            `i=0; while [ -f ${PID_FILE} ] && [ "$i" -lt ${drain} ]; do sleep 1; i=$((i+1)); done`,
        ].join("\n");

        new k8s.apps.v1.Deployment(
            name,
            {
                metadata: { name, namespace: args.namespace, labels },
                spec: {
                    replicas: a.replicas,
                    selector: { matchLabels: selector },
                    // A new pod is ready before an old one goes: the tier never loses capacity on rollout.
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                    template: {
                        metadata: {
                            labels,
                            annotations: podTemplateAnnotations(STUB_EXPORTER_PORT, [nginxConf, logExporterConf]),
                        },
                        spec: {
                            securityContext: podSecurityContext(NGINX_UID),
                            topologySpreadConstraints: spreadAcrossNodes(selector),
                            // Above delay + the longest proxied request, so the drain is never cut short.
                            terminationGracePeriodSeconds: a.preStopDelaySeconds + drain + GRACE_MARGIN_SECONDS,
                            enableServiceLinks: false,
                            containers: [
                                {
                                    name: "nginx",
                                    image: a.image,
                                    // Bypasses the image's entrypoint scripts, which rewrite files under /etc/nginx.
                                    command: ["nginx", "-c", CONF_FILE],
                                    ports: [{ name: "http", containerPort: NGINX_HTTP_PORT }],
                                    resources: containerResources(a.resources),
                                    securityContext: containerSecurityContext(),
                                    readinessProbe: healthProbe(5, 2),
                                    livenessProbe: healthProbe(10, 3),
                                    lifecycle: { preStop: { exec: { command: ["sh", "-c", preStop] } } },
                                    volumeMounts: [
                                        { name: "config", mountPath: CONF_DIR, readOnly: true },
                                        { name: "run", mountPath: RUN_DIR },
                                    ],
                                },
                                {
                                    name: "exporter",
                                    image: a.exporterImage,
                                    args: [
                                        `--nginx.scrape-uri=http://127.0.0.1:${NGINX_STATUS_PORT}${STUB_STATUS_PATH}`,
                                        `--web.listen-address=:${STUB_EXPORTER_PORT}`,
                                    ],
                                    ports: [{ name: STUB_EXPORTER_PORT_NAME, containerPort: STUB_EXPORTER_PORT }],
                                    resources: containerResources(a.exporterResources),
                                    securityContext: containerSecurityContext(),
                                    readinessProbe: metricsProbe(STUB_EXPORTER_PORT_NAME, 10),
                                    livenessProbe: metricsProbe(STUB_EXPORTER_PORT_NAME, 20),
                                },
                                {
                                    name: "log-exporter",
                                    image: a.logExporterImage,
                                    args: ["-config-file", `${LOG_EXPORTER_CONF_DIR}/nginxlog-exporter.yaml`],
                                    // Its syslog listener is bound to 127.0.0.1 (nginx in the same pod only): no port to declare.
                                    ports: [{ name: LOG_EXPORTER_PORT_NAME, containerPort: LOG_EXPORTER_PORT }],
                                    resources: containerResources(a.exporterResources),
                                    securityContext: containerSecurityContext(),
                                    readinessProbe: metricsProbe(LOG_EXPORTER_PORT_NAME, 10),
                                    livenessProbe: metricsProbe(LOG_EXPORTER_PORT_NAME, 20),
                                    volumeMounts: [{ name: "log-exporter-config", mountPath: LOG_EXPORTER_CONF_DIR, readOnly: true }],
                                },
                            ],
                            volumes: [
                                { name: "config", configMap: { name: configMap.metadata.name, items: [{ key: "nginx.conf", path: "nginx.conf" }] } },
                                {
                                    name: "log-exporter-config",
                                    configMap: { name: configMap.metadata.name, items: [{ key: "nginxlog-exporter.yaml", path: "nginxlog-exporter.yaml" }] },
                                },
                                scratchVolume("run"),
                            ],
                        },
                    },
                },
            },
            child,
        );

        // One replica cannot keep serving through a voluntary disruption; a budget would only block drains.
        if (a.replicas > 1) disruptionBudget(name, { namespace: args.namespace, labels }, child);

        const external = a.serviceType !== "ClusterIP";
        const service = new k8s.core.v1.Service(
            name,
            {
                // No empty annotations map: the provider drops it, and the offline render must show what the engine sends.
                metadata: { name, namespace: args.namespace, labels, ...(Object.keys(a.serviceAnnotations).length > 0 ? { annotations: a.serviceAnnotations } : {}) },
                spec: {
                    type: a.serviceType,
                    selector,
                    ports: [{ name: "http", port: a.servicePort, targetPort: "http", protocol: "TCP" }],
                    ...(external ? { externalTrafficPolicy: a.externalTrafficPolicy } : {}),
                },
            },
            child,
        );

        this.serviceName = service.metadata.name;
        this.endpoint = pulumi.all([service.status, service.metadata.name, namespace]).apply(([status, serviceName, ns]) => {
            const ingress = status?.loadBalancer?.ingress?.[0];
            return ingress?.hostname || ingress?.ip || `${serviceName}.${ns}.svc.${a.clusterDomain}`;
        });
        this.registerOutputs({
            serviceName: this.serviceName,
            endpoint: this.endpoint,
            podLabels: this.podLabels,
            metricsPorts: this.metricsPorts,
            configMapName: this.configMapName,
        });
    }
}
