// Pure renderers for the Redis cluster: redis.conf, the ACL file and masterauth include, server arguments, pod
// hostnames, the readiness check, the cluster-heal loop, the replica placement program and the
// idempotent bootstrap script. The component puts them in content-named ConfigMaps, a Secret and a
// Job; the live tests run the very same text on real redis-server processes.
import { createHash } from "crypto";

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

/** Where a node's certificate, its key and the CA that signed its peers' certificates are. */
export interface RedisTlsFiles {
    /** The node's certificate (server, and client on the bus and to its master). */
    certFile: string;
    /** Its private key. */
    keyFile: string;
    /** The CA certificate peers' certificates are verified with. */
    caFile: string;
}

/** One class of `client-output-buffer-limit`: sizes as Redis takes them (`64mb`, `0` = none). */
export interface OutputBufferLimit {
    /** Disconnect as soon as the pending replies pass this. */
    hard: string;
    /** Disconnect when they stay above this for softSeconds. */
    soft: string;
    /** Seconds the soft limit may be exceeded. */
    softSeconds: number;
}

export interface RedisConfOptions {
    /** Address to bind; `*` in a pod, 127.0.0.1 in the live tests. */
    bind: string;
    /** The TLS port, the only client port (plaintext is off); the cluster bus is this + 10000. */
    port: number;
    /** The node's certificate and key (server, replication and cluster bus) and the CA it trusts. */
    tls: RedisTlsFiles;
    /** Where nodes.conf and the AOF live (the PVC). */
    dataDir: string;
    clusterNodeTimeoutMs: number;
    /** e.g. `6gb`; leave headroom under the container memory limit for AOF rewrites. */
    maxmemory: string;
    maxmemoryPolicy: string;
    /** Seconds before an idle client is disconnected (0 = never). */
    clientIdleTimeoutSeconds: number;
    /** Output-buffer limits of ordinary clients, replicas and Pub/Sub subscribers. */
    outputBufferLimits: Record<"normal" | "replica" | "pubsub", OutputBufferLimit>;
    /**
     * Paths of the Secret-mounted auth files: the ACL users (`aclfile`, renderRedisAclFile, which `ACL
     * LOAD` can read again at runtime) and the replicas' masteruser/masterauth (`include`d,
     * renderReplicationAuth).
     */
    auth: RedisAuthFiles;
}

/** Where a node finds its users and its replication credentials (Secret-mounted files). */
export interface RedisAuthFiles {
    /** The ACL file (redis.conf `aclfile`): the users, one `user` line each. */
    aclFile: string;
    /** The include holding masteruser/masterauth (redis.conf `include`). */
    replicationInclude: string;
}

/**
 * redis.conf for one cluster node. Holds no password: the users come from the Secret-mounted ACL file
 * (renderRedisAclFile) and masterauth from a Secret-mounted include (renderReplicationAuth). Users
 * are in an `aclfile`, not `user` lines of an include, because only an ACL file can be re-read by a
 * running server (`ACL LOAD`, which cluster-heal runs when the Secret changes); Redis refuses to
 * start with both. The announced hostname differs per pod and comes from redisServerArgs. Clients,
 * replication and the cluster bus speak TLS only.
 */
export function renderRedisConf(options: RedisConfOptions): string {
    const limits = options.outputBufferLimits;
    const limit = (name: string, value: OutputBufferLimit) => `client-output-buffer-limit ${name} ${value.hard} ${value.soft} ${value.softSeconds}`;
    return [
        "# Rendered by prepx-platform (components/redis/render.ts). Passwords are in the aclfile and the included file.",
        `bind ${options.bind}`,
        // No plaintext port: clients, replicas (tls-replication) and the bus (tls-cluster) use TLS.
        "port 0",
        `tls-port ${options.port}`,
        `tls-cert-file ${options.tls.certFile}`,
        `tls-key-file ${options.tls.keyFile}`,
        `tls-ca-cert-file ${options.tls.caFile}`,
        "tls-replication yes",
        "tls-cluster yes",
        // Peers (bus, replication) present their certificate and it is verified; applications have no
        // client certificate and authenticate with their ACL user's password instead.
        "tls-auth-clients optional",
        "tls-protocols \"TLSv1.2 TLSv1.3\"",
        // Every user needs a password (the ACL file), so protected mode adds nothing and would block pod IPs.
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
        `timeout ${options.clientIdleTimeoutSeconds}`,
        limit("normal", limits.normal),
        limit("replica", limits.replica),
        limit("pubsub", limits.pubsub),
        "",
        `aclfile ${options.auth.aclFile}`,
        `include ${options.auth.replicationInclude}`,
        "",
    ].join("\n");
}

/** An ACL user: its name, its password (stored as a SHA-256 in the rendered file) and its rules. */
export interface RedisAclUser {
    /** The user name (AUTH <name> <password>). */
    name: string;
    /** Its password in clear; only its SHA-256 is rendered. */
    password: string;
    /** ACL rules: keys, channels, commands. */
    rules: string;
}

/**
 * The cluster's administrator: forms and heals the cluster (bootstrap, readiness, cluster-heal,
 * `redis-cli --cluster`, MIGRATE between nodes) and is the replicas' masteruser. Everything but Lua
 * and functions (which none of that runs), DEBUG, MODULE and SHUTDOWN (pods stop on SIGTERM), and
 * the flushes.
 */
export const ADMIN_ACL_RULES = "~* &* +@all -@scripting -debug -module -shutdown -flushall -flushdb";

/**
 * An application (cache, sessions, rate limits): data commands on every key and channel, transactions,
 * Pub/Sub and the cluster topology its client reads (CLUSTER SLOTS/SHARDS/NODES, READONLY, ASKING).
 * Nothing `@dangerous` or `@admin` (FLUSHALL, CONFIG, SHUTDOWN, DEBUG, MODULE, ACL, KEYS, INFO,
 * CLIENT LIST/KILL, CLUSTER RESET/FORGET/...), no functions (FUNCTION LOAD/FLUSH). Lua stays for
 * EVAL/EVALSHA and SCRIPT LOAD/EXISTS only, because rate-limiter-flexible's RateLimiterRedis runs its
 * counter as a Lua script (EVALSHA, falling back to EVAL); the image carries the Lua fixes (>= 7.2.11).
 * INFO is left out: ioredis >= 5 skips its ready check on NOPERM (redis/ioredis#1515).
 */
export const APP_ACL_RULES = [
    "~* &* -@all",
    "+@read +@write +@keyspace +@string +@hash +@list +@set +@sortedset +@stream +@bitmap +@hyperloglog +@geo",
    "+@transaction +@pubsub +@connection +@blocking",
    "-@dangerous -@admin -@scripting",
    "+eval +evalsha +script|load +script|exists",
    "+cluster|slots +cluster|shards +cluster|nodes +cluster|info +cluster|myid +cluster|keyslot +readonly +readwrite +asking",
].join(" ");

/**
 * redis_exporter, read-only: what it runs on every scrape (exporter.go scrapeRedisHost: CLIENT SETNAME,
 * INFO ALL, CLUSTER INFO, LATENCY, SLOWLOG). Not CONFIG GET, which upstream's suggested user has: it
 * answers `CONFIG GET masterauth` with the administrator's password; the exporter logs the refusal
 * and exports the rest (maxmemory comes from INFO too). No key access at all.
 */
export const EXPORTER_ACL_RULES = "resetkeys resetchannels -@all +ping +info +client|setname +cluster|info +latency|latest +latency|histogram +slowlog|get +slowlog|len";

/** SHA-256 of a password, as an ACL `#<hash>` rule takes it. */
function passwordHash(password: string): string {
    return createHash("sha256").update(password).digest("hex");
}

/**
 * The Secret-held ACL file (redis.conf `aclfile`): the ACL users, each with its password's hash, and
 * the `default` user off without rights. Only `user` lines: Redis 7 takes no comments in an ACL file.
 */
export function renderRedisAclFile(users: RedisAclUser[]): string {
    return ["user default off nopass resetkeys resetchannels -@all", ...users.map((user) => `user ${user.name} on #${passwordHash(user.password)} ${user.rules}`), ""].join("\n");
}

/**
 * The Secret-held include with the replicas' masteruser/masterauth: the one password in clear, which
 * Redis needs to authenticate to its master. A running node takes a new one from cluster-heal
 * (`CONFIG SET masterauth`).
 */
export function renderReplicationAuth(replication: { user: string; password: string }): string {
    return [`masteruser ${replication.user}`, `masterauth ${replication.password}`, ""].join("\n");
}

/** How the rendered scripts' redis-cli connects: as which user (password in REDISCLI_AUTH), trusting which CA. */
export interface RedisCliOptions {
    /** The ACL user (the administrator). */
    user: string;
    /** The CA certificate that signed the nodes' certificates. */
    caFile: string;
}

/**
 * The redis-cli command line of the scripts: TLS verified against the CA (hiredis checks the chain,
 * not the name, so 127.0.0.1 and resolved IPs work), the password from REDISCLI_AUTH, never an argument.
 */
export function redisCliCommand(client: RedisCliOptions): string {
    return `redis-cli --no-auth-warning --tls --cacert '${client.caFile}' --user ${client.user}`;
}

/** redis-server's arguments: the config file plus this node's announced hostname. */
export function redisServerArgs(confPath: string, announceHostname: string): string[] {
    return [confPath, "--cluster-announce-hostname", announceHostname];
}

/**
 * How a node finds where a peer now lives, from the hostname the peer announced. Pods resolve it in
 * DNS and keep the port (a restarted pod keeps its name and port, and gets a new IP). The live tests,
 * whose servers all share 127.0.0.1 and differ by port, read a file of `hostname ip:port` lines.
 */
export type PeerAddressSource = { kind: "dns" } | { kind: "file"; path: string };

/** The body of the sh function `peer_address HOSTNAME PORT`, printing `ip:port` or nothing. */
function peerAddressFunction(source: PeerAddressSource): string {
    if (source.kind === "dns") {
        return `peer_address() { # hostname port: the peer's address now, from DNS; the port does not change
  ip=$(getent hosts "$1" | awk 'NR == 1 {print $1}')
  if [ -n "$ip" ]; then echo "$ip:$2"; fi
}`;
    }
    return `peer_address() { # hostname port: the peer's address now, from ${source.path}
  awk -v host="$1" '$1 == host {print $2; exit}' "${source.path}"
}`;
}

export interface ClusterHealOptions {
    /** The local node's client port. */
    port: number;
    /** How redis-cli connects. */
    client: RedisCliOptions;
    /** The node's certificate files, reloaded into redis-server when their content changes. */
    tls: RedisTlsFiles;
    /** Seconds between two passes over the node's peers. */
    intervalSeconds: number;
    /** Where peers' current addresses come from. */
    peers: PeerAddressSource;
    /** The node's Secret-mounted users, loaded again into redis-server when the Secret changes. */
    users: ClusterHealUsers;
}

/** What cluster-heal needs to apply a changed auth Secret to its running node. */
export interface ClusterHealUsers {
    /** The node's ACL file (RedisAuthFiles.aclFile), which `ACL LOAD` re-reads. */
    aclFile: string;
    /** The administrator's current password, mounted from the same Secret (masterauth, and how to log in after a rotation). */
    adminPasswordFile: string;
    /**
     * The exporter's ACL user: the password it started with (EXPORTER_PASSWORD in cluster-heal's
     * environment, from the same Secret) stays valid on the node after a rotation, as the exporter
     * sidecar reads its password at start only.
     */
    exporterUser: string;
}

/**
 * A POSIX sh loop run beside every node (the `cluster-heal` container). The cluster bus only
 * reconnects to the IP a peer had when nodes.conf was written, so after every pod restarted with a
 * new IP the cluster stayed down for good. Every few seconds this asks its own node for the peers
 * it knows, looks up each one's announced hostname, and where the address differs sends
 * `CLUSTER MEET new-ip port`: the handshake reaches the peer, whose reply carries its known node ID,
 * and Redis then replaces that node's stored address (cluster.c, "Handshake: we already know node
 * ..., updating the address if needed"). It only ever meets nodes its own node already knows, so it
 * never joins a fresh node to a cluster (that is the bootstrap's decision).
 *
 * It also reloads the node's certificate: redis-server reads its TLS files at start only, and
 * cert-manager renews the Secret (a new key each time) long before the old certificate expires, which
 * without a reload would end every TLS connection at the old one's expiry. When the files' content
 * changes, `CONFIG SET tls-cert-file ...` with the same paths makes redis-server load them again
 * (seen on 7.0.15: the served certificate changes at once); a failed reload is retried next pass.
 *
 * And it applies a changed auth Secret (a new app user, a rotated password) without a restart: the
 * kubelet swaps the mounted files, and when the ACL file or the administrator's password file changes
 * it runs `ACL LOAD`, which replaces every user or, if a line is bad, none (the node keeps its users;
 * the error is logged and retried next pass, logged again only if it changes). Redis 7.0 disconnects
 * the clients of the reloaded users on an `ACL LOAD` (clients reconnect). The administrator's password
 * is also what the node's probes, this loop (REDISCLI_AUTH, read at container start) and the other
 * nodes' replicas (their masterauth, until their own loop runs) log in with; so after a load with a
 * new administrator password the loop logs in with the new one (from the mounted file), adds back the
 * password its container started with (`ACL SETUSER admin >...`, valid on this node until it restarts;
 * likewise the exporter's) and sets the node's masterauth to the new one (`CONFIG SET masterauth`).
 * Passwords go to redis-cli on its standard input, never as arguments.
 */
export function renderClusterHealScript(options: ClusterHealOptions): string {
    const cli = redisCliCommand(options.client);
    return `#!/bin/sh
# Rendered by prepx-platform (components/redis/render.ts): re-meets peers whose address changed.
set -u
: "\${REDISCLI_AUTH:?REDISCLI_AUTH must hold the administrator's password}"
PORT=${options.port}
INTERVAL=${options.intervalSeconds}
TLS_CERT='${options.tls.certFile}'
TLS_KEY='${options.tls.keyFile}'
TLS_CA='${options.tls.caFile}'
ACL_FILE='${options.users.aclFile}'
ADMIN_PASSWORD_FILE='${options.users.adminPasswordFile}'
STARTED_WITH_PASSWORD=$REDISCLI_AUTH

${peerAddressFunction(options.peers)}

tls_checksum() { cat "$TLS_CERT" "$TLS_KEY" "$TLS_CA" 2>/dev/null | cksum; }
tls_loaded=$(tls_checksum)
reload_tls_if_changed() {
  tls_now=$(tls_checksum)
  [ "$tls_now" = "$tls_loaded" ] && return 0
  if ${cli} -h 127.0.0.1 -p "$PORT" config set tls-cert-file "$TLS_CERT" tls-key-file "$TLS_KEY" tls-ca-cert-file "$TLS_CA" 2>&1 | grep -q '^OK'; then
    echo "cluster-heal: the certificate files changed; redis-server reloaded them"
    tls_loaded=$tls_now
  else
    echo "cluster-heal: the certificate files changed; reloading them failed, retrying" >&2
  fi
}

# Commands on stdin, as the administrator with the password given (never an argument, which shows in ps).
admin_cli() { # password
  REDISCLI_AUTH=$1 ${cli} -h 127.0.0.1 -p "$PORT" 2>&1 | tr -d '\\r'
}
acl_checksum() { cat "$ACL_FILE" "$ADMIN_PASSWORD_FILE" 2>/dev/null | cksum; }
acl_loaded=$(acl_checksum)
acl_failure=""
reload_users_if_changed() {
  acl_now=$(acl_checksum)
  [ "$acl_now" = "$acl_loaded" ] && return 0
  admin_password=$(cat "$ADMIN_PASSWORD_FILE" 2>/dev/null) || return 0
  # The node accepts the password this container started with (kept below after every load) or,
  # after a restart of redis-server alone, the current one.
  loaded=$(echo "ACL LOAD" | admin_cli "$STARTED_WITH_PASSWORD")
  case "$loaded" in OK) ;; *WRONGPASS*|*NOAUTH*) loaded=$(echo "ACL LOAD" | admin_cli "$admin_password") ;; esac
  if [ "$loaded" != "OK" ]; then
    if [ "$loaded" != "$acl_failure" ]; then echo "cluster-heal: the ACL file changed; ACL LOAD failed, the node keeps its previous users: $loaded" >&2; fi
    acl_failure=$loaded
    return 0
  fi
  acl_failure=""
  kept=$(printf '%s\\n' "ACL SETUSER ${options.client.user} \\">$STARTED_WITH_PASSWORD\\"" \\
    \${EXPORTER_PASSWORD:+"ACL SETUSER ${options.users.exporterUser} \\">$EXPORTER_PASSWORD\\""} \\
    "CONFIG SET masterauth \\"$admin_password\\"" | admin_cli "$admin_password")
  if [ "$(printf '%s\\n' "$kept" | grep -cx OK)" -eq $(( \${EXPORTER_PASSWORD:+1} + 2 )) ]; then
    echo "cluster-heal: the ACL file changed; redis-server loaded the users (ACL LOAD) and the administrator's password as masterauth"
  else
    echo "cluster-heal: the ACL file changed and was loaded; keeping the start passwords or setting masterauth failed: $kept" >&2
  fi
  acl_loaded=$acl_now
}

heal_once() {
  ${cli} -h 127.0.0.1 -p "$PORT" cluster nodes 2>/dev/null | tr -d '\\r' |
  while read -r id address flags _rest; do
    case ",$flags," in *,myself,*|*,handshake,*|*,noaddr,*) continue ;; esac
    case "$address" in *,?*) ;; *) continue ;; esac # no announced hostname: nothing to look up
    hostname=\${address#*,}; hostname=\${hostname%%,*}
    known=\${address%%@*}
    now=$(peer_address "$hostname" "\${known##*:}")
    if [ -n "$now" ] && [ "$now" != "$known" ]; then
      echo "cluster-heal: $hostname ($id) moved from $known to $now; meeting it there"
      ${cli} -h 127.0.0.1 -p "$PORT" cluster meet "\${now%:*}" "\${now##*:}" >/dev/null 2>&1 || true
    fi
  done
}

while :; do
  reload_tls_if_changed
  reload_users_if_changed
  heal_once
  sleep "$INTERVAL"
done
`;
}

/**
 * The readiness check of a node (exit 0 = ready), so that a rolling update waits for each node to
 * have caught up before it takes the next one:
 * - a fresh node (it knows only itself, no slot is assigned) is ready: the pods must be ready before
 *   the bootstrap Job runs, and forming the cluster is the Job's work;
 * - any other node needs `cluster_state:ok`;
 * - a replica also needs its link to its master up and no sync in progress.
 */
export function renderReadinessScript(port: number, client: RedisCliOptions): string {
    const cli = redisCliCommand(client);
    return `#!/bin/sh
# Rendered by prepx-platform (components/redis/render.ts): ready only when the node can serve.
set -u
info=$(${cli} -h 127.0.0.1 -p ${port} cluster info 2>/dev/null | tr -d '\\r') || exit 1
field() { printf '%s\\n' "$1" | sed -n "s/^$2://p"; }
if [ "$(field "$info" cluster_known_nodes)" = "1" ] && [ "$(field "$info" cluster_slots_assigned)" = "0" ]; then
  echo "fresh node, waiting for the bootstrap"; exit 0
fi
state=$(field "$info" cluster_state)
if [ "$state" != "ok" ]; then echo "cluster_state:$state"; exit 1; fi
replication=$(${cli} -h 127.0.0.1 -p ${port} info replication 2>/dev/null | tr -d '\\r') || exit 1
if [ "$(field "$replication" role)" = "slave" ]; then
  link=$(field "$replication" master_link_status); syncing=$(field "$replication" master_sync_in_progress)
  if [ "$link" != "up" ] || [ "$syncing" != "0" ]; then echo "replica: master_link_status:$link master_sync_in_progress:$syncing"; exit 1; fi
fi
exit 0
`;
}

/**
 * An awk program placing replicas so that none shares a failure domain with its master. Input, one
 * line per node: `id role master-id zone host` (role `master` for a master holding slots, `replica`
 * otherwise; `-` for an unknown master, zone or host); `-v R=<replicas per master>`. Output:
 * - `replicate <replica> <master>`: a CLUSTER REPLICATE to send;
 * - `shared <replica> <master> <why>`: a replica left beside its master (only one domain has room).
 * Zones are used when every node has one and there are at least two; if they cannot separate every
 * pair, hosts (Kubernetes nodes) are. The assignment is a bipartite matching (augmenting paths) that
 * starts from the current valid pairs, so a replica already well placed is moved only to make room.
 */
export const REPLICA_PLACEMENT_AWK = String.raw`
{
  id = $1; role[id] = $2; current[id] = $3; zone[id] = $4; host[id] = $5
  if ($2 == "master") masters[++masterCount] = id; else replicas[++replicaCount] = id
  if ($4 == "-") zoneMissing = 1; else if (!(($4) in zoneSeen)) { zoneSeen[$4] = 1; zoneCount++ }
}
function domainOf(node, level) { return level == "zone" ? zone[node] : host[node] }
function separate(replica, master, level) {
  return domainOf(replica, level) != "-" && domainOf(master, level) != "-" && domainOf(replica, level) != domainOf(master, level)
}
function assign(replica, master) {
  if (at[replica] != "") load[at[replica]]--
  at[replica] = master; load[master]++
}
function augment(replica, level,    i, j, master, other) {
  for (i = 1; i <= masterCount; i++) {
    master = masters[i]
    if (!visited[master] && load[master] < R && separate(replica, master, level)) { visited[master] = 1; assign(replica, master); return 1 }
  }
  for (i = 1; i <= masterCount; i++) {
    master = masters[i]
    if (visited[master] || !separate(replica, master, level)) continue
    visited[master] = 1
    for (j = 1; j <= replicaCount; j++) {
      other = replicas[j]
      if (at[other] == master && augment(other, level)) { assign(replica, master); return 1 }
    }
  }
  return 0
}
function place(level,    i, j, replica, unplaced) {
  for (i = 1; i <= masterCount; i++) load[masters[i]] = 0
  for (j = 1; j <= replicaCount; j++) {
    replica = replicas[j]; at[replica] = ""
    if ((current[replica] in role) && role[current[replica]] == "master" && load[current[replica]] < R && separate(replica, current[replica], level)) assign(replica, current[replica])
  }
  unplaced = 0
  for (j = 1; j <= replicaCount; j++) {
    replica = replicas[j]
    if (at[replica] != "") continue
    split("", visited)
    if (!augment(replica, level)) unplaced++
  }
  return unplaced
}
END {
  level = "host"
  if (!zoneMissing && zoneCount >= 2 && place("zone") == 0) level = "zone"
  else place("host")
  for (j = 1; j <= replicaCount; j++) {
    replica = replicas[j]
    if (at[replica] != "") continue
    # No master in another domain has room: keep the current master if it has room, else any with room.
    target = ""
    if ((current[replica] in role) && role[current[replica]] == "master" && load[current[replica]] < R) target = current[replica]
    for (i = 1; target == "" && i <= masterCount; i++) if (load[masters[i]] < R) target = masters[i]
    if (target == "") { print "shared " replica " " current[replica] " no-master-has-room"; continue }
    assign(replica, target)
    print "shared " replica " " target " same-" level
  }
  for (j = 1; j <= replicaCount; j++) {
    replica = replicas[j]
    if (at[replica] != "" && at[replica] != current[replica]) print "replicate " replica " " at[replica]
  }
}
`;

export interface BootstrapOptions {
    /** Every node as `host:port`, in pod order. */
    nodes: string[];
    /** Masters the cluster should have (the first nodes in pod order become them on a create). */
    masters: number;
    replicasPerMaster: number;
    /**
     * The script's deadline in seconds from its start: every wait (nodes answering, gossip,
     * agreement, cluster_state:ok) gives up past it; the `redis-cli --cluster` commands it runs (a
     * rebalance moving keys) are not cut short.
     */
    timeoutSeconds: number;
    /**
     * Where each node runs, for the replica placement: `pods.txt` (`<pod name> <host>` lines, the pod
     * name ending in its ordinal, the index of its node in `nodes`) and `zones.txt` (`<host> <zone>`).
     * Placement is skipped, with a warning, when pods.txt is absent.
     */
    topologyDir: string;
    /** How redis-cli connects. */
    client: RedisCliOptions;
}

/**
 * A POSIX sh script that forms and grows the cluster; safe to run any number of times. It connects
 * over TLS as the administrator, whose password it reads from REDISCLI_AUTH (never from its
 * arguments, which show in `ps`), waits for every node, and then:
 * - all nodes fresh (knowing only themselves, no slots): `redis-cli --cluster create`;
 * - some nodes members of the cluster (all slots assigned), the others fresh: a scale-out; the fresh
 *   nodes join with `--cluster add-node`;
 * - anything else (a node that knows others but the slots are not all assigned): it stops and
 *   changes nothing, since guessing could lose data.
 * Then it converges: the first empty masters up to `masters` keep the master role and receive slots
 * (`--cluster rebalance --cluster-use-empty-masters`, which moves keys with their slots), the other
 * empty masters become replicas, and replicas are placed away from their master's failure domain
 * (REPLICA_PLACEMENT_AWK). A cluster with more nodes than `nodes` (a scale-in) is refused: that is a
 * runbook (README), not something to guess. `redis-cli --cluster` needs IP addresses, so hostnames
 * are resolved first.
 */
export function renderBootstrapScript(options: BootstrapOptions): string {
    const total = options.nodes.length;
    const cli = redisCliCommand(options.client);
    return `#!/bin/sh
# Rendered by prepx-platform (components/redis/render.ts): idempotent Redis cluster bootstrap.
set -eu
: "\${REDISCLI_AUTH:?REDISCLI_AUTH must hold the administrator's password}"
NODES="${options.nodes.join(" ")}"
TOTAL=${total}
MASTERS=${options.masters}
REPLICAS=${options.replicasPerMaster}
SLOTS=${CLUSTER_SLOTS}
TOPOLOGY_DIR="${options.topologyDir}"
DEADLINE=$(( $(date +%s) + ${options.timeoutSeconds} ))

host_of() { printf '%s' "\${1%:*}"; }
port_of() { printf '%s' "\${1##*:}"; }
# sh has no local variables: the functions below use names of their own, never a caller's loop variable.
cli() { # node command...
  cli_node=$1; shift
  ${cli} -h "$(host_of "$cli_node")" -p "$(port_of "$cli_node")" "$@" 2>/dev/null | tr -d '\\r'
}
info_field() { cli "$1" cluster info | sed -n "s/^$2://p"; }
past_deadline() { [ "$(date +%s)" -ge "$DEADLINE" ]; }
wait_all_ok() { # a node that has not learned every slot yet answers CLUSTERDOWN, also to MIGRATE
  for ok_node in $NODES; do
    until [ "$(info_field "$ok_node" cluster_state)" = "ok" ]; do
      if past_deadline; then echo "bootstrap: cluster_state did not become ok on $ok_node in time" >&2; exit 1; fi
      sleep 1
    done
  done
}
resolve() { # host:port -> ip:port (redis-cli --cluster takes IP addresses only)
  resolved_ip=$(getent hosts "$(host_of "$1")" | awk 'NR == 1 {print $1}')
  if [ -z "$resolved_ip" ]; then echo "bootstrap: cannot resolve $1" >&2; exit 1; fi
  printf '%s:%s' "$resolved_ip" "$(port_of "$1")"
}

for node in $NODES; do
  until [ "$(cli "$node" ping)" = "PONG" ]; do
    if past_deadline; then echo "bootstrap: $node did not answer PING in time" >&2; exit 1; fi
    sleep 1
  done
done

# fresh: knows only itself, no slots. member: knows others and sees every slot assigned.
# Gossip takes a few seconds to tell every node about every other after a create or a restart:
# a node in between is asked again until the deadline before the script gives up.
while :; do
  fresh=""; members=""; partly=""
  for node in $NODES; do
    known=$(info_field "$node" cluster_known_nodes)
    assigned=$(info_field "$node" cluster_slots_assigned)
    if [ "$known" = "1" ] && [ "$assigned" = "0" ]; then fresh="$fresh $node"
    elif [ -n "$known" ] && [ "$known" -gt 1 ] && [ "$assigned" = "$SLOTS" ]; then members="$members $node"
    else partly="$partly $node/known-nodes=$known/slots=$assigned"; fi
  done
  if [ -z "$partly" ] || past_deadline; then break; fi
  sleep 1
done
if [ -n "$partly" ]; then
  for node in $partly; do echo "bootstrap: partly joined: $node" >&2; done
  echo "bootstrap: refusing to guess. Inspect with 'redis-cli --cluster check' and repair with 'redis-cli --cluster fix'" >&2
  exit 1
fi

if [ -z "$members" ]; then
  addresses=""
  for node in $NODES; do addresses="$addresses $(resolve "$node")"; done
  echo "bootstrap: creating the cluster:$addresses (replicas per master: $REPLICAS)"
  # shellcheck disable=SC2086
  ${cli} --cluster create $addresses --cluster-replicas "$REPLICAS" --cluster-yes
  fresh=""; members="$NODES"
elif [ -z "$fresh" ]; then
  echo "bootstrap: cluster already formed ($TOTAL nodes, $SLOTS slots assigned); checking roles and placement"
fi
# shellcheck disable=SC2086 # split into the member list on purpose
set -- $members; SEED=$1

# redis-cli --cluster refuses to add a node while the members' views differ (gossip of the last add).
wait_agreement() {
  while ${cli} --cluster check "$(resolve "$SEED")" 2>&1 | grep -q "don't agree"; do
    if past_deadline; then echo "bootstrap: the nodes did not agree about the configuration in time" >&2; exit 1; fi
    sleep 1
  done
}
wait_known() { # every node of the list knows exactly that many nodes, none still in handshake
  for known_node in $1; do
    until [ "$(info_field "$known_node" cluster_known_nodes)" = "$2" ] && [ -z "$(cli "$known_node" cluster nodes | awk '$3 ~ /handshake|noaddr/')" ]; do
      known=$(info_field "$known_node" cluster_known_nodes)
      if [ -n "$known" ] && [ "$known" -gt "$TOTAL" ]; then
        echo "bootstrap: the cluster has $known nodes, more than the $TOTAL configured: a scale-in is a runbook (README, Redis scale-in), refusing" >&2
        exit 1
      fi
      if past_deadline; then echo "bootstrap: $known_node knows $known of $2 nodes at the deadline" >&2; exit 1; fi
      sleep 1
    done
  done
}
joined="$members"
for node in $fresh; do
  # shellcheck disable=SC2086 # count the words of the list
  wait_known "$joined" "$(echo $joined | wc -w)"
  wait_agreement
  echo "bootstrap: adding $node to the cluster"
  ${cli} --cluster add-node "$(resolve "$node")" "$(resolve "$SEED")"
  joined="$joined $node"
done

# Every node must see every other (and no more) before roles and slots are read from one view and
# slots move (a node that does not know the new master yet refuses CLUSTER SETSLOT ... NODE).
wait_known "$NODES" "$TOTAL"

# The seed's CLUSTER NODES (id address flags master ... slots) lags a create or an add by seconds:
# whether a node is an empty master is asked of the node itself, and the roles are decided once
# every node sees every slot assigned.
view() { cli "$SEED" cluster nodes; }
node_id() { cli "$1" cluster myid; }
is_empty_master() { cli "$1" cluster nodes | awk '$3 ~ /myself/ && $3 ~ /master/ && NF == 8 {found = 1} END {exit !found}'; }
# The master (holding slots, or kept as a new master) with the fewest replicas, counting the ones
# this run already sent there.
least_replicated_master() { # kept-ids chosen-ids
  view | awk -v kept=" $1 " -v chosen="$2" '
    $3 ~ /master/ && $3 !~ /fail/ && (NF > 8 || index(kept, " " $1 " ")) { count[$1] += 0; order[++n] = $1 }
    $3 ~ /slave/ { replicas[$4]++ }
    END {
      m = split(chosen, c, " "); for (i = 1; i <= m; i++) replicas[c[i]]++
      for (i = 1; i <= n; i++) if (best == "" || replicas[order[i]] < replicas[best]) best = order[i]
      print best
    }'
}
wait_all_ok
slot_masters=$(view | awk '$3 ~ /master/ && NF > 8' | wc -l)
if [ "$slot_masters" -gt "$MASTERS" ]; then
  echo "bootstrap: $slot_masters masters hold slots, more than the $MASTERS configured: a scale-in is a runbook (README, Redis scale-in), refusing" >&2
  exit 1
fi
needed=$((MASTERS - slot_masters))
new_masters=0; kept=""; to_replicas=""
for node in $NODES; do
  is_empty_master "$node" || continue
  if [ "$needed" -gt 0 ]; then
    needed=$((needed - 1)); new_masters=$((new_masters + 1)); kept="$kept $(node_id "$node")"
    echo "bootstrap: $node stays a master and will receive slots"
  else
    to_replicas="$to_replicas $node"
  fi
done
chosen=""
for node in $to_replicas; do
  target=$(least_replicated_master "$kept" "$chosen")
  echo "bootstrap: $node becomes a replica of $target"
  cli "$node" cluster replicate "$target" >/dev/null
  chosen="$chosen $target"
done
empty_masters() { view | awk '$3 ~ /master/ && NF == 8 && $3 !~ /fail/' | wc -l; }
# rebalance reads roles from the seed's view: let it see the new replicas as replicas first.
until [ "$(empty_masters)" -le "$new_masters" ] || past_deadline; do sleep 1; done
# A run stopped half-way through a migration leaves slots open; --cluster fix closes them.
open_slots() { ${cli} --cluster check "$(resolve "$SEED")" | grep -Eq 'in (migrating|importing) state'; }
if [ "$(empty_masters)" -gt 0 ] || open_slots; then
  wait_all_ok
  wait_agreement
  if open_slots; then
    echo "bootstrap: closing slots a previous run left open"
    ${cli} --cluster fix "$(resolve "$SEED")" --cluster-yes
  fi
  echo "bootstrap: moving slots (and their keys) to the new master(s)"
  ${cli} --cluster rebalance "$(resolve "$SEED")" --cluster-use-empty-masters
fi

# Replicas away from their master's failure domain (see REPLICA_PLACEMENT_AWK in render.ts).
PLACEMENT_PROGRAM=$(cat <<'AWK'
${REPLICA_PLACEMENT_AWK.trim()}
AWK
)
if [ "$REPLICAS" -gt 0 ] && [ -r "$TOPOLOGY_DIR/pods.txt" ]; then
  # Placement reads one node's view: let it see every replica first (gossip lags a create by seconds).
  wait_all_ok
  until [ "$(view | awk '$3 ~ /slave/' | wc -l)" -eq $((TOTAL - MASTERS)) ] || past_deadline; do sleep 1; done
  placement_input=""; ordinal=0
  for node in $NODES; do
    id=$(node_id "$node")
    host=$(awk -v ordinal="$ordinal" '{ n = $1; sub(/.*-/, "", n) } n == ordinal && $2 != "" { print $2; exit }' "$TOPOLOGY_DIR/pods.txt")
    zone=$(awk -v host="$host" '$1 == host && $2 != "" { print $2; exit }' "$TOPOLOGY_DIR/zones.txt" 2>/dev/null || true)
    line=$(view | awk -v id="$id" -v host="\${host:--}" -v zone="\${zone:--}" '$1 == id {
      role = ($3 ~ /master/ && NF > 8) ? "master" : "replica"; print id " " role " " $4 " " zone " " host }')
    placement_input="$placement_input$line
"
    ordinal=$((ordinal + 1))
  done
  printf '%s' "$placement_input" | awk -v R="$REPLICAS" "$PLACEMENT_PROGRAM" | while read -r action replica master why; do
    if [ "$action" = "shared" ]; then
      echo "bootstrap: WARNING replica $replica shares a failure domain with master $master ($why): one node or zone loss can take both" >&2
    else
      echo "bootstrap: replica $replica now replicates $master (placement)"
      target=""
      for node in $NODES; do if [ "$(node_id "$node")" = "$replica" ]; then target=$node; fi; done
      cli "$target" cluster replicate "$master" >/dev/null
    fi
  done
elif [ "$REPLICAS" -gt 0 ]; then
  echo "bootstrap: WARNING no topology in $TOPOLOGY_DIR: replicas left where redis-cli put them" >&2
fi

wait_all_ok
echo "bootstrap: cluster_state:ok on all $TOTAL nodes ($MASTERS masters, $REPLICAS replicas each)"
`;
}
