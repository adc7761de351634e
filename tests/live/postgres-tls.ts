// TLS for the live tests: a throwaway CA and certificates made with Debian's openssl in a temp dir
// (the cluster's come from components/tls), an HTTPS GET on 127.0.0.1 checked against a CA, and a
// relay that makes a loopback client look remote (its connections leave from another 127/8 address).
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { TLS_SECRET_KEYS } from "../../components/tls";
import { spliceSockets } from "./support";

/** A certificate's files as a Secret of components/tls would hold them: the chain, its key, the CA. */
export interface TestCertificate {
    certificate: string;
    privateKey: string;
    ca: string;
}

/** A CA made for one test run: it signs certificates (issue) into its directory. */
export interface TestCertificateAuthority {
    /** The CA certificate's file (PEM). */
    ca: string;
    /** A key (ECDSA P-256, as components/tls issues) and a certificate for `ipAddresses` and `dnsNames`, server and client use, valid for 2 days. */
    issue(name: string, names: { ipAddresses?: string[]; dnsNames?: string[] }): TestCertificate;
}

const openssl = (args: string[], cwd: string) => execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });

/** A new CA in `dir` (created), its files world-readable except the keys (0600). */
export function testCertificateAuthority(dir: string, commonName = "prepx live-test CA"): TestCertificateAuthority {
    fs.mkdirSync(dir, { recursive: true });
    const newKey = (file: string) => {
        openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file], dir);
        fs.chmodSync(path.join(dir, file), 0o600);
    };
    newKey("ca.key");
    openssl(
        ["req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "2", "-subj", `/CN=${commonName}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "ca.crt"],
        dir,
    );
    const ca = path.join(dir, "ca.crt");
    return {
        ca,
        issue(name, names) {
            const altNames = [...(names.ipAddresses ?? []).map((ip) => `IP:${ip}`), ...(names.dnsNames ?? []).map((dns) => `DNS:${dns}`)];
            if (altNames.length === 0) throw new Error(`certificate ${name}: no name`);
            newKey(`${name}.key`);
            openssl(["req", "-new", "-key", `${name}.key`, "-subj", `/CN=${names.dnsNames?.[0] ?? names.ipAddresses?.[0]}`, "-out", `${name}.csr`], dir);
            fs.writeFileSync(
                path.join(dir, `${name}.ext`),
                [`subjectAltName=${altNames.join(",")}`, "keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=serverAuth,clientAuth", ""].join("\n"),
            );
            openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-sha256", "-extfile", `${name}.ext`, "-out", `${name}.crt`], dir);
            return { certificate: path.join(dir, `${name}.crt`), privateKey: path.join(dir, `${name}.key`), ca };
        },
    };
}

/**
 * Copies a certificate's files into `dir` under the names a components/tls Secret mount has
 * (TLS_SECRET_KEYS), owned by `uid`:`gid`, the key 0600 (PostgreSQL refuses a key others can read).
 */
export function installCertificate(certificate: TestCertificate, dir: string, uid: number, gid: number): TestCertificate {
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
        certificate: copy(certificate.certificate, TLS_SECRET_KEYS.certificate, 0o644),
        privateKey: copy(certificate.privateKey, TLS_SECRET_KEYS.privateKey, 0o600),
        ca: copy(certificate.ca, TLS_SECRET_KEYS.ca, 0o644),
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
