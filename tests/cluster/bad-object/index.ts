// One object the API server must refuse, chosen by config `case`, under the provider settings of the
// real stack (index.ts): `up` must fail with the API server's message, never hang.
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
    case "immutable":
        // Applied once with `version: 1`, then changed: with enableConfigMapMutable the provider
        // updates in place, and an immutable ConfigMap refuses the update.
        new k8s.core.v1.ConfigMap("immutable", { metadata: { name: "immutable", namespace }, immutable: true, data: { version: config.require("version") } }, opts);
        break;
    default:
        throw new Error(`unknown case ${which}`);
}
