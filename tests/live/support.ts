// Process and timing helpers for the live tests: free loopback ports, temp dirs, servers started
// and stopped by PID, and bounded waits. Every server listens on 127.0.0.1 only.
import { ChildProcess, execFile, spawn, SpawnOptions } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as net from "net";
import * as os from "os";
import * as path from "path";

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released). */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/** `count` distinct free ports; with `gap`, port + gap must be free too (e.g. Redis' bus port). */
export async function freePorts(count: number, gap = 0): Promise<number[]> {
    const ports: number[] = [];
    while (ports.length < count) {
        const port = await freePort();
        if (ports.includes(port) || port + gap > 65535) continue;
        if (gap && !(await isPortFree(port + gap))) continue;
        ports.push(port);
    }
    return ports;
}

function isPortFree(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const server = net.createServer();
        server.once("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
}

/** A fresh temp dir under the OS temp dir; `chownTo` hands it to a system user (e.g. postgres). */
export function makeTempDir(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), `prepx-${prefix}-`));
}

/** A started server process, stopped by PID. Output goes to `logFile` for diagnosis. */
export interface Server {
    name: string;
    process: ChildProcess;
    pid: number;
    logFile: string;
}

const started = new Set<Server>();

/** Starts `command` detached in its own process group, logging to `logFile`. */
export function startServer(name: string, command: string, args: string[], logFile: string, options: SpawnOptions = {}): Server {
    const out = fs.openSync(logFile, "a");
    const child = spawn(command, args, { ...options, detached: true, stdio: ["ignore", out, out] });
    fs.closeSync(out);
    if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
    const server = { name, process: child, pid: child.pid, logFile };
    started.add(server);
    return server;
}

/** True while the process exists. */
export function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

/** Sends `signal` to the server's process group (the server and its children). */
export function signalServer(server: Server, signal: NodeJS.Signals): void {
    try {
        process.kill(-server.pid, signal);
    } catch {
        /* already gone */
    }
}

/** Stops a server: SIGTERM to its group, SIGKILL after `graceMs`; waits until it is gone. */
export async function stopServer(server: Server, graceMs = 5000): Promise<void> {
    signalServer(server, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (isAlive(server.pid) && Date.now() < deadline) await sleep(50);
    if (isAlive(server.pid)) signalServer(server, "SIGKILL");
    while (isAlive(server.pid) && Date.now() < deadline + 2000) await sleep(50);
    started.delete(server);
}

/** Kills a server at once (SIGKILL to its group), as a crash or node loss would; waits until gone. */
export async function killServer(server: Server, timeoutMs = 5000): Promise<void> {
    signalServer(server, "SIGKILL");
    const deadline = Date.now() + timeoutMs;
    while (isAlive(server.pid) && Date.now() < deadline) await sleep(20);
    if (isAlive(server.pid)) throw new Error(`${server.name} (pid ${server.pid}) survived SIGKILL`);
    started.delete(server);
}

/** Stops every server this test file started and has not stopped yet (for afterAll). */
export async function stopAllServers(): Promise<void> {
    await Promise.all([...started].map((server) => stopServer(server)));
}

export function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` every `intervalMs` until it returns a value other than undefined/false, or throws
 * after `timeoutMs` naming `what`. Every wait in the live tests is bounded by this.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, intervalMs = 200): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
        try {
            const value = await check();
            if (value !== undefined && value !== false) return value as T;
        } catch (error) {
            lastError = error;
        }
        await sleep(intervalMs);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ""}`);
}

/** Runs a command to completion with a time bound; resolves with stdout, rejects with stderr. */
export function run(
    command: string,
    args: string[],
    options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string; input?: string } = {},
): Promise<{ stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = execFile(
            command,
            args,
            { env: options.env ?? process.env, timeout: options.timeoutMs ?? 30000, cwd: options.cwd, maxBuffer: 32 * 1024 * 1024 },
            (error, stdout, stderr) => {
                if (error) reject(Object.assign(new Error(`${command} ${args.join(" ")} failed: ${error.message}\n${stderr}`), { stdout, stderr }));
                else resolve({ stdout, stderr });
            },
        );
        if (options.input !== undefined) child.stdin?.end(options.input);
    });
}

/** Prints a measured figure so it shows in the test log (and in the closing notes). */
export function report(line: string): void {
    process.stdout.write(`[live] ${line}\n`);
}

/**
 * Pipes `client` and `upstream` into each other, both kept in `sockets` while open; when either
 * closes, both are destroyed (a TCP relay's connection pair).
 */
export function spliceSockets(client: net.Socket, upstream: net.Socket, sockets: Set<net.Socket>): void {
    for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("error", () => undefined);
        socket.on("close", () => {
            sockets.delete(socket);
            client.destroy();
            upstream.destroy();
        });
    }
    client.pipe(upstream);
    upstream.pipe(client);
}

/**
 * GETs a path from 127.0.0.1:`port`; resolves with the status and body. Over HTTPS when `caFile`
 * is given, the server's certificate checked against that CA (and 127.0.0.1). Timeout 1 s by default.
 */
export function loopbackGet(port: number, urlPath: string, options: { caFile?: string; timeoutMs?: number } = {}): Promise<{ status: number; body: string }> {
    const target = { host: "127.0.0.1", port, path: urlPath, timeout: options.timeoutMs ?? 1000 };
    return new Promise((resolve, reject) => {
        const onResponse = (response: http.IncomingMessage) => {
            let body = "";
            response.setEncoding("utf8");
            response.on("data", (chunk) => (body += chunk));
            response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
        };
        const request =
            options.caFile === undefined ? http.get(target, onResponse) : https.get({ ...target, ca: fs.readFileSync(options.caFile), agent: false }, onResponse);
        request.on("timeout", () => request.destroy(new Error("timeout")));
        request.on("error", reject);
    });
}

/**
 * A one-member etcd on 127.0.0.1 (Patroni's DCS in the live tests), its data and log under `dir`;
 * resolves once it reports itself healthy. `options` set the user it runs as.
 */
export async function startEtcd(dir: string, ports: { client: number; peer: number }, options: SpawnOptions = {}): Promise<Server> {
    const client = `http://127.0.0.1:${ports.client}`;
    const peer = `http://127.0.0.1:${ports.peer}`;
    const server = startServer(
        "etcd",
        "etcd",
        [
            ["--name", "live"],
            ["--data-dir", path.join(dir, "data")],
            ["--listen-client-urls", client],
            ["--advertise-client-urls", client],
            ["--listen-peer-urls", peer],
            ["--initial-advertise-peer-urls", peer],
            ["--initial-cluster", `live=${peer}`],
        ].flat(),
        path.join(dir, "etcd.log"),
        { ...options, cwd: dir },
    );
    await waitFor(
        "etcd to answer /health",
        async () => {
            const { status, body } = await loopbackGet(ports.client, "/health").catch(() => ({ status: 0, body: "" }));
            return status === 200 && (JSON.parse(body) as { health?: string }).health === "true";
        },
        20000,
    );
    return server;
}
