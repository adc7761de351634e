// MonitoringStack's spec builders, called directly (no Pulumi runtime): containers, probes, volumes,
// RBAC rules, Services and the pod specs of Prometheus, kube-state-metrics and Grafana.
import type * as k8s from "@pulumi/kubernetes";
import { parse } from "yaml";
import { monitoringStackArgsSchema } from "../../components/monitoring/args";
import {
    GRAFANA_PORT,
    grafanaDataVolume,
    grafanaDeploymentSpec,
    grafanaEnv,
    httpServiceSpec,
    KUBE_STATE_METRICS_PORT,
    KUBE_STATE_METRICS_RULES,
    KUBELET_METRICS_RULES,
    kubeStateMetricsDeploymentSpec,
    PROMETHEUS_DISCOVERY_RULES,
    PROMETHEUS_PORT,
    prometheusConfigVolume,
    prometheusContainer,
    prometheusStatefulSetSpec,
    alertmanagerArgs,
    alertmanagerServiceSpec,
    alertmanagerStatefulSetSpec,
} from "../../components/monitoring/specs";
import {
    ALERTMANAGER_TLS_FILES,
    PROMETHEUS_TLS_FILES,
    prometheusConfig,
    prometheusConfigOptions,
    renderAlertmanagerClusterTlsConfig,
    renderWebConfig,
} from "../../components/monitoring/render";
import { SCRAPE_JOBS } from "../../components/observability";
import { PrometheusYml, scrapeJob } from "../helpers/monitoring-files";
import { testCertificates } from "../helpers/mocks";

/** A builder's result read as the plain object it is (the builders put no Outputs where these tests look). */
const plain = <T>(value: unknown): T => value as T;
type Volume = k8s.types.output.core.v1.Volume;

const DEFAULTS = monitoringStackArgsSchema.parse({ certificates: testCertificates, namespace: "prepx" });
const LABELS = { "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/instance": "monitoring", "app.kubernetes.io/component": "monitoring", "app.kubernetes.io/part-of": "prepx", "app.kubernetes.io/managed-by": "pulumi" };
const SELECTOR = { "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/instance": "monitoring", "app.kubernetes.io/component": "monitoring" };
const BASELINE_SECURITY = { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } };

describe("Prometheus", () => {
    test("the container: retention from the args, the lifecycle API, the config and data directories", () => {
        const container = plain<k8s.types.output.core.v1.Container>(prometheusContainer({ ...DEFAULTS.prometheus, retentionTime: "2d", retentionSize: "1GB" }));
        expect(container.args).toEqual([
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            "--storage.tsdb.retention.time=2d",
            "--storage.tsdb.retention.size=1GB",
            "--web.enable-lifecycle",
            "--web.listen-address=:9090",
            "--web.config.file=/etc/prometheus/web.yml",
        ]);
        expect(container.image).toBe("prom/prometheus:v3.13.5");
        expect(container.ports).toEqual([{ name: "http", containerPort: PROMETHEUS_PORT }]);
        expect(container.resources).toEqual({ requests: { cpu: "2", memory: "4Gi", "ephemeral-storage": "64Mi" }, limits: { cpu: "4", memory: "8Gi", "ephemeral-storage": "2Gi" } });
        expect(container.securityContext).toEqual(BASELINE_SECURITY);
        expect(container.volumeMounts).toEqual([
            { name: "config", mountPath: "/etc/prometheus", readOnly: true },
            { name: "data", mountPath: "/prometheus" },
        ]);
    });

    test("probes over HTTPS: ready and healthy endpoints; startup waits up to 15 minutes for the WAL replay", () => {
        const container = plain<k8s.types.output.core.v1.Container>(prometheusContainer(DEFAULTS.prometheus));
        expect(container.startupProbe).toEqual({ httpGet: { path: "/-/ready", port: "http", scheme: "HTTPS" }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 90 });
        expect(container.readinessProbe).toEqual({ httpGet: { path: "/-/ready", port: "http", scheme: "HTTPS" }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 });
        expect(container.livenessProbe).toEqual({ httpGet: { path: "/-/healthy", port: "http", scheme: "HTTPS" }, periodSeconds: 15, timeoutSeconds: 5, failureThreshold: 4 });
    });

    test("serves HTTPS only: web.yml beside prometheus.yml names the certificate projected from its Secret under tls/", () => {
        const args = plain<k8s.types.output.core.v1.Container>(prometheusContainer(DEFAULTS.prometheus)).args;
        expect(args).toContain("--web.config.file=/etc/prometheus/web.yml");
        const web = parse(renderWebConfig(PROMETHEUS_TLS_FILES));
        expect(web).toEqual({ tls_server_config: { cert_file: "tls/tls.crt", key_file: "tls/tls.key", min_version: "TLS12" } });
        const volume = plain<Volume>(prometheusConfigVolume("cm", false, [], "monitoring-prometheus-tls"));
        expect(volume.projected.sources[0].configMap.items.map((item) => item.path)).toContain("web.yml");
        expect(volume.projected.sources[1]).toEqual({
            secret: {
                name: "monitoring-prometheus-tls",
                items: [
                    { key: "tls.crt", path: web.tls_server_config.cert_file },
                    { key: "tls.key", path: web.tls_server_config.key_file, mode: 0o440 },
                    { key: "ca.crt", path: "tls/ca.crt" },
                ],
            },
        });
    });

    test("the config volume puts prometheus.yml, the rules and the kubelet token side by side; the CA only when TLS is verified", () => {
        const volume = plain<Volume>(prometheusConfigVolume("monitoring-prometheus-config", false, [], "tls"));
        expect(volume.name).toBe("config");
        expect(volume.projected.sources.filter((source) => source.secret === undefined)).toEqual([
            {
                configMap: {
                    name: "monitoring-prometheus-config",
                    items: [
                        { key: "prometheus.yml", path: "prometheus.yml" },
                        { key: "alerts.yml", path: "alerts.yml" },
                        { key: "web.yml", path: "web.yml" },
                    ],
                },
            },
            { serviceAccountToken: { path: "secrets/kubelet-token", expirationSeconds: 3600 } },
        ]);
        const verified = plain<Volume>(prometheusConfigVolume("monitoring-prometheus-config", true, [], "tls"));
        expect(verified.projected.sources[3]).toEqual({ configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "secrets/ca.crt" }] } });
    });

    test("each port scrape job over HTTPS gets only the ca.crt of its Secret, read-only, at the file its rendered job names", () => {
        const jobs = [
            { job: SCRAPE_JOBS.patroni, app: "postgres", port: 8008, tls: { caSecret: "postgres-member-tls", serverName: "postgres-members.prepx.svc.cluster.local" } },
            { job: "exporter", app: "other", port: 9000 },
        ];
        const volume = plain<Volume>(prometheusConfigVolume("cm", true, jobs, "prometheus-tls"));
        const secrets = volume.projected.sources.filter((source) => source.secret !== undefined && source.secret.name !== "prometheus-tls");
        // One Secret projection, one item: the certificate's key (tls.key) in the same Secret never reaches Prometheus.
        expect(secrets).toEqual([{ secret: { name: "postgres-member-tls", items: [{ key: "ca.crt", path: "secrets/scrape-ca/patroni.crt" }] } }]);
        const rendered = prometheusConfig({ ...prometheusConfigOptions(DEFAULTS, "prepx", "monitoring-alertmanager"), portScrapeJobs: jobs }) as unknown as PrometheusYml;
        expect(scrapeJob(rendered, SCRAPE_JOBS.patroni).tls_config).toEqual({ ca_file: secrets[0].secret.items[0].path, server_name: "postgres-members.prepx.svc.cluster.local" });
        // The projected volume is Prometheus' config directory, mounted read-only; relative paths resolve there.
        const mount = plain<k8s.types.output.core.v1.Container>(prometheusContainer(DEFAULTS.prometheus)).volumeMounts.find((m) => m.name === volume.name);
        expect(mount).toEqual({ name: "config", mountPath: "/etc/prometheus", readOnly: true });
        const args = plain<k8s.types.output.core.v1.Container>(prometheusContainer(DEFAULTS.prometheus)).args;
        expect(args).toContain("--config.file=/etc/prometheus/prometheus.yml");
        // The StatefulSet mounts what its args' jobs need.
        const refs = { labels: LABELS, annotations: {}, serviceName: "svc", serviceAccountName: "sa", configMapName: "cm", tlsSecretName: "prometheus-tls" };
        const pod = plain<k8s.types.output.apps.v1.StatefulSetSpec>(prometheusStatefulSetSpec({ ...DEFAULTS, portScrapeJobs: jobs }, refs)).template.spec;
        expect(pod.volumes).toEqual([volume]);
        // Without tls there is nothing to mount.
        expect(plain<Volume>(prometheusConfigVolume("cm", true, [jobs[1]], "prometheus-tls")).projected.sources.filter((source) => source.secret !== undefined && source.secret.name !== "prometheus-tls")).toEqual([]);
    });

    test("the StatefulSet: one pod as nobody, 120 s to write the head block, PVC kept when data is protected", () => {
        const refs = { labels: LABELS, annotations: { "checksum/config": "abc" }, serviceName: "svc", serviceAccountName: "sa", configMapName: "cm", tlsSecretName: "tls" };
        const spec = plain<k8s.types.output.apps.v1.StatefulSetSpec>(prometheusStatefulSetSpec(DEFAULTS, refs));
        expect(spec.replicas).toBe(1);
        expect(spec.serviceName).toBe("svc");
        expect(spec.selector).toEqual({ matchLabels: SELECTOR });
        expect(spec.template.metadata).toEqual({ labels: LABELS, annotations: { "checksum/config": "abc" } });
        expect(spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
        expect(spec.volumeClaimTemplates).toEqual([{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "64Gi" } } } }]);
        const pod = spec.template.spec;
        expect(pod).toMatchObject({ serviceAccountName: "sa", automountServiceAccountToken: true, terminationGracePeriodSeconds: 120, enableServiceLinks: false });
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534, fsGroup: 65534 });
        expect(pod.containers.map((container) => container.name)).toEqual(["prometheus"]);
        expect(pod.volumes).toEqual([prometheusConfigVolume("cm", true, DEFAULTS.portScrapeJobs, "tls")]);
        const unprotected = plain<k8s.types.output.apps.v1.StatefulSetSpec>(prometheusStatefulSetSpec({ ...DEFAULTS, protectData: false, storageClass: "fast" }, refs));
        expect(unprotected.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Delete", whenScaled: "Delete" });
        expect(unprotected.volumeClaimTemplates[0].spec.storageClassName).toBe("fast");
    });

    test("RBAC: exactly what the rendered discovery uses (pods list/watch in the namespace); kubelet metrics without nodes/proxy", () => {
        expect(PROMETHEUS_DISCOVERY_RULES).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] }]);
        // The roles prometheus.yml discovers: the namespaced ones need the Role, `node` the ClusterRole.
        const rendered = prometheusConfig(prometheusConfigOptions(DEFAULTS, "prepx", "monitoring-alertmanager")) as unknown as PrometheusYml;
        const sd = rendered.scrape_configs.flatMap((job) => job.kubernetes_sd_configs ?? []);
        const resourceOf: Record<string, string> = { pod: "pods", node: "nodes", endpoints: "endpoints", service: "services", endpointslice: "endpointslices", ingress: "ingresses" };
        const namespaced = [...new Set(sd.filter((config) => config.namespaces).map((config) => resourceOf[config.role]))];
        const clusterWide = [...new Set(sd.filter((config) => !config.namespaces).map((config) => resourceOf[config.role]))];
        expect(namespaced).toEqual(PROMETHEUS_DISCOVERY_RULES.flatMap((rule) => plain<string[]>(rule.resources)));
        expect(clusterWide).toEqual(["nodes"]);
        expect(plain<string[]>(KUBELET_METRICS_RULES[0].resources)).toEqual(clusterWide);
        expect(KUBELET_METRICS_RULES).toEqual([
            { apiGroups: [""], resources: ["nodes"], verbs: ["list", "watch"] },
            { apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] },
        ]);
    });
});

describe("kube-state-metrics", () => {
    const spec = plain<k8s.types.output.apps.v1.DeploymentSpec>(kubeStateMetricsDeploymentSpec(DEFAULTS.kubeStateMetrics, { labels: LABELS, namespace: "prepx", serviceAccountName: "ksm" }));
    const container = spec.template.spec.containers[0];

    test("one pod, annotated for scraping on its metrics port, reading the API as its own account", () => {
        expect(spec.replicas).toBe(1);
        expect(spec.template.metadata.annotations).toEqual({ "prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics" });
        expect(spec.template.spec).toMatchObject({ serviceAccountName: "ksm", automountServiceAccountToken: true, enableServiceLinks: false });
        expect(spec.template.spec.securityContext).toMatchObject({ runAsUser: 65534 });
    });

    test("the container: metrics and telemetry ports, probed on each; only the stack's workload kinds", () => {
        expect(container.image).toBe("registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0");
        expect(container.args.slice(1)).toEqual(["--resources=pods,deployments,statefulsets,horizontalpodautoscalers", "--port=8080", "--telemetry-port=8081"]);
        expect(container.ports).toEqual([
            { name: "http-metrics", containerPort: KUBE_STATE_METRICS_PORT },
            { name: "telemetry", containerPort: 8081 },
        ]);
        expect(container.livenessProbe).toEqual({ httpGet: { path: "/livez", port: "http-metrics" }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 });
        expect(container.readinessProbe).toEqual({ httpGet: { path: "/readyz", port: "telemetry" }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 });
        expect(container.resources).toEqual({ requests: { cpu: "50m", memory: "64Mi", "ephemeral-storage": "64Mi" }, limits: { cpu: "200m", memory: "256Mi", "ephemeral-storage": "2Gi" } });
        expect(container.securityContext).toEqual(BASELINE_SECURITY);
    });

    test("RBAC reads, never writes", () => {
        for (const rule of KUBE_STATE_METRICS_RULES) expect(rule.verbs).toEqual(["list", "watch"]);
    });
});

describe("Grafana", () => {
    const refs = {
        serviceAccountName: "monitoring-grafana",
        secretName: "admin",
        provisioningConfigMapName: "prov",
        dashboardsConfigMapName: "dash",
        prometheusTlsSecretName: "monitoring-prometheus-tls",
        dataVolume: grafanaDataVolume(DEFAULTS.grafana, "claim"),
    };
    const spec = plain<k8s.types.output.apps.v1.DeploymentSpec>(grafanaDeploymentSpec(DEFAULTS.grafana, { ...refs, labels: LABELS, annotations: { "checksum/config": "x" } }));
    const pod = spec.template.spec;
    const container = pod.containers[0];

    test("one pod replaced, not rolled (one ReadWriteOnce volume and SQLite)", () => {
        expect(spec.replicas).toBe(1);
        expect(spec.strategy).toEqual({ type: "Recreate" });
        expect(spec.selector).toEqual({ matchLabels: SELECTOR });
        // Its own ServiceAccount brings the stack's image pull Secrets; no API token is mounted.
        expect(pod).toMatchObject({ serviceAccountName: "monitoring-grafana", automountServiceAccountToken: false, enableServiceLinks: false });
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 472 });
    });

    test("the data volume is the PVC when persistent, else an emptyDir of the same size", () => {
        expect(grafanaDataVolume(DEFAULTS.grafana, "claim")).toEqual({ name: "data", persistentVolumeClaim: { claimName: "claim" } });
        expect(grafanaDataVolume({ ...DEFAULTS.grafana, storage: "1Gi" }, undefined)).toEqual({ name: "data", emptyDir: { sizeLimit: "1Gi" } });
    });

    test("volumes: data, the provisioning files at Grafana's paths, the dashboards, Prometheus' CA (only), a scratch /tmp", () => {
        expect(pod.volumes).toEqual([
            { name: "data", persistentVolumeClaim: { claimName: "claim" } },
            {
                name: "provisioning",
                configMap: {
                    name: "prov",
                    items: [
                        { key: "datasources.yaml", path: "datasources/prepx.yaml" },
                        { key: "dashboards.yaml", path: "dashboards/prepx.yaml" },
                    ],
                },
            },
            { name: "dashboards", configMap: { name: "dash" } },
            { name: "prometheus-ca", secret: { secretName: "monitoring-prometheus-tls", items: [{ key: "ca.crt", path: "ca.crt" }] } },
            { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
        ]);
        expect(container.volumeMounts.map((mount) => [mount.name, mount.mountPath])).toEqual([
            ["data", "/var/lib/grafana"],
            ["provisioning", "/etc/grafana/provisioning"],
            ["dashboards", "/etc/grafana/dashboards"],
            ["prometheus-ca", "/etc/grafana/prometheus-ca"],
            ["tmp", "/tmp"],
        ]);
    });

    test("probes on /api/health; startup allows 5 minutes for the first database migration", () => {
        expect(container.startupProbe).toEqual({ httpGet: { path: "/api/health", port: "http" }, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 60 });
        expect(container.readinessProbe).toEqual({ httpGet: { path: "/api/health", port: "http" }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 });
        expect(container.livenessProbe).toEqual({ httpGet: { path: "/api/health", port: "http" }, periodSeconds: 15, timeoutSeconds: 5, failureThreshold: 4 });
        expect(container.ports).toEqual([{ name: "http", containerPort: GRAFANA_PORT }]);
        expect(container.image).toBe("grafana/grafana:12.4.5");
        expect(container.securityContext).toEqual(BASELINE_SECURITY);
    });

    test("env: admin credentials from the Secret, console logs, no sign-up, no calls home, no plugin installs", () => {
        const env = plain<k8s.types.output.core.v1.EnvVar[]>(grafanaEnv("admin", DEFAULTS.grafana));
        expect(env.slice(0, 3)).toEqual([
            { name: "GF_SECURITY_ADMIN_USER", valueFrom: { secretKeyRef: { name: "admin", key: "admin-user" } } },
            { name: "GF_SECURITY_ADMIN_PASSWORD", valueFrom: { secretKeyRef: { name: "admin", key: "admin-password" } } },
            { name: "GF_SECURITY_SECRET_KEY", valueFrom: { secretKeyRef: { name: "admin", key: "secret-key" } } },
        ]);
        const values = Object.fromEntries(env.slice(3).map((variable) => [variable.name, variable.value]));
        expect(values).toEqual({
            GF_SECURITY_COOKIE_SECURE: "false",
            GF_PATHS_DATA: "/var/lib/grafana",
            GF_PATHS_PROVISIONING: "/etc/grafana/provisioning",
            GF_LOG_MODE: "console",
            GF_USERS_ALLOW_SIGN_UP: "false",
            GF_USERS_ALLOW_ORG_CREATE: "false",
            GF_AUTH_ANONYMOUS_ENABLED: "false",
            GF_ANALYTICS_REPORTING_ENABLED: "false",
            GF_ANALYTICS_CHECK_FOR_UPDATES: "false",
            GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES: "false",
        });
        expect(container.env).toEqual(env);
        const behindTls = plain<k8s.types.output.core.v1.EnvVar[]>(grafanaEnv("admin", { cookieSecure: true }));
        expect(behindTls.find((variable) => variable.name === "GF_SECURITY_COOKIE_SECURE")?.value).toBe("true");
    });
});

test("Services: ClusterIP on the named http port, selecting by the immutable labels", () => {
    expect(httpServiceSpec(LABELS, PROMETHEUS_PORT)).toEqual({ type: "ClusterIP", selector: SELECTOR, ports: [{ name: "http", port: 9090, targetPort: "http" }] });
});

describe("Alertmanager", () => {
    const AM_LABELS = { ...LABELS, "app.kubernetes.io/name": "alertmanager" };
    const AM_SELECTOR = { ...SELECTOR, "app.kubernetes.io/name": "alertmanager" };
    const PEERS = ["am-0.am.prepx.svc.cluster.local", "am-1.am.prepx.svc.cluster.local", "am-2.am.prepx.svc.cluster.local"];
    const refs = { labels: AM_LABELS, annotations: { "checksum/config": "abc" }, serviceName: "am", serviceAccountName: "am", configSecretName: "am-config", tlsSecretName: "am-tls", peers: PEERS };

    test("HTTPS only; several replicas gossip over mutual TLS with every peer on 9094, advertising the pod IP; one replica runs without a cluster", () => {
        expect(alertmanagerArgs(PEERS)).toEqual([
            "--config.file=/etc/alertmanager/alertmanager.yml",
            "--storage.path=/alertmanager",
            "--web.listen-address=:9093",
            "--web.config.file=/etc/alertmanager/web.yml",
            "--cluster.listen-address=0.0.0.0:9094",
            "--cluster.advertise-address=$(POD_IP):9094",
            "--cluster.tls-config=/etc/alertmanager/cluster-tls.yml",
            ...PEERS.map((peer) => `--cluster.peer=${peer}:9094`),
        ]);
        expect(alertmanagerArgs(PEERS.slice(0, 1))).toEqual([
            "--config.file=/etc/alertmanager/alertmanager.yml",
            "--storage.path=/alertmanager",
            "--web.listen-address=:9093",
            "--web.config.file=/etc/alertmanager/web.yml",
            "--cluster.listen-address=",
        ]);
    });

    test("the gossip's TLS config: each replica presents the shared certificate and requires the peer's, checked by the Service's name", () => {
        const config = parse(renderAlertmanagerClusterTlsConfig(ALERTMANAGER_TLS_FILES, "am.prepx.svc.cluster.local"));
        expect(config).toEqual({
            tls_server_config: { cert_file: "tls/tls.crt", key_file: "tls/tls.key", client_ca_file: "tls/ca.crt", client_auth_type: "RequireAndVerifyClientCert", min_version: "TLS12" },
            tls_client_config: { cert_file: "tls/tls.crt", key_file: "tls/tls.key", ca_file: "tls/ca.crt", server_name: "am.prepx.svc.cluster.local" },
        });
    });

    test("the StatefulSet: prod's 3 replicas started together and spread, restricted, config from the Secret, no API token", () => {
        const spec = plain<k8s.types.output.apps.v1.StatefulSetSpec>(alertmanagerStatefulSetSpec(DEFAULTS.alertmanager, refs));
        expect(spec).toMatchObject({ serviceName: "am", replicas: 3, podManagementPolicy: "Parallel", selector: { matchLabels: AM_SELECTOR } });
        expect(spec.template.metadata).toEqual({ labels: AM_LABELS, annotations: { "checksum/config": "abc" } });
        const pod = spec.template.spec;
        expect(pod).toMatchObject({ serviceAccountName: "am", automountServiceAccountToken: false, enableServiceLinks: false });
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: "RuntimeDefault" } });
        expect(pod.topologySpreadConstraints.map((constraint) => constraint.topologyKey)).toEqual(["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
        const [container] = pod.containers;
        expect(container.image).toBe("prom/alertmanager:v0.35.0");
        expect(container.securityContext).toEqual(BASELINE_SECURITY);
        expect(container.resources).toEqual({ requests: { cpu: "50m", memory: "64Mi", "ephemeral-storage": "64Mi" }, limits: { cpu: "500m", memory: "256Mi", "ephemeral-storage": "2Gi" } });
        expect(container.imagePullPolicy).toBe("IfNotPresent");
        expect(container.env).toEqual([{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }]);
        expect(container.readinessProbe).toEqual({ httpGet: { path: "/-/ready", port: "http", scheme: "HTTPS" }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 });
        expect(container.livenessProbe).toEqual({ httpGet: { path: "/-/healthy", port: "http", scheme: "HTTPS" }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 });
        expect(pod.volumes).toEqual([
            {
                name: "config",
                projected: {
                    defaultMode: 0o440,
                    sources: [
                        {
                            secret: {
                                name: "am-config",
                                items: [
                                    { key: "alertmanager.yml", path: "alertmanager.yml" },
                                    { key: "web.yml", path: "web.yml" },
                                    { key: "cluster-tls.yml", path: "cluster-tls.yml" },
                                ],
                            },
                        },
                        {
                            secret: {
                                name: "am-tls",
                                items: [
                                    { key: "tls.crt", path: "tls/tls.crt" },
                                    { key: "tls.key", path: "tls/tls.key", mode: 0o440 },
                                    { key: "ca.crt", path: "tls/ca.crt" },
                                ],
                            },
                        },
                    ],
                },
            },
            { name: "data", emptyDir: { sizeLimit: "256Mi" } },
        ]);
        const single = plain<k8s.types.output.apps.v1.StatefulSetSpec>(alertmanagerStatefulSetSpec({ ...DEFAULTS.alertmanager, replicas: 1 }, { ...refs, peers: PEERS.slice(0, 1) }));
        expect(single.replicas).toBe(1);
        expect(single.template.spec.topologySpreadConstraints).toBeUndefined();
    });

    test("the headless Service names every pod, ready or not, on the HTTP and both gossip ports", () => {
        expect(alertmanagerServiceSpec(AM_LABELS)).toEqual({
            clusterIP: "None",
            publishNotReadyAddresses: true,
            selector: AM_SELECTOR,
            ports: [
                { name: "http", port: 9093, targetPort: "http" },
                { name: "cluster-tcp", protocol: "TCP", port: 9094, targetPort: "cluster-tcp" },
                { name: "cluster-udp", protocol: "UDP", port: 9094, targetPort: "cluster-udp" },
            ],
        });
    });
});
