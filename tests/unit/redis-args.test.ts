// RedisCluster's args: its defaults, the one ResourceError listing every problem, and the rule that
// maxmemory leaves headroom under the memory limit (checked for the component and the stack files).
import * as pulumi from "@pulumi/pulumi";
import { checkRedisSettings, redisClusterArgsSchema, redisSettingsSchema } from "../../components/redis/args";
import { RedisCluster, type RedisClusterArgs } from "../../components/redis";
import { onlyWhenValid } from "../../components/schema";
import { installMockRuntime, type RecordedResource, settled } from "../../scripts/mock-runtime";
import { readStackConfig } from "../../scripts/stack-files";
import { testCertificates as certificates } from "../helpers/mocks";

let recorded: RecordedResource[];

beforeAll(async () => {
    recorded = await installMockRuntime("prepx-platform", "test", {});
});

/** The message RedisCluster `bad` refuses `args` with (a plain object: misspelt keys included). */
function refusal(args: Record<string, unknown>): string {
    try {
        new RedisCluster("bad", { namespace: "cache", certificates, ...args } as RedisClusterArgs);
    } catch (error) {
        expect(error).toBeInstanceOf(pulumi.ResourceError);
        return (error as Error).message;
    }
    throw new Error("RedisCluster accepted the args");
}

const SMALL = { requests: { cpu: "50m", memory: "256Mi" }, limits: { cpu: "250m", memory: "256Mi" } };

describe("defaults", () => {
    test("are the prod shape of DESIGN.md: a 3 x 2 cluster with 6gb of data per node in an 8Gi limit", () => {
        expect(redisClusterArgsSchema.parse({ namespace: "cache", certificates })).toEqual({
            namespace: "cache",
            certificates,
            apps: [],
            masters: 3,
            replicasPerMaster: 1,
            clusterNodeTimeoutMs: 5000,
            image: "redis:7.2.16",
            exporterImage: "oliver006/redis_exporter:v1.62.0",
            kubectlImage: "alpine/k8s:1.30.0",
            storage: "50Gi",
            storageClassAllowsExpansion: true,
            maxmemory: "6gb",
            maxmemoryPolicy: "noeviction",
            resources: { requests: { cpu: "1", memory: "8Gi" }, limits: { cpu: "2", memory: "8Gi" } },
            exporterResources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
            protectData: true,
            imagePullSecrets: [],
            clusterDomain: "cluster.local",
            clientIdleTimeoutSeconds: 300,
            clientOutputBufferLimits: {
                normal: { hard: "64mb", soft: "16mb", softSeconds: 60 },
                replica: { hard: "256mb", soft: "64mb", softSeconds: 60 },
                pubsub: { hard: "32mb", soft: "8mb", softSeconds: 60 },
            },
        });
    });

    test("only the namespace and the issuer are required; undefined optional args keep their defaults", async () => {
        const cluster = new RedisCluster("ok", { namespace: "cache", certificates, storageClass: undefined, password: undefined });
        expect(cluster.metricsTargets).toEqual([{ name: "redis", labels: cluster.podLabels, ports: [9121] }]);
        expect([cluster.port, cluster.busPort, cluster.metricsPort]).toEqual([6379, 16379, 9121]);
        expect(cluster.alertRules.map((rule) => rule.alert)).toEqual(["RedisDown", "RedisClusterStateNotOk", "RedisMasterMissing", "RedisReplicasBelowExpected"]);
        expect(Object.keys(cluster.dashboards)).toEqual(["redis.json"]);
        await settled(recorded);
        const statefulSet = recorded.find((resource) => resource.type === "kubernetes:apps/v1:StatefulSet" && resource.name === "ok");
        expect(statefulSet?.inputs.spec.replicas).toBe(6);
        expect(statefulSet?.protect).toBe(true);
    });
});

describe("users", () => {
    test("a new app's user or a changed password changes the auth Secret, not the pod template: no roll, cluster-heal loads it", async () => {
        const passwords = { password: "admin-0123456789abcdef", exporterPassword: "exporter-0123456789abcdef" };
        const rendered = async (name: string, apps: Record<string, string>, admin = passwords.password) => {
            new RedisCluster(name, { namespace: "cache", certificates, ...passwords, password: admin, apps: Object.keys(apps), appPasswords: apps });
            await settled(recorded);
            const statefulSet = recorded.find((resource) => resource.type === "kubernetes:apps/v1:StatefulSet" && resource.name === name);
            const secret = recorded.find((resource) => resource.type === "kubernetes:core/v1:Secret" && resource.name === `${name}-auth`);
            return { checksum: statefulSet?.inputs.spec.template.metadata.annotations["checksum/config"] as string, auth: secret?.inputs.stringData as Record<string, string> };
        };
        const first = await rendered("acl-a", { api: "api-0123456789abcdef" });
        expect(first.checksum).toMatch(/^[0-9a-f]{64}$/);
        const changes = [
            await rendered("acl-c", { api: "api-0123456789abcdef", web: "web-0123456789abcdef" }),
            await rendered("acl-d", { api: "api-fedcba9876543210" }),
            await rendered("acl-e", { api: "api-0123456789abcdef" }, "admin-fedcba9876543210"),
        ];
        for (const changed of changes) {
            expect(changed.checksum).toBe(first.checksum);
            expect(changed.auth["users.acl"]).not.toBe(first.auth["users.acl"]);
        }
        expect(changes[2].auth["replication.conf"]).toBe("masteruser admin\nmasterauth admin-fedcba9876543210\n");
    });
});

describe("refused args", () => {
    test("a misspelt key is an error, not a silent default", () => {
        expect(refusal({ replcasPerMaster: 0 })).toBe("RedisCluster bad: replcasPerMaster is not a known key (got 0)");
        expect(refusal({ resources: { requests: { cpu: "1", memory: "1Gi" }, limit: { cpu: "1", memory: "1Gi" } } })).toBe(
            'RedisCluster bad: resources.limit is not a known key (got {"cpu":"1","memory":"1Gi"})',
        );
    });

    test.each([
        [{ masters: 2 }, "masters must be at least 3 (got 2)"],
        [{ masters: 101 }, "masters must be at most 100 (got 101)"],
        [{ replicasPerMaster: 1.5 }, "replicasPerMaster must be a whole number (got 1.5)"],
        [{ replicasPerMaster: 6 }, "replicasPerMaster must be at most 5 (got 6)"],
        [{ clusterNodeTimeoutMs: 999 }, "clusterNodeTimeoutMs must be at least 1000 (got 999)"],
        [{ clusterNodeTimeoutMs: 60001 }, "clusterNodeTimeoutMs must be at most 60000 (got 60001)"],
        [{ image: "redis" }, `image must be an image pinned to a version tag or digest (not 'latest', not untagged) (got "redis")`],
        [{ maxmemory: "6GiB" }, 'maxmemory must be a Redis size such as 512mb or 6gb (got "6GiB")'],
        [{ maxmemoryPolicy: "allkeys-random" }, 'maxmemoryPolicy must be one of "noeviction", "allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu", "volatile-ttl" (got "allkeys-random")'],
        [{ namespace: 7 }, "namespace must be a string (got 7)"],
        [{ certificates: undefined }, "certificates must be a CertificateIssuer (not set)"],
        [{ clientIdleTimeoutSeconds: -1 }, "clientIdleTimeoutSeconds must be at least 0 (got -1)"],
        [{ clientOutputBufferLimits: { normal: { hard: "64MB" } } }, 'clientOutputBufferLimits.normal.hard must be 0 or a Redis size such as 64mb or 1gb (got "64MB")'],
        [{ clientOutputBufferLimits: { normal: { hard: "16mb", soft: "64mb" } } }, "clientOutputBufferLimits.normal.soft must be at most hard (16mb) (got \"64mb\")"],
        [{ apps: ["api-gateway", "api-gateway"] }, 'apps[1] must be unique among apps (got "api-gateway")'],
        [{ apps: ["Api"] }, 'apps[0] must be a DNS label of at most 42 characters (got "Api")'],
        [{ apps: ["api-gateway"], appPasswords: { "user-service": "x".repeat(20) } }, "appPasswords.user-service is not one of apps (api-gateway) (got a secret value)"],
    ])("%j", (args, message) => {
        expect(refusal(args)).toBe(`RedisCluster bad: ${message}`);
    });

    test("every problem at once, one per line, the password never shown", () => {
        expect(refusal({ masters: 2, replicasPerMaster: -1, image: "redis:latest", replcas: 1, password: 42 })).toBe(
            [
                "RedisCluster bad: masters must be at least 3 (got 2)",
                "RedisCluster bad: replicasPerMaster must be at least 0 (got -1)",
                `RedisCluster bad: image must be an image pinned to a version tag or digest (not 'latest', not untagged) (got "redis:latest")`,
                "RedisCluster bad: password must be a string (got a secret value)",
                "RedisCluster bad: replcas is not a known key (got 1)",
            ].join("\n"),
        );
    });
});

describe("maxmemory leaves 20% of the memory limit for buffers and the AOF rewrite", () => {
    test("above 80% of the limit is refused, with the largest value that fits", () => {
        expect(refusal({ maxmemory: "250mb", resources: SMALL })).toBe(
            'RedisCluster bad: maxmemory must be at most 80% of resources.limits.memory (204mb of 256Mi) (got "250mb")',
        );
        // The review's case: accepted before, although Redis could fill the whole limit and more.
        const prodResources = { requests: { cpu: "1", memory: "8Gi" }, limits: { cpu: "2", memory: "8Gi" } };
        expect(refusal({ maxmemory: "64gb", resources: prodResources })).toBe(
            'RedisCluster bad: maxmemory must be at most 80% of resources.limits.memory (6553mb of 8Gi) (got "64gb")',
        );
        // The default limit (8Gi) against a larger maxmemory: 6553.6mb is the bound.
        expect(refusal({ maxmemory: "7gb" })).toBe('RedisCluster bad: maxmemory must be at most 80% of resources.limits.memory (6553mb of 8Gi) (got "7gb")');
    });

    test("at most 80% passes; mb and gb are powers of 1024; decimal limits are bytes", () => {
        const settings = redisSettingsSchema.superRefine(checkRedisSettings, onlyWhenValid);
        // Buffers of 16mb fit in every headroom below (the rule of the next test).
        const clientOutputBufferLimits = { normal: { hard: "16mb", soft: "4mb" }, replica: { hard: "16mb", soft: "4mb" }, pubsub: { hard: "16mb", soft: "4mb" } };
        const withLimit = (memory: string, maxmemory: string) =>
            settings.safeParse({ maxmemory, resources: { requests: { cpu: "1", memory }, limits: { cpu: "1", memory } }, clientOutputBufferLimits }).success;
        expect(withLimit("1280Mi", "1gb")).toBe(true); // exactly 80%
        expect(withLimit("1279Mi", "1gb")).toBe(false);
        expect(withLimit("1G", "762mb")).toBe(true); // 0.8 x 10^9 bytes = 762.9mb
        expect(withLimit("1G", "763mb")).toBe(false);
    });

    test("one client's output-buffer hard limit must fit in what maxmemory leaves; the replicas' only where there are replicas", () => {
        // 256Mi - 200mb = 56mb left: Redis' default 64mb for a normal client could OOM-kill the pod.
        expect(refusal({ maxmemory: "200mb", resources: SMALL, replicasPerMaster: 0, clientOutputBufferLimits: { normal: { hard: "64mb" } } })).toBe(
            'RedisCluster bad: clientOutputBufferLimits.normal.hard must fit in the memory maxmemory leaves (56mb of resources.limits.memory 256Mi) (got "64mb")',
        );
        const small = { normal: { hard: "16mb", soft: "4mb" }, pubsub: { hard: "16mb", soft: "4mb" } };
        const settings = redisSettingsSchema.superRefine(checkRedisSettings, onlyWhenValid);
        // Without replicas the replica class does not count; with one it must fit too.
        expect(settings.safeParse({ maxmemory: "200mb", resources: SMALL, replicasPerMaster: 0, clientOutputBufferLimits: small }).success).toBe(true);
        const withReplica = settings.safeParse({ maxmemory: "200mb", resources: SMALL, replicasPerMaster: 1, clientOutputBufferLimits: small });
        expect(withReplica.error?.issues.map((issue) => issue.path.join("."))).toEqual(["clientOutputBufferLimits.replica.hard"]);
        // 0 is "no limit", an explicit choice: not refused.
        expect(settings.safeParse({ maxmemory: "200mb", resources: SMALL, replicasPerMaster: 0, clientOutputBufferLimits: { ...small, normal: { hard: "0", soft: "0" } } }).success).toBe(true);
    });

    test("checked only once the sizes themselves are valid (one cause, one message)", () => {
        const badLimit = { requests: { cpu: "1", memory: "8Gi" }, limits: { cpu: "2", memory: "8GB" } };
        expect(refusal({ maxmemory: "64gb", resources: badLimit })).toBe(
            'RedisCluster bad: resources.limits.memory must be a memory quantity such as 512Mi or 8Gi (got "8GB")',
        );
    });

    test.each([
        ["dev", "200mb", "256Mi", "78%"],
        ["prod", "6gb", "8Gi", "75%"],
    ])("the %s stack's section passes: %s of %s (%s)", (stack, maxmemory, limit) => {
        // prod's file leaves the section out: the defaults are its sizing.
        const section = readStackConfig(stack).redis ?? {};
        const result = redisSettingsSchema.superRefine(checkRedisSettings, onlyWhenValid).safeParse(section);
        expect(result.error?.issues).toBeUndefined();
        expect([result.data?.maxmemory, result.data?.resources.limits.memory]).toEqual([maxmemory, limit]);
    });
});
