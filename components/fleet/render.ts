// Pure renderers for the service fleet: the environment every service container receives (its
// documented contract with the application) and its health probes. ServiceFleet puts them in the
// Deployments; the unit tests call them directly; the README's table is ENV_DOCS.

/** A secret value reached by reference: the Secret's name and the key inside it. */
export interface SecretKeyRef {
    /** Name of the Kubernetes Secret. */
    name: string;
    /** Key inside the Secret. */
    key: string;
}

/** One container environment variable: a literal value or a reference into a Secret. */
export type EnvVar = { name: string; value: string } | { name: string; valueFrom: { secretKeyRef: SecretKeyRef } };

/** Where and as whom a service connects to PostgreSQL (through PgBouncer, never a server directly). */
export interface DatabaseConnection {
    /** DNS name of the PgBouncer Service. */
    host: string;
    /** PgBouncer's port. */
    port: number;
    /** Database name. */
    name: string;
    /** Application role. */
    user: string;
    /** Secret and key holding the role's password. */
    passwordSecret: SecretKeyRef;
}

/** The Redis cluster a service uses (rate limiting state, caches). */
export interface RedisConnection {
    /** `host:port` of cluster nodes; clients discover the rest with CLUSTER SLOTS / MOVED. */
    seedNodes: string[];
    /** Secret and key holding the cluster password. */
    passwordSecret: SecretKeyRef;
}

/** Each service pod's PostgreSQL pool (node-postgres `Pool` options in the original plan). */
export interface PoolSettings {
    /** Most connections a pod holds (counted by the connection budget). */
    max: number;
    /** Connections a pod keeps open when idle. */
    min: number;
    /** An idle connection is closed after this many milliseconds. */
    idleTimeoutMs: number;
    /** Acquiring a new connection fails after this many milliseconds. */
    connectionTimeoutMs: number;
}

/** One application rate-limit tier (rate-limiter-flexible `points` / `duration` / `blockDuration`). */
export interface RateLimitTier {
    /** Requests allowed per window. */
    points: number;
    /** Window length in seconds. */
    duration: number;
    /** Seconds a key stays blocked once it exceeded the tier (0 = only until the window ends). */
    blockDuration: number;
}

/** The application's four rate-limit tiers. */
export interface RateLimitTiers {
    global: RateLimitTier;
    ip: RateLimitTier;
    user: RateLimitTier;
    trading: RateLimitTier;
}

/** The plan's health check: interval, timeout, retries. */
export interface HealthCheckSettings {
    /** Seconds between probes (the plan's interval, 30 s). */
    periodSeconds: number;
    /** Seconds a probe may take (the plan's timeout, 5 s). */
    timeoutSeconds: number;
    /** Consecutive failures before the pod is unready / restarted (the plan's retries, 3). */
    failureThreshold: number;
}

/** Tier names in the order they are rendered. */
export const RATE_LIMIT_TIERS = ["global", "ip", "user", "trading"] as const;

/** The name of the container port every service listens on; probes and Services refer to it. */
export const HTTP_PORT_NAME = "http";

/** Environment variable names, one place, so the component, the tests and the README agree. */
export const ENV = {
    PORT: "PORT",
    DB_HOST: "DB_HOST",
    DB_PORT: "DB_PORT",
    DB_NAME: "DB_NAME",
    DB_USER: "DB_USER",
    DB_PASSWORD: "DB_PASSWORD",
    DB_POOL_MAX: "DB_POOL_MAX",
    DB_POOL_MIN: "DB_POOL_MIN",
    DB_POOL_IDLE_TIMEOUT_MS: "DB_POOL_IDLE_TIMEOUT_MS",
    DB_POOL_CONNECTION_TIMEOUT_MS: "DB_POOL_CONNECTION_TIMEOUT_MS",
    REDIS_CLUSTER_NODES: "REDIS_CLUSTER_NODES",
    REDIS_PASSWORD: "REDIS_PASSWORD",
} as const;

/** `RATE_LIMIT_<TIER>_POINTS`, `..._DURATION_SECONDS`, `..._BLOCK_DURATION_SECONDS`. */
export function rateLimitEnvNames(tier: (typeof RATE_LIMIT_TIERS)[number]): { points: string; duration: string; blockDuration: string } {
    const prefix = `RATE_LIMIT_${tier.toUpperCase()}`;
    return { points: `${prefix}_POINTS`, duration: `${prefix}_DURATION_SECONDS`, blockDuration: `${prefix}_BLOCK_DURATION_SECONDS` };
}

/**
 * What every variable means: the contract with the service images, rendered into the README.
 * Order = the order in the container's env.
 */
export const ENV_DOCS: ReadonlyArray<{ name: string; meaning: string; scope: "all" | "database" }> = [
    { name: ENV.PORT, meaning: "TCP port the service's HTTP server listens on (health path and /metrics included).", scope: "all" },
    { name: ENV.DB_HOST, meaning: "PgBouncer Service host (transaction pooling); never a PostgreSQL pod.", scope: "database" },
    { name: ENV.DB_PORT, meaning: "PgBouncer port.", scope: "database" },
    { name: ENV.DB_NAME, meaning: "Database name.", scope: "database" },
    { name: ENV.DB_USER, meaning: "Application role.", scope: "database" },
    { name: ENV.DB_PASSWORD, meaning: "Application role's password, from its Secret (secretKeyRef).", scope: "database" },
    { name: ENV.DB_POOL_MAX, meaning: "Most PostgreSQL connections one pod holds (counted by the connection budget).", scope: "database" },
    { name: ENV.DB_POOL_MIN, meaning: "Connections one pod keeps open when idle.", scope: "database" },
    { name: ENV.DB_POOL_IDLE_TIMEOUT_MS, meaning: "Milliseconds before an idle pooled connection is closed.", scope: "database" },
    { name: ENV.DB_POOL_CONNECTION_TIMEOUT_MS, meaning: "Milliseconds before acquiring a new connection fails.", scope: "database" },
    { name: ENV.REDIS_CLUSTER_NODES, meaning: "Comma-separated `host:port` seeds of the Redis cluster (stable pod hostnames).", scope: "all" },
    { name: ENV.REDIS_PASSWORD, meaning: "Redis cluster password, from its Secret (secretKeyRef).", scope: "all" },
    ...RATE_LIMIT_TIERS.flatMap((tier) => {
        const names = rateLimitEnvNames(tier);
        return [
            { name: names.points, meaning: `Requests allowed per window in the ${tier} tier.`, scope: "all" as const },
            { name: names.duration, meaning: `Length of the ${tier} tier's window, in seconds.`, scope: "all" as const },
            { name: names.blockDuration, meaning: `Seconds a key stays blocked after exceeding the ${tier} tier.`, scope: "all" as const },
        ];
    }),
];

/** Everything one service container's environment is rendered from. */
export interface ServiceEnvInput {
    /** Port the service listens on. */
    port: number;
    /** The database connection; omitted for services that hold no PostgreSQL pool. */
    database?: DatabaseConnection;
    /** Pool settings; used only together with `database`. */
    pool: PoolSettings;
    redis: RedisConnection;
    rateLimits: RateLimitTiers;
}

const literal = (name: string, value: string | number): EnvVar => ({ name, value: String(value) });
const fromSecret = (name: string, ref: SecretKeyRef): EnvVar => ({ name, valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } } });

/**
 * The environment of one service container. Passwords are only ever secretKeyRefs: no secret
 * value passes through here. Services without a database get no DB_* variables, so a service
 * outside the connection budget cannot open a pool by accident.
 */
export function renderServiceEnv(input: ServiceEnvInput): EnvVar[] {
    const env: EnvVar[] = [literal(ENV.PORT, input.port)];
    if (input.database) {
        const db = input.database;
        env.push(
            literal(ENV.DB_HOST, db.host),
            literal(ENV.DB_PORT, db.port),
            literal(ENV.DB_NAME, db.name),
            literal(ENV.DB_USER, db.user),
            fromSecret(ENV.DB_PASSWORD, db.passwordSecret),
            literal(ENV.DB_POOL_MAX, input.pool.max),
            literal(ENV.DB_POOL_MIN, input.pool.min),
            literal(ENV.DB_POOL_IDLE_TIMEOUT_MS, input.pool.idleTimeoutMs),
            literal(ENV.DB_POOL_CONNECTION_TIMEOUT_MS, input.pool.connectionTimeoutMs),
        );
    }
    env.push(literal(ENV.REDIS_CLUSTER_NODES, input.redis.seedNodes.join(",")), fromSecret(ENV.REDIS_PASSWORD, input.redis.passwordSecret));
    for (const tier of RATE_LIMIT_TIERS) {
        const names = rateLimitEnvNames(tier);
        const limits = input.rateLimits[tier];
        env.push(literal(names.points, limits.points), literal(names.duration, limits.duration), literal(names.blockDuration, limits.blockDuration));
    }
    return env;
}

/** An HTTP GET probe on the service's named port. */
export interface HttpProbe {
    httpGet: { path: string; port: string };
    periodSeconds: number;
    timeoutSeconds: number;
    failureThreshold: number;
}

/** The three probes of a service container. */
export interface ServiceProbes {
    readinessProbe: HttpProbe;
    livenessProbe: HttpProbe;
    startupProbe: HttpProbe;
}

/** Period of the startup probe: short, so a pod that starts fast is ready fast. */
export const STARTUP_PROBE_PERIOD_SECONDS = 5;

/**
 * Readiness and liveness are the plan's health check exactly (period, timeout, failures on the
 * health path). A startup probe guards slow starts: until the health path first answers, it
 * polls every 5 s for up to `startupTimeoutSeconds`, and liveness does not run, so a slow
 * migration or cache warm-up is not killed by the 3 x 30 s liveness window.
 */
export function renderServiceProbes(healthPath: string, health: HealthCheckSettings, startupTimeoutSeconds: number): ServiceProbes {
    const probe = (periodSeconds: number, failureThreshold: number): HttpProbe => ({
        httpGet: { path: healthPath, port: HTTP_PORT_NAME },
        periodSeconds,
        timeoutSeconds: health.timeoutSeconds,
        failureThreshold,
    });
    return {
        readinessProbe: probe(health.periodSeconds, health.failureThreshold),
        livenessProbe: probe(health.periodSeconds, health.failureThreshold),
        startupProbe: probe(STARTUP_PROBE_PERIOD_SECONDS, Math.max(1, Math.ceil(startupTimeoutSeconds / STARTUP_PROBE_PERIOD_SECONDS))),
    };
}

/**
 * Pods a PodDisruptionBudget lets a voluntary disruption (node drain) take at once: 10 % of the
 * minimum replica count, at least 1. Capacity stays >= 90 % of the HPA floor, and a 40-pod
 * service does not need 40 sequential evictions to drain a node.
 */
export function disruptionAllowance(minReplicas: number): number {
    return Math.max(1, Math.floor(minReplicas / 10));
}

/** In-cluster DNS name of a Service. */
export function serviceHost(service: string, namespace: string, clusterDomain: string): string {
    return `${service}.${namespace}.svc.${clusterDomain}`;
}

/** Name of a service's headless Service (one DNS record per ready pod; the load balancer resolves it). */
export function headlessServiceName(service: string): string {
    return `${service}-headless`;
}
