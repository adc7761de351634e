// Pure builders of MonitoringStack's Kubernetes specs: the Prometheus StatefulSet, the
// kube-state-metrics and Grafana Deployments, their Services and RBAC rules. No resources are
// created here; the constructor passes the names of the objects these refer to.
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import {
    Container,
    containerResources,
    containerSecurityContext,
    EnvVar,
    httpProbe,
    httpsProbe,
    IMAGE_PULL_POLICY,
    podSecurityContext,
    PodSpec,
    ProbeTiming,
    pvcRetentionPolicy,
    scrapeAnnotations,
    scratchVolume,
    secretEnv,
    selectorLabels,
    ServiceSpec,
    spreadAcrossNodes,
    Volume,
    volumeClaimTemplate,
} from "../k8s";
import { TLS_SECRET_KEYS } from "../tls";
import type { PortScrapeJob, ResolvedMonitoringStackArgs } from "./args";
import {
    ALERT_RULES_FILE,
    ALERTMANAGER_CLUSTER_PORT,
    ALERTMANAGER_CONFIG_FILE,
    ALERTMANAGER_CLUSTER_TLS_FILE,
    ALERTMANAGER_PORT,
    ALERTMANAGER_TLS_FILES,
    ALERTMANAGER_WEB_CONFIG_FILE,
    KUBELET_CA_FILE,
    KUBELET_TOKEN_FILE,
    portScrapeJobCaFile,
    PROMETHEUS_CONFIG_FILE,
    PROMETHEUS_TLS_FILES,
    PROMETHEUS_WEB_CONFIG_FILE,
} from "./render";

export const PROMETHEUS_PORT = 9090;
export const GRAFANA_PORT = 3000;
/** kube-state-metrics' metrics port (the object state) and telemetry port (its own health). */
export const KUBE_STATE_METRICS_PORT = 8080;
const KUBE_STATE_METRICS_TELEMETRY_PORT = 8081;
/** `nobody`, the user of the prom/prometheus and kube-state-metrics images. */
const PROMETHEUS_UID = 65534;
/** The `grafana` user of the official image. */
const GRAFANA_UID = 472;
const PROMETHEUS_CONFIG_DIR = "/etc/prometheus";
const PROMETHEUS_DATA_DIR = "/prometheus";
const GRAFANA_DATA_DIR = "/var/lib/grafana";
const GRAFANA_PROVISIONING_DIR = "/etc/grafana/provisioning";
export const GRAFANA_DASHBOARDS_DIR = "/etc/grafana/dashboards";
/** The CA Grafana verifies Prometheus' certificate with (only `ca.crt` of Prometheus' certificate Secret). */
export const GRAFANA_PROMETHEUS_CA_FILE = "/etc/grafana/prometheus-ca/ca.crt";
/** Time to write the head block on shutdown instead of replaying the WAL on the next start. */
const PROMETHEUS_TERMINATION_GRACE_SECONDS = 120;
/** Lifetime of the projected kubelet token; the kubelet rotates it before it expires. */
const KUBELET_TOKEN_EXPIRATION_SECONDS = 3600;

const PROBE_TIMEOUT_SECONDS = 5;
/** Readiness of every monitoring container: out of the Service after 30 s without an answer. */
const READINESS: ProbeTiming = { periodSeconds: 10, failureThreshold: 3, timeoutSeconds: PROBE_TIMEOUT_SECONDS };
/** Liveness of Prometheus and Grafana: restarted after a minute without an answer. */
const LIVENESS: ProbeTiming = { periodSeconds: 15, failureThreshold: 4, timeoutSeconds: PROBE_TIMEOUT_SECONDS };
/** Liveness of kube-state-metrics: restarted after 30 s without an answer (it keeps no state). */
const KUBE_STATE_METRICS_LIVENESS: ProbeTiming = { periodSeconds: 10, failureThreshold: 3, timeoutSeconds: PROBE_TIMEOUT_SECONDS };
/** Prometheus' startup: replaying a large WAL after a restart takes minutes (up to 15 here). */
const PROMETHEUS_STARTUP: ProbeTiming = { periodSeconds: 10, failureThreshold: 90, timeoutSeconds: PROBE_TIMEOUT_SECONDS };
/** Grafana's startup: the first start creates and migrates its database (up to 5 minutes). */
const GRAFANA_STARTUP: ProbeTiming = { periodSeconds: 5, failureThreshold: 60, timeoutSeconds: PROBE_TIMEOUT_SECONDS };

/**
 * Prometheus' Kubernetes discovery: this namespace only, so a Role (no ClusterRole for pods). Every
 * namespaced job of prometheus.yml uses `role: pod`, whose informer only lists and watches pods
 * (render.ts podDiscovery); no job discovers endpoints or services, and nothing gets a single pod.
 */
export const PROMETHEUS_DISCOVERY_RULES: k8s.types.input.rbac.v1.PolicyRule[] = [{ apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] }];
/**
 * Node discovery lists nodes; the kubelet authorizes GET /metrics as `nodes/metrics`. Deliberately
 * not `nodes/proxy`: its `get` reaches every kubelet API, exec included.
 */
export const KUBELET_METRICS_RULES: k8s.types.input.rbac.v1.PolicyRule[] = [
    { apiGroups: [""], resources: ["nodes"], verbs: ["list", "watch"] },
    { apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] },
];
/** What kube-state-metrics reads, in this namespace only (a Role is enough with --namespaces). */
export const KUBE_STATE_METRICS_RULES: k8s.types.input.rbac.v1.PolicyRule[] = [
    { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
    { apiGroups: ["apps"], resources: ["deployments", "statefulsets"], verbs: ["list", "watch"] },
    { apiGroups: ["autoscaling"], resources: ["horizontalpodautoscalers"], verbs: ["list", "watch"] },
];

/** A ClusterIP Service of one HTTP port, named `http` on both sides. */
export function httpServiceSpec(labels: Record<string, string>, port: number): ServiceSpec {
    return { type: "ClusterIP", selector: selectorLabels(labels), ports: [{ name: "http", port, targetPort: "http" }] };
}

/**
 * Prometheus' config directory: prometheus.yml and the rules from the ConfigMap, the kubelet token,
 * (when kubelet TLS is verified) the cluster CA, and the CA of each port scrape job over HTTPS side
 * by side, so the rendered file names them by relative paths that are the same in the pod and in
 * the live test. Of a job's CA Secret only `ca.crt` is projected: the certificate's key stays out.
 * Prometheus' own certificate (`tlsSecretName`) goes to PROMETHEUS_TLS_FILES, served by web.yml.
 */
export function prometheusConfigVolume(configMapName: pulumi.Input<string>, verifyKubeletTls: boolean, portScrapeJobs: PortScrapeJob[], tlsSecretName: pulumi.Input<string>): Volume {
    const files = [PROMETHEUS_CONFIG_FILE, ALERT_RULES_FILE, PROMETHEUS_WEB_CONFIG_FILE].map((file) => ({ key: file, path: file }));
    const scrapeCas = portScrapeJobs.flatMap(({ job, tls }) =>
        tls === undefined ? [] : [{ secret: { name: tls.caSecret, items: [{ key: TLS_SECRET_KEYS.ca, path: portScrapeJobCaFile(job) }] } }],
    );
    const sources: k8s.types.input.core.v1.VolumeProjection[] = [
        { configMap: { name: configMapName, items: files } },
        { secret: { name: tlsSecretName, items: tlsSecretItems(PROMETHEUS_TLS_FILES) } },
        { serviceAccountToken: { path: KUBELET_TOKEN_FILE, expirationSeconds: KUBELET_TOKEN_EXPIRATION_SECONDS } },
        ...(verifyKubeletTls ? [{ configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: KUBELET_CA_FILE }] } }] : []),
        ...scrapeCas,
    ];
    return { name: "config", projected: { sources } };
}

/** A certificate Secret's three keys at the given paths, the private key readable by owner and group only. */
function tlsSecretItems(paths: { certificate: string; privateKey: string; ca: string }): k8s.types.input.core.v1.KeyToPath[] {
    return [
        { key: TLS_SECRET_KEYS.certificate, path: paths.certificate },
        { key: TLS_SECRET_KEYS.privateKey, path: paths.privateKey, mode: 0o440 },
        { key: TLS_SECRET_KEYS.ca, path: paths.ca },
    ];
}

/** The Prometheus container: HTTPS only (web.yml), retention from the args, the lifecycle API for a manual /-/reload. */
export function prometheusContainer(prometheus: ResolvedMonitoringStackArgs["prometheus"]): Container {
    return {
        name: "prometheus",
        image: prometheus.image,
        imagePullPolicy: IMAGE_PULL_POLICY,
        args: [
            `--config.file=${PROMETHEUS_CONFIG_DIR}/${PROMETHEUS_CONFIG_FILE}`,
            `--storage.tsdb.path=${PROMETHEUS_DATA_DIR}`,
            `--storage.tsdb.retention.time=${prometheus.retentionTime}`,
            `--storage.tsdb.retention.size=${prometheus.retentionSize}`,
            "--web.enable-lifecycle",
            `--web.listen-address=:${PROMETHEUS_PORT}`,
            `--web.config.file=${PROMETHEUS_CONFIG_DIR}/${PROMETHEUS_WEB_CONFIG_FILE}`,
        ],
        ports: [{ name: "http", containerPort: PROMETHEUS_PORT }],
        resources: containerResources(prometheus.resources),
        securityContext: containerSecurityContext(),
        startupProbe: httpsProbe("/-/ready", "http", PROMETHEUS_STARTUP),
        readinessProbe: httpsProbe("/-/ready", "http", READINESS),
        livenessProbe: httpsProbe("/-/healthy", "http", LIVENESS),
        volumeMounts: [
            { name: "config", mountPath: PROMETHEUS_CONFIG_DIR, readOnly: true },
            { name: "data", mountPath: PROMETHEUS_DATA_DIR },
        ],
    };
}

/** What Prometheus' StatefulSet refers to: its labels, the pod annotations and the objects' names. */
export interface PrometheusRefs {
    labels: Record<string, string>;
    /** The pod template's config checksum annotation (no scrape annotations: the `prometheus` job scrapes it over HTTPS). */
    annotations: pulumi.Input<Record<string, string>>;
    serviceName: pulumi.Input<string>;
    serviceAccountName: pulumi.Input<string>;
    configMapName: pulumi.Input<string>;
    /** The Secret of Prometheus' certificate (TLS_SECRET_KEYS). */
    tlsSecretName: pulumi.Input<string>;
}

/** Prometheus' StatefulSet: one pod, its TSDB on a PVC kept (protectData) when the set goes. */
export function prometheusStatefulSetSpec(args: ResolvedMonitoringStackArgs, refs: PrometheusRefs): k8s.types.input.apps.v1.StatefulSetSpec {
    const pod: PodSpec = {
        serviceAccountName: refs.serviceAccountName,
        // Kubernetes service discovery uses the in-cluster token.
        automountServiceAccountToken: true,
        securityContext: podSecurityContext(PROMETHEUS_UID),
        terminationGracePeriodSeconds: PROMETHEUS_TERMINATION_GRACE_SECONDS,
        enableServiceLinks: false,
        containers: [prometheusContainer(args.prometheus)],
        volumes: [prometheusConfigVolume(refs.configMapName, args.verifyKubeletTls, args.portScrapeJobs, refs.tlsSecretName)],
    };
    return {
        serviceName: refs.serviceName,
        replicas: 1,
        persistentVolumeClaimRetentionPolicy: pvcRetentionPolicy(args.protectData),
        selector: { matchLabels: selectorLabels(refs.labels) },
        // A changed prometheus.yml or rule file rolls the pod (the checksum annotation).
        template: { metadata: { labels: refs.labels, annotations: refs.annotations }, spec: pod },
        volumeClaimTemplates: [volumeClaimTemplate("data", args.prometheus.storage, args.storageClass)],
    };
}

/** What kube-state-metrics' Deployment refers to. */
export interface KubeStateMetricsRefs {
    labels: Record<string, string>;
    /** The namespace whose objects it reports (its Role allows no other). */
    namespace: pulumi.Input<string>;
    serviceAccountName: pulumi.Input<string>;
}

/** kube-state-metrics' Deployment, scraped by its own job (honor_labels), not the generic pods job. */
export function kubeStateMetricsDeploymentSpec(kubeStateMetrics: ResolvedMonitoringStackArgs["kubeStateMetrics"], refs: KubeStateMetricsRefs): k8s.types.input.apps.v1.DeploymentSpec {
    return {
        replicas: 1,
        selector: { matchLabels: selectorLabels(refs.labels) },
        template: { metadata: { labels: refs.labels, annotations: scrapeAnnotations(KUBE_STATE_METRICS_PORT) }, spec: kubeStateMetricsPodSpec(kubeStateMetrics, refs) },
    };
}

/** kube-state-metrics' pod: the pods, workloads and HPAs of `namespace` only. */
function kubeStateMetricsPodSpec(kubeStateMetrics: ResolvedMonitoringStackArgs["kubeStateMetrics"], refs: KubeStateMetricsRefs): PodSpec {
    return {
        serviceAccountName: refs.serviceAccountName,
        automountServiceAccountToken: true,
        securityContext: podSecurityContext(PROMETHEUS_UID),
        enableServiceLinks: false,
        containers: [
            {
                name: "kube-state-metrics",
                image: kubeStateMetrics.image,
                imagePullPolicy: IMAGE_PULL_POLICY,
                args: [
                    pulumi.interpolate`--namespaces=${refs.namespace}`,
                    "--resources=pods,deployments,statefulsets,horizontalpodautoscalers",
                    `--port=${KUBE_STATE_METRICS_PORT}`,
                    `--telemetry-port=${KUBE_STATE_METRICS_TELEMETRY_PORT}`,
                ],
                ports: [
                    { name: "http-metrics", containerPort: KUBE_STATE_METRICS_PORT },
                    { name: "telemetry", containerPort: KUBE_STATE_METRICS_TELEMETRY_PORT },
                ],
                resources: containerResources(kubeStateMetrics.resources),
                securityContext: containerSecurityContext(),
                livenessProbe: httpProbe("/livez", "http-metrics", KUBE_STATE_METRICS_LIVENESS),
                readinessProbe: httpProbe("/readyz", "telemetry", READINESS),
            },
        ],
    };
}

/** Grafana's data volume: its PVC when persistent, else an emptyDir of the same size. */
export function grafanaDataVolume(grafana: ResolvedMonitoringStackArgs["grafana"], claimName: pulumi.Input<string> | undefined): Volume {
    return claimName === undefined ? { name: "data", emptyDir: { sizeLimit: grafana.storage } } : { name: "data", persistentVolumeClaim: { claimName } };
}

/** Keys of Grafana's Secret. */
export const GRAFANA_SECRET_KEYS = { adminUser: "admin-user", adminPassword: "admin-password", secretKey: "secret-key" } as const;

/**
 * Grafana's environment: admin credentials and the secret key from the Secret, paths, no sign-up and
 * no anonymous access, secure cookies when served behind TLS, and nothing calling home.
 */
export function grafanaEnv(secretName: pulumi.Input<string>, grafana: Pick<ResolvedMonitoringStackArgs["grafana"], "cookieSecure">): EnvVar[] {
    return [
        secretEnv("GF_SECURITY_ADMIN_USER", secretName, GRAFANA_SECRET_KEYS.adminUser),
        secretEnv("GF_SECURITY_ADMIN_PASSWORD", secretName, GRAFANA_SECRET_KEYS.adminPassword),
        // Grafana's built-in default key is public: anything it encrypts with it is readable by anyone.
        secretEnv("GF_SECURITY_SECRET_KEY", secretName, GRAFANA_SECRET_KEYS.secretKey),
        { name: "GF_SECURITY_COOKIE_SECURE", value: String(grafana.cookieSecure) },
        { name: "GF_PATHS_DATA", value: GRAFANA_DATA_DIR },
        { name: "GF_PATHS_PROVISIONING", value: GRAFANA_PROVISIONING_DIR },
        // Grafana's default log mode also writes /var/log/grafana, on the read-only root filesystem.
        { name: "GF_LOG_MODE", value: "console" },
        // Grafana's defaults today, written out so an image upgrade cannot open them.
        { name: "GF_USERS_ALLOW_SIGN_UP", value: "false" },
        { name: "GF_USERS_ALLOW_ORG_CREATE", value: "false" },
        { name: "GF_AUTH_ANONYMOUS_ENABLED", value: "false" },
        // No calls home and no plugin downloads from inside the cluster.
        { name: "GF_ANALYTICS_REPORTING_ENABLED", value: "false" },
        { name: "GF_ANALYTICS_CHECK_FOR_UPDATES", value: "false" },
        { name: "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES", value: "false" },
    ];
}

/** What Grafana's pod refers to: the admin Secret, the two ConfigMaps and its data volume. */
export interface GrafanaRefs {
    /** The ServiceAccount Grafana runs as (image pull Secrets, no API token). */
    serviceAccountName: pulumi.Input<string>;
    secretName: pulumi.Input<string>;
    provisioningConfigMapName: pulumi.Input<string>;
    dashboardsConfigMapName: pulumi.Input<string>;
    /** Prometheus' certificate Secret: Grafana mounts its `ca.crt` only. */
    prometheusTlsSecretName: pulumi.Input<string>;
    dataVolume: Volume;
}

/** Grafana's Deployment: one pod, replaced (not rolled) because its volume and SQLite cannot be shared. */
export function grafanaDeploymentSpec(
    grafana: ResolvedMonitoringStackArgs["grafana"],
    refs: GrafanaRefs & { labels: Record<string, string>; annotations: pulumi.Input<Record<string, string>> },
): k8s.types.input.apps.v1.DeploymentSpec {
    return {
        replicas: 1,
        // One ReadWriteOnce volume (and SQLite) cannot be shared by an old and a new pod.
        strategy: { type: "Recreate" },
        selector: { matchLabels: selectorLabels(refs.labels) },
        template: { metadata: { labels: refs.labels, annotations: refs.annotations }, spec: grafanaPodSpec(grafana, refs) },
    };
}

/** Grafana's pod: the datasource and dashboards provisioned from ConfigMaps, its database on `dataVolume`. */
function grafanaPodSpec(grafana: ResolvedMonitoringStackArgs["grafana"], refs: GrafanaRefs): PodSpec {
    return {
        serviceAccountName: refs.serviceAccountName,
        automountServiceAccountToken: false,
        securityContext: podSecurityContext(GRAFANA_UID),
        enableServiceLinks: false,
        containers: [
            {
                name: "grafana",
                image: grafana.image,
                imagePullPolicy: IMAGE_PULL_POLICY,
                env: grafanaEnv(refs.secretName, grafana),
                ports: [{ name: "http", containerPort: GRAFANA_PORT }],
                resources: containerResources(grafana.resources),
                securityContext: containerSecurityContext(),
                startupProbe: httpProbe("/api/health", "http", GRAFANA_STARTUP),
                readinessProbe: httpProbe("/api/health", "http", READINESS),
                livenessProbe: httpProbe("/api/health", "http", LIVENESS),
                volumeMounts: [
                    { name: "data", mountPath: GRAFANA_DATA_DIR },
                    { name: "provisioning", mountPath: GRAFANA_PROVISIONING_DIR, readOnly: true },
                    { name: "dashboards", mountPath: GRAFANA_DASHBOARDS_DIR, readOnly: true },
                    { name: "prometheus-ca", mountPath: path.posix.dirname(GRAFANA_PROMETHEUS_CA_FILE), readOnly: true },
                    { name: "tmp", mountPath: "/tmp" },
                ],
            },
        ],
        volumes: [
            refs.dataVolume,
            {
                name: "provisioning",
                configMap: {
                    name: refs.provisioningConfigMapName,
                    items: [
                        { key: "datasources.yaml", path: "datasources/prepx.yaml" },
                        { key: "dashboards.yaml", path: "dashboards/prepx.yaml" },
                    ],
                },
            },
            { name: "dashboards", configMap: { name: refs.dashboardsConfigMapName } },
            {
                name: "prometheus-ca",
                secret: { secretName: refs.prometheusTlsSecretName, items: [{ key: TLS_SECRET_KEYS.ca, path: path.posix.basename(GRAFANA_PROMETHEUS_CA_FILE) }] },
            },
            scratchVolume("tmp"),
        ],
    };
}

// ---------------------------------------------------------------------------------------------
// Alertmanager

/** `nobody`, the user of the prom/alertmanager image. */
const ALERTMANAGER_UID = 65534;
const ALERTMANAGER_CONFIG_DIR = "/etc/alertmanager";
const ALERTMANAGER_DATA_DIR = "/alertmanager";
/** Liveness of Alertmanager: restarted after 30 s without an answer (peers keep its state). */
const ALERTMANAGER_LIVENESS: ProbeTiming = { periodSeconds: 10, failureThreshold: 3, timeoutSeconds: PROBE_TIMEOUT_SECONDS };

/**
 * Alertmanager's headless Service: stable pod names for Prometheus and for the peers, which must
 * find each other before they are ready (a lone replica waits for its peers' gossip to settle).
 */
export function alertmanagerServiceSpec(labels: Record<string, string>): ServiceSpec {
    return {
        clusterIP: "None",
        publishNotReadyAddresses: true,
        selector: selectorLabels(labels),
        ports: [
            { name: "http", port: ALERTMANAGER_PORT, targetPort: "http" },
            { name: "cluster-tcp", protocol: "TCP", port: ALERTMANAGER_CLUSTER_PORT, targetPort: "cluster-tcp" },
            { name: "cluster-udp", protocol: "UDP", port: ALERTMANAGER_CLUSTER_PORT, targetPort: "cluster-udp" },
        ],
    };
}

/**
 * Alertmanager's arguments. HTTPS only (its web config). With several replicas each names every peer
 * (itself included, which memberlist skips), advertises its pod IP and gossips over mutual TLS
 * (`--cluster.tls-config`); with one, `--cluster.listen-address=` turns the cluster off (else it
 * would wait for peers that never come before it reports ready).
 */
export function alertmanagerArgs(peers: string[]): string[] {
    const cluster =
        peers.length > 1
            ? [
                  `--cluster.listen-address=0.0.0.0:${ALERTMANAGER_CLUSTER_PORT}`,
                  `--cluster.advertise-address=$(POD_IP):${ALERTMANAGER_CLUSTER_PORT}`,
                  `--cluster.tls-config=${ALERTMANAGER_CONFIG_DIR}/${ALERTMANAGER_CLUSTER_TLS_FILE}`,
                  ...peers.map((peer) => `--cluster.peer=${peer}:${ALERTMANAGER_CLUSTER_PORT}`),
              ]
            : ["--cluster.listen-address="];
    return [
        `--config.file=${ALERTMANAGER_CONFIG_DIR}/${ALERTMANAGER_CONFIG_FILE}`,
        `--storage.path=${ALERTMANAGER_DATA_DIR}`,
        `--web.listen-address=:${ALERTMANAGER_PORT}`,
        `--web.config.file=${ALERTMANAGER_CONFIG_DIR}/${ALERTMANAGER_WEB_CONFIG_FILE}`,
        ...cluster,
    ];
}

/** Alertmanager's config directory: its three files from the config Secret, its certificate under tls/. */
export function alertmanagerConfigVolume(configSecretName: pulumi.Input<string>, tlsSecretName: pulumi.Input<string>): Volume {
    const files = [ALERTMANAGER_CONFIG_FILE, ALERTMANAGER_WEB_CONFIG_FILE, ALERTMANAGER_CLUSTER_TLS_FILE].map((file) => ({ key: file, path: file }));
    return {
        name: "config",
        projected: {
            defaultMode: 0o440,
            sources: [{ secret: { name: configSecretName, items: files } }, { secret: { name: tlsSecretName, items: tlsSecretItems(ALERTMANAGER_TLS_FILES) } }],
        },
    };
}

/** What Alertmanager's StatefulSet refers to. */
export interface AlertmanagerRefs {
    labels: Record<string, string>;
    /** The pod template's config checksum annotation (no scrape annotations: the `alertmanager` job scrapes it over HTTPS). */
    annotations: pulumi.Input<Record<string, string>>;
    serviceName: pulumi.Input<string>;
    serviceAccountName: pulumi.Input<string>;
    /** The Secret holding alertmanager.yml (it carries the receivers' URLs and keys), web.yml and cluster-tls.yml. */
    configSecretName: pulumi.Input<string>;
    /** The Secret of Alertmanager's certificate (TLS_SECRET_KEYS), shared by the replicas. */
    tlsSecretName: pulumi.Input<string>;
    /** Every replica's DNS name, from render.ts alertmanagerPeers. */
    peers: string[];
}

/**
 * Alertmanager's StatefulSet: `replicas` pods started together (the peers must meet), spread across
 * nodes. Silences and the notification log sit on an emptyDir: the replicas share them by gossip.
 */
export function alertmanagerStatefulSetSpec(alertmanager: ResolvedMonitoringStackArgs["alertmanager"], refs: AlertmanagerRefs): k8s.types.input.apps.v1.StatefulSetSpec {
    const pod: PodSpec = {
        serviceAccountName: refs.serviceAccountName,
        automountServiceAccountToken: false,
        securityContext: podSecurityContext(ALERTMANAGER_UID),
        enableServiceLinks: false,
        ...(alertmanager.replicas > 1 ? { topologySpreadConstraints: spreadAcrossNodes(selectorLabels(refs.labels)) } : {}),
        containers: [
            {
                name: "alertmanager",
                image: alertmanager.image,
                imagePullPolicy: IMAGE_PULL_POLICY,
                args: alertmanagerArgs(refs.peers),
                env: [{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }],
                ports: [
                    { name: "http", containerPort: ALERTMANAGER_PORT },
                    { name: "cluster-tcp", containerPort: ALERTMANAGER_CLUSTER_PORT, protocol: "TCP" },
                    { name: "cluster-udp", containerPort: ALERTMANAGER_CLUSTER_PORT, protocol: "UDP" },
                ],
                resources: containerResources(alertmanager.resources),
                securityContext: containerSecurityContext(),
                readinessProbe: httpsProbe("/-/ready", "http", READINESS),
                livenessProbe: httpsProbe("/-/healthy", "http", ALERTMANAGER_LIVENESS),
                volumeMounts: [
                    { name: "config", mountPath: ALERTMANAGER_CONFIG_DIR, readOnly: true },
                    { name: "data", mountPath: ALERTMANAGER_DATA_DIR },
                ],
            },
        ],
        volumes: [
            alertmanagerConfigVolume(refs.configSecretName, refs.tlsSecretName),
            { name: "data", emptyDir: { sizeLimit: alertmanager.storage } },
        ],
    };
    return {
        serviceName: refs.serviceName,
        replicas: alertmanager.replicas,
        podManagementPolicy: "Parallel",
        selector: { matchLabels: selectorLabels(refs.labels) },
        // A changed alertmanager.yml rolls the pods (the checksum annotation), one at a time.
        template: { metadata: { labels: refs.labels, annotations: refs.annotations }, spec: pod },
    };
}
