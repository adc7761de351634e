// Pure builders of ServiceFleet's Kubernetes specs, per service: the Deployment (pod template,
// container, environment, probes, spreading), the ClusterIP and headless Services, the
// HorizontalPodAutoscaler, and what Prometheus scrapes. They take the parsed args (defaults applied)
// and return @pulumi/kubernetes input types; ServiceFleet puts them in objects, the unit tests call
// them directly.
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import {
    Container,
    containerResources,
    containerSecurityContext,
    EnvVar,
    httpProbe,
    IMAGE_PULL_POLICY,
    podSecurityContext,
    Probe,
    scrapeAnnotations,
    scratchVolume,
    secretEnv,
    selectorLabels,
    ServicePort,
    ServiceSpec,
    spreadAcrossNodes,
    standardLabels,
    Volume,
    VolumeMount,
} from "../k8s";
import type { MetricsTarget } from "../observability";
import type { FleetService, HealthCheck, ResolvedServiceFleetArgs } from "./args";
import { ENV, RATE_LIMIT_TIERS, rateLimitEnvNames } from "./render";

/** The app.kubernetes.io/component label of every service pod. */
const SERVICE_COMPONENT = "service";
/** The name of the container port every service listens on; probes and Services refer to it. */
const HTTP_PORT_NAME = "http";
/** Period of the startup probe: short, so a pod that starts fast is ready fast. */
const STARTUP_PROBE_PERIOD_SECONDS = 5;
/** Old ReplicaSets kept for `kubectl rollout undo`. */
const REVISION_HISTORY_LIMIT = 5;
/** Extra pods a rollout may start at once, above the current count. */
const ROLLOUT_MAX_SURGE = "25%";
/** The writable scratch volume at /tmp (the root filesystem is read-only). */
const TMP_VOLUME = "tmp";
/** A CA certificate the services verify a server with: its volume's name and the directory it is mounted at. */
interface CaMount {
    volume: string;
    dir: string;
}
/** The CA of PgBouncer's certificate (database.caSecret). */
const DATABASE_CA: CaMount = { volume: "database-ca", dir: "/etc/prepx/database-ca" };
/** The CA of the Redis nodes' certificate (redis.caSecret). */
const REDIS_CA: CaMount = { volume: "redis-ca", dir: "/etc/redis-ca" };
/** The name of the CA's file in its directory. */
const CA_FILE = "ca.crt";
/** The path of `ca`'s file in the container (PGSSLROOTCERT's and REDIS_TLS_CA_FILE's value). */
const caFile = (ca: CaMount): string => `${ca.dir}/${CA_FILE}`;

/** The CA's volume: only that key of its Secret, world-readable (a CA certificate is public). */
function caVolume(ca: CaMount, secret: { name: pulumi.Input<string>; key: string }): Volume {
    return { name: ca.volume, secret: { secretName: secret.name, items: [{ key: secret.key, path: CA_FILE }], defaultMode: 0o444 } };
}

/** The CA's read-only mount in the service container. */
function caVolumeMount(ca: CaMount): VolumeMount {
    return { name: ca.volume, mountPath: ca.dir, readOnly: true };
}

/** Whether `service`'s pods connect to the database over verified TLS (it uses it, and database.caSecret is given). */
function usesDatabaseTls(service: FleetService, settings: ResolvedServiceFleetArgs): boolean {
    return service.usesDatabase && settings.database?.caSecret !== undefined;
}

/** The labels of a service's pods and objects (its selector is their selectorLabels). */
export function serviceLabels(service: string): Record<string, string> {
    return standardLabels(service, service, SERVICE_COMPONENT);
}

/** REDIS_CLUSTER_NODES's value: the seed nodes comma-separated. */
export function redisNodesValue(seedNodes: string[]): string {
    return seedNodes.join(",");
}

const literal = (name: string, value: pulumi.Input<string>): EnvVar => ({ name, value });
const numeric = (name: string, value: number): EnvVar => literal(name, String(value));

/**
 * The environment of one service container, in ENV_DOCS order. Passwords are only ever
 * secretKeyRefs: no secret value passes through here. Services without a database get no DB_*
 * variables, so a service outside the connection budget cannot open a pool by accident.
 * `redisNodes` is REDIS_CLUSTER_NODES's value (redisNodesValue of the seed nodes).
 */
export function serviceEnv(service: FleetService, settings: ResolvedServiceFleetArgs, redisNodes: pulumi.Input<string>): EnvVar[] {
    const env: EnvVar[] = [numeric(ENV.PORT, service.port)];
    const database = settings.database;
    if (service.usesDatabase && database) {
        env.push(
            literal(ENV.DB_HOST, database.host),
            numeric(ENV.DB_PORT, database.port),
            literal(ENV.DB_NAME, database.name),
            literal(ENV.DB_USER, database.user),
            secretEnv(ENV.DB_PASSWORD, database.passwordSecret.name, database.passwordSecret.key),
            numeric(ENV.DB_POOL_MAX, settings.pool.max),
            numeric(ENV.DB_POOL_MIN, settings.pool.min),
            numeric(ENV.DB_POOL_IDLE_TIMEOUT_MS, settings.pool.idleTimeoutMs),
            numeric(ENV.DB_POOL_CONNECTION_TIMEOUT_MS, settings.pool.connectionTimeoutMs),
        );
        if (usesDatabaseTls(service, settings)) env.push(literal(ENV.PGSSLMODE, "verify-full"), literal(ENV.PGSSLROOTCERT, caFile(DATABASE_CA)));
    }
    env.push(literal(ENV.REDIS_CLUSTER_NODES, redisNodes), ...redisCredentialsEnv(service, settings));
    for (const tier of RATE_LIMIT_TIERS) {
        const names = rateLimitEnvNames(tier);
        const limits = settings.rateLimits[tier];
        env.push(numeric(names.points, limits.points), numeric(names.duration, limits.duration), numeric(names.blockDuration, limits.blockDuration));
    }
    return env;
}

/**
 * The service's own Redis user and password (RedisCluster.appUsers) and the TLS settings: the nodes
 * speak TLS only, verified with the mounted CA.
 */
function redisCredentialsEnv(service: FleetService, settings: ResolvedServiceFleetArgs): EnvVar[] {
    const user = settings.redis.users[service.name];
    return [
        literal(ENV.REDIS_USERNAME, user.username),
        secretEnv(ENV.REDIS_PASSWORD, user.passwordSecret.name, user.passwordSecret.key),
        literal(ENV.REDIS_TLS, "true"),
        literal(ENV.REDIS_TLS_CA_FILE, caFile(REDIS_CA)),
    ];
}

/**
 * Readiness and liveness are the plan's health check exactly (period, timeout, failures on the
 * health path). A startup probe guards slow starts: until the health path first answers, it polls
 * every STARTUP_PROBE_PERIOD_SECONDS for up to `startupTimeoutSeconds` (rounded up), and liveness
 * does not run, so a slow migration or cache warm-up is not killed by the 3 x 30 s liveness window.
 */
export function serviceProbes(
    healthPath: string,
    healthCheck: HealthCheck,
    startupTimeoutSeconds: number,
): { readinessProbe: Probe; livenessProbe: Probe; startupProbe: Probe } {
    const steady = { periodSeconds: healthCheck.periodSeconds, timeoutSeconds: healthCheck.timeoutSeconds, failureThreshold: healthCheck.failureThreshold };
    const startup = {
        periodSeconds: STARTUP_PROBE_PERIOD_SECONDS,
        timeoutSeconds: healthCheck.timeoutSeconds,
        failureThreshold: Math.max(1, Math.ceil(startupTimeoutSeconds / STARTUP_PROBE_PERIOD_SECONDS)),
    };
    return {
        readinessProbe: httpProbe(healthPath, HTTP_PORT_NAME, steady),
        livenessProbe: httpProbe(healthPath, HTTP_PORT_NAME, steady),
        startupProbe: httpProbe(healthPath, HTTP_PORT_NAME, startup),
    };
}

/** Values known only during the deployment: the image a service runs, REDIS_CLUSTER_NODES and its ServiceAccount. */
export interface PodInputs {
    /** The image reference (a pushed digest for built images). */
    image: pulumi.Input<string>;
    /** The Redis seed nodes, comma-separated (redisNodesValue). */
    redisNodes: pulumi.Input<string>;
    /** The ServiceAccount the pods run as (image pull Secrets, no API token). */
    serviceAccountName: pulumi.Input<string>;
}

/** The service container: its port, environment, probes, resources and the restricted baseline with a writable /tmp. */
export function serviceContainer(service: FleetService, settings: ResolvedServiceFleetArgs, inputs: PodInputs): Container {
    return {
        name: service.name,
        image: inputs.image,
        imagePullPolicy: IMAGE_PULL_POLICY,
        ports: [{ name: HTTP_PORT_NAME, containerPort: service.port, protocol: "TCP" }],
        env: serviceEnv(service, settings, inputs.redisNodes),
        resources: containerResources(service.resources),
        securityContext: containerSecurityContext(),
        ...serviceProbes(service.healthPath, settings.healthCheck, settings.startupTimeoutSeconds),
        volumeMounts: [
            { name: TMP_VOLUME, mountPath: "/tmp" },
            caVolumeMount(REDIS_CA),
            ...(usesDatabaseTls(service, settings) ? [caVolumeMount(DATABASE_CA)] : []),
        ],
    };
}

/** The CA of PgBouncer's certificate, for services that use the database over TLS. */
function databaseCaVolumes(service: FleetService, settings: ResolvedServiceFleetArgs): Volume[] {
    const ca = settings.database?.caSecret;
    return ca && usesDatabaseTls(service, settings) ? [caVolume(DATABASE_CA, ca)] : [];
}

/** A service's pod template: labels, scrape annotations, the restricted pod baseline, spreading and the container. */
export function servicePodTemplate(service: FleetService, settings: ResolvedServiceFleetArgs, inputs: PodInputs) {
    const labels = serviceLabels(service.name);
    return {
        metadata: { labels, annotations: scrapeAnnotations(service.port, settings.metricsPath) },
        spec: {
            serviceAccountName: inputs.serviceAccountName,
            securityContext: podSecurityContext(settings.runAsUser),
            // Spreading counts only pods of the same revision, so a rollout's surge pods are not weighed
            // against the old ReplicaSet's pods still on every node.
            topologySpreadConstraints: spreadAcrossNodes(selectorLabels(labels)).map((constraint) => ({ ...constraint, matchLabelKeys: ["pod-template-hash"] })),
            terminationGracePeriodSeconds: settings.terminationGracePeriodSeconds,
            // Services talk to nothing in the Kubernetes API; no token in the pod.
            automountServiceAccountToken: false,
            // Hundreds of *_SERVICE_HOST variables would only shadow the documented environment.
            enableServiceLinks: false,
            containers: [serviceContainer(service, settings, inputs)],
            volumes: [scratchVolume(TMP_VOLUME), caVolume(REDIS_CA, settings.redis.caSecret), ...databaseCaVolumes(service, settings)],
        },
    } satisfies k8s.types.input.core.v1.PodTemplateSpec;
}

/**
 * A service's Deployment spec. It starts at the HPA's minimum; afterwards the HPA owns the replica
 * count (ServiceFleet has Pulumi ignore it). New pods must be ready before old ones go, so a
 * rollout never dips below the current capacity.
 */
export function serviceDeploymentSpec(service: FleetService, settings: ResolvedServiceFleetArgs, inputs: PodInputs): k8s.types.input.apps.v1.DeploymentSpec {
    return {
        replicas: service.autoscaling.minReplicas,
        revisionHistoryLimit: REVISION_HISTORY_LIMIT,
        selector: { matchLabels: selectorLabels(serviceLabels(service.name)) },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: ROLLOUT_MAX_SURGE } },
        template: servicePodTemplate(service, settings, inputs),
    };
}

function servicePorts(service: FleetService): ServicePort[] {
    return [{ name: HTTP_PORT_NAME, port: service.port, targetPort: HTTP_PORT_NAME, protocol: "TCP" }];
}

/** The ClusterIP Service of a service: one virtual address, port = container port. */
export function clusterIpServiceSpec(service: FleetService): ServiceSpec {
    return { type: "ClusterIP", selector: selectorLabels(serviceLabels(service.name)), ports: servicePorts(service) };
}

/**
 * The headless Service of a service: one A record per ready pod, for per-pod load balancing.
 * Ready pods only (publishNotReadyAddresses left at its default, false): nginx re-resolves this name
 * and must never be handed a pod that is starting or draining. Not written out: the provider drops
 * false fields, and the offline render must show what the engine sends.
 */
export function headlessServiceSpec(service: FleetService): ServiceSpec {
    return { clusterIP: "None", selector: selectorLabels(serviceLabels(service.name)), ports: servicePorts(service) };
}

/** The autoscaling/v2 HPA of a service: its Deployment between min and max replicas, on CPU utilisation. */
export function autoscalerSpec(service: FleetService, deploymentName: pulumi.Input<string>): k8s.types.input.autoscaling.v2.HorizontalPodAutoscalerSpec {
    return {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: deploymentName },
        minReplicas: service.autoscaling.minReplicas,
        maxReplicas: service.autoscaling.maxReplicas,
        metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: service.autoscaling.targetCpuPercent } } }],
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

/** What Prometheus scrapes on a service's pods: its own port (the scrape annotations point there). */
export function serviceMetricsTarget(service: FleetService): MetricsTarget {
    return { name: service.name, labels: serviceLabels(service.name), ports: [service.port] };
}
