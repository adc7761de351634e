// The whole program evaluated under mocks with Pulumi.prod.yaml.
import { describeRedisCluster } from "../helpers/redis-expectations";
import { find, installMocks, RecordedResource, settled } from "../helpers/mocks";
import { baselineViolations } from "../helpers/baseline";
import { contentName } from "../../components/k8s";
import { describeStackRender } from "../fixtures/render-suite";
import { describeComposedStack } from "../helpers/stack-expectations";
import { describeSecurityPolicy } from "../helpers/security-expectations";

let recorded: RecordedResource[];
let program: typeof import("../../index");

beforeAll(async () => {
    recorded = await installMocks("prod");
    program = await import("../../index");
    await settled(recorded);
});

test("every workload meets the baseline", () => {
    expect(baselineViolations(recorded)).toEqual([]);
});

test("every resource of prod is protected but the content-named ConfigMaps, so `pulumi destroy` deletes nothing (the engine test runs it)", () => {
    const unprotected = recorded.filter((r) => !r.protect && !r.type.startsWith("pulumi:providers:"));
    // A content-named ConfigMap is replaced on every change, which protect would refuse. Destroy still
    // leaves it: it goes only after the protected workloads that mount it, whose deletion is refused.
    expect(unprotected.map((r) => `${r.type} ${r.name}`).sort()).toEqual(
        ["lb-config", "monitoring-grafana-dashboards", "monitoring-grafana-provisioning", "monitoring-prometheus-config", "postgres-backup", "postgres-patroni", "postgres-pooler", "redis-bootstrap", "redis-config"].map(
            (name) => `kubernetes:core/v1:ConfigMap ${name}`,
        ),
    );
    for (const configMap of unprotected) {
        // Patroni's is named from its member files only (postgres-expectations.ts checks how).
        if (configMap.name === "postgres-patroni") expect(configMap.inputs.metadata.name).toMatch(/^postgres-patroni-[0-9a-f]{10}$/);
        else {
            expect(configMap.inputs.immutable).toBe(true);
            expect(configMap.inputs.metadata.name).toBe(contentName(configMap.name, configMap.inputs.data));
        }
        const workloads = recorded.filter((r) => ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job"].includes(r.type));
        const mountedBy = workloads.filter((r) => r.protect && JSON.stringify(r.inputs.spec.template.spec.volumes ?? []).includes(`"${configMap.inputs.metadata.name}"`));
        expect(mountedBy.length).toBeGreaterThan(0);
    }
    expect(recorded.filter((r) => r.custom).length).toBeGreaterThan(80);
});

test("stateful resources are protected in prod", () => {
    const allStatefulSets = recorded.filter((r) => r.type === "kubernetes:apps/v1:StatefulSet");
    // Alertmanager is a StatefulSet for its stable peer names only: it claims no volume (its replicas share silences by gossip).
    expect(allStatefulSets.filter((r) => !r.inputs.spec.volumeClaimTemplates).map((r) => r.name)).toEqual(["monitoring-alertmanager"]);
    const statefulSets = allStatefulSets.filter((r) => r.inputs.spec.volumeClaimTemplates);
    expect(statefulSets.length).toBeGreaterThan(0);
    for (const statefulSet of statefulSets) {
        expect(statefulSet.protect).toBe(true);
        expect(statefulSet.inputs.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    }
});

describeRedisCluster(() => ({ recorded, program }), { stack: "prod", pods: 16, replicasPerMaster: 1, cpuRequest: "1", memoryLimit: "8Gi", protect: true, apps: ["api-gateway", "user-service"], certificateIssuer: "cert-manager" });

describeComposedStack(() => ({ recorded, program }), "prepx", {
    rules: {
        PostgresReplicasBelowExpected: "< 2",
        PostgresReplicationLagBytesHigh: "> 1048576",
        // 8 masters with a replica each: derived from prod's targets (components/sizing.ts).
        RedisMasterMissing: "< 8",
        RedisReplicasBelowExpected: "< 8",
        NginxP95LatencyAboveSlo: "> 0.1",
        Nginx5xxRatioHigh: "> 0.01",
        PodRestarting: ">= 3",
    },
    dashboards: ["overview.json", "postgres.json", "redis.json", "loadbalancer.json", "service-fleet.json"],
    imagePullSecrets: ["ghcr-pull"],
    kubeContext: "prepx-prod",
});

// The offline render checks on the same evaluation (one whole-stack evaluation per file).
describeStackRender("prod", () => recorded, { everyCapacityLineOk: true });

describeSecurityPolicy(() => ({ recorded }), "prepx", {
    // Patroni (its DCS), Prometheus (discovery), kube-state-metrics and the Redis bootstrap (where the nodes run).
    podsWithToken: ["Deployment monitoring-kube-state-metrics", "Job redis-bootstrap", "StatefulSet monitoring-prometheus", "StatefulSet postgres"],
});

test("the stack's provider updates ConfigMaps and Secrets in place (a protected Secret's data can change; Patroni's ConfigMap takes bootstrap.dcs changes under the same name)", () => {
    const provider = find(recorded, "pulumi:providers:kubernetes", "k8s").inputs;
    // Provider inputs reach the engine as strings.
    expect(provider.enableConfigMapMutable).toBe("true");
    expect(provider.enableSecretMutable).toBe("true");
});
