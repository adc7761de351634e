// The monitoring renderers, called directly: the YAML emitter, prometheus.yml's scrape jobs and
// timeout, the rules file MonitoringStack assembles from the components' rules, Grafana's
// provisioning, the dashboard check, and the mapping from the component's args to these options.
import { parse } from "yaml";
import { LOG_EXPORTER_PORT_NAME, STUB_EXPORTER_PORT_NAME } from "../../components/loadbalancer/render";
import { monitoringAlertRules } from "../../components/monitoring/alerts";
import { monitoringStackArgsSchema } from "../../components/monitoring/args";
import { dashboardFiles, dashboardProblems } from "../../components/monitoring/dashboards";
import {
    ALERT_RULES_FILE,
    alertmanagerConfig,
    alertmanagerConfigOptions,
    alertmanagerPeers,
    alertRulesOptions,
    KUBELET_CA_FILE,
    KUBELET_TOKEN_FILE,
    monitoringCertificateDnsNames,
    monitoringSelfScrapeJobs,
    portScrapeJobCaFile,
    PrometheusConfigOptions,
    prometheusConfig,
    prometheusConfigOptions,
    renderAlertmanagerConfig,
    renderAlertRules,
    renderGrafanaDashboardProvider,
    renderGrafanaDatasources,
    renderPrometheusConfig,
    scrapeTimeout,
    undeliveredAlertWarnings,
} from "../../components/monitoring/render";
import { alertRule, SCRAPE_JOBS } from "../../components/observability";
import { toYaml } from "../../components/yaml";
import { PrometheusYml, scrapeJob } from "../helpers/monitoring-files";
import { testCertificates } from "../helpers/mocks";

const PATRONI_JOB = { job: SCRAPE_JOBS.patroni, app: "postgres", port: 8008 };
/** MonitoringStack's args as the prod stack resolves them (defaults), with Patroni's scrape job. */
const ARGS = monitoringStackArgsSchema.parse({ certificates: testCertificates, namespace: "prepx", portScrapeJobs: [PATRONI_JOB] });
const PROM: PrometheusConfigOptions = prometheusConfigOptions(ARGS, "prepx", "monitoring-alertmanager");
/** prometheus.yml as the value renderPrometheusConfig serializes, read as the tests read the file. */
const configOf = (options: PrometheusConfigOptions) => prometheusConfig(options) as unknown as PrometheusYml;

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
    const config = configOf(PROM);
    const job = (name: string) => scrapeJob(config, name);

    test("the args map to the options: the stack's interval, kube-state-metrics' app, the given port jobs", () => {
        expect(PROM).toEqual({
            namespace: "prepx",
            scrapeInterval: "15s",
            kubeStateMetricsApp: "kube-state-metrics",
            portScrapeJobs: [PATRONI_JOB],
            verifyKubeletTls: true,
            sampleLimit: 50000,
            alertmanagers: [0, 1, 2].map((index) => `monitoring-alertmanager-${index}.monitoring-alertmanager.prepx.svc.cluster.local:9093`),
        });
    });

    test("parses back to the structure it was rendered from", () => {
        expect(parse(renderPrometheusConfig(PROM))).toEqual(config);
    });

    test("loads the alert rules and evaluates at the scrape interval; port jobs sit between the pod jobs and kube-state-metrics", () => {
        expect(config.rule_files).toEqual([ALERT_RULES_FILE]);
        expect(config.global).toEqual({ scrape_interval: "15s", evaluation_interval: "15s", scrape_timeout: "10s" });
        expect(config.scrape_configs.map((scrapeJob) => scrapeJob.job_name)).toEqual([
            SCRAPE_JOBS.pods,
            SCRAPE_JOBS.extraMetricsPorts,
            SCRAPE_JOBS.patroni,
            SCRAPE_JOBS.kubeStateMetrics,
            SCRAPE_JOBS.kubelet,
        ]);
        const withoutPortJobs = configOf({ ...PROM, portScrapeJobs: [] });
        expect(withoutPortJobs.scrape_configs.map((scrapeJob) => scrapeJob.job_name)).toEqual([SCRAPE_JOBS.pods, SCRAPE_JOBS.extraMetricsPorts, SCRAPE_JOBS.kubeStateMetrics, SCRAPE_JOBS.kubelet]);
    });

    test("every scrape job carries the sample limit (a target exposing more fails its scrape)", () => {
        const limits = (options: PrometheusConfigOptions) => (prometheusConfig(options).scrape_configs as { sample_limit?: number }[]).map((scrapeJob) => scrapeJob.sample_limit);
        expect(limits(PROM)).toEqual([50000, 50000, 50000, 50000, 50000]);
        expect(limits({ ...PROM, sampleLimit: 1234 })).toEqual([1234, 1234, 1234, 1234, 1234]);
    });

    test("alerts go to every Alertmanager replica by its stable name over the v2 API, over HTTPS verified with the internal CA", () => {
        expect(prometheusConfig(PROM).alerting).toEqual({
            alertmanagers: [{ api_version: "v2", timeout: "10s", scheme: "https", tls_config: { ca_file: "tls/ca.crt" }, static_configs: [{ targets: PROM.alertmanagers }] }],
        });
        const single = prometheusConfigOptions(monitoringStackArgsSchema.parse({ certificates: testCertificates, namespace: "team", clusterDomain: "corp.local.", alertmanager: { replicas: 1 } }), "team", "mon-alertmanager");
        expect(single.alertmanagers).toEqual(["mon-alertmanager-0.mon-alertmanager.team.svc.corp.local:9093"]);
    });

    test("the scrape timeout is 10s, or the interval when that is shorter (Prometheus refuses a longer timeout)", () => {
        const globalOf = (scrapeInterval: string) => configOf({ ...PROM, scrapeInterval }).global;
        expect(globalOf("5s")).toEqual({ scrape_interval: "5s", evaluation_interval: "5s", scrape_timeout: "5s" });
        expect(globalOf("15s")).toEqual({ scrape_interval: "15s", evaluation_interval: "15s", scrape_timeout: "10s" });
        // Durations are compared, not strings: "5000ms" is shorter than 10s, "1m" longer, "10s" equal.
        expect(scrapeTimeout("5000ms")).toBe("5000ms");
        expect(scrapeTimeout("9s")).toBe("9s");
        expect(scrapeTimeout("10s")).toBe("10s");
        expect(scrapeTimeout("1m")).toBe("10s");
        expect(scrapeTimeout("2h")).toBe("10s");
    });

    test("pod jobs discover only the stack's namespace", () => {
        for (const name of [SCRAPE_JOBS.pods, SCRAPE_JOBS.extraMetricsPorts, SCRAPE_JOBS.patroni, SCRAPE_JOBS.kubeStateMetrics]) {
            expect(job(name).kubernetes_sd_configs).toEqual([{ role: "pod", namespaces: { names: ["prepx"] } }]);
        }
    });

    test("the pods job keeps annotated pods, scrapes the annotated port and path, and labels namespace/pod/app", () => {
        const rules = job(SCRAPE_JOBS.pods).relabel_configs;
        expect(rules[0]).toEqual({ source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], regex: "true", action: "keep" });
        expect(rules).toContainEqual({
            source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
            regex: "kube-state-metrics",
            action: "drop",
        });
        expect(rules).toContainEqual(expect.objectContaining({ source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_path"], target_label: "__metrics_path__" }));
        const address = rules.find((rule) => rule.target_label === "__address__");
        if (!address?.regex || !address.replacement) throw new Error("no __address__ rewrite");
        const { regex, replacement } = address;
        expect(address.source_labels).toEqual(["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"]);
        // The rewrite, applied as Prometheus does (a fully anchored match, then $n substitution).
        const rewrite = (input: string) => input.replace(new RegExp(`^(?:${regex})$`), replacement.replace(/\$(\d)/g, "$$$1"));
        expect(rewrite("10.1.2.3:6379;9121")).toBe("10.1.2.3:9121");
        expect(rewrite("10.1.2.3;9121")).toBe("10.1.2.3:9121");
        expect(rewrite("[fd00::5]:6379;9121")).toBe("[fd00::5]:9121");
        const targets = Object.fromEntries(rules.filter((rule) => rule.action === "replace" && !rule.target_label?.startsWith("__")).map((rule) => [rule.target_label, rule.source_labels[0]]));
        expect(targets).toEqual({
            namespace: "__meta_kubernetes_namespace",
            pod: "__meta_kubernetes_pod_name",
            app: "__meta_kubernetes_pod_label_app_kubernetes_io_name",
            component: "__meta_kubernetes_pod_label_app_kubernetes_io_component",
        });
    });

    test("a second exporter in an annotated pod is scraped on its metrics-* port (nginx's access-log exporter)", () => {
        const rules = job(SCRAPE_JOBS.extraMetricsPorts).relabel_configs;
        expect(rules[0]).toEqual({ source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], regex: "true", action: "keep" });
        const portRule = rules.find((rule) => rule.source_labels[0] === "__meta_kubernetes_pod_container_port_name");
        const kept = (name: string) => portRule?.action === "keep" && new RegExp(`^(?:${portRule.regex})$`).test(name);
        expect(kept(LOG_EXPORTER_PORT_NAME)).toBe(true);
        // The annotated port is the pods job's; scraping it here too would store every series twice.
        expect(kept(STUB_EXPORTER_PORT_NAME)).toBe(false);
        expect(kept("http")).toBe(false);
        expect(rules.filter((rule) => rule.target_label === "__address__")).toEqual([]);
    });

    test("a port job scrapes its port of its app's pods (Patroni's REST port of the PostgreSQL pods)", () => {
        const rules = job(SCRAPE_JOBS.patroni).relabel_configs;
        expect(rules).toContainEqual({ source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], regex: "postgres", action: "keep" });
        expect(rules).toContainEqual({ source_labels: ["__meta_kubernetes_pod_container_port_number"], regex: "8008", action: "keep" });
        // The app name is a literal in the anchored regex.
        const dotted = configOf({ ...PROM, portScrapeJobs: [{ job: "exporter", app: "my.app", port: 9000 }] });
        expect(scrapeJob(dotted, "exporter").relabel_configs[0].regex).toBe("my\\.app");
    });

    test("a port job with tls scrapes HTTPS, verifying its CA's file and the name the pods' certificate carries; without tls plain HTTP", () => {
        const serverName = "postgres-members.prepx.svc.cluster.local";
        const tlsJob = { ...PATRONI_JOB, tls: { caSecret: "postgres-member-tls", serverName } };
        const patroni = scrapeJob(configOf({ ...PROM, portScrapeJobs: [tlsJob, { job: "exporter", app: "other", port: 9000 }] }), SCRAPE_JOBS.patroni);
        expect(patroni.scheme).toBe("https");
        expect(patroni.tls_config).toEqual({ ca_file: "secrets/scrape-ca/patroni.crt", server_name: serverName });
        expect(portScrapeJobCaFile(SCRAPE_JOBS.patroni)).toBe("secrets/scrape-ca/patroni.crt");
        // Never skipped: a job either verifies or is plain HTTP (the other job, and Patroni's without tls).
        expect(JSON.stringify(patroni)).not.toContain("insecure_skip_verify");
        const plainJobs = configOf({ ...PROM, portScrapeJobs: [PATRONI_JOB, { job: "exporter", app: "other", port: 9000 }] });
        for (const name of [SCRAPE_JOBS.patroni, "exporter"]) {
            expect({ scheme: scrapeJob(plainJobs, name).scheme, tls: scrapeJob(plainJobs, name).tls_config }).toEqual({ scheme: undefined, tls: undefined });
        }
        // Each job's CA has its own file: two HTTPS jobs never share (or overwrite) one.
        expect(portScrapeJobCaFile("exporter")).not.toBe(portScrapeJobCaFile(SCRAPE_JOBS.patroni));
        expect(portScrapeJobCaFile(SCRAPE_JOBS.patroni)).not.toBe(KUBELET_CA_FILE);
    });

    test("kube-state-metrics keeps the namespace/pod labels of the objects it reports", () => {
        const ksm = job(SCRAPE_JOBS.kubeStateMetrics);
        expect(ksm.honor_labels).toBe(true);
        expect(ksm.relabel_configs).toContainEqual({ source_labels: ["__meta_kubernetes_pod_container_port_name"], regex: "http-metrics", action: "keep" });
    });

    test("kubelets are scraped directly with the projected token, keeping only this namespace's volume stats", () => {
        const kubelet = job(SCRAPE_JOBS.kubelet);
        expect(kubelet.kubernetes_sd_configs).toEqual([{ role: "node" }]);
        expect(kubelet.scheme).toBe("https");
        expect(kubelet.authorization).toEqual({ type: "Bearer", credentials_file: KUBELET_TOKEN_FILE });
        // Verified against the cluster CA by default: the token goes only to a kubelet the CA vouches for.
        expect(kubelet.tls_config).toEqual({ ca_file: KUBELET_CA_FILE });
        expect(JSON.stringify(kubelet)).not.toContain("/proxy");
        const [keep] = kubelet.metric_relabel_configs ?? [];
        const kept = (name: string, namespace: string) => new RegExp(`^(?:${keep.regex})$`).test(`${name};${namespace}`);
        expect(kept("kubelet_volume_stats_used_bytes", "prepx")).toBe(true);
        expect(kept("kubelet_volume_stats_capacity_bytes", "prepx")).toBe(true);
        expect(kept("kubelet_volume_stats_used_bytes", "other-team")).toBe(false);
        expect(kept("kubelet_volume_stats_used_bytes", "prepx-dev")).toBe(false);
        expect(kept("kubelet_running_pods", "prepx")).toBe(false);
    });

    test("the documented opt-out for self-signed kubelet certificates skips verification", () => {
        const options = prometheusConfigOptions(monitoringStackArgsSchema.parse({ certificates: testCertificates, namespace: "prepx", verifyKubeletTls: false }), "prepx", "monitoring-alertmanager");
        const unverified = scrapeJob(configOf(options), SCRAPE_JOBS.kubelet);
        expect(unverified.tls_config).toEqual({ insecure_skip_verify: true });
    });
});

describe("the alert rules file", () => {
    const given = [
        alertRule("FirstDown", "first_up == 0", "1m", "critical", "First is down", "The first exporter reports down."),
        alertRule("SecondSlow", "second_seconds > 1", "10m", "warning", "Second is slow", "The second component answers slowly."),
    ];
    const options = alertRulesOptions({ ...ARGS, alertRules: given }, "prepx");

    test("holds the given rules in their order, then MonitoringStack's own", () => {
        expect(options.namespace).toBe("prepx");
        expect(options.rules).toEqual([...given, ...monitoringAlertRules(ARGS.thresholds)]);
        expect(options.rules.map((rule) => rule.alert)).toEqual(["FirstDown", "SecondSlow", "PodRestarting", "PersistentVolumeNearlyFull"]);
    });

    test("is one group named after the namespace, every rule labelled with the namespace after its severity", () => {
        const text = renderAlertRules(options);
        const file = parse(text);
        expect(file.groups).toHaveLength(1);
        expect(file.groups[0].name).toBe("prepx-prepx");
        expect(file.groups[0].rules).toEqual(options.rules.map((rule) => ({ ...rule, labels: { severity: rule.labels.severity, namespace: "prepx" } })));
        expect(text).toContain('        labels:\n          severity: "critical"\n          namespace: "prepx"\n        annotations:\n');
        expect(text.startsWith("# Rendered by prepx-platform (components/monitoring/render.ts).\n")).toBe(true);
    });

    test("MonitoringStack's own rules: restarts and nearly full volumes, thresholds from the args", () => {
        const [restarting, nearlyFull] = monitoringAlertRules(ARGS.thresholds);
        expect(restarting.expr).toBe("increase(kube_pod_container_status_restarts_total[15m]) >= 3");
        expect(nearlyFull.expr).toBe("kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes > 0.85");
        const custom = monitoringAlertRules({ podRestarts: 5, podRestartWindow: "30m", pvcUsedRatio: 0.9 });
        expect(custom[0].expr).toBe("increase(kube_pod_container_status_restarts_total[30m]) >= 5");
        expect(custom[0].annotations.description).toContain("in 30m (threshold 5)");
        expect(custom[1].expr).toMatch(/> 0\.9$/);
        expect(custom[1].annotations.description).toContain("more than 90% full");
    });
});

describe("Grafana provisioning", () => {
    test("the datasource is the stack's Prometheus over HTTPS, verified with the CA file, default and read-only", () => {
        const file = parse(
            renderGrafanaDatasources({ prometheusUrl: "https://monitoring-prometheus.prepx.svc.cluster.local:9090", scrapeInterval: "15s", caFile: "/etc/grafana/prometheus-ca/ca.crt" }),
        );
        expect(file.datasources).toEqual([
            expect.objectContaining({
                uid: "prometheus",
                type: "prometheus",
                url: "https://monitoring-prometheus.prepx.svc.cluster.local:9090",
                isDefault: true,
                editable: false,
                jsonData: expect.objectContaining({ timeInterval: "15s", tlsAuthWithCACert: true }),
                secureJsonData: { tlsCACert: "$__file{/etc/grafana/prometheus-ca/ca.crt}" },
            }),
        ]);
        expect(file.datasources[0].jsonData.tlsSkipVerify).toBeUndefined();
    });

    test("dashboards come from files, not editable in the UI", () => {
        const file = parse(renderGrafanaDashboardProvider({ path: "/etc/grafana/dashboards", folder: "prepx" }));
        expect(file.providers).toEqual([expect.objectContaining({ type: "file", allowUiUpdates: false, options: expect.objectContaining({ path: "/etc/grafana/dashboards" }) })]);
    });

    test("dashboard files are the JSON models, indented, in the order given", () => {
        const files = dashboardFiles({ "b.json": { uid: "b" }, "a.json": { uid: "a", panels: [] } });
        expect(Object.keys(files)).toEqual(["b.json", "a.json"]);
        expect(files["a.json"]).toBe('{\n  "uid": "a",\n  "panels": []\n}\n');
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
        expect(dashboardProblems("bad.json", { ...base, uid: "", title: "" })).toEqual(["bad.json: uid must be a string of 1-40 characters", "bad.json: no title"]);
        expect(dashboardProblems("empty.json", { ...base, panels: [] })).toEqual(["empty.json: no panels"]);
        expect(dashboardProblems("null.json", null)).toEqual(["null.json: not a JSON object"]);
        // Grafana's file provider reads *.json; ConfigMap keys allow letters, digits, '-', '_' and '.'.
        expect(dashboardProblems("notes.txt", base)).toEqual(["notes.txt: file name must end in .json and hold only letters, digits, '-', '_' and '.'"]);
        expect(dashboardProblems("my board.json", base)).toEqual(["my board.json: file name must end in .json and hold only letters, digits, '-', '_' and '.'"]);
    });
});

describe("alertmanager.yml", () => {
    const RECEIVERS = {
        webhookUrl: "https://hooks.example.com/prepx",
        slackWebhookUrl: "https://hooks.slack.com/services/T000/B000/XXXX",
        pagerdutyRoutingKey: "0123456789abcdef0123456789abcdef",
    };
    type Receiver = { name: string; pagerduty_configs?: unknown[]; slack_configs?: { api_url: string }[]; webhook_configs?: { url: string }[] };
    type Config = { route: Record<string, unknown> & { routes: { receiver: string; matchers: string[] }[] }; inhibit_rules: unknown[]; receivers: Receiver[] };
    const configOfReceivers = (receivers: typeof RECEIVERS | Partial<typeof RECEIVERS>) => alertmanagerConfig(alertmanagerConfigOptions(ARGS, receivers)) as unknown as Config;
    const receiver = (config: Config, name: string) => config.receivers.find((entry) => entry.name === name);

    test("groups by alert and namespace with the stack's timings; critical alerts take their own route", () => {
        const config = configOfReceivers(RECEIVERS);
        expect(config.route).toEqual({
            receiver: "warning",
            group_by: ["alertname", "namespace"],
            group_wait: "30s",
            group_interval: "5m",
            repeat_interval: "4h",
            routes: [{ receiver: "critical", matchers: ['severity="critical"'] }],
        });
        const fast = alertmanagerConfigOptions(monitoringStackArgsSchema.parse({ certificates: testCertificates, namespace: "prepx", alertmanager: { groupWait: "1s", groupInterval: "2s", repeatInterval: "1m" } }), {});
        expect([fast.groupWait, fast.groupInterval, fast.repeatInterval]).toEqual(["1s", "2s", "1m"]);
    });

    test("critical alerts page and reach Slack and the webhook; warnings never page", () => {
        const config = configOfReceivers(RECEIVERS);
        expect(receiver(config, "critical")).toEqual({
            name: "critical",
            pagerduty_configs: [{ routing_key: RECEIVERS.pagerdutyRoutingKey, send_resolved: true }],
            slack_configs: [expect.objectContaining({ api_url: RECEIVERS.slackWebhookUrl, send_resolved: true })],
            webhook_configs: [{ url: RECEIVERS.webhookUrl, send_resolved: true }],
        });
        const warning = receiver(config, "warning");
        expect(warning?.pagerduty_configs).toBeUndefined();
        expect(warning?.slack_configs?.map((slack) => slack.api_url)).toEqual([RECEIVERS.slackWebhookUrl]);
        expect(warning?.webhook_configs?.map((webhook) => webhook.url)).toEqual([RECEIVERS.webhookUrl]);
    });

    test("a critical alert inhibits the warnings about the same pod or app of its namespace", () => {
        expect(configOfReceivers(RECEIVERS).inhibit_rules).toEqual([
            { source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ["namespace", "app", "pod"] },
        ]);
    });

    test("receivers left unset render no destination, and the preview says what is not delivered", () => {
        const none = configOfReceivers({});
        expect(none.receivers).toEqual([{ name: "critical" }, { name: "warning" }]);
        const onlyWebhook = configOfReceivers({ webhookUrl: RECEIVERS.webhookUrl });
        expect(onlyWebhook.receivers.map((entry) => Object.keys(entry).sort())).toEqual([
            ["name", "webhook_configs"],
            ["name", "webhook_configs"],
        ]);
        const set = (webhookUrl: boolean, slackWebhookUrl: boolean, pagerdutyRoutingKey: boolean) => undeliveredAlertWarnings({ webhookUrl, slackWebhookUrl, pagerdutyRoutingKey });
        expect(set(false, false, false)).toEqual([expect.stringMatching(/^no Alertmanager receiver is configured: alerts fire in Prometheus but notify no one/)]);
        expect(set(false, false, true)).toEqual([expect.stringMatching(/^only PagerDuty is configured: warning alerts notify no one/)]);
        expect(set(true, false, false)).toEqual([]);
        expect(set(false, true, true)).toEqual([]);
    });

    test("the text parses back to the value; the peers are the StatefulSet's stable names", () => {
        const options = alertmanagerConfigOptions(ARGS, RECEIVERS);
        expect(parse(renderAlertmanagerConfig(options))).toEqual(alertmanagerConfig(options));
        expect(alertmanagerPeers({ name: "am", namespace: "ns", clusterDomain: "cluster.local", replicas: 2 })).toEqual(["am-0.am.ns.svc.cluster.local", "am-1.am.ns.svc.cluster.local"]);
    });
});

describe("Prometheus' and Alertmanager's certificates and their own HTTPS scrape jobs", () => {
    const names = { prometheus: "monitoring-prometheus", alertmanager: "monitoring-alertmanager" };

    test("Alertmanager's certificate names every replica as Prometheus and the peers dial it, and its Service; Prometheus' its Service and pod", () => {
        const dnsNames = monitoringCertificateDnsNames(names, "prepx", ARGS);
        const peers = alertmanagerPeers({ name: names.alertmanager, namespace: "prepx", clusterDomain: ARGS.clusterDomain, replicas: ARGS.alertmanager.replicas });
        expect(dnsNames.alertmanager).toEqual([
            "monitoring-alertmanager",
            "monitoring-alertmanager.prepx",
            "monitoring-alertmanager.prepx.svc",
            "monitoring-alertmanager.prepx.svc.cluster.local",
            ...peers,
        ]);
        // The first name is also the common name: X.509 (and openssl, cert-manager) allow 64 characters at most.
        expect(peers[0].length).toBeGreaterThan(64);
        for (const certificateNames of Object.values(dnsNames)) expect(certificateNames[0].length).toBeLessThanOrEqual(64);
        // Every target Prometheus sends alerts to is a name of the certificate (no server_name needed).
        const targets = prometheusConfigOptions(ARGS, "prepx", names.alertmanager).alertmanagers.map((target) => target.replace(/:\d+$/, ""));
        expect(dnsNames.alertmanager).toEqual(expect.arrayContaining(targets));
        expect(dnsNames.prometheus).toEqual([
            "monitoring-prometheus",
            "monitoring-prometheus.prepx",
            "monitoring-prometheus.prepx.svc",
            "monitoring-prometheus.prepx.svc.cluster.local",
            "monitoring-prometheus-0.monitoring-prometheus.prepx.svc.cluster.local",
        ]);
    });

    test("both are scraped over HTTPS by pod IP, verified with the CA and a name their certificate carries", () => {
        const hosts = { prometheus: "monitoring-prometheus.prepx.svc.cluster.local", alertmanager: "monitoring-alertmanager.prepx.svc.cluster.local" };
        const jobs = monitoringSelfScrapeJobs(hosts, "monitoring-prometheus-tls", { prometheus: 9090, alertmanager: 9093 });
        const rendered = prometheusConfig({ ...PROM, portScrapeJobs: jobs }) as unknown as PrometheusYml;
        const dnsNames = monitoringCertificateDnsNames(names, "prepx", ARGS);
        for (const [job, certificateNames] of [["prometheus", dnsNames.prometheus], ["alertmanager", dnsNames.alertmanager]] as const) {
            const scrape = scrapeJob(rendered, job);
            expect(scrape.scheme).toBe("https");
            expect(scrape.tls_config).toEqual({ ca_file: portScrapeJobCaFile(job), server_name: expect.any(String) });
            expect(certificateNames).toContain((scrape.tls_config as { server_name?: string } | undefined)?.server_name);
        }
    });
});
