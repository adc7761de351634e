// MonitoringStack under mocks with dev's configuration: short retention, a 30s interval, nothing
// protected, Grafana on an emptyDir. The rules and dashboards it is given land in its files as given.
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { baselineViolations } from "../helpers/baseline";
import { find, installMocks, isWireSecret, mockPassword, ofType, RecordedResource, settled, valueOf, testCertificates } from "../helpers/mocks";
import { readStackConfig } from "../../scripts/stack-files";
import { monitoringStackArgs } from "../../stack-args";
import { redisAlertRules, redisDashboards } from "../../components/redis/alerts";
import { SCRAPE_JOBS } from "../../components/observability";
import { parseAlertRules, parsePrometheusYml, scrapeJob } from "../helpers/monitoring-files";

type PodSpec = k8s.types.output.core.v1.PodSpec;

const STACK = "dev";
const NAMESPACE = "prepx-dev";
/** What the other components would publish: here Redis' rules and dashboard, and Patroni's scrape job. */
const OBSERVED = {
    alertRules: redisAlertRules({ masters: 3, replicasPerMaster: 0 }),
    dashboards: redisDashboards,
    portScrapeJobs: [{ job: SCRAPE_JOBS.patroni, app: "postgres", port: 8008 }],
};
let recorded: RecordedResource[];
let stack: import("../../components/monitoring").MonitoringStack;

beforeAll(async () => {
    recorded = await installMocks(STACK);
    const { MonitoringStack } = await import("../../components/monitoring");
    const { parseStackConfig } = await import("../../config");
    const config = parseStackConfig(STACK, readStackConfig(STACK));
    stack = new MonitoringStack("mon", monitoringStackArgs(config, config.namespace, OBSERVED, testCertificates));
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
    expect(container.args).toEqual(expect.arrayContaining(["--storage.tsdb.retention.time=2d", "--storage.tsdb.retention.size=1GB"]));
    expect(prometheus().inputs.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("2Gi");
    expect(container.resources).toEqual({ requests: { cpu: "100m", memory: "256Mi", "ephemeral-storage": "64Mi" }, limits: { cpu: "1", memory: "512Mi", "ephemeral-storage": "2Gi" } });
});

test("nothing is protected in dev and PVCs go with the StatefulSet", () => {
    expect(prometheus().protect).toBe(false);
    expect(prometheus().inputs.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Delete", whenScaled: "Delete" });
    expect(recorded.filter((resource) => resource.protect)).toEqual([]);
});

test("Grafana keeps its database on an emptyDir, with no PVC", () => {
    expect(ofType(recorded, "kubernetes:core/v1:PersistentVolumeClaim")).toEqual([]);
    const pod: PodSpec = find(recorded, "kubernetes:apps/v1:Deployment", "mon-grafana").inputs.spec.template.spec;
    expect(pod.volumes.find((volume) => volume.name === "data")).toEqual({ name: "data", emptyDir: { sizeLimit: "1Gi" } });
});

test("prometheus.yml scrapes every 30s (timeout 10s) in the dev namespace only, Patroni's port included", () => {
    const config = parsePrometheusYml(configMap()["prometheus.yml"]);
    expect(config.global).toEqual({ scrape_interval: "30s", evaluation_interval: "30s", scrape_timeout: "10s" });
    expect(config.scrape_configs.map((job) => job.job_name)).toEqual(["kubernetes-pods", "kubernetes-pods-extra-metrics", "patroni", "prometheus", "alertmanager", "kube-state-metrics", "kubelet"]);
    const names = config.scrape_configs.filter((job) => job.job_name !== "kubelet").map((job) => job.kubernetes_sd_configs?.[0].namespaces?.names);
    expect(names).toEqual([[NAMESPACE], [NAMESPACE], [NAMESPACE], [NAMESPACE], [NAMESPACE], [NAMESPACE]]);
    expect(scrapeJob(config, "kubelet").metric_relabel_configs?.[0].regex).toMatch(/;prepx-dev$/);
});

test("the given rules come first, in their order, then MonitoringStack's own; each labelled with the dev namespace", () => {
    const rules = parseAlertRules(configMap()["alerts.yml"]);
    expect(rules.map((rule) => rule.alert)).toEqual(["RedisDown", "RedisClusterStateNotOk", "RedisMasterMissing", "PodRestarting", "PersistentVolumeNearlyFull"]);
    expect(rules[2]).toEqual({ ...OBSERVED.alertRules[2], labels: { severity: "critical", namespace: NAMESPACE } });
    for (const rule of rules) expect(rule.labels.namespace).toBe(NAMESPACE);
});

test("the given dashboards are provisioned, and only those", () => {
    const dashboards = find(recorded, "kubernetes:core/v1:ConfigMap", "mon-grafana-dashboards").inputs.data;
    expect(Object.keys(dashboards)).toEqual(["redis.json"]);
    expect(JSON.parse(dashboards["redis.json"])).toEqual(redisDashboards["redis.json"]);
});

test("RBAC is scoped to the dev namespace; the ClusterRole name carries it", () => {
    expect(find(recorded, "kubernetes:rbac.authorization.k8s.io/v1:Role", "mon-prometheus").inputs.metadata.namespace).toBe(NAMESPACE);
    const [clusterRole] = ofType(recorded, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole");
    expect(clusterRole.inputs.metadata.name).toBe(`${NAMESPACE}-mon-prometheus-kubelet`);
});

test("the Grafana password is secret and only in the Secret", async () => {
    const password = mockPassword("mon-grafana-admin-password");
    const secret = find(recorded, "kubernetes:core/v1:Secret", "mon-grafana-admin");
    expect(secret.inputs.stringData["admin-password"]).toBe(password);
    expect(isWireSecret(secret.wire.stringData)).toBe(true);
    expect(await pulumi.isSecret(stack.grafanaAdminPassword)).toBe(true);
    const elsewhere = recorded.filter((resource) => resource.type !== "kubernetes:core/v1:Secret" && resource.type !== "random:index/randomPassword:RandomPassword");
    for (const resource of elsewhere) expect(JSON.stringify(resource.inputs)).not.toContain(password);
});

test("outputs name the dev namespace", async () => {
    expect(await valueOf(stack.prometheusUrl)).toBe(`https://mon-prometheus.${NAMESPACE}.svc.cluster.local:9090`);
    expect(await valueOf(stack.grafanaUrl)).toBe(`http://mon-grafana.${NAMESPACE}.svc.cluster.local:3000`);
});
