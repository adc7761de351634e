// The stack's NetworkPolicies: default deny in the namespace, then exactly the flows the system
// needs. renderNetworkPolicies is pure (label sets and ports in, policy specs out) so the unit
// tests read every rule; createNetworkPolicies turns the specs into Kubernetes objects.
//
// Policies are additive: a pod selected by several policies may do what any of them allows, and
// traffic must be allowed on both ends (egress of the client, ingress of the server) because the
// default deny covers both directions. A pod can always reach itself, and most CNIs let the
// kubelet on the pod's node probe it regardless of policies.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { standardLabels } from "../k8s";
import { CLUSTER_DNS_DEFAULTS, GrafanaSource, NetworkSettings } from "./args";

/** A label selector; an empty one selects every pod of the namespace. */
export interface LabelSelector {
    matchLabels?: Record<string, string>;
}

/** One port of a rule. */
export interface PolicyPort {
    protocol: "TCP" | "UDP";
    port: number;
}

/** A peer: pods (of this namespace unless namespaceSelector is set) or an address block. */
export interface PolicyPeer {
    podSelector?: LabelSelector;
    namespaceSelector?: LabelSelector;
    ipBlock?: { cidr: string };
}

/** The spec of a NetworkPolicy. A rule without `from`/`to` matches every peer. */
export interface NetworkPolicySpec {
    podSelector: LabelSelector;
    policyTypes: ("Ingress" | "Egress")[];
    ingress?: { from?: PolicyPeer[]; ports: PolicyPort[] }[];
    egress?: { to?: PolicyPeer[]; ports: PolicyPort[] }[];
}

/** One rendered policy: its object name, why it exists, and its spec. */
export interface RenderedPolicy {
    /** metadata.name of the NetworkPolicy. */
    name: string;
    /** What the policy allows, in words (an annotation on the object and the README). */
    purpose: string;
    spec: NetworkPolicySpec;
}

/** Pods of one workload and the port they serve. */
export interface PodsOnPort {
    /** Labels every pod of the workload carries (used as matchLabels). */
    labels: Record<string, string>;
    port: number;
}

/** Everything the policies are rendered from: label sets and ports of every workload. */
export interface NetworkPolicyInput {
    /** The nginx tier: reachable from anywhere on its listen ports. */
    loadBalancer: { labels: Record<string, string>; listenPorts: number[] };
    /** The service the load balancer proxies to (pods behind its headless Service), on its port. */
    gateways: PodsOnPort;
    /** Every service of the fleet (the gateway included). */
    services: { name: string; labels: Record<string, string>; port: number; usesDatabase: boolean }[];
    /** PgBouncer pods and their client port. */
    pgbouncer: PodsOnPort;
    /** The current PostgreSQL leader: member labels plus the leader role label Patroni sets. */
    postgresPrimary: PodsOnPort;
    /**
     * Every Patroni member (leader and replicas): PostgreSQL port and Patroni REST port (8008);
     * `dynamicConfigJobLabels` = the pods of the Job applying Patroni's dynamic configuration;
     * `backsUpToObjectStorage` = the members reach the backup repository (`backupRepository`).
     */
    postgresMembers: { labels: Record<string, string>; port: number; patroniPort: number; dynamicConfigJobLabels?: Record<string, string>; backsUpToObjectStorage?: boolean };
    /**
     * The streaming standbys (member labels plus Patroni's replica role label), which `<name>-ro`
     * selects: the services that use the database may read from them.
     */
    postgresStandbys: PodsOnPort;
    /** Redis cluster pods: client port and cluster bus port; `bootstrapLabels` = the pods of the cluster-forming Job. */
    redis: { labels: Record<string, string>; port: number; busPort: number; bootstrapLabels?: Record<string, string> };
    /** Prometheus pods and their HTTP port (Grafana queries it). */
    prometheus: PodsOnPort;
    /** Grafana pods and their HTTP port (reachable from anywhere: users open it; it has its own login). */
    grafana: PodsOnPort;
    /** Every scrape target: the pods and the ports of their metrics endpoints (exporter sidecars, services). */
    metricsTargets: { name: string; labels: Record<string, string>; ports: number[] }[];
    /**
     * Where the Kubernetes API is, for Patroni (its DCS) and Prometheus (service discovery): an
     * address no label selects. Required (no default: it would be the internet); fields: network/args.ts.
     */
    kubernetesApi: NetworkSettings["kubernetesApi"];
    /** Further pods that read the Kubernetes API (e.g. kube-state-metrics): each gets egress to it. */
    kubernetesApiClients?: { name: string; labels: Record<string, string> }[];
    /** The kubelets Prometheus scrapes for volume statistics (PVC usage); required; see network/args.ts. */
    kubelets: NetworkSettings["kubelets"];
    /** The object store of PostgreSQL's backup repository; required when the members back up to it; see network/args.ts. */
    backupRepository?: NetworkSettings["backupRepository"];
    /** Who may reach Grafana's HTTP port (default none: port-forward only); see network/args.ts. */
    grafanaSources?: GrafanaSource[];
    /** The cluster DNS pods and an optional NodeLocal DNSCache address; see network/args.ts. */
    dns?: ClusterDns;
    /**
     * Alertmanager pods: `port` receives Prometheus' alerts, `clusterPort` (TCP and UDP) is the
     * replicas' gossip; `notifies` = a receiver is configured, so they reach `alertReceivers`.
     */
    alertmanager?: { labels: Record<string, string>; port: number; clusterPort: number; notifies: boolean };
    /** Where Alertmanager's notifications go; see network/args.ts. */
    alertReceivers?: NetworkSettings["alertReceivers"];
}

/** Where the cluster DNS runs: its namespace's and pods' labels, its port, and a node-local cache. */
type ClusterDns = NetworkSettings["dns"];

/** Defaults of the optional inputs that have one: the cluster DNS and no Grafana source (network/args.ts). */
export const NETWORK_POLICY_DEFAULTS: Pick<NetworkSettings, "dns" | "grafanaSources"> = { dns: CLUSTER_DNS_DEFAULTS, grafanaSources: [] };

const tcp = (...ports: number[]): PolicyPort[] => ports.map((port) => ({ protocol: "TCP", port }));
const pods = (labels: Record<string, string>): PolicyPeer => ({ podSelector: { matchLabels: { ...labels } } });
const sameLabels = (a: Record<string, string>, b: Record<string, string>): boolean =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([key, value]) => b[key] === value);

/**
 * Rules towards or from a list of peers. An empty peer list yields no rule at all: in Kubernetes
 * an empty `from`/`to` means "every peer", the opposite of what a list with nobody in it means.
 */
function fromPeers(peers: PolicyPeer[], ports: PolicyPort[]): { from: PolicyPeer[]; ports: PolicyPort[] }[] {
    return peers.length > 0 ? [{ from: peers, ports }] : [];
}
function toPeers(peers: PolicyPeer[], ports: PolicyPort[]): { to: PolicyPeer[]; ports: PolicyPort[] }[] {
    return peers.length > 0 ? [{ to: peers, ports }] : [];
}

/** A policy over the pods with `labels`; policyTypes follow from the rules present. */
function policy(
    name: string,
    purpose: string,
    labels: Record<string, string>,
    ingress: { from?: PolicyPeer[]; ports: PolicyPort[] }[],
    egress: { to?: PolicyPeer[]; ports: PolicyPort[] }[],
): RenderedPolicy {
    const spec: NetworkPolicySpec = { podSelector: { matchLabels: { ...labels } }, policyTypes: [] };
    if (ingress.length > 0) {
        spec.policyTypes.push("Ingress");
        spec.ingress = ingress;
    }
    if (egress.length > 0) {
        spec.policyTypes.push("Egress");
        spec.egress = egress;
    }
    return { name, purpose, spec };
}

/**
 * Every NetworkPolicy of the stack, in a fixed order:
 * default deny; DNS for all; load balancer; one per service; PgBouncer; PostgreSQL primary and
 * members; Redis (and its bootstrap Job); Prometheus; Grafana; one per further Kubernetes API
 * client; one per metrics target.
 */
export function renderNetworkPolicies(input: NetworkPolicyInput): RenderedPolicy[] {
    const endpoints = clusterEndpoints(input);
    return [
        ...namespaceBaseline(endpoints.dns),
        ...edgePolicies(input),
        ...dataPolicies(input, endpoints.apiEgress, endpoints.backupEgress),
        ...monitoringPolicies(input, endpoints),
        ...alertmanagerPolicies(input, endpoints.alertEgress),
    ];
}

/** An egress rule to some CIDRs on some TCP ports. */
type EgressRule = { to: PolicyPeer[]; ports: PolicyPort[] };

/**
 * The defaults applied and the input checked: a rule with no ports allows every port and one with no
 * peers every address, so an empty list here would open a policy wide; and an address block left out
 * has no default, which would be the whole internet.
 */
function clusterEndpoints(input: NetworkPolicyInput): { dns: ClusterDns; apiEgress: EgressRule; kubeletEgress: EgressRule; backupEgress: EgressRule | undefined; alertEgress: EgressRule | undefined } {
    if (input.loadBalancer.listenPorts.length === 0) throw new Error("renderNetworkPolicies: loadBalancer.listenPorts must list at least one port");
    for (const target of input.metricsTargets) {
        if (target.ports.length === 0) throw new Error(`renderNetworkPolicies: metricsTargets ${target.name} must list at least one port`);
    }
    const api = requiredEndpoints("kubernetesApi", input.kubernetesApi);
    const kubelets = requiredEndpoints("kubelets", input.kubelets);
    // Needed only by the members, and only when they back up to object storage.
    const backupRepository = input.postgresMembers.backsUpToObjectStorage ? requiredEndpoints("backupRepository", input.backupRepository) : undefined;
    // Needed only by Alertmanager, and only when it has a receiver to notify.
    const alertReceivers = input.alertmanager?.notifies ? requiredEndpoints("alertReceivers", input.alertReceivers) : undefined;
    for (const [arg, block] of Object.entries({ kubernetesApi: api, kubelets, ...(backupRepository ? { backupRepository } : {}), ...(alertReceivers ? { alertReceivers } : {}) })) {
        if (block.cidrs.length === 0 || block.ports.length === 0) throw new Error(`renderNetworkPolicies: ${arg} must list at least one CIDR and one port`);
        for (const cidr of block.cidrs) {
            if (cidr.endsWith("/0")) throw new Error(`renderNetworkPolicies: ${arg} must not hold ${cidr} (the whole internet): name the addresses`);
        }
    }
    return {
        dns: input.dns ?? NETWORK_POLICY_DEFAULTS.dns,
        apiEgress: { to: api.cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: tcp(...api.ports) },
        kubeletEgress: { to: kubelets.cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: tcp(...kubelets.ports) },
        backupEgress: backupRepository ? { to: backupRepository.cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: tcp(...backupRepository.ports) } : undefined,
        alertEgress: alertReceivers ? { to: alertReceivers.cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: tcp(...alertReceivers.ports) } : undefined,
    };
}

/** An address block the policies need, or an error naming it: its absence has no safe meaning. */
function requiredEndpoints(arg: string, block: { cidrs: string[]; ports: number[] } | undefined): { cidrs: string[]; ports: number[] } {
    if (block === undefined) throw new Error(`renderNetworkPolicies: ${arg} is required (its addresses and ports; no default, which would be the whole internet)`);
    return block;
}

/** Deny everything, then allow every pod the cluster DNS. */
function namespaceBaseline(dns: ClusterDns): RenderedPolicy[] {
    return [
        {
            name: "default-deny",
            purpose: "Deny all ingress and egress of every pod in the namespace unless another policy allows it.",
            spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
        },
        {
            name: "allow-dns",
            purpose: "Every pod may resolve names with the cluster DNS (UDP and TCP 53), and its node-local cache where there is one.",
            spec: {
                podSelector: {},
                policyTypes: ["Egress"],
                egress: [
                    {
                        to: [
                            { namespaceSelector: { matchLabels: { ...dns.namespaceLabels } }, podSelector: { matchLabels: { ...dns.podLabels } } },
                            // A node-local cache answers on a link-local address, which no pod selector matches.
                            ...(dns.nodeLocalCacheAddress ? [{ ipBlock: { cidr: `${dns.nodeLocalCacheAddress}/32` } }] : []),
                        ],
                        ports: [
                            { protocol: "UDP", port: dns.port },
                            { protocol: "TCP", port: dns.port },
                        ],
                    },
                ],
            },
        },
    ];
}

/** The request path: clients to nginx, nginx to the gateways, the gateways to the backends, all to their data. */
function edgePolicies(input: NetworkPolicyInput): RenderedPolicy[] {
    const isGateway = (service: { labels: Record<string, string> }) => sameLabels(service.labels, input.gateways.labels);
    const backends = input.services.filter((service) => !isGateway(service));
    const policies: RenderedPolicy[] = [
        policy(
            "loadbalancer",
            "nginx accepts clients from anywhere on its listen ports and proxies only to the gateway pods.",
            input.loadBalancer.labels,
            [{ ports: tcp(...input.loadBalancer.listenPorts) }],
            toPeers([pods(input.gateways.labels)], tcp(input.gateways.port)),
        ),
    ];
    for (const service of input.services) {
        const gateway = isGateway(service);
        const ingress = gateway
            ? fromPeers([pods(input.loadBalancer.labels)], tcp(service.port))
            : // The gateway routes API calls to the backend services: essential, though not a tier of its own.
              fromPeers([pods(input.gateways.labels)], tcp(service.port));
        const egress = [
            ...toPeers([pods(input.redis.labels)], tcp(input.redis.port)),
            ...(service.usesDatabase ? toPeers([pods(input.pgbouncer.labels)], tcp(input.pgbouncer.port)) : []),
            // Reads that may lag go to the standbys directly, through `<name>-ro`.
            ...(service.usesDatabase ? toPeers([pods(input.postgresStandbys.labels)], tcp(input.postgresStandbys.port)) : []),
            // One rule per backend, so the gateway reaches each backend on that backend's port only.
            ...(gateway ? backends.flatMap((backend) => toPeers([pods(backend.labels)], tcp(backend.port))) : []),
        ];
        const purpose = gateway
            ? "The gateway accepts the load balancer; reaches Redis, PgBouncer and the standbys (if it uses the database) and the backend services."
            : "A backend service accepts the gateway; reaches Redis, and PgBouncer and the standbys (if it uses the database).";
        policies.push(policy(`service-${service.name}`, purpose, service.labels, ingress, egress));
    }
    return policies;
}

/** PgBouncer, the PostgreSQL leader and members, the Redis nodes and their bootstrap Job. */
function dataPolicies(input: NetworkPolicyInput, apiEgress: EgressRule, backupEgress: EgressRule | undefined): RenderedPolicy[] {
    const databaseClients = input.services.filter((service) => service.usesDatabase);
    const redisClients = [...input.services.map((service) => pods(service.labels)), ...(input.redis.bootstrapLabels ? [pods(input.redis.bootstrapLabels)] : [])];
    const members = input.postgresMembers;
    const redisPorts = tcp(input.redis.port, input.redis.busPort);
    return [
        policy(
            "pgbouncer",
            "PgBouncer accepts the services that use the database and connects only to the PostgreSQL primary.",
            input.pgbouncer.labels,
            fromPeers(databaseClients.map((service) => pods(service.labels)), tcp(input.pgbouncer.port)),
            toPeers([pods(input.postgresPrimary.labels)], tcp(input.postgresPrimary.port)),
        ),
        policy(
            "postgres-primary",
            "The PostgreSQL leader (selected by Patroni's role label, which follows a failover) accepts PgBouncer.",
            input.postgresPrimary.labels,
            fromPeers([pods(input.pgbouncer.labels)], tcp(input.postgresPrimary.port)),
            [],
        ),
        policy(
            "postgres-standbys",
            "The streaming standbys (selected by Patroni's replica role label, which follows a failover) accept the services that use the database, through `<name>-ro`.",
            input.postgresStandbys.labels,
            fromPeers(databaseClients.map((service) => pods(service.labels)), tcp(input.postgresStandbys.port)),
            [],
        ),
        policy(
            "postgres-members",
            "Patroni members reach each other on PostgreSQL (streaming replication, pg_rewind; any member may become leader) " +
                "and the Patroni REST API, and reach the Kubernetes API, Patroni's DCS (leader lock, member keys, role labels)" +
                (members.backsUpToObjectStorage ? ", and the object store of the backup repository." : "."),
            members.labels,
            [
                ...fromPeers([pods(members.labels)], tcp(members.port, members.patroniPort)),
                ...(members.dynamicConfigJobLabels ? fromPeers([pods(members.dynamicConfigJobLabels)], tcp(members.patroniPort)) : []),
            ],
            [...toPeers([pods(members.labels)], tcp(members.port, members.patroniPort)), apiEgress, ...(backupEgress ? [backupEgress] : [])],
        ),
        ...(members.dynamicConfigJobLabels
            ? [
                  policy(
                      "postgres-dcs-config",
                      "The Job applying Patroni's dynamic configuration reaches every member's Patroni REST API (PATCH /config, POST /restart).",
                      members.dynamicConfigJobLabels,
                      [],
                      toPeers([pods(members.labels)], tcp(members.patroniPort)),
                  ),
              ]
            : []),
        policy(
            "redis",
            "Redis nodes accept the services (and the bootstrap Job) on the client port, and talk to each other on the client and cluster bus ports.",
            input.redis.labels,
            [...fromPeers(redisClients, tcp(input.redis.port)), ...fromPeers([pods(input.redis.labels)], redisPorts)],
            toPeers([pods(input.redis.labels)], redisPorts),
        ),
        ...(input.redis.bootstrapLabels
            ? [
                  policy(
                      "redis-bootstrap",
                      "The cluster-forming Job reaches every Redis node on the client port (redis-cli --cluster create / check).",
                      input.redis.bootstrapLabels,
                      [],
                      toPeers([pods(input.redis.labels)], tcp(input.redis.port)),
                  ),
              ]
            : []),
    ];
}

/** Prometheus and its scrape targets, Grafana, and the other clients of the Kubernetes API. */
function monitoringPolicies(input: NetworkPolicyInput, endpoints: { apiEgress: EgressRule; kubeletEgress: EgressRule }): RenderedPolicy[] {
    const scrapes = input.metricsTargets.flatMap((target) => toPeers([pods(target.labels)], tcp(...target.ports)));
    return [
        policy(
            "prometheus",
            "Prometheus accepts Grafana's queries, scrapes every metrics port and the kubelets (volume statistics), " +
                "and reaches the Kubernetes API for service discovery.",
            input.prometheus.labels,
            fromPeers([pods(input.grafana.labels)], tcp(input.prometheus.port)),
            [...scrapes, endpoints.apiEgress, endpoints.kubeletEgress],
        ),
        policy(
            "grafana",
            "Grafana accepts only the configured sources on its HTTP port (none by default: kubectl port-forward, which policies do not see) and queries only Prometheus.",
            input.grafana.labels,
            fromPeers((input.grafanaSources ?? []).map(grafanaPeer), tcp(input.grafana.port)),
            toPeers([pods(input.prometheus.labels)], tcp(input.prometheus.port)),
        ),
        ...(input.kubernetesApiClients ?? []).map((client) =>
            policy(`kubernetes-api-${client.name}`, `${client.name} reaches the Kubernetes API.`, client.labels, [], [endpoints.apiEgress]),
        ),
        ...input.metricsTargets.map((target) =>
            policy(`metrics-${target.name}`, `Prometheus scrapes ${target.name} on its metrics ports.`, target.labels, fromPeers([pods(input.prometheus.labels)], tcp(...target.ports)), []),
        ),
    ];
}

/** The peer of one configured Grafana source. */
function grafanaPeer(source: GrafanaSource): PolicyPeer {
    if ("cidr" in source) {
        if (source.cidr.endsWith("/0")) throw new Error(`renderNetworkPolicies: grafanaSources must not hold ${source.cidr} (the whole internet)`);
        return { ipBlock: { cidr: source.cidr } };
    }
    const selectors = [source.namespaceLabels, source.podLabels];
    // An empty selector selects every namespace or pod: the schema refuses one, and so does this.
    if (selectors.every((labels) => labels === undefined) || selectors.some((labels) => labels !== undefined && Object.keys(labels).length === 0)) {
        throw new Error("renderNetworkPolicies: a grafanaSources selector needs namespaceLabels or podLabels, each with at least one label");
    }
    return {
        ...(source.namespaceLabels ? { namespaceSelector: { matchLabels: { ...source.namespaceLabels } } } : {}),
        ...(source.podLabels ? { podSelector: { matchLabels: { ...source.podLabels } } } : {}),
    };
}

/**
 * Alertmanager: Prometheus sends it alerts; the replicas gossip with each other (TCP and UDP); it
 * reaches the receivers only when one is configured. Prometheus' egress to it is a policy of its own,
 * so it does not depend on Alertmanager also being a scrape target.
 */
function alertmanagerPolicies(input: NetworkPolicyInput, alertEgress: EgressRule | undefined): RenderedPolicy[] {
    const alertmanager = input.alertmanager;
    if (!alertmanager) return [];
    const gossip: PolicyPort[] = [
        { protocol: "TCP", port: alertmanager.clusterPort },
        { protocol: "UDP", port: alertmanager.clusterPort },
    ];
    const peers = [pods(alertmanager.labels)];
    const receiverEgress = alertEgress ? [alertEgress] : [];
    return [
        policy(
            "alertmanager",
            "Alertmanager accepts Prometheus' alerts, gossips with its replicas (silences, notification log) and, when a receiver is configured, " +
                "reaches the receivers (Slack, PagerDuty, a webhook) on their ports.",
            alertmanager.labels,
            [...fromPeers([pods(input.prometheus.labels)], tcp(alertmanager.port)), ...fromPeers(peers, gossip)],
            [...toPeers(peers, gossip), ...receiverEgress],
        ),
        policy("prometheus-alertmanager", "Prometheus sends alerts to every Alertmanager replica.", input.prometheus.labels, [], toPeers(peers, tcp(alertmanager.port))),
    ];
}

/** The resource-name prefix of the stack's own set of policies. */
const DEFAULT_POLICY_PREFIX = "netpol";

/** Labels of every NetworkPolicy object the stack creates. */
const NETWORK_POLICY_LABELS = standardLabels("prepx", "network-policies", "network-policy");

/**
 * Creates one `networking.k8s.io/v1` NetworkPolicy per rendered policy in `namespace`. Pass the
 * provider (or a parent) in `opts`. Logical names are `<resourcePrefix>-<name>` (default `netpol-`).
 */
export function createNetworkPolicies(
    namespace: pulumi.Input<string>,
    policies: RenderedPolicy[],
    opts: pulumi.CustomResourceOptions = {},
    /**
     * Prefix of the resource names (`<prefix>-<policy>`); give each set in one stack its own. A set
     * with a prefix other than the default also prefixes its object names, so two sets can share a
     * namespace; the stack's own set keeps the bare policy names.
     */
    resourcePrefix = DEFAULT_POLICY_PREFIX,
): k8s.networking.v1.NetworkPolicy[] {
    const names = policies.map((rendered) => rendered.name);
    const duplicate = names.find((name, index) => names.indexOf(name) !== index);
    if (duplicate !== undefined) throw new Error(`createNetworkPolicies: two policies are named '${duplicate}' (metrics target and service names must be unique)`);
    return policies.map(
        (rendered) =>
            new k8s.networking.v1.NetworkPolicy(
                `${resourcePrefix}-${rendered.name}`,
                {
                    metadata: {
                        name: resourcePrefix === DEFAULT_POLICY_PREFIX ? rendered.name : `${resourcePrefix}-${rendered.name}`,
                        namespace,
                        labels: NETWORK_POLICY_LABELS,
                        annotations: { "prepx/purpose": rendered.purpose },
                    },
                    spec: rendered.spec,
                },
                opts,
            ),
    );
}
