import { connectionBudget } from "../../components/budget";
import { connectionBudgetInput, parseStackConfig } from "../../config";
import { readStackConfig } from "../../scripts/stack-files";
import { configWith } from "../helpers/config-errors";

describe("connection budget", () => {
    test("prod as configured fits, with the arithmetic shown", () => {
        const budget = connectionBudget(connectionBudgetInput(parseStackConfig("prod", readStackConfig("prod"))));
        expect(budget.problems).toEqual([]);
        expect(budget.clientArithmetic).toBe(
            "service pools api-gateway 16 x 100 + user-service 60 x 100 = 7600 client connections; PgBouncer accepts 3 x 3800 = 11400",
        );
        expect(budget.serverArithmetic).toBe(
            "PgBouncer server pools 3 x (134 + 20) = 462; PostgreSQL allows 507 - 5 superuser-reserved - 40 reserved = 462",
        );
    });

    test("the original plan (40 pods x pool 100 straight to max_connections 500) is refused", () => {
        // Without a transaction pooler every client connection is a server connection: model it as
        // a pass-through whose server pool equals its client pool.
        const budget = connectionBudget({
            services: [{ name: "user-service", maxReplicas: 40, usesDatabase: true }],
            poolMax: 100,
            pgbouncer: { replicas: 1, maxClientConn: 4000, defaultPoolSize: 4000, reservePoolSize: 0 },
            postgres: { maxConnections: 500, superuserReservedConnections: 3, reservedConnections: 0 },
        });
        expect(budget.problems).toEqual([
            "connection budget exceeded: PgBouncer server pools 1 x (4000 + 0) = 4000; PostgreSQL allows 500 - 3 superuser-reserved - 0 reserved = 497",
        ]);
    });

    test("services without a database pool do not count", () => {
        const budget = connectionBudget({
            services: [
                { name: "a", maxReplicas: 10, usesDatabase: true },
                { name: "b", maxReplicas: 1000, usesDatabase: false },
            ],
            poolMax: 10,
            pgbouncer: { replicas: 1, maxClientConn: 100, defaultPoolSize: 10, reservePoolSize: 0 },
            postgres: { maxConnections: 100, superuserReservedConnections: 3, reservedConnections: 10 },
        });
        expect(budget.clientConnections).toBe(100);
        expect(budget.problems).toEqual([]);
    });

    test("a stack whose HPA maximum outgrows PgBouncer fails preview with one message", () => {
        // An explicit max_client_conn: a derived one would follow the HPA maximum.
        const raw = configWith("prod", (config) => ((config.services[1].autoscaling.maxReplicas = 200), (config.pgbouncer.maxClientConn = 5000)));
        expect(() => parseStackConfig("prod", raw)).toThrow(
            new Error(
                "prod: connection budget exceeded: service pools api-gateway 16 x 100 + user-service 200 x 100 = 21600 client connections; PgBouncer accepts 3 x 5000 = 15000",
            ),
        );
    });

    test("a PgBouncer server pool larger than max_connections allows fails preview", () => {
        // An explicit max_connections: a derived one would follow the pools.
        const raw = configWith("prod", (config) => ((config.pgbouncer.defaultPoolSize = 200), (config.postgres.parameters.max_connections = 500)));
        expect(() => parseStackConfig("prod", raw)).toThrow(
            "prod: connection budget exceeded: PgBouncer server pools 3 x (200 + 20) = 660; PostgreSQL allows 500 - 5 superuser-reserved - 40 reserved = 455",
        );
    });
});
