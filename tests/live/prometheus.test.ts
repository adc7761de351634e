// The rendered prometheus.yml and alert rules on Debian's promtool and prometheus (2.42):
// - `promtool check rules` on the rendered rules file as is;
// - `promtool test rules` with unit tests generated here from input series: every alert fires when
//   it should (with its labels and rendered annotations) and stays silent when it should not;
// - `promtool check config` on a config rendered with a 5s scrape interval (the timeout follows it);
// - `promtool check config`, and a real Prometheus scraping fake exporters, on the rendered config
//   with only its Kubernetes discovery swapped for file discovery. Debian builds Prometheus without
//   the Kubernetes SD ("field kubernetes_sd_configs not found"), so the file-SD targets carry the
//   __meta_kubernetes_* labels Kubernetes SD would attach, and the relabeling, the namespace filter,
//   honor_labels, the kubelet token and the kept metrics are exercised exactly as rendered;
//   Patroni's job scrapes HTTPS members by IP, verifying a test CA's certificate by server_name.
//   Prometheus itself serves HTTPS only (the rendered web.yml, a test certificate with the names
//   MonitoringStack's has) and scrapes itself and a fake Alertmanager over HTTPS like the pods.
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";
import { stringify } from "yaml";
import { loadBalancerAlertRules, loadBalancerDashboards } from "../../components/loadbalancer/alerts";
import { LB_METRICS, LOG_EXPORTER_PORT_NAME, STUB_EXPORTER_PORT_NAME } from "../../components/loadbalancer/render";
import { MonitoringStackArgs, monitoringStackArgsSchema, ResolvedMonitoringStackArgs } from "../../components/monitoring/args";
import {
    ALERT_RULES_FILE,
    ALERTMANAGER_PORT,
    alertRulesOptions,
    KUBE_STATE_METRICS_APP,
    KUBELET_CA_FILE,
    KUBELET_TOKEN_FILE,
    monitoringCertificateDnsNames,
    monitoringSelfScrapeJobs,
    portScrapeJobCaFile,
    PROMETHEUS_CONFIG_FILE,
    PROMETHEUS_TLS_FILES,
    PROMETHEUS_WEB_CONFIG_FILE,
    prometheusConfigOptions,
    renderAlertRules,
    renderPrometheusConfig,
    renderWebConfig,
} from "../../components/monitoring/render";
import { PROMETHEUS_PORT } from "../../components/monitoring/specs";
import { SCRAPE_JOBS } from "../../components/observability";
import { postgresAlertRules, postgresBackupAlertRules, postgresDashboards } from "../../components/postgres/alerts";
import { memberCertificateDnsNames, PATRONI_PORT, postgresNames } from "../../components/postgres/render";
import { serviceHost } from "../../components/dns";
import { redisAlertRules, redisDashboards } from "../../components/redis/alerts";
import { serviceFleetDashboards } from "../../components/fleet/alerts";
import { parseStackConfig } from "../../config";
import { overviewDashboards } from "../../dashboards";
import { readStackConfig } from "../../scripts/stack-files";
import { parseAlertRules, parsePrometheusYml, PrometheusYml, RenderedRule, scrapeJob as scrapeJobOf } from "../helpers/monitoring-files";
import { freePort, makeTempDir, report, run, startServer, stopServer, Server, waitFor } from "./support";
import { httpsGet, issueServerCertificate, makeTestCa, TestCa, TestServerCertificate } from "./tls-support";
import { testCertificates } from "../helpers/mocks";

// The prod stack's files, rendered from its monitoring settings through the component's own mapping,
// with every component's rules and dashboards. The CASES below are written against these thresholds
// and counts (prod's): 2 PostgreSQL standbys, 3 Redis masters with a replica each, a 100 ms SLO.
const config = parseStackConfig("prod", readStackConfig("prod"));
const NS = config.namespace;
const DASHBOARDS = { ...overviewDashboards, ...postgresDashboards, ...redisDashboards, ...loadBalancerDashboards, ...serviceFleetDashboards };
/** PostgresCluster `postgres`'s object names: its members' certificate and the Patroni job's server_name derive from them. */
const POSTGRES_NAMES = postgresNames("postgres");
/** MonitoringStack `monitoring`'s Prometheus and Alertmanager (their certificates' names derive from them). */
const MONITORING_NAMES = { prometheus: "monitoring-prometheus", alertmanager: "monitoring-alertmanager" };
const MONITORING_ARGS: MonitoringStackArgs = {
    namespace: NS,
    certificates: testCertificates,
    ...config.monitoring,
    alertRules: [
        ...postgresAlertRules({ app: "postgres", standbys: 2, replicationLagSeconds: 30, replicationLagBytes: 1048576 }),
        ...postgresBackupAlertRules({ app: "postgres", backupAgeHours: config.postgres.backup.backupAgeAlertHours, walArchiveMinutes: config.postgres.backup.walArchiveAlertMinutes }),
        ...redisAlertRules({ masters: 3, replicasPerMaster: 1 }),
        ...loadBalancerAlertRules({ p95LatencyMs: 100, http5xxRatio: 0.01 }),
    ],
    dashboards: DASHBOARDS,
    portScrapeJobs: [
        { job: SCRAPE_JOBS.patroni, app: "postgres", port: PATRONI_PORT, tls: { caSecret: "postgres-tls", serverName: serviceHost(POSTGRES_NAMES.membersService, NS, config.postgres.clusterDomain) } },
    ],
};
/** Prometheus' and Alertmanager's own HTTPS jobs, which MonitoringStack adds to the parsed args after the given ones. */
const SELF_SCRAPE_JOBS = monitoringSelfScrapeJobs(
    { prometheus: serviceHost(MONITORING_NAMES.prometheus, NS, config.monitoring.clusterDomain), alertmanager: serviceHost(MONITORING_NAMES.alertmanager, NS, config.monitoring.clusterDomain) },
    "monitoring-prometheus-tls",
    { prometheus: PROMETHEUS_PORT, alertmanager: ALERTMANAGER_PORT },
);
const withSelfScrapeJobs = (parsed: ResolvedMonitoringStackArgs): ResolvedMonitoringStackArgs => ({ ...parsed, portScrapeJobs: [...parsed.portScrapeJobs, ...SELF_SCRAPE_JOBS] });
const ARGS = withSelfScrapeJobs(monitoringStackArgsSchema.parse(MONITORING_ARGS));
const PROMETHEUS_YML = renderPrometheusConfig(prometheusConfigOptions(ARGS, NS, "monitoring-alertmanager"));
const ALERTS_YML = renderAlertRules(alertRulesOptions(ARGS, NS));
/** The rules as rendered: the components' and MonitoringStack's own, with the namespace label added. */
const RULES = parseAlertRules(ALERTS_YML);
const KUBELET_TOKEN = "live-test-kubelet-token";

const dirs: string[] = [];
const servers: (http.Server | https.Server)[] = [];
let prometheus: Server | undefined;
/** The CA of the members' certificate (the `ca.crt` Prometheus' pod gets projected for the Patroni job), made in beforeAll. */
let membersCa: TestCa;
/** The internal CA as MonitoringStack's certificates see it, and Prometheus' and Alertmanager's certificates. */
let monitoringCa: TestCa;
let prometheusCertificate: TestServerCertificate;
let alertmanagerCertificate: TestServerCertificate;

beforeAll(async () => {
    const dir = makeTempDir("prom-ca");
    dirs.push(dir);
    membersCa = await makeTestCa(path.join(dir, "members-ca"), "prepx live-test members CA");
    monitoringCa = await makeTestCa(path.join(dir, "monitoring-ca"), "prepx live-test internal CA");
    const dnsNames = monitoringCertificateDnsNames(MONITORING_NAMES, NS, ARGS);
    // The rendered names, plus 127.0.0.1 where the test's Prometheus is reached (its pod by IP needs none: it is checked by server_name).
    prometheusCertificate = await issueServerCertificate(monitoringCa, path.join(dir, "prometheus"), { dnsNames: dnsNames.prometheus, ipAddresses: ["127.0.0.1"], clientAuth: true });
    alertmanagerCertificate = await issueServerCertificate(monitoringCa, path.join(dir, "alertmanager"), { dnsNames: dnsNames.alertmanager, clientAuth: true });
});

/** A temp dir holding the rendered files as the pod sees them: config, rules, projected token. */
function configDir(prefix: string, prometheusYml: string): string {
    const dir = makeTempDir(prefix);
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, PROMETHEUS_CONFIG_FILE), prometheusYml);
    fs.writeFileSync(path.join(dir, ALERT_RULES_FILE), ALERTS_YML);
    fs.mkdirSync(path.join(dir, path.dirname(KUBELET_TOKEN_FILE)), { recursive: true });
    fs.writeFileSync(path.join(dir, KUBELET_TOKEN_FILE), KUBELET_TOKEN);
    const patroniCaFile = path.join(dir, portScrapeJobCaFile(SCRAPE_JOBS.patroni));
    fs.mkdirSync(path.dirname(patroniCaFile), { recursive: true });
    fs.writeFileSync(patroniCaFile, membersCa.pem);
    // Prometheus' certificate Secret projected under tls/ (web.yml serves it), and its ca.crt as the own jobs' CA.
    fs.writeFileSync(path.join(dir, PROMETHEUS_WEB_CONFIG_FILE), renderWebConfig(PROMETHEUS_TLS_FILES));
    fs.mkdirSync(path.join(dir, path.dirname(PROMETHEUS_TLS_FILES.certificate)), { recursive: true });
    fs.copyFileSync(prometheusCertificate.certificateFile, path.join(dir, PROMETHEUS_TLS_FILES.certificate));
    fs.copyFileSync(prometheusCertificate.keyFile, path.join(dir, PROMETHEUS_TLS_FILES.privateKey));
    fs.writeFileSync(path.join(dir, PROMETHEUS_TLS_FILES.ca), monitoringCa.pem);
    for (const job of ["prometheus", "alertmanager"]) fs.writeFileSync(path.join(dir, portScrapeJobCaFile(job)), monitoringCa.pem);
    return dir;
}

afterAll(async () => {
    if (prometheus) await stopServer(prometheus);
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

test("promtool check rules accepts the rendered rules file", async () => {
    const dir = configDir("prom-rules", PROMETHEUS_YML);
    const { stdout } = await run("promtool", ["check", "rules", path.join(dir, ALERT_RULES_FILE)], { timeoutMs: 30000 });
    const rules = RULES.length;
    expect(stdout).toContain(`SUCCESS: ${rules} rules found`);
    report(`promtool check rules: SUCCESS, ${rules} rules`);
});

// ---------------------------------------------------------------------------------------------
// promtool test rules: one firing and one silent case (at least) per alert

type Labels = Record<string, string>;
interface Series {
    labels: Labels;
    values: string;
}
interface AlertCase {
    alert: string;
    what: string;
    series: Series[];
    evalTime: string;
    /** The alert expected at evalTime (labels beyond severity/namespace, and $value as rendered), or null for silence. */
    fires: { labels: Labels; value: string } | null;
    /** A time at which the condition already holds but `for:` has not elapsed: nothing may be firing yet. */
    pendingAt?: string;
}

const pod = (name: string, app: string, job = "kubernetes-pods"): Labels => ({ namespace: NS, pod: name, app, job });
const s = (name: string, labels: Labels, values: string): Series => ({ labels: { __name__: name, ...labels }, values });

const PG0 = pod("postgres-0", "postgres");
const PG1 = pod("postgres-1", "postgres");
const PG2 = pod("postgres-2", "postgres");
const PAT0 = pod("postgres-0", "postgres", "patroni");
const PAT1 = pod("postgres-1", "postgres", "patroni");
const AGENT0 = pod("postgres-0", "postgres", "kubernetes-pods-extra-metrics");
/** The newest backup `ageSeconds` old at promtool's time 0 (its clock starts at the epoch). */
const lastBackup = (ageSeconds: number) => s("pgbackrest_backup_last_completion_timestamp_seconds", AGENT0, `-${ageSeconds}x40`);
const redis = (i: number) => pod(`redis-${i}`, "redis");
const info = (i: number, role: string, values = "1x20") => s("redis_instance_info", { ...redis(i), role }, values);
const NGINX = pod("nginx-0", "nginx");
const responses = (status: string, perMinute: number) => s(LB_METRICS.responses, { ...NGINX, status, method: "GET" }, `0+${perMinute}x30`);
const buckets = (cumulative: Record<string, number>) => Object.entries(cumulative).map(([le, perMinute]) => s(LB_METRICS.responseTimeBucket, { ...NGINX, le }, `0+${perMinute}x30`));
const KSM = { namespace: NS, pod: "api-gateway-0", container: "app", job: "kube-state-metrics" };
const VOLUME = { namespace: NS, persistentvolumeclaim: "data-postgres-0", job: "kubelet", node: "node-a" };

const CASES: AlertCase[] = [
    { alert: "PostgresDown", what: "PostgreSQL stops answering", series: [s("pg_up", PG0, "1 1 0x10")], evalTime: "5m", pendingAt: "2m", fires: { labels: PG0, value: "0" } },
    { alert: "PostgresDown", what: "the exporter is unreachable", series: [s("up", PG0, "1 1 0x10")], evalTime: "5m", fires: { labels: PG0, value: "0" } },
    { alert: "PostgresDown", what: "all up", series: [s("pg_up", PG0, "1x10"), s("up", PG0, "1x10")], evalTime: "5m", fires: null },
    {
        alert: "PostgresReplicationLagHigh",
        what: "a replica 45 s behind",
        series: [s("pg_replication_lag_seconds", PG1, "0 0 45x10"), s("pg_replication_is_replica", PG1, "1x12")],
        evalTime: "6m",
        pendingAt: "3m",
        fires: { labels: PG1, value: "45s" },
    },
    {
        alert: "PostgresReplicationLagHigh",
        what: "a replica 10 s behind; a primary reporting lag",
        series: [s("pg_replication_lag_seconds", PG1, "10x12"), s("pg_replication_is_replica", PG1, "1x12"), s("pg_replication_lag_seconds", PG0, "45x12"), s("pg_replication_is_replica", PG0, "0x12")],
        evalTime: "6m",
        fires: null,
    },
    {
        alert: "PostgresReplicationLagBytesHigh",
        what: "a replica 2 MiB of WAL behind (the leader's own replayed position is 0)",
        series: [
            s("patroni_xlog_location", PAT0, "10000000x12"),
            s("patroni_xlog_replayed_location", PAT0, "0x12"),
            s("patroni_replica", PAT0, "0x12"),
            s("patroni_xlog_location", PAT1, "0x12"),
            s("patroni_xlog_replayed_location", PAT1, "10000000 7902848x11"),
            s("patroni_replica", PAT1, "1x12"),
        ],
        evalTime: "6m",
        fires: { labels: PAT1, value: "2Mi" },
    },
    {
        alert: "PostgresReplicationLagBytesHigh",
        what: "a replica 1000 bytes behind",
        series: [
            s("patroni_xlog_location", PAT0, "10000000x12"),
            s("patroni_xlog_replayed_location", PAT0, "0x12"),
            s("patroni_replica", PAT0, "0x12"),
            s("patroni_xlog_location", PAT1, "0x12"),
            s("patroni_xlog_replayed_location", PAT1, "9999000x12"),
            s("patroni_replica", PAT1, "1x12"),
        ],
        evalTime: "6m",
        fires: null,
    },
    {
        alert: "PostgresReplicasBelowExpected",
        what: "one of two replicas goes down",
        series: [
            s("pg_up", PG0, "1x15"),
            s("pg_replication_is_replica", PG0, "0x15"),
            s("pg_up", PG1, "1x15"),
            s("pg_replication_is_replica", PG1, "1x15"),
            s("pg_up", PG2, "1 1 0x13"),
            s("pg_replication_is_replica", PG2, "1 1 stale"),
        ],
        evalTime: "10m",
        pendingAt: "5m",
        fires: { labels: {}, value: "1" },
    },
    { alert: "PostgresReplicasBelowExpected", what: "no replica at all (count of nothing is 0)", series: [s("pg_up", PG0, "1x15"), s("pg_replication_is_replica", PG0, "0x15")], evalTime: "10m", fires: { labels: {}, value: "0" } },
    {
        alert: "PostgresReplicasBelowExpected",
        what: "both replicas up",
        series: [s("pg_up", PG0, "1x15"), s("pg_replication_is_replica", PG0, "0x15"), s("pg_up", PG1, "1x15"), s("pg_replication_is_replica", PG1, "1x15"), s("pg_up", PG2, "1x15"), s("pg_replication_is_replica", PG2, "1x15")],
        evalTime: "10m",
        fires: null,
    },
    // prod: PostgresBackupTooOld above 26 h (93600 s), PostgresWalArchiveTooOld above 15 min (900 s).
    { alert: "PostgresBackupTooOld", what: "the newest backup 25 h 50 min old at the start", series: [lastBackup(93000)], evalTime: "30m", pendingAt: "15m", fires: { labels: { app: "postgres" }, value: "94800" } },
    { alert: "PostgresBackupTooOld", what: "no backup agent reports at all", series: [s("pg_up", PG0, "1x20")], evalTime: "15m", fires: { labels: { app: "postgres" }, value: "1" } },
    {
        alert: "PostgresBackupTooOld",
        what: "another app's agent reports a fresh backup; this cluster's none",
        series: [s("pgbackrest_backup_last_completion_timestamp_seconds", pod("other-0", "other", "kubernetes-pods-extra-metrics"), "0x20")],
        evalTime: "15m",
        fires: { labels: { app: "postgres" }, value: "1" },
    },
    { alert: "PostgresBackupTooOld", what: "the newest backup 4 h old", series: [lastBackup(4 * 3600)], evalTime: "30m", fires: null },
    {
        alert: "PostgresWalArchiveTooOld",
        what: "the leader archives nothing for 25 minutes",
        series: [s("pg_stat_archiver_last_archive_age", PG0, "0+60x30"), s("pg_replication_is_replica", PG0, "0x30")],
        evalTime: "25m",
        pendingAt: "18m",
        fires: { labels: PG0, value: "1500" },
    },
    {
        alert: "PostgresWalArchiveTooOld",
        what: "every archive attempt of a new leader fails (it never archived)",
        series: [s("pg_stat_archiver_failed_count", PG0, "0+1x20"), s("pg_stat_archiver_archived_count", PG0, "0x20"), s("pg_replication_is_replica", PG0, "0x20")],
        evalTime: "10m",
        fires: { labels: PG0, value: "10" },
    },
    {
        alert: "PostgresWalArchiveTooOld",
        what: "the leader archives every minute; a standby (which never archives) ages",
        series: [
            s("pg_stat_archiver_last_archive_age", PG0, "30x30"),
            s("pg_stat_archiver_failed_count", PG0, "0+1x30"),
            s("pg_stat_archiver_archived_count", PG0, "5+1x30"),
            s("pg_replication_is_replica", PG0, "0x30"),
            s("pg_stat_archiver_last_archive_age", PG1, "0+60x30"),
            s("pg_replication_is_replica", PG1, "1x30"),
        ],
        evalTime: "25m",
        fires: null,
    },
    { alert: "RedisDown", what: "a node stops answering", series: [s("redis_up", redis(1), "1 0x10")], evalTime: "5m", fires: { labels: redis(1), value: "0" } },
    { alert: "RedisDown", what: "all up", series: [s("redis_up", redis(1), "1x10")], evalTime: "5m", fires: null },
    { alert: "RedisClusterStateNotOk", what: "cluster_state:fail", series: [s("redis_cluster_state", redis(0), "1 1 0x10")], evalTime: "6m", pendingAt: "2m", fires: { labels: redis(0), value: "0" } },
    { alert: "RedisClusterStateNotOk", what: "cluster_state:ok", series: [s("redis_cluster_state", redis(0), "1x10")], evalTime: "6m", fires: null },
    { alert: "RedisMasterMissing", what: "a master dies and nobody takes over", series: [info(0, "master"), info(1, "master"), info(2, "master", "1 1 stale")], evalTime: "6m", fires: { labels: {}, value: "2" } },
    {
        alert: "RedisMasterMissing",
        what: "a master dies and its replica is promoted",
        series: [info(0, "master"), info(1, "master"), info(2, "master", "1 1 stale"), info(5, "slave", "1 1 stale"), info(5, "master", "_ _ 1x18")],
        evalTime: "6m",
        fires: null,
    },
    { alert: "RedisReplicasBelowExpected", what: "two replicas of three", series: [info(3, "slave"), info(4, "slave")], evalTime: "10m", fires: { labels: {}, value: "2" } },
    { alert: "RedisReplicasBelowExpected", what: "three replicas", series: [info(3, "slave"), info(4, "slave"), info(5, "slave")], evalTime: "10m", fires: null },
    { alert: "NginxDown", what: "stub_status unreadable", series: [s("nginx_up", NGINX, "1 0x10")], evalTime: "5m", fires: { labels: NGINX, value: "0" } },
    { alert: "NginxDown", what: "nginx up", series: [s("nginx_up", NGINX, "1x10")], evalTime: "5m", fires: null },
    {
        alert: "Nginx5xxRatioHigh",
        what: "50 of every 1050 requests answer 502",
        series: [responses("200", 1000), responses("502", 50)],
        evalTime: "10m",
        pendingAt: "4m",
        fires: { labels: { namespace: NS }, value: "4.762%" },
    },
    { alert: "Nginx5xxRatioHigh", what: "5 of every 1005 answer 502 (below 1%); 429s are not errors", series: [responses("200", 1000), responses("502", 5), responses("429", 300)], evalTime: "10m", fires: null },
    {
        alert: "NginxP95LatencyAboveSlo",
        what: "p95 at 375 ms",
        series: buckets({ "0.05": 20, "0.1": 50, "0.25": 90, "0.5": 100, "+Inf": 100 }),
        evalTime: "15m",
        pendingAt: "8m",
        fires: { labels: { namespace: NS }, value: "375ms" },
    },
    { alert: "NginxP95LatencyAboveSlo", what: "p95 at 92 ms, just under the 100 ms SLO", series: buckets({ "0.05": 80, "0.1": 98, "0.25": 100, "0.5": 100, "+Inf": 100 }), evalTime: "15m", fires: null },
    { alert: "PodRestarting", what: "a container restarting every minute", series: [s("kube_pod_container_status_restarts_total", KSM, "0+1x10")], evalTime: "10m", fires: { labels: KSM, value: "10" } },
    { alert: "PodRestarting", what: "one restart", series: [s("kube_pod_container_status_restarts_total", KSM, "0 0 0 1x8")], evalTime: "10m", fires: null },
    {
        alert: "PersistentVolumeNearlyFull",
        what: "a PVC 90% full",
        series: [s("kubelet_volume_stats_used_bytes", VOLUME, "90x15"), s("kubelet_volume_stats_capacity_bytes", VOLUME, "100x15")],
        evalTime: "12m",
        pendingAt: "9m",
        fires: { labels: VOLUME, value: "90%" },
    },
    { alert: "PersistentVolumeNearlyFull", what: "a PVC 80% full", series: [s("kubelet_volume_stats_used_bytes", VOLUME, "80x15"), s("kubelet_volume_stats_capacity_bytes", VOLUME, "100x15")], evalTime: "12m", fires: null },
];

function seriesText(labels: Labels): string {
    const { __name__: name, ...rest } = labels;
    return `${name}{${Object.entries(rest).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")}}`;
}

/** The annotation as Prometheus renders it for these labels and this (already humanized) value. */
function expand(template: string, labels: Labels, value: string): string {
    return template.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, name: string) => labels[name] ?? "").replace(/\{\{ \$value(?: \| \w+)? \}\}/g, value);
}

function promtoolTest(rule: RenderedRule, testCase: AlertCase): Record<string, unknown> {
    const checks: Record<string, unknown>[] = [];
    if (testCase.pendingAt) checks.push({ eval_time: testCase.pendingAt, alertname: testCase.alert, exp_alerts: [] });
    const expected = testCase.fires;
    checks.push({
        eval_time: testCase.evalTime,
        alertname: testCase.alert,
        exp_alerts: expected
            ? [
                  {
                      exp_labels: { ...expected.labels, ...rule.labels },
                      exp_annotations: {
                          summary: expand(rule.annotations.summary, expected.labels, expected.value),
                          description: expand(rule.annotations.description, expected.labels, expected.value),
                      },
                  },
              ]
            : [],
    });
    return { name: `${testCase.alert}: ${testCase.what}`, interval: "1m", input_series: testCase.series.map((series) => ({ series: seriesText(series.labels), values: series.values })), alert_rule_test: checks };
}

test("promtool test rules: each alert fires when it should and stays silent when it should not", async () => {
    const rules = Object.fromEntries(RULES.map((rule) => [rule.alert, rule]));
    for (const name of Object.keys(rules)) {
        expect({ name, firing: CASES.some((c) => c.alert === name && c.fires) }).toEqual({ name, firing: true });
        expect({ name, silent: CASES.some((c) => c.alert === name && !c.fires) }).toEqual({ name, silent: true });
    }
    const dir = configDir("prom-unit", PROMETHEUS_YML);
    const tests = CASES.map((c) => promtoolTest(rules[c.alert], c));
    fs.writeFileSync(path.join(dir, "tests.yml"), stringify({ rule_files: [ALERT_RULES_FILE], evaluation_interval: "1m", tests }));
    const result = await run("promtool", ["test", "rules", path.join(dir, "tests.yml")], { timeoutMs: 60000 }).catch((error: Error & { stdout?: string }) => {
        throw new Error(`${error.message}\n${error.stdout ?? ""}`);
    });
    expect(result.stdout).toContain("SUCCESS");
    const firing = CASES.filter((c) => c.fires).length;
    report(`promtool test rules: SUCCESS, ${Object.keys(rules).length} alerts, ${firing} firing cases, ${CASES.length - firing} silent cases, ${CASES.filter((c) => c.pendingAt).length} still pending before for: elapsed`);
});

// ---------------------------------------------------------------------------------------------
// The scrape config, on file discovery, checked by promtool and run by a real Prometheus

/** A pod as Kubernetes pod discovery sees it: one target per declared container port, or one at the bare pod IP without ports. */
interface FakePod {
    name: string;
    labels: Labels;
    annotations: Labels;
    phase: string;
    /** Declared ports: name, number, and the local address a fake exporter listens on. */
    ports: { name: string; number: number; address: string }[];
}

function podTargets(fakePod: FakePod): { targets: string[]; labels: Labels }[] {
    const base: Labels = {
        __meta_kubernetes_namespace: NS,
        __meta_kubernetes_pod_name: fakePod.name,
        __meta_kubernetes_pod_phase: fakePod.phase,
        __meta_kubernetes_pod_ip: "127.0.0.1",
    };
    for (const [name, value] of Object.entries(fakePod.labels)) base[`__meta_kubernetes_pod_label_${name.replace(/[^a-zA-Z0-9_]/g, "_")}`] = value;
    for (const [name, value] of Object.entries(fakePod.annotations)) base[`__meta_kubernetes_pod_annotation_${name.replace(/[^a-zA-Z0-9_]/g, "_")}`] = value;
    if (fakePod.ports.length === 0) return [{ targets: ["127.0.0.1"], labels: base }];
    return fakePod.ports.map((port) => ({
        targets: [port.address],
        labels: { ...base, __meta_kubernetes_pod_container_port_name: port.name, __meta_kubernetes_pod_container_port_number: String(port.number) },
    }));
}

function serve(server: http.Server | https.Server): Promise<number> {
    servers.push(server);
    return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
}

function exporter(body: string, requests: string[] = []): http.RequestListener {
    return (req, res) => {
        requests.push(`${req.url} ${req.headers.authorization ?? ""}`);
        res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" });
        res.end(body);
    };
}

/** The parts of Prometheus' HTTP API answers the test reads. */
interface ActiveTarget {
    scrapePool: string;
    scrapeUrl: string;
    labels: Labels;
    health: string;
    lastError: string;
}
interface LoadedRule {
    name: string;
    health: string;
    lastEvaluation?: string;
}
interface ApiData {
    activeTargets: ActiveTarget[];
    result: { metric: Labels; value?: [number, string] }[];
    groups: { rules: LoadedRule[] }[];
    alerts: { labels: Labels; state: string }[];
}

async function api(port: number, pathAndQuery: string): Promise<ApiData> {
    const response = await httpsGet(`https://127.0.0.1:${port}${pathAndQuery}`, monitoringCa.pem, 5000);
    const json = JSON.parse(response.body) as { status: string; data: ApiData };
    if (json.status !== "success") throw new Error(`${pathAndQuery}: ${JSON.stringify(json)}`);
    return json.data;
}



/**
 * The rendered prometheus.yml with only its discovery swapped: each job reads targets/<job>.json
 * instead of asking Kubernetes (Debian's Prometheus has no Kubernetes SD). Everything else is as rendered.
 */
function fileDiscoveryVariant(prometheusYml: string): PrometheusYml {
    const rendered = parsePrometheusYml(prometheusYml);
    const variant = structuredClone(rendered);
    for (const job of variant.scrape_configs) {
        expect(job.kubernetes_sd_configs).toBeDefined();
        delete job.kubernetes_sd_configs;
        job.file_sd_configs = [{ files: [`targets/${job.job_name}.json`], refresh_interval: "5s" }];
    }
    const strip = (config: PrometheusYml) => ({ ...config, scrape_configs: config.scrape_configs.map(({ kubernetes_sd_configs: _k, file_sd_configs: _f, ...rest }) => rest) });
    expect(strip(variant)).toEqual(strip(rendered));
    return variant;
}

test("a 5s scrape interval renders a config promtool accepts (the timeout follows the interval down)", async () => {
    const fast = withSelfScrapeJobs(monitoringStackArgsSchema.parse({ ...MONITORING_ARGS, prometheus: { ...config.monitoring.prometheus, scrapeInterval: "5s" } }));
    const variant = fileDiscoveryVariant(renderPrometheusConfig(prometheusConfigOptions(fast, NS, "monitoring-alertmanager")));
    expect(variant.global).toEqual({ scrape_interval: "5s", evaluation_interval: "5s", scrape_timeout: "5s" });
    const dir = configDir("prom-5s", stringify(variant));
    const check = await run("promtool", ["check", "config", path.join(dir, PROMETHEUS_CONFIG_FILE)], { timeoutMs: 30000 });
    expect(check.stdout).toContain("SUCCESS");
    // The control: the timeout fixed at 10s, as rendered before, is what promtool refuses.
    fs.writeFileSync(path.join(dir, "fixed-timeout.yml"), stringify({ ...variant, global: { ...variant.global, scrape_timeout: "10s" } }));
    const refused = await run("promtool", ["check", "config", path.join(dir, "fixed-timeout.yml")], { timeoutMs: 30000 }).then(
        () => "accepted",
        (error: Error & { stderr?: string }) => error.stderr ?? "",
    );
    expect(refused).toContain("global scrape timeout greater than scrape interval");
    report("promtool check config with a 5s scrape interval: SUCCESS (scrape_timeout 5s; a fixed 10s is refused)");
});

test("the scrape config passes promtool and, run by Prometheus, discovers, relabels and filters as intended", async () => {
    const variant = fileDiscoveryVariant(PROMETHEUS_YML);
    const dir = configDir("prom-run", stringify(variant));

    // Fake exporters and a fake kubelet (HTTPS with a throwaway self-signed certificate, bearer token checked).
    const redisPort = await serve(http.createServer(exporter('redis_up 1\nredis_cluster_state 1\n')));
    const pgPort = await serve(http.createServer(exporter("pg_up 1\npg_replication_is_replica 0\n")));
    // Patroni's REST API over HTTPS: postgres-0 serves a certificate of the members' CA with the names
    // PostgresCluster gives its members (no IP: Prometheus reaches each member by pod IP and must check
    // server_name). postgres-1 serves one from another CA, postgres-2 one of the right CA for other names.
    const patroniJob = scrapeJobOf(variant, SCRAPE_JOBS.patroni);
    const serverName = String(MONITORING_ARGS.portScrapeJobs?.[0].tls?.serverName);
    expect({ scheme: patroniJob.scheme, tls: patroniJob.tls_config }).toEqual({ scheme: "https", tls: { ca_file: portScrapeJobCaFile(SCRAPE_JOBS.patroni), server_name: serverName } });
    const memberNames = memberCertificateDnsNames(POSTGRES_NAMES, config.postgres.standbys + 1, NS, config.postgres.clusterDomain);
    expect(memberNames).toContain(serverName);
    const otherCa = await makeTestCa(path.join(dir, "other-ca"), "another CA");
    const patroniServer = async (ca: TestCa, dnsNames: string[], certificateDir: string, requests: string[]) => {
        const certificate = await issueServerCertificate(ca, path.join(dir, certificateDir), { dnsNames });
        const options = { key: fs.readFileSync(certificate.keyFile), cert: fs.readFileSync(certificate.certificateFile) };
        return serve(https.createServer(options, exporter('patroni_primary{scope="prepx"} 1\npatroni_replica{scope="prepx"} 0\n', requests)));
    };
    const patroniRequests: string[] = [];
    const foreignCaRequests: string[] = [];
    const wrongNameRequests: string[] = [];
    const patroniPort = await patroniServer(membersCa, memberNames, "patroni-members", patroniRequests);
    const foreignCaPatroniPort = await patroniServer(otherCa, memberNames, "patroni-other-ca", foreignCaRequests);
    const wrongNamePatroniPort = await patroniServer(membersCa, ["postgres-pooler.elsewhere.svc.cluster.local"], "patroni-wrong-name", wrongNameRequests);
    const nginxStubPort = await serve(http.createServer(exporter("nginx_up 1\n")));
    // Prometheus scrapes itself, and Alertmanager (a fake with Alertmanager's certificate), over HTTPS.
    const webPort = await freePort();
    const alertmanagerRequests: string[] = [];
    const alertmanagerPort = await serve(
        https.createServer(
            { key: fs.readFileSync(alertmanagerCertificate.keyFile), cert: fs.readFileSync(alertmanagerCertificate.certificateFile) },
            exporter("alertmanager_cluster_enabled 1\n", alertmanagerRequests),
        ),
    );
    const nginxLogPort = await serve(http.createServer(exporter(`${LB_METRICS.responses}{method="GET",status="200"} 7\n`)));
    const ksmPort = await serve(
        http.createServer(exporter(`kube_pod_container_status_restarts_total{namespace="${NS}",pod="api-gateway-0",container="app",uid="u1"} 4\n`)),
    );
    // The kubelet's certificate stands in for one the cluster CA signed: it is the CA file prod's
    // config verifies against (verifyKubeletTls defaults to true). An impostor on another port serves
    // a certificate of its own for the same address: Prometheus must refuse it before sending the token.
    expect(scrapeJobOf(variant, SCRAPE_JOBS.kubelet).tls_config).toEqual({ ca_file: KUBELET_CA_FILE });
    const selfSigned = (name: string) =>
        run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(dir, `${name}-key.pem`), "-out", path.join(dir, `${name}.pem`), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { timeoutMs: 30000 });
    await selfSigned("kubelet");
    await selfSigned("impostor");
    fs.copyFileSync(path.join(dir, "kubelet.pem"), path.join(dir, KUBELET_CA_FILE));
    const impostorRequests: string[] = [];
    const impostorPort = await serve(
        https.createServer({ key: fs.readFileSync(path.join(dir, "impostor-key.pem")), cert: fs.readFileSync(path.join(dir, "impostor.pem")) }, (req, res) => {
            impostorRequests.push(req.headers.authorization ?? "");
            exporter("kubelet_running_pods 1\n")(req, res);
        }),
    );
    const kubeletRequests: string[] = [];
    const kubeletBody = [
        `kubelet_volume_stats_used_bytes{namespace="${NS}",persistentvolumeclaim="data-postgres-0"} 90`,
        `kubelet_volume_stats_capacity_bytes{namespace="${NS}",persistentvolumeclaim="data-postgres-0"} 100`,
        'kubelet_volume_stats_used_bytes{namespace="other-team",persistentvolumeclaim="secret-project"} 5',
        "kubelet_running_pods 42",
        "",
    ].join("\n");
    const kubeletPort = await serve(
        https.createServer({ key: fs.readFileSync(path.join(dir, "kubelet-key.pem")), cert: fs.readFileSync(path.join(dir, "kubelet.pem")) }, (req, res) => {
            if (req.headers.authorization !== `Bearer ${KUBELET_TOKEN}`) {
                kubeletRequests.push(`refused ${req.headers.authorization ?? ""}`);
                res.writeHead(401).end();
                return;
            }
            exporter(kubeletBody, kubeletRequests)(req, res);
        }),
    );
    const annotations = (port: number, metricsPath = "/metrics"): Labels => ({ "prometheus.io/scrape": "true", "prometheus.io/port": String(port), "prometheus.io/path": metricsPath });
    const k8sLabels = (name: string, component: string): Labels => ({ "app.kubernetes.io/name": name, "app.kubernetes.io/component": component });
    const pods: FakePod[] = [
        {
            name: "redis-0",
            labels: k8sLabels("redis", "cache"),
            annotations: annotations(redisPort),
            phase: "Running",
            ports: [
                { name: "redis", number: 6379, address: "127.0.0.1:6379" },
                { name: "cluster-bus", number: 16379, address: "127.0.0.1:16379" },
                { name: "metrics", number: 9121, address: "127.0.0.1:9121" },
            ],
        },
        {
            name: "postgres-0",
            labels: k8sLabels("postgres", "database"),
            annotations: annotations(pgPort),
            phase: "Running",
            ports: [
                { name: "postgresql", number: 5432, address: "127.0.0.1:5432" },
                { name: "patroni", number: 8008, address: `127.0.0.1:${patroniPort}` },
                { name: "metrics", number: 9187, address: "127.0.0.1:9187" },
            ],
        },
        {
            // Two exporters: stub_status on the annotated port, the access-log exporter on metrics-log.
            name: "nginx-0",
            labels: k8sLabels("nginx", "load-balancer"),
            annotations: annotations(nginxStubPort),
            phase: "Running",
            ports: [
                { name: "http", number: 8080, address: "127.0.0.1:8080" },
                { name: STUB_EXPORTER_PORT_NAME, number: 9113, address: "127.0.0.1:9113" },
                { name: LOG_EXPORTER_PORT_NAME, number: 4040, address: `127.0.0.1:${nginxLogPort}` },
            ],
        },
        {
            name: "monitoring-kube-state-metrics-abc",
            labels: k8sLabels(KUBE_STATE_METRICS_APP, "monitoring"),
            annotations: annotations(ksmPort),
            phase: "Running",
            ports: [
                { name: "http-metrics", number: 8080, address: `127.0.0.1:${ksmPort}` },
                { name: "telemetry", number: 8081, address: "127.0.0.1:8081" },
            ],
        },
        // Members whose certificate Prometheus must refuse; not annotated, so only the patroni job sees them.
        ...[
            ["postgres-1", foreignCaPatroniPort],
            ["postgres-2", wrongNamePatroniPort],
        ].map(([name, port]) => ({
            name: String(name),
            labels: k8sLabels("postgres", "database"),
            annotations: {},
            phase: "Running",
            ports: [{ name: "patroni", number: 8008, address: `127.0.0.1:${port}` }],
        })),
        {
            name: "monitoring-prometheus-0",
            labels: k8sLabels("prometheus", "monitoring"),
            annotations: {},
            phase: "Running",
            ports: [{ name: "http", number: PROMETHEUS_PORT, address: `127.0.0.1:${webPort}` }],
        },
        {
            name: "monitoring-alertmanager-0",
            labels: k8sLabels("alertmanager", "monitoring"),
            annotations: {},
            phase: "Running",
            ports: [
                { name: "http", number: ALERTMANAGER_PORT, address: `127.0.0.1:${alertmanagerPort}` },
                { name: "cluster-tcp", number: 9094, address: "127.0.0.1:9094" },
            ],
        },
        { name: "redis-bootstrap-xyz", labels: k8sLabels("redis", "cluster-bootstrap"), annotations: annotations(redisPort), phase: "Succeeded", ports: [] },
        { name: "unannotated-0", labels: k8sLabels("other", "thing"), annotations: {}, phase: "Running", ports: [{ name: "http", number: 80, address: "127.0.0.1:80" }] },
    ];
    const podGroups = pods.flatMap(podTargets);
    fs.mkdirSync(path.join(dir, "targets"));
    for (const job of ["kubernetes-pods", "kubernetes-pods-extra-metrics", "patroni", "prometheus", "alertmanager", "kube-state-metrics"]) fs.writeFileSync(path.join(dir, "targets", `${job}.json`), JSON.stringify(podGroups));
    fs.writeFileSync(
        path.join(dir, "targets", "kubelet.json"),
        JSON.stringify([
            { targets: [`127.0.0.1:${kubeletPort}`], labels: { __meta_kubernetes_node_name: "node-a" } },
            { targets: [`127.0.0.1:${impostorPort}`], labels: { __meta_kubernetes_node_name: "impostor" } },
        ]),
    );

    const check = await run("promtool", ["check", "config", path.join(dir, PROMETHEUS_CONFIG_FILE)], { timeoutMs: 30000 });
    expect(check.stdout).toContain("SUCCESS");
    report("promtool check config (file-SD variant): SUCCESS, rule file included");

    prometheus = startServer(
        "prometheus",
        "prometheus",
        [
            `--config.file=${path.join(dir, PROMETHEUS_CONFIG_FILE)}`,
            `--storage.tsdb.path=${path.join(dir, "data")}`,
            `--web.listen-address=127.0.0.1:${webPort}`,
            `--web.config.file=${path.join(dir, PROMETHEUS_WEB_CONFIG_FILE)}`,
        ],
        path.join(dir, "prometheus.log"),
    );
    await waitFor("Prometheus ready over HTTPS", async () => (await httpsGet(`https://127.0.0.1:${webPort}/-/ready`, monitoringCa.pem)).status === 200, 30000);
    // Plain HTTP gets Go's TLS server's refusal, never the API.
    const plain = await fetch(`http://127.0.0.1:${webPort}/-/ready`, { signal: AbortSignal.timeout(2000) });
    expect([plain.status, await plain.text()]).toEqual([400, expect.stringContaining("HTTPS server")]);

    // Every target scraped once (the scrape interval is the stack's, 15 s, with a random offset).
    const active = await waitFor(
        "every target scraped",
        async () => {
            const targets = (await api(webPort, "/api/v1/targets?state=active")).activeTargets;
            return targets.length === 12 && targets.every((t) => t.health !== "unknown") ? targets : undefined;
        },
        60000,
        500,
    );
    const byPool = (pool: string) => active.filter((t) => t.scrapePool === pool);
    // redis-0's three container ports and postgres-0's three collapse into one target each; KSM, the
    // finished bootstrap pod and the unannotated pod are not in the pods job.
    expect(byPool("kubernetes-pods").map((t) => t.labels).sort((x, y) => x.pod.localeCompare(y.pod))).toEqual([
        { job: "kubernetes-pods", instance: `127.0.0.1:${nginxStubPort}`, namespace: NS, pod: "nginx-0", app: "nginx", component: "load-balancer" },
        { job: "kubernetes-pods", instance: `127.0.0.1:${pgPort}`, namespace: NS, pod: "postgres-0", app: "postgres", component: "database" },
        { job: "kubernetes-pods", instance: `127.0.0.1:${redisPort}`, namespace: NS, pod: "redis-0", app: "redis", component: "cache" },
    ]);
    expect(byPool("kubernetes-pods-extra-metrics").map((t) => t.scrapeUrl)).toEqual([`http://127.0.0.1:${nginxLogPort}/metrics`]);
    const patroniTargets = byPool("patroni").sort((x, y) => x.labels.pod.localeCompare(y.labels.pod));
    expect(patroniTargets.map((t) => [t.labels.pod, t.scrapeUrl])).toEqual([
        ["postgres-0", `https://127.0.0.1:${patroniPort}/metrics`],
        ["postgres-1", `https://127.0.0.1:${foreignCaPatroniPort}/metrics`],
        ["postgres-2", `https://127.0.0.1:${wrongNamePatroniPort}/metrics`],
    ]);
    // Another CA's certificate, or the right CA's for other names: refused in the handshake, no request arrives.
    expect(patroniTargets.slice(1).map((t) => ({ pod: t.labels.pod, health: t.health, error: t.lastError }))).toEqual([
        { pod: "postgres-1", health: "down", error: expect.stringMatching(/x509: certificate signed by unknown authority/) },
        { pod: "postgres-2", health: "down", error: expect.stringMatching(new RegExp(`x509: certificate is valid for .*, not ${serverName.replace(/\./g, "\\.")}`)) },
    ]);
    expect({ foreignCaRequests, wrongNameRequests }).toEqual({ foreignCaRequests: [], wrongNameRequests: [] });
    expect(byPool("kube-state-metrics").map((t) => t.scrapeUrl)).toEqual([`http://127.0.0.1:${ksmPort}/metrics`]);
    // Prometheus and Alertmanager: over HTTPS by pod IP, their certificates checked by their Service's name.
    expect(byPool("prometheus").map((t) => [t.labels.pod, t.scrapeUrl])).toEqual([["monitoring-prometheus-0", `https://127.0.0.1:${webPort}/metrics`]]);
    expect(byPool("alertmanager").map((t) => [t.labels.pod, t.scrapeUrl])).toEqual([["monitoring-alertmanager-0", `https://127.0.0.1:${alertmanagerPort}/metrics`]]);
    const kubelets = byPool("kubelet").sort((x, y) => x.labels.node.localeCompare(y.labels.node));
    expect(kubelets.map((t) => [t.scrapeUrl, t.labels.node])).toEqual([
        [`https://127.0.0.1:${impostorPort}/metrics`, "impostor"],
        [`https://127.0.0.1:${kubeletPort}/metrics`, "node-a"],
    ]);
    // The impostor's certificate is not the CA's: the scrape fails in the handshake, no request (and no token) arrives.
    expect({ health: kubelets[0].health, error: kubelets[0].lastError }).toEqual({ health: "down", error: expect.stringMatching(/x509|certificate/) });
    expect(impostorRequests).toEqual([]);
    const refused = new Set(["impostor", "postgres-1", "postgres-2"]);
    for (const target of active.filter((t) => !refused.has(t.labels.node ?? t.labels.pod))) {
        expect({ pool: target.scrapePool, health: target.health, error: target.lastError }).toEqual({ pool: target.scrapePool, health: "up", error: "" });
    }

    const query = async (expr: string) => (await api(webPort, `/api/v1/query?query=${encodeURIComponent(expr)}`)).result;
    const redisUp = await waitFor("redis_up stored", async () => ((await query("redis_up")).length ? await query("redis_up") : undefined), 30000, 500);
    expect(redisUp[0].metric).toEqual({ __name__: "redis_up", job: "kubernetes-pods", instance: `127.0.0.1:${redisPort}`, namespace: NS, pod: "redis-0", app: "redis", component: "cache" });
    // honor_labels: the restarted pod keeps its own name, not kube-state-metrics'.
    const restarts = await query("kube_pod_container_status_restarts_total");
    expect(restarts.map((r) => [r.metric.pod, r.metric.namespace, r.metric.exported_pod])).toEqual([["api-gateway-0", NS, undefined]]);
    // The kubelet job sent the projected token and stored only this namespace's volume statistics.
    expect(kubeletRequests.some((r) => r.startsWith("refused"))).toBe(false);
    expect((await query("kubelet_volume_stats_used_bytes")).map((r) => r.metric.namespace)).toEqual([NS]);
    expect(await query("kubelet_running_pods")).toEqual([]);
    expect((await query("patroni_primary")).map((r) => r.metric.pod)).toEqual(["postgres-0"]);
    const patroniUp = (await query(`up{job="${SCRAPE_JOBS.patroni}"}`)).map((r) => [r.metric.pod, r.value?.[1]]);
    expect(patroniUp.sort()).toEqual([["postgres-0", "1"], ["postgres-1", "0"], ["postgres-2", "0"]]);
    expect(patroniRequests.length).toBeGreaterThan(0);
    expect(alertmanagerRequests.length).toBeGreaterThan(0);
    expect((await query('up{job=~"prometheus|alertmanager"}')).map((r) => [r.metric.job, r.value?.[1]]).sort()).toEqual([["alertmanager", "1"], ["prometheus", "1"]]);
    // Both nginx exporters land with the same pod labels, so rules can join them.
    expect((await query(LB_METRICS.responses)).map((r) => [r.metric.pod, r.metric.app, r.metric.job])).toEqual([["nginx-0", "nginx", "kubernetes-pods-extra-metrics"]]);
    expect((await query(LB_METRICS.up)).map((r) => [r.metric.pod, r.metric.app])).toEqual([["nginx-0", "nginx"]]);

    // The rule file loads and every rule evaluates without error on live data.
    const groups = await waitFor(
        "rules evaluated",
        async () => {
            const data = await api(webPort, "/api/v1/rules?type=alert");
            const rules = data.groups.flatMap((group) => group.rules);
            return rules.length > 0 && rules.every((rule) => rule.lastEvaluation && !rule.lastEvaluation.startsWith("0001")) ? data.groups : undefined;
        },
        60000,
        500,
    );
    const loaded = groups.flatMap((group) => group.rules);
    expect(loaded.map((rule) => rule.name).sort()).toEqual(RULES.map((rule) => rule.alert).sort());
    for (const rule of loaded) expect({ rule: rule.name, health: rule.health }).toEqual({ rule: rule.name, health: "ok" });
    // The scraped PVC at 90% turns the alert pending (its for: is 10 minutes).
    await waitFor(
        "PersistentVolumeNearlyFull pending",
        async () => (await api(webPort, "/api/v1/alerts")).alerts.some((alert) => alert.labels.alertname === "PersistentVolumeNearlyFull" && alert.state === "pending"),
        45000,
        500,
    );

    // Every dashboard query parses and evaluates.
    let queries = 0;
    for (const [file, dashboard] of Object.entries(DASHBOARDS)) {
        for (const panel of (dashboard as { panels: { title: string; targets?: { expr: string }[] }[] }).panels) {
            for (const target of panel.targets ?? []) {
                await expect(query(target.expr).then(() => "ok", (error: Error) => `${file} "${panel.title}": ${error.message}`)).resolves.toBe("ok");
                queries++;
            }
        }
    }
    report(`Prometheus (Debian 2.42) on the rendered config: ${active.length - refused.size} targets up, the impostor kubelet refused in the TLS handshake (no token sent), ${loaded.length} rules healthy, ${queries} dashboard queries valid`);
    report(`Patroni job over HTTPS by pod IP, server_name ${serverName}: up 1 with the members' CA; up 0 for another CA's certificate ("${patroniTargets[1].lastError}") and for the right CA's certificate without that name ("${patroniTargets[2].lastError}")`);
});
