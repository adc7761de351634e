// The Pulumi mock runtime of the unit tests. It lives in scripts/mock-runtime.ts because the
// offline renderer (`npm run render`) records resources the same way; this module keeps the
// import path the tests have always used.
import * as pulumi from "@pulumi/pulumi";
import type { CertificateIssuer } from "../../components/tls";
export { find, installMocks, isWireSecret, mockPassword, ofType, settled, valueOf } from "../../scripts/mock-runtime";
export type { RecordedResource } from "../../scripts/mock-runtime";

/**
 * A CertificateIssuer for component tests that check wiring, not the CA: it declares nothing and
 * returns the Secret's name (tests/unit/tls.test.ts covers InternalCertificateAuthority itself).
 */
export const testCertificates: CertificateIssuer = { issue: (name) => pulumi.output(name) };

/** A CertificateIssuer for builders that only take a Secret's name: asked to issue, it throws. */
export const noCertificates: CertificateIssuer = {
    issue: () => {
        throw new Error("no certificate is issued here");
    },
};
