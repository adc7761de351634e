// Test certificates for the live tests, made with Debian's openssl in a temp dir: a CA, and server
// certificates it signs (ECDSA P-256, as the stack's cert-manager Certificates), with the file names
// of a kubernetes.io/tls Secret. Nothing here is deployed.
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import { run } from "./support";

const OPENSSL = "/usr/bin/openssl";

/** A CA's certificate and key files. */
export interface TestCa {
    certificateFile: string;
    keyFile: string;
    /** The CA certificate's PEM, for clients that verify against it. */
    pem: string;
}

/** A server certificate's files, laid out as a mounted kubernetes.io/tls Secret (tls.crt, tls.key). */
export interface TestServerCertificate {
    dir: string;
    certificateFile: string;
    keyFile: string;
    /** The certificate's serial number as openssl prints it (hex), to tell two certificates apart. */
    serial: string;
}

/** A self-signed CA in `dir` (created if missing), valid for a day. */
export async function makeTestCa(dir: string, commonName = "prepx live-test CA"): Promise<TestCa> {
    fs.mkdirSync(dir, { recursive: true });
    const keyFile = path.join(dir, "ca.key");
    const certificateFile = path.join(dir, "ca.crt");
    await run(OPENSSL, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", `/CN=${commonName}`, "-keyout", keyFile, "-out", certificateFile]);
    return { certificateFile, keyFile, pem: fs.readFileSync(certificateFile, "utf8") };
}

/**
 * A server certificate signed by `ca` for `dnsNames` and `ipAddresses` (at least one name; the
 * first is the common name), in `dir` as tls.crt and tls.key. Each call makes a new key and a new
 * random serial.
 */
export async function issueServerCertificate(
    ca: TestCa,
    dir: string,
    names: { dnsNames?: string[]; ipAddresses?: string[]; /** Also for client auth, as the stack's certificates (mutual TLS between peers). */ clientAuth?: boolean },
): Promise<TestServerCertificate> {
    const dnsNames = names.dnsNames ?? [];
    const ipAddresses = names.ipAddresses ?? [];
    const commonName = dnsNames[0] ?? ipAddresses[0];
    if (commonName === undefined) throw new Error(`certificate in ${dir}: no name`);
    fs.mkdirSync(dir, { recursive: true });
    const keyFile = path.join(dir, "tls.key");
    const certificateFile = path.join(dir, "tls.crt");
    const requestFile = path.join(dir, "tls.csr");
    const extensionsFile = path.join(dir, "extensions.cnf");
    const altNames = [...dnsNames.map((name) => `DNS:${name}`), ...ipAddresses.map((ip) => `IP:${ip}`)].join(",");
    fs.writeFileSync(extensionsFile, `subjectAltName=${altNames}\nextendedKeyUsage=serverAuth${names.clientAuth === true ? ",clientAuth" : ""}\nkeyUsage=digitalSignature\n`);
    await run(OPENSSL, ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${commonName}`, "-keyout", keyFile, "-out", requestFile]);
    await run(OPENSSL, ["x509", "-req", "-in", requestFile, "-CA", ca.certificateFile, "-CAkey", ca.keyFile, "-CAcreateserial", "-days", "1", "-extfile", extensionsFile, "-out", certificateFile]);
    const { stdout } = await run(OPENSSL, ["x509", "-in", certificateFile, "-noout", "-serial"]);
    return { dir, certificateFile, keyFile, serial: stdout.trim().replace(/^serial=/, "") };
}

/**
 * Points the mounted-Secret layout at `certificate` the way the kubelet updates a Secret volume
 * (mountDirectoryAsSecret). Returns the paths nginx reads.
 */
export function mountAsSecret(mount: string, certificate: TestServerCertificate): { certificateFile: string; keyFile: string } {
    mountDirectoryAsSecret(mount, certificate.dir, ["tls.crt", "tls.key"]);
    return { certificateFile: path.join(mount, "tls.crt"), keyFile: path.join(mount, "tls.key") };
}

/**
 * Points `mount` at the Secret keys (`files`) in `dir` the way the kubelet updates a Secret volume:
 * `<mount>/..data` is a symlink to the current directory, replaced atomically by a rename, and
 * `<mount>/<file>` are symlinks through `..data`.
 */
export function mountDirectoryAsSecret(mount: string, dir: string, files: readonly string[]): void {
    fs.mkdirSync(mount, { recursive: true });
    const next = path.join(mount, "..data_next");
    fs.rmSync(next, { force: true });
    fs.symlinkSync(dir, next);
    fs.renameSync(next, path.join(mount, "..data"));
    for (const file of files) {
        const link = path.join(mount, file);
        if (!fs.existsSync(link)) fs.symlinkSync(path.join("..data", file), link);
    }
}

/** GET `url` over HTTPS, verifying the server against `caPem` only (Node's fetch takes no CA). */
export function httpsGet(url: string, caPem: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const request = https.get(url, { ca: caPem, timeout: timeoutMs }, (response) => {
            let body = "";
            response.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
            response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
        });
        request.on("timeout", () => request.destroy(new Error(`GET ${url}: no answer in ${timeoutMs} ms`)));
        request.on("error", reject);
    });
}
