// PostgresCluster's inputs, declared once: each field with its doc, its default and its bounds side
// by side, and the rules between fields in checkPostgresSettings. config.ts composes the stack's
// `postgres` and `pgbouncer` sections from the two settings schemas; the component parses its args
// with postgresClusterArgsSchema.
import { z } from "zod";
import { storageClassAllowsExpansion } from "../storage";
import { connectionBudget } from "../budget";
import { dnsName, imagePullSecretsSchema, imageSourceSchema, input, int, memory, onlyWhenValid, pinnedImage, registrySchema, resourcesWithDefault } from "../schema";
import { parseMemoryQuantity, parsePostgresSize, POSTGRES_SIZE } from "../units";
import { memberCount, MONITOR_USER, PGBOUNCER_IMAGE_LAYOUT, REPLICATION_USER, SUPERUSER } from "./render";

/**
 * PgBouncer's default image: CloudNativePG's (github.com/cloudnative-pg/pgbouncer-containers), PGDG's
 * pgbouncer package on debian:trixie-slim, rebuilt by that project's CI (scanned, cosign-signed) for
 * each PgBouncer release and base-image update, non-root. 1.25.2 fixes CVE-2026-6664 to -6667. Its layout
 * (binary, config file, user) is PGBOUNCER_IMAGE_LAYOUT. The tag follows rebuilds of the same
 * PgBouncer version; pin a digest (`...:1.25.2@sha256:...`) to freeze it. Replaces
 * bitnami/pgbouncer:1.23.1, whose versioned tags Bitnami moved to bitnamilegacy (no updates).
 */
export const DEFAULT_PGBOUNCER_IMAGE = "ghcr.io/cloudnative-pg/pgbouncer:1.25.2";

/** Roles the cluster creates for itself; the application role must be another one. */
const RESERVED_ROLES = [SUPERUSER, REPLICATION_USER, MONITOR_USER];

/** A lower-case PostgreSQL identifier: safe unquoted in pgbouncer.ini, URIs and SQL. */
const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "a lower-case PostgreSQL identifier");

/** A PostgreSQL size setting; `example` shows the expected spelling in the message. */
const postgresSize = (example: string) => z.string().regex(POSTGRES_SIZE, `a PostgreSQL size such as ${example}`);

/**
 * A PostgresCluster's name: a DNS label of at most 40 characters, since object names append suffixes
 * to it (`<name>-pooler-auth`, Patroni's `<name>-failover` Endpoints).
 */
export const CLUSTER_NAME = /^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/;

/** The PostgreSQL settings the stack sizes, written into Patroni's configuration. */
const parametersSchema = z.strictObject({
    /** Shared memory allocated at start; must stay below the container's memory limit. */
    shared_buffers: postgresSize("4GB").default("4GB"),
    /** The planner's estimate of the OS cache available to PostgreSQL. */
    effective_cache_size: postgresSize("12GB").default("12GB"),
    /** Memory per sort or hash operation of a query. */
    work_mem: postgresSize("64MB").default("64MB"),
    /** Memory of VACUUM, CREATE INDEX and similar maintenance. */
    maintenance_work_mem: postgresSize("512MB").default("512MB"),
    /** Connections PostgreSQL accepts; PgBouncer's server pools must fit in them (the connection budget). */
    max_connections: int(20, 10000).default(500),
    /** Connections of max_connections kept for superusers. */
    superuser_reserved_connections: int(1, 100).default(5),
    wal_level: z.enum(["replica", "logical"]).default("replica"),
    /** WAL sender processes: one per standby streaming, plus one for a member being cloned. */
    max_wal_senders: int(2, 100).default(10),
    /** Replication slots: Patroni keeps one per standby, plus one for a member being cloned. */
    max_replication_slots: int(2, 100).default(10),
});

/** The PostgreSQL settings the stack sizes (`postgres.parameters`). */
export type PostgresParameters = z.output<typeof parametersSchema>;

/** Patroni's timing (seconds) and failover lag limit (bytes). */
const patroniTimingSchema = z.strictObject({
    /** Leader lock TTL: a dead leader is replaced at most this long after its last renewal. */
    ttl: int(5, 300).default(30),
    /** Seconds between HA loop runs. */
    loopWait: int(1, 60).default(10),
    /** Seconds DCS and PostgreSQL operations are retried before the leader demotes itself. */
    retryTimeout: int(1, 300).default(10),
    /** A standby lagging more than this many bytes is not promoted. */
    maximumLagOnFailover: int(0).default(1048576),
});

/** Patroni's timing (seconds) and failover lag limit (bytes). */
export type PatroniTiming = z.output<typeof patroniTimingSchema>;

/** The PostgreSQL members (the stack's `postgres` section), plus the knobs only a caller of the component sets. */
export const postgresSettingsSchema = z.strictObject({
    /** Streaming standbys next to the leader; members = 1 + standbys. */
    standbys: int(0, 10).default(2),
    /**
     * Patroni synchronous_mode: a commit returns only once a synchronous standby has it, and only
     * that standby may be promoted, so no acknowledged commit is lost on failover. Needs a standby.
     */
    synchronousMode: z.boolean().default(true),
    /**
     * The PostgreSQL 15 + Patroni 3 image: prebuilt (pinned), or built from a Dockerfile (the stacks
     * build images/postgres of this repo). The default is that image as published, because a build
     * context is a path in the caller's project.
     */
    image: imageSourceSchema.default({ prebuilt: "ghcr.io/prepx/postgres-patroni:15.10-patroni3.0.2" }),
    /** postgres_exporter image, pinned. */
    exporterImage: pinnedImage.default("quay.io/prometheuscommunity/postgres-exporter:v0.15.0"),
    /** Database created at bootstrap, owned by `appUser`. */
    database: identifier.default("prepx"),
    /** Application role created at bootstrap; its password is in the `<name>-app` Secret. */
    appUser: identifier
        .refine((role) => !RESERVED_ROLES.includes(role), `must not be one of the cluster's own roles (${RESERVED_ROLES.join(", ")})`)
        .default("prepx"),
    /** PVC size per member. */
    storage: memory.default("500Gi"),
    /** Resources of each PostgreSQL/Patroni container. */
    resources: resourcesWithDefault({ cpu: "4", memory: "8Gi" }, { cpu: "8", memory: "16Gi" }),
    /** Resources of each postgres_exporter sidecar. */
    exporterResources: resourcesWithDefault({ cpu: "50m", memory: "64Mi" }, { cpu: "200m", memory: "128Mi" }),
    /** PostgreSQL sizing, written into Patroni's configuration. */
    parameters: parametersSchema.prefault({}),
    /** Connections kept free of PgBouncer's server pools (exporters, admins, Patroni). */
    reservedConnections: int(0, 1000).default(40),
    /** Patroni's leader TTL, loop wait, retry timeout and failover lag limit. */
    patroni: patroniTimingSchema.prefault({}),
    /** Seconds of replay lag after which a standby counts as stale (PostgresReplicationLagHigh). */
    replicationLagAlertSeconds: int(1).default(30),
    /** The cluster's DNS domain, used in host outputs and PgBouncer's upstream. */
    clusterDomain: dnsName.default("cluster.local"),
    /** UID/GID of the postgres user in the image (the official postgres image and images/postgres: 999). */
    postgresUid: int(1).default(999),
    /** UID PgBouncer runs as: the user of `pgbouncer.image` (the default image's `pgbouncer` user, 998). */
    pgbouncerUid: int(1).default(PGBOUNCER_IMAGE_LAYOUT.uid),
    /** GID PgBouncer runs as, also the group of its mounted config and auth file (the default image's `pgbouncer` group, 996). */
    pgbouncerGid: int(1).default(PGBOUNCER_IMAGE_LAYOUT.gid),
});

/** The PostgreSQL members' settings with defaults applied. */
export type PostgresSettings = z.output<typeof postgresSettingsSchema>;

/** The PgBouncer tier in front of the leader (the stack's `pgbouncer` section). */
export const pgbouncerSettingsSchema = z.strictObject({
    /** PgBouncer pods; more than one gets spread across nodes. */
    replicas: int(1, 50).default(3),
    /**
     * PgBouncer image, pinned (default DEFAULT_PGBOUNCER_IMAGE). Another image must have PgBouncer at
     * /usr/bin/pgbouncer, and its non-root user given as `postgres.pgbouncerUid`/`pgbouncerGid`.
     */
    image: pinnedImage.default(DEFAULT_PGBOUNCER_IMAGE),
    /** prometheuscommunity/pgbouncer-exporter image, pinned. */
    exporterImage: pinnedImage.default("prometheuscommunity/pgbouncer-exporter:v0.9.0"),
    /** Client connections each pod accepts (`max_client_conn`). */
    maxClientConn: int(1, 100000).default(5000),
    /** Server connections each pod opens to the leader (`default_pool_size`). */
    defaultPoolSize: int(1, 10000).default(120),
    /** Extra server connections each pod may open under load (`reserve_pool_size`). */
    reservePoolSize: int(0, 10000).default(20),
    /** Resources of each pgbouncer container. */
    resources: resourcesWithDefault({ cpu: "1", memory: "512Mi" }, { cpu: "2", memory: "1Gi" }),
    /** Resources of each exporter sidecar. */
    exporterResources: resourcesWithDefault({ cpu: "50m", memory: "64Mi" }, { cpu: "200m", memory: "128Mi" }),
});

/** The PgBouncer tier's settings with defaults applied. */
export type PgbouncerSettings = z.output<typeof pgbouncerSettingsSchema>;

/**
 * The rules between PostgresCluster settings, reported on the key they concern. The server side of
 * the connection budget (PgBouncer's pools against max_connections) is checked when the value holds
 * `pgbouncer` (the component's args); the stack checks the whole budget, services included.
 */
export function checkPostgresSettings(value: PostgresSettings & { pgbouncer?: PgbouncerSettings }, ctx: z.RefinementCtx): void {
    const members = memberCount(value.standbys);
    const { parameters, patroni } = value;
    if (value.synchronousMode && value.standbys === 0) {
        ctx.addIssue({ code: "custom", path: ["synchronousMode"], message: "needs at least one standby (standbys is 0)" });
    }
    if (parameters.max_wal_senders < members) {
        ctx.addIssue({ code: "custom", path: ["parameters", "max_wal_senders"], message: `must be at least standbys + 1 (${members})` });
    }
    // Patroni keeps a slot per standby; a member being re-cloned takes one more (pg_basebackup's).
    if (parameters.max_replication_slots < members) {
        ctx.addIssue({ code: "custom", path: ["parameters", "max_replication_slots"], message: `must be at least standbys + 1 (${members})` });
    }
    // shared_buffers is allocated up front; at or above the limit the member is OOM-killed.
    if (parsePostgresSize(parameters.shared_buffers) >= parseMemoryQuantity(value.resources.limits.memory)) {
        ctx.addIssue({ code: "custom", path: ["parameters", "shared_buffers"], message: `must be less than resources.limits.memory (${value.resources.limits.memory})` });
    }
    if (patroni.loopWait + 2 * patroni.retryTimeout > patroni.ttl) {
        ctx.addIssue({ code: "custom", path: ["patroni", "ttl"], message: `must be at least loopWait + 2 x retryTimeout (${patroni.loopWait + 2 * patroni.retryTimeout})` });
    }
    if (value.pgbouncer) {
        const budget = connectionBudget({
            services: [],
            poolMax: 0,
            pgbouncer: value.pgbouncer,
            postgres: {
                maxConnections: parameters.max_connections,
                superuserReservedConnections: parameters.superuser_reserved_connections,
                reservedConnections: value.reservedConnections,
            },
        });
        for (const problem of budget.problems) ctx.addIssue({ code: "custom", path: [], message: problem });
    }
}

/** Passwords a PostgresCluster uses instead of generating them; each one unset is generated once (RandomPassword). */
const passwordsSchema = z.strictObject({
    /** The `postgres` superuser Patroni manages the cluster with. */
    superuser: input(z.string()).optional(),
    /** The replication role the standbys stream with. */
    replication: input(z.string()).optional(),
    /** The application role (appUser) the services log in as through PgBouncer. */
    app: input(z.string()).optional(),
    /** The read-only monitoring role (postgres_exporter, PgBouncer's SHOW commands). */
    monitor: input(z.string()).optional(),
    /** Basic auth of Patroni's REST API. */
    restapi: input(z.string()).optional(),
});

/** Passwords of the PostgreSQL roles and Patroni's REST API; each one is optional. */
export type PostgresPasswords = z.input<typeof passwordsSchema>;

/** Everything a PostgresCluster takes: the settings plus where it runs and what it is given. */
export const postgresClusterArgsSchema = postgresSettingsSchema
    .extend({
        /** Namespace for every object of the cluster. */
        namespace: input(z.string()),
        /** Image pull Secrets (names in the namespace) on the ServiceAccounts of every pod. */
        imagePullSecrets: imagePullSecretsSchema,
        /** The PgBouncer tier. */
        pgbouncer: pgbouncerSettingsSchema.prefault({}),
        /** Where a built image is pushed; required when `image` is a build. */
        registry: registrySchema.optional(),
        /** StorageClass of the PVCs; unset = the cluster default. */
        storageClass: z.string().min(1).optional(),
        /** Whether the StorageClass allows volume expansion (components/storage.ts): a larger `storage` grows every PVC in place. */
        storageClassAllowsExpansion,
        /** Pulumi `protect` on the StatefulSet, Secrets and passwords, and PVCs retained on delete/scale-down. */
        protectData: z.boolean().default(true),
        /** Passwords of the PostgreSQL roles and Patroni's REST API; each one unset is generated once (RandomPassword). */
        passwords: passwordsSchema.prefault({}),
    })
    .superRefine(checkPostgresSettings, onlyWhenValid)
    .superRefine((args, ctx) => {
        if ("build" in args.image && args.registry === undefined) {
            ctx.addIssue({ code: "custom", path: ["registry"], message: `is required: image is built from ${args.image.build.context}` });
        }
    }, onlyWhenValid);

/** Args renamed since callers may have written them; parseArgs names the new one. */
export const RENAMED_ARGS: Readonly<Record<string, string>> = { replicas: "standbys" };

/** Arguments of a PostgresCluster. Every field but `namespace` has a default. */
export type PostgresClusterArgs = z.input<typeof postgresClusterArgsSchema>;

/** A PostgresCluster's args with every default applied. */
export type ResolvedPostgresClusterArgs = z.output<typeof postgresClusterArgsSchema>;
