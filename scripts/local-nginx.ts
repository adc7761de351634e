// A stack's nginx.conf for a run on this machine's Debian nginx (127.0.0.1 only): rendered by the
// load balancer tier's own functions from the stack's config, with only the upstream (a static list:
// Debian's nginx 1.22 predates `server ... resolve`), the ports, the writable paths and the TLS
// certificate (from a test CA made with openssl) replaced. Used by `npm run loadtest:local` and
// tests/live/nginx.test.ts.
import * as fs from "fs";
import * as path from "path";
import { loadBalancerTierArgsSchema, NginxConfOptions, nginxConfOptions } from "../components";
import { parseStackConfig } from "../config";
import { loadBalancerTierArgs } from "../stack-args";
import { issueServerCertificate, makeTestCa } from "../tests/live/tls-support";
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
    /** The HTTPS listener: its port (also the public port redirects name) and the certificate files nginx reads. */
    tls: { listenPort: number; certificateFile: string; keyFile: string };
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
        // No balancer in front: the local HTTPS port is the public one, so plain HTTP redirects to it.
        tls: { ...deployed.tls, listenPort: local.tls.listenPort, publicPort: local.tls.listenPort, certificateFile: local.tls.certificateFile, keyFile: local.tls.keyFile },
    };
}

/** Creates `dir` and its temp dir, owned by the user nginx runs as. */
export function prepareLocalNginxDir(dir: string): void {
    fs.mkdirSync(path.join(dir, "tmp"), { recursive: true });
    if (NGINX_RUN_AS.uid !== undefined && NGINX_RUN_AS.gid !== undefined) {
        for (const owned of [dir, path.join(dir, "tmp")]) fs.chownSync(owned, NGINX_RUN_AS.uid, NGINX_RUN_AS.gid);
    }
}

/** The name and address a local nginx's certificate is for: what clients on this machine connect to. */
const LOCAL_SERVER_NAMES = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] };

/** A local nginx's certificate and the test CA that signed it (PEM files under one directory). */
export interface LocalCertificate {
    /** The CA certificate clients verify against (e.g. the load tester's --ca-file). */
    caFile: string;
    caPem: string;
    certificateFile: string;
    keyFile: string;
}

/**
 * A test CA in `dir`/ca and a server certificate it signs for localhost and 127.0.0.1 in `dir`/server,
 * made with openssl; the certificate and key are readable by the user nginx runs as. Valid for a day.
 */
export async function makeLocalCertificate(dir: string): Promise<LocalCertificate> {
    const ca = await makeTestCa(path.join(dir, "ca"), "prepx local nginx CA");
    const server = await issueServerCertificate(ca, path.join(dir, "server"), LOCAL_SERVER_NAMES);
    if (NGINX_RUN_AS.uid !== undefined && NGINX_RUN_AS.gid !== undefined) {
        for (const file of [server.certificateFile, server.keyFile]) fs.chownSync(file, NGINX_RUN_AS.uid, NGINX_RUN_AS.gid);
    }
    return { caFile: ca.certificateFile, caPem: ca.pem, certificateFile: server.certificateFile, keyFile: server.keyFile };
}
