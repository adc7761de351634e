// The stack's typed configuration: every sizing value comes from Pulumi.<stack>.yaml and is
// checked here, before any resource is declared, so a bad value fails `pulumi preview` with one
// message naming the stack, the key path, the value and what was expected.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
// The component schemas come from their args modules, not the package entry: parsing config must not
// load the component classes and the Kubernetes SDK behind them (the offline renderer and the config
// tests parse stacks without a program).
import { connectionBudget, ConnectionBudgetInput } from "./components/budget";
import { appRateLimitsSchema, healthCheckSchema, servicePoolSchema, servicesSchema } from "./components/fleet/args";
import { checkLoadBalancerSettings, loadBalancerSettingsSchema } from "./components/loadbalancer/args";
import { checkMonitoringSettings, monitoringSettingsSchema } from "./components/monitoring/args";
import { networkSettingsSchema } from "./components/network/args";
import { checkPgbouncerTimeouts, checkPostgresSettings, pgbouncerSettingsSchema, postgresSettingsSchema, RENAMED_ARGS as POSTGRES_RENAMED_ARGS } from "./components/postgres/args";
import { checkRedisSettings, redisSettingsSchema } from "./components/redis/args";
import { internalTlsSettingsSchema } from "./components/tls/args";
import { dnsLabel, formatIssues, imagePullSecretsSchema, int, onlyWhenValid, registrySchema, valueAt } from "./components/schema";
import { budgetSchema, capacitySchema, ConfigPath, Derivation, deriveSizing, pricesSchema, SizingInput, SizingService } from "./components/sizing";

/** The Pulumi config namespace of this project (`prepx-platform:<key>`). */
export const CONFIG_NAMESPACE = "prepx-platform";

/**
 * Keys the stack sets once for every component (storageClass, protectData) are not repeated inside
 * the sections that hold them for a component used on its own.
 */
const STACK_WIDE = { storageClass: true, protectData: true } as const;

/**
 * Passwords supplied by the stack; each one left out is generated (RandomPassword). At least 16
 * characters, and no characters that need quoting in a libpq connection string or redis.conf.
 */
const suppliedPasswordValue = z.string().regex(/^[A-Za-z0-9_\-.~]{16,128}$/, "16 to 128 letters, digits or _-.~");
const suppliedPassword = suppliedPasswordValue.optional();
export const passwordsSchema = z.strictObject({
    postgresSuperuser: suppliedPassword,
    postgresReplication: suppliedPassword,
    postgresApp: suppliedPassword,
    postgresMonitor: suppliedPassword,
    postgresRestApi: suppliedPassword,
    /** Redis' administrator (bootstrap, probes, replication). */
    redis: suppliedPassword,
    /** Redis' read-only exporter user. */
    redisExporter: suppliedPassword,
    /** Redis users of the services, by service name (each service left out gets a generated one). */
    redisApps: z.record(z.string(), suppliedPasswordValue).optional(),
    grafanaAdmin: suppliedPassword,
    /** Grafana's secret_key (what Grafana encrypts with it is lost when it changes). */
    grafanaSecretKey: suppliedPassword,
});

/**
 * The schema of every `prepx-platform:` key. Each section is the component's own schema
 * (components/<name>/args.ts: rules, defaults and docs), so a section or key left out of the stack
 * file takes the component's default; this file adds only the rules between sections.
 */
export const stackConfigSchema = z
    .strictObject({
        /** Kubernetes namespace everything is created in. */
        namespace: dnsLabel,
        /** Path to a kubeconfig file; unset = the provider's default (KUBECONFIG or ~/.kube/config). */
        kubeconfig: z.string().min(1).optional(),
        /**
         * kubeconfig context; unset = the current context, which a protected stack (protectData) may
         * not use: it sets this, kubeconfig or renderYamlToDirectory (the rule below).
         */
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
        /** Who signs the certificates of the internal hops (components/tls). */
        internalTls: internalTlsSettingsSchema.prefault({}),
        /** Where images the stack builds are pushed. */
        registry: registrySchema,
        /** Image pull Secrets (existing, in the namespace) every pod's ServiceAccount references: private registries. */
        imagePullSecrets: imagePullSecretsSchema,
        /** The cluster's API server, kubelets, DNS and backup store, which the NetworkPolicies open egress to, and Grafana's sources. */
        network: networkSettingsSchema.prefault({}),
        /** RedisCluster. */
        redis: redisSettingsSchema.omit(STACK_WIDE).superRefine(checkRedisSettings, onlyWhenValid).prefault({}),
        /** PostgresCluster's members. */
        postgres: postgresSettingsSchema.superRefine(checkPostgresSettings, onlyWhenValid).prefault({}),
        /** PostgresCluster's PgBouncer tier. */
        pgbouncer: pgbouncerSettingsSchema.prefault({}),
        /** LoadBalancerTier, and the service in `services` it proxies to. */
        loadBalancer: loadBalancerSettingsSchema
            .extend({ upstreamService: dnsLabel })
            .superRefine(checkLoadBalancerSettings, onlyWhenValid),
        /** ServiceFleet's services. */
        services: servicesSchema,
        /** Each service pod's PostgreSQL pool. */
        servicePool: servicePoolSchema,
        /** The application's four rate-limit tiers (rate-limiter-flexible). */
        rateLimits: appRateLimitsSchema,
        /** Health check of every service. */
        healthCheck: healthCheckSchema,
        /** MonitoringStack. */
        monitoring: monitoringSettingsSchema.omit(STACK_WIDE).superRefine(checkMonitoringSettings, onlyWhenValid).prefault({}),
        /**
         * What the stack is sized for: the sizing is derived from it (components/sizing.ts) wherever
         * the stack file sets no value of its own; feeds alert thresholds and the capacity report.
         */
        targets: z.strictObject({
            /** Users connected at once (each holds capacity.connectionsPerUser connections through the LB tier). */
            concurrentUsers: int(1),
            /** Requests per second through the load balancers at peak. */
            requestsPerSecond: int(1),
            /** The p95 latency SLO in milliseconds. */
            p95LatencyMs: int(1),
        }),
        /** Per-pod capacity figures the sizing is derived from (components/sizing.ts: each default with its source). */
        capacity: capacitySchema,
        /** Per-unit prices of the capacity report's monthly cost estimate. */
        prices: pricesSchema,
        /** What the stack may request and cost; the capacity report's budget lines. */
        budget: budgetSchema,
    })
    .superRefine((value, ctx) => {
        // A protected stack (prod) must name its cluster: unset, the provider uses whatever context
        // kubectl points at, and `pulumi up -s prod` lands on a laptop's kind cluster or on staging.
        if (value.protectData && value.renderYamlToDirectory === undefined && value.kubeconfig === undefined && value.kubeContext === undefined) {
            ctx.addIssue({
                code: "custom",
                path: ["kubeContext"],
                message: "must be set (or kubeconfig) when protectData is true: a protected stack names its cluster instead of using kubectl's current context",
            });
        }
        if (value.renderYamlToDirectory !== undefined) {
            for (const key of ["kubeconfig", "kubeContext"] as const) {
                if (value[key] !== undefined) {
                    ctx.addIssue({ code: "custom", path: [key], message: "must be unset when renderYamlToDirectory is set (manifests are written, no cluster is used)" });
                }
            }
        }
        const names = value.services.map((service) => service.name);
        if (!names.includes(value.loadBalancer.upstreamService)) {
            ctx.addIssue({
                code: "custom",
                path: ["loadBalancer", "upstreamService"],
                message: `must name one of services (${names.join(", ")})`,
            });
        }
        // The members' only way out to their object store; without it they would archive nothing.
        if (value.postgres.backup.enabled && value.postgres.backup.repository.type === "s3" && value.network.backupRepository === undefined) {
            ctx.addIssue({
                code: "custom",
                path: ["network", "backupRepository"],
                message: "must be set when postgres.backup.repository is S3: { cidrs: [the object store's or its VPC endpoint's address ranges] } (no default: it would be the whole internet)",
            });
        }
        // Alertmanager's only way out to its receivers.
        const receivers = value.monitoring.alertmanager.receivers;
        if (Object.values(receivers).some((receiver) => receiver !== undefined) && value.network.alertReceivers === undefined) {
            ctx.addIssue({
                code: "custom",
                path: ["network", "alertReceivers"],
                message:
                    "must be set when a receiver is configured (monitoring.alertmanager.receivers): { cidrs: [an egress proxy's or the webhook's address ranges] } (no default: it would be the whole internet)",
            });
        }
        for (const service of Object.keys(value.passwords?.redisApps ?? {})) {
            if (!names.includes(service)) {
                ctx.addIssue({ code: "custom", path: ["passwords", "redisApps", service], message: `must name one of services (${names.join(", ")})` });
            }
        }
        checkPgbouncerTimeouts(value, ctx);
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

/** The validated configuration of one stack, with the sizing derived from its targets. */
export type StackConfig = z.infer<typeof stackConfigSchema> & {
    /** Every number derived from targets and capacity, applied where the stack file sets none (explicit values win). */
    sizing: Derivation[];
};

/** Thrown for a bad stack configuration; its message is the whole diagnosis. */
export class StackConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "StackConfigError";
    }
}

/** Config sections whose values never appear in a message (they are secrets). */
const SECRET_SECTIONS: ReadonlySet<PropertyKey> = new Set(["passwords", "receivers"]);

/**
 * Keys renamed since a stack file may have been written; the message says what to write instead.
 * The `postgres` section is PostgresCluster's settings, so its renames are the component's.
 */
const RENAMED_KEYS: Readonly<Record<string, string>> = {
    ...Object.fromEntries(Object.entries(POSTGRES_RENAMED_ARGS).map(([old, now]) => [`postgres.${old}`, `postgres.${now}`])),
    // The issue that introduced derived sizing wrote them so.
    target: "targets",
    "targets.p95Ms": "targets.p95LatencyMs",
};

/**
 * Validates a stack's raw `prepx-platform:` values (keys without the namespace, structured values
 * already parsed from JSON). Pure: the unit tests and the offline renderer call it directly.
 * Throws StackConfigError with one line per problem: `<stack>: <key path> <expected> (got <value>)`.
 */
export function parseStackConfig(stack: string, raw: Record<string, unknown>): StackConfig {
    const input = sizingInput(raw);
    const sizing = input ? deriveSizing(input) : [];
    const sized = withDerivedValues(raw, sizing);
    const result = stackConfigSchema.safeParse(sized);
    const unknownServices = capacityForUnknownServices(stack, raw);
    if (result.success && unknownServices.length === 0) return { ...result.data, sizing };
    if (result.success) throw new StackConfigError(unknownServices.join("\n"));
    const lines = [...formatIssues(stack, sized, result.error.issues, SECRET_SECTIONS, RENAMED_KEYS), ...unknownServices];
    // A derived value the schema refuses: say where it came from, since the stack file does not hold it.
    for (const derivation of sizing) {
        if (derivation.explicit !== undefined) continue;
        if (result.error.issues.some((issue) => samePath(issue.path, derivation.path))) {
            lines.push(`${stack}: ${derivation.key} ${derivation.value} was derived from targets and capacity: ${derivation.rule}; set it in the stack file or change targets/capacity`);
        }
    }
    throw new StackConfigError(lines.join("\n"));
}

/**
 * A capacity figure the stack file gives for a service it does not run would size nothing,
 * silently. Only the file's own entries are checked: the defaults name the plan's services, which
 * another stack need not have.
 */
function capacityForUnknownServices(stack: string, raw: Record<string, unknown>): string[] {
    const listed = valueAt(raw, ["capacity", "services"]);
    if (listed === null || typeof listed !== "object" || !Array.isArray(raw.services)) return [];
    const names = (raw.services as unknown[]).map((service) => valueAt(service, ["name"]));
    return Object.keys(listed)
        .filter((name) => !names.includes(name))
        .map((name) => `${stack}: capacity.services.${name} must name one of services (${names.join(", ")})`);
}

function samePath(a: readonly PropertyKey[], b: ConfigPath): boolean {
    return a.length === b.length && a.every((part, index) => part === b[index]);
}

/** raw with every derived value the stack file does not set written in (a copy; raw is left alone). */
function withDerivedValues(raw: Record<string, unknown>, sizing: readonly Derivation[]): Record<string, unknown> {
    const copy = structuredClone(raw);
    for (const derivation of sizing) {
        if (derivation.explicit !== undefined) continue;
        let node: Record<string | number, unknown> = copy;
        for (const part of derivation.path.slice(0, -1)) {
            if (node[part] === null || typeof node[part] !== "object") node[part] = {};
            node = node[part] as Record<string | number, unknown>;
        }
        node[derivation.path[derivation.path.length - 1]] = derivation.value;
    }
    return copy;
}

/**
 * What the sizing derivation reads, from the sections parsed on their own (defaults applied). The
 * services are read from the raw list, whose autoscaling the derivation may fill in. Undefined
 * when a section it needs is invalid: then nothing is derived and the full parse names the problem.
 */
function sizingInput(raw: Record<string, unknown>): SizingInput | undefined {
    const shape = stackConfigSchema.shape;
    const targets = shape.targets.safeParse(raw.targets);
    const capacity = shape.capacity.safeParse(raw.capacity);
    const loadBalancer = shape.loadBalancer.safeParse(raw.loadBalancer);
    const pool = shape.servicePool.safeParse(raw.servicePool);
    const pgbouncer = shape.pgbouncer.safeParse(raw.pgbouncer);
    const postgres = shape.postgres.safeParse(raw.postgres);
    const redis = shape.redis.safeParse(raw.redis);
    const monitoring = shape.monitoring.safeParse(raw.monitoring);
    if (!targets.success || !capacity.success || !loadBalancer.success || !pool.success || !pgbouncer.success || !postgres.success || !redis.success || !monitoring.success) return undefined;
    if (!Array.isArray(raw.services)) return undefined;
    const services: SizingService[] = [];
    for (const entry of raw.services as unknown[]) {
        if (entry === null || typeof entry !== "object" || typeof (entry as { name?: unknown }).name !== "string") return undefined;
        const service = entry as { name: string; usesDatabase?: unknown; autoscaling?: Record<string, unknown> };
        const number = (key: string): number | undefined => (typeof service.autoscaling?.[key] === "number" ? (service.autoscaling[key] as number) : undefined);
        services.push({
            name: service.name,
            usesDatabase: service.usesDatabase === true,
            autoscaling: { minReplicas: number("minReplicas"), maxReplicas: number("maxReplicas"), targetCpuPercent: number("targetCpuPercent") },
        });
    }
    const { parameters } = postgres.data;
    const { prometheus } = monitoring.data;
    return {
        targets: targets.data,
        capacity: capacity.data,
        explicit: (path) => {
            const value = valueAt(raw, path);
            return typeof value === "number" || typeof value === "string" ? value : undefined;
        },
        loadBalancer: {
            replicas: loadBalancer.data.replicas,
            cpuLimit: loadBalancer.data.resources.limits.cpu,
            workerConnections: loadBalancer.data.workerConnections,
            workerRlimitNofile: loadBalancer.data.workerRlimitNofile,
        },
        services,
        servicePoolMax: pool.data.max,
        pgbouncer: pgbouncer.data,
        postgres: {
            standbys: postgres.data.standbys,
            maxConnections: parameters.max_connections,
            superuserReservedConnections: parameters.superuser_reserved_connections,
            reservedConnections: postgres.data.reservedConnections,
        },
        redis: redis.data,
        prometheus,
    };
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
