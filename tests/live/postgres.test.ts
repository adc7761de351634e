// PostgresCluster's rendered Patroni config, post-bootstrap script, dynamic-config script and
// pgbouncer.ini on real servers from Debian's packages (patroni 3.0.2, postgresql-15, etcd-server,
// pgbouncer), on 127.0.0.1 only. The prod stack's configuration is rendered with the DCS section
// pointed at a local etcd (the one difference from what the cluster runs); a small TCP relay stands
// in for the `<name>-rw` Service, following the leader as Patroni's role label would. Three members
// come up, the prod parameters are in effect, rows written through PgBouncer reach both replicas;
// the leader is killed (every process, SIGKILL) three times, each time the synchronous standby is
// promoted with no acknowledged commit lost and the killed member rejoins as a streaming replica
// (min/median/max of kill to first write through PgBouncer against the 10 s target); then a
// bootstrap-only setting (max_connections) is changed on the running cluster by the rendered
// dynamic-config script.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { parseStackConfig } from "../../config";
import { postgresClusterArgsSchema, postgresDurationSeconds } from "../../components/postgres/args";
import {
    CLUSTER_CLIENT_PGOPTIONS,
    type MemberEnvironment,
    type MemberPaths,
    MONITOR_USER,
    REPLICATION_USER,
    SUPERUSER,
    memberCount,
    patroniConfigOptions,
    patroniDcsSettings,
    PgbouncerIniOptions,
    pgbouncerIniOptions,
    pgbouncerOpenFiles,
    pgbouncerUsers,
    postBootstrapOptions,
    renderDynamicConfigScript,
    renderPatroniConfig,
    renderPgbouncerIni,
    renderPgbouncerStartScript,
    renderPgbouncerUserlist,
    renderPostBootstrapScript,
} from "../../components/postgres/render";
import { readStackConfig } from "../../scripts/stack-files";
import { postgresClusterArgs } from "../../stack-args";
import { testCertificates } from "../helpers/mocks";
import { BIN_DIR, POSTGRES_GID, POSTGRES_UID, postgresDir, postgresFile } from "./postgres-support";
import { freePorts, loopbackGet, isAlive, spliceSockets, makeTempDir, report, run, Server, signalServer, sleep, startEtcd, startServer, stopAllServers, stopServer, waitFor } from "./support";
import { installCertificate, RemoteSourceRelay, TestCertificate } from "./postgres-tls";
import { issueServerCertificate, makeTestCa } from "./tls-support";

/** The prod stack's PostgresCluster args, defaults applied, exactly as the component parses them. */
const args = postgresClusterArgsSchema.parse(postgresClusterArgs(parseStackConfig("prod", readStackConfig("prod")), "prepx", testCertificates));
const MEMBERS = memberCount(args.standbys);
const SCOPE = "postgres";
const PATRONI = ["/usr/bin/python3", "/usr/bin/patroni"]; // Debian's patroni runs on the system python
// The client binary itself, not Debian's perl wrapper in /usr/bin: it starts several times faster,
// so writers commit more often around the kill.
const PSQL = `${BIN_DIR}/psql`;

/** Debian's PgBouncer unless PGBOUNCER_BIN names another build (max_prepared_statements needs 1.21+). */
const PGBOUNCER = process.env.PGBOUNCER_BIN ?? "/usr/sbin/pgbouncer";
const PGBOUNCER_VERSION = (/PgBouncer (\d+)\.(\d+)/.exec(execFileSync(PGBOUNCER, ["--version"]).toString()) ?? []).slice(1, 3).map(Number);
const PGBOUNCER_TRACKS_PREPARED = PGBOUNCER_VERSION[0] > 1 || (PGBOUNCER_VERSION[0] === 1 && PGBOUNCER_VERSION[1] >= 21);
/** Debian's python3-psycopg2 (hold) and python3-psycopg (prepared), on the system python. */
const SYSTEM_PYTHON = "/usr/bin/python3";

/**
 * pgbouncer.ini's options for the PgBouncer under test: as rendered, except that a PgBouncer older
 * than 1.21 (Debian bookworm's 1.18) refuses `max_prepared_statements`, so it is left out there.
 */
function forThisPgbouncer(options: PgbouncerIniOptions): PgbouncerIniOptions {
    return PGBOUNCER_TRACKS_PREPARED ? options : { ...options, maxPreparedStatements: undefined };
}

// Generated per run; they reach the servers through env and 0600 files, never a command line.
const secret = (role: string) => `${role}-${process.pid}-${Math.random().toString(36).slice(2, 12)}`;
const PASSWORDS = { superuser: secret("su"), replication: secret("repl"), app: secret("app"), monitor: secret("mon"), restapi: secret("api") };

interface Member {
    name: string;
    pgPort: number;
    restPort: number;
    dir: string;
    dataDir: string;
    server?: Server;
}

let root: string;
let members: Member[] = [];
let etcd: Server | undefined;
let pgbouncerPort: number;
let relay: LeaderRelay | undefined;
let configPath: string;
let paths: MemberPaths;
/** The members' DCS, filesystem and networks: what their Patroni config (and the dynamic config) is rendered with. */
let memberEnvironment: MemberEnvironment;
/** The CA of this run (it signed the members' and PgBouncer's certificates), and one that signed neither. */
let caFile: string;
let otherCaFile: string;
/** PgBouncer's certificate and the CA, installed for its user. */
let poolerTls: TestCertificate;
/** The address a "remote" client's connections leave from (RemoteSourceRelay): on the loopback network, not 127.0.0.1. */
const REMOTE_SOURCE = "127.0.0.2";

/** Starts a member's Patroni with the rendered config; per-member values in env, as in a pod. */
function startMember(member: Member): Server {
    const env: NodeJS.ProcessEnv = {
        PATH: "/usr/local/bin:/usr/bin:/bin",
        HOME: member.dir,
        LANG: "C.UTF-8",
        PATRONI_NAME: member.name,
        PATRONI_POSTGRESQL_LISTEN: `127.0.0.1:${member.pgPort}`,
        PATRONI_POSTGRESQL_CONNECT_ADDRESS: `127.0.0.1:${member.pgPort}`,
        PATRONI_RESTAPI_LISTEN: `127.0.0.1:${member.restPort}`,
        PATRONI_RESTAPI_CONNECT_ADDRESS: `127.0.0.1:${member.restPort}`,
        PATRONI_POSTGRESQL_DATA_DIR: member.dataDir,
        PATRONI_POSTGRESQL_PGPASS: path.join(member.dir, "pgpass"),
        PATRONI_SUPERUSER_PASSWORD: PASSWORDS.superuser,
        PATRONI_REPLICATION_PASSWORD: PASSWORDS.replication,
        PATRONI_RESTAPI_PASSWORD: PASSWORDS.restapi,
        // As the pod's env (specs.ts patroniEnv): pg_basebackup and pg_rewind without the application timeouts.
        PGOPTIONS: CLUSTER_CLIENT_PGOPTIONS,
    };
    member.server = startServer(`patroni-${member.name}`, PATRONI[0], [PATRONI[1], configPath], path.join(member.dir, "patroni.log"), {
        env,
        uid: POSTGRES_UID,
        gid: POSTGRES_GID,
        cwd: member.dir,
    });
    return member.server;
}

interface PatroniState {
    role: string;
    state: string;
    replication?: { application_name: string; state: string; sync_state: string }[];
}

/** GETs a path of a member's REST API, over HTTPS only (its certificate checked against the CA). */
const restGet = (member: Member, urlPath: string) => loopbackGet(member.restPort, urlPath, { caFile, timeoutMs: 2000 });

async function patroniState(member: Member): Promise<PatroniState> {
    const { body } = await restGet(member, "/patroni");
    return JSON.parse(body) as PatroniState;
}

/** The member whose REST API answers 200 on /primary (it holds the leader lock and runs as primary). */
async function currentLeader(candidates: Member[] = members): Promise<Member | undefined> {
    const answers = await Promise.all(
        candidates.map((member) =>
            restGet(member, "/primary")
                .then((r) => (r.status === 200 ? member : undefined))
                .catch(() => undefined),
        ),
    );
    const leaders = answers.filter((member): member is Member => member !== undefined);
    return leaders.length === 1 ? leaders[0] : undefined;
}

/**
 * The leader's streaming replicas (members only), as the leader's REST /patroni reports them. A
 * replica being cloned shows up as `pg_basebackup` first; it does not count.
 */
async function streamingReplicas(leader: Member): Promise<{ name: string; sync: string }[]> {
    const state = await patroniState(leader);
    const names = members.map((m) => m.name);
    return (state.replication ?? [])
        .filter((r) => r.state === "streaming" && names.includes(r.application_name))
        .map((r) => ({ name: r.application_name, sync: r.sync_state }));
}

/** The members Patroni's /sync key names as synchronous standbys, from the leader's REST /cluster. */
async function syncStandbysInDcs(leader: Member): Promise<string[]> {
    const { body } = await restGet(leader, "/cluster");
    const cluster = JSON.parse(body) as { members: { name: string; role: string }[] };
    return cluster.members.filter((m) => m.role === "sync_standby").map((m) => m.name);
}

interface Target {
    port: number;
    user: string;
    password: string;
    database: string;
}

/** libpq's TLS settings: `verify-full` against the run's CA unless a test asks for another mode or CA. */
interface ClientTls {
    sslmode: "disable" | "require" | "verify-full";
    sslrootcert?: string;
}
const VERIFIED: ClientTls = { sslmode: "verify-full" };

/** libpq's environment for `tls` (PGSSLMODE, PGSSLROOTCERT): what the services get (components/fleet). */
function tlsEnv(tls: ClientTls): NodeJS.ProcessEnv {
    return { PGSSLMODE: tls.sslmode, ...(tls.sslmode === "verify-full" ? { PGSSLROOTCERT: tls.sslrootcert ?? caFile } : {}) };
}

async function psql(target: Target, sql: string, timeoutMs = 15000, tls: ClientTls = VERIFIED): Promise<string> {
    const { stdout } = await run(PSQL, ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(target.port), "-U", target.user, "-d", target.database, "-c", sql], {
        env: { PATH: process.env.PATH, PGPASSWORD: target.password, PGCONNECT_TIMEOUT: "3", PGAPPNAME: "prepx-live", ...tlsEnv(tls) },
        timeoutMs,
    });
    return stdout.trim();
}

const superuserOn = (member: Member): Target => ({ port: member.pgPort, user: SUPERUSER, password: PASSWORDS.superuser, database: "postgres" });
const appOn = (port: number): Target => ({ port, user: args.appUser, password: PASSWORDS.app, database: args.database });

/** PgBouncer's TLS files: its certificate to clients, the CA it checks the server's against (another one when a test says so). */
function pgbouncerTls(serverCaFile = caFile): Pick<PgbouncerIniOptions, "clientTls" | "serverCaFile"> {
    return { clientTls: { certificate: poolerTls.certificate, privateKey: poolerTls.privateKey }, serverCaFile };
}

/**
 * Stands in for the `<name>-rw` Service: accepts on one port and relays each new connection to
 * whichever member Patroni reports as primary (the pod carrying `role: master`). With no leader,
 * connections are refused, as a Service without endpoints refuses them.
 */
class LeaderRelay {
    readonly server: net.Server;
    private leaderPort: number | undefined;
    private readonly sockets = new Set<net.Socket>();
    private timer: NodeJS.Timeout | undefined;
    private polling = false;

    constructor(private readonly all: () => Member[]) {
        this.server = net.createServer((client) => this.accept(client));
    }

    async listen(port: number): Promise<void> {
        await new Promise<void>((resolve) => this.server.listen(port, "127.0.0.1", resolve));
        this.timer = setInterval(() => void this.poll(), 100);
    }

    private async poll(): Promise<void> {
        if (this.polling) return;
        this.polling = true;
        try {
            const leader = await currentLeader(this.all());
            const port = leader?.pgPort;
            if (port !== this.leaderPort) {
                this.leaderPort = port;
                // Endpoints changed: connections to the old leader are gone with it.
                for (const socket of this.sockets) socket.destroy();
                this.sockets.clear();
            }
        } finally {
            this.polling = false;
        }
    }

    private accept(client: net.Socket): void {
        const port = this.leaderPort;
        if (port === undefined) {
            client.destroy();
            return;
        }
        const upstream = net.connect(port, "127.0.0.1");
        spliceSockets(client, upstream, this.sockets);
    }

    async close(): Promise<void> {
        if (this.timer) clearInterval(this.timer);
        for (const socket of this.sockets) socket.destroy();
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
}

/** Every PID descending from `pid` (from /proc), the process itself included. */
function processTree(pid: number): number[] {
    const children = new Map<number, number[]>();
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
        } catch {
            /* exited meanwhile */
        }
    }
    const tree: number[] = [];
    const walk = (p: number) => {
        tree.push(p);
        for (const child of children.get(p) ?? []) walk(child);
    };
    walk(pid);
    return tree;
}

/** The postmaster's PID from PGDATA/postmaster.pid, if the file exists. */
function postmasterPid(member: Member): number | undefined {
    try {
        const pid = Number(fs.readFileSync(path.join(member.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
        return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
        return undefined;
    }
}

/** SIGKILL to every process of a member at once: Patroni and its children, the postmaster and its backends. */
function killMember(member: Member): number[] {
    const postmaster = postmasterPid(member);
    const pids = new Set<number>([...(member.server ? processTree(member.server.pid) : []), ...(postmaster && isAlive(postmaster) ? processTree(postmaster) : [])]);
    if (member.server) signalServer(member.server, "SIGKILL");
    for (const pid of pids) {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            /* already gone */
        }
    }
    return [...pids];
}

/** A writer committing rows through PgBouncer one at a time; a row counts once psql returned its id. */
class Writer {
    /** `started`: when the attempt began; `at`: when psql returned the row (after the server's reply). */
    readonly acknowledged: { seq: number; started: number; at: number }[] = [];
    attempts = 0;
    private running = true;
    private loop: Promise<void> | undefined;

    constructor(readonly id: number, private readonly port: number) {}

    start(): void {
        this.loop = (async () => {
            let seq = 0;
            while (this.running) {
                seq += 1;
                this.attempts += 1;
                const started = Date.now();
                try {
                    const out = await psql(appOn(this.port), `INSERT INTO ledger (writer, seq) VALUES (${this.id}, ${seq}) RETURNING seq`, 45000);
                    if (out === String(seq)) this.acknowledged.push({ seq, started, at: Date.now() });
                } catch {
                    await sleep(100); // unacknowledged: it may or may not have committed
                }
            }
        })();
    }

    async stop(): Promise<void> {
        this.running = false;
        await this.loop;
    }
}

async function ledgerRows(target: Target): Promise<Set<string>> {
    const out = await psql(target, "SELECT writer || ':' || seq FROM ledger", 30000);
    return new Set(out ? out.split("\n") : []);
}

beforeAll(async () => {
    root = postgresDir(makeTempDir("postgres"));
    const ports = await freePorts(2 * MEMBERS + 4);
    const [etcdClient, etcdPeer, relayPort, bouncerPort] = ports.splice(0, 4);
    pgbouncerPort = bouncerPort;
    members = Array.from({ length: MEMBERS }, (_, i) => {
        const dir = postgresDir(path.join(root, `m${i}`));
        return { name: `m${i}`, pgPort: ports[2 * i], restPort: ports[2 * i + 1], dir, dataDir: path.join(dir, "data") };
    });

    etcd = await startEtcd(postgresDir(path.join(root, "etcd")), { client: etcdClient, peer: etcdPeer }, { uid: POSTGRES_UID, gid: POSTGRES_GID });

    // Certificates as components/tls issues them: one for every member (the pods share one Secret),
    // one for PgBouncer; here for 127.0.0.1, the members' and PgBouncer's address.
    const authority = await makeTestCa(path.join(root, "ca"));
    caFile = authority.certificateFile;
    otherCaFile = (await makeTestCa(path.join(root, "other-ca"), "another CA")).certificateFile;
    const issue = (name: string) => issueServerCertificate(authority, path.join(root, "ca", name), { ipAddresses: ["127.0.0.1"], clientAuth: true });
    const memberTls = installCertificate(authority, await issue("member"), path.join(root, "member-tls"), POSTGRES_UID, POSTGRES_GID);
    poolerTls = installCertificate(authority, await issue("pooler"), path.join(root, "pooler-tls"), POSTGRES_UID, POSTGRES_GID);

    // The secret files the post-bootstrap script reads (a Secret mount in a pod).
    const secretsDir = postgresDir(path.join(root, "secrets"));
    postgresFile(path.join(secretsDir, "app-password"), PASSWORDS.app);
    postgresFile(path.join(secretsDir, "monitor-password"), PASSWORDS.monitor);
    paths = {
        dataDir: members[0].dataDir, // each member's PATRONI_POSTGRESQL_DATA_DIR overrides it
        binDir: BIN_DIR,
        pgpass: path.join(members[0].dir, "pgpass"), // and PATRONI_POSTGRESQL_PGPASS this
        socketDir: postgresDir(path.join(root, "run")),
        postBootstrapScript: path.join(root, "post-bootstrap.sh"),
        secretsDir,
        tls: memberTls,
    };
    postgresFile(paths.postBootstrapScript, renderPostBootstrapScript(postBootstrapOptions(args, secretsDir)), 0o500);
    // The loopback network as the pods' network: 127.0.0.1 (the pod itself) keeps its non-TLS lines,
    // any other address of it is a remote client (RemoteSourceRelay), admitted over TLS only.
    memberEnvironment = { dcs: { kind: "etcd3", hosts: [`127.0.0.1:${etcdClient}`] }, paths, clientNetworks: ["127.0.0.0/8"] };
    configPath = postgresFile(
        path.join(root, "patroni.yml"),
        renderPatroniConfig(patroniConfigOptions(args, SCOPE, memberEnvironment)),
        0o400,
    );

    const started = Date.now();
    members.forEach(startMember);
    const leader = await waitFor("a leader", () => currentLeader(), 90000, 250);
    await waitFor(
        "every replica streaming from the leader, one of them synchronous",
        async () => {
            const replicas = await streamingReplicas(leader);
            return replicas.length === MEMBERS - 1 && (!args.synchronousMode || replicas.some((r) => r.sync === "sync"));
        },
        120000,
        250,
    );
    report(`postgres: bootstrap to a leader (${leader.name}) and ${MEMBERS - 1} streaming replicas in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    relay = new LeaderRelay(() => members);
    await relay.listen(relayPort);

    const bouncerDir = postgresDir(path.join(root, "pgbouncer"));
    const authFile = postgresFile(path.join(bouncerDir, "userlist.txt"), renderPgbouncerUserlist(pgbouncerUsers(args.appUser, PASSWORDS)));
    const iniPath = postgresFile(
        path.join(bouncerDir, "pgbouncer.ini"),
        // The stack's pgbouncer.ini, listening on loopback in front of the relay that stands in for `<name>-rw`.
        renderPgbouncerIni(forThisPgbouncer(pgbouncerIniOptions(args, { ...pgbouncerTls(), listenAddr: "127.0.0.1", listenPort: pgbouncerPort, upstreamHost: "127.0.0.1", upstreamPort: relayPort, authFile }))),
        0o400,
    );
    startServer("pgbouncer", PGBOUNCER, [iniPath], path.join(bouncerDir, "pgbouncer.log"), { uid: POSTGRES_UID, gid: POSTGRES_GID, cwd: bouncerDir });
    await waitFor("PgBouncer to serve the application database", async () => (await psql(appOn(pgbouncerPort), "SELECT 1")) === "1", 20000, 250);
}, 240000);

afterAll(async () => {
    await relay?.close();
    await stopAllServers();
    // Patroni detaches the postmaster into its own session; stop any left by PID.
    for (const member of members) {
        const pid = postmasterPid(member);
        if (pid && isAlive(pid)) {
            for (const p of processTree(pid)) {
                try {
                    process.kill(p, "SIGKILL");
                } catch {
                    /* gone */
                }
            }
        }
    }
    if (etcd) await stopServer(etcd).catch(() => undefined);
    if (root) fs.rmSync(root, { recursive: true, force: true });
}, 60000);

describe("PostgreSQL + Patroni + PgBouncer from the rendered config (Debian packages)", () => {
    test("three members: one leader and two streaming replicas, one of them synchronous", async () => {
        const leader = await waitFor("a leader", () => currentLeader(), 10000);
        const replicas = await streamingReplicas(leader);
        expect(replicas.map((r) => r.name).sort()).toEqual(members.filter((m) => m !== leader).map((m) => m.name).sort());
        // prod runs synchronous_mode: exactly one standby is synchronous (synchronous_node_count 1).
        expect(args.synchronousMode).toBe(true);
        expect(replicas.filter((r) => r.sync === "sync")).toHaveLength(1);
        for (const member of members.filter((m) => m !== leader)) expect((await patroniState(member)).role).toBe("replica");
        // use_slots: the leader keeps one physical slot per replica.
        expect(await psql(superuserOn(leader), "SELECT count(*) FROM pg_replication_slots WHERE active AND slot_type = 'physical'")).toBe(String(MEMBERS - 1));
    });

    test("the prod parameters are in effect on every member, unscaled", async () => {
        const expected: Record<string, string> = {
            shared_buffers: args.parameters.shared_buffers,
            effective_cache_size: args.parameters.effective_cache_size,
            work_mem: args.parameters.work_mem,
            maintenance_work_mem: args.parameters.maintenance_work_mem,
            max_connections: String(args.parameters.max_connections),
            superuser_reserved_connections: String(args.parameters.superuser_reserved_connections),
            wal_level: args.parameters.wal_level,
            max_wal_senders: String(args.parameters.max_wal_senders),
            max_replication_slots: String(args.parameters.max_replication_slots),
            wal_log_hints: "on",
            hot_standby: "on",
            wal_retrieve_retry_interval: "500ms",
            password_encryption: "scram-sha-256",
        };
        const names = Object.keys(expected);
        for (const member of members) {
            const out = await psql(superuserOn(member), `SELECT name || '=' || current_setting(name) FROM unnest(ARRAY[${names.map((n) => `'${n}'`).join(",")}]) AS name`);
            const actual = Object.fromEntries(out.split("\n").map((line) => line.split("=") as [string, string]));
            expect(actual).toEqual(expected);
        }
        report(`postgres: in effect on all ${MEMBERS} members: ${names.map((n) => `${n}=${expected[n]}`).join(", ")}`);
        const leader = await waitFor("a leader", () => currentLeader(), 10000);
        expect(await psql(superuserOn(leader), "SHOW synchronous_standby_names")).not.toBe("");
    });

    test("pg_hba: scram-sha-256 passwords, replication connections only for the replication role", async () => {
        const leader = await waitFor("a leader", () => currentLeader(), 10000);
        const replicationAs = (user: string, password: string) =>
            run(PSQL, ["-X", "-At", `host=127.0.0.1 port=${leader.pgPort} user=${user} dbname=${args.database} replication=true`, "-c", "IDENTIFY_SYSTEM"], {
                env: { PATH: process.env.PATH, PGPASSWORD: password, PGCONNECT_TIMEOUT: "3" },
                timeoutMs: 10000,
            });
        await expect(replicationAs(args.appUser, PASSWORDS.app)).rejects.toThrow(/no pg_hba.conf entry for replication connection/);
        await expect(replicationAs(REPLICATION_USER, PASSWORDS.replication)).resolves.toMatchObject({ stdout: expect.stringMatching(/^\d+\|/) });
        await expect(psql({ ...appOn(leader.pgPort), password: "wrong" }, "SELECT 1")).rejects.toThrow(/password authentication failed/);
        expect(await psql(superuserOn(leader), `SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = '${args.appUser}'`)).toBe("SCRAM-SHA-256$");
        // The post-bootstrap script created the application database owned by the application role.
        expect(await psql(superuserOn(leader), `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '${args.database}'`)).toBe(args.appUser);
    });

    test(`TLS: from a remote address (${REMOTE_SOURCE}) plaintext is refused, replication too; TLS is admitted, verify-full with the CA succeeds and with another CA fails; loopback keeps plaintext`, async () => {
        const leader = await waitFor("a leader", () => currentLeader(), 10000);
        const [remotePort] = await freePorts(1);
        const remote = new RemoteSourceRelay(leader.pgPort, REMOTE_SOURCE);
        await remote.listen(remotePort);
        try {
            const app = appOn(remotePort);
            const replication = (tls: ClientTls) =>
                run(PSQL, ["-X", "-At", `host=127.0.0.1 port=${remotePort} user=${REPLICATION_USER} dbname=${args.database} replication=true`, "-c", "IDENTIFY_SYSTEM"], {
                    env: { PATH: process.env.PATH, PGPASSWORD: PASSWORDS.replication, PGCONNECT_TIMEOUT: "3", ...tlsEnv(tls) },
                    timeoutMs: 10000,
                });
            const plaintext = await psql(app, "SELECT 1", 10000, { sslmode: "disable" }).catch((error: Error) => error.message);
            const plainReplication = await replication({ sslmode: "disable" }).then(() => "admitted", (error: Error) => error.message);
            expect(plaintext).toMatch(new RegExp(`pg_hba.conf rejects connection for host "${REMOTE_SOURCE.replace(/\./g, "\\.")}", user "${args.appUser}", database "${args.database}", no encryption`));
            expect(plainReplication).toMatch(/pg_hba.conf rejects replication connection for host "127\.0\.0\.2", user "replicator", no encryption/);
            // Over TLS, the server's certificate checked against the CA and the host (127.0.0.1 in its SAN).
            expect(await psql(app, "SELECT ssl || ' ' || host(inet_client_addr()) FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).toBe(`true ${REMOTE_SOURCE}`);
            expect(await psql(app, "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()", 10000, { sslmode: "require" })).toMatch(/^TLSv1\.[23]$/);
            await expect(replication(VERIFIED)).resolves.toMatchObject({ stdout: expect.stringMatching(/^\d+\|/) });
            const otherCa = await psql(app, "SELECT 1", 10000, { sslmode: "verify-full", sslrootcert: otherCaFile }).catch((error: Error) => error.message);
            expect(otherCa).toMatch(/certificate verify failed/);
            // The pod's own loopback (the exporter's sslmode=disable) is the one plaintext path.
            expect(await psql(appOn(leader.pgPort), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", 10000, { sslmode: "disable" })).toBe("f");
            report(
                `postgres TLS from ${REMOTE_SOURCE}: plaintext refused (${plaintext.split("\n").find((line) => line.includes("rejects"))?.trim()}); replication in plaintext refused; ` +
                    `TLS verify-full admitted; against another CA: ${otherCa.split("\n").find((line) => line.includes("verify failed"))?.trim()}`,
            );
        } finally {
            await remote.close();
        }
    });

    test("every standby streams from the leader over TLS (verify-full), its certificate checked", async () => {
        const leader = await waitFor("a leader", () => currentLeader(), 10000);
        const out = await psql(superuserOn(leader), "SELECT r.application_name || ' ' || s.ssl || ' ' || s.version FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) ORDER BY 1");
        const lines = out.split("\n");
        expect(lines).toHaveLength(MEMBERS - 1);
        for (const line of lines) expect(line).toMatch(/^m\d true TLSv1\.[23]$/);
        // The standbys' primary_conninfo asks for verify-full against the CA (Patroni writes it from the rendered authentication).
        for (const member of members.filter((m) => m !== leader)) {
            const conninfo = await psql(superuserOn(member), "SHOW primary_conninfo");
            expect(conninfo).toContain("sslmode=verify-full");
            expect(conninfo).toContain(`sslrootcert=${paths.tls.ca}`);
        }
        report(`postgres replication: ${lines.join(", ")}`);
    });

    test("Patroni's REST API answers over TLS only: HTTPS checked against the CA works, plain HTTP and another CA fail", async () => {
        const member = members[0];
        expect((await restGet(member, "/liveness")).status).toBe(200);
        const plain = await loopbackGet(member.restPort, "/liveness").then((r) => `HTTP ${r.status}`, (error: Error) => `refused: ${error.message}`);
        expect(plain).toMatch(/^refused: /);
        const otherCa = await loopbackGet(member.restPort, "/liveness", { caFile: otherCaFile, timeoutMs: 2000 }).then((r) => `HTTP ${r.status}`, (error: Error) => `refused: ${error.message}`);
        expect(otherCa).toMatch(/^refused: .*(self[- ]signed|unable to verify|certificate)/i);
        report(`patroni REST API: HTTPS with the CA 200; plain HTTP ${plain}; HTTPS with another CA ${otherCa}`);
    });

    test("PgBouncer: clients only over TLS (its own certificate, verify-full), plaintext refused; its connections to PostgreSQL are TLS", async () => {
        const app = appOn(pgbouncerPort);
        const plaintext = await psql(app, "SELECT 1", 10000, { sslmode: "disable" }).catch((error: Error) => error.message);
        expect(plaintext).toMatch(/SSL required/);
        expect(await psql(app, "SELECT 1")).toBe("1");
        const otherCa = await psql(app, "SELECT 1", 10000, { sslmode: "verify-full", sslrootcert: otherCaFile }).catch((error: Error) => error.message);
        expect(otherCa).toMatch(/certificate verify failed/);
        // PgBouncer's server connections: the application role's backends on the leader (no writer runs
        // now; the SELECT above left one in PgBouncer's pool).
        const leader = await waitFor("a leader", () => currentLeader(), 10000);
        const backends = await psql(
            superuserOn(leader),
            `SELECT count(*) FILTER (WHERE s.ssl) || ' ' || count(*) FILTER (WHERE NOT s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename = '${args.appUser}'`,
        );
        const [tls, plain] = backends.split(" ").map(Number);
        expect(tls).toBeGreaterThan(0);
        expect(plain).toBe(0);
        report(`pgbouncer TLS: plaintext client refused (${plaintext.split("\n").find((line) => /SSL required/.test(line))?.trim()}); verify-full client admitted; another CA refused; server connections on the leader: ${tls} TLS, ${plain} plaintext`);
    });

    test("rows written through PgBouncer on the leader are read on both replicas", async () => {
        await psql(appOn(pgbouncerPort), "CREATE TABLE ledger (id bigserial PRIMARY KEY, writer int NOT NULL, seq int NOT NULL, at timestamptz NOT NULL DEFAULT now(), UNIQUE (writer, seq))");
        await psql(appOn(pgbouncerPort), "INSERT INTO ledger (writer, seq) SELECT 0, g FROM generate_series(1, 100) AS g");
        const leader = await waitFor("a leader", () => currentLeader(), 10000);
        for (const replica of members.filter((m) => m !== leader)) {
            await waitFor(`${replica.name} to have the 100 rows`, async () => (await psql(appOn(replica.pgPort), "SELECT count(*) FROM ledger WHERE writer = 0")) === "100", 15000, 100);
            // A replica is read-only: a write there fails instead of diverging.
            await expect(psql(appOn(replica.pgPort), "INSERT INTO ledger (writer, seq) VALUES (0, 1000)")).rejects.toThrow(/read-only transaction/);
        }
        // The exporter's view: the stats user reads PgBouncer's admin console.
        // Over TLS without a name to check, as pgbouncer_exporter (exporter-uri sslmode=require).
        const pools = await psql({ port: pgbouncerPort, user: MONITOR_USER, password: PASSWORDS.monitor, database: "pgbouncer" }, "SHOW POOLS", 15000, { sslmode: "require" });
        expect(pools).toContain(args.database);
    });

    /** One kill of the current leader: its figures, checked for the synchronous standby's promotion and no lost commit. */
    interface FailoverRound {
        killed: Member;
        promoted: Member;
        promoteSeconds: number;
        firstWriteSeconds: number;
        rejoinSeconds: number;
    }

    /** Waits until there is one leader and every other member streams from it, one synchronously. */
    async function healthyCluster(): Promise<Member> {
        return waitFor(
            "one leader with every other member streaming, one synchronously",
            async () => {
                const leader = await currentLeader();
                if (!leader) return undefined;
                const replicas = await streamingReplicas(leader);
                if (replicas.length !== MEMBERS - 1) return undefined;
                if (!args.synchronousMode) return leader;
                const named = await syncStandbysInDcs(leader);
                return named.length === 1 && replicas.some((r) => r.name === named[0] && r.sync === "sync") ? leader : undefined;
            },
            60000,
            200,
        );
    }

    /** Kills every process of the current leader under writes through PgBouncer; measures promotion and the first write after the kill. */
    async function killLeader(round: number): Promise<Omit<FailoverRound, "rejoinSeconds">> {
        const oldLeader = await healthyCluster();

        const writers = [1, 2, 3].map((id) => new Writer(10 * round + id, pgbouncerPort));
        writers.forEach((w) => w.start());
        let killedAt = 0;
        let syncStandbys: string[] | undefined;
        let killed: number[] = [];
        let acknowledgedAtKill: number;
        let newLeader: Member;
        let promotedAt: number;
        let firstWrite: number;
        try {
            await waitFor("writers to commit through PgBouncer", () => writers.every((w) => w.acknowledged.length >= 5), 30000, 50);

            // Read at the last moment: Patroni may move the synchronous role between replicas while
            // the writers warm up, and only the member its /sync key names at the kill may promote.
            syncStandbys = await syncStandbysInDcs(oldLeader);
            killedAt = Date.now();
            killed = killMember(oldLeader);
            acknowledgedAtKill = writers.reduce((sum, w) => sum + w.acknowledged.length, 0);
            await waitFor(`every process of ${oldLeader.name} to be gone`, () => killed.every((pid) => !isAlive(pid)), 10000, 20);

            const survivors = members.filter((m) => m !== oldLeader);
            newLeader = await waitFor("a new leader", () => currentLeader(survivors), 60000, 100);
            promotedAt = Date.now();
            // Only attempts begun after the kill: one the old leader answered just before it died
            // may return a moment after the kill.
            firstWrite = await waitFor(
                "a write acknowledged by the new leader through PgBouncer",
                () => writers.flatMap((w) => w.acknowledged.filter((a) => a.started > killedAt).map((a) => a.at)).sort((x, y) => x - y)[0],
                60000,
                50,
            );
            await sleep(1000); // keep writing on the new leader for a moment
        } finally {
            await Promise.all(writers.map((w) => w.stop()));
        }

        // Synchronous mode: only the synchronous standby may be promoted.
        expect(syncStandbys).toHaveLength(1);
        expect(newLeader.name).toBe(syncStandbys?.[0]);
        const rows = await ledgerRows({ ...superuserOn(newLeader), database: args.database });
        const acknowledged = writers.flatMap((w) => w.acknowledged.map((a) => `${w.id}:${a.seq}`));
        const lost = acknowledged.filter((key) => !rows.has(key));
        const attempts = writers.reduce((sum, w) => sum + w.attempts, 0);
        const promoteSeconds = (promotedAt - killedAt) / 1000;
        const firstWriteSeconds = (firstWrite - killedAt) / 1000;
        report(
            `postgres: kill ${round}: leader ${oldLeader.name} killed (${killed.length} processes); ${newLeader.name} promoted after ${promoteSeconds.toFixed(1)} s, ` +
                `first write through PgBouncer accepted after ${firstWriteSeconds.toFixed(1)} s; ${acknowledged.length} commits acknowledged ` +
                `(${acknowledgedAtKill} before the kill) of ${attempts} attempts, acknowledged commits lost: ${lost.length}`,
        );
        expect(acknowledged.length).toBeGreaterThan(acknowledgedAtKill);
        expect(lost).toEqual([]);
        return { killed: oldLeader, promoted: newLeader, promoteSeconds, firstWriteSeconds };
    }

    let heartbeats = 0;

    /** Restarts a killed member and measures its time back to streaming from the leader; checks it caught up. */
    async function rejoin(killed: Member, leader: Member): Promise<number> {
        const restartedAt = Date.now();
        startMember(killed);
        // Heartbeat writes while waiting: a replica catching up needs WAL to arrive.
        let beats = 0;
        let waiting = true;
        const heartbeat = (async () => {
            while (waiting) {
                beats += 1;
                heartbeats += 1;
                await psql(appOn(pgbouncerPort), `INSERT INTO ledger (writer, seq) VALUES (9, ${heartbeats})`).catch(() => undefined);
                await sleep(500);
            }
        })();
        try {
            await waitFor(`${killed.name} streaming from ${leader.name}`, async () => (await streamingReplicas(leader)).some((r) => r.name === killed.name), 120000, 100);
        } finally {
            waiting = false;
            await heartbeat;
        }
        const rejoinSeconds = (Date.now() - restartedAt) / 1000;
        expect((await patroniState(killed)).role).toBe("replica");
        expect((await streamingReplicas(leader)).map((r) => r.name).sort()).toEqual(members.filter((m) => m !== leader).map((m) => m.name).sort());
        // It has everything the leader has, including what was written while it was down.
        const leaderCount = await psql(appOn(leader.pgPort), "SELECT count(*) FROM ledger");
        await waitFor(`${killed.name} to catch up`, async () => (await psql(appOn(killed.pgPort), "SELECT count(*) FROM ledger")) === leaderCount, 30000, 200);
        report(`postgres: ${killed.name} rejoined as a streaming replica ${rejoinSeconds.toFixed(1)} s after its restart (${beats} heartbeat writes meanwhile)`);
        return rejoinSeconds;
    }

    const KILLS = 3;
    /** The issue's target: a write accepted through PgBouncer at most 10 s after the leader dies. */
    const FAILOVER_TARGET_SECONDS = 10;

    test(`killing the leader ${KILLS} times: each time the synchronous standby is promoted, no acknowledged commit is lost, the old leader rejoins`, async () => {
        const rounds: FailoverRound[] = [];
        for (let round = 1; round <= KILLS; round++) {
            const kill = await killLeader(round);
            rounds.push({ ...kill, rejoinSeconds: await rejoin(kill.killed, kill.promoted) });
        }
        const stats = (values: number[]) => {
            const sorted = [...values].sort((a, b) => a - b);
            return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] };
        };
        const spread = (values: number[]) => {
            const { min, median, max } = stats(values);
            return `min/median/max ${min.toFixed(1)}/${median.toFixed(1)}/${max.toFixed(1)} s`;
        };
        const writes = rounds.map((r) => r.firstWriteSeconds);
        // Whether a rejoin needed pg_rewind depends on where the kill fell; every one that ran must have succeeded.
        const rewinds = members.flatMap((m) => [...fs.readFileSync(path.join(m.dir, "patroni.log"), "utf8").matchAll(/pg_rewind exit code=(-?\d+)/g)].map((match) => match[1]));
        report(
            `postgres: ${KILLS} leader kills (ttl ${args.patroni.ttl}, loop_wait ${args.patroni.loopWait}, retry_timeout ${args.patroni.retryTimeout}): ` +
                `kill to promotion ${spread(rounds.map((r) => r.promoteSeconds))}; kill to first write through PgBouncer ${spread(writes)}; ` +
                `old leader back to streaming ${spread(rounds.map((r) => r.rejoinSeconds))}; acknowledged commits lost: 0; ` +
                `pg_rewind runs (an old leader whose WAL diverged, over TLS with verify-full): ${rewinds.length}, exit codes ${JSON.stringify(rewinds)}`,
        );
        expect(rewinds.every((code) => code === "0")).toBe(true);
        expect(stats(writes).median).toBeLessThanOrEqual(FAILOVER_TARGET_SECONDS);
        // A generous bound on the slowest kill: this machine runs other tests beside this one.
        expect(stats(writes).max).toBeLessThanOrEqual(2 * FAILOVER_TARGET_SECONDS);
    }, 400000);

    test("a bootstrap-only setting (max_connections) changed: the dynamic-config script applies it to every member, replicas restarted first, the leader in place", async () => {
        const leader = await healthyCluster();
        const wanted = args.parameters.max_connections + 100;
        const config = patroniDcsSettings(patroniConfigOptions({ ...args, parameters: { ...args.parameters, max_connections: wanted } }, SCOPE, memberEnvironment));
        const script = renderDynamicConfigScript({ config, patroniUrl: `https://127.0.0.1:${members[0].restPort}`, caFile, deadlineSeconds: 240 });
        // Writes through PgBouncer meanwhile: the leader's restart pauses them; none acknowledged may be lost.
        const writer = new Writer(99, pgbouncerPort);
        writer.start();
        const started = Date.now();
        let output: string;
        try {
            await waitFor("a write through PgBouncer", () => writer.acknowledged.length > 0, 20000, 50);
            ({ stdout: output } = await run("/usr/bin/python3", ["-c", script], { env: { PATH: process.env.PATH, PATRONI_RESTAPI_PASSWORD: PASSWORDS.restapi }, timeoutMs: 260000 }));
        } finally {
            await writer.stop();
        }
        const seconds = (Date.now() - started) / 1000;
        expect(output).toContain(`postgresql.parameters.max_connections: ${args.parameters.max_connections} -> ${wanted}`);
        const restarts = output.split("\n").filter((line) => line.includes("restarting "));
        // Replicas first, the leader last.
        expect(restarts.map((line) => /restarting (\S+)/.exec(line)?.[1])).toEqual([...members.filter((m) => m !== leader).map((m) => m.name).sort(), leader.name]);
        for (const member of members) expect(await psql(superuserOn(member), "SHOW max_connections")).toBe(String(wanted));
        expect((await healthyCluster()).name).toBe(leader.name);
        const rows = await ledgerRows({ ...superuserOn(leader), database: args.database });
        const lost = writer.acknowledged.filter((a) => !rows.has(`99:${a.seq}`));
        const gaps = writer.acknowledged.slice(1).map((a, i) => a.at - writer.acknowledged[i].at);
        report(
            `postgres: max_connections ${args.parameters.max_connections} -> ${wanted} applied by the dynamic-config script in ${seconds.toFixed(1)} s: ` +
                `${restarts.length} members restarted (replicas first, leader ${leader.name} in place and still leader), SHOW max_connections = ${wanted} on all ${MEMBERS}; ` +
                `longest write pause ${(Math.max(...gaps) / 1000).toFixed(1)} s, ${writer.acknowledged.length} commits acknowledged, lost: ${lost.length}`,
        );
        expect(lost).toEqual([]);
        // A second run finds nothing to do.
        const again = await run("/usr/bin/python3", ["-c", script], { env: { PATH: process.env.PATH, PATRONI_RESTAPI_PASSWORD: PASSWORDS.restapi }, timeoutMs: 60000 });
        expect(again.stdout).toContain("dynamic configuration already as rendered");
        expect(again.stdout).not.toContain("restarting ");
    }, 300000);

    test("timeouts through PgBouncer as the application: a statement over statement_timeout is cancelled, a transaction left idle is closed, a short statement runs", async () => {
        const statementSeconds = postgresDurationSeconds(args.parameters.statement_timeout);
        const idleSeconds = postgresDurationSeconds(args.parameters.idle_in_transaction_session_timeout);
        const dir = postgresDir(path.join(root, "timeouts"));
        const script = postgresFile(path.join(dir, "timeouts.py"), TIMEOUT_SCRIPT, 0o444);
        // Bounded: the sleep runs 10 s past the timeout, the idle wait gives up 30 s past it.
        const { stdout } = await run(SYSTEM_PYTHON, [script, String(pgbouncerPort), args.appUser, args.database, String(statementSeconds + 10), String(idleSeconds + 30)], {
            env: { PATH: process.env.PATH, PGPASSWORD: PASSWORDS.app, ...tlsEnv(VERIFIED) },
            timeoutMs: (idleSeconds + 90) * 1000,
        });
        const result = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as Record<"statement" | "idle" | "short", { seconds: number; error: string | null }>;
        report(
            `timeouts (statement_timeout ${args.parameters.statement_timeout}, idle_in_transaction_session_timeout ${args.parameters.idle_in_transaction_session_timeout}, PgBouncer query_timeout ${args.pgbouncer.timeouts.queryTimeoutSeconds} s, idle_transaction_timeout ${args.pgbouncer.timeouts.idleTransactionTimeoutSeconds} s): ` +
                `pg_sleep(${statementSeconds + 10}) ended after ${result.statement.seconds.toFixed(1)} s: ${result.statement.error}; ` +
                `a transaction idle since its SELECT was closed after ${result.idle.seconds.toFixed(1)} s: ${result.idle.error}; pg_sleep(1) ${result.short.error ?? "ran"}`,
        );
        expect(result.statement.error).toMatch(/canceling statement due to statement timeout/);
        expect(result.statement.seconds).toBeGreaterThanOrEqual(statementSeconds - 0.5);
        expect(result.statement.seconds).toBeLessThan(statementSeconds + 5);
        // PostgreSQL's idle_in_transaction_session_timeout (PgBouncer's backstops come 5 and 10 s later): the
        // time says which one; the client sees PostgreSQL's message, or only its TLS connection closing.
        expect(result.idle.error).toMatch(/idle-in-transaction timeout|idle transaction timeout|closed the connection unexpectedly|connection has been closed unexpectedly/);
        expect(result.idle.seconds).toBeGreaterThanOrEqual(idleSeconds - 0.5);
        expect(result.idle.seconds).toBeLessThan(idleSeconds + 5);
        expect(result.short.error).toBeNull();

        // The timeouts are the application's: the superuser carries its exemption (post-bootstrap), the
        // application and monitoring roles keep them.
        const leader = await waitFor("a leader", () => currentLeader(), 10000);
        // In seconds: PostgreSQL shows 60s as 1min.
        const show = "SELECT extract(epoch FROM current_setting('statement_timeout')::interval)::int || ' ' || extract(epoch FROM current_setting('idle_in_transaction_session_timeout')::interval)::int";
        const applied = `${statementSeconds} ${idleSeconds}`;
        expect(await psql(superuserOn(leader), show)).toBe("0 0");
        expect(await psql(appOn(leader.pgPort), show)).toBe(applied);
        expect(await psql({ port: leader.pgPort, user: MONITOR_USER, password: PASSWORDS.monitor, database: "postgres" }, show)).toBe(applied);
        // The members' own processes (Patroni, pg_basebackup, pg_rewind; pgBackRest in the agent) get PGOPTIONS.
        expect(await run(PSQL, ["-X", "-At", "-h", "127.0.0.1", "-p", String(leader.pgPort), "-U", args.appUser, "-d", args.database, "-c", show], {
            env: { PATH: process.env.PATH, PGPASSWORD: PASSWORDS.app, PGOPTIONS: CLUSTER_CLIENT_PGOPTIONS, ...tlsEnv(VERIFIED) },
            timeoutMs: 10000,
        }).then((r) => r.stdout.trim())).toBe("0 0");
    }, 240000);
});

/**
 * The timeouts client (psycopg2, through PgBouncer): three connections at once. `statement` runs
 * pg_sleep(sleep) and times how long until it ends; `idle` opens a transaction (a SELECT without
 * autocommit), then waits, bounded by `idle_limit`, until the server closes the socket, and times
 * that, then shows the error the next statement gets; `short` runs pg_sleep(1). Prints one JSON line.
 */
const TIMEOUT_SCRIPT = `
import json, select, sys, threading, time
import psycopg2
port, user, database, sleep_seconds, idle_limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
dsn = f"host=127.0.0.1 port={port} user={user} dbname={database} connect_timeout=5"
results = {}
def first_line(error):
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
def statement():
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    started = time.time()
    try:
        connection.cursor().execute("SELECT pg_sleep(%s)", [sleep_seconds])
        results["statement"] = {"seconds": time.time() - started, "error": None}
    except Exception as e:
        results["statement"] = {"seconds": time.time() - started, "error": first_line(e)}
def idle():
    connection = psycopg2.connect(dsn)
    cursor = connection.cursor()
    cursor.execute("SELECT 1")
    started = time.time()
    while time.time() - started < idle_limit:
        readable, _, _ = select.select([connection.fileno()], [], [], 0.2)
        if readable:
            break
    seconds = time.time() - started
    try:
        cursor.execute("SELECT 1")
        connection.commit()
        results["idle"] = {"seconds": seconds, "error": None}
    except Exception as e:
        results["idle"] = {"seconds": seconds, "error": first_line(e)}
def short():
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    try:
        connection.cursor().execute("SELECT pg_sleep(1)")
        results["short"] = {"seconds": 1, "error": None}
    except Exception as e:
        results["short"] = {"seconds": 1, "error": first_line(e)}
threads = [threading.Thread(target=f) for f in (statement, idle, short)]
for thread in threads: thread.start()
for thread in threads: thread.join(idle_limit + 30)
print(json.dumps(results))
`;

/**
 * The PgBouncer clients: `hold` opens up to `count` connections one after another, runs SELECT 1
 * on each as it opens and keeps them all open, stopping at the first failure; `prepared` runs `count`
 * clients, each executing a named prepared statement (protocol level, psycopg 3) 20 times in its
 * own transactions. Bounded by 90 s; prints one JSON line. The password comes from PGPASSWORD.
 */
const CLIENT_SCRIPT = `
import json, re, sys, time
mode, port, user, database, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
dsn = f"host=127.0.0.1 port={port} user={user} dbname={database} connect_timeout=5"
deadline = time.time() + 90
if mode == "hold":
    import psycopg2
    connections, answered, error = [], 0, None
    while len(connections) < count and time.time() < deadline:
        try:
            connection = psycopg2.connect(dsn)
            connection.autocommit = True  # no transaction left open: the server connection goes back to the pool
            connections.append(connection)
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                answered += cursor.fetchone()[0]
        except Exception as e:
            error = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            break
    print(json.dumps({"connected": len(connections), "answered": answered, "error": error}))
else:
    import psycopg
    clients = [psycopg.connect(dsn, autocommit=True) for _ in range(count)]
    ok, errors = 0, {}
    for round in range(20):
        for number, client in enumerate(clients):
            if time.time() > deadline: break
            try:
                row = client.execute("SELECT %s::int + %s::int", [number, round], prepare=True).fetchone()
                ok += row[0] == number + round
            except Exception as e:
                key = re.sub(r"_pg3_\\d+", "_pg3_N", str(e).strip().splitlines()[0])
                errors[key] = errors.get(key, 0) + 1
    print(json.dumps({"ok": ok, "errors": errors}))
`;

describe("PgBouncer started as in the pod: open-files limit and prepared statements (its own instance in front of the same leader)", () => {
    /** Client connections above the 1024 soft limit containers commonly get. */
    const CLIENTS = 1200;
    /** This instance's sizing: room for CLIENTS, and a small server pool so clients share server connections. */
    const sizing = { ...args.pgbouncer, maxClientConn: 1500, defaultPoolSize: 4, reservePoolSize: 0 };
    const openFiles = pgbouncerOpenFiles(sizing);
    let dir: string;
    let clientScript: string;

    beforeAll(() => {
        dir = postgresDir(path.join(root, "pgbouncer-limits"));
        clientScript = postgresFile(path.join(dir, "clients.py"), CLIENT_SCRIPT, 0o444);
        if (!PGBOUNCER_TRACKS_PREPARED) {
            report(`pgbouncer: prepared statements through transaction pooling NOT checked (test skipped): ${PGBOUNCER} is PgBouncer ${PGBOUNCER_VERSION.join(".")}, older than 1.21 (max_prepared_statements); set PGBOUNCER_BIN to a 1.21+ build`);
        }
    });

    /**
     * Starts PgBouncer under `soft:hard` open files, through the start script or directly, checking
     * the server's certificate against `serverCaFile`; waits until it serves or exits (20 s at most).
     */
    async function startPgbouncer(
        name: string,
        limits: { soft: number; hard: number },
        how: "script" | "direct",
        maxPreparedStatements?: number,
        serverCaFile = caFile,
    ): Promise<{ server: Server; port: number; serving: boolean; log: string }> {
        const [port] = await freePorts(1);
        const relayPort = (relay?.server.address() as net.AddressInfo).port;
        const authFile = postgresFile(path.join(dir, `${name}.users`), renderPgbouncerUserlist(pgbouncerUsers(args.appUser, PASSWORDS)));
        const endpoints = { ...pgbouncerTls(serverCaFile), listenAddr: "127.0.0.1", listenPort: port, upstreamHost: "127.0.0.1", upstreamPort: relayPort, authFile };
        const options = { ...forThisPgbouncer(pgbouncerIniOptions({ ...args, pgbouncer: sizing }, endpoints)), ...(maxPreparedStatements === undefined ? {} : { maxPreparedStatements }) };
        const ini = postgresFile(path.join(dir, `${name}.ini`), renderPgbouncerIni(options), 0o400);
        const script = renderPgbouncerStartScript({ binary: PGBOUNCER, configFile: ini, openFiles, maxClientConn: sizing.maxClientConn });
        const command = how === "script" ? ["sh", "-c", script] : [PGBOUNCER, ini];
        const logFile = path.join(dir, `${name}.log`);
        const server = startServer(`pgbouncer-${name}`, "prlimit", [`--nofile=${limits.soft}:${limits.hard}`, ...command], logFile, { uid: POSTGRES_UID, gid: POSTGRES_GID, cwd: dir });
        const serving = await waitFor(
            `PgBouncer ${name} to serve or exit`,
            async () => (isAlive(server.pid) ? ((await psql(appOn(port), "SELECT 1").catch(() => "")) === "1" ? "serving" : undefined) : "exited"),
            20000,
            200,
        ).catch(() => "still not serving");
        return { server, port, serving: serving === "serving", log: fs.readFileSync(logFile, "utf8") };
    }

    async function clients(mode: "hold" | "prepared", port: number, count: number): Promise<Record<string, unknown>> {
        const { stdout } = await run(SYSTEM_PYTHON, [clientScript, mode, String(port), args.appUser, args.database, String(count)], {
            env: { PATH: process.env.PATH, PGPASSWORD: PASSWORDS.app, ...tlsEnv(VERIFIED) },
            timeoutMs: 120000,
        });
        return JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as Record<string, unknown>;
    }

    test(`the start script raises a 1024 soft limit to ${openFiles} open files and PgBouncer serves ${CLIENTS} clients at once; started directly it cannot`, async () => {
        const direct = await startPgbouncer("direct", { soft: 1024, hard: 4096 }, "direct");
        expect(direct.serving).toBe(true);
        const directClients = await clients("hold", direct.port, CLIENTS);
        await stopServer(direct.server);
        const directLog = fs.readFileSync(direct.server.logFile, "utf8").split("\n").filter((line) => /open files|accept|limit/i.test(line)).slice(0, 3).join(" | ");

        const scripted = await startPgbouncer("script", { soft: 1024, hard: 4096 }, "script");
        expect(scripted.serving).toBe(true);
        // The start script exec'd PgBouncer: it is the process started, with the raised soft limit.
        expect(fs.readFileSync(`/proc/${scripted.server.pid}/comm`, "utf8").trim()).toBe("pgbouncer");
        const limitLine = fs.readFileSync(`/proc/${scripted.server.pid}/limits`, "utf8").split("\n").find((line) => line.startsWith("Max open files")) ?? "";
        const scriptedClients = await clients("hold", scripted.port, CLIENTS);
        await stopServer(scripted.server);

        report(
            `pgbouncer open files (${PGBOUNCER_VERSION.join(".")}, max_client_conn ${sizing.maxClientConn}, limit 1024 soft / 4096 hard): ` +
                `started directly ${directClients.connected}/${CLIENTS} clients connected, ${directClients.answered} answered SELECT 1 ` +
                `(${String(directClients.error ?? "no error")}; its log: ${directLog}); ` +
                `through the start script ${scriptedClients.connected}/${CLIENTS} connected and ${scriptedClients.answered} answered SELECT 1; ` +
                `/proc limits: ${limitLine.replace(/\s+/g, " ").trim()}`,
        );
        expect(limitLine).toMatch(new RegExp(`^Max open files\\s+${openFiles}\\s+4096\\s+files`));
        expect(scriptedClients).toEqual({ connected: CLIENTS, answered: CLIENTS, error: null });
        expect(directClients.answered).toBeLessThan(CLIENTS);
    }, 300000);

    test("server side verify-full: a PgBouncer checking PostgreSQL's certificate against another CA refuses the server (no plaintext fallback)", async () => {
        const wrong = await startPgbouncer("server-other-ca", { soft: 1024, hard: 4096 }, "script", undefined, otherCaFile);
        const failure = await psql(appOn(wrong.port), "SELECT 1", 15000).catch((error: Error) => error.message);
        await stopServer(wrong.server);
        const log = fs.readFileSync(wrong.server.logFile, "utf8");
        report(`pgbouncer server_tls_sslmode verify-full against another CA: client got "${failure.split("\n").filter((line) => line.trim()).pop()?.trim()}"; its log: ${log.split("\n").find((line) => /verify failed|handshake failed|self.signed|local issuer/i.test(line))?.trim()}`);
        expect(wrong.serving).toBe(false);
        expect(failure).not.toBe("1");
        expect(log).toMatch(/certificate verify failed|TLS handshake failed|self.signed|unable to get local issuer/i);
    }, 60000);

    test("with a hard limit below the need, the start script refuses to start and says why", async () => {
        const refused = await startPgbouncer("low-hard", { soft: 1024, hard: 1200 }, "script");
        report(`pgbouncer start under 1024/1200 open files: ${refused.serving ? "serving" : "exited"}: ${refused.log.trim()}`);
        expect(refused.serving).toBe(false);
        expect(refused.log).toContain(`pgbouncer: max_client_conn ${sizing.maxClientConn} needs ${openFiles} open files, but the hard limit is 1200 (soft 1024)`);
    }, 60000);

    (PGBOUNCER_TRACKS_PREPARED ? test : test.skip)(
        `named prepared statements work through transaction pooling with max_prepared_statements ${args.pgbouncer.maxPreparedStatements}, and fail without (PgBouncer ${PGBOUNCER_VERSION.join(".")})`,
        async () => {
            const results: Record<string, Record<string, unknown>> = {};
            for (const [name, maxPrepared] of [["prepared-off", 0], ["prepared-on", args.pgbouncer.maxPreparedStatements]] as const) {
                const bouncer = await startPgbouncer(name, { soft: 1024, hard: 4096 }, "script", maxPrepared);
                expect(bouncer.serving).toBe(true);
                results[name] = await clients("prepared", bouncer.port, 12);
                await stopServer(bouncer.server);
                report(`pgbouncer ${PGBOUNCER_VERSION.join(".")} max_prepared_statements ${maxPrepared}: 12 clients x 20 prepared executions over ${sizing.defaultPoolSize} server connections -> ${JSON.stringify(results[name])}`);
            }
            expect(results["prepared-on"]).toEqual({ ok: 240, errors: {} });
            expect(results["prepared-off"].ok).toBeLessThan(240);
        },
        120000,
    );

});
