// TLS for the PostgreSQL live tests: certificates from tls-support's test CA installed as a
// components/tls Secret mount for PostgreSQL, and a relay that makes a loopback client look remote
// (its connections leave from another 127/8 address).
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { TLS_SECRET_KEYS } from "../../components/tls";
import { spliceSockets } from "./support";
import type { TestCa, TestServerCertificate } from "./tls-support";

/** A certificate's files as a Secret of components/tls would hold them: the chain, its key, the CA. */
export interface TestCertificate {
    certificate: string;
    privateKey: string;
    ca: string;
}

/**
 * Copies a certificate's files and its CA's certificate into `dir` under the names a components/tls
 * Secret mount has (TLS_SECRET_KEYS), owned by `uid`:`gid`, the key 0600 (PostgreSQL refuses a key
 * others can read).
 */
export function installCertificate(ca: TestCa, certificate: TestServerCertificate, dir: string, uid: number, gid: number): TestCertificate {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chownSync(dir, uid, gid);
    const copy = (from: string, key: string, mode: number) => {
        const to = path.join(dir, key);
        fs.copyFileSync(from, to);
        fs.chownSync(to, uid, gid);
        fs.chmodSync(to, mode);
        return to;
    };
    return {
        certificate: copy(certificate.certificateFile, TLS_SECRET_KEYS.certificate, 0o644),
        privateKey: copy(certificate.keyFile, TLS_SECRET_KEYS.privateKey, 0o600),
        ca: copy(ca.certificateFile, TLS_SECRET_KEYS.ca, 0o644),
    };
}

/**
 * Listens on 127.0.0.1 and relays each connection to 127.0.0.1:`targetPort`, leaving from
 * `sourceAddress` (another address of the loopback network, e.g. 127.0.0.2): the server sees a
 * client that is not on 127.0.0.1, as a pod sees one from another pod. Bytes pass unchanged, so
 * TLS runs end to end between the client and the server.
 */
export class RemoteSourceRelay {
    private readonly server: net.Server;
    private readonly sockets = new Set<net.Socket>();

    constructor(private readonly targetPort: number, private readonly sourceAddress: string) {
        this.server = net.createServer((client) => {
            const upstream = net.connect({ port: this.targetPort, host: "127.0.0.1", localAddress: this.sourceAddress });
            spliceSockets(client, upstream, this.sockets);
        });
    }

    /** Starts listening on 127.0.0.1:`port`. */
    async listen(port: number): Promise<void> {
        await new Promise<void>((resolve) => this.server.listen(port, "127.0.0.1", resolve));
    }

    async close(): Promise<void> {
        for (const socket of this.sockets) socket.destroy();
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
}
