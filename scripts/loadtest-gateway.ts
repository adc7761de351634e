// A reference gateway for `npm run loadtest:local`: a small Node HTTP server that answers the
// journey's paths (loadtest-plan.ts JOURNEY) with a small JSON body after a configurable latency,
// and reports on GET /__stats (asked directly, not through nginx) the requests it served and the
// TCP connections that carried them, per port, so the run can tell how well nginx reuses its
// upstream connections while the tester also talks to the gateway directly. 127.0.0.1 only.
//   tsx scripts/loadtest-gateway.ts --name gateway-1 --port 18080 --direct-port 18081 --latency 1ms
import * as http from "http";
import { runMain, parseFlags } from "./cli";
import { JOURNEY, parseDurationFlag } from "./loadtest-plan";

/** Counters of one listening port. */
export interface ListenerStats {
    /** Journey requests served. */
    requests: number;
    /** Distinct TCP connections that carried journey requests. */
    connections: number;
    /** Distinct client addresses those connections came from. */
    clientAddresses: number;
}

/** What /__stats answers: the counters of --port (nginx's upstream), and of --direct-port when given. */
export interface GatewayStats extends ListenerStats {
    name: string;
    direct?: ListenerStats;
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

const USAGE = "usage: tsx scripts/loadtest-gateway.ts --name NAME --port PORT [--direct-port PORT] [--latency 1ms]";

/**
 * The gateway's servers (not yet listening), one per port, answering the journey after
 * `latencyMs` in one process: the first for nginx's upstream, the second, if any, for the tester
 * directly, so both see the same gateway at the same moment and each port keeps its own counters.
 */
function gatewayServers(name: string, latencyMs: number, ports: 1 | 2): http.Server[] {
    const paths = new Set(JOURNEY.map((step) => step.path));
    const listeners = Array.from({ length: ports }, () => ({ stats: { requests: 0, connections: 0, clientAddresses: 0 } as ListenerStats, seen: new WeakSet<object>(), addresses: new Set<string>() }));
    const report = (): GatewayStats => ({ name, ...listeners[0].stats, ...(listeners[1] ? { direct: listeners[1].stats } : {}) });
    return listeners.map((listener) => {
        const server = http.createServer((request, response) => {
            if (request.url === GATEWAY_STATS_PATH) {
                response.setHeader("content-type", "application/json");
                response.end(JSON.stringify(report()));
                return;
            }
            if (!paths.has(request.url ?? "")) {
                response.statusCode = 404;
                response.end();
                return;
            }
            listener.stats.requests++;
            if (!listener.seen.has(request.socket)) {
                listener.seen.add(request.socket);
                listener.stats.connections++;
                listener.addresses.add(request.socket.remoteAddress ?? "");
                listener.stats.clientAddresses = listener.addresses.size;
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
    });
}

async function main(argv: string[]): Promise<number> {
    const flags = parseFlags(argv, ["name", "port", "direct-port", "latency"] as const, USAGE);
    const ports = [flags.port, flags["direct-port"]].filter((port): port is string => port !== undefined);
    if (!flags.name || !flags.port || !ports.every((port) => /^\d+$/.test(port))) throw new Error(`--name and numeric ports are required\n${USAGE}`);
    const latencyMs = flags.latency === undefined || flags.latency === "0ms" ? 0 : parseDurationFlag("latency", flags.latency);
    const servers = gatewayServers(flags.name, latencyMs, ports.length === 2 ? 2 : 1);
    for (const [index, server] of servers.entries()) await new Promise<void>((resolve) => server.listen(Number(ports[index]), "127.0.0.1", resolve));
    process.stdout.write(`${flags.name} listening on 127.0.0.1:${ports.join(" and ")}, latency ${latencyMs} ms\n`);
    // Runs until its process group is signalled.
    await new Promise<never>(() => undefined);
    return 0;
}

if (require.main === module) runMain(main);
