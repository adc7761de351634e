// PostgresCluster's inputs, declared once: each field with its doc, its default and its bounds side
// by side, and the rules between fields in checkPostgresSettings. config.ts composes the stack's
// `postgres` and `pgbouncer` sections from the two settings schemas; the component parses its args
// with postgresClusterArgsSchema.
import { z } from "zod";
import { storageClassAllowsExpansion } from "../storage";
import { connectionBudget } from "../budget";
import { dnsLabel, dnsName, imagePullSecretsSchema, imageSourceSchema, input, int, memory, onlyWhenValid, pinnedImage, registrySchema, resourcesWithDefault } from "../schema";
import type { CertificateIssuer } from "../tls";
import { parseMemoryQuantity, parsePostgresSize, POSTGRES_SIZE } from "../units";
import { dynamicSharedMemoryBytes, memberCount, MONITOR_USER, PGBOUNCER_IMAGE_LAYOUT, REPLICATION_USER, SUPERUSER } from "./render";

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

/** A PostgreSQL time setting: a whole number with its unit (0 = off). */
const postgresDuration = (example: string) => z.string().regex(/^(0|[1-9]\d*(ms|s|min|h|d))$/, `a PostgreSQL duration such as ${example} (ms, s, min, h, d), or 0 for none`);

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
    /**
     * A statement running longer is cancelled. 30 s: an API request's query has long lost its
     * caller by then (the load balancer gives up on a request after 60 s, a trading client far
     * sooner), while it keeps its locks and its work_mem; a report that needs longer sets its own
     * per session. The cluster's own sessions run without it: the superuser role (post-bootstrap:
     * ALTER ROLE ... SET statement_timeout = 0) and the Patroni and backup containers' clients
     * (CLUSTER_CLIENT_PGOPTIONS); replication connections are not subject to it.
     */
    statement_timeout: postgresDuration("30s").default("30s"),
    /**
     * A session idle inside an open transaction longer than this is ended, its locks and snapshot
     * released (a crashed or stuck client would otherwise hold back vacuum and block writers). 60 s:
     * twice statement_timeout, so only a client that stopped talking mid-transaction is cut.
     * The cluster's own sessions run without it, as without statement_timeout.
     */
    idle_in_transaction_session_timeout: postgresDuration("60s").default("60s"),
});

/** The PostgreSQL settings the stack sizes (`postgres.parameters`). */
export type PostgresParameters = z.output<typeof parametersSchema>;

/**
 * Patroni's timing (seconds) and failover lag limit (bytes). The defaults (7 / 1 / 3, Patroni's own
 * are 30 / 10 / 10) aim at a write accepted through PgBouncer at most 10 s after the leader dies.
 * Where the time goes after a SIGKILL of the leader (Patroni 3.0.2):
 * - the leader lock expires ttl after its last renewal, which was at most loop_wait before the
 *   kill: ttl - loop_wait .. ttl (6-7 s). With the Kubernetes DCS a standby times the TTL from when
 *   it saw that renewal and notices the expiry on its next HA loop: up to loop_wait + 0.5 s more;
 *   etcd deletes the key itself and wakes the standbys at once (the live test's DCS);
 * - the synchronous standby asks the other members' REST APIs (2 s timeout each, at once; a dead
 *   pod's port refuses at once), takes the lock and promotes: about 1 s;
 * - Patroni relabels the pods (`role: master`), `<name>-rw` follows, and PgBouncer's next login
 *   attempt (server_login_retry 1 s, server_connect_timeout 3 s) reaches the new leader.
 * Patroni's rule ttl >= loop_wait + 2 x retry_timeout holds (1 + 2 x 3 = 7). The price of a short
 * retry_timeout, a leader demoting after 3 s without the DCS, is taken off by failsafe_mode
 * (render.ts): a leader that still reaches every member keeps running. A running cluster takes a
 * change of these through the dynamic-config Job, without rolling the members.
 */
const patroniTimingSchema = z.strictObject({
    /** Leader lock TTL: a dead leader is replaced at most this long after its last renewal. */
    ttl: int(5, 300).default(7),
    /** Seconds between HA loop runs (the leader renews its lock each run). */
    loopWait: int(1, 60).default(1),
    /** Seconds DCS and PostgreSQL operations are retried before the leader demotes itself. */
    retryTimeout: int(1, 300).default(3),
    /** A standby lagging more than this many bytes is not promoted. */
    maximumLagOnFailover: int(0).default(1048576),
});

/** Patroni's timing (seconds) and failover lag limit (bytes). */
export type PatroniTiming = z.output<typeof patroniTimingSchema>;

/** A Kubernetes object name (a DNS subdomain), e.g. of a Secret created beforehand. */
const objectName = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "a Kubernetes object name");

/**
 * Where pgBackRest keeps base backups and archived WAL: an S3-compatible object store (prod), or a
 * volume the component creates (dev). Every member mounts or reaches it: the leader archives WAL
 * into it and takes the backups, whichever member leads.
 */
const backupRepositorySchema = z.discriminatedUnion("type", [
    z.strictObject({
        type: z.literal("s3"),
        /** The bucket, created beforehand (the component does not create it). */
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "an S3 bucket name").default("prepx-postgres-backups"),
        /** The object store's endpoint (AWS: `s3.<region>.amazonaws.com`; MinIO, Ceph: their host). */
        endpoint: dnsName.default("s3.us-east-1.amazonaws.com"),
        /** The bucket's region (required by the signature even on stores that ignore it). */
        region: z.string().min(1).default("us-east-1"),
        /** `host`: bucket.endpoint (AWS); `path`: endpoint/bucket (MinIO and most self-hosted stores). */
        uriStyle: z.enum(["host", "path"]).default("host"),
        /** Path of the repository inside the bucket; each cluster is a stanza (its name) under it. */
        path: z.string().regex(/^\/[A-Za-z0-9._/-]*$/, "an absolute path such as /pgbackrest").default("/pgbackrest"),
        /**
         * Secret (created beforehand in the namespace) with the store's `access-key-id` and
         * `secret-access-key`; they reach pgBackRest as environment variables, never a file.
         */
        credentialsSecret: objectName.default("postgres-backup-s3"),
    }),
    z.strictObject({
        type: z.literal("volume"),
        /** Size of the repository's PVC (`<name>-backup`): retentionFull full backups, the WAL between them. */
        size: memory.default("50Gi"),
        /**
         * Access mode of that PVC. Every member mounts it, so ReadWriteOnce needs every member on one
         * node (dev's single-node kind); with members on several nodes use a ReadWriteMany class.
         */
        accessMode: z.enum(["ReadWriteOnce", "ReadWriteMany"]).default("ReadWriteOnce"),
    }),
]);

/** Where backups and archived WAL are kept (`postgres.backup.repository`). */
export type BackupRepository = z.output<typeof backupRepositorySchema>;

/** Continuous WAL archiving and scheduled base backups with pgBackRest (the stack's `postgres.backup`). */
const backupSettingsSchema = z
    .strictObject({
        /** WAL archiving and backups on; off runs PostgreSQL without archive_mode (no point-in-time recovery). */
        enabled: z.boolean().default(true),
        /** Where backups and archived WAL go: S3 by default (prod); dev uses a volume. */
        repository: backupRepositorySchema.prefault({ type: "s3" }),
        /** Full backups kept; archived WAL older than the oldest kept full backup is expired with it. */
        retentionFull: int(1, 1000).default(7),
        /** Hours between full backups, counted from the newest full backup in the repository. */
        fullIntervalHours: int(1, 24 * 31).default(24),
        /** Hours between differential backups (changes since the last full one) in between; 0 = none. */
        differentialIntervalHours: int(0, 24 * 31).default(4),
        /** PostgresBackupTooOld fires when the newest backup in the repository is older than this. */
        backupAgeAlertHours: int(1, 24 * 62).default(26),
        /**
         * PostgresWalArchiveTooOld fires when the leader's last archived WAL segment is older than
         * this. The backup agent forces a segment switch every third of it, so an idle database
         * archives too and only a broken archive makes the alert fire.
         */
        walArchiveAlertMinutes: int(3, 24 * 60).default(15),
        /** Resources of the backup agent sidecar (pgBackRest's backup processes run in it). */
        resources: resourcesWithDefault({ cpu: "100m", memory: "128Mi" }, { cpu: "2", memory: "1Gi" }),
        /**
         * Point-in-time recovery (the README's restore runbook): a cluster created while this is set
         * is bootstrapped from the repository as it was at `targetTime`, instead of by initdb. Read
         * only when Patroni bootstraps (an empty data directory and no cluster state); remove it
         * once the cluster runs. Unset: initdb.
         */
        restore: z
            .strictObject({
                /** The time to recover to, with its zone; commits up to it (inclusive) are kept. */
                targetTime: z
                    .string()
                    .regex(/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:?\d{2})?)$/, "a time with its zone, such as 2026-11-30 06:30:00+00"),
                /**
                 * The timeline to follow to targetTime: unset = PostgreSQL's `latest`, which follows
                 * failovers (each one starts a timeline). `current` (the backup's) when an earlier
                 * restore to the same time left a newer timeline that forks off before the target.
                 */
                targetTimeline: z.union([z.enum(["current", "latest"]), int(1)]).optional(),
                /** The stanza restored from; unset: this cluster's own (its name). */
                stanza: z.string().regex(/^[A-Za-z0-9_.-]+$/, "a pgBackRest stanza name").optional(),
            })
            .optional(),
    })
    .superRefine((backup, ctx) => {
        if (backup.restore && !backup.enabled) {
            ctx.addIssue({ code: "custom", path: ["restore"], message: "needs enabled: true (the restore reads the repository, and the restored cluster archives into it)" });
        }
        if (backup.differentialIntervalHours >= backup.fullIntervalHours) {
            ctx.addIssue({ code: "custom", path: ["differentialIntervalHours"], message: `must be less than fullIntervalHours (${backup.fullIntervalHours}), or 0` });
        }
        const newestEvery = backup.differentialIntervalHours || backup.fullIntervalHours;
        if (backup.backupAgeAlertHours <= newestEvery) {
            ctx.addIssue({ code: "custom", path: ["backupAgeAlertHours"], message: `must exceed the interval of the newest backup (${newestEvery} h), or the alert fires on schedule` });
        }
    }, onlyWhenValid);

/** WAL archiving and backup settings with defaults applied. */
export type BackupSettings = z.output<typeof backupSettingsSchema>;

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
    image: imageSourceSchema.default({ prebuilt: "ghcr.io/prepx/postgres-patroni:15.19-patroni3.0.2-pgbackrest2.45" }),
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
    /** Whether the StorageClass allows volume expansion (components/storage.ts): a larger `storage` grows every PVC in place. */
    storageClassAllowsExpansion,
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
    /**
     * Networks pg_hba admits remote clients and standbys from, always over TLS with scram-sha-256
     * (PgBouncer and the other members connect from pod addresses). Narrow it to the cluster's
     * pod CIDR (e.g. `10.244.0.0/16`); the default admits any address, leaving who may connect
     * to the NetworkPolicies. Loopback (the in-pod exporter) is always admitted.
     */
    clientNetworks: z.array(z.string().regex(/^([\d.]+\/\d{1,2}|[\da-fA-F:]+\/\d{1,3})$/, "a CIDR such as 10.244.0.0/16 or fd00::/8")).min(1).default(["0.0.0.0/0", "::/0"]),
    /** UID/GID of the postgres user in the image (the official postgres image and images/postgres: 999). */
    postgresUid: int(1).default(999),
    /** UID PgBouncer runs as: the user of `pgbouncer.image` (the default image's `pgbouncer` user, 998). */
    pgbouncerUid: int(1).default(PGBOUNCER_IMAGE_LAYOUT.uid),
    /** GID PgBouncer runs as, also the group of its mounted config and auth file (the default image's `pgbouncer` group, 996). */
    pgbouncerGid: int(1).default(PGBOUNCER_IMAGE_LAYOUT.gid),
    /** Continuous WAL archiving and scheduled base backups (pgBackRest), their retention and alerts. */
    backup: backupSettingsSchema.prefault({}),
});

/** The PostgreSQL members' settings with defaults applied. */
export type PostgresSettings = z.output<typeof postgresSettingsSchema>;

/**
 * PgBouncer's timeouts, in seconds (0 = none). Sized for a trading API: requests are short, a
 * client that waits or idles long is broken or gone, and every held server connection is one of
 * the pool's 120 that other requests queue for.
 */
const pgbouncerTimeoutsSchema = z.strictObject({
    /**
     * `query_timeout`: PgBouncer cancels a query (closing its server connection) once this many
     * seconds passed since the client's last request, and counts a transaction left idle the same
     * way (PgBouncer 1.18 janitor; seen in the live test: an idle transaction cut at this timeout).
     * So it is a backstop above both PostgreSQL timeouts (statement_timeout 30 s,
     * idle_in_transaction_session_timeout 60 s), which end a query or an idle transaction with
     * their own clear error first; it also covers a server that stopped answering. Must exceed both.
     */
    queryTimeoutSeconds: int(0, 86400).default(70),
    /**
     * `idle_transaction_timeout`: a client idle inside a transaction longer than this is
     * disconnected, giving its server connection back to the pool (in transaction pooling it holds
     * one until COMMIT). A backstop 5 s above PostgreSQL's idle_in_transaction_session_timeout, for
     * a session that turned that one off.
     */
    idleTransactionTimeoutSeconds: int(0, 86400).default(65),
    /**
     * `client_idle_timeout`: a client connection idle (outside a transaction) longer than this is
     * closed, so abandoned connections do not eat max_client_conn. 600 s: far above the services'
     * own pool idle timeout (fleet `pool.idleTimeoutMs`, 30 s), so a live pool's connection is never cut.
     */
    clientIdleTimeoutSeconds: int(0, 86400).default(600),
    /**
     * `query_wait_timeout`: a query waiting this long for a free server connection fails (the pool
     * is exhausted), rather than queueing past the caller's patience. 30 s, within the load
     * balancer's 60 s request timeout.
     */
    queryWaitTimeoutSeconds: int(0, 86400).default(30),
});

/** PgBouncer's timeouts in seconds (`pgbouncer.timeouts`). */
export type PgbouncerTimeouts = z.output<typeof pgbouncerTimeoutsSchema>;

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
    /**
     * `max_prepared_statements`: named prepared statements tracked per server connection, so
     * clients' protocol-level prepared statements (JDBC, node-postgres with a name, pgx) work in
     * transaction pooling; 0 turns the tracking off. Needs PgBouncer >= 1.21 (the default image is 1.25).
     */
    maxPreparedStatements: int(0, 100000).default(200),
    /** Query, transaction, idle-client and pool-wait timeouts. */
    timeouts: pgbouncerTimeoutsSchema.prefault({}),
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
    } else if (parsePostgresSize(parameters.shared_buffers) + dynamicSharedMemoryBytes(parameters) >= parseMemoryQuantity(value.resources.limits.memory)) {
        // The memory-backed /dev/shm counts against the same limit.
        const shmMiB = dynamicSharedMemoryBytes(parameters) / (1024 * 1024);
        ctx.addIssue({
            code: "custom",
            path: ["parameters", "work_mem"],
            message: `sizes /dev/shm at ${shmMiB}Mi (work_mem x 2 x 9 parallel participants, at least 256Mi), which with shared_buffers (${parameters.shared_buffers}) must stay below resources.limits.memory (${value.resources.limits.memory})`,
        });
    }
    if (patroni.loopWait + 2 * patroni.retryTimeout > patroni.ttl) {
        ctx.addIssue({ code: "custom", path: ["patroni", "ttl"], message: `must be at least loopWait + 2 x retryTimeout (${patroni.loopWait + 2 * patroni.retryTimeout})` });
    }
    if (value.pgbouncer) {
        checkPgbouncerTimeouts({ postgres: value, pgbouncer: value.pgbouncer }, ctx);
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

/**
 * PgBouncer's query_timeout against PostgreSQL's timeouts, reported on
 * `pgbouncer.timeouts.queryTimeoutSeconds` (the same path in the component's args and the stack's
 * config): PgBouncer's is the backstop, PostgreSQL ends a long query or an idle transaction with
 * its own error first. PgBouncer counts an idle transaction's age against query_timeout too, so it
 * must exceed idle_in_transaction_session_timeout as well as statement_timeout.
 */
export function checkPgbouncerTimeouts(value: { postgres: Pick<PostgresSettings, "parameters">; pgbouncer: Pick<PgbouncerSettings, "timeouts"> }, ctx: z.RefinementCtx): void {
    const queryTimeout = value.pgbouncer.timeouts.queryTimeoutSeconds;
    const { statement_timeout: statementTimeout, idle_in_transaction_session_timeout: idleTimeout } = value.postgres.parameters;
    const covered = [statementTimeout, idleTimeout].map(postgresDurationSeconds);
    if (queryTimeout > 0 && covered.some((seconds) => seconds === 0 || queryTimeout <= seconds)) {
        ctx.addIssue({
            code: "custom",
            path: ["pgbouncer", "timeouts", "queryTimeoutSeconds"],
            message:
                `must exceed postgres.parameters.statement_timeout (${statementTimeout}) and idle_in_transaction_session_timeout (${idleTimeout}), ` +
                "which end a long query or an idle transaction with PostgreSQL's own error first (PgBouncer counts an idle transaction against it too); or 0 (off)",
        });
    }
}

/** Seconds of a PostgreSQL duration setting (postgresDuration), 0 for none. Pure. */
export function postgresDurationSeconds(duration: string): number {
    const match = /^(\d+)(ms|s|min|h|d)?$/.exec(duration);
    if (!match) throw new Error(`not a PostgreSQL duration: ${duration}`);
    const factor = { ms: 0.001, s: 1, min: 60, h: 3600, d: 86400 }[match[2] ?? "s"] ?? 1;
    return Number(match[1]) * factor;
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
        /**
         * The namespace's name as text, for the certificates' DNS names (`<service>.<namespace>.svc...`),
         * when `namespace` is an Output (a Namespace object's name). Unset: `namespace`, which must then be a string.
         */
        namespaceName: dnsLabel.optional(),
        /** Issues the members' and PgBouncer's certificates (the stack's internal CA, components/tls). */
        certificates: z.custom<CertificateIssuer>((value) => typeof (value as Partial<CertificateIssuer> | undefined)?.issue === "function", "a CertificateIssuer (components/tls)"),
        /** Image pull Secrets (names in the namespace) on the ServiceAccounts of every pod. */
        imagePullSecrets: imagePullSecretsSchema,
        /** The PgBouncer tier. */
        pgbouncer: pgbouncerSettingsSchema.prefault({}),
        /** Where a built image is pushed; required when `image` is a build. */
        registry: registrySchema.optional(),
        /** StorageClass of the PVCs; unset = the cluster default. */
        storageClass: z.string().min(1).optional(),
        /** Pulumi `protect` on the StatefulSet, Secrets and passwords, and PVCs retained on delete/scale-down. */
        protectData: z.boolean().default(true),
        /** Passwords of the PostgreSQL roles and Patroni's REST API; each one unset is generated once (RandomPassword). */
        passwords: passwordsSchema.prefault({}),
    })
    .superRefine(checkPostgresSettings, onlyWhenValid)
    .superRefine((args, ctx) => {
        if (args.namespaceName === undefined && typeof args.namespace !== "string") {
            ctx.addIssue({ code: "custom", path: ["namespaceName"], message: "is required when namespace is an Output: the certificates' DNS names need the namespace's name" });
        }
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
