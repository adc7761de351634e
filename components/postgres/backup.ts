// Backups and point-in-time recovery of a PostgresCluster with pgBackRest: its configuration file,
// the archive settings Patroni passes to PostgreSQL, the backup agent that runs beside every member,
// the restore command of the runbook, and the pod pieces (sidecar, mounts, credentials) they need.
//
// Design: pgBackRest backs up from the host that holds PGDATA. A CronJob pod would have to reach the
// leader's data directory through pgBackRest's TLS server or SSH (certificates or keys to issue and
// rotate) or through `kubectl exec`; instead a small agent runs in every member pod, next to PGDATA.
// On the member whose PostgreSQL is the primary it creates the stanza, forces and verifies WAL
// archiving and takes a full or differential backup when the newest one in the repository is older
// than its interval. The schedule is read from the repository, so a failover or a restart neither
// repeats nor skips a backup, and a standby never backs up. Every member serves the repository's
// state as Prometheus metrics (the `metrics-backup` port), which the backup-age alert reads.
// The live test runs this very text (config, archive_command, agent, restore) on Debian's
// postgresql-15 and pgbackrest.
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { type Container, containerResources, containerSecurityContext, type EnvVar, httpProbe, IMAGE_PULL_POLICY, type ProbeTiming, secretEnv, scratchVolume, type Volume, type VolumeMount } from "../k8s";
import type { YamlValue } from "../yaml";
import type { BackupRepository, BackupSettings } from "./args";
import { CLUSTER_CLIENT_PGOPTIONS, MEMBER_PATHS, POSTGRES_PORT, SUPERUSER } from "./render";

/** The backup agent's metrics port. */
export const BACKUP_AGENT_PORT = 9854;
/** Its container port's name: a `metrics-*` port, scraped by MonitoringStack's extra-ports job. */
const BACKUP_AGENT_PORT_NAME = "metrics-backup";

/** The metrics the agent serves (the alert rules read them). */
export const BACKUP_METRICS = {
    /** 1 when `pgbackrest info` read the repository and its stanza, else 0. */
    repositoryUp: "pgbackrest_repository_up",
    /** Unix time the newest backup (any type) finished; 0 when the repository has none. */
    lastBackup: "pgbackrest_backup_last_completion_timestamp_seconds",
    /** Unix time the newest full backup finished; 0 when the repository has none. */
    lastFullBackup: "pgbackrest_full_backup_last_completion_timestamp_seconds",
    /** Backups in the repository. */
    backups: "pgbackrest_backups",
    /** 1 on the member whose PostgreSQL was the primary at the agent's last round. */
    primary: "pgbackrest_agent_primary",
    /** Commands the agent ran, by `command` and `result`. */
    runs: "pgbackrest_agent_runs_total",
} as const;

/** Where the backup pieces are on a member. The pod's layout is POD_BACKUP_PATHS; the live test uses temp dirs. */
export interface BackupPaths {
    /** pgbackrest.conf (a ConfigMap mount). */
    configFile: string;
    /** The agent's script (same ConfigMap). */
    agentScript: string;
    /** The repository of a `volume` repository (the PVC's mount). */
    volumeRepository: string;
    /** pgBackRest's lock files (scratch space). */
    lockDir: string;
    /** The pgbackrest binary. */
    pgbackrest: string;
    /** psql, which the agent asks whether its PostgreSQL is the primary. */
    psql: string;
}

/** Where the ConfigMap with pgbackrest.conf and the agent is mounted in both containers. */
const BACKUP_CONFIG_DIR = "/etc/pgbackrest";

/** The backup layout in a member pod (images/postgres installs pgbackrest from Debian). */
export const POD_BACKUP_PATHS: BackupPaths = {
    configFile: `${BACKUP_CONFIG_DIR}/pgbackrest.conf`,
    agentScript: `${BACKUP_CONFIG_DIR}/backup-agent.py`,
    volumeRepository: "/var/lib/pgbackrest",
    lockDir: "/tmp/pgbackrest",
    pgbackrest: "/usr/bin/pgbackrest",
    psql: `${MEMBER_PATHS.binDir}/psql`,
};

/** The PostgreSQL a stanza backs up, as pgBackRest reaches it (over the unix socket, as the superuser). */
export interface BackupDatabase {
    dataDir: string;
    socketDir: string;
    port: number;
}

export interface PgbackrestConfigOptions {
    /** The stanza: the cluster's name (Patroni's scope). */
    stanza: string;
    repository: BackupRepository;
    /** Full backups kept (repo1-retention-full). */
    retentionFull: number;
    database: BackupDatabase;
    paths: Pick<BackupPaths, "volumeRepository" | "lockDir">;
}

/**
 * pgbackrest.conf. Holds no secret: an S3 repository's keys come from PGBACKREST_REPO1_S3_KEY and
 * PGBACKREST_REPO1_S3_KEY_SECRET (from the credentials Secret); the superuser's password from
 * PGPASSWORD. Pure.
 */
export function renderPgbackrestConfig(options: PgbackrestConfigOptions): string {
    const { repository } = options;
    const repo =
        repository.type === "s3"
            ? [
                  "repo1-type=s3",
                  `repo1-path=${repository.path}`,
                  `repo1-s3-bucket=${repository.bucket}`,
                  `repo1-s3-endpoint=${repository.endpoint}`,
                  `repo1-s3-region=${repository.region}`,
                  `repo1-s3-uri-style=${repository.uriStyle}`,
              ]
            : ["repo1-type=posix", `repo1-path=${options.paths.volumeRepository}`];
    return [
        "# Rendered by prepx-platform (components/postgres/backup.ts). Holds no secret.",
        "[global]",
        ...repo,
        // Count-based: the oldest full backup goes when a new one completes beyond the count, and the
        // archived WAL only it needed goes with it (repo1-retention-archive follows retention-full).
        `repo1-retention-full=${options.retentionFull}`,
        "repo1-retention-full-type=count",
        // Small files packed together: far fewer objects (and requests) per backup on S3.
        "repo1-bundle=y",
        "compress-type=zst",
        "process-max=2",
        // Checkpoint at once when a backup starts instead of waiting for the next scheduled one.
        "start-fast=y",
        `lock-path=${options.paths.lockDir}`,
        // Logs go to stdout/stderr only (the container log; PostgreSQL's log for archive-push).
        "log-level-console=info",
        "log-level-file=off",
        "",
        `[${options.stanza}]`,
        `pg1-path=${options.database.dataDir}`,
        `pg1-port=${options.database.port}`,
        `pg1-socket-path=${options.database.socketDir}`,
        `pg1-user=${SUPERUSER}`,
        "",
    ].join("\n");
}

/** Seconds after which PostgreSQL switches to a new WAL segment if there was any write, so archived WAL is at most this old. */
const ARCHIVE_TIMEOUT_SECONDS = 60;

/** What the members' PostgreSQL runs with to archive WAL and, as standbys, to fetch it. */
export interface ArchiveSettings {
    /** archive_mode, archive_command, archive_timeout: Patroni's `postgresql.parameters`. */
    parameters: Record<string, string | number>;
    /** restore_command: a standby (Patroni's `postgresql.recovery_conf`) fetches WAL streaming cannot give it. */
    restoreCommand: string;
    /** Patroni's bootstrap method restoring the repository to a point in time, replacing initdb and post_bootstrap (restoreBootstrap). */
    restoreBootstrap?: { [key: string]: YamlValue };
}

/** The pgbackrest command line with this cluster's config file and stanza. */
function pgbackrestCommand(paths: Pick<BackupPaths, "pgbackrest" | "configFile">, stanza: string): string {
    return `${paths.pgbackrest} --config=${paths.configFile} --stanza=${stanza}`;
}

/** Continuous archiving into the repository with `pgbackrest archive-push`. Pure. */
export function archiveSettings(paths: Pick<BackupPaths, "pgbackrest" | "configFile">, stanza: string): ArchiveSettings {
    const command = pgbackrestCommand(paths, stanza);
    return {
        parameters: {
            archive_mode: "on",
            archive_command: `${command} archive-push "%p"`,
            archive_timeout: ARCHIVE_TIMEOUT_SECONDS,
        },
        restoreCommand: `${command} archive-get %f "%p"`,
    };
}

/**
 * The archive settings of a cluster whose backups are configured, with the restore bootstrap when
 * `backup.restore` is set; undefined when backups are off. `dataDir` is the members' PGDATA. Pure.
 */
export function clusterArchiveSettings(
    backup: Pick<BackupSettings, "enabled" | "restore">,
    stanza: string,
    paths: BackupPaths = POD_BACKUP_PATHS,
    dataDir: string = MEMBER_PATHS.dataDir,
): ArchiveSettings | undefined {
    if (!backup.enabled) return undefined;
    const settings = archiveSettings(paths, stanza);
    if (!backup.restore) return settings;
    const { targetTime, targetTimeline } = backup.restore;
    return { ...settings, restoreBootstrap: restoreBootstrap(paths, { stanza: backup.restore.stanza ?? stanza, targetTime, targetTimeline }, dataDir) };
}

/** An argument quoted for a POSIX shell, and for Python's shlex.split (which Patroni runs the bootstrap command through). */
function shellQuote(arg: string): string {
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'"'"'`)}'`;
}

/**
 * Patroni's custom bootstrap restoring the repository to `targetTime` (the restore runbook): the
 * command creates PGDATA (pgBackRest restores into an existing directory) and runs the point-in-time
 * restore; `recovery_conf` repeats the target, because Patroni writes it itself and strips recovery
 * settings from postgresql.auto.conf (where pgBackRest writes them), so standbys cloned later do not
 * inherit a recovery target. PostgreSQL replays to the target and promotes; Patroni then takes the
 * leader lock, updates the superuser and replication passwords, and the other members clone from it.
 * No post_bootstrap: the roles and database come from the backup. Pure.
 */
export function restoreBootstrap(
    paths: Pick<BackupPaths, "pgbackrest" | "configFile">,
    restore: { stanza: string; targetTime: string; targetTimeline?: RestoreTimeline },
    dataDir: string,
): { [key: string]: YamlValue } {
    const restoreArgs = pointInTimeRestoreArgs(paths, restore.stanza, dataDir, restore.targetTime, restore.targetTimeline);
    const command = ["sh", "-c", 'mkdir -p -m 0700 "$1" && shift && exec "$@"', "restore", dataDir, paths.pgbackrest, ...restoreArgs];
    return {
        method: "pgbackrest",
        pgbackrest: {
            command: command.map(shellQuote).join(" "),
            // pgbackrest takes no --scope/--datadir (Patroni's default parameters).
            no_params: true,
            recovery_conf: {
                restore_command: `${pgbackrestCommand(paths, restore.stanza)} archive-get %f "%p"`,
                recovery_target_time: restore.targetTime,
                ...(restore.targetTimeline === undefined ? {} : { recovery_target_timeline: String(restore.targetTimeline) }),
                recovery_target_action: "promote",
            },
        },
    };
}

/**
 * The arguments of a point-in-time restore into `dataDir` (which must be empty or absent): the
 * newest backup before `targetTime`, then archived WAL replayed up to `targetTime` (inclusive),
 * then PostgreSQL promotes itself on a new timeline. `targetTime` is a PostgreSQL timestamp with a
 * time zone, e.g. `2026-11-30 06:30:00+00`; `targetTimeline` unset follows the latest timeline. Pure.
 */
export function pointInTimeRestoreArgs(paths: Pick<BackupPaths, "configFile">, stanza: string, dataDir: string, targetTime: string, targetTimeline?: RestoreTimeline): string[] {
    return [
        `--config=${paths.configFile}`,
        `--stanza=${stanza}`,
        `--pg1-path=${dataDir}`,
        "--type=time",
        `--target=${targetTime}`,
        ...(targetTimeline === undefined ? [] : [`--target-timeline=${targetTimeline}`]),
        "--target-action=promote",
        "restore",
    ];
}

/** A recovery target timeline: `current` (the backup's), `latest`, or a timeline number. */
export type RestoreTimeline = NonNullable<NonNullable<BackupSettings["restore"]>["targetTimeline"]>;

export interface BackupAgentOptions {
    stanza: string;
    paths: Pick<BackupPaths, "configFile" | "pgbackrest" | "psql">;
    database: BackupDatabase;
    /** Hours between full backups, counted from the newest full backup in the repository. */
    fullIntervalHours: number;
    /** Hours between differential backups; 0 = none. */
    differentialIntervalHours: number;
    /** Seconds between `pgbackrest check` runs (each forces a WAL segment switch and waits for its archive). */
    checkIntervalSeconds: number;
    /** Seconds between the agent's rounds. */
    pollSeconds: number;
    /** Address and port of the metrics endpoint. */
    listenAddress: string;
    metricsPort: number;
}

/** Seconds between the agent's rounds in a pod (each reads the repository's info once). */
const AGENT_POLL_SECONDS = 60;
/** After a failed command the agent waits this long before the next attempt (a broken repository is not hammered). */
const AGENT_RETRY_SECONDS = 600;
/** Bound of one pgBackRest command: a full backup of the prod volume (500Gi) included. */
const AGENT_COMMAND_TIMEOUT_SECONDS = 12 * 3600;

/** The agent's options in a member pod, from the backup settings. Pure. */
export function podBackupAgentOptions(backup: BackupSettings, stanza: string, database: BackupDatabase): BackupAgentOptions {
    return {
        stanza,
        paths: POD_BACKUP_PATHS,
        database,
        fullIntervalHours: backup.fullIntervalHours,
        differentialIntervalHours: backup.differentialIntervalHours,
        checkIntervalSeconds: backupCheckIntervalSeconds(backup),
        pollSeconds: AGENT_POLL_SECONDS,
        listenAddress: "0.0.0.0",
        metricsPort: BACKUP_AGENT_PORT,
    };
}

/** A WAL switch every third of the archive alert's threshold: an idle database archives well before it fires. */
export function backupCheckIntervalSeconds(backup: Pick<BackupSettings, "walArchiveAlertMinutes">): number {
    return Math.floor((backup.walArchiveAlertMinutes * 60) / 3);
}

/**
 * The backup agent (Python 3, standard library only: the image's Patroni needs python3 anyway).
 * `--once` runs one round and exits 0 when every command it ran succeeded. Pure.
 */
export function renderBackupAgent(options: BackupAgentOptions): string {
    const settings = {
        stanza: options.stanza,
        configFile: options.paths.configFile,
        pgbackrest: options.paths.pgbackrest,
        psql: options.paths.psql,
        socketDir: options.database.socketDir,
        port: options.database.port,
        user: SUPERUSER,
        fullIntervalSeconds: options.fullIntervalHours * 3600,
        differentialIntervalSeconds: options.differentialIntervalHours * 3600,
        checkIntervalSeconds: options.checkIntervalSeconds,
        pollSeconds: options.pollSeconds,
        retrySeconds: AGENT_RETRY_SECONDS,
        commandTimeoutSeconds: AGENT_COMMAND_TIMEOUT_SECONDS,
        listenAddress: options.listenAddress,
        metricsPort: options.metricsPort,
        metrics: BACKUP_METRICS,
    };
    const json = JSON.stringify(settings, null, 4);
    if (json.includes('"""')) throw new Error("renderBackupAgent: a setting contains a triple quote");
    return String.raw`#!/usr/bin/python3
# Rendered by prepx-platform (components/postgres/backup.ts): the backup agent beside every PostgreSQL
# member. On the member whose PostgreSQL is the primary it creates the pgBackRest stanza, forces and
# verifies WAL archiving (pgbackrest check) and takes a full or differential backup when the newest
# one in the repository is older than its interval. The schedule is the repository's, not this
# process's: a failover or a restart neither repeats nor skips a backup. Every member serves the
# repository's state as Prometheus metrics. "--once" runs one round and exits with its status.
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SETTINGS = json.loads(r"""${json}""")
METRICS = SETTINGS["metrics"]
LOCK = threading.Lock()
STATE = {"repository_up": 0, "last_backup": 0, "last_full_backup": 0, "backups": 0, "primary": 0, "runs": {}}
TIMES = {"check": 0.0, "failure": float("-inf")}


def log(message):
    print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), message, flush=True)


def pgbackrest(*args):
    command = [SETTINGS["pgbackrest"], "--config=" + SETTINGS["configFile"], "--stanza=" + SETTINGS["stanza"], *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=SETTINGS["commandTimeoutSeconds"])


def run(command, *options):
    """Runs a pgBackRest command that changes the repository; logs and counts its result."""
    started = time.time()
    try:
        result = pgbackrest(*options, command)
        ok, detail = result.returncode == 0, (result.stderr or result.stdout).strip()
    except subprocess.TimeoutExpired as error:
        ok, detail = False, str(error)
    key = (command, "success" if ok else "failure")
    with LOCK:
        STATE["runs"][key] = STATE["runs"].get(key, 0) + 1
    log("%s %s: %s after %.1f s" % (command, " ".join(options), "ok" if ok else "FAILED", time.time() - started))
    if not ok:
        log(detail)
    return ok


def refresh():
    """Reads the repository's backups into STATE; returns the stanza's status code, None if unreadable."""
    try:
        result = pgbackrest("--output=json", "info")
        stanza = json.loads(result.stdout)[0] if result.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError, IndexError) as error:
        log("info failed: %r" % (error,))
        stanza = None
    if stanza is None:
        with LOCK:
            STATE["repository_up"] = 0
        return None
    backups = stanza.get("backup", [])
    code = stanza["status"]["code"]
    with LOCK:
        # 0: ok; 2: no valid backup yet. Other codes: no stanza (1, 3) or a broken one.
        STATE["repository_up"] = 1 if code in (0, 2) else 0
        STATE["last_backup"] = max((b["timestamp"]["stop"] for b in backups), default=0)
        STATE["last_full_backup"] = max((b["timestamp"]["stop"] for b in backups if b["type"] == "full"), default=0)
        STATE["backups"] = len(backups)
    return code


def is_primary():
    command = [SETTINGS["psql"], "-X", "-At", "-h", SETTINGS["socketDir"], "-p", str(SETTINGS["port"]), "-U", SETTINGS["user"], "-d", "postgres", "-c", "SELECT pg_is_in_recovery()"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and result.stdout.strip() == "f"


def due(now):
    """The backup type the repository is due for, or None."""
    with LOCK:
        last_full, last = STATE["last_full_backup"], STATE["last_backup"]
    if now - last_full >= SETTINGS["fullIntervalSeconds"]:
        return "full"
    if SETTINGS["differentialIntervalSeconds"] and now - last >= SETTINGS["differentialIntervalSeconds"]:
        return "diff"
    return None


def round_once():
    """One round; False when a command it ran failed or the repository is unreadable."""
    code = refresh()
    primary = is_primary()
    with LOCK:
        STATE["primary"] = 1 if primary else 0
    now = time.time()
    if not primary or now - TIMES["failure"] < SETTINGS["retrySeconds"]:
        return True
    ok = code is not None
    if ok and code in (1, 3):
        ok = run("stanza-create")
        refresh()
    if ok and now - TIMES["check"] >= SETTINGS["checkIntervalSeconds"]:
        ok = run("check")
        if ok:
            TIMES["check"] = now
    kind = due(now) if ok else None
    if kind:
        ok = run("backup", "--type=" + kind)
        refresh()
    if not ok:
        TIMES["failure"] = time.time()
    return ok


def metrics_text():
    with LOCK:
        state = dict(STATE, runs=dict(STATE["runs"]))
    lines = []

    def gauge(name, help_text, value):
        lines.extend(["# HELP %s %s" % (name, help_text), "# TYPE %s gauge" % name, "%s %s" % (name, value)])

    gauge(METRICS["repositoryUp"], "1 when pgbackrest info read the repository and its stanza.", state["repository_up"])
    gauge(METRICS["lastBackup"], "Unix time the newest backup finished (0: none).", state["last_backup"])
    gauge(METRICS["lastFullBackup"], "Unix time the newest full backup finished (0: none).", state["last_full_backup"])
    gauge(METRICS["backups"], "Backups in the repository.", state["backups"])
    gauge(METRICS["primary"], "1 when this member's PostgreSQL was the primary at the last round.", state["primary"])
    lines.extend(["# HELP %s pgBackRest commands this agent ran." % METRICS["runs"], "# TYPE %s counter" % METRICS["runs"]])
    for (command, result), count in sorted(state["runs"].items()):
        lines.append('%s{command="%s",result="%s"} %d' % (METRICS["runs"], command, result, count))
    return "\n".join(lines) + "\n"


class Metrics(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/metrics":
            self.send_error(404)
            return
        body = metrics_text().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    if "--once" in sys.argv[1:]:
        sys.exit(0 if round_once() else 1)
    server = ThreadingHTTPServer((SETTINGS["listenAddress"], SETTINGS["metricsPort"]), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log("backup agent for stanza %s: metrics on port %d" % (SETTINGS["stanza"], SETTINGS["metricsPort"]))
    while True:
        try:
            round_once()
        except Exception as error:  # one bad round must not end the agent
            log("round failed: %r" % (error,))
        time.sleep(SETTINGS["pollSeconds"])


if __name__ == "__main__":
    main()
`;
}

/** The Kubernetes object names of a cluster's backup pieces. */
export interface BackupNames {
    /** ConfigMap with pgbackrest.conf and the agent's script. */
    config: string;
    /** PVC of a `volume` repository. */
    repositoryClaim: string;
}

/** Backup object names derived from the cluster name. Pure. */
export function backupNames(name: string): BackupNames {
    return { config: `${name}-backup`, repositoryClaim: `${name}-backup` };
}

/** The ConfigMap's files: pgbackrest.conf and the agent, for members in pods. Pure. */
export function podBackupFiles(backup: BackupSettings, stanza: string): Record<string, string> {
    return {
        "pgbackrest.conf": renderPgbackrestConfig({ stanza, repository: backup.repository, retentionFull: backup.retentionFull, database: POD_BACKUP_DATABASE, paths: POD_BACKUP_PATHS }),
        "backup-agent.py": renderBackupAgent(podBackupAgentOptions(backup, stanza, POD_BACKUP_DATABASE)),
    };
}

/** The S3 keys from the credentials Secret, as pgBackRest reads them from the environment; none for a volume. */
function repositoryCredentialsEnv(repository: BackupRepository): EnvVar[] {
    if (repository.type !== "s3") return [];
    return [
        secretEnv("PGBACKREST_REPO1_S3_KEY", repository.credentialsSecret, "access-key-id"),
        secretEnv("PGBACKREST_REPO1_S3_KEY_SECRET", repository.credentialsSecret, "secret-access-key"),
    ];
}

/** What the backup pieces of a member pod refer to. */
export interface BackupPodRefs {
    image: pulumi.Input<string>;
    /** The ConfigMap with pgbackrest.conf and the agent. */
    config: pulumi.Input<string>;
    /** The PVC of a `volume` repository (unused for S3). */
    repositoryClaim: pulumi.Input<string>;
    /** Secret holding the superuser's password (`superuser-password`): pgBackRest logs in with it. */
    credentialsSecret: pulumi.Input<string>;
    /** The member's data volume and where it is mounted (PGDATA is inside). */
    dataVolume: string;
    dataMount: string;
    /** The socket directory's volume (the agent and pgBackRest connect over the unix socket). */
    socketVolume: string;
}

/** The agent's probes: answered from memory (never by running pgBackRest), so a long backup never fails them. */
const AGENT_READINESS: ProbeTiming = { periodSeconds: 10, failureThreshold: 3 };
const AGENT_LIVENESS: ProbeTiming = { periodSeconds: 20, failureThreshold: 3 };

/** What backups add to a member pod: the agent sidecar, its volumes, and the PostgreSQL container's mounts and env. */
export interface MemberBackup {
    /** Added to the postgres container: archive-push reads pgbackrest.conf and writes the repository. */
    postgresMounts: VolumeMount[];
    postgresEnv: EnvVar[];
    agent: Container;
    volumes: Volume[];
}

/** The backup pieces of a member pod. Pure. */
export function memberBackup(backup: BackupSettings, refs: BackupPodRefs): MemberBackup {
    const repositoryMounts: VolumeMount[] = backup.repository.type === "volume" ? [{ name: "backup-repository", mountPath: POD_BACKUP_PATHS.volumeRepository }] : [];
    const configMount: VolumeMount = { name: "backup-config", mountPath: BACKUP_CONFIG_DIR, readOnly: true };
    const credentials = repositoryCredentialsEnv(backup.repository);
    const agent: Container = {
        name: "backup",
        image: refs.image,
        imagePullPolicy: IMAGE_PULL_POLICY,
        command: ["python3", POD_BACKUP_PATHS.agentScript],
        // pgBackRest's sessions run without the application timeouts (CLUSTER_CLIENT_PGOPTIONS).
        env: [...credentials, secretEnv("PGPASSWORD", refs.credentialsSecret, "superuser-password"), { name: "PGOPTIONS", value: CLUSTER_CLIENT_PGOPTIONS }],
        ports: [{ name: BACKUP_AGENT_PORT_NAME, containerPort: BACKUP_AGENT_PORT }],
        resources: containerResources(backup.resources),
        securityContext: containerSecurityContext(),
        readinessProbe: httpProbe("/metrics", BACKUP_AGENT_PORT_NAME, AGENT_READINESS),
        livenessProbe: httpProbe("/metrics", BACKUP_AGENT_PORT_NAME, AGENT_LIVENESS),
        volumeMounts: [
            // Read-only: a backup reads PGDATA; only PostgreSQL writes it.
            { name: refs.dataVolume, mountPath: refs.dataMount, readOnly: true },
            { name: refs.socketVolume, mountPath: MEMBER_PATHS.socketDir },
            configMount,
            ...repositoryMounts,
            { name: "backup-tmp", mountPath: "/tmp" },
        ],
    };
    return {
        postgresMounts: [configMount, ...repositoryMounts],
        postgresEnv: credentials,
        agent,
        volumes: [
            { name: "backup-config", configMap: { name: refs.config, defaultMode: 0o444 } },
            ...(backup.repository.type === "volume" ? [{ name: "backup-repository", persistentVolumeClaim: { claimName: refs.repositoryClaim } }] : []),
            scratchVolume("backup-tmp", "64Mi"),
        ],
    };
}

/** The member's PostgreSQL as pgBackRest reaches it in a pod. */
export const POD_BACKUP_DATABASE: BackupDatabase = { dataDir: MEMBER_PATHS.dataDir, socketDir: MEMBER_PATHS.socketDir, port: POSTGRES_PORT };

/** The PVC of a `volume` repository (ReadWriteOnce needs the members on one node; see the arg's doc). */
export function repositoryClaimSpec(repository: Extract<BackupRepository, { type: "volume" }>, storageClass: string | undefined): k8s.types.input.core.v1.PersistentVolumeClaimSpec {
    return {
        accessModes: [repository.accessMode],
        ...(storageClass ? { storageClassName: storageClass } : {}),
        resources: { requests: { storage: repository.size } },
    };
}
