// The stack's typed configuration: every sizing value comes from Pulumi.<stack>.yaml and is
// checked here, before any resource is declared, so a bad value fails `pulumi preview` with one
// message naming the stack, the key path, the value and what was expected.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { connectionBudget, ConnectionBudgetInput } from "./components/budget";
import {
    CPU_QUANTITY,
    MEMORY_QUANTITY,
    POSTGRES_SIZE,
    PROMETHEUS_DURATION,
    PROMETHEUS_SIZE,
    parseCpuQuantity,
    parseMemoryQuantity,
    parsePostgresSize,
    parsePrometheusSize,
} from "./components/units";

/** The Pulumi config namespace of this project (`prepx-platform:<key>`). */
export const CONFIG_NAMESPACE = "prepx-platform";

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
const cpu = z.string().regex(CPU_QUANTITY, "a CPU quantity such as 500m or 2");
const memory = z.string().regex(MEMORY_QUANTITY, "a memory quantity such as 512Mi or 8Gi");
const dnsLabel = z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "a DNS label (lower-case letters, digits and '-', at most 63)");
/**
 * An image reference pinned to a version or digest: `latest` or no tag at all is refused,
 * because a reschedule would silently pull something else.
 */
const pinnedImage = z
    .string()
    .regex(
        /^[a-z0-9][a-z0-9._\-/:]*(@sha256:[a-f0-9]{64}|:(?!latest$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/,
        "an image pinned to a version tag or digest (not 'latest', not untagged)",
    );

const cpuMemory = z.strictObject({ cpu, memory });

/**
 * zod runs refinements even when a field inside already failed a check; cross-field checks run only
 * on otherwise valid values, so one bad value yields one message, not a cascade.
 */
const onlyWhenValid = { when: (payload: { issues: readonly unknown[] }) => payload.issues.length === 0 };
const resources = z
    .strictObject({ requests: cpuMemory, limits: cpuMemory })
    .superRefine((value, ctx) => {
        if (parseCpuQuantity(value.limits.cpu) < parseCpuQuantity(value.requests.cpu)) {
            ctx.addIssue({ code: "custom", path: ["limits", "cpu"], message: `must be at least requests.cpu (${value.requests.cpu})` });
        }
        if (parseMemoryQuantity(value.limits.memory) < parseMemoryQuantity(value.requests.memory)) {
            ctx.addIssue({ code: "custom", path: ["limits", "memory"], message: `must be at least requests.memory (${value.requests.memory})` });
        }
    }, onlyWhenValid);

/** Where images built by the stack are pushed. */
const registrySchema = z.strictObject({
    /** Registry and repository prefix, e.g. `ghcr.io/prepx`. */
    server: z.string().min(1),
    /** Push built images (prod); false builds them locally only (dev, a laptop cluster). */
    push: z.boolean(),
});

/** An image either given as a pinned reference or built from a Dockerfile in the repo. */
const imageSource = z.union([
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
]);

const redisSchema = z.strictObject({
    masters: int(3, 100),
    replicasPerMaster: int(0, 5),
    clusterNodeTimeoutMs: int(1000, 60000),
    image: pinnedImage,
    exporterImage: pinnedImage,
    storage: memory,
    resources,
    exporterResources: resources,
    /** `maxmemory` in redis.conf, e.g. `6gb`; must fit the memory limit. */
    maxmemory: z.string().regex(/^\d+(mb|gb)$/, "a Redis size such as 512mb or 6gb"),
    maxmemoryPolicy: z.enum(["noeviction", "allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu", "volatile-ttl"]),
});

const postgresSchema = z
    .strictObject({
        /** Streaming replicas next to the leader (members = 1 + replicas). */
        replicas: int(0, 10),
        /** Patroni synchronous_mode: no acknowledged commit is lost on failover. */
        synchronousMode: z.boolean(),
        image: imageSource,
        exporterImage: pinnedImage,
        database: dnsLabel,
        appUser: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "a PostgreSQL role name"),
        storage: memory,
        resources,
        exporterResources: resources,
        parameters: z.strictObject({
            shared_buffers: z.string().regex(POSTGRES_SIZE, "a PostgreSQL size such as 4GB"),
            effective_cache_size: z.string().regex(POSTGRES_SIZE, "a PostgreSQL size such as 12GB"),
            work_mem: z.string().regex(POSTGRES_SIZE, "a PostgreSQL size such as 64MB"),
            maintenance_work_mem: z.string().regex(POSTGRES_SIZE, "a PostgreSQL size such as 512MB"),
            max_connections: int(20, 10000),
            superuser_reserved_connections: int(1, 100),
            wal_level: z.enum(["replica", "logical"]),
            max_wal_senders: int(2, 100),
            max_replication_slots: int(2, 100),
        }),
        /** Connections kept free of PgBouncer's server pool (exporters, admins, Patroni). */
        reservedConnections: int(0, 1000),
        patroni: z.strictObject({
            ttl: int(5, 300),
            loopWait: int(1, 60),
            retryTimeout: int(1, 300),
            maximumLagOnFailover: int(0),
        }),
    })
    .superRefine((value, ctx) => {
        if (value.synchronousMode && value.replicas === 0) {
            ctx.addIssue({ code: "custom", path: ["synchronousMode"], message: "needs at least one replica (postgres.replicas is 0)" });
        }
        if (value.parameters.max_wal_senders < value.replicas + 1) {
            ctx.addIssue({ code: "custom", path: ["parameters", "max_wal_senders"], message: `must be at least replicas + 1 (${value.replicas + 1})` });
        }
        // Patroni keeps a slot per replica; a member being re-cloned takes one more (pg_basebackup's).
        if (value.parameters.max_replication_slots < value.replicas + 1) {
            ctx.addIssue({ code: "custom", path: ["parameters", "max_replication_slots"], message: `must be at least replicas + 1 (${value.replicas + 1})` });
        }
        // shared_buffers is allocated up front; at or above the limit the member is OOM-killed.
        if (parsePostgresSize(value.parameters.shared_buffers) >= parseMemoryQuantity(value.resources.limits.memory)) {
            ctx.addIssue({
                code: "custom",
                path: ["parameters", "shared_buffers"],
                message: `must be less than resources.limits.memory (${value.resources.limits.memory})`,
            });
        }
        if (value.patroni.loopWait + 2 * value.patroni.retryTimeout > value.patroni.ttl) {
            ctx.addIssue({
                code: "custom",
                path: ["patroni", "ttl"],
                message: `must be at least loopWait + 2 x retryTimeout (${value.patroni.loopWait + 2 * value.patroni.retryTimeout})`,
            });
        }
    }, onlyWhenValid);

const pgbouncerSchema = z.strictObject({
    replicas: int(1, 50),
    image: pinnedImage,
    exporterImage: pinnedImage,
    /** Client connections each PgBouncer pod accepts. */
    maxClientConn: int(1, 100000),
    /** Server connections each PgBouncer pod opens per database/user pair. */
    defaultPoolSize: int(1, 10000),
    /** Extra server connections each pod may open under load. */
    reservePoolSize: int(0, 10000),
    resources,
    exporterResources: resources,
});

const rateZone = z.strictObject({ rate: int(1) });
const loadBalancerSchema = z.strictObject({
    replicas: int(1, 100),
    serviceType: z.enum(["LoadBalancer", "NodePort", "ClusterIP"]),
    image: pinnedImage,
    exporterImage: pinnedImage,
    /** prometheus-nginxlog-exporter: responses by status and the latency histogram, from nginx's access log. */
    logExporterImage: pinnedImage,
    workerConnections: int(512, 1048576),
    workerRlimitNofile: int(1024, 1048576),
    /** Requests per second per client address, for the whole tier (divided by replicas). */
    rateLimits: z.strictObject({ global: rateZone, api: rateZone, trading: rateZone }),
    burst: int(0),
    limitConn: int(1),
    zoneSize: z.string().regex(/^\d+[km]$/, "an nginx size such as 10m"),
    upstreamKeepalive: int(1, 10000),
    maxFails: int(1, 100),
    failTimeoutSeconds: int(1, 3600),
    proxy: z.strictObject({
        connectTimeoutSeconds: int(1, 600),
        sendTimeoutSeconds: int(1, 3600),
        readTimeoutSeconds: int(1, 3600),
        nextUpstreamTries: int(1, 20),
        nextUpstreamTimeoutSeconds: int(1, 600),
    }),
    /** The service in `services` nginx proxies to. */
    upstreamService: dnsLabel,
    resources,
    exporterResources: resources,
});

const serviceSchema = z
    .strictObject({
        name: dnsLabel,
        port: int(1, 65535),
        healthPath: z.string().regex(/^\/[^\s]*$/, "an HTTP path starting with /"),
        image: imageSource,
        /** Whether the service holds a PostgreSQL pool (counted in the connection budget). */
        usesDatabase: z.boolean(),
        autoscaling: z.strictObject({
            minReplicas: int(1, 1000),
            maxReplicas: int(1, 1000),
            targetCpuPercent: int(1, 100),
        }),
        resources,
    })
    .superRefine((value, ctx) => {
        if (value.autoscaling.maxReplicas < value.autoscaling.minReplicas) {
            ctx.addIssue({
                code: "custom",
                path: ["autoscaling", "maxReplicas"],
                message: `must be at least autoscaling.minReplicas (${value.autoscaling.minReplicas})`,
            });
        }
    }, onlyWhenValid);

const appRateLimit = z.strictObject({ points: int(1), duration: int(1), blockDuration: int(0) });

const monitoringSchema = z
    .strictObject({
        prometheus: z.strictObject({
            image: pinnedImage,
            retentionTime: z.string().regex(PROMETHEUS_DURATION, "a Prometheus duration such as 30d"),
            retentionSize: z.string().regex(PROMETHEUS_SIZE, "a Prometheus size such as 50GB"),
            storage: memory,
            scrapeInterval: z.string().regex(PROMETHEUS_DURATION, "a Prometheus duration such as 15s"),
            resources,
        }),
        grafana: z.strictObject({
            image: pinnedImage,
            storage: memory,
            /** Grafana's database on a PVC (true) or an emptyDir (false); dashboards are provisioned either way. */
            persistent: z.boolean(),
            resources,
        }),
    })
    .superRefine((value, ctx) => {
        const { storage, retentionSize } = value.prometheus;
        if (parseMemoryQuantity(storage) <= parsePrometheusSize(retentionSize)) {
            ctx.addIssue({
                code: "custom",
                path: ["prometheus", "storage"],
                message: `must be larger than prometheus.retentionSize (${retentionSize}), or the TSDB fills the volume before retention deletes blocks`,
            });
        }
    }, onlyWhenValid);

/**
 * Passwords supplied by the stack; each one left out is generated (RandomPassword). At least 16
 * characters, and no characters that need quoting in a libpq connection string or redis.conf.
 */
const suppliedPassword = z.string().regex(/^[A-Za-z0-9_\-.~]{16,128}$/, "16 to 128 letters, digits or _-.~").optional();
const passwordsSchema = z.strictObject({
    postgresSuperuser: suppliedPassword,
    postgresReplication: suppliedPassword,
    postgresApp: suppliedPassword,
    postgresMonitor: suppliedPassword,
    postgresRestApi: suppliedPassword,
    redis: suppliedPassword,
    grafanaAdmin: suppliedPassword,
});

/** The schema of every `prepx-platform:` key. */
export const stackConfigSchema = z
    .strictObject({
        /** Kubernetes namespace everything is created in. */
        namespace: dnsLabel,
        /** Path to a kubeconfig file; unset = the provider's default (KUBECONFIG or ~/.kube/config). */
        kubeconfig: z.string().min(1).optional(),
        /** kubeconfig context; unset = the current context. */
        kubeContext: z.string().min(1).optional(),
        /** Pulumi `protect` on every resource of the stack (destroy deletes nothing) plus PVC retention. */
        protectData: z.boolean(),
        /** StorageClass of every PVC; unset = the cluster's default class. */
        storageClass: z.string().min(1).optional(),
        /**
         * Write every object as YAML into this directory instead of applying it to a cluster (the
         * Kubernetes provider's `renderYamlToDirectory`): `pulumi up` then needs no cluster. Secrets
         * are written in plain text. Excludes kubeconfig and kubeContext.
         */
        renderYamlToDirectory: z.string().min(1).optional(),
        /**
         * Passwords the stack uses instead of generating them with @pulumi/random, e.g. taken from a
         * vault. Set each with `pulumi config set --secret --path passwords.<name> <value>`.
         */
        passwords: passwordsSchema.optional(),
        registry: registrySchema,
        redis: redisSchema,
        postgres: postgresSchema,
        pgbouncer: pgbouncerSchema,
        loadBalancer: loadBalancerSchema,
        services: z.array(serviceSchema).min(1),
        /** Each service pod's PostgreSQL pool. */
        servicePool: z.strictObject({
            max: int(1, 10000),
            min: int(0, 10000),
            idleTimeoutMs: int(0),
            connectionTimeoutMs: int(1),
        }),
        /** The application's four rate-limit tiers (rate-limiter-flexible). */
        rateLimits: z.strictObject({ global: appRateLimit, ip: appRateLimit, user: appRateLimit, trading: appRateLimit }),
        /** Health check of every service (the plan: every 30 s, timeout 5 s, 3 failures). */
        healthCheck: z.strictObject({ periodSeconds: int(1, 600), timeoutSeconds: int(1, 600), failureThreshold: int(1, 100) }),
        monitoring: monitoringSchema,
        /** What the stack is sized for; feeds alert thresholds and the capacity report. */
        targets: z.strictObject({
            concurrentUsers: int(1),
            requestsPerSecond: int(1),
            p95LatencyMs: int(1),
        }),
    })
    .superRefine((value, ctx) => {
        if (value.renderYamlToDirectory !== undefined) {
            for (const key of ["kubeconfig", "kubeContext"] as const) {
                if (value[key] !== undefined) {
                    ctx.addIssue({ code: "custom", path: [key], message: "must be unset when renderYamlToDirectory is set (manifests are written, no cluster is used)" });
                }
            }
        }
        const names = value.services.map((service) => service.name);
        names.forEach((name, index) => {
            if (names.indexOf(name) !== index) {
                ctx.addIssue({ code: "custom", path: ["services", index, "name"], message: "must be unique among services" });
            }
        });
        if (!names.includes(value.loadBalancer.upstreamService)) {
            ctx.addIssue({
                code: "custom",
                path: ["loadBalancer", "upstreamService"],
                message: `must name one of services (${names.join(", ")})`,
            });
        }
        if (value.servicePool.min > value.servicePool.max) {
            ctx.addIssue({ code: "custom", path: ["servicePool", "min"], message: `must be at most servicePool.max (${value.servicePool.max})` });
        }
        for (const problem of connectionBudget(connectionBudgetInput(value)).problems) {
            ctx.addIssue({ code: "custom", path: [], message: problem });
        }
    }, onlyWhenValid);

/** The connection budget's input, taken from a stack's configuration. */
export function connectionBudgetInput(config: Pick<z.infer<typeof stackConfigSchema>, "services" | "servicePool" | "pgbouncer" | "postgres">): ConnectionBudgetInput {
    return {
        services: config.services.map((service) => ({ name: service.name, maxReplicas: service.autoscaling.maxReplicas, usesDatabase: service.usesDatabase })),
        poolMax: config.servicePool.max,
        pgbouncer: config.pgbouncer,
        postgres: {
            maxConnections: config.postgres.parameters.max_connections,
            superuserReservedConnections: config.postgres.parameters.superuser_reserved_connections,
            reservedConnections: config.postgres.reservedConnections,
        },
    };
}

/** The validated configuration of one stack. */
export type StackConfig = z.infer<typeof stackConfigSchema>;

/** Thrown for a bad stack configuration; its message is the whole diagnosis. */
export class StackConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "StackConfigError";
    }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
    let current: unknown = root;
    for (const key of path) {
        if (current === null || typeof current !== "object") return undefined;
        current = (current as Record<PropertyKey, unknown>)[key];
    }
    return current;
}

function formatPath(path: readonly PropertyKey[]): string {
    return path.reduce<string>((text, key) => (typeof key === "number" ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)), "");
}

/** Config sections whose values never appear in a message (they are secrets). */
const SECRET_SECTIONS: ReadonlySet<PropertyKey> = new Set(["passwords"]);

/** The offending value as a message shows it; secrets are never shown. */
function describe(raw: unknown, path: readonly PropertyKey[]): string {
    const value = valueAt(raw, path);
    if (value === undefined) return "nothing";
    return SECRET_SECTIONS.has(path[0]) ? "a secret value" : JSON.stringify(value);
}

function expectation(issue: z.core.$ZodIssue): string {
    switch (issue.code) {
        case "too_small":
            if (issue.origin === "array") return `must have at least ${issue.minimum} entries`;
            return issue.inclusive ? `must be at least ${issue.minimum}` : `must be greater than ${issue.minimum}`;
        case "too_big":
            return issue.inclusive ? `must be at most ${issue.maximum}` : `must be less than ${issue.maximum}`;
        case "invalid_type":
            return issue.expected === "int" ? "must be a whole number" : `must be ${issue.expected === "object" ? "an object" : `a ${issue.expected}`}`;
        case "invalid_value":
            return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
        case "invalid_format":
            return `must be ${issue.message}`;
        case "invalid_union":
            return "must be either { prebuilt: <pinned image> } or { build: { context, repository, tag } }";
        default:
            return issue.message;
    }
}

/**
 * Validates a stack's raw `prepx-platform:` values (keys without the namespace, structured values
 * already parsed from JSON). Pure: the unit tests and the offline renderer call it directly.
 * Throws StackConfigError with one line per problem: `<stack>: <key path> <expected> (got <value>)`.
 */
export function parseStackConfig(stack: string, raw: Record<string, unknown>): StackConfig {
    const result = stackConfigSchema.safeParse(raw);
    if (result.success) return result.data;
    const lines = result.error.issues.flatMap((issue) => {
        if (issue.code === "unrecognized_keys") {
            return issue.keys.map((key) => {
                const path = formatPath([...issue.path, key]);
                return `${stack}: ${path} is not a known key (got ${describe(raw, [...issue.path, key])})`;
            });
        }
        // Whole-stack checks (the connection budget) carry their own arithmetic instead of a value.
        if (issue.path.length === 0) return [`${stack}: ${issue.message}`];
        return [`${stack}: ${formatPath(issue.path)} ${expectation(issue)} (got ${describe(raw, issue.path)})`];
    });
    throw new StackConfigError(lines.join("\n"));
}

/**
 * Reads every `prepx-platform:` key of the running stack and validates it.
 * Structured values arrive from Pulumi as JSON strings; primitives as plain strings.
 */
export function loadStackConfig(): StackConfig {
    const stack = pulumi.getStack();
    const raw: Record<string, unknown> = {};
    const prefix = `${CONFIG_NAMESPACE}:`;
    for (const [fullKey, text] of Object.entries(pulumi.runtime.allConfig())) {
        if (!fullKey.startsWith(prefix)) continue;
        raw[fullKey.slice(prefix.length)] = parseConfigValue(text);
    }
    return parseStackConfig(stack, raw);
}

/** Pulumi hands every config value over as a string; objects, numbers and booleans as JSON. */
export function parseConfigValue(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}
