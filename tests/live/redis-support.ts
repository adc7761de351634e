// Helpers of the Redis live tests: the test cluster's settings and password, a node's rendered
// files, redis-cli calls, CLUSTER INFO/NODES parsing, Redis' key-slot hash, and a small RESP
// connection for write loops that must tell an acknowledged write from a failed one without parsing
// redis-cli's output.
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { parseStackConfig } from "../../config";
import { CLUSTER_SLOTS, renderRedisAuthConf, renderRedisConf } from "../../components/redis/render";
import { redisConfOptions } from "../../components/redis/specs";
import { readStackConfig } from "../../scripts/stack-files";
import { run } from "./support";

/** The prod stack's Redis settings, which the live clusters run. */
export const prod = parseStackConfig("prod", readStackConfig("prod")).redis;
/** The cluster password of this test file's nodes. */
export const PASSWORD = `live-${process.pid}-${Date.now()}`;
/** The environment of redis-cli and the rendered scripts: the password in REDISCLI_AUTH. */
export const env = { ...process.env, REDISCLI_AUTH: PASSWORD };

/**
 * A node's data directory, auth include and redis.conf under `dir`, rendered as the component renders
 * them (prod's settings, but 64mb of data per node: the nodes share the test machine); returns the
 * path of redis.conf.
 */
export function writeNodeConfig(dir: string, port: number): string {
    const dataDir = path.join(dir, "data");
    fs.mkdirSync(dataDir, { recursive: true });
    const authPath = path.join(dir, "auth.conf");
    fs.writeFileSync(authPath, renderRedisAuthConf(PASSWORD), { mode: 0o600 });
    const confPath = path.join(dir, "redis.conf");
    const layout = { bind: "127.0.0.1", port, dataDir, authIncludePath: authPath };
    fs.writeFileSync(confPath, renderRedisConf(redisConfOptions({ ...prod, maxmemory: "64mb" }, layout)));
    return confPath;
}

/** redis-cli against 127.0.0.1:port with the password in the environment. */
export async function cli(port: number, ...args: string[]): Promise<string> {
    const { stdout } = await run("redis-cli", ["--no-auth-warning", "-h", "127.0.0.1", "-p", String(port), ...args], { env, timeoutMs: 10000 });
    return stdout.trim();
}

/** Commands piped through one redis-cli connection; one reply line per command. */
export async function pipeline(port: number, commands: string[]): Promise<string[]> {
    const { stdout } = await run("redis-cli", ["--no-auth-warning", "-h", "127.0.0.1", "-p", String(port)], { env, timeoutMs: 30000, input: `${commands.join("\n")}\n` });
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

/** One authenticated connection to a node; commands are answered in order, each within a time bound. */
export class RespConnection {
    private buffer = Buffer.alloc(0);
    private readonly pending: { resolve: (reply: RespReply) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }[] = [];
    private closed = false;

    private constructor(private readonly socket: net.Socket) {
        socket.on("data", (chunk) => this.receive(chunk));
        socket.on("error", (error) => this.fail(error));
        socket.on("close", () => this.fail(new Error("connection closed")));
    }

    static open(port: number, password: string, timeoutMs = 2000): Promise<RespConnection> {
        return new Promise((resolve, reject) => {
            const socket = net.connect({ host: "127.0.0.1", port });
            const timer = setTimeout(() => {
                socket.destroy();
                reject(new Error(`connect to ${port} timed out`));
            }, timeoutMs);
            socket.once("error", (error) => {
                clearTimeout(timer);
                reject(error);
            });
            socket.once("connect", () => {
                clearTimeout(timer);
                const connection = new RespConnection(socket);
                connection.command(["AUTH", password], timeoutMs).then((reply) => (reply === "OK" ? resolve(connection) : reject(new Error(String(reply)))), reject);
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
        this.closed = true;
        this.socket.destroy();
        for (const waiter of this.pending.splice(0)) {
            clearTimeout(waiter.timer);
            waiter.reject(error);
        }
    }
}
