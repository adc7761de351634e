// Pure builders of RedisCluster's Kubernetes specs (pods, containers, volumes, Services, the
// bootstrap Job) and the one mapping from its args to the renderers' options. No resources are
// created here: the component passes the results to `new`, the tests call them directly.
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import {
    type Container,
    containerResources,
    containerSecurityContext,
    exporterSidecar,
    IMAGE_PULL_POLICY,
    jobDeadlines,
    podSecurityContext,
    type PodSpec,
    type ProbeTiming,
    pvcRetentionPolicy,
    scratchVolume,
    secretEnv,
    selectorLabels,
    type ServicePort,
    type ServiceSpec,
    shellProbe,
    spreadAcrossNodes,
    type Volume,
    volumeClaimTemplate,
} from "../k8s";
import { podHostname, serviceDnsNames, statefulSetPodNames } from "../dns";
import { TLS_SECRET_KEYS } from "../tls";
import type { RedisSettings, ResolvedRedisClusterArgs } from "./args";
import {
    type BootstrapOptions,
    CLUSTER_BUS_OFFSET,
    REDIS_PORT,
    type RedisCliOptions,
    type RedisConfOptions,
    redisCliCommand,
    redisPodCount,
    redisServerArgs,
    renderClusterHealScript,
    renderReadinessScript,
} from "./render";

/** Port of the cluster bus, on which nodes gossip and fail over. */
export const CLUSTER_BUS_PORT = REDIS_PORT + CLUSTER_BUS_OFFSET;
/** The redis_exporter sidecar's metrics port. */
export const EXPORTER_PORT = 9121;
/** The bootstrap script's deadline (BootstrapOptions.timeoutSeconds): ten minutes for all its waits. */
export const BOOTSTRAP_TIMEOUT_SECONDS = 600;

/** The `redis` user of the official image. */
const REDIS_UID = 999;
const CONF_DIR = "/etc/redis";
const AUTH_DIR = "/etc/redis-auth";
/** The node certificate's Secret (TLS_SECRET_KEYS), mounted for redis-server, its scripts and the exporter. */
const TLS_DIR = "/etc/redis-tls";
const DATA_DIR = "/data";
const SCRIPTS_DIR = "/scripts";
/** The auth Secret's keys as mounted (AUTH_DIR): the ACL file, the masterauth include, the administrator's password. */
export const AUTH_SECRET_KEYS = { aclFile: "users.acl", replicationInclude: "replication.conf", adminPassword: "password" } as const;
/** The auth files and the TLS key are readable by the redis group only. */
const AUTH_FILE_MODE = 0o440;
const TLS_FILE_MODE = 0o440;

/** The ACL user of the bootstrap, the probes, cluster-heal and replication (masteruser). */
export const ADMIN_USER = "admin";
/** The ACL user of redis_exporter (read-only). */
export const EXPORTER_USER = "exporter";

/** The ACL user of an application (a service of the fleet): prefixed, so no app can be named like the admin. */
export function appUserName(app: string): string {
    return `app-${app}`;
}

/** How the pods' scripts and probes connect: as the administrator, TLS verified against the mounted CA. */
const POD_CLI: RedisCliOptions = { user: ADMIN_USER, caFile: `${TLS_DIR}/${TLS_SECRET_KEYS.ca}` };
/** On SIGTERM redis-server fsyncs the AOF and exits; Kubernetes' default 30 s, stated. */
const TERMINATION_GRACE_PERIOD_SECONDS = 30;
/** Bootstrap attempts before the Job fails (the script is idempotent, so a retry is safe). */
const BOOTSTRAP_BACKOFF_LIMIT = 3;

/** Loading a large AOF can take minutes: up to 5 minutes before liveness starts. */
const STARTUP_PROBE: ProbeTiming = { periodSeconds: 5, failureThreshold: 60 };
/** Out of the client Service within 15 s of not answering. */
const READINESS_PROBE: ProbeTiming = { periodSeconds: 5, failureThreshold: 3 };
/** Restarted after a minute of not answering. */
const LIVENESS_PROBE: ProbeTiming = { periodSeconds: 10, failureThreshold: 6 };
/** The node answers PING on its loopback (REDISCLI_AUTH holds the administrator's password). */
const PING_SCRIPT = `${redisCliCommand(POD_CLI)} -h 127.0.0.1 -p ${REDIS_PORT} ping | grep -q PONG`;
/** Ready only when the node can serve (renderReadinessScript), mounted from the config ConfigMap. */
const READINESS_SCRIPT = `sh ${CONF_DIR}/readiness.sh`;
/** Seconds between the cluster-heal container's passes over its node's peers. */
const CLUSTER_HEAL_INTERVAL_SECONDS = 5;
/** Where the bootstrap Job's topology init container writes pods.txt and zones.txt. */
const TOPOLOGY_DIR = "/topology";

/** Names of the cluster's Kubernetes objects. */
export interface RedisObjectNames {
    /** The StatefulSet, the client Service and the disruption budget. */
    statefulSet: string;
    /** The headless Service that gives pods their stable names. */
    headless: string;
    /** The Secret holding the administrator's password, the ACL file and the masterauth include (AUTH_SECRET_KEYS). */
    secret: string;
    /** The Secret of the exporter's password. */
    exporterSecret: string;
    /** The Secret (cert-manager's layout) of the nodes' certificate. */
    tls: string;
    /** Base name of the content-named ConfigMap (`<config>-<hash>`) holding redis.conf and the node scripts. */
    config: string;
    /** The bootstrap Job, and the base name of the content-named ConfigMap holding its script. */
    bootstrap: string;
}

export function redisObjectNames(name: string): RedisObjectNames {
    return {
        statefulSet: name,
        headless: `${name}-headless`,
        secret: `${name}-auth`,
        exporterSecret: `${name}-user-${EXPORTER_USER}`,
        tls: `${name}-tls`,
        config: `${name}-config`,
        bootstrap: `${name}-bootstrap`,
    };
}

/** The Secret of an application's password (key `password`). */
export function appSecretName(names: RedisObjectNames, app: string): string {
    return `${names.statefulSet}-user-${appUserName(app)}`;
}

/** Where a node binds and listens, keeps its data and finds its auth files and its certificate. */
export type RedisNodeLayout = Pick<RedisConfOptions, "bind" | "port" | "dataDir" | "auth" | "tls">;

/** A node in a pod: every interface, the PVC at /data, the Secret-mounted auth files and certificate. */
const POD_LAYOUT: RedisNodeLayout = {
    bind: "* -::*",
    port: REDIS_PORT,
    dataDir: DATA_DIR,
    auth: { aclFile: `${AUTH_DIR}/${AUTH_SECRET_KEYS.aclFile}`, replicationInclude: `${AUTH_DIR}/${AUTH_SECRET_KEYS.replicationInclude}` },
    tls: { certFile: `${TLS_DIR}/${TLS_SECRET_KEYS.certificate}`, keyFile: `${TLS_DIR}/${TLS_SECRET_KEYS.privateKey}`, caFile: POD_CLI.caFile },
};

/** redis.conf's options from the cluster's settings; the layout is the pod's unless given. */
export function redisConfOptions(
    settings: Pick<RedisSettings, "clusterNodeTimeoutMs" | "maxmemory" | "maxmemoryPolicy" | "clientIdleTimeoutSeconds" | "clientOutputBufferLimits">,
    layout: RedisNodeLayout = POD_LAYOUT,
): RedisConfOptions {
    return {
        ...layout,
        clusterNodeTimeoutMs: settings.clusterNodeTimeoutMs,
        maxmemory: settings.maxmemory,
        maxmemoryPolicy: settings.maxmemoryPolicy,
        clientIdleTimeoutSeconds: settings.clientIdleTimeoutSeconds,
        outputBufferLimits: settings.clientOutputBufferLimits,
    };
}

/** The bootstrap script's options: `nodes` as `host:port`, in pod order; redis-cli connects as in the pods unless given. */
export function bootstrapScriptOptions(
    settings: Pick<RedisSettings, "masters" | "replicasPerMaster">,
    nodes: string[],
    client: RedisCliOptions = POD_CLI,
): BootstrapOptions {
    return { nodes, masters: settings.masters, replicasPerMaster: settings.replicasPerMaster, timeoutSeconds: BOOTSTRAP_TIMEOUT_SECONDS, topologyDir: TOPOLOGY_DIR, client };
}

/**
 * The scripts beside redis.conf in the config ConfigMap: the readiness check and the cluster-heal
 * loop, which looks peers up in DNS by the hostnames they announce.
 */
export function redisNodeScripts(): Record<"readiness.sh" | "cluster-heal.sh", string> {
    return {
        "readiness.sh": renderReadinessScript(REDIS_PORT, POD_CLI),
        "cluster-heal.sh": renderClusterHealScript({
            port: REDIS_PORT,
            client: POD_CLI,
            tls: POD_LAYOUT.tls,
            intervalSeconds: CLUSTER_HEAL_INTERVAL_SECONDS,
            peers: { kind: "dns" },
            users: { aclFile: POD_LAYOUT.auth.aclFile, adminPasswordFile: `${AUTH_DIR}/${AUTH_SECRET_KEYS.adminPassword}`, exporterUser: EXPORTER_USER },
        }),
    };
}

/**
 * The names the nodes' certificate is issued for: every pod's announced hostname, the headless and
 * client Services (short, namespaced and full names), and `localhost`, by which the exporter sidecar
 * reaches its node (its Go TLS client checks the name; redis-cli and the nodes check the chain only).
 */
export function certificateDnsNames(
    names: RedisObjectNames,
    namespace: string,
    settings: Pick<RedisSettings, "masters" | "replicasPerMaster" | "clusterDomain">,
): string[] {
    const serviceNames = (service: string) => serviceDnsNames(service, namespace, settings.clusterDomain);
    const pods = statefulSetPodNames(names.statefulSet, redisPodCount(settings.masters, settings.replicasPerMaster));
    return [...pods.map((pod) => podHostname(pod, names.headless, namespace, settings.clusterDomain)), ...serviceNames(names.headless), ...serviceNames(names.statefulSet), "localhost"];
}

/** `host:port` of every node pod, by its stable name behind the headless Service. */
export function nodeAddresses(
    names: RedisObjectNames,
    namespace: string,
    settings: Pick<RedisSettings, "masters" | "replicasPerMaster" | "clusterDomain">,
): string[] {
    return statefulSetPodNames(names.statefulSet, redisPodCount(settings.masters, settings.replicasPerMaster)).map(
        (pod) => `${podHostname(pod, names.headless, namespace, settings.clusterDomain)}:${REDIS_PORT}`,
    );
}

/** Objects the node pods refer to; Outputs, so the pods are created after them. */
export interface RedisPodRefs {
    /** The Secret with the administrator's password, the ACL file and the masterauth include (AUTH_SECRET_KEYS). */
    secretName: pulumi.Input<string>;
    /** The Secret with the exporter's password (key `password`). */
    exporterSecretName: pulumi.Input<string>;
    /** The nodes' certificate Secret (TLS_SECRET_KEYS). */
    tlsSecretName: pulumi.Input<string>;
    /** The ConfigMap with redis.conf and the node scripts. */
    configMapName: pulumi.Input<string>;
    /** The ServiceAccount the pods run as (image pull Secrets, no API token). */
    serviceAccountName: pulumi.Input<string>;
}

/** The auth Secret's volume mount (read-only): redis-server reads the users from it, cluster-heal reloads them. */
const AUTH_MOUNT = { name: "auth", mountPath: AUTH_DIR, readOnly: true };
/** The certificate Secret's volume mount (read-only), in every container that talks to the node. */
const TLS_MOUNT = { name: "tls", mountPath: TLS_DIR, readOnly: true };

/** The redis-server container: cluster node, announcing its stable hostname. */
export function redisContainer(args: ResolvedRedisClusterArgs, names: RedisObjectNames, refs: RedisPodRefs): Container {
    // Kubernetes expands $(VAR) from the env below: each pod announces its own name.
    const announcedHostname = podHostname("$(POD_NAME)", names.headless, "$(POD_NAMESPACE)", args.clusterDomain);
    return {
        name: "redis",
        image: args.image,
        imagePullPolicy: IMAGE_PULL_POLICY,
        command: ["redis-server"],
        args: redisServerArgs(`${CONF_DIR}/redis.conf`, announcedHostname),
        env: [
            { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
            { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
            secretEnv("REDISCLI_AUTH", refs.secretName, "password"),
        ],
        ports: [
            { name: "redis", containerPort: REDIS_PORT },
            { name: "cluster-bus", containerPort: CLUSTER_BUS_PORT },
        ],
        resources: containerResources(args.resources),
        securityContext: containerSecurityContext(),
        startupProbe: shellProbe(PING_SCRIPT, STARTUP_PROBE),
        readinessProbe: shellProbe(READINESS_SCRIPT, READINESS_PROBE),
        livenessProbe: shellProbe(PING_SCRIPT, LIVENESS_PROBE),
        volumeMounts: [
            { name: "data", mountPath: DATA_DIR },
            { name: "config", mountPath: CONF_DIR, readOnly: true },
            AUTH_MOUNT,
            TLS_MOUNT,
        ],
    };
}

/**
 * The cluster-heal sidecar: re-meets peers that came back at a new IP (renderClusterHealScript), so
 * a cluster whose pods all restarted at once heals by itself, reloads the node's certificate
 * when cert-manager renews it, and loads the users again when the auth Secret changes (it mounts it,
 * and keeps the exporter's start password valid, hence EXPORTER_PASSWORD).
 */
export function clusterHealContainer(args: ResolvedRedisClusterArgs, refs: Pick<RedisPodRefs, "secretName" | "exporterSecretName">): Container {
    return {
        name: "cluster-heal",
        image: args.image,
        imagePullPolicy: IMAGE_PULL_POLICY,
        command: ["sh", `${CONF_DIR}/cluster-heal.sh`],
        env: [secretEnv("REDISCLI_AUTH", refs.secretName, "password"), secretEnv("EXPORTER_PASSWORD", refs.exporterSecretName, "password")],
        resources: containerResources(args.bootstrapResources ?? args.exporterResources),
        securityContext: containerSecurityContext(),
        // It can only heal through its node: ready and alive while the node answers, with the
        // node's own allowance for loading its AOF first.
        startupProbe: shellProbe(PING_SCRIPT, STARTUP_PROBE),
        readinessProbe: shellProbe(PING_SCRIPT, READINESS_PROBE),
        livenessProbe: shellProbe(PING_SCRIPT, LIVENESS_PROBE),
        volumeMounts: [{ name: "config", mountPath: CONF_DIR, readOnly: true }, AUTH_MOUNT, TLS_MOUNT],
    };
}

/**
 * The redis_exporter sidecar, reading its node over TLS as the read-only exporter user. It dials
 * `localhost` (a name of the certificate): Go's TLS client checks the name, which 127.0.0.1 is not.
 */
export function exporterContainer(args: ResolvedRedisClusterArgs, refs: Pick<RedisPodRefs, "exporterSecretName">): Container {
    return exporterSidecar({
        image: args.exporterImage,
        port: EXPORTER_PORT,
        probePath: "/health",
        resources: args.exporterResources,
        env: [
            { name: "REDIS_ADDR", value: `rediss://localhost:${REDIS_PORT}` },
            { name: "REDIS_USER", value: EXPORTER_USER },
            secretEnv("REDIS_PASSWORD", refs.exporterSecretName, "password"),
            { name: "REDIS_EXPORTER_TLS_CA_CERT_FILE", value: POD_CLI.caFile },
        ],
        volumeMounts: [TLS_MOUNT],
    });
}

/** The certificate Secret as a volume: `keys` of it, readable by the redis group only. */
function tlsVolume(secretName: pulumi.Input<string>, keys: string[]): Volume {
    return { name: "tls", secret: { secretName, items: keys.map((key) => ({ key, path: key })), defaultMode: TLS_FILE_MODE } };
}

/** The node pod's volumes besides its PVC: redis.conf, the auth files and the certificate. */
export function redisVolumes(refs: RedisPodRefs): Volume[] {
    return [
        { name: "config", configMap: { name: refs.configMapName } },
        { name: "auth", secret: { secretName: refs.secretName, items: Object.values(AUTH_SECRET_KEYS).map((key) => ({ key, path: key })), defaultMode: AUTH_FILE_MODE } },
        tlsVolume(refs.tlsSecretName, [TLS_SECRET_KEYS.certificate, TLS_SECRET_KEYS.privateKey, TLS_SECRET_KEYS.ca]),
    ];
}

/** A node pod: redis-server, its cluster-heal loop and its exporter, as the redis user, one pod per node. */
export function redisPodSpec(args: ResolvedRedisClusterArgs, names: RedisObjectNames, refs: RedisPodRefs, labels: Record<string, string>): PodSpec {
    return {
        serviceAccountName: refs.serviceAccountName,
        // The nodes never call the API (the bootstrap Job's topology container does, with its own account).
        automountServiceAccountToken: false,
        securityContext: podSecurityContext(REDIS_UID),
        topologySpreadConstraints: spreadAcrossNodes(selectorLabels(labels)),
        terminationGracePeriodSeconds: TERMINATION_GRACE_PERIOD_SECONDS,
        enableServiceLinks: false,
        containers: [redisContainer(args, names, refs), clusterHealContainer(args, refs), exporterContainer(args, refs)],
        volumes: redisVolumes(refs),
    };
}

/** The StatefulSet of every node, started in parallel, each with its PVC. */
export function redisStatefulSetSpec(
    args: ResolvedRedisClusterArgs,
    names: RedisObjectNames,
    refs: RedisPodRefs,
    template: { labels: Record<string, string>; annotations: pulumi.Input<Record<string, string>> },
): k8s.types.input.apps.v1.StatefulSetSpec {
    return {
        serviceName: names.headless,
        replicas: redisPodCount(args.masters, args.replicasPerMaster),
        // Every node must be up for the bootstrap; ordered start would only slow it.
        podManagementPolicy: "Parallel",
        updateStrategy: { type: "RollingUpdate" },
        persistentVolumeClaimRetentionPolicy: pvcRetentionPolicy(args.protectData),
        selector: { matchLabels: selectorLabels(template.labels) },
        template: { metadata: template, spec: redisPodSpec(args, names, refs, template.labels) },
        volumeClaimTemplates: [volumeClaimTemplate("data", args.storage, args.storageClass)],
    };
}

const CLIENT_PORT: ServicePort = { name: "redis", port: REDIS_PORT, targetPort: "redis" };
const BUS_PORT: ServicePort = { name: "cluster-bus", port: CLUSTER_BUS_PORT, targetPort: "cluster-bus" };

/** The headless Service behind the pods' stable names, client port and cluster bus. */
export function headlessServiceSpec(selector: Record<string, string>): ServiceSpec {
    // Nodes must find each other before they are ready, or the cluster never forms.
    return { clusterIP: "None", publishNotReadyAddresses: true, selector, ports: [CLIENT_PORT, BUS_PORT] };
}

/** The client Service: any node; clients follow MOVED redirects to the others. */
export function clientServiceSpec(selector: Record<string, string>): ServiceSpec {
    return { type: "ClusterIP", selector, ports: [CLIENT_PORT] };
}

/** Objects the bootstrap Job refers to. */
export interface BootstrapRefs {
    /** The Secret with the administrator's password (key `password`). */
    secretName: pulumi.Input<string>;
    /** The nodes' certificate Secret: the Job mounts only its CA. */
    tlsSecretName: pulumi.Input<string>;
    /** The ConfigMap with bootstrap.sh. */
    scriptConfigMapName: pulumi.Input<string>;
    /** The ServiceAccount the Job's pod runs as: it may list the pods of its namespace and the nodes. */
    serviceAccountName: pulumi.Input<string>;
}

/**
 * Seconds Pulumi awaits the bootstrap Job (k8s.ts jobDeadlines, as for every Job): every attempt's
 * pod start and the script's whole deadline, Kubernetes' retry delays, and a margin. The Job itself
 * gets no activeDeadlineSeconds: the script's deadline bounds its waits, not a `--cluster rebalance`
 * moving a large dataset, which must not be killed halfway.
 */
export const BOOTSTRAP_AWAIT_SECONDS = jobDeadlines({ scriptDeadlineSeconds: BOOTSTRAP_TIMEOUT_SECONDS, backoffLimit: BOOTSTRAP_BACKOFF_LIMIT }).awaitSeconds;

/** What the bootstrap's ServiceAccount may read: the node pods (where they run) and the nodes (their zone). */
export const BOOTSTRAP_POD_RULES: k8s.types.input.rbac.v1.PolicyRule[] = [{ apiGroups: [""], resources: ["pods"], verbs: ["list"] }];
export const BOOTSTRAP_NODE_RULES: k8s.types.input.rbac.v1.PolicyRule[] = [{ apiGroups: [""], resources: ["nodes"], verbs: ["list"] }];

/** The `-l` selector of kubectl from selector labels. */
function labelSelector(labels: Record<string, string>): string {
    return Object.entries(labels)
        .map(([key, value]) => `${key}=${value}`)
        .join(",");
}

/**
 * The init container that writes where each node pod runs (TOPOLOGY_DIR/pods.txt, `<pod> <node>`)
 * and each node's zone (zones.txt, `<node> <zone>`) for the replica placement. Nodes carry the zone
 * label, pods do not, hence the API. A failed read leaves the file out: the bootstrap then skips the
 * placement with a warning instead of failing.
 */
export function topologyContainer(args: ResolvedRedisClusterArgs, podLabels: Record<string, string>): Container {
    const cache = `--cache-dir=${TOPOLOGY_DIR}/.kube-cache`;
    const pods = `kubectl get pods ${cache} -l '${labelSelector(podLabels)}' -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.nodeName}{"\\n"}{end}'`;
    const zones = `kubectl get nodes ${cache} -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.labels.topology\\.kubernetes\\.io/zone}{"\\n"}{end}'`;
    return {
        name: "topology",
        image: args.kubectlImage,
        imagePullPolicy: IMAGE_PULL_POLICY,
        command: ["sh", "-c", `${pods} > ${TOPOLOGY_DIR}/pods.tmp && mv ${TOPOLOGY_DIR}/pods.tmp ${TOPOLOGY_DIR}/pods.txt; ${zones} > ${TOPOLOGY_DIR}/zones.txt; exit 0`],
        resources: containerResources(args.bootstrapResources ?? args.exporterResources),
        securityContext: containerSecurityContext(),
        volumeMounts: [{ name: "topology", mountPath: TOPOLOGY_DIR }],
    };
}

/** The bootstrap's redis-cli container, running the mounted script with the node image. */
export function bootstrapContainer(args: ResolvedRedisClusterArgs, refs: Pick<BootstrapRefs, "secretName">): Container {
    return {
        name: "bootstrap",
        image: args.image,
        imagePullPolicy: IMAGE_PULL_POLICY,
        command: ["sh", `${SCRIPTS_DIR}/bootstrap.sh`],
        env: [secretEnv("REDISCLI_AUTH", refs.secretName, "password")],
        resources: containerResources(args.bootstrapResources ?? args.exporterResources),
        securityContext: containerSecurityContext(),
        volumeMounts: [
            { name: "scripts", mountPath: SCRIPTS_DIR, readOnly: true },
            { name: "topology", mountPath: TOPOLOGY_DIR, readOnly: true },
            TLS_MOUNT,
        ],
    };
}

/** The Job that forms and grows the cluster; the script is idempotent, so retries and reruns are safe. */
export function bootstrapJobSpec(
    args: ResolvedRedisClusterArgs,
    refs: BootstrapRefs,
    labels: Record<string, string>,
    podLabels: Record<string, string>,
): k8s.types.input.batch.v1.JobSpec {
    return {
        backoffLimit: BOOTSTRAP_BACKOFF_LIMIT,
        template: {
            metadata: { labels },
            spec: {
                restartPolicy: "Never",
                serviceAccountName: refs.serviceAccountName,
                // The topology step lists the node pods and the nodes (its account mounts no token by itself).
                automountServiceAccountToken: true,
                securityContext: podSecurityContext(REDIS_UID),
                enableServiceLinks: false,
                initContainers: [topologyContainer(args, podLabels)],
                containers: [bootstrapContainer(args, refs)],
                volumes: [
                    { name: "scripts", configMap: { name: refs.scriptConfigMapName } },
                    scratchVolume("topology", "1Mi"),
                    tlsVolume(refs.tlsSecretName, [TLS_SECRET_KEYS.ca]),
                ],
            },
        },
    };
}
