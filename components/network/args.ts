// Where the cluster's own endpoints are, which no pod label selects: the NetworkPolicies allow
// egress to them by address. Declared once, with the defaults that work on most clusters; the
// stack's `network` section (config.ts) and renderNetworkPolicies both use this schema.
import { z } from "zod";
import { port } from "../schema";

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const ipv4 = z.string().regex(IPV4, "an IPv4 address such as 169.254.20.10");
const cidr = z.string().regex(/^[\d.]+\/(3[0-2]|[12]?\d)$/, "an IPv4 CIDR such as 10.0.0.0/8").refine((text) => IPV4.test(text.split("/")[0]), "an IPv4 CIDR such as 10.0.0.0/8");

/** Addresses and ports of something outside the pod network, both lists non-empty (empty = everything). */
function endpoints(cidrs: string[], ports: number[]) {
    return z.strictObject({ cidrs: z.array(cidr).min(1).default(cidrs), ports: z.array(port).min(1).default(ports) }).prefault({});
}

/** The stack's `network` section: the cluster endpoints the NetworkPolicies open egress to. */
export const networkSettingsSchema = z.strictObject({
    /**
     * The Kubernetes API server, for Patroni (its DCS), Prometheus (discovery), kube-state-metrics and
     * the Redis bootstrap (where the nodes run).
     * Policies see the API server's own address after the `kubernetes` Service is translated. Ports:
     * 443 (managed clusters), 6443 (kubeadm, kind), 8443 (minikube). Narrow the CIDR to
     * `kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes`.
     */
    kubernetesApi: endpoints(["0.0.0.0/0"], [443, 6443, 8443]),
    /** The kubelets Prometheus scrapes for volume statistics: narrow the CIDR to the node network. */
    kubelets: endpoints(["0.0.0.0/0"], [10250]),
    /**
     * The object store PostgreSQL archives WAL and backs up to (the S3 backup repository), for the
     * members only and only when their repository is object storage. HTTPS: narrow the CIDR to your
     * VPC endpoint's or the store's address range.
     */
    backupRepository: endpoints(["0.0.0.0/0"], [443]),
    /**
     * Where Alertmanager sends notifications (Slack, PagerDuty, a webhook), opened only when a
     * receiver is configured. Slack's and PagerDuty's addresses are not fixed, hence the whole IPv4
     * internet on HTTPS by default: the one deliberate internet egress, from pods that hold no data.
     * Narrow it to an egress proxy or the webhook's range; add the webhook's port if it is not 443.
     */
    alertReceivers: endpoints(["0.0.0.0/0"], [443]),
    /** The cluster DNS. */
    dns: z
        .strictObject({
            /** Labels of the DNS pods' namespace. */
            namespaceLabels: z.record(z.string(), z.string()).default({ "kubernetes.io/metadata.name": "kube-system" }),
            /** Labels of the DNS pods (CoreDNS keeps kube-dns's `k8s-app: kube-dns`). */
            podLabels: z.record(z.string(), z.string()).default({ "k8s-app": "kube-dns" }),
            port: port.default(53),
            /** NodeLocal DNSCache's link-local address (usually 169.254.20.10); unset = no node-local cache. */
            nodeLocalCacheAddress: ipv4.optional(),
        })
        .prefault({}),
});

/** The network settings with defaults applied. */
export type NetworkSettings = z.output<typeof networkSettingsSchema>;
