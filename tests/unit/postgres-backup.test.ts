// PostgresCluster's backup pieces called directly (no mocks): the `backup` args and their rules,
// pgbackrest.conf for both repositories, the archive settings in Patroni's config, the backup agent,
// the restore command, the member pod's sidecar, mounts and credentials, and the backup alert rules.
import { testCertificates } from "../helpers/mocks";
import { execFileSync } from "child_process";
import { parse } from "yaml";
import { postgresBackupAlertRules } from "../../components/postgres/alerts";
import { postgresClusterArgsSchema, PostgresClusterArgs } from "../../components/postgres/args";
import {
    archiveSettings,
    BACKUP_AGENT_PORT,
    BACKUP_METRICS,
    backupCheckIntervalSeconds,
    backupNames,
    clusterArchiveSettings,
    memberBackup,
    POD_BACKUP_DATABASE,
    POD_BACKUP_PATHS,
    podBackupAgentOptions,
    podBackupFiles,
    pointInTimeRestoreArgs,
    renderBackupAgent,
    renderPgbackrestConfig,
    repositoryClaimSpec,
} from "../../components/postgres/backup";
import { MEMBER_PATHS, patroniConfigOptions, podMemberEnvironment, renderPatroniConfig } from "../../components/postgres/render";
import { memberPodSpec } from "../../components/postgres/specs";

const argsWith = (args: Partial<PostgresClusterArgs> = {}) => postgresClusterArgsSchema.parse({ namespace: "prepx", certificates: testCertificates, ...args });
const DEFAULTS = argsWith();
const VOLUME = argsWith({ backup: { repository: { type: "volume", size: "5Gi" }, retentionFull: 2 } });
const issues = (args: Partial<PostgresClusterArgs>) => {
    const result = postgresClusterArgsSchema.safeParse({ namespace: "prepx", certificates: testCertificates, ...args });
    return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
};
const POD_LABELS = { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": "db", "app.kubernetes.io/component": "database" };
const CONFIG_LINES = (text: string) => text.split("\n").filter((line) => line && !line.startsWith("#"));

describe("the backup args", () => {
    test("default to the prod shape: S3, seven daily full backups, a differential every 4 h", () => {
        expect(DEFAULTS.backup).toMatchObject({ enabled: true, retentionFull: 7, fullIntervalHours: 24, differentialIntervalHours: 4, backupAgeAlertHours: 26, walArchiveAlertMinutes: 15 });
        expect(DEFAULTS.backup.repository).toEqual({
            type: "s3",
            bucket: "prepx-postgres-backups",
            endpoint: "s3.us-east-1.amazonaws.com",
            region: "us-east-1",
            uriStyle: "host",
            path: "/pgbackrest",
            credentialsSecret: "postgres-backup-s3",
        });
        expect(VOLUME.backup.repository).toEqual({ type: "volume", size: "5Gi", accessMode: "ReadWriteOnce" });
    });

    test("refuse a differential interval not below the full one, and an age alert that would fire on schedule", () => {
        expect(issues({ backup: { fullIntervalHours: 24, differentialIntervalHours: 24 } })).toEqual(["backup.differentialIntervalHours: must be less than fullIntervalHours (24), or 0"]);
        expect(issues({ backup: { differentialIntervalHours: 4, backupAgeAlertHours: 4 } })).toEqual([
            "backup.backupAgeAlertHours: must exceed the interval of the newest backup (4 h), or the alert fires on schedule",
        ]);
        // Without differentials the newest backup is a full one: the alert must exceed the full interval.
        expect(issues({ backup: { differentialIntervalHours: 0, fullIntervalHours: 24, backupAgeAlertHours: 24 } })).toEqual([
            "backup.backupAgeAlertHours: must exceed the interval of the newest backup (24 h), or the alert fires on schedule",
        ]);
        expect(issues({ backup: { differentialIntervalHours: 0, fullIntervalHours: 24, backupAgeAlertHours: 25 } })).toEqual([]);
    });

    test("refuse a repository of unknown type, a bad bucket or a relative path", () => {
        expect(issues({ backup: { repository: { type: "gcs" } as never } })[0]).toMatch(/^backup\.repository/);
        expect(issues({ backup: { repository: { type: "s3", bucket: "Bad_Bucket" } } })).toEqual(["backup.repository.bucket: an S3 bucket name"]);
        expect(issues({ backup: { repository: { type: "s3", path: "relative" } } })).toEqual(["backup.repository.path: an absolute path such as /pgbackrest"]);
    });
});

describe("pgbackrest.conf", () => {
    test("S3: the bucket, endpoint, region and style from the args; no key in the file", () => {
        const text = podBackupFiles(DEFAULTS.backup, "db")["pgbackrest.conf"];
        expect(CONFIG_LINES(text)).toEqual([
            "[global]",
            "repo1-type=s3",
            "repo1-path=/pgbackrest",
            "repo1-s3-bucket=prepx-postgres-backups",
            "repo1-s3-endpoint=s3.us-east-1.amazonaws.com",
            "repo1-s3-region=us-east-1",
            "repo1-s3-uri-style=host",
            "repo1-retention-full=7",
            "repo1-retention-full-type=count",
            "repo1-bundle=y",
            "compress-type=zst",
            "process-max=2",
            "start-fast=y",
            "lock-path=/tmp/pgbackrest",
            "log-level-console=info",
            "log-level-file=off",
            "[db]",
            `pg1-path=${MEMBER_PATHS.dataDir}`,
            "pg1-port=5432",
            `pg1-socket-path=${MEMBER_PATHS.socketDir}`,
            "pg1-user=postgres",
        ]);
        expect(CONFIG_LINES(text).join("\n")).not.toMatch(/s3-key|secret|cipher-pass/);
    });

    test("volume: a posix repository at the PVC's mount, the stack's retention", () => {
        const text = renderPgbackrestConfig({ stanza: "db", repository: VOLUME.backup.repository, retentionFull: 2, database: POD_BACKUP_DATABASE, paths: POD_BACKUP_PATHS });
        expect(CONFIG_LINES(text)).toEqual(expect.arrayContaining(["repo1-type=posix", "repo1-path=/var/lib/pgbackrest", "repo1-retention-full=2"]));
        expect(text).not.toContain("repo1-s3");
    });
});

describe("WAL archiving in Patroni's config", () => {
    const settings = archiveSettings(POD_BACKUP_PATHS, "db");

    test("archive-push and archive-get with the cluster's config file and stanza", () => {
        expect(settings).toEqual({
            parameters: {
                archive_mode: "on",
                archive_command: '/usr/bin/pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=db archive-push "%p"',
                archive_timeout: 60,
            },
            restoreCommand: '/usr/bin/pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=db archive-get %f "%p"',
        });
        expect(clusterArchiveSettings({ enabled: true }, "db")).toEqual(settings);
        expect(clusterArchiveSettings({ enabled: false }, "db")).toBeUndefined();
    });

    test("every member archives (local parameters) and a standby restores from the archive; without backups neither", () => {
        const withArchive = parse(renderPatroniConfig(patroniConfigOptions(DEFAULTS, "db", podMemberEnvironment(POD_LABELS, DEFAULTS.clientNetworks), settings)));
        expect(withArchive.postgresql.parameters).toMatchObject(settings.parameters);
        expect(withArchive.postgresql.recovery_conf).toEqual({ restore_command: settings.restoreCommand });
        // The sizing is still there: archiving adds to the parameters, it replaces none.
        expect(withArchive.postgresql.parameters.work_mem).toBe("64MB");
        const without = parse(renderPatroniConfig(patroniConfigOptions(DEFAULTS, "db", podMemberEnvironment(POD_LABELS, DEFAULTS.clientNetworks))));
        expect(Object.keys(without.postgresql.parameters).filter((key) => key.startsWith("archive_"))).toEqual([]);
        expect(without.postgresql.recovery_conf).toBeUndefined();
    });
});

describe("the backup agent", () => {
    const options = podBackupAgentOptions(DEFAULTS.backup, "db", POD_BACKUP_DATABASE);
    const script = renderBackupAgent(options);
    const settings = JSON.parse(/SETTINGS = json\.loads\(r"""([\s\S]*?)"""\)/.exec(script)?.[1] ?? "null") as Record<string, unknown>;

    test("is valid Python 3", () => {
        expect(() => execFileSync("/usr/bin/python3", ["-c", "import ast, sys; ast.parse(sys.stdin.read())"], { input: script, stdio: ["pipe", "pipe", "pipe"] })).not.toThrow();
    });

    test("carries the schedule, the repository check interval and the paths of the pod", () => {
        expect(settings).toEqual({
            stanza: "db",
            configFile: "/etc/pgbackrest/pgbackrest.conf",
            pgbackrest: "/usr/bin/pgbackrest",
            psql: "/usr/lib/postgresql/15/bin/psql",
            socketDir: MEMBER_PATHS.socketDir,
            port: 5432,
            user: "postgres",
            fullIntervalSeconds: 24 * 3600,
            differentialIntervalSeconds: 4 * 3600,
            // A WAL switch every 5 minutes: well inside the 15-minute archive alert.
            checkIntervalSeconds: 300,
            pollSeconds: 60,
            retrySeconds: 600,
            commandTimeoutSeconds: 12 * 3600,
            listenAddress: "0.0.0.0",
            metricsPort: BACKUP_AGENT_PORT,
            metrics: BACKUP_METRICS,
        });
        expect(backupCheckIntervalSeconds({ walArchiveAlertMinutes: 3 })).toBe(60);
    });

    test("holds no password: pgBackRest and psql take it from PGPASSWORD", () => {
        expect(script).not.toMatch(/password/i);
    });
});

test("the restore runbook's command: a time target, promotion at the target, into the given data directory", () => {
    expect(pointInTimeRestoreArgs(POD_BACKUP_PATHS, "db", "/var/lib/postgresql/data/pgdata", "2026-11-30 06:30:00+00")).toEqual([
        "--config=/etc/pgbackrest/pgbackrest.conf",
        "--stanza=db",
        "--pg1-path=/var/lib/postgresql/data/pgdata",
        "--type=time",
        "--target=2026-11-30 06:30:00+00",
        "--target-action=promote",
        "restore",
    ]);
});

describe("the restore bootstrap (postgres.backup.restore)", () => {
    const TARGET = "2026-11-30 06:30:00.5+00";
    const restoring = argsWith({ backup: { restore: { targetTime: TARGET } } });
    const settings = clusterArchiveSettings(restoring.backup, "db");
    const bootstrap = settings?.restoreBootstrap as { method: string; pgbackrest: { command: string; no_params: boolean; recovery_conf: Record<string, string> } };

    test("replaces initdb and post_bootstrap in Patroni's config; without it initdb and the script stay", () => {
        const rendered = parse(renderPatroniConfig(patroniConfigOptions(restoring, "db", podMemberEnvironment(POD_LABELS, DEFAULTS.clientNetworks), settings)));
        expect(rendered.bootstrap.method).toBe("pgbackrest");
        expect(rendered.bootstrap.post_bootstrap).toBeUndefined();
        expect(rendered.bootstrap.pgbackrest).toEqual(bootstrap.pgbackrest);
        const normal = parse(renderPatroniConfig(patroniConfigOptions(DEFAULTS, "db", podMemberEnvironment(POD_LABELS, DEFAULTS.clientNetworks), clusterArchiveSettings(DEFAULTS.backup, "db"))));
        expect(normal.bootstrap.method).toBeUndefined();
        expect(normal.bootstrap.post_bootstrap).toBe("sh /etc/patroni/post-bootstrap.sh");
    });

    test("the command, as Patroni splits it (shlex), creates PGDATA and restores to the target; recovery_conf repeats the target", () => {
        const split = execFileSync("/usr/bin/python3", ["-c", "import json, shlex, sys; print(json.dumps(shlex.split(sys.stdin.read())))"], { input: bootstrap.pgbackrest.command, encoding: "utf8" });
        expect(JSON.parse(split)).toEqual([
            "sh",
            "-c",
            'mkdir -p -m 0700 "$1" && shift && exec "$@"',
            "restore",
            MEMBER_PATHS.dataDir,
            "/usr/bin/pgbackrest",
            ...pointInTimeRestoreArgs(POD_BACKUP_PATHS, "db", MEMBER_PATHS.dataDir, TARGET),
        ]);
        expect(bootstrap.pgbackrest.no_params).toBe(true);
        expect(bootstrap.pgbackrest.recovery_conf).toEqual({
            restore_command: '/usr/bin/pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=db archive-get %f "%p"',
            recovery_target_time: TARGET,
            recovery_target_action: "promote",
        });
    });

    test("another stanza and the backup's timeline when asked", () => {
        const other = clusterArchiveSettings(argsWith({ backup: { restore: { targetTime: TARGET, stanza: "old-db", targetTimeline: "current" } } }).backup, "db");
        const method = (other?.restoreBootstrap as typeof bootstrap).pgbackrest;
        expect(method.command).toContain("--stanza=old-db --pg1-path=/var/lib/postgresql/data/pgdata --type=time '--target=2026-11-30 06:30:00.5+00' --target-timeline=current");
        expect(method.recovery_conf).toMatchObject({ restore_command: expect.stringContaining("--stanza=old-db archive-get"), recovery_target_timeline: "current" });
        // The restored cluster archives into its own stanza.
        expect(other?.parameters.archive_command).toContain("--stanza=db archive-push");
    });

    test("refused without backups, or with a time without its zone", () => {
        expect(issues({ backup: { enabled: false, restore: { targetTime: TARGET } } })).toEqual([
            "backup.restore: needs enabled: true (the restore reads the repository, and the restored cluster archives into it)",
        ]);
        expect(issues({ backup: { restore: { targetTime: "2026-11-30 06:30:00" } } })).toEqual(["backup.restore.targetTime: a time with its zone, such as 2026-11-30 06:30:00+00"]);
    });
});

describe("a member pod with backups", () => {
    const refs = {
        serviceAccount: "db-patroni",
        patroniConfig: "db-patroni",
        credentialsSecret: "db-credentials",
        appSecret: "db-app",
        tlsSecret: "db-tls",
        membersService: "db-members",
        backup: { config: "db-backup", repositoryClaim: "db-backup" },
    };
    const IMAGE = "ghcr.io/prepx/postgres-patroni:15.19-patroni3.0.2-pgbackrest2.45";
    const container = (spec: ReturnType<typeof memberPodSpec>, name: string) => (spec.containers as { name: string }[]).find((c) => c.name === name) as Record<string, unknown> | undefined;

    test("S3: the keys reach archive-push and the agent from the Secret, never a file; no repository volume", () => {
        const spec = memberPodSpec(DEFAULTS, IMAGE, POD_LABELS, refs);
        const keys = [
            { name: "PGBACKREST_REPO1_S3_KEY", valueFrom: { secretKeyRef: { name: "postgres-backup-s3", key: "access-key-id" } } },
            { name: "PGBACKREST_REPO1_S3_KEY_SECRET", valueFrom: { secretKeyRef: { name: "postgres-backup-s3", key: "secret-access-key" } } },
        ];
        expect(container(spec, "postgres")?.env).toEqual(expect.arrayContaining(keys));
        expect(container(spec, "backup")?.env).toEqual([
            ...keys,
            { name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: "db-credentials", key: "superuser-password" } } },
            // pgBackRest's sessions (a backup's stop waits for archiving) without the application timeouts.
            { name: "PGOPTIONS", value: "-c statement_timeout=0 -c idle_in_transaction_session_timeout=0" },
        ]);
        expect((spec.volumes as { name: string }[]).map((v) => v.name)).not.toContain("backup-repository");
        expect(container(spec, "postgres")?.volumeMounts).toEqual(expect.arrayContaining([{ name: "backup-config", mountPath: "/etc/pgbackrest", readOnly: true }]));
    });

    test("the agent: the image's python3 on the rendered script, PGDATA read-only, its metrics port probed, the baseline", () => {
        const agent = container(memberPodSpec(VOLUME, IMAGE, POD_LABELS, refs), "backup");
        expect(agent).toMatchObject({
            image: IMAGE,
            command: ["python3", "/etc/pgbackrest/backup-agent.py"],
            ports: [{ name: "metrics-backup", containerPort: BACKUP_AGENT_PORT }],
            resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "2", memory: "1Gi" } },
            securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
            readinessProbe: { httpGet: { path: "/metrics", port: "metrics-backup" } },
            livenessProbe: { httpGet: { path: "/metrics", port: "metrics-backup" } },
        });
        expect(agent?.volumeMounts).toEqual([
            { name: "data", mountPath: "/var/lib/postgresql/data", readOnly: true },
            { name: "run", mountPath: MEMBER_PATHS.socketDir },
            { name: "backup-config", mountPath: "/etc/pgbackrest", readOnly: true },
            { name: "backup-repository", mountPath: "/var/lib/pgbackrest" },
            { name: "backup-tmp", mountPath: "/tmp" },
        ]);
    });

    test("volume: the repository PVC in both containers; no S3 keys", () => {
        const spec = memberPodSpec(VOLUME, IMAGE, POD_LABELS, refs);
        expect(spec.volumes).toEqual(expect.arrayContaining([{ name: "backup-repository", persistentVolumeClaim: { claimName: "db-backup" } }]));
        expect(container(spec, "postgres")?.volumeMounts).toEqual(expect.arrayContaining([{ name: "backup-repository", mountPath: "/var/lib/pgbackrest" }]));
        expect(JSON.stringify(spec)).not.toContain("PGBACKREST_REPO1_S3");
        expect(repositoryClaimSpec({ type: "volume", size: "5Gi", accessMode: "ReadWriteOnce" }, "standard")).toEqual({
            accessModes: ["ReadWriteOnce"],
            storageClassName: "standard",
            resources: { requests: { storage: "5Gi" } },
        });
    });

    test("backups off, or no backup refs: the pod is as before", () => {
        const off = argsWith({ backup: { enabled: false } });
        for (const spec of [memberPodSpec(off, IMAGE, POD_LABELS, refs), memberPodSpec(DEFAULTS, IMAGE, POD_LABELS, { ...refs, backup: undefined })]) {
            expect((spec.containers as { name: string }[]).map((c) => c.name)).toEqual(["postgres", "exporter"]);
            expect(JSON.stringify(spec)).not.toMatch(/backup|PGBACKREST/);
        }
        expect(memberBackup(DEFAULTS.backup, { ...refs.backup, image: IMAGE, credentialsSecret: "c", dataVolume: "data", dataMount: "/d", socketVolume: "run" }).volumes.map((v) => v.name)).toEqual([
            "backup-config",
            "backup-tmp",
        ]);
        expect(backupNames("db")).toEqual({ config: "db-backup", repositoryClaim: "db-backup" });
    });
});

test("the backup alerts: thresholds from the args, no agent counts as no backup, only the leader's archiver counts", () => {
    const [backupRule, walRule] = postgresBackupAlertRules({ app: "postgres", backupAgeHours: 26, walArchiveMinutes: 15 });
    expect(backupRule.alert).toBe("PostgresBackupTooOld");
    expect(backupRule.expr).toBe(
        '(time() - max by (app) (pgbackrest_backup_last_completion_timestamp_seconds{app="postgres"})) > 93600 or absent(pgbackrest_backup_last_completion_timestamp_seconds{app="postgres"})',
    );
    expect(walRule.alert).toBe("PostgresWalArchiveTooOld");
    expect(walRule.expr).toBe(
        "(pg_stat_archiver_last_archive_age > 900 or (pg_stat_archiver_failed_count > 0 unless pg_stat_archiver_archived_count > 0)) " +
            "and on (namespace, pod) pg_replication_is_replica == 0",
    );
    expect([backupRule.labels.severity, walRule.labels.severity]).toEqual(["critical", "critical"]);
});
