// The fleet's pure renderers: the environment contract with the service images and the probes.
import {
    ENV_DOCS,
    EnvVar,
    ServiceEnvInput,
    disruptionAllowance,
    headlessServiceName,
    rateLimitEnvNames,
    renderServiceEnv,
    renderServiceProbes,
    serviceHost,
} from "../../components/fleet/render";

const input: ServiceEnvInput = {
    port: 3001,
    database: {
        host: "pgbouncer.prepx.svc.cluster.local",
        port: 6432,
        name: "prepx",
        user: "app",
        passwordSecret: { name: "postgres-app", key: "password" },
    },
    pool: { max: 100, min: 10, idleTimeoutMs: 30000, connectionTimeoutMs: 2000 },
    redis: { seedNodes: ["redis-0.redis-headless:6379", "redis-1.redis-headless:6379"], passwordSecret: { name: "redis-auth", key: "password" } },
    rateLimits: {
        global: { points: 10000, duration: 60, blockDuration: 60 },
        ip: { points: 1000, duration: 60, blockDuration: 300 },
        user: { points: 2000, duration: 60, blockDuration: 300 },
        trading: { points: 600, duration: 60, blockDuration: 600 },
    },
};

const asMap = (env: EnvVar[]): Record<string, EnvVar> => Object.fromEntries(env.map((variable) => [variable.name, variable]));
const literalOf = (env: EnvVar[], name: string): string | undefined => {
    const variable = asMap(env)[name];
    return variable && "value" in variable ? variable.value : undefined;
};

describe("renderServiceEnv", () => {
    test("renders every documented variable, in the documented order, each once", () => {
        const names = renderServiceEnv(input).map((variable) => variable.name);
        expect(names).toEqual(ENV_DOCS.map((doc) => doc.name));
        expect(new Set(names).size).toBe(names.length);
    });

    test("database through PgBouncer, pool settings as plain numbers", () => {
        const env = renderServiceEnv(input);
        expect(literalOf(env, "DB_HOST")).toBe("pgbouncer.prepx.svc.cluster.local");
        expect(literalOf(env, "DB_PORT")).toBe("6432");
        expect(literalOf(env, "DB_NAME")).toBe("prepx");
        expect(literalOf(env, "DB_USER")).toBe("app");
        expect(literalOf(env, "DB_POOL_MAX")).toBe("100");
        expect(literalOf(env, "DB_POOL_MIN")).toBe("10");
        expect(literalOf(env, "DB_POOL_IDLE_TIMEOUT_MS")).toBe("30000");
        expect(literalOf(env, "DB_POOL_CONNECTION_TIMEOUT_MS")).toBe("2000");
        expect(literalOf(env, "PORT")).toBe("3001");
    });

    test("passwords only as secretKeyRefs", () => {
        const env = asMap(renderServiceEnv(input));
        expect(env.DB_PASSWORD).toEqual({ name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "postgres-app", key: "password" } } });
        expect(env.REDIS_PASSWORD).toEqual({ name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: "redis-auth", key: "password" } } });
        const withValues = renderServiceEnv(input).filter((variable) => "value" in variable).map((variable) => variable.name);
        expect(withValues.filter((name) => /PASSWORD|SECRET|TOKEN/.test(name))).toEqual([]);
    });

    test("Redis seeds comma-separated", () => {
        expect(literalOf(renderServiceEnv(input), "REDIS_CLUSTER_NODES")).toBe("redis-0.redis-headless:6379,redis-1.redis-headless:6379");
    });

    test("four rate-limit tiers with points, duration and block duration", () => {
        const env = renderServiceEnv(input);
        expect(literalOf(env, "RATE_LIMIT_GLOBAL_POINTS")).toBe("10000");
        expect(literalOf(env, "RATE_LIMIT_GLOBAL_DURATION_SECONDS")).toBe("60");
        expect(literalOf(env, "RATE_LIMIT_GLOBAL_BLOCK_DURATION_SECONDS")).toBe("60");
        expect(literalOf(env, "RATE_LIMIT_IP_BLOCK_DURATION_SECONDS")).toBe("300");
        expect(literalOf(env, "RATE_LIMIT_USER_POINTS")).toBe("2000");
        expect(literalOf(env, "RATE_LIMIT_TRADING_POINTS")).toBe("600");
        expect(literalOf(env, "RATE_LIMIT_TRADING_BLOCK_DURATION_SECONDS")).toBe("600");
        expect(rateLimitEnvNames("ip")).toEqual({
            points: "RATE_LIMIT_IP_POINTS",
            duration: "RATE_LIMIT_IP_DURATION_SECONDS",
            blockDuration: "RATE_LIMIT_IP_BLOCK_DURATION_SECONDS",
        });
    });

    test("a service without a database gets no DB_* variable, and everything else", () => {
        const names = renderServiceEnv({ ...input, database: undefined }).map((variable) => variable.name);
        expect(names.filter((name) => name.startsWith("DB_"))).toEqual([]);
        expect(names).toEqual(ENV_DOCS.filter((doc) => doc.scope === "all").map((doc) => doc.name));
    });

    test("every documented variable has a meaning", () => {
        for (const doc of ENV_DOCS) expect(doc.meaning.length).toBeGreaterThan(10);
    });
});

describe("renderServiceProbes", () => {
    test("readiness and liveness are the plan's health check on the health path", () => {
        const probes = renderServiceProbes("/health", { periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3 }, 120);
        for (const probe of [probes.readinessProbe, probes.livenessProbe]) {
            expect(probe).toEqual({ httpGet: { path: "/health", port: "http" }, periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3 });
        }
    });

    test("the startup probe polls every 5 s for the startup timeout", () => {
        const health = { periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3 };
        expect(renderServiceProbes("/healthz", health, 120).startupProbe).toEqual({
            httpGet: { path: "/healthz", port: "http" },
            periodSeconds: 5,
            timeoutSeconds: 5,
            failureThreshold: 24,
        });
        // Rounded up: never shorter than asked.
        expect(renderServiceProbes("/h", health, 7).startupProbe.failureThreshold).toBe(2);
    });
});

describe("names and budgets", () => {
    test("PDB allowance is 10 % of the HPA minimum, at least one pod", () => {
        expect([1, 8, 9, 10, 40, 45].map(disruptionAllowance)).toEqual([1, 1, 1, 1, 4, 4]);
    });

    test("hosts", () => {
        expect(headlessServiceName("api-gateway")).toBe("api-gateway-headless");
        expect(serviceHost("api-gateway-headless", "prepx", "cluster.local")).toBe("api-gateway-headless.prepx.svc.cluster.local");
    });
});
