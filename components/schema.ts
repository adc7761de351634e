// The building blocks of every component's args schema (components/<name>/args.ts) and of the stack
// schema config.ts composes from them, plus the one formatter of their problems. A component parses
// its args with `parseArgs` and fails with one ResourceError that lists every problem, in the same
// `<subject>: <key path> <expected> (got <value>)` format a bad stack config gets.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { CPU_QUANTITY, MEMORY_QUANTITY, parseCpuQuantity, parseMemoryQuantity } from "./units";

/** A whole number within [min, max]. */
export const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
/** A TCP port number. */
export const port = int(1, 65535);
/** A Kubernetes CPU quantity. */
const cpu = z.string().regex(CPU_QUANTITY, "a CPU quantity such as 500m or 2");
/** A Kubernetes memory or storage quantity. */
export const memory = z.string().regex(MEMORY_QUANTITY, "a memory quantity such as 512Mi or 8Gi");
/** A DNS label: Kubernetes object names, service names, database names. */
export const dnsLabel = z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "a DNS label (lower-case letters, digits and '-', at most 63)");
/** A DNS name such as a Service FQDN (a trailing dot allowed). */
export const dnsName = z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.?$/, "a DNS name");

const IPV4_OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4_ADDRESS = `${IPV4_OCTET}(\\.${IPV4_OCTET}){3}`;
/** An IPv4 address such as 169.254.20.10 (each octet at most 255). */
export const ipv4Address = z.string().regex(new RegExp(`^${IPV4_ADDRESS}$`), "an IPv4 address such as 169.254.20.10");
/** An IPv4 CIDR such as 10.0.0.0/8 (each octet at most 255, the prefix at most 32). */
export const ipv4Cidr = z.string().regex(new RegExp(`^${IPV4_ADDRESS}/(3[0-2]|[12]?\\d)$`), "an IPv4 CIDR such as 10.0.0.0/8");

/** An image name: an optional registry host (and port), then lower-case path components. */
const IMAGE_NAME = /^(?:[A-Za-z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
/** A tag: what follows the name's last `:` (after its last `/`). */
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** A content digest: what follows `@`. Only sha256, the algorithm registries use. */
const IMAGE_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Why `reference` is not a pinned image reference, in the words of a message; undefined if it is one. */
export function imageReferenceProblem(reference: string): string | undefined {
    const [nameAndTag, digest, ...rest] = reference.split("@");
    if (rest.length > 0) return "must be an image reference with at most one '@' (name[:tag]@sha256:<digest>)";
    if (digest !== undefined && !IMAGE_DIGEST.test(digest)) return "must have a digest of the form sha256:<64 lower-case hex digits> after '@'";
    const tagAt = nameAndTag.lastIndexOf(":");
    const hasTag = tagAt > nameAndTag.lastIndexOf("/");
    const name = hasTag ? nameAndTag.slice(0, tagAt) : nameAndTag;
    const tag = hasTag ? nameAndTag.slice(tagAt + 1) : undefined;
    if (!IMAGE_NAME.test(name) || (tag !== undefined && !IMAGE_TAG.test(tag))) {
        return "must be an image reference such as registry.example.com/team/name:1.2.3 or name@sha256:<digest>";
    }
    // A digest pins the content whatever the tag says; without one the tag is all there is.
    if (digest === undefined && (tag === undefined || tag === "latest")) return "must be an image pinned to a version tag or digest (not 'latest', not untagged)";
    return undefined;
}

/**
 * An image reference pinned to a version or digest: `name:tag`, `name@sha256:<digest>` or
 * `name:tag@sha256:<digest>` (the digest is what is pulled; the tag is for people). `latest` or no
 * tag at all is refused, because a reschedule would silently pull something else, and so is a
 * malformed digest.
 */
export const pinnedImage = z.string().superRefine((reference, ctx) => {
    const problem = imageReferenceProblem(reference);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});

/**
 * zod runs refinements even when a field inside already failed a check; cross-field checks run only
 * on otherwise valid values, so one bad value yields one message, not a cascade.
 */
export const onlyWhenValid = { when: (payload: { issues: readonly unknown[] }) => payload.issues.length === 0 };

/**
 * The ephemeral storage (container logs, writable layer, disk-backed emptyDirs) every container
 * requests and is limited to unless its resources say otherwise. Every root filesystem is read-only
 * and every emptyDir has a sizeLimit, so what is left is mostly logs (the kubelet keeps 5 x 10Mi per
 * container by default) and scratch volumes of 64Mi; the limit leaves room for a disk-backed 1Gi
 * emptyDir (dev's Grafana data) and stops a runaway writer from filling the node's disk.
 */
export const DEFAULT_EPHEMERAL_STORAGE = { request: "64Mi", limit: "2Gi" } as const;

/** One side of a container's resources; `ephemeralStorage` unset = DEFAULT_EPHEMERAL_STORAGE. */
const cpuMemory = z.strictObject({ cpu, memory, ephemeralStorage: memory.optional() });

/** Each limit at least its request. */
function checkResources(
    value: { requests: { cpu: string; memory: string; ephemeralStorage?: string }; limits: { cpu: string; memory: string; ephemeralStorage?: string } },
    ctx: z.RefinementCtx,
): void {
    if (parseCpuQuantity(value.limits.cpu) < parseCpuQuantity(value.requests.cpu)) {
        ctx.addIssue({ code: "custom", path: ["limits", "cpu"], message: `must be at least requests.cpu (${value.requests.cpu})` });
    }
    if (parseMemoryQuantity(value.limits.memory) < parseMemoryQuantity(value.requests.memory)) {
        ctx.addIssue({ code: "custom", path: ["limits", "memory"], message: `must be at least requests.memory (${value.requests.memory})` });
    }
    const storage = ephemeralStorage(value);
    if (parseMemoryQuantity(storage.limit) < parseMemoryQuantity(storage.request)) {
        ctx.addIssue({ code: "custom", path: ["limits", "ephemeralStorage"], message: `must be at least requests.ephemeralStorage (${storage.request})` });
    }
}

/** A container's ephemeral-storage request and limit, DEFAULT_EPHEMERAL_STORAGE where unset. */
export function ephemeralStorage(resources: { requests: { ephemeralStorage?: string }; limits: { ephemeralStorage?: string } }): { request: string; limit: string } {
    return { request: resources.requests.ephemeralStorage ?? DEFAULT_EPHEMERAL_STORAGE.request, limit: resources.limits.ephemeralStorage ?? DEFAULT_EPHEMERAL_STORAGE.limit };
}

/** Requests and limits of one container, CPU and memory given (ephemeral storage optional); each limit at least its request. */
export const resources = z.strictObject({ requests: cpuMemory, limits: cpuMemory }).superRefine(checkResources, onlyWhenValid);

/** CPU and memory of one container, requests and limits both required; ephemeral storage optional (DEFAULT_EPHEMERAL_STORAGE). */
export type ContainerResources = z.output<typeof resources>;

/**
 * Requests and limits with defaults, written like the value they stand for. Each of the four
 * quantities defaults on its own, so `limits: { memory: 16Gi }` alone keeps the other three;
 * `ephemeralStorage` may be set on either side (unset: DEFAULT_EPHEMERAL_STORAGE).
 */
export function resourcesWithDefault(requests: { cpu: string; memory: string }, limits: { cpu: string; memory: string }) {
    const pair = (defaults: { cpu: string; memory: string }) =>
        z.strictObject({ cpu: cpu.default(defaults.cpu), memory: memory.default(defaults.memory), ephemeralStorage: memory.optional() }).prefault({});
    return z.strictObject({ requests: pair(requests), limits: pair(limits) }).superRefine(checkResources, onlyWhenValid).prefault({});
}

/** Where images built by the stack are pushed. */
export const registrySchema = z.strictObject({
    /** Registry and repository prefix, e.g. `ghcr.io/prepx`. */
    server: z.string().min(1),
    /**
     * Push built images (prod, and dev to the local registry of `scripts/kind-up.sh`); false builds
     * them into the local Docker only, which a cluster can run only if its nodes share that daemon.
     */
    push: z.boolean(),
    /**
     * The one platform images are built for, `os/arch[/variant]` as `docker build --platform`
     * takes it (`linux/amd64`, `linux/arm64`). Unset: the platform of the machine running Pulumi
     * (`linux/amd64` on x64, `linux/arm64` on arm64), right for a laptop cluster on that machine; a
     * stack whose nodes have another architecture than the machine deploying it sets it.
     */
    platform: z
        .string()
        .regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, "a single platform os/arch[/variant] such as linux/amd64 or linux/arm64")
        .optional(),
});

/** The image registry built images are tagged for and pushed to. */
export type Registry = z.output<typeof registrySchema>;

const IMAGE_SOURCE_EXPECTED = "either { prebuilt: <pinned image> } or { build: { context, repository, tag } }";

/** An image either given as a pinned reference or built from a Dockerfile in the repo. */
export const imageSourceSchema = z.union(
    [
        z.strictObject({ prebuilt: pinnedImage }),
        z.strictObject({
            build: z.strictObject({
                /** Build context, relative to the project root. */
                context: z.string().min(1),
                /** Dockerfile relative to the context (default `Dockerfile`). */
                dockerfile: z.string().min(1).optional(),
                /** Repository name under the registry server. */
                repository: dnsLabel,
                /** The version tag pushed; pinned, never `latest`. */
                tag: z.string().regex(/^(?!latest$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "a version tag other than 'latest'"),
            }),
        }),
    ],
    { error: IMAGE_SOURCE_EXPECTED },
);

/** Where a workload's image comes from: a pinned reference, or built from the repo. */
export type ImageSource = z.output<typeof imageSourceSchema>;

/**
 * A Pulumi input: an Output or a Promise passes as is (it is known only during the deployment), a
 * plain value is checked against `schema`.
 */
export function input<T>(schema: z.ZodType<T>) {
    return z.custom<pulumi.Input<T>>(
        (value) => pulumi.Output.isInstance(value) || value instanceof Promise || schema.safeParse(value).success,
        { error: (issue) => `must be ${describeSchema(schema, issue.input)}` },
    );
}

/** What `schema` expects, in the words of the first problem it finds with `value`. */
function describeSchema(schema: z.ZodType, value: unknown): string {
    const result = schema.safeParse(value);
    return result.success ? "valid" : expectation(result.error.issues[0]).replace(/^must be /, "");
}

/** A key path as people write it: `services[0].autoscaling.maxReplicas`. */
function formatPath(path: readonly PropertyKey[]): string {
    return path.reduce<string>((text, key) => (typeof key === "number" ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)), "");
}

/** The value at a key path of a raw (unvalidated) value; undefined where the path leads nowhere. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
    let current: unknown = root;
    for (const key of path) {
        if (current === null || typeof current !== "object") return undefined;
        current = (current as Record<PropertyKey, unknown>)[key];
    }
    return current;
}

/** The offending value as a message shows it; values under a secret key are never shown. */
function describeValue(raw: unknown, path: readonly PropertyKey[], secretKeys: ReadonlySet<PropertyKey>): string {
    const value = valueAt(raw, path);
    if (value === undefined) return "nothing";
    if (path.some((key) => secretKeys.has(key))) return "a secret value";
    if (pulumi.Output.isInstance(value) || value instanceof Promise) return "an unresolved output";
    return JSON.stringify(value);
}

function expectation(issue: z.core.$ZodIssue): string {
    switch (issue.code) {
        case "too_small":
            if (issue.origin === "array") return `must have at least ${issue.minimum} ${Number(issue.minimum) === 1 ? "entry" : "entries"}`;
            return issue.inclusive ? `must be at least ${issue.minimum}` : `must be greater than ${issue.minimum}`;
        case "too_big":
            return issue.inclusive ? `must be at most ${issue.maximum}` : `must be less than ${issue.maximum}`;
        case "invalid_type":
            if (issue.expected === "int") return "must be a whole number";
            return `must be ${/^[aeiou]/.test(issue.expected) ? "an" : "a"} ${issue.expected}`;
        case "invalid_value":
            return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
        case "invalid_format":
        case "invalid_union":
            return `must be ${issue.message}`;
        default:
            return issue.message;
    }
}

/**
 * One line per problem: `<subject>: <key path> <expected> (got <value>)`. An unknown key is named as
 * such, and one in `renamed` (old key path -> new) with what to write instead; a problem of the
 * whole value (the connection budget) carries its own text.
 */
export function formatIssues(
    subject: string,
    raw: unknown,
    issues: readonly z.core.$ZodIssue[],
    secretKeys: ReadonlySet<PropertyKey> = new Set(),
    renamed: Readonly<Record<string, string>> = {},
): string[] {
    return issues.flatMap((issue) => {
        if (issue.code === "unrecognized_keys") {
            return issue.keys.map((key) => {
                const keyPath = formatPath([...issue.path, key]);
                const hint = Object.hasOwn(renamed, keyPath) ? `; it is now ${renamed[keyPath]}` : "";
                return `${subject}: ${keyPath} is not a known key (got ${describeValue(raw, [...issue.path, key], secretKeys)})${hint}`;
            });
        }
        if (issue.path.length === 0) return [`${subject}: ${issue.message}`];
        // A rule between fields also sees values left out (their defaults, or nothing): say so.
        if (issue.code === "custom" && valueAt(raw, issue.path) === undefined) return [`${subject}: ${formatPath(issue.path)} ${expectation(issue)} (not set)`];
        return [`${subject}: ${formatPath(issue.path)} ${expectation(issue)} (got ${describeValue(raw, issue.path, secretKeys)})`];
    });
}

/** Arg names whose values never appear in a message. */
const SECRET_ARGS: ReadonlySet<PropertyKey> = new Set(["password", "passwords", "grafanaAdminPassword", "exporterPassword", "appPasswords", "grafanaSecretKey", "receivers"]);

/**
 * A component's args with its defaults applied, or a ResourceError naming the component and listing
 * every problem: `LoadBalancerTier lb: replicas must be at least 1 (got 0)`. An arg in `renamed`
 * (old name -> new) is named with what to write instead.
 */
export function parseArgs<S extends z.ZodType>(
    schema: S,
    args: unknown,
    component: pulumi.ComponentResource,
    type: string,
    name: string,
    renamed: Readonly<Record<string, string>> = {},
): z.output<S> {
    const result = schema.safeParse(args);
    if (result.success) return result.data;
    const lines = formatIssues(`${type} ${name}`, args, result.error.issues, SECRET_ARGS, renamed);
    throw new pulumi.ResourceError(lines.join("\n"), component);
}

/**
 * Names of image pull Secrets (type kubernetes.io/dockerconfigjson) in the namespace, created out of
 * band (`kubectl create secret docker-registry ...`): the ServiceAccount of every pod references
 * them, so private registries (ghcr.io images are private by default) can be pulled from.
 */
export const imagePullSecretsSchema = z
    .array(z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "a Secret name (lower-case letters, digits, '-' and '.')"))
    .default([]);
