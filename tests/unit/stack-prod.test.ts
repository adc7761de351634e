// The whole program evaluated under mocks with Pulumi.prod.yaml.
import { describeRedisCluster } from "../helpers/redis-expectations";
import { installMocks, RecordedResource, settled } from "../helpers/mocks";
import { baselineViolations } from "../helpers/baseline";
import { describeStackRender } from "../fixtures/render-suite";
import { describeComposedStack } from "../helpers/stack-expectations";

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

test("every resource of prod is protected, so `pulumi destroy` deletes nothing (the engine test runs it)", () => {
    const unprotected = recorded.filter((r) => !r.protect && !r.type.startsWith("pulumi:providers:")).map((r) => `${r.type} ${r.name}`);
    expect(unprotected).toEqual([]);
    expect(recorded.filter((r) => r.custom).length).toBeGreaterThan(80);
});

test("stateful resources are protected in prod", () => {
    const statefulSets = recorded.filter((r) => r.type === "kubernetes:apps/v1:StatefulSet");
    expect(statefulSets.length).toBeGreaterThan(0);
    for (const statefulSet of statefulSets) {
        expect(statefulSet.protect).toBe(true);
        expect(statefulSet.inputs.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    }
});

describeRedisCluster(() => ({ recorded, program }), { stack: "prod", pods: 6, replicasPerMaster: 1, cpuRequest: "1", memoryLimit: "8Gi", protect: true });

describeComposedStack(() => ({ recorded, program }), "prepx", {
    rules: {
        PostgresReplicasBelowExpected: "< 2",
        PostgresReplicationLagBytesHigh: "> 1048576",
        RedisMasterMissing: "< 3",
        RedisReplicasBelowExpected: "< 3",
        NginxP95LatencyAboveSlo: "> 0.1",
        Nginx5xxRatioHigh: "> 0.01",
        PodRestarting: ">= 3",
    },
    dashboards: ["overview.json", "postgres.json", "redis.json", "loadbalancer.json", "service-fleet.json"],
    imagePullSecrets: ["ghcr-pull"],
    kubeContext: "prepx-prod",
});

// The offline render checks on the same evaluation (one whole-stack evaluation per file).
describeStackRender("prod", () => recorded);
