// PostgresCluster under Pulumi mocks with Pulumi.prod.yaml's configuration, instantiated directly
// the way index.ts composes it; plus the component's own argument checks.
import * as pulumi from "@pulumi/pulumi";
import { clusterArgs, describePostgresCluster, PostgresContext } from "../helpers/postgres-expectations";
import { installMocks, settled } from "../helpers/mocks";
import { readStackConfig } from "../../scripts/stack-files";

let context: PostgresContext;
// eslint-disable-next-line @typescript-eslint/consistent-type-imports
let component: typeof import("../../components/postgres");
// eslint-disable-next-line @typescript-eslint/consistent-type-imports
let validArgs: import("../../components/postgres").PostgresClusterArgs;

beforeAll(async () => {
    const recorded = await installMocks("prod");
    component = await import("../../components/postgres");
    const { parseStackConfig } = await import("../../config");
    const config = parseStackConfig("prod", readStackConfig("prod"));
    validArgs = clusterArgs(config);
    const cluster = new component.PostgresCluster("postgres", validArgs);
    await settled(recorded);
    context = { recorded, cluster, config };
});

describePostgresCluster(() => context, {
    stack: "prod",
    // prod pushes the built image and pods run its digest, so a rebuild rolls them.
    image: `ghcr.io/prepx/postgres-patroni:15.10-patroni3.0.2@sha256:${"0".repeat(64)}`,
    protect: true,
});

describe("PostgresCluster rejects bad args, naming the arg", () => {
    let counter = 0;
    const attempt = (change: (args: Record<string, any>) => void): (() => void) => { // eslint-disable-line @typescript-eslint/no-explicit-any
        const args = structuredClone({ ...validArgs, namespace: "prepx" });
        change(args);
        counter += 1;
        return () => new component.PostgresCluster(`bad${counter}`, args as typeof validArgs);
    };
    const cases: Array<[string, (args: Record<string, any>) => void, string]> = [ // eslint-disable-line @typescript-eslint/no-explicit-any
        ["negative replicas", (a) => (a.replicas = -1), "args.replicas must be a non-negative integer (got -1)"],
        ["synchronous mode alone", (a) => (a.replicas = 0), "args.synchronousMode needs at least one replica (args.replicas is 0)"],
        ["a size PostgreSQL cannot read", (a) => (a.parameters.work_mem = "64mb"), "args.parameters.work_mem must be a PostgreSQL size such as 4GB (got '64mb')"],
        ["too few WAL senders", (a) => (a.parameters.max_wal_senders = 2), "args.parameters.max_wal_senders must be at least replicas + 1 (3) (got 2)"],
        ["too few slots", (a) => (a.parameters.max_replication_slots = 2), "args.parameters.max_replication_slots must be at least replicas + 1 (3)"],
        ["shared_buffers above the memory limit", (a) => (a.parameters.shared_buffers = "16GB"), "args.parameters.shared_buffers (16GB) must be less than args.resources.limits.memory (16Gi)"],
        ["a short leader TTL", (a) => (a.patroni.ttl = 20), "args.patroni.ttl must be at least loopWait + 2 x retryTimeout (30) (got 20)"],
        ["a reserved role as app user", (a) => (a.appUser = "replicator"), "args.appUser must not be one of the cluster's own roles"],
        ["a database name that is not an identifier", (a) => (a.database = "Prepx-DB"), "args.database must be a lower-case PostgreSQL identifier (got 'Prepx-DB')"],
        ["no PgBouncer", (a) => (a.pgbouncer.replicas = 0), "args.pgbouncer.replicas must be an integer of at least 1 (got 0)"],
        ["pools over max_connections", (a) => (a.pgbouncer.defaultPoolSize = 200), "args.pgbouncer pools exceed args.parameters.max_connections: PgBouncer server pools 3 x (200 + 20) = 660"],
        ["a bad storage quantity", (a) => (a.storage = "500GB"), "args.storage must be a Kubernetes quantity such as 500Gi (got '500GB')"],
    ];
    test.each(cases)("%s", (_title, change, message) => {
        const create = attempt(change);
        expect(create).toThrow(pulumi.ResourceError);
        expect(create).toThrow(message);
    });
});
