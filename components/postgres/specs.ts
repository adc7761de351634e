// Pure builders of a PostgresCluster's Kubernetes specs: the Patroni members' StatefulSet (the
// patroni container, the postgres_exporter sidecar, volumes, probes), PgBouncer's Deployment, the
// Services and the Role Patroni needs. No resource is created here; object names the specs refer to
// are passed in (as the referenced objects' outputs, so the engine orders the objects).
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { MetricsTarget } from "../observability";
import {
    type Container,
    containerResources,
    containerSecurityContext,
    type EnvVar,
    exporterSidecar,
    httpsProbe,
    IMAGE_PULL_POLICY,
    podSecurityContext,
    type PodSpec,
    type ProbeTiming,
    pvcRetentionPolicy,
    scratchVolume,
    secretEnv,
    selectorLabels,
    type ServiceSpec,
    spreadAcrossNodes,
    jobDeadlines,
    tcpProbe,
    type Volume,
    volumeClaimTemplate,
} from "../k8s";
import { statefulSetPodNames } from "../dns";
import { TLS_SECRET_KEYS } from "../tls";
import type { PgbouncerSettings, PostgresParameters, ResolvedPostgresClusterArgs } from "./args";
import { BACKUP_AGENT_PORT, type MemberBackup, memberBackup } from "./backup";
import {
    CLUSTER_CLIENT_PGOPTIONS,
    dynamicSharedMemoryBytes,
    MEMBER_PATHS,
    MEMBER_TLS_DIR,
    memberCount,
    memberGracePeriodSeconds,
    MONITOR_USER,
    PATRONI_PORT,
    PGBOUNCER_EXPORTER_PORT,
    PGBOUNCER_IMAGE_LAYOUT,
    PGBOUNCER_PORT,
    pgbouncerOpenFiles,
    renderPgbouncerStartScript,
    POOLER_PATHS,
    POSTGRES_EXPORTER_PORT,
    POSTGRES_PORT,
    PostgresNames,
} from "./render";

/** Where patroni.yml and the post-bootstrap script are mounted (MEMBER_PATHS.postBootstrapScript is in it). */
const PATRONI_CONFIG_DIR = "/etc/patroni";
/** The PVC's mount; PGDATA (MEMBER_PATHS.dataDir) is a directory inside it, not the volume's root. */
const DATA_MOUNT = "/var/lib/postgresql/data";

/** PgBouncer's grace period: the Kubernetes default. */
const POOLER_GRACE_PERIOD_SECONDS = 30;

/**
 * Probes on Patroni's REST health endpoints, each attempt allowed 5 s. The startup probe gives
 * Patroni 5 minutes (60 x 5 s) to answer /liveness at all.
 */
const PATRONI_STARTUP: ProbeTiming = { periodSeconds: 5, failureThreshold: 60, timeoutSeconds: 5 };
const PATRONI_LIVENESS: ProbeTiming = { periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 5 };
const PATRONI_READINESS: ProbeTiming = { periodSeconds: 5, failureThreshold: 3, timeoutSeconds: 5 };
/** PgBouncer leaves the Service after 15 s without accepting connections, and is restarted after a minute. */
const PGBOUNCER_READINESS: ProbeTiming = { periodSeconds: 5, failureThreshold: 3 };
const PGBOUNCER_LIVENESS: ProbeTiming = { periodSeconds: 10, failureThreshold: 6 };

/** Mode of mounted config files (readable by the container's user) and of mounted secrets (owner only). */
const CONFIG_FILE_MODE = 0o444;
const SECRET_FILE_MODE = 0o400;
/**
 * Mode of a mounted certificate Secret: the files are root's, group fsGroup (the pod's user's
 * group), so the key must be group-readable; PostgreSQL accepts a root-owned key of mode 0640 or
 * less (kubelet would add the group's read bit to 0400 anyway).
 */
const TLS_FILE_MODE = 0o440;

/**
 * The Endpoints Patroni 3.0.2 keeps with use_endpoints (patroni/dcs/kubernetes.py: leader_path is
 * the scope itself, config_path, sync_path and failover_path `<scope>-<key>`; status, failsafe,
 * history and initialize are annotations on these). The component creates them beforehand, so
 * Patroni needs no `create`, which RBAC cannot limit by name: with each object present, every
 * write of 3.0.2 is a patch (initialize, the leader race and the sync key carry the object's
 * resourceVersion, so concurrent members still get 409 Conflict).
 */
export function patroniEndpointNames(scope: string): { leader: string; config: string; sync: string; failover: string } {
    return { leader: scope, config: `${scope}-config`, sync: `${scope}-sync`, failover: `${scope}-failover` };
}

/**
 * Patroni's Role, checked against patroni 3.0.2 (patroni/dcs/kubernetes.py) with use_endpoints:
 * it lists and watches pods and Endpoints by label (list and watch by label cannot be limited by
 * name), patches its own pod's role label and status annotation (only the member pods, by name),
 * patches the leader/config/sync/failover Endpoints (patroniEndpointNames, created by the
 * component) and reads the leader Endpoints after a conflicting update. No create, update or
 * delete (only `patronictl remove` deletes); no Service creation (3.0.2 tolerates the 403; the
 * component creates the config Service).
 */
export function patroniRbacRules(scope: string, members: number): k8s.types.input.rbac.v1.PolicyRule[] {
    const endpoints = patroniEndpointNames(scope);
    return [
        { apiGroups: [""], resources: ["endpoints"], verbs: ["list", "watch"] },
        { apiGroups: [""], resources: ["endpoints"], verbs: ["get"], resourceNames: [endpoints.leader] },
        { apiGroups: [""], resources: ["endpoints"], verbs: ["patch"], resourceNames: Object.values(endpoints) },
        { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
        { apiGroups: [""], resources: ["pods"], verbs: ["patch"], resourceNames: statefulSetPodNames(scope, members) },
    ];
}

/**
 * The DNS name of a member pod under the members' headless Service, with the pod's name and
 * namespace from the environment (Kubernetes expands `$(VAR)` in env values). Its peers reach it by
 * this name, which its certificate carries, so their TLS connections can check the host name (a
 * pod IP cannot be in a certificate issued before the pod exists).
 */
export function memberHostTemplate(membersService: string, clusterDomain: string): string {
    return `$(PATRONI_NAME).${membersService}.$(PATRONI_KUBERNETES_NAMESPACE).svc.${clusterDomain}`;
}

/** Names of the objects a member pod refers to. */
export interface MemberPodRefs {
    serviceAccount: pulumi.Input<string>;
    /** ConfigMap with patroni.yml and post-bootstrap.sh. */
    patroniConfig: pulumi.Input<string>;
    /** Secret with the superuser, replication, monitor and REST API passwords. */
    credentialsSecret: pulumi.Input<string>;
    /** Secret with the application role's password. */
    appSecret: pulumi.Input<string>;
    /** The member certificate's Secret (keys TLS_SECRET_KEYS): PostgreSQL's and Patroni's REST API's TLS. */
    tlsSecret: pulumi.Input<string>;
    /** The members' headless Service (plain name): their DNS names are `<pod>.<membersService>.<namespace>.svc.<domain>`. */
    membersService: string;
    /** The backup ConfigMap and a volume repository's PVC (backup.ts); unset when backups are off. */
    backup?: { config: pulumi.Input<string>; repositoryClaim: pulumi.Input<string> };
}

/** Names of the objects a PgBouncer pod refers to. */
export interface PoolerPodRefs {
    /** ConfigMap with pgbouncer.ini. */
    poolerConfig: pulumi.Input<string>;
    /** Secret with userlist.txt and the exporter's connection string. */
    poolerSecret: pulumi.Input<string>;
    /** PgBouncer's certificate Secret (keys TLS_SECRET_KEYS), for the pooler Service's names. */
    tlsSecret: pulumi.Input<string>;
    /** The ServiceAccount the pods run as (image pull Secrets, no API token). */
    serviceAccount: pulumi.Input<string>;
}

const fieldEnv = (name: string, fieldPath: string): EnvVar => ({ name, valueFrom: { fieldRef: { fieldPath } } });

/**
 * Patroni's per-member settings: the pod's identity from the downward API, the passwords from the
 * Secret, and the addresses its peers and clients reach it at: its DNS name (memberHost, which its
 * certificate carries: standbys connect with sslmode=verify-full, and the dynamic-config Job checks
 * the REST API's host name). The leader Endpoints still get the pod IP (PATRONI_KUBERNETES_POD_IP).
 */
function patroniEnv(credentialsSecret: pulumi.Input<string>, memberHost: string): EnvVar[] {
    return [
        fieldEnv("PATRONI_NAME", "metadata.name"),
        fieldEnv("PATRONI_KUBERNETES_NAMESPACE", "metadata.namespace"),
        fieldEnv("PATRONI_KUBERNETES_POD_IP", "status.podIP"),
        // Kubernetes expands $(VAR) from the variables above.
        { name: "PATRONI_POSTGRESQL_CONNECT_ADDRESS", value: `${memberHost}:${POSTGRES_PORT}` },
        { name: "PATRONI_RESTAPI_CONNECT_ADDRESS", value: `${memberHost}:${PATRONI_PORT}` },
        secretEnv("PATRONI_SUPERUSER_PASSWORD", credentialsSecret, "superuser-password"),
        secretEnv("PATRONI_REPLICATION_PASSWORD", credentialsSecret, "replication-password"),
        secretEnv("PATRONI_RESTAPI_PASSWORD", credentialsSecret, "restapi-password"),
        // Inherited by pg_basebackup, pg_rewind and archive/restore commands: no application timeouts.
        { name: "PGOPTIONS", value: CLUSTER_CLIENT_PGOPTIONS },
    ];
}

/** The member's main container: Patroni running PostgreSQL, health-checked on Patroni's REST API. */
export function patroniContainer(
    args: ResolvedPostgresClusterArgs,
    image: pulumi.Input<string>,
    refs: Pick<MemberPodRefs, "credentialsSecret" | "membersService">,
    backup?: Pick<MemberBackup, "postgresEnv" | "postgresMounts">,
): Container {
    return {
        name: "postgres",
        image,
        imagePullPolicy: IMAGE_PULL_POLICY,
        command: ["patroni", `${PATRONI_CONFIG_DIR}/patroni.yml`],
        // archive_command (pgbackrest archive-push) runs here and inherits this environment.
        env: [...patroniEnv(refs.credentialsSecret, memberHostTemplate(refs.membersService, args.clusterDomain)), ...(backup?.postgresEnv ?? [])],
        ports: [
            { name: "postgresql", containerPort: POSTGRES_PORT },
            { name: "patroni", containerPort: PATRONI_PORT },
        ],
        resources: containerResources(args.resources),
        securityContext: containerSecurityContext(),
        // /liveness answers while Patroni's HA loop runs (also during a long standby clone);
        // /readiness once PostgreSQL runs in its role. The REST API speaks HTTPS only.
        startupProbe: httpsProbe("/liveness", "patroni", PATRONI_STARTUP),
        livenessProbe: httpsProbe("/liveness", "patroni", PATRONI_LIVENESS),
        readinessProbe: httpsProbe("/readiness", "patroni", PATRONI_READINESS),
        volumeMounts: [
            { name: "data", mountPath: DATA_MOUNT },
            { name: "config", mountPath: PATRONI_CONFIG_DIR, readOnly: true },
            { name: "secrets", mountPath: MEMBER_PATHS.secretsDir, readOnly: true },
            { name: "tls", mountPath: MEMBER_TLS_DIR, readOnly: true },
            { name: "run", mountPath: MEMBER_PATHS.socketDir },
            { name: "tmp", mountPath: "/tmp" },
            { name: "shm", mountPath: "/dev/shm" },
            ...(backup?.postgresMounts ?? []),
        ],
    };
}

/** postgres_exporter next to each member, logged in as the monitoring role over loopback. */
export function postgresExporterContainer(args: ResolvedPostgresClusterArgs, credentialsSecret: pulumi.Input<string>): Container {
    return exporterSidecar({
        image: args.exporterImage,
        env: [
            { name: "DATA_SOURCE_URI", value: `127.0.0.1:${POSTGRES_PORT}/postgres?sslmode=disable` },
            { name: "DATA_SOURCE_USER", value: MONITOR_USER },
            secretEnv("DATA_SOURCE_PASS", credentialsSecret, "monitor-password"),
        ],
        port: POSTGRES_EXPORTER_PORT,
        // The landing page: /metrics would run every collector query on each probe.
        probePath: "/",
        resources: args.exporterResources,
    });
}

/** A member's volumes besides its PVC: the config, the password files the post-bootstrap script reads, scratch space. */
export function memberVolumes(refs: MemberPodRefs, parameters: Pick<PostgresParameters, "work_mem">): Volume[] {
    return [
        { name: "config", configMap: { name: refs.patroniConfig, defaultMode: CONFIG_FILE_MODE } },
        {
            // Only what the post-bootstrap script reads, as files (never env or args).
            name: "secrets",
            projected: {
                defaultMode: SECRET_FILE_MODE,
                sources: [
                    { secret: { name: refs.appSecret, items: [{ key: "password", path: "app-password" }] } },
                    { secret: { name: refs.credentialsSecret, items: [{ key: "monitor-password", path: "monitor-password" }] } },
                ],
            },
        },
        { name: "tls", secret: { secretName: refs.tlsSecret, defaultMode: TLS_FILE_MODE } },
        scratchVolume("run", "16Mi"),
        scratchVolume("tmp", "64Mi"),
        sharedMemoryVolume(parameters),
    ];
}

/**
 * PostgreSQL's /dev/shm: memory-backed (tmpfs), sized by dynamicSharedMemoryBytes. Its pages count
 * against the container's memory limit, which checkPostgresSettings keeps above shared_buffers plus
 * this size.
 */
export function sharedMemoryVolume(parameters: Pick<PostgresParameters, "work_mem">): Volume {
    return { name: "shm", emptyDir: { medium: "Memory", sizeLimit: `${dynamicSharedMemoryBytes(parameters) / (1024 * 1024)}Mi` } };
}

/** A member pod: Patroni (which needs its service account token) and the exporter, spread across nodes. */
export function memberPodSpec(args: ResolvedPostgresClusterArgs, image: pulumi.Input<string>, selector: Record<string, string>, refs: MemberPodRefs): PodSpec {
    const backup =
        refs.backup && args.backup.enabled
            ? memberBackup(args.backup, { ...refs.backup, image, credentialsSecret: refs.credentialsSecret, dataVolume: "data", dataMount: DATA_MOUNT, socketVolume: "run" })
            : undefined;
    return {
        serviceAccountName: refs.serviceAccount,
        // Patroni keeps its leader lock and member keys in the Kubernetes API (its account mounts none by itself).
        automountServiceAccountToken: true,
        securityContext: podSecurityContext(args.postgresUid),
        topologySpreadConstraints: spreadAcrossNodes(selector),
        // Long enough for the shutdown checkpoint of a full shared_buffers.
        terminationGracePeriodSeconds: memberGracePeriodSeconds(args.parameters),
        enableServiceLinks: false,
        containers: [patroniContainer(args, image, refs, backup), postgresExporterContainer(args, refs.credentialsSecret), ...(backup ? [backup.agent] : [])],
        volumes: [...memberVolumes(refs, args.parameters), ...(backup?.volumes ?? [])],
    };
}

/** What the members' StatefulSet spec is built from besides the args. */
export interface MemberSetRefs extends MemberPodRefs {
    /** Labels of the member pods (standardLabels). */
    labels: Record<string, string>;
    /** The pod template's annotations (config checksum, scrape port). */
    annotations: pulumi.Input<Record<string, string>>;
    /** The headless Service governing the StatefulSet. */
    serviceName: pulumi.Input<string>;
    image: pulumi.Input<string>;
}

/** The members' StatefulSet: 1 + standbys pods started in parallel, each with its PVC. */
export function memberStatefulSetSpec(args: ResolvedPostgresClusterArgs, refs: MemberSetRefs): k8s.types.input.apps.v1.StatefulSetSpec {
    const selector = selectorLabels(refs.labels);
    return {
        serviceName: refs.serviceName,
        replicas: memberCount(args.standbys),
        // Patroni arbitrates the bootstrap through the DCS; ordered start would only slow it.
        podManagementPolicy: "Parallel",
        updateStrategy: { type: "RollingUpdate" },
        persistentVolumeClaimRetentionPolicy: pvcRetentionPolicy(args.protectData),
        selector: { matchLabels: selector },
        template: {
            metadata: { labels: refs.labels, annotations: refs.annotations },
            spec: memberPodSpec(args, refs.image, selector, refs),
        },
        volumeClaimTemplates: [volumeClaimTemplate("data", args.storage, args.storageClass)],
    };
}

/** Seconds the dynamic-config script may run: waiting for the cluster, the patch, every member's restart. */
export const DYNAMIC_CONFIG_DEADLINE_SECONDS = 600;
/** Runs of the dynamic-config Job's pod: one retry (the script is idempotent), then the Job fails. */
const DYNAMIC_CONFIG_ATTEMPTS = 2;
/** The Job's own limit and how long `pulumi up` waits for it (k8s.ts jobDeadlines, as for every Job). */
export const DYNAMIC_CONFIG_JOB_DEADLINES = jobDeadlines({ scriptDeadlineSeconds: DYNAMIC_CONFIG_DEADLINE_SECONDS, backoffLimit: DYNAMIC_CONFIG_ATTEMPTS - 1 });

/** Names of the objects the dynamic-config Job's pod refers to. */
export interface DynamicConfigJobRefs {
    /** The members' image: it has Python 3, which runs the script. */
    image: pulumi.Input<string>;
    /** Secret with `restapi-password` (Patroni's REST API; PATCH and POST need it). */
    credentialsSecret: pulumi.Input<string>;
    /** ServiceAccount with the image pull Secrets and no API token (the script talks only to Patroni). */
    serviceAccount: pulumi.Input<string>;
    /** The member certificate's Secret: only its CA is mounted, to check the REST APIs' certificates. */
    tlsSecret: pulumi.Input<string>;
}

/** Where the dynamic-config Job's pod finds the CA of the members' REST API certificates. */
const DYNAMIC_CONFIG_CA_DIR = "/etc/patroni-ca";
export const DYNAMIC_CONFIG_CA_FILE = `${DYNAMIC_CONFIG_CA_DIR}/${TLS_SECRET_KEYS.ca}`;

/**
 * The Job that applies Patroni's dynamic configuration to the running cluster and restarts the
 * members that need it (renderDynamicConfigScript). `script` is passed inline (`python3 -c`): it
 * holds no password, and a changed script is a new Job.
 */
export function dynamicConfigJobSpec(
    args: ResolvedPostgresClusterArgs,
    script: pulumi.Input<string>,
    labels: Record<string, string>,
    refs: DynamicConfigJobRefs,
): k8s.types.input.batch.v1.JobSpec {
    return {
        backoffLimit: DYNAMIC_CONFIG_ATTEMPTS - 1,
        activeDeadlineSeconds: DYNAMIC_CONFIG_JOB_DEADLINES.activeDeadlineSeconds,
        template: {
            metadata: { labels },
            spec: {
                restartPolicy: "Never",
                serviceAccountName: refs.serviceAccount,
                automountServiceAccountToken: false,
                enableServiceLinks: false,
                securityContext: podSecurityContext(args.postgresUid),
                containers: [
                    {
                        name: "apply",
                        image: refs.image,
                        imagePullPolicy: IMAGE_PULL_POLICY,
                        command: ["python3", "-c", script],
                        env: [secretEnv("PATRONI_RESTAPI_PASSWORD", refs.credentialsSecret, "restapi-password")],
                        resources: containerResources(args.exporterResources),
                        securityContext: containerSecurityContext(),
                        volumeMounts: [{ name: "ca", mountPath: DYNAMIC_CONFIG_CA_DIR, readOnly: true }],
                    },
                ],
                volumes: [{ name: "ca", secret: { secretName: refs.tlsSecret, items: [{ key: TLS_SECRET_KEYS.ca, path: TLS_SECRET_KEYS.ca }], defaultMode: CONFIG_FILE_MODE } }],
            },
        },
    };
}

/**
 * PgBouncer's command: the line the image's entrypoint.sh runs, with the mounted pgbouncer.ini. Run
 * directly rather than through that script: /bin/sh (dash) runs its last command as a child, and a
 * shell as PID 1 has no SIGTERM handler, so the kernel drops Kubernetes' SIGTERM and PgBouncer would
 * be SIGKILLed after the grace period instead of shutting down (it waits for its clients on SIGTERM).
 * The container starts it through pgbouncerStartCommand, whose script ends by exec-ing this line.
 */
export const PGBOUNCER_COMMAND: readonly string[] = [PGBOUNCER_IMAGE_LAYOUT.binary, `${POOLER_PATHS.configDir}/pgbouncer.ini`];

/**
 * The container's command: the image's /bin/sh (debian:trixie-slim's dash) raises the open-files
 * soft limit to what max_client_conn needs, then execs PGBOUNCER_COMMAND (renderPgbouncerStartScript).
 */
function pgbouncerStartCommand(pgbouncer: Pick<PgbouncerSettings, "maxClientConn" | "defaultPoolSize" | "reservePoolSize">): string[] {
    const [binary, configFile] = PGBOUNCER_COMMAND;
    return ["/bin/sh", "-c", renderPgbouncerStartScript({ binary, configFile, openFiles: pgbouncerOpenFiles(pgbouncer), maxClientConn: pgbouncer.maxClientConn })];
}

/**
 * PgBouncer itself, checked by TCP connects on its port. Read-only root filesystem and no scratch
 * volume: its pgbouncer.ini sets no pidfile, logfile or unix socket, so it writes no file.
 */
export function pgbouncerContainer(pgbouncer: PgbouncerSettings): Container {
    return {
        name: "pgbouncer",
        image: pgbouncer.image,
        imagePullPolicy: IMAGE_PULL_POLICY,
        command: pgbouncerStartCommand(pgbouncer),
        ports: [{ name: "pgbouncer", containerPort: PGBOUNCER_PORT }],
        resources: containerResources(pgbouncer.resources),
        securityContext: containerSecurityContext(),
        readinessProbe: tcpProbe("pgbouncer", PGBOUNCER_READINESS),
        livenessProbe: tcpProbe("pgbouncer", PGBOUNCER_LIVENESS),
        volumeMounts: [
            { name: "config", mountPath: POOLER_PATHS.configDir, readOnly: true },
            { name: "auth", mountPath: POOLER_PATHS.authDir, readOnly: true },
            { name: "tls", mountPath: POOLER_PATHS.tlsDir, readOnly: true },
        ],
    };
}

/** pgbouncer_exporter next to each PgBouncer, reading its admin console as the monitoring role. */
export function pgbouncerExporterContainer(pgbouncer: PgbouncerSettings, poolerSecret: pulumi.Input<string>): Container {
    return exporterSidecar({
        image: pgbouncer.exporterImage,
        env: [secretEnv("PGBOUNCER_EXPORTER_CONNECTION_STRING", poolerSecret, "exporter-uri")],
        port: PGBOUNCER_EXPORTER_PORT,
        probePath: "/metrics",
        resources: pgbouncer.exporterResources,
    });
}

/** A PgBouncer pod: no service account token, spread across nodes. */
export function poolerPodSpec(args: ResolvedPostgresClusterArgs, selector: Record<string, string>, refs: PoolerPodRefs): PodSpec {
    return {
        serviceAccountName: refs.serviceAccount,
        securityContext: podSecurityContext(args.pgbouncerUid, args.pgbouncerGid),
        topologySpreadConstraints: spreadAcrossNodes(selector),
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        terminationGracePeriodSeconds: POOLER_GRACE_PERIOD_SECONDS,
        containers: [pgbouncerContainer(args.pgbouncer), pgbouncerExporterContainer(args.pgbouncer, refs.poolerSecret)],
        volumes: [
            { name: "config", configMap: { name: refs.poolerConfig, defaultMode: CONFIG_FILE_MODE } },
            { name: "auth", secret: { secretName: refs.poolerSecret, items: [{ key: "userlist.txt", path: "userlist.txt" }], defaultMode: SECRET_FILE_MODE } },
            { name: "tls", secret: { secretName: refs.tlsSecret, defaultMode: TLS_FILE_MODE } },
        ],
    };
}

/** PgBouncer's Deployment: pgbouncer.replicas pods, rolled one extra at a time. */
export function poolerDeploymentSpec(
    args: ResolvedPostgresClusterArgs,
    labels: Record<string, string>,
    annotations: pulumi.Input<Record<string, string>>,
    refs: PoolerPodRefs,
): k8s.types.input.apps.v1.DeploymentSpec {
    const selector = selectorLabels(labels);
    return {
        replicas: args.pgbouncer.replicas,
        selector: { matchLabels: selector },
        // Keep full pooling capacity during a rollout.
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: { metadata: { labels, annotations }, spec: poolerPodSpec(args, selector, refs) },
    };
}

/** The selector labels of the member pods, of the leader alone and of the standbys alone. */
export interface MemberSelectors {
    members: Record<string, string>;
    leader: Record<string, string>;
    standbys: Record<string, string>;
}

/** A Service of the cluster: its object name and spec. */
export interface ServiceSpecOf {
    name: string;
    spec: ServiceSpec;
}

const postgresServicePort = { name: "postgresql", port: POSTGRES_PORT, targetPort: "postgresql" };

/** The Services of the members, by role, and those that keep Patroni's Endpoints. */
export function memberServices(names: PostgresNames, selectors: MemberSelectors): Record<"leader" | "config" | "sync" | "failover" | "members" | "rw" | "ro", ServiceSpecOf> {
    return {
        // Selector-less: Patroni writes the leader's address into this Service's Endpoints (same port
        // name); without a Service, Kubernetes may garbage-collect those Endpoints.
        leader: { name: names.leaderService, spec: { type: "ClusterIP", ports: [{ name: "postgresql", port: POSTGRES_PORT, targetPort: POSTGRES_PORT }] } },
        // Keep Patroni's `<scope>-config`, `-sync` and `-failover` Endpoints alive: the endpoints
        // controller deletes Endpoints without a Service (when it restarts), and Patroni may not
        // re-create them (its Role has no `create`).
        config: { name: names.configService, spec: { clusterIP: "None" } },
        sync: { name: names.syncService, spec: { clusterIP: "None" } },
        failover: { name: names.failoverService, spec: { clusterIP: "None" } },
        members: {
            name: names.membersService,
            spec: {
                clusterIP: "None",
                // Members must reach each other while not ready (a standby being cloned).
                publishNotReadyAddresses: true,
                selector: selectors.members,
                ports: [postgresServicePort, { name: "patroni", port: PATRONI_PORT, targetPort: "patroni" }],
            },
        },
        rw: { name: names.rwService, spec: { type: "ClusterIP", selector: selectors.leader, ports: [postgresServicePort] } },
        ro: { name: names.roService, spec: { type: "ClusterIP", selector: selectors.standbys, ports: [postgresServicePort] } },
    };
}

/** PgBouncer's Service: what the services connect to. */
export function poolerServiceSpec(selector: Record<string, string>): ServiceSpec {
    return { type: "ClusterIP", selector, ports: [{ name: "pgbouncer", port: PGBOUNCER_PORT, targetPort: "pgbouncer" }] };
}

/** What Prometheus scrapes: postgres_exporter, Patroni's /metrics and the backup agent (`backupAgent`) on the members, pgbouncer_exporter on PgBouncer. */
export function clusterMetricsTargets(podLabels: Record<string, string>, poolerLabels: Record<string, string>, backupAgent = false): MetricsTarget[] {
    return [
        { name: "postgres", labels: podLabels, ports: [POSTGRES_EXPORTER_PORT, PATRONI_PORT, ...(backupAgent ? [BACKUP_AGENT_PORT] : [])] },
        { name: "pgbouncer", labels: poolerLabels, ports: [PGBOUNCER_EXPORTER_PORT] },
    ];
}
