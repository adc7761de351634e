// From recorded resources to Kubernetes objects (scripts/manifests.ts) and their schema check
// (scripts/schema.ts), on hand-made resources so each rule is seen in isolation.
import { parseAllDocuments } from "yaml";
import { compareObjects, JsonObject, kubernetesTypeParts, REDACTED, renderObjects, manifestsYaml } from "../../scripts/manifests";
import { RecordedResource, wireSecret } from "../../scripts/mock-runtime";
import { modelFor, validateAll, validateObject } from "../../scripts/schema";

const STACK_URN = "urn:pulumi:test::prepx-platform::pulumi:pulumi:Stack::prepx-platform-test";
const COMPONENT_URN = "urn:pulumi:test::prepx-platform::prepx:cache:RedisCluster::redis";

function resource(type: string, name: string, wire: Record<string, unknown>, extra: Partial<RecordedResource> = {}): RecordedResource {
    return { type, name, inputs: {}, wire, urn: `urn:pulumi:test::prepx-platform::${type}::${name}`, parent: STACK_URN, protect: false, custom: true, provider: "", ...extra };
}

const configMap = (name: string, namespace: string, data: Record<string, unknown> = { a: "1" }) =>
    resource("kubernetes:core/v1:ConfigMap", name, { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace }, data });

describe("renderObjects", () => {
    test("type tokens map to apiVersion and kind; core/v1 is v1", () => {
        expect(kubernetesTypeParts("kubernetes:apps/v1:StatefulSet")).toEqual({ apiVersion: "apps/v1", kind: "StatefulSet" });
        expect(kubernetesTypeParts("kubernetes:core/v1:Secret")).toEqual({ apiVersion: "v1", kind: "Secret" });
        expect(kubernetesTypeParts("kubernetes:networking.k8s.io/v1:NetworkPolicy")).toEqual({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy" });
        expect(kubernetesTypeParts("pulumi:providers:kubernetes")).toBeUndefined();
        expect(kubernetesTypeParts("prepx:cache:RedisCluster")).toBeUndefined();
    });

    test("keeps Kubernetes objects only: no provider, component, password or image", () => {
        const result = renderObjects([
            resource("pulumi:providers:kubernetes", "k8s", { kubeconfig: "x" }),
            resource("prepx:cache:RedisCluster", "redis", {}, { custom: false }),
            resource("random:index/randomPassword:RandomPassword", "pw", { length: 32 }),
            resource("docker:index/image:Image", "img", { imageName: "x:1" }),
            configMap("c", "ns"),
        ]);
        expect(result.objects.map((o) => `${o.kind} ${o.name}`)).toEqual(["ConfigMap c"]);
        expect(result.problems).toEqual([]);
    });

    test("reports remote Kubernetes components (helm, yaml) whose children the mocks never see", () => {
        const result = renderObjects([resource("kubernetes:helm.sh/v4:Chart", "grafana", {}, { custom: false })]);
        expect(result.objects).toEqual([]);
        expect(result.unrendered).toEqual(["kubernetes:helm.sh/v4:Chart grafana"]);
    });

    test("orders by install order of the kind, then namespace and name", () => {
        const result = renderObjects([
            resource("kubernetes:apps/v1:Deployment", "api", { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "api", namespace: "b" } }),
            configMap("z", "a"),
            configMap("y", "b"),
            configMap("x", "b"),
            resource("kubernetes:core/v1:Namespace", "ns", { apiVersion: "v1", kind: "Namespace", metadata: { name: "b" } }),
            resource("kubernetes:example.com/v1:Widget", "w", { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w", namespace: "b" } }),
        ]);
        expect(result.objects.map((o) => `${o.kind} ${o.namespace}/${o.name}`)).toEqual([
            "Namespace /b",
            "ConfigMap a/z",
            "ConfigMap b/x",
            "ConfigMap b/y",
            "Deployment b/api",
            "Widget b/w",
        ]);
        const [first, second] = result.objects;
        expect(compareObjects(first, second)).toBeLessThan(0);
        expect(compareObjects(second, first)).toBeGreaterThan(0);
    });

    test("orders keys canonically: apiVersion, kind, metadata first, the rest alphabetical at every level", () => {
        const [object] = renderObjects([
            resource("kubernetes:core/v1:Service", "s", { spec: { type: "ClusterIP", ports: [{ port: 80, name: "http" }] }, metadata: { name: "s", labels: { b: "2", a: "1" } }, kind: "Service", apiVersion: "v1" }),
        ]).objects;
        expect(Object.keys(object.object)).toEqual(["apiVersion", "kind", "metadata", "spec"]);
        expect(Object.keys((object.object.metadata as JsonObject).labels as JsonObject)).toEqual(["a", "b"]);
        expect(Object.keys((object.object.spec as JsonObject) as JsonObject)).toEqual(["ports", "type"]);
        expect(Object.keys(((object.object.spec as JsonObject).ports as JsonObject[])[0])).toEqual(["name", "port"]);
    });

    test("redacts every value of a Secret, keeping the keys, including values marked secret as a whole", () => {
        const [secret] = renderObjects([
            resource("kubernetes:core/v1:Secret", "auth", {
                apiVersion: "v1",
                kind: "Secret",
                metadata: { name: "auth", namespace: "ns" },
                data: { token: "c2VjcmV0" },
                stringData: wireSecret({ password: "hunter2-hunter2", user: "app" }),
            }),
        ]).objects;
        expect(secret.object.data).toEqual({ token: REDACTED });
        expect(secret.object.stringData).toEqual({ password: REDACTED, user: REDACTED });
        expect(validateObject(secret.object)).toEqual({ status: "valid" }); // REDACTED is valid base64 for `data`
    });

    test("a secret value outside a Secret is redacted and reported as a defect", () => {
        const result = renderObjects([
            resource("kubernetes:apps/v1:Deployment", "api", {
                apiVersion: "apps/v1",
                kind: "Deployment",
                metadata: { name: "api", namespace: "ns" },
                spec: { template: { spec: { containers: [{ name: "api", env: [{ name: "DB_PASSWORD", value: wireSecret("hunter2-hunter2") }], ports: [{ containerPort: wireSecret(8080) }] }] } } },
            }),
        ]);
        const container = (((result.objects[0].object.spec as JsonObject).template as JsonObject).spec as JsonObject).containers as JsonObject[];
        expect((container[0].env as JsonObject[])[0].value).toBe(REDACTED);
        expect((container[0].ports as JsonObject[])[0].containerPort).toBe(8080); // non-strings keep their type, so the schema still applies
        expect(result.problems).toEqual([
            "Deployment ns/api: secret value at spec.template.spec.containers[0].env[0].value outside a Secret (redacted here; it belongs in a Secret)",
            "Deployment ns/api: secret value at spec.template.spec.containers[0].ports[0].containerPort outside a Secret (redacted here; it belongs in a Secret)",
        ]);
        expect(manifestsYaml(result.objects)).not.toContain("hunter2");
    });

    test("auto-named objects get their logical name and say so; duplicates and unknown values are reported", () => {
        const result = renderObjects([
            resource("kubernetes:core/v1:ConfigMap", "settings", { apiVersion: "v1", kind: "ConfigMap", metadata: { namespace: "ns" }, data: { a: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" } }),
            configMap("dup", "ns"),
            configMap("dup", "ns"),
        ]);
        const settings = result.objects.find((o) => o.source.logicalName === "settings");
        expect(settings?.name).toBe("settings");
        expect(settings?.autoNamed).toBe(true);
        expect(manifestsYaml([settings!])).toContain("auto-named: Pulumi appends a random suffix");
        expect(result.problems).toEqual([
            "ConfigMap ns/settings: value at data.a is unknown under the mocks",
            "ConfigMap ns/dup: declared twice (the second apply would overwrite the first)",
        ]);
    });

    test("the YAML: one document per object with its provenance, literal blocks, parses back to the objects", () => {
        const result = renderObjects([
            resource("kubernetes:core/v1:ConfigMap", "conf", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "conf", namespace: "ns" }, data: { "nginx.conf": "events {}\nhttp {\n  server_tokens off;\n}\n" } }, { parent: COMPONENT_URN, protect: true }),
            configMap("plain", "ns"),
        ]);
        const yaml = manifestsYaml(result.objects);
        expect(yaml).toContain('# from prepx:cache:RedisCluster "redis": kubernetes:core/v1:ConfigMap "conf"; protected (pulumi protect)\n');
        expect(yaml).toContain('# from the stack: kubernetes:core/v1:ConfigMap "plain"\n');
        expect(yaml).toContain("  nginx.conf: |\n    events {}\n    http {\n      server_tokens off;\n    }\n");
        const documents = parseAllDocuments(yaml);
        if (!Array.isArray(documents)) throw new Error("no documents");
        expect(documents.map((d) => d.toJS())).toEqual(result.objects.map((o) => o.object));
    });
});

describe("schema validation (kubernetes-models)", () => {
    const deployment = (): JsonObject => ({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "api", namespace: "ns" },
        spec: {
            replicas: 2,
            selector: { matchLabels: { app: "api" } },
            template: { metadata: { labels: { app: "api" } }, spec: { containers: [{ name: "api", image: "api:1.0.0", ports: [{ containerPort: 8080 }] }] } },
        },
    });

    test("finds the model from apiVersion and kind, in the core group and in named groups", () => {
        for (const [apiVersion, kind] of [["v1", "Secret"], ["apps/v1", "StatefulSet"], ["autoscaling/v2", "HorizontalPodAutoscaler"], ["networking.k8s.io/v1", "NetworkPolicy"], ["policy/v1", "PodDisruptionBudget"]]) {
            const model = modelFor(apiVersion, kind);
            if (typeof model === "string") throw new Error(model);
            expect([model.apiVersion, model.kind]).toEqual([apiVersion, kind]);
        }
    });

    test("a valid object passes; broken ones are caught with the path", () => {
        expect(validateObject(deployment())).toEqual({ status: "valid" });
        const wrongType = deployment();
        ((wrongType.spec as JsonObject).replicas as unknown) = "2";
        expect(validateObject(wrongType)).toEqual({ status: "invalid", errors: ["/spec/replicas must be integer"] });
        const noContainers = deployment();
        delete (((noContainers.spec as JsonObject).template as JsonObject).spec as JsonObject).containers;
        expect(validateObject(noContainers)).toEqual({ status: "invalid", errors: ["/spec/template/spec must have required property containers"] });
        const badEnum = deployment();
        (badEnum.spec as JsonObject).strategy = { type: "Sideways" };
        expect(validateObject(badEnum).status).toBe("invalid");
    });

    test("objects without a model (custom resources, typos, non-top-level types) are reported, never passed", () => {
        expect(validateObject({ apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: { name: "x" } })).toEqual({
            status: "no-model",
            reason: "no schema for monitoring.coreos.com/v1 ServiceMonitor in kubernetes-models (a custom resource, or a kind this Kubernetes version lacks)",
        });
        expect(validateObject({ apiVersion: "apps/v1", kind: "Deploymnet" }).status).toBe("no-model");
        expect(validateObject({ apiVersion: "apps/v1", kind: "DeploymentSpec" })).toEqual({ status: "no-model", reason: "kubernetes-models/apps/v1/DeploymentSpec does not export the DeploymentSpec model" });
        // Never turned into a module path.
        expect(validateObject({ apiVersion: "../../../etc", kind: "Passwd" })).toEqual({ status: "no-model", reason: 'not a Kubernetes apiVersion/kind: "../../../etc"/"Passwd"' });
    });

    test("validateAll counts what it checked and names each violation and each unchecked object", () => {
        const broken = deployment();
        ((broken.spec as JsonObject).replicas as unknown) = -1.5;
        const report = validateAll([
            { label: "Deployment ns/ok", object: deployment() },
            { label: "Deployment ns/broken", object: broken },
            { label: "Widget ns/w", object: { apiVersion: "example.com/v1", kind: "Widget" } },
        ]);
        expect(report.checked).toBe(2);
        expect(report.invalid).toEqual(["Deployment ns/broken: /spec/replicas must be integer", 'Deployment ns/broken: /spec/replicas must match format "int32"']);
        expect(report.unchecked).toEqual(["Widget ns/w: no schema for example.com/v1 Widget in kubernetes-models (a custom resource, or a kind this Kubernetes version lacks)"]);
    });
});
