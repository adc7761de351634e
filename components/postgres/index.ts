// PostgresCluster: parses its args (args.ts), renders its config files (render.ts) and creates its
// objects from the pure spec builders (specs.ts).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { serviceHost } from "../dns";
import { resolveImage } from "../images";
import {
    contentName,
    contentNamedConfigMap,
    disruptionBudget,
    podServiceAccount,
    podTemplateAnnotations,
    selectorLabels,
    serviceAccountWithRole,
    serviceHostOutput,
    standardLabels,
} from "../k8s";
import { AlertRule, Dashboards, MetricsTarget, Observable, PortScrapeJob, SCRAPE_JOBS } from "../observability";
import { stackPassword } from "../passwords";
import { parseArgs } from "../schema";
import { CLAIM_TEMPLATE_SIZE_PATH, expandClaims } from "../storage";
import { TLS_SECRET_KEYS } from "../tls";
import { postgresAlertRules, postgresBackupAlertRules, postgresDashboards } from "./alerts";
import { backupNames, clusterArchiveSettings, podBackupFiles, repositoryClaimSpec } from "./backup";
import { CLUSTER_NAME, RENAMED_ARGS, PostgresClusterArgs, PostgresPasswords, postgresClusterArgsSchema, ResolvedPostgresClusterArgs } from "./args";
import {
    LEADER_ROLE,
    MEMBER_PATHS,
    MONITOR_USER,
    PATRONI_PORT,
    PGBOUNCER_EXPORTER_PORT,
    PGBOUNCER_PORT,
    POSTGRES_EXPORTER_PORT,
    POSTGRES_PORT,
    REPLICA_ROLE,
    ROLE_LABEL,
    dynamicConfigJobName,
    memberCertificateDnsNames,
    memberCount,
    patroniConfigOptions,
    patroniDcsSettings,
    patroniMemberConfigText,
    pgbouncerIniOptions,
    pgbouncerUsers,
    podMemberEnvironment,
    podPgbouncerEndpoints,
    poolerCertificateDnsNames,
    postBootstrapOptions,
    postgresNames,
    postgresUri,
    renderDynamicConfigScript,
    renderPatroniConfig,
    renderPgbouncerIni,
    renderPgbouncerUserlist,
    renderPostBootstrapScript,
} from "./render";
import {
    clusterMetricsTargets,
    DYNAMIC_CONFIG_DEADLINE_SECONDS,
    DYNAMIC_CONFIG_JOB_DEADLINES,
    dynamicConfigJobSpec,
    DYNAMIC_CONFIG_CA_FILE,
    memberServices,
    memberStatefulSetSpec,
    patroniEndpointNames,
    patroniRbacRules,
    poolerDeploymentSpec,
    poolerServiceSpec,
    ServiceSpecOf,
} from "./specs";

export type { PostgresClusterArgs, PostgresPasswords, ResolvedPostgresClusterArgs } from "./args";

/**
 * A PostgreSQL 15 cluster run by Patroni on the Kubernetes API (no extra DCS): a StatefulSet of
 * 1 + standbys members with automatic failover, `<name>-rw`/`<name>-ro` Services that follow
 * Patroni's role label, a PgBouncer tier (transaction pooling) in front of the leader, exporter
 * sidecars, and generated passwords held only in Secrets.
 */
export class PostgresCluster extends pulumi.ComponentResource implements Observable {
    /** DNS name of `<name>-rw`: always the current leader (read-write). */
    public readonly rwHost: pulumi.Output<string>;
    /** DNS name of `<name>-ro`: the streaming standbys (read-only). */
    public readonly roHost: pulumi.Output<string>;
    /** DNS name of `<name>-pooler`: PgBouncer in front of the leader; what services connect to. */
    public readonly poolerHost: pulumi.Output<string>;
    /** PostgreSQL's port on rwHost and roHost. */
    public readonly port: number = POSTGRES_PORT;
    /** PgBouncer's port on poolerHost. */
    public readonly poolerPort: number = PGBOUNCER_PORT;
    /** Patroni's REST API port on every member (health checks, member-to-member). */
    public readonly patroniPort: number = PATRONI_PORT;
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
    /**
     * What ServiceFleet's `database` arg takes: PgBouncer's host and port, the database, the role and
     * its password Secret, and the CA that signed PgBouncer's certificate (clients must use TLS and
     * should check it with sslmode=verify-full against that CA and `host`).
     */
    public readonly connection: {
        host: pulumi.Output<string>;
        port: number;
        name: string;
        user: string;
        passwordSecret: { name: pulumi.Output<string>; key: string };
        caSecret: { name: pulumi.Output<string>; key: string };
    };
    /** Secret with the members' certificate (keys TLS_SECRET_KEYS); its `ca.crt` is the CA every certificate of the cluster is checked against. */
    public readonly memberTlsSecretName: pulumi.Output<string>;
    /** Secret with PgBouncer's certificate (keys TLS_SECRET_KEYS). */
    public readonly poolerTlsSecretName: pulumi.Output<string>;
    /** Patroni's cluster name (scope). */
    public readonly patroniScope: string;
    /** Labels on every member pod (selector labels; for NetworkPolicies and monitoring). */
    public readonly podLabels: Record<string, string>;
    /** Labels selecting the current leader only: podLabels plus Patroni's role label (`role: master`). */
    public readonly leaderLabels: Record<string, string>;
    /** Labels selecting the standbys only: podLabels plus `role: replica`. */
    public readonly standbyLabels: Record<string, string>;
    /** Labels on every PgBouncer pod (selector labels). */
    public readonly poolerLabels: Record<string, string>;
    /** Labels of the dynamic-config Job's pod (selector labels): it reaches every member's Patroni REST API. */
    public readonly dynamicConfigJobLabels: Record<string, string>;
    /** True when the members archive WAL and back up to object storage outside the cluster (S3): their NetworkPolicy must let them reach it. */
    public readonly backsUpToObjectStorage: boolean;
    /** The member pods (postgres_exporter and Patroni's /metrics) and the PgBouncer pods (pgbouncer_exporter). */
    public readonly metricsTargets: MetricsTarget[];
    /** Members down, standbys lagging (in time, and in WAL beyond patroni.maximumLagOnFailover), standbys missing. */
    public readonly alertRules: AlertRule[];
    /** The PostgreSQL dashboard (members, replication, connections, PgBouncer pools). */
    public readonly dashboards: Dashboards = postgresDashboards;
    /** Patroni's /metrics on patroniPort of every member, scraped as its own job. */
    public readonly portScrapeJobs: PortScrapeJob[];

    constructor(name: string, args: PostgresClusterArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("prepx:database:PostgresCluster", name, {}, opts);
        if (!CLUSTER_NAME.test(name)) {
            throw new pulumi.ResourceError(`PostgresCluster ${name}: the name must be a DNS label of at most 40 characters, since Services append suffixes (got "${name}")`, this);
        }
        const settings = parseArgs(postgresClusterArgsSchema, args, this, "PostgresCluster", name, RENAMED_ARGS);
        const { namespace } = settings;
        // The schema requires namespaceName when namespace is not a string.
        const namespaceName = settings.namespaceName ?? (namespace as string);
        const names = postgresNames(name);
        const child: pulumi.CustomResourceOptions = { parent: this };
        const dataOpts: pulumi.CustomResourceOptions = { parent: this, protect: settings.protectData };
        const metadata = (objectName: string, objectLabels: Record<string, string>) => ({ name: objectName, namespace, labels: objectLabels });
        const host = (service: string) => serviceHostOutput(service, namespace, settings.clusterDomain);

        const labels = standardLabels("postgres", name, "database");
        const poolerLabels = standardLabels("pgbouncer", name, "pooler");
        this.podLabels = selectorLabels(labels);
        this.leaderLabels = { ...this.podLabels, [ROLE_LABEL]: LEADER_ROLE };
        this.standbyLabels = { ...this.podLabels, [ROLE_LABEL]: REPLICA_ROLE };
        this.poolerLabels = selectorLabels(poolerLabels);
        this.metricsTargets = clusterMetricsTargets(this.podLabels, this.poolerLabels, settings.backup.enabled);
        // TLS: one certificate for every member (PostgreSQL and Patroni's REST API), one for PgBouncer.
        const tlsRequest = (dnsNames: string[], tlsLabels: Record<string, string>) => ({ namespace, dnsNames, labels: tlsLabels });
        this.memberTlsSecretName = settings.certificates.issue(
            names.memberTls,
            tlsRequest(memberCertificateDnsNames(names, memberCount(settings.standbys), namespaceName, settings.clusterDomain), labels),
            child,
        );
        this.poolerTlsSecretName = settings.certificates.issue(names.poolerTls, tlsRequest(poolerCertificateDnsNames(names, namespaceName, settings.clusterDomain), poolerLabels), child);
        ({ alertRules: this.alertRules, portScrapeJobs: this.portScrapeJobs } = clusterMonitoring(settings, labels["app.kubernetes.io/name"], {
            caSecret: this.memberTlsSecretName,
            serverName: serviceHost(names.membersService, namespaceName, settings.clusterDomain),
        }));
        this.database = settings.database;
        this.appUser = settings.appUser;
        this.patroniScope = names.statefulSet;
        this.rwHost = host(names.rwService);
        this.roHost = host(names.roService);
        this.poolerHost = host(names.pooler);

        // Prod protects the passwords: the database keeps the ones it was bootstrapped with.
        const passwords = clusterPasswords(name, settings.passwords, dataOpts);
        this.superuserPassword = passwords.superuser;
        this.replicationPassword = passwords.replication;
        this.appPassword = passwords.app;
        this.monitorPassword = passwords.monitor;
        const secret = (objectName: string, objectLabels: Record<string, string>, stringData: Record<string, pulumi.Input<string>>, secretOpts: pulumi.CustomResourceOptions) =>
            new k8s.core.v1.Secret(objectName, { metadata: metadata(objectName, objectLabels), type: "Opaque", stringData }, secretOpts);
        const credentials = secret(names.credentialsSecret, labels, credentialsSecretData(passwords), dataOpts);
        const appSecret = secret(names.appSecret, labels, appSecretData(settings, passwords.app, this.poolerHost), dataOpts);
        const poolerSecret = secret(names.poolerSecret, poolerLabels, poolerSecretData(settings.appUser, passwords), child);
        this.credentialsSecretName = credentials.metadata.name;
        this.appSecretName = appSecret.metadata.name;
        this.connection = {
            host: this.poolerHost,
            port: this.poolerPort,
            name: this.database,
            user: this.appUser,
            passwordSecret: { name: this.appSecretName, key: "password" },
            caSecret: { name: this.poolerTlsSecretName, key: TLS_SECRET_KEYS.ca },
        };
        this.poolerSecretName = poolerSecret.metadata.name;

        // Patroni's configuration: one text for every member (per-member values come from env).
        const patroniOptions = patroniConfigOptions(settings, names.statefulSet, podMemberEnvironment(this.podLabels, settings.clientNetworks), clusterArchiveSettings(settings.backup, names.statefulSet));
        const patroniYaml = renderPatroniConfig(patroniOptions);
        const backup = clusterBackup(name, names.statefulSet, settings, labels, dataOpts);
        this.backsUpToObjectStorage = settings.backup.enabled && settings.backup.repository.type === "s3";
        const postBootstrap = renderPostBootstrapScript(postBootstrapOptions(settings, MEMBER_PATHS.secretsDir));
        // Named (and the members' checksum taken) without bootstrap.dcs: a change there only
        // updates the seed for a new cluster in place; the dynamic-config Job applies it.
        const memberFiles = { "patroni.yml": patroniMemberConfigText(patroniOptions), "post-bootstrap.sh": postBootstrap };
        const patroniConfig = contentNamedConfigMap(
            names.patroniConfig,
            { namespace, labels, data: { "patroni.yml": patroniYaml, "post-bootstrap.sh": postBootstrap }, nameFrom: memberFiles },
            child,
        );
        const { serviceAccount, roleBinding } = serviceAccountWithRole(
            names.role,
            { namespace, labels, rules: patroniRbacRules(names.statefulSet, memberCount(settings.standbys)), imagePullSecrets: settings.imagePullSecrets },
            child,
        );
        // Patroni's Endpoints, created here so that its Role needs no `create` (patroniEndpointNames);
        // Patroni fills them in (annotations, the leader's address) by patches.
        const patroniEndpoints = Object.values(patroniEndpointNames(names.statefulSet)).map(
            (endpointsName) => new k8s.core.v1.Endpoints(endpointsName, { metadata: metadata(endpointsName, labels) }, child),
        );
        const service = (spec: ServiceSpecOf, serviceLabels: Record<string, string>) =>
            new k8s.core.v1.Service(spec.name, { metadata: metadata(spec.name, serviceLabels), spec: spec.spec }, child);
        const services = memberServices(names, { members: this.podLabels, leader: this.leaderLabels, standbys: this.standbyLabels });
        service(services.leader, labels);
        service(services.config, labels);
        service(services.sync, labels);
        service(services.failover, labels);
        const membersService = service(services.members, labels);
        const rwService = service(services.rw, labels);
        service(services.ro, labels);

        const memberImage = resolveImage(name, settings.image, settings.registry, { parent: this });
        const statefulSet = new k8s.apps.v1.StatefulSet(
            names.statefulSet,
            {
                metadata: metadata(names.statefulSet, labels),
                spec: memberStatefulSetSpec(settings, {
                    labels,
                    // Without bootstrap.dcs: the dynamic-config Job below applies those settings in place.
                    annotations: podTemplateAnnotations(POSTGRES_EXPORTER_PORT, [...Object.values(memberFiles), ...(backup?.files ?? [])]),
                    serviceName: membersService.metadata.name,
                    image: memberImage,
                    serviceAccount: serviceAccount.metadata.name,
                    // By its name (the same content name), not its output: a bootstrap.dcs change keeps the
                    // name, and a provider without enableConfigMapMutable re-creates the ConfigMap delete
                    // first; a reference to its output would make the engine replace the members with it.
                    patroniConfig: contentName(names.patroniConfig, memberFiles),
                    credentialsSecret: credentials.metadata.name,
                    appSecret: appSecret.metadata.name,
                    tlsSecret: this.memberTlsSecretName,
                    membersService: names.membersService,
                    ...(backup ? { backup: backup.refs } : {}),
                }),
            },
            // The claim template keeps its first size; expandClaims grows the claims in place.
            { ...dataOpts, dependsOn: [roleBinding, membersService, patroniConfig, ...patroniEndpoints], ignoreChanges: [CLAIM_TEMPLATE_SIZE_PATH] },
        );
        expandClaims(
            names.statefulSet,
            {
                namespace,
                statefulSetName: names.statefulSet,
                claimTemplate: "data",
                replicas: memberCount(settings.standbys),
                requested: settings.storage,
                expansionAllowed: settings.storageClassAllowsExpansion,
                currentTemplateSize: statefulSet.spec.volumeClaimTemplates.apply((templates) => templates?.[0]?.spec?.resources?.requests?.storage),
            },
            { parent: this, dependsOn: [statefulSet] },
        );
        disruptionBudget(names.statefulSet, { namespace, labels }, child);

        // The settings Patroni keeps in the DCS (bootstrap.dcs only seeds them) applied to the
        // running cluster, members restarted where PostgreSQL needs it; a new Job for each set.
        const dynamicConfigScript = renderDynamicConfigScript({
            config: patroniDcsSettings(patroniOptions),
            patroniUrl: `https://${names.membersService}:${PATRONI_PORT}`,
            caFile: DYNAMIC_CONFIG_CA_FILE,
            deadlineSeconds: DYNAMIC_CONFIG_DEADLINE_SECONDS,
        });
        const dynamicConfigLabels = standardLabels("postgres", name, "dcs-config");
        this.dynamicConfigJobLabels = selectorLabels(dynamicConfigLabels);
        new k8s.batch.v1.Job(
            names.dynamicConfigJob,
            {
                metadata: metadata(dynamicConfigJobName(names, dynamicConfigScript), dynamicConfigLabels),
                spec: dynamicConfigJobSpec(settings, dynamicConfigScript, dynamicConfigLabels, {
                    image: memberImage,
                    credentialsSecret: credentials.metadata.name,
                    tlsSecret: this.memberTlsSecretName,
                    serviceAccount: podServiceAccount(names.dynamicConfigJob, { namespace, labels: dynamicConfigLabels, imagePullSecrets: settings.imagePullSecrets }, child).metadata.name,
                }),
            },
            // A Job's spec is immutable: another image or script is a new Job (the script is idempotent).
            { parent: this, dependsOn: [statefulSet, membersService], replaceOnChanges: ["spec"], deleteBeforeReplace: true, customTimeouts: { create: `${DYNAMIC_CONFIG_JOB_DEADLINES.awaitSeconds}s` } },
        );

        // PgBouncer in front of the leader (through `<name>-rw`, which follows a failover).
        const pgbouncerIni = this.rwHost.apply((rwHost) => renderPgbouncerIni(pgbouncerIniOptions(settings, podPgbouncerEndpoints(rwHost))));
        const poolerConfig = contentNamedConfigMap(names.poolerConfig, { namespace, labels: poolerLabels, data: { "pgbouncer.ini": pgbouncerIni } }, child);
        new k8s.apps.v1.Deployment(
            names.pooler,
            {
                metadata: metadata(names.pooler, poolerLabels),
                spec: poolerDeploymentSpec(settings, poolerLabels, podTemplateAnnotations(PGBOUNCER_EXPORTER_PORT, [pgbouncerIni]), {
                    poolerConfig: poolerConfig.metadata.name,
                    poolerSecret: poolerSecret.metadata.name,
                    tlsSecret: this.poolerTlsSecretName,
                    serviceAccount: podServiceAccount(names.pooler, { namespace, labels: poolerLabels, imagePullSecrets: settings.imagePullSecrets }, child).metadata.name,
                }),
            },
            { parent: this, dependsOn: [rwService, statefulSet] },
        );
        service({ name: names.pooler, spec: poolerServiceSpec(this.poolerLabels) }, poolerLabels);
        disruptionBudget(names.pooler, { namespace, labels: poolerLabels }, child);

        this.registerOutputs({
            rwHost: this.rwHost, roHost: this.roHost, poolerHost: this.poolerHost,
            appSecretName: this.appSecretName, credentialsSecretName: this.credentialsSecretName, poolerSecretName: this.poolerSecretName,
            appPassword: this.appPassword, superuserPassword: this.superuserPassword, replicationPassword: this.replicationPassword, monitorPassword: this.monitorPassword,
        });
    }
}

type PasswordRole = keyof PostgresPasswords;
type ClusterPasswords = Record<PasswordRole, pulumi.Output<string>>;

/** The cluster's five passwords: each supplied one as given, every other generated once (RandomPassword). */
function clusterPasswords(name: string, supplied: PostgresPasswords, opts: pulumi.CustomResourceOptions): ClusterPasswords {
    const password = (role: PasswordRole) => stackPassword(`${name}-${role}-password`, supplied[role], opts);
    return { superuser: password("superuser"), replication: password("replication"), app: password("app"), monitor: password("monitor"), restapi: password("restapi") };
}

/** The `<name>-credentials` Secret: what Patroni and the exporter read. */
function credentialsSecretData(passwords: ClusterPasswords): Record<string, pulumi.Input<string>> {
    return {
        "superuser-password": passwords.superuser,
        "replication-password": passwords.replication,
        "monitor-password": passwords.monitor,
        "restapi-password": passwords.restapi,
    };
}

/** The `<name>-app` Secret: everything a service needs to connect through PgBouncer. */
function appSecretData(settings: ResolvedPostgresClusterArgs, password: pulumi.Output<string>, poolerHost: pulumi.Output<string>): Record<string, pulumi.Input<string>> {
    return {
        username: settings.appUser,
        password,
        database: settings.database,
        host: poolerHost,
        port: String(PGBOUNCER_PORT),
        uri: pulumi.all([password, poolerHost]).apply(([secret, hostName]) => postgresUri(settings.appUser, secret, hostName, PGBOUNCER_PORT, settings.database)),
    };
}

/** The `<name>-pooler-auth` Secret: PgBouncer's auth file and its exporter's connection string. */
function poolerSecretData(appUser: string, passwords: ClusterPasswords): Record<string, pulumi.Input<string>> {
    return {
        "userlist.txt": pulumi.all([passwords.app, passwords.monitor]).apply(([app, monitor]) => renderPgbouncerUserlist(pgbouncerUsers(appUser, { app, monitor }))),
        // PgBouncer takes TLS only; over loopback there is no name to check.
        "exporter-uri": passwords.monitor.apply((monitor) => postgresUri(MONITOR_USER, monitor, "127.0.0.1", PGBOUNCER_PORT, "pgbouncer", "sslmode=require")),
    };
}

/**
 * The backup pieces besides the member pods' own (backup.ts): the ConfigMap with pgbackrest.conf and
 * the agent, and a volume repository's PVC (protected and kept like the data). Undefined when
 * backups are off. An S3 repository's credentials Secret is created beforehand, not here. `stanza` is
 * the cluster's Patroni scope.
 */
function clusterBackup(
    name: string,
    stanza: string,
    settings: ResolvedPostgresClusterArgs,
    labels: Record<string, string>,
    dataOpts: pulumi.CustomResourceOptions,
): { files: string[]; refs: { config: pulumi.Output<string>; repositoryClaim: pulumi.Output<string> } } | undefined {
    if (!settings.backup.enabled) return undefined;
    const names = backupNames(name);
    const data = podBackupFiles(settings.backup, stanza);
    const config = contentNamedConfigMap(names.config, { namespace: settings.namespace, labels, data }, { parent: dataOpts.parent });
    const { repository } = settings.backup;
    const repositoryClaim =
        repository.type === "volume"
            ? new k8s.core.v1.PersistentVolumeClaim(
                  names.repositoryClaim,
                  { metadata: { name: names.repositoryClaim, namespace: settings.namespace, labels }, spec: repositoryClaimSpec(repository, settings.storageClass) },
                  { ...dataOpts, retainOnDelete: settings.protectData },
              ).metadata.name
            : pulumi.output("");
    return { files: Object.values(data), refs: { config: config.metadata.name, repositoryClaim } };
}

/**
 * What monitoring needs beyond the exporters' annotations: the alert rules, with Patroni's failover
 * lag limit as the WAL-lag threshold, and the scrape job of Patroni's own /metrics (HTTPS: the
 * certificate checked against the CA in `tls.caSecret` and the members Service's name, which every
 * member's certificate carries, since Prometheus scrapes each pod by its address).
 */
function clusterMonitoring(
    settings: ResolvedPostgresClusterArgs,
    app: string,
    tls: NonNullable<PortScrapeJob["tls"]>,
): { alertRules: AlertRule[]; portScrapeJobs: PortScrapeJob[] } {
    return {
        alertRules: postgresAlertRules({
            app,
            standbys: settings.standbys,
            replicationLagSeconds: settings.replicationLagAlertSeconds,
            replicationLagBytes: settings.patroni.maximumLagOnFailover,
        }).concat(
            settings.backup.enabled
                ? postgresBackupAlertRules({ app, backupAgeHours: settings.backup.backupAgeAlertHours, walArchiveMinutes: settings.backup.walArchiveAlertMinutes })
                : [],
        ),
        portScrapeJobs: [{ job: SCRAPE_JOBS.patroni, app, port: PATRONI_PORT, tls }],
    };
}
