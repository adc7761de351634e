// MonitoringStack under mocks with prod's configuration (one stack per file: the Pulumi runtime is
// process-global).
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { baselineViolations } from "../helpers/baseline";
import { find, installMocks, isWireSecret, mockPassword, ofType, RecordedResource, settled, valueOf } from "../helpers/mocks";
import { readStackConfig } from "../../scripts/stack-files";
import { expectedCounts, monitoringStackArgs } from "../../stack-args";
import { parsePrometheusSize, parseMemoryQuantity } from "../../components/units";

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are checked structurally */

const STACK = "prod";
const NAMESPACE = "prepx";
let recorded: RecordedResource[];
// eslint-disable-next-line @typescript-eslint/consistent-type-imports
let monitoring: typeof import("../../components/monitoring");
// eslint-disable-next-line @typescript-eslint/consistent-type-imports
let stack: import("../../components/monitoring").MonitoringStack;
let expected: { postgresMembers: number; redisMasters: number; redisNodes: number };

beforeAll(async () => {
    recorded = await installMocks(STACK);
    monitoring = await import("../../components/monitoring");
    const { parseStackConfig } = await import("../../config");
    const config = parseStackConfig(STACK, readStackConfig(STACK));
    expected = expectedCounts(config);
    stack = new monitoring.MonitoringStack("monitoring", monitoringStackArgs(config, config.namespace));
    await valueOf(stack.grafanaUrl);
    await settled(recorded);
});

const prometheus = () => find(recorded, "kubernetes:apps/v1:StatefulSet", "monitoring-prometheus");
const promContainer = () => prometheus().inputs.spec.template.spec.containers[0];
const promConfigMap = () => find(recorded, "kubernetes:core/v1:ConfigMap", "monitoring-prometheus-config").inputs.data;
const grafana = () => find(recorded, "kubernetes:apps/v1:Deployment", "monitoring-grafana");

test("one component, every child parented to it", () => {
    const component = find(recorded, "prepx:monitoring:MonitoringStack", "monitoring");
    const children = recorded.filter((r) => r.parent === component.urn);
    expect(children.map((r) => r.type).sort()).toEqual(
        [
            "kubernetes:apps/v1:Deployment", // grafana
            "kubernetes:apps/v1:Deployment", // kube-state-metrics
            "kubernetes:apps/v1:StatefulSet",
            "kubernetes:core/v1:ConfigMap",
            "kubernetes:core/v1:ConfigMap",
            "kubernetes:core/v1:ConfigMap",
            "kubernetes:core/v1:PersistentVolumeClaim",
            "kubernetes:core/v1:Secret",
            "kubernetes:core/v1:Service",
            "kubernetes:core/v1:Service",
            "kubernetes:core/v1:ServiceAccount",
            "kubernetes:core/v1:ServiceAccount",
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
            "kubernetes:rbac.authorization.k8s.io/v1:Role",
            "kubernetes:rbac.authorization.k8s.io/v1:Role",
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
            "random:index/randomPassword:RandomPassword",
        ].sort(),
    );
    for (const child of children) expect(child.urn).toContain("prepx:monitoring:MonitoringStack$");
});

test("every workload meets the baseline", () => {
    expect(baselineViolations(recorded)).toEqual([]);
});

test("Prometheus keeps 30 days and 50GB on a larger PVC, with the lifecycle API", () => {
    const args: string[] = promContainer().args;
    expect(args).toContain("--storage.tsdb.retention.time=30d");
    expect(args).toContain("--storage.tsdb.retention.size=50GB");
    expect(args).toContain("--web.enable-lifecycle");
    expect(args).toContain("--config.file=/etc/prometheus/prometheus.yml");
    expect(promContainer().image).toBe("prom/prometheus:v2.53.2");
    const [claim] = prometheus().inputs.spec.volumeClaimTemplates;
    expect(claim.spec.resources.requests.storage).toBe("64Gi");
    expect(parseMemoryQuantity(claim.spec.resources.requests.storage)).toBeGreaterThan(parsePrometheusSize("50GB"));
    expect(promContainer().resources).toEqual({ requests: { cpu: "2", memory: "4Gi" }, limits: { cpu: "4", memory: "8Gi" } });
});

test("Prometheus is protected with its PVC retained in prod", () => {
    expect(prometheus().protect).toBe(true);
    expect(prometheus().inputs.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    expect(find(recorded, "kubernetes:core/v1:PersistentVolumeClaim", "monitoring-grafana").protect).toBe(true);
    expect(find(recorded, "kubernetes:core/v1:Secret", "monitoring-grafana-admin").protect).toBe(true);
});

test("Prometheus probes, non-root user and config rollout", () => {
    const container = promContainer();
    expect(container.readinessProbe.httpGet.path).toBe("/-/ready");
    expect(container.livenessProbe.httpGet.path).toBe("/-/healthy");
    expect(container.startupProbe.httpGet.path).toBe("/-/ready");
    const pod = prometheus().inputs.spec.template;
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534 });
    expect(pod.metadata.annotations["checksum/config"]).toMatch(/^[0-9a-f]{64}$/);
    expect(pod.metadata.annotations["prometheus.io/port"]).toBe("9090");
    expect(pod.spec.serviceAccountName).toBe("monitoring-prometheus");
    // prometheus.yml, the rules and the kubelet token sit side by side in the config directory.
    const sources = pod.spec.volumes[0].projected.sources;
    expect(sources[0].configMap.items.map((i: any) => i.path)).toEqual(["prometheus.yml", "alerts.yml"]);
    expect(sources[1].serviceAccountToken.path).toBe("secrets/kubelet-token");
});

test("prometheus.yml discovers the prod namespace only and loads the rules", () => {
    const config = parse(promConfigMap()["prometheus.yml"]);
    expect(config.global.scrape_interval).toBe("15s");
    expect(config.rule_files).toEqual(["alerts.yml"]);
    for (const job of config.scrape_configs.filter((j: any) => j.job_name !== "kubelet")) {
        expect(job.kubernetes_sd_configs).toEqual([{ role: "pod", namespaces: { names: [NAMESPACE] } }]);
    }
});

test("alert rules carry prod's SLO and expected counts", () => {
    const rules = Object.fromEntries(parse(promConfigMap()["alerts.yml"]).groups[0].rules.map((r: any) => [r.alert, r]));
    expect(expected).toEqual({ postgresMembers: 3, redisMasters: 3, redisNodes: 6 });
    expect(rules.NginxP95LatencyAboveSlo.expr).toMatch(/> 0\.1$/);
    expect(rules.PostgresReplicasBelowExpected.expr).toMatch(/< 2$/);
    expect(rules.RedisMasterMissing.expr).toMatch(/< 3$/);
    expect(rules.RedisReplicasBelowExpected.expr).toMatch(/< 3$/);
    expect(Object.keys(rules)).toHaveLength(13);
});

test("RBAC: a namespaced Role for discovery; the only ClusterRole reads nodes and kubelet metrics", () => {
    const role = find(recorded, "kubernetes:rbac.authorization.k8s.io/v1:Role", "monitoring-prometheus").inputs;
    expect(role.metadata.namespace).toBe(NAMESPACE);
    expect(role.rules).toEqual([{ apiGroups: [""], resources: ["pods", "endpoints", "services"], verbs: ["get", "list", "watch"] }]);
    const clusterRoles = ofType(recorded, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole");
    expect(clusterRoles).toHaveLength(1);
    expect(clusterRoles[0].inputs.metadata.name).toBe(`${NAMESPACE}-monitoring-prometheus-kubelet`);
    expect(clusterRoles[0].inputs.rules).toEqual([
        { apiGroups: [""], resources: ["nodes"], verbs: ["list", "watch"] },
        { apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] },
    ]);
    for (const binding of [
        find(recorded, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "monitoring-prometheus"),
        find(recorded, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "monitoring-prometheus-kubelet"),
    ]) {
        expect(binding.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: "monitoring-prometheus", namespace: NAMESPACE }]);
    }
    const ksmRole = find(recorded, "kubernetes:rbac.authorization.k8s.io/v1:Role", "monitoring-kube-state-metrics").inputs;
    for (const rule of ksmRole.rules) expect(rule.verbs).toEqual(["list", "watch"]);
    const ksm = find(recorded, "kubernetes:apps/v1:Deployment", "monitoring-kube-state-metrics").inputs.spec.template.spec.containers[0];
    expect(ksm.image).toBe("registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0");
    expect(ksm.args).toContain(`--namespaces=${NAMESPACE}`);
});

test("Grafana: pinned, non-root, probed, provisioned from the repo's dashboards, no plugin installs", () => {
    const pod = grafana().inputs.spec.template.spec;
    const container = pod.containers[0];
    expect(container.image).toBe("grafana/grafana:11.2.0");
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 472 });
    expect(container.readinessProbe.httpGet.path).toBe("/api/health");
    expect(container.livenessProbe.httpGet.path).toBe("/api/health");
    expect(container.resources).toEqual({ requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "2", memory: "4Gi" } });
    expect(container.env.map((e: any) => e.name)).not.toContain("GF_INSTALL_PLUGINS");
    expect(pod.volumes.find((v: any) => v.name === "data")).toEqual({ name: "data", persistentVolumeClaim: { claimName: "monitoring-grafana" } });
    const dashboards = find(recorded, "kubernetes:core/v1:ConfigMap", "monitoring-grafana-dashboards").inputs.data;
    expect(Object.keys(dashboards).sort()).toEqual(["loadbalancer.json", "overview.json", "postgres.json", "redis.json", "service-fleet.json"]);
    const datasources = parse(find(recorded, "kubernetes:core/v1:ConfigMap", "monitoring-grafana-provisioning").inputs.data["datasources.yaml"]);
    expect(datasources.datasources[0].url).toBe(`http://monitoring-prometheus.${NAMESPACE}.svc.cluster.local:9090`);
    const everything = JSON.stringify(recorded.map((r) => r.inputs));
    expect(everything).not.toMatch(/grafana-piechart-panel|grafana-worldmap-panel|GF_INSTALL_PLUGINS/);
});

test("the Grafana admin password is generated, secret, and only in the Secret", async () => {
    const password = mockPassword("monitoring-grafana-admin-password");
    const secret = find(recorded, "kubernetes:core/v1:Secret", "monitoring-grafana-admin");
    expect(secret.inputs.stringData["admin-password"]).toBe(password);
    expect(isWireSecret(secret.wire.stringData)).toBe(true);
    expect(await pulumi.isSecret(stack.grafanaAdminPassword)).toBe(true);
    expect(await valueOf(stack.grafanaAdminPassword)).toBe(password);
    expect(await valueOf(stack.grafanaSecretName)).toBe("monitoring-grafana-admin");
    const env = grafana().inputs.spec.template.spec.containers[0].env.find((e: any) => e.name === "GF_SECURITY_ADMIN_PASSWORD");
    expect(env).toEqual({ name: "GF_SECURITY_ADMIN_PASSWORD", valueFrom: { secretKeyRef: { name: "monitoring-grafana-admin", key: "admin-password" } } });
    const elsewhere = recorded.filter((r) => r.type !== "kubernetes:core/v1:Secret" && r.type !== "random:index/randomPassword:RandomPassword");
    for (const resource of elsewhere) expect(JSON.stringify(resource.inputs)).not.toContain(password);
});

test("outputs: in-cluster URLs and Prometheus' pod labels", async () => {
    expect(await valueOf(stack.prometheusUrl)).toBe(`http://monitoring-prometheus.${NAMESPACE}.svc.cluster.local:9090`);
    expect(await valueOf(stack.grafanaUrl)).toBe(`http://monitoring-grafana.${NAMESPACE}.svc.cluster.local:3000`);
    expect(stack.podLabels).toEqual(prometheus().inputs.spec.template.metadata.labels);
    expect(stack.podLabels["app.kubernetes.io/name"]).toBe("prometheus");
    // What a NetworkPolicy needs: each own metrics endpoint is a declared container port of pods with these labels.
    const workloads: Record<string, RecordedResource> = {
        prometheus: prometheus(),
        grafana: grafana(),
        "kube-state-metrics": find(recorded, "kubernetes:apps/v1:Deployment", "monitoring-kube-state-metrics"),
    };
    expect(stack.metricsTargets.map((t) => t.name)).toEqual(Object.keys(workloads));
    for (const target of stack.metricsTargets) {
        const template = workloads[target.name].inputs.spec.template;
        expect(template.metadata.labels).toEqual(target.labels);
        const declared = template.spec.containers.flatMap((c: any) => c.ports.map((p: any) => p.containerPort));
        expect(declared).toEqual(expect.arrayContaining(target.ports));
        expect(target.ports).toContain(Number(template.metadata.annotations["prometheus.io/port"]));
    }
    expect(stack.kubeStateMetricsPodLabels).toEqual(workloads["kube-state-metrics"].inputs.spec.template.metadata.labels);
});

describe("bad args are refused with a ResourceError naming the arg", () => {
    const good = () => ({ namespace: NAMESPACE, expected: { postgresMembers: 3, redisMasters: 3, redisNodes: 6 } });
    const refusal = (name: string, args: any): string => {
        try {
            new monitoring.MonitoringStack(name, args);
        } catch (error) {
            expect(error).toBeInstanceOf(pulumi.ResourceError);
            return (error as Error).message;
        }
        throw new Error("args were accepted");
    };

    test("a PVC not larger than the retention size", () => {
        expect(refusal("bad-storage", { ...good(), prometheus: { retentionSize: "50GB", storage: "50Gi" } })).toContain(
            "MonitoringStack bad-storage: args.prometheus.storage (50Gi) must be larger than prometheus.retentionSize (50GB)",
        );
    });

    test("malformed retention, SLO and counts", () => {
        expect(refusal("bad-time", { ...good(), prometheus: { retentionTime: "30 days" } })).toContain("args.prometheus.retentionTime must be a Prometheus duration");
        expect(refusal("bad-slo", { ...good(), p95LatencyMs: 0 })).toContain("args.p95LatencyMs must be a positive number");
        expect(refusal("bad-masters", { ...good(), expected: { postgresMembers: 3, redisMasters: 0, redisNodes: 6 } })).toContain("args.expected.redisMasters");
        expect(refusal("bad-nodes", { ...good(), expected: { postgresMembers: 3, redisMasters: 3, redisNodes: 2 } })).toContain("args.expected.redisNodes");
        expect(refusal("bad-ratio", { ...good(), thresholds: { http5xxRatio: 5 } })).toContain("args.thresholds.http5xxRatio");
        expect(refusal("no-expected", { namespace: NAMESPACE })).toContain("args.expected is required");
    });
});
