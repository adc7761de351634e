// Helpers of the Redis live tests: the test cluster's settings, users and passwords, a CA and node
// certificate made with openssl, a node's rendered files, redis-cli calls (TLS, as the
// administrator), CLUSTER INFO/NODES parsing, Redis' key-slot hash, and a small RESP connection over
// TLS for write loops that must tell an acknowledged write from a failed one without parsing
// redis-cli's output.
import * as fs from "fs";
import * as path from "path";
import * as tls from "tls";
import { parseStackConfig } from "../../config";
import type { RedisSettings } from "../../components/redis/args";
import {
    ADMIN_ACL_RULES,
    APP_ACL_RULES,
    CLUSTER_SLOTS,
    EXPORTER_ACL_RULES,
    type RedisCliOptions,
    type RedisTlsFiles,
    redisCliCommand,
    type ClusterHealUsers,
    renderRedisAclFile,
    renderRedisConf,
    renderReplicationAuth,
} from "../../components/redis/render";
import { ADMIN_USER, appUserName, AUTH_SECRET_KEYS, EXPORTER_USER, redisConfOptions } from "../../components/redis/specs";
import { issueServerCertificate, makeTestCa, mountDirectoryAsSecret, TestCa } from "./tls-support";
import { readStackConfig } from "../../scripts/stack-files";
import { run } from "./support";

/**
 * The prod stack's Redis settings, which the live clusters run, on 3 masters: prod derives 8 from its
 * targets (components/sizing.ts), and 16 redis-server processes would not tell more than 6 on this
 * machine's 2 cores; 3 is the component's default and the least a cluster may have.
 */
export const prod = { ...parseStackConfig("prod", readStackConfig("prod")).redis, masters: 3 };
/** The administrator's password of this test file's nodes. */
export const PASSWORD = `live-${process.pid}-${Date.now()}`;
/** The environment of redis-cli and the rendered scripts: the administrator's password in REDISCLI_AUTH. */
export const env = { ...process.env, REDISCLI_AUTH: PASSWORD };
/** An application of the test cluster, with its ACL user, and the exporter's user, as the component renders them. */
const APP = "api-gateway";
export const USERS = {
    admin: { user: ADMIN_USER, password: PASSWORD },
    app: { user: appUserName(APP), password: `app-${process.pid}-${Date.now()}` },
    exporter: { user: EXPORTER_USER, password: `exporter-${process.pid}-${Date.now()}` },
} as const;
/** A user and its password. */
export type Credentials = { user: string; password: string };

let certificates: RedisTlsFiles | undefined;
let authority: TestCa | undefined;
/** The node certificate's names, as the stack's issuer gives the pods: server and client auth (the bus and replication present it). */
const NODE_NAMES = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], clientAuth: true };

/**
 * A CA and one node certificate signed by it under `dir` (tls-support's test CA), for localhost and
 * 127.0.0.1, server and client auth. Every later helper of this file uses them.
 */
export async function createCertificates(dir: string): Promise<RedisTlsFiles> {
    authority = await makeTestCa(dir);
    const node = await issueServerCertificate(authority, dir, NODE_NAMES);
    fs.chmodSync(node.keyFile, 0o600);
    certificates = { certFile: node.certificateFile, keyFile: node.keyFile, caFile: authority.certificateFile };
    return certificates;
}

/**
 * A new key and certificate from the same CA in place of the node's (as cert-manager renews a
 * Secret: a new key each time), each file swapped in by a rename; returns the new serial number.
 */
export async function renewCertificate(): Promise<string> {
    const current = testCertificates();
    if (!authority) throw new Error("createCertificates() first");
    const renewed = await issueServerCertificate(authority, path.join(path.dirname(current.certFile), "renewed"), NODE_NAMES);
    fs.chmodSync(renewed.keyFile, 0o600);
    fs.renameSync(renewed.keyFile, current.keyFile);
    fs.renameSync(renewed.certificateFile, current.certFile);
    return renewed.serial;
}

/** The certificates createCertificates made. */
export function testCertificates(): RedisTlsFiles {
    if (!certificates) throw new Error("createCertificates() first");
    return certificates;
}

/** How the rendered scripts' redis-cli connects in the tests: as the administrator, trusting the test CA. */
export function cliOptions(): RedisCliOptions {
    return { user: ADMIN_USER, caFile: testCertificates().caFile };
}

/** What a node's auth Secret holds in the live tests: the administrator's and exporter's passwords, and each app user's. */
export interface NodeAuth {
    admin: string;
    exporter: string;
    /** Password by ACL user name (appUserName). */
    apps: Record<string, string>;
}

/** The auth Secret of USERS. */
export const TEST_AUTH: NodeAuth = { admin: USERS.admin.password, exporter: USERS.exporter.password, apps: { [USERS.app.user]: USERS.app.password } };

let authVersions = 0;

/**
 * Writes `auth` as the component renders its auth Secret (AUTH_SECRET_KEYS) into a new directory
 * and mounts it at `<dir>/auth` as the kubelet updates a Secret volume (an atomic `..data` swap):
 * a first call creates the node's auth files, a later one changes them under the running node
 * (`editAclFile` to break the ACL file on purpose).
 */
export function mountNodeAuth(dir: string, auth: NodeAuth = TEST_AUTH, editAclFile: (text: string) => string = (text) => text): void {
    const version = path.join(dir, `auth-${++authVersions}`);
    fs.mkdirSync(version, { recursive: true });
    const users = [
        { name: USERS.admin.user, password: auth.admin, rules: ADMIN_ACL_RULES },
        { name: USERS.exporter.user, password: auth.exporter, rules: EXPORTER_ACL_RULES },
        ...Object.entries(auth.apps).map(([name, password]) => ({ name, password, rules: APP_ACL_RULES })),
    ];
    const files: Record<string, string> = {
        [AUTH_SECRET_KEYS.aclFile]: editAclFile(renderRedisAclFile(users)),
        [AUTH_SECRET_KEYS.replicationInclude]: renderReplicationAuth({ user: ADMIN_USER, password: auth.admin }),
        [AUTH_SECRET_KEYS.adminPassword]: auth.admin,
    };
    for (const [key, text] of Object.entries(files)) fs.writeFileSync(path.join(version, key), text, { mode: 0o600 });
    mountDirectoryAsSecret(path.join(dir, "auth"), version, Object.keys(files));
}

/** The node's mounted auth files as cluster-heal's `users` option takes them. */
export function nodeHealUsers(dir: string): ClusterHealUsers {
    return { aclFile: path.join(dir, "auth", AUTH_SECRET_KEYS.aclFile), adminPasswordFile: path.join(dir, "auth", AUTH_SECRET_KEYS.adminPassword), exporterUser: EXPORTER_USER };
}

/**
 * A node's data directory, auth files (mountNodeAuth) and redis.conf under `dir`, rendered as the
 * component renders them (prod's settings, but 64mb of data per node: the nodes share the test
 * machine; `overrides` for a test's own settings); returns the path of redis.conf.
 */
export function writeNodeConfig(dir: string, port: number, overrides: Partial<RedisSettings> = {}): string {
    const dataDir = path.join(dir, "data");
    fs.mkdirSync(dataDir, { recursive: true });
    mountNodeAuth(dir);
    const confPath = path.join(dir, "redis.conf");
    const auth = { aclFile: path.join(dir, "auth", AUTH_SECRET_KEYS.aclFile), replicationInclude: path.join(dir, "auth", AUTH_SECRET_KEYS.replicationInclude) };
    const layout = { bind: "127.0.0.1", port, dataDir, auth, tls: testCertificates() };
    fs.writeFileSync(confPath, renderRedisConf(redisConfOptions({ ...prod, maxmemory: "64mb", ...overrides }, layout)));
    return confPath;
}

/** The rendered scripts' redis-cli command line, split into its words (the CA path has no spaces). */
function cliWords(): string[] {
    return redisCliCommand(cliOptions())
        .split(" ")
        .slice(1)
        .map((word) => word.replace(/^'(.*)'$/, "$1"));
}

/** redis-cli against 127.0.0.1:port over TLS, as the administrator (password in the environment). */
export async function cli(port: number, ...args: string[]): Promise<string> {
    const { stdout } = await run("redis-cli", [...cliWords(), "-h", "127.0.0.1", "-p", String(port), ...args], { env, timeoutMs: 10000 });
    return stdout.trim();
}

/** Commands piped through one redis-cli connection (TLS, administrator); one reply line per command. */
export async function pipeline(port: number, commands: string[]): Promise<string[]> {
    const { stdout } = await run("redis-cli", [...cliWords(), "-h", "127.0.0.1", "-p", String(port)], { env, timeoutMs: 30000, input: `${commands.join("\n")}\n` });
    return stdout.trim().split("\n");
}

export async function clusterInfo(port: number): Promise<Record<string, string>> {
    const text = await cli(port, "cluster", "info");
    return Object.fromEntries(text.split(/\r?\n/).map((line) => line.split(":") as [string, string]));
}

export interface ClusterNode {
    id: string;
    port: number;
    role: "master" | "slave";
    masterId: string;
    failed: boolean;
    connected: boolean;
    slots: string;
}

export function parseClusterNodes(text: string): ClusterNode[] {
    return text.split(/\r?\n/).map((line) => {
        const [id, address, flags, masterId, , , , link, ...slots] = line.split(" ");
        const flagList = flags.split(",");
        return {
            id,
            port: Number(address.split("@")[0].split(":").pop()),
            role: flagList.includes("master") ? "master" : "slave",
            masterId,
            failed: flagList.includes("fail") || flagList.includes("fail?"),
            connected: link === "connected",
            slots: slots.join(" "),
        };
    });
}

export async function clusterNodes(port: number): Promise<ClusterNode[]> {
    return parseClusterNodes(await cli(port, "cluster", "nodes"));
}

/** CRC16/XMODEM, Redis' key-slot hash. */
export function keySlot(key: string): number {
    const open = key.indexOf("{");
    const close = open >= 0 ? key.indexOf("}", open + 1) : -1;
    const hashed = open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
    let crc = 0;
    for (const byte of Buffer.from(hashed)) {
        crc ^= byte << 8;
        for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    return crc % CLUSTER_SLOTS;
}

/** Slot ranges as CLUSTER NODES prints them (`0-5460 5461`), importing/migrating markers skipped. */
export function ownsSlot(slotRanges: string, slot: number): boolean {
    return slotRanges
        .split(" ")
        .filter((range) => range !== "" && !range.startsWith("["))
        .some((range) => {
            const [from, to] = range.split("-").map(Number);
            return slot >= from && slot <= (to ?? from);
        });
}

/** Slots a master holds, from its ranges. */
export function slotCount(slotRanges: string): number {
    return slotRanges
        .split(" ")
        .filter((range) => range !== "" && !range.startsWith("["))
        .reduce((sum, range) => {
            const [from, to] = range.split("-").map(Number);
            return sum + (to ?? from) - from + 1;
        }, 0);
}

/** The port of the master owning `key`, from a CLUSTER NODES view. */
export function ownerPort(nodes: ClusterNode[], key: string): number | undefined {
    const slot = keySlot(key);
    return nodes.find((node) => node.role === "master" && !node.failed && ownsSlot(node.slots, slot))?.port;
}

/** A RESP reply: simple/bulk string, integer, nil, array, or the server's error. */
export type RespReply = string | number | null | RespReply[] | RespError;
export class RespError extends Error {}

/** Parses one reply at `offset`; undefined when the buffer does not hold all of it yet. */
function parseReply(buffer: Buffer, offset: number): [RespReply, number] | undefined {
    const lineEnd = buffer.indexOf("\r\n", offset);
    if (lineEnd < 0) return undefined;
    const type = String.fromCharCode(buffer[offset]);
    const line = buffer.toString("utf8", offset + 1, lineEnd);
    const next = lineEnd + 2;
    if (type === "+") return [line, next];
    if (type === "-") return [new RespError(line), next];
    if (type === ":") return [Number(line), next];
    if (type === "$") {
        const length = Number(line);
        if (length < 0) return [null, next];
        if (buffer.length < next + length + 2) return undefined;
        return [buffer.toString("utf8", next, next + length), next + length + 2];
    }
    if (type === "*") {
        const count = Number(line);
        if (count < 0) return [null, next];
        const items: RespReply[] = [];
        let position = next;
        for (let i = 0; i < count; i++) {
            const item = parseReply(buffer, position);
            if (!item) return undefined;
            items.push(item[0]);
            position = item[1];
        }
        return [items, position];
    }
    throw new Error(`unexpected RESP type ${type}`);
}

/** One authenticated TLS connection to a node; commands are answered in order, each within a time bound. */
export class RespConnection {
    private buffer = Buffer.alloc(0);
    private readonly pending: { resolve: (reply: RespReply) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }[] = [];
    private closed = false;
    /** Why the connection ended (the server closing it shows as "connection closed"). */
    public closedBy: Error | undefined;

    private constructor(private readonly socket: tls.TLSSocket) {
        socket.on("data", (chunk) => this.receive(chunk));
        socket.on("error", (error) => this.fail(error));
        socket.on("close", () => this.fail(new Error("connection closed")));
    }

    /** Whether the connection is still open (the server has not closed it). */
    get open(): boolean {
        return !this.closed;
    }

    /** Opens a TLS connection to 127.0.0.1:port (verified against the test CA) and authenticates as `credentials`. */
    static open(port: number, credentials: Credentials, timeoutMs = 2000): Promise<RespConnection> {
        return new Promise((resolve, reject) => {
            const socket = tls.connect({ host: "127.0.0.1", port, ca: fs.readFileSync(testCertificates().caFile) });
            const timer = setTimeout(() => {
                socket.destroy();
                reject(new Error(`connect to ${port} timed out`));
            }, timeoutMs);
            socket.once("error", (error) => {
                clearTimeout(timer);
                reject(error);
            });
            socket.once("secureConnect", () => {
                clearTimeout(timer);
                const connection = new RespConnection(socket);
                connection.command(["AUTH", credentials.user, credentials.password], timeoutMs).then((reply) => (reply === "OK" ? resolve(connection) : reject(new Error(String(reply)))), reject);
            });
        });
    }

    command(args: string[], timeoutMs = 2000): Promise<RespReply> {
        if (this.closed) return Promise.reject(new Error("connection closed"));
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => this.fail(new Error(`${args[0]} timed out`)), timeoutMs);
            this.pending.push({ resolve, reject, timer });
            this.socket.write(`*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join("")}`);
        });
    }

    close(): void {
        this.closed = true;
        this.socket.destroy();
    }

    private receive(chunk: Buffer): void {
        this.buffer = Buffer.concat([this.buffer, chunk]);
        for (;;) {
            const parsed = parseReply(this.buffer, 0);
            if (!parsed) return;
            this.buffer = this.buffer.subarray(parsed[1]);
            const waiter = this.pending.shift();
            if (!waiter) continue;
            clearTimeout(waiter.timer);
            waiter.resolve(parsed[0]);
        }
    }

    private fail(error: Error): void {
        this.closedBy ??= error;
        this.closed = true;
        this.socket.destroy();
        for (const waiter of this.pending.splice(0)) {
            clearTimeout(waiter.timer);
            waiter.reject(error);
        }
    }
}
