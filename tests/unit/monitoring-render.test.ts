// The monitoring renderers, called directly: the YAML emitter, prometheus.yml's scrape jobs, every
// alert rule's expression and thresholds, Grafana's provisioning and the dashboard check.
import { parse } from "yaml";
import { LB_METRICS, LOG_EXPORTER_PORT_NAME, STUB_EXPORTER_PORT_NAME } from "../../components/loadbalancer/render";
import { DASHBOARDS, dashboardFiles } from "../../components/monitoring/dashboards";
import {
    ALERT_RULES_FILE,
    AlertRulesOptions,
    AlertThresholds,
    JOBS,
    KUBELET_CA_FILE,
    KUBELET_TOKEN_FILE,
    PrometheusConfigOptions,
    alertRules,
    dashboardProblems,
    prometheusConfig,
    renderAlertRules,
    renderGrafanaDashboardProvider,
    renderGrafanaDatasources,
    renderPrometheusConfig,
} from "../../components/monitoring/render";
import { toYaml } from "../../components/yaml";

/* eslint-disable @typescript-eslint/no-explicit-any -- parsed YAML is checked structurally */

const THRESHOLDS: AlertThresholds = {
    p95LatencyMs: 100,
    http5xxRatio: 0.01,
    replicationLagSeconds: 30,
    replicationLagBytes: 1048576,
    podRestarts: 3,
    podRestartWindow: "15m",
    pvcUsedRatio: 0.85,
};
const RULES: AlertRulesOptions = {
    namespace: "prepx",
    expected: { postgresMembers: 3, redisMasters: 3, redisNodes: 6 },
    thresholds: THRESHOLDS,
    postgresApp: "postgres",
};
const PROM: PrometheusConfigOptions = {
    namespace: "prepx",
    scrapeInterval: "15s",
    kubeStateMetricsApp: "kube-state-metrics",
    postgresApp: "postgres",
    patroniPort: 8008,
    verifyKubeletTls: false,
};

function rulesOf(options: AlertRulesOptions): Record<string, ReturnType<typeof alertRules>[number]> {
    return Object.fromEntries(alertRules(options).map((rule) => [rule.alert, rule]));
}

describe("toYaml", () => {
    test("round-trips nested values, quoting every string", () => {
        const value = {
            plain: "text",
            quoted: 'a "quoted" {{ $labels.pod }} value: with colon # and hash',
            multiline: "line one\nline two",
            regex: "(.+?)(?::\\d+)?;(\\d+)",
            number: 0.85,
            negative: -1,
            flag: false,
            nothing: null,
            empty: [],
            emptyObject: {},
            list: ["a", { nested: [1, 2], deeper: { key: "v" } }, [3, 4]],
            "key with space": "x",
            "yes": "no",
        };
        expect(parse(toYaml(value))).toEqual(value);
        // YAML 1.1 readers (Prometheus uses yaml.v2) would read bare yes/no/on as booleans: strings are quoted.
        expect(toYaml({ a: "yes" })).toBe('a: "yes"\n');
    });

    test("leaves out undefined entries and prefixes a header comment", () => {
        expect(toYaml({ a: 1, b: undefined }, "one\ntwo")).toBe("# one\n# two\na: 1\n");
    });

    test("refuses numbers YAML cannot carry", () => {
        expect(() => toYaml({ a: Number.NaN })).toThrow(/NaN/);
    });
});

describe("prometheus.yml", () => {
    const config = prometheusConfig(PROM) as any;
    const job = (name: string) => config.scrape_configs.find((j: any) => j.job_name === name);

    test("parses back to the structure it was rendered from", () => {
        expect(parse(renderPrometheusConfig(PROM))).toEqual(config);
    });

    test("loads the alert rules and evaluates at the scrape interval", () => {
        expect(config.rule_files).toEqual([ALERT_RULES_FILE]);
        expect(config.global).toMatchObject({ scrape_interval: "15s", evaluation_interval: "15s" });
        expect(config.scrape_configs.map((j: any) => j.job_name)).toEqual([JOBS.pods, JOBS.extraMetricsPorts, JOBS.patroni, JOBS.kubeStateMetrics, JOBS.kubelet]);
    });

    test("pod jobs discover only the stack's namespace", () => {
        for (const name of [JOBS.pods, JOBS.extraMetricsPorts, JOBS.patroni, JOBS.kubeStateMetrics]) {
            expect(job(name).kubernetes_sd_configs).toEqual([{ role: "pod", namespaces: { names: ["prepx"] } }]);
        }
    });

    test("the pods job keeps annotated pods, scrapes the annotated port and path, and labels namespace/pod/app", () => {
        const rules = job(JOBS.pods).relabel_configs;
        expect(rules[0]).toEqual({ source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], regex: "true", action: "keep" });
        expect(rules).toContainEqual({
            source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
            regex: "kube-state-metrics",
            action: "drop",
        });
        expect(rules).toContainEqual(expect.objectContaining({ source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_path"], target_label: "__metrics_path__" }));
        const address = rules.find((r: any) => r.target_label === "__address__");
        expect(address.source_labels).toEqual(["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"]);
        // The rewrite, applied as Prometheus does (a fully anchored match, then $n substitution).
        const rewrite = (input: string) => input.replace(new RegExp(`^(?:${address.regex})$`), address.replacement.replace(/\$(\d)/g, "$$$1"));
        expect(rewrite("10.1.2.3:6379;9121")).toBe("10.1.2.3:9121");
        expect(rewrite("10.1.2.3;9121")).toBe("10.1.2.3:9121");
        expect(rewrite("[fd00::5]:6379;9121")).toBe("[fd00::5]:9121");
        const targets = Object.fromEntries(rules.filter((r: any) => r.action === "replace" && !r.target_label.startsWith("__")).map((r: any) => [r.target_label, r.source_labels[0]]));
        expect(targets).toEqual({
            namespace: "__meta_kubernetes_namespace",
            pod: "__meta_kubernetes_pod_name",
            app: "__meta_kubernetes_pod_label_app_kubernetes_io_name",
            component: "__meta_kubernetes_pod_label_app_kubernetes_io_component",
        });
    });

    test("a second exporter in an annotated pod is scraped on its metrics-* port (nginx's access-log exporter)", () => {
        const rules = job(JOBS.extraMetricsPorts).relabel_configs;
        expect(rules[0]).toEqual({ source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], regex: "true", action: "keep" });
        const portRule = rules.find((r: any) => r.source_labels[0] === "__meta_kubernetes_pod_container_port_name");
        const kept = (name: string) => portRule.action === "keep" && new RegExp(`^(?:${portRule.regex})$`).test(name);
        expect(kept(LOG_EXPORTER_PORT_NAME)).toBe(true);
        // The annotated port is the pods job's; scraping it here too would store every series twice.
        expect(kept(STUB_EXPORTER_PORT_NAME)).toBe(false);
        expect(kept("http")).toBe(false);
        expect(rules.filter((r: any) => r.target_label === "__address__")).toEqual([]);
    });

    test("Patroni is scraped on its REST port of the PostgreSQL pods", () => {
        const rules = job(JOBS.patroni).relabel_configs;
        expect(rules).toContainEqual({ source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], regex: "postgres", action: "keep" });
        expect(rules).toContainEqual({ source_labels: ["__meta_kubernetes_pod_container_port_number"], regex: "8008", action: "keep" });
    });

    test("kube-state-metrics keeps the namespace/pod labels of the objects it reports", () => {
        const ksm = job(JOBS.kubeStateMetrics);
        expect(ksm.honor_labels).toBe(true);
        expect(ksm.relabel_configs).toContainEqual({ source_labels: ["__meta_kubernetes_pod_container_port_name"], regex: "http-metrics", action: "keep" });
    });

    test("kubelets are scraped directly with the projected token, keeping only this namespace's volume stats", () => {
        const kubelet = job(JOBS.kubelet);
        expect(kubelet.kubernetes_sd_configs).toEqual([{ role: "node" }]);
        expect(kubelet.scheme).toBe("https");
        expect(kubelet.authorization).toEqual({ type: "Bearer", credentials_file: KUBELET_TOKEN_FILE });
        expect(kubelet.tls_config).toEqual({ insecure_skip_verify: true });
        expect(JSON.stringify(kubelet)).not.toContain("/proxy");
        const [keep] = kubelet.metric_relabel_configs;
        const kept = (name: string, namespace: string) => new RegExp(`^(?:${keep.regex})$`).test(`${name};${namespace}`);
        expect(kept("kubelet_volume_stats_used_bytes", "prepx")).toBe(true);
        expect(kept("kubelet_volume_stats_capacity_bytes", "prepx")).toBe(true);
        expect(kept("kubelet_volume_stats_used_bytes", "other-team")).toBe(false);
        expect(kept("kubelet_volume_stats_used_bytes", "prepx-dev")).toBe(false);
        expect(kept("kubelet_running_pods", "prepx")).toBe(false);
    });

    test("verifying kubelet TLS uses the cluster CA instead of skipping verification", () => {
        const verified = (prometheusConfig({ ...PROM, verifyKubeletTls: true }) as any).scrape_configs.find((j: any) => j.job_name === JOBS.kubelet);
        expect(verified.tls_config).toEqual({ ca_file: KUBELET_CA_FILE });
    });
});

describe("alert rules", () => {
    const rules = rulesOf(RULES);

    test("every alert is present, with for, severity, namespace, summary and description", () => {
        expect(Object.keys(rules).sort()).toEqual(
            [
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
            ].sort(),
        );
        for (const rule of Object.values(rules)) {
            expect(rule.for).toMatch(/^\d+[smh]$/);
            expect(["critical", "warning"]).toContain(rule.labels.severity);
            expect(rule.labels.namespace).toBe("prepx");
            expect(rule.annotations.summary.length).toBeGreaterThan(10);
            expect(rule.annotations.description.length).toBeGreaterThan(20);
        }
    });

    test("expressions have the expected shape", () => {
        expect(rules.PostgresDown.expr).toBe('pg_up == 0 or up{job="kubernetes-pods", app="postgres"} == 0');
        expect(rules.PostgresReplicationLagHigh.expr).toBe("pg_replication_lag_seconds > 30 and on (namespace, pod) pg_replication_is_replica == 1");
        expect(rules.PostgresReplicationLagBytesHigh.expr).toMatch(/patroni_xlog_location.*patroni_xlog_replayed_location\) > 1048576 and on \(namespace, pod\) patroni_replica == 1$/);
        expect(rules.PostgresReplicasBelowExpected.expr).toBe("(count(pg_replication_is_replica == 1 and on (namespace, pod) pg_up == 1) or vector(0)) < 2");
        expect(rules.RedisClusterStateNotOk.expr).toBe("redis_cluster_state == 0");
        expect(rules.RedisMasterMissing.expr).toBe('(count(redis_instance_info{role="master"}) or vector(0)) < 3');
        expect(rules.RedisReplicasBelowExpected.expr).toBe('(count(redis_instance_info{role="slave"}) or vector(0)) < 3');
        expect(rules.Nginx5xxRatioHigh.expr).toMatch(/^sum by \(namespace\) \(rate\(nginx_http_response_count_total\{status=~"5\.\."\}\[5m\]\)\) \/ sum by \(namespace\) \(rate\(nginx_http_response_count_total\[5m\]\)\) > 0\.01$/);
        // prometheus-nginxlog-exporter names its histogram `..._hist` (the summary keeps the plain name).
        expect(rules.NginxP95LatencyAboveSlo.expr).toBe("histogram_quantile(0.95, sum by (namespace, le) (rate(nginx_http_response_time_seconds_hist_bucket[5m]))) > 0.1");
        expect(LB_METRICS).toMatchObject({ responses: "nginx_http_response_count_total", responseTimeBucket: "nginx_http_response_time_seconds_hist_bucket", up: "nginx_up" });
        expect(rules.PodRestarting.expr).toBe("increase(kube_pod_container_status_restarts_total[15m]) >= 3");
        expect(rules.PersistentVolumeNearlyFull.expr).toBe("kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes > 0.85");
    });

    test("the latency SLO and every threshold come from the args", () => {
        const custom = rulesOf({
            ...RULES,
            expected: { postgresMembers: 5, redisMasters: 4, redisNodes: 12 },
            thresholds: { p95LatencyMs: 250, http5xxRatio: 0.002, replicationLagSeconds: 12, replicationLagBytes: 4096, podRestarts: 5, podRestartWindow: "30m", pvcUsedRatio: 0.9 },
        });
        expect(custom.NginxP95LatencyAboveSlo.expr).toMatch(/> 0\.25$/);
        expect(custom.NginxP95LatencyAboveSlo.annotations.description).toContain("250 ms SLO");
        expect(custom.Nginx5xxRatioHigh.expr).toMatch(/> 0\.002$/);
        expect(custom.PostgresReplicationLagHigh.expr).toContain("> 12 and");
        expect(custom.PostgresReplicationLagBytesHigh.expr).toContain("> 4096 and");
        expect(custom.PostgresReplicasBelowExpected.expr).toMatch(/< 4$/);
        expect(custom.RedisMasterMissing.expr).toMatch(/< 4$/);
        expect(custom.RedisReplicasBelowExpected.expr).toMatch(/< 8$/);
        expect(custom.PodRestarting.expr).toBe("increase(kube_pod_container_status_restarts_total[30m]) >= 5");
        expect(custom.PersistentVolumeNearlyFull.expr).toMatch(/> 0\.9$/);
    });

    test("replica alerts are left out when the stack runs no replicas", () => {
        const single = rulesOf({ ...RULES, expected: { postgresMembers: 1, redisMasters: 3, redisNodes: 3 } });
        expect(single.PostgresReplicasBelowExpected).toBeUndefined();
        expect(single.RedisReplicasBelowExpected).toBeUndefined();
        expect(single.RedisMasterMissing).toBeDefined();
    });

    test("the rules file is one group holding every rule", () => {
        const file = parse(renderAlertRules(RULES));
        expect(file.groups).toHaveLength(1);
        expect(file.groups[0].name).toBe("prepx-prepx");
        expect(file.groups[0].rules).toEqual(alertRules(RULES));
    });
});

describe("Grafana provisioning", () => {
    test("the datasource is the stack's Prometheus, default and read-only", () => {
        const file = parse(renderGrafanaDatasources({ prometheusUrl: "http://monitoring-prometheus.prepx.svc.cluster.local:9090", scrapeInterval: "15s" }));
        expect(file.datasources).toEqual([
            expect.objectContaining({
                uid: "prometheus",
                type: "prometheus",
                url: "http://monitoring-prometheus.prepx.svc.cluster.local:9090",
                isDefault: true,
                editable: false,
                jsonData: expect.objectContaining({ timeInterval: "15s" }),
            }),
        ]);
    });

    test("dashboards come from files, not editable in the UI", () => {
        const file = parse(renderGrafanaDashboardProvider({ path: "/etc/grafana/dashboards", folder: "prepx" }));
        expect(file.providers).toEqual([expect.objectContaining({ type: "file", allowUiUpdates: false, options: expect.objectContaining({ path: "/etc/grafana/dashboards" }) })]);
    });

    test("one dashboard per component plus an overview, each valid and on built-in panels only", () => {
        expect(Object.keys(DASHBOARDS).sort()).toEqual(["loadbalancer.json", "overview.json", "postgres.json", "redis.json", "service-fleet.json"]);
        for (const [file, dashboard] of Object.entries(DASHBOARDS)) expect(dashboardProblems(file, dashboard)).toEqual([]);
        const uids = Object.values(DASHBOARDS).map((d) => (d as { uid: string }).uid);
        expect(new Set(uids).size).toBe(uids.length);
        const types = new Set(Object.values(DASHBOARDS).flatMap((d) => (d as { panels: { type: string }[] }).panels.map((p) => p.type)));
        expect(types).toEqual(new Set(["stat", "gauge", "timeseries", "piechart"]));
        for (const text of Object.values(dashboardFiles())) expect(JSON.parse(text)).toBeTruthy();
        // Latency panels read the histogram the access-log exporter really exports.
        const all = JSON.stringify(DASHBOARDS);
        expect(all).toContain(LB_METRICS.responseTimeBucket);
        expect(all).not.toMatch(/nginx_http_response_time_seconds_bucket/);
    });

    test("deprecated plugins, Angular panels and foreign datasources are refused", () => {
        const panel = { type: "timeseries", title: "t", datasource: { type: "prometheus", uid: "prometheus" } };
        const base = { uid: "x", title: "X", panels: [panel] };
        expect(dashboardProblems("ok.json", base)).toEqual([]);
        expect(dashboardProblems("pie.json", { ...base, panels: [{ ...panel, type: "grafana-piechart-panel" }] })).toEqual([
            "pie.json: uses deprecated plugin grafana-piechart-panel",
            'pie.json: panel "t" has type grafana-piechart-panel, not a built-in panel',
        ]);
        expect(dashboardProblems("map.json", { ...base, panels: [{ type: "row", title: "r", panels: [{ ...panel, type: "grafana-worldmap-panel" }] }] })).toContain(
            "map.json: uses deprecated plugin grafana-worldmap-panel",
        );
        expect(dashboardProblems("graph.json", { ...base, panels: [{ ...panel, type: "graph" }] })).toEqual(['graph.json: panel "t" has type graph, not a built-in panel']);
        expect(dashboardProblems("ds.json", { ...base, panels: [{ ...panel, datasource: { uid: "elsewhere" } }] })).toEqual(['ds.json: panel "t" does not use datasource uid prometheus']);
        expect(() => dashboardFiles({ "bad.json": { ...base, uid: "" } })).toThrow(/bad\.json: uid/);
    });
});
