// The PostgresCluster renderers called directly (no mocks): Patroni's config per DCS, pg_hba, the
// post-bootstrap script, pgbouncer.ini and its auth file, names and the YAML emitter. Their options
// come from args of the plan's sizing through the component's own mappings.
import { execFileSync } from "child_process";
import { parse } from "yaml";
import {
    CHECKPOINT_WRITE_BYTES_PER_SECOND,
    DCS_ONLY_PARAMETERS,
    dynamicConfigJobName,
    dynamicSharedMemoryBytes,
    MEMBER_PATHS,
    memberGracePeriodSeconds,
    patroniDcsSettings,
    patroniDynamicConfig,
    patroniMemberConfigText,
    PatroniConfigOptions,
    memberCount,
    patroniConfigOptions,
    pgbouncerIniOptions,
    pgbouncerUsers,
    podMemberEnvironment,
    podPgbouncerEndpoints,
    postBootstrapOptions,
    memberCertificateDnsNames,
    poolerCertificateDnsNames,
    postgresNames,
    postgresUri,
    renderDynamicConfigScript,
    renderPatroniConfig,
    renderPgHba,
    PGBOUNCER_OPEN_FILES_MARGIN,
    pgbouncerOpenFiles,
    renderPgbouncerIni,
    renderPgbouncerStartScript,
    renderPgbouncerUserlist,
    renderPostBootstrapScript,
} from "../../components/postgres/render";
import type { PostgresParameters } from "../../components/postgres/args";
import { toYaml } from "../../components/yaml";

const PLAN = {
    shared_buffers: "4GB",
    effective_cache_size: "12GB",
    work_mem: "64MB",
    maintenance_work_mem: "512MB",
    max_connections: 500,
    superuser_reserved_connections: 5,
    wal_level: "replica" as const,
    max_wal_senders: 10,
    max_replication_slots: 10,
    statement_timeout: "30s",
    idle_in_transaction_session_timeout: "60s",
};

/** The args the renderers read, with the plan's sizing (the component's defaults, postgres-config.test.ts). */
const ARGS = {
    parameters: PLAN,
    patroni: { ttl: 30, loopWait: 10, retryTimeout: 10, maximumLagOnFailover: 1048576 },
    synchronousMode: true,
    database: "prepx",
    appUser: "prepx",
    pgbouncer: {
        maxClientConn: 5000,
        defaultPoolSize: 120,
        reservePoolSize: 20,
        maxPreparedStatements: 200,
        timeouts: { queryTimeoutSeconds: 70, idleTransactionTimeoutSeconds: 65, clientIdleTimeoutSeconds: 600, queryWaitTimeoutSeconds: 30 },
    },
};
/** pg_hba's remote networks in these tests: a pod CIDR. */
const POD_NETWORKS = ["10.244.0.0/16"];
/** Selector labels of the member pods of a PostgresCluster called `postgres`. */
const POD_LABELS = { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": "postgres", "app.kubernetes.io/component": "database" };
const kubernetesOptions = patroniConfigOptions(ARGS, "postgres", podMemberEnvironment(POD_LABELS, POD_NETWORKS));
/** Patroni's configuration file as these tests read it. */
interface PatroniFile {
    scope: string;
    name?: string;
    restapi: { connect_address?: string; authentication: unknown };
    kubernetes?: unknown;
    etcd3?: unknown;
    bootstrap: { dcs: { synchronous_mode: boolean; postgresql: { parameters: Record<string, unknown> } }; initdb: unknown[]; post_bootstrap: string };
    postgresql: { parameters: Record<string, unknown>; connect_address?: string; data_dir: string; bin_dir: string; authentication: unknown; use_unix_socket?: boolean; use_unix_socket_repl?: boolean };
}
const render = (options: Partial<PatroniConfigOptions> = {}): PatroniFile => parse(renderPatroniConfig({ ...kubernetesOptions, ...options }));

describe("Patroni config", () => {
    test("the args map to the plan's parameters, the timing, synchronous mode and the pod layout", () => {
        expect(kubernetesOptions).toMatchObject({
            scope: "postgres",
            parameters: PLAN,
            timing: { ttl: 30, loopWait: 10, retryTimeout: 10, maximumLagOnFailover: 1048576 },
            synchronousMode: true,
            paths: MEMBER_PATHS,
            clientNetworks: POD_NETWORKS,
            database: "prepx",
            appUser: "prepx",
        });
    });

    test("the plan's parameters and the replication settings go to the cluster-wide (DCS) section", () => {
        const dcs = render().bootstrap.dcs;
        expect(dcs.postgresql.parameters).toMatchObject(PLAN);
        expect(dcs.postgresql.parameters).toMatchObject({ wal_log_hints: "on", hot_standby: "on", wal_retrieve_retry_interval: "500ms", password_encryption: "scram-sha-256" });
        expect(dcs.postgresql).toMatchObject({ use_pg_rewind: true, use_slots: true });
        expect(dcs).toMatchObject({ ttl: 30, loop_wait: 10, retry_timeout: 10, maximum_lag_on_failover: 1048576, synchronous_mode: true, synchronous_mode_strict: false });
    });

    test("synchronous_mode follows the option (prod true, dev false)", () => {
        expect(render({ synchronousMode: true }).bootstrap.dcs.synchronous_mode).toBe(true);
        expect(render({ synchronousMode: false }).bootstrap.dcs.synchronous_mode).toBe(false);
    });

    test("local parameters repeat the per-member ones (applied on reload) and leave out those Patroni takes only from the DCS", () => {
        const local = render().postgresql.parameters;
        expect(local).toMatchObject({ shared_buffers: "4GB", effective_cache_size: "12GB", work_mem: "64MB", maintenance_work_mem: "512MB", wal_retrieve_retry_interval: "500ms" });
        for (const name of DCS_ONLY_PARAMETERS) expect(local).not.toHaveProperty(name);
        expect(local.unix_socket_directories).toBe(MEMBER_PATHS.socketDir);
    });

    test("the kubernetes DCS: Endpoints, labels, scope and role labels, the port name", () => {
        const config = render();
        expect(config.kubernetes).toEqual({
            use_endpoints: true,
            labels: { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/component": "database" },
            scope_label: "app.kubernetes.io/instance",
            role_label: "role",
            ports: [{ name: "postgresql", port: 5432 }],
        });
        expect(config.etcd3).toBeUndefined();
        expect(config.scope).toBe("postgres");
    });

    test("one renderer, two DCSs: etcd3 differs from kubernetes only in the DCS section", () => {
        const etcd = render({ dcs: { kind: "etcd3", hosts: ["127.0.0.1:2379"] } });
        const kubernetes = render();
        expect(etcd.etcd3).toEqual({ hosts: ["127.0.0.1:2379"] });
        expect(etcd.kubernetes).toBeUndefined();
        delete etcd.etcd3;
        delete kubernetes.kubernetes;
        expect(etcd).toEqual(kubernetes);
    });

    test("bootstrap: initdb with checksums, the post-bootstrap script; member values left to PATRONI_* env", () => {
        const config = render();
        expect(config.bootstrap.initdb).toEqual([{ encoding: "UTF8" }, { locale: "C.UTF-8" }, "data-checksums"]);
        expect(config.bootstrap.post_bootstrap).toBe("sh /etc/patroni/post-bootstrap.sh");
        expect(config.name).toBeUndefined();
        expect(config.postgresql.connect_address).toBeUndefined();
        expect(config.restapi.connect_address).toBeUndefined();
        expect(config.postgresql.data_dir).toBe("/var/lib/postgresql/data/pgdata");
        expect(config.postgresql.bin_dir).toBe("/usr/lib/postgresql/15/bin");
    });

    test("holds user names but no password", () => {
        const text = renderPatroniConfig(kubernetesOptions);
        const config: PatroniFile = parse(text);
        expect(config.restapi.authentication).toEqual({ username: "patroni" });
        expect(text).not.toMatch(/password\s*:/i);
    });

    test("TLS: PostgreSQL serves the member's certificate (TLS 1.2+); standbys and pg_rewind connect with verify-full against the CA", () => {
        const config = render();
        const tls = { ssl: "on", ssl_cert_file: "/etc/patroni-tls/tls.crt", ssl_key_file: "/etc/patroni-tls/tls.key", ssl_ca_file: "/etc/patroni-tls/ca.crt", ssl_min_protocol_version: "TLSv1.2" };
        expect(config.postgresql.parameters).toMatchObject(tls);
        expect(config.bootstrap.dcs.postgresql.parameters).toMatchObject(tls);
        const verified = { sslmode: "verify-full", sslrootcert: "/etc/patroni-tls/ca.crt" };
        // replication: streaming and pg_basebackup; superuser: pg_rewind (no rewind role).
        expect(config.postgresql.authentication).toEqual({ superuser: { username: "postgres", ...verified }, replication: { username: "replicator", ...verified } });
        // Patroni's connections to its own member use the socket (TCP would dial `localhost`, in no certificate).
        expect(config.postgresql).toMatchObject({ use_unix_socket: true, use_unix_socket_repl: true });
    });

    test("TLS: Patroni's REST API serves HTTPS with the member's certificate; peers and patronictl check it against the CA", () => {
        const config = parse(renderPatroniConfig(kubernetesOptions));
        expect(config.restapi).toMatchObject({ certfile: "/etc/patroni-tls/tls.crt", keyfile: "/etc/patroni-tls/tls.key", cafile: "/etc/patroni-tls/ca.crt" });
        expect(config.ctl).toEqual({ insecure: false, cacert: "/etc/patroni-tls/ca.crt" });
    });

    test("timeouts: statement_timeout and idle_in_transaction_session_timeout from the args, member-local (applied on reload)", () => {
        expect(render().postgresql.parameters).toMatchObject({ statement_timeout: "30s", idle_in_transaction_session_timeout: "60s" });
        const options = patroniConfigOptions({ ...ARGS, parameters: { ...PLAN, statement_timeout: "5s", idle_in_transaction_session_timeout: "0" } }, "postgres", podMemberEnvironment(POD_LABELS, POD_NETWORKS));
        expect(parse(renderPatroniConfig(options)).postgresql.parameters).toMatchObject({ statement_timeout: "5s", idle_in_transaction_session_timeout: "0" });
    });
});

describe("pg_hba", () => {
    const lines = renderPgHba(POD_NETWORKS);
    const fields = lines.map((line) => line.split(/\s+/));
    const admitting = fields.filter((f) => f[f.length - 1] !== "reject");

    test("every rule that admits is scram-sha-256 (no trust, md5 or password); the others reject", () => {
        expect(admitting.every((f) => f[f.length - 1] === "scram-sha-256")).toBe(true);
        expect(fields.every((f) => ["scram-sha-256", "reject"].includes(f[f.length - 1]))).toBe(true);
    });

    test("replication connections only for the replication role", () => {
        const replication = admitting.filter((f) => f[1] === "replication");
        expect(replication.length).toBeGreaterThan(0);
        expect(replication.every((f) => f[2] === "replicator")).toBe(true);
        // `all` never matches physical replication connections, so nothing else grants them.
        expect(admitting.filter((f) => f[1] !== "replication").every((f) => f[1] === "all")).toBe(true);
    });

    test("remote clients and standbys only over TLS (hostssl) from the client networks; plaintext from anywhere else rejected, replication included", () => {
        expect(lines).toContain("hostssl all all 10.244.0.0/16 scram-sha-256");
        expect(lines).toContain("hostssl replication replicator 10.244.0.0/16 scram-sha-256");
        for (const network of ["0.0.0.0/0", "::/0"]) {
            expect(lines).toContain(`hostnossl all all ${network} reject`);
            expect(lines).toContain(`hostnossl replication all ${network} reject`);
        }
        // Without TLS only the socket and loopback (the in-pod exporter, Patroni, pgBackRest) get in.
        const plain = admitting.filter((f) => f[0] === "host").map((f) => f[3]);
        expect(new Set(plain)).toEqual(new Set(["127.0.0.1/32", "::1/128"]));
        expect(admitting.filter((f) => f[0] !== "local" && f[0] !== "host").every((f) => f[0] === "hostssl")).toBe(true);
        // Every admitting line comes before the rejects (first match wins).
        const firstReject = fields.findIndex((f) => f[f.length - 1] === "reject");
        expect(fields.slice(firstReject).every((f) => f[f.length - 1] === "reject")).toBe(true);
    });

    test("the default client networks admit any address (over TLS), and a loopback client network repeats no line", () => {
        expect(renderPgHba(["0.0.0.0/0", "::/0"])).toContain("hostssl all all ::/0 scram-sha-256");
        const live = renderPgHba(["127.0.0.1/32"]);
        expect(new Set(live).size).toBe(live.length);
    });
});

describe("certificates' DNS names", () => {
    const names = postgresNames("postgres");

    test("the members' certificate: the rw, ro, leader and members Services, and each member pod under the members Service, in every spelling", () => {
        const dnsNames = memberCertificateDnsNames(names, 3, "prepx", "cluster.local");
        for (const service of ["postgres-rw", "postgres-ro", "postgres", "postgres-members"]) {
            for (const name of [service, `${service}.prepx`, `${service}.prepx.svc`, `${service}.prepx.svc.cluster.local`]) expect(dnsNames).toContain(name);
        }
        // The members' connect addresses (specs.ts memberHostTemplate with PATRONI_NAME = the pod's name).
        for (const pod of ["postgres-0", "postgres-1", "postgres-2"]) expect(dnsNames).toContain(`${pod}.postgres-members.prepx.svc.cluster.local`);
        expect(dnsNames).not.toContain("postgres-3.postgres-members.prepx.svc.cluster.local");
        expect(new Set(dnsNames).size).toBe(dnsNames.length);
        // Not PgBouncer's: a member's certificate cannot pass for the pooler.
        expect(dnsNames.some((name) => name.startsWith("postgres-pooler"))).toBe(false);
    });

    test("PgBouncer's certificate: the pooler Service's names only", () => {
        expect(poolerCertificateDnsNames(names, "prepx", "cluster.local")).toEqual([
            "postgres-pooler",
            "postgres-pooler.prepx",
            "postgres-pooler.prepx.svc",
            "postgres-pooler.prepx.svc.cluster.local",
        ]);
    });
});

describe("post-bootstrap script", () => {
    const script = renderPostBootstrapScript(postBootstrapOptions(ARGS, MEMBER_PATHS.secretsDir));

    test("creates the application role and database and the monitoring role, reading passwords from files", () => {
        expect(script).toContain(`CREATE ROLE "prepx" LOGIN PASSWORD :'app_password';`);
        expect(script).toContain(`CREATE DATABASE "prepx" OWNER "prepx"`);
        expect(script).toContain(`CREATE ROLE "monitor" LOGIN PASSWORD :'monitor_password' IN ROLE pg_monitor;`);
        expect(script).toContain("\\set app_password `cat /etc/patroni-secrets/app-password`");
        expect(script).toContain("\\set monitor_password `cat /etc/patroni-secrets/monitor-password`");
        // psql reads the SQL from a quoted heredoc: the shell expands nothing in it.
        expect(script).toContain(`psql "$1" -X -q -v ON_ERROR_STOP=1 <<'SQL'`);
    });

    test("is valid sh", () => {
        expect(() => execFileSync("sh", ["-n"], { input: script })).not.toThrow();
    });

    test("exempts the cluster's own roles from the application timeouts", () => {
        expect(script).toContain(`ALTER ROLE "postgres" SET statement_timeout = 0;`);
        expect(script).toContain(`ALTER ROLE "postgres" SET idle_in_transaction_session_timeout = 0;`);
        // Patroni creates the replication role after the script; physical replication ignores statement_timeout.
        expect(script).not.toContain(`"replicator"`);
        expect(script).not.toContain(`ALTER ROLE "prepx"`);
    });

    test("identifiers are quoted", () => {
        expect(renderPostBootstrapScript({ database: "a", appUser: 'we"ird', secretsDir: "/s" })).toContain(`CREATE ROLE "we""ird" LOGIN`);
    });
});

describe("PgBouncer", () => {
    const ini = renderPgbouncerIni(pgbouncerIniOptions(ARGS, podPgbouncerEndpoints("postgres-rw.prepx.svc.cluster.local")));
    const settings = Object.fromEntries(
        ini
            .split("\n")
            .filter((line) => /^\w+ =/.test(line))
            .map((line) => line.split(/ = ?/, 2) as [string, string]),
    );

    test("transaction pooling in front of the leader Service, sized per pod", () => {
        expect(settings.prepx).toBe("host=postgres-rw.prepx.svc.cluster.local port=5432 dbname=prepx");
        expect(settings).toMatchObject({
            pool_mode: "transaction",
            auth_type: "scram-sha-256",
            auth_file: "/etc/pgbouncer-auth/userlist.txt",
            max_client_conn: "5000",
            default_pool_size: "120",
            reserve_pool_size: "20",
            max_db_connections: "140",
            listen_addr: "0.0.0.0",
            listen_port: "6432",
            stats_users: "monitor",
            server_login_retry: "1",
            // Clients' named prepared statements survive transaction pooling (PgBouncer >= 1.21).
            max_prepared_statements: "200",
        });
        expect(ini.indexOf("[databases]")).toBeLessThan(ini.indexOf("[pgbouncer]"));
    });

    test("a dead leader is noticed in seconds: a short connect timeout, keepalives and a TCP user timeout on every connection", () => {
        expect(settings).toMatchObject({
            server_connect_timeout: "3",
            tcp_keepalive: "1",
            tcp_keepidle: "5",
            tcp_keepintvl: "1",
            tcp_keepcnt: "3",
            tcp_user_timeout: "5000",
        });
    });

    test("TLS: clients must use it (its own certificate); to PostgreSQL verify-full against the CA, never the `prefer` default", () => {
        expect(settings).toMatchObject({
            client_tls_sslmode: "require",
            client_tls_cert_file: "/etc/pgbouncer-tls/tls.crt",
            client_tls_key_file: "/etc/pgbouncer-tls/tls.key",
            client_tls_protocols: "secure",
            server_tls_sslmode: "verify-full",
            server_tls_ca_file: "/etc/pgbouncer-tls/ca.crt",
            server_tls_protocols: "secure",
        });
    });

    test("timeouts from the args: query, idle transaction, idle client, pool wait", () => {
        expect(settings).toMatchObject({ query_timeout: "70", idle_transaction_timeout: "65", client_idle_timeout: "600", query_wait_timeout: "30" });
        const other = renderPgbouncerIni(
            pgbouncerIniOptions(
                { ...ARGS, pgbouncer: { ...ARGS.pgbouncer, timeouts: { queryTimeoutSeconds: 0, idleTransactionTimeoutSeconds: 5, clientIdleTimeoutSeconds: 7, queryWaitTimeoutSeconds: 9 } } },
                podPgbouncerEndpoints("h"),
            ),
        );
        for (const line of ["query_timeout = 0", "idle_transaction_timeout = 5", "client_idle_timeout = 7", "query_wait_timeout = 9"]) expect(other.split("\n")).toContain(line);
    });

    test("PgBouncer writes no file, so its container's root filesystem can stay read-only: no unix socket, no pidfile, no logfile", () => {
        expect(settings.unix_socket_dir).toBe("");
        expect(Object.keys(settings).filter((key) => ["pidfile", "logfile", "syslog"].includes(key))).toEqual([]);
    });

    test("the auth file holds the application and monitoring roles, quoting users and passwords, doubling quotes", () => {
        expect(renderPgbouncerUserlist(pgbouncerUsers(ARGS.appUser, { app: "s3cret", monitor: 'a"b' }))).toBe('"prepx" "s3cret"\n"monitor" "a""b"\n');
    });

    test("connection URIs encode credentials", () => {
        expect(postgresUri("monitor", "p@ss/w", "127.0.0.1", 6432, "pgbouncer", "sslmode=disable")).toBe("postgresql://monitor:p%40ss%2Fw@127.0.0.1:6432/pgbouncer?sslmode=disable");
    });
});

describe("names, sizes and the YAML emitter", () => {
    test("members are the leader plus the standbys", () => {
        expect(memberCount(0)).toBe(1);
        expect(memberCount(2)).toBe(3);
    });

    test("object names derive from the component name", () => {
        expect(postgresNames("db")).toMatchObject({ statefulSet: "db", rwService: "db-rw", roService: "db-ro", pooler: "db-pooler", configService: "db-config", leaderService: "db", appSecret: "db-app" });
    });

    test("strings stay strings (YAML 1.1 would read on/off/yes and octal-looking text otherwise)", () => {
        const value = { a: "on", b: "off", c: "0700", d: "*", e: ["yes", 1, true, { f: "x: y" }], g: {}, h: [] as string[], "i j": null };
        expect(parse(toYaml(value))).toEqual(value);
    });
});

describe("Patroni's dynamic configuration on a running cluster", () => {
    const withParameters = (parameters: Partial<PostgresParameters>) => patroniConfigOptions({ ...ARGS, parameters: { ...PLAN, ...parameters } }, "postgres", podMemberEnvironment(POD_LABELS, POD_NETWORKS));

    test("the DCS failsafe is on: a leader that reaches every member survives a DCS outage longer than retry_timeout", () => {
        expect(patroniDynamicConfig(kubernetesOptions)).toMatchObject({ failsafe_mode: true });
    });

    test("the members' config text is patroni.yml without bootstrap.dcs", () => {
        const full = parse(renderPatroniConfig(kubernetesOptions)) as PatroniFile;
        const member = parse(patroniMemberConfigText(kubernetesOptions)) as PatroniFile;
        const { dcs: _dcs, ...bootstrap } = full.bootstrap;
        expect(member).toEqual({ ...full, bootstrap });
    });

    test("settings Patroni keeps in the DCS leave the members' config text alone (no roll); a member-local one changes it", () => {
        const base = patroniMemberConfigText(kubernetesOptions);
        for (const change of [{ max_connections: 600 }, { wal_level: "logical" as const }, { max_wal_senders: 12 }, { max_replication_slots: 12 }]) {
            expect(patroniMemberConfigText(withParameters(change))).toBe(base);
            expect(renderPatroniConfig(withParameters(change))).not.toBe(renderPatroniConfig(kubernetesOptions));
        }
        expect(patroniMemberConfigText({ ...kubernetesOptions, timing: { ...kubernetesOptions.timing, ttl: 40 } })).toBe(base);
        expect(patroniMemberConfigText({ ...kubernetesOptions, synchronousMode: false })).toBe(base);
        expect(patroniMemberConfigText(withParameters({ shared_buffers: "2GB" }))).not.toBe(base);
    });

    test("the Job's settings: bootstrap.dcs with only the parameters Patroni takes from the DCS alone", () => {
        const dcs = patroniDynamicConfig(kubernetesOptions);
        const settings = patroniDcsSettings(kubernetesOptions);
        expect({ ...settings, postgresql: undefined }).toEqual({ ...dcs, postgresql: undefined });
        expect(settings.postgresql).toEqual({
            use_pg_rewind: true,
            use_slots: true,
            parameters: { max_connections: 500, max_wal_senders: 10, max_replication_slots: 10, wal_level: "replica", wal_log_hints: "on", hot_standby: "on" },
        });
        // A member-local parameter (which rolls the members) leaves them alone; a DCS-only one changes them.
        expect(patroniDcsSettings(withParameters({ work_mem: "8MB" }))).toEqual(settings);
        expect(patroniDcsSettings(withParameters({ max_connections: 600 }))).not.toEqual(settings);
    });

    const script = renderDynamicConfigScript({ config: patroniDcsSettings(kubernetesOptions), patroniUrl: "https://postgres-members:8008", caFile: "/etc/patroni-ca/ca.crt", deadlineSeconds: 600 });

    test("the script carries the settings exactly, the members' REST address and its deadline; the password only from env", () => {
        const embedded = /^CONFIG = json\.loads\((.*)\)$/m.exec(script)?.[1];
        expect(JSON.parse(JSON.parse(embedded ?? "null"))).toEqual(patroniDcsSettings(kubernetesOptions));
        expect(script).toContain('BASE_URL = "https://postgres-members:8008"');
        // HTTPS, the certificate checked against the members' CA (and the host name: the default context's check_hostname).
        expect(script).toContain('TLS = ssl.create_default_context(cafile="/etc/patroni-ca/ca.crt")');
        expect(script).toContain("urllib.request.urlopen(request, timeout=timeout, context=TLS)");
        expect(script).not.toContain("check_hostname");
        expect(script).not.toContain("CERT_NONE");
        expect(script).toMatch(/^DEADLINE = time\.monotonic\(\) \+ 600$/m);
        expect(script).toContain('os.environ["PATRONI_RESTAPI_PASSWORD"]');
        expect(script).toContain('"patroni" + ":"');
    });

    test("the script restarts only members with a restart pending, standbys before the leader, and PATCHes rather than replaces /config", () => {
        expect(script).toContain('{"restart_pending": True, "timeout": RESTART_TIMEOUT}');
        expect(script).toContain('sorted(pending, key=lambda m: m["role"] == "leader")');
        expect(script).toContain('call("PATCH", url + "/config", CONFIG)');
        expect(script).not.toContain('"PUT"');
    });

    test("the script is valid Python 3", () => {
        expect(() => execFileSync("python3", ["-c", "import ast, sys; ast.parse(sys.stdin.read())"], { input: script })).not.toThrow();
    });

    test("the Job's name: the prefix and 8 hex digits of the script's hash, within a DNS label for a 40-character cluster name", () => {
        const names = postgresNames("p".repeat(40));
        const name = dynamicConfigJobName(names, script);
        expect(name).toMatch(new RegExp(`^${"p".repeat(40)}-dcs-config-[0-9a-f]{8}$`));
        expect(name.length).toBeLessThanOrEqual(63);
        expect(dynamicConfigJobName(names, script)).toBe(name);
        expect(dynamicConfigJobName(names, script.replace("600", "601"))).not.toBe(name);
    });
});

describe("what the server needs from its pod", () => {
    const MIB = 1024 * 1024;

    test("/dev/shm holds a parallel hash of work_mem x 2 for 8 workers and the leader, at least 256 MiB", () => {
        expect(dynamicSharedMemoryBytes({ work_mem: "64MB" })).toBe(64 * 2 * 9 * MIB);
        expect(dynamicSharedMemoryBytes({ work_mem: "4MB" })).toBe(256 * MIB);
        expect(dynamicSharedMemoryBytes({ work_mem: "1000kB" })).toBe(256 * MIB);
        // Rounded up to whole MiB.
        expect(dynamicSharedMemoryBytes({ work_mem: "20000kB" })).toBe(Math.ceil((20000 * 1024 * 18) / MIB) * MIB);
    });

    test("the grace period: 30 s plus every shared buffer written at 100 MiB/s", () => {
        expect(CHECKPOINT_WRITE_BYTES_PER_SECOND).toBe(100 * MIB);
        expect(memberGracePeriodSeconds({ shared_buffers: "4GB" })).toBe(30 + 41);
        expect(memberGracePeriodSeconds({ shared_buffers: "128MB" })).toBe(30 + 2);
        expect(memberGracePeriodSeconds({ shared_buffers: "16GB" })).toBe(30 + 164);
    });
});

describe("PgBouncer's open-files limit", () => {
    test("covers a socket per client and per server connection, plus a margin", () => {
        expect(pgbouncerOpenFiles({ maxClientConn: 5000, defaultPoolSize: 120, reservePoolSize: 20 })).toBe(5000 + 140 + PGBOUNCER_OPEN_FILES_MARGIN);
        expect(pgbouncerOpenFiles({ maxClientConn: 5000, defaultPoolSize: 120, reservePoolSize: 20 })).toBeGreaterThan(5000 + 10 + 140);
    });

    test("without max_prepared_statements the line is left out (PgBouncer 1.18 refuses the key)", () => {
        const ini = renderPgbouncerIni({ ...pgbouncerIniOptions(ARGS, podPgbouncerEndpoints("h")), maxPreparedStatements: undefined });
        expect(ini).not.toContain("max_prepared_statements");
    });

    // Limits below the test process's own hard limit: only root may raise a hard limit.
    const script = renderPgbouncerStartScript({ binary: "/usr/bin/pgbouncer", configFile: "/etc/pgbouncer/pgbouncer.ini", openFiles: 2000, maxClientConn: 1800 });
    /** Runs the script in dash under the given limits, with `exec` of PgBouncer replaced by printing the soft limit it would get. */
    const runUnder = (soft: number, hard: number) => {
        const probe = script.replace("exec /usr/bin/pgbouncer /etc/pgbouncer/pgbouncer.ini", 'echo "soft=$(ulimit -S -n) exec"');
        expect(probe).not.toBe(script);
        try {
            return { status: 0, out: execFileSync("prlimit", [`--nofile=${soft}:${hard}`, "sh", "-c", probe], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) };
        } catch (error) {
            const failed = error as { status: number; stderr: string };
            return { status: failed.status, out: failed.stderr };
        }
    };

    test("is valid sh and ends by exec-ing PgBouncer (so it is PID 1 and gets SIGTERM)", () => {
        expect(() => execFileSync("sh", ["-n"], { input: script })).not.toThrow();
        expect(script.trim().split("\n").pop()).toBe("exec /usr/bin/pgbouncer /etc/pgbouncer/pgbouncer.ini");
    });

    test("raises a 1024 soft limit to the need when the hard limit allows it", () => {
        expect(runUnder(1024, 4096)).toEqual({ status: 0, out: "soft=2000 exec\n" });
    });

    test("leaves a soft limit that already covers the need", () => {
        expect(runUnder(4096, 4096)).toEqual({ status: 0, out: "soft=4096 exec\n" });
    });

    test("refuses to start, naming both numbers, when the hard limit is too low", () => {
        const result = runUnder(1024, 1500);
        expect(result.status).toBe(1);
        expect(result.out).toContain("pgbouncer: max_client_conn 1800 needs 2000 open files, but the hard limit is 1500 (soft 1024)");
    });
});
