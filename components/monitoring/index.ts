import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stackPassword } from "../passwords";
import {
    ContainerResources,
    podTemplateAnnotations,
    containerResources,
    containerSecurityContext,
    podSecurityContext,
    pvcRetentionPolicy,
    requireArg,
    scrapeAnnotations,
    scratchVolume,
    selectorLabels,
    serviceAccountWithRole,
    standardLabels,
    volumeClaimTemplate,
    withDefaults,
} from "../k8s";
import { MEMORY_QUANTITY, PROMETHEUS_DURATION, PROMETHEUS_SIZE, parseMemoryQuantity, parsePrometheusSize } from "../units";
import { dashboardFiles } from "./dashboards";
import {
    ALERT_RULES_FILE,
    AlertThresholds,
    ExpectedCounts,
    KUBELET_CA_FILE,
    KUBELET_TOKEN_FILE,
    PROMETHEUS_CONFIG_FILE,
    renderAlertRules,
    renderGrafanaDashboardProvider,
    renderGrafanaDatasources,
    renderPrometheusConfig,
} from "./render";

export * from "./render";
export { DASHBOARDS, dashboardFiles } from "./dashboards";

/** Prometheus sizing (the `monitoring.prometheus` config section). */
export interface PrometheusArgs {
    /** prom/prometheus image, pinned. */
    image?: string;
    /** `--storage.tsdb.retention.time`, e.g. `30d`. */
    retentionTime?: string;
    /** `--storage.tsdb.retention.size`, e.g. `50GB` (Prometheus units, powers of 1024). */
    retentionSize?: string;
    /** PVC size; must be larger than retentionSize (the WAL and compaction need headroom). */
    storage?: string;
    /** Scrape and rule evaluation interval, e.g. `15s`. */
    scrapeInterval?: string;
    /** Resources of the Prometheus container. */
    resources?: ContainerResources;
}

/** Grafana sizing (the `monitoring.grafana` config section). */
export interface GrafanaArgs {
    /** grafana/grafana image, pinned (Grafana 11: pie chart and geomap panels are built in). */
    image?: string;
    /** Size of Grafana's data volume (PVC, or emptyDir size limit when not persistent). */
    storage?: string;
    /**
     * Keep Grafana's database (users, preferences, annotations) on a PVC. Datasource and dashboards
     * are provisioned from files either way, so an emptyDir is enough where that state may be lost.
     */
    persistent?: boolean;
    /** Resources of the Grafana container. */
    resources?: ContainerResources;
}

/** kube-state-metrics (pod restarts, replica and HPA state of the namespace). */
export interface KubeStateMetricsArgs {
    /** registry.k8s.io/kube-state-metrics/kube-state-metrics image, pinned. */
    image?: string;
    /** Resources of the kube-state-metrics container. */
    resources?: ContainerResources;
}

/** Arguments of a MonitoringStack. `namespace` and `expected` are required; everything else has a default (MONITORING_STACK_DEFAULTS). */
export interface MonitoringStackArgs {
    /** Namespace of every object, and the only namespace Prometheus discovers pods in. */
    namespace: pulumi.Input<string>;
    /** Member counts the stack runs; the "below expected" and "master missing" alerts compare against them. */
    expected: ExpectedCounts;
    /** Prometheus sizing; unset fields take the defaults. */
    prometheus?: PrometheusArgs;
    /** Grafana sizing; unset fields take the defaults. */
    grafana?: GrafanaArgs;
    /** kube-state-metrics image and resources. */
    kubeStateMetrics?: KubeStateMetricsArgs;
    /** p95 latency SLO in ms (`targets.p95LatencyMs`); NginxP95LatencyAboveSlo fires above it. */
    p95LatencyMs?: number;
    /** The other alert thresholds; unset fields take the defaults. */
    thresholds?: Partial<Omit<AlertThresholds, "p95LatencyMs">>;
    /** `app.kubernetes.io/name` of the PostgreSQL (Patroni) pods. */
    postgresApp?: string;
    /** Patroni's REST port, scraped for /metrics; the PostgreSQL pods must declare it as a containerPort. */
    patroniPort?: number;
    /**
     * Verify kubelet serving certificates against the cluster CA when scraping volume statistics.
     * Off by default: kubeadm, kind and minikube kubelets serve self-signed certificates.
     */
    verifyKubeletTls?: boolean;
    /** Pulumi `protect` on Prometheus' StatefulSet, Grafana's PVC and Secret; PVCs retained on delete. */
    protectData?: boolean;
    /** Grafana's admin password; unset = generated once (RandomPassword) and kept in the stack's state. */
    grafanaAdminPassword?: pulumi.Input<string>;
    /** StorageClass of the PVCs; unset = the cluster default. */
    storageClass?: string;
    /** The cluster's DNS domain, used in the in-cluster URLs. */
    clusterDomain?: string;
}

/** Defaults of MonitoringStackArgs: the prod shape of DESIGN.md. */
export const MONITORING_STACK_DEFAULTS = {
    prometheus: {
        image: "prom/prometheus:v2.53.2",
        retentionTime: "30d",
        retentionSize: "50GB",
        storage: "64Gi",
        scrapeInterval: "15s",
        resources: { requests: { cpu: "2", memory: "4Gi" }, limits: { cpu: "4", memory: "8Gi" } },
    },
    grafana: {
        image: "grafana/grafana:11.2.0",
        storage: "10Gi",
        persistent: true,
        resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "2", memory: "4Gi" } },
    },
    kubeStateMetrics: {
        image: "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0",
        resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "256Mi" } },
    },
    p95LatencyMs: 100,
    thresholds: {
        http5xxRatio: 0.01,
        replicationLagSeconds: 30,
        replicationLagBytes: 1048576,
        podRestarts: 3,
        podRestartWindow: "15m",
        pvcUsedRatio: 0.85,
    },
    postgresApp: "postgres",
    patroniPort: 8008,
    verifyKubeletTls: false,
    protectData: true,
    storageClass: undefined as string | undefined,
    clusterDomain: "cluster.local",
};

/** `app.kubernetes.io/name` of the kube-state-metrics pods (the scrape config keys on it). */
export const KUBE_STATE_METRICS_APP = "kube-state-metrics";
export const PROMETHEUS_PORT = 9090;
export const GRAFANA_PORT = 3000;
const KSM_PORT = 8080;
const KSM_TELEMETRY_PORT = 8081;
const PROMETHEUS_UID = 65534; // `nobody`, the user of the prom/prometheus and kube-state-metrics images
const GRAFANA_UID = 472; // the `grafana` user of the official image
const PROMETHEUS_CONFIG_DIR = "/etc/prometheus";
const PROMETHEUS_DATA_DIR = "/prometheus";
const GRAFANA_DATA_DIR = "/var/lib/grafana";
const GRAFANA_PROVISIONING_DIR = "/etc/grafana/provisioning";
const GRAFANA_DASHBOARDS_DIR = "/etc/grafana/dashboards";

/**
 * Prometheus (StatefulSet, per-stack retention, alert rules for every component), kube-state-metrics
 * for pod and workload state, and Grafana with the Prometheus datasource and one dashboard per
 * component provisioned from files in the repo. Prometheus discovers pods of its own namespace only.
 */
export class MonitoringStack extends pulumi.ComponentResource {
    /** In-cluster URL of Prometheus (HTTP API and UI). */
    public readonly prometheusUrl: pulumi.Output<string>;
    /** In-cluster URL of Grafana. */
    public readonly grafanaUrl: pulumi.Output<string>;
    /** Grafana's `admin` password (secret). Applied by Grafana when its database is first created. */
    public readonly grafanaAdminPassword: pulumi.Output<string>;
    /** Name of the Secret holding Grafana's admin credentials under `admin-user` and `admin-password`. */
    public readonly grafanaSecretName: pulumi.Output<string>;
    /** Labels on the Prometheus pod (for a NetworkPolicy allowing Prometheus to every metrics port). */
    public readonly podLabels: Record<string, string>;
    /** Labels on the Grafana pod (for a NetworkPolicy allowing Grafana to Prometheus). */
    public readonly grafanaPodLabels: Record<string, string>;
    /** Labels on the kube-state-metrics pod (it reads the Kubernetes API: a NetworkPolicy must allow that egress). */
    public readonly kubeStateMetricsPodLabels: Record<string, string>;
    /** Prometheus' HTTP port (API, UI, its own /metrics). */
    public readonly prometheusPort: number = PROMETHEUS_PORT;
    /** Grafana's HTTP port (UI, its own /metrics). */
    public readonly grafanaPort: number = GRAFANA_PORT;
    /** This component's own scrape targets (pods and metrics ports), in the shape NetworkPolicy inputs take. */
    public readonly metricsTargets: { name: string; labels: Record<string, string>; ports: number[] }[];
    /** Name of the Prometheus Service. */
    public readonly prometheusServiceName: pulumi.Output<string>;
    /** Name of the Grafana Service. */
    public readonly grafanaServiceName: pulumi.Output<string>;

    constructor(name: string, args: MonitoringStackArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("prepx:monitoring:MonitoringStack", name, {}, opts);
        const a = withDefaults(MONITORING_STACK_DEFAULTS, args);
        const prom = withDefaults(MONITORING_STACK_DEFAULTS.prometheus, args.prometheus ?? {});
        const graf = withDefaults(MONITORING_STACK_DEFAULTS.grafana, args.grafana ?? {});
        const ksm = withDefaults(MONITORING_STACK_DEFAULTS.kubeStateMetrics, args.kubeStateMetrics ?? {});
        const thresholds: AlertThresholds = { ...withDefaults(MONITORING_STACK_DEFAULTS.thresholds, args.thresholds ?? {}), p95LatencyMs: a.p95LatencyMs };
        this.validate(name, args, prom, graf, thresholds, a.patroniPort);

        const child: pulumi.CustomResourceOptions = { parent: this };
        const dataOpts: pulumi.CustomResourceOptions = { parent: this, protect: a.protectData };
        const namespace = pulumi.output(args.namespace);
        const promName = `${name}-prometheus`;
        const grafanaName = `${name}-grafana`;
        const ksmName = `${name}-kube-state-metrics`;
        const promLabels = standardLabels("prometheus", name, "monitoring");
        const grafanaLabels = standardLabels("grafana", name, "monitoring");
        const ksmLabels = standardLabels(KUBE_STATE_METRICS_APP, name, "monitoring");
        this.podLabels = promLabels;
        this.grafanaPodLabels = grafanaLabels;
        this.kubeStateMetricsPodLabels = ksmLabels;
        this.metricsTargets = [
            { name: "prometheus", labels: promLabels, ports: [PROMETHEUS_PORT] },
            { name: "grafana", labels: grafanaLabels, ports: [GRAFANA_PORT] },
            { name: KUBE_STATE_METRICS_APP, labels: ksmLabels, ports: [KSM_PORT] },
        ];

        // ---- Prometheus: RBAC for discovery and kubelet scraping
        const { serviceAccount: promAccount } = serviceAccountWithRole(
            promName,
            // Discovery of this namespace only: no ClusterRole for pods.
            { namespace: args.namespace, labels: promLabels, rules: [{ apiGroups: [""], resources: ["pods", "endpoints", "services"], verbs: ["get", "list", "watch"] }] },
            child,
        );
        // Cluster-scoped names must be unique across namespaces.
        const clusterRoleName = pulumi.interpolate`${namespace}-${promName}-kubelet`;
        const kubeletRole = new k8s.rbac.v1.ClusterRole(
            `${promName}-kubelet`,
            {
                metadata: { name: clusterRoleName, labels: promLabels },
                rules: [
                    // Node discovery lists nodes; the kubelet authorizes GET /metrics as `nodes/metrics`.
                    // Deliberately not `nodes/proxy`: its `get` reaches every kubelet API, exec included.
                    { apiGroups: [""], resources: ["nodes"], verbs: ["list", "watch"] },
                    { apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] },
                ],
            },
            child,
        );
        new k8s.rbac.v1.ClusterRoleBinding(
            `${promName}-kubelet`,
            {
                metadata: { name: clusterRoleName, labels: promLabels },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: kubeletRole.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: promAccount.metadata.name, namespace: args.namespace }],
            },
            child,
        );

        // ---- Prometheus: configuration
        const prometheusYml = namespace.apply((ns) =>
            renderPrometheusConfig({
                namespace: ns,
                scrapeInterval: prom.scrapeInterval,
                kubeStateMetricsApp: KUBE_STATE_METRICS_APP,
                postgresApp: a.postgresApp,
                patroniPort: a.patroniPort,
                verifyKubeletTls: a.verifyKubeletTls,
            }),
        );
        const alertsYml = namespace.apply((ns) => renderAlertRules({ namespace: ns, expected: args.expected, thresholds, postgresApp: a.postgresApp }));
        const promConfig = new k8s.core.v1.ConfigMap(
            `${promName}-config`,
            {
                metadata: { name: `${promName}-config`, namespace: args.namespace, labels: promLabels },
                data: { [PROMETHEUS_CONFIG_FILE]: prometheusYml, [ALERT_RULES_FILE]: alertsYml },
            },
            child,
        );
        const promService = new k8s.core.v1.Service(
            promName,
            {
                metadata: { name: promName, namespace: args.namespace, labels: promLabels },
                spec: { type: "ClusterIP", selector: selectorLabels(promLabels), ports: [{ name: "http", port: PROMETHEUS_PORT, targetPort: "http" }] },
            },
            child,
        );
        const httpProbe = (path: string, port: string, periodSeconds: number, failureThreshold: number): k8s.types.input.core.v1.Probe => ({
            httpGet: { path, port },
            periodSeconds,
            timeoutSeconds: 5,
            failureThreshold,
        });
        // The projected config volume puts the kubelet token next to prometheus.yml, so the rendered
        // file names it by a relative path that is the same in the pod and in the live test.
        const configSources: k8s.types.input.core.v1.VolumeProjection[] = [
            { configMap: { name: promConfig.metadata.name, items: [{ key: PROMETHEUS_CONFIG_FILE, path: PROMETHEUS_CONFIG_FILE }, { key: ALERT_RULES_FILE, path: ALERT_RULES_FILE }] } },
            { serviceAccountToken: { path: KUBELET_TOKEN_FILE, expirationSeconds: 3600 } },
            ...(a.verifyKubeletTls ? [{ configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: KUBELET_CA_FILE }] } }] : []),
        ];
        new k8s.apps.v1.StatefulSet(
            promName,
            {
                metadata: { name: promName, namespace: args.namespace, labels: promLabels },
                spec: {
                    serviceName: promService.metadata.name,
                    replicas: 1,
                    persistentVolumeClaimRetentionPolicy: pvcRetentionPolicy(a.protectData),
                    selector: { matchLabels: selectorLabels(promLabels) },
                    template: {
                        metadata: {
                            labels: promLabels,
                            // A changed prometheus.yml or rule file rolls the pod; /-/reload (lifecycle API) is there for manual use.
                            annotations: podTemplateAnnotations(PROMETHEUS_PORT, [prometheusYml, alertsYml]),
                        },
                        spec: {
                            serviceAccountName: promAccount.metadata.name,
                            // Kubernetes service discovery uses the in-cluster token.
                            automountServiceAccountToken: true,
                            securityContext: podSecurityContext(PROMETHEUS_UID),
                            // Time to write the head block instead of replaying the WAL on the next start.
                            terminationGracePeriodSeconds: 120,
                            enableServiceLinks: false,
                            containers: [
                                {
                                    name: "prometheus",
                                    image: prom.image,
                                    args: [
                                        `--config.file=${PROMETHEUS_CONFIG_DIR}/${PROMETHEUS_CONFIG_FILE}`,
                                        `--storage.tsdb.path=${PROMETHEUS_DATA_DIR}`,
                                        `--storage.tsdb.retention.time=${prom.retentionTime}`,
                                        `--storage.tsdb.retention.size=${prom.retentionSize}`,
                                        "--web.enable-lifecycle",
                                        `--web.listen-address=:${PROMETHEUS_PORT}`,
                                    ],
                                    ports: [{ name: "http", containerPort: PROMETHEUS_PORT }],
                                    resources: containerResources(prom.resources),
                                    securityContext: containerSecurityContext(),
                                    // Replaying a large WAL after a restart takes minutes; liveness waits for it.
                                    startupProbe: httpProbe("/-/ready", "http", 10, 90),
                                    readinessProbe: httpProbe("/-/ready", "http", 10, 3),
                                    livenessProbe: httpProbe("/-/healthy", "http", 15, 4),
                                    volumeMounts: [
                                        { name: "config", mountPath: PROMETHEUS_CONFIG_DIR, readOnly: true },
                                        { name: "data", mountPath: PROMETHEUS_DATA_DIR },
                                    ],
                                },
                            ],
                            volumes: [{ name: "config", projected: { sources: configSources } }],
                        },
                    },
                    volumeClaimTemplates: [volumeClaimTemplate("data", prom.storage, a.storageClass)],
                },
            },
            dataOpts,
        );

        // ---- kube-state-metrics, limited to this namespace (a Role is enough with --namespaces)
        const { serviceAccount: ksmAccount } = serviceAccountWithRole(
            ksmName,
            {
                namespace: args.namespace,
                labels: ksmLabels,
                rules: [
                    { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
                    { apiGroups: ["apps"], resources: ["deployments", "statefulsets"], verbs: ["list", "watch"] },
                    { apiGroups: ["autoscaling"], resources: ["horizontalpodautoscalers"], verbs: ["list", "watch"] },
                ],
            },
            child,
        );
        new k8s.apps.v1.Deployment(
            ksmName,
            {
                metadata: { name: ksmName, namespace: args.namespace, labels: ksmLabels },
                spec: {
                    replicas: 1,
                    selector: { matchLabels: selectorLabels(ksmLabels) },
                    template: {
                        // Scraped by the kube-state-metrics job (honor_labels), not the generic pods job.
                        metadata: { labels: ksmLabels, annotations: scrapeAnnotations(KSM_PORT) },
                        spec: {
                            serviceAccountName: ksmAccount.metadata.name,
                            automountServiceAccountToken: true,
                            securityContext: podSecurityContext(PROMETHEUS_UID),
                            enableServiceLinks: false,
                            containers: [
                                {
                                    name: "kube-state-metrics",
                                    image: ksm.image,
                                    args: [
                                        pulumi.interpolate`--namespaces=${namespace}`,
                                        "--resources=pods,deployments,statefulsets,horizontalpodautoscalers",
                                        `--port=${KSM_PORT}`,
                                        `--telemetry-port=${KSM_TELEMETRY_PORT}`,
                                    ],
                                    ports: [
                                        { name: "http-metrics", containerPort: KSM_PORT },
                                        { name: "telemetry", containerPort: KSM_TELEMETRY_PORT },
                                    ],
                                    resources: containerResources(ksm.resources),
                                    securityContext: containerSecurityContext(),
                                    livenessProbe: httpProbe("/livez", "http-metrics", 10, 3),
                                    readinessProbe: httpProbe("/readyz", "telemetry", 10, 3),
                                },
                            ],
                        },
                    },
                },
            },
            child,
        );

        // ---- Grafana
        this.grafanaAdminPassword = stackPassword(`${grafanaName}-admin-password`, args.grafanaAdminPassword, child);
        const secret = new k8s.core.v1.Secret(
            `${grafanaName}-admin`,
            {
                metadata: { name: `${grafanaName}-admin`, namespace: args.namespace, labels: grafanaLabels },
                type: "Opaque",
                stringData: { "admin-user": "admin", "admin-password": this.grafanaAdminPassword },
            },
            dataOpts,
        );
        this.grafanaSecretName = secret.metadata.name;

        this.prometheusServiceName = promService.metadata.name;
        this.prometheusUrl = pulumi.interpolate`http://${promService.metadata.name}.${namespace}.svc.${a.clusterDomain}:${PROMETHEUS_PORT}`;
        const datasources = this.prometheusUrl.apply((url) => renderGrafanaDatasources({ prometheusUrl: url, scrapeInterval: prom.scrapeInterval }));
        const provider = renderGrafanaDashboardProvider({ path: GRAFANA_DASHBOARDS_DIR, folder: "prepx" });
        const provisioning = new k8s.core.v1.ConfigMap(
            `${grafanaName}-provisioning`,
            {
                metadata: { name: `${grafanaName}-provisioning`, namespace: args.namespace, labels: grafanaLabels },
                data: { "datasources.yaml": datasources, "dashboards.yaml": provider },
            },
            child,
        );
        const dashboards = dashboardFiles();
        const dashboardsMap = new k8s.core.v1.ConfigMap(
            `${grafanaName}-dashboards`,
            { metadata: { name: `${grafanaName}-dashboards`, namespace: args.namespace, labels: grafanaLabels }, data: dashboards },
            child,
        );
        let dataVolume: k8s.types.input.core.v1.Volume;
        if (graf.persistent) {
            const claim = new k8s.core.v1.PersistentVolumeClaim(
                grafanaName,
                {
                    metadata: { name: grafanaName, namespace: args.namespace, labels: grafanaLabels },
                    spec: volumeClaimTemplate("data", graf.storage, a.storageClass).spec,
                },
                dataOpts,
            );
            dataVolume = { name: "data", persistentVolumeClaim: { claimName: claim.metadata.name } };
        } else {
            dataVolume = { name: "data", emptyDir: { sizeLimit: graf.storage } };
        }
        const grafanaService = new k8s.core.v1.Service(
            grafanaName,
            {
                metadata: { name: grafanaName, namespace: args.namespace, labels: grafanaLabels },
                spec: { type: "ClusterIP", selector: selectorLabels(grafanaLabels), ports: [{ name: "http", port: GRAFANA_PORT, targetPort: "http" }] },
            },
            child,
        );
        const secretEnv = (envName: string, key: string): k8s.types.input.core.v1.EnvVar => ({
            name: envName,
            valueFrom: { secretKeyRef: { name: secret.metadata.name, key } },
        });
        new k8s.apps.v1.Deployment(
            grafanaName,
            {
                metadata: { name: grafanaName, namespace: args.namespace, labels: grafanaLabels },
                spec: {
                    replicas: 1,
                    // One ReadWriteOnce volume (and SQLite) cannot be shared by an old and a new pod.
                    strategy: { type: "Recreate" },
                    selector: { matchLabels: selectorLabels(grafanaLabels) },
                    template: {
                        metadata: {
                            labels: grafanaLabels,
                            annotations: podTemplateAnnotations(GRAFANA_PORT, [datasources, provider, ...Object.values(dashboards)]),
                        },
                        spec: {
                            automountServiceAccountToken: false,
                            securityContext: podSecurityContext(GRAFANA_UID),
                            enableServiceLinks: false,
                            containers: [
                                {
                                    name: "grafana",
                                    image: graf.image,
                                    env: [
                                        secretEnv("GF_SECURITY_ADMIN_USER", "admin-user"),
                                        secretEnv("GF_SECURITY_ADMIN_PASSWORD", "admin-password"),
                                        { name: "GF_PATHS_DATA", value: GRAFANA_DATA_DIR },
                                        { name: "GF_PATHS_PROVISIONING", value: GRAFANA_PROVISIONING_DIR },
                                        // Grafana's default log mode also writes /var/log/grafana, on the read-only root filesystem.
                                        { name: "GF_LOG_MODE", value: "console" },
                                        { name: "GF_USERS_ALLOW_SIGN_UP", value: "false" },
                                        { name: "GF_AUTH_ANONYMOUS_ENABLED", value: "false" },
                                        // No calls home and no plugin downloads from inside the cluster.
                                        { name: "GF_ANALYTICS_REPORTING_ENABLED", value: "false" },
                                        { name: "GF_ANALYTICS_CHECK_FOR_UPDATES", value: "false" },
                                        { name: "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES", value: "false" },
                                    ],
                                    ports: [{ name: "http", containerPort: GRAFANA_PORT }],
                                    resources: containerResources(graf.resources),
                                    securityContext: containerSecurityContext(),
                                    // The first start creates and migrates the database.
                                    startupProbe: httpProbe("/api/health", "http", 5, 60),
                                    readinessProbe: httpProbe("/api/health", "http", 10, 3),
                                    livenessProbe: httpProbe("/api/health", "http", 15, 4),
                                    volumeMounts: [
                                        { name: "data", mountPath: GRAFANA_DATA_DIR },
                                        { name: "provisioning", mountPath: GRAFANA_PROVISIONING_DIR, readOnly: true },
                                        { name: "dashboards", mountPath: GRAFANA_DASHBOARDS_DIR, readOnly: true },
                                        { name: "tmp", mountPath: "/tmp" },
                                    ],
                                },
                            ],
                            volumes: [
                                dataVolume,
                                {
                                    name: "provisioning",
                                    configMap: {
                                        name: provisioning.metadata.name,
                                        items: [
                                            { key: "datasources.yaml", path: "datasources/prepx.yaml" },
                                            { key: "dashboards.yaml", path: "dashboards/prepx.yaml" },
                                        ],
                                    },
                                },
                                { name: "dashboards", configMap: { name: dashboardsMap.metadata.name } },
                                scratchVolume("tmp"),
                            ],
                        },
                    },
                },
            },
            child,
        );

        this.grafanaServiceName = grafanaService.metadata.name;
        this.grafanaUrl = pulumi.interpolate`http://${grafanaService.metadata.name}.${namespace}.svc.${a.clusterDomain}:${GRAFANA_PORT}`;
        this.registerOutputs({
            prometheusUrl: this.prometheusUrl,
            grafanaUrl: this.grafanaUrl,
            grafanaAdminPassword: this.grafanaAdminPassword,
            grafanaSecretName: this.grafanaSecretName,
        });
    }

    /** Throws a ResourceError naming the first bad arg. */
    private validate(
        name: string,
        args: MonitoringStackArgs,
        prom: Required<PrometheusArgs>,
        graf: Required<GrafanaArgs>,
        t: AlertThresholds,
        patroniPort: number,
    ): void {
        const at = `MonitoringStack ${name}: args.`;
        const check = (condition: boolean, message: string): void => requireArg(condition, this, `${at}${message}`);
        const isCount = (value: unknown, min: number): boolean => typeof value === "number" && Number.isInteger(value) && value >= min;
        check(args.expected !== undefined && args.expected !== null, "expected is required ({ postgresMembers, redisMasters, redisNodes })");
        const e = args.expected;
        check(isCount(e.postgresMembers, 1), `expected.postgresMembers must be an integer of at least 1 (got ${e.postgresMembers})`);
        check(isCount(e.redisMasters, 1), `expected.redisMasters must be an integer of at least 1 (got ${e.redisMasters})`);
        check(isCount(e.redisNodes, e.redisMasters), `expected.redisNodes must be an integer of at least expected.redisMasters (got ${e.redisNodes})`);
        check(PROMETHEUS_DURATION.test(prom.retentionTime), `prometheus.retentionTime must be a Prometheus duration such as 30d (got ${prom.retentionTime})`);
        check(PROMETHEUS_SIZE.test(prom.retentionSize), `prometheus.retentionSize must be a Prometheus size such as 50GB (got ${prom.retentionSize})`);
        check(MEMORY_QUANTITY.test(prom.storage), `prometheus.storage must be a Kubernetes quantity such as 64Gi (got ${prom.storage})`);
        check(
            parseMemoryQuantity(prom.storage) > parsePrometheusSize(prom.retentionSize),
            `prometheus.storage (${prom.storage}) must be larger than prometheus.retentionSize (${prom.retentionSize}), or the TSDB fills the volume before retention deletes blocks`,
        );
        check(PROMETHEUS_DURATION.test(prom.scrapeInterval), `prometheus.scrapeInterval must be a Prometheus duration such as 15s (got ${prom.scrapeInterval})`);
        check(MEMORY_QUANTITY.test(graf.storage), `grafana.storage must be a Kubernetes quantity such as 10Gi (got ${graf.storage})`);
        check(Number.isFinite(t.p95LatencyMs) && t.p95LatencyMs > 0, `p95LatencyMs must be a positive number of milliseconds (got ${t.p95LatencyMs})`);
        check(t.http5xxRatio > 0 && t.http5xxRatio < 1, `thresholds.http5xxRatio must be between 0 and 1 (got ${t.http5xxRatio})`);
        check(t.pvcUsedRatio > 0 && t.pvcUsedRatio < 1, `thresholds.pvcUsedRatio must be between 0 and 1 (got ${t.pvcUsedRatio})`);
        check(t.replicationLagSeconds > 0, `thresholds.replicationLagSeconds must be positive (got ${t.replicationLagSeconds})`);
        check(t.replicationLagBytes > 0, `thresholds.replicationLagBytes must be positive (got ${t.replicationLagBytes})`);
        check(isCount(t.podRestarts, 1), `thresholds.podRestarts must be an integer of at least 1 (got ${t.podRestarts})`);
        check(PROMETHEUS_DURATION.test(t.podRestartWindow), `thresholds.podRestartWindow must be a Prometheus duration such as 15m (got ${t.podRestartWindow})`);
        check(isCount(patroniPort, 1) && patroniPort <= 65535, `patroniPort must be a TCP port (got ${patroniPort})`);
    }
}
