// Pure renderers for the monitoring stack: prometheus.yml, the alert rules file and Grafana's
// provisioning files, plus the one mapping from MonitoringStack's args to their options.
// MonitoringStack puts their output in ConfigMaps; the live tests run the very same text through
// promtool and a real Prometheus.
import { podHostname, serviceDnsNames, statefulSetPodNames } from "../dns";
import { AlertRule, SCRAPE_JOBS } from "../observability";
import { parsePrometheusDuration } from "../units";
import { toYaml, YamlValue } from "../yaml";
import { monitoringAlertRules } from "./alerts";
import type { PortScrapeJob, ResolvedMonitoringStackArgs } from "./args";

const HEADER = "Rendered by prepx-platform (components/monitoring/render.ts).";

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

/**
 * The CA a port scrape job over HTTPS verifies against (the `ca.crt` of its `tls.caSecret`),
 * relative to the config directory like the kubelet's, one file per job (job names are DNS labels).
 */
export function portScrapeJobCaFile(job: string): string {
    return `secrets/scrape-ca/${job}.crt`;
}

/**
 * Prometheus' own certificate files (its Secret's tls.crt, tls.key and ca.crt), relative to the
 * config directory: the web config serves them, the Alertmanager and self-scrape jobs verify with
 * the CA (the internal CA signs Prometheus' and Alertmanager's certificates alike).
 */
export const PROMETHEUS_TLS_FILES = { certificate: "tls/tls.crt", privateKey: "tls/tls.key", ca: "tls/ca.crt" } as const;
/** Prometheus' web config (HTTPS), next to prometheus.yml. */
export const PROMETHEUS_WEB_CONFIG_FILE = "web.yml";

/**
 * The web config of Prometheus and Alertmanager (Prometheus exporter-toolkit's `--web.config.file`):
 * HTTPS only with the given certificate, TLS 1.2 at least. Plain HTTP to the port then fails.
 */
export function renderWebConfig(files: { certificate: string; privateKey: string }): string {
    return toYaml({ tls_server_config: { cert_file: files.certificate, key_file: files.privateKey, min_version: "TLS12" } }, HEADER);
}

/**
 * Alertmanager's `--cluster.tls-config` (Alertmanager 0.24+): the gossip's TCP and UDP-replacing
 * TLS transport. Each replica presents its certificate and requires the peer's, signed by the
 * internal CA; peers dial each other by IP, so the client checks `serverName`, a name the shared
 * certificate carries.
 */
export function renderAlertmanagerClusterTlsConfig(files: { certificate: string; privateKey: string; ca: string }, serverName: string): string {
    return toYaml(
        {
            tls_server_config: {
                cert_file: files.certificate,
                key_file: files.privateKey,
                client_ca_file: files.ca,
                client_auth_type: "RequireAndVerifyClientCert",
                min_version: "TLS12",
            },
            tls_client_config: { cert_file: files.certificate, key_file: files.privateKey, ca_file: files.ca, server_name: serverName },
        },
        HEADER,
    );
}

/** `app.kubernetes.io/name` of the kube-state-metrics pods (the scrape config keys on it). */
export const KUBE_STATE_METRICS_APP = "kube-state-metrics";

/** The scrape jobs MonitoringStack always renders; `portScrapeJobs` may not reuse their names. */
export const OWN_SCRAPE_JOBS: readonly string[] = [
    SCRAPE_JOBS.pods,
    SCRAPE_JOBS.extraMetricsPorts,
    SCRAPE_JOBS.kubeStateMetrics,
    SCRAPE_JOBS.kubelet,
    "prometheus",
    "alertmanager",
];

/**
 * Container port names scraped (at /metrics) besides the annotated port, on pods that opted in with
 * prometheus.io/scrape: the annotations name one port per pod, and some pods run two exporters
 * (nginx: stub_status on `metrics`, the access-log exporter on `metrics-log`).
 */
const EXTRA_METRICS_PORT_NAME = "metrics-.+";

/** kubelet metrics kept by the kubelet job (everything else a kubelet exposes is dropped at scrape). */
const KUBELET_KEPT_METRICS = ["kubelet_volume_stats_used_bytes", "kubelet_volume_stats_capacity_bytes", "kubelet_volume_stats_available_bytes"];

/** How long Prometheus waits for an Alertmanager to accept a batch of alerts before it retries. */
const ALERTMANAGER_SEND_TIMEOUT = "10s";

/** Prometheus' default scrape timeout, used unless the scrape interval is shorter. */
const DEFAULT_SCRAPE_TIMEOUT = "10s";

export interface PrometheusConfigOptions {
    /** The only namespace whose pods are discovered and whose volumes are kept. */
    namespace: string;
    /** Scrape and rule evaluation interval, e.g. `15s`. */
    scrapeInterval: string;
    /** `app.kubernetes.io/name` of the kube-state-metrics pods (scraped by their own job, honoring their labels). */
    kubeStateMetricsApp: string;
    /** Jobs scraping one port of one app's pods (Patroni's REST API), rendered after the pod jobs. */
    portScrapeJobs: PortScrapeJob[];
    /**
     * Verify kubelet serving certificates against the cluster CA, so the bearer token goes to real
     * kubelets only; `false` (kind, minikube, plain kubeadm: self-signed kubelet certificates) skips it.
     */
    verifyKubeletTls: boolean;
    /** `sample_limit` of every job: a target exposing more samples fails its scrape. */
    sampleLimit: number;
    /** The Alertmanagers Prometheus sends alerts to (`host:port`, each replica: they deduplicate by gossip). */
    alertmanagers: string[];
}

type Relabel = { [key: string]: YamlValue | undefined };
type ScrapeJob = { [key: string]: YamlValue };

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
/** Pods that opted in with the prometheus.io/scrape annotation (k8s.ts scrapeAnnotations). */
const keepAnnotatedPods: Relabel = { source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], regex: "true", action: "keep" };

/** A relabel rule keeping (or dropping) the pods whose `app.kubernetes.io/name` is `app`. */
function appRule(app: string, action: "keep" | "drop"): Relabel {
    return { source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], regex: regexLiteral(app), action };
}

/** Escapes a literal for use inside a Prometheus (RE2, fully anchored) regex. */
function regexLiteral(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The scrape timeout: Prometheus' default, or the interval when that is shorter (a longer timeout is refused). */
export function scrapeTimeout(scrapeInterval: string): string {
    return parsePrometheusDuration(scrapeInterval) < parsePrometheusDuration(DEFAULT_SCRAPE_TIMEOUT) ? scrapeInterval : DEFAULT_SCRAPE_TIMEOUT;
}

/** Every pod of the namespace carrying the prometheus.io/* annotations, at the annotated port and path. */
function podsJob(options: PrometheusConfigOptions): ScrapeJob {
    return {
        job_name: SCRAPE_JOBS.pods,
        kubernetes_sd_configs: podDiscovery(options.namespace),
        relabel_configs: [
            keepAnnotatedPods,
            dropInactivePods,
            // kube-state-metrics reports other pods' namespace/pod labels: its own job honors them.
            appRule(options.kubeStateMetricsApp, "drop"),
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
    };
}

/** Further `metrics-*` container ports of the annotated pods. */
function extraMetricsPortsJob(options: PrometheusConfigOptions): ScrapeJob {
    return {
        job_name: SCRAPE_JOBS.extraMetricsPorts,
        kubernetes_sd_configs: podDiscovery(options.namespace),
        relabel_configs: [
            keepAnnotatedPods,
            { source_labels: ["__meta_kubernetes_pod_container_port_name"], regex: EXTRA_METRICS_PORT_NAME, action: "keep" },
            dropInactivePods,
            appRule(options.kubeStateMetricsApp, "drop"),
            ...podLabelRules(),
        ],
    };
}

/**
 * One container port of one app's pods, annotated or not (Patroni's REST API /metrics on every
 * PostgreSQL member). Over HTTPS when the job has `tls`: the certificate is checked against the
 * job's CA and `serverName`, since the pods are scraped by IP, which their certificate does not name.
 */
function portJob(namespace: string, scrapeJob: PortScrapeJob): ScrapeJob {
    const tls: ScrapeJob =
        scrapeJob.tls === undefined ? {} : { scheme: "https", tls_config: { ca_file: portScrapeJobCaFile(scrapeJob.job), server_name: scrapeJob.tls.serverName } };
    return {
        job_name: scrapeJob.job,
        ...tls,
        kubernetes_sd_configs: podDiscovery(namespace),
        relabel_configs: [
            appRule(scrapeJob.app, "keep"),
            { source_labels: ["__meta_kubernetes_pod_container_port_number"], regex: String(scrapeJob.port), action: "keep" },
            dropInactivePods,
            ...podLabelRules(),
        ],
    };
}

function kubeStateMetricsJob(options: PrometheusConfigOptions): ScrapeJob {
    return {
        job_name: SCRAPE_JOBS.kubeStateMetrics,
        // Series describe other pods: their namespace/pod/container labels must win over the target's.
        honor_labels: true,
        kubernetes_sd_configs: podDiscovery(options.namespace),
        relabel_configs: [
            appRule(options.kubeStateMetricsApp, "keep"),
            { source_labels: ["__meta_kubernetes_pod_container_port_name"], regex: "http-metrics", action: "keep" },
            dropInactivePods,
        ],
    };
}

/**
 * kubelets, scraped directly on their authenticated port with a token allowed only `nodes/metrics`.
 * Not through the API server proxy: `get nodes/proxy` reaches every kubelet endpoint, exec included.
 */
function kubeletJob(options: PrometheusConfigOptions): ScrapeJob {
    return {
        job_name: SCRAPE_JOBS.kubelet,
        scheme: "https",
        authorization: { type: "Bearer", credentials_file: KUBELET_TOKEN_FILE },
        tls_config: options.verifyKubeletTls ? { ca_file: KUBELET_CA_FILE } : { insecure_skip_verify: true },
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
    };
}

/**
 * Prometheus' `alerting:` block: every Alertmanager replica by its stable name over HTTPS, verified
 * against the internal CA (each gets every alert; the replicas notify once between them). Alertmanager's v2 API, the one both Prometheus 2.x
 * and 3.x speak (3.x has no other).
 */
function alertingConfig(alertmanagers: string[]): YamlValue {
    return {
        alertmanagers: [
            {
                api_version: "v2",
                timeout: ALERTMANAGER_SEND_TIMEOUT,
                // The targets are the replicas' stable names, which their certificate carries.
                scheme: "https",
                tls_config: { ca_file: PROMETHEUS_TLS_FILES.ca },
                static_configs: [{ targets: alertmanagers }],
            },
        ],
    };
}

/** prometheus.yml as a value (the tests inspect it; renderPrometheusConfig serializes it). */
export function prometheusConfig(options: PrometheusConfigOptions): { [key: string]: YamlValue } {
    return {
        global: { scrape_interval: options.scrapeInterval, evaluation_interval: options.scrapeInterval, scrape_timeout: scrapeTimeout(options.scrapeInterval) },
        rule_files: [ALERT_RULES_FILE],
        alerting: alertingConfig(options.alertmanagers),
        scrape_configs: [
            podsJob(options),
            extraMetricsPortsJob(options),
            ...options.portScrapeJobs.map((scrapeJob) => portJob(options.namespace, scrapeJob)),
            kubeStateMetricsJob(options),
            kubeletJob(options),
        ].map((job) => ({ ...job, sample_limit: options.sampleLimit })),
    };
}

/** prometheus.yml text. */
export function renderPrometheusConfig(options: PrometheusConfigOptions): string {
    return toYaml(prometheusConfig(options), HEADER);
}

// ---------------------------------------------------------------------------------------------
// Alert rules

export interface AlertRulesOptions {
    /** Added to every rule as the `namespace` label, and names the rule group. */
    namespace: string;
    /** The rules, in the order they are rendered. */
    rules: AlertRule[];
}

/** The rule group's name. */
function ruleGroupName(namespace: string): string {
    return `prepx-${namespace}`;
}

/** The alert rules file: one group holding every rule, each labelled with the namespace. */
export function renderAlertRules(options: AlertRulesOptions): string {
    const rules = options.rules.map(
        (rule): YamlValue => ({
            alert: rule.alert,
            expr: rule.expr,
            for: rule.for,
            labels: { severity: rule.labels.severity, namespace: options.namespace },
            annotations: { summary: rule.annotations.summary, description: rule.annotations.description },
        }),
    );
    return toYaml({ groups: [{ name: ruleGroupName(options.namespace), rules }] }, HEADER);
}

// ---------------------------------------------------------------------------------------------
// Alertmanager

/** Alertmanager's HTTP port (alerts from Prometheus, API, UI, its own /metrics). */
export const ALERTMANAGER_PORT = 9093;
/** Alertmanager's cluster (gossip) port, TCP and UDP. */
export const ALERTMANAGER_CLUSTER_PORT = 9094;
/** File name of Alertmanager's config inside its Secret and config directory. */
export const ALERTMANAGER_CONFIG_FILE = "alertmanager.yml";
/** Alertmanager's web config (HTTPS) and cluster TLS config, beside alertmanager.yml. */
export const ALERTMANAGER_WEB_CONFIG_FILE = "web.yml";
export const ALERTMANAGER_CLUSTER_TLS_FILE = "cluster-tls.yml";
/**
 * Alertmanager's certificate files, relative to its config directory: the web config and the
 * cluster TLS config sit there and name them by these paths, which Alertmanager resolves against
 * each file's directory (the live test runs the same files from another working directory).
 */
export const ALERTMANAGER_TLS_FILES = { certificate: "tls/tls.crt", privateKey: "tls/tls.key", ca: "tls/ca.crt" } as const;

/** Receiver names in the rendered config (routing and the tests refer to them). */
export const ALERT_RECEIVERS = { critical: "critical", warning: "warning" } as const;

/**
 * Labels a critical alert and the warnings it silences must share: a critical alert about a pod or
 * an app makes the warnings about that same pod or app noise (a PostgresDown on postgres-0 inhibits
 * PodRestarting on postgres-0). A label missing on both sides counts as equal, per Alertmanager.
 */
export const INHIBIT_EQUAL_LABELS = ["namespace", "app", "pod"];

/** The receivers with their secrets resolved (plain strings; the caller keeps the output secret). */
export interface ResolvedAlertReceivers {
    webhookUrl?: string;
    slackWebhookUrl?: string;
    pagerdutyRoutingKey?: string;
}

export interface AlertmanagerConfigOptions {
    /** Wait before the first notification of a new group (Alertmanager duration). */
    groupWait: string;
    /** Wait before notifying a group again about alerts added to it. */
    groupInterval: string;
    /** Wait before re-sending a still-firing alert. */
    repeatInterval: string;
    receivers: ResolvedAlertReceivers;
}

/** The stable DNS names of a StatefulSet's pods behind its headless Service (`<name>-<i>.<name>.<ns>.svc.<domain>`). */
export function alertmanagerPeers(options: { name: string; namespace: string; clusterDomain: string; replicas: number }): string[] {
    const domain = options.clusterDomain.replace(/\.$/, "");
    return statefulSetPodNames(options.name, options.replicas).map((pod) => podHostname(pod, options.name, options.namespace, domain));
}

/** The notification configs of one receiver: PagerDuty only when it pages. */
function receiverConfigs(receivers: ResolvedAlertReceivers, pages: boolean): { [key: string]: YamlValue } {
    const configs: { [key: string]: YamlValue } = {};
    if (pages && receivers.pagerdutyRoutingKey !== undefined) {
        configs.pagerduty_configs = [{ routing_key: receivers.pagerdutyRoutingKey, send_resolved: true }];
    }
    if (receivers.slackWebhookUrl !== undefined) {
        configs.slack_configs = [
            {
                api_url: receivers.slackWebhookUrl,
                send_resolved: true,
                title: '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.namespace }})',
                text: "{{ range .Alerts }}{{ .Annotations.summary }}: {{ .Annotations.description }}\n{{ end }}",
            },
        ];
    }
    if (receivers.webhookUrl !== undefined) configs.webhook_configs = [{ url: receivers.webhookUrl, send_resolved: true }];
    return configs;
}

/**
 * alertmanager.yml as a value: alerts grouped by name and namespace; `severity="critical"` to the
 * critical receiver (PagerDuty, Slack, webhook), everything else to the warning receiver (Slack,
 * webhook); a critical alert inhibits the warnings about the same pod or app. A receiver with no
 * configured destination is valid and drops what it gets (MonitoringStack warns at preview).
 */
export function alertmanagerConfig(options: AlertmanagerConfigOptions): { [key: string]: YamlValue } {
    const severity = (value: string) => `severity="${value}"`;
    return {
        route: {
            receiver: ALERT_RECEIVERS.warning,
            group_by: ["alertname", "namespace"],
            group_wait: options.groupWait,
            group_interval: options.groupInterval,
            repeat_interval: options.repeatInterval,
            routes: [{ receiver: ALERT_RECEIVERS.critical, matchers: [severity("critical")] }],
        },
        inhibit_rules: [{ source_matchers: [severity("critical")], target_matchers: [severity("warning")], equal: INHIBIT_EQUAL_LABELS }],
        receivers: [
            { name: ALERT_RECEIVERS.critical, ...receiverConfigs(options.receivers, true) },
            { name: ALERT_RECEIVERS.warning, ...receiverConfigs(options.receivers, false) },
        ],
    };
}

/** alertmanager.yml text (secret: it holds the receivers' URLs and keys). */
export function renderAlertmanagerConfig(options: AlertmanagerConfigOptions): string {
    return toYaml(alertmanagerConfig(options), HEADER);
}

/**
 * What is not delivered with these receivers, as preview warnings (empty = every alert reaches
 * someone). `configured` says which receivers are set, known at preview even when their values are not.
 */
export function undeliveredAlertWarnings(configured: { webhookUrl: boolean; slackWebhookUrl: boolean; pagerdutyRoutingKey: boolean }): string[] {
    if (!configured.webhookUrl && !configured.slackWebhookUrl && !configured.pagerdutyRoutingKey) {
        return [
            "no Alertmanager receiver is configured: alerts fire in Prometheus but notify no one. Set one of " +
                "monitoring.alertmanager.receivers.{webhookUrl,slackWebhookUrl,pagerdutyRoutingKey} with `pulumi config set --secret --path`.",
        ];
    }
    if (!configured.webhookUrl && !configured.slackWebhookUrl) {
        return ["only PagerDuty is configured: warning alerts notify no one (set monitoring.alertmanager.receivers.slackWebhookUrl or webhookUrl)."];
    }
    return [];
}

// ---------------------------------------------------------------------------------------------
// Grafana

/** The uid dashboards use to reference the provisioned Prometheus datasource. */
export const PROMETHEUS_DATASOURCE_UID = "prometheus";

/**
 * Grafana's datasource provisioning file: the stack's Prometheus over HTTPS, verified against the CA
 * file `caFile` (Grafana reads it at provisioning through `$__file{}`), read-only in the UI.
 */
export function renderGrafanaDatasources(options: { prometheusUrl: string; scrapeInterval: string; caFile: string }): string {
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
                jsonData: { timeInterval: options.scrapeInterval, httpMethod: "POST", tlsAuthWithCACert: true },
                secureJsonData: { tlsCACert: `$__file{${options.caFile}}` },
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

// ---------------------------------------------------------------------------------------------
// From MonitoringStack's args to the renderers' options (the component and the tests use these)

/**
 * prometheus.yml's options for a MonitoringStack in `namespace` whose Alertmanager StatefulSet and
 * headless Service are both named `alertmanagerName`.
 */
export function prometheusConfigOptions(args: ResolvedMonitoringStackArgs, namespace: string, alertmanagerName: string): PrometheusConfigOptions {
    return {
        namespace,
        scrapeInterval: args.prometheus.scrapeInterval,
        kubeStateMetricsApp: KUBE_STATE_METRICS_APP,
        portScrapeJobs: args.portScrapeJobs,
        verifyKubeletTls: args.verifyKubeletTls,
        sampleLimit: args.prometheus.sampleLimit,
        alertmanagers: alertmanagerPeers({ name: alertmanagerName, namespace, clusterDomain: args.clusterDomain, replicas: args.alertmanager.replicas }).map(
            (host) => `${host}:${ALERTMANAGER_PORT}`,
        ),
    };
}

/**
 * DNS names of Prometheus' and Alertmanager's certificates. Prometheus: its Service's forms and its
 * pod's stable name; Alertmanager: its headless Service's forms (the scrape job's and the gossip
 * client's server name) and every replica's stable name (Prometheus' targets and the gossip's peers).
 */
export function monitoringCertificateDnsNames(
    names: { prometheus: string; alertmanager: string },
    namespace: string,
    args: Pick<ResolvedMonitoringStackArgs, "clusterDomain" | "alertmanager">,
): { prometheus: string[]; alertmanager: string[] } {
    const prometheusPod = podHostname(`${names.prometheus}-0`, names.prometheus, namespace, args.clusterDomain.replace(/\.$/, ""));
    return {
        prometheus: [...serviceDnsNames(names.prometheus, namespace, args.clusterDomain), prometheusPod],
        // The Service's short name first: the first name is also the common name, at most 64 characters
        // (a replica's full name is longer with the default names).
        alertmanager: [
            ...serviceDnsNames(names.alertmanager, namespace, args.clusterDomain),
            ...alertmanagerPeers({ name: names.alertmanager, namespace, clusterDomain: args.clusterDomain, replicas: args.alertmanager.replicas }),
        ],
    };
}

/** Names of a MonitoringStack's Services whose certificates its own scrape jobs verify. */
export interface MonitoringServiceHosts {
    /** Prometheus' Service (`<name>.<namespace>.svc.<domain>`). */
    prometheus: string;
    /** Alertmanager's headless Service. */
    alertmanager: string;
}

/**
 * Prometheus' and Alertmanager's own /metrics, both HTTPS, as port scrape jobs: scraped by pod IP and
 * verified against the CA of `caSecret` with their Service's name (their pods carry no scrape
 * annotations: the generic pods job speaks plain HTTP).
 */
export function monitoringSelfScrapeJobs(hosts: MonitoringServiceHosts, caSecret: NonNullable<PortScrapeJob["tls"]>["caSecret"], ports: { prometheus: number; alertmanager: number }): PortScrapeJob[] {
    return [
        { job: "prometheus", app: "prometheus", port: ports.prometheus, tls: { caSecret, serverName: hosts.prometheus } },
        { job: "alertmanager", app: "alertmanager", port: ports.alertmanager, tls: { caSecret, serverName: hosts.alertmanager } },
    ];
}

/** Alertmanager's options from MonitoringStack's args and the receivers' resolved values. */
export function alertmanagerConfigOptions(args: ResolvedMonitoringStackArgs, receivers: ResolvedAlertReceivers): AlertmanagerConfigOptions {
    const { groupWait, groupInterval, repeatInterval } = args.alertmanager;
    return { groupWait, groupInterval, repeatInterval, receivers };
}

/** The rules file's options: the components' rules in the order given, then MonitoringStack's own. */
export function alertRulesOptions(args: ResolvedMonitoringStackArgs, namespace: string): AlertRulesOptions {
    return { namespace, rules: [...args.alertRules, ...monitoringAlertRules(args.thresholds)] };
}
