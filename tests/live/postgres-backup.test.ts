// Backups and point-in-time recovery from the rendered pieces (components/postgres/backup.ts) on real
// servers from Debian's packages (postgresql-15, pgbackrest 2.45), on 127.0.0.1 only. The dev stack's
// backup settings (a `volume` repository: here a temp dir, as posix) render pgbackrest.conf and the
// backup agent; the archive settings are read back from the rendered Patroni config, so PostgreSQL
// archives with exactly the archive_command the members run. Rows are committed with their commit
// times; the agent, left to its schedule, takes the first backup; more rows are committed; then the
// repository restores to a time between two batches into a fresh data directory with the runbook's
// command, and that PostgreSQL holds exactly the rows committed up to that time.
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { parseStackConfig } from "../../config";
import { postgresClusterArgsSchema } from "../../components/postgres/args";
import {
    archiveSettings,
    BACKUP_METRICS,
    clusterArchiveSettings,
    type BackupDatabase,
    type BackupPaths,
    backupCheckIntervalSeconds,
    podBackupFiles,
    pointInTimeRestoreArgs,
    renderBackupAgent,
    renderPgbackrestConfig,
} from "../../components/postgres/backup";
import { patroniConfigOptions, renderPatroniConfig, SUPERUSER } from "../../components/postgres/render";
import { readStackConfig } from "../../scripts/stack-files";
import { postgresClusterArgs } from "../../stack-args";
import { BIN_DIR, POSTGRES_GID, POSTGRES_UID, postgresDir, postgresFile } from "./postgres-support";
import { freePorts, loopbackGet, isAlive, makeTempDir, report, run, Server, startEtcd, startServer, stopAllServers, stopServer, waitFor } from "./support";
import { installCertificate, TestCertificate } from "./postgres-tls";
import { issueServerCertificate, makeTestCa } from "./tls-support";
import { testCertificates } from "../helpers/mocks";

/** The dev stack's PostgresCluster args (its backups go to a volume), defaults applied. */
const args = postgresClusterArgsSchema.parse(postgresClusterArgs(parseStackConfig("dev", readStackConfig("dev")), "prepx-dev", testCertificates));
const STANZA = "postgres";
// Generated per run; it reaches the servers through a 0600 file and the environment, never a command line.
const PASSWORD = `su-${process.pid}-${Math.random().toString(36).slice(2, 12)}`;
const ROWS_PER_BATCH = 25;
/** Patroni runs on the system python (Debian's package), not whatever python3 is first on PATH. */
const PATRONI = ["/usr/bin/python3", "/usr/bin/patroni"];

let root: string;
let paths: BackupPaths;
let socketDir: string;
/** The member's certificate (PostgreSQL's ssl files, Patroni's REST API), from a CA made for the run. */
let memberTls: TestCertificate;
const servers: Server[] = [];
/** What the point-in-time test restored to, for the Patroni restore that follows it. */
let restoredTo: { target: string; rows: string[]; timeline: number } | undefined;

/** The environment of everything run as postgres: the superuser's password for libpq (pgBackRest, psql, the agent). */
function postgresEnv(): NodeJS.ProcessEnv {
    return { PATH: "/usr/bin:/bin", LANG: "C.UTF-8", HOME: root, PGPASSWORD: PASSWORD };
}

/** Runs a command as the postgres user with a time bound; rejects with its stderr. */
function asPostgres(command: string, commandArgs: string[], options: { timeoutMs?: number; input?: string } = {}): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = execFile(
            command,
            commandArgs,
            { uid: POSTGRES_UID, gid: POSTGRES_GID, cwd: root, env: postgresEnv(), timeout: options.timeoutMs ?? 60000, maxBuffer: 32 * 1024 * 1024 },
            (error, stdout, stderr) => (error ? reject(new Error(`${command} ${commandArgs.join(" ")}: ${error.message}\n${stderr}`)) : resolve(stdout)),
        );
        if (options.input !== undefined) child.stdin?.end(options.input);
    });
}

async function psql(port: number, sql: string, database = "postgres"): Promise<string> {
    return (await asPostgres(`${BIN_DIR}/psql`, ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", socketDir, "-p", String(port), "-U", SUPERUSER, "-d", database, "-f", "-"], { input: sql, timeoutMs: 30000 })).trim();
}

/** A PostgreSQL server on `dataDir`, started as postgres on 127.0.0.1:`port`, stopped by PID. */
function startPostgres(name: string, dataDir: string, port: number): Server {
    const server = startServer(name, `${BIN_DIR}/postgres`, ["-D", dataDir, "-c", `port=${port}`], path.join(root, `${name}.log`), {
        uid: POSTGRES_UID,
        gid: POSTGRES_GID,
        cwd: root,
        env: postgresEnv(),
    });
    servers.push(server);
    return server;
}

/** The body of a 200 answer from a loopback HTTP endpoint; anything else rejects. */
async function httpGet(port: number, urlPath: string): Promise<string> {
    const { status, body } = await loopbackGet(port, urlPath);
    if (status !== 200) throw new Error(`HTTP ${status}`);
    return body;
}

/** The agent's metrics by name (labels kept in the key), as Prometheus would scrape them. */
function parseMetrics(text: string): Map<string, number> {
    const values = new Map<string, number>();
    for (const line of text.split("\n")) {
        if (!line || line.startsWith("#")) continue;
        const at = line.lastIndexOf(" ");
        values.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    return values;
}

/** Commits `count` rows of `batch`, each in its own transaction, each stamped with its commit-time clock. */
async function commitBatch(port: number, batch: string, count: number): Promise<void> {
    const statements = Array.from({ length: count }, (_, i) => `INSERT INTO ledger (batch, seq) VALUES ('${batch}', ${i + 1});`);
    await psql(port, statements.join("\n"), args.database);
}

beforeAll(async () => {
    root = postgresDir(makeTempDir("pgbackup"));
    socketDir = postgresDir(path.join(root, "run"));
    const authority = await makeTestCa(path.join(root, "ca"));
    const member = await issueServerCertificate(authority, path.join(root, "ca", "member"), { ipAddresses: ["127.0.0.1"], clientAuth: true });
    memberTls = installCertificate(authority, member, path.join(root, "tls"), POSTGRES_UID, POSTGRES_GID);
    paths = {
        configFile: path.join(root, "pgbackrest.conf"),
        agentScript: path.join(root, "backup-agent.py"),
        volumeRepository: postgresDir(path.join(root, "repository")),
        lockDir: postgresDir(path.join(root, "lock")),
        pgbackrest: "/usr/bin/pgbackrest",
        psql: `${BIN_DIR}/psql`,
    };
});

afterAll(async () => {
    await stopAllServers();
    for (const server of servers) if (isAlive(server.pid)) await stopServer(server);
    if (root) fs.rmSync(root, { recursive: true, force: true });
}, 60000);

describe("pgBackRest from the rendered config: archive, scheduled backup, point-in-time restore (Debian packages)", () => {
    test("pgbackrest accepts every option of both stacks' pgbackrest.conf (S3 in prod, a volume in dev)", async () => {
        for (const stack of ["prod", "dev"] as const) {
            const stackArgs = postgresClusterArgsSchema.parse(postgresClusterArgs(parseStackConfig(stack, readStackConfig(stack)), "prepx", testCertificates));
            const file = postgresFile(path.join(root, `${stack}-pgbackrest.conf`), podBackupFiles(stackArgs.backup, STANZA)["pgbackrest.conf"], 0o444);
            // `help` parses the whole file and warns about any option it does not know.
            const { stdout, stderr } = await run(paths.pgbackrest, [`--config=${file}`, `--stanza=${STANZA}`, "help", "backup"]);
            expect(stdout).toContain("pgBackRest 2.45");
            expect(`${stdout}${stderr}`).not.toMatch(/WARN|ERROR/);
        }
    });

    test("a restore to a time between two batches holds exactly the rows committed up to that time", async () => {
        expect(args.backup.repository.type).toBe("volume");
        const [pgPort, restoredPort, metricsPort] = await freePorts(3);
        const dataDir = path.join(root, "data");
        const database: BackupDatabase = { dataDir, socketDir, port: pgPort };
        /** The agent's script for the PostgreSQL at `agentDatabase`: the stack's schedule, a round a second. */
        const agentScript = (agentDatabase: BackupDatabase) =>
            renderBackupAgent({
                stanza: STANZA,
                paths,
                database: agentDatabase,
                fullIntervalHours: args.backup.fullIntervalHours,
                differentialIntervalHours: args.backup.differentialIntervalHours,
                checkIntervalSeconds: backupCheckIntervalSeconds(args.backup),
                pollSeconds: 1,
                listenAddress: "127.0.0.1",
                metricsPort,
            });

        // The rendered files, as the ConfigMap holds them (paths into the temp dir).
        postgresFile(paths.configFile, renderPgbackrestConfig({ stanza: STANZA, repository: args.backup.repository, retentionFull: args.backup.retentionFull, database, paths }), 0o444);
        postgresFile(paths.agentScript, agentScript(database), 0o444);
        // The archive settings as the members get them: Patroni's rendered postgresql.parameters.
        const patroniYaml = renderPatroniConfig(
            patroniConfigOptions(
                args,
                STANZA,
                { dcs: { kind: "etcd3", hosts: ["127.0.0.1:2379"] }, paths: { dataDir, binDir: BIN_DIR, pgpass: path.join(root, "pgpass"), socketDir, postBootstrapScript: "", secretsDir: "", tls: memberTls }, clientNetworks: ["127.0.0.1/32"] },
                archiveSettings(paths, STANZA),
            ),
        );
        const patroni = parse(patroniYaml) as { postgresql: { parameters: Record<string, string | number>; recovery_conf: { restore_command: string } } };
        const archive = Object.fromEntries(Object.entries(patroni.postgresql.parameters).filter(([key]) => key.startsWith("archive_")));
        expect(Object.keys(archive).sort()).toEqual(["archive_command", "archive_mode", "archive_timeout"]);
        expect(patroni.postgresql.recovery_conf.restore_command).toContain("archive-get");

        const passwordFile = postgresFile(path.join(root, "pwfile"), PASSWORD);
        await asPostgres(`${BIN_DIR}/initdb`, ["-D", dataDir, "-U", SUPERUSER, `--pwfile=${passwordFile}`, "--auth=scram-sha-256", "--data-checksums", "--encoding=UTF8", "--locale=C.UTF-8"], { timeoutMs: 120000 });
        const settings = { listen_addresses: "127.0.0.1", unix_socket_directories: socketDir, ...archive };
        fs.appendFileSync(path.join(dataDir, "postgresql.conf"), Object.entries(settings).map(([key, value]) => `${key} = '${String(value).replace(/'/g, "''")}'\n`).join(""));
        startPostgres("postgres", dataDir, pgPort);
        await waitFor("PostgreSQL to accept connections", async () => (await psql(pgPort, "SELECT 1")) === "1", 30000, 200);
        await psql(pgPort, `CREATE DATABASE ${args.database}`);
        await psql(pgPort, "CREATE TABLE ledger (id bigserial PRIMARY KEY, batch text NOT NULL, seq int NOT NULL, committed_at timestamptz NOT NULL DEFAULT clock_timestamp())", args.database);

        // Batch a, before any backup: the restore finds it in the base backup.
        await commitBatch(pgPort, "a", ROWS_PER_BATCH);

        // The agent on its schedule: the repository has no backup, so it creates the stanza, checks
        // archiving and takes a full backup at once.
        const agentStarted = Date.now();
        const agent = startServer("backup-agent", "/usr/bin/python3", [paths.agentScript], path.join(root, "agent.log"), { uid: POSTGRES_UID, gid: POSTGRES_GID, cwd: root, env: postgresEnv() });
        servers.push(agent);
        const metrics = await waitFor(
            "the agent to report a backup in the repository",
            async () => {
                const values = parseMetrics(await httpGet(metricsPort, "/metrics"));
                return (values.get(BACKUP_METRICS.lastBackup) ?? 0) > 0 ? values : undefined;
            },
            180000,
            500,
        );
        const backupSeconds = (Date.now() - agentStarted) / 1000;
        await stopServer(agent);
        const runs = (command: string, result: string) => metrics.get(`${BACKUP_METRICS.runs}{command="${command}",result="${result}"}`) ?? 0;
        expect({
            up: metrics.get(BACKUP_METRICS.repositoryUp),
            primary: metrics.get(BACKUP_METRICS.primary),
            backups: metrics.get(BACKUP_METRICS.backups),
            full: metrics.get(BACKUP_METRICS.lastFullBackup),
            stanzaCreate: runs("stanza-create", "success"),
            check: runs("check", "success"),
            backup: runs("backup", "success"),
        }).toEqual({ up: 1, primary: 1, backups: 1, full: metrics.get(BACKUP_METRICS.lastBackup), stanzaCreate: 1, check: 1, backup: 1 });
        expect([...metrics.keys()].filter((key) => key.includes('result="failure"'))).toEqual([]);
        const info = JSON.parse(await asPostgres(paths.pgbackrest, [`--config=${paths.configFile}`, `--stanza=${STANZA}`, "--output=json", "info"])) as {
            backup: { type: string; timestamp: { start: number; stop: number }; info: { size: number; repository: { delta: number } } }[];
        }[];
        const [full] = info[0].backup;
        expect(full.type).toBe("full");

        // A standby's agent does nothing: no check, no backup (only the primary's agent acts).
        const standbyPort = restoredPort;
        const standbyDir = path.join(root, "standby");
        await asPostgres(`${BIN_DIR}/pg_basebackup`, ["-D", standbyDir, "-h", socketDir, "-p", String(pgPort), "-U", SUPERUSER, "-R", "-X", "stream", "-c", "fast"], { timeoutMs: 120000 });
        const standby = startPostgres("standby", standbyDir, standbyPort);
        await waitFor("the standby to run in recovery", async () => (await psql(standbyPort, "SELECT pg_is_in_recovery()")) === "t", 30000, 200);
        const standbyAgent = postgresFile(path.join(root, "standby-agent.py"), agentScript({ dataDir: standbyDir, socketDir, port: standbyPort }), 0o444);
        const standbyRound = await asPostgres("/usr/bin/python3", [standbyAgent, "--once"], { timeoutMs: 120000 });
        expect(standbyRound).not.toMatch(/stanza-create|check|backup --type/);
        await stopServer(standby, 30000);
        expect(JSON.parse(await asPostgres(paths.pgbackrest, [`--config=${paths.configFile}`, `--stanza=${STANZA}`, "--output=json", "info"]))[0].backup).toHaveLength(1);

        // Batch b after the backup, then the target time, then batch c: only WAL replay brings b back.
        await commitBatch(pgPort, "b", ROWS_PER_BATCH);
        const target = await psql(pgPort, "SELECT clock_timestamp()::text");
        await new Promise((resolve) => setTimeout(resolve, 1100));
        await commitBatch(pgPort, "c", ROWS_PER_BATCH);
        const committed = (await psql(pgPort, `SELECT batch || ':' || seq || '|' || CASE WHEN committed_at <= '${target}' THEN 'before' ELSE 'after' END FROM ledger ORDER BY id`, args.database)).split("\n");
        const expected = committed.filter((row) => row.endsWith("|before")).map((row) => row.split("|")[0]);
        expect(expected).toHaveLength(2 * ROWS_PER_BATCH);
        expect(expected.every((row) => /^[ab]:/.test(row))).toBe(true);
        expect(committed).toHaveLength(3 * ROWS_PER_BATCH);

        // The segment holding batch c, archived by archive_command (pgbackrest archive-push).
        const segment = await psql(pgPort, "SELECT pg_walfile_name(pg_switch_wal())");
        await waitFor(`segment ${segment} archived`, async () => (await psql(pgPort, "SELECT last_archived_wal FROM pg_stat_archiver")) >= segment, 60000, 250);
        expect(await psql(pgPort, "SELECT failed_count FROM pg_stat_archiver")).toBe("0");
        const primary = servers.find((server) => server.name === "postgres");
        if (primary) await stopServer(primary, 30000);

        // The runbook's restore into a fresh, empty data directory at the members' PGDATA path (a new
        // PVC in a pod; the lost one moved aside here), then PostgreSQL replays to the target and promotes.
        fs.renameSync(dataDir, `${dataDir}-lost`);
        const restoredDir = postgresDir(dataDir);
        const restoreStarted = Date.now();
        await asPostgres(paths.pgbackrest, pointInTimeRestoreArgs(paths, STANZA, restoredDir, target), { timeoutMs: 300000 });
        const restoreCommandSeconds = (Date.now() - restoreStarted) / 1000;
        startPostgres("restored", restoredDir, restoredPort);
        await waitFor("the restored PostgreSQL to reach the target and promote", async () => (await psql(restoredPort, "SELECT pg_is_in_recovery()")) === "f", 120000, 250);
        const restoreSeconds = (Date.now() - restoreStarted) / 1000;

        const restored = (await psql(restoredPort, "SELECT batch || ':' || seq FROM ledger ORDER BY id", args.database)).split("\n");
        expect(restored).toEqual(expected);
        expect(await psql(restoredPort, "SELECT timeline_id FROM pg_control_checkpoint()")).not.toBe("1");
        const log = fs.readFileSync(path.join(root, "restored.log"), "utf8");
        expect(log).toMatch(/recovery stopping (before|after) commit of transaction \d+, time/);
        const timeline = Number(await psql(restoredPort, "SELECT timeline_id FROM pg_control_checkpoint()"));
        restoredTo = { target, rows: expected, timeline };
        // The restored server archives on its new timeline: its history file, then its segments.
        const history = `${timeline.toString(16).toUpperCase().padStart(8, "0")}.history`;
        await waitFor(`${history} archived`, async () => fs.readdirSync(path.join(paths.volumeRepository, "archive", STANZA), { recursive: true }).some((f) => String(f).endsWith(history)), 30000, 250);
        const newSegment = await psql(restoredPort, "SELECT pg_walfile_name(pg_switch_wal())");
        await waitFor(`segment ${newSegment} archived`, async () => (await psql(restoredPort, "SELECT last_archived_wal FROM pg_stat_archiver")) >= newSegment, 60000, 250);
        expect(await psql(restoredPort, "SELECT failed_count FROM pg_stat_archiver")).toBe("0");
        const restoredServer = servers.find((server) => server.name === "restored");
        if (restoredServer) await stopServer(restoredServer, 30000);

        report(
            `pgbackrest: first full backup by the agent ${backupSeconds.toFixed(1)} s after its start (stanza-create, check, backup; ` +
                `backup itself ${full.timestamp.stop - full.timestamp.start} s, ${(full.info.size / 1048576).toFixed(1)} MiB, ${(full.info.repository.delta / 1048576).toFixed(1)} MiB in the repository)`,
        );
        report(
            `pgbackrest: point-in-time restore to ${target}: ${restored.length} of ${committed.length} rows back (exactly the ${expected.length} committed by then), ` +
                `restore command ${restoreCommandSeconds.toFixed(1)} s, to a promoted server ${restoreSeconds.toFixed(1)} s`,
        );
    });
    test("Patroni bootstraps a new cluster from the repository to that time (the runbook's restore), then archives on", async () => {
        if (!restoredTo) throw new Error("needs the point-in-time test before it");
        const [etcdClient, etcdPeer, pgPort, restPort] = await freePorts(4);
        servers.push(await startEtcd(postgresDir(path.join(root, "etcd")), { client: etcdClient, peer: etcdPeer }, { uid: POSTGRES_UID, gid: POSTGRES_GID }));

        // The dev stack with the runbook's change: postgres.backup.restore. The first restore left
        // timeline 2, forking off at the target with no commit after it: following it (`latest`)
        // PostgreSQL would stop "before configured recovery target was reached" (seen here), so this
        // restore follows the backup's timeline, as the runbook says for a repeated restore.
        const stack = parseStackConfig("dev", readStackConfig("dev"));
        const restoreArgs = postgresClusterArgsSchema.parse(
            postgresClusterArgs({ ...stack, postgres: { ...stack.postgres, backup: { ...stack.postgres.backup, restore: { targetTime: restoredTo.target, targetTimeline: "current" } } } }, "prepx-dev", testCertificates),
        );
        const memberDir = postgresDir(path.join(root, "member"));
        const dataDir = path.join(memberDir, "data"); // absent: the restore creates it
        const memberPaths: BackupPaths = { ...paths, configFile: path.join(memberDir, "pgbackrest.conf") };
        postgresFile(
            memberPaths.configFile,
            renderPgbackrestConfig({ stanza: STANZA, repository: restoreArgs.backup.repository, retentionFull: restoreArgs.backup.retentionFull, database: { dataDir, socketDir, port: pgPort }, paths: memberPaths }),
            0o444,
        );
        const archive = clusterArchiveSettings(restoreArgs.backup, STANZA, memberPaths, dataDir);
        const configPath = postgresFile(
            path.join(memberDir, "patroni.yml"),
            renderPatroniConfig(
                patroniConfigOptions(
                    restoreArgs,
                    STANZA,
                    {
                        dcs: { kind: "etcd3", hosts: [`127.0.0.1:${etcdClient}`] },
                        paths: { dataDir, binDir: BIN_DIR, pgpass: path.join(memberDir, "pgpass"), socketDir, postBootstrapScript: path.join(memberDir, "post-bootstrap.sh"), secretsDir: memberDir, tls: memberTls },
                        clientNetworks: ["127.0.0.1/32"],
                    },
                    archive,
                ),
            ),
            0o400,
        );
        const rendered = parse(fs.readFileSync(configPath, "utf8")) as { bootstrap: Record<string, unknown> };
        expect(rendered.bootstrap.method).toBe("pgbackrest");
        expect(rendered.bootstrap.post_bootstrap).toBeUndefined();

        const started = Date.now();
        const patroni = startServer("patroni", PATRONI[0], [PATRONI[1], configPath], path.join(memberDir, "patroni.log"), {
            uid: POSTGRES_UID,
            gid: POSTGRES_GID,
            cwd: memberDir,
            env: {
                PATH: "/usr/bin:/bin",
                LANG: "C.UTF-8",
                HOME: memberDir,
                PATRONI_NAME: "m0",
                PATRONI_POSTGRESQL_LISTEN: `127.0.0.1:${pgPort}`,
                PATRONI_POSTGRESQL_CONNECT_ADDRESS: `127.0.0.1:${pgPort}`,
                PATRONI_RESTAPI_LISTEN: `127.0.0.1:${restPort}`,
                PATRONI_RESTAPI_CONNECT_ADDRESS: `127.0.0.1:${restPort}`,
                PATRONI_SUPERUSER_PASSWORD: PASSWORD,
                PATRONI_REPLICATION_PASSWORD: `repl-${PASSWORD}`,
                PATRONI_RESTAPI_PASSWORD: `api-${PASSWORD}`,
            },
        });
        servers.push(patroni);
        try {
            // /primary answers 200 once PostgreSQL runs as the primary holding the leader lock; after a
            // custom bootstrap Patroni restarts it once more (post_bootstrap) before that settles.
            await waitFor(
                "Patroni to restore, promote, take the leader lock and run the primary",
                // Patroni's REST API speaks HTTPS only.
                async () => {
                    const primary = await loopbackGet(restPort, "/primary", { caFile: memberTls.ca, timeoutMs: 2000 });
                    return primary.status === 200 && JSON.parse(primary.body).state === "running" && (await psql(pgPort, "SELECT pg_is_in_recovery()")) === "f";
                },
                180000,
                500,
            );
            const leaderSeconds = (Date.now() - started) / 1000;

            const rows = (await psql(pgPort, "SELECT batch || ':' || seq FROM ledger ORDER BY id", args.database)).split("\n");
            expect(rows).toEqual(restoredTo.rows);
            const timeline = Number(await psql(pgPort, "SELECT timeline_id FROM pg_control_checkpoint()"));
            expect(timeline).toBeGreaterThan(restoredTo.timeline);
            // Patroni took the recovery target out of postgresql.auto.conf (pgBackRest's) and rewrote its
            // postgresql.conf without it: a restart, or a standby cloned from this leader, recovers to no target.
            await waitFor("Patroni to rewrite postgresql.conf without recovery settings", () => !/recovery_target/.test(fs.readFileSync(path.join(dataDir, "postgresql.conf"), "utf8")), 30000, 250);
            expect(fs.readFileSync(path.join(dataDir, "postgresql.auto.conf"), "utf8")).not.toMatch(/recovery_target/);
            expect(fs.existsSync(path.join(dataDir, "recovery.signal"))).toBe(false);
            // It archives on its new timeline into the same stanza.
            await psql(pgPort, "INSERT INTO ledger (batch, seq) VALUES ('d', 1)", args.database);
            const segment = await psql(pgPort, "SELECT pg_walfile_name(pg_switch_wal())");
            await waitFor(`segment ${segment} archived`, async () => (await psql(pgPort, "SELECT last_archived_wal FROM pg_stat_archiver")) >= segment, 60000, 250);
            expect(await psql(pgPort, "SELECT failed_count FROM pg_stat_archiver")).toBe("0");
            report(
                `pgbackrest: Patroni restored the repository to ${restoredTo.target} as a new cluster's bootstrap and took the leader lock ${leaderSeconds.toFixed(1)} s after its start ` +
                    `(${rows.length} rows, timeline ${timeline}); archiving continues on the new timeline`,
            );
        } finally {
            await stopServer(patroni, 30000);
            // Patroni detaches the postmaster into its own session: stop it by PID if it outlived Patroni.
            const pidFile = path.join(dataDir, "postmaster.pid");
            const postmaster = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]) : 0;
            if (postmaster > 0 && isAlive(postmaster)) process.kill(postmaster, "SIGTERM");
            await waitFor("the restored cluster's postmaster to stop", () => !(postmaster > 0 && isAlive(postmaster)), 30000, 200);
        }
    });
});
