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
import { dnsLabel, formatIssues, imagePullSecretsSchema, int, onlyWhenValid, registrySchema } from "./components/schema";

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
const suppliedPassword = z.string().regex(/^[A-Za-z0-9_\-.~]{16,128}$/, "16 to 128 letters, digits or _-.~").optional();
export const passwordsSchema = z.strictObject({
    postgresSuperuser: suppliedPassword,
    postgresReplication: suppliedPassword,
    postgresApp: suppliedPassword,
    postgresMonitor: suppliedPassword,
    postgresRestApi: suppliedPassword,
    redis: suppliedPassword,
    grafanaAdmin: suppliedPassword,
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
        /** The cluster's API server, kubelets and DNS, which the NetworkPolicies open egress to. */
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
        /** What the stack is sized for; feeds alert thresholds and the capacity report. */
        targets: z.strictObject({
            concurrentUsers: int(1),
            requestsPerSecond: int(1),
            p95LatencyMs: int(1),
        }),
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

/** The validated configuration of one stack. */
export type StackConfig = z.infer<typeof stackConfigSchema>;

/** Thrown for a bad stack configuration; its message is the whole diagnosis. */
export class StackConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "StackConfigError";
    }
}

/** Config sections whose values never appear in a message (they are secrets). */
const SECRET_SECTIONS: ReadonlySet<PropertyKey> = new Set(["passwords"]);

/**
 * Keys renamed since a stack file may have been written; the message says what to write instead.
 * The `postgres` section is PostgresCluster's settings, so its renames are the component's.
 */
const RENAMED_KEYS: Readonly<Record<string, string>> = Object.fromEntries(
    Object.entries(POSTGRES_RENAMED_ARGS).map(([old, now]) => [`postgres.${old}`, `postgres.${now}`]),
);

/**
 * Validates a stack's raw `prepx-platform:` values (keys without the namespace, structured values
 * already parsed from JSON). Pure: the unit tests and the offline renderer call it directly.
 * Throws StackConfigError with one line per problem: `<stack>: <key path> <expected> (got <value>)`.
 */
export function parseStackConfig(stack: string, raw: Record<string, unknown>): StackConfig {
    const result = stackConfigSchema.safeParse(raw);
    if (result.success) return result.data;
    throw new StackConfigError(formatIssues(stack, raw, result.error.issues, SECRET_SECTIONS, RENAMED_KEYS).join("\n"));
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
