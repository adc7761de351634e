// The postgres and pgbouncer sections of the stack config: bad values fail with one exact message
// naming the stack, the key path, what was expected and the value given. Plus the component's
// settings schemas themselves: their defaults, and the rules the stack composes with them.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { testCertificates } from "../helpers/mocks";
import { checkPostgresSettings, DEFAULT_PGBOUNCER_IMAGE, postgresDurationSeconds, pgbouncerSettingsSchema, postgresClusterArgsSchema, postgresSettingsSchema } from "../../components/postgres/args";
import { onlyWhenValid, pinnedImage } from "../../components/schema";
import { parseStackConfig } from "../../config";
import { configErrorOf, configWith, RawConfig } from "../helpers/config-errors";
import { readStackConfig } from "../../scripts/stack-files";

/** The message `stack`'s config fails with after `change`. */
const errorOf = (stack: string, change: (raw: RawConfig) => void): string => configErrorOf(configWith(stack, change), stack);

describe("postgres and pgbouncer stack config", () => {
    test("both stacks parse, prod synchronous with 2 replicas, dev asynchronous with 1", () => {
        const prod = parseStackConfig("prod", readStackConfig("prod"));
        const dev = parseStackConfig("dev", readStackConfig("dev"));
        expect([prod.postgres.standbys, prod.postgres.synchronousMode]).toEqual([2, true]);
        expect([dev.postgres.standbys, dev.postgres.synchronousMode]).toEqual([1, false]);
        expect(prod.postgres.storage).toBe("500Gi");
        expect(prod.pgbouncer.replicas).toBe(3);
    });

    const cases: Array<[string, string, (raw: RawConfig) => void, string]> = [
        ["prod", "a negative standby count", (r) => (r.postgres.standbys = -1), "prod: postgres.standbys must be at least 0 (got -1)"],
        ["prod", "synchronous mode (the default) with no standby", (r) => (r.postgres.standbys = 0), "prod: postgres.synchronousMode needs at least one standby (standbys is 0) (not set)"],
        ["prod", "the old key name says what it is now", (r) => (r.postgres.replicas = 2), "prod: postgres.replicas is not a known key (got 2); it is now postgres.standbys"],
        ["dev", "asynchronous with no standby is accepted: only the PgBouncer error is reported", (r) => ((r.postgres.standbys = 0), (r.pgbouncer.replicas = 0)), "dev: pgbouncer.replicas must be at least 1 (got 0)"],
        ["prod", "a size with a space", (r) => (r.postgres.parameters.shared_buffers = "4 GB"), 'prod: postgres.parameters.shared_buffers must be a PostgreSQL size such as 4GB (got "4 GB")'],
        ["prod", "a lower-case unit PostgreSQL rejects", (r) => (r.postgres.parameters.work_mem = "64mb"), 'prod: postgres.parameters.work_mem must be a PostgreSQL size such as 64MB (got "64mb")'],
        ["prod", "a Kubernetes quantity as a PostgreSQL size", (r) => (r.postgres.parameters.effective_cache_size = "12Gi"), 'prod: postgres.parameters.effective_cache_size must be a PostgreSQL size such as 12GB (got "12Gi")'],
        ["prod", "a number as a size", (r) => (r.postgres.parameters.maintenance_work_mem = 512), "prod: postgres.parameters.maintenance_work_mem must be a string (got 512)"],
        ["prod", "an unknown wal_level", (r) => (r.postgres.parameters.wal_level = "minimal"), 'prod: postgres.parameters.wal_level must be one of "replica", "logical" (got "minimal")'],
        ["prod", "fewer WAL senders than members", (r) => (r.postgres.parameters.max_wal_senders = 2), "prod: postgres.parameters.max_wal_senders must be at least standbys + 1 (3) (got 2)"],
        ["prod", "fewer replication slots than members", (r) => (r.postgres.parameters.max_replication_slots = 2), "prod: postgres.parameters.max_replication_slots must be at least standbys + 1 (3) (got 2)"],
        ["prod", "shared_buffers as large as the memory limit", (r) => (r.postgres.parameters.shared_buffers = "16GB"), 'prod: postgres.parameters.shared_buffers must be less than resources.limits.memory (16Gi) (got "16GB")'],
        ["dev", "shared_buffers above dev's memory limit", (r) => (r.postgres.parameters.shared_buffers = "2GB"), 'dev: postgres.parameters.shared_buffers must be less than resources.limits.memory (1Gi) (got "2GB")'],
        [
            "dev",
            "shared_buffers plus the memory-backed /dev/shm at dev's memory limit",
            (r) => (r.postgres.parameters.shared_buffers = "800MB"),
            "dev: postgres.parameters.work_mem sizes /dev/shm at 256Mi (work_mem x 2 x 9 parallel participants, at least 256Mi), which with shared_buffers (800MB) must stay below resources.limits.memory (1Gi) (got \"4MB\")",
        ],
        ["prod", "a leader TTL shorter than loop + 2 retries", (r) => (r.postgres.patroni.ttl = 6), "prod: postgres.patroni.ttl must be at least loopWait + 2 x retryTimeout (7) (got 6)"],
        ["prod", "an application user that is not a role name", (r) => (r.postgres.appUser = "Prepx-App"), 'prod: postgres.appUser must be a lower-case PostgreSQL identifier (got "Prepx-App")'],
        ["prod", "an unpinned exporter", (r) => (r.pgbouncer.exporterImage = "prometheuscommunity/pgbouncer-exporter"), 'prod: pgbouncer.exporterImage must be an image pinned to a version tag or digest (not \'latest\', not untagged) (got "prometheuscommunity/pgbouncer-exporter")'],
        ["prod", "an unknown postgres key", (r) => (r.postgres.synchronous = true), "prod: postgres.synchronous is not a known key (got true)"],
        [
            "prod",
            "a statement timeout without a unit",
            (r) => (r.postgres.parameters.statement_timeout = "30"),
            'prod: postgres.parameters.statement_timeout must be a PostgreSQL duration such as 30s (ms, s, min, h, d), or 0 for none (got "30")',
        ],
        [
            "prod",
            "PgBouncer's query timeout at or below PostgreSQL's statement timeout",
            (r) => (r.pgbouncer.timeouts = { queryTimeoutSeconds: 20 }),
            "prod: pgbouncer.timeouts.queryTimeoutSeconds must exceed postgres.parameters.statement_timeout (30s) and idle_in_transaction_session_timeout (60s), " +
                "which end a long query or an idle transaction with PostgreSQL's own error first (PgBouncer counts an idle transaction against it too); or 0 (off) (got 20)",
        ],
        ["prod", "a client network that is not a CIDR", (r) => (r.postgres.clientNetworks = ["10.244.0.0"]), 'prod: postgres.clientNetworks[0] must be a CIDR such as 10.244.0.0/16 or fd00::/8 (got "10.244.0.0")'],
    ];

    test.each(cases)("%s: %s", (stack, _title, change, message) => {
        expect(errorOf(stack, change)).toBe(message);
    });

    test("PgBouncer pools beyond max_connections are refused with the arithmetic", () => {
        // With max_connections set: a derived one would follow the pools.
        expect(errorOf("prod", (r) => ((r.pgbouncer.defaultPoolSize = 200), (r.postgres.parameters.max_connections = 500)))).toBe(
            "prod: connection budget exceeded: PgBouncer server pools 3 x (200 + 20) = 660; PostgreSQL allows 500 - 5 superuser-reserved - 40 reserved = 455",
        );
    });
});

describe("PostgresCluster settings", () => {
    const problems = (result: { success: boolean; error?: z.ZodError }) => (result.error?.issues ?? []).map((issue) => `${issue.path.join(".")}: ${issue.message}`);

    test("the defaults are the prod shape of DESIGN.md: 1 leader + 2 synchronous standbys, 3 PgBouncers", () => {
        const { namespace: _namespace, certificates, ...defaults } = postgresClusterArgsSchema.parse({ namespace: "prepx", certificates: testCertificates });
        expect(certificates).toBe(testCertificates);
        expect(defaults).toEqual({
            standbys: 2,
            synchronousMode: true,
            image: { prebuilt: "ghcr.io/prepx/postgres-patroni:15.19-patroni3.0.2-pgbackrest2.45" },
            exporterImage: "quay.io/prometheuscommunity/postgres-exporter:v0.15.0",
            database: "prepx",
            appUser: "prepx",
            storage: "500Gi",
            storageClassAllowsExpansion: true,
            resources: { requests: { cpu: "4", memory: "8Gi" }, limits: { cpu: "8", memory: "16Gi" } },
            exporterResources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
            parameters: {
                shared_buffers: "4GB",
                effective_cache_size: "12GB",
                work_mem: "64MB",
                maintenance_work_mem: "512MB",
                max_connections: 500,
                superuser_reserved_connections: 5,
                wal_level: "replica",
                max_wal_senders: 10,
                max_replication_slots: 10,
                statement_timeout: "30s",
                idle_in_transaction_session_timeout: "60s",
            },
            clientNetworks: ["0.0.0.0/0", "::/0"],
            reservedConnections: 40,
            replicationLagAlertSeconds: 30,
            patroni: { ttl: 7, loopWait: 1, retryTimeout: 3, maximumLagOnFailover: 1048576 },
            backup: {
                enabled: true,
                repository: {
                    type: "s3",
                    bucket: "prepx-postgres-backups",
                    endpoint: "s3.us-east-1.amazonaws.com",
                    region: "us-east-1",
                    uriStyle: "host",
                    path: "/pgbackrest",
                    credentialsSecret: "postgres-backup-s3",
                },
                retentionFull: 7,
                fullIntervalHours: 24,
                differentialIntervalHours: 4,
                backupAgeAlertHours: 26,
                walArchiveAlertMinutes: 15,
                resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "2", memory: "1Gi" } },
            },
            pgbouncer: {
                replicas: 3,
                image: "ghcr.io/cloudnative-pg/pgbouncer:1.25.2",
                exporterImage: "prometheuscommunity/pgbouncer-exporter:v0.9.0",
                maxClientConn: 5000,
                defaultPoolSize: 120,
                reservePoolSize: 20,
                maxPreparedStatements: 200,
                timeouts: { queryTimeoutSeconds: 70, idleTransactionTimeoutSeconds: 65, clientIdleTimeoutSeconds: 600, queryWaitTimeoutSeconds: 30 },
                resources: { requests: { cpu: "1", memory: "512Mi" }, limits: { cpu: "2", memory: "1Gi" } },
                exporterResources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
            },
            protectData: true,
            imagePullSecrets: [],
            passwords: {},
            clusterDomain: "cluster.local",
            postgresUid: 999,
            pgbouncerUid: 998,
            pgbouncerGid: 996,
        });
    });

    test("the default PgBouncer image is a maintained one pinned to a PgBouncer release with the 2026 CVE fixes, not Bitnami's withdrawn tags", () => {
        expect(DEFAULT_PGBOUNCER_IMAGE).toBe("ghcr.io/cloudnative-pg/pgbouncer:1.25.2");
        expect(postgresClusterArgsSchema.parse({ namespace: "prepx", certificates: testCertificates }).pgbouncer.image).toBe(DEFAULT_PGBOUNCER_IMAGE);
        expect(pinnedImage.safeParse(DEFAULT_PGBOUNCER_IMAGE).success).toBe(true);
        // bitnami/* versioned tags moved to bitnamilegacy/*, which gets no updates: neither may come back.
        expect(DEFAULT_PGBOUNCER_IMAGE).not.toMatch(/^(docker\.io\/)?bitnami(legacy)?\//);
        // The tag is the PgBouncer version: 1.25.2 fixes CVE-2026-6664..6667 (PgBouncer's NEWS.md).
        const [major, minor, patch] = (DEFAULT_PGBOUNCER_IMAGE.split(":")[1] ?? "").split(".").map(Number);
        expect(major * 10000 + minor * 100 + patch).toBeGreaterThanOrEqual(12502);
    });

    test("timeouts: PostgreSQL durations with a unit (or 0), PgBouncer's in seconds; PgBouncer's query_timeout must exceed statement_timeout", () => {
        const parsed = (args: Record<string, unknown>) => problems(postgresClusterArgsSchema.safeParse({ namespace: "prepx", certificates: testCertificates, ...args }));
        const tooShort = (statement: string, idle: string) =>
            `pgbouncer.timeouts.queryTimeoutSeconds: must exceed postgres.parameters.statement_timeout (${statement}) and idle_in_transaction_session_timeout (${idle}), ` +
            "which end a long query or an idle transaction with PostgreSQL's own error first (PgBouncer counts an idle transaction against it too); or 0 (off)";
        expect(parsed({ parameters: { statement_timeout: "5min" } })).toEqual([tooShort("5min", "60s")]);
        expect(parsed({ parameters: { statement_timeout: "5min" }, pgbouncer: { timeouts: { queryTimeoutSeconds: 301 } } })).toEqual([]);
        // PostgreSQL's idle-transaction timeout off: PgBouncer's query_timeout would cut idle transactions in its place.
        expect(parsed({ parameters: { idle_in_transaction_session_timeout: "0" } })).toEqual([tooShort("30s", "0")]);
        expect(parsed({ parameters: { statement_timeout: "0", idle_in_transaction_session_timeout: "0" }, pgbouncer: { timeouts: { queryTimeoutSeconds: 0 } } })).toEqual([]);
        expect(parsed({ parameters: { statement_timeout: "30" } })).toEqual([
            "parameters.statement_timeout: a PostgreSQL duration such as 30s (ms, s, min, h, d), or 0 for none",
        ]);
        expect(parsed({ pgbouncer: { timeouts: { queryTimeoutSeconds: 60 } } })).toEqual([tooShort("30s", "60s")]);
        expect(parsed({ pgbouncer: { timeouts: { queryTimeoutSeconds: 61 } } })).toEqual([]);
        expect(postgresDurationSeconds("1500ms")).toBe(1.5);
        expect(postgresDurationSeconds("2h")).toBe(7200);
        expect(postgresDurationSeconds("0")).toBe(0);
    });

    test("clientNetworks: CIDRs pg_hba admits over TLS; namespaceName required when the namespace is an Output", () => {
        const parsed = (args: Record<string, unknown>) => problems(postgresClusterArgsSchema.safeParse({ namespace: "prepx", certificates: testCertificates, ...args }));
        expect(parsed({ clientNetworks: ["10.244.0.0/16", "fd00::/8"] })).toEqual([]);
        expect(parsed({ clientNetworks: ["10.244.0.0"] })).toEqual(["clientNetworks.0: a CIDR such as 10.244.0.0/16 or fd00::/8"]);
        expect(parsed({ clientNetworks: [] })).toHaveLength(1);
        expect(problems(postgresClusterArgsSchema.safeParse({ namespace: pulumi.output("prepx"), certificates: testCertificates }))).toEqual([
            "namespaceName: is required when namespace is an Output: the certificates' DNS names need the namespace's name",
        ]);
        expect(problems(postgresClusterArgsSchema.safeParse({ namespace: pulumi.output("prepx"), namespaceName: "prepx", certificates: testCertificates }))).toEqual([]);
        expect(problems(postgresClusterArgsSchema.safeParse({ namespace: "prepx" }))).toEqual(["certificates: a CertificateIssuer (components/tls)"]);
    });

    test("a nested section given in part keeps the defaults of the fields it leaves out", () => {
        const args = postgresClusterArgsSchema.parse({ namespace: "prepx", certificates: testCertificates, parameters: { work_mem: "32MB" }, patroni: { ttl: 60 }, pgbouncer: { replicas: 2 } });
        expect(args.parameters).toMatchObject({ work_mem: "32MB", shared_buffers: "4GB", max_connections: 500 });
        expect(args.patroni).toEqual({ ttl: 60, loopWait: 1, retryTimeout: 3, maximumLagOnFailover: 1048576 });
        expect(args.pgbouncer).toMatchObject({ replicas: 2, maxClientConn: 5000, defaultPoolSize: 120 });
    });

    test("the settings schemas hold no rule between fields: checkPostgresSettings does, where the stack composes it", () => {
        expect(postgresSettingsSchema.safeParse({ standbys: 0 }).success).toBe(true);
        expect(problems(postgresSettingsSchema.superRefine(checkPostgresSettings, onlyWhenValid).safeParse({ standbys: 0 }))).toEqual([
            "synchronousMode: needs at least one standby (standbys is 0)",
        ]);
        expect(pgbouncerSettingsSchema.safeParse({ defaultPoolSize: 10000 }).success).toBe(true);
    });

    test("the connection budget is checked when the value holds PgBouncer's pools (the component's args), not on the postgres section alone", () => {
        const checked = postgresSettingsSchema.extend({ pgbouncer: pgbouncerSettingsSchema.optional() }).superRefine(checkPostgresSettings, onlyWhenValid);
        expect(problems(checked.safeParse({ reservedConnections: 400 }))).toEqual([]);
        expect(problems(checked.safeParse({ reservedConnections: 400, pgbouncer: pgbouncerSettingsSchema.parse({}) }))).toEqual([
            ": connection budget exceeded: PgBouncer server pools 3 x (120 + 20) = 420; PostgreSQL allows 500 - 5 superuser-reserved - 400 reserved = 95",
        ]);
    });
});
