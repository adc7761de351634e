// The settings of the internal CA (components/tls): who signs the internal certificates and their
// lifetimes, and the layout of a certificate's Secret. Apart from the class so that parsing a stack's
// config, and the renderers that name the Secret's files, load no Kubernetes SDK.
import { z } from "zod";
import { dnsLabel, int } from "../schema";

/** Keys of every certificate Secret (cert-manager's layout): the chain, its key, the CA that signed it. */
export const TLS_SECRET_KEYS = { certificate: "tls.crt", privateKey: "tls.key", ca: "ca.crt" } as const;

/** Stack config `internalTls`: who signs the internal certificates, and for how long. */
export const internalTlsSettingsSchema = z
    .strictObject({
        /**
         * `cert-manager` (default): the cluster runs cert-manager (v1 API); the stack declares its CA chain
         * and Certificates as cert-manager objects, and cert-manager renews them. `stack`: @pulumi/tls
         * creates them and `pulumi up` replaces each within `renewBeforeHours` of its expiry.
         */
        issuer: z.enum(["cert-manager", "stack"]).default("cert-manager"),
        /**
         * With `cert-manager`: an existing Issuer or ClusterIssuer (e.g. a company CA, Vault) that signs
         * the certificates, instead of the stack's own self-signed root and CA Issuer.
         */
        issuerRef: z.strictObject({ name: dnsLabel, kind: z.enum(["Issuer", "ClusterIssuer"]).default("Issuer") }).optional(),
        /** Lifetime of a server certificate, in hours (default 8760, a year). */
        certificateValidityHours: int(24).default(8760),
        /** A certificate is renewed this many hours before it expires (default 720, 30 days). */
        renewBeforeHours: int(1).default(720),
        /** Lifetime of the stack's own root CA, in hours (default 87600, ten years). */
        caValidityHours: int(24).default(87600),
    })
    .superRefine((value, ctx) => {
        if (value.renewBeforeHours >= value.certificateValidityHours) {
            ctx.addIssue({ code: "custom", path: ["renewBeforeHours"], message: `must be less than certificateValidityHours (${value.certificateValidityHours})` });
        }
        if (value.issuerRef !== undefined && value.issuer !== "cert-manager") {
            ctx.addIssue({ code: "custom", path: ["issuerRef"], message: "applies only to issuer cert-manager" });
        }
    });

/** The validated `internalTls` settings. */
export type InternalTlsSettings = z.output<typeof internalTlsSettingsSchema>;
