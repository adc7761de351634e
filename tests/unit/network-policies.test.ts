// The NetworkPolicies as pure data: every policy present with its selectors and ports, and — read
// with Kubernetes' semantics by a small evaluator below — exactly the intended flows allowed.
import { NETWORK_POLICY_DEFAULTS, NetworkPolicyInput, PolicyPeer, RenderedPolicy, renderNetworkPolicies } from "../../components/network/policies";
import { parseStackConfig } from "../../config";
import { readStackConfig } from "../../scripts/stack-files";
import { configErrorOf } from "../helpers/config-errors";
import { internetWideBlocks, mountsToken } from "../helpers/security-expectations";

const app = (name: string, component: string) => ({
    "app.kubernetes.io/name": name,
    "app.kubernetes.io/instance": name,
    "app.kubernetes.io/component": component,
});
const gateway = app("api-gateway", "service");
const users = app("user-service", "service");
const reports = app("report-service", "service"); // holds no database pool
const lb = app("nginx", "load-balancer");
const pgbouncer = app("postgres", "pooler");
const members = app("postgres", "database");
const primary = { ...members, role: "master" };
const redis = app("redis", "cache");
const redisBootstrap = app("redis", "cluster-bootstrap");
const postgresDcsConfig = app("postgres", "dcs-config");
const prometheus = app("prometheus", "monitoring");
const grafana = app("grafana", "dashboards");
const kubeStateMetrics = app("kube-state-metrics", "monitoring");

const input: NetworkPolicyInput = {
    loadBalancer: { labels: lb, listenPorts: [8080] },
    gateways: { labels: gateway, port: 8080 },
    services: [
        { name: "api-gateway", labels: gateway, port: 8080, usesDatabase: true },
        { name: "user-service", labels: users, port: 3001, usesDatabase: true },
        { name: "report-service", labels: reports, port: 3002, usesDatabase: false },
    ],
    pgbouncer: { labels: pgbouncer, port: 6432 },
    postgresPrimary: { labels: primary, port: 5432 },
    postgresMembers: { labels: members, port: 5432, patroniPort: 8008, dynamicConfigJobLabels: postgresDcsConfig },
    postgresStandbys: { labels: { ...members, role: "replica" }, port: 5432 },
    redis: { labels: redis, port: 6379, busPort: 16379, bootstrapLabels: redisBootstrap },
    prometheus: { labels: prometheus, port: 9090 },
    grafana: { labels: grafana, port: 3000 },
    metricsTargets: [
        { name: "redis-exporter", labels: redis, ports: [9121] },
        { name: "postgres-exporter", labels: members, ports: [9187] },
        { name: "nginx-exporters", labels: lb, ports: [9113, 4040] },
        { name: "api-gateway", labels: gateway, ports: [8080] },
        { name: "user-service", labels: users, ports: [3001] },
        { name: "kube-state-metrics", labels: kubeStateMetrics, ports: [8080] },
    ],
    kubernetesApi: { cidrs: ["10.0.0.1/32"], ports: [6443] },
    kubernetesApiClients: [{ name: "kube-state-metrics", labels: kubeStateMetrics }],
    kubelets: { cidrs: ["192.168.0.0/16"], ports: [10250] },
};
const policies = renderNetworkPolicies(input);
const byName = (name: string): RenderedPolicy => {
    const found = policies.find((p) => p.name === name);
    if (!found) throw new Error(`no policy ${name} (have ${policies.map((p) => p.name).join(", ")})`);
    return found;
};

// ---- A reader of NetworkPolicy semantics, enough for these policies --------------------------
/** A party to a connection: a pod of our namespace, a pod elsewhere, or an address outside the cluster. */
type Endpoint = { pod: Record<string, string> } | { pod: Record<string, string>; namespace: Record<string, string> } | { address: string };
const inNamespace = (endpoint: Endpoint): endpoint is { pod: Record<string, string> } => "pod" in endpoint && !("namespace" in endpoint);
const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
    Object.entries(selector ?? {}).every(([key, value]) => labels[key] === value);
const cidrContains = (cidr: string, address: string): boolean => {
    const [base, bits] = cidr.split("/");
    const toInt = (ip: string) => ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
    const blockSize = 2 ** (32 - Number(bits));
    return Math.floor(toInt(base) / blockSize) === Math.floor(toInt(address) / blockSize);
};
function peerMatches(peer: PolicyPeer, endpoint: Endpoint): boolean {
    if (peer.ipBlock) return "address" in endpoint && cidrContains(peer.ipBlock.cidr, endpoint.address);
    if (!("pod" in endpoint)) return false;
    if (peer.namespaceSelector) {
        return "namespace" in endpoint && matches(peer.namespaceSelector.matchLabels, endpoint.namespace) && matches(peer.podSelector?.matchLabels, endpoint.pod);
    }
    return inNamespace(endpoint) && matches(peer.podSelector?.matchLabels, endpoint.pod);
}
function ruleAllows(rule: { peers?: PolicyPeer[]; ports: { protocol: string; port: number }[] }, other: Endpoint, port: number, protocol: string): boolean {
    const peerOk = rule.peers === undefined || rule.peers.some((peer) => peerMatches(peer, other));
    return peerOk && rule.ports.some((p) => p.port === port && p.protocol === protocol);
}
/** The policies of one direction that select a pod: none selecting it means that direction is open. */
const selecting = (type: "Ingress" | "Egress", labels: Record<string, string>) =>
    policies.filter((p) => p.spec.policyTypes.includes(type) && matches(p.spec.podSelector.matchLabels, labels));
/** Whether `from` may open a connection to `to` on port/protocol under all the policies. */
function allowed(from: Endpoint, to: Endpoint, port: number, protocol: "TCP" | "UDP" = "TCP"): boolean {
    const egress = inNamespace(from) ? selecting("Egress", from.pod) : [];
    const egressOk = egress.length === 0 || egress.some((p) => (p.spec.egress ?? []).some((rule) => ruleAllows({ peers: rule.to, ports: rule.ports }, to, port, protocol)));
    const ingress = inNamespace(to) ? selecting("Ingress", to.pod) : [];
    const ingressOk = ingress.length === 0 || ingress.some((p) => (p.spec.ingress ?? []).some((rule) => ruleAllows({ peers: rule.from, ports: rule.ports }, from, port, protocol)));
    return egressOk && ingressOk;
}
const pod = (labels: Record<string, string>): Endpoint => ({ pod: labels });
const internet: Endpoint = { address: "203.0.113.7" };
const apiServer: Endpoint = { address: "10.0.0.1" };
const kubelet: Endpoint = { address: "192.168.3.4" };
const kubeDns: Endpoint = { pod: { "k8s-app": "kube-dns" }, namespace: { "kubernetes.io/metadata.name": "kube-system" } };
const replica = pod({ ...members, role: "replica" });
// ------------------------------------------------------------------------------------------------

describe("rendered policies", () => {
    test("every policy is present, default deny first", () => {
        expect(policies.map((p) => p.name)).toEqual([
            "default-deny",
            "allow-dns",
            "loadbalancer",
            "service-api-gateway",
            "service-user-service",
            "service-report-service",
            "pgbouncer",
            "postgres-primary",
            "postgres-standbys",
            "postgres-members",
            "postgres-dcs-config",
            "redis",
            "redis-bootstrap",
            "prometheus",
            "grafana",
            "kubernetes-api-kube-state-metrics",
            "metrics-redis-exporter",
            "metrics-postgres-exporter",
            "metrics-nginx-exporters",
            "metrics-api-gateway",
            "metrics-user-service",
            "metrics-kube-state-metrics",
        ]);
    });

    test("default deny selects every pod, both directions, with no rule", () => {
        expect(byName("default-deny").spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    });

    test("DNS: every pod to kube-dns in kube-system on UDP and TCP 53", () => {
        expect(byName("allow-dns").spec).toEqual({
            podSelector: {},
            policyTypes: ["Egress"],
            egress: [
                {
                    to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
                    ports: [
                        { protocol: "UDP", port: 53 },
                        { protocol: "TCP", port: 53 },
                    ],
                },
            ],
        });
    });

    test("load balancer: anyone in on its listen port, out only to the gateways' port", () => {
        expect(byName("loadbalancer").spec).toEqual({
            podSelector: { matchLabels: lb },
            policyTypes: ["Ingress", "Egress"],
            ingress: [{ ports: [{ protocol: "TCP", port: 8080 }] }],
            egress: [{ to: [{ podSelector: { matchLabels: gateway } }], ports: [{ protocol: "TCP", port: 8080 }] }],
        });
    });

    test("PgBouncer to the primary selects the leader role label", () => {
        expect(byName("pgbouncer").spec.egress).toEqual([{ to: [{ podSelector: { matchLabels: primary } }], ports: [{ protocol: "TCP", port: 5432 }] }]);
        expect(byName("postgres-primary").spec.podSelector.matchLabels).toEqual(primary);
    });

    test("Patroni members: 5432 and 8008 among themselves, and the Kubernetes API; 8008 from the dynamic-config Job", () => {
        const spec = byName("postgres-members").spec;
        expect(spec.ingress).toEqual([
            { from: [{ podSelector: { matchLabels: members } }], ports: [{ protocol: "TCP", port: 5432 }, { protocol: "TCP", port: 8008 }] },
            { from: [{ podSelector: { matchLabels: postgresDcsConfig } }], ports: [{ protocol: "TCP", port: 8008 }] },
        ]);
        expect(spec.egress).toEqual([
            { to: [{ podSelector: { matchLabels: members } }], ports: [{ protocol: "TCP", port: 5432 }, { protocol: "TCP", port: 8008 }] },
            { to: [{ ipBlock: { cidr: "10.0.0.1/32" } }], ports: [{ protocol: "TCP", port: 6443 }] },
        ]);
    });

    test("only the load balancer accepts any source; every rule names ports", () => {
        const open = policies.flatMap((p) => (p.spec.ingress ?? []).filter((rule) => rule.from === undefined).map(() => p.name));
        expect(open).toEqual(["loadbalancer"]);
        for (const p of policies) {
            for (const rule of p.spec.egress ?? []) {
                if (p.name !== "allow-dns") expect(rule.to?.length).toBeGreaterThan(0);
                expect(rule.ports.length).toBeGreaterThan(0);
            }
            for (const rule of p.spec.ingress ?? []) {
                if (rule.from !== undefined) expect(rule.from.length).toBeGreaterThan(0);
                expect(rule.ports.length).toBeGreaterThan(0);
            }
        }
    });

    test("no default address: the Kubernetes API and the kubelets must be given, and never as the whole internet", () => {
        // The types require both; a caller that gets around them (JavaScript, a cast) still gets an error, not the internet.
        const { kubernetesApi: _api, ...withoutApi } = input;
        const { kubelets: _kubelets, ...withoutKubelets } = input;
        expect(() => renderNetworkPolicies(withoutApi as NetworkPolicyInput)).toThrow("renderNetworkPolicies: kubernetesApi is required");
        expect(() => renderNetworkPolicies(withoutKubelets as NetworkPolicyInput)).toThrow("renderNetworkPolicies: kubelets is required");
        expect(() => renderNetworkPolicies({ ...input, kubernetesApi: { cidrs: ["10.0.0.1/32", "0.0.0.0/0"], ports: [443] } })).toThrow(
            "renderNetworkPolicies: kubernetesApi must not hold 0.0.0.0/0 (the whole internet)",
        );
        const egress = policies.find((p) => p.name === "prometheus")?.spec.egress ?? [];
        expect(egress.slice(-2)).toEqual([
            { to: [{ ipBlock: { cidr: "10.0.0.1/32" } }], ports: [{ protocol: "TCP", port: 6443 }] },
            { to: [{ ipBlock: { cidr: "192.168.0.0/16" } }], ports: [{ protocol: "TCP", port: 10250 }] },
        ]);
    });

    test("the backup repository's object store: members reach it on 443 only when they back up to it, and only they", () => {
        const egressOf = (rendered: RenderedPolicy[], name: string) => rendered.find((p) => p.name === name)?.spec.egress ?? [];
        const store = { to: [{ ipBlock: { cidr: "52.216.0.0/15" } }], ports: [{ protocol: "TCP", port: 443 }] };
        const withS3 = renderNetworkPolicies({ ...input, postgresMembers: { ...input.postgresMembers, backsUpToObjectStorage: true }, backupRepository: { cidrs: ["52.216.0.0/15"], ports: [443] } });
        expect(egressOf(withS3, "postgres-members")).toContainEqual(store);
        for (const other of withS3.filter((p) => p.name !== "postgres-members")) expect(egressOf(withS3, other.name)).not.toContainEqual(store);
        expect(egressOf(policies, "postgres-members").some((rule) => JSON.stringify(rule.ports).includes('"port":443'))).toBe(false);
        // A repository given but not used opens nothing.
        const unused = renderNetworkPolicies({ ...input, backupRepository: { cidrs: ["52.216.0.0/15"], ports: [443] } });
        for (const p of unused) expect(egressOf(unused, p.name)).not.toContainEqual(store);
        // No default address: left out while the members back up to it, it is an error, not the internet.
        expect(() => renderNetworkPolicies({ ...input, postgresMembers: { ...input.postgresMembers, backsUpToObjectStorage: true } })).toThrow(
            "renderNetworkPolicies: backupRepository is required",
        );
        const backingUp = { ...input.postgresMembers, backsUpToObjectStorage: true };
        expect(() => renderNetworkPolicies({ ...input, postgresMembers: backingUp, backupRepository: { cidrs: [], ports: [443] } })).toThrow("backupRepository must list at least one CIDR and one port");
        expect(() => renderNetworkPolicies({ ...input, postgresMembers: backingUp, backupRepository: { cidrs: ["0.0.0.0/0"], ports: [443] } })).toThrow(
            "backupRepository must not hold 0.0.0.0/0 (the whole internet)",
        );
    });

    test("NodeLocal DNSCache: its address is allowed on 53 beside kube-dns, only when configured", () => {
        const dns = { namespaceLabels: { "kubernetes.io/metadata.name": "kube-system" }, podLabels: { "k8s-app": "kube-dns" }, port: 53 };
        const withCache = renderNetworkPolicies({ ...input, dns: { ...dns, nodeLocalCacheAddress: "169.254.20.10" } });
        const to = (rendered: RenderedPolicy[]) => rendered.find((p) => p.name === "allow-dns")?.spec.egress?.[0].to;
        expect(to(withCache)).toContainEqual({ ipBlock: { cidr: "169.254.20.10/32" } });
        expect(to(renderNetworkPolicies({ ...input, dns }))).toEqual([{ namespaceSelector: { matchLabels: dns.namespaceLabels }, podSelector: { matchLabels: dns.podLabels } }]);
    });

    test("no database user => PgBouncer accepts nobody (no empty 'from', which would mean everyone)", () => {
        const rendered = renderNetworkPolicies({ ...input, services: input.services.map((s) => ({ ...s, usesDatabase: false })) });
        const bouncer = rendered.find((p) => p.name === "pgbouncer");
        expect(bouncer?.spec.ingress).toBeUndefined();
        expect(bouncer?.spec.policyTypes).toEqual(["Egress"]);
    });

    test("empty port and address lists are refused (none = every port / address)", () => {
        expect(() => renderNetworkPolicies({ ...input, loadBalancer: { labels: lb, listenPorts: [] } })).toThrow("loadBalancer.listenPorts must list at least one port");
        expect(() => renderNetworkPolicies({ ...input, metricsTargets: [{ name: "x", labels: lb, ports: [] }] })).toThrow("metricsTargets x must list at least one port");
        expect(() => renderNetworkPolicies({ ...input, kubernetesApi: { cidrs: [], ports: [443] } })).toThrow("kubernetesApi must list at least one CIDR and one port");
        expect(() => renderNetworkPolicies({ ...input, kubelets: { cidrs: ["10.0.0.0/8"], ports: [] } })).toThrow("kubelets must list at least one CIDR and one port");
    });
});

describe("flows, read with Kubernetes semantics", () => {
    // Every row names its protocol: jest hands a shorter row's missing argument a done callback.
    const cases: [string, Endpoint, Endpoint, number, "TCP" | "UDP"][] = [
        ["internet -> load balancer", internet, pod(lb), 8080, "TCP"],
        ["load balancer -> gateway", pod(lb), pod(gateway), 8080, "TCP"],
        ["gateway -> user-service", pod(gateway), pod(users), 3001, "TCP"],
        ["gateway -> report-service", pod(gateway), pod(reports), 3002, "TCP"],
        ["gateway -> PgBouncer", pod(gateway), pod(pgbouncer), 6432, "TCP"],
        ["user-service -> PgBouncer", pod(users), pod(pgbouncer), 6432, "TCP"],
        ["user-service -> Redis", pod(users), pod(redis), 6379, "TCP"],
        ["report-service -> Redis", pod(reports), pod(redis), 6379, "TCP"],
        ["PgBouncer -> primary", pod(pgbouncer), pod(primary), 5432, "TCP"],
        ["user-service -> a standby (postgres-ro reads)", pod(users), replica, 5432, "TCP"],
        ["gateway -> a standby (postgres-ro reads)", pod(gateway), replica, 5432, "TCP"],
        ["replica -> primary (replication)", replica, pod(primary), 5432, "TCP"],
        ["primary -> replica (pg_rewind after failover)", pod(primary), replica, 5432, "TCP"],
        ["replica -> primary Patroni REST", replica, pod(primary), 8008, "TCP"],
        ["Patroni -> Kubernetes API", replica, apiServer, 6443, "TCP"],
        ["Redis -> Redis client port", pod(redis), pod(redis), 6379, "TCP"],
        ["Redis -> Redis cluster bus", pod(redis), pod(redis), 16379, "TCP"],
        ["Redis bootstrap -> Redis", pod(redisBootstrap), pod(redis), 6379, "TCP"],
        ["dynamic-config Job -> the leader's Patroni REST API", pod(postgresDcsConfig), pod(primary), 8008, "TCP"],
        ["dynamic-config Job -> a standby's Patroni REST API", pod(postgresDcsConfig), replica, 8008, "TCP"],
        ["Prometheus -> redis_exporter", pod(prometheus), pod(redis), 9121, "TCP"],
        ["Prometheus -> postgres_exporter", pod(prometheus), pod(primary), 9187, "TCP"],
        ["Prometheus -> nginx stub_status exporter", pod(prometheus), pod(lb), 9113, "TCP"],
        ["Prometheus -> nginx access-log exporter", pod(prometheus), pod(lb), 4040, "TCP"],
        ["Prometheus -> user-service metrics", pod(prometheus), pod(users), 3001, "TCP"],
        ["Prometheus -> Kubernetes API", pod(prometheus), apiServer, 6443, "TCP"],
        ["Prometheus -> kubelet", pod(prometheus), kubelet, 10250, "TCP"],
        ["Prometheus -> kube-state-metrics", pod(prometheus), pod(kubeStateMetrics), 8080, "TCP"],
        ["kube-state-metrics -> Kubernetes API", pod(kubeStateMetrics), apiServer, 6443, "TCP"],
        ["Grafana -> Prometheus", pod(grafana), pod(prometheus), 9090, "TCP"],
        ["any pod -> DNS (UDP)", pod(users), kubeDns, 53, "UDP"],
        ["any pod -> DNS (TCP)", pod(redis), kubeDns, 53, "TCP"],
    ];
    test.each(cases)("allowed: %s", (_, from, to, port, protocol) => {
        expect(allowed(from, to, port, protocol)).toBe(true);
    });

    const denied: [string, Endpoint, Endpoint, number][] = [
        ["internet -> gateway", internet, pod(gateway), 8080],
        ["internet -> Prometheus", internet, pod(prometheus), 9090],
        ["internet -> Grafana (no source configured: port-forward only)", internet, pod(grafana), 3000],
        ["a pod of another namespace -> Grafana", { pod: { app: "x" }, namespace: { "kubernetes.io/metadata.name": "other" } }, pod(grafana), 3000],
        ["a service of the stack -> Grafana", pod(users), pod(grafana), 3000],
        ["load balancer -> user-service", pod(lb), pod(users), 3001],
        ["load balancer -> PgBouncer", pod(lb), pod(pgbouncer), 6432],
        ["gateway -> primary, bypassing PgBouncer", pod(gateway), pod(primary), 5432],
        ["report-service (no pool) -> a standby", pod(reports), replica, 5432],
        ["user-service -> a standby's Patroni API", pod(users), replica, 8008],
        ["dynamic-config Job -> PostgreSQL (it needs only Patroni's API)", pod(postgresDcsConfig), pod(primary), 5432],
        ["dynamic-config Job -> Kubernetes API", pod(postgresDcsConfig), apiServer, 6443],
        ["report-service (no pool) -> PgBouncer", pod(reports), pod(pgbouncer), 6432],
        ["user-service -> gateway", pod(users), pod(gateway), 8080],
        ["user-service -> report-service", pod(users), pod(reports), 3002],
        ["gateway -> user-service on another service's port", pod(gateway), pod(users), 3002],
        ["service -> Redis cluster bus", pod(users), pod(redis), 16379],
        ["PgBouncer -> replica", pod(pgbouncer), replica, 5432],
        ["PgBouncer -> Redis", pod(pgbouncer), pod(redis), 6379],
        ["service -> Kubernetes API", pod(users), apiServer, 6443],
        ["service -> kubelet", pod(users), kubelet, 10250],
        ["Prometheus -> kubelet read-only port", pod(prometheus), kubelet, 10255],
        ["kube-state-metrics -> internet", pod(kubeStateMetrics), internet, 443],
        ["service -> internet", pod(users), internet, 443],
        ["Redis -> internet", pod(redis), internet, 443],
        ["Grafana -> a service", pod(grafana), pod(users), 3001],
        ["Prometheus -> PgBouncer (no metrics target)", pod(prometheus), pod(pgbouncer), 6432],
        ["Prometheus -> nginx's stub_status port (the sidecar reads it on loopback)", pod(prometheus), pod(lb), 8081],
        ["Prometheus -> Redis client port", pod(prometheus), pod(redis), 6379],
        ["DNS on another port", pod(users), kubeDns, 5353],
    ];
    test.each(denied)("denied: %s", (_, from, to, port) => {
        expect(allowed(from, to, port)).toBe(false);
    });
});

describe("the stack's `network` section", () => {
    const withNetwork = (network: unknown) => {
        const raw = structuredClone(readStackConfig("dev")) as Record<string, unknown>;
        raw.network = network;
        return raw;
    };

    const kind = { kubernetesApi: { cidrs: ["172.16.0.0/12", "10.96.0.1/32"], ports: [443, 6443] }, kubelets: { cidrs: ["172.16.0.0/12"] } };

    test("dev names kind's ranges; defaults: the ports (API 443/6443, kubelets 10250), kube-dns, no node-local cache, no Grafana source", () => {
        expect(parseStackConfig("dev", readStackConfig("dev")).network).toEqual({
            ...NETWORK_POLICY_DEFAULTS,
            kubernetesApi: kind.kubernetesApi,
            kubelets: { cidrs: ["172.16.0.0/12"], ports: [10250] },
        });
        expect(parseStackConfig("dev", withNetwork({ ...kind, kubernetesApi: { cidrs: ["10.0.0.1/32"] } })).network.kubernetesApi?.ports).toEqual([443, 6443]);
        expect(NETWORK_POLICY_DEFAULTS.dns.nodeLocalCacheAddress).toBeUndefined();
        expect(NETWORK_POLICY_DEFAULTS.grafanaSources).toEqual([]);
    });

    test("its values reach the policies: the API server's address, the node-local DNS cache", () => {
        const config = parseStackConfig("dev", withNetwork({ ...kind, kubernetesApi: { cidrs: ["172.18.0.2/32"] }, dns: { nodeLocalCacheAddress: "169.254.20.10" } }));
        const rendered = renderNetworkPolicies({ ...input, ...config.network });
        const prometheusEgress = rendered.find((p) => p.name === "prometheus")?.spec.egress ?? [];
        expect(prometheusEgress).toContainEqual({ to: [{ ipBlock: { cidr: "172.18.0.2/32" } }], ports: [443, 6443].map((port) => ({ protocol: "TCP", port })) });
        expect(rendered.find((p) => p.name === "allow-dns")?.spec.egress?.[0].to).toContainEqual({ ipBlock: { cidr: "169.254.20.10/32" } });
    });

    test("bad values are refused with the key path", () => {
        expect(configErrorOf(withNetwork({ ...kind, dns: { nodeLocalCacheAddress: "localhost" } }), "dev")).toBe(
            'dev: network.dns.nodeLocalCacheAddress must be an IPv4 address such as 169.254.20.10 (got "localhost")',
        );
        expect(configErrorOf(withNetwork({ ...kind, kubernetesApi: { cidrs: [] } }), "dev")).toBe("dev: network.kubernetesApi.cidrs must have at least 1 entry (got [])");
        expect(configErrorOf(withNetwork({ ...kind, kubelets: { cidrs: ["10.0.0.0/33"] } }), "dev")).toBe('dev: network.kubelets.cidrs[0] must be an IPv4 CIDR such as 10.0.0.0/8 (got "10.0.0.0/33")');
        expect(configErrorOf(withNetwork({ ...kind, kubelets: { cidrs: ["0.0.0.0/0"] } }), "dev")).toBe(
            'dev: network.kubelets.cidrs[0] must be a CIDR narrower than /0 (a /0 block is the whole internet) (got "0.0.0.0/0")',
        );
        expect(configErrorOf(withNetwork({ ...kind, grafanaSources: [{ cidr: "0.0.0.0/0" }] }), "dev")).toMatch(/^dev: network\.grafanaSources\[0\] must be either \{ cidr \}/);
        expect(configErrorOf(withNetwork({ ...kind, grafanaSources: [{ podLabels: {} }] }), "dev")).toBe(
            "dev: network.grafanaSources[0].podLabels must have at least one label (an empty selector selects everything) (got {})",
        );
        expect(configErrorOf(withNetwork({ ...kind, grafanaSources: [{}] }), "dev")).toBe("dev: network.grafanaSources[0] must set namespaceLabels, podLabels or both (got {})");
    });

    test("a stack that leaves an address out fails with the key and what to put there (no internet-wide default)", () => {
        expect(configErrorOf(withNetwork({ kubelets: kind.kubelets }), "dev")).toMatch(/^dev: network\.kubernetesApi must be set: \{ cidrs: \[the API server's address\(es\)\], ports: \[its port\] \}.* \(not set\)$/);
        expect(configErrorOf(withNetwork({ kubernetesApi: kind.kubernetesApi }), "dev")).toMatch(/^dev: network\.kubelets must be set: \{ cidrs: \[the node network's range\] \}.* \(not set\)$/);
        const prod = structuredClone(readStackConfig("prod")) as Record<string, Record<string, unknown>>;
        delete prod.network.backupRepository;
        expect(configErrorOf(prod, "prod")).toMatch(/^prod: network\.backupRepository must be set when postgres\.backup\.repository is S3: .* \(not set\)$/);
        // A stack file without the section at all: both required keys named, one line each.
        const bare = structuredClone(readStackConfig("prod")) as Record<string, unknown>;
        delete bare.network;
        expect(configErrorOf(bare, "prod").split("\n").map((line) => line.split(" must be set: ")[0])).toEqual(["prod: network.kubernetesApi", "prod: network.kubelets"]);
        // Dev backs up to a volume: it needs no object store range.
        expect(parseStackConfig("dev", readStackConfig("dev")).network.backupRepository).toBeUndefined();
    });

    test("Grafana's sources: none by default (no ingress rule at all), else exactly the configured CIDRs and selectors", () => {
        expect(byName("grafana").spec.ingress).toBeUndefined();
        expect(byName("grafana").spec.policyTypes).toEqual(["Egress"]);
        const sources = [
            { cidr: "10.20.0.0/16" },
            { namespaceLabels: { "kubernetes.io/metadata.name": "ingress-nginx" }, podLabels: { "app.kubernetes.io/name": "ingress-nginx" } },
            { podLabels: { role: "dashboards-proxy" } },
        ];
        const config = parseStackConfig("dev", withNetwork({ ...kind, grafanaSources: sources }));
        const grafanaPolicy = renderNetworkPolicies({ ...input, ...config.network }).find((p) => p.name === "grafana");
        expect(grafanaPolicy?.spec.ingress).toEqual([
            {
                from: [
                    { ipBlock: { cidr: "10.20.0.0/16" } },
                    { namespaceSelector: { matchLabels: sources[1].namespaceLabels }, podSelector: { matchLabels: sources[1].podLabels } },
                    { podSelector: { matchLabels: { role: "dashboards-proxy" } } },
                ],
                ports: [{ protocol: "TCP", port: 3000 }],
            },
        ]);
        expect(() => renderNetworkPolicies({ ...input, grafanaSources: [{ cidr: "0.0.0.0/0" }] })).toThrow("grafanaSources must not hold 0.0.0.0/0");
        expect(() => renderNetworkPolicies({ ...input, grafanaSources: [{}] })).toThrow("a grafanaSources selector needs namespaceLabels or podLabels");
        expect(() => renderNetworkPolicies({ ...input, grafanaSources: [{ podLabels: {} }] })).toThrow("a grafanaSources selector needs namespaceLabels or podLabels");
    });
});

describe("the render scanners of the stack tests (security-expectations.ts) catch what they look for", () => {
    const netpol = (name: string, spec: object) => ({ kind: "NetworkPolicy", metadata: { name }, spec });

    test("internet-wide blocks: 0.0.0.0/0 and ::/0 in either direction, and a rule with no peers", () => {
        const objects = [
            netpol("v4", { egress: [{ to: [{ ipBlock: { cidr: "10.0.0.1/32" } }, { ipBlock: { cidr: "0.0.0.0/0" } }], ports: [] }] }),
            netpol("v6", { ingress: [{ from: [{ ipBlock: { cidr: "::/0" } }], ports: [] }] }),
            netpol("open", { egress: [{ ports: [{ protocol: "TCP", port: 443 }] }] }),
            netpol("narrow", { egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/8" } }, { podSelector: {} }], ports: [] }], ingress: [{ from: [{ podSelector: {} }], ports: [] }] }),
            { kind: "ConfigMap", metadata: { name: "c" }, data: { cidr: "0.0.0.0/0" } },
        ];
        expect(internetWideBlocks(objects)).toEqual(["v4 egress: 0.0.0.0/0", "v6 ingress: ::/0", "open egress: no to (every address)"]);
        expect(internetWideBlocks(policies.map((p) => netpol(p.name, p.spec)))).toEqual(["loadbalancer ingress: no from (every address)"]);
    });

    test("token mounts: the pod's field wins, then its ServiceAccount's, then Kubernetes' default (mounted)", () => {
        const accounts = [
            { kind: "ServiceAccount", metadata: { name: "quiet" }, automountServiceAccountToken: false },
            { kind: "ServiceAccount", metadata: { name: "plain" } },
        ];
        expect(mountsToken({ serviceAccountName: "quiet" }, accounts)).toBe(false);
        expect(mountsToken({ serviceAccountName: "quiet", automountServiceAccountToken: true }, accounts)).toBe(true);
        expect(mountsToken({ serviceAccountName: "plain" }, accounts)).toBe(true);
        expect(mountsToken({ serviceAccountName: "plain", automountServiceAccountToken: false }, accounts)).toBe(false);
        expect(mountsToken({}, accounts)).toBe(true);
    });
});
