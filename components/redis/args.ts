// RedisCluster's inputs, declared once: each field's rule, default and doc side by side. The stack
// config's `redis` section is `redisSettingsSchema` (config.ts composes it), the component parses
// `redisClusterArgsSchema`; both apply `checkRedisSettings`.
import { z } from "zod";
import { dnsLabel, dnsName, imagePullSecretsSchema, input, int, memory, onlyWhenValid, pinnedImage, resources, resourcesWithDefault } from "../schema";
import { storageClassAllowsExpansion } from "../storage";
import type { CertificateIssuer } from "../tls";
import { parseMemoryQuantity } from "../units";

/** A Redis size as redis.conf takes it, in whole mb or gb (Redis' mb and gb are powers of 1024). */
const REDIS_SIZE = /^(\d+)(mb|gb)$/;

/** Bytes in a Redis size such as `200mb` or `6gb`. */
function parseRedisSize(size: string): number {
    const match = REDIS_SIZE.exec(size);
    if (!match) throw new Error(`not a Redis size: ${size}`);
    return Number(match[1]) * 1024 ** (match[2] === "gb" ? 3 : 2);
}

/** A Redis size in an output-buffer limit: `0` (no limit) or whole mb/gb. */
const bufferSize = z.string().regex(/^(0|\d+(mb|gb))$/, "0 or a Redis size such as 64mb or 1gb");

/** Bytes of a buffer size; 0 = no limit. */
function bufferBytes(size: string): number {
    return size === "0" ? 0 : parseRedisSize(size);
}

/** One class of `client-output-buffer-limit`, with its defaults; soft must not exceed hard. */
function outputBufferLimit(defaults: { hard: string; soft: string; softSeconds: number }) {
    return z
        .strictObject({
            /** Disconnect as soon as the pending replies pass this (0 = no hard limit). */
            hard: bufferSize.default(defaults.hard),
            /** Disconnect when the pending replies stay above this for softSeconds (0 = no soft limit). */
            soft: bufferSize.default(defaults.soft),
            /** Seconds the soft limit may be exceeded. */
            softSeconds: int(0, 3600).default(defaults.softSeconds),
        })
        .superRefine((limit, ctx) => {
            if (bufferBytes(limit.hard) > 0 && bufferBytes(limit.soft) > bufferBytes(limit.hard)) {
                ctx.addIssue({ code: "custom", path: ["soft"], message: `must be at most hard (${limit.hard})` });
            }
        }, onlyWhenValid)
        .prefault({});
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
    /**
     * Redis 7 image, pinned. 7.2.16 is the newest of the 7.2 line the Docker library publishes (7.2 is
     * supported alongside 7.4, redis/redis#14355); 7.2.11 fixed the Lua RCEs CVE-2025-49844/46817/46818/
     * 46819 (docker-library/official-images#20011), 7.2.15 the RESTORE use-after-free (#21922).
     */
    image: pinnedImage.default("redis:7.2.16"),
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
    /**
     * Redis `timeout`: seconds after which an idle client connection is closed (0 = never). Replicas,
     * masters, Pub/Sub subscribers and clients blocked in a command are exempt (Redis' clientsCron);
     * pooled clients (ioredis, node-redis) reconnect on their own. Bounds the connections a crashed or
     * leaking client leaves open against maxclients.
     */
    clientIdleTimeoutSeconds: int(0, 86400).default(300),
    /**
     * Redis `client-output-buffer-limit` per client class: a client whose pending replies pass `hard`,
     * or stay above `soft` for `softSeconds`, is disconnected, so one slow reader (or a huge reply) cannot
     * eat the headroom above maxmemory. Redis' defaults leave normal clients unbounded.
     */
    clientOutputBufferLimits: z
        .strictObject({
            /** Ordinary clients (the apps): far above any reply of a cache, session or rate-limit command. */
            normal: outputBufferLimit({ hard: "64mb", soft: "16mb", softSeconds: 60 }),
            /** Replicas: the writes a master buffers while a replica loads its full sync; Redis' default. */
            replica: outputBufferLimit({ hard: "256mb", soft: "64mb", softSeconds: 60 }),
            /** Pub/Sub subscribers: Redis' default. */
            pubsub: outputBufferLimit({ hard: "32mb", soft: "8mb", softSeconds: 60 }),
        })
        .prefault({}),
});

/** The sizing of a RedisCluster with its defaults applied. */
export type RedisSettings = z.output<typeof redisSettingsSchema>;

/**
 * The rules between fields of the Redis settings (a superRefine of the section and of the args):
 * maxmemory leaves its share of the memory limit free, and one client's output buffer fits in what
 * maxmemory leaves (the replicas' only where there are replicas).
 */
export function checkRedisSettings(
    value: Pick<RedisSettings, "maxmemory" | "resources" | "clientOutputBufferLimits" | "replicasPerMaster">,
    ctx: z.RefinementCtx,
): void {
    const limit = parseMemoryQuantity(value.resources.limits.memory);
    if (parseRedisSize(value.maxmemory) > MAXMEMORY_SHARE_OF_LIMIT * limit) {
        const largestMb = Math.floor((MAXMEMORY_SHARE_OF_LIMIT * limit) / 1024 ** 2);
        ctx.addIssue({
            code: "custom",
            path: ["maxmemory"],
            message: `must be at most ${MAXMEMORY_SHARE_OF_LIMIT * 100}% of resources.limits.memory (${largestMb}mb of ${value.resources.limits.memory})`,
        });
        return;
    }
    const headroom = limit - parseRedisSize(value.maxmemory);
    const classes = value.replicasPerMaster > 0 ? (["normal", "replica", "pubsub"] as const) : (["normal", "pubsub"] as const);
    for (const name of classes) {
        if (bufferBytes(value.clientOutputBufferLimits[name].hard) > headroom) {
            ctx.addIssue({
                code: "custom",
                path: ["clientOutputBufferLimits", name, "hard"],
                message: `must fit in the memory maxmemory leaves (${Math.floor(headroom / 1024 ** 2)}mb of resources.limits.memory ${value.resources.limits.memory})`,
            });
        }
    }
}

/** An application's name, which its ACL user and password Secret are named after. */
const appName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/, "a DNS label of at most 42 characters");

/** A supplied password (the stack config checks its characters; the ACL file holds only its hash). */
const suppliedPassword = input(z.string());

/** The rules between the applications and their supplied passwords: names unique, no password for an unknown app. */
function checkRedisApps(value: { apps: string[]; appPasswords?: Record<string, unknown> }, ctx: z.RefinementCtx): void {
    value.apps.forEach((app, index) => {
        if (value.apps.indexOf(app) !== index) ctx.addIssue({ code: "custom", path: ["apps", index], message: "must be unique among apps" });
    });
    for (const app of Object.keys(value.appPasswords ?? {})) {
        if (!value.apps.includes(app)) ctx.addIssue({ code: "custom", path: ["appPasswords", app], message: `is not one of apps (${value.apps.join(", ") || "none"})` });
    }
}

/** RedisCluster's args: the settings plus where the cluster lives, its users, their passwords and certificates. */
export const redisClusterArgsSchema = redisSettingsSchema
    .extend({
        /**
         * Namespace for every object of the cluster, by name (not an Output): the nodes' certificate
         * is issued for the pods' full DNS names, which contain it. Give the component `dependsOn` on
         * the Namespace object when the stack creates it.
         */
        namespace: dnsLabel,
        /** Image pull Secrets (names in the namespace) on the ServiceAccounts of every pod. */
        imagePullSecrets: imagePullSecretsSchema,
        /** The nodes' certificate (TLS for clients, replication and the cluster bus) comes from this issuer. */
        certificates: z.custom<CertificateIssuer>(
            (value) => typeof value === "object" && value !== null && typeof (value as { issue?: unknown }).issue === "function",
            "must be a CertificateIssuer",
        ),
        /**
         * The applications that use the cluster: each gets its own ACL user `app-<name>` (data commands
         * and EVAL/EVALSHA; nothing dangerous or administrative) and its own password Secret
         * (RedisCluster.appUsers). ServiceFleet passes its services' names.
         */
        apps: z.array(appName).default([]),
        /** The administrator's password (bootstrap, probes, replication); unset = generated once (RandomPassword) and kept in the stack's state. */
        password: suppliedPassword.optional(),
        /** The exporter user's password; unset = generated. */
        exporterPassword: suppliedPassword.optional(),
        /** Passwords of some `apps` by name; each app left out gets a generated one. */
        appPasswords: z.record(z.string(), suppliedPassword).optional(),
    })
    .superRefine(checkRedisSettings, onlyWhenValid)
    .superRefine(checkRedisApps, onlyWhenValid);

/** What a caller passes to RedisCluster: every field but `namespace` has a default. */
export type RedisClusterArgs = z.input<typeof redisClusterArgsSchema>;
/** RedisCluster's args with the defaults applied. */
export type ResolvedRedisClusterArgs = z.output<typeof redisClusterArgsSchema>;
