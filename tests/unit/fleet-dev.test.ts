// ServiceFleet with Pulumi.dev.yaml under mocks: api-gateway given a build context (built and pushed
// to the local registry of scripts/kind-up.sh, which the kind nodes pull from), plus a service that
// holds no database pool.
import * as pulumi from "@pulumi/pulumi";
import { baselineViolations } from "../helpers/baseline";
import { find, installMocks, ofType, RecordedResource, settled, valueOf } from "../helpers/mocks";
import { readStackConfig } from "../../scripts/stack-files";
import { serviceFleetArgs } from "../../stack-args";
// Modules that register resources are imported after the mocks.
type Fleet = import("../../components/fleet").ServiceFleet;
type FleetModule = typeof import("../../components/fleet");

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
const IMAGE = "docker:index/image:Image";

let recorded: RecordedResource[];
let fleetModule: FleetModule;
let fleet: Fleet;

beforeAll(async () => {
    const raw = readStackConfig("dev");
    const configured = raw.services as Record<string, unknown>[];
    const services = [
        ...configured.map((service) =>
            service.name === "api-gateway" ? { ...service, image: { build: { context: "services/api-gateway", dockerfile: "Dockerfile.dev", repository: "api-gateway", tag: "dev-1" } } } : service,
        ),
        { ...configured[1], name: "notifier", port: 3002, usesDatabase: false, image: { prebuilt: "ghcr.io/prepx/notifier:0.3.0" } },
    ];
    recorded = await installMocks("dev", { services });
    const { parseStackConfig } = await import("../../config");
    fleetModule = await import("../../components/fleet");
    const config = parseStackConfig("dev", { ...raw, services });
    fleet = new fleetModule.ServiceFleet(
        "services",
        serviceFleetArgs(config, config.namespace, {
            database: { host: "postgres-pooler.prepx-dev.svc.cluster.local", port: 6432, name: "prepx", user: "prepx", passwordSecret: { name: "postgres-app-user", key: "password" } },
            // RedisCluster.connection's shape: each service its own user and password Secret, and the CA.
            redis: {
                seedNodes: pulumi.output(["redis-0.redis-headless.prepx-dev.svc.cluster.local:6379"]),
                users: Object.fromEntries(
                    services.map((service) => [service.name, { username: `app-${String(service.name)}`, passwordSecret: { name: pulumi.output(`redis-user-app-${String(service.name)}`), key: "password" } }]),
                ),
                caSecret: { name: pulumi.output("redis-tls"), key: "ca.crt" },
            },
        }),
    );
    await valueOf(fleet.images);
    await settled(recorded);
});

// ServiceFleet names its children `<fleet>-<object>` (the fleet here is "services").
const fleetChild = (object: string) => `services-${object}`;
const container = (service: string) => find(recorded, DEPLOYMENT, fleetChild(service)).inputs.spec.template.spec.containers[0];
const envValue = (service: string, name: string): string | undefined =>
    container(service).env.find((e: { name: string; value?: string }) => e.name === name)?.value;

test.each(["api-gateway", "user-service", "notifier"])("%s: one replica, HPA 1..2 on 80 %% CPU", (service) => {
    expect(find(recorded, DEPLOYMENT, fleetChild(service)).inputs.spec.replicas).toBe(1);
    const hpa = find(recorded, HPA, fleetChild(service)).inputs.spec;
    expect([hpa.minReplicas, hpa.maxReplicas, hpa.metrics[0].resource.target.averageUtilization]).toEqual([1, 2, 80]);
});

test("the build context is built and pushed to the local registry; pods run the pushed digest", async () => {
    const pushed = `localhost:5001/prepx/api-gateway:dev-1@sha256:${"0".repeat(64)}`;
    const images = ofType(recorded, IMAGE);
    expect(images.map((image) => image.name)).toEqual(["services-api-gateway-image"]);
    expect(images[0].inputs.skipPush).toBe(false);
    expect(images[0].inputs.imageName).toBe("localhost:5001/prepx/api-gateway:dev-1");
    expect(images[0].inputs.build.context).toBe("services/api-gateway");
    expect(images[0].inputs.build.dockerfile).toBe("services/api-gateway/Dockerfile.dev");
    expect(container("api-gateway").image).toBe(pushed);
    expect(container("user-service").image).toBe("ghcr.io/prepx/user-service:2.7.0");
    expect(await valueOf(fleet.images)).toEqual({
        "api-gateway": pushed,
        "user-service": "ghcr.io/prepx/user-service:2.7.0",
        notifier: "ghcr.io/prepx/notifier:0.3.0",
    });
});

test("dev pool sizes reach the environment", () => {
    expect([envValue("user-service", "DB_POOL_MAX"), envValue("user-service", "DB_POOL_MIN")]).toEqual(["10", "1"]);
    expect(envValue("api-gateway", "REDIS_CLUSTER_NODES")).toBe("redis-0.redis-headless.prepx-dev.svc.cluster.local:6379");
});

test("a service without a database pool gets no DB_* variable, but Redis and the rate limits", () => {
    const names: string[] = container("notifier").env.map((e: { name: string }) => e.name);
    expect(names).toEqual(fleetModule.ENV_DOCS.filter((doc) => doc.scope === "all").map((doc) => doc.name));
    expect(envValue("notifier", "PORT")).toBe("3002");
});

test("single-replica services still get a PDB, so scaling up needs no change", () => {
    expect(find(recorded, "kubernetes:policy/v1:PodDisruptionBudget", fleetChild("notifier")).inputs.spec.maxUnavailable).toBe(1);
});

test("hosts use the dev namespace", async () => {
    expect((await valueOf(fleet.headlessHosts))["api-gateway"]).toBe("api-gateway-headless.prepx-dev.svc.cluster.local");
});

test("every workload meets the baseline", () => {
    expect(baselineViolations(recorded)).toEqual([]);
});
