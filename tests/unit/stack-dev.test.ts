// The whole program evaluated under mocks with Pulumi.dev.yaml.
import { describeRedisCluster } from "../helpers/redis-expectations";
import { installMocks, RecordedResource, settled } from "../helpers/mocks";
import { baselineViolations } from "../helpers/baseline";
import { describeStackRender } from "../fixtures/render-suite";
import { describeComposedStack } from "../helpers/stack-expectations";
import { describeSecurityPolicy } from "../helpers/security-expectations";

let recorded: RecordedResource[];
let program: typeof import("../../index");

beforeAll(async () => {
    recorded = await installMocks("dev");
    program = await import("../../index");
    await settled(recorded);
});

test("every workload meets the baseline", () => {
    expect(baselineViolations(recorded)).toEqual([]);
});

test("nothing is protected in dev, so a laptop stack can be destroyed", () => {
    expect(recorded.filter((r) => r.protect).map((r) => r.name)).toEqual([]);
});

describeRedisCluster(() => ({ recorded, program }), { stack: "dev", pods: 3, replicasPerMaster: 0, cpuRequest: "50m", memoryLimit: "256Mi", protect: false, apps: ["api-gateway", "user-service"], certificateIssuer: "stack" });

describeComposedStack(() => ({ recorded, program }), "prepx-dev", {
    rules: {
        PostgresReplicasBelowExpected: "< 1",
        RedisMasterMissing: "< 3",
        // dev runs no Redis replicas: the rule could never fire.
        RedisReplicasBelowExpected: null,
        NginxP95LatencyAboveSlo: "> 0.1",
    },
    dashboards: ["overview.json", "postgres.json", "redis.json", "loadbalancer.json", "service-fleet.json"],
    imagePullSecrets: [],
});

// The offline render checks on the same evaluation (one whole-stack evaluation per file).
describeStackRender("dev", () => recorded);

describeSecurityPolicy(() => ({ recorded }), "prepx-dev", {
    // Patroni (its DCS), Prometheus (discovery), kube-state-metrics and the Redis bootstrap (where the nodes run).
    podsWithToken: ["Deployment monitoring-kube-state-metrics", "Job redis-bootstrap", "StatefulSet monitoring-prometheus", "StatefulSet postgres"],
});
