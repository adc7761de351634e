// Pure renderers for the PostgreSQL cluster: Patroni's configuration (PostgreSQL parameters,
// pg_hba, bootstrap, DCS), the post-bootstrap script that creates the application database and
// roles, pgbouncer.ini and PgBouncer's auth file, plus the names and sizes the component uses.
// The component puts them in ConfigMaps and Secrets; the live tests run the very same text on
// Debian's patroni, postgresql-15 and pgbouncer (with the DCS section pointed at a local etcd).
import { createHash } from "crypto";
import { serviceDnsNames, statefulSetPodNames } from "../dns";
import { parsePostgresSize } from "../units";
import { toYaml, YamlValue } from "../yaml";
import type { PatroniTiming, PgbouncerSettings, PgbouncerTimeouts, PostgresParameters, ResolvedPostgresClusterArgs } from "./args";
import type { ArchiveSettings } from "./backup";
import { TLS_SECRET_KEYS } from "../tls";

/** PostgreSQL's port in every member. */
export const POSTGRES_PORT = 5432;
/** Patroni's REST API port (health endpoints /readiness and /liveness, /patroni state). */
export const PATRONI_PORT = 8008;
/** PgBouncer's client port. */
export const PGBOUNCER_PORT = 6432;
/** postgres_exporter's metrics port. */
export const POSTGRES_EXPORTER_PORT = 9187;
/** pgbouncer_exporter's metrics port. */
export const PGBOUNCER_EXPORTER_PORT = 9127;

/** The label Patroni sets on each member pod with its role (Patroni's default `role_label`). */
export const ROLE_LABEL = "role";
/** The role label's value on the leader. Patroni 3.0.x writes `master` (3.1+ can write `primary`). */
export const LEADER_ROLE = "master";
/** The role label's value on a running standby (Patroni calls it a replica). */
export const REPLICA_ROLE = "replica";

/** PostgreSQL role names the cluster uses besides the application user. */
export const SUPERUSER = "postgres";
export const REPLICATION_USER = "replicator";
/** Read-only monitoring role (pg_monitor) for postgres_exporter and PgBouncer's SHOW commands. */
export const MONITOR_USER = "monitor";
/** User of Patroni's REST API for its unsafe (POST/PATCH) endpoints; GETs need no auth. */
export const RESTAPI_USER = "patroni";

/**
 * libpq's PGOPTIONS for the cluster's own clients in a member pod: Patroni and what it runs
 * (pg_basebackup, pg_rewind, the post-bootstrap psql) and the backup agent's pgBackRest, which
 * sets no statement_timeout of its own (a backup's stop waits for WAL archiving). The application
 * timeouts (statement_timeout, idle_in_transaction_session_timeout) are off for their sessions,
 * also in a cluster bootstrapped before these settings existed. Patroni's own explicit
 * `options` (its 2 s statement_timeout on health queries) still win over it.
 */
export const CLUSTER_CLIENT_PGOPTIONS = "-c statement_timeout=0 -c idle_in_transaction_session_timeout=0";

/** Members of a cluster with `standbys` streaming standbys: one leader plus the standbys. */
export function memberCount(standbys: number): number {
    return 1 + standbys;
}

const MIB = 1024 * 1024;

/** PostgreSQL 15's max_parallel_workers default: parallel workers the whole server runs at once. */
const PARALLEL_WORKERS = 8;
/** PostgreSQL 15's hash_mem_multiplier default: a hash table may take this many times work_mem. */
const HASH_MEM_MULTIPLIER = 2;
/** The smallest /dev/shm a member gets: parallel query's own segments and a few small shared hashes. */
const MIN_DYNAMIC_SHARED_MEMORY_BYTES = 256 * MIB;

/**
 * Bytes of the member's memory-backed /dev/shm. PostgreSQL's dynamic shared memory (posix, in
 * /dev/shm) holds what parallel workers share, chiefly parallel hash joins: up to work_mem x
 * hash_mem_multiplier per participant, for every parallel worker the server may run plus a leader
 * process; rounded up to MiB, at least 256 MiB. shared_buffers is not in it (PostgreSQL maps it
 * anonymously). The container runtime's default /dev/shm is 64 MiB. Pure.
 */
export function dynamicSharedMemoryBytes(parameters: Pick<PostgresParameters, "work_mem">): number {
    const parallelHash = parsePostgresSize(parameters.work_mem) * HASH_MEM_MULTIPLIER * (PARALLEL_WORKERS + 1);
    return Math.ceil(Math.max(parallelHash, MIN_DYNAMIC_SHARED_MEMORY_BYTES) / MIB) * MIB;
}

/**
 * Write rate assumed for a shutdown checkpoint: a network-attached SSD volume's baseline throughput
 * (AWS gp3 125 MiB/s, GCP pd-balanced from 140 MiB/s, Azure Premium SSD P30 200 MiB/s), rounded down.
 */
export const CHECKPOINT_WRITE_BYTES_PER_SECOND = 100 * MIB;
/**
 * What a member's shutdown takes besides writing its dirty buffers: Patroni stops PostgreSQL in
 * fast mode (backends ended), the WAL senders send the shutdown checkpoint to the standbys, and
 * Patroni (no primary_stop_timeout, so it never SIGKILLs the postmaster itself) removes the leader
 * key so a standby takes over at once rather than after the ttl.
 */
const SHUTDOWN_FLOOR_SECONDS = 30;

/**
 * The members' terminationGracePeriodSeconds: the shutdown floor plus the time to write every
 * shared buffer at CHECKPOINT_WRITE_BYTES_PER_SECOND (the worst case: all of them dirty). Killed
 * before that, the member restarts with crash recovery, and a leader's lock lingers until its ttl
 * runs out. Pure.
 */
export function memberGracePeriodSeconds(parameters: Pick<PostgresParameters, "shared_buffers">): number {
    return SHUTDOWN_FLOOR_SECONDS + Math.ceil(parsePostgresSize(parameters.shared_buffers) / CHECKPOINT_WRITE_BYTES_PER_SECOND);
}

/** The Kubernetes object names of a PostgresCluster called `name`. */
export interface PostgresNames {
    /** StatefulSet of the members, and Patroni's scope (cluster name). */
    statefulSet: string;
    /** ServiceAccount the members run as (Patroni talks to the Kubernetes API), its Role and RoleBinding. */
    role: string;
    /**
     * Selector-less Service whose Endpoints Patroni owns (`use_endpoints`): the leader lock and the
     * leader's address, written in one update. Kubernetes garbage-collects Endpoints without a Service.
     */
    leaderService: string;
    /** Selector-less headless Service that keeps Patroni's `<scope>-config` Endpoints alive. */
    configService: string;
    /** Headless Service governing the StatefulSet (stable pod DNS names). */
    membersService: string;
    /** ClusterIP Service selecting the leader pod by Patroni's role label. */
    rwService: string;
    /** ClusterIP Service selecting the standby pods by Patroni's role label. */
    roService: string;
    /** PgBouncer Deployment, its Service and PDB. */
    pooler: string;
    /** ConfigMap with patroni.yml and post-bootstrap.sh. */
    patroniConfig: string;
    /** ConfigMap with pgbouncer.ini. */
    poolerConfig: string;
    /** Secret with the superuser, replication, monitoring and REST API passwords. */
    credentialsSecret: string;
    /** Secret with the application user's credentials (`username`, `password`, `database`, `host`, `port`, `uri`). */
    appSecret: string;
    /** Secret with PgBouncer's auth file and its exporter's connection string. */
    poolerSecret: string;
    /** Prefix of the Job applying Patroni's dynamic configuration (dynamicConfigJobName adds the hash). */
    dynamicConfigJob: string;
    /** Secret (and cert-manager Certificate) of the members' certificate: PostgreSQL and Patroni's REST API. */
    memberTls: string;
    /** Secret (and cert-manager Certificate) of PgBouncer's certificate. */
    poolerTls: string;
    /** Selector-less headless Services that keep Patroni's `<scope>-sync` and `<scope>-failover` Endpoints (created by the component) from garbage collection. */
    syncService: string;
    failoverService: string;
}

/** Object names derived from the component name. Pure. */
export function postgresNames(name: string): PostgresNames {
    return {
        statefulSet: name,
        role: `${name}-patroni`,
        leaderService: name,
        configService: `${name}-config`,
        membersService: `${name}-members`,
        rwService: `${name}-rw`,
        roService: `${name}-ro`,
        pooler: `${name}-pooler`,
        patroniConfig: `${name}-patroni`,
        poolerConfig: `${name}-pooler`,
        credentialsSecret: `${name}-credentials`,
        appSecret: `${name}-app`,
        poolerSecret: `${name}-pooler-auth`,
        dynamicConfigJob: `${name}-dcs-config`,
        memberTls: `${name}-tls`,
        poolerTls: `${name}-pooler-tls`,
        syncService: `${name}-sync`,
        failoverService: `${name}-failover`,
    };
}


/**
 * The DNS names of the members' certificate (one for every member): the rw, ro, leader and members
 * Services (PgBouncer checks `<name>-rw`'s name; Prometheus checks the members Service's name when
 * it scrapes Patroni by pod address), and each member pod under the headless members Service (its
 * connect address: standbys, pg_rewind and the dynamic-config Job check it). Pure.
 */
export function memberCertificateDnsNames(names: PostgresNames, members: number, namespace: string, clusterDomain: string): string[] {
    return [
        ...[names.rwService, names.roService, names.membersService, names.leaderService].flatMap((service) => serviceDnsNames(service, namespace, clusterDomain)),
        ...statefulSetPodNames(names.statefulSet, members).flatMap((pod) => serviceDnsNames(`${pod}.${names.membersService}`, namespace, clusterDomain)),
    ];
}

/** The DNS names of PgBouncer's certificate: the pooler Service's, which the applications connect to and check. Pure. */
export function poolerCertificateDnsNames(names: PostgresNames, namespace: string, clusterDomain: string): string[] {
    return serviceDnsNames(names.pooler, namespace, clusterDomain);
}

/**
 * The dynamic-config Job's object name: `<name>-dcs-config-` and the first 8 hex digits of the
 * script's SHA-256, so each set of settings is its own Job (at most 60 characters). Pure.
 */
export function dynamicConfigJobName(names: Pick<PostgresNames, "dynamicConfigJob">, script: string): string {
    return `${names.dynamicConfigJob}-${createHash("sha256").update(script).digest("hex").slice(0, 8)}`;
}

/**
 * Where Patroni keeps its state. `kubernetes` in the cluster (Endpoints + pod labels, no extra
 * store); `etcd3` for the live tests on 127.0.0.1.
 */
export type PatroniDcs =
    | {
          kind: "kubernetes";
          /** Labels on every member pod and on the Endpoints Patroni creates (without the scope label). */
          labels: Record<string, string>;
          /** Label whose value is the scope (cluster name); on the pods too. */
          scopeLabel: string;
          /** Label Patroni sets to the member's role. */
          roleLabel: string;
      }
    | {
          kind: "etcd3";
          /** `host:port` of each etcd member. */
          hosts: string[];
      };

/** Filesystem layout of a member. Pod defaults in MEMBER_PATHS; the live tests use temp dirs. */
export interface MemberPaths {
    /** PGDATA (on the PVC in a pod). Created by initdb/pg_basebackup with mode 0700. */
    dataDir: string;
    /** PostgreSQL 15 binaries. */
    binDir: string;
    /** Where Patroni writes its pgpass (it writes the file itself from the passwords it holds). */
    pgpass: string;
    /** unix_socket_directories. */
    socketDir: string;
    /** The rendered post-bootstrap script. */
    postBootstrapScript: string;
    /** Directory holding the `app-password` and `monitor-password` files (a Secret mount in a pod). */
    secretsDir: string;
    /** The member's certificate, its key and the CA (a Secret mount in a pod): PostgreSQL's and Patroni's REST API's TLS. */
    tls: TlsFiles;
}

/** A certificate, its private key and the CA that signed it (and that the peers' certificates are checked against). */
export interface TlsFiles {
    certificate: string;
    privateKey: string;
    ca: string;
}

/** The files of a certificate Secret (keys TLS_SECRET_KEYS) mounted at `dir`. */
function tlsFilesIn(dir: string): TlsFiles {
    return { certificate: `${dir}/${TLS_SECRET_KEYS.certificate}`, privateKey: `${dir}/${TLS_SECRET_KEYS.privateKey}`, ca: `${dir}/${TLS_SECRET_KEYS.ca}` };
}

/** Where a member's certificate Secret is mounted. */
export const MEMBER_TLS_DIR = "/etc/patroni-tls";

/** The member layout inside the image (images/postgres/Dockerfile) and the pod's mounts. */
export const MEMBER_PATHS: MemberPaths = {
    dataDir: "/var/lib/postgresql/data/pgdata",
    binDir: "/usr/lib/postgresql/15/bin",
    pgpass: "/tmp/pgpass",
    socketDir: "/var/run/postgresql",
    postBootstrapScript: "/etc/patroni/post-bootstrap.sh",
    secretsDir: "/etc/patroni-secrets",
    tls: tlsFilesIn(MEMBER_TLS_DIR),
};

export interface PatroniConfigOptions {
    /** Patroni scope: the cluster name, shared by all members. */
    scope: string;
    dcs: PatroniDcs;
    paths: MemberPaths;
    parameters: PostgresParameters;
    timing: PatroniTiming;
    /** Patroni synchronous_mode: commits wait for a synchronous standby, which alone may be promoted. */
    synchronousMode: boolean;
    /** Client networks allowed in pg_hba (always with scram-sha-256). */
    clientNetworks: string[];
    /** Database created at bootstrap, owned by `appUser`. */
    database: string;
    /** Application role created at bootstrap. */
    appUser: string;
    /** WAL archiving into the backup repository (backup.ts); unset: no archiving. */
    archive?: ArchiveSettings;
}

/**
 * Parameters Patroni takes only from the cluster-wide (DCS) configuration and passes on the
 * postgres command line; a member's local value for them is ignored (Patroni's CMDLINE_OPTIONS).
 */
export const DCS_ONLY_PARAMETERS = [
    "max_connections",
    "max_wal_senders",
    "max_replication_slots",
    "wal_level",
    "wal_log_hints",
    "max_worker_processes",
    "max_prepared_transactions",
    "max_locks_per_transaction",
    "track_commit_timestamp",
    "hot_standby",
    "wal_keep_size",
] as const;

type ParameterValue = string | number | boolean;

/**
 * Every PostgreSQL parameter the cluster runs with: the stack's sizing and timeouts, TLS with the
 * member's certificate, plus the settings replication and failover depend on.
 */
export function postgresParameters(parameters: PostgresParameters, paths: Pick<MemberPaths, "socketDir" | "tls">): Record<string, ParameterValue> {
    return {
        ...parameters,
        // TLS for every remote client and standby (pg_hba admits remote connections only over it).
        ssl: "on",
        ssl_cert_file: paths.tls.certificate,
        ssl_key_file: paths.tls.privateKey,
        ssl_ca_file: paths.tls.ca,
        ssl_min_protocol_version: "TLSv1.2",
        // pg_rewind needs hint bits in WAL to rewind a failed leader back in as a standby.
        wal_log_hints: "on",
        hot_standby: "on",
        // Standbys serve reads: keep the leader from vacuuming rows their queries still see.
        hot_standby_feedback: "on",
        // Default 5 s: a standby whose upstream changed waits that long before retrying.
        wal_retrieve_retry_interval: "500ms",
        password_encryption: "scram-sha-256",
        unix_socket_directories: paths.socketDir,
        // Logs go to stderr, i.e. the container log; no log files on the data volume.
        logging_collector: "off",
        log_min_duration_statement: 1000,
        log_checkpoints: "on",
        log_lock_waits: "on",
    };
}

/**
 * pg_hba rules, first match wins: scram-sha-256 everywhere; loopback and the unix socket without
 * TLS (the in-pod exporter, Patroni, pgBackRest: nothing leaves the pod); from `clientNetworks`
 * only over TLS (`hostssl`), replication only for the replication role; every other connection
 * without TLS rejected by name, so a plaintext attempt gets "pg_hba.conf rejects connection". Pure.
 */
export function renderPgHba(clientNetworks: string[]): string[] {
    const lines = [
        `local all all scram-sha-256`,
        `host all all 127.0.0.1/32 scram-sha-256`,
        `host all all ::1/128 scram-sha-256`,
        `local replication ${REPLICATION_USER} scram-sha-256`,
        `host replication ${REPLICATION_USER} 127.0.0.1/32 scram-sha-256`,
        ...clientNetworks.map((network) => `hostssl replication ${REPLICATION_USER} ${network} scram-sha-256`),
        ...clientNetworks.map((network) => `hostssl all all ${network} scram-sha-256`),
        // `all` does not match replication connections: both kinds refused in plaintext.
        ...["0.0.0.0/0", "::/0"].flatMap((network) => [`hostnossl all all ${network} reject`, `hostnossl replication all ${network} reject`]),
    ];
    // A client network of 127.0.0.1/32 repeats a loopback line; keep one.
    return [...new Set(lines)];
}

/** The cluster-wide settings written to the DCS at bootstrap (`bootstrap.dcs`). Pure. */
export function patroniDynamicConfig(options: PatroniConfigOptions): { [key: string]: YamlValue } {
    return {
        ttl: options.timing.ttl,
        loop_wait: options.timing.loopWait,
        retry_timeout: options.timing.retryTimeout,
        maximum_lag_on_failover: options.timing.maximumLagOnFailover,
        synchronous_mode: options.synchronousMode,
        // Not strict: with every standby gone the leader keeps accepting writes (availability);
        // strict mode would stop writes instead.
        synchronous_mode_strict: false,
        // Patroni 3's DCS failsafe: while the DCS (the Kubernetes API) is unreachable, a leader that
        // still reaches every member over their REST APIs keeps running instead of demoting once
        // retry_timeout runs out. The short retry_timeout of the failover timings (args.ts) then
        // costs no write outage during an API server hiccup or upgrade.
        failsafe_mode: true,
        postgresql: {
            use_pg_rewind: true,
            use_slots: true,
            parameters: postgresParameters(options.parameters, options.paths),
        },
    };
}

/**
 * What the dynamic-config Job keeps in the DCS of a running cluster: the cluster-wide settings
 * (timing, synchronous mode, ...) with only the parameters Patroni takes from the DCS alone
 * (DCS_ONLY_PARAMETERS). The others are in every member's local configuration, which overrides the
 * DCS and rolls the members when it changes; leaving them out keeps the Job as it is when one of
 * them changes. Pure.
 */
export function patroniDcsSettings(options: PatroniConfigOptions): { [key: string]: YamlValue } {
    const dynamic = patroniDynamicConfig(options);
    const postgresql = dynamic.postgresql as { [key: string]: YamlValue };
    const parameters = postgresql.parameters as { [key: string]: YamlValue };
    const dcsOnly = Object.fromEntries(Object.entries(parameters).filter(([key]) => (DCS_ONLY_PARAMETERS as readonly string[]).includes(key)));
    return { ...dynamic, postgresql: { ...postgresql, parameters: dcsOnly } };
}

/**
 * Patroni's configuration file. Per-member values (name, connect addresses, the passwords and, in
 * a pod, the namespace and pod IP) come from PATRONI_* environment variables, so every member
 * shares this one text. Pure.
 */
export function renderPatroniConfig(options: PatroniConfigOptions): string {
    return toYaml(patroniConfigDocument(options), "Rendered by prepx-platform (components/postgres/render.ts). Holds no password.");
}

/**
 * The part of patroni.yml a running member acts on: everything but `bootstrap.dcs`, which Patroni
 * reads only when it initialises a new cluster (the dynamic-config Job applies the cluster-wide ones
 * to a running cluster: patroniDcsSettings, renderDynamicConfigScript). The members' pod template checksums this text, so a
 * change of a DCS setting alone does not roll the members. Pure.
 */
export function patroniMemberConfigText(options: PatroniConfigOptions): string {
    const document = patroniConfigDocument(options);
    const bootstrap = document.bootstrap as { [key: string]: YamlValue };
    return toYaml({ ...document, bootstrap: { ...bootstrap, dcs: undefined } });
}

/** Patroni's configuration file as a document (renderPatroniConfig writes it out). Pure. */
function patroniConfigDocument(options: PatroniConfigOptions): { [key: string]: YamlValue } {
    const allParameters = postgresParameters(options.parameters, options.paths);
    // Local copies of the per-member parameters apply on every reload, so a changed stack config
    // takes effect when pods roll; the DCS-only ones change through the dynamic-config Job
    // (renderDynamicConfigScript), which also restarts the members that need it.
    const localParameters = Object.fromEntries(
        Object.entries(allParameters).filter(([key]) => !(DCS_ONLY_PARAMETERS as readonly string[]).includes(key)),
    );
    const config: { [key: string]: YamlValue } = {
        scope: options.scope,
        restapi: {
            listen: `0.0.0.0:${PATRONI_PORT}`,
            // The password comes from PATRONI_RESTAPI_PASSWORD.
            authentication: { username: RESTAPI_USER },
            // HTTPS only. A member calling another's API (failsafe, the checks before a promotion)
            // presents this certificate and checks the peer's against cafile (Patroni 3.0.2
            // request.py; not the host name, which is the peer's connect address).
            certfile: options.paths.tls.certificate,
            keyfile: options.paths.tls.privateKey,
            cafile: options.paths.tls.ca,
        },
        // patronictl in a member checks the API's certificate, host name included.
        ctl: { insecure: false, cacert: options.paths.tls.ca },
        ...renderDcs(options.dcs),
        bootstrap: {
            dcs: patroniDynamicConfig(options),
            initdb: [{ encoding: "UTF8" }, { locale: "C.UTF-8" }, "data-checksums"],
            // Patroni appends the superuser connection string; it sets PGPASSFILE for the script. A
            // restore from a backup (backup.ts) replaces initdb, and brings the roles and database.
            ...(options.archive?.restoreBootstrap ?? { post_bootstrap: `sh ${options.paths.postBootstrapScript}` }),
        },
        postgresql: {
            listen: `0.0.0.0:${POSTGRES_PORT}`,
            data_dir: options.paths.dataDir,
            bin_dir: options.paths.binDir,
            pgpass: options.paths.pgpass,
            use_unix_socket: true,
            // Patroni's own replication connection to its member (the timeline check before a
            // pg_rewind) goes over the socket too: over TCP it would dial `localhost` with
            // sslmode=verify-full, a name no member certificate carries.
            use_unix_socket_repl: true,
            authentication: {
                // Passwords come from PATRONI_SUPERUSER_PASSWORD and PATRONI_REPLICATION_PASSWORD.
                // Streaming, pg_basebackup (replication) and pg_rewind (superuser) connect to the
                // leader over TLS, its certificate checked against the CA and its connect address
                // (libpq ignores sslmode on the unix socket, which Patroni's own connections use).
                superuser: { username: SUPERUSER, ...verifiedTls(options.paths.tls) },
                replication: { username: REPLICATION_USER, ...verifiedTls(options.paths.tls) },
            },
            pg_hba: renderPgHba(options.clientNetworks),
            parameters: { ...localParameters, ...options.archive?.parameters },
            // A standby fetches from the archive the WAL its upstream no longer has.
            ...(options.archive ? { recovery_conf: { restore_command: options.archive.restoreCommand } } : {}),
            create_replica_methods: ["basebackup"],
            basebackup: [{ checkpoint: "fast" }],
            // A member that cannot be rewound (or whose timeline diverged) is re-cloned from the
            // leader instead of staying down until an operator steps in; the leader holds the data.
            remove_data_directory_on_rewind_failure: true,
            remove_data_directory_on_diverged_timelines: true,
        },
        // No /dev/watchdog in a pod; the leader lock TTL and demotion on DCS loss protect instead.
        watchdog: { mode: "off" },
        tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
    };
    return config;
}

/** libpq settings of a connection that must be TLS, the server's certificate checked against `tls.ca` and the host name. */
function verifiedTls(tls: TlsFiles): { sslmode: string; sslrootcert: string } {
    return { sslmode: "verify-full", sslrootcert: tls.ca };
}

function renderDcs(dcs: PatroniDcs): { [key: string]: YamlValue } {
    if (dcs.kind === "etcd3") return { etcd3: { hosts: dcs.hosts } };
    return {
        kubernetes: {
            // Endpoints, not ConfigMaps: the leader lock and the leader's address change in one
            // update (Patroni's recommended mode). Namespace and pod IP come from the downward API
            // (PATRONI_KUBERNETES_NAMESPACE, PATRONI_KUBERNETES_POD_IP).
            use_endpoints: true,
            labels: dcs.labels,
            scope_label: dcs.scopeLabel,
            role_label: dcs.roleLabel,
            ports: [{ name: "postgresql", port: POSTGRES_PORT }],
        },
    };
}

/** What the dynamic-config script needs besides the password (PATRONI_RESTAPI_PASSWORD in its env). */
export interface DynamicConfigScriptOptions {
    /** Patroni's cluster-wide settings to apply (patroniDcsSettings). */
    config: { [key: string]: YamlValue };
    /** Base URL (https) of any member's REST API; the script finds the leader and the others from its /cluster. */
    patroniUrl: string;
    /** The CA every member's REST API certificate is checked against (with the host name of its URL). */
    caFile: string;
    /** Seconds the whole run may take before it gives up (exit 1). */
    deadlineSeconds: number;
}

/**
 * The `timeout` of the dynamic-config script's POST /restart: how long Patroni waits for the
 * restarted PostgreSQL to run again (for the leader, past it Patroni would rather fail over). The
 * script waits that plus 30 s for the answer; a leader's fast shutdown writes its dirty
 * shared_buffers first (memberGracePeriodSeconds), and a call that outlasts it is left to the next
 * pass, which sees whether the restart is still pending.
 */
const MEMBER_RESTART_TIMEOUT_SECONDS = 180;

/**
 * The dynamic-config Job's script (Python 3, standard library only: the Patroni image has it). It
 * applies `config` to a running cluster, which Patroni otherwise takes from patroni.yml only at
 * bootstrap:
 * 1. waits for a leader and every member running;
 * 2. PATCHes Patroni's /config with the settings (a JSON merge: keys set by hand and not rendered
 *    here stay; nothing is written when nothing differs), then waits for the members' HA loops to
 *    reload them (3 x loop_wait);
 * 3. restarts, through each member's REST API with `restart_pending`, the members whose PostgreSQL
 *    reports a pending restart: standbys first, one at a time, each running again before the next
 *    (a standby must run with max_connections, max_wal_senders, ... at least the leader's), then
 *    the leader in place: it keeps the leader lock, so no failover, a pause of writes while its
 *    PostgreSQL restarts. A decrease needs a second pass: Patroni starts a standby with the
 *    leader's higher values from pg_controldata until the leader runs the lower ones;
 * 4. exits 0 once no member has a restart pending, 1 (with the reason) at the deadline.
 * Idempotent: a rerun finds nothing to patch and nothing pending. Holds no password. Pure.
 */
export function renderDynamicConfigScript(options: DynamicConfigScriptOptions): string {
    return `# Rendered by prepx-platform (components/postgres/render.ts): applies Patroni's dynamic configuration.
import base64, json, os, ssl, sys, time, urllib.error, urllib.request

CONFIG = json.loads(${JSON.stringify(JSON.stringify(options.config))})
BASE_URL = ${JSON.stringify(options.patroniUrl)}
# Every REST API is HTTPS: its certificate checked against the cluster's CA and the URL's host name.
TLS = ssl.create_default_context(cafile=${JSON.stringify(options.caFile)})
DEADLINE = time.monotonic() + ${options.deadlineSeconds}
RESTART_TIMEOUT = ${MEMBER_RESTART_TIMEOUT_SECONDS}
AUTH = "Basic " + base64.b64encode((${JSON.stringify(RESTAPI_USER)} + ":" + os.environ["PATRONI_RESTAPI_PASSWORD"]).encode()).decode()
SETTLE = 3 * int(CONFIG.get("loop_wait", 10)) + 1
started = time.monotonic()


def log(message):
    print("[%6.1f s] %s" % (time.monotonic() - started, message), flush=True)


def fail(message):
    log("FAILED: " + message)
    sys.exit(1)


def call(method, url, body=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Authorization": AUTH, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=TLS) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for(what, check, interval=1.0):
    last = None
    while time.monotonic() < DEADLINE:
        try:
            value = check()
            if value:
                return value
        except (OSError, ValueError) as error:
            last = error
        time.sleep(interval)
    fail("timed out waiting for %s%s" % (what, " (last error: %s)" % last if last else ""))


def cluster():
    status, body = call("GET", BASE_URL + "/cluster")
    if status != 200:
        raise ValueError("GET /cluster answered %d" % status)
    return json.loads(body)["members"]


def healthy_cluster():
    members = cluster()
    leaders = [m for m in members if m["role"] == "leader" and m.get("state") == "running"]
    return members if len(leaders) == 1 and all(m.get("state") in ("running", "streaming") for m in members) else None


def leader_url():
    return [m for m in wait_for("a leader and every member running", healthy_cluster) if m["role"] == "leader"][0]["api_url"].rsplit("/", 1)[0]


def changes(current, wanted, prefix=""):
    found = []
    for key, value in wanted.items():
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            found += changes(current[key], value, prefix + key + ".")
        elif current.get(key) != value:
            found.append("%s%s: %s -> %s" % (prefix, key, json.dumps(current.get(key)), json.dumps(value)))
    return found


def patch_config():
    url = leader_url()
    status, body = call("GET", url + "/config")
    if status != 200:
        raise ValueError("GET /config answered %d" % status)
    found = changes(json.loads(body), CONFIG)
    if not found:
        log("dynamic configuration already as rendered")
        return "unchanged"
    status, body = call("PATCH", url + "/config", CONFIG)
    if status != 200:
        raise ValueError("PATCH /config answered %d: %s" % (status, body))
    log("patched /config: " + "; ".join(found))
    return "patched"


def restart(member):
    log("restarting %s (%s)" % (member["name"], member["role"]))
    try:
        status, body = call("POST", member["api_url"].rsplit("/", 1)[0] + "/restart", {"restart_pending": True, "timeout": RESTART_TIMEOUT}, timeout=RESTART_TIMEOUT + 30)
    except OSError as error:
        # The next pass sees whether the restart is still pending.
        status, body = 0, "no answer (%s)" % error
    # 503: nothing pending any more, or the restart did not finish in time: the next pass sees which.
    if status not in (0, 200, 503):
        fail("restart of %s answered %d: %s" % (member["name"], status, body))
    wait_for("%s running again" % member["name"], lambda: any(m["name"] == member["name"] and m.get("state") in ("running", "streaming") for m in cluster()) and healthy_cluster())
    log("%s: %s" % (member["name"], body.strip()))


if wait_for("the dynamic configuration to be patched", patch_config, interval=2.0) == "patched":
    log("waiting %d s for every member to reload it" % SETTLE)
    time.sleep(SETTLE)
for attempt in range(3):
    pending = [m for m in wait_for("a leader and every member running", healthy_cluster) if m.get("pending_restart")]
    if not pending:
        log("done: no member has a restart pending")
        sys.exit(0)
    for member in sorted(pending, key=lambda m: m["role"] == "leader"):
        restart(member)
    time.sleep(SETTLE)
fail("members still have a restart pending after 3 passes: %s" % [m["name"] for m in cluster() if m.get("pending_restart")])
`;
}

export interface PostBootstrapOptions {
    database: string;
    appUser: string;
    /** Directory with `app-password` and `monitor-password` files. */
    secretsDir: string;
}

/** A PostgreSQL identifier, double-quoted. */
export function quoteIdent(identifier: string): string {
    return `"${identifier.replace(/"/g, '""')}"`;
}

/**
 * The script Patroni runs once, on the member that initialises the cluster: it creates the
 * application role and database and the monitoring role, and exempts the superuser (Patroni,
 * pg_rewind, pgBackRest's backup start and stop, an operator) from the statement and
 * idle-transaction timeouts, which are meant for the application, wherever it connects from
 * (CLUSTER_CLIENT_PGOPTIONS covers the members' own processes, also in an older cluster). The
 * replication role needs no exemption: physical replication commands (BASE_BACKUP,
 * START_REPLICATION) are not subject to statement_timeout, and its walsenders do not read role
 * settings anyway. Passwords are read from files by psql
 * itself (`\set ... \`cat file\``), so they never appear on a command line. Pure.
 */
export function renderPostBootstrapScript(options: PostBootstrapOptions): string {
    const app = quoteIdent(options.appUser);
    const db = quoteIdent(options.database);
    const monitor = quoteIdent(MONITOR_USER);
    return `#!/bin/sh
# Rendered by prepx-platform (components/postgres/render.ts): runs once, after initdb.
# $1 is the superuser connection string Patroni passes; it also sets PGPASSFILE.
set -eu
psql "$1" -X -q -v ON_ERROR_STOP=1 <<'SQL'
\\set app_password \`cat ${options.secretsDir}/app-password\`
\\set monitor_password \`cat ${options.secretsDir}/monitor-password\`
CREATE ROLE ${app} LOGIN PASSWORD :'app_password';
CREATE ROLE ${monitor} LOGIN PASSWORD :'monitor_password' IN ROLE pg_monitor;
CREATE DATABASE ${db} OWNER ${app} ENCODING 'UTF8';
REVOKE ALL ON DATABASE ${db} FROM PUBLIC;
GRANT CONNECT ON DATABASE ${db} TO ${monitor};
ALTER ROLE ${quoteIdent(SUPERUSER)} SET statement_timeout = 0;
ALTER ROLE ${quoteIdent(SUPERUSER)} SET idle_in_transaction_session_timeout = 0;
SQL
echo "post-bootstrap: created database ${options.database}, roles ${options.appUser} and ${MONITOR_USER}"
`;
}

export interface PgbouncerIniOptions {
    /** Address PgBouncer listens on: `0.0.0.0` in a pod, 127.0.0.1 in the live tests. */
    listenAddr: string;
    listenPort: number;
    /** The leader's address: the `<name>-rw` Service in the cluster. */
    upstreamHost: string;
    upstreamPort: number;
    database: string;
    /** Path of the auth file (a Secret mount). */
    authFile: string;
    maxClientConn: number;
    defaultPoolSize: number;
    reservePoolSize: number;
    /** Users allowed to run SHOW commands on the admin console (the exporter). */
    statsUsers: string[];
    /**
     * `max_prepared_statements`: named prepared statements PgBouncer tracks per server connection,
     * so clients' protocol-level prepared statements work in transaction pooling (PgBouncer >= 1.21).
     * Unset: the line is left out, for a PgBouncer older than 1.21, which refuses the key.
     */
    maxPreparedStatements?: number;
    /** PgBouncer's own certificate (for the pooler Service's names), offered to its clients, which must use TLS. */
    clientTls: Pick<TlsFiles, "certificate" | "privateKey">;
    /** The CA the server's (PostgreSQL's) certificate is checked against, with the upstream host name. */
    serverCaFile: string;
    /** Seconds timeouts of queries, transactions and clients (args.ts PgbouncerTimeouts). */
    timeouts: PgbouncerTimeouts;
}

/** pgbouncer.ini with transaction pooling in front of the leader. Holds no password. Pure. */
export function renderPgbouncerIni(options: PgbouncerIniOptions): string {
    return [
        "; Rendered by prepx-platform (components/postgres/render.ts). Passwords are in the auth file.",
        "[databases]",
        `${options.database} = host=${options.upstreamHost} port=${options.upstreamPort} dbname=${options.database}`,
        "",
        "[pgbouncer]",
        `listen_addr = ${options.listenAddr}`,
        `listen_port = ${options.listenPort}`,
        // No unix socket (clients come over TCP), and no pidfile or logfile (unset: none is written;
        // logs go to stderr): PgBouncer writes no file, so its root filesystem stays read-only
        // without scratch volumes.
        "unix_socket_dir =",
        "auth_type = scram-sha-256",
        `auth_file = ${options.authFile}`,
        "pool_mode = transaction",
        `max_client_conn = ${options.maxClientConn}`,
        `default_pool_size = ${options.defaultPoolSize}`,
        `reserve_pool_size = ${options.reservePoolSize}`,
        "reserve_pool_timeout = 3",
        // The connection budget counts default + reserve per pod: hold PgBouncer to it.
        `max_db_connections = ${options.defaultPoolSize + options.reservePoolSize}`,
        // After a failover the old leader's connections fail; retry the new one after 1 s, not 15
        // (the failover budget in args.ts counts this second).
        "server_login_retry = 1",
        // A connect to a leader whose node is gone (its address still behind `<name>-rw` until
        // Patroni relabels the pods) times out after this, then the next attempt may reach the new one.
        "server_connect_timeout = 3",
        "server_check_delay = 10",
        "server_lifetime = 3600",
        "server_idle_timeout = 600",
        // Timeouts (args.ts PgbouncerTimeouts says why each value): a query running longer is
        // cancelled (its server connection closed), a client idle in a transaction is disconnected,
        // an idle client connection is closed, a query waiting for a server connection fails.
        `query_timeout = ${options.timeouts.queryTimeoutSeconds}`,
        `idle_transaction_timeout = ${options.timeouts.idleTransactionTimeoutSeconds}`,
        `client_idle_timeout = ${options.timeouts.clientIdleTimeoutSeconds}`,
        `query_wait_timeout = ${options.timeouts.queryWaitTimeoutSeconds}`,
        // TLS both ways. Clients must use it (PgBouncer's default `disable` takes plaintext only);
        // PgBouncer checks the server's certificate and host name (the default `prefer` would fall
        // back to plaintext, pgbouncer#866). `secure` = TLS 1.2 and 1.3.
        "client_tls_sslmode = require",
        `client_tls_cert_file = ${options.clientTls.certificate}`,
        `client_tls_key_file = ${options.clientTls.privateKey}`,
        "client_tls_protocols = secure",
        "server_tls_sslmode = verify-full",
        `server_tls_ca_file = ${options.serverCaFile}`,
        "server_tls_protocols = secure",
        "dns_max_ttl = 15",
        "tcp_keepalive = 1",
        // A server connection to a leader that vanished without a FIN/RST (node loss) is dropped
        // after 5 + 3 x 1 s idle, or 5 s of unacknowledged data, not the kernel's 2 h / 15 min.
        "tcp_keepidle = 5",
        "tcp_keepintvl = 1",
        "tcp_keepcnt = 3",
        "tcp_user_timeout = 5000",
        ...(options.maxPreparedStatements === undefined ? [] : [`max_prepared_statements = ${options.maxPreparedStatements}`]),
        // JDBC and node-postgres send it at startup; transaction pooling cannot keep it per client.
        "ignore_startup_parameters = extra_float_digits",
        `stats_users = ${options.statsUsers.join(", ")}`,
        "log_connections = 0",
        "log_disconnections = 0",
        "",
    ].join("\n");
}

/**
 * Open files PgBouncer beyond its client and server sockets may hold: listening sockets, the
 * admin console, DNS lookups, its log and the auth file (PgBouncer's own estimate adds 10).
 */
export const PGBOUNCER_OPEN_FILES_MARGIN = 64;

/**
 * Open files one PgBouncer needs: a socket per client (max_client_conn), one per server connection
 * (max_db_connections = default + reserve pool, the one database), and PGBOUNCER_OPEN_FILES_MARGIN.
 */
export function pgbouncerOpenFiles(options: Pick<PgbouncerIniOptions, "maxClientConn" | "defaultPoolSize" | "reservePoolSize">): number {
    return options.maxClientConn + options.defaultPoolSize + options.reservePoolSize + PGBOUNCER_OPEN_FILES_MARGIN;
}

/** What PgBouncer's start script runs and needs. */
export interface PgbouncerStartOptions {
    /** PgBouncer's binary (PGBOUNCER_IMAGE_LAYOUT.binary in the pod, Debian's /usr/sbin/pgbouncer in the live tests). */
    binary: string;
    configFile: string;
    /** Open files it needs (pgbouncerOpenFiles). */
    openFiles: number;
    /** max_client_conn, named in the error message. */
    maxClientConn: number;
}

/**
 * The POSIX sh script PgBouncer starts through: it raises the open-files soft limit to what
 * max_client_conn needs, then execs PgBouncer, which so becomes PID 1 and gets Kubernetes'
 * SIGTERM itself. PgBouncer only logs the limit: with the 1024 soft limit containers commonly get
 * (containerd 2.x: 1024 soft, 524288 hard), the 1025th socket fails with "Too many open files". A
 * non-root process may raise its soft limit up to the hard limit only, so a hard limit below the
 * need stops the start with a message naming both, rather than a pooler that fails under load.
 */
export function renderPgbouncerStartScript(options: PgbouncerStartOptions): string {
    const need = options.openFiles;
    return [
        "set -eu",
        `need=${need}`,
        'soft=$(ulimit -S -n)',
        'hard=$(ulimit -H -n)',
        'if [ "$soft" != unlimited ] && [ "$soft" -lt "$need" ]; then',
        '  if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then',
        `    echo "pgbouncer: max_client_conn ${options.maxClientConn} needs $need open files, but the hard limit is $hard (soft $soft): raise the container runtime's open-files limit (LimitNOFILE) or lower max_client_conn" >&2`,
        "    exit 1",
        "  fi",
        '  ulimit -S -n "$need"',
        "fi",
        `exec ${options.binary} ${options.configFile}`,
        "",
    ].join("\n");
}

/** PgBouncer's auth file: `"user" "password"` per line (plain passwords let it do SCRAM to PostgreSQL). */
export function renderPgbouncerUserlist(users: Record<string, string>): string {
    const quote = (text: string) => `"${text.replace(/"/g, '""')}"`;
    return Object.entries(users)
        .map(([user, password]) => `${quote(user)} ${quote(password)}`)
        .join("\n")
        .concat("\n");
}

/** A libpq URI; user and password percent-encoded. */
export function postgresUri(user: string, password: string, host: string, port: number, database: string, query = ""): string {
    return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}${query ? `?${query}` : ""}`;
}

/**
 * What the default PgBouncer image (DEFAULT_PGBOUNCER_IMAGE in args.ts, CloudNativePG's) provides,
 * checked against its source, github.com/cloudnative-pg/pgbouncer-containers at 7b391df (2026-06-25):
 * - binary: Dockerfile `ln -s /usr/sbin/pgbouncer /usr/bin/pgbouncer` (PGDG's Debian package
 *   installs /usr/sbin/pgbouncer), and entrypoint.sh runs `/usr/bin/pgbouncer /etc/pgbouncer/pgbouncer.ini`;
 * - configFile: that entrypoint.sh line (unchanged since the repository's first commit);
 * - uid, gid: Dockerfile `groupadd -r --gid 996 pgbouncer`, `useradd -r --uid 998 --gid 996
 *   pgbouncer` and `USER pgbouncer` (a name, so Kubernetes needs the numeric runAsUser); the same
 *   since 6866264 (2022), which matched them to what the CloudNativePG operator runs it as.
 */
export const PGBOUNCER_IMAGE_LAYOUT = {
    binary: "/usr/bin/pgbouncer",
    configFile: "/etc/pgbouncer/pgbouncer.ini",
    uid: 998,
    gid: 996,
} as const;

/** Where PgBouncer's files are mounted in its pod. */
export const POOLER_PATHS = {
    /**
     * pgbouncer.ini (a ConfigMap mount): the image's own config directory, so the mounted file is
     * the one its entrypoint would start PgBouncer with (PGBOUNCER_IMAGE_LAYOUT.configFile).
     */
    configDir: "/etc/pgbouncer",
    /** userlist.txt (a Secret mount). */
    authDir: "/etc/pgbouncer-auth",
    /** PgBouncer's certificate Secret (its key, its certificate, the CA that also signed PostgreSQL's). */
    tlsDir: "/etc/pgbouncer-tls",
};

/** Where the members run: their DCS, their filesystem and the networks pg_hba admits. */
export type MemberEnvironment = Pick<PatroniConfigOptions, "dcs" | "paths" | "clientNetworks">;

/**
 * Members in pods: Patroni's Kubernetes DCS over the member pods' labels, the image's layout, and
 * pg_hba admitting `clientNetworks` (postgres.clientNetworks) over TLS.
 */
export function podMemberEnvironment(podLabels: Record<string, string>, clientNetworks: string[]): MemberEnvironment {
    return {
        dcs: {
            kind: "kubernetes",
            labels: { "app.kubernetes.io/name": podLabels["app.kubernetes.io/name"], "app.kubernetes.io/component": podLabels["app.kubernetes.io/component"] },
            // The instance label already holds the component name, which is Patroni's scope.
            scopeLabel: "app.kubernetes.io/instance",
            roleLabel: ROLE_LABEL,
        },
        paths: MEMBER_PATHS,
        clientNetworks,
    };
}

/** The args Patroni's configuration is rendered from. */
type MemberArgs = Pick<ResolvedPostgresClusterArgs, "parameters" | "patroni" | "synchronousMode" | "database" | "appUser">;

/** Patroni's configuration options of a cluster called `scope`, its members running in `environment`. Pure. */
export function patroniConfigOptions(args: MemberArgs, scope: string, environment: MemberEnvironment, archive?: ArchiveSettings): PatroniConfigOptions {
    return {
        scope,
        ...environment,
        ...(archive ? { archive } : {}),
        parameters: args.parameters,
        timing: args.patroni,
        synchronousMode: args.synchronousMode,
        database: args.database,
        appUser: args.appUser,
    };
}

/** The post-bootstrap script's options; `secretsDir` holds the password files. Pure. */
export function postBootstrapOptions(args: Pick<ResolvedPostgresClusterArgs, "database" | "appUser">, secretsDir: string): PostBootstrapOptions {
    return { database: args.database, appUser: args.appUser, secretsDir };
}

/** Where PgBouncer listens, the leader it forwards to, its auth file and its TLS files. */
export type PgbouncerEndpoints = Pick<PgbouncerIniOptions, "listenAddr" | "listenPort" | "upstreamHost" | "upstreamPort" | "authFile" | "clientTls" | "serverCaFile">;

/** PgBouncer in a pod: every address on its port, in front of `rwHost` (the `<name>-rw` Service). */
export function podPgbouncerEndpoints(rwHost: string): PgbouncerEndpoints {
    const tls = tlsFilesIn(POOLER_PATHS.tlsDir);
    return {
        listenAddr: "0.0.0.0",
        listenPort: PGBOUNCER_PORT,
        upstreamHost: rwHost,
        upstreamPort: POSTGRES_PORT,
        authFile: `${POOLER_PATHS.authDir}/userlist.txt`,
        clientTls: { certificate: tls.certificate, privateKey: tls.privateKey },
        serverCaFile: tls.ca,
    };
}

/** The args pgbouncer.ini is rendered from. */
interface PoolerArgs {
    database: string;
    pgbouncer: Pick<PgbouncerSettings, "maxClientConn" | "defaultPoolSize" | "reservePoolSize" | "maxPreparedStatements" | "timeouts">;
}

/** pgbouncer.ini's options: the application database, the pools' sizes and the exporter's stats user. Pure. */
export function pgbouncerIniOptions(args: PoolerArgs, endpoints: PgbouncerEndpoints): PgbouncerIniOptions {
    return {
        ...endpoints,
        database: args.database,
        maxClientConn: args.pgbouncer.maxClientConn,
        defaultPoolSize: args.pgbouncer.defaultPoolSize,
        reservePoolSize: args.pgbouncer.reservePoolSize,
        statsUsers: [MONITOR_USER],
        maxPreparedStatements: args.pgbouncer.maxPreparedStatements,
        timeouts: args.pgbouncer.timeouts,
    };
}

/** PgBouncer's users (the auth file's entries): the application role and the monitoring role. */
export function pgbouncerUsers(appUser: string, passwords: { app: string; monitor: string }): Record<string, string> {
    return { [appUser]: passwords.app, [MONITOR_USER]: passwords.monitor };
}
