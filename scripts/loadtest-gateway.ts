// A reference gateway for `npm run loadtest:local`: a small Node HTTP server that answers the
// journey's paths (loadtest-plan.ts JOURNEY) with a small JSON body after a configurable latency,
// and reports on GET /__stats (asked directly, not through nginx) the requests it served and the
// TCP connections that carried them, so the run can tell how well nginx reuses its upstream
// connections. Listens on 127.0.0.1 only.
//   tsx scripts/loadtest-gateway.ts --name gateway-1 --port 18080 --latency 1ms
import * as http from "http";
import { runMain, parseFlags } from "./cli";
import { JOURNEY, parseDurationFlag } from "./loadtest-plan";

/** What /__stats answers. */
export interface GatewayStats {
    name: string;
    /** Journey requests served. */
    requests: number;
    /** Distinct TCP connections that carried journey requests. */
    connections: number;
    /** Distinct client addresses those connections came from. */
    clientAddresses: number;
}

/** Upstream connection reuse during the run through nginx, from the gateways' counters. */
export interface UpstreamReuse {
    /** Requests the gateways served during the run. */
    requests: number;
    /** TCP connections nginx opened to the gateways during the run. */
    newConnections: number;
    /** Share of requests that went over an already open connection. */
    reuse: number;
}

/** Reuse from the gateways' counters before and after the run. */
export function upstreamReuse(before: GatewayStats[], after: GatewayStats[]): UpstreamReuse {
    const delta = (key: "requests" | "connections"): number => after.reduce((total, stats, index) => total + stats[key] - before[index][key], 0);
    const requests = delta("requests");
    const newConnections = delta("connections");
    return { requests, newConnections, reuse: requests === 0 ? 0 : 1 - newConnections / requests };
}

/** The path of the counters. */
export const GATEWAY_STATS_PATH = "/__stats";

const USAGE = "usage: tsx scripts/loadtest-gateway.ts --name NAME --port PORT [--latency 1ms]";

/** A gateway server (not yet listening) answering the journey after `latencyMs`. */
export function gatewayServer(name: string, latencyMs: number): http.Server {
    const paths = new Set(JOURNEY.map((step) => step.path));
    const seen = new WeakSet<object>();
    const addresses = new Set<string>();
    const stats: GatewayStats = { name, requests: 0, connections: 0, clientAddresses: 0 };
    const server = http.createServer((request, response) => {
        if (request.url === GATEWAY_STATS_PATH) {
            response.setHeader("content-type", "application/json");
            response.end(JSON.stringify(stats));
            return;
        }
        if (!paths.has(request.url ?? "")) {
            response.statusCode = 404;
            response.end();
            return;
        }
        stats.requests++;
        if (!seen.has(request.socket)) {
            seen.add(request.socket);
            stats.connections++;
            addresses.add(request.socket.remoteAddress ?? "");
            stats.clientAddresses = addresses.size;
        }
        const reply = (): void => {
            response.setHeader("content-type", "application/json");
            response.end(JSON.stringify({ gateway: name, path: request.url }));
        };
        if (latencyMs > 0) setTimeout(reply, latencyMs);
        else reply();
    });
    // Longer than nginx's upstream keepalive_timeout, as the real gateways' must be: nginx closes idle connections first.
    server.keepAliveTimeout = 120_000;
    server.headersTimeout = 121_000;
    return server;
}

async function main(argv: string[]): Promise<number> {
    const flags = parseFlags(argv, ["name", "port", "latency"] as const, USAGE);
    if (!flags.name || !flags.port || !/^\d+$/.test(flags.port)) throw new Error(`--name and a numeric --port are required\n${USAGE}`);
    const latencyMs = flags.latency === undefined || flags.latency === "0ms" ? 0 : parseDurationFlag("latency", flags.latency);
    const server = gatewayServer(flags.name, latencyMs);
    await new Promise<void>((resolve) => server.listen(Number(flags.port), "127.0.0.1", resolve));
    process.stdout.write(`${flags.name} listening on 127.0.0.1:${flags.port}, latency ${latencyMs} ms\n`);
    // Runs until its process group is signalled.
    await new Promise<never>(() => undefined);
    return 0;
}

if (require.main === module) runMain(main);
