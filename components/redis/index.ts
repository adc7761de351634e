import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stackPassword } from "../passwords";
import {
    ContainerResources,
    podTemplateAnnotations,
    containerResources,
    containerSecurityContext,
    disruptionBudget,
    podSecurityContext,
    pvcRetentionPolicy,
    requireArg,
    selectorLabels,
    spreadAcrossNodes,
    standardLabels,
    volumeClaimTemplate,
    withDefaults,
} from "../k8s";
import {
    CLUSTER_BUS_OFFSET,
    REDIS_PORT,
    podHostname,
    redisPodCount,
    redisServerArgs,
    renderBootstrapScript,
    renderRedisAuthConf,
    renderRedisConf,
    statefulSetPodNames,
} from "./render";

export * from "./render";

/** Arguments of a RedisCluster. Every field but `namespace` has a default (REDIS_CLUSTER_DEFAULTS). */
export interface RedisClusterArgs {
    /** Namespace for every object of the cluster. */
    namespace: pulumi.Input<string>;
    /** Master nodes holding the 16384 slots; at least 3 (Redis cluster minimum). */
    masters?: number;
    /** Replicas of each master (0 = no failover). Pods = masters x (1 + replicasPerMaster). */
    replicasPerMaster?: number;
    /** cluster-node-timeout in ms: how long a master may be unreachable before failover. */
    clusterNodeTimeoutMs?: number;
    /** Redis 7 image, pinned. */
    image?: string;
    /** oliver006/redis_exporter image, pinned. */
    exporterImage?: string;
    /** PVC size per pod (AOF + nodes.conf). */
    storage?: string;
    /** StorageClass of the PVCs; unset = the cluster default. */
    storageClass?: string;
    /** Redis `maxmemory`, e.g. `6gb`; keep it below the memory limit. */
    maxmemory?: string;
    /** Redis `maxmemory-policy`. */
    maxmemoryPolicy?: string;
    /** Resources of each redis-server container. */
    resources?: ContainerResources;
    /** Resources of each exporter sidecar and of the bootstrap Job. */
    exporterResources?: ContainerResources;
    /** Pulumi `protect` on the StatefulSet and Secret, and PVCs retained on delete/scale-down. */
    protectData?: boolean;
    /** The cluster's password; unset = generated once (RandomPassword) and kept in the stack's state. */
    password?: pulumi.Input<string>;
    /** The cluster's DNS domain, used in the announced hostnames. */
    clusterDomain?: string;
}

/** Defaults of RedisClusterArgs: the prod shape of DESIGN.md. */
export const REDIS_CLUSTER_DEFAULTS = {
    masters: 3,
    replicasPerMaster: 1,
    clusterNodeTimeoutMs: 5000,
    image: "redis:7.2.5",
    exporterImage: "oliver006/redis_exporter:v1.62.0",
    storage: "20Gi",
    storageClass: undefined as string | undefined,
    maxmemory: "1gb",
    maxmemoryPolicy: "noeviction",
    resources: { requests: { cpu: "500m", memory: "2Gi" }, limits: { cpu: "1", memory: "2Gi" } },
    exporterResources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
    protectData: true,
    clusterDomain: "cluster.local",
};

const REDIS_UID = 999; // the `redis` user of the official image
const EXPORTER_PORT = 9121;
const CONF_DIR = "/etc/redis";
const AUTH_DIR = "/etc/redis-auth";
const DATA_DIR = "/data";

/**
 * A Redis 7 cluster: a StatefulSet of masters x (1 + replicasPerMaster) pods with stable
 * hostnames, formed once by an idempotent bootstrap Job, with AOF on a PVC per pod, a
 * redis_exporter sidecar and a generated password held only in a Secret.
 */
export class RedisCluster extends pulumi.ComponentResource {
    /** `host:port` of every node, usable as cluster seeds by clients. */
    public readonly seedNodes: pulumi.Output<string[]>;
    /** DNS name of the client Service (any node; clients follow MOVED redirects). */
    public readonly serviceHost: pulumi.Output<string>;
    /** The client port. */
    public readonly port: number = REDIS_PORT;
    /** Name of the Secret holding the password under the key `password`. */
    public readonly secretName: pulumi.Output<string>;
    /** The cluster password. */
    public readonly password: pulumi.Output<string>;
    /** Name of the headless Service that gives pods their stable names. */
    public readonly headlessServiceName: pulumi.Output<string>;
    /** Selector labels of every node pod (for NetworkPolicies and monitoring). */
    public readonly podLabels: Record<string, string>;
    /** Selector labels of the bootstrap Job's pod (it must reach every node). */
    public readonly bootstrapLabels: Record<string, string>;
    /** The redis_exporter sidecar's metrics port on every node pod. */
    public readonly metricsPort: number = EXPORTER_PORT;

    constructor(name: string, args: RedisClusterArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("prepx:cache:RedisCluster", name, {}, opts);
        const a = withDefaults(REDIS_CLUSTER_DEFAULTS, args);
        requireArg(Number.isInteger(a.masters) && a.masters >= 3, this, `RedisCluster ${name}: args.masters must be an integer of at least 3 (got ${a.masters})`);
        requireArg(
            Number.isInteger(a.replicasPerMaster) && a.replicasPerMaster >= 0,
            this,
            `RedisCluster ${name}: args.replicasPerMaster must be a non-negative integer (got ${a.replicasPerMaster})`,
        );
        requireArg(a.clusterNodeTimeoutMs >= 1000, this, `RedisCluster ${name}: args.clusterNodeTimeoutMs must be at least 1000 (got ${a.clusterNodeTimeoutMs})`);

        const child: pulumi.CustomResourceOptions = { parent: this };
        const dataOpts: pulumi.CustomResourceOptions = { parent: this, protect: a.protectData };
        const labels = standardLabels("redis", name, "cache");
        const selector = selectorLabels(labels);
        this.podLabels = selector;
        const headlessName = `${name}-headless`;
        const podCount = redisPodCount(a.masters, a.replicasPerMaster);
        const namespace = pulumi.output(args.namespace);

        this.password = stackPassword(`${name}-password`, args.password, child);
        const secret = new k8s.core.v1.Secret(
            `${name}-auth`,
            {
                metadata: { name: `${name}-auth`, namespace: args.namespace, labels },
                type: "Opaque",
                stringData: {
                    password: this.password,
                    "auth.conf": this.password.apply(renderRedisAuthConf),
                },
            },
            dataOpts,
        );
        this.secretName = secret.metadata.name;

        const redisConf = renderRedisConf({
            bind: "* -::*",
            port: REDIS_PORT,
            dataDir: DATA_DIR,
            clusterNodeTimeoutMs: a.clusterNodeTimeoutMs,
            maxmemory: a.maxmemory,
            maxmemoryPolicy: a.maxmemoryPolicy,
            authIncludePath: `${AUTH_DIR}/auth.conf`,
        });
        const configMap = new k8s.core.v1.ConfigMap(
            `${name}-config`,
            { metadata: { name: `${name}-config`, namespace: args.namespace, labels }, data: { "redis.conf": redisConf } },
            child,
        );

        const ports = [
            { name: "redis", port: REDIS_PORT, targetPort: "redis" },
            { name: "cluster-bus", port: REDIS_PORT + CLUSTER_BUS_OFFSET, targetPort: "cluster-bus" },
        ];
        const headless = new k8s.core.v1.Service(
            headlessName,
            {
                metadata: { name: headlessName, namespace: args.namespace, labels },
                // Nodes must find each other before they are ready, or the cluster never forms.
                spec: { clusterIP: "None", publishNotReadyAddresses: true, selector, ports },
            },
            child,
        );
        const clientService = new k8s.core.v1.Service(
            name,
            {
                metadata: { name, namespace: args.namespace, labels },
                spec: { type: "ClusterIP", selector, ports: [ports[0]] },
            },
            child,
        );

        const passwordEnv = (envName: string): k8s.types.input.core.v1.EnvVar => ({
            name: envName,
            valueFrom: { secretKeyRef: { name: secret.metadata.name, key: "password" } },
        });
        const pingProbe = (failureThreshold: number, periodSeconds: number): k8s.types.input.core.v1.Probe => ({
            exec: { command: ["sh", "-c", `redis-cli --no-auth-warning -h 127.0.0.1 -p ${REDIS_PORT} ping | grep -q PONG`] },
            periodSeconds,
            timeoutSeconds: 3,
            failureThreshold,
        });

        const statefulSet = new k8s.apps.v1.StatefulSet(
            name,
            {
                metadata: { name, namespace: args.namespace, labels },
                spec: {
                    serviceName: headlessName,
                    replicas: podCount,
                    // Every node must be up for the bootstrap; ordered start would only slow it.
                    podManagementPolicy: "Parallel",
                    updateStrategy: { type: "RollingUpdate" },
                    persistentVolumeClaimRetentionPolicy: pvcRetentionPolicy(a.protectData),
                    selector: { matchLabels: selector },
                    template: {
                        metadata: {
                            labels,
                            annotations: podTemplateAnnotations(EXPORTER_PORT, [redisConf]),
                        },
                        spec: {
                            securityContext: podSecurityContext(REDIS_UID),
                            topologySpreadConstraints: spreadAcrossNodes(selector),
                            terminationGracePeriodSeconds: 30,
                            enableServiceLinks: false,
                            containers: [
                                {
                                    name: "redis",
                                    image: a.image,
                                    command: ["redis-server"],
                                    // Kubernetes expands $(VAR) from the env below: each pod announces its own name.
                                    args: redisServerArgs(
                                        `${CONF_DIR}/redis.conf`,
                                        `$(POD_NAME).${headlessName}.$(POD_NAMESPACE).svc.${a.clusterDomain}`,
                                    ),
                                    env: [
                                        { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                                        { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                                        passwordEnv("REDISCLI_AUTH"),
                                    ],
                                    ports: [
                                        { name: "redis", containerPort: REDIS_PORT },
                                        { name: "cluster-bus", containerPort: REDIS_PORT + CLUSTER_BUS_OFFSET },
                                    ],
                                    resources: containerResources(a.resources),
                                    securityContext: containerSecurityContext(),
                                    // Loading a large AOF can take minutes; liveness waits for it.
                                    startupProbe: pingProbe(60, 5),
                                    readinessProbe: pingProbe(3, 5),
                                    livenessProbe: pingProbe(6, 10),
                                    volumeMounts: [
                                        { name: "data", mountPath: DATA_DIR },
                                        { name: "config", mountPath: CONF_DIR, readOnly: true },
                                        { name: "auth", mountPath: AUTH_DIR, readOnly: true },
                                    ],
                                },
                                {
                                    name: "exporter",
                                    image: a.exporterImage,
                                    env: [
                                        { name: "REDIS_ADDR", value: `redis://127.0.0.1:${REDIS_PORT}` },
                                        passwordEnv("REDIS_PASSWORD"),
                                    ],
                                    ports: [{ name: "metrics", containerPort: EXPORTER_PORT }],
                                    resources: containerResources(a.exporterResources),
                                    securityContext: containerSecurityContext(),
                                    readinessProbe: { httpGet: { path: "/health", port: "metrics" }, periodSeconds: 10, timeoutSeconds: 3 },
                                    livenessProbe: { httpGet: { path: "/health", port: "metrics" }, periodSeconds: 20, timeoutSeconds: 3, failureThreshold: 3 },
                                },
                            ],
                            volumes: [
                                { name: "config", configMap: { name: configMap.metadata.name } },
                                { name: "auth", secret: { secretName: secret.metadata.name, items: [{ key: "auth.conf", path: "auth.conf" }], defaultMode: 0o440 } },
                            ],
                        },
                    },
                    volumeClaimTemplates: [volumeClaimTemplate("data", a.storage, a.storageClass)],
                },
            },
            { ...dataOpts, dependsOn: [headless] },
        );

        disruptionBudget(name, { namespace: args.namespace, labels }, child);

        const nodeAddresses = namespace.apply((ns) =>
            statefulSetPodNames(name, podCount).map((pod) => `${podHostname(pod, headlessName, ns, a.clusterDomain)}:${REDIS_PORT}`),
        );
        const bootstrapScript = nodeAddresses.apply((nodes) =>
            renderBootstrapScript({ nodes, replicasPerMaster: a.replicasPerMaster, timeoutSeconds: 600 }),
        );
        const bootstrapConfig = new k8s.core.v1.ConfigMap(
            `${name}-bootstrap`,
            { metadata: { name: `${name}-bootstrap`, namespace: args.namespace, labels }, data: { "bootstrap.sh": bootstrapScript } },
            child,
        );
        const bootstrapLabels = standardLabels("redis", name, "cluster-bootstrap");
        this.bootstrapLabels = selectorLabels(bootstrapLabels);
        new k8s.batch.v1.Job(
            `${name}-bootstrap`,
            {
                metadata: { name: `${name}-bootstrap`, namespace: args.namespace, labels: bootstrapLabels },
                spec: {
                    backoffLimit: 3,
                    template: {
                        metadata: { labels: bootstrapLabels },
                        spec: {
                            restartPolicy: "Never",
                            securityContext: podSecurityContext(REDIS_UID),
                            enableServiceLinks: false,
                            containers: [
                                {
                                    name: "bootstrap",
                                    image: a.image,
                                    command: ["sh", "/scripts/bootstrap.sh"],
                                    env: [passwordEnv("REDISCLI_AUTH")],
                                    resources: containerResources(a.exporterResources),
                                    securityContext: containerSecurityContext(),
                                    volumeMounts: [{ name: "scripts", mountPath: "/scripts", readOnly: true }],
                                },
                            ],
                            volumes: [{ name: "scripts", configMap: { name: bootstrapConfig.metadata.name } }],
                        },
                    },
                },
            },
            // The Job's spec is immutable; a changed script replaces it, and the script is idempotent.
            { parent: this, dependsOn: [statefulSet, clientService], replaceOnChanges: ["spec"], deleteBeforeReplace: true },
        );

        this.seedNodes = nodeAddresses;
        this.serviceHost = pulumi.interpolate`${clientService.metadata.name}.${namespace}.svc.${a.clusterDomain}`;
        this.headlessServiceName = headless.metadata.name;
        this.registerOutputs({
            seedNodes: this.seedNodes,
            serviceHost: this.serviceHost,
            secretName: this.secretName,
            password: this.password,
        });
    }
}

