// The postgres and pgbouncer sections of the stack config: bad values fail with one exact message
// naming the stack, the key path, what was expected and the value given.
import { parseStackConfig } from "../../config";
import { configErrorOf, configWith, RawConfig } from "../helpers/config-errors";
import { readStackConfig } from "../../scripts/stack-files";

/** The message `stack`'s config fails with after `change`. */
const errorOf = (stack: string, change: (raw: RawConfig) => void): string => configErrorOf(configWith(stack, change), stack);

describe("postgres and pgbouncer stack config", () => {
    test("both stacks parse, prod synchronous with 2 replicas, dev asynchronous with 1", () => {
        const prod = parseStackConfig("prod", readStackConfig("prod"));
        const dev = parseStackConfig("dev", readStackConfig("dev"));
        expect([prod.postgres.replicas, prod.postgres.synchronousMode]).toEqual([2, true]);
        expect([dev.postgres.replicas, dev.postgres.synchronousMode]).toEqual([1, false]);
        expect(prod.postgres.storage).toBe("500Gi");
        expect(prod.pgbouncer.replicas).toBe(3);
    });

    const cases: Array<[string, string, (raw: RawConfig) => void, string]> = [
        ["prod", "a negative replica count", (r) => (r.postgres.replicas = -1), "prod: postgres.replicas must be at least 0 (got -1)"],
        ["prod", "synchronous mode with no replica", (r) => (r.postgres.replicas = 0), "prod: postgres.synchronousMode needs at least one replica (postgres.replicas is 0) (got true)"],
        ["dev", "asynchronous with no replica is accepted: only the PgBouncer error is reported", (r) => ((r.postgres.replicas = 0), (r.pgbouncer.replicas = 0)), "dev: pgbouncer.replicas must be at least 1 (got 0)"],
        ["prod", "a size with a space", (r) => (r.postgres.parameters.shared_buffers = "4 GB"), 'prod: postgres.parameters.shared_buffers must be a PostgreSQL size such as 4GB (got "4 GB")'],
        ["prod", "a lower-case unit PostgreSQL rejects", (r) => (r.postgres.parameters.work_mem = "64mb"), 'prod: postgres.parameters.work_mem must be a PostgreSQL size such as 64MB (got "64mb")'],
        ["prod", "a Kubernetes quantity as a PostgreSQL size", (r) => (r.postgres.parameters.effective_cache_size = "12Gi"), 'prod: postgres.parameters.effective_cache_size must be a PostgreSQL size such as 12GB (got "12Gi")'],
        ["prod", "a number as a size", (r) => (r.postgres.parameters.maintenance_work_mem = 512), "prod: postgres.parameters.maintenance_work_mem must be a string (got 512)"],
        ["prod", "an unknown wal_level", (r) => (r.postgres.parameters.wal_level = "minimal"), 'prod: postgres.parameters.wal_level must be one of "replica", "logical" (got "minimal")'],
        ["prod", "fewer WAL senders than members", (r) => (r.postgres.parameters.max_wal_senders = 2), "prod: postgres.parameters.max_wal_senders must be at least replicas + 1 (3) (got 2)"],
        ["prod", "fewer replication slots than members", (r) => (r.postgres.parameters.max_replication_slots = 2), "prod: postgres.parameters.max_replication_slots must be at least replicas + 1 (3) (got 2)"],
        ["prod", "shared_buffers as large as the memory limit", (r) => (r.postgres.parameters.shared_buffers = "16GB"), 'prod: postgres.parameters.shared_buffers must be less than resources.limits.memory (16Gi) (got "16GB")'],
        ["dev", "shared_buffers above dev's memory limit", (r) => (r.postgres.parameters.shared_buffers = "2GB"), 'dev: postgres.parameters.shared_buffers must be less than resources.limits.memory (1Gi) (got "2GB")'],
        ["prod", "a leader TTL shorter than loop + 2 retries", (r) => (r.postgres.patroni.ttl = 20), "prod: postgres.patroni.ttl must be at least loopWait + 2 x retryTimeout (30) (got 20)"],
        ["prod", "an application user that is not a role name", (r) => (r.postgres.appUser = "Prepx-App"), 'prod: postgres.appUser must be a PostgreSQL role name (got "Prepx-App")'],
        ["prod", "an unpinned exporter", (r) => (r.pgbouncer.exporterImage = "prometheuscommunity/pgbouncer-exporter"), 'prod: pgbouncer.exporterImage must be an image pinned to a version tag or digest (not \'latest\', not untagged) (got "prometheuscommunity/pgbouncer-exporter")'],
        ["prod", "an unknown postgres key", (r) => (r.postgres.synchronous = true), "prod: postgres.synchronous is not a known key (got true)"],
    ];

    test.each(cases)("%s: %s", (stack, _title, change, message) => {
        expect(errorOf(stack, change)).toBe(message);
    });

    test("PgBouncer pools beyond max_connections are refused with the arithmetic", () => {
        expect(errorOf("prod", (r) => (r.pgbouncer.defaultPoolSize = 200))).toBe(
            "prod: connection budget exceeded: PgBouncer server pools 3 x (200 + 20) = 660; PostgreSQL allows 500 - 5 superuser-reserved - 40 reserved = 455",
        );
    });
});
