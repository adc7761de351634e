// Certificates of the stack's internal hops (PostgreSQL, PgBouncer, Patroni's REST API, Redis, and
// the apps as their clients), all signed by one internal CA. Where the cluster runs cert-manager the
// stack declares a self-signed root, a CA Issuer and one Certificate per server (cert-manager keeps
// them renewed); where it does not, @pulumi/tls creates the keys and certificates, keeps them in the
// stack's state (secret) and writes them to Secrets. Either way a certificate's Secret has
// cert-manager's layout (TLS_SECRET_KEYS), so a component does not know which of the two issued it.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { z } from "zod";
import { InternalTlsSettings, internalTlsSettingsSchema, TLS_SECRET_KEYS } from "./args";

export { TLS_SECRET_KEYS } from "./args";

/** What a certificate is for: the names it is valid for, and where its Secret goes. */
export interface CertificateRequest {
    /** Namespace of the Secret (the pods that mount it run there). */
    namespace: pulumi.Input<string>;
    /** DNS names the certificate is valid for; the first is also its common name. */
    dnsNames: string[];
    /** Labels of the Secret (and of cert-manager's Certificate). */
    labels?: Record<string, string>;
}

/** Issues certificates from the stack's internal CA. */
export interface CertificateIssuer {
    /**
     * Declares a certificate for `request.dnsNames`, usable for server and client auth, written to the
     * Secret `name` in `request.namespace` (keys TLS_SECRET_KEYS), as a child of opts.parent. Returns
     * the Secret's name, resolved once it is declared: a volume that uses it depends on it.
     */
    issue(name: string, request: CertificateRequest, opts: pulumi.CustomResourceOptions): pulumi.Output<string>;
}

/** Arguments of InternalCertificateAuthority. */
export interface InternalCertificateAuthorityArgs {
    /** Namespace of the CA's objects and of every certificate it issues. */
    namespace: pulumi.Input<string>;
    /** Who signs, and lifetimes (internalTlsSettingsSchema; defaults apply to what is left out). */
    settings?: z.input<typeof internalTlsSettingsSchema>;
    /** Labels of the CA's objects. */
    labels?: Record<string, string>;
}

/** Key usages of a certificate that serves TLS and also authenticates its holder as a client. */
const CERT_MANAGER_USAGES = ["digital signature", "key encipherment", "server auth", "client auth"];
const STACK_USAGES = ["digital_signature", "key_encipherment", "server_auth", "client_auth"];

/**
 * The stack's internal CA: pass it as `certificates` to the components. Names of its own objects:
 * `internal-ca` (the root's Secret and the CA Issuer) and `internal-ca-root` (the self-signed Issuer).
 */
export class InternalCertificateAuthority extends pulumi.ComponentResource implements CertificateIssuer {
    /** Who signs: `cert-manager` or `stack`. */
    public readonly issuer: InternalTlsSettings["issuer"];
    /** The root certificate (PEM) where the stack created it (`stack`); undefined under cert-manager, which keeps it in the Secret `internal-ca`. */
    public readonly caCertificatePem: pulumi.Output<string> | undefined;

    private readonly settings: InternalTlsSettings;
    private readonly signer: (name: string, request: CertificateRequest, opts: pulumi.CustomResourceOptions) => pulumi.Resource;

    constructor(name: string, args: InternalCertificateAuthorityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("prepx:index:InternalCertificateAuthority", name, {}, opts);
        const parsed = internalTlsSettingsSchema.safeParse(args.settings ?? {});
        if (!parsed.success) {
            throw new pulumi.ResourceError(`${name}: settings ${parsed.error.issues.map((issue) => `${issue.path.join(".")} ${issue.message}`).join("; ")}`, this);
        }
        this.settings = parsed.data;
        this.issuer = parsed.data.issuer;
        const childOpts = { parent: this };
        if (this.settings.issuer === "cert-manager") {
            const issuerRef = this.settings.issuerRef ?? certManagerCaChain(args.namespace, args.labels ?? {}, this.settings, childOpts);
            this.caCertificatePem = undefined;
            this.signer = (certificate, request, certificateOpts) => certManagerCertificate(certificate, request, issuerRef, this.settings, certificateOpts);
        } else {
            const key = new tls.PrivateKey("internal-ca", { algorithm: "ECDSA", ecdsaCurve: "P256" }, childOpts);
            const root = new tls.SelfSignedCert(
                "internal-ca",
                {
                    privateKeyPem: key.privateKeyPem,
                    subject: { commonName: "prepx internal CA", organization: "prepx" },
                    isCaCertificate: true,
                    validityPeriodHours: this.settings.caValidityHours,
                    earlyRenewalHours: this.settings.renewBeforeHours,
                    allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
                },
                childOpts,
            );
            this.caCertificatePem = root.certPem;
            this.signer = (certificate, request, certificateOpts) => stackCertificate(certificate, request, { key, root }, this.settings, certificateOpts);
        }
        this.registerOutputs({});
    }

    issue(name: string, request: CertificateRequest, opts: pulumi.CustomResourceOptions): pulumi.Output<string> {
        if (request.dnsNames.length === 0) throw new pulumi.ResourceError(`certificate ${name}: dnsNames is empty`, opts.parent ?? this);
        const declared = this.signer(name, request, opts);
        return pulumi.output(declared.urn).apply(() => name);
    }
}

/** A cert-manager `issuerRef`. */
interface IssuerRef {
    name: string;
    kind: "Issuer" | "ClusterIssuer";
}

/** Hours as a Go duration, which cert-manager's `duration` and `renewBefore` take. */
function hours(value: number): string {
    return `${value}h`;
}

/**
 * The stack's own CA under cert-manager: a self-signed Issuer signs the root Certificate
 * (`internal-ca`, its key and certificate in the Secret of that name), and the CA Issuer
 * `internal-ca` signs with it.
 */
function certManagerCaChain(namespace: pulumi.Input<string>, labels: Record<string, string>, settings: InternalTlsSettings, opts: pulumi.CustomResourceOptions): IssuerRef {
    const metadata = (name: string) => ({ name, namespace, labels });
    const rootIssuer = new k8s.apiextensions.CustomResource(
        "internal-ca-root",
        { apiVersion: "cert-manager.io/v1", kind: "Issuer", metadata: metadata("internal-ca-root"), spec: { selfSigned: {} } },
        opts,
    );
    const root = new k8s.apiextensions.CustomResource(
        "internal-ca",
        {
            apiVersion: "cert-manager.io/v1",
            kind: "Certificate",
            metadata: metadata("internal-ca"),
            spec: {
                isCA: true,
                commonName: "prepx internal CA",
                secretName: "internal-ca",
                duration: hours(settings.caValidityHours),
                renewBefore: hours(settings.renewBeforeHours),
                privateKey: { algorithm: "ECDSA", size: 256 },
                issuerRef: { name: "internal-ca-root", kind: "Issuer", group: "cert-manager.io" },
            },
        },
        { ...opts, dependsOn: [rootIssuer] },
    );
    new k8s.apiextensions.CustomResource(
        "internal-ca-issuer",
        { apiVersion: "cert-manager.io/v1", kind: "Issuer", metadata: metadata("internal-ca"), spec: { ca: { secretName: "internal-ca" } } },
        { ...opts, dependsOn: [root] },
    );
    return { name: "internal-ca", kind: "Issuer" };
}

/** A cert-manager Certificate whose Secret `name` cert-manager writes and renews. */
function certManagerCertificate(name: string, request: CertificateRequest, issuerRef: IssuerRef, settings: InternalTlsSettings, opts: pulumi.CustomResourceOptions): pulumi.Resource {
    return new k8s.apiextensions.CustomResource(
        name,
        {
            apiVersion: "cert-manager.io/v1",
            kind: "Certificate",
            metadata: { name, namespace: request.namespace, labels: request.labels ?? {} },
            spec: {
                secretName: name,
                secretTemplate: { labels: request.labels ?? {} },
                commonName: request.dnsNames[0],
                dnsNames: request.dnsNames,
                duration: hours(settings.certificateValidityHours),
                renewBefore: hours(settings.renewBeforeHours),
                // A new key on every renewal: a leaked key is useful until the next renewal at most.
                privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
                usages: CERT_MANAGER_USAGES,
                issuerRef: { ...issuerRef, group: "cert-manager.io" },
            },
        },
        opts,
    );
}

/** A key and certificate signed by the stack's root (@pulumi/tls), written to the Secret `name`. */
function stackCertificate(
    name: string,
    request: CertificateRequest,
    ca: { key: tls.PrivateKey; root: tls.SelfSignedCert },
    settings: InternalTlsSettings,
    opts: pulumi.CustomResourceOptions,
): pulumi.Resource {
    const key = new tls.PrivateKey(name, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts);
    const csr = new tls.CertRequest(name, { privateKeyPem: key.privateKeyPem, subject: { commonName: request.dnsNames[0] }, dnsNames: request.dnsNames }, opts);
    const certificate = new tls.LocallySignedCert(
        name,
        {
            certRequestPem: csr.certRequestPem,
            caPrivateKeyPem: ca.key.privateKeyPem,
            caCertPem: ca.root.certPem,
            validityPeriodHours: settings.certificateValidityHours,
            // `pulumi up` replaces the certificate once it is this close to expiry.
            earlyRenewalHours: settings.renewBeforeHours,
            allowedUses: STACK_USAGES,
        },
        opts,
    );
    return new k8s.core.v1.Secret(
        name,
        {
            metadata: { name, namespace: request.namespace, labels: request.labels ?? {} },
            type: "kubernetes.io/tls",
            stringData: {
                [TLS_SECRET_KEYS.certificate]: certificate.certPem,
                [TLS_SECRET_KEYS.privateKey]: pulumi.secret(key.privateKeyPem),
                [TLS_SECRET_KEYS.ca]: ca.root.certPem,
            },
        },
        opts,
    );
}
