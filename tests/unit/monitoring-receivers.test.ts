// Alert receivers from the stack config, through the whole dev program under mocks: the URLs and the
// key land only in Alertmanager's Secret (secret in the state), the preview stays quiet, dev runs one
// Alertmanager without a cluster, and the NetworkPolicies open what delivery needs. Also the policies
// as pure data, and a bad receiver value refused without being shown.
import { parse } from "yaml";
import { NetworkPolicyInput, renderNetworkPolicies } from "../../components/network/policies";
import { readStackConfig } from "../../scripts/stack-files";
import { configErrorOf, configWith } from "../helpers/config-errors";
import { find, installMocks, isWireSecret, ofType, RecordedResource, settled } from "../helpers/mocks";

const RECEIVERS = {
    webhookUrl: "https://alerts.example.com/hook/s3cr3t-path",
    slackWebhookUrl: "https://hooks.slack.com/services/T0AAAA/B0BBBB/secrettokensecrettoken",
    pagerdutyRoutingKey: "abcdef0123456789abcdef0123456789",
};

/** An egress proxy the receivers are reached through (Slack's and PagerDuty's addresses are not fixed). */
const RECEIVERS_PROXY = "10.20.0.5/32";

let recorded: RecordedResource[];
let warnings: string[];

beforeAll(async () => {
    const dev = readStackConfig("dev") as { monitoring: Record<string, unknown> & { alertmanager: Record<string, unknown> }; network: Record<string, unknown> };
    recorded = await installMocks("dev", {
        monitoring: { ...dev.monitoring, alertmanager: { ...dev.monitoring.alertmanager, receivers: RECEIVERS } },
        network: { ...dev.network, alertReceivers: { cidrs: [RECEIVERS_PROXY] } },
    });
    const warn = jest.spyOn(console, "warn").mockImplementation(() => undefined);
    await import("../../index");
    await settled(recorded);
    warnings = warn.mock.calls.map((call) => String(call[0]));
    warn.mockRestore();
});

const policy = (name: string) => find(recorded, "kubernetes:networking.k8s.io/v1:NetworkPolicy", `netpol-${name}`).inputs.spec;

test("the receivers land in Alertmanager's Secret only, marked secret", () => {
    const secret = find(recorded, "kubernetes:core/v1:Secret", "monitoring-alertmanager-config");
    expect(isWireSecret(secret.wire.stringData)).toBe(true);
    const config = parse(secret.inputs.stringData["alertmanager.yml"]);
    const byName = Object.fromEntries(config.receivers.map((receiver: { name: string }) => [receiver.name, receiver]));
    expect(byName.critical.pagerduty_configs[0].routing_key).toBe(RECEIVERS.pagerdutyRoutingKey);
    expect(byName.critical.webhook_configs[0].url).toBe(RECEIVERS.webhookUrl);
    expect(byName.warning.slack_configs[0].api_url).toBe(RECEIVERS.slackWebhookUrl);
    for (const resource of recorded.filter((r) => r !== secret)) {
        const text = JSON.stringify(resource.inputs);
        for (const value of Object.values(RECEIVERS)) expect(text).not.toContain(value);
    }
});

test("with every receiver set, the preview does not warn about undelivered alerts", () => {
    expect(warnings.filter((warning) => /receiver|notify no one/.test(warning))).toEqual([]);
});

test("dev runs one Alertmanager with clustering off and no PodDisruptionBudget", () => {
    const statefulSet = find(recorded, "kubernetes:apps/v1:StatefulSet", "monitoring-alertmanager").inputs.spec;
    expect(statefulSet.replicas).toBe(1);
    expect(statefulSet.template.spec.containers[0].args).toContain("--cluster.listen-address=");
    expect(statefulSet.template.spec.containers[0].args.filter((arg: string) => arg.startsWith("--cluster.peer"))).toEqual([]);
    expect(ofType(recorded, "kubernetes:policy/v1:PodDisruptionBudget").map((budget) => budget.name)).not.toContain("monitoring-alertmanager");
});

test("NetworkPolicies: Prometheus reaches Alertmanager; Alertmanager gossips and reaches the receivers (network.alertReceivers) on HTTPS", () => {
    const alertmanagerPods = { matchLabels: find(recorded, "kubernetes:apps/v1:StatefulSet", "monitoring-alertmanager").inputs.spec.template.metadata.labels };
    const prometheusPods = { matchLabels: find(recorded, "kubernetes:apps/v1:StatefulSet", "monitoring-prometheus").inputs.spec.template.metadata.labels };
    expect(policy("prometheus-alertmanager")).toEqual({
        podSelector: prometheusPods,
        policyTypes: ["Egress"],
        egress: [{ to: [{ podSelector: alertmanagerPods }], ports: [{ protocol: "TCP", port: 9093 }] }],
    });
    const gossip = [
        { protocol: "TCP", port: 9094 },
        { protocol: "UDP", port: 9094 },
    ];
    expect(policy("alertmanager")).toEqual({
        podSelector: alertmanagerPods,
        policyTypes: ["Ingress", "Egress"],
        ingress: [
            { from: [{ podSelector: prometheusPods }], ports: [{ protocol: "TCP", port: 9093 }] },
            { from: [{ podSelector: alertmanagerPods }], ports: gossip },
        ],
        egress: [
            { to: [{ podSelector: alertmanagerPods }], ports: gossip },
            { to: [{ ipBlock: { cidr: RECEIVERS_PROXY } }], ports: [{ protocol: "TCP", port: 443 }] },
        ],
    });
});

describe("the Alertmanager policies as pure data", () => {
    const labels = (name: string) => ({ "app.kubernetes.io/name": name });
    const base: NetworkPolicyInput = {
        loadBalancer: { labels: labels("nginx"), listenPorts: [8080] },
        gateways: { labels: labels("gw"), port: 8080 },
        services: [{ name: "gw", labels: labels("gw"), port: 8080, usesDatabase: false }],
        pgbouncer: { labels: labels("pgbouncer"), port: 6432 },
        postgresPrimary: { labels: labels("pg-primary"), port: 5432 },
        postgresMembers: { labels: labels("pg"), port: 5432, patroniPort: 8008 },
        postgresStandbys: { labels: labels("pg-standby"), port: 5432 },
        redis: { labels: labels("redis"), port: 6379, busPort: 16379 },
        prometheus: { labels: labels("prometheus"), port: 9090 },
        grafana: { labels: labels("grafana"), port: 3000 },
        metricsTargets: [],
        kubernetesApi: { cidrs: ["10.96.0.1/32"], ports: [443] },
        kubelets: { cidrs: ["10.0.0.0/16"], ports: [10250] },
    };
    const named = (input: NetworkPolicyInput, name: string) => renderNetworkPolicies(input).find((rendered) => rendered.name === name);
    const alertmanager = { labels: labels("alertmanager"), port: 9093, clusterPort: 9094 };

    test("no receiver configured: no egress beyond the peers; without an Alertmanager no policy at all", () => {
        const quiet = named({ ...base, alertmanager: { ...alertmanager, notifies: false } }, "alertmanager");
        expect(quiet?.spec.egress?.flatMap((rule) => rule.to ?? [])).toEqual([{ podSelector: { matchLabels: labels("alertmanager") } }]);
        expect(named(base, "alertmanager")).toBeUndefined();
        expect(named(base, "prometheus-alertmanager")).toBeUndefined();
    });

    test("the receivers' CIDRs and ports come from alertReceivers, e.g. an egress proxy", () => {
        const proxied = named({ ...base, alertmanager: { ...alertmanager, notifies: true }, alertReceivers: { cidrs: ["10.20.0.5/32"], ports: [3128] } }, "alertmanager");
        expect(proxied?.spec.egress?.[1]).toEqual({ to: [{ ipBlock: { cidr: "10.20.0.5/32" } }], ports: [{ protocol: "TCP", port: 3128 }] });
        expect(() => renderNetworkPolicies({ ...base, alertmanager: { ...alertmanager, notifies: true }, alertReceivers: { cidrs: [], ports: [443] } })).toThrow(
            "renderNetworkPolicies: alertReceivers must list at least one CIDR and one port",
        );
        // No default: it would be the whole internet.
        expect(() => renderNetworkPolicies({ ...base, alertmanager: { ...alertmanager, notifies: true } })).toThrow("alertReceivers");
        expect(() => renderNetworkPolicies({ ...base, alertmanager: { ...alertmanager, notifies: true }, alertReceivers: { cidrs: ["0.0.0.0/0"], ports: [443] } })).toThrow(
            "must not hold 0.0.0.0/0",
        );
    });
});

test("a bad receiver value fails the config check without showing the value", () => {
    const message = configErrorOf(
        configWith("dev", (raw) => {
            raw.monitoring.alertmanager.receivers.slackWebhookUrl = "hooks.slack.com/services/T0/B0/leakedtoken";
        }),
        "dev",
    );
    expect(message).toBe("dev: monitoring.alertmanager.receivers.slackWebhookUrl must be an http:// or https:// URL (got a secret value)");
});

test("a receiver without network.alertReceivers fails the config check: there is no internet-wide default", () => {
    const message = configErrorOf(
        configWith("dev", (raw) => {
            raw.monitoring.alertmanager.receivers.webhookUrl = RECEIVERS.webhookUrl;
        }),
        "dev",
    );
    expect(message).toContain("dev: network.alertReceivers must be set when a receiver is configured");
});
