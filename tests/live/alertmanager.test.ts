// The rendered alertmanager.yml and Prometheus' rendered alerting block on Debian's real servers
// (prometheus-alertmanager 0.25, prometheus 2.42):
// - `amtool check-config` on prod's config with all three receivers (webhook, Slack, PagerDuty);
// - `amtool config routes test`: critical alerts reach the critical receiver, warnings the warning one;
// - delivery: Prometheus with a rule file that fires at once, its alerting block pointing at two
//   clustered Alertmanagers (as prod's replicas gossip), whose config has a webhook receiver pointing
//   at an HTTP server in this test. The firing alerts must arrive at the webhook with their labels,
//   each group once although both replicas got it, and the warning a critical alert inhibits never.
//   Over TLS as in the pods, with a test CA's certificate: the replicas serve HTTPS (rendered web.yml)
//   and gossip over mutual TLS (rendered cluster-tls.yml), Prometheus sends over HTTPS verifying the
//   CA (its rendered alerting block); plain HTTP to a replica is refused.
// Timings come from the same args with short waits (1s scrape/evaluation, 1s group_wait): the
// renderers are the stack's, only the sizes differ.
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import * as tls from "tls";
import { parse } from "yaml";
import { monitoringStackArgsSchema, ResolvedMonitoringStackArgs } from "../../components/monitoring/args";
import { serviceHost } from "../../components/dns";
import {
    ALERT_RULES_FILE,
    ALERTMANAGER_CLUSTER_TLS_FILE,
    ALERTMANAGER_CONFIG_FILE,
    ALERTMANAGER_TLS_FILES,
    ALERTMANAGER_WEB_CONFIG_FILE,
    alertmanagerConfigOptions,
    alertRulesOptions,
    monitoringCertificateDnsNames,
    PROMETHEUS_CONFIG_FILE,
    PROMETHEUS_TLS_FILES,
    prometheusConfig,
    prometheusConfigOptions,
    renderAlertmanagerConfig,
    renderAlertmanagerClusterTlsConfig,
    renderAlertRules,
    renderWebConfig,
    ResolvedAlertReceivers,
} from "../../components/monitoring/render";
import { alertRule } from "../../components/observability";
import { parseStackConfig } from "../../config";
import { readStackConfig } from "../../scripts/stack-files";
import { toYaml } from "../../components/yaml";
import { freePort, makeTempDir, report, run, Server, sleep, startServer, stopServer, waitFor } from "./support";
import { testCertificates } from "../helpers/mocks";
import { httpsGet, issueServerCertificate, makeTestCa } from "./tls-support";

const config = parseStackConfig("prod", readStackConfig("prod"));
const NS = config.namespace;
const PROD = monitoringStackArgsSchema.parse({ certificates: testCertificates, namespace: NS, ...config.monitoring });
/** Test values in the receivers' formats (nothing is sent to them: check-config and routing only). */
const ALL_RECEIVERS: ResolvedAlertReceivers = {
    webhookUrl: "https://alerts.example.com/hook",
    slackWebhookUrl: "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    pagerdutyRoutingKey: "0123456789abcdef0123456789abcdef",
};
/** Alertmanager's default `--cluster.peer-timeout`: a second replica waits this long per position before it would notify. */
const PEER_TIMEOUT_MS = 15000;

const dirs: string[] = [];
const servers: Server[] = [];
let webhookServer: http.Server | undefined;

afterAll(async () => {
    for (const server of servers) await stopServer(server);
    if (webhookServer) await new Promise((resolve) => webhookServer?.close(resolve));
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
    const dir = makeTempDir(prefix);
    dirs.push(dir);
    return dir;
}

function writeAlertmanagerConfig(dir: string, args: ResolvedMonitoringStackArgs, receivers: ResolvedAlertReceivers): string {
    const file = path.join(dir, ALERTMANAGER_CONFIG_FILE);
    fs.writeFileSync(file, renderAlertmanagerConfig(alertmanagerConfigOptions(args, receivers)));
    return file;
}

test("amtool check-config accepts prod's rendered config with a webhook, Slack and PagerDuty", async () => {
    const file = writeAlertmanagerConfig(tempDir("am-check"), PROD, ALL_RECEIVERS);
    const { stdout } = await run("amtool", ["check-config", file], { timeoutMs: 30000 });
    expect(stdout).toContain("SUCCESS");
    expect(stdout).toMatch(/Found:\s+- global config\s+- route\s+- 1 inhibit rules\s+- 2 receivers/);
    report("amtool (Debian 0.25) check-config: SUCCESS, 1 inhibit rule, 2 receivers (webhook, Slack, PagerDuty)");
});

test("amtool routes critical alerts to the paging receiver and everything else to the warning one", async () => {
    const file = writeAlertmanagerConfig(tempDir("am-routes"), PROD, ALL_RECEIVERS);
    const receiverOf = async (...labels: string[]) => (await run("amtool", ["config", "routes", "test", `--config.file=${file}`, ...labels], { timeoutMs: 30000 })).stdout.trim();
    expect(await receiverOf("alertname=PostgresDown", "severity=critical", `namespace=${NS}`)).toBe("critical");
    expect(await receiverOf("alertname=PodRestarting", "severity=warning", `namespace=${NS}`)).toBe("warning");
    expect(await receiverOf("alertname=Unlabelled")).toBe("warning");
    const receivers = (parse(fs.readFileSync(file, "utf8")) as { receivers: { name: string; pagerduty_configs?: unknown[] }[] }).receivers;
    expect(receivers.map((receiver) => [receiver.name, receiver.pagerduty_configs !== undefined])).toEqual([
        ["critical", true],
        ["warning", false],
    ]);
    report("amtool config routes test: severity=critical -> critical (PagerDuty, Slack, webhook), warning and unlabelled -> warning");
});

/** One POST of Alertmanager's webhook (payload version 4), as the test's server received it. */
interface WebhookPost {
    at: number;
    receiver: string;
    status: string;
    groupLabels: Record<string, string>;
    alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
}

test("a firing alert travels Prometheus -> two clustered Alertmanagers -> the webhook, once, with its labels", async () => {
    const started = Date.now();
    const dir = tempDir("am-deliver");
    const posts: WebhookPost[] = [];
    webhookServer = http.createServer((req, res) => {
        let body = "";
        req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
        req.on("end", () => {
            if (req.method === "POST" && req.url === "/alerts") posts.push({ at: Date.now(), ...(JSON.parse(body) as Omit<WebhookPost, "at">) });
            res.writeHead(200).end();
        });
    });
    const webhookPort = await freePort();
    await new Promise<void>((resolve) => webhookServer?.listen(webhookPort, "127.0.0.1", resolve));

    // The stack's args with test timings; the receivers as MonitoringStack resolves them.
    const args = monitoringStackArgsSchema.parse({
        certificates: testCertificates,
        namespace: NS,
        ...config.monitoring,
        prometheus: { ...config.monitoring.prometheus, scrapeInterval: "1s" },
        alertmanager: { ...config.monitoring.alertmanager, groupWait: "1s", replicas: 2 },
        alertRules: [
            alertRule("LiveCritical", 'label_replace(vector(1), "app", "live", "", "")', "0s", "critical", "Live test critical", "Fires at once."),
            alertRule("LiveWarningSameApp", 'label_replace(vector(1), "app", "live", "", "")', "0s", "warning", "Inhibited", "A critical alert of the same app is firing."),
            alertRule("LiveWarningOtherApp", 'label_replace(vector(1), "app", "other", "", "")', "0s", "warning", "Live test warning", "Fires at once, not inhibited."),
        ],
    });
    const configFile = writeAlertmanagerConfig(dir, args, { webhookUrl: `http://127.0.0.1:${webhookPort}/alerts` });
    // The TLS files beside alertmanager.yml as the pod's projected volume has them: web.yml,
    // cluster-tls.yml, and the replicas' certificate (the rendered DNS names, plus 127.0.0.1, which
    // the test's targets and peers use) under tls/. Prometheus' config sits in the same directory:
    // its ca_file (the same relative path) is the same CA.
    const ca = await makeTestCa(path.join(dir, "ca"));
    const dnsNames = monitoringCertificateDnsNames({ prometheus: "monitoring-prometheus", alertmanager: "monitoring-alertmanager" }, NS, args).alertmanager;
    const certificate = await issueServerCertificate(ca, path.join(dir, "issued"), { dnsNames, ipAddresses: ["127.0.0.1"], clientAuth: true });
    fs.mkdirSync(path.join(dir, "tls"));
    fs.copyFileSync(certificate.certificateFile, path.join(dir, ALERTMANAGER_TLS_FILES.certificate));
    fs.copyFileSync(certificate.keyFile, path.join(dir, ALERTMANAGER_TLS_FILES.privateKey));
    fs.copyFileSync(ca.certificateFile, path.join(dir, ALERTMANAGER_TLS_FILES.ca));
    expect(PROMETHEUS_TLS_FILES.ca).toBe(ALERTMANAGER_TLS_FILES.ca);
    const webConfigFile = path.join(dir, ALERTMANAGER_WEB_CONFIG_FILE);
    fs.writeFileSync(webConfigFile, renderWebConfig(ALERTMANAGER_TLS_FILES));
    const clusterTlsFile = path.join(dir, ALERTMANAGER_CLUSTER_TLS_FILE);
    fs.writeFileSync(clusterTlsFile, renderAlertmanagerClusterTlsConfig(ALERTMANAGER_TLS_FILES, serviceHost("monitoring-alertmanager", NS, args.clusterDomain)));

    // Two replicas gossiping on 127.0.0.1, each naming the other, as prod's pods name their peers.
    const webPorts = [await freePort(), await freePort()];
    const clusterPorts = [await freePort(), await freePort()];
    for (const [index, webPort] of webPorts.entries()) {
        const own = `127.0.0.1:${clusterPorts[index]}`;
        const peer = `127.0.0.1:${clusterPorts[1 - index]}`;
        fs.mkdirSync(path.join(dir, `am-${index}`));
        servers.push(
            startServer(
                `alertmanager-${index}`,
                "prometheus-alertmanager",
                [
                    `--config.file=${configFile}`,
                    `--storage.path=${path.join(dir, `am-${index}`)}`,
                    `--web.listen-address=127.0.0.1:${webPort}`,
                    `--web.config.file=${webConfigFile}`,
                    `--cluster.listen-address=${own}`,
                    `--cluster.tls-config=${clusterTlsFile}`,
                    `--cluster.advertise-address=${own}`,
                    `--cluster.peer=${peer}`,
                ],
                path.join(dir, `alertmanager-${index}.log`),
            ),
        );
    }
    for (const webPort of webPorts) {
        await waitFor("Alertmanager ready over HTTPS", async () => (await httpsGet(`https://127.0.0.1:${webPort}/-/ready`, ca.pem)).status === 200, 30000);
        // Plain HTTP gets Go's TLS server's refusal, never the API.
        const plain = await fetch(`http://127.0.0.1:${webPort}/-/ready`, { signal: AbortSignal.timeout(2000) });
        expect([plain.status, await plain.text()]).toEqual([400, expect.stringContaining("HTTPS server")]);
    }
    // The gossip joined (it may still be settling: notifications wait for that, as in a starting pod).
    await waitFor(
        "the replicas see each other",
        async () => {
            const status = JSON.parse((await httpsGet(`https://127.0.0.1:${webPorts[0]}/api/v2/status`, ca.pem)).body) as { cluster: { peers: unknown[] } };
            return status.cluster.peers.length === 2;
        },
        30000,
    );

    // The gossip port speaks TLS and demands a client certificate of the CA: a handshake presenting the
    // replicas' certificate stays up, one presenting none is refused by the replica.
    const gossipHandshake = (presentCertificate: boolean) =>
        new Promise<string>((resolve) => {
            const client = presentCertificate ? { cert: fs.readFileSync(certificate.certificateFile), key: fs.readFileSync(certificate.keyFile) } : {};
            const socket = tls.connect({ host: "127.0.0.1", port: clusterPorts[0], ca: ca.pem, servername: serviceHost("monitoring-alertmanager", NS, args.clusterDomain), ...client });
            const timer = setTimeout(() => (socket.destroy(), resolve("accepted")), 1500);
            socket.on("error", (error: Error) => (clearTimeout(timer), socket.destroy(), resolve(`refused: ${error.message}`)));
            socket.on("close", () => (clearTimeout(timer), resolve("closed")));
        });
    expect(await gossipHandshake(true)).toBe("accepted");
    expect(await gossipHandshake(false)).toMatch(/^(refused|closed)/);

    // Prometheus' rendered config, its alerting block pointing at the two local replicas; no scrape jobs
    // (the alerts need none, and Debian's Prometheus has no Kubernetes discovery).
    const rendered = prometheusConfig({ ...prometheusConfigOptions(args, NS, "monitoring-alertmanager"), alertmanagers: webPorts.map((port) => `127.0.0.1:${port}`) });
    expect(rendered.alerting).toEqual({
        alertmanagers: [{ api_version: "v2", timeout: "10s", scheme: "https", tls_config: { ca_file: "tls/ca.crt" }, static_configs: [{ targets: webPorts.map((port) => `127.0.0.1:${port}`) }] }],
    });
    fs.writeFileSync(path.join(dir, PROMETHEUS_CONFIG_FILE), toYaml({ ...rendered, scrape_configs: [] }));
    fs.writeFileSync(path.join(dir, ALERT_RULES_FILE), renderAlertRules(alertRulesOptions(args, NS)));
    const check = await run("promtool", ["check", "config", path.join(dir, PROMETHEUS_CONFIG_FILE)], { timeoutMs: 30000 });
    expect(check.stdout).toContain("SUCCESS");
    const prometheusPort = await freePort();
    const prometheusStarted = Date.now();
    servers.push(
        startServer(
            "prometheus",
            "prometheus",
            [
                `--config.file=${path.join(dir, PROMETHEUS_CONFIG_FILE)}`,
                `--storage.tsdb.path=${path.join(dir, "data")}`,
                `--web.listen-address=127.0.0.1:${prometheusPort}`,
                // The notifier learns its Alertmanagers from discovery, which batches updates for up to 5 s;
                // alerts firing before that are dropped and re-sent only after this delay (1m by default).
                "--rules.alert.resend-delay=2s",
            ],
            path.join(dir, "prometheus.log"),
        ),
    );

    const firingOf = (alertname: string) => posts.filter((post) => post.status === "firing" && post.alerts.some((alert) => alert.labels.alertname === alertname));
    const critical = await waitFor("LiveCritical at the webhook", () => firingOf("LiveCritical")[0], 60000, 100);
    const deliveredMs = critical.at - prometheusStarted;
    const warning = await waitFor("LiveWarningOtherApp at the webhook", () => firingOf("LiveWarningOtherApp")[0], 30000, 100);

    expect(critical.receiver).toBe("critical");
    expect(critical.groupLabels).toEqual({ alertname: "LiveCritical", namespace: NS });
    expect(critical.alerts).toEqual([
        expect.objectContaining({
            status: "firing",
            labels: { alertname: "LiveCritical", app: "live", severity: "critical", namespace: NS },
            annotations: { summary: "Live test critical", description: "Fires at once." },
        }),
    ]);
    expect(warning.receiver).toBe("warning");
    expect(warning.alerts.map((alert) => alert.labels)).toEqual([{ alertname: "LiveWarningOtherApp", app: "other", severity: "warning", namespace: NS }]);

    // The inhibited warning: both replicas hold it as suppressed by the critical alert.
    for (const webPort of webPorts) {
        const suppressed = await waitFor(
            "LiveWarningSameApp suppressed",
            async () => {
                const alerts = JSON.parse((await httpsGet(`https://127.0.0.1:${webPort}/api/v2/alerts`, ca.pem)).body) as {
                    labels: Record<string, string>;
                    status: { state: string; inhibitedBy: string[] };
                }[];
                const found = alerts.find((alert) => alert.labels.alertname === "LiveWarningSameApp");
                return found?.status.state === "suppressed" ? found : undefined;
            },
            30000,
        );
        expect(suppressed.status.inhibitedBy).toHaveLength(1);
    }

    // Both replicas got every alert (Prometheus sends to each); the second one defers by the peer
    // timeout and finds the notification in the gossiped log. Wait past that for a duplicate.
    await sleep(PEER_TIMEOUT_MS + 5000);
    expect(firingOf("LiveCritical")).toHaveLength(1);
    expect(firingOf("LiveWarningOtherApp")).toHaveLength(1);
    expect(firingOf("LiveWarningSameApp")).toEqual([]);
    report(
        `alert delivery (Debian Prometheus 2.42 -HTTPS-> 2 Alertmanager 0.25 gossiping over mutual TLS -> webhook): first firing alert at the webhook ${deliveredMs} ms after Prometheus started ` +
            `(${critical.at - started} ms after the test started; group_wait 1s, evaluation 1s); each group delivered once by the 2 replicas ` +
            `over ${Math.round((Date.now() - critical.at) / 1000)} s; the inhibited warning never`,
    );
});
