import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { connectionBudget } from "../budget";
import { ImageSource, RegistrySettings, resolveImage } from "../images";
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
    scratchVolume,
    selectorLabels,
    serviceAccountWithRole,
    spreadAcrossNodes,
    standardLabels,
    volumeClaimTemplate,
    withDefaults,
} from "../k8s";
import { MEMORY_QUANTITY, POSTGRES_SIZE, parseMemoryQuantity, parsePostgresSize } from "../units";
import {
    LEADER_ROLE,
    MEMBER_PATHS,
    MONITOR_USER,
    PATRONI_PORT,
    PGBOUNCER_EXPORTER_PORT,
    PGBOUNCER_PORT,
    POSTGRES_EXPORTER_PORT,
    POSTGRES_PORT,
    PatroniTiming,
    PostgresParameters,
    REPLICATION_USER,
    REPLICA_ROLE,
    ROLE_LABEL,
    SUPERUSER,
    memberCount,
    postgresNames,
    postgresUri,
    renderPatroniConfig,
    renderPgbouncerIni,
    renderPgbouncerUserlist,
    renderPostBootstrapScript,
} from "./render";

export * from "./render";

/** The PgBouncer tier in front of the leader (the shape of the stack's `pgbouncer` section). */
/** Passwords a PostgresCluster uses instead of generating them; each is optional. */
export interface PostgresPasswords {
    /** The `postgres` superuser Patroni manages the cluster with. */
    superuser?: pulumi.Input<string>;
    /** The replication role the standbys stream with. */
    replication?: pulumi.Input<string>;
    /** The application role (args.appUser) the services log in as through PgBouncer. */
    app?: pulumi.Input<string>;
    /** The read-only monitoring role (postgres_exporter, PgBouncer's SHOW commands). */
    monitor?: pulumi.Input<string>;
    /** Basic auth of Patroni's REST API. */
    restapi?: pulumi.Input<string>;
}

export interface PgbouncerArgs {
    /** PgBouncer pods (1+); more than one gets a PDB and spreading. */
    replicas: number;
    /** PgBouncer image, pinned; it must have `pgbouncer` on its PATH and run as a non-root user. */
    image: string;
    /** prometheuscommunity/pgbouncer-exporter image, pinned. */
    exporterImage: string;
    /** Client connections each pod accepts (`max_client_conn`). */
    maxClientConn: number;
    /** Server connections each pod opens to the leader (`default_pool_size`). */
    defaultPoolSize: number;
    /** Extra server connections each pod may open under load (`reserve_pool_size`). */
    reservePoolSize: number;
    /** Resources of each pgbouncer container. */
    resources: ContainerResources;
    /** Resources of each exporter sidecar. */
    exporterResources: ContainerResources;
}

/** Arguments of a PostgresCluster. Every field but `namespace` has a default (POSTGRES_CLUSTER_DEFAULTS). */
export interface PostgresClusterArgs {
    /** Namespace for every object of the cluster. */
    namespace: pulumi.Input<string>;
    /** Streaming replicas next to the leader; members = 1 + replicas. */
    replicas?: number;
    /**
     * Patroni synchronous_mode: a commit returns only once a synchronous standby has it, and only
     * that standby may be promoted, so no acknowledged commit is lost on failover. Needs a replica.
     */
    synchronousMode?: boolean;
    /** The PostgreSQL 15 + Patroni 3 image: prebuilt (pinned) or built from images/postgres. */
    image?: ImageSource;
    /** Where a built image is pushed; required when `image` is a build. */
    registry?: RegistrySettings;
    /** postgres_exporter image, pinned. */
    exporterImage?: string;
    /** Database created at bootstrap, owned by `appUser`. */
    database?: string;
    /** Application role created at bootstrap; its password is in the `<name>-app` Secret. */
    appUser?: string;
    /** PVC size per member. */
    storage?: string;
    /** StorageClass of the PVCs; unset = the cluster default. */
    storageClass?: string;
    /** Resources of each PostgreSQL/Patroni container. */
    resources?: ContainerResources;
    /** Resources of each postgres_exporter sidecar. */
    exporterResources?: ContainerResources;
    /** PostgreSQL sizing, written into Patroni's configuration. */
    parameters?: PostgresParameters;
    /** Connections kept free of PgBouncer's server pools (exporters, admins, Patroni). */
    reservedConnections?: number;
    /** Patroni's leader TTL, loop wait, retry timeout and failover lag limit. */
    patroni?: PatroniTiming;
    /** The PgBouncer tier. */
    pgbouncer?: PgbouncerArgs;
    /** Pulumi `protect` on the StatefulSet, Secrets and passwords, and PVCs retained on delete/scale-down. */
    protectData?: boolean;
    /** Passwords of the PostgreSQL roles and Patroni's REST API; each one unset is generated once (RandomPassword). */
    passwords?: PostgresPasswords;
    /** The cluster's DNS domain, used in host outputs and PgBouncer's upstream. */
    clusterDomain?: string;
    /** UID/GID of the postgres user in the image (the official postgres image and images/postgres: 999). */
    postgresUid?: number;
    /** UID/GID PgBouncer runs as (bitnami/pgbouncer: 1001). */
    pgbouncerUid?: number;
}

/** Defaults of PostgresClusterArgs: the prod shape of DESIGN.md (1 leader + 2 replicas, synchronous). */
export const POSTGRES_CLUSTER_DEFAULTS = {
    replicas: 2,
    synchronousMode: true,
    image: { build: { context: "images/postgres", repository: "postgres-patroni", tag: "15.10-patroni3.0.2" } } as ImageSource,
    registry: undefined as RegistrySettings | undefined,
    exporterImage: "quay.io/prometheuscommunity/postgres-exporter:v0.15.0",
    database: "prepx",
    appUser: "prepx",
    storage: "500Gi",
    storageClass: undefined as string | undefined,
    resources: { requests: { cpu: "4", memory: "8Gi" }, limits: { cpu: "8", memory: "16Gi" } } as ContainerResources,
    exporterResources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } } as ContainerResources,
    parameters: {
        shared_buffers: "4GB",
        effective_cache_size: "12GB",
        work_mem: "64MB",
        maintenance_work_mem: "512MB",
        max_connections: 500,
        superuser_reserved_connections: 5,
        wal_level: "replica",
        max_wal_senders: 10,
        max_replication_slots: 10,
    } as PostgresParameters,
    reservedConnections: 40,
    patroni: { ttl: 30, loopWait: 10, retryTimeout: 10, maximumLagOnFailover: 1048576 } as PatroniTiming,
    pgbouncer: {
        replicas: 3,
        image: "bitnami/pgbouncer:1.23.1",
        exporterImage: "prometheuscommunity/pgbouncer-exporter:v0.9.0",
        maxClientConn: 5000,
        defaultPoolSize: 120,
        reservePoolSize: 20,
        resources: { requests: { cpu: "1", memory: "512Mi" }, limits: { cpu: "2", memory: "1Gi" } },
        exporterResources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
    } as PgbouncerArgs,
    protectData: true,
    clusterDomain: "cluster.local",
    postgresUid: 999,
    pgbouncerUid: 1001,
};

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const RESERVED_ROLES = [SUPERUSER, REPLICATION_USER, MONITOR_USER];
const CONFIG_DIR = "/etc/patroni";
const DATA_MOUNT = "/var/lib/postgresql/data";
const PGBOUNCER_CONFIG_DIR = "/etc/pgbouncer";
const PGBOUNCER_AUTH_DIR = "/etc/pgbouncer-auth";

/**
 * A PostgreSQL 15 cluster run by Patroni on the Kubernetes API (no extra DCS): a StatefulSet of
 * 1 + replicas members with automatic failover, `<name>-rw`/`<name>-ro` Services that follow
 * Patroni's role label, a PgBouncer tier (transaction pooling) in front of the leader, exporter
 * sidecars, and generated passwords held only in Secrets.
 */
export class PostgresCluster extends pulumi.ComponentResource {
    /** DNS name of `<name>-rw`: always the current leader (read-write). */
    public readonly rwHost: pulumi.Output<string>;
    /** DNS name of `<name>-ro`: the streaming replicas (read-only). */
    public readonly roHost: pulumi.Output<string>;
    /** DNS name of `<name>-pooler`: PgBouncer in front of the leader; what services connect to. */
    public readonly poolerHost: pulumi.Output<string>;
    /** PostgreSQL's port on rwHost and roHost. */
    public readonly port: number = POSTGRES_PORT;
    /** PgBouncer's port on poolerHost. */
    public readonly poolerPort: number = PGBOUNCER_PORT;
    /** The application database. */
    public readonly database: string;
    /** The application role. */
    public readonly appUser: string;
    /** Secret with the application role's `username`, `password`, `database`, `host`, `port` and `uri` (via PgBouncer). */
    public readonly appSecretName: pulumi.Output<string>;
    /** Secret with `superuser-password`, `replication-password`, `monitor-password`, `restapi-password`. */
    public readonly credentialsSecretName: pulumi.Output<string>;
    /** Secret with PgBouncer's `userlist.txt` and its exporter's `exporter-uri`. */
    public readonly poolerSecretName: pulumi.Output<string>;
    /** The application role's password. */
    public readonly appPassword: pulumi.Output<string>;
    /** The `postgres` superuser's password. */
    public readonly superuserPassword: pulumi.Output<string>;
    /** The replication role's password. */
    public readonly replicationPassword: pulumi.Output<string>;
    /** The monitoring role's password (pg_monitor; exporters). */
    public readonly monitorPassword: pulumi.Output<string>;
    /** Patroni's cluster name (scope). */
    public readonly patroniScope: string;
    /** Labels on every member pod (selector labels; for NetworkPolicies and monitoring). */
    public readonly podLabels: Record<string, string>;
    /** Labels selecting the current leader only: podLabels plus Patroni's role label (`role: master`). */
    public readonly leaderLabels: Record<string, string>;
    /** Labels selecting the replicas only: podLabels plus `role: replica`. */
    public readonly replicaLabels: Record<string, string>;
    /** Labels on every PgBouncer pod (selector labels). */
    public readonly poolerLabels: Record<string, string>;
    /** Patroni's REST API port on every member (health checks, member-to-member). */
    public readonly patroniPort: number = PATRONI_PORT;

    constructor(name: string, args: PostgresClusterArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("prepx:database:PostgresCluster", name, {}, opts);
        const a = withDefaults(POSTGRES_CLUSTER_DEFAULTS, args);
        const p = withDefaults(POSTGRES_CLUSTER_DEFAULTS.pgbouncer, args.pgbouncer ?? {});
        validate(this, name, a, p);

        const names = postgresNames(name);
        const members = memberCount(a.replicas);
        const namespace = pulumi.output(args.namespace);
        const child: pulumi.CustomResourceOptions = { parent: this };
        const dataOpts: pulumi.CustomResourceOptions = { parent: this, protect: a.protectData };
        const host = (service: string) => pulumi.interpolate`${service}.${namespace}.svc.${a.clusterDomain}`;

        const labels = standardLabels("postgres", name, "database");
        const selector = selectorLabels(labels);
        const poolerLabels = standardLabels("pgbouncer", name, "pooler");
        const poolerSelector = selectorLabels(poolerLabels);
        this.podLabels = selector;
        this.leaderLabels = { ...selector, [ROLE_LABEL]: LEADER_ROLE };
        this.replicaLabels = { ...selector, [ROLE_LABEL]: REPLICA_ROLE };
        this.poolerLabels = poolerSelector;
        this.database = a.database;
        this.appUser = a.appUser;
        this.patroniScope = names.statefulSet;

        // Passwords: generated once unless supplied; prod protects them, since the database keeps
        // the ones it was bootstrapped with.
        const password = (role: keyof PostgresPasswords) => stackPassword(`${name}-${role}-password`, args.passwords?.[role], dataOpts);
        this.superuserPassword = password("superuser");
        this.replicationPassword = password("replication");
        this.appPassword = password("app");
        this.monitorPassword = password("monitor");
        const restapiPassword = password("restapi");

        const credentials = new k8s.core.v1.Secret(
            names.credentialsSecret,
            {
                metadata: { name: names.credentialsSecret, namespace: args.namespace, labels },
                type: "Opaque",
                stringData: {
                    "superuser-password": this.superuserPassword,
                    "replication-password": this.replicationPassword,
                    "monitor-password": this.monitorPassword,
                    "restapi-password": restapiPassword,
                },
            },
            dataOpts,
        );
        this.poolerHost = host(names.pooler);
        const appSecret = new k8s.core.v1.Secret(
            names.appSecret,
            {
                metadata: { name: names.appSecret, namespace: args.namespace, labels },
                type: "Opaque",
                stringData: {
                    username: a.appUser,
                    password: this.appPassword,
                    database: a.database,
                    host: this.poolerHost,
                    port: String(PGBOUNCER_PORT),
                    uri: pulumi
                        .all([this.appPassword, this.poolerHost])
                        .apply(([secret, poolerHost]) => postgresUri(a.appUser, secret, poolerHost, PGBOUNCER_PORT, a.database)),
                },
            },
            dataOpts,
        );
        const poolerSecret = new k8s.core.v1.Secret(
            names.poolerSecret,
            {
                metadata: { name: names.poolerSecret, namespace: args.namespace, labels: poolerLabels },
                type: "Opaque",
                stringData: {
                    "userlist.txt": pulumi
                        .all([this.appPassword, this.monitorPassword])
                        .apply(([app, monitor]) => renderPgbouncerUserlist({ [a.appUser]: app, [MONITOR_USER]: monitor })),
                    "exporter-uri": this.monitorPassword.apply((monitor) =>
                        postgresUri(MONITOR_USER, monitor, "127.0.0.1", PGBOUNCER_PORT, "pgbouncer", "sslmode=disable"),
                    ),
                },
            },
            child,
        );
        this.credentialsSecretName = credentials.metadata.name;
        this.appSecretName = appSecret.metadata.name;
        this.poolerSecretName = poolerSecret.metadata.name;

        // Patroni's configuration: one text for every member (per-member values come from env).
        const patroniYaml = renderPatroniConfig({
            scope: names.statefulSet,
            dcs: {
                kind: "kubernetes",
                labels: { "app.kubernetes.io/name": selector["app.kubernetes.io/name"], "app.kubernetes.io/component": selector["app.kubernetes.io/component"] },
                // The instance label already holds the component name, which is Patroni's scope.
                scopeLabel: "app.kubernetes.io/instance",
                roleLabel: ROLE_LABEL,
            },
            paths: MEMBER_PATHS,
            parameters: a.parameters,
            timing: a.patroni,
            synchronousMode: a.synchronousMode,
            // Any pod address, always with scram-sha-256; NetworkPolicies narrow who can connect.
            clientNetworks: ["0.0.0.0/0", "::/0"],
            database: a.database,
            appUser: a.appUser,
        });
        const postBootstrap = renderPostBootstrapScript({ database: a.database, appUser: a.appUser, secretsDir: MEMBER_PATHS.secretsDir });
        const patroniConfig = new k8s.core.v1.ConfigMap(
            names.patroniConfig,
            {
                metadata: { name: names.patroniConfig, namespace: args.namespace, labels },
                data: { "patroni.yml": patroniYaml, "post-bootstrap.sh": postBootstrap },
            },
            child,
        );

        // Patroni's Kubernetes DCS, checked against patroni 3.0.2 (patroni/dcs/kubernetes.py) with
        // use_endpoints: it lists and watches pods and Endpoints by label, patches its own pod's
        // role label and status annotation, creates and patches the leader/config/sync/failover
        // Endpoints and reads the leader Endpoints before updating it. No update, no delete (only
        // `patronictl remove` deletes); no Service creation (the config Service is created below).
        const { serviceAccount, roleBinding } = serviceAccountWithRole(
            names.role,
            {
                namespace: args.namespace,
                labels,
                rules: [
                    { apiGroups: [""], resources: ["endpoints"], verbs: ["get", "list", "watch", "create", "patch"] },
                    { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch", "patch"] },
                ],
            },
            child,
        );

        const pgPort = { name: "postgresql", port: POSTGRES_PORT, targetPort: "postgresql" };
        // Patroni writes the leader's address into this Service's Endpoints (same port name);
        // without a Service, Kubernetes may garbage-collect those Endpoints.
        new k8s.core.v1.Service(
            names.leaderService,
            {
                metadata: { name: names.leaderService, namespace: args.namespace, labels },
                spec: { type: "ClusterIP", ports: [{ name: "postgresql", port: POSTGRES_PORT, targetPort: POSTGRES_PORT }] },
            },
            child,
        );
        new k8s.core.v1.Service(
            names.configService,
            { metadata: { name: names.configService, namespace: args.namespace, labels }, spec: { clusterIP: "None" } },
            child,
        );
        const membersService = new k8s.core.v1.Service(
            names.membersService,
            {
                metadata: { name: names.membersService, namespace: args.namespace, labels },
                spec: {
                    clusterIP: "None",
                    // Members must reach each other while not ready (a replica being cloned).
                    publishNotReadyAddresses: true,
                    selector,
                    ports: [pgPort, { name: "patroni", port: PATRONI_PORT, targetPort: "patroni" }],
                },
            },
            child,
        );
        const rwService = new k8s.core.v1.Service(
            names.rwService,
            {
                metadata: { name: names.rwService, namespace: args.namespace, labels },
                spec: { type: "ClusterIP", selector: this.leaderLabels, ports: [pgPort] },
            },
            child,
        );
        new k8s.core.v1.Service(
            names.roService,
            {
                metadata: { name: names.roService, namespace: args.namespace, labels },
                spec: { type: "ClusterIP", selector: this.replicaLabels, ports: [pgPort] },
            },
            child,
        );

        const image = resolveImage(name, a.image, a.registry, { parent: this });
        const fieldEnv = (envName: string, fieldPath: string): k8s.types.input.core.v1.EnvVar => ({ name: envName, valueFrom: { fieldRef: { fieldPath } } });
        const secretEnv = (envName: string, secretName: pulumi.Input<string>, key: string): k8s.types.input.core.v1.EnvVar => ({
            name: envName,
            valueFrom: { secretKeyRef: { name: secretName, key } },
        });
        const patroniProbe = (path: string, periodSeconds: number, failureThreshold: number): k8s.types.input.core.v1.Probe => ({
            httpGet: { path, port: "patroni" },
            periodSeconds,
            timeoutSeconds: 5,
            failureThreshold,
        });

        const statefulSet = new k8s.apps.v1.StatefulSet(
            names.statefulSet,
            {
                metadata: { name: names.statefulSet, namespace: args.namespace, labels },
                spec: {
                    serviceName: membersService.metadata.name,
                    replicas: members,
                    // Patroni arbitrates the bootstrap through the DCS; ordered start would only slow it.
                    podManagementPolicy: "Parallel",
                    updateStrategy: { type: "RollingUpdate" },
                    persistentVolumeClaimRetentionPolicy: pvcRetentionPolicy(a.protectData),
                    selector: { matchLabels: selector },
                    template: {
                        metadata: {
                            labels,
                            annotations: podTemplateAnnotations(POSTGRES_EXPORTER_PORT, [patroniYaml, postBootstrap]),
                        },
                        spec: {
                            serviceAccountName: serviceAccount.metadata.name,
                            securityContext: podSecurityContext(a.postgresUid),
                            topologySpreadConstraints: spreadAcrossNodes(selector),
                            // A leader's clean shutdown (checkpoint, release of the lock) needs a moment.
                            terminationGracePeriodSeconds: 60,
                            enableServiceLinks: false,
                            containers: [
                                {
                                    name: "postgres",
                                    image,
                                    command: ["patroni", `${CONFIG_DIR}/patroni.yml`],
                                    env: [
                                        fieldEnv("PATRONI_NAME", "metadata.name"),
                                        fieldEnv("PATRONI_KUBERNETES_NAMESPACE", "metadata.namespace"),
                                        fieldEnv("PATRONI_KUBERNETES_POD_IP", "status.podIP"),
                                        // Kubernetes expands $(VAR) from the variables above.
                                        { name: "PATRONI_POSTGRESQL_CONNECT_ADDRESS", value: `$(PATRONI_KUBERNETES_POD_IP):${POSTGRES_PORT}` },
                                        { name: "PATRONI_RESTAPI_CONNECT_ADDRESS", value: `$(PATRONI_KUBERNETES_POD_IP):${PATRONI_PORT}` },
                                        secretEnv("PATRONI_SUPERUSER_PASSWORD", credentials.metadata.name, "superuser-password"),
                                        secretEnv("PATRONI_REPLICATION_PASSWORD", credentials.metadata.name, "replication-password"),
                                        secretEnv("PATRONI_RESTAPI_PASSWORD", credentials.metadata.name, "restapi-password"),
                                    ],
                                    ports: [
                                        { name: "postgresql", containerPort: POSTGRES_PORT },
                                        { name: "patroni", containerPort: PATRONI_PORT },
                                    ],
                                    resources: containerResources(a.resources),
                                    securityContext: containerSecurityContext(),
                                    // /liveness answers while Patroni's HA loop runs (also during a long
                                    // replica clone); /readiness once PostgreSQL runs in its role.
                                    startupProbe: patroniProbe("/liveness", 5, 60),
                                    livenessProbe: patroniProbe("/liveness", 10, 3),
                                    readinessProbe: patroniProbe("/readiness", 5, 3),
                                    volumeMounts: [
                                        { name: "data", mountPath: DATA_MOUNT },
                                        { name: "config", mountPath: CONFIG_DIR, readOnly: true },
                                        { name: "secrets", mountPath: MEMBER_PATHS.secretsDir, readOnly: true },
                                        { name: "run", mountPath: MEMBER_PATHS.socketDir },
                                        { name: "tmp", mountPath: "/tmp" },
                                    ],
                                },
                                exporterSidecar({
                                    image: a.exporterImage,
                                    env: [
                                        { name: "DATA_SOURCE_URI", value: `127.0.0.1:${POSTGRES_PORT}/postgres?sslmode=disable` },
                                        { name: "DATA_SOURCE_USER", value: MONITOR_USER },
                                        secretEnv("DATA_SOURCE_PASS", credentials.metadata.name, "monitor-password"),
                                    ],
                                    port: POSTGRES_EXPORTER_PORT,
                                    // The landing page: /metrics would run every collector query on each probe.
                                    probePath: "/",
                                    resources: a.exporterResources,
                                }),
                            ],
                            volumes: [
                                { name: "config", configMap: { name: patroniConfig.metadata.name, defaultMode: 0o444 } },
                                {
                                    // Only what the post-bootstrap script reads, as files (never env or args).
                                    name: "secrets",
                                    projected: {
                                        defaultMode: 0o400,
                                        sources: [
                                            { secret: { name: appSecret.metadata.name, items: [{ key: "password", path: "app-password" }] } },
                                            { secret: { name: credentials.metadata.name, items: [{ key: "monitor-password", path: "monitor-password" }] } },
                                        ],
                                    },
                                },
                                scratchVolume("run", "16Mi"),
                                scratchVolume("tmp", "64Mi"),
                            ],
                        },
                    },
                    volumeClaimTemplates: [volumeClaimTemplate("data", a.storage, a.storageClass)],
                },
            },
            { ...dataOpts, dependsOn: [roleBinding, membersService] },
        );
        disruptionBudget(names.statefulSet, { namespace: args.namespace, labels }, child);

        // PgBouncer in front of the leader (through `<name>-rw`, which follows a failover).
        this.rwHost = host(names.rwService);
        this.roHost = host(names.roService);
        const pgbouncerIni = this.rwHost.apply((rwHost) =>
            renderPgbouncerIni({
                listenAddr: "0.0.0.0",
                listenPort: PGBOUNCER_PORT,
                upstreamHost: rwHost,
                upstreamPort: POSTGRES_PORT,
                database: a.database,
                authFile: `${PGBOUNCER_AUTH_DIR}/userlist.txt`,
                maxClientConn: p.maxClientConn,
                defaultPoolSize: p.defaultPoolSize,
                reservePoolSize: p.reservePoolSize,
                statsUsers: [MONITOR_USER],
            }),
        );
        const poolerConfig = new k8s.core.v1.ConfigMap(
            names.poolerConfig,
            { metadata: { name: names.poolerConfig, namespace: args.namespace, labels: poolerLabels }, data: { "pgbouncer.ini": pgbouncerIni } },
            child,
        );
        const tcpProbe = (periodSeconds: number, failureThreshold: number): k8s.types.input.core.v1.Probe => ({
            tcpSocket: { port: "pgbouncer" },
            periodSeconds,
            timeoutSeconds: 3,
            failureThreshold,
        });
        new k8s.apps.v1.Deployment(
            names.pooler,
            {
                metadata: { name: names.pooler, namespace: args.namespace, labels: poolerLabels },
                spec: {
                    replicas: p.replicas,
                    selector: { matchLabels: poolerSelector },
                    // Keep full pooling capacity during a rollout.
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                    template: {
                        metadata: {
                            labels: poolerLabels,
                            annotations: podTemplateAnnotations(PGBOUNCER_EXPORTER_PORT, [pgbouncerIni]),
                        },
                        spec: {
                            securityContext: podSecurityContext(a.pgbouncerUid),
                            topologySpreadConstraints: spreadAcrossNodes(poolerSelector),
                            automountServiceAccountToken: false,
                            enableServiceLinks: false,
                            terminationGracePeriodSeconds: 30,
                            containers: [
                                {
                                    name: "pgbouncer",
                                    image: p.image,
                                    command: ["pgbouncer", `${PGBOUNCER_CONFIG_DIR}/pgbouncer.ini`],
                                    ports: [{ name: "pgbouncer", containerPort: PGBOUNCER_PORT }],
                                    resources: containerResources(p.resources),
                                    securityContext: containerSecurityContext(),
                                    readinessProbe: tcpProbe(5, 3),
                                    livenessProbe: tcpProbe(10, 6),
                                    volumeMounts: [
                                        { name: "config", mountPath: PGBOUNCER_CONFIG_DIR, readOnly: true },
                                        { name: "auth", mountPath: PGBOUNCER_AUTH_DIR, readOnly: true },
                                    ],
                                },
                                exporterSidecar({
                                    image: p.exporterImage,
                                    env: [secretEnv("PGBOUNCER_EXPORTER_CONNECTION_STRING", poolerSecret.metadata.name, "exporter-uri")],
                                    port: PGBOUNCER_EXPORTER_PORT,
                                    probePath: "/metrics",
                                    resources: p.exporterResources,
                                }),
                            ],
                            volumes: [
                                { name: "config", configMap: { name: poolerConfig.metadata.name, defaultMode: 0o444 } },
                                { name: "auth", secret: { secretName: poolerSecret.metadata.name, items: [{ key: "userlist.txt", path: "userlist.txt" }], defaultMode: 0o400 } },
                            ],
                        },
                    },
                },
            },
            { parent: this, dependsOn: [rwService, statefulSet] },
        );
        new k8s.core.v1.Service(
            names.pooler,
            {
                metadata: { name: names.pooler, namespace: args.namespace, labels: poolerLabels },
                spec: { type: "ClusterIP", selector: poolerSelector, ports: [{ name: "pgbouncer", port: PGBOUNCER_PORT, targetPort: "pgbouncer" }] },
            },
            child,
        );
        disruptionBudget(names.pooler, { namespace: args.namespace, labels: poolerLabels }, child);

        this.registerOutputs({
            rwHost: this.rwHost,
            roHost: this.roHost,
            poolerHost: this.poolerHost,
            appSecretName: this.appSecretName,
            credentialsSecretName: this.credentialsSecretName,
            poolerSecretName: this.poolerSecretName,
            appPassword: this.appPassword,
            superuserPassword: this.superuserPassword,
            replicationPassword: this.replicationPassword,
            monitorPassword: this.monitorPassword,
        });
    }
}

/** A metrics exporter sidecar: its env, one `metrics` port and HTTP probes on it. */
function exporterSidecar(spec: {
    image: string;
    env: k8s.types.input.core.v1.EnvVar[];
    port: number;
    probePath: string;
    resources: ContainerResources;
}): k8s.types.input.core.v1.Container {
    const probe = (periodSeconds: number): k8s.types.input.core.v1.Probe => ({
        httpGet: { path: spec.probePath, port: "metrics" },
        periodSeconds,
        timeoutSeconds: 3,
        failureThreshold: 3,
    });
    return {
        name: "exporter",
        image: spec.image,
        env: spec.env,
        ports: [{ name: "metrics", containerPort: spec.port }],
        resources: containerResources(spec.resources),
        securityContext: containerSecurityContext(),
        readinessProbe: probe(10),
        livenessProbe: probe(20),
    };
}

type EffectiveArgs = typeof POSTGRES_CLUSTER_DEFAULTS & PostgresClusterArgs;

/** Checks the args up front; each failure names the component and the arg. */
function validate(component: pulumi.Resource, name: string, a: EffectiveArgs, p: PgbouncerArgs): void {
    const check = (condition: boolean, message: string) => requireArg(condition, component, `PostgresCluster ${name}: ${message}`);
    check(/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/.test(name), `the name must be a DNS label of at most 40 characters, since Services append suffixes (got '${name}')`);
    check(Number.isInteger(a.replicas) && a.replicas >= 0, `args.replicas must be a non-negative integer (got ${a.replicas})`);
    check(!a.synchronousMode || a.replicas >= 1, `args.synchronousMode needs at least one replica (args.replicas is ${a.replicas})`);
    check(IDENTIFIER.test(a.database), `args.database must be a lower-case PostgreSQL identifier (got '${a.database}')`);
    check(IDENTIFIER.test(a.appUser), `args.appUser must be a lower-case PostgreSQL identifier (got '${a.appUser}')`);
    check(!RESERVED_ROLES.includes(a.appUser), `args.appUser must not be one of the cluster's own roles ${RESERVED_ROLES.join(", ")} (got '${a.appUser}')`);
    check(MEMORY_QUANTITY.test(a.storage), `args.storage must be a Kubernetes quantity such as 500Gi (got '${a.storage}')`);
    for (const key of ["shared_buffers", "effective_cache_size", "work_mem", "maintenance_work_mem"] as const) {
        check(POSTGRES_SIZE.test(a.parameters[key]), `args.parameters.${key} must be a PostgreSQL size such as 4GB (got '${a.parameters[key]}')`);
    }
    const members = memberCount(a.replicas);
    check(a.parameters.max_wal_senders >= members, `args.parameters.max_wal_senders must be at least replicas + 1 (${members}) (got ${a.parameters.max_wal_senders})`);
    check(
        a.parameters.max_replication_slots >= members,
        `args.parameters.max_replication_slots must be at least replicas + 1 (${members}): a slot per replica plus one for a clone (got ${a.parameters.max_replication_slots})`,
    );
    check(
        MEMORY_QUANTITY.test(a.resources.limits.memory) && parsePostgresSize(a.parameters.shared_buffers) < parseMemoryQuantity(a.resources.limits.memory),
        `args.parameters.shared_buffers (${a.parameters.shared_buffers}) must be less than args.resources.limits.memory (${a.resources.limits.memory})`,
    );
    const { ttl, loopWait, retryTimeout } = a.patroni;
    check(
        loopWait >= 1 && retryTimeout >= 1 && ttl >= loopWait + 2 * retryTimeout,
        `args.patroni.ttl must be at least loopWait + 2 x retryTimeout (${loopWait + 2 * retryTimeout}) (got ${ttl})`,
    );
    check(Number.isInteger(p.replicas) && p.replicas >= 1, `args.pgbouncer.replicas must be an integer of at least 1 (got ${p.replicas})`);
    const budget = connectionBudget({
        services: [],
        poolMax: 0,
        pgbouncer: p,
        postgres: {
            maxConnections: a.parameters.max_connections,
            superuserReservedConnections: a.parameters.superuser_reserved_connections,
            reservedConnections: a.reservedConnections,
        },
    });
    check(budget.problems.length === 0, `args.pgbouncer pools exceed args.parameters.max_connections: ${budget.serverArithmetic}`);
}
