// PostgresCluster under Pulumi mocks with Pulumi.prod.yaml's configuration, instantiated directly
// the way index.ts composes it; plus the component's own argument checks.
import * as pulumi from "@pulumi/pulumi";
import type * as postgresModule from "../../components/postgres";
import { clusterArgs, describePostgresCluster, PostgresContext, resolvedClusterArgs } from "../helpers/postgres-expectations";
import { installMocks, settled } from "../helpers/mocks";
import { readStackConfig } from "../../scripts/stack-files";

let context: PostgresContext;
let component: typeof postgresModule;
let validArgs: postgresModule.PostgresClusterArgs;

beforeAll(async () => {
    const recorded = await installMocks("prod");
    component = await import("../../components/postgres");
    const { parseStackConfig } = await import("../../config");
    const config = parseStackConfig("prod", readStackConfig("prod"));
    validArgs = clusterArgs(config);
    const cluster = new component.PostgresCluster("postgres", validArgs);
    await settled(recorded);
    context = { recorded, cluster, config, args: resolvedClusterArgs(config) };
});

describePostgresCluster(() => context, {
    stack: "prod",
    // prod pushes the built image and pods run its digest, so a rebuild rolls them.
    image: `ghcr.io/prepx/postgres-patroni:15.19-patroni3.0.2-pgbackrest2.45@sha256:${"0".repeat(64)}`,
    protect: true,
    standbys: 2,
    synchronousMode: true,
    backupRepository: "s3",
});

/** Args as loosely typed as a caller's JavaScript: any key, any value. */
type LooseArgs = Record<string, unknown> & { parameters: Record<string, unknown>; patroni: Record<string, unknown>; pgbouncer: Record<string, unknown> };

describe("PostgresCluster rejects bad args with one error listing every problem", () => {
    let counter = 0;
    /** The message of the ResourceError a PostgresCluster called `name` raises with the prod args after `change`. */
    const errorOf = (name: string, change: (args: LooseArgs) => void): string => {
        // The certificate issuer is an object with a method: passed on as it is, the rest copied.
        const { certificates, ...plain } = validArgs;
        const args = { ...structuredClone(plain), certificates } as LooseArgs;
        change(args);
        try {
            new component.PostgresCluster(name, args as postgresModule.PostgresClusterArgs);
        } catch (error) {
            expect(error).toBeInstanceOf(pulumi.ResourceError);
            return (error as Error).message;
        }
        throw new Error("no error was raised");
    };

    const cases: Array<[string, (args: LooseArgs) => void, string]> = [
        ["negative standbys", (a) => (a.standbys = -1), "standbys must be at least 0 (got -1)"],
        ["synchronous mode with no standby", (a) => (a.standbys = 0), "synchronousMode needs at least one standby (standbys is 0) (got true)"],
        ["a size PostgreSQL cannot read", (a) => (a.parameters.work_mem = "64mb"), 'parameters.work_mem must be a PostgreSQL size such as 64MB (got "64mb")'],
        ["too few WAL senders", (a) => (a.parameters.max_wal_senders = 2), "parameters.max_wal_senders must be at least standbys + 1 (3) (got 2)"],
        ["too few slots", (a) => (a.parameters.max_replication_slots = 2), "parameters.max_replication_slots must be at least standbys + 1 (3) (got 2)"],
        ["shared_buffers as large as the memory limit", (a) => (a.parameters.shared_buffers = "16GB"), 'parameters.shared_buffers must be less than resources.limits.memory (16Gi) (got "16GB")'],
        ["a short leader TTL", (a) => (a.patroni.ttl = 6), "patroni.ttl must be at least loopWait + 2 x retryTimeout (7) (got 6)"],
        ["a reserved role as app user", (a) => (a.appUser = "replicator"), 'appUser must not be one of the cluster\'s own roles (postgres, replicator, monitor) (got "replicator")'],
        ["a database name that is not an identifier", (a) => (a.database = "Prepx-DB"), 'database must be a lower-case PostgreSQL identifier (got "Prepx-DB")'],
        ["no PgBouncer", (a) => (a.pgbouncer.replicas = 0), "pgbouncer.replicas must be at least 1 (got 0)"],
        [
            "pools over max_connections",
            (a) => (a.pgbouncer.defaultPoolSize = 200),
            "connection budget exceeded: PgBouncer server pools 3 x (200 + 20) = 660; PostgreSQL allows 507 - 5 superuser-reserved - 40 reserved = 462",
        ],
        ["a bad storage quantity", (a) => (a.storage = "500GB"), 'storage must be a memory quantity such as 512Mi or 8Gi (got "500GB")'],
        ["a misspelt key", (a) => (a.replcas = 2), "replcas is not a known key (got 2)"],
        ["a misspelt PgBouncer key", (a) => (a.pgbouncer.replcas = 2), "pgbouncer.replcas is not a known key (got 2)"],
        ["the arg's old name, with the new one", (a) => ((a.replicas = a.standbys), delete a.standbys), "replicas is not a known key (got 2); it is now standbys"],
        ["a built image without a registry", (a) => delete a.registry, "registry is required: image is built from images/postgres (not set)"],
        ["a supplied password of the wrong type, never shown", (a) => (a.passwords = { app: 12345 }), "passwords.app must be a string (got a secret value)"],
    ];
    test.each(cases)("%s", (_title, change, message) => {
        counter += 1;
        const name = `bad${counter}`;
        expect(errorOf(name, change)).toBe(`PostgresCluster ${name}: ${message}`);
    });

    test("several problems are reported at once, one per line", () => {
        const message = errorOf("several", (a) => {
            a.standbys = -1;
            a.storage = "lots";
            a.pgbouncer.replicas = 0;
            a.replcas = 2;
        });
        expect(message.split("\n")).toEqual([
            "PostgresCluster several: standbys must be at least 0 (got -1)",
            'PostgresCluster several: storage must be a memory quantity such as 512Mi or 8Gi (got "lots")',
            "PostgresCluster several: pgbouncer.replicas must be at least 1 (got 0)",
            "PostgresCluster several: replcas is not a known key (got 2)",
        ]);
    });

    test("the name must leave room for the suffixes of the object names", () => {
        expect(errorOf("forty-one-characters-make-a-name-too-long", () => undefined)).toBe(
            'PostgresCluster forty-one-characters-make-a-name-too-long: the name must be a DNS label of at most 40 characters, since Services append suffixes (got "forty-one-characters-make-a-name-too-long")',
        );
        expect(errorOf("Postgres_DB", () => undefined)).toBe(
            'PostgresCluster Postgres_DB: the name must be a DNS label of at most 40 characters, since Services append suffixes (got "Postgres_DB")',
        );
    });
});
