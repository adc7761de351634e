// Turns the resources a program registered under the mock runtime into the Kubernetes objects it
// would send to a cluster: one plain object per Kubernetes resource (the Provider and components
// excluded), Secret contents redacted, in a stable order, as multi-document YAML. Pure: the
// renderer, the schema tests and the summary all start from renderObjects(recorded).
import { Document } from "yaml";
import { isWireSecret, RecordedResource } from "./mock-runtime";

/** A JSON value, as Kubernetes objects are made of. */
export type Json = string | number | boolean | null | Json[] | JsonObject;
export interface JsonObject {
    [key: string]: Json;
}

/** What replaces every value of a Secret, and any secret value found outside one. */
// Valid base64 on purpose: Secret `data` values must be base64 (the schema checks it), so the
// redacted file still validates, and a reader still sees the word.
export const REDACTED = "REDACTED";

/** Pulumi's placeholder for a value not known until the engine creates the resource. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** One Kubernetes object of the stack. */
export interface RenderedObject {
    apiVersion: string;
    kind: string;
    /** Empty for cluster-scoped objects, or when the object leaves it to the provider's default. */
    namespace: string;
    name: string;
    /** The object as applied, Secret contents redacted, keys in canonical order. */
    object: JsonObject;
    /** Where it comes from: the Pulumi type token, logical name and the parent component. */
    source: { type: string; logicalName: string; parentType: string; parentName: string; protect: boolean };
    /** True when the program left metadata.name to Pulumi, which appends a random suffix. */
    autoNamed: boolean;
}

/** Everything renderObjects found, including what it could not render. */
export interface RenderResult {
    objects: RenderedObject[];
    /** Kubernetes resources registered as components (helm/yaml remote components): their children never reach the mocks. */
    unrendered: string[];
    /** Secret values outside a Secret (redacted in the output), unknown values: each a defect of the program. */
    problems: string[];
}

/**
 * Install order of Helm (releaseutil.InstallOrder): what a reader expects to see first. Kinds not
 * listed follow, alphabetically.
 */
const KIND_ORDER = [
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "Ingress",
    "APIService",
];

/**
 * `kubernetes:apps/v1:StatefulSet` -> apps/v1 + StatefulSet; the core group is `core/v1` in type
 * tokens and plain `v1` in objects. Undefined for anything that is not a Kubernetes type token.
 */
export function kubernetesTypeParts(type: string): { apiVersion: string; kind: string } | undefined {
    const match = /^kubernetes:([^:]+):([^:]+)$/.exec(type);
    if (!match) return undefined;
    // A `<Kind>Patch` resource (server-side apply of some fields) sends an object of its kind.
    return { apiVersion: match[1] === "core/v1" ? "v1" : match[1], kind: match[2].replace(/Patch$/, "") };
}

/** The type and logical name at the end of a URN (`urn:pulumi:stack::project::a$b::name`). */
function urnTail(urn: string): { type: string; name: string } {
    const parts = urn.split("::");
    if (parts.length < 4) return { type: "", name: "" };
    const chain = parts[2].split("$");
    return { type: chain[chain.length - 1], name: parts.slice(3).join("::") };
}

function isObject(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * A JSON copy with map keys in a canonical order (top level: apiVersion, kind, metadata first;
 * everywhere else alphabetical, as `kubectl get -o yaml` prints them), so moving a field in the
 * code does not show up as a change in a diff of two renders. Pulumi marks a whole property secret
 * when any value in it is; the copy unwraps the marks, replaces every string under one by REDACTED
 * (other types keep their value so the object keeps its shape) and reports each marked path once.
 */
function canonical(value: unknown, path: string, marks: Marks, secret = false, top = false): Json {
    if (isWireSecret(value)) {
        if (!secret) marks.onSecret(path);
        return canonical((value as Record<string, unknown>).value, path, marks, true);
    }
    if (value === UNKNOWN) {
        marks.onUnknown(path);
        return value;
    }
    if (Array.isArray(value)) return value.map((item, index) => canonical(item, `${path}[${index}]`, marks, secret));
    if (isObject(value)) {
        const first = top ? ["apiVersion", "kind", "metadata"] : [];
        const keys = Object.keys(value).filter((key) => value[key] !== undefined);
        const ordered = [...first.filter((key) => keys.includes(key)), ...keys.filter((key) => !first.includes(key)).sort()];
        const out: JsonObject = {};
        for (const key of ordered) out[key] = canonical(value[key], path ? `${path}.${key}` : key, marks, secret);
        return out;
    }
    if (typeof value === "string") return secret ? REDACTED : value;
    if (typeof value === "number" || typeof value === "boolean" || value === null) return value;
    return String(value);
}

interface Marks {
    onSecret(path: string): void;
    onUnknown(path: string): void;
}

/** Replaces every value of a Secret's data and stringData, keeping the keys (a reviewer sees which exist). */
function redactSecret(object: JsonObject): void {
    for (const field of ["data", "stringData"]) {
        const values = object[field];
        if (isObject(values)) {
            for (const key of Object.keys(values)) values[key] = REDACTED;
        }
    }
}

function kindRank(kind: string): number {
    const index = KIND_ORDER.indexOf(kind);
    return index === -1 ? KIND_ORDER.length : index;
}

/** Stable order: install order of the kind, then kind, namespace, name, apiVersion. */
export function compareObjects(a: Pick<RenderedObject, "kind" | "namespace" | "name" | "apiVersion">, b: typeof a): number {
    return (
        kindRank(a.kind) - kindRank(b.kind) ||
        a.kind.localeCompare(b.kind) ||
        a.namespace.localeCompare(b.namespace) ||
        a.name.localeCompare(b.name) ||
        a.apiVersion.localeCompare(b.apiVersion)
    );
}

/** The Kubernetes objects among the recorded resources. Pure. */
export function renderObjects(recorded: readonly RecordedResource[]): RenderResult {
    const objects: RenderedObject[] = [];
    const unrendered: string[] = [];
    const problems: string[] = [];
    for (const resource of recorded) {
        const parts = kubernetesTypeParts(resource.type);
        if (!parts) continue; // the Provider (pulumi:providers:kubernetes), components, random, docker
        if (!resource.custom) {
            unrendered.push(`${resource.type} ${resource.name}`);
            continue;
        }
        const secretPaths: string[] = [];
        const unknownPaths: string[] = [];
        const marks: Marks = { onSecret: (path) => secretPaths.push(path), onUnknown: (path) => unknownPaths.push(path) };
        const object = canonical({ apiVersion: parts.apiVersion, kind: parts.kind, ...resource.wire }, "", marks, false, true) as JsonObject;
        const metadata: JsonObject = isObject(object.metadata) ? (object.metadata as JsonObject) : {};
        object.metadata = metadata;
        // The mock engine names unnamed objects after their logical name, as Pulumi's auto-naming
        // does (plus a random suffix, which a render cannot know).
        const autoNamed = typeof metadata.name !== "string";
        if (autoNamed) metadata.name = resource.name;
        const name = String(metadata.name);
        const namespace = typeof metadata.namespace === "string" ? metadata.namespace : "";
        const where = `${parts.kind} ${namespace ? `${namespace}/` : ""}${name}`;
        if (object.apiVersion !== parts.apiVersion || object.kind !== parts.kind) {
            problems.push(`${where}: apiVersion/kind ${String(object.apiVersion)}/${String(object.kind)} differ from its type ${resource.type}`);
        }
        if (parts.apiVersion === "v1" && parts.kind === "Secret") {
            redactSecret(object);
        } else {
            for (const path of secretPaths) problems.push(`${where}: secret value at ${path} outside a Secret (redacted here; it belongs in a Secret)`);
        }
        for (const path of unknownPaths) problems.push(`${where}: value at ${path} is unknown under the mocks`);
        const parent = urnTail(resource.parent);
        objects.push({
            apiVersion: parts.apiVersion,
            kind: parts.kind,
            namespace,
            name,
            object,
            source: { type: resource.type, logicalName: resource.name, parentType: parent.type, parentName: parent.name, protect: resource.protect },
            autoNamed,
        });
    }
    objects.sort(compareObjects);
    const seen = new Set<string>();
    for (const object of objects) {
        const key = `${object.apiVersion} ${object.kind} ${object.namespace}/${object.name}`;
        if (seen.has(key)) problems.push(`${object.kind} ${object.namespace}/${object.name}: declared twice (the second apply would overwrite the first)`);
        seen.add(key);
    }
    return { objects, unrendered, problems };
}

/** The header comment of one document: where the object comes from, for a reviewer of a diff. */
function provenance(object: RenderedObject): string {
    const from = object.source.parentType && object.source.parentType !== "pulumi:pulumi:Stack"
        ? `${object.source.parentType} "${object.source.parentName}"`
        : "the stack";
    const notes = [
        `from ${from}: ${object.source.type} "${object.source.logicalName}"`,
        ...(object.source.protect ? ["protected (pulumi protect)"] : []),
        ...(object.autoNamed ? ["auto-named: Pulumi appends a random suffix to this name"] : []),
    ];
    return ` ${notes.join("; ")}`;
}

/** Multi-document YAML of the objects, in the order given. */
export function manifestsYaml(objects: readonly RenderedObject[]): string {
    return objects
        // No line folding and literal blocks: scripts and config files stay line-for-line
        // diffable, the way they are rendered into ConfigMaps.
        .map((object) => `#${provenance(object)}\n${new Document(object.object).toString({ lineWidth: 0, blockQuote: "literal" })}`)
        .join("---\n");
}
