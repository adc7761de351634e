// The load-balancer tier's alert rules and Grafana dashboard, handed to MonitoringStack (which adds
// the namespace label and renders them). The metric names are those of its two exporters (LB_METRICS).
import { alertRule, AlertRule, Dashboards, RATE_WINDOW } from "../observability";
import dashboard from "./dashboard.json";
import { LB_METRICS } from "./render";

/** What the load-balancer rules compare against. */
export interface LoadBalancerAlertOptions {
    /** p95 latency SLO in ms; NginxP95LatencyAboveSlo fires above it. */
    p95LatencyMs: number;
    /** Share of 5xx responses that pages (0.01 = 1%). */
    http5xxRatio: number;
}

/** nginx's alert rules: stub_status unreadable, too many 5xx, p95 latency above the SLO. */
export function loadBalancerAlertRules(options: LoadBalancerAlertOptions): AlertRule[] {
    return [
        alertRule("NginxDown", `${LB_METRICS.up} == 0`, "1m", "critical", "nginx on {{ $labels.pod }} is down", "nginx-prometheus-exporter on {{ $labels.pod }} cannot read nginx's stub_status for 1 minute."),
        alertRule(
            "Nginx5xxRatioHigh",
            `sum by (namespace) (rate(${LB_METRICS.responses}{status=~"5.."}[${RATE_WINDOW}])) ` +
                `/ sum by (namespace) (rate(${LB_METRICS.responses}[${RATE_WINDOW}])) > ${options.http5xxRatio}`,
            "5m",
            "critical",
            "{{ $value | humanizePercentage }} of requests fail with 5xx",
            `More than ${options.http5xxRatio * 100}% of the requests through the load balancers have answered 5xx for 5 minutes.`,
        ),
        alertRule(
            "NginxP95LatencyAboveSlo",
            `histogram_quantile(0.95, sum by (namespace, le) (rate(${LB_METRICS.responseTimeBucket}[${RATE_WINDOW}]))) > ${options.p95LatencyMs / 1000}`,
            "10m",
            "warning",
            "p95 latency is {{ $value | humanizeDuration }}, above the SLO",
            `The 95th percentile of response time at the load balancers has been above the ${options.p95LatencyMs} ms SLO for 10 minutes.`,
        ),
    ];
}

/** The load balancers' Grafana dashboard. Imported, not read with fs, so a packaged build carries it. */
export const loadBalancerDashboards: Dashboards = { "loadbalancer.json": dashboard };
