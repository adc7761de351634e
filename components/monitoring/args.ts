// MonitoringStack's inputs, declared once: each field's rule, default and doc side by side. The stack
// config's `monitoring` section is built from `monitoringSettingsSchema` (config.ts composes it), the
// component parses `monitoringStackArgsSchema`; both apply `checkMonitoringSettings`. The other
// components' alert rules and dashboards come in as plain data (`alertRules`, `dashboards`), so this
// component knows none of their metric names.
import { z } from "zod";
import { dnsLabel, dnsName, imagePullSecretsSchema, input, int, memory, onlyWhenValid, pinnedImage, port, resourcesWithDefault } from "../schema";
import { PROMETHEUS_DURATION, PROMETHEUS_SIZE, parseMemoryQuantity, parsePrometheusSize } from "../units";
import type { CertificateIssuer } from "../tls";
import { dashboardProblems } from "./dashboards";
import { OWN_SCRAPE_JOBS } from "./render";

const prometheusDuration = (example: string) => z.string().regex(PROMETHEUS_DURATION, `a Prometheus duration such as ${example}`);
/** A share strictly between 0 and 1, e.g. 0.85 = 85%. */
const ratio = z.number().gt(0).lt(1);

/** Prometheus (the `monitoring.prometheus` section). */
const prometheusSchema = z.strictObject({
    /**
     * prom/prometheus image, pinned: the 3.13 long-term-support line (supported until July 2027; 2.53
     * and 3.5 are past theirs). The rendered prometheus.yml is checked by promtool 3.13 and Debian's 2.42.
     */
    image: pinnedImage.default("prom/prometheus:v3.13.5"),
    /** `--storage.tsdb.retention.time`: how long samples are kept. */
    retentionTime: prometheusDuration("30d").default("30d"),
    /** `--storage.tsdb.retention.size`, in Prometheus units (powers of 1024). */
    retentionSize: z.string().regex(PROMETHEUS_SIZE, "a Prometheus size such as 50GB").default("50GB"),
    /** PVC size; must be larger than retentionSize (the WAL and compaction need headroom). */
    storage: memory.default("64Gi"),
    /** Scrape and rule evaluation interval. The scrape timeout is 10s, or the interval when shorter. */
    scrapeInterval: prometheusDuration("15s").default("15s"),
    /**
     * `sample_limit` of every scrape job: a target exposing more samples (after metric relabeling)
     * fails its whole scrape (`up` 0) instead of flooding the TSDB, e.g. after a label explosion in an
     * exporter. The largest target here, kube-state-metrics of a 100-pod namespace, exposes ~5,000.
     */
    sampleLimit: int(1).default(50000),
    /** Resources of the Prometheus container. */
    resources: resourcesWithDefault({ cpu: "2", memory: "4Gi" }, { cpu: "4", memory: "8Gi" }),
});

/** Grafana (the `monitoring.grafana` section). */
const grafanaSchema = z.strictObject({
    /**
     * grafana/grafana image, pinned: the 12.4 line, the last minor of Grafana 12, which Grafana keeps
     * patching after 13 (11.x is unsupported). Pie chart and geomap panels are built in.
     */
    image: pinnedImage.default("grafana/grafana:12.4.5"),
    /**
     * The admin login's name (`GF_SECURITY_ADMIN_USER`). Like the password, Grafana applies it only
     * when it creates its database: changing it later renames nobody.
     */
    adminUser: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, "1 to 64 letters, digits or _.@-").default("admin"),
    /**
     * Send Grafana's session cookie only over HTTPS (`GF_SECURITY_COOKIE_SECURE`). Off by default:
     * Grafana serves plain HTTP and is reached through `kubectl port-forward`, and Safari drops secure
     * cookies on http://localhost (no login). Turn on when users reach it through a TLS proxy or Ingress.
     */
    cookieSecure: z.boolean().default(false),
    /** Size of Grafana's data volume (PVC, or emptyDir size limit when not persistent). */
    storage: memory.default("10Gi"),
    /**
     * Keep Grafana's database (users, preferences, annotations) on a PVC. Datasource and dashboards
     * are provisioned from files either way, so an emptyDir is enough where that state may be lost.
     */
    persistent: z.boolean().default(true),
    /** Resources of the Grafana container. */
    resources: resourcesWithDefault({ cpu: "1", memory: "2Gi" }, { cpu: "2", memory: "4Gi" }),
});

/** kube-state-metrics: pod restarts, replica and HPA state of the namespace. */
const kubeStateMetricsSchema = z.strictObject({
    /** registry.k8s.io/kube-state-metrics/kube-state-metrics image, pinned. */
    image: pinnedImage.default("registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0"),
    /** Resources of the kube-state-metrics container. */
    resources: resourcesWithDefault({ cpu: "50m", memory: "64Mi" }, { cpu: "200m", memory: "256Mi" }),
});

/** An http(s) URL (where Alertmanager posts notifications). */
const httpUrl = z.string().regex(/^https?:\/\/[^\s/?#]+[^\s]*$/, "an http:// or https:// URL");

/**
 * Where Alertmanager sends notifications. Each is a Pulumi secret: set it with
 * `pulumi config set --secret --path monitoring.alertmanager.receivers.<key> <value>`; it is
 * rendered into a Secret, never a ConfigMap. Leave all three unset and alerts reach no one (the
 * preview warns). Critical alerts go to PagerDuty and to Slack and the webhook; warnings to Slack and
 * the webhook only.
 */
const alertReceiversSchema = z.strictObject({
    /** A URL receiving Alertmanager's webhook JSON (version 4) for every alert, critical and warning. */
    webhookUrl: input(httpUrl).optional(),
    /** A Slack incoming-webhook URL (`https://hooks.slack.com/services/...`): every alert, in the webhook's channel. */
    slackWebhookUrl: input(httpUrl).optional(),
    /** A PagerDuty Events API v2 integration (routing) key, 32 characters: critical alerts page. */
    pagerdutyRoutingKey: input(z.string().regex(/^[A-Za-z0-9]{32}$/, "a PagerDuty integration key (32 letters and digits)")).optional(),
});

/** Which notifications a MonitoringStack's Alertmanager sends. */
export type AlertReceivers = z.output<typeof alertReceiversSchema>;

/** Alertmanager (the `monitoring.alertmanager` section): notification routing of Prometheus' alerts. */
const alertmanagerSchema = z.strictObject({
    /** prom/alertmanager image, pinned. Its rendered config is checked by amtool 0.35 and Debian's 0.25. */
    image: pinnedImage.default("prom/alertmanager:v0.35.0"),
    /**
     * Replicas. More than one form a gossip cluster (`--cluster.peer`): they share silences and the
     * notification log, so each alert is sent once while any replica is up. 1 = clustering off.
     */
    replicas: int(1, 9).default(3),
    /** Where notifications go; see the schema above. */
    receivers: alertReceiversSchema.prefault({}),
    /** How long the first notification of a new group waits for more alerts of the group. */
    groupWait: prometheusDuration("30s").default("30s"),
    /** How long before a group already notified is notified again about alerts added to it. */
    groupInterval: prometheusDuration("5m").default("5m"),
    /** How long before a still-firing alert is sent again. */
    repeatInterval: prometheusDuration("4h").default("4h"),
    /** Size limit of the emptyDir holding silences and the notification log (replicas share them by gossip). */
    storage: memory.default("256Mi"),
    /** Resources of the Alertmanager container. */
    resources: resourcesWithDefault({ cpu: "50m", memory: "64Mi" }, { cpu: "500m", memory: "256Mi" }),
});

/** Thresholds of MonitoringStack's own rules (the other components' rules carry their own). */
const thresholdsSchema = z.strictObject({
    /** Container restarts within `podRestartWindow` that count as restarting (PodRestarting). */
    podRestarts: int(1).default(3),
    /** Window of `podRestarts`. */
    podRestartWindow: prometheusDuration("15m").default("15m"),
    /** Used share of a PVC that counts as nearly full (PersistentVolumeNearlyFull). */
    pvcUsedRatio: ratio.default(0.85),
});

/** The `monitoring` section of the stack config and the sizing of a MonitoringStack. */
export const monitoringSettingsSchema = z.strictObject({
    prometheus: prometheusSchema.prefault({}),
    grafana: grafanaSchema.prefault({}),
    kubeStateMetrics: kubeStateMetricsSchema.prefault({}),
    alertmanager: alertmanagerSchema.prefault({}),
    thresholds: thresholdsSchema.prefault({}),
    /**
     * Verify kubelet serving certificates against the cluster CA (the ServiceAccount's `ca.crt`, from
     * the `kube-root-ca.crt` ConfigMap) when scraping volume statistics, so Prometheus' bearer token is
     * sent to real kubelets only. Managed clusters (EKS, GKE, AKS) and kubeadm with
     * `serverTLSBootstrap: true` sign kubelet certificates with that CA. Set false only where kubelets
     * serve self-signed certificates (kind, minikube, plain kubeadm): the scrape then trusts any peer
     * on the kubelet port with a token allowed `nodes/metrics`.
     */
    verifyKubeletTls: z.boolean().default(true),
    /** The cluster's DNS domain, used in the in-cluster URLs. */
    clusterDomain: dnsName.default("cluster.local"),
    /** Pulumi `protect` on Prometheus' StatefulSet, Grafana's PVC and Secret; PVCs retained on delete. */
    protectData: z.boolean().default(true),
    /** StorageClass of the PVCs; unset = the cluster default. */
    storageClass: z.string().min(1).optional(),
});

/** The sizing of a MonitoringStack with its defaults applied. */
export type MonitoringSettings = z.output<typeof monitoringSettingsSchema>;

/**
 * The rules between fields of the monitoring settings (a superRefine of the section and of the args).
 * Takes only what it reads, so a stack section without the placement keys is checked the same way.
 */
export function checkMonitoringSettings(value: Pick<MonitoringSettings, "prometheus">, ctx: z.RefinementCtx): void {
    const { storage, retentionSize } = value.prometheus;
    if (parseMemoryQuantity(storage) <= parsePrometheusSize(retentionSize)) {
        ctx.addIssue({
            code: "custom",
            path: ["prometheus", "storage"],
            message: `must be larger than prometheus.retentionSize (${retentionSize}), or the TSDB fills the volume before retention deletes blocks`,
        });
    }
}

/** One alerting rule as a component hands it over (observability.ts AlertRule). */
const alertRuleSchema = z.strictObject({
    /** Prometheus requires a metric name here. */
    alert: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, "an alert name (letters, digits, _ and :)"),
    expr: z.string().min(1),
    for: prometheusDuration("5m"),
    labels: z.strictObject({ severity: z.enum(["critical", "warning"]) }),
    annotations: z.strictObject({ summary: z.string().min(1), description: z.string().min(1) }),
});

/** A scrape job of one named port on the pods of one app, e.g. Patroni's REST API on the PostgreSQL pods. */
const portScrapeJobSchema = z.strictObject({
    /** The job's name, the `job` label of its series. */
    job: dnsLabel,
    /** `app.kubernetes.io/name` of the pods. */
    app: z.string().min(1),
    /** The container port scraped at /metrics; the pods must declare it. */
    port,
    /**
     * Set when the port serves HTTPS: the CA's Secret (key `ca.crt`, in MonitoringStack's namespace) and the
     * name the pods' certificate carries (observability.ts PortScrapeJob). Prometheus scrapes the job with
     * scheme https, verifying both; its pod gets only the Secret's `ca.crt` (render.ts portScrapeJobCaFile).
     */
    tls: z.strictObject({ caSecret: input(z.string().min(1)), serverName: z.string().min(1) }).optional(),
});

/** A scrape job of one port on the pods of one app. */
export type PortScrapeJob = z.output<typeof portScrapeJobSchema>;

/** Every dashboard valid for Grafana 11 and 12, and no scrape job name taken twice (Prometheus refuses that). */
function checkMonitoringInputs(value: { dashboards: Record<string, unknown>; portScrapeJobs: PortScrapeJob[] }, ctx: z.RefinementCtx): void {
    for (const [file, dashboard] of Object.entries(value.dashboards)) {
        for (const problem of dashboardProblems(file, dashboard)) ctx.addIssue({ code: "custom", path: [], message: `dashboard ${problem}` });
    }
    const taken: string[] = [...OWN_SCRAPE_JOBS];
    value.portScrapeJobs.forEach((scrapeJob, index) => {
        if (taken.includes(scrapeJob.job)) {
            ctx.addIssue({ code: "custom", path: ["portScrapeJobs", index, "job"], message: `must not repeat a job name already taken (${taken.join(", ")})` });
        } else {
            taken.push(scrapeJob.job);
        }
    });
}

/** MonitoringStack's args: the settings plus its namespace, the components' rules, dashboards and scrape jobs. */
export const monitoringStackArgsSchema = monitoringSettingsSchema
    .extend({
        /** Namespace of every object, and the only namespace Prometheus discovers pods in. */
        namespace: input(z.string()),
        /**
         * The namespace's name as text, for the certificates' DNS names (`<service>.<namespace>.svc...`),
         * when `namespace` is an Output (a Namespace object's name). Unset: `namespace`, which must then be a string.
         */
        namespaceName: dnsLabel.optional(),
        /**
         * Issues Prometheus' and Alertmanager's certificates (the stack's internal CA, components/tls):
         * both serve HTTPS, Grafana and Prometheus verify them, the Alertmanager replicas gossip over TLS.
         */
        certificates: z.custom<CertificateIssuer>((value) => typeof (value as Partial<CertificateIssuer> | undefined)?.issue === "function", "a CertificateIssuer (components/tls)"),
        /** Image pull Secrets (names in the namespace) on the ServiceAccounts of every pod. */
        imagePullSecrets: imagePullSecretsSchema,
        /** The other components' alert rules, rendered in this order before MonitoringStack's own. */
        alertRules: z.array(alertRuleSchema).default([]),
        /** Grafana dashboards by file name (`redis.json`), provisioned in this order. */
        dashboards: z.record(z.string(), z.unknown()).default({}),
        /** Further scrape jobs of one port per app (a component publishes these, e.g. PostgresCluster Patroni's). */
        portScrapeJobs: z.array(portScrapeJobSchema).default([]),
        /** Grafana's admin password; unset = generated once (RandomPassword) and kept in the stack's state. */
        grafanaAdminPassword: input(z.string()).optional(),
        /**
         * Grafana's `secret_key` (signs and encrypts what Grafana stores: data source credentials,
         * alerting contact points); unset = generated once (RandomPassword). Changing it makes what
         * Grafana encrypted before unreadable: keep it.
         */
        grafanaSecretKey: input(z.string()).optional(),
    })
    .superRefine(checkMonitoringSettings, onlyWhenValid)
    .superRefine(checkMonitoringInputs, onlyWhenValid)
    .superRefine((args, ctx) => {
        if (args.namespaceName === undefined && typeof args.namespace !== "string") {
            ctx.addIssue({ code: "custom", path: ["namespaceName"], message: "is required when namespace is an Output: the certificates' DNS names need the namespace's name" });
        }
    }, onlyWhenValid);

/** What a caller passes to MonitoringStack: every field but `namespace` and `certificates` has a default. */
export type MonitoringStackArgs = z.input<typeof monitoringStackArgsSchema>;
/** MonitoringStack's args with the defaults applied. */
export type ResolvedMonitoringStackArgs = z.output<typeof monitoringStackArgsSchema>;
