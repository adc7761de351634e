// RedisCluster's transport and access rules on a real redis-server (Debian's, 127.0.0.1 only): the
// rendered redis.conf serves TLS only, the rendered ACL file gives each user what its doc
// comment in render.ts says and nothing more, and the client timeout and output-buffer limit
// disconnect what they should; Debian's redis_exporter scrapes the node over TLS as the exporter
// user with the sidecar's rendered environment; the rendered cluster-heal loop reloads a renewed
// certificate and applies a changed auth Secret (rotated passwords, a new app user) without a restart. One
// cluster-enabled node holding every slot suffices: no rule here depends on the number of nodes (the
// cluster tests run the same files on six and eight).
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import * as tls from "tls";
import { CLUSTER_BUS_OFFSET, redisServerArgs, renderClusterHealScript } from "../../components/redis/render";
import {
    cli,
    cliOptions,
    clusterInfo,
    createCertificates,
    env,
    mountNodeAuth,
    nodeHealUsers,
    prod,
    renewCertificate,
    RespConnection,
    RespError,
    type RespReply,
    TEST_AUTH,
    testCertificates,
    USERS,
    writeNodeConfig,
} from "./redis-support";
import { redisClusterArgsSchema } from "../../components/redis/args";
import { exporterContainer } from "../../components/redis/specs";
import type { EnvVar } from "../../components/k8s";
import { freePort, freePorts, loopbackGet, makeTempDir, report, run, sleep, startServer, stopAllServers, waitFor } from "./support";
import { noCertificates } from "../helpers/mocks";

/** Short enough to wait for in a test; the stacks' value is a setting (clientIdleTimeoutSeconds). */
const IDLE_TIMEOUT_SECONDS = 2;
/** A normal client's hard output-buffer limit here; a reply larger than it disconnects the client. */
const NORMAL_HARD_LIMIT = "1mb";

let root: string;
let port: number;
let serverLog: string;
/** The node's directory: its redis.conf and its mounted auth Secret. */
let nodeDir: string;
/** The log of the rendered cluster-heal loop, once started (startClusterHeal). */
let healLog: string | undefined;

beforeAll(async () => {
    root = makeTempDir("redis-security");
    await createCertificates(path.join(root, "tls"));
    [port] = await freePorts(1, CLUSTER_BUS_OFFSET);
    nodeDir = path.join(root, "node");
    const dir = nodeDir;
    const confPath = writeNodeConfig(dir, port, {
        clientIdleTimeoutSeconds: IDLE_TIMEOUT_SECONDS,
        clientOutputBufferLimits: { ...prod.clientOutputBufferLimits, normal: { hard: NORMAL_HARD_LIMIT, soft: "0", softSeconds: 0 } },
    });
    serverLog = path.join(dir, "server.log");
    startServer("redis-security", "redis-server", redisServerArgs(confPath, "127.0.0.1"), serverLog);
    await waitFor("the node to answer PING over TLS", async () => (await cli(port, "ping").catch(() => "")) === "PONG", 15000);
    // One node owning every slot: data commands are served, as on any master of the cluster.
    await cli(port, "cluster", "addslotsrange", "0", "16383");
    await waitFor("cluster_state:ok", async () => (await clusterInfo(port)).cluster_state === "ok", 15000);
});

afterAll(async () => {
    await stopAllServers();
    if (root) fs.rmSync(root, { recursive: true, force: true });
});

/** What a plaintext client gets from the TLS port: every byte the server sent before it closed. */
function plaintextExchange(request: string, timeoutMs = 3000): Promise<{ received: string; closed: boolean }> {
    return new Promise((resolve) => {
        const socket = net.connect({ host: "127.0.0.1", port });
        let received = "";
        const finish = (closed: boolean) => {
            clearTimeout(timer);
            socket.destroy();
            resolve({ received, closed });
        };
        const timer = setTimeout(() => finish(false), timeoutMs);
        socket.on("connect", () => socket.write(request));
        socket.on("data", (chunk) => (received += chunk.toString("latin1")));
        socket.on("error", () => finish(true));
        socket.on("close", () => finish(true));
    });
}

/** The serial number of the certificate the node serves now (hex, as openssl prints it). */
function servedSerial(): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", port, ca: fs.readFileSync(testCertificates().caFile) }, () => {
            const serial = socket.getPeerCertificate().serialNumber;
            socket.destroy();
            resolve(serial);
        });
        socket.once("error", reject);
    });
}

/** A TLS handshake with `ca` as the only trusted root; resolves with the verification error, if any. */
function handshake(ca: Buffer | undefined): Promise<Error | undefined> {
    return new Promise((resolve) => {
        const socket = tls.connect({ host: "127.0.0.1", port, ...(ca ? { ca } : {}) });
        socket.once("secureConnect", () => {
            socket.destroy();
            resolve(undefined);
        });
        socket.once("error", (error) => {
            socket.destroy();
            resolve(error);
        });
    });
}

/**
 * The rendered cluster-heal loop beside the node (every 1 s here, 5 s in pods), with the environment
 * its container gets: the administrator's and the exporter's passwords at start. Started once.
 */
async function startClusterHeal(): Promise<string> {
    if (healLog) return healLog;
    const healPath = path.join(root, "cluster-heal.sh");
    const peers = path.join(root, "no-peers");
    fs.writeFileSync(peers, "");
    fs.writeFileSync(healPath, renderClusterHealScript({ port, client: cliOptions(), tls: testCertificates(), intervalSeconds: 1, peers: { kind: "file", path: peers }, users: nodeHealUsers(nodeDir) }));
    healLog = path.join(root, "heal.log");
    startServer("redis-security-heal", "sh", [healPath], healLog, { env: { ...env, EXPORTER_PASSWORD: USERS.exporter.password } });
    await sleep(1500); // the loop has read the files once
    return healLog;
}

/** AUTH's reply for `user` with `password` on a new connection: "OK", or the error. */
async function authReply(user: string, password: string): Promise<string> {
    try {
        const connection = await RespConnection.open(port, { user, password });
        connection.close();
        return "OK";
    } catch (error) {
        return (error as Error).message.replace(/^Error: /, ""); // the server's error reply, as RespError prints it
    }
}

/** The node's process id (INFO server): the same one before and after means no restart. */
async function serverProcessId(): Promise<string> {
    return (await cli(port, "info", "server")).match(/^process_id:(\d+)/m)?.[1] ?? "";
}

async function as(user: keyof typeof USERS): Promise<RespConnection> {
    return RespConnection.open(port, USERS[user]);
}

const isDenied = (reply: RespReply) => reply instanceof RespError && /^NOPERM/.test(reply.message);

describe("Redis TLS, ACL users and client limits from the rendered files (Debian redis-server)", () => {
    test("no plaintext: a plain client gets nothing from the only port; TLS verified against the stack's CA is accepted", async () => {
        expect(await cli(port, "config", "get", "port")).toBe("port\n0");
        const plain = await plaintextExchange("PING\r\n");
        expect(plain.received).not.toContain("PONG");
        expect(plain.closed).toBe(true);
        const plainCli = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "ping"], { timeoutMs: 5000 }).then(
            (result) => result.stdout + result.stderr,
            (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ""}${error.stderr ?? ""}`,
        );
        expect(plainCli).not.toContain("PONG");
        // Node's default roots do not include the stack's CA: the node's certificate is not trusted there.
        expect((await handshake(undefined))?.message).toMatch(/certificate|issuer/i);
        const startedAt = Date.now();
        expect(await handshake(fs.readFileSync(testCertificates().caFile))).toBeUndefined();
        const app = await as("app");
        expect(await app.command(["PING"])).toBe("PONG");
        app.close();
        report(`redis tls: plaintext PING on the port answered: ${plain.received.includes("PONG") ? "yes" : "no"} (closed: ${plain.closed}); TLS handshake + AUTH + PING in ${Date.now() - startedAt} ms`);
    });

    test("the default user is off: without AUTH nothing runs, and it cannot log in", async () => {
        const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
            const connection = tls.connect({ host: "127.0.0.1", port, ca: fs.readFileSync(testCertificates().caFile) }, () => resolve(connection));
            connection.once("error", reject);
        });
        // Two replies: PING's, then AUTH's.
        const replies = await new Promise<string[]>((resolve) => {
            let received = "";
            socket.on("data", (chunk) => {
                received += chunk.toString();
                const lines = received.split("\r\n").filter((line) => line !== "");
                if (lines.length >= 2) resolve(lines);
            });
            socket.write("PING\r\nAUTH default anything-at-all\r\n");
        });
        socket.destroy();
        expect(replies[0]).toMatch(/^-NOAUTH/);
        expect(replies[1]).toMatch(/^-WRONGPASS/);
        const defaultUser = await cli(port, "acl", "getuser", "default");
        expect(defaultUser).toMatch(/^flags\noff/m);
        expect(defaultUser).toMatch(/^commands\n-@all$/m);
    });

    test("an application's user: data commands, transactions, EVAL/EVALSHA and the cluster topology; nothing dangerous", async () => {
        const app = await as("app");
        const allowed: [string[], (reply: RespReply) => boolean][] = [
            [["SET", "session:1", "alice"], (reply) => reply === "OK"],
            [["GET", "session:1"], (reply) => reply === "alice"],
            [["EXPIRE", "session:1", "600"], (reply) => reply === 1],
            [["TTL", "session:1"], (reply) => typeof reply === "number" && reply > 0],
            [["HSET", "cart:1", "item", "2"], (reply) => reply === 1],
            [["MULTI"], (reply) => reply === "OK"],
            [["INCR", "rate:1"], (reply) => reply === "QUEUED"],
            [["EXEC"], (reply) => Array.isArray(reply) && reply[0] === 1],
            [["CLUSTER", "SLOTS"], (reply) => Array.isArray(reply) && reply.length === 1],
            [["CLUSTER", "SHARDS"], (reply) => Array.isArray(reply)],
        ];
        for (const [command, ok] of allowed) {
            const reply = await app.command(command);
            if (!ok(reply)) throw new Error(`${command.join(" ")} answered ${String(reply)}`);
        }
        // A rate limiter's counter as a script: loaded once, run by its SHA (EVAL as the fallback).
        const script = "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) if n == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return n";
        const sha = await app.command(["SCRIPT", "LOAD", script]);
        expect(typeof sha).toBe("string");
        expect(await app.command(["EVALSHA", String(sha), "1", "limit:ip:1", "1", "60000"])).toBe(1);
        expect(await app.command(["EVAL", script, "1", "limit:ip:1", "1", "60000"])).toBe(2);
        expect(await app.command(["PTTL", "limit:ip:1"])).toBeGreaterThan(0);

        const denied = [
            ["FLUSHALL"],
            ["FLUSHDB"],
            ["CONFIG", "GET", "maxmemory"],
            ["CONFIG", "SET", "timeout", "0"],
            ["SHUTDOWN", "NOSAVE"],
            ["CLUSTER", "RESET", "HARD"],
            ["CLUSTER", "FORGET", "0000000000000000000000000000000000000000"],
            ["CLUSTER", "ADDSLOTS", "1"],
            ["KEYS", "*"],
            ["INFO"],
            ["FUNCTION", "FLUSH"],
            ["SCRIPT", "FLUSH"],
            ["MODULE", "LIST"],
            ["ACL", "LIST"],
            ["ACL", "SETUSER", USERS.app.user, "+@all"],
            ["CLIENT", "LIST"],
            ["CLIENT", "KILL", "ID", "1"],
            ["MONITOR"],
            ["REPLICAOF", "127.0.0.1", "1"],
            ["MIGRATE", "127.0.0.1", "1", "session:1", "0", "1000"],
            ["BGREWRITEAOF"],
        ];
        const answers = await Promise.all(denied.map((command) => app.command(command)));
        const notDenied = denied.filter((_, index) => !isDenied(answers[index])).map((command) => command.join(" "));
        expect(notDenied).toEqual([]);
        // DEBUG is refused before the ACL is consulted (enable-debug-command defaults to no): the ACL denies it too.
        expect(await app.command(["DEBUG", "SLEEP", "0"])).toBeInstanceOf(RespError);
        expect(await cli(port, "acl", "dryrun", USERS.app.user, "debug", "sleep", "0")).toMatch(/no permissions/);
        // Still serving, data intact: SHUTDOWN and FLUSHALL did nothing.
        expect(await app.command(["GET", "session:1"])).toBe("alice");
        app.close();
        report(`redis acl: ${USERS.app.user} ran ${allowed.length + 3} data/script commands; ${denied.length} of ${denied.length} administrative or dangerous commands answered NOPERM`);
    });

    test("the exporter's user reads INFO and the cluster state, and nothing else: no key, no CONFIG (which would show masterauth)", async () => {
        const exporter = await as("exporter");
        expect(await exporter.command(["CLIENT", "SETNAME", "redis_exporter"])).toBe("OK");
        expect(String(await exporter.command(["INFO", "ALL"]))).toContain("redis_version:");
        expect(String(await exporter.command(["CLUSTER", "INFO"]))).toContain("cluster_state:ok");
        expect(Array.isArray(await exporter.command(["SLOWLOG", "GET", "10"]))).toBe(true);
        expect(Array.isArray(await exporter.command(["LATENCY", "LATEST"]))).toBe(true);
        for (const command of [["SET", "x", "1"], ["GET", "session:1"], ["CONFIG", "GET", "masterauth"], ["EVAL", "return 1", "0"], ["FLUSHALL"]]) {
            expect(isDenied(await exporter.command(command))).toBe(true);
        }
        exporter.close();
        // Why CONFIG stays denied: it answers masterauth, the administrator's password, in clear.
        expect(await cli(port, "config", "get", "masterauth")).toBe(`masterauth\n${USERS.admin.password}`);
    });

    test("redis_exporter (Debian's) with the sidecar's environment scrapes over TLS as the exporter user: up, cluster state, role, maxmemory", async () => {
        // The builder takes the Secret's name; no certificate is issued here.
        const sidecar = exporterContainer(redisClusterArgsSchema.parse({ namespace: "prepx", certificates: noCertificates }), { exporterSecretName: "unused" });
        const rendered: Record<string, string> = Object.fromEntries(
            (sidecar.env as EnvVar[]).filter((variable) => variable.value !== undefined).map((variable) => [variable.name, String(variable.value)]),
        );
        const webPort = await freePort();
        const exporterEnv = {
            ...process.env,
            ...rendered,
            // The pod's address and CA path, moved to this node's port and the test CA; the password from the Secret, here in the environment too.
            REDIS_ADDR: String(rendered.REDIS_ADDR).replace(/:6379$/, `:${port}`),
            REDIS_EXPORTER_TLS_CA_CERT_FILE: testCertificates().caFile,
            REDIS_PASSWORD: USERS.exporter.password,
            REDIS_EXPORTER_WEB_LISTEN_ADDRESS: `127.0.0.1:${webPort}`,
        };
        expect(exporterEnv.REDIS_ADDR).toBe(`rediss://localhost:${port}`);
        expect(rendered.REDIS_USER).toBe(USERS.exporter.user);
        await cli(port, "acl", "log", "reset");
        startServer("redis-security-exporter", "prometheus-redis-exporter", [], path.join(root, "exporter.log"), { env: exporterEnv });
        const metrics = await waitFor(
            "redis_up 1 from the exporter",
            async () => {
                const response = await loopbackGet(webPort, "/metrics").catch(() => undefined);
                return response?.status === 200 && /^redis_up 1$/m.test(response.body) ? response.body : undefined;
            },
            15000,
            300,
        );
        expect(metrics).toMatch(/^redis_cluster_state 1$/m);
        expect(metrics).toMatch(/^redis_instance_info\{[^}]*role="master"[^}]*\} 1$/m);
        expect(metrics).toMatch(/^redis_memory_max_bytes 6\.7108864e\+07$/m);
        // What the exporter was refused: CONFIG GET only (left out on purpose, see EXPORTER_ACL_RULES).
        const denied = (await cli(port, "acl", "log")).split("\n");
        const refusedCommands = new Set(denied.filter((_, index) => denied[index - 1] === "object").filter((command) => command !== ""));
        expect([...refusedCommands]).toEqual(["config|get"]);
        report(`redis exporter: Debian's redis_exporter 1.45 over TLS (rediss://localhost, CA verified) as '${USERS.exporter.user}': redis_up 1, redis_cluster_state 1; refused only: ${[...refusedCommands].join(", ")}`);
    });

    test(`an idle client is disconnected after the timeout (${IDLE_TIMEOUT_SECONDS} s here); an active one is not`, async () => {
        const idle = await as("app");
        const active = await as("app");
        const openedAt = Date.now();
        const deadline = openedAt + (IDLE_TIMEOUT_SECONDS + 5) * 1000;
        let closedAfter: number | undefined;
        while (Date.now() < deadline) {
            expect(await active.command(["PING"])).toBe("PONG");
            if (closedAfter === undefined && !idle.open) closedAfter = Date.now() - openedAt;
            if (closedAfter !== undefined && Date.now() - openedAt > closedAfter + 1000) break;
            await sleep(100);
        }
        report(`redis timeout: idle client closed by the server after ${closedAfter} ms (timeout ${IDLE_TIMEOUT_SECONDS} s); a client sending PING every 100 ms stayed connected`);
        expect(closedAfter).toBeDefined();
        expect(closedAfter!).toBeGreaterThanOrEqual(IDLE_TIMEOUT_SECONDS * 1000);
        expect(active.open).toBe(true);
        active.close();
    });

    test(`a reply larger than the normal clients' hard output-buffer limit (${NORMAL_HARD_LIMIT} here) disconnects that client only`, async () => {
        // Redis 7.0 has no counter of these disconnections (7.2 adds one to INFO stats): it logs each one.
        const logged = () => (fs.readFileSync(serverLog, "utf8").match(/scheduled to be closed ASAP for overcoming of output buffer limits/g) ?? []).length;
        const before = logged();
        const writer = await as("app");
        expect(await writer.command(["SET", "big", "x".repeat(2 * 1024 * 1024)], 10000)).toBe("OK");
        const reader = await as("app");
        await expect(reader.command(["GET", "big"], 10000)).rejects.toThrow(/connection closed/);
        expect(reader.open).toBe(false);
        await waitFor("the server to log the disconnection", () => logged() === before + 1, 5000);
        expect(await writer.command(["STRLEN", "big"])).toBe(2 * 1024 * 1024);
        writer.close();
        report(`redis output buffers: a 2 MiB reply to a normal client with a ${NORMAL_HARD_LIMIT} hard limit: client disconnected (logged: ${before} -> ${logged()} such disconnections), other clients served`);
    });

    test("a renewed certificate (new key, same CA) is loaded by the rendered cluster-heal loop without a restart", async () => {
        const logPath = await startClusterHeal();
        const before = await servedSerial();
        const renewed = await renewCertificate();
        expect(renewed.toUpperCase()).not.toBe(before.toUpperCase());
        const renewedAt = Date.now();
        await waitFor("the node to serve the renewed certificate", async () => (await servedSerial()).toUpperCase() === renewed.toUpperCase(), 10000, 200);
        report(`redis tls: certificate renewed on disk (serial ${before} -> ${renewed}); served by the running node after ${Date.now() - renewedAt} ms (cluster-heal every 1 s here, 5 s in pods), no restart`);
        expect(fs.readFileSync(logPath, "utf8")).toContain("redis-server reloaded them");
        // Connections opened since still verify against the CA and authenticate.
        const app = await as("app");
        expect(await app.command(["PING"])).toBe("PONG");
        app.close();
    });

    test("a changed auth Secret (app password rotated, a new app user) is loaded by cluster-heal without a restart; a bad ACL file keeps the old users", async () => {
        const logPath = await startClusterHeal();
        const processId = await serverProcessId();
        const connected = await as("app");
        const rotatedApp = `${USERS.app.password}-rotated`;
        const newApp = { user: "app-new-service", password: `new-service-${process.pid}-${Date.now()}` };
        mountNodeAuth(nodeDir, { ...TEST_AUTH, apps: { [USERS.app.user]: rotatedApp, [newApp.user]: newApp.password } });
        const swappedAt = Date.now();
        await waitFor("the rotated app password to be accepted", async () => (await authReply(USERS.app.user, rotatedApp)) === "OK", 10000, 200);
        const appliedMs = Date.now() - swappedAt;
        expect(await authReply(USERS.app.user, USERS.app.password)).toMatch(/^WRONGPASS/);
        expect(await authReply(newApp.user, newApp.password)).toBe("OK");
        const newService = await RespConnection.open(port, newApp);
        expect(await newService.command(["SET", "rotation:new-service", "1"])).toBe("OK");
        expect(isDenied(await newService.command(["FLUSHALL"]))).toBe(true); // the app's rules, not more
        newService.close();
        // Redis 7.0 ends the connections of the reloaded users on ACL LOAD; clients reconnect.
        await waitFor("the old connection to be closed", () => !connected.open, 5000, 100);
        // The exporter and the administrator keep working with the passwords their containers started with.
        expect(await authReply(USERS.exporter.user, USERS.exporter.password)).toBe("OK");
        expect(await cli(port, "ping")).toBe("PONG");
        expect(await serverProcessId()).toBe(processId);
        expect(fs.readFileSync(logPath, "utf8")).toContain("redis-server loaded the users (ACL LOAD)");
        report(`redis acl: app password rotated and a new app user added in the mounted Secret: applied by the running node after ${appliedMs} ms (cluster-heal every 1 s here, 5 s in pods), old password refused, no restart`);

        // A bad line: ACL LOAD loads nothing, the node keeps the users it had, the loop says why.
        mountNodeAuth(nodeDir, { ...TEST_AUTH, apps: { [USERS.app.user]: `${rotatedApp}-again` } }, (text) => `${text}user broken on >x +@no-such-category\n`);
        await waitFor("cluster-heal to log the failed ACL LOAD", () => fs.readFileSync(logPath, "utf8").includes("ACL LOAD failed, the node keeps its previous users"), 10000, 200);
        expect(await authReply(USERS.app.user, rotatedApp)).toBe("OK");
        expect(await authReply(USERS.app.user, `${rotatedApp}-again`)).toMatch(/^WRONGPASS/);
        expect(await authReply(newApp.user, newApp.password)).toBe("OK");
        // Fixed in the Secret: loaded on the next pass.
        mountNodeAuth(nodeDir, { ...TEST_AUTH, apps: { [USERS.app.user]: `${rotatedApp}-again` } });
        await waitFor("the fixed file to be loaded", async () => (await authReply(USERS.app.user, `${rotatedApp}-again`)) === "OK", 10000, 200);
        expect(await authReply(newApp.user, newApp.password)).toMatch(/^WRONGPASS/); // removed from the file, removed from the node
        expect(await serverProcessId()).toBe(processId);
    });

    test("a rotated administrator password is loaded without a restart: the new one works, the one the probes started with stays valid on this node, masterauth follows", async () => {
        const logPath = await startClusterHeal();
        const processId = await serverProcessId();
        const rotatedAdmin = `${USERS.admin.password}-rotated`;
        const rotatedExporter = `${USERS.exporter.password}-rotated`;
        mountNodeAuth(nodeDir, { ...TEST_AUTH, admin: rotatedAdmin, exporter: rotatedExporter });
        const swappedAt = Date.now();
        await waitFor("the rotated administrator password to be accepted", async () => (await authReply(USERS.admin.user, rotatedAdmin)) === "OK", 10000, 200);
        const appliedMs = Date.now() - swappedAt;
        const admin = await RespConnection.open(port, { user: USERS.admin.user, password: rotatedAdmin });
        await waitFor("masterauth to be the new password", async () => {
            const reply = await admin.command(["CONFIG", "GET", "masterauth"]);
            return Array.isArray(reply) && reply[1] === rotatedAdmin;
        }, 5000, 100);
        admin.close();
        // The probes and the loop (REDISCLI_AUTH) and the exporter sidecar (REDIS_PASSWORD) read their passwords at container start.
        expect(await cli(port, "ping")).toBe("PONG");
        expect(await authReply(USERS.exporter.user, USERS.exporter.password)).toBe("OK");
        expect(await authReply(USERS.exporter.user, rotatedExporter)).toBe("OK");
        // Any other password is refused.
        expect(await authReply(USERS.admin.user, `${USERS.admin.password}-other`)).toMatch(/^WRONGPASS/);
        expect(await serverProcessId()).toBe(processId);
        expect(fs.readFileSync(logPath, "utf8")).not.toContain("keeping the start passwords or setting masterauth failed");
        report(`redis acl: administrator password rotated in the mounted Secret: accepted and masterauth set by the running node after ${appliedMs} ms, no restart`);
    });
});
