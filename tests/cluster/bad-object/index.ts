// One object that is wrong, chosen by config `case`, under the provider settings of the real stack
// (index.ts): what `up` does with it (tests/cluster/cluster.test.ts step f).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

const config = new pulumi.Config();
const which = config.require("case");
const provider = new k8s.Provider("k8s", {
    kubeconfig: config.require("kubeconfig"),
    context: config.require("context"),
    enableConfigMapMutable: true,
    enableSecretMutable: true,
});
const opts = { provider };
const namespace = new k8s.core.v1.Namespace("ns", { metadata: { name: `bad-${which}` } }, opts).metadata.name;

/** A container with a misspelt field, as a typo in a spread or a cast would send it. */
const misspelt = { name: "x", image: "nginx:1.28.0", resourcez: {} } as k8s.types.input.core.v1.Container;

switch (which) {
    case "unknown-field":
        new k8s.apps.v1.Deployment(
            "unknown-field",
            {
                metadata: { name: "unknown-field", namespace },
                spec: {
                    selector: { matchLabels: { app: "x" } },
                    template: { metadata: { labels: { app: "x" } }, spec: { containers: [misspelt] } },
                },
            },
            opts,
        );
        break;
    case "bad-label":
        new k8s.core.v1.ConfigMap("bad-label", { metadata: { name: "bad-label", namespace, labels: { app: "not a valid label value!" } }, data: { a: "b" } }, opts);
        break;
    case "pvc-resize":
        // Applied once at 9Gi, then shrunk to 8Gi: the provider updates the claim in place (its size is
        // not a replace trigger), and the API server refuses it (a claim never shrinks; the local
        // class, like the cloud ones, allows growing: components/storage.ts refuses a shrink at preview).
        new k8s.core.v1.PersistentVolumeClaim(
            "pvc-resize",
            {
                metadata: { name: "pvc-resize", namespace },
                spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: `${10 - Number(config.require("version"))}Gi` } } },
            },
            opts,
        );
        break;
    default:
        throw new Error(`unknown case ${which}`);
}
