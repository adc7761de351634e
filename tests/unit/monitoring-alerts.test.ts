// The alert rules and dashboards each component hands to MonitoringStack, called directly: every
// alert's expression and thresholds, the replica alerts left out when nothing replicates, and every
// dashboard valid for the provisioned Grafana. tests/live/prometheus.test.ts runs them on promtool.
import { serviceFleetDashboards } from "../../components/fleet/alerts";
import { loadBalancerAlertRules, loadBalancerDashboards } from "../../components/loadbalancer/alerts";
import { LB_METRICS } from "../../components/loadbalancer/render";
import { monitoringAlertRules } from "../../components/monitoring/alerts";
import { dashboardProblems } from "../../components/monitoring/dashboards";
import { AlertRule } from "../../components/observability";
import { postgresAlertRules, postgresDashboards } from "../../components/postgres/alerts";
import { redisAlertRules, redisDashboards } from "../../components/redis/alerts";
import { overviewDashboards } from "../../dashboards";

const POSTGRES = { app: "postgres", standbys: 2, replicationLagSeconds: 30, replicationLagBytes: 1048576 };
const REDIS = { masters: 3, replicasPerMaster: 1 };
const LOAD_BALANCER = { p95LatencyMs: 100, http5xxRatio: 0.01 };

function byName(rules: AlertRule[]): Record<string, AlertRule> {
    return Object.fromEntries(rules.map((rule) => [rule.alert, rule]));
}

test("every alert is present once, with for, severity, summary and description", () => {
    const all = [...postgresAlertRules(POSTGRES), ...redisAlertRules(REDIS), ...loadBalancerAlertRules(LOAD_BALANCER), ...monitoringAlertRules({ podRestarts: 3, podRestartWindow: "15m", pvcUsedRatio: 0.85 })];
    expect(all.map((rule) => rule.alert)).toEqual([
        "PostgresDown",
        "PostgresReplicationLagHigh",
        "PostgresReplicationLagBytesHigh",
        "PostgresReplicasBelowExpected",
        "RedisDown",
        "RedisClusterStateNotOk",
        "RedisMasterMissing",
        "RedisReplicasBelowExpected",
        "NginxDown",
        "Nginx5xxRatioHigh",
        "NginxP95LatencyAboveSlo",
        "PodRestarting",
        "PersistentVolumeNearlyFull",
    ]);
    for (const rule of all) {
        expect(rule.for).toMatch(/^\d+[smh]$/);
        // Only the severity: MonitoringStack adds the namespace label when it renders the file.
        expect(Object.keys(rule.labels)).toEqual(["severity"]);
        expect(["critical", "warning"]).toContain(rule.labels.severity);
        expect(rule.annotations.summary.length).toBeGreaterThan(10);
        expect(rule.annotations.description.length).toBeGreaterThan(20);
    }
});

describe("PostgreSQL", () => {
    const rules = byName(postgresAlertRules(POSTGRES));

    test("expressions have the expected shape", () => {
        expect(rules.PostgresDown.expr).toBe('pg_up == 0 or up{job="kubernetes-pods", app="postgres"} == 0');
        expect(rules.PostgresReplicationLagHigh.expr).toBe("pg_replication_lag_seconds > 30 and on (namespace, pod) pg_replication_is_replica == 1");
        expect(rules.PostgresReplicationLagBytesHigh.expr).toBe(
            "(max by (namespace) (patroni_xlog_location) - on (namespace) group_right () patroni_xlog_replayed_location) > 1048576 and on (namespace, pod) patroni_replica == 1",
        );
        expect(rules.PostgresReplicasBelowExpected.expr).toBe("(count(pg_replication_is_replica == 1 and on (namespace, pod) pg_up == 1) or vector(0)) < 2");
    });

    test("thresholds, counts and the app label come from the options", () => {
        const custom = byName(postgresAlertRules({ app: "pg", standbys: 4, replicationLagSeconds: 12, replicationLagBytes: 4096 }));
        expect(custom.PostgresDown.expr).toContain('app="pg"');
        expect(custom.PostgresReplicationLagHigh.expr).toContain("> 12 and");
        expect(custom.PostgresReplicationLagHigh.annotations.description).toContain("more than 12s behind");
        expect(custom.PostgresReplicationLagBytesHigh.expr).toContain("> 4096 and");
        expect(custom.PostgresReplicasBelowExpected.expr).toMatch(/< 4$/);
        expect(custom.PostgresReplicasBelowExpected.annotations.summary).toBe("PostgreSQL has {{ $value }} of 4 replicas");
    });

    test("no standby, no replicas alert", () => {
        expect(postgresAlertRules({ ...POSTGRES, standbys: 0 }).map((rule) => rule.alert)).toEqual(["PostgresDown", "PostgresReplicationLagHigh", "PostgresReplicationLagBytesHigh"]);
    });
});

describe("Redis", () => {
    test("expressions have the expected shape; replicas are masters x replicasPerMaster", () => {
        const rules = byName(redisAlertRules(REDIS));
        expect(rules.RedisDown.expr).toBe("redis_up == 0");
        expect(rules.RedisClusterStateNotOk.expr).toBe("redis_cluster_state == 0");
        expect(rules.RedisMasterMissing.expr).toBe('(count(redis_instance_info{role="master"}) or vector(0)) < 3');
        expect(rules.RedisReplicasBelowExpected.expr).toBe('(count(redis_instance_info{role="slave"}) or vector(0)) < 3');
        const custom = byName(redisAlertRules({ masters: 4, replicasPerMaster: 2 }));
        expect(custom.RedisMasterMissing.expr).toMatch(/< 4$/);
        expect(custom.RedisReplicasBelowExpected.expr).toMatch(/< 8$/);
    });

    test("masters without replicas: no replicas alert, the master alert stays", () => {
        expect(redisAlertRules({ masters: 3, replicasPerMaster: 0 }).map((rule) => rule.alert)).toEqual(["RedisDown", "RedisClusterStateNotOk", "RedisMasterMissing"]);
    });
});

describe("load balancer", () => {
    test("expressions read the exporters' metrics; the SLO and the 5xx ratio come from the options", () => {
        const rules = byName(loadBalancerAlertRules(LOAD_BALANCER));
        expect(rules.NginxDown.expr).toBe("nginx_up == 0");
        expect(rules.Nginx5xxRatioHigh.expr).toBe(
            'sum by (namespace) (rate(nginx_http_response_count_total{status=~"5.."}[5m])) / sum by (namespace) (rate(nginx_http_response_count_total[5m])) > 0.01',
        );
        // prometheus-nginxlog-exporter names its histogram `..._hist` (the summary keeps the plain name).
        expect(rules.NginxP95LatencyAboveSlo.expr).toBe("histogram_quantile(0.95, sum by (namespace, le) (rate(nginx_http_response_time_seconds_hist_bucket[5m]))) > 0.1");
        expect(LB_METRICS).toMatchObject({ responses: "nginx_http_response_count_total", responseTimeBucket: "nginx_http_response_time_seconds_hist_bucket", up: "nginx_up" });
        const custom = byName(loadBalancerAlertRules({ p95LatencyMs: 250, http5xxRatio: 0.002 }));
        expect(custom.NginxP95LatencyAboveSlo.expr).toMatch(/> 0\.25$/);
        expect(custom.NginxP95LatencyAboveSlo.annotations.description).toContain("250 ms SLO");
        expect(custom.Nginx5xxRatioHigh.expr).toMatch(/> 0\.002$/);
        expect(custom.Nginx5xxRatioHigh.annotations.description).toContain("More than 0.2% of the requests");
    });
});

describe("dashboards", () => {
    const all = { ...overviewDashboards, ...postgresDashboards, ...redisDashboards, ...loadBalancerDashboards, ...serviceFleetDashboards };

    test("one per component plus the stack's overview, each valid and on built-in panels only", () => {
        expect(Object.keys(all)).toEqual(["overview.json", "postgres.json", "redis.json", "loadbalancer.json", "service-fleet.json"]);
        for (const [file, dashboard] of Object.entries(all)) expect(dashboardProblems(file, dashboard)).toEqual([]);
        const uids = Object.values(all).map((dashboard) => (dashboard as { uid: string }).uid);
        expect(new Set(uids).size).toBe(uids.length);
        const types = new Set(Object.values(all).flatMap((dashboard) => (dashboard as { panels: { type: string }[] }).panels.map((panel) => panel.type)));
        expect(types).toEqual(new Set(["stat", "gauge", "timeseries", "piechart"]));
    });

    test("latency panels read the histogram the access-log exporter really exports", () => {
        const text = JSON.stringify(loadBalancerDashboards) + JSON.stringify(overviewDashboards);
        expect(text).toContain(LB_METRICS.responseTimeBucket);
        expect(JSON.stringify(all)).not.toMatch(/nginx_http_response_time_seconds_bucket/);
    });
});
