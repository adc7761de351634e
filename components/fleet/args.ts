// ServiceFleet's inputs, declared once: each field's rule, default and doc side by side. config.ts
// composes the stack's `services`, `servicePool`, `rateLimits` and `healthCheck` keys from
// `servicesSchema`, `servicePoolSchema`, `appRateLimitsSchema` and `healthCheckSchema` (each carries
// its own cross-field rule, so the key paths of its problems are the same in both places); the
// component parses `serviceFleetArgsSchema`, which adds the wiring and its rules.
import { z } from "zod";
import { dnsLabel, dnsName, imagePullSecretsSchema, imageSourceSchema, input, int, onlyWhenValid, port, registrySchema, resources } from "../schema";

/** 63 (the DNS label limit) minus `-headless`, which a service's headless Service appends. */
const MAX_SERVICE_NAME = 63 - "-headless".length;

/** A service name: a DNS label short enough to name its headless Service too. */
const serviceName = z
    .string()
    .regex(
        new RegExp(`^[a-z0-9]([-a-z0-9]{0,${MAX_SERVICE_NAME - 2}}[a-z0-9])?$`),
        `a DNS label of at most ${MAX_SERVICE_NAME} characters (its headless Service appends '-headless')`,
    );

/** An HTTP path: starts with `/`, no white space. */
const httpPath = z.string().regex(/^\/\S*$/, "an HTTP path starting with /");

/** Text that must not be empty (names handed to the services as they are). */
const nonEmpty = z.string().regex(/\S/, "a non-empty string");

/** One microservice of the fleet: an entry of the stack's `services`. */
const serviceSchema = z.strictObject({
    /** Names the Deployment, its Services, HPA and PDB; at most 54 characters (the headless Service appends `-headless`). */
    name: serviceName,
    /** Port the service's HTTP server listens on; it also serves the health path and /metrics. */
    port,
    /** HTTP path of the health check, e.g. `/health`. */
    healthPath: httpPath,
    /** A pinned image, or a build context built with @pulumi/docker (needs `registry`). */
    image: imageSourceSchema,
    /** Whether the service holds a PostgreSQL pool: only these get the DB_* variables and count in the connection budget. */
    usesDatabase: z.boolean(),
    /** HorizontalPodAutoscaler bounds; the Deployment starts at minReplicas. */
    autoscaling: z.strictObject({
        /** Pods the HPA never goes below (and the Deployment's size at creation). */
        minReplicas: int(1, 1000),
        /** Pods the HPA never goes above (counted by the connection budget). */
        maxReplicas: int(1, 1000),
        /** Average CPU use, in percent of the CPU request, the HPA scales to. */
        targetCpuPercent: int(1, 100),
    }),
    /** Requests and limits of the service container (the CPU request is the HPA's 100 %). */
    resources,
});

/** One service with its rules checked. */
export type FleetService = z.output<typeof serviceSchema>;

/** The rule between a service's fields: the HPA's maximum is at least its minimum. */
function checkService(service: FleetService, ctx: z.RefinementCtx): void {
    if (service.autoscaling.maxReplicas < service.autoscaling.minReplicas) {
        ctx.addIssue({
            code: "custom",
            path: ["autoscaling", "maxReplicas"],
            message: `must be at least autoscaling.minReplicas (${service.autoscaling.minReplicas})`,
        });
    }
}

/** The rule between the services: names are unique (they name Kubernetes objects and DNS records). */
function checkServices(services: FleetService[], ctx: z.RefinementCtx): void {
    const names = services.map((service) => service.name);
    names.forEach((name, index) => {
        if (names.indexOf(name) !== index) ctx.addIssue({ code: "custom", path: [index, "name"], message: "must be unique among services" });
    });
}

/** The stack's `services` and the fleet's: at least one, each checked, names unique. */
export const servicesSchema = z.array(serviceSchema.superRefine(checkService, onlyWhenValid)).min(1).superRefine(checkServices, onlyWhenValid);

/** Each service pod's PostgreSQL pool (node-postgres `Pool` options in the original plan): the stack's `servicePool`. */
export const servicePoolSchema = z
    .strictObject({
        /** Most connections a pod holds (counted by the connection budget). */
        max: int(1, 10000).default(100),
        /** Connections a pod keeps open when idle; at most `max`. */
        min: int(0, 10000).default(10),
        /** An idle connection is closed after this many milliseconds. */
        idleTimeoutMs: int(0).default(30000),
        /** Acquiring a new connection fails after this many milliseconds. */
        connectionTimeoutMs: int(1).default(2000),
    })
    .superRefine((pool, ctx) => {
        if (pool.min > pool.max) ctx.addIssue({ code: "custom", path: ["min"], message: `must be at most max (${pool.max})` });
    }, onlyWhenValid)
    .prefault({});

/** One rate-limit tier (rate-limiter-flexible `points` / `duration` / `blockDuration`) with its defaults. */
function rateLimitTier(points: number, duration: number, blockDuration: number) {
    return z
        .strictObject({
            /** Requests allowed per window. */
            points: int(1).default(points),
            /** Window length in seconds. */
            duration: int(1).default(duration),
            /** Seconds a key stays blocked once it exceeded the tier (0 = only until the window ends). */
            blockDuration: int(0).default(blockDuration),
        })
        .prefault({});
}

/** The application's four rate-limit tiers (rate-limiter-flexible): the stack's `rateLimits`. Defaults: the original plan's. */
export const appRateLimitsSchema = z
    .strictObject({
        /** Every request together: 10000 per minute, blocked 60 s. */
        global: rateLimitTier(10000, 60, 60),
        /** Per client address: 1000 per minute, blocked 5 min. */
        ip: rateLimitTier(1000, 60, 300),
        /** Per signed-in user: 2000 per minute, blocked 5 min. */
        user: rateLimitTier(2000, 60, 300),
        /** Trading calls per user: 600 per minute, blocked 10 min. */
        trading: rateLimitTier(600, 60, 600),
    })
    .prefault({});

/** The health check of every service (the plan: every 30 s, timeout 5 s, 3 failures): the stack's `healthCheck`. */
export const healthCheckSchema = z
    .strictObject({
        /** Seconds between readiness and liveness probes (the plan's interval). */
        periodSeconds: int(1, 600).default(30),
        /** Seconds one probe may take (the plan's timeout). */
        timeoutSeconds: int(1, 600).default(5),
        /** Consecutive failures before a pod is unready or restarted (the plan's retries). */
        failureThreshold: int(1, 100).default(3),
    })
    .prefault({});

/** The health check, defaults applied. */
export type HealthCheck = z.output<typeof healthCheckSchema>;

/** A key of a Secret, as Kubernetes allows it. */
const secretKey = z.string().regex(/^[-._a-zA-Z0-9]+$/, "a Secret key (letters, digits, '-', '_' or '.')");

/** A value kept in a Secret: the Secret's name and the key inside it. */
const secretKeyRefSchema = z.strictObject({
    /** Name of the Secret. */
    name: input(nonEmpty),
    /** Key inside the Secret. */
    key: secretKey,
});

/** The fields of ServiceFleet's args; `serviceFleetArgsSchema` adds the rules between them. */
const serviceFleetArgsShape = z.strictObject({
    /** Namespace of every object. */
    namespace: input(dnsLabel),
    /** Image pull Secrets (names in the namespace) on the ServiceAccounts of every service pod. */
    imagePullSecrets: imagePullSecretsSchema,
    /** The services, at least one, names unique. */
    services: servicesSchema,
    /** PgBouncer and the application role (from PostgresCluster); required when a service has `usesDatabase`. */
    database: z
        .strictObject({
            /** DNS name of the PgBouncer pooler Service (services never reach a PostgreSQL server directly). */
            host: input(nonEmpty),
            /** PgBouncer's port. */
            port,
            /** Database name. */
            name: nonEmpty,
            /** Application role. */
            user: nonEmpty,
            /** Secret holding the role's password, and the key inside it. */
            passwordSecret: secretKeyRefSchema,
            /**
             * Secret holding the CA that signed PgBouncer's certificate, and the key inside it
             * (PostgresCluster.connection.caSecret). Set: the services get PGSSLMODE=verify-full and
             * PGSSLROOTCERT, the CA's file mounted (PgBouncer takes TLS clients only).
             */
            caSecret: secretKeyRefSchema.optional(),
        })
        .optional(),
    /** The Redis cluster (from RedisCluster.connection). */
    redis: z.strictObject({
        /** `host:port` of the cluster's nodes (RedisCluster.seedNodes); clients discover the rest. */
        seedNodes: input(z.array(z.string())),
        /**
         * Each service's own ACL user and the Secret of its password, by service name
         * (RedisCluster.appUsers, from its `apps`); every service needs one.
         */
        users: z.record(
            z.string(),
            z.strictObject({
                /** The ACL user name. */
                username: nonEmpty,
                /** Secret holding the user's password, and the key inside it. */
                passwordSecret: secretKeyRefSchema,
            }),
        ),
        /** The CA certificate the nodes' TLS certificate is verified with (RedisCluster.caSecret): Redis speaks TLS only. */
        caSecret: secretKeyRefSchema,
    }),
    /** Each pod's PostgreSQL pool. */
    pool: servicePoolSchema,
    /** The application's rate-limit tiers. */
    rateLimits: appRateLimitsSchema,
    /** Readiness and liveness probes of every service. */
    healthCheck: healthCheckSchema,
    /** Where built images are pushed; required when a service has a build context. */
    registry: registrySchema.optional(),
    /** How long a pod may take to answer its health path for the first time (the startup probe's budget). */
    startupTimeoutSeconds: int(1).default(120),
    /** Non-root UID the containers run as; the image's files must be readable by it. */
    runAsUser: int(1).default(10001),
    /** Seconds a pod gets after SIGTERM to finish in-flight requests. */
    terminationGracePeriodSeconds: int(0).default(30),
    /** Path of the metrics endpoint on each service's port, in the scrape annotations. */
    metricsPath: httpPath.default("/metrics"),
    /** The cluster's DNS domain, used in the host outputs. */
    clusterDomain: dnsName.default("cluster.local"),
});

/** ServiceFleet's args with their defaults applied. */
export type ResolvedServiceFleetArgs = z.output<typeof serviceFleetArgsShape>;

/** The rules between the services and the wiring: the database and the registry are there when needed. */
function checkServiceFleetArgs(args: ResolvedServiceFleetArgs, ctx: z.RefinementCtx): void {
    const databaseUsers = args.services.filter((service) => service.usesDatabase).map((service) => service.name);
    if (databaseUsers.length > 0 && args.database === undefined) {
        ctx.addIssue({ code: "custom", path: ["database"], message: `is required: ${databaseUsers.join(", ")} use the database` });
    }
    for (const service of args.services) {
        if (args.redis.users[service.name] === undefined) {
            ctx.addIssue({ code: "custom", path: ["redis", "users", service.name], message: "is required: every service connects to Redis as its own user" });
        }
    }
    args.services.forEach((service, index) => {
        if ("build" in service.image && args.registry === undefined) {
            ctx.addIssue({ code: "custom", path: ["registry"], message: `is required: services[${index}] (${service.name}) has a build context` });
        }
    });
}

/** ServiceFleet's args: the services and their settings, plus the connections to PostgreSQL and Redis. */
export const serviceFleetArgsSchema = serviceFleetArgsShape.superRefine(checkServiceFleetArgs, onlyWhenValid);

/** What a caller passes to ServiceFleet: `namespace`, `services` and `redis` are required, `database` when a service uses it. */
export type ServiceFleetArgs = z.input<typeof serviceFleetArgsSchema>;
