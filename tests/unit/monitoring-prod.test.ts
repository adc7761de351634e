// MonitoringStack under mocks with prod's configuration (one stack per file: the Pulumi runtime is
// process-global), and its args validation. Pod specs are checked in monitoring-specs.test.ts.
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { baselineViolations } from "../helpers/baseline";
import { find, installMocks, isWireSecret, mockPassword, ofType, RecordedResource, settled, valueOf, testCertificates } from "../helpers/mocks";
import { readStackConfig } from "../../scripts/stack-files";
import { monitoringStackArgs } from "../../stack-args";
import { loadBalancerAlertRules, loadBalancerDashboards } from "../../components/loadbalancer/alerts";
import { configChecksumAnnotation } from "../../components/k8s";
import type { MonitoringStackArgs } from "../../components/monitoring";
import { SCRAPE_JOBS } from "../../components/observability";
import { postgresAlertRules, postgresDashboards } from "../../components/postgres/alerts";
import { overviewDashboards } from "../../dashboards";
import { parseAlertRules, parsePrometheusYml, scrapeJob } from "../helpers/monitoring-files";

type PodTemplateSpec = k8s.types.output.core.v1.PodTemplateSpec;
type Container = k8s.types.output.core.v1.Container;

const STACK = "prod";
const NAMESPACE = "prepx";
const PATRONI_JOB = { job: SCRAPE_JOBS.patroni, app: "postgres", port: 8008 };
/** What the other components would publish (two of them here), in the order the stack passes them. */
const OBSERVED = {
    alertRules: [...postgresAlertRules({ app: "postgres", standbys: 2, replicationLagSeconds: 30, replicationLagBytes: 1048576 }), ...loadBalancerAlertRules({ p95LatencyMs: 100, http5xxRatio: 0.01 })],
    dashboards: { ...overviewDashboards, ...postgresDashboards, ...loadBalancerDashboards },
    portScrapeJobs: [PATRONI_JOB],
};
let recorded: RecordedResource[];
let monitoring: typeof import("../../components/monitoring");
let stack: import("../../components/monitoring").MonitoringStack;
/** What the component warned at construction (pulumi.log.warn writes to console.warn without an engine). */
let warnings: string[];

beforeAll(async () => {
    recorded = await installMocks(STACK);
    const warn = jest.spyOn(console, "warn").mockImplementation(() => undefined);
    monitoring = await import("../../components/monitoring");
    const { parseStackConfig } = await import("../../config");
    const config = parseStackConfig(STACK, readStackConfig(STACK));
    stack = new monitoring.MonitoringStack("monitoring", monitoringStackArgs(config, config.namespace, OBSERVED, testCertificates));
    await valueOf(stack.grafanaUrl);
    await settled(recorded);
    warnings = warn.mock.calls.map((call) => String(call[0]));
    warn.mockRestore();
});

const prometheus = () => find(recorded, "kubernetes:apps/v1:StatefulSet", "monitoring-prometheus");
const promConfigMap = () => find(recorded, "kubernetes:core/v1:ConfigMap", "monitoring-prometheus-config").inputs.data;
const grafana = () => find(recorded, "kubernetes:apps/v1:Deployment", "monitoring-grafana");
const alertmanager = () => find(recorded, "kubernetes:apps/v1:StatefulSet", "monitoring-alertmanager");

test("one component, every child parented to it", () => {
    const component = find(recorded, "prepx:monitoring:MonitoringStack", "monitoring");
    const children = recorded.filter((resource) => resource.parent === component.urn);
    expect(children.map((child) => child.type).sort()).toEqual(
        [
            "kubernetes:apps/v1:Deployment", // grafana
            "kubernetes:apps/v1:Deployment", // kube-state-metrics
            "kubernetes:apps/v1:StatefulSet",
            "kubernetes:apps/v1:StatefulSet", // alertmanager
            "kubernetes:core/v1:ConfigMap",
            "kubernetes:core/v1:ConfigMap",
            "kubernetes:core/v1:ConfigMap",
            "kubernetes:core/v1:PersistentVolumeClaim",
            "kubernetes:core/v1:Secret",
            "kubernetes:core/v1:Secret", // alertmanager.yml
            "kubernetes:core/v1:Service",
            "kubernetes:core/v1:Service",
            "kubernetes:core/v1:Service", // alertmanager, headless
            "kubernetes:core/v1:ServiceAccount", // alertmanager
            "kubernetes:core/v1:ServiceAccount",
            "kubernetes:core/v1:ServiceAccount",
            "kubernetes:core/v1:ServiceAccount", // grafana
            "kubernetes:policy/v1:PodDisruptionBudget", // alertmanager
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
            "kubernetes:rbac.authorization.k8s.io/v1:Role",
            "kubernetes:rbac.authorization.k8s.io/v1:Role",
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
            "random:index/randomPassword:RandomPassword",
            "random:index/randomPassword:RandomPassword", // grafana secret key
        ].sort(),
    );
    for (const child of children) expect(child.urn).toContain("prepx:monitoring:MonitoringStack$");
});

test("every workload meets the baseline", () => {
    expect(baselineViolations(recorded)).toEqual([]);
});

test("Prometheus keeps 30 days and 50GB on a 64Gi PVC", () => {
    const container = prometheus().inputs.spec.template.spec.containers[0];
    expect(container.args).toEqual(expect.arrayContaining(["--storage.tsdb.retention.time=30d", "--storage.tsdb.retention.size=50GB"]));
    expect(prometheus().inputs.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("64Gi");
});

test("Prometheus, Grafana's PVC and Secret are protected, PVCs retained in prod", () => {
    expect(prometheus().protect).toBe(true);
    expect(prometheus().inputs.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    expect(find(recorded, "kubernetes:core/v1:PersistentVolumeClaim", "monitoring-grafana").protect).toBe(true);
    expect(find(recorded, "kubernetes:core/v1:Secret", "monitoring-grafana-admin").protect).toBe(true);
});

test("the pods refer to the objects created for them and roll on a config change", () => {
    const pod = prometheus().inputs.spec.template;
    expect(pod.spec.serviceAccountName).toBe("monitoring-prometheus");
    expect(prometheus().inputs.spec.serviceName).toBe("monitoring-prometheus");
    expect(pod.spec.volumes[0].projected.sources[0].configMap.name).toMatch(/^monitoring-prometheus-config-[0-9a-f]{10}$/);
    expect(pod.spec.volumes[0].projected.sources[0].configMap.name).toBe(find(recorded, "kubernetes:core/v1:ConfigMap", "monitoring-prometheus-config").inputs.metadata.name);
    expect(pod.metadata.annotations["checksum/config"]).toMatch(/^[0-9a-f]{64}$/);
    // Its own /metrics is HTTPS: the `prometheus` job scrapes it, not the annotation-driven (HTTP) pods job.
    expect(pod.metadata.annotations["prometheus.io/scrape"]).toBeUndefined();
    expect(pod.spec.volumes[0].projected.sources[1].secret.name).toBe("monitoring-prometheus-tls");
    const grafanaPod: PodTemplateSpec = grafana().inputs.spec.template;
    expect(grafanaPod.metadata.annotations["checksum/config"]).toMatch(/^[0-9a-f]{64}$/);
    expect(grafanaPod.spec.volumes.map((volume) => volume.persistentVolumeClaim?.claimName ?? volume.configMap?.name ?? volume.name)).toEqual([
        "monitoring-grafana",
        find(recorded, "kubernetes:core/v1:ConfigMap", "monitoring-grafana-provisioning").inputs.metadata.name,
        find(recorded, "kubernetes:core/v1:ConfigMap", "monitoring-grafana-dashboards").inputs.metadata.name,
        "prometheus-ca",
        "tmp",
    ]);
    // Of Prometheus' certificate Secret Grafana gets the CA only, never the key.
    expect(grafanaPod.spec.volumes.find((volume) => volume.name === "prometheus-ca")?.secret).toEqual({ secretName: "monitoring-prometheus-tls", items: [{ key: "ca.crt", path: "ca.crt" }] });
    const ksm = find(recorded, "kubernetes:apps/v1:Deployment", "monitoring-kube-state-metrics").inputs.spec.template.spec;
    expect(ksm.serviceAccountName).toBe("monitoring-kube-state-metrics");
    expect(ksm.containers[0].args[0]).toBe(`--namespaces=${NAMESPACE}`);
});

test("prometheus.yml discovers the prod namespace only and loads the rules", () => {
    const config = parsePrometheusYml(promConfigMap()["prometheus.yml"]);
    expect(config.global).toEqual({ scrape_interval: "15s", evaluation_interval: "15s", scrape_timeout: "10s" });
    expect(config.rule_files).toEqual(["alerts.yml"]);
    for (const job of config.scrape_configs.filter((scrapeJob) => scrapeJob.job_name !== "kubelet")) {
        expect(job.kubernetes_sd_configs).toEqual([{ role: "pod", namespaces: { names: [NAMESPACE] } }]);
    }
});

test("alerts.yml holds the given rules in their order, then MonitoringStack's own, labelled with the namespace", () => {
    const rules = parseAlertRules(promConfigMap()["alerts.yml"]);
    expect(rules.map((rule) => rule.alert)).toEqual([...OBSERVED.alertRules.map((rule) => rule.alert), "PodRestarting", "PersistentVolumeNearlyFull"]);
    for (const rule of rules) expect(Object.keys(rule.labels)).toEqual(["severity", "namespace"]);
    expect(rules.find((rule) => rule.alert === "PodRestarting")?.expr).toBe("increase(kube_pod_container_status_restarts_total[15m]) >= 3");
});

test("RBAC: a namespaced Role for discovery; the only ClusterRole reads nodes and kubelet metrics", () => {
    const role = find(recorded, "kubernetes:rbac.authorization.k8s.io/v1:Role", "monitoring-prometheus").inputs;
    expect(role.metadata.namespace).toBe(NAMESPACE);
    expect(role.rules).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] }]);
    const clusterRoles = ofType(recorded, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole");
    expect(clusterRoles).toHaveLength(1);
    expect(clusterRoles[0].inputs.metadata.name).toBe(`${NAMESPACE}-monitoring-prometheus-kubelet`);
    for (const binding of [
        find(recorded, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "monitoring-prometheus"),
        find(recorded, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "monitoring-prometheus-kubelet"),
    ]) {
        expect(binding.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: "monitoring-prometheus", namespace: NAMESPACE }]);
    }
    expect(find(recorded, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "monitoring-prometheus-kubelet").inputs.roleRef.name).toBe(
        `${NAMESPACE}-monitoring-prometheus-kubelet`,
    );
});

test("Grafana: the given dashboards, rolling the pod in their order; the datasource at Prometheus' Service", async () => {
    const dashboards = find(recorded, "kubernetes:core/v1:ConfigMap", "monitoring-grafana-dashboards").inputs.data;
    expect(Object.keys(dashboards).sort()).toEqual(["loadbalancer.json", "overview.json", "postgres.json"]);
    expect(JSON.parse(dashboards["postgres.json"])).toEqual(postgresDashboards["postgres.json"]);
    const provisioning = find(recorded, "kubernetes:core/v1:ConfigMap", "monitoring-grafana-provisioning").inputs.data;
    const inOrder = Object.keys(OBSERVED.dashboards).map((file) => dashboards[file]);
    const checksum = await valueOf(configChecksumAnnotation(provisioning["datasources.yaml"], provisioning["dashboards.yaml"], ...inOrder));
    expect(grafana().inputs.spec.template.metadata.annotations["checksum/config"]).toBe(checksum["checksum/config"]);
    const datasources = parse(provisioning["datasources.yaml"]);
    expect(datasources.datasources[0].url).toBe(`https://monitoring-prometheus.${NAMESPACE}.svc.cluster.local:9090`);
    expect(datasources.datasources[0].secureJsonData).toEqual({ tlsCACert: "$__file{/etc/grafana/prometheus-ca/ca.crt}" });
    expect(JSON.stringify(recorded.map((resource) => resource.inputs))).not.toMatch(/grafana-piechart-panel|grafana-worldmap-panel|GF_INSTALL_PLUGINS/);
});

test("the Grafana admin password is generated, secret, and only in the Secret", async () => {
    const password = mockPassword("monitoring-grafana-admin-password");
    const secret = find(recorded, "kubernetes:core/v1:Secret", "monitoring-grafana-admin");
    expect(secret.inputs.stringData["admin-password"]).toBe(password);
    expect(isWireSecret(secret.wire.stringData)).toBe(true);
    expect(await pulumi.isSecret(stack.grafanaAdminPassword)).toBe(true);
    expect(await valueOf(stack.grafanaAdminPassword)).toBe(password);
    expect(await valueOf(stack.grafanaSecretName)).toBe("monitoring-grafana-admin");
    const container: Container = grafana().inputs.spec.template.spec.containers[0];
    const env = container.env.find((variable) => variable.name === "GF_SECURITY_ADMIN_PASSWORD");
    expect(env).toEqual({ name: "GF_SECURITY_ADMIN_PASSWORD", valueFrom: { secretKeyRef: { name: "monitoring-grafana-admin", key: "admin-password" } } });
    const elsewhere = recorded.filter((resource) => resource.type !== "kubernetes:core/v1:Secret" && resource.type !== "random:index/randomPassword:RandomPassword");
    for (const resource of elsewhere) expect(JSON.stringify(resource.inputs)).not.toContain(password);
});

test("Grafana's secret key is generated into the same Secret; the admin is `admin`; cookies not secure by default (port-forward)", () => {
    const key = mockPassword("monitoring-grafana-secret-key");
    const secret = find(recorded, "kubernetes:core/v1:Secret", "monitoring-grafana-admin");
    expect(secret.inputs.stringData["secret-key"]).toBe(key);
    expect(secret.inputs.stringData["admin-user"]).toBe("admin");
    const env: Container["env"] = grafana().inputs.spec.template.spec.containers[0].env;
    expect(env.find((variable) => variable.name === "GF_SECURITY_SECRET_KEY")).toEqual({
        name: "GF_SECURITY_SECRET_KEY",
        valueFrom: { secretKeyRef: { name: "monitoring-grafana-admin", key: "secret-key" } },
    });
    expect(env.find((variable) => variable.name === "GF_SECURITY_COOKIE_SECURE")?.value).toBe("false");
    for (const resource of recorded.filter((r) => r.type !== "kubernetes:core/v1:Secret" && r.type !== "random:index/randomPassword:RandomPassword")) {
        expect(JSON.stringify(resource.inputs)).not.toContain(key);
    }
});

test("outputs: in-cluster URLs, Services, pod labels and the own metrics targets", async () => {
    expect(await valueOf(stack.prometheusUrl)).toBe(`https://monitoring-prometheus.${NAMESPACE}.svc.cluster.local:9090`);
    expect(await valueOf(stack.grafanaUrl)).toBe(`http://monitoring-grafana.${NAMESPACE}.svc.cluster.local:3000`);
    expect(await valueOf(stack.prometheusServiceName)).toBe("monitoring-prometheus");
    expect(await valueOf(stack.grafanaServiceName)).toBe("monitoring-grafana");
    expect(stack.podLabels).toEqual(prometheus().inputs.spec.template.metadata.labels);
    expect(stack.podLabels["app.kubernetes.io/name"]).toBe("prometheus");
    expect(stack.grafanaPodLabels).toEqual(grafana().inputs.spec.template.metadata.labels);
    // What a NetworkPolicy needs: each own metrics endpoint is a declared container port of pods with these labels.
    const workloads: Record<string, RecordedResource> = {
        prometheus: prometheus(),
        grafana: grafana(),
        "kube-state-metrics": find(recorded, "kubernetes:apps/v1:Deployment", "monitoring-kube-state-metrics"),
        alertmanager: alertmanager(),
    };
    expect(stack.metricsTargets.map((target) => target.name)).toEqual(Object.keys(workloads));
    for (const target of stack.metricsTargets) {
        const template: PodTemplateSpec = workloads[target.name].inputs.spec.template;
        expect(template.metadata.labels).toEqual(target.labels);
        const declared = template.spec.containers.flatMap((container) => container.ports.map((port) => port.containerPort));
        expect(declared).toEqual(expect.arrayContaining(target.ports));
        // Scraped by annotation (HTTP), or over HTTPS by its own job on its app's port.
        const annotated = template.metadata.annotations["prometheus.io/port"];
        if (annotated === undefined) {
            const ownJob = scrapeJob(parsePrometheusYml(promConfigMap()["prometheus.yml"]), target.name);
            expect(ownJob.scheme).toBe("https");
            expect(target.ports).toContain(Number(ownJob.relabel_configs?.find((rule) => rule.source_labels[0] === "__meta_kubernetes_pod_container_port_number")?.regex));
        } else {
            expect(target.ports).toContain(Number(annotated));
        }
    }
    expect(stack.kubeStateMetricsPodLabels).toEqual(workloads["kube-state-metrics"].inputs.spec.template.metadata.labels);
    expect(stack.alertmanagerPodLabels).toEqual(alertmanager().inputs.spec.template.metadata.labels);
    expect(await valueOf(stack.alertmanagerUrl)).toBe(`https://monitoring-alertmanager.${NAMESPACE}.svc.cluster.local:9093`);
    expect([stack.alertmanagerPort, stack.alertmanagerClusterPort, stack.alertmanagerNotifies]).toEqual([9093, 9094, false]);
});

describe("Alertmanager in prod", () => {
    const PEERS = [0, 1, 2].map((index) => `monitoring-alertmanager-${index}.monitoring-alertmanager.${NAMESPACE}.svc.cluster.local`);

    test("3 replicas gossiping through the headless Service, a PodDisruptionBudget, spread across nodes", () => {
        const spec = alertmanager().inputs.spec;
        expect(spec.replicas).toBe(3);
        expect(spec.serviceName).toBe("monitoring-alertmanager");
        expect(spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(PEERS.map((peer) => `--cluster.peer=${peer}:9094`)));
        expect(spec.template.spec.topologySpreadConstraints).toHaveLength(2);
        const service = find(recorded, "kubernetes:core/v1:Service", "monitoring-alertmanager").inputs;
        expect(service.metadata.name).toBe("monitoring-alertmanager");
        expect(service.spec.clusterIP).toBe("None");
        const budget = find(recorded, "kubernetes:policy/v1:PodDisruptionBudget", "monitoring-alertmanager").inputs;
        expect(budget.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: spec.selector.matchLabels } });
    });

    test("its config is a Secret (secret in the state), never a ConfigMap; the pods roll on its checksum", async () => {
        const secret = find(recorded, "kubernetes:core/v1:Secret", "monitoring-alertmanager-config");
        expect(isWireSecret(secret.wire.stringData)).toBe(true);
        const config = parse(secret.inputs.stringData["alertmanager.yml"]);
        expect(config.route.routes).toEqual([{ receiver: "critical", matchers: ['severity="critical"'] }]);
        for (const configMap of ofType(recorded, "kubernetes:core/v1:ConfigMap")) expect(Object.keys(configMap.inputs.data)).not.toContain("alertmanager.yml");
        const pod = alertmanager().inputs.spec.template;
        expect(pod.spec.volumes[0].projected.sources.map((source: { secret: { name: string } }) => source.secret.name)).toEqual(["monitoring-alertmanager-config", "monitoring-alertmanager-tls"]);
        const files = secret.inputs.stringData;
        const checksum = await valueOf(configChecksumAnnotation(files["alertmanager.yml"], files["web.yml"], files["cluster-tls.yml"]));
        expect(pod.metadata.annotations["checksum/config"]).toBe(checksum["checksum/config"]);
        // The checksum is not secret: the pod template stays readable in every diff.
        expect(isWireSecret(alertmanager().wire.spec)).toBe(false);
    });

    test("Prometheus sends alerts to every replica", () => {
        const config = parse(promConfigMap()["prometheus.yml"]);
        expect(config.alerting).toEqual({
            alertmanagers: [{ api_version: "v2", timeout: "10s", scheme: "https", tls_config: { ca_file: "tls/ca.crt" }, static_configs: [{ targets: PEERS.map((peer) => `${peer}:9093`) }] }],
        });
    });

    test("with no receiver configured, the preview warns (once) that alerts notify no one", () => {
        expect(warnings.filter((warning) => warning.includes("MonitoringStack monitoring: no Alertmanager receiver is configured"))).toHaveLength(1);
    });
});

test("a stack behind TLS with its own admin name: secure cookies, the name in the Secret", async () => {
    const custom = new monitoring.MonitoringStack("behind-tls", { namespace: NAMESPACE, certificates: testCertificates, grafana: { adminUser: "ops-admin", cookieSecure: true }, alertmanager: { replicas: 1 } });
    await valueOf(custom.grafanaUrl);
    await settled(recorded);
    expect(find(recorded, "kubernetes:core/v1:Secret", "behind-tls-grafana-admin").inputs.stringData["admin-user"]).toBe("ops-admin");
    const env: Container["env"] = find(recorded, "kubernetes:apps/v1:Deployment", "behind-tls-grafana").inputs.spec.template.spec.containers[0].env;
    expect(env.find((variable) => variable.name === "GF_SECURITY_COOKIE_SECURE")?.value).toBe("true");
});

describe("bad args are refused with one ResourceError listing every problem", () => {
    const refusal = (name: string, args: Record<string, unknown>): string => {
        try {
            // Deliberately bad args: the type says what a caller may pass, the test passes what it may not.
            new monitoring.MonitoringStack(name, { namespace: NAMESPACE, certificates: testCertificates, ...args } as MonitoringStackArgs);
        } catch (error) {
            expect(error).toBeInstanceOf(pulumi.ResourceError);
            return (error as Error).message;
        }
        throw new Error("args were accepted");
    };

    test("a PVC not larger than the retention size (dev's 1GB on 1Gi as well)", () => {
        expect(refusal("bad-storage", { prometheus: { retentionSize: "50GB", storage: "50Gi" } })).toBe(
            'MonitoringStack bad-storage: prometheus.storage must be larger than prometheus.retentionSize (50GB), or the TSDB fills the volume before retention deletes blocks (got "50Gi")',
        );
        expect(refusal("bad-dev", { prometheus: { retentionSize: "1GB", storage: "1Gi" } })).toBe(
            'MonitoringStack bad-dev: prometheus.storage must be larger than prometheus.retentionSize (1GB), or the TSDB fills the volume before retention deletes blocks (got "1Gi")',
        );
    });

    test("a misspelt key is an error, not a silent default", () => {
        expect(refusal("typo", { prometheus: { retentionTme: "90d" } })).toBe('MonitoringStack typo: prometheus.retentionTme is not a known key (got "90d")');
        expect(refusal("typo-top", { expected: { redisMasters: 3 } })).toBe('MonitoringStack typo-top: expected is not a known key (got {"redisMasters":3})');
    });

    test("several problems at once, one line each", () => {
        expect(
            refusal("many", {
                prometheus: { retentionTime: "30 days", scrapeInterval: "15" },
                grafana: { image: "grafana/grafana:latest", persistent: "yes" },
                thresholds: { pvcUsedRatio: 1.5, podRestarts: 0 },
                clusterDomain: "bad domain",
            }).split("\n"),
        ).toEqual([
            'MonitoringStack many: prometheus.retentionTime must be a Prometheus duration such as 30d (got "30 days")',
            'MonitoringStack many: prometheus.scrapeInterval must be a Prometheus duration such as 15s (got "15")',
            "MonitoringStack many: grafana.image must be an image pinned to a version tag or digest (not 'latest', not untagged) (got \"grafana/grafana:latest\")",
            'MonitoringStack many: grafana.persistent must be a boolean (got "yes")',
            "MonitoringStack many: thresholds.podRestarts must be at least 1 (got 0)",
            "MonitoringStack many: thresholds.pvcUsedRatio must be less than 1 (got 1.5)",
            'MonitoringStack many: clusterDomain must be a DNS name (got "bad domain")',
        ]);
    });

    test("rules, dashboards and scrape jobs handed over are checked too", () => {
        const rule = OBSERVED.alertRules[0];
        expect(
            refusal("inputs", {
                alertRules: [{ ...rule, for: "5 minutes" }, { ...rule, labels: { severity: "page" } }],
                portScrapeJobs: [PATRONI_JOB, { job: "kubelet", app: "x", port: 70000 }],
            }).split("\n"),
        ).toEqual([
            'MonitoringStack inputs: alertRules[0].for must be a Prometheus duration such as 5m (got "5 minutes")',
            'MonitoringStack inputs: alertRules[1].labels.severity must be one of "critical", "warning" (got "page")',
            "MonitoringStack inputs: portScrapeJobs[1].port must be at most 65535 (got 70000)",
        ]);
        expect(refusal("job-names", { portScrapeJobs: [PATRONI_JOB, { ...PATRONI_JOB }, { job: "kubelet", app: "x", port: 1 }] }).split("\n")).toEqual([
            'MonitoringStack job-names: portScrapeJobs[1].job must not repeat a job name already taken (kubernetes-pods, kubernetes-pods-extra-metrics, kube-state-metrics, kubelet, prometheus, alertmanager, patroni) (got "patroni")',
            'MonitoringStack job-names: portScrapeJobs[2].job must not repeat a job name already taken (kubernetes-pods, kubernetes-pods-extra-metrics, kube-state-metrics, kubelet, prometheus, alertmanager, patroni) (got "kubelet")',
        ]);
        const panel = { type: "graph", title: "Old", datasource: { uid: "prometheus" } };
        expect(refusal("dashboards", { dashboards: { "old.json": { uid: "", title: "Old", panels: [panel] }, "notes.txt": { uid: "n", title: "N", panels: [{ ...panel, type: "stat" }] } } }).split("\n")).toEqual([
            "MonitoringStack dashboards: dashboard old.json: uid must be a string of 1-40 characters",
            'MonitoringStack dashboards: dashboard old.json: panel "Old" has type graph, not a built-in panel',
            "MonitoringStack dashboards: dashboard notes.txt: file name must end in .json and hold only letters, digits, '-', '_' and '.'",
        ]);
    });

    test("the Grafana password is never printed", () => {
        expect(refusal("secret", { grafanaAdminPassword: 42 })).toBe("MonitoringStack secret: grafanaAdminPassword must be a string (got a secret value)");
    });
});
