// InternalCertificateAuthority under mocks: what each issuer declares for one certificate, and that
// a certificate's private key reaches its Secret only as a secret.
import * as pulumi from "@pulumi/pulumi";
import { InternalCertificateAuthority, TLS_SECRET_KEYS } from "../../components/tls";
import { internalTlsSettingsSchema } from "../../components/tls/args";
import { installMockRuntime } from "../../scripts/mock-runtime";
import { find, isWireSecret, ofType, RecordedResource, settled, valueOf } from "../helpers/mocks";

let recorded: RecordedResource[];

beforeEach(async () => {
    recorded = await installMockRuntime("tls-test", "test", {});
});

/** A component that issues one certificate, as PostgresCluster or RedisCluster do. */
class Holder extends pulumi.ComponentResource {
    readonly secretName: pulumi.Output<string>;
    constructor(ca: InternalCertificateAuthority) {
        super("test:index:Holder", "holder");
        this.secretName = ca.issue("redis-tls", { namespace: "prepx", dnsNames: ["redis.prepx.svc", "*.redis.prepx.svc"] }, { parent: this });
    }
}

const kinds = () => ofType(recorded, "kubernetes:cert-manager.io/v1:Certificate").concat(ofType(recorded, "kubernetes:cert-manager.io/v1:Issuer"));

test("cert-manager: a self-signed root, a CA Issuer, and a Certificate per issue whose Secret has the requested name", async () => {
    const holder = new Holder(new InternalCertificateAuthority("internal-ca", { namespace: "prepx" }));
    expect(await valueOf(holder.secretName)).toBe("redis-tls");
    await settled(recorded);
    expect(kinds().map((r) => `${r.inputs.kind} ${r.inputs.metadata.name}`).sort()).toEqual([
        "Certificate internal-ca",
        "Certificate redis-tls",
        "Issuer internal-ca",
        "Issuer internal-ca-root",
    ]);
    const root = kinds().find((r) => r.inputs.metadata.name === "internal-ca" && r.inputs.kind === "Certificate");
    expect(root?.inputs.spec).toMatchObject({ isCA: true, secretName: "internal-ca", issuerRef: { name: "internal-ca-root", kind: "Issuer" } });
    const leaf = find(recorded, "kubernetes:cert-manager.io/v1:Certificate", "redis-tls");
    expect(leaf.inputs.spec).toMatchObject({
        secretName: "redis-tls",
        commonName: "redis.prepx.svc",
        dnsNames: ["redis.prepx.svc", "*.redis.prepx.svc"],
        duration: "8760h",
        renewBefore: "720h",
        usages: expect.arrayContaining(["server auth", "client auth"]),
        issuerRef: { name: "internal-ca", kind: "Issuer", group: "cert-manager.io" },
    });
    // The certificate is the holder's child, where the pods that mount it are.
    expect(leaf.parent).toContain("test:index:Holder");
    expect(ofType(recorded, "tls:index/privateKey:PrivateKey")).toEqual([]);
});

test("cert-manager with an issuerRef: no CA chain of its own, the Certificate names the given issuer", async () => {
    new Holder(new InternalCertificateAuthority("internal-ca", { namespace: "prepx", settings: { issuerRef: { name: "company-ca", kind: "ClusterIssuer" } } }));
    await settled(recorded);
    expect(kinds().map((r) => `${r.inputs.kind} ${r.inputs.metadata.name}`)).toEqual(["Certificate redis-tls"]);
    expect(find(recorded, "kubernetes:cert-manager.io/v1:Certificate", "redis-tls").inputs.spec.issuerRef).toEqual({ name: "company-ca", kind: "ClusterIssuer", group: "cert-manager.io" });
});

test("stack: @pulumi/tls signs with the stack's root and the Secret carries the chain, the key and the CA, sent as a secret", async () => {
    new Holder(new InternalCertificateAuthority("internal-ca", { namespace: "prepx", settings: { issuer: "stack" } }));
    await settled(recorded);
    expect(kinds()).toEqual([]);
    const root = find(recorded, "tls:index/selfSignedCert:SelfSignedCert", "internal-ca");
    expect(root.inputs).toMatchObject({ isCaCertificate: true, validityPeriodHours: 87600, allowedUses: expect.arrayContaining(["cert_signing"]) });
    const signed = find(recorded, "tls:index/locallySignedCert:LocallySignedCert", "redis-tls");
    expect(signed.inputs).toMatchObject({ caCertPem: "mock-certificate-internal-ca", validityPeriodHours: 8760, earlyRenewalHours: 720 });
    expect(find(recorded, "tls:index/certRequest:CertRequest", "redis-tls").inputs.dnsNames).toEqual(["redis.prepx.svc", "*.redis.prepx.svc"]);
    const secret = find(recorded, "kubernetes:core/v1:Secret", "redis-tls");
    expect(secret.inputs).toMatchObject({
        type: "kubernetes.io/tls",
        metadata: { name: "redis-tls", namespace: "prepx" },
        stringData: {
            [TLS_SECRET_KEYS.certificate]: "mock-certificate-redis-tls",
            [TLS_SECRET_KEYS.privateKey]: "mock-private-key-redis-tls",
            [TLS_SECRET_KEYS.ca]: "mock-certificate-internal-ca",
        },
    });
    // The Kubernetes SDK sends a Secret's stringData to the engine as one secret, whatever its values
    // are: that is what keeps the key out of the state in plain text (the key's own secret marking is
    // not visible beneath it, so it is not asserted here).
    expect(isWireSecret(secret.wire.stringData)).toBe(true);
});

test("settings: renewal inside the lifetime, issuerRef only with cert-manager", () => {
    const problems = (value: unknown) => {
        const result = internalTlsSettingsSchema.safeParse(value);
        return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    };
    expect(problems({})).toEqual([]);
    expect(problems({ certificateValidityHours: 48, renewBeforeHours: 48 })).toEqual(["renewBeforeHours: must be less than certificateValidityHours (48)"]);
    expect(problems({ issuer: "stack", issuerRef: { name: "company-ca" } })).toEqual(["issuerRef: applies only to issuer cert-manager"]);
    expect(problems({ issuer: "vault" })).toHaveLength(1);
});

test("a certificate without names is refused, naming it", () => {
    const ca = new InternalCertificateAuthority("internal-ca", { namespace: "prepx" });
    expect(() => ca.issue("empty-tls", { namespace: "prepx", dnsNames: [] }, { parent: ca })).toThrow("certificate empty-tls: dnsNames is empty");
});
