// MonitoringStack under mocks with dev's configuration: short retention, nothing protected, Grafana
// on an emptyDir, and no Redis replica alert (dev runs masters only).
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { baselineViolations } from "../helpers/baseline";
import { find, installMocks, isWireSecret, mockPassword, ofType, RecordedResource, settled, valueOf } from "../helpers/mocks";
import { readStackConfig } from "../../scripts/stack-files";
import { monitoringStackArgs } from "../../stack-args";
import { parsePrometheusSize, parseMemoryQuantity } from "../../components/units";

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are checked structurally */

const STACK = "dev";
const NAMESPACE = "prepx-dev";
let recorded: RecordedResource[];
// eslint-disable-next-line @typescript-eslint/consistent-type-imports
let monitoring: typeof import("../../components/monitoring");
// eslint-disable-next-line @typescript-eslint/consistent-type-imports
let stack: import("../../components/monitoring").MonitoringStack;

beforeAll(async () => {
    recorded = await installMocks(STACK);
    monitoring = await import("../../components/monitoring");
    const { parseStackConfig } = await import("../../config");
    const config = parseStackConfig(STACK, readStackConfig(STACK));
    stack = new monitoring.MonitoringStack("mon", monitoringStackArgs(config, config.namespace));
    await valueOf(stack.grafanaUrl);
    await settled(recorded);
});

const prometheus = () => find(recorded, "kubernetes:apps/v1:StatefulSet", "mon-prometheus");
const configMap = () => find(recorded, "kubernetes:core/v1:ConfigMap", "mon-prometheus-config").inputs.data;

test("every workload meets the baseline", () => {
    expect(baselineViolations(recorded)).toEqual([]);
});

test("Prometheus keeps 2 days and 1GB on a 2Gi PVC", () => {
    const container = prometheus().inputs.spec.template.spec.containers[0];
    expect(container.args).toEqual(expect.arrayContaining(["--storage.tsdb.retention.time=2d", "--storage.tsdb.retention.size=1GB", "--web.enable-lifecycle"]));
    const size: string = prometheus().inputs.spec.volumeClaimTemplates[0].spec.resources.requests.storage;
    expect(size).toBe("2Gi");
    expect(parseMemoryQuantity(size)).toBeGreaterThan(parsePrometheusSize("1GB"));
    expect(container.resources).toEqual({ requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } });
});

test("nothing is protected in dev and PVCs go with the StatefulSet", () => {
    expect(prometheus().protect).toBe(false);
    expect(prometheus().inputs.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Delete", whenScaled: "Delete" });
    expect(recorded.filter((r) => r.protect)).toEqual([]);
});

test("Grafana keeps its database on an emptyDir, with no PVC", () => {
    expect(ofType(recorded, "kubernetes:core/v1:PersistentVolumeClaim")).toEqual([]);
    const pod = find(recorded, "kubernetes:apps/v1:Deployment", "mon-grafana").inputs.spec.template.spec;
    expect(pod.volumes.find((v: any) => v.name === "data")).toEqual({ name: "data", emptyDir: { sizeLimit: "1Gi" } });
    expect(pod.containers[0].env.map((e: any) => e.name)).not.toContain("GF_INSTALL_PLUGINS");
});

test("prometheus.yml scrapes every 30s in the dev namespace only", () => {
    const config = parse(configMap()["prometheus.yml"]);
    expect(config.global).toMatchObject({ scrape_interval: "30s", evaluation_interval: "30s" });
    const names = config.scrape_configs.filter((j: any) => j.job_name !== "kubelet").map((j: any) => j.kubernetes_sd_configs[0].namespaces.names);
    expect(names).toEqual([[NAMESPACE], [NAMESPACE], [NAMESPACE], [NAMESPACE]]);
    const kubelet = config.scrape_configs.find((j: any) => j.job_name === "kubelet");
    expect(kubelet.metric_relabel_configs[0].regex).toMatch(/;prepx-dev$/);
});

test("alert rules follow dev's counts: one PostgreSQL replica, Redis masters without replicas", () => {
    const rules = Object.fromEntries(parse(configMap()["alerts.yml"]).groups[0].rules.map((r: any) => [r.alert, r]));
    expect(rules.PostgresReplicasBelowExpected.expr).toMatch(/< 1$/);
    expect(rules.RedisMasterMissing.expr).toMatch(/< 3$/);
    expect(rules.RedisReplicasBelowExpected).toBeUndefined();
    expect(rules.NginxP95LatencyAboveSlo.expr).toMatch(/> 0\.1$/);
    for (const rule of Object.values(rules) as any[]) expect(rule.labels.namespace).toBe(NAMESPACE);
});

test("RBAC is scoped to the dev namespace; the ClusterRole name carries it", () => {
    expect(find(recorded, "kubernetes:rbac.authorization.k8s.io/v1:Role", "mon-prometheus").inputs.metadata.namespace).toBe(NAMESPACE);
    const [clusterRole] = ofType(recorded, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole");
    expect(clusterRole.inputs.metadata.name).toBe(`${NAMESPACE}-mon-prometheus-kubelet`);
    expect(JSON.stringify(clusterRole.inputs.rules)).not.toContain("nodes/proxy");
});

test("the Grafana password is secret and only in the Secret", async () => {
    const password = mockPassword("mon-grafana-admin-password");
    const secret = find(recorded, "kubernetes:core/v1:Secret", "mon-grafana-admin");
    expect(secret.inputs.stringData["admin-password"]).toBe(password);
    expect(isWireSecret(secret.wire.stringData)).toBe(true);
    expect(await pulumi.isSecret(stack.grafanaAdminPassword)).toBe(true);
    const elsewhere = recorded.filter((r) => r.type !== "kubernetes:core/v1:Secret" && r.type !== "random:index/randomPassword:RandomPassword");
    for (const resource of elsewhere) expect(JSON.stringify(resource.inputs)).not.toContain(password);
});

test("outputs name the dev namespace", async () => {
    expect(await valueOf(stack.prometheusUrl)).toBe(`http://mon-prometheus.${NAMESPACE}.svc.cluster.local:9090`);
    expect(await valueOf(stack.grafanaUrl)).toBe(`http://mon-grafana.${NAMESPACE}.svc.cluster.local:3000`);
});

test("dev's own sizing is checked too: a 1Gi PVC for 1GB of retention is refused", () => {
    expect(() => new monitoring.MonitoringStack("bad", { namespace: NAMESPACE, expected: { postgresMembers: 2, redisMasters: 3, redisNodes: 3 }, prometheus: { retentionSize: "1GB", storage: "1Gi" } })).toThrow(
        /args\.prometheus\.storage \(1Gi\) must be larger than prometheus\.retentionSize \(1GB\)/,
    );
});
