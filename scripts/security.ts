// The security scorecard of a render, computed from the rendered objects alone (so it counts what
// the stack would create, whichever component added it): Pod Security enforcement, ServiceAccount
// tokens mounted without a binding that needs them, RBAC rules without resourceNames, pod groups
// whose NetworkPolicies reach the internet, images pinned by digest, containers without an
// ephemeral-storage limit, whether Prometheus hands its alerts to an Alertmanager, and which network
// hops are encrypted, read from the rendered config files. Pure.
import { parse } from "yaml";
import type { Json, JsonObject } from "./manifests";
import { list, obj, podsOf, SummaryInput } from "./summary";

/** One pod-running object's ServiceAccount token: mounted or not, and whether a Role needs it. */
export interface TokenMount {
    workload: string;
    serviceAccount: string;
    mounted: boolean;
    /** The account is a subject of a RoleBinding or ClusterRoleBinding of the render. */
    bound: boolean;
}

/** The scorecard of one render. */
export interface SecurityScorecard {
    /** Each namespace of the render with its `pod-security.kubernetes.io/enforce` level (`none` when unlabelled). */
    podSecurity: { namespace: string; enforce: string }[];
    tokens: TokenMount[];
    /** Rules of Roles and ClusterRoles: `<role>: <verbs> <resources>`, split by whether they name their objects. */
    rbac: { withResourceNames: string[]; withoutResourceNames: string[]; writesWithoutResourceNames: string[] };
    /** NetworkPolicies with an egress rule to any address (0.0.0.0/0, ::/0, or no `to`): `<policy> -> <ports>`. */
    internetEgress: string[];
    /** Images: how many distinct, and which of them are pinned by digest. */
    images: { all: string[]; byDigest: string[] };
    /** Containers (init containers included) without an ephemeral-storage limit, and how many there are. */
    ephemeralStorage: { containers: number; unlimited: string[] };
    /** Prometheus configs of the render that send alerts to an Alertmanager (an `alerting.alertmanagers` entry). */
    alerting: { prometheusConfigs: number; withAlertmanagers: number };
    /** Each network hop of the stack, whether the rendered config encrypts it, and the setting that says so. */
    hops: Hop[];
}

/** One network hop between the stack's parts (or to what it uses). */
export interface Hop {
    hop: string;
    encrypted: boolean;
    /** The rendered setting the verdict rests on. */
    evidence: string;
}

/** Verbs that change objects. */
const WRITE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection", "*"]);
/** Addresses that stand for every address. */
const ANY_ADDRESS = new Set(["0.0.0.0/0", "::/0"]);

function strings(value: Json | undefined): string[] {
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

function containersOf(podSpec: JsonObject): JsonObject[] {
    return [...list(podSpec.initContainers), ...list(podSpec.containers)];
}

/** Which ServiceAccounts mount a token (the pod's own setting wins over its account's; the default is to mount). */
function tokenMounts(objects: readonly SummaryInput[]): TokenMount[] {
    const accounts = new Map(objects.filter((o) => o.kind === "ServiceAccount").map((o) => [`${o.namespace}/${o.name}`, o.object]));
    const bound = new Set<string>();
    for (const binding of objects.filter((o) => o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding")) {
        for (const subject of list(binding.object.subjects)) {
            if (subject.kind === "ServiceAccount") bound.add(`${typeof subject.namespace === "string" ? subject.namespace : binding.namespace}/${String(subject.name)}`);
        }
    }
    const mounts: TokenMount[] = [];
    for (const input of objects) {
        const pods = podsOf(input);
        if (pods === undefined) continue;
        const spec = obj(pods.template.spec);
        const serviceAccount = typeof spec.serviceAccountName === "string" ? spec.serviceAccountName : "default";
        const key = `${input.namespace}/${serviceAccount}`;
        const own = spec.automountServiceAccountToken;
        const ofAccount = accounts.get(key)?.automountServiceAccountToken;
        const mounted = typeof own === "boolean" ? own : typeof ofAccount === "boolean" ? ofAccount : true;
        mounts.push({ workload: `${input.kind} ${input.name}`, serviceAccount, mounted, bound: bound.has(key) });
    }
    return mounts;
}

function rbacRules(objects: readonly SummaryInput[]): SecurityScorecard["rbac"] {
    const rbac: SecurityScorecard["rbac"] = { withResourceNames: [], withoutResourceNames: [], writesWithoutResourceNames: [] };
    for (const role of objects.filter((o) => o.kind === "Role" || o.kind === "ClusterRole")) {
        for (const rule of list(role.object.rules)) {
            const verbs = strings(rule.verbs);
            const resources = [...strings(rule.resources), ...strings(rule.nonResourceURLs)];
            const line = `${role.kind} ${role.name}: ${verbs.join(",")} ${resources.join(",")}`;
            if (strings(rule.resourceNames).length > 0) {
                rbac.withResourceNames.push(line);
                continue;
            }
            rbac.withoutResourceNames.push(line);
            if (verbs.some((verb) => WRITE_VERBS.has(verb))) rbac.writesWithoutResourceNames.push(line);
        }
    }
    return rbac;
}

function internetEgress(objects: readonly SummaryInput[]): string[] {
    const open: string[] = [];
    for (const policy of objects.filter((o) => o.kind === "NetworkPolicy")) {
        for (const rule of list(obj(policy.object.spec).egress)) {
            const peers = list(rule.to);
            const anywhere = peers.length === 0 || peers.some((peer) => ANY_ADDRESS.has(String(obj(peer.ipBlock).cidr)));
            if (!anywhere) continue;
            const ports = list(rule.ports).map((port) => `${String(port.protocol ?? "TCP")}/${String(port.port ?? "any")}`);
            open.push(`${policy.name} -> ${ports.length > 0 ? ports.join(",") : "any port"}`);
        }
    }
    return open;
}

/** Every rendered config file by its key (ConfigMaps only: Secrets are redacted in a render). */
function configFiles(objects: readonly SummaryInput[]): Map<string, string[]> {
    const files = new Map<string, string[]>();
    for (const input of objects.filter((o) => o.kind === "ConfigMap")) {
        for (const [key, text] of Object.entries(obj(input.object.data))) {
            if (typeof text === "string") files.set(key, [...(files.get(key) ?? []), text]);
        }
    }
    return files;
}

/** The value of `key = value` (pgbouncer.ini) or `key value` (redis.conf) in an ini-like text. */
function setting(text: string | undefined, key: string, separator: "=" | " "): string | undefined {
    const pattern = separator === "=" ? new RegExp(`^\\s*${key}\\s*=\\s*(\\S+)`, "m") : new RegExp(`^\\s*${key}\\s+(\\S+)`, "m");
    return text?.match(pattern)?.[1];
}

/** One hop whose verdict is a rendered setting's value. */
function hop(name: string, encrypted: boolean, evidence: string): Hop {
    return { hop: name, encrypted, evidence };
}

/**
 * The stack's network hops and whether each is encrypted, from the rendered nginx.conf,
 * pgbouncer.ini, patroni.yml, redis.conf, prometheus.yml, Grafana's datasources and Alertmanager's
 * arguments. A hop whose file is absent from the render is left out, not counted as encrypted.
 */
function encryptedHops(objects: readonly SummaryInput[]): Hop[] {
    const files = configFiles(objects);
    const first = (key: string) => files.get(key)?.[0];
    const hops: Hop[] = [];
    const nginx = first("nginx.conf");
    if (nginx !== undefined) {
        const tlsListener = /^\s*listen\s+\S+\s+ssl\b/m.test(nginx);
        const redirects = /return 30[18] https:/.test(nginx);
        hops.push(hop("clients -> nginx", tlsListener && redirects, `${tlsListener ? "listen ... ssl" : "no TLS listener"}; ${redirects ? "plain HTTP redirects to HTTPS" : "plain HTTP served"}`));
        const upstreamTls = /proxy_pass https:/.test(nginx);
        hops.push(hop("nginx -> gateways", upstreamTls, upstreamTls ? "proxy_pass https://" : "proxy_pass http:// (the services serve plain HTTP)"));
    }
    const pgbouncer = first("pgbouncer.ini");
    if (pgbouncer !== undefined) {
        const client = setting(pgbouncer, "client_tls_sslmode", "=") ?? "disable (default)";
        hops.push(hop("services -> PgBouncer", ["require", "verify-ca", "verify-full"].includes(client), `client_tls_sslmode ${client}`));
        const server = setting(pgbouncer, "server_tls_sslmode", "=") ?? "prefer (default: falls back to plaintext)";
        hops.push(hop("PgBouncer -> PostgreSQL", ["verify-ca", "verify-full"].includes(server), `server_tls_sslmode ${server}`));
    }
    const patroniText = first("patroni.yml");
    if (patroniText !== undefined) {
        const patroni = obj(parse(patroniText) as Json);
        // Patroni writes pg_hba from postgresql.pg_hba, or from bootstrap.dcs' copy at the first start.
        const hbaLines = [...strings(obj(patroni.postgresql).pg_hba), ...strings(obj(obj(obj(patroni.bootstrap).dcs).postgresql).pg_hba)];
        const remoteReplication = hbaLines.filter((line) => /^\s*host\S*\s+replication\b/.test(line) && !/\b(127\.0\.0\.1|::1)\//.test(line));
        const plainReplication = remoteReplication.filter((line) => /^\s*host\s/.test(line) || (/^\s*hostnossl\s/.test(line) && !/\breject\b/.test(line)));
        hops.push(
            hop(
                "PostgreSQL standbys -> leader (replication)",
                remoteReplication.length > 0 && plainReplication.length === 0,
                plainReplication.length > 0 ? `pg_hba: ${plainReplication[0]}` : remoteReplication.length > 0 ? "pg_hba: replication from remote only over hostssl" : "no remote replication line in pg_hba",
            ),
        );
        const certfile = obj(patroni.restapi).certfile;
        hops.push(hop("Patroni REST API clients -> members", typeof certfile === "string", typeof certfile === "string" ? `restapi.certfile ${certfile}` : "restapi without certfile"));
    }
    const redis = first("redis.conf");
    if (redis !== undefined) {
        const port = setting(redis, "port", " ");
        const tlsPort = setting(redis, "tls-port", " ");
        hops.push(hop("services -> Redis", port === "0" && tlsPort !== undefined, `port ${port ?? "6379 (default)"}, tls-port ${tlsPort ?? "unset"}`));
        for (const [name, key] of [["Redis replication", "tls-replication"], ["Redis cluster bus", "tls-cluster"]] as const) {
            const value = setting(redis, key, " ") ?? "no (default)";
            hops.push(hop(name, value === "yes", `${key} ${value}`));
        }
    }
    const prometheusText = first("prometheus.yml");
    if (prometheusText !== undefined) {
        const prometheus = obj(parse(prometheusText) as Json);
        const jobs = list(prometheus.scrape_configs);
        const verified = (job: JsonObject) => job.scheme === "https" && obj(job.tls_config).insecure_skip_verify !== true;
        for (const job of jobs.filter((candidate) => candidate.job_name === "kubelet")) {
            hops.push(hop("Prometheus -> kubelets", verified(job), `scheme ${String(job.scheme ?? "http")}, insecure_skip_verify ${String(obj(job.tls_config).insecure_skip_verify ?? false)}`));
        }
        const others = jobs.filter((job) => job.job_name !== "kubelet");
        const encryptedJobs = others.filter(verified).map((job) => String(job.job_name));
        hops.push(hop("Prometheus -> metrics endpoints", encryptedJobs.length === others.length, `${encryptedJobs.length}/${others.length} scrape jobs over verified HTTPS${encryptedJobs.length > 0 ? ` (${encryptedJobs.join(", ")})` : ""}`));
        for (const alertmanagers of list(obj(prometheus.alerting).alertmanagers)) {
            hops.push(hop("Prometheus -> Alertmanager", alertmanagers.scheme === "https", `scheme ${String(alertmanagers.scheme ?? "http")}`));
        }
    }
    const datasources = first("datasources.yaml");
    if (datasources !== undefined) {
        for (const source of list(obj(parse(datasources) as Json).datasources)) {
            const url = String(source.url);
            hops.push(hop(`Grafana -> ${String(source.name)}`, url.startsWith("https://"), url));
        }
    }
    for (const input of objects) {
        const pods = podsOf(input);
        for (const container of pods ? containersOf(obj(pods.template.spec)) : []) {
            const args = strings(container.args);
            if (!args.some((arg) => arg.startsWith("--cluster.peer="))) continue;
            const tls = args.some((arg) => arg.startsWith("--cluster.tls-config="));
            hops.push(hop("Alertmanager replicas (gossip)", tls, tls ? "--cluster.tls-config" : "--cluster.peer without --cluster.tls-config"));
        }
    }
    hops.push(hop("pods -> Kubernetes API server", true, "the API server serves HTTPS only; clients verify it with the ServiceAccount's ca.crt"));
    return hops;
}

/** The scorecard of a render's objects (Secrets redacted or not: their contents are not read). */
export function securityScorecard(objects: readonly SummaryInput[]): SecurityScorecard {
    const images = new Set<string>();
    const ephemeralStorage: SecurityScorecard["ephemeralStorage"] = { containers: 0, unlimited: [] };
    for (const input of objects) {
        const pods = podsOf(input);
        for (const container of pods ? containersOf(obj(pods.template.spec)) : []) {
            if (typeof container.image === "string") images.add(container.image);
            ephemeralStorage.containers += 1;
            if (obj(obj(container.resources).limits)["ephemeral-storage"] === undefined) ephemeralStorage.unlimited.push(`${input.kind} ${input.name}/${String(container.name)}`);
        }
    }
    // Read the way the hops read it: parsed, from the ConfigMaps (Prometheus' config is never a Secret).
    const prometheusConfigs = (configFiles(objects).get("prometheus.yml") ?? []).map((text) => obj(parse(text) as Json));
    const withAlertmanagers = prometheusConfigs.filter((config) => list(obj(config.alerting).alertmanagers).length > 0).length;
    const all = [...images].sort();
    return {
        podSecurity: objects
            .filter((o) => o.kind === "Namespace")
            .map((o) => ({ namespace: o.name, enforce: String(obj(obj(o.object.metadata).labels)["pod-security.kubernetes.io/enforce"] ?? "none") })),
        tokens: tokenMounts(objects),
        rbac: rbacRules(objects),
        internetEgress: internetEgress(objects),
        images: { all, byDigest: all.filter((image) => /@sha256:[a-f0-9]{64}$/.test(image)) },
        ephemeralStorage,
        alerting: { prometheusConfigs: prometheusConfigs.length, withAlertmanagers },
        hops: encryptedHops(objects),
    };
}

/** The scorecard as the render's summary prints it: one line per measure, then what each count names. */
export function formatScorecard(card: SecurityScorecard): string[] {
    const unneeded = card.tokens.filter((token) => token.mounted && !token.bound);
    const mounted = card.tokens.filter((token) => token.mounted);
    const detail = (items: readonly string[]) => items.map((item) => `    ${item}`);
    return [
        `  Pod Security enforce: ${card.podSecurity.map((ns) => `${ns.namespace}=${ns.enforce}`).join(", ") || "no namespace in the render"}`,
        `  Pods mounting a ServiceAccount token: ${mounted.length}/${card.tokens.length}, of which without a Role that needs it: ${unneeded.length}`,
        ...detail(mounted.map((token) => `${token.workload} (${token.serviceAccount}${token.bound ? ", bound" : ", NOT BOUND"})`)),
        `  RBAC rules: ${card.rbac.withResourceNames.length + card.rbac.withoutResourceNames.length}, without resourceNames: ${card.rbac.withoutResourceNames.length}, of which writes: ${card.rbac.writesWithoutResourceNames.length}`,
        ...detail(card.rbac.withoutResourceNames),
        `  NetworkPolicy egress to any address: ${card.internetEgress.length}`,
        ...detail(card.internetEgress),
        `  Images: ${card.images.all.length}, pinned by digest: ${card.images.byDigest.length}`,
        `  Containers with an ephemeral-storage limit: ${card.ephemeralStorage.containers - card.ephemeralStorage.unlimited.length}/${card.ephemeralStorage.containers}`,
        ...detail(card.ephemeralStorage.unlimited),
        `  Prometheus configs sending alerts to an Alertmanager: ${card.alerting.withAlertmanagers}/${card.alerting.prometheusConfigs}`,
        `  Encrypted network hops: ${card.hops.filter((h) => h.encrypted).length}/${card.hops.length}`,
        ...detail(card.hops.map((h) => `${h.encrypted ? "TLS  " : "PLAIN"} ${h.hop}: ${h.evidence}`)),
    ];
}
