// RedisCluster expectations shared by the prod and dev stack tests (one stack per jest file,
// because the Pulumi runtime is process-global).
import * as pulumi from "@pulumi/pulumi";
import { contentName } from "../../components/k8s";
import { find, isWireSecret, mockPassword, ofType, RecordedResource, valueOf } from "./mocks";

interface ProgramOutputs {
    redisSeedNodes: pulumi.Output<string[]>;
    redisHost: pulumi.Output<string>;
    redisSecretName: pulumi.Output<string>;
    redisPassword: pulumi.Output<string>;
}

interface RedisExpectations {
    stack: string;
    pods: number;
    replicasPerMaster: number;
    cpuRequest: string;
    memoryLimit: string;
    protect: boolean;
}

const COMPONENT_URN = "prepx:cache:RedisCluster";

export function describeRedisCluster(get: () => { recorded: RecordedResource[]; program: ProgramOutputs }, want: RedisExpectations): void {
    describe(`RedisCluster in ${want.stack}`, () => {
        const statefulSet = () => find(get().recorded, "kubernetes:apps/v1:StatefulSet", "redis");
        const password = mockPassword("redis-password");

        test("one component, every child parented to it", () => {
            const { recorded } = get();
            const components = ofType(recorded, COMPONENT_URN);
            expect(components).toHaveLength(1);
            const children = recorded.filter((r) => r.parent === components[0].urn);
            expect(children.map((r) => r.type).sort()).toEqual(
                [
                    "kubernetes:apps/v1:StatefulSet",
                    "kubernetes:batch/v1:Job",
                    "kubernetes:core/v1:ConfigMap",
                    "kubernetes:core/v1:ConfigMap",
                    "kubernetes:core/v1:Secret",
                    "kubernetes:core/v1:Service",
                    "kubernetes:core/v1:Service",
                    "kubernetes:core/v1:ServiceAccount",
                    // The bootstrap's account: it lists the node pods (Role) and the nodes' zones (ClusterRole).
                    "kubernetes:core/v1:ServiceAccount",
                    "kubernetes:rbac.authorization.k8s.io/v1:Role",
                    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
                    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
                    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
                    "kubernetes:policy/v1:PodDisruptionBudget",
                    "random:index/randomPassword:RandomPassword",
                    // One storage-resize patch per pod (components/storage.ts).
                    ...Array.from({ length: want.pods }, () => "kubernetes:core/v1:PersistentVolumeClaimPatch"),
                ].sort(),
            );
            for (const child of children) expect(child.urn).toContain(`${COMPONENT_URN}$`);
        });

        // The pod's shape (containers, probes, volumes, Services) is tested on the builders
        // (redis-specs.test.ts); here, that the stack's sizing reaches it.
        test(`runs ${want.pods} pods with the stack's resources`, () => {
            const spec = statefulSet().inputs.spec;
            expect(spec.replicas).toBe(want.pods);
            const redis = spec.template.spec.containers.find((container: { name: string }) => container.name === "redis");
            expect(redis.resources.requests.cpu).toBe(want.cpuRequest);
            expect(redis.resources.limits.memory).toBe(want.memoryLimit);
            expect(spec.volumeClaimTemplates[0].spec.resources.requests.storage).toMatch(/Gi$/);
            expect(statefulSet().protect).toBe(want.protect);
        });

        test("redis.conf is cluster-enabled with AOF and holds no password", () => {
            const conf: string = find(get().recorded, "kubernetes:core/v1:ConfigMap", "redis-config").inputs.data["redis.conf"];
            expect(conf).toMatch(/^cluster-enabled yes$/m);
            expect(conf).toMatch(/^appendonly yes$/m);
            expect(conf).toMatch(/^cluster-node-timeout 5000$/m);
            expect(conf).not.toMatch(/^\s*(requirepass|masterauth|replicaof)\b/m);
            expect(conf).not.toContain(password);
        });

        test("the password is generated, secret, and only in the Secret", async () => {
            const { recorded, program } = get();
            const secret = find(recorded, "kubernetes:core/v1:Secret", "redis-auth");
            expect(secret.inputs.stringData.password).toBe(password);
            expect(secret.inputs.stringData["auth.conf"]).toBe(`requirepass ${password}\nmasterauth ${password}\n`);
            // The whole stringData travels to the engine as a secret value.
            expect(isWireSecret(secret.wire.stringData)).toBe(true);
            expect(await pulumi.isSecret(program.redisPassword)).toBe(true);
            expect(await valueOf(program.redisPassword)).toBe(password);
            const elsewhere = recorded.filter((r) => r.type !== "kubernetes:core/v1:Secret" && r.type !== "random:index/randomPassword:RandomPassword");
            for (const resource of elsewhere) expect(JSON.stringify(resource.inputs)).not.toContain(password);
        });

        test("pods roll when redis.conf changes", () => {
            const annotations = statefulSet().inputs.spec.template.metadata.annotations;
            expect(annotations["checksum/config"]).toMatch(/^[0-9a-f]{64}$/);
            expect(annotations["prometheus.io/port"]).toBe("9121");
        });

        test("the bootstrap Job runs the rendered script against every pod", () => {
            const { recorded } = get();
            const script: string = find(recorded, "kubernetes:core/v1:ConfigMap", "redis-bootstrap").inputs.data["bootstrap.sh"];
            const namespace = want.stack === "prod" ? "prepx" : "prepx-dev";
            const hosts = Array.from({ length: want.pods }, (_, i) => `redis-${i}.redis-headless.${namespace}.svc.cluster.local:6379`);
            expect(script).toContain(`NODES="${hosts.join(" ")}"`);
            expect(script).toContain(`REPLICAS=${want.replicasPerMaster}`);
            const job = find(recorded, "kubernetes:batch/v1:Job", "redis-bootstrap").inputs.spec.template.spec;
            expect(job.containers[0].command).toEqual(["sh", "/scripts/bootstrap.sh"]);
        });

        test("the Job mounts its script by a content name: a changed node list (scale-out) is a new Job spec, so the bootstrap runs again", () => {
            const { recorded } = get();
            const configMap = find(recorded, "kubernetes:core/v1:ConfigMap", "redis-bootstrap").inputs;
            expect(configMap.metadata.name).toBe(contentName("redis-bootstrap", configMap.data));
            const job = find(recorded, "kubernetes:batch/v1:Job", "redis-bootstrap");
            expect(job.inputs.spec.template.spec.volumes).toContainEqual({ name: "scripts", configMap: { name: configMap.metadata.name } });
        });

        test("a disruption budget allows one pod down", () => {
            expect(find(get().recorded, "kubernetes:policy/v1:PodDisruptionBudget", "redis").inputs.spec.maxUnavailable).toBe(1);
        });

        test("stack outputs: seeds, host, Secret name", async () => {
            const { program } = get();
            const seeds = await valueOf(program.redisSeedNodes);
            expect(seeds).toHaveLength(want.pods);
            expect(seeds[0]).toMatch(/^redis-0\.redis-headless\.prepx(-dev)?\.svc\.cluster\.local:6379$/);
            expect(await valueOf(program.redisHost)).toMatch(/^redis\.prepx(-dev)?\.svc\.cluster\.local$/);
            expect(await valueOf(program.redisSecretName)).toBe("redis-auth");
        });
    });
}
