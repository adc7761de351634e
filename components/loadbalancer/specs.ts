// Pure builders of the load balancer tier's Kubernetes specs (the nginx pod with its two metrics
// sidecars, its volumes, its stop sequence, the Service) and of the options its config files are
// rendered with. No resources are created here; the component puts the results into objects.
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import {
    Container,
    containerResources,
    containerSecurityContext,
    exporterSidecar,
    httpProbe,
    IMAGE_PULL_POLICY,
    podSecurityContext,
    PodSpec,
    ProbeTiming,
    scratchVolume,
    spreadAcrossNodes,
    Volume,
} from "../k8s";
import { ResolvedLoadBalancerTierArgs, upstreamKeepalive } from "./args";
import {
    drainSeconds,
    HEALTH_PATH,
    LOG_EXPORTER_PORT,
    LOG_EXPORTER_PORT_NAME,
    LOG_EXPORTER_SYSLOG_PORT,
    LogExporterConfigOptions,
    NGINX_HTTP_PORT,
    NGINX_HTTPS_PORT,
    NGINX_STATUS_PORT,
    NginxConfOptions,
    nginxWorkerProcesses,
    renderNginxStartScript,
    STUB_EXPORTER_PORT,
    STUB_EXPORTER_PORT_NAME,
    STUB_STATUS_PATH,
} from "./render";

/** The `nginx` user of the official nginx image; nginx runs as it from the start (no root master). */
const NGINX_UID = 101;
/** Container port name of NGINX_HTTP_PORT: the probes and the Service's plain HTTP targetPort use it. */
const NGINX_HTTP_PORT_NAME = "http";
/** Container port name of NGINX_HTTPS_PORT: the Service's HTTPS targetPort. */
const NGINX_HTTPS_PORT_NAME = "https";
/** Where the certificate Secret is mounted, and its two files (the keys of a kubernetes.io/tls Secret). */
const TLS_DIR = "/etc/nginx/tls";
const TLS_KEYS = { certificate: "tls.crt", privateKey: "tls.key" } as const;
/** Owner and group (fsGroup, nginx's) may read the key; nobody else. */
const TLS_FILE_MODE = 0o440;
/** Seconds between two looks at the mounted certificate (renewals come weeks before expiry; the kubelet updates the files within about a minute). */
export const CERTIFICATE_CHECK_SECONDS = 60;
/** Where the ConfigMap's nginx.conf is mounted (not /etc/nginx, which the image's scripts rewrite). */
const CONF_DIR = "/etc/nginx/prepx";
const CONF_FILE = `${CONF_DIR}/nginx.conf`;
/** emptyDir for the pid file and temp dirs: the root filesystem is read-only. */
const RUN_DIR = "/tmp/nginx";
const PID_FILE = `${RUN_DIR}/nginx.pid`;
const LOG_EXPORTER_CONF_DIR = "/etc/nginxlog-exporter";
/** Keys of the tier's ConfigMap. */
export const CONFIG_KEYS = { nginx: "nginx.conf", logExporter: "nginxlog-exporter.yaml" } as const;
/** Extra seconds of grace beyond delay + drain, for the master to exit after its workers. */
export const GRACE_MARGIN_SECONDS = 10;
/** nginx leaves the Service's endpoints after 2 missed answers 5 s apart, and is restarted after 3 missed 10 s apart. */
const NGINX_READINESS: ProbeTiming = { periodSeconds: 5, failureThreshold: 2 };
const NGINX_LIVENESS: ProbeTiming = { periodSeconds: 10, failureThreshold: 3 };
/** The log exporter's syslog listener: loopback, so only nginx in the same pod reaches it. */
const ACCESS_LOG_SYSLOG_ADDRESS = `127.0.0.1:${LOG_EXPORTER_SYSLOG_PORT}`;

/** The options nginx.conf is rendered with in the pod, `upstreamHost` being the gateways' resolved headless name. */
export function nginxConfOptions(args: ResolvedLoadBalancerTierArgs, upstreamHost: string): NginxConfOptions {
    return {
        replicas: args.replicas,
        clientAffinity: args.clientAffinity,
        workerProcesses: nginxWorkerProcesses(args.resources.limits.cpu),
        workerConnections: args.workerConnections,
        workerRlimitNofile: args.workerRlimitNofile,
        rateLimits: { global: args.rateLimits.global.rate, api: args.rateLimits.api.rate, trading: args.rateLimits.trading.rate },
        burst: args.burst,
        limitConn: args.limitConn,
        zoneSize: args.zoneSize,
        upstream: { kind: "resolve", host: upstreamHost, port: args.upstream.port, resolver: args.resolver, resolverValidSeconds: args.resolverValidSeconds },
        upstreamKeepalive: upstreamKeepalive(args),
        upstreamKeepaliveRequests: args.upstreamKeepaliveRequests,
        upstreamKeepaliveTimeoutSeconds: args.upstreamKeepaliveTimeoutSeconds,
        maxFails: args.maxFails,
        failTimeoutSeconds: args.failTimeoutSeconds,
        proxy: args.proxy,
        listenPort: NGINX_HTTP_PORT,
        tls: {
            listenPort: NGINX_HTTPS_PORT,
            certificateFile: `${TLS_DIR}/${TLS_KEYS.certificate}`,
            keyFile: `${TLS_DIR}/${TLS_KEYS.privateKey}`,
            publicPort: args.tls.servicePort,
            hstsMaxAgeSeconds: args.tls.hstsMaxAgeSeconds,
            sessionCacheSize: args.tls.sessionCacheSize,
        },
        client: args.client,
        trustedProxies: args.trustedProxies,
        statusPort: NGINX_STATUS_PORT,
        paths: { pidFile: PID_FILE, tempDir: RUN_DIR, errorLog: "stderr" },
        accessLogSyslog: ACCESS_LOG_SYSLOG_ADDRESS,
        apiPathPrefix: args.apiPathPrefix,
        tradingPathPrefix: args.tradingPathPrefix,
        shutdownTimeoutSeconds: drainSeconds(args.proxy),
    };
}

/** The options of the log exporter's config in the pod. */
export const LOG_EXPORTER_CONFIG: LogExporterConfigOptions = { listenPort: LOG_EXPORTER_PORT, syslogAddress: ACCESS_LOG_SYSLOG_ADDRESS };

/**
 * The stop sequence: keep serving while the endpoint removal propagates, then SIGQUIT (what
 * `nginx -s quit` sends, without re-reading the config) so workers finish in-flight requests, and
 * wait for the master to exit (it removes its pid file), bounded by the drain.
 */
export function preStopScript(args: Pick<ResolvedLoadBalancerTierArgs, "preStopDelaySeconds" | "proxy">): string {
    const drain = drainSeconds(args.proxy);
    return [
        `sleep ${args.preStopDelaySeconds}`,
        `kill -QUIT "$(cat ${PID_FILE})"`,
        `i=0; while [ -f ${PID_FILE} ] && [ "$i" -lt ${drain} ]; do sleep 1; i=$((i+1)); done`,
    ].join("\n");
}

/** Above delay + the longest proxied request, so the drain is never cut short. */
export function terminationGracePeriodSeconds(args: Pick<ResolvedLoadBalancerTierArgs, "preStopDelaySeconds" | "proxy">): number {
    return args.preStopDelaySeconds + drainSeconds(args.proxy) + GRACE_MARGIN_SECONDS;
}

/** The nginx container's script: nginx, reloaded when the mounted certificate changes (renderNginxStartScript). */
export function nginxStartScript(): string {
    return renderNginxStartScript({
        nginxCommand: ["nginx", "-c", CONF_FILE],
        watchedFiles: [`${TLS_DIR}/${TLS_KEYS.certificate}`, `${TLS_DIR}/${TLS_KEYS.privateKey}`],
        intervalSeconds: CERTIFICATE_CHECK_SECONDS,
    });
}

/** The nginx container: the mounted nginx.conf and certificate, probes on /healthz, the graceful stop. */
export function nginxContainer(args: ResolvedLoadBalancerTierArgs): Container {
    return {
        name: "nginx",
        image: args.image,
        imagePullPolicy: IMAGE_PULL_POLICY,
        // Bypasses the image's entrypoint scripts, which rewrite files under /etc/nginx.
        command: ["sh", "-c", nginxStartScript()],
        ports: [
            { name: NGINX_HTTP_PORT_NAME, containerPort: NGINX_HTTP_PORT },
            { name: NGINX_HTTPS_PORT_NAME, containerPort: NGINX_HTTPS_PORT },
        ],
        resources: containerResources(args.resources),
        securityContext: containerSecurityContext(),
        readinessProbe: httpProbe(HEALTH_PATH, NGINX_HTTP_PORT_NAME, NGINX_READINESS),
        livenessProbe: httpProbe(HEALTH_PATH, NGINX_HTTP_PORT_NAME, NGINX_LIVENESS),
        lifecycle: { preStop: { exec: { command: ["sh", "-c", preStopScript(args)] } } },
        volumeMounts: [
            { name: "config", mountPath: CONF_DIR, readOnly: true },
            { name: "tls", mountPath: TLS_DIR, readOnly: true },
            { name: "run", mountPath: RUN_DIR },
        ],
    };
}

/** nginx and its two metrics sidecars: nginx-prometheus-exporter (stub_status) and the access-log exporter. */
export function nginxPodContainers(args: ResolvedLoadBalancerTierArgs): Container[] {
    return [
        nginxContainer(args),
        exporterSidecar({
            image: args.exporterImage,
            port: STUB_EXPORTER_PORT,
            portName: STUB_EXPORTER_PORT_NAME,
            resources: args.exporterResources,
            args: [`--nginx.scrape-uri=http://127.0.0.1:${NGINX_STATUS_PORT}${STUB_STATUS_PATH}`, `--web.listen-address=:${STUB_EXPORTER_PORT}`],
        }),
        // Its syslog listener is bound to 127.0.0.1 (nginx in the same pod only): no port to declare.
        exporterSidecar({
            name: "log-exporter",
            image: args.logExporterImage,
            port: LOG_EXPORTER_PORT,
            portName: LOG_EXPORTER_PORT_NAME,
            resources: args.exporterResources,
            args: ["-config-file", `${LOG_EXPORTER_CONF_DIR}/${CONFIG_KEYS.logExporter}`],
            volumeMounts: [{ name: "log-exporter-config", mountPath: LOG_EXPORTER_CONF_DIR, readOnly: true }],
        }),
    ];
}

/**
 * Each container's file from the ConfigMap, the certificate and key (readable by nginx's group
 * only; no subPath, so the kubelet updates them when the Secret is renewed), and the writable run
 * directory.
 */
export function nginxPodVolumes(configMapName: pulumi.Input<string>, tlsSecretName: pulumi.Input<string>): Volume[] {
    const file = (key: string) => ({ name: configMapName, items: [{ key, path: key }] });
    return [
        { name: "config", configMap: file(CONFIG_KEYS.nginx) },
        { name: "log-exporter-config", configMap: file(CONFIG_KEYS.logExporter) },
        {
            name: "tls",
            secret: { secretName: tlsSecretName, defaultMode: TLS_FILE_MODE, items: Object.values(TLS_KEYS).map((key) => ({ key, path: key })) },
        },
        scratchVolume("run"),
    ];
}

/** The certificate Secret nginx serves: tls.secretName, or `<component name>-tls`. */
export function tlsSecretName(componentName: string, tls: Pick<ResolvedLoadBalancerTierArgs["tls"], "secretName">): string {
    return tls.secretName ?? `${componentName}-tls`;
}

/**
 * The cert-manager Certificate of the edge: the configured public names from the configured issuer,
 * written to `secretName` and renewed there by cert-manager. An ECDSA P-256 key (smaller, faster
 * handshakes than RSA; every TLS 1.2+ client supports it), a new key at each renewal.
 */
export function edgeCertificate(
    metadata: { name: string; namespace: pulumi.Input<string>; labels: Record<string, string> },
    certManager: NonNullable<ResolvedLoadBalancerTierArgs["tls"]["certManager"]>,
    secretName: string,
): k8s.apiextensions.CustomResourceArgs {
    return {
        apiVersion: "cert-manager.io/v1",
        kind: "Certificate",
        metadata,
        spec: {
            secretName,
            secretTemplate: { labels: metadata.labels },
            dnsNames: certManager.dnsNames,
            issuerRef: certManager.issuerRef,
            privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
            // No key encipherment: an ECDSA key only signs.
            usages: ["digital signature", "server auth"],
        },
    };
}

/** Objects the nginx pods refer to. */
export interface NginxPodRefs {
    /** The ConfigMap with nginx.conf and the log exporter's config. */
    configMapName: pulumi.Input<string>;
    /** The ServiceAccount the pods run as (image pull Secrets, no API token). */
    serviceAccountName: pulumi.Input<string>;
    /** The kubernetes.io/tls Secret nginx serves. */
    tlsSecretName: pulumi.Input<string>;
}

/** The nginx pods' spec: non-root, spread across nodes, a grace period that covers the drain. */
export function nginxPodSpec(args: ResolvedLoadBalancerTierArgs, selector: Record<string, string>, refs: NginxPodRefs): PodSpec {
    return {
        serviceAccountName: refs.serviceAccountName,
        // nginx never talks to the Kubernetes API: no token in the internet-facing pod.
        automountServiceAccountToken: false,
        securityContext: podSecurityContext(NGINX_UID),
        topologySpreadConstraints: spreadAcrossNodes(selector),
        terminationGracePeriodSeconds: terminationGracePeriodSeconds(args),
        enableServiceLinks: false,
        containers: nginxPodContainers(args),
        volumes: nginxPodVolumes(refs.configMapName, refs.tlsSecretName),
    };
}

/** The nginx Deployment's spec; `annotations` are the pod template's (config checksum, scraping). */
export function nginxDeploymentSpec(
    args: ResolvedLoadBalancerTierArgs,
    labels: Record<string, string>,
    selector: Record<string, string>,
    refs: NginxPodRefs,
    annotations: pulumi.Input<Record<string, string>>,
): k8s.types.input.apps.v1.DeploymentSpec {
    return {
        replicas: args.replicas,
        selector: { matchLabels: selector },
        // A new pod is ready before an old one goes: the tier never loses capacity on rollout.
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: { metadata: { labels, annotations }, spec: nginxPodSpec(args, selector, refs) },
    };
}

/**
 * The client Service: plain HTTP (redirects) and HTTPS, `metadata` plus the configured annotations,
 * externalTrafficPolicy only where Kubernetes takes it (not on ClusterIP), and ClientIP session
 * affinity with clientAffinity.
 */
export function nginxService(
    metadata: { name: string; namespace: pulumi.Input<string>; labels: Record<string, string> },
    args: Pick<ResolvedLoadBalancerTierArgs, "serviceType" | "servicePort" | "tls" | "externalTrafficPolicy" | "serviceAnnotations" | "clientAffinity" | "clientAffinityTimeoutSeconds">,
    selector: Record<string, string>,
): k8s.core.v1.ServiceArgs {
    const external = args.serviceType !== "ClusterIP";
    return {
        // No empty annotations map: the provider drops it, and the offline render must show what the engine sends.
        metadata: { ...metadata, ...(Object.keys(args.serviceAnnotations).length > 0 ? { annotations: args.serviceAnnotations } : {}) },
        spec: {
            type: args.serviceType,
            selector,
            ports: [
                { name: NGINX_HTTP_PORT_NAME, port: args.servicePort, targetPort: NGINX_HTTP_PORT_NAME, protocol: "TCP" },
                { name: NGINX_HTTPS_PORT_NAME, port: args.tls.servicePort, targetPort: NGINX_HTTPS_PORT_NAME, protocol: "TCP" },
            ],
            ...(external ? { externalTrafficPolicy: args.externalTrafficPolicy } : {}),
            ...(args.clientAffinity ? { sessionAffinity: "ClientIP", sessionAffinityConfig: { clientIP: { timeoutSeconds: args.clientAffinityTimeoutSeconds } } } : {}),
        },
    };
}
