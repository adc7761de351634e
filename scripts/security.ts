// The security scorecard of a render, computed from the rendered objects alone (so it counts what
// the stack would create, whichever component added it): Pod Security enforcement, ServiceAccount
// tokens mounted without a binding that needs them, RBAC rules without resourceNames, pod groups
// whose NetworkPolicies reach the internet, images pinned by digest, containers without an
// ephemeral-storage limit, and whether Prometheus hands its alerts to an Alertmanager. Pure.
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

/** The scorecard of a render's objects (Secrets redacted or not: their contents are not read). */
export function securityScorecard(objects: readonly SummaryInput[]): SecurityScorecard {
    const images = new Set<string>();
    const ephemeralStorage: SecurityScorecard["ephemeralStorage"] = { containers: 0, unlimited: [] };
    let prometheusConfigs = 0;
    let withAlertmanagers = 0;
    for (const input of objects) {
        const pods = podsOf(input);
        for (const container of pods ? containersOf(obj(pods.template.spec)) : []) {
            if (typeof container.image === "string") images.add(container.image);
            ephemeralStorage.containers += 1;
            if (obj(obj(container.resources).limits)["ephemeral-storage"] === undefined) ephemeralStorage.unlimited.push(`${input.kind} ${input.name}/${String(container.name)}`);
        }
        if (input.kind === "ConfigMap" || input.kind === "Secret") {
            for (const [key, text] of Object.entries(obj(input.object.data ?? input.object.stringData))) {
                if (key !== "prometheus.yml" || typeof text !== "string") continue;
                prometheusConfigs += 1;
                if (/^alerting:\s*\n(?:[ \t].*\n)*?\s+alertmanagers:/m.test(text)) withAlertmanagers += 1;
            }
        }
    }
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
        alerting: { prometheusConfigs, withAlertmanagers },
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
    ];
}
