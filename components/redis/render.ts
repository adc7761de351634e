// Pure renderers for the Redis cluster: redis.conf, the auth include, server arguments, node
// addresses and the idempotent bootstrap script. The component puts them in a ConfigMap, a Secret
// and a Job; the live tests run the very same text on real redis-server processes.
import { serviceHost } from "../dns";

/** The Redis client port. The cluster bus is always this + 10000. */
export const REDIS_PORT = 6379;
/** The cluster bus offset Redis uses by default. */
export const CLUSTER_BUS_OFFSET = 10000;
/** Slots in a Redis cluster. */
export const CLUSTER_SLOTS = 16384;

/** Pods of a cluster with `masters` masters, each with `replicasPerMaster` replicas. */
export function redisPodCount(masters: number, replicasPerMaster: number): number {
    return masters * (1 + replicasPerMaster);
}

/** Names a StatefulSet gives its pods: `<statefulSet>-0` ... `<statefulSet>-(count-1)`. */
export function statefulSetPodNames(statefulSet: string, count: number): string[] {
    return Array.from({ length: count }, (_, ordinal) => `${statefulSet}-${ordinal}`);
}

/** The stable DNS name of a StatefulSet pod behind its headless Service. */
export function podHostname(pod: string, headlessService: string, namespace: string, clusterDomain: string): string {
    return `${pod}.${serviceHost(headlessService, namespace, clusterDomain)}`;
}

export interface RedisConfOptions {
    /** Address to bind; `*` in a pod, 127.0.0.1 in the live tests. */
    bind: string;
    port: number;
    /** Where nodes.conf and the AOF live (the PVC). */
    dataDir: string;
    clusterNodeTimeoutMs: number;
    /** e.g. `6gb`; leave headroom under the container memory limit for AOF rewrites. */
    maxmemory: string;
    maxmemoryPolicy: string;
    /** Path of the Secret-mounted file holding requirepass and masterauth. */
    authIncludePath: string;
}

/**
 * redis.conf for one cluster node. Holds no password: it `include`s the Secret-mounted file that
 * renderRedisAuthConf produces. The announced hostname differs per pod and comes from
 * redisServerArgs.
 */
export function renderRedisConf(options: RedisConfOptions): string {
    return [
        "# Rendered by prepx-platform (components/redis/render.ts). Passwords are in the included file.",
        `bind ${options.bind}`,
        `port ${options.port}`,
        // Auth is required (requirepass), so protected mode adds nothing and would block pod IPs.
        "protected-mode no",
        `dir ${options.dataDir}`,
        "",
        "# Cluster mode. Replicas are assigned by the bootstrap (--cluster-replicas), never by replicaof,",
        "# which Redis refuses in cluster mode.",
        "cluster-enabled yes",
        `cluster-config-file ${options.dataDir}/nodes.conf`,
        `cluster-node-timeout ${options.clusterNodeTimeoutMs}`,
        // Pod IPs change on restart; clients and MOVED redirects use the stable announced hostname.
        "cluster-preferred-endpoint-type hostname",
        "cluster-require-full-coverage yes",
        "cluster-allow-reads-when-down no",
        "cluster-replica-validity-factor 10",
        "cluster-migration-barrier 1",
        "",
        "# Durability: every write goes to the AOF, fsynced each second.",
        "appendonly yes",
        "appendfsync everysec",
        "aof-use-rdb-preamble yes",
        "",
        `maxmemory ${options.maxmemory}`,
        `maxmemory-policy ${options.maxmemoryPolicy}`,
        "tcp-keepalive 60",
        "timeout 0",
        "",
        `include ${options.authIncludePath}`,
        "",
    ].join("\n");
}

/** The Secret-held include with the cluster password; replicas use masterauth to sync. */
export function renderRedisAuthConf(password: string): string {
    return `requirepass ${password}\nmasterauth ${password}\n`;
}

/** redis-server's arguments: the config file plus this node's announced hostname. */
export function redisServerArgs(confPath: string, announceHostname: string): string[] {
    return [confPath, "--cluster-announce-hostname", announceHostname];
}

export interface BootstrapOptions {
    /** Every node as `host:port`, in pod order. */
    nodes: string[];
    replicasPerMaster: number;
    /** Seconds to wait for every node to answer and for cluster_state:ok. */
    timeoutSeconds: number;
}

/**
 * A POSIX sh script that forms the cluster exactly once. It reads the password from REDISCLI_AUTH
 * (never from its arguments, which show in `ps`), waits for every node, and then:
 * - all nodes already in one cluster with every slot assigned: prints so and changes nothing;
 * - all nodes fresh (knowing only themselves, no slots): runs `redis-cli --cluster create`;
 * - anything in between: stops with an error and changes nothing, since guessing could lose data.
 * `redis-cli --cluster create` needs IP addresses, so hostnames are resolved first.
 */
export function renderBootstrapScript(options: BootstrapOptions): string {
    const total = options.nodes.length;
    return `#!/bin/sh
# Rendered by prepx-platform (components/redis/render.ts): idempotent Redis cluster bootstrap.
set -eu
: "\${REDISCLI_AUTH:?REDISCLI_AUTH must hold the cluster password}"
NODES="${options.nodes.join(" ")}"
TOTAL=${total}
REPLICAS=${options.replicasPerMaster}
DEADLINE=$(( $(date +%s) + ${options.timeoutSeconds} ))

info_field() { # host port field
  redis-cli --no-auth-warning -h "$1" -p "$2" cluster info 2>/dev/null | tr -d '\\r' | sed -n "s/^$3://p"
}

for node in $NODES; do
  host=\${node%:*}; port=\${node##*:}
  until [ "$(redis-cli --no-auth-warning -h "$host" -p "$port" ping 2>/dev/null | tr -d '\\r')" = "PONG" ]; do
    if [ "$(date +%s)" -ge "$DEADLINE" ]; then echo "bootstrap: $node did not answer PING in time" >&2; exit 1; fi
    sleep 1
  done
done

# Gossip takes a few seconds to tell every node about every other after a create or a restart:
# a node that is partly joined is asked again until the deadline before the script gives up.
while :; do
  fresh=0; formed=0; partly=""
  for node in $NODES; do
    host=\${node%:*}; port=\${node##*:}
    known=$(info_field "$host" "$port" cluster_known_nodes)
    assigned=$(info_field "$host" "$port" cluster_slots_assigned)
    if [ "$known" = "1" ] && [ "$assigned" = "0" ]; then fresh=$((fresh + 1));
    elif [ "$known" = "$TOTAL" ] && [ "$assigned" = "${CLUSTER_SLOTS}" ]; then formed=$((formed + 1));
    else partly="$partly $node/known-nodes=$known/slots=$assigned"; fi
  done
  if [ -z "$partly" ] || [ "$(date +%s)" -ge "$DEADLINE" ]; then break; fi
  sleep 1
done
for node in $partly; do echo "bootstrap: partly joined: $node" >&2; done

if [ "$formed" -eq "$TOTAL" ]; then
  echo "bootstrap: cluster already formed ($TOTAL nodes, ${CLUSTER_SLOTS} slots); nothing to do"
  exit 0
fi
if [ "$fresh" -ne "$TOTAL" ]; then
  echo "bootstrap: $formed of $TOTAL nodes formed, $fresh fresh; refusing to guess. Inspect with 'redis-cli --cluster check' and repair with 'redis-cli --cluster fix'" >&2
  exit 1
fi

addresses=""
for node in $NODES; do
  host=\${node%:*}; port=\${node##*:}
  ip=$(getent hosts "$host" | awk 'NR==1 {print $1}')
  if [ -z "$ip" ]; then echo "bootstrap: cannot resolve $host" >&2; exit 1; fi
  addresses="$addresses $ip:$port"
done

echo "bootstrap: creating the cluster:$addresses (replicas per master: $REPLICAS)"
# shellcheck disable=SC2086
redis-cli --no-auth-warning --cluster create $addresses --cluster-replicas "$REPLICAS" --cluster-yes

first=\${NODES%% *}; host=\${first%:*}; port=\${first##*:}
until [ "$(info_field "$host" "$port" cluster_state)" = "ok" ]; do
  if [ "$(date +%s)" -ge "$DEADLINE" ]; then echo "bootstrap: cluster_state did not become ok in time" >&2; exit 1; fi
  sleep 1
done
echo "bootstrap: cluster_state:ok"
`;
}
