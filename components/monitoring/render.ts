// Pure renderers for the monitoring stack: prometheus.yml, the alert rules, Grafana's provisioning
// files and the dashboard check. MonitoringStack puts their output in ConfigMaps; the live tests run
// the very same text through promtool and a real Prometheus.
import { LB_METRICS } from "../loadbalancer/render";
import { toYaml, YamlValue } from "../yaml";

// ---------------------------------------------------------------------------------------------
// prometheus.yml

/** File names inside Prometheus' config directory (/etc/prometheus). */
export const PROMETHEUS_CONFIG_FILE = "prometheus.yml";
export const ALERT_RULES_FILE = "alerts.yml";
/**
 * The kubelet scrape token, relative to the config directory: a projected ServiceAccount token
 * mounted next to prometheus.yml. Prometheus resolves relative paths against the config file's
 * directory, so the rendered file is the same in the pod and in the live test's temp dir.
 */
export const KUBELET_TOKEN_FILE = "secrets/kubelet-token";
/** Cluster CA bundle (kube-root-ca.crt), relative to the config directory; used when kubelet TLS is verified. */
export const KUBELET_CA_FILE = "secrets/ca.crt";

/** Scrape job names; alert expressions and dashboards refer to them. */
export const JOBS = {
    pods: "kubernetes-pods",
    extraMetricsPorts: "kubernetes-pods-extra-metrics",
    patroni: "patroni",
    kubeStateMetrics: "kube-state-metrics",
    kubelet: "kubelet",
} as const;

/**
 * Container port names scraped (at /metrics) besides the annotated port, on pods that opted in with
 * prometheus.io/scrape: the annotations name one port per pod, and some pods run two exporters
 * (nginx: stub_status on `metrics`, the access-log exporter on `metrics-log`).
 */
export const EXTRA_METRICS_PORT_NAME = "metrics-.+";

/** kubelet metrics kept by the kubelet job (everything else a kubelet exposes is dropped at scrape). */
export const KUBELET_KEPT_METRICS = ["kubelet_volume_stats_used_bytes", "kubelet_volume_stats_capacity_bytes", "kubelet_volume_stats_available_bytes"];

export interface PrometheusConfigOptions {
    /** The only namespace whose pods are discovered and whose volumes are kept. */
    namespace: string;
    /** Scrape and rule evaluation interval, e.g. `15s`. */
    scrapeInterval: string;
    /** `app.kubernetes.io/name` of the kube-state-metrics pods (scraped by their own job, honoring their labels). */
    kubeStateMetricsApp: string;
    /** `app.kubernetes.io/name` of the Patroni/PostgreSQL pods. */
    postgresApp: string;
    /** Patroni's REST port (its /metrics); the pods must declare it as a containerPort. */
    patroniPort: number;
    /**
     * Verify kubelet serving certificates against the cluster CA. Most clusters (kubeadm, kind,
     * minikube) have kubelets serve self-signed certificates, which only `false` can scrape.
     */
    verifyKubeletTls: boolean;
}

type Relabel = { [key: string]: YamlValue | undefined };

/** Discovery of pods in the stack's namespace only (Role, not ClusterRole, suffices). */
function podDiscovery(namespace: string): YamlValue {
    return [{ role: "pod", namespaces: { names: [namespace] } }];
}

/** Target labels every pod-based job keeps: namespace, pod, app, component. */
function podLabelRules(): Relabel[] {
    return [
        { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace", action: "replace" },
        { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod", action: "replace" },
        { source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], target_label: "app", action: "replace" },
        { source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_component"], target_label: "component", action: "replace" },
    ];
}

/** Completed or not-yet-running pods have nothing to scrape (e.g. a finished bootstrap Job). */
const dropInactivePods: Relabel = { source_labels: ["__meta_kubernetes_pod_phase"], regex: "Pending|Succeeded|Failed|Unknown", action: "drop" };

/** Escapes a literal for use inside a Prometheus (RE2, fully anchored) regex. */
export function regexLiteral(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** prometheus.yml as a value (the tests inspect it; renderPrometheusConfig serializes it). */
export function prometheusConfig(options: PrometheusConfigOptions): { [key: string]: YamlValue } {
    const tls: { [key: string]: YamlValue } = options.verifyKubeletTls ? { ca_file: KUBELET_CA_FILE } : { insecure_skip_verify: true };
    return {
        global: { scrape_interval: options.scrapeInterval, evaluation_interval: options.scrapeInterval, scrape_timeout: "10s" },
        rule_files: [ALERT_RULES_FILE],
        scrape_configs: [
            {
                // Every pod of the namespace carrying the prometheus.io/* annotations (k8s.ts scrapeAnnotations).
                job_name: JOBS.pods,
                kubernetes_sd_configs: podDiscovery(options.namespace),
                relabel_configs: [
                    { source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], regex: "true", action: "keep" },
                    dropInactivePods,
                    // kube-state-metrics reports other pods' namespace/pod labels: its own job honors them.
                    { source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], regex: regexLiteral(options.kubeStateMetricsApp), action: "drop" },
                    { source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_path"], regex: "(.+)", target_label: "__metrics_path__", action: "replace" },
                    // One target per declared container port is discovered; all are rewritten to the annotated
                    // port, so they carry identical labels and Prometheus scrapes the pod once.
                    {
                        source_labels: ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
                        regex: "(.+?)(?::\\d+)?;(\\d+)",
                        replacement: "$1:$2",
                        target_label: "__address__",
                        action: "replace",
                    },
                    ...podLabelRules(),
                ],
            },
            {
                job_name: JOBS.extraMetricsPorts,
                kubernetes_sd_configs: podDiscovery(options.namespace),
                relabel_configs: [
                    { source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], regex: "true", action: "keep" },
                    { source_labels: ["__meta_kubernetes_pod_container_port_name"], regex: EXTRA_METRICS_PORT_NAME, action: "keep" },
                    dropInactivePods,
                    { source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], regex: regexLiteral(options.kubeStateMetricsApp), action: "drop" },
                    ...podLabelRules(),
                ],
            },
            {
                // Patroni's REST API /metrics (leader/replica role, WAL positions) on every PostgreSQL member.
                job_name: JOBS.patroni,
                kubernetes_sd_configs: podDiscovery(options.namespace),
                relabel_configs: [
                    { source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], regex: regexLiteral(options.postgresApp), action: "keep" },
                    { source_labels: ["__meta_kubernetes_pod_container_port_number"], regex: String(options.patroniPort), action: "keep" },
                    dropInactivePods,
                    ...podLabelRules(),
                ],
            },
            {
                job_name: JOBS.kubeStateMetrics,
                // Series describe other pods: their namespace/pod/container labels must win over the target's.
                honor_labels: true,
                kubernetes_sd_configs: podDiscovery(options.namespace),
                relabel_configs: [
                    { source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], regex: regexLiteral(options.kubeStateMetricsApp), action: "keep" },
                    { source_labels: ["__meta_kubernetes_pod_container_port_name"], regex: "http-metrics", action: "keep" },
                    dropInactivePods,
                ],
            },
            {
                // kubelets, scraped directly on their authenticated port with a token allowed only `nodes/metrics`.
                // Not through the API server proxy: `get nodes/proxy` reaches every kubelet endpoint, exec included.
                job_name: JOBS.kubelet,
                scheme: "https",
                authorization: { type: "Bearer", credentials_file: KUBELET_TOKEN_FILE },
                tls_config: tls,
                kubernetes_sd_configs: [{ role: "node" }],
                relabel_configs: [{ source_labels: ["__meta_kubernetes_node_name"], target_label: "node", action: "replace" }],
                // Only the volume statistics of this namespace's PVCs are stored; other tenants' data never lands here.
                metric_relabel_configs: [
                    {
                        source_labels: ["__name__", "namespace"],
                        regex: `(${KUBELET_KEPT_METRICS.join("|")});${regexLiteral(options.namespace)}`,
                        action: "keep",
                    },
                ],
            },
        ],
    };
}

/** prometheus.yml text. */
export function renderPrometheusConfig(options: PrometheusConfigOptions): string {
    return toYaml(prometheusConfig(options), "Rendered by prepx-platform (components/monitoring/render.ts).");
}

// ---------------------------------------------------------------------------------------------
// Alert rules

/** Member counts the stack is deployed with; "below expected" alerts compare against them. */
export interface ExpectedCounts {
    /** PostgreSQL members (1 leader + replicas). */
    postgresMembers: number;
    /** Redis cluster masters. */
    redisMasters: number;
    /** Redis cluster nodes (masters x (1 + replicasPerMaster)). */
    redisNodes: number;
}

/** Alert thresholds. */
export interface AlertThresholds {
    /** p95 latency SLO of the load-balancer tier, in ms (targets.p95LatencyMs). */
    p95LatencyMs: number;
    /** Share of 5xx responses at the load balancers that pages (0.01 = 1%). */
    http5xxRatio: number;
    /** Replica replay lag, in seconds, reported by postgres_exporter. */
    replicationLagSeconds: number;
    /** Replica lag, in WAL bytes behind the leader (Patroni's maximum_lag_on_failover: beyond it a replica is not promoted). */
    replicationLagBytes: number;
    /** Container restarts within `podRestartWindow` that count as restarting. */
    podRestarts: number;
    /** Window of `podRestarts`, a Prometheus duration. */
    podRestartWindow: string;
    /** Used share of a PVC that counts as nearly full (0.85 = 85%). */
    pvcUsedRatio: number;
}

export interface AlertRulesOptions {
    namespace: string;
    expected: ExpectedCounts;
    thresholds: AlertThresholds;
    /** `app.kubernetes.io/name` of the PostgreSQL pods (for the exporter-unreachable case). */
    postgresApp: string;
}

/** One Prometheus alerting rule. */
export interface AlertRule {
    alert: string;
    expr: string;
    for: string;
    labels: { severity: "critical" | "warning"; namespace: string };
    annotations: { summary: string; description: string };
}

/** Rate window of the request-based alerts. */
export const RATE_WINDOW = "5m";

/** `count(selector)` that is 0, not empty, when nothing matches (so "below expected" fires at zero). */
function countOrZero(selector: string): string {
    return `(count(${selector}) or vector(0))`;
}

/**
 * The stack's alert rules. Counts come from `expected`; a replica alert whose expected count is 0
 * is not rendered (it could never fire).
 */
export function alertRules(options: AlertRulesOptions): AlertRule[] {
    const { expected, thresholds: t } = options;
    const rule = (
        alert: string,
        expr: string,
        forDuration: string,
        severity: "critical" | "warning",
        summary: string,
        description: string,
    ): AlertRule => ({ alert, expr, for: forDuration, labels: { severity, namespace: options.namespace }, annotations: { summary, description } });
    const postgresReplicas = expected.postgresMembers - 1;
    const redisReplicas = expected.redisNodes - expected.redisMasters;
    const sloSeconds = t.p95LatencyMs / 1000;
    const rules: AlertRule[] = [
        rule(
            "PostgresDown",
            `pg_up == 0 or up{job="${JOBS.pods}", app="${options.postgresApp}"} == 0`,
            "1m",
            "critical",
            "PostgreSQL on {{ $labels.pod }} is down",
            "postgres_exporter on {{ $labels.pod }} cannot reach PostgreSQL, or the exporter itself is unreachable, for 1 minute.",
        ),
        rule(
            "PostgresReplicationLagHigh",
            `pg_replication_lag_seconds > ${t.replicationLagSeconds} and on (namespace, pod) pg_replication_is_replica == 1`,
            "2m",
            "warning",
            "PostgreSQL replica {{ $labels.pod }} lags {{ $value | humanizeDuration }}",
            `Replica {{ $labels.pod }} has been more than ${t.replicationLagSeconds}s behind the leader in replay for 2 minutes. ` +
                "Reads from it are stale, and a failover to it would lose the unreplayed commits.",
        ),
        rule(
            "PostgresReplicationLagBytesHigh",
            `(max by (namespace) (patroni_xlog_location) - on (namespace) group_right () patroni_xlog_replayed_location) > ${t.replicationLagBytes} ` +
                "and on (namespace, pod) patroni_replica == 1",
            "2m",
            "warning",
            "PostgreSQL replica {{ $labels.pod }} is {{ $value | humanize1024 }}B behind the leader",
            `Replica {{ $labels.pod }} has been more than ${t.replicationLagBytes} bytes of WAL behind the leader for 2 minutes ` +
                "(Patroni's maximum_lag_on_failover): Patroni will not promote it if the leader fails.",
        ),
    ];
    if (postgresReplicas > 0) {
        rules.push(
            rule(
                "PostgresReplicasBelowExpected",
                `${countOrZero("pg_replication_is_replica == 1 and on (namespace, pod) pg_up == 1")} < ${postgresReplicas}`,
                "5m",
                "warning",
                `PostgreSQL has {{ $value }} of ${postgresReplicas} replicas`,
                `Only {{ $value }} PostgreSQL replicas are up and in recovery; the stack runs ${postgresReplicas}. ` +
                    "Failover capacity (and, with synchronous_mode, write availability) is reduced.",
            ),
        );
    }
    rules.push(
        rule("RedisDown", "redis_up == 0", "1m", "critical", "Redis on {{ $labels.pod }} is down", "redis_exporter on {{ $labels.pod }} cannot reach its Redis node for 1 minute."),
        rule(
            "RedisClusterStateNotOk",
            "redis_cluster_state == 0",
            "1m",
            "critical",
            "Redis cluster state is not ok on {{ $labels.pod }}",
            "CLUSTER INFO on {{ $labels.pod }} reports cluster_state:fail for 1 minute: some hash slots are not served and commands on them fail.",
        ),
        rule(
            "RedisMasterMissing",
            `${countOrZero('redis_instance_info{role="master"}')} < ${expected.redisMasters}`,
            "1m",
            "critical",
            `Redis cluster has {{ $value }} of ${expected.redisMasters} masters`,
            `Only {{ $value }} Redis nodes report role master; the cluster has ${expected.redisMasters} slot ranges. ` +
                "A master is down and no replica has taken over its slots.",
        ),
    );
    if (redisReplicas > 0) {
        rules.push(
            rule(
                "RedisReplicasBelowExpected",
                `${countOrZero('redis_instance_info{role="slave"}')} < ${redisReplicas}`,
                "5m",
                "warning",
                `Redis cluster has {{ $value }} of ${redisReplicas} replicas`,
                `Only {{ $value }} Redis nodes report role replica; the stack runs ${redisReplicas}. A master without a replica cannot fail over.`,
            ),
        );
    }
    rules.push(
        rule("NginxDown", `${LB_METRICS.up} == 0`, "1m", "critical", "nginx on {{ $labels.pod }} is down", "nginx-prometheus-exporter on {{ $labels.pod }} cannot read nginx's stub_status for 1 minute."),
        rule(
            "Nginx5xxRatioHigh",
            `sum by (namespace) (rate(${LB_METRICS.responses}{status=~"5.."}[${RATE_WINDOW}])) ` +
                `/ sum by (namespace) (rate(${LB_METRICS.responses}[${RATE_WINDOW}])) > ${t.http5xxRatio}`,
            "5m",
            "critical",
            "{{ $value | humanizePercentage }} of requests fail with 5xx",
            `More than ${t.http5xxRatio * 100}% of the requests through the load balancers have answered 5xx for 5 minutes.`,
        ),
        rule(
            "NginxP95LatencyAboveSlo",
            `histogram_quantile(0.95, sum by (namespace, le) (rate(${LB_METRICS.responseTimeBucket}[${RATE_WINDOW}]))) > ${sloSeconds}`,
            "10m",
            "warning",
            "p95 latency is {{ $value | humanizeDuration }}, above the SLO",
            `The 95th percentile of response time at the load balancers has been above the ${t.p95LatencyMs} ms SLO for 10 minutes.`,
        ),
        rule(
            "PodRestarting",
            `increase(kube_pod_container_status_restarts_total[${t.podRestartWindow}]) >= ${t.podRestarts}`,
            "5m",
            "warning",
            "Container {{ $labels.container }} of {{ $labels.pod }} is restarting",
            `Container {{ $labels.container }} of pod {{ $labels.pod }} restarted {{ $value | humanize }} times in ${t.podRestartWindow} (threshold ${t.podRestarts}).`,
        ),
        rule(
            "PersistentVolumeNearlyFull",
            `kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes > ${t.pvcUsedRatio}`,
            "10m",
            "warning",
            "PVC {{ $labels.persistentvolumeclaim }} is {{ $value | humanizePercentage }} full",
            `PersistentVolumeClaim {{ $labels.persistentvolumeclaim }} has been more than ${t.pvcUsedRatio * 100}% full for 10 minutes.`,
        ),
    );
    return rules;
}

/** The rule group's name. */
export function ruleGroupName(namespace: string): string {
    return `prepx-${namespace}`;
}

/** The alert rules file. */
export function renderAlertRules(options: AlertRulesOptions): string {
    const rules = alertRules(options).map((r): YamlValue => ({ ...r, labels: { ...r.labels }, annotations: { ...r.annotations } }));
    return toYaml({ groups: [{ name: ruleGroupName(options.namespace), rules }] }, "Rendered by prepx-platform (components/monitoring/render.ts).");
}

// ---------------------------------------------------------------------------------------------
// Grafana

/** The uid dashboards use to reference the provisioned Prometheus datasource. */
export const PROMETHEUS_DATASOURCE_UID = "prometheus";

/** Grafana's datasource provisioning file: the stack's Prometheus, read-only in the UI. */
export function renderGrafanaDatasources(options: { prometheusUrl: string; scrapeInterval: string }): string {
    return toYaml({
        apiVersion: 1,
        datasources: [
            {
                name: "Prometheus",
                uid: PROMETHEUS_DATASOURCE_UID,
                type: "prometheus",
                access: "proxy",
                url: options.prometheusUrl,
                isDefault: true,
                editable: false,
                jsonData: { timeInterval: options.scrapeInterval, httpMethod: "POST" },
            },
        ],
    });
}

/** Grafana's dashboard provider: dashboards are files under `path`, not editable in the UI. */
export function renderGrafanaDashboardProvider(options: { path: string; folder: string }): string {
    return toYaml({
        apiVersion: 1,
        providers: [
            {
                name: "prepx",
                folder: options.folder,
                type: "file",
                disableDeletion: true,
                allowUiUpdates: false,
                updateIntervalSeconds: 60,
                options: { path: options.path, foldersFromFilesStructure: false },
            },
        ],
    });
}

/** Panel types built into Grafana 11 that the dashboards may use (no plugin installs, no Angular). */
export const ALLOWED_PANEL_TYPES = ["timeseries", "stat", "gauge", "piechart", "geomap", "row", "text", "table", "bargauge"];
/** Deprecated Angular plugins the original plan installed; refused anywhere in a dashboard. */
export const DEPRECATED_PLUGINS = ["grafana-piechart-panel", "grafana-worldmap-panel"];

interface DashboardPanel {
    type?: unknown;
    title?: unknown;
    panels?: unknown;
    datasource?: unknown;
}

/**
 * Problems with one dashboard (empty = fine): a uid and title, only built-in panel types, no
 * deprecated plugin anywhere, every panel on the provisioned Prometheus datasource.
 */
export function dashboardProblems(file: string, dashboard: unknown): string[] {
    const problems: string[] = [];
    if (dashboard === null || typeof dashboard !== "object") return [`${file}: not a JSON object`];
    const d = dashboard as { uid?: unknown; title?: unknown; panels?: unknown };
    if (typeof d.uid !== "string" || d.uid.length === 0 || d.uid.length > 40) problems.push(`${file}: uid must be a string of 1-40 characters`);
    if (typeof d.title !== "string" || d.title.length === 0) problems.push(`${file}: no title`);
    const text = JSON.stringify(dashboard);
    for (const plugin of DEPRECATED_PLUGINS) if (text.includes(plugin)) problems.push(`${file}: uses deprecated plugin ${plugin}`);
    const panels: DashboardPanel[] = [];
    const collect = (list: unknown): void => {
        if (!Array.isArray(list)) return;
        for (const panel of list as DashboardPanel[]) {
            panels.push(panel);
            collect(panel.panels);
        }
    };
    collect(d.panels);
    if (panels.length === 0) problems.push(`${file}: no panels`);
    for (const panel of panels) {
        const where = `${file}: panel "${String(panel.title)}"`;
        if (typeof panel.type !== "string" || !ALLOWED_PANEL_TYPES.includes(panel.type)) problems.push(`${where} has type ${String(panel.type)}, not a built-in panel`);
        if (panel.type === "row" || panel.type === "text") continue;
        const uid = (panel.datasource as { uid?: unknown } | undefined)?.uid;
        if (uid !== PROMETHEUS_DATASOURCE_UID) problems.push(`${where} does not use datasource uid ${PROMETHEUS_DATASOURCE_UID}`);
    }
    return problems;
}
