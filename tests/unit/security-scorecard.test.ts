// scripts/security.ts on hand-made objects: each measure counts what it says, and misses nothing
// that would make a render look safer than it is.
import type { JsonObject } from "../../scripts/manifests";
import { securityScorecard } from "../../scripts/security";
import type { SummaryInput } from "../../scripts/summary";

const object = (kind: string, name: string, body: JsonObject, namespace = "prepx"): SummaryInput => ({ kind, name, namespace, object: { kind, metadata: { name, namespace }, ...body } });
const deployment = (name: string, spec: JsonObject) => object("Deployment", name, { spec: { replicas: 1, template: { spec } } });

test("a token counts as mounted unless the pod or its account turns it off, and as needed only when the account is bound", () => {
    const card = securityScorecard([
        object("ServiceAccount", "quiet", { automountServiceAccountToken: false }),
        object("ServiceAccount", "reader", {}),
        object("RoleBinding", "reader", { subjects: [{ kind: "ServiceAccount", name: "reader" }] }),
        deployment("uses-default", { containers: [{ name: "app", image: "a:1" }] }),
        deployment("quiet", { serviceAccountName: "quiet", containers: [{ name: "app", image: "a:1" }] }),
        deployment("quiet-but-pod-mounts", { serviceAccountName: "quiet", automountServiceAccountToken: true, containers: [{ name: "app", image: "a:1" }] }),
        deployment("reader", { serviceAccountName: "reader", containers: [{ name: "app", image: "a:1" }] }),
    ]);
    expect(card.tokens).toEqual([
        { workload: "Deployment uses-default", serviceAccount: "default", mounted: true, bound: false },
        { workload: "Deployment quiet", serviceAccount: "quiet", mounted: false, bound: false },
        { workload: "Deployment quiet-but-pod-mounts", serviceAccount: "quiet", mounted: true, bound: false },
        { workload: "Deployment reader", serviceAccount: "reader", mounted: true, bound: true },
    ]);
});

test("egress to 0.0.0.0/0, ::/0 or to no peer at all is internet egress; a narrower block is not", () => {
    const policy = (name: string, egress: JsonObject[]) => object("NetworkPolicy", name, { spec: { podSelector: {}, egress } });
    const card = securityScorecard([
        policy("api", [{ to: [{ ipBlock: { cidr: "10.96.0.1/32" } }], ports: [{ protocol: "TCP", port: 443 }] }]),
        policy("v4", [{ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8"] } }], ports: [{ port: 443 }] }]),
        policy("v6", [{ to: [{ ipBlock: { cidr: "::/0" } }] }]),
        policy("no-peer", [{ ports: [{ protocol: "UDP", port: 53 }] }]),
    ]);
    expect(card.internetEgress).toEqual(["v4 -> TCP/443", "v6 -> any port", "no-peer -> UDP/53"]);
});

test("RBAC rules are split by resourceNames, and writes without them are named", () => {
    const card = securityScorecard([
        object("Role", "patroni", {
            rules: [
                { apiGroups: [""], resources: ["pods"], verbs: ["patch"], resourceNames: ["postgres-0"] },
                { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
                { apiGroups: [""], resources: ["endpoints"], verbs: ["create"] },
            ],
        }),
    ]);
    expect(card.rbac).toEqual({
        withResourceNames: ["Role patroni: patch pods"],
        withoutResourceNames: ["Role patroni: list,watch pods", "Role patroni: create endpoints"],
        writesWithoutResourceNames: ["Role patroni: create endpoints"],
    });
});

test("ephemeral-storage limits are looked for on init containers too; digests and Pod Security labels are read", () => {
    const card = securityScorecard([
        object("Namespace", "prepx", { metadata: { name: "prepx", labels: { "pod-security.kubernetes.io/enforce": "restricted" } } }, ""),
        object("Namespace", "other", {}, ""),
        deployment("web", {
            initContainers: [{ name: "init", image: `busybox@sha256:${"a".repeat(64)}` }],
            containers: [{ name: "app", image: "a:1", resources: { limits: { "ephemeral-storage": "1Gi" } } }],
        }),
    ]);
    expect(card.podSecurity).toEqual([
        { namespace: "prepx", enforce: "restricted" },
        { namespace: "other", enforce: "none" },
    ]);
    expect(card.ephemeralStorage).toEqual({ containers: 2, unlimited: ["Deployment web/init"] });
    expect(card.images).toEqual({ all: ["a:1", `busybox@sha256:${"a".repeat(64)}`], byDigest: [`busybox@sha256:${"a".repeat(64)}`] });
});

test("a prometheus.yml counts as alerting only with an alertmanagers entry under alerting", () => {
    const config = (name: string, text: string) => object("ConfigMap", name, { data: { "prometheus.yml": text } });
    const card = securityScorecard([
        config("with", "global:\n  scrape_interval: 15s\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [am:9093]\n"),
        config("without", "global:\n  scrape_interval: 15s\nrule_files: [/etc/rules/*.yml]\n"),
    ]);
    expect(card.alerting).toEqual({ prometheusConfigs: 2, withAlertmanagers: 1 });
});
