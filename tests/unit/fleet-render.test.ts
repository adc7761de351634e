// The fleet's contract as text: the documented environment variables and the services' DNS names.
import { serviceHost } from "../../components/dns";
import { ENV_DOCS, headlessServiceName, rateLimitEnvNames } from "../../components/fleet/render";

describe("the environment contract", () => {
    test("every documented variable has a meaning; names are unique", () => {
        for (const doc of ENV_DOCS) expect(doc.meaning.length).toBeGreaterThan(10);
        expect(new Set(ENV_DOCS.map((doc) => doc.name)).size).toBe(ENV_DOCS.length);
    });

    test("database variables are scoped to services holding a pool", () => {
        expect(ENV_DOCS.filter((doc) => doc.scope === "database").map((doc) => doc.name)).toEqual([
            "DB_HOST",
            "DB_PORT",
            "DB_NAME",
            "DB_USER",
            "DB_PASSWORD",
            "DB_POOL_MAX",
            "DB_POOL_MIN",
            "DB_POOL_IDLE_TIMEOUT_MS",
            "DB_POOL_CONNECTION_TIMEOUT_MS",
            "PGSSLMODE",
            "PGSSLROOTCERT",
        ]);
    });

    test("rate-limit variable names per tier", () => {
        expect(rateLimitEnvNames("ip")).toEqual({
            points: "RATE_LIMIT_IP_POINTS",
            duration: "RATE_LIMIT_IP_DURATION_SECONDS",
            blockDuration: "RATE_LIMIT_IP_BLOCK_DURATION_SECONDS",
        });
    });
});

describe("names", () => {
    test("hosts", () => {
        expect(headlessServiceName("api-gateway")).toBe("api-gateway-headless");
        expect(serviceHost("api-gateway-headless", "prepx", "cluster.local")).toBe("api-gateway-headless.prepx.svc.cluster.local");
    });
});
