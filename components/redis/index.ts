import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { contentNamedConfigMap, disruptionBudget, podServiceAccount, podTemplateAnnotations, selectorLabels, serviceAccountWithRole, serviceHostOutput, standardLabels } from "../k8s";
import type { AlertRule, Dashboards, MetricsTarget, Observable } from "../observability";
import { stackPassword } from "../passwords";
import { CLAIM_TEMPLATE_SIZE_PATH, expandClaims } from "../storage";
import { parseArgs } from "../schema";
import { redisAlertRules, redisDashboards } from "./alerts";
import { type RedisClusterArgs, redisClusterArgsSchema } from "./args";
import { TLS_SECRET_KEYS } from "../tls";
import { ADMIN_ACL_RULES, APP_ACL_RULES, EXPORTER_ACL_RULES, REDIS_PORT, redisPodCount, renderBootstrapScript, renderRedisAclFile, renderRedisConf, renderReplicationAuth } from "./render";
import {
    BOOTSTRAP_AWAIT_SECONDS,
    BOOTSTRAP_NODE_RULES,
    BOOTSTRAP_POD_RULES,
    ADMIN_USER,
    AUTH_SECRET_KEYS,
    CLUSTER_BUS_PORT,
    EXPORTER_PORT,
    EXPORTER_USER,
    appSecretName,
    appUserName,
    bootstrapJobSpec,
    bootstrapScriptOptions,
    certificateDnsNames,
    clientServiceSpec,
    headlessServiceSpec,
    nodeAddresses,
    redisConfOptions,
    redisNodeScripts,
    redisObjectNames,
    redisStatefulSetSpec,
} from "./specs";

export type { RedisClusterArgs, ResolvedRedisClusterArgs } from "./args";

/** A key of a Secret, by the Secret's name. */
export interface SecretKeyRef {
    name: pulumi.Output<string>;
    key: string;
}

/** An ACL user of the cluster and the Secret holding its password. */
export interface RedisUserCredentials {
    /** The ACL user name (AUTH <username> <password>). */
    username: string;
    /** The Secret and key of its password. */
    passwordSecret: SecretKeyRef;
}

/**
 * A Redis 7 cluster: a StatefulSet of masters x (1 + replicasPerMaster) pods with stable
 * hostnames, formed and grown (scale-out, replicas placed away from their master's node or zone) by
 * an idempotent bootstrap Job, with AOF on a PVC per pod (grown in place on a resize), a
 * cluster-heal sidecar that re-meets peers after a full restart on new IPs, readiness on cluster
 * health, a redis_exporter sidecar, TLS only (clients, replication, cluster bus) with a certificate
 * from the stack's issuer, and ACL users: an administrator (bootstrap, probes, replication), a
 * read-only exporter and one user per application, each password generated and held in its own Secret.
 */
export class RedisCluster extends pulumi.ComponentResource implements Observable {
    /** `host:port` of every node, usable as cluster seeds by clients. */
    public readonly seedNodes: pulumi.Output<string[]>;
    /** DNS name of the client Service (any node; clients follow MOVED redirects). */
    public readonly serviceHost: pulumi.Output<string>;
    /** The client port. */
    public readonly port: number = REDIS_PORT;
    /** The cluster bus port, on which the nodes reach each other. */
    public readonly busPort: number = CLUSTER_BUS_PORT;
    /** Name of the Secret holding the administrator's password under the key `password`. */
    public readonly secretName: pulumi.Output<string>;
    /** The administrator's password (user `admin`: bootstrap, probes, replication). */
    public readonly password: pulumi.Output<string>;
    /** Each application's ACL user and password Secret, by the app's name (args.apps). */
    public readonly appUsers: Record<string, RedisUserCredentials>;
    /** The exporter's read-only ACL user and password Secret. */
    public readonly exporterUser: RedisUserCredentials;
    /** The CA certificate clients verify the nodes with: the nodes' certificate Secret, key `ca.crt`. */
    public readonly caSecret: SecretKeyRef;
    /** What ServiceFleet's `redis` arg takes: the seed nodes, each app's user and the CA to trust. */
    public readonly connection: { seedNodes: pulumi.Output<string[]>; users: Record<string, RedisUserCredentials>; caSecret: SecretKeyRef };
    /** Name of the headless Service that gives pods their stable names. */
    public readonly headlessServiceName: pulumi.Output<string>;
    /** Selector labels of every node pod (for NetworkPolicies and monitoring). */
    public readonly podLabels: Record<string, string>;
    /** Selector labels of the bootstrap Job's pod (it must reach every node). */
    public readonly bootstrapLabels: Record<string, string>;
    /** The redis_exporter sidecar's metrics port on every node pod. */
    public readonly metricsPort: number = EXPORTER_PORT;
    /** The node pods and the port Prometheus scrapes on them. */
    public readonly metricsTargets: MetricsTarget[];
    /** Alerts on nodes down, the cluster state, missing masters and replicas (for MonitoringStack). */
    public readonly alertRules: AlertRule[];
    /** The Redis dashboard (for MonitoringStack). */
    public readonly dashboards: Dashboards = redisDashboards;

    constructor(name: string, args: RedisClusterArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("prepx:cache:RedisCluster", name, {}, opts);
        const settings = parseArgs(redisClusterArgsSchema, args, this, "RedisCluster", name);
        const child: pulumi.CustomResourceOptions = { parent: this };
        const dataOpts: pulumi.CustomResourceOptions = { parent: this, protect: settings.protectData };
        const names = redisObjectNames(name);
        const namespace = pulumi.output(settings.namespace);
        const labels = standardLabels("redis", name, "cache");
        const metadata = (objectName: string, objectLabels = labels) => ({ name: objectName, namespace: settings.namespace, labels: objectLabels });
        this.podLabels = selectorLabels(labels);
        this.metricsTargets = [{ name: "redis", labels: this.podLabels, ports: [EXPORTER_PORT] }];
        this.alertRules = redisAlertRules(settings);

        // One password per user, each in its own Secret; the ACL file holds only their hashes, the
        // replication include the administrator's in clear as masterauth, which replication needs.
        this.password = stackPassword(`${name}-password`, settings.password, child);
        const exporterPassword = stackPassword(`${name}-${EXPORTER_USER}-password`, settings.exporterPassword, child);
        const appPasswords = settings.apps.map((app) => stackPassword(`${name}-${appUserName(app)}-password`, settings.appPasswords?.[app], child));
        const userSecret = (objectName: string, username: string, password: pulumi.Output<string>): RedisUserCredentials => {
            const userData = { username, password };
            const created = new k8s.core.v1.Secret(objectName, { metadata: metadata(objectName), type: "Opaque", stringData: userData }, dataOpts);
            return { username, passwordSecret: { name: created.metadata.name, key: "password" } };
        };
        this.exporterUser = userSecret(names.exporterSecret, EXPORTER_USER, exporterPassword);
        this.appUsers = Object.fromEntries(settings.apps.map((app, index) => [app, userSecret(appSecretName(names, app), appUserName(app), appPasswords[index])]));
        const aclFile = pulumi.all([this.password, exporterPassword, ...appPasswords]).apply(([admin, exporter, ...apps]) =>
            renderRedisAclFile([
                { name: ADMIN_USER, password: admin, rules: ADMIN_ACL_RULES },
                { name: EXPORTER_USER, password: exporter, rules: EXPORTER_ACL_RULES },
                ...settings.apps.map((app, index) => ({ name: appUserName(app), password: apps[index], rules: APP_ACL_RULES })),
            ]),
        );
        const replicationAuth = this.password.apply((admin) => renderReplicationAuth({ user: ADMIN_USER, password: admin }));
        const authData = {
            [AUTH_SECRET_KEYS.adminPassword]: this.password,
            [AUTH_SECRET_KEYS.aclFile]: aclFile,
            [AUTH_SECRET_KEYS.replicationInclude]: replicationAuth,
        };
        const secret = new k8s.core.v1.Secret(names.secret, { metadata: metadata(names.secret), type: "Opaque", stringData: authData }, dataOpts);
        this.secretName = secret.metadata.name;
        const tlsSecretName = settings.certificates.issue(
            names.tls,
            { namespace: settings.namespace, dnsNames: certificateDnsNames(names, settings.namespace, settings), labels },
            child,
        );
        this.caSecret = { name: tlsSecretName, key: TLS_SECRET_KEYS.ca };

        const redisConf = renderRedisConf(redisConfOptions(settings));
        const nodeScripts = redisNodeScripts();
        const configMap = contentNamedConfigMap(names.config, { namespace: settings.namespace, labels, data: { "redis.conf": redisConf, ...nodeScripts } }, child);
        const headless = new k8s.core.v1.Service(names.headless, { metadata: metadata(names.headless), spec: headlessServiceSpec(this.podLabels) }, child);
        const clientService = new k8s.core.v1.Service(names.statefulSet, { metadata: metadata(names.statefulSet), spec: clientServiceSpec(this.podLabels) }, child);

        const account = podServiceAccount(names.statefulSet, { namespace: settings.namespace, labels, imagePullSecrets: settings.imagePullSecrets }, child);
        const podRefs = {
            secretName: secret.metadata.name,
            exporterSecretName: this.exporterUser.passwordSecret.name,
            tlsSecretName,
            configMapName: configMap.metadata.name,
            serviceAccountName: account.metadata.name,
        };
        // The checksum covers the non-secret rendered files only: a changed auth Secret (a new app's
        // user, a rotated password) reaches the running nodes through the kubelet's update of the
        // mounted files, which cluster-heal applies (ACL LOAD, CONFIG SET masterauth) without a restart.
        const template = { labels, annotations: podTemplateAnnotations(EXPORTER_PORT, [redisConf, ...Object.values(nodeScripts)]) };
        const statefulSet = new k8s.apps.v1.StatefulSet(
            names.statefulSet,
            { metadata: metadata(names.statefulSet), spec: redisStatefulSetSpec(settings, names, podRefs, template) },
            // The claim template keeps its first size; expandClaims grows the claims in place.
            { ...dataOpts, dependsOn: [headless], ignoreChanges: [CLAIM_TEMPLATE_SIZE_PATH] },
        );
        expandClaims(
            names.statefulSet,
            {
                namespace: settings.namespace,
                statefulSetName: names.statefulSet,
                claimTemplate: "data",
                replicas: redisPodCount(settings.masters, settings.replicasPerMaster),
                requested: settings.storage,
                expansionAllowed: settings.storageClassAllowsExpansion,
                currentTemplateSize: statefulSet.spec.volumeClaimTemplates.apply((templates) => templates?.[0]?.spec?.resources?.requests?.storage),
            },
            { parent: this, dependsOn: [statefulSet] },
        );
        disruptionBudget(names.statefulSet, { namespace: settings.namespace, labels }, child);

        this.seedNodes = namespace.apply((resolved) => nodeAddresses(names, resolved, settings));
        this.connection = { seedNodes: this.seedNodes, users: this.appUsers, caSecret: this.caSecret };
        const bootstrapScript = this.seedNodes.apply((nodes) => renderBootstrapScript(bootstrapScriptOptions(settings, nodes)));
        // Content-named: a changed script (another node list after a scale-out) changes the Job's
        // spec, which replaces the Job, so the bootstrap runs again.
        const scriptConfigMap = contentNamedConfigMap(names.bootstrap, { namespace: settings.namespace, labels, data: { "bootstrap.sh": bootstrapScript } }, child);
        const bootstrapLabels = standardLabels("redis", name, "cluster-bootstrap");
        this.bootstrapLabels = selectorLabels(bootstrapLabels);
        // The bootstrap reads where the node pods run (pods, here) and the nodes' zones (cluster-wide).
        const bootstrapAccess = serviceAccountWithRole(
            names.bootstrap,
            { namespace: settings.namespace, labels: bootstrapLabels, rules: BOOTSTRAP_POD_RULES, imagePullSecrets: settings.imagePullSecrets },
            child,
        );
        // Cluster-scoped names must be unique across namespaces.
        const nodeAccess = { name: pulumi.interpolate`${namespace}-${names.bootstrap}-nodes`, labels: bootstrapLabels };
        const nodeReader = new k8s.rbac.v1.ClusterRole(`${names.bootstrap}-nodes`, { metadata: nodeAccess, rules: BOOTSTRAP_NODE_RULES }, child);
        const nodeBinding = new k8s.rbac.v1.ClusterRoleBinding(
            `${names.bootstrap}-nodes`,
            {
                metadata: nodeAccess,
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: nodeReader.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: bootstrapAccess.serviceAccount.metadata.name, namespace: settings.namespace }],
            },
            child,
        );
        const bootstrapRefs = {
            secretName: secret.metadata.name,
            tlsSecretName,
            scriptConfigMapName: scriptConfigMap.metadata.name,
            serviceAccountName: bootstrapAccess.serviceAccount.metadata.name,
        };
        new k8s.batch.v1.Job(
            names.bootstrap,
            {
                // A Job that failed (e.g. a scale-out past its deadline) is replaced and re-run by the next
                // `up` instead of being awaited again forever; the script is idempotent.
                metadata: { ...metadata(names.bootstrap, bootstrapLabels), annotations: { "pulumi.com/replaceUnready": "true" } },
                spec: bootstrapJobSpec(settings, bootstrapRefs, bootstrapLabels, this.podLabels),
            },
            // The Job's spec is immutable; a changed script replaces it, and the script is idempotent.
            // Awaited as long as its attempts may take (BOOTSTRAP_AWAIT_SECONDS), not the provider's 10 minutes.
            {
                parent: this,
                dependsOn: [statefulSet, clientService, bootstrapAccess.roleBinding, nodeBinding],
                replaceOnChanges: ["spec"],
                deleteBeforeReplace: true,
                customTimeouts: { create: `${BOOTSTRAP_AWAIT_SECONDS}s`, update: `${BOOTSTRAP_AWAIT_SECONDS}s` },
            },
        );

        this.serviceHost = serviceHostOutput(clientService.metadata.name, namespace, settings.clusterDomain);
        this.headlessServiceName = headless.metadata.name;
        this.registerOutputs({
            seedNodes: this.seedNodes,
            serviceHost: this.serviceHost,
            secretName: this.secretName,
            password: this.password,
        });
    }
}
