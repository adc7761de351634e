// RedisCluster's rendered redis.conf, ACL file and bootstrap script on six real redis-server
// processes (Debian's redis-server, 127.0.0.1 only, TLS only with an openssl-made CA): the cluster
// forms, the bootstrap is idempotent, writes acknowledged with WAIT survive killing a master, a
// replica is promoted and the old master rejoins as a replica, all over TLS as the administrator.
import * as fs from "fs";
import * as path from "path";
import { CLUSTER_BUS_OFFSET, CLUSTER_SLOTS, redisPodCount, redisServerArgs, renderBootstrapScript } from "../../components/redis/render";
import { bootstrapScriptOptions } from "../../components/redis/specs";
import { cli, cliOptions, clusterInfo, ClusterNode, clusterNodes, createCertificates, env, keySlot, ownsSlot, pipeline, prod, testCertificates, writeNodeConfig } from "./redis-support";
import { freePorts, makeTempDir, report, run, killServer, Server, startServer, stopAllServers, waitFor } from "./support";

const NODE_COUNT = redisPodCount(prod.masters, prod.replicasPerMaster);

let root: string;
let ports: number[];
const servers = new Map<number, Server>();

/** One node's files, rendered exactly as the component renders them, and its server process. */
function startNode(port: number): Server {
    const dir = path.join(root, String(port));
    const confPath = writeNodeConfig(dir, port);
    const server = startServer(`redis-${port}`, "redis-server", redisServerArgs(confPath, "127.0.0.1"), path.join(dir, "server.log"));
    servers.set(port, server);
    return server;
}

/** The cluster's shape without run-time noise (ping times, epochs): for idempotency checks. */
function topology(nodes: ClusterNode[]): string[] {
    return nodes.map((node) => `${node.id} ${node.port} ${node.role} ${node.masterId} ${node.slots}`).sort();
}

async function runBootstrap(): Promise<string> {
    const scriptPath = path.join(root, "bootstrap.sh");
    fs.writeFileSync(
        scriptPath,
        // A minute, not the pods' ten minutes: local processes answer at once.
        renderBootstrapScript({ ...bootstrapScriptOptions(prod, ports.map((port) => `127.0.0.1:${port}`), cliOptions()), timeoutSeconds: 60 }),
    );
    const { stdout } = await run("sh", [scriptPath], { env, timeoutMs: 90000 });
    return stdout;
}

beforeAll(async () => {
    root = makeTempDir("redis");
    await createCertificates(path.join(root, "tls"));
    ports = await freePorts(NODE_COUNT, CLUSTER_BUS_OFFSET);
    ports.forEach(startNode);
    await waitFor("every node to answer PING", async () => (await Promise.all(ports.map((p) => cli(p, "ping")))).every((r) => r === "PONG"), 15000);
});

afterAll(async () => {
    await stopAllServers();
    if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe("Redis cluster from the rendered config (Debian redis-server)", () => {
    let formedTopology: string[];

    test("the rendered bootstrap forms 3 masters + 3 replicas over all 16384 slots", async () => {
        const started = Date.now();
        const output = await runBootstrap();
        expect(output).toContain("creating the cluster");
        await waitFor("cluster_state:ok on every node", async () => (await Promise.all(ports.map(clusterInfo))).every((i) => i.cluster_state === "ok"), 30000);
        const okAfter = Date.now() - started;
        // Replicas attach a moment after the state turns ok: wait for the count, not just the state.
        const nodes = await waitFor(
            "3 replicas attached",
            async () => {
                const list = await clusterNodes(ports[0]);
                return list.filter((n) => n.role === "slave" && n.connected).length === prod.masters * prod.replicasPerMaster ? list : undefined;
            },
            30000,
        );
        report(`redis: bootstrap to cluster_state:ok on all ${NODE_COUNT} nodes in ${okAfter} ms; replicas attached after ${Date.now() - started} ms`);
        const info = await clusterInfo(ports[0]);
        expect(info.cluster_slots_assigned).toBe(String(CLUSTER_SLOTS));
        expect(info.cluster_known_nodes).toBe(String(NODE_COUNT));
        expect(info.cluster_size).toBe(String(prod.masters));
        expect(nodes.filter((n) => n.role === "master")).toHaveLength(prod.masters);
        expect(nodes.filter((n) => n.role === "slave")).toHaveLength(prod.masters * prod.replicasPerMaster);
        // Every master has its replica.
        for (const master of nodes.filter((n) => n.role === "master")) {
            expect(nodes.filter((n) => n.masterId === master.id)).toHaveLength(prod.replicasPerMaster);
        }
        formedTopology = topology(nodes);
    });

    test("a password is required (the default user is off) and the announced hostname is used", async () => {
        const tlsArgs = ["--tls", "--cacert", testCertificates().caFile, "-h", "127.0.0.1", "-p", String(ports[0])];
        await expect(run("redis-cli", [...tlsArgs, "ping"], { timeoutMs: 5000 }).then((r) => r.stdout)).resolves.toMatch(/NOAUTH/);
        await expect(run("redis-cli", [...tlsArgs, "--user", "default", "--pass", "anything", "--no-auth-warning", "ping"], { timeoutMs: 5000 }).then((r) => r.stdout + r.stderr)).resolves.toMatch(
            /WRONGPASS/,
        );
        const shards = await cli(ports[0], "cluster", "shards");
        expect(shards).toContain("hostname");
    });

    test("running the bootstrap again changes nothing", async () => {
        const output = await runBootstrap();
        expect(output).toContain("already formed");
        expect(output).not.toContain("creating the cluster");
        expect(topology(await clusterNodes(ports[0]))).toEqual(formedTopology);
    });

    test("writes acknowledged with WAIT survive killing a master; its replica is promoted; it rejoins as a replica", async () => {
        const nodes = await clusterNodes(ports[0]);
        const victim = nodes.find((n) => n.role === "master")!;
        const replica = nodes.find((n) => n.masterId === victim.id)!;
        // A hash tag whose slot the victim owns, so every key lands on it.
        await waitFor(
            "the victim's replica to finish its initial sync",
            async () => /master_link_status:up/.test(await cli(replica.port, "info", "replication")) && !/master_sync_in_progress:1/.test(await cli(replica.port, "info", "replication")),
            15000,
        );
        let tag = 0;
        while (!ownsSlot(victim.slots, keySlot(`{t${tag}}`))) tag++;
        const keys = Array.from({ length: 300 }, (_, i) => `{t${tag}}:order:${i}`);
        const replies = await pipeline(
            victim.port,
            keys.flatMap((key, i) => [`SET ${key} v${i}`, "WAIT 1 1000"]),
        );
        const acknowledged = keys.filter((_, i) => replies[2 * i] === "OK" && Number(replies[2 * i + 1]) >= 1);
        // WAIT's reply is the acknowledgement: only writes a replica confirmed are promised to survive.
        expect(acknowledged.length).toBeGreaterThanOrEqual(keys.length * 0.95);

        const killedAt = Date.now();
        await killServer(servers.get(victim.port)!); // SIGKILL: no clean shutdown, no handover
        const survivor = ports.find((p) => p !== victim.port)!;
        await waitFor(
            "the replica to be promoted and the cluster to be ok",
            async () => {
                const info = await clusterInfo(replica.port);
                const role = (await cli(replica.port, "role")).split("\n")[0];
                return info.cluster_state === "ok" && role === "master";
            },
            30000,
            100,
        );
        const failoverMs = Date.now() - killedAt;
        // Every other node learns of the failure and then of the promotion by gossip, each in its
        // own time: a node may still say fail a moment after the promoted replica says ok.
        const survivors = ports.filter((p) => p !== victim.port);
        await waitFor("cluster_state:ok on every surviving node", async () => (await Promise.all(survivors.map(clusterInfo))).every((i) => i.cluster_state === "ok"), 2 * prod.clusterNodeTimeoutMs + 10000, 100);
        report(
            `redis: master on port ${victim.port} killed; replica ${replica.port} promoted, cluster_state:ok after ${failoverMs} ms, ` +
                `on all ${survivors.length} survivors after ${Date.now() - killedAt} ms (cluster-node-timeout ${prod.clusterNodeTimeoutMs} ms)`,
        );

        const values = await pipeline(replica.port, acknowledged.map((key) => `GET ${key}`));
        const lost = acknowledged.filter((key, i) => values[i] !== `v${keys.indexOf(key)}`);
        report(`redis: ${acknowledged.length} of ${keys.length} writes acknowledged by WAIT before the kill, ${lost.length} of them lost`);
        expect(lost).toEqual([]);

        const restartedAt = Date.now();
        startNode(victim.port);
        await waitFor(
            "the old master to rejoin as a replica of the promoted node",
            async () => {
                const role = (await cli(victim.port, "role")).split("\n");
                const info = await cli(victim.port, "info", "replication");
                return role[0] === "slave" && role[2] === String(replica.port) && /master_link_status:up/.test(info);
            },
            30000,
            100,
        );
        report(`redis: killed node restarted and rejoined as a replica in ${Date.now() - restartedAt} ms`);
        const after = await clusterNodes(survivor);
        expect(after.filter((n) => n.role === "master")).toHaveLength(prod.masters);
        expect(after.filter((n) => n.role === "slave" && !n.failed)).toHaveLength(prod.masters * prod.replicasPerMaster);
        expect((await pipeline(victim.port, ["READONLY", `GET ${acknowledged[0]}`]))[1]).toBe("v0");
    });
});
