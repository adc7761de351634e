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

describe("encrypted hops, read from the rendered files", () => {
    const files = (data: Record<string, string>) => object("ConfigMap", "files", { data });
    const verdicts = (data: Record<string, string>) => Object.fromEntries(securityScorecard([files(data)]).hops.map((h) => [h.hop, h.encrypted]));

    test("nginx: TLS only with an ssl listener and plain HTTP redirected; the upstream hop is its own", () => {
        expect(verdicts({ "nginx.conf": "server {\n  listen 8080;\n  return 308 https://$host$request_uri;\n}\nserver {\n  listen 8443 ssl;\n  proxy_pass http://gateways;\n}\n" })).toMatchObject({
            "clients -> nginx": true,
            "nginx -> gateways": false,
        });
        expect(verdicts({ "nginx.conf": "server {\n  listen 8080;\n  proxy_pass http://gateways;\n}\n" })["clients -> nginx"]).toBe(false);
    });

    test("PgBouncer: the defaults (disable, prefer) are plaintext; require to clients and verify-full to the server are not", () => {
        expect(verdicts({ "pgbouncer.ini": "[pgbouncer]\nlisten_port = 6432\n" })).toMatchObject({ "services -> PgBouncer": false, "PgBouncer -> PostgreSQL": false });
        expect(verdicts({ "pgbouncer.ini": "[pgbouncer]\nclient_tls_sslmode = require\nserver_tls_sslmode = require\n" })).toMatchObject({ "services -> PgBouncer": true, "PgBouncer -> PostgreSQL": false });
        expect(verdicts({ "pgbouncer.ini": "client_tls_sslmode = verify-full\nserver_tls_sslmode = verify-full\n" })).toMatchObject({ "PgBouncer -> PostgreSQL": true });
    });

    test("Patroni: replication counts as encrypted only when no remote host line admits it in plaintext; REST needs a certfile", () => {
        const patroni = (hba: string[], restapi: Record<string, string>) => JSON.stringify({ restapi, postgresql: { pg_hba: hba } });
        expect(verdicts({ "patroni.yml": patroni(["host replication replicator 0.0.0.0/0 scram-sha-256"], {}) })).toMatchObject({
            "PostgreSQL standbys -> leader (replication)": false,
            "Patroni REST API clients -> members": false,
        });
        const hardened = patroni(
            ["host replication replicator 127.0.0.1/32 scram-sha-256", "hostssl replication replicator 10.0.0.0/8 scram-sha-256", "hostnossl all all 0.0.0.0/0 reject"],
            { certfile: "/tls/tls.crt" },
        );
        expect(verdicts({ "patroni.yml": hardened })).toMatchObject({ "PostgreSQL standbys -> leader (replication)": true, "Patroni REST API clients -> members": true });
    });

    test("Redis: TLS to clients only with the plaintext port off; replication and the bus each by their own switch", () => {
        expect(verdicts({ "redis.conf": "port 0\ntls-port 6379\ntls-replication yes\n" })).toEqual({ "services -> Redis": true, "Redis replication": true, "Redis cluster bus": false, "pods -> Kubernetes API server": true });
        expect(verdicts({ "redis.conf": "port 6379\ntls-port 6380\n" })["services -> Redis"]).toBe(false);
    });

    test("Prometheus: the kubelet job must verify; other jobs and Alertmanager are counted by scheme; Grafana by its datasource URL", () => {
        const prometheus = JSON.stringify({
            alerting: { alertmanagers: [{ static_configs: [{ targets: ["am:9093"] }] }] },
            scrape_configs: [
                { job_name: "kubelet", scheme: "https", tls_config: { insecure_skip_verify: true } },
                { job_name: "pods" },
                { job_name: "patroni", scheme: "https", tls_config: { ca_file: "/ca.crt" } },
            ],
        });
        expect(verdicts({ "prometheus.yml": prometheus, "datasources.yaml": JSON.stringify({ datasources: [{ name: "Prometheus", url: "http://prometheus:9090" }] }) })).toMatchObject({
            "Prometheus -> kubelets": false,
            "Prometheus -> metrics endpoints": false,
            "Prometheus -> Alertmanager": false,
            "Grafana -> Prometheus": false,
        });
        expect(securityScorecard([files({ "prometheus.yml": prometheus })]).hops.find((h) => h.hop === "Prometheus -> metrics endpoints")?.evidence).toBe("1/2 scrape jobs over verified HTTPS (patroni)");
    });
});
