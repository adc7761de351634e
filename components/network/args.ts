// Where the cluster's own endpoints are, which no pod label selects: the NetworkPolicies allow
// egress to them by address. The stack's `network` section (config.ts) and renderNetworkPolicies
// both use this schema. No address has a default: a default that works on every cluster is the
// whole internet, which is what these rules exist to close, so each stack names its own ranges.
import { z } from "zod";
import { ipv4Address, ipv4Cidr, onlyWhenValid, port } from "../schema";

/** An IPv4 CIDR narrower than the whole address space: a /0 block is the internet. */
const cidr = ipv4Cidr.refine((text) => !text.endsWith("/0"), "must be a CIDR narrower than /0 (a /0 block is the whole internet)");

/** Addresses and ports of something outside the pod network: both lists non-empty (empty = everything). */
function endpoints(ports: number[]) {
    return z.strictObject({ cidrs: z.array(cidr).min(1), ports: z.array(port).min(1).default(ports) });
}

/** Label values of a selector; at least one label (an empty selector selects everything). */
const selectorLabels = z.record(z.string(), z.string()).refine((labels) => Object.keys(labels).length > 0, "must have at least one label (an empty selector selects everything)");

/**
 * One source allowed to reach Grafana: an address block (`cidr`), or pods by their labels: `podLabels`
 * alone selects pods of the stack's namespace, `namespaceLabels` alone every pod of the matching
 * namespaces, both together the matching pods of the matching namespaces.
 */
const grafanaSource = z.union(
    [
        z.strictObject({ cidr }),
        z
            .strictObject({ namespaceLabels: selectorLabels.optional(), podLabels: selectorLabels.optional() })
            .refine((source) => source.namespaceLabels !== undefined || source.podLabels !== undefined, "must set namespaceLabels, podLabels or both"),
    ],
    { error: "either { cidr } or { namespaceLabels and/or podLabels } (each with at least one label)" },
);

/** A source allowed to reach Grafana's HTTP port. */
export type GrafanaSource = z.output<typeof grafanaSource>;

/** The cluster DNS the `allow-dns` policy opens: kube-dns (CoreDNS) and an optional node-local cache. */
const clusterDnsSchema = z.strictObject({
    /** Labels of the DNS pods' namespace. */
    namespaceLabels: z.record(z.string(), z.string()).default({ "kubernetes.io/metadata.name": "kube-system" }),
    /** Labels of the DNS pods (CoreDNS keeps kube-dns's `k8s-app: kube-dns`). */
    podLabels: z.record(z.string(), z.string()).default({ "k8s-app": "kube-dns" }),
    port: port.default(53),
    /**
     * NodeLocal DNSCache's link-local address (usually 169.254.20.10); unset = no node-local cache.
     * Set it where the cluster runs NodeLocal DNSCache: pods then resolve through that address, which
     * no pod selector matches, and without it every lookup is dropped.
     */
    nodeLocalCacheAddress: ipv4Address.optional(),
});

/** What each required address block is, for the message a stack that leaves it out gets. */
const REQUIRED_ENDPOINTS = {
    kubernetesApi:
        "must be set: { cidrs: [the API server's address(es)], ports: [its port] }, e.g. from `kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes` (no default: it would be the whole internet)",
    kubelets: "must be set: { cidrs: [the node network's range] } (kubelets listen on the node addresses; no default: it would be the whole internet)",
} as const;

/** The stack's `network` section: the cluster endpoints the NetworkPolicies open egress to, and who reaches Grafana. */
export const networkSettingsSchema = z
    .strictObject({
        /**
         * Required. The Kubernetes API server, for Patroni (its DCS), Prometheus (discovery),
         * kube-state-metrics and the Redis bootstrap (where the nodes run). Policies see the API
         * server's own address after the `kubernetes` Service is translated, so `cidrs` lists the
         * endpoints of `kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes`
         * (a managed cluster's control-plane range), `ports` their port: 443 (managed clusters,
         * default with 6443), 6443 (kubeadm, kind), 8443 (minikube).
         */
        kubernetesApi: endpoints([443, 6443]).optional(),
        /** Required. The kubelets Prometheus scrapes for volume statistics: `cidrs` = the node network, `ports` default [10250]. */
        kubelets: endpoints([10250]).optional(),
        /**
         * The object store PostgreSQL archives WAL and backs up to (the S3 backup repository), for the
         * members only; required when that repository is object storage. `cidrs`: your VPC endpoint's
         * or the store's address ranges (e.g. the S3 prefix list of the bucket's region); `ports`
         * default [443].
         */
        backupRepository: endpoints([443]).optional(),
        /**
         * Where Alertmanager sends notifications (Slack, PagerDuty, a webhook); required when a
         * receiver is configured (monitoring.alertmanager.receivers). Slack's and PagerDuty's
         * addresses are not fixed: list an egress proxy's range here and set the receivers' proxy, or
         * the webhook's range. `ports` default [443].
         */
        alertReceivers: endpoints([443]).optional(),
        /**
         * Who may open Grafana's HTTP port besides a `kubectl port-forward` (which NetworkPolicies do
         * not see): address blocks or pod/namespace selectors, e.g. an ingress controller's pods.
         * Default none: Grafana is reached only through the port-forward.
         */
        grafanaSources: z.array(grafanaSource).default([]),
        /** The cluster DNS. */
        dns: clusterDnsSchema.prefault({}),
    })
    .superRefine((value, ctx) => {
        for (const [key, message] of Object.entries(REQUIRED_ENDPOINTS)) {
            if (value[key as keyof typeof REQUIRED_ENDPOINTS] === undefined) ctx.addIssue({ code: "custom", path: [key], message });
        }
    }, onlyWhenValid)
    // Optional above only so that a missing one gets the message of REQUIRED_ENDPOINTS; a parsed value has both.
    .transform((value) => value as typeof value & { [key in keyof typeof REQUIRED_ENDPOINTS]-?: NonNullable<(typeof value)[key]> });

/** The network settings with defaults applied. */
export type NetworkSettings = z.output<typeof networkSettingsSchema>;

/** The cluster DNS settings' defaults: kube-dns in kube-system on 53, no node-local cache. */
export const CLUSTER_DNS_DEFAULTS: NetworkSettings["dns"] = clusterDnsSchema.parse({});
