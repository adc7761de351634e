// A stack's nginx.conf for a run on this machine's Debian nginx (127.0.0.1 only): rendered by the
// load balancer tier's own functions from the stack's config, with only the upstream (a static list:
// Debian's nginx 1.22 predates `server ... resolve`), the ports and the writable paths replaced.
// Used by `npm run loadtest:local` and tests/live/nginx.test.ts.
import * as fs from "fs";
import * as path from "path";
import { loadBalancerTierArgsSchema, NginxConfOptions, nginxConfOptions } from "../components";
import { parseStackConfig } from "../config";
import { loadBalancerTierArgs } from "../stack-args";
import { readStackConfig } from "./stack-files";

/** Debian's nginx. */
export const NGINX_BINARY = "/usr/sbin/nginx";
const NOBODY = { uid: 65534, gid: 65534 };
/** As root, nginx (master and workers) runs as nobody; otherwise as the current user. */
export const NGINX_RUN_AS: { uid?: number; gid?: number } = process.getuid?.() === 0 ? NOBODY : {};
/** The gateways' headless Service name the options are rendered with (replaced by the local upstreams). */
const IN_CLUSTER_UPSTREAM = "api-gateway-headless.prepx.svc.cluster.local";

/** The options the stack's LoadBalancerTier renders nginx.conf with in its pods. */
export function deployedNginxConfOptions(stack: string): NginxConfOptions {
    const config = parseStackConfig(stack, readStackConfig(stack));
    const args = loadBalancerTierArgsSchema.parse(loadBalancerTierArgs(config, config.namespace, IN_CLUSTER_UPSTREAM));
    return nginxConfOptions(args, IN_CLUSTER_UPSTREAM);
}

/** Where a local nginx listens, writes and proxies to. */
export interface LocalNginx {
    /** Its prefix directory: pid file, error log and temp dirs go here (see prepareLocalNginxDir). */
    dir: string;
    /** Upstream `127.0.0.1:port` entries. */
    servers: string[];
    listenPort: number;
    statusPort: number;
    /** `127.0.0.1:port` of a UDP listener for the metrics access log. */
    accessLogSyslog: string;
}

/** `deployed` with the upstream, ports and paths of a local run; everything else as deployed. */
export function localNginxConfOptions(deployed: NginxConfOptions, local: LocalNginx): NginxConfOptions {
    return {
        ...deployed,
        upstream: { kind: "static", servers: local.servers },
        listenPort: local.listenPort,
        statusPort: local.statusPort,
        paths: { pidFile: path.join(local.dir, "nginx.pid"), tempDir: path.join(local.dir, "tmp"), errorLog: path.join(local.dir, "error.log") },
        accessLogSyslog: local.accessLogSyslog,
    };
}

/** Creates `dir` and its temp dir, owned by the user nginx runs as. */
export function prepareLocalNginxDir(dir: string): void {
    fs.mkdirSync(path.join(dir, "tmp"), { recursive: true });
    if (NGINX_RUN_AS.uid !== undefined && NGINX_RUN_AS.gid !== undefined) {
        for (const owned of [dir, path.join(dir, "tmp")]) fs.chownSync(owned, NGINX_RUN_AS.uid, NGINX_RUN_AS.gid);
    }
}
