// The PostgreSQL connection budget: clients (service pods x pool size) -> PgBouncer -> PostgreSQL.
// The original plan's 40 pods x 100 connections against max_connections 500 is what this prevents.

/** What the budget is computed from; every figure comes from the stack config. */
export interface ConnectionBudgetInput {
    /** Services that hold a pool; `maxReplicas` is the HPA maximum (the worst case). */
    services: { name: string; maxReplicas: number; usesDatabase: boolean }[];
    /** Pool max of each service pod. */
    poolMax: number;
    pgbouncer: { replicas: number; maxClientConn: number; defaultPoolSize: number; reservePoolSize: number };
    postgres: { maxConnections: number; superuserReservedConnections: number; reservedConnections: number };
}

/** The budget's figures and verdict. */
export interface ConnectionBudget {
    /** Sum over database services of maxReplicas x poolMax. */
    clientConnections: number;
    /** PgBouncer replicas x max_client_conn. */
    clientLimit: number;
    /** PgBouncer replicas x (default_pool_size + reserve_pool_size): what PostgreSQL must accept. */
    serverConnections: number;
    /** max_connections - superuser_reserved_connections - reservedConnections. */
    serverLimit: number;
    /** Each arithmetic line, for reports. */
    clientArithmetic: string;
    serverArithmetic: string;
    /** One line per exceeded limit, showing the arithmetic; empty when the sizing fits. */
    problems: string[];
}

/** Computes the connection budget and says which limit, if any, it exceeds. Pure. */
export function connectionBudget(input: ConnectionBudgetInput): ConnectionBudget {
    const pooled = input.services.filter((service) => service.usesDatabase);
    const clientConnections = pooled.reduce((sum, service) => sum + service.maxReplicas * input.poolMax, 0);
    const clientTerms = pooled.map((service) => `${service.name} ${service.maxReplicas} x ${input.poolMax}`).join(" + ") || "no service";
    const { replicas, maxClientConn, defaultPoolSize, reservePoolSize } = input.pgbouncer;
    const clientLimit = replicas * maxClientConn;
    const serverConnections = replicas * (defaultPoolSize + reservePoolSize);
    const { maxConnections, superuserReservedConnections, reservedConnections } = input.postgres;
    const serverLimit = maxConnections - superuserReservedConnections - reservedConnections;

    const clientArithmetic =
        `service pools ${clientTerms} = ${clientConnections} client connections; ` +
        `PgBouncer accepts ${replicas} x ${maxClientConn} = ${clientLimit}`;
    const serverArithmetic =
        `PgBouncer server pools ${replicas} x (${defaultPoolSize} + ${reservePoolSize}) = ${serverConnections}; ` +
        `PostgreSQL allows ${maxConnections} - ${superuserReservedConnections} superuser-reserved - ${reservedConnections} reserved = ${serverLimit}`;
    const problems: string[] = [];
    if (clientConnections > clientLimit) problems.push(`connection budget exceeded: ${clientArithmetic}`);
    if (serverConnections > serverLimit) problems.push(`connection budget exceeded: ${serverArithmetic}`);
    return { clientConnections, clientLimit, serverConnections, serverLimit, clientArithmetic, serverArithmetic, problems };
}
