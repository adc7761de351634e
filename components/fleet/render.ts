// The service fleet's contract with the application, as text: the names and meanings of the
// environment variables every service container receives (the README's table is ENV_DOCS; specs.ts
// fills them in), and the DNS names of the services.

/** Tier names in the order they are rendered. */
export const RATE_LIMIT_TIERS = ["global", "ip", "user", "trading"] as const;

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
    PGSSLMODE: "PGSSLMODE",
    PGSSLROOTCERT: "PGSSLROOTCERT",
    REDIS_CLUSTER_NODES: "REDIS_CLUSTER_NODES",
    REDIS_USERNAME: "REDIS_USERNAME",
    REDIS_PASSWORD: "REDIS_PASSWORD",
    REDIS_TLS: "REDIS_TLS",
    REDIS_TLS_CA_FILE: "REDIS_TLS_CA_FILE",
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
    {
        name: ENV.PGSSLMODE,
        meaning:
            "`verify-full`: connect over TLS, checking PgBouncer's certificate against PGSSLROOTCERT and DB_HOST (libpq, psycopg and pgx read it as is; node-postgres reads only the mode, so pass `ssl: { ca: <PGSSLROOTCERT's contents> }` yourself). PgBouncer refuses plaintext clients.",
        scope: "database",
    },
    { name: ENV.PGSSLROOTCERT, meaning: "Path of the PEM file of the CA that signed PgBouncer's certificate (mounted read-only).", scope: "database" },
    { name: ENV.REDIS_CLUSTER_NODES, meaning: "Comma-separated `host:port` seeds of the Redis cluster (stable pod hostnames).", scope: "all" },
    { name: ENV.REDIS_USERNAME, meaning: "The service's own Redis ACL user (data commands and EVAL/EVALSHA; no administrative command).", scope: "all" },
    { name: ENV.REDIS_PASSWORD, meaning: "That user's password, from the service's own Secret (secretKeyRef).", scope: "all" },
    { name: ENV.REDIS_TLS, meaning: "`true`: the Redis nodes accept TLS only (connect with TLS, e.g. ioredis `tls: {}`).", scope: "all" },
    { name: ENV.REDIS_TLS_CA_FILE, meaning: "Path of the CA certificate to verify the Redis nodes with (mounted read-only).", scope: "all" },
    ...RATE_LIMIT_TIERS.flatMap((tier) => {
        const names = rateLimitEnvNames(tier);
        return [
            { name: names.points, meaning: `Requests allowed per window in the ${tier} tier.`, scope: "all" as const },
            { name: names.duration, meaning: `Length of the ${tier} tier's window, in seconds.`, scope: "all" as const },
            { name: names.blockDuration, meaning: `Seconds a key stays blocked after exceeding the ${tier} tier.`, scope: "all" as const },
        ];
    }),
];



/** Name of a service's headless Service (one DNS record per ready pod; the load balancer resolves it). */
export function headlessServiceName(service: string): string {
    return `${service}-headless`;
}
