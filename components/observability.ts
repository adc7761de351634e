// What a component hands to MonitoringStack and to the NetworkPolicies: its alert rules, its Grafana
// dashboards and its metrics endpoints. Each component owns these for its own metrics; MonitoringStack
// only renders them, so it knows no other component's metric names.
import type * as pulumi from "@pulumi/pulumi";

/** Severity of an alert: `critical` pages, `warning` is looked at in working hours. */
export type AlertSeverity = "critical" | "warning";

/**
 * One Prometheus alerting rule as a component declares it. MonitoringStack adds the `namespace`
 * label when it renders the rules file.
 */
export interface AlertRule {
    /** The alert's name, e.g. `RedisDown`. */
    alert: string;
    /** PromQL; the alert fires while it returns a series. */
    expr: string;
    /** How long `expr` must hold before the alert fires, a Prometheus duration. */
    for: string;
    labels: { severity: AlertSeverity };
    annotations: { summary: string; description: string };
}

/** An AlertRule written as one call: `alertRule("RedisDown", "redis_up == 0", "1m", "critical", summary, description)`. */
export function alertRule(alert: string, expr: string, forDuration: string, severity: AlertSeverity, summary: string, description: string): AlertRule {
    return { alert, expr, for: forDuration, labels: { severity }, annotations: { summary, description } };
}

/** Rate window of the request-based alerts. */
export const RATE_WINDOW = "5m";

/** `count(selector)` that is 0, not empty, when nothing matches (so "below expected" fires at zero). */
export function countOrZero(selector: string): string {
    return `(count(${selector}) or vector(0))`;
}

/**
 * Scrape job names of MonitoringStack's Prometheus: the contract between the rules and dashboards
 * of every component and the scrape config that produces their `job` label.
 */
export const SCRAPE_JOBS = {
    /** Pods annotated with prometheus.io/scrape, at the annotated port. */
    pods: "kubernetes-pods",
    /** Further container ports named `metrics-*` on the same pods. */
    extraMetricsPorts: "kubernetes-pods-extra-metrics",
    patroni: "patroni",
    kubeStateMetrics: "kube-state-metrics",
    kubelet: "kubelet",
} as const;

/** Grafana dashboards by file name (`redis.json`), each the dashboard's JSON model. */
export type Dashboards = Readonly<Record<string, unknown>>;

/** Pods Prometheus scrapes and their metrics ports, in the shape the NetworkPolicies take. */
export interface MetricsTarget {
    /** What the pods are, e.g. `redis` (names the NetworkPolicy). */
    name: string;
    /** Labels that select exactly these pods. */
    labels: Record<string, string>;
    /** Every port Prometheus scrapes on them. */
    ports: number[];
}

/**
 * A scrape job of one named port on the pods of one app, for metrics a pod serves besides its
 * annotated exporter (Patroni's REST API on the PostgreSQL pods). MonitoringStack renders one job each.
 */
export interface PortScrapeJob {
    /** The job's name, the `job` label of its series. */
    job: string;
    /** `app.kubernetes.io/name` of the pods. */
    app: string;
    /** The container port scraped at /metrics; the pods must declare it. */
    port: number;
    /**
     * Set when the port serves HTTPS: scrape with scheme https, checking the certificate against the
     * CA in `caSecret` (key `ca.crt`, a Secret in the component's namespace) and against
     * `serverName` (the pods are scraped by address; their certificate carries this name).
     */
    tls?: { caSecret: pulumi.Input<string>; serverName: string };
}

/** What every component publishes for monitoring. */
export interface Observable {
    /** The component's alert rules, thresholds already applied. */
    readonly alertRules: AlertRule[];
    /** The component's Grafana dashboards. */
    readonly dashboards: Dashboards;
    /** Pods and ports Prometheus scrapes. */
    readonly metricsTargets: MetricsTarget[];
}
