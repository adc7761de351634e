import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    configChecksumAnnotation,
    contentNamedConfigMap,
    disruptionBudget,
    podServiceAccount,
    podTemplateAnnotations,
    serviceAccountWithRole,
    serviceHostOutput,
    standardLabels,
    volumeClaimTemplate,
} from "../k8s";
import type { MetricsTarget } from "../observability";
import { stackPassword } from "../passwords";
import { serviceHost } from "../dns";
import { parseArgs } from "../schema";
import { AlertReceivers, MonitoringStackArgs, monitoringStackArgsSchema, ResolvedMonitoringStackArgs } from "./args";
import { dashboardFiles } from "./dashboards";
import {
    ALERT_RULES_FILE,
    ALERTMANAGER_CLUSTER_PORT,
    ALERTMANAGER_CLUSTER_TLS_FILE,
    ALERTMANAGER_CONFIG_FILE,
    ALERTMANAGER_PORT,
    ALERTMANAGER_TLS_FILES,
    ALERTMANAGER_WEB_CONFIG_FILE,
    alertmanagerConfigOptions,
    alertmanagerPeers,
    alertRulesOptions,
    KUBE_STATE_METRICS_APP,
    monitoringCertificateDnsNames,
    monitoringSelfScrapeJobs,
    PROMETHEUS_CONFIG_FILE,
    PROMETHEUS_TLS_FILES,
    PROMETHEUS_WEB_CONFIG_FILE,
    prometheusConfigOptions,
    renderAlertmanagerConfig,
    renderAlertRules,
    renderGrafanaDashboardProvider,
    renderGrafanaDatasources,
    renderAlertmanagerClusterTlsConfig,
    renderPrometheusConfig,
    renderWebConfig,
    undeliveredAlertWarnings,
} from "./render";
import {
    GRAFANA_DASHBOARDS_DIR,
    GRAFANA_PORT,
    GRAFANA_PROMETHEUS_CA_FILE,
    grafanaDataVolume,
    grafanaDeploymentSpec,
    httpServiceSpec,
    KUBE_STATE_METRICS_PORT,
    KUBE_STATE_METRICS_RULES,
    KUBELET_METRICS_RULES,
    kubeStateMetricsDeploymentSpec,
    PROMETHEUS_DISCOVERY_RULES,
    PROMETHEUS_PORT,
    prometheusStatefulSetSpec,
    alertmanagerServiceSpec,
    alertmanagerStatefulSetSpec,
    GRAFANA_SECRET_KEYS,
} from "./specs";

export type { MonitoringStackArgs, PortScrapeJob, ResolvedMonitoringStackArgs } from "./args";

/** Where one of the stack's apps lives: its object name prefix, labels and namespace. */
interface App {
    name: string;
    labels: Record<string, string>;
    namespace: pulumi.Output<string>;
}

/**
 * Prometheus (StatefulSet, per-stack retention, the alert rules the components hand over plus its
 * own), kube-state-metrics for pod and workload state, and Grafana with the Prometheus datasource and
 * the given dashboards provisioned from files. Prometheus discovers pods of its own namespace only.
 * Prometheus and Alertmanager serve HTTPS only with certificates from `certificates`; Prometheus and
 * Grafana verify them against the internal CA, and Alertmanager's replicas gossip over mutual TLS.
 */
export class MonitoringStack extends pulumi.ComponentResource {
    /** In-cluster URL of Prometheus (HTTPS API and UI; its certificate is signed by the stack's internal CA). */
    public readonly prometheusUrl: pulumi.Output<string>;
    /** In-cluster URL of Grafana. */
    public readonly grafanaUrl: pulumi.Output<string>;
    /** Grafana's `admin` password (secret). Applied by Grafana when its database is first created. */
    public readonly grafanaAdminPassword: pulumi.Output<string>;
    /** Name of the Secret holding Grafana's admin credentials under `admin-user` and `admin-password`. */
    public readonly grafanaSecretName: pulumi.Output<string>;
    /** Labels on the Prometheus pod (for a NetworkPolicy allowing Prometheus to every metrics port). */
    public readonly podLabels: Record<string, string>;
    /** Labels on the Grafana pod (for a NetworkPolicy allowing Grafana to Prometheus). */
    public readonly grafanaPodLabels: Record<string, string>;
    /** Labels on the kube-state-metrics pod (it reads the Kubernetes API: a NetworkPolicy must allow that egress). */
    public readonly kubeStateMetricsPodLabels: Record<string, string>;
    /** Prometheus' HTTPS port (API, UI, its own /metrics). */
    public readonly prometheusPort: number = PROMETHEUS_PORT;
    /** Grafana's HTTP port (UI, its own /metrics). */
    public readonly grafanaPort: number = GRAFANA_PORT;
    /** This component's own scrape targets: Prometheus, Grafana and kube-state-metrics. */
    public readonly metricsTargets: MetricsTarget[];
    /** Name of the Prometheus Service. */
    public readonly prometheusServiceName: pulumi.Output<string>;
    /** Name of the Grafana Service. */
    public readonly grafanaServiceName: pulumi.Output<string>;
    /** In-cluster URL of Alertmanager over HTTPS (its headless Service: every replica's API and UI). */
    public readonly alertmanagerUrl: pulumi.Output<string>;
    /** Labels on the Alertmanager pods (for the NetworkPolicies: Prometheus sends to them, they gossip with each other). */
    public readonly alertmanagerPodLabels: Record<string, string>;
    /** Alertmanager's HTTPS port (alerts from Prometheus, API, UI, its own /metrics). */
    public readonly alertmanagerPort: number = ALERTMANAGER_PORT;
    /** Alertmanager's cluster (gossip, mutual TLS over TCP) port between the replicas; unused with one replica. */
    public readonly alertmanagerClusterPort: number = ALERTMANAGER_CLUSTER_PORT;
    /** Whether any receiver is configured, i.e. Alertmanager sends notifications out of the cluster. */
    public readonly alertmanagerNotifies: boolean;

    constructor(name: string, args: MonitoringStackArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("prepx:monitoring:MonitoringStack", name, {}, opts);
        const resolved = parseArgs(monitoringStackArgsSchema, args, this, "MonitoringStack", name);
        const namespace = pulumi.output(resolved.namespace);
        const prometheus: App = { name: `${name}-prometheus`, labels: standardLabels("prometheus", name, "monitoring"), namespace };
        const grafana: App = { name: `${name}-grafana`, labels: standardLabels("grafana", name, "monitoring"), namespace };
        const kubeStateMetrics: App = { name: `${name}-kube-state-metrics`, labels: standardLabels(KUBE_STATE_METRICS_APP, name, "monitoring"), namespace };
        const alertmanager: App = { name: `${name}-alertmanager`, labels: standardLabels("alertmanager", name, "monitoring"), namespace };
        this.alertmanagerPodLabels = alertmanager.labels;
        this.podLabels = prometheus.labels;
        this.grafanaPodLabels = grafana.labels;
        this.kubeStateMetricsPodLabels = kubeStateMetrics.labels;
        this.metricsTargets = [
            { name: "prometheus", labels: prometheus.labels, ports: [PROMETHEUS_PORT] },
            { name: "grafana", labels: grafana.labels, ports: [GRAFANA_PORT] },
            { name: KUBE_STATE_METRICS_APP, labels: kubeStateMetrics.labels, ports: [KUBE_STATE_METRICS_PORT] },
            { name: "alertmanager", labels: alertmanager.labels, ports: [ALERTMANAGER_PORT] },
        ];

        // Prometheus and Alertmanager serve HTTPS with certificates of the internal CA; Prometheus
        // scrapes both (itself included) over HTTPS, verifying them with that CA.
        // The schema requires namespaceName when namespace is not a string.
        const namespaceName = resolved.namespaceName ?? (resolved.namespace as string);
        const dnsNames = monitoringCertificateDnsNames({ prometheus: prometheus.name, alertmanager: alertmanager.name }, namespaceName, resolved);
        const child = { parent: this };
        const tls: MonitoringTls = {
            prometheusSecretName: resolved.certificates.issue(`${prometheus.name}-tls`, { namespace: resolved.namespace, dnsNames: dnsNames.prometheus, labels: prometheus.labels }, child),
            alertmanagerSecretName: resolved.certificates.issue(
                `${alertmanager.name}-tls`,
                { namespace: resolved.namespace, dnsNames: dnsNames.alertmanager, labels: alertmanager.labels },
                child,
            ),
            alertmanagerServiceHost: serviceHost(alertmanager.name, namespaceName, resolved.clusterDomain),
        };
        const selfScrapeJobs = monitoringSelfScrapeJobs(
            { prometheus: serviceHost(prometheus.name, namespaceName, resolved.clusterDomain), alertmanager: tls.alertmanagerServiceHost },
            tls.prometheusSecretName,
            { prometheus: PROMETHEUS_PORT, alertmanager: ALERTMANAGER_PORT },
        );
        const withSelfScrape: ResolvedMonitoringStackArgs = { ...resolved, portScrapeJobs: [...resolved.portScrapeJobs, ...selfScrapeJobs] };

        const configured = receiversConfigured(resolved.alertmanager.receivers);
        this.alertmanagerNotifies = configured.webhookUrl || configured.slackWebhookUrl || configured.pagerdutyRoutingKey;
        for (const warning of undeliveredAlertWarnings(configured)) void pulumi.log.warn(`MonitoringStack ${name}: ${warning}`, this);
        const alertmanagerService = this.createAlertmanager(alertmanager, resolved, tls);
        this.alertmanagerUrl = pulumi.interpolate`https://${serviceHostOutput(alertmanagerService.metadata.name, namespace, resolved.clusterDomain)}:${ALERTMANAGER_PORT}`;
        const prometheusService = this.createPrometheus(prometheus, withSelfScrape, alertmanager.name, tls.prometheusSecretName);
        this.prometheusServiceName = prometheusService.metadata.name;
        this.prometheusUrl = pulumi.interpolate`https://${serviceHostOutput(prometheusService.metadata.name, namespace, resolved.clusterDomain)}:${PROMETHEUS_PORT}`;
        this.createKubeStateMetrics(kubeStateMetrics, resolved);
        const grafanaObjects = this.createGrafana(grafana, resolved, this.prometheusUrl, tls.prometheusSecretName);
        this.grafanaAdminPassword = grafanaObjects.adminPassword;
        this.grafanaSecretName = grafanaObjects.secret.metadata.name;
        this.grafanaServiceName = grafanaObjects.service.metadata.name;
        this.grafanaUrl = pulumi.interpolate`http://${serviceHostOutput(grafanaObjects.service.metadata.name, namespace, resolved.clusterDomain)}:${GRAFANA_PORT}`;
        this.registerOutputs({
            prometheusUrl: this.prometheusUrl,
            grafanaUrl: this.grafanaUrl,
            grafanaAdminPassword: this.grafanaAdminPassword,
            grafanaSecretName: this.grafanaSecretName,
            alertmanagerUrl: this.alertmanagerUrl,
        });
    }

    /** Prometheus' RBAC (namespaced discovery, kubelet metrics), config, Service and StatefulSet. */
    private createPrometheus(app: App, args: ResolvedMonitoringStackArgs, alertmanagerName: string, tlsSecretName: pulumi.Output<string>): k8s.core.v1.Service {
        const child = { parent: this };
        const metadata = { name: app.name, namespace: args.namespace, labels: app.labels };
        const { serviceAccount } = serviceAccountWithRole(
            app.name,
            { namespace: args.namespace, labels: app.labels, rules: PROMETHEUS_DISCOVERY_RULES, imagePullSecrets: args.imagePullSecrets },
            child,
        );
        // Cluster-scoped names must be unique across namespaces.
        const kubeletAccess = { name: pulumi.interpolate`${app.namespace}-${app.name}-kubelet`, labels: app.labels };
        const kubeletRole = new k8s.rbac.v1.ClusterRole(`${app.name}-kubelet`, { metadata: kubeletAccess, rules: KUBELET_METRICS_RULES }, child);
        new k8s.rbac.v1.ClusterRoleBinding(
            `${app.name}-kubelet`,
            {
                metadata: kubeletAccess,
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: kubeletRole.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: serviceAccount.metadata.name, namespace: args.namespace }],
            },
            child,
        );
        const prometheusYml = app.namespace.apply((namespace) => renderPrometheusConfig(prometheusConfigOptions(args, namespace, alertmanagerName)));
        const alertsYml = app.namespace.apply((namespace) => renderAlertRules(alertRulesOptions(args, namespace)));
        const webYml = renderWebConfig(PROMETHEUS_TLS_FILES);
        const config = contentNamedConfigMap(
            `${app.name}-config`,
            { namespace: args.namespace, labels: app.labels, data: { [PROMETHEUS_CONFIG_FILE]: prometheusYml, [ALERT_RULES_FILE]: alertsYml, [PROMETHEUS_WEB_CONFIG_FILE]: webYml } },
            child,
        );
        const service = new k8s.core.v1.Service(app.name, { metadata, spec: httpServiceSpec(app.labels, PROMETHEUS_PORT) }, child);
        const spec = prometheusStatefulSetSpec(args, {
            labels: app.labels,
            // No scrape annotations: the generic pods job speaks HTTP; the `prometheus` job scrapes it over HTTPS.
            annotations: configChecksumAnnotation(prometheusYml, alertsYml, webYml),
            serviceName: service.metadata.name,
            serviceAccountName: serviceAccount.metadata.name,
            configMapName: config.metadata.name,
            tlsSecretName,
        });
        new k8s.apps.v1.StatefulSet(app.name, { metadata, spec }, { parent: this, protect: args.protectData });
        return service;
    }

    /** kube-state-metrics, limited to this namespace. */
    private createKubeStateMetrics(app: App, args: ResolvedMonitoringStackArgs): void {
        const child = { parent: this };
        const { serviceAccount } = serviceAccountWithRole(
            app.name,
            { namespace: args.namespace, labels: app.labels, rules: KUBE_STATE_METRICS_RULES, imagePullSecrets: args.imagePullSecrets },
            child,
        );
        const spec = kubeStateMetricsDeploymentSpec(args.kubeStateMetrics, { labels: app.labels, namespace: app.namespace, serviceAccountName: serviceAccount.metadata.name });
        new k8s.apps.v1.Deployment(app.name, { metadata: { name: app.name, namespace: args.namespace, labels: app.labels }, spec }, child);
    }

    /** Grafana: admin Secret, provisioning and dashboards ConfigMaps, its volume, Service and Deployment. */
    private createGrafana(app: App, args: ResolvedMonitoringStackArgs, prometheusUrl: pulumi.Output<string>, prometheusTlsSecretName: pulumi.Output<string>) {
        const child = { parent: this };
        const dataOpts = { parent: this, protect: args.protectData };
        const metadata = (suffix = "") => ({ name: `${app.name}${suffix}`, namespace: args.namespace, labels: app.labels });
        const adminPassword = stackPassword(`${app.name}-admin-password`, args.grafanaAdminPassword, child);
        const secretKey = stackPassword(`${app.name}-secret-key`, args.grafanaSecretKey, child);
        const stringData = {
            [GRAFANA_SECRET_KEYS.adminUser]: args.grafana.adminUser,
            [GRAFANA_SECRET_KEYS.adminPassword]: adminPassword,
            [GRAFANA_SECRET_KEYS.secretKey]: secretKey,
        };
        const secret = new k8s.core.v1.Secret(`${app.name}-admin`, { metadata: metadata("-admin"), type: "Opaque", stringData }, dataOpts);
        const datasources = prometheusUrl.apply((url) => renderGrafanaDatasources({ prometheusUrl: url, scrapeInterval: args.prometheus.scrapeInterval, caFile: GRAFANA_PROMETHEUS_CA_FILE }));
        const provider = renderGrafanaDashboardProvider({ path: GRAFANA_DASHBOARDS_DIR, folder: "prepx" });
        const provisioning = contentNamedConfigMap(
            `${app.name}-provisioning`,
            { namespace: args.namespace, labels: app.labels, data: { "datasources.yaml": datasources, "dashboards.yaml": provider } },
            child,
        );
        const dashboards = dashboardFiles(args.dashboards);
        const dashboardsMap = contentNamedConfigMap(`${app.name}-dashboards`, { namespace: args.namespace, labels: app.labels, data: dashboards }, child);
        const claim = args.grafana.persistent
            ? new k8s.core.v1.PersistentVolumeClaim(app.name, { metadata: metadata(), spec: volumeClaimTemplate("data", args.grafana.storage, args.storageClass).spec }, dataOpts)
            : undefined;
        const service = new k8s.core.v1.Service(app.name, { metadata: metadata(), spec: httpServiceSpec(app.labels, GRAFANA_PORT) }, child);
        const account = podServiceAccount(app.name, { namespace: args.namespace, labels: app.labels, imagePullSecrets: args.imagePullSecrets }, child);
        const spec = grafanaDeploymentSpec(args.grafana, {
            serviceAccountName: account.metadata.name,
            labels: app.labels,
            annotations: podTemplateAnnotations(GRAFANA_PORT, [datasources, provider, ...Object.values(dashboards)]),
            secretName: secret.metadata.name,
            provisioningConfigMapName: provisioning.metadata.name,
            dashboardsConfigMapName: dashboardsMap.metadata.name,
            prometheusTlsSecretName,
            dataVolume: grafanaDataVolume(args.grafana, claim?.metadata.name),
        });
        new k8s.apps.v1.Deployment(app.name, { metadata: metadata(), spec }, child);
        return { adminPassword, secret, service };
    }

    /**
     * Alertmanager: its config in a Secret (it carries the receivers' URLs and keys), a headless
     * Service naming every replica, the StatefulSet, and a PodDisruptionBudget when there are several.
     */
    private createAlertmanager(app: App, args: ResolvedMonitoringStackArgs, tls: MonitoringTls): k8s.core.v1.Service {
        const child = { parent: this };
        const metadata = (suffix = "") => ({ name: `${app.name}${suffix}`, namespace: args.namespace, labels: app.labels });
        const receivers = args.alertmanager.receivers;
        const alertmanagerYml = pulumi.secret(
            pulumi
                .all([receivers.webhookUrl, receivers.slackWebhookUrl, receivers.pagerdutyRoutingKey])
                .apply(([webhookUrl, slackWebhookUrl, pagerdutyRoutingKey]) =>
                    renderAlertmanagerConfig(alertmanagerConfigOptions(args, { webhookUrl, slackWebhookUrl, pagerdutyRoutingKey })),
                ),
        );
        const webYml = renderWebConfig(ALERTMANAGER_TLS_FILES);
        const clusterTlsYml = renderAlertmanagerClusterTlsConfig(ALERTMANAGER_TLS_FILES, tls.alertmanagerServiceHost);
        const configFiles = { [ALERTMANAGER_CONFIG_FILE]: alertmanagerYml, [ALERTMANAGER_WEB_CONFIG_FILE]: webYml, [ALERTMANAGER_CLUSTER_TLS_FILE]: clusterTlsYml };
        const config = new k8s.core.v1.Secret(app.name + "-config", { metadata: metadata("-config"), type: "Opaque", stringData: configFiles }, child);
        const service = new k8s.core.v1.Service(app.name, { metadata: metadata(), spec: alertmanagerServiceSpec(app.labels) }, child);
        const account = podServiceAccount(app.name, { namespace: args.namespace, labels: app.labels, imagePullSecrets: args.imagePullSecrets }, child);
        // The checksum of the secret config is not secret: a SHA-256 reveals nothing of the URLs and
        // keys inside, and a secret annotation would hide the whole pod template from every diff.
        const checksum = pulumi.unsecret(configChecksumAnnotation(alertmanagerYml, webYml, clusterTlsYml));
        const peers = app.namespace.apply((namespace) => alertmanagerPeers({ name: app.name, namespace, clusterDomain: args.clusterDomain, replicas: args.alertmanager.replicas }));
        const spec = peers.apply((names) =>
            alertmanagerStatefulSetSpec(args.alertmanager, {
                labels: app.labels,
                // No scrape annotations: the `alertmanager` job scrapes it over HTTPS.
                annotations: checksum,
                serviceName: service.metadata.name,
                serviceAccountName: account.metadata.name,
                configSecretName: config.metadata.name,
                tlsSecretName: tls.alertmanagerSecretName,
                peers: names,
            }),
        );
        new k8s.apps.v1.StatefulSet(app.name, { metadata: metadata(), spec }, child);
        if (args.alertmanager.replicas > 1) disruptionBudget(app.name, { namespace: args.namespace, labels: app.labels }, child);
        return service;
    }
}

/** Prometheus' and Alertmanager's certificate Secrets, and the name the gossip's clients check. */
interface MonitoringTls {
    prometheusSecretName: pulumi.Output<string>;
    alertmanagerSecretName: pulumi.Output<string>;
    alertmanagerServiceHost: string;
}

/** Which receivers are set: known at preview, even for a secret whose value is not. */
function receiversConfigured(receivers: AlertReceivers): { webhookUrl: boolean; slackWebhookUrl: boolean; pagerdutyRoutingKey: boolean } {
    return { webhookUrl: receivers.webhookUrl !== undefined, slackWebhookUrl: receivers.slackWebhookUrl !== undefined, pagerdutyRoutingKey: receivers.pagerdutyRoutingKey !== undefined }
}
