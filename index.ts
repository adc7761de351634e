// The prepx stack: one namespace, an explicit Kubernetes provider, the five components and the
// NetworkPolicies between them, sized from Pulumi.<stack>.yaml through config.ts.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    createNetworkPolicies,
    InternalCertificateAuthority,
    LoadBalancerTier,
    MonitoringStack,
    podSecurityLabels,
    PostgresCluster,
    RedisCluster,
    renderNetworkPolicies,
    ServiceFleet,
    standardLabels,
} from "./components";
import { loadStackConfig } from "./config";
import { overviewDashboards } from "./dashboards";
import {
    gatewayService,
    loadBalancerTierArgs,
    monitoringStackArgs,
    postgresClusterArgs,
    redisClusterArgs,
    serviceFleetArgs,
} from "./stack-args";

const config = loadStackConfig();

// Explicit provider, so every object goes through the stack's own settings: the cluster named by
// kubeconfig/kubeContext, or, with renderYamlToDirectory, YAML files in that directory and no cluster
// at all. A stack without either uses kubectl's current context ($KUBECONFIG or ~/.kube/config); a
// protected stack (prod) may not: config.ts refuses it without kubeContext or kubeconfig.
//
// ConfigMaps and Secrets are updated in place. By default the provider replaces one whose data
// changed, deleting a fixed-name one before creating it, which makes the engine replace
// everything that references it: an nginx rate change deleted and re-created the whole
// load-balancer Deployment (seen with the real engine). The Secrets keep fixed names; the ConfigMaps
// are content-named (k8s.ts contentNamedConfigMap) but Patroni's, whose bootstrap.dcs changes in
// place. Pods roll through the checksum annotation on their templates.
const provider = new k8s.Provider("k8s", {
    enableConfigMapMutable: true,
    enableSecretMutable: true,
    ...(config.renderYamlToDirectory !== undefined
        ? // An explicit empty kubeconfig: left unset, the SDK fills it from $KUBECONFIG, and the provider
          // refuses a kubeconfig beside renderYamlToDirectory.
          { renderYamlToDirectory: config.renderYamlToDirectory, kubeconfig: "" }
        : { kubeconfig: config.kubeconfig, context: config.kubeContext }),
});

// Pod Security Admission enforces `restricted` on every pod of the namespace (k8s.ts podSecurityLabels):
// a pod that would run as root, add a capability or mount a host path is refused at admission.
const namespace = new k8s.core.v1.Namespace(
    "namespace",
    { metadata: { name: config.namespace, labels: { ...standardLabels("prepx", config.namespace, "namespace"), ...podSecurityLabels("restricted") } } },
    { provider, protect: config.protectData },
);
const ns = namespace.metadata.name;
// With protectData (prod) every resource of the stack is protected, not only the stateful ones:
// children inherit `protect` from their component. `pulumi destroy` then deletes nothing, where
// protecting only the data let it delete the 64 other objects (edge, services, PgBouncer, policies)
// before it stopped at the first protected one (seen with the real engine).
const componentOpts: pulumi.ComponentResourceOptions = { providers: { kubernetes: provider }, protect: config.protectData };

// The internal CA: cert-manager's, or @pulumi/tls where the cluster has no cert-manager (internalTls).
const certificates = new InternalCertificateAuthority(
    "internal-ca",
    { namespace: ns, settings: config.internalTls, labels: standardLabels("internal-ca", config.namespace, "tls") },
    componentOpts,
);

// By name: the nodes' certificate names the pods' full DNS names; dependsOn keeps the Namespace first.
const redis = new RedisCluster("redis", redisClusterArgs(config, config.namespace, certificates), { ...componentOpts, dependsOn: [namespace] });
const postgres = new PostgresCluster("postgres", postgresClusterArgs(config, ns, certificates), componentOpts);

const fleet = new ServiceFleet(
    "services",
    serviceFleetArgs(config, ns, { database: postgres.connection, redis: redis.connection }),
    { ...componentOpts, dependsOn: [postgres, redis] },
);

const gateway = gatewayService(config).name;
const loadBalancer = new LoadBalancerTier(
    "lb",
    loadBalancerTierArgs(config, ns, fleet.headlessHosts.apply((hosts) => hosts[gateway])),
    componentOpts,
);

// Each component owns its alert rules and dashboards; MonitoringStack renders them in this order.
const monitoring = new MonitoringStack(
    "monitoring",
    monitoringStackArgs(config, ns, {
        alertRules: [...postgres.alertRules, ...redis.alertRules, ...loadBalancer.alertRules, ...fleet.alertRules],
        dashboards: { ...overviewDashboards, ...postgres.dashboards, ...redis.dashboards, ...loadBalancer.dashboards, ...fleet.dashboards },
        portScrapeJobs: postgres.portScrapeJobs,
    }, certificates),
    componentOpts,
);

createNetworkPolicies(
    ns,
    renderNetworkPolicies({
        loadBalancer: { labels: loadBalancer.podLabels, listenPorts: loadBalancer.containerPorts },
        gateways: { labels: fleet.podLabelsOf(gateway), port: fleet.ports[gateway] },
        services: config.services.map((service) => ({
            name: service.name,
            labels: fleet.podLabelsOf(service.name),
            port: fleet.ports[service.name],
            usesDatabase: service.usesDatabase,
        })),
        pgbouncer: { labels: postgres.poolerLabels, port: postgres.poolerPort },
        postgresPrimary: { labels: postgres.leaderLabels, port: postgres.port },
        postgresMembers: { labels: postgres.podLabels, port: postgres.port, patroniPort: postgres.patroniPort, dynamicConfigJobLabels: postgres.dynamicConfigJobLabels, backsUpToObjectStorage: postgres.backsUpToObjectStorage },
        postgresStandbys: { labels: postgres.standbyLabels, port: postgres.port },
        redis: { labels: redis.podLabels, port: redis.port, busPort: redis.busPort, bootstrapLabels: redis.bootstrapLabels },
        prometheus: { labels: monitoring.podLabels, port: monitoring.prometheusPort },
        grafana: { labels: monitoring.grafanaPodLabels, port: monitoring.grafanaPort },
        kubernetesApiClients: [
            { name: "kube-state-metrics", labels: monitoring.kubeStateMetricsPodLabels },
            // The Redis bootstrap reads where the node pods run (replica placement).
            { name: "redis-bootstrap", labels: redis.bootstrapLabels },
        ],
        metricsTargets: [fleet, loadBalancer, postgres, redis, monitoring].flatMap((component) => component.metricsTargets),
        alertmanager: {
            labels: monitoring.alertmanagerPodLabels,
            port: monitoring.alertmanagerPort,
            clusterPort: monitoring.alertmanagerClusterPort,
            notifies: monitoring.alertmanagerNotifies,
        },
        ...config.network,
    }),
    { provider, protect: config.protectData },
);

export const namespaceName = ns;
/** Where clients reach the stack: the load balancer's address once the cloud assigns one. */
export const loadBalancerEndpoint = loadBalancer.endpoint;
export const grafanaUrl = monitoring.grafanaUrl;
export const prometheusUrl = monitoring.prometheusUrl;
export const grafanaAdminPassword = monitoring.grafanaAdminPassword;
export const postgresRwHost = postgres.rwHost;
export const postgresRoHost = postgres.roHost;
export const postgresPoolerHost = postgres.poolerHost;
export const postgresPort = postgres.port;
export const postgresPoolerPort = postgres.poolerPort;
export const postgresDatabase = postgres.database;
export const postgresAppUser = postgres.appUser;
export const postgresAppSecretName = postgres.appSecretName;
export const postgresAppPassword = postgres.appPassword;
export const postgresSuperuserPassword = postgres.superuserPassword;
export const redisSeedNodes = redis.seedNodes;
export const redisHost = redis.serviceHost;
export const redisSecretName = redis.secretName;
export const redisPassword = redis.password;
export const serviceHosts = fleet.serviceHosts;
/** Who signs the internal certificates: `cert-manager` or `stack`. */
export const internalCertificateIssuer = certificates.issuer;
