// RedisCluster's inputs, declared once: each field's rule, default and doc side by side. The stack
// config's `redis` section is `redisSettingsSchema` (config.ts composes it), the component parses
// `redisClusterArgsSchema`; both apply `checkRedisSettings`.
import { z } from "zod";
import { dnsName, imagePullSecretsSchema, input, int, memory, onlyWhenValid, pinnedImage, resources, resourcesWithDefault } from "../schema";
import { storageClassAllowsExpansion } from "../storage";
import { parseMemoryQuantity } from "../units";

/** A Redis size as redis.conf takes it, in whole mb or gb (Redis' mb and gb are powers of 1024). */
const REDIS_SIZE = /^(\d+)(mb|gb)$/;

/** Bytes in a Redis size such as `200mb` or `6gb`. */
function parseRedisSize(size: string): number {
    const match = REDIS_SIZE.exec(size);
    if (!match) throw new Error(`not a Redis size: ${size}`);
    return Number(match[1]) * 1024 ** (match[2] === "gb" ? 3 : 2);
}

/**
 * The share of the container's memory limit `maxmemory` may take. maxmemory bounds the dataset
 * only; the process needs more than that: replication backlog and client output buffers (Redis'
 * redis.conf, MEMORY MANAGEMENT: "set a lower limit for maxmemory so that there is some free RAM on
 * the system for replica output buffers"), allocator fragmentation (Redis administration guide,
 * redis.io/docs/latest/operate/oss_and_stack/management/admin/: "if you think you have 10 GB of
 * free memory, set it to 8 or 9"), and the copy-on-write pages of the fork that rewrites the AOF
 * (same guide: "Redis may use up to 2 times the memory normally used"). 80% is the lower end of
 * the guide's 8-9 of 10; write-heavy workloads want less.
 */
const MAXMEMORY_SHARE_OF_LIMIT = 0.8;

/**
 * The `redis` section of the stack config and the sizing of a RedisCluster. Defaults: the prod shape
 * of DESIGN.md section 1 (3 masters with one replica each, 6gb of data per master in an 8Gi limit,
 * 50Gi PVCs).
 */
export const redisSettingsSchema = z.strictObject({
    /**
     * Master nodes holding the 16384 slots: at least 3 (Redis Cluster's minimum), at most 100 (so
     * that even at 5 replicas each the cluster stays within the 1000 nodes the Redis Cluster
     * specification is designed for).
     */
    masters: int(3, 100).default(3),
    /** Replicas of each master (0 = no failover). Pods = masters x (1 + replicasPerMaster). */
    replicasPerMaster: int(0, 5).default(1),
    /** cluster-node-timeout in ms: how long a master may be unreachable before failover. */
    clusterNodeTimeoutMs: int(1000, 60000).default(5000),
    /** Redis 7 image, pinned. */
    image: pinnedImage.default("redis:7.2.5"),
    /** oliver006/redis_exporter image, pinned. */
    exporterImage: pinnedImage.default("oliver006/redis_exporter:v1.62.0"),
    /**
     * An image with `sh` and `kubectl`, pinned: the bootstrap Job's init container reads where the
     * node pods run and the nodes' zones with it, for the replica placement.
     */
    kubectlImage: pinnedImage.default("alpine/k8s:1.30.0"),
    /** PVC size per pod (AOF + nodes.conf). */
    storage: memory.default("50Gi"),
    /** StorageClass of the PVCs; unset = the cluster default. */
    storageClass: z.string().min(1).optional(),
    /** Whether the StorageClass allows volume expansion (components/storage.ts): a larger `storage` grows every PVC in place. */
    storageClassAllowsExpansion,
    /**
     * Redis `maxmemory`, e.g. `6gb`: at most 80% of resources.limits.memory, which must also hold
     * buffers and the AOF rewrite's copy-on-write (MAXMEMORY_SHARE_OF_LIMIT).
     */
    maxmemory: z.string().regex(REDIS_SIZE, "a Redis size such as 512mb or 6gb").default("6gb"),
    /** Redis `maxmemory-policy`: what a write does once maxmemory is reached (noeviction: it fails). */
    maxmemoryPolicy: z.enum(["noeviction", "allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu", "volatile-ttl"]).default("noeviction"),
    /** Resources of each redis-server container. */
    resources: resourcesWithDefault({ cpu: "1", memory: "8Gi" }, { cpu: "2", memory: "8Gi" }),
    /** Resources of each redis_exporter sidecar. */
    exporterResources: resourcesWithDefault({ cpu: "50m", memory: "64Mi" }, { cpu: "200m", memory: "128Mi" }),
    /**
     * Resources of the bootstrap Job's redis-cli container; unset = exporterResources (both are one
     * small client process talking to the nodes).
     */
    bootstrapResources: resources.optional(),
    /** Pulumi `protect` on the StatefulSet and Secret, and PVCs retained on delete/scale-down. */
    protectData: z.boolean().default(true),
    /** The cluster's DNS domain, used in the announced hostnames. */
    clusterDomain: dnsName.default("cluster.local"),
});

/** The sizing of a RedisCluster with its defaults applied. */
export type RedisSettings = z.output<typeof redisSettingsSchema>;

/** The rules between fields of the Redis settings (a superRefine of the section and of the args). */
export function checkRedisSettings(value: Pick<RedisSettings, "maxmemory" | "resources">, ctx: z.RefinementCtx): void {
    const limit = parseMemoryQuantity(value.resources.limits.memory);
    if (parseRedisSize(value.maxmemory) > MAXMEMORY_SHARE_OF_LIMIT * limit) {
        const largestMb = Math.floor((MAXMEMORY_SHARE_OF_LIMIT * limit) / 1024 ** 2);
        ctx.addIssue({
            code: "custom",
            path: ["maxmemory"],
            message: `must be at most ${MAXMEMORY_SHARE_OF_LIMIT * 100}% of resources.limits.memory (${largestMb}mb of ${value.resources.limits.memory})`,
        });
    }
}

/** RedisCluster's args: the settings plus where the cluster lives and its password. */
export const redisClusterArgsSchema = redisSettingsSchema
    .extend({
        /** Namespace for every object of the cluster. */
        namespace: input(z.string()),
        /** Image pull Secrets (names in the namespace) on the ServiceAccounts of every pod. */
        imagePullSecrets: imagePullSecretsSchema,
        /** The cluster's password; unset = generated once (RandomPassword) and kept in the stack's state. */
        password: input(z.string()).optional(),
    })
    .superRefine(checkRedisSettings, onlyWhenValid);

/** What a caller passes to RedisCluster: every field but `namespace` has a default. */
export type RedisClusterArgs = z.input<typeof redisClusterArgsSchema>;
/** RedisCluster's args with the defaults applied. */
export type ResolvedRedisClusterArgs = z.output<typeof redisClusterArgsSchema>;
