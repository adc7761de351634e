// Helpers of the cluster test: REST paths of the objects the stacks create, bounded waits, figures.
import type { LocalCluster } from "../../tools/cluster/cluster";

/** An object as a manifest names it. */
export interface ObjectRef {
    apiVersion: string;
    kind: string;
    name: string;
    namespace?: string;
}

/** `Deployment` -> `deployments`, `NetworkPolicy` -> `networkpolicies`: the kinds the stacks create. */
function resourceOf(kind: string): string {
    const lower = kind.toLowerCase();
    if (lower.endsWith("y")) return `${lower.slice(0, -1)}ies`;
    // Endpoints is its own plural; Ingress takes -es.
    if (lower.endsWith("ss")) return `${lower}es`;
    return lower.endsWith("s") ? lower : `${lower}s`;
}

/** The REST path of one object. */
export function apiPath(ref: ObjectRef): string {
    const base = ref.apiVersion.includes("/") ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
    const scope = ref.namespace ? `/namespaces/${ref.namespace}` : "";
    return `${base}${scope}/${resourceOf(ref.kind)}/${ref.name}`;
}

/** Names of the objects a list path returns. */
export async function listNames(cluster: LocalCluster, listPath: string): Promise<string[]> {
    const response = await cluster.request("GET", listPath);
    if (response.status !== 200) throw new Error(`GET ${listPath}: ${response.status}`);
    return (response.body as { items: { metadata: { name: string } }[] }).items.map((item) => item.metadata.name);
}

/** Polls `read` every 500 ms until `done` holds for its value; fails after `timeoutMs` with the last value. */
export async function waitUntil<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let value = await read();
    while (!done(value)) {
        if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs / 1000} s; last: ${JSON.stringify(value).slice(0, 2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
        value = await read();
    }
    return value;
}

/** Prints a line of figures (jest's console would add a stack trace per line). */
export function clusterReport(line: string): void {
    process.stdout.write(`cluster: ${line}\n`);
}

/**
 * The API server's strict verdict on one object, without changing anything: a server-side apply
 * dry run with fieldValidation=Strict, which refuses unknown and duplicate fields (the Kubernetes
 * provider drops an unknown field without a word, and the OpenAPI check of the render does not see
 * it). Undefined when accepted, else the API server's message.
 */
export async function strictDryRun(cluster: LocalCluster, ref: ObjectRef, manifest: Record<string, unknown>): Promise<string | undefined> {
    const query = "dryRun=All&fieldValidation=Strict&fieldManager=prepx-strict-check&force=true";
    const response = await cluster.request("PATCH", `${apiPath(ref)}?${query}`, manifest, "application/apply-patch+yaml");
    if (response.status === 200 || response.status === 201) return undefined;
    const message = (response.body as { message?: string }).message ?? JSON.stringify(response.body);
    return `${ref.kind} ${ref.namespace ?? "-"}/${ref.name}: ${response.status} ${message}`;
}
