import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ImageSource, RegistrySettings, resolveImage } from "../images";
import {
    ContainerResources,
    containerResources,
    containerSecurityContext,
    disruptionBudget,
    podSecurityContext,
    requireArg,
    scrapeAnnotations,
    scratchVolume,
    selectorLabels,
    spreadAcrossNodes,
    standardLabels,
    withDefaults,
} from "../k8s";
import {
    DatabaseConnection,
    HTTP_PORT_NAME,
    HealthCheckSettings,
    PoolSettings,
    RATE_LIMIT_TIERS,
    RateLimitTiers,
    RedisConnection,
    disruptionAllowance,
    headlessServiceName,
    renderServiceEnv,
    renderServiceProbes,
    serviceHost,
} from "./render";

export * from "./render";

/** One microservice of the fleet (the shape of an entry of the stack's `services`). */
export interface FleetService {
    /** DNS label, at most 54 characters (its headless Service appends `-headless`). Names the Deployment, Services, HPA and PDB. */
    name: string;
    /** Port the service's HTTP server listens on; also serves the health path and /metrics. */
    port: number;
    /** HTTP path of the health check, e.g. `/health`. */
    healthPath: string;
    /** A pinned image, or a build context built with @pulumi/docker (needs `registry`). */
    image: ImageSource;
    /** Whether the service holds a PostgreSQL pool: only these get the DB_* variables. */
    usesDatabase: boolean;
    /** HorizontalPodAutoscaler bounds; the Deployment starts at minReplicas. */
    autoscaling: { minReplicas: number; maxReplicas: number; targetCpuPercent: number };
    /** Requests and limits of the service container (CPU requests are the HPA's 100 %). */
    resources: ContainerResources;
}

/** PgBouncer's address and the application role (from PostgresCluster). */
export interface FleetDatabaseArgs {
    /** DNS name of the PgBouncer pooler Service. */
    host: pulumi.Input<string>;
    /** PgBouncer's port. */
    port: number;
    /** Database name. */
    name: string;
    /** Application role. */
    user: string;
    /** Secret holding the role's password, and the key inside it. */
    passwordSecret: { name: pulumi.Input<string>; key: string };
}

/** The Redis cluster (from RedisCluster). */
export interface FleetRedisArgs {
    /** `host:port` of the cluster's nodes (RedisCluster.seedNodes). */
    seedNodes: pulumi.Input<string[]>;
    /** Secret holding the cluster password (RedisCluster.secretName, key `password`). */
    passwordSecret: { name: pulumi.Input<string>; key: string };
}

/** Arguments of a ServiceFleet. `namespace`, `services` and `redis` are required; the rest default to SERVICE_FLEET_DEFAULTS. */
export interface ServiceFleetArgs {
    /** Namespace of every object. */
    namespace: pulumi.Input<string>;
    /** The services, at least one, names unique. */
    services: FleetService[];
    /** Required when any service has `usesDatabase`. */
    database?: FleetDatabaseArgs;
    redis: FleetRedisArgs;
    /** Each pod's PostgreSQL pool (default: the plan's max 100, min 10, idle 30000 ms, connect 2000 ms). */
    pool?: PoolSettings;
    /** Application rate-limit tiers (default: the plan's global/ip/user/trading). */
    rateLimits?: RateLimitTiers;
    /** Readiness and liveness probes (default: the plan's 30 s period, 5 s timeout, 3 failures). */
    healthCheck?: HealthCheckSettings;
    /** Where built images are pushed; required when a service has a build context. */
    registry?: RegistrySettings;
    /** How long a pod may take to answer its health path for the first time (default 120 s). */
    startupTimeoutSeconds?: number;
    /** Non-root UID the containers run as (default 10001); the image's files must be readable by it. */
    runAsUser?: number;
    /** Seconds a pod gets after SIGTERM to finish in-flight requests (default 30). */
    terminationGracePeriodSeconds?: number;
    /** Path of the metrics endpoint on each service's port, in the scrape annotations (default `/metrics`). */
    metricsPath?: string;
    /** The cluster's DNS domain, used in the host outputs (default `cluster.local`). */
    clusterDomain?: string;
}

/** Defaults of ServiceFleetArgs: the original plan's numbers (DESIGN.md section 1). */
export const SERVICE_FLEET_DEFAULTS = {
    pool: { max: 100, min: 10, idleTimeoutMs: 30000, connectionTimeoutMs: 2000 } as PoolSettings,
    rateLimits: {
        global: { points: 10000, duration: 60, blockDuration: 60 },
        ip: { points: 1000, duration: 60, blockDuration: 300 },
        user: { points: 2000, duration: 60, blockDuration: 300 },
        trading: { points: 600, duration: 60, blockDuration: 600 },
    } as RateLimitTiers,
    healthCheck: { periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3 } as HealthCheckSettings,
    registry: undefined as RegistrySettings | undefined,
    startupTimeoutSeconds: 120,
    runAsUser: 10001,
    terminationGracePeriodSeconds: 30,
    metricsPath: "/metrics",
    clusterDomain: "cluster.local",
};

/** The app.kubernetes.io/component label of every service pod. */
export const SERVICE_COMPONENT = "service";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** 63 (DNS label limit) minus `-headless`. */
const MAX_SERVICE_NAME = 63 - "-headless".length;

const isInt = (value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): boolean =>
    typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;

/**
 * The microservices: per service a Deployment (started at the HPA minimum, rolling with
 * maxUnavailable 0, spread across nodes, restricted security context with a read-only root and a
 * /tmp emptyDir, health probes, scrape annotations), a ClusterIP Service, a headless Service for
 * per-pod load balancing, an autoscaling/v2 HorizontalPodAutoscaler on CPU and a
 * PodDisruptionBudget. Services reach PostgreSQL through PgBouncer and Redis as a cluster; every
 * password arrives through a secretKeyRef.
 */
export class ServiceFleet extends pulumi.ComponentResource {
    /** Service name -> DNS name of its ClusterIP Service. */
    public readonly serviceHosts: pulumi.Output<Record<string, string>>;
    /** Service name -> DNS name of its headless Service (one A record per ready pod). */
    public readonly headlessHosts: pulumi.Output<Record<string, string>>;
    /** Service name -> the labels on its pods (for NetworkPolicies and monitoring). */
    public readonly podLabels: Record<string, Record<string, string>>;
    /** Service name -> the port it listens on (Service port = container port). */
    public readonly ports: Record<string, number>;
    /** Service name -> the image reference its pods run (a pushed digest for built images). */
    public readonly images: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: ServiceFleetArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("prepx:apps:ServiceFleet", name, {}, opts);
        const a = withDefaults(SERVICE_FLEET_DEFAULTS, args);
        this.validate(name, a);

        const namespace = pulumi.output(args.namespace);

        // Resolved once and shared by every service: the env renderer is pure and takes plain values.
        const db = a.database;
        const database: pulumi.Output<DatabaseConnection | undefined> = db
            ? pulumi
                  .all([db.host, db.passwordSecret.name])
                  .apply(([host, secretName]): DatabaseConnection | undefined => ({
                      host,
                      port: db.port,
                      name: db.name,
                      user: db.user,
                      passwordSecret: { name: secretName, key: db.passwordSecret.key },
                  }))
            : pulumi.output<DatabaseConnection | undefined>(undefined);
        const redis: pulumi.Output<RedisConnection> = pulumi
            .all([a.redis.seedNodes, a.redis.passwordSecret.name])
            .apply(([seedNodes, secretName]) => ({ seedNodes, passwordSecret: { name: secretName, key: a.redis.passwordSecret.key } }));

        this.podLabels = {};
        this.ports = {};
        const hosts: Record<string, pulumi.Output<string>> = {};
        const headlessHosts: Record<string, pulumi.Output<string>> = {};
        const images: Record<string, pulumi.Output<string>> = {};

        // Children are named `<fleet>-<object>`: a URN carries the parent's type, not its name, so two
        // fleets in one stack would otherwise collide. The alias keeps the URN of stacks created when
        // children were named after the object alone (no replacement on upgrade).
        const childName = (objectName: string) => `${name}-${objectName}`;
        const childOpts = (objectName: string) => ({ parent: this, aliases: [{ name: objectName }] });

        for (const service of a.services) {
            const labels = standardLabels(service.name, service.name, SERVICE_COMPONENT);
            const selector = selectorLabels(labels);
            this.podLabels[service.name] = labels;
            this.ports[service.name] = service.port;
            const image = resolveImage(childName(service.name), service.image, a.registry, childOpts(`${service.name}-image`));
            images[service.name] = image;

            const env = pulumi.all([database, redis]).apply(([connection, cache]) =>
                renderServiceEnv({
                    port: service.port,
                    database: service.usesDatabase ? connection : undefined,
                    pool: a.pool,
                    redis: cache,
                    rateLimits: a.rateLimits,
                }),
            );

            const deployment = new k8s.apps.v1.Deployment(
                childName(service.name),
                {
                    metadata: { name: service.name, namespace: args.namespace, labels },
                    spec: {
                        // The HPA owns the replica count; this is only the size at creation (see ignoreChanges below).
                        replicas: service.autoscaling.minReplicas,
                        revisionHistoryLimit: 5,
                        selector: { matchLabels: selector },
                        // New pods must be ready before old ones go: a rollout never dips below the current capacity.
                        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: "25%" } },
                        template: {
                            metadata: { labels, annotations: scrapeAnnotations(service.port, a.metricsPath) },
                            spec: {
                                securityContext: podSecurityContext(a.runAsUser),
                                // Node spreading counts only pods of the same revision, so a rollout's surge pods are not
                                // blocked by the old ReplicaSet's pods still on every node.
                                topologySpreadConstraints: spreadAcrossNodes(selector).map((constraint) => ({
                                    ...constraint,
                                    matchLabelKeys: ["pod-template-hash"],
                                })),
                                terminationGracePeriodSeconds: a.terminationGracePeriodSeconds,
                                // Services talk to nothing in the Kubernetes API; no token in the pod.
                                automountServiceAccountToken: false,
                                // Hundreds of *_SERVICE_HOST variables would only shadow the documented environment.
                                enableServiceLinks: false,
                                containers: [
                                    {
                                        name: service.name,
                                        image,
                                        ports: [{ name: HTTP_PORT_NAME, containerPort: service.port, protocol: "TCP" }],
                                        env,
                                        resources: containerResources(service.resources),
                                        securityContext: containerSecurityContext(),
                                        ...renderServiceProbes(service.healthPath, a.healthCheck, a.startupTimeoutSeconds),
                                        volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
                                    },
                                ],
                                volumes: [scratchVolume("tmp")],
                            },
                        },
                    },
                },
                // With server-side apply, an ignored field owned by another manager (the HPA's scale subresource) is
                // left out of Pulumi's apply, so `pulumi up` neither resets the scale nor hits a field conflict
                // (pulumi/pulumi-kubernetes#2566).
                { ...childOpts(service.name), ignoreChanges: ["spec.replicas"] },
            );

            const ports = [{ name: HTTP_PORT_NAME, port: service.port, targetPort: HTTP_PORT_NAME, protocol: "TCP" }];
            const clusterIp = new k8s.core.v1.Service(
                childName(service.name),
                { metadata: { name: service.name, namespace: args.namespace, labels }, spec: { type: "ClusterIP", selector, ports } },
                childOpts(service.name),
            );
            const headlessName = headlessServiceName(service.name);
            const headless = new k8s.core.v1.Service(
                childName(headlessName),
                {
                    metadata: { name: headlessName, namespace: args.namespace, labels },
                    // Ready pods only (publishNotReadyAddresses left at its default, false): nginx re-resolves this
                    // name and must never be handed a pod that is starting or draining. Not written out: the
                    // provider drops false fields, and the offline render must show what the engine sends.
                    spec: { clusterIP: "None", selector, ports },
                },
                childOpts(headlessName),
            );

            new k8s.autoscaling.v2.HorizontalPodAutoscaler(
                childName(service.name),
                {
                    metadata: { name: service.name, namespace: args.namespace, labels },
                    spec: {
                        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name },
                        minReplicas: service.autoscaling.minReplicas,
                        maxReplicas: service.autoscaling.maxReplicas,
                        metrics: [
                            {
                                type: "Resource",
                                resource: { name: "cpu", target: { type: "Utilization", averageUtilization: service.autoscaling.targetCpuPercent } },
                            },
                        ],
                    },
                },
                childOpts(service.name),
            );

            disruptionBudget(
                childName(service.name),
                { namespace: args.namespace, labels, maxUnavailable: disruptionAllowance(service.autoscaling.minReplicas), objectName: service.name },
                childOpts(service.name),
            );

            hosts[service.name] = pulumi.all([clusterIp.metadata.name, namespace]).apply(([svc, ns]) => serviceHost(svc, ns, a.clusterDomain));
            headlessHosts[service.name] = pulumi.all([headless.metadata.name, namespace]).apply(([svc, ns]) => serviceHost(svc, ns, a.clusterDomain));
        }

        this.serviceHosts = pulumi.output(hosts);
        this.headlessHosts = pulumi.output(headlessHosts);
        this.images = pulumi.output(images);
        this.registerOutputs({ serviceHosts: this.serviceHosts, headlessHosts: this.headlessHosts, images: this.images });
    }

    /** The pod labels of one service; throws naming the known services when `service` is not one. */
    public podLabelsOf(service: string): Record<string, string> {
        const labels = this.podLabels[service];
        if (!labels) throw new pulumi.ResourceError(`ServiceFleet has no service '${service}' (have: ${Object.keys(this.podLabels).join(", ")})`, this);
        return labels;
    }

    private validate(name: string, a: ServiceFleetArgs & typeof SERVICE_FLEET_DEFAULTS): void {
        const check = (condition: boolean, arg: string, expected: string, got: unknown): void =>
            requireArg(condition, this, `ServiceFleet ${name}: args.${arg} ${expected} (got ${JSON.stringify(got)})`);

        check(a.namespace !== undefined && a.namespace !== "", "namespace", "is required", a.namespace);
        check(Array.isArray(a.services) && a.services.length > 0, "services", "must list at least one service", a.services);
        const seen = new Set<string>();
        a.services.forEach((service, i) => {
            const at = `services[${i}]`;
            check(
                typeof service.name === "string" && DNS_LABEL.test(service.name) && service.name.length <= MAX_SERVICE_NAME,
                `${at}.name`,
                `must be a DNS label of at most ${MAX_SERVICE_NAME} characters`,
                service.name,
            );
            check(!seen.has(service.name), `${at}.name`, "must be unique among services", service.name);
            seen.add(service.name);
            check(isInt(service.port, 1, 65535), `${at}.port`, "must be a port number (1-65535)", service.port);
            check(typeof service.healthPath === "string" && /^\/\S*$/.test(service.healthPath), `${at}.healthPath`, "must be an HTTP path starting with /", service.healthPath);
            const scaling = service.autoscaling ?? {};
            check(isInt(scaling.minReplicas, 1), `${at}.autoscaling.minReplicas`, "must be an integer of at least 1", scaling.minReplicas);
            check(isInt(scaling.maxReplicas, Math.max(1, scaling.minReplicas)), `${at}.autoscaling.maxReplicas`, "must be an integer of at least minReplicas", scaling.maxReplicas);
            check(isInt(scaling.targetCpuPercent, 1, 100), `${at}.autoscaling.targetCpuPercent`, "must be an integer from 1 to 100", scaling.targetCpuPercent);
            for (const kind of ["requests", "limits"] as const) {
                for (const resource of ["cpu", "memory"] as const) {
                    const value = service.resources?.[kind]?.[resource];
                    check(typeof value === "string" && value !== "", `${at}.resources.${kind}.${resource}`, "is required", value);
                }
            }
            if (service.image && "build" in service.image) {
                check(a.registry !== undefined, "registry", `is required: services[${i}] (${service.name}) has a build context`, a.registry);
            }
        });

        const databaseUsers = a.services.filter((service) => service.usesDatabase).map((service) => service.name);
        if (databaseUsers.length > 0) {
            check(a.database !== undefined, "database", `is required: ${databaseUsers.join(", ")} use the database`, a.database);
        }
        if (a.database) {
            check(isInt(a.database.port, 1, 65535), "database.port", "must be a port number (1-65535)", a.database.port);
            check(typeof a.database.name === "string" && a.database.name !== "", "database.name", "is required", a.database.name);
            check(typeof a.database.user === "string" && a.database.user !== "", "database.user", "is required", a.database.user);
            check(typeof a.database.passwordSecret?.key === "string" && a.database.passwordSecret.key !== "", "database.passwordSecret.key", "is required", a.database.passwordSecret?.key);
        }
        check(a.redis !== undefined && a.redis.seedNodes !== undefined, "redis.seedNodes", "is required", a.redis?.seedNodes);
        check(typeof a.redis?.passwordSecret?.key === "string" && a.redis.passwordSecret.key !== "", "redis.passwordSecret.key", "is required", a.redis?.passwordSecret?.key);

        check(isInt(a.pool.max, 1), "pool.max", "must be an integer of at least 1", a.pool.max);
        check(isInt(a.pool.min, 0, a.pool.max), "pool.min", `must be an integer from 0 to pool.max (${a.pool.max})`, a.pool.min);
        check(isInt(a.pool.idleTimeoutMs, 0), "pool.idleTimeoutMs", "must be a non-negative integer", a.pool.idleTimeoutMs);
        check(isInt(a.pool.connectionTimeoutMs, 1), "pool.connectionTimeoutMs", "must be a positive integer", a.pool.connectionTimeoutMs);
        for (const tier of RATE_LIMIT_TIERS) {
            const limits = a.rateLimits[tier];
            check(limits !== undefined && isInt(limits.points, 1), `rateLimits.${tier}.points`, "must be a positive integer", limits?.points);
            check(limits !== undefined && isInt(limits.duration, 1), `rateLimits.${tier}.duration`, "must be a positive integer", limits?.duration);
            check(limits !== undefined && isInt(limits.blockDuration, 0), `rateLimits.${tier}.blockDuration`, "must be a non-negative integer", limits?.blockDuration);
        }
        check(isInt(a.healthCheck.periodSeconds, 1), "healthCheck.periodSeconds", "must be a positive integer", a.healthCheck.periodSeconds);
        check(isInt(a.healthCheck.timeoutSeconds, 1), "healthCheck.timeoutSeconds", "must be a positive integer", a.healthCheck.timeoutSeconds);
        check(isInt(a.healthCheck.failureThreshold, 1), "healthCheck.failureThreshold", "must be a positive integer", a.healthCheck.failureThreshold);
        check(isInt(a.startupTimeoutSeconds, 1), "startupTimeoutSeconds", "must be a positive integer", a.startupTimeoutSeconds);
        check(isInt(a.runAsUser, 1), "runAsUser", "must be a non-root UID (a positive integer)", a.runAsUser);
        check(isInt(a.terminationGracePeriodSeconds, 0), "terminationGracePeriodSeconds", "must be a non-negative integer", a.terminationGracePeriodSeconds);
    }
}
