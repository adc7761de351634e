import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { contentNamedConfigMap, disruptionBudget, podServiceAccount, podTemplateAnnotations, selectorLabels, standardLabels } from "../k8s";
import type { AlertRule, Dashboards, MetricsTarget, Observable } from "../observability";
import { parseArgs } from "../schema";
import { loadBalancerAlertRules, loadBalancerDashboards } from "./alerts";
import { LoadBalancerTierArgs, loadBalancerTierArgsSchema, resolvedUpstreamSchema } from "./args";
import { LOG_EXPORTER_PORT, NGINX_HTTP_PORT, NGINX_HTTPS_PORT, renderLogExporterConfig, renderNginxConf, STUB_EXPORTER_PORT } from "./render";
import { CONFIG_KEYS, edgeCertificate, LOG_EXPORTER_CONFIG, nginxConfOptions, nginxDeploymentSpec, nginxService, tlsSecretName } from "./specs";
import { serviceHost } from "../dns";

export type { LoadBalancerTierArgs, ResolvedLoadBalancerTierArgs } from "./args";

const TYPE = "LoadBalancerTier";

/**
 * The load balancer tier: nginx instances terminating TLS (a public certificate from cert-manager or
 * an existing Secret; plain HTTP redirected, HSTS) in front of the gateways' headless Service, with the
 * plan's rate limits divided over the replicas, 429 for limited requests, least_conn per gateway
 * pod (nginx re-resolves the headless name), graceful drain on stop, and two metrics sidecars:
 * nginx-prometheus-exporter (stub_status, `nginx_up`) and prometheus-nginxlog-exporter (responses
 * by status and a latency histogram, fed by nginx's access log over loopback syslog).
 */
export class LoadBalancerTier extends pulumi.ComponentResource implements Observable {
    /** Name of the Service clients reach the tier through. */
    public readonly serviceName: pulumi.Output<string>;
    /**
     * Where clients reach the tier: the load balancer's hostname or IP from the Service status,
     * or, until one is assigned (and for NodePort/ClusterIP), the in-cluster DNS name.
     */
    public readonly endpoint: pulumi.Output<string>;
    /** The Service's HTTPS port, where clients connect. */
    public readonly port: number;
    /** The Service's plain HTTP port: it redirects to `port`. */
    public readonly httpPort: number;
    /** Name of the kubernetes.io/tls Secret nginx serves (cert-manager's, or the existing one named in tls.secretName). */
    public readonly tlsSecretName: pulumi.Output<string>;
    /** Labels that select exactly the tier's nginx pods (for NetworkPolicies). */
    public readonly podLabels: Record<string, string>;
    /** Ports nginx listens on in the pod, HTTP and HTTPS (NetworkPolicy ingress to the pods targets these, not the Service ports). */
    public readonly containerPorts: number[] = [NGINX_HTTP_PORT, NGINX_HTTPS_PORT];
    /**
     * Metrics ports on every pod, path /metrics: `stubStatus` (nginx-prometheus-exporter, container
     * port name `metrics`, `nginx_up` and connection gauges) and `accessLog`
     * (prometheus-nginxlog-exporter, port name `metrics-log`, responses by status and the latency histogram).
     */
    public readonly metricsPorts: { stubStatus: number; accessLog: number } = { stubStatus: STUB_EXPORTER_PORT, accessLog: LOG_EXPORTER_PORT };
    /** The nginx pods and both exporters' ports, for Prometheus' NetworkPolicy. */
    public readonly metricsTargets: MetricsTarget[];
    /** nginx down, 5xx ratio above http5xxAlertRatio, p95 latency above the SLO. */
    public readonly alertRules: AlertRule[];
    /** The load balancer dashboard (requests, statuses, latency, connections). */
    public readonly dashboards: Dashboards = loadBalancerDashboards;
    /** Name of the ConfigMap holding nginx.conf and the log exporter's config (`<name>-config-<content hash>`: a config change is a new ConfigMap). */
    public readonly configMapName: pulumi.Output<string>;

    constructor(name: string, args: LoadBalancerTierArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("prepx:network:LoadBalancerTier", name, {}, opts);
        const settings = parseArgs(loadBalancerTierArgsSchema, args, this, TYPE, name);
        const child: pulumi.CustomResourceOptions = { parent: this };
        const labels = standardLabels("nginx", name, "load-balancer");
        const selector = selectorLabels(labels);
        this.podLabels = selector;
        this.port = settings.tls.servicePort;
        this.httpPort = settings.servicePort;
        this.metricsTargets = [{ name: "loadbalancer", labels: selector, ports: [STUB_EXPORTER_PORT, LOG_EXPORTER_PORT] }];
        this.alertRules = loadBalancerAlertRules({ p95LatencyMs: settings.p95LatencyMs, http5xxRatio: settings.http5xxAlertRatio });

        // An Output host (the fleet's headless Service) is known only now: check it as the args were.
        const nginxConf = pulumi.output(settings.upstream.host).apply((host) => {
            const resolved = parseArgs(resolvedUpstreamSchema, { upstream: { host } }, this, TYPE, name);
            return renderNginxConf(nginxConfOptions(settings, resolved.upstream.host));
        });
        const logExporterConf = renderLogExporterConfig(LOG_EXPORTER_CONFIG);

        const configMap = contentNamedConfigMap(
            `${name}-config`,
            { namespace: settings.namespace, labels, data: { [CONFIG_KEYS.nginx]: nginxConf, [CONFIG_KEYS.logExporter]: logExporterConf } },
            child,
        );
        this.configMapName = configMap.metadata.name;

        // With cert-manager, the Secret is the Certificate's: the pods wait for it through this output.
        const secretName = tlsSecretName(name, settings.tls);
        const certManager = settings.tls.certManager;
        this.tlsSecretName = certManager
            ? new k8s.apiextensions.CustomResource(`${name}-tls`, edgeCertificate({ name: `${name}-tls`, namespace: settings.namespace, labels }, certManager, secretName), child).metadata.apply(() => secretName)
            : pulumi.output(secretName);

        const annotations = podTemplateAnnotations(STUB_EXPORTER_PORT, [nginxConf, logExporterConf]);
        const account = podServiceAccount(name, { namespace: settings.namespace, labels, imagePullSecrets: settings.imagePullSecrets }, child);
        new k8s.apps.v1.Deployment(
            name,
            { metadata: { name, namespace: settings.namespace, labels }, spec: nginxDeploymentSpec(settings, labels, selector, { configMapName: configMap.metadata.name, serviceAccountName: account.metadata.name, tlsSecretName: this.tlsSecretName }, annotations) },
            child,
        );

        // One replica cannot keep serving through a voluntary disruption; a budget would only block drains.
        if (settings.replicas > 1) disruptionBudget(name, { namespace: settings.namespace, labels }, child);

        const service = new k8s.core.v1.Service(name, nginxService({ name, namespace: settings.namespace, labels }, settings, selector), child);

        this.serviceName = service.metadata.name;
        this.endpoint = pulumi.all([service.status, service.metadata.name, settings.namespace]).apply(([status, serviceName, namespace]) => {
            const ingress = status?.loadBalancer?.ingress?.[0];
            return ingress?.hostname || ingress?.ip || serviceHost(serviceName, namespace, settings.clusterDomain);
        });
        this.registerOutputs({
            serviceName: this.serviceName,
            endpoint: this.endpoint,
            tlsSecretName: this.tlsSecretName,
            podLabels: this.podLabels,
            metricsPorts: this.metricsPorts,
            metricsTargets: this.metricsTargets,
            configMapName: this.configMapName,
        });
    }
}
