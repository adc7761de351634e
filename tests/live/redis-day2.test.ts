// RedisCluster's day-two operations on real redis-server processes (Debian's, 127.0.0.1 only), each
// node running beside it the rendered cluster-heal loop, and probed with the rendered readiness
// script: replicas placed away from their master's (fake) host, a full restart on new addresses that
// heals by itself, a rolling restart under WAIT-acknowledged writes, and a scale-out from 3 to 4
// masters with data. Clients, replication and the cluster bus speak TLS; the scripts connect as the
// administrator ACL user.
//
// In pods a restart keeps the port and changes the IP, which cluster-heal finds in DNS; here every
// server shares 127.0.0.1, so a "new address" is a new port, which the same loop reads from an
// address file (PeerAddressSource). Everything else is the rendered text the pods run.
import * as fs from "fs";
import * as path from "path";
import { CLUSTER_BUS_OFFSET, CLUSTER_SLOTS, redisPodCount, redisServerArgs, renderBootstrapScript, renderClusterHealScript, renderReadinessScript } from "../../components/redis/render";
import { bootstrapScriptOptions } from "../../components/redis/specs";
import {
    cli,
    cliOptions,
    clusterInfo,
    clusterNodes,
    ClusterNode,
    createCertificates,
    env,
    mountNodeAuth,
    nodeHealUsers,
    ownerPort,
    pipeline,
    prod,
    RespConnection,
    RespError,
    slotCount,
    TEST_AUTH,
    testCertificates,
    USERS,
    writeNodeConfig,
} from "./redis-support";
import { freePorts, killServer, makeTempDir, report, run, Server, sleep, startServer, stopAllServers, stopServer, waitFor } from "./support";

/** Fake Kubernetes nodes: three hosts in three zones; pod i runs on host i % 3, so redis-cli's pairs can collide. */
const HOSTS = ["host-a", "host-b", "host-c"];
const ZONES: Record<string, string> = { "host-a": "zone-1", "host-b": "zone-2", "host-c": "zone-3" };
const HEAL_INTERVAL_SECONDS = 1;

let root: string;
let addressFile: string;
let topologyDir: string;
/** Node i's current port (a pod's IP, here). */
const ports: number[] = [];
const running = new Map<number, { server: Server; heal: Server }>();

function hostnameOf(ordinal: number): string {
    return `redis-${ordinal}.live`;
}

function podHost(ordinal: number): string {
    return HOSTS[ordinal % HOSTS.length];
}

/** The address file cluster-heal reads: `hostname 127.0.0.1:port` per node (DNS, in pods). */
function writeAddresses(): void {
    fs.writeFileSync(addressFile, ports.map((port, ordinal) => `${hostnameOf(ordinal)} 127.0.0.1:${port}\n`).join(""));
}

/** pods.txt and zones.txt as the Job's topology init container writes them. */
function writeTopology(count: number): void {
    fs.mkdirSync(topologyDir, { recursive: true });
    fs.writeFileSync(path.join(topologyDir, "pods.txt"), Array.from({ length: count }, (_, i) => `redis-${i} ${podHost(i)}\n`).join(""));
    fs.writeFileSync(path.join(topologyDir, "zones.txt"), HOSTS.map((host) => `${host} ${ZONES[host]}\n`).join(""));
}

/** Node `ordinal`'s files, rendered as the component renders them, its server and its cluster-heal loop. */
function startNode(ordinal: number): void {
    const port = ports[ordinal];
    const dir = path.join(root, `node-${ordinal}`);
    const confPath = writeNodeConfig(dir, port);
    const healPath = path.join(dir, "cluster-heal.sh");
    fs.writeFileSync(healPath, renderClusterHealScript({ port, client: cliOptions(), tls: testCertificates(), intervalSeconds: HEAL_INTERVAL_SECONDS, peers: { kind: "file", path: addressFile }, users: nodeHealUsers(dir) }));
    fs.writeFileSync(path.join(dir, "readiness.sh"), renderReadinessScript(port, cliOptions()));
    const server = startServer(`redis-${ordinal}`, "redis-server", redisServerArgs(confPath, hostnameOf(ordinal)), path.join(dir, "server.log"));
    const heal = startServer(`heal-${ordinal}`, "sh", [healPath], path.join(dir, "heal.log"), { env });
    running.set(ordinal, { server, heal });
}

async function stopNode(ordinal: number): Promise<void> {
    const node = running.get(ordinal);
    if (!node) return;
    await Promise.all([stopServer(node.server, 15000), stopServer(node.heal)]);
    running.delete(ordinal);
}

/** The rendered readiness script of node `ordinal`: exit 0 = ready. */
async function isReady(ordinal: number): Promise<boolean> {
    try {
        await run("sh", [path.join(root, `node-${ordinal}`, "readiness.sh")], { env, timeoutMs: 5000 });
        return true;
    } catch {
        return false;
    }
}

async function runBootstrap(count: number, masters: number): Promise<string> {
    const scriptPath = path.join(root, "bootstrap.sh");
    const nodes = ports.slice(0, count).map((port) => `127.0.0.1:${port}`);
    fs.writeFileSync(scriptPath, renderBootstrapScript({ ...bootstrapScriptOptions({ ...prod, masters }, nodes, cliOptions()), timeoutSeconds: 90, topologyDir }));
    const { stdout, stderr } = await run("sh", [scriptPath], { env, timeoutMs: 180000 }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`bootstrap failed:\n${error.stdout ?? ""}\n${error.stderr ?? error.message}`);
    });
    return `${stdout}\n${stderr}`;
}

async function allOk(count: number): Promise<boolean> {
    const infos = await Promise.all(ports.slice(0, count).map((port) => clusterInfo(port)));
    return infos.every((info) => info.cluster_state === "ok");
}

/** Master/replica pairs whose fake hosts coincide. */
function sharedHosts(nodes: ClusterNode[]): string[] {
    const ordinalOf = (port: number) => ports.indexOf(port);
    return nodes
        .filter((node) => node.role === "slave")
        .flatMap((replica) => {
            const master = nodes.find((node) => node.id === replica.masterId);
            return master && podHost(ordinalOf(master.port)) === podHost(ordinalOf(replica.port)) ? [`${replica.port}->${master.port}`] : [];
        });
}

/** Writes `keys` through their owners, `SET` then the value read back from the owner of each. */
async function writeKeys(keys: string[]): Promise<void> {
    const nodes = await clusterNodes(ports[0]);
    const byOwner = new Map<number, string[]>();
    for (const key of keys) byOwner.set(ownerPort(nodes, key)!, [...(byOwner.get(ownerPort(nodes, key)!) ?? []), key]);
    for (const [port, owned] of byOwner) {
        const replies = await pipeline(port, owned.map((key) => `SET ${key} value-of-${key}`));
        expect(replies.every((line) => line === "OK")).toBe(true);
    }
}

/** Keys whose value, read from the master owning them now, is not the one written. */
async function missingKeys(keys: string[], alive: number): Promise<string[]> {
    const nodes = await clusterNodes(ports[0]);
    const byOwner = new Map<number, string[]>();
    for (const key of keys) byOwner.set(ownerPort(nodes, key) ?? -1, [...(byOwner.get(ownerPort(nodes, key) ?? -1) ?? []), key]);
    const missing: string[] = [];
    for (const [port, owned] of byOwner) {
        if (port < 0 || !ports.slice(0, alive).includes(port)) {
            missing.push(...owned);
            continue;
        }
        const values = await pipeline(port, owned.map((key) => `GET ${key}`));
        owned.forEach((key, i) => {
            if (values[i] !== `value-of-${key}`) missing.push(key);
        });
    }
    return missing;
}

const KEYS = Array.from({ length: 3000 }, (_, i) => `day2:${i}`);
const NODE_COUNT = redisPodCount(prod.masters, prod.replicasPerMaster);

beforeAll(async () => {
    root = makeTempDir("redis-day2");
    addressFile = path.join(root, "addresses");
    topologyDir = path.join(root, "topology");
    await createCertificates(path.join(root, "tls"));
    ports.push(...(await freePorts(NODE_COUNT, CLUSTER_BUS_OFFSET)));
    writeAddresses();
    writeTopology(NODE_COUNT);
    for (let i = 0; i < NODE_COUNT; i++) startNode(i);
    await waitFor("every node to answer PING", async () => (await Promise.all(ports.map((p) => cli(p, "ping")))).every((r) => r === "PONG"), 15000);
});

afterAll(async () => {
    await stopAllServers();
    if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe("Redis day two from the rendered scripts (Debian redis-server)", () => {
    test("fresh nodes are ready (the bootstrap needs them), the bootstrap forms the cluster and no replica shares its master's host", async () => {
        expect(await Promise.all(ports.map((_, i) => isReady(i)))).toEqual(ports.map(() => true));
        const output = await runBootstrap(NODE_COUNT, prod.masters);
        expect(output).toContain("creating the cluster");
        const moves = (output.match(/now replicates/g) ?? []).length;
        const nodes = await waitFor(
            "every replica attached to its placed master",
            async () => {
                const list = await clusterNodes(ports[0]);
                const balanced = list.filter((n) => n.role === "master").every((master) => list.filter((n) => n.masterId === master.id).length === prod.replicasPerMaster);
                return list.filter((n) => n.role === "slave" && n.connected && !n.failed).length === prod.masters * prod.replicasPerMaster && balanced && sharedHosts(list).length === 0 ? list : undefined;
            },
            30000,
        );
        report(`redis: replica placement over ${HOSTS.length} fake hosts: ${moves} CLUSTER REPLICATE move(s) after redis-cli's create; master/replica pairs sharing a host: ${sharedHosts(nodes).length}`);
        expect(output).not.toContain("WARNING replica");
        for (const master of nodes.filter((n) => n.role === "master")) expect(nodes.filter((n) => n.masterId === master.id)).toHaveLength(prod.replicasPerMaster);
        await waitFor("every node ready by the rendered readiness script", async () => (await Promise.all(ports.map((_, i) => isReady(i)))).every(Boolean), 30000);
        await writeKeys(KEYS);
        const again = await runBootstrap(NODE_COUNT, prod.masters);
        expect(again).toContain("already formed");
        expect(again).not.toMatch(/now replicates|creating|adding/);
    });

    test("all nodes stopped and started on new addresses: the cluster heals by itself, every key intact", async () => {
        await Promise.all(ports.map((_, i) => stopNode(i)));
        const fresh = await freePorts(NODE_COUNT, CLUSTER_BUS_OFFSET);
        ports.splice(0, NODE_COUNT, ...fresh);
        writeAddresses();
        const startedAt = Date.now();
        for (let i = 0; i < NODE_COUNT; i++) startNode(i);
        await waitFor("cluster_state:ok on every node at its new address", () => allOk(NODE_COUNT), 90000, 200);
        const okAfter = Date.now() - startedAt;
        await waitFor("every node ready", async () => (await Promise.all(ports.map((_, i) => isReady(i)))).every(Boolean), 60000);
        report(`redis: full restart of ${NODE_COUNT} nodes on new addresses: cluster_state:ok on all after ${okAfter} ms, all ready after ${Date.now() - startedAt} ms (cluster-heal every ${HEAL_INTERVAL_SECONDS} s here, 5 s in pods)`);
        const nodes = await clusterNodes(ports[0]);
        expect(nodes.every((n) => ports.includes(n.port) && !n.failed)).toBe(true);
        const missing = await missingKeys(KEYS, NODE_COUNT);
        report(`redis: ${KEYS.length - missing.length} of ${KEYS.length} keys read back after the full restart`);
        expect(missing).toEqual([]);
    });

    test("a rolling restart gated by the readiness script loses no WAIT-acknowledged write", async () => {
        const acknowledged = new Map<string, string>();
        let attempts = 0;
        let stop = false;
        const connections = new Map<number, RespConnection>();
        let view = await clusterNodes(ports[0]);
        const writer = (async () => {
            const deadline = Date.now() + 180000;
            while (!stop && Date.now() < deadline && attempts < 200000) {
                const key = `roll:${attempts++}`;
                const port = ownerPort(view, key);
                try {
                    if (port === undefined) throw new Error("no owner");
                    let connection = connections.get(port);
                    if (!connection) {
                        connection = await RespConnection.open(port, USERS.admin);
                        connections.set(port, connection);
                    }
                    const set = await connection.command(["SET", key, `v${attempts}`]);
                    const replicas = await connection.command(["WAIT", "1", "500"]);
                    if (set === "OK" && typeof replicas === "number" && replicas >= 1) acknowledged.set(key, `v${attempts}`);
                    if (set instanceof RespError) throw set;
                } catch {
                    connections.get(port ?? -1)?.close();
                    connections.delete(port ?? -1);
                    await sleep(50);
                    view = await clusterNodes(ports.find((p) => running.has(ports.indexOf(p)))!).catch(() => view);
                }
            }
        })();
        const rollStarted = Date.now();
        const waits: number[] = [];
        // The StatefulSet controller: highest ordinal first, the next only once this one is ready.
        for (let ordinal = NODE_COUNT - 1; ordinal >= 0; ordinal--) {
            await stopNode(ordinal);
            const restartedAt = Date.now();
            startNode(ordinal);
            await waitFor(`node ${ordinal} ready by the rendered readiness script`, () => isReady(ordinal), 90000, 500);
            waits.push(Date.now() - restartedAt);
        }
        await sleep(1000);
        stop = true;
        await writer;
        for (const connection of connections.values()) connection.close();
        const rollMs = Date.now() - rollStarted;
        await waitFor("cluster_state:ok everywhere", () => allOk(NODE_COUNT), 30000);
        const keys = [...acknowledged.keys()];
        const nodes = await clusterNodes(ports[0]);
        const lost: string[] = [];
        for (const key of keys) {
            const value = await (async () => {
                const connection = await RespConnection.open(ownerPort(nodes, key)!, USERS.admin);
                try {
                    return await connection.command(["GET", key]);
                } finally {
                    connection.close();
                }
            })();
            if (value !== acknowledged.get(key)) lost.push(key);
            if (lost.length > 20) break;
        }
        report(
            `redis: rolling restart of ${NODE_COUNT} nodes in ${rollMs} ms (restart to ready per node: min ${Math.min(...waits)} / max ${Math.max(...waits)} ms); ${attempts} writes tried, ${acknowledged.size} acknowledged by WAIT, ${lost.length} of them lost`,
        );
        expect(acknowledged.size).toBeGreaterThan(100);
        expect(lost).toEqual([]);
    });

    test("scale-out from 3 to 4 masters (8 nodes): the bootstrap adds the fresh nodes, rebalances, keeps every key", async () => {
        const count = 4 * (1 + prod.replicasPerMaster);
        ports.push(...(await freePorts(count - NODE_COUNT, CLUSTER_BUS_OFFSET)).filter((p) => !ports.includes(p)));
        expect(ports).toHaveLength(count);
        writeAddresses();
        writeTopology(count);
        for (let i = NODE_COUNT; i < count; i++) startNode(i);
        await waitFor("the new nodes to answer PING", async () => (await Promise.all(ports.slice(NODE_COUNT).map((p) => cli(p, "ping")))).every((r) => r === "PONG"), 15000);
        const startedAt = Date.now();
        const output = await runBootstrap(count, 4);
        const tookMs = Date.now() - startedAt;
        expect(output).toContain("adding");
        expect(output).not.toContain("creating the cluster");
        // The view of one node catches up with the placement's CLUSTER REPLICATE moves within seconds.
        const nodes = await waitFor(
            "4 masters, each with one attached replica on another host",
            async () => {
                const list = await clusterNodes(ports[0]);
                const masters = list.filter((n) => n.role === "master" && n.slots !== "");
                const balanced = masters.every((master) => list.filter((n) => n.masterId === master.id && n.connected).length === 1);
                return masters.length === 4 && balanced && sharedHosts(list).length === 0 ? list : undefined;
            },
            60000,
        );
        const slots = nodes.filter((n) => n.role === "master").map((n) => slotCount(n.slots));
        expect(slots.reduce((a, b) => a + b, 0)).toBe(CLUSTER_SLOTS);
        // rebalance's default threshold is 2%: every master within it of an even share.
        for (const held of slots) expect(Math.abs(held - CLUSTER_SLOTS / 4)).toBeLessThanOrEqual(CLUSTER_SLOTS * 0.02);
        for (const master of nodes.filter((n) => n.role === "master")) expect(nodes.filter((n) => n.masterId === master.id)).toHaveLength(1);
        expect(sharedHosts(nodes)).toEqual([]);
        const missing = await missingKeys(KEYS, count);
        report(`redis: scale-out 3 -> 4 masters (${NODE_COUNT} -> ${count} nodes) by the bootstrap in ${tookMs} ms; slots per master ${slots.join("/")}; ${KEYS.length - missing.length} of ${KEYS.length} keys readable`);
        expect(missing).toEqual([]);
        const again = await runBootstrap(count, 4);
        expect(again).toContain("already formed");
        expect(again).not.toMatch(/now replicates|creating|adding|moving slots/);
    });

    test("readiness is not PING: a replica whose master died is not ready until it is promoted", async () => {
        const count = ports.length;
        // The replica's own ROLE names its master (another node's view may lag a recent move).
        const replicaOrdinal = ports.length - 1;
        const role = (await cli(ports[replicaOrdinal], "role")).split("\n");
        expect(role[0]).toBe("slave");
        const masterOrdinal = ports.indexOf(Number(role[2]));
        const replica = { port: ports[replicaOrdinal] };
        await waitFor("the replica ready (synced) before the kill", () => isReady(replicaOrdinal), 30000);
        const killedAt = Date.now();
        const killed = running.get(masterOrdinal)!;
        await killServer(killed.server);
        await stopServer(killed.heal);
        running.delete(masterOrdinal);
        // PING still answers PONG on the replica; the readiness script sees the link down.
        expect(await cli(replica.port, "ping")).toBe("PONG");
        await waitFor("the replica to be not ready", async () => !(await isReady(replicaOrdinal)), 5000, 100);
        const notReadyAfter = Date.now() - killedAt;
        await waitFor("the replica promoted and ready", () => isReady(replicaOrdinal), 60000, 200);
        report(`redis: master killed: its replica not ready after ${notReadyAfter} ms (PING still PONG), promoted and ready again after ${Date.now() - killedAt} ms`);
        startNode(masterOrdinal);
        await waitFor("every node ready again", async () => (await Promise.all(ports.map((_, i) => isReady(i)))).every(Boolean), 60000);
        await waitFor("cluster_state:ok everywhere", () => allOk(count), 30000);
    });

    test("an administrator password rotated in every node's mounted Secret: applied without a restart, masterauth follows, replicas re-sync with it once the old one is revoked", async () => {
        const count = ports.length;
        await waitFor("every node ready", async () => (await Promise.all(ports.map((_, i) => isReady(i)))).every(Boolean), 60000);
        const replicaPorts = (await clusterNodes(ports[0])).filter((node) => node.role === "slave").map((node) => node.port);
        expect(replicaPorts.length).toBeGreaterThan(0);
        const processIds = await Promise.all(ports.map(async (port) => (await cli(port, "info", "server")).match(/^process_id:(\d+)/m)?.[1]));
        const rotated = { user: USERS.admin.user, password: `${USERS.admin.password}-rotated` };
        for (let i = 0; i < count; i++) mountNodeAuth(path.join(root, `node-${i}`), { ...TEST_AUTH, admin: rotated.password });
        const swappedAt = Date.now();
        const masterauthOf = async (port: number) => (await cli(port, "config", "get", "masterauth")).split("\n")[1]?.trim();
        await waitFor("masterauth to be the new password on every node", async () => (await Promise.all(ports.map(masterauthOf))).every((value) => value === rotated.password), 20000, 200);
        const appliedMs = Date.now() - swappedAt;
        // Revoke the old password everywhere (what a rolling restart does), as the new administrator.
        const connections = await Promise.all(ports.map((port) => RespConnection.open(port, rotated)));
        try {
            for (const connection of connections) expect(await connection.command(["ACL", "SETUSER", USERS.admin.user, `<${USERS.admin.password}`])).toBe("OK");
            for (const port of ports) await expect(RespConnection.open(port, USERS.admin)).rejects.toThrow(/WRONGPASS/);
            const replicas: number[] = [];
            for (const [i, connection] of connections.entries()) {
                if (/^role:slave/m.test(String(await connection.command(["INFO", "replication"])))) replicas.push(i);
            }
            expect(replicas.map((i) => ports[i]).sort((a, b) => a - b)).toEqual(replicaPorts.sort((a, b) => a - b));
            const linkUp = async (i: number) => /^master_link_status:up/m.test(String(await connections[i].command(["INFO", "replication"])));
            // ACL LOAD on a master ends its replicas' connections (they authenticate as the administrator):
            // wait until each has reconnected before killing its link on purpose.
            await waitFor("every replica's link up after the reload", async () => (await Promise.all(replicas.map(linkUp))).every(Boolean), 30000, 200);
            // Every replica drops its link to its master and reconnects, authenticating with masterauth.
            for (const i of replicas) expect(await connections[i].command(["CLIENT", "KILL", "TYPE", "master"])).toBe(1);
            await waitFor("every replica's link up again with the new masterauth", async () => (await Promise.all(replicas.map(linkUp))).every(Boolean), 30000, 200);
            const states = await Promise.all(connections.map(async (connection) => String(await connection.command(["CLUSTER", "INFO"]))));
            expect(states.every((info) => /^cluster_state:ok/m.test(info))).toBe(true);
            const after = await Promise.all(connections.map(async (connection) => String(await connection.command(["INFO", "server"])).match(/^process_id:(\d+)/m)?.[1]));
            expect(after).toEqual(processIds);
            report(`redis acl: administrator password rotated on ${count} nodes: masterauth set on all after ${appliedMs} ms; old password revoked, ${replicas.length} replicas re-synced with the new one, no restart`);
        } finally {
            for (const connection of connections) connection.close();
        }
    });
});
