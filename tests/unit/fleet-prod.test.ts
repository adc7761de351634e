// ServiceFleet with Pulumi.prod.yaml under mocks, user-service given a build context; plus the
// stack's NetworkPolicies created from the fleet's labels.
import * as pulumi from "@pulumi/pulumi";
import { baselineViolations } from "../helpers/baseline";
import { find, installMocks, ofType, RecordedResource, settled, valueOf } from "../helpers/mocks";
import { readStackConfig } from "../../scripts/stack-files";
import { serviceFleetArgs } from "../../stack-args";
/* eslint-disable @typescript-eslint/consistent-type-imports -- modules are imported after the mocks */
type Fleet = import("../../components/fleet").ServiceFleet;
type FleetModule = typeof import("../../components/fleet");
type PolicyModule = typeof import("../../components/network/policies");
/* eslint-enable @typescript-eslint/consistent-type-imports */

const COMPONENT = "prepx:apps:ServiceFleet";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";
const SERVICE = "kubernetes:core/v1:Service";
const IMAGE = "docker:index/image:Image";
const SEEDS = ["redis-0.redis-headless.prepx.svc.cluster.local:6379", "redis-1.redis-headless.prepx.svc.cluster.local:6379"];
const POOLER = "postgres-pooler.prepx.svc.cluster.local";

let recorded: RecordedResource[];
let fleetModule: FleetModule;
let policyModule: PolicyModule;
let fleet: Fleet;
const ignoreChanges = new Map<string, string[]>();

/** Registrations also carry resource options the recorder does not keep; ignoreChanges is one. */
function recordIgnoreChanges(): void {
    const monitor = pulumi.runtime.getMonitor() as unknown as {
        registerResource(req: { getType(): string; getName(): string; getIgnorechangesList(): string[] }, callback: unknown): void;
    };
    const original = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, callback) => {
        ignoreChanges.set(`${req.getType()}::${req.getName()}`, req.getIgnorechangesList());
        original(req, callback);
    };
}

beforeAll(async () => {
    const raw = readStackConfig("prod");
    const services = (raw.services as Record<string, unknown>[]).map((service) =>
        service.name === "user-service" ? { ...service, image: { build: { context: "services/user-service", repository: "user-service", tag: "2.7.1" } } } : service,
    );
    recorded = await installMocks("prod", { services });
    recordIgnoreChanges();
    const { parseStackConfig } = await import("../../config");
    fleetModule = await import("../../components/fleet");
    policyModule = await import("../../components/network/policies");
    const config = parseStackConfig("prod", { ...raw, services });
    fleet = new fleetModule.ServiceFleet(
        "services",
        serviceFleetArgs(config, config.namespace, {
            database: { host: pulumi.output(POOLER), port: 6432, name: "prepx", user: "prepx", passwordSecret: { name: pulumi.output("postgres-app-user"), key: "password" } },
            redis: { seedNodes: pulumi.output(SEEDS), passwordSecret: { name: pulumi.output("redis-auth"), key: "password" } },
        }),
    );
    await valueOf(fleet.serviceHosts);
    await settled(recorded);
});

// ServiceFleet names its children `<fleet>-<object>` (the fleet here is "services").
const fleetChild = (object: string) => `services-${object}`;
const container = (service: string) => find(recorded, DEPLOYMENT, fleetChild(service)).inputs.spec.template.spec.containers[0];
const envOf = (service: string): { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[] => container(service).env;

test("one component; per service a Deployment, two Services, an HPA and a PDB; one image build; all its children", () => {
    const components = ofType(recorded, COMPONENT);
    expect(components).toHaveLength(1);
    const children = recorded.filter((r) => r.parent === components[0].urn);
    expect(children.map((r) => `${r.type} ${r.name}`).sort()).toEqual(
        [
            `${DEPLOYMENT} services-api-gateway`,
            `${DEPLOYMENT} services-user-service`,
            `${SERVICE} services-api-gateway`,
            `${SERVICE} services-api-gateway-headless`,
            `${SERVICE} services-user-service`,
            `${SERVICE} services-user-service-headless`,
            `${HPA} services-api-gateway`,
            `${HPA} services-user-service`,
            `${PDB} services-api-gateway`,
            `${PDB} services-user-service`,
            `${IMAGE} services-user-service-image`,
        ].sort(),
    );
    for (const child of children) expect(child.urn).toContain(`${COMPONENT}$`);
    // Object names stay the service's own: other services and nginx address them by DNS name.
    expect(find(recorded, DEPLOYMENT, fleetChild("api-gateway")).inputs.metadata.name).toBe("api-gateway");
    expect(find(recorded, PDB, fleetChild("user-service")).inputs.metadata.name).toBe("user-service");
});

test.each([
    ["api-gateway", 8, 16, 70],
    ["user-service", 40, 60, 70],
])("%s starts at %i replicas; the HPA scales it up to %i on %i %% CPU", (service, min, max, target) => {
    expect(find(recorded, DEPLOYMENT, fleetChild(service)).inputs.spec.replicas).toBe(min);
    const hpa = find(recorded, HPA, fleetChild(service)).inputs.spec;
    expect(hpa.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: service });
    expect(hpa.minReplicas).toBe(min);
    expect(hpa.maxReplicas).toBe(max);
    expect(hpa.metrics).toEqual([{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: target } } }]);
});

test("the HPA owns the scale: Pulumi ignores spec.replicas after creation", () => {
    expect(ignoreChanges.get(`${DEPLOYMENT}::services-api-gateway`)).toEqual(["spec.replicas"]);
    expect(ignoreChanges.get(`${DEPLOYMENT}::services-user-service`)).toEqual(["spec.replicas"]);
});

test("rollouts keep capacity; pods spread; PDBs allow 10 % of the floor", () => {
    for (const service of ["api-gateway", "user-service"]) {
        const spec = find(recorded, DEPLOYMENT, fleetChild(service)).inputs.spec;
        expect(spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
        const hostSpread = spec.template.spec.topologySpreadConstraints.find((c: { topologyKey: string }) => c.topologyKey === "kubernetes.io/hostname");
        expect(hostSpread.whenUnsatisfiable).toBe("DoNotSchedule");
        expect(hostSpread.matchLabelKeys).toEqual(["pod-template-hash"]);
        expect(hostSpread.labelSelector.matchLabels["app.kubernetes.io/name"]).toBe(service);
    }
    expect(find(recorded, PDB, fleetChild("api-gateway")).inputs.spec.maxUnavailable).toBe(1);
    expect(find(recorded, PDB, fleetChild("user-service")).inputs.spec.maxUnavailable).toBe(4);
});

test("probes are the plan's health check (30 s, 5 s, 3) on the health path", () => {
    for (const service of ["api-gateway", "user-service"]) {
        const c = container(service);
        for (const probe of [c.readinessProbe, c.livenessProbe]) {
            expect(probe).toEqual({ httpGet: { path: "/health", port: "http" }, periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3 });
        }
        expect(c.startupProbe.httpGet).toEqual({ path: "/health", port: "http" });
        expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThanOrEqual(120);
    }
    expect(container("user-service").ports).toEqual([{ name: "http", containerPort: 3001, protocol: "TCP" }]);
});

test("environment: documented names, PgBouncer, pool, Redis seeds, prod rate limits", () => {
    const env = envOf("user-service");
    expect(env.map((e) => e.name)).toEqual(fleetModule.ENV_DOCS.map((doc) => doc.name));
    const value = (name: string) => env.find((e) => e.name === name)?.value;
    expect(value("PORT")).toBe("3001");
    expect(value("DB_HOST")).toBe(POOLER);
    expect(value("DB_PORT")).toBe("6432");
    expect(value("DB_NAME")).toBe("prepx");
    expect(value("DB_USER")).toBe("prepx");
    expect([value("DB_POOL_MAX"), value("DB_POOL_MIN"), value("DB_POOL_IDLE_TIMEOUT_MS"), value("DB_POOL_CONNECTION_TIMEOUT_MS")]).toEqual(["100", "10", "30000", "2000"]);
    expect(value("REDIS_CLUSTER_NODES")).toBe(SEEDS.join(","));
    expect([value("RATE_LIMIT_TRADING_POINTS"), value("RATE_LIMIT_TRADING_DURATION_SECONDS"), value("RATE_LIMIT_TRADING_BLOCK_DURATION_SECONDS")]).toEqual(["600", "60", "600"]);
    expect(value("RATE_LIMIT_IP_BLOCK_DURATION_SECONDS")).toBe("300");
    expect(envOf("api-gateway").find((e) => e.name === "PORT")?.value).toBe("8080");
});

test("passwords reach the containers only through secretKeyRefs", () => {
    for (const service of ["api-gateway", "user-service"]) {
        const env = envOf(service);
        expect(env.find((e) => e.name === "DB_PASSWORD")).toEqual({ name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "postgres-app-user", key: "password" } } });
        expect(env.find((e) => e.name === "REDIS_PASSWORD")).toEqual({ name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: "redis-auth", key: "password" } } });
        expect(env.filter((e) => /PASSWORD|SECRET|TOKEN/.test(e.name) && e.value !== undefined)).toEqual([]);
    }
});

test("restricted pods: read-only root with a /tmp emptyDir, no API token, scrape annotations", () => {
    const pod = find(recorded, DEPLOYMENT, fleetChild("api-gateway")).inputs.spec.template;
    expect(pod.spec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
    expect(pod.spec.containers[0].volumeMounts).toEqual([{ name: "tmp", mountPath: "/tmp" }]);
    expect(pod.spec.volumes).toEqual([{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }]);
    expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    expect(pod.metadata.annotations).toEqual({ "prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics" });
    expect(container("user-service").resources).toEqual({ requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "1", memory: "2Gi" } });
});

test("a ClusterIP and a headless Service per service, both on the service port", () => {
    const clusterIp = find(recorded, SERVICE, fleetChild("api-gateway")).inputs.spec;
    const headless = find(recorded, SERVICE, fleetChild("api-gateway-headless")).inputs.spec;
    expect(clusterIp.type).toBe("ClusterIP");
    expect(headless.clusterIP).toBe("None");
    // Only ready pods are published: the field is left at its default (false), never set to true.
    expect(headless.publishNotReadyAddresses ?? false).toBe(false);
    for (const spec of [clusterIp, headless]) {
        expect(spec.ports).toEqual([{ name: "http", port: 8080, targetPort: "http", protocol: "TCP" }]);
        expect(spec.selector).toEqual({ "app.kubernetes.io/name": "api-gateway", "app.kubernetes.io/instance": "api-gateway", "app.kubernetes.io/component": "service" });
    }
});

test("outputs: hosts, headless hosts, pod labels, ports", async () => {
    expect(await valueOf(fleet.serviceHosts)).toEqual({
        "api-gateway": "api-gateway.prepx.svc.cluster.local",
        "user-service": "user-service.prepx.svc.cluster.local",
    });
    expect(await valueOf(fleet.headlessHosts)).toEqual({
        "api-gateway": "api-gateway-headless.prepx.svc.cluster.local",
        "user-service": "user-service-headless.prepx.svc.cluster.local",
    });
    expect(fleet.podLabelsOf("user-service")).toEqual(find(recorded, DEPLOYMENT, fleetChild("user-service")).inputs.spec.template.metadata.labels);
    expect(fleet.ports).toEqual({ "api-gateway": 8080, "user-service": 3001 });
    expect(() => fleet.podLabelsOf("billing")).toThrow("ServiceFleet has no service 'billing' (have: api-gateway, user-service)");
});

test("a build context is built and pushed to the registry; pods run the pushed digest; prebuilt images are used as given", async () => {
    const images = ofType(recorded, IMAGE);
    expect(images.map((image) => image.name)).toEqual(["services-user-service-image"]);
    expect(images[0].inputs.imageName).toBe("ghcr.io/prepx/user-service:2.7.1");
    expect(images[0].inputs.skipPush).toBe(false);
    expect(images[0].inputs.build.context).toMatch(/services\/user-service$/);
    const digest = `ghcr.io/prepx/user-service:2.7.1@sha256:${"0".repeat(64)}`;
    expect(container("user-service").image).toBe(digest);
    expect(container("api-gateway").image).toBe("ghcr.io/prepx/api-gateway:1.4.2");
    expect(await valueOf(fleet.images)).toEqual({ "api-gateway": "ghcr.io/prepx/api-gateway:1.4.2", "user-service": digest });
});

test("every workload meets the baseline", () => {
    expect(baselineViolations(recorded)).toEqual([]);
});

describe("NetworkPolicies from the fleet's labels", () => {
    let created: RecordedResource[];
    let rendered: ReturnType<PolicyModule["renderNetworkPolicies"]>;
    beforeAll(async () => {
        const members = { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": "postgres", "app.kubernetes.io/component": "database" };
        const lb = { "app.kubernetes.io/name": "nginx", "app.kubernetes.io/instance": "lb", "app.kubernetes.io/component": "load-balancer" };
        rendered = policyModule.renderNetworkPolicies({
            loadBalancer: { labels: lb, listenPorts: [8080] },
            gateways: { labels: fleet.podLabelsOf("api-gateway"), port: fleet.ports["api-gateway"] },
            services: [
                { name: "api-gateway", labels: fleet.podLabelsOf("api-gateway"), port: 8080, usesDatabase: true },
                { name: "user-service", labels: fleet.podLabelsOf("user-service"), port: 3001, usesDatabase: true },
            ],
            pgbouncer: { labels: { ...members, "app.kubernetes.io/component": "pooler" }, port: 6432 },
            postgresPrimary: { labels: { ...members, role: "master" }, port: 5432 },
            postgresMembers: { labels: members, port: 5432, patroniPort: 8008 },
            redis: { labels: { "app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "redis", "app.kubernetes.io/component": "cache" }, port: 6379, busPort: 16379 },
            prometheus: { labels: { "app.kubernetes.io/name": "prometheus" }, port: 9090 },
            grafana: { labels: { "app.kubernetes.io/name": "grafana" }, port: 3000 },
            metricsTargets: [
                { name: "api-gateway", labels: fleet.podLabelsOf("api-gateway"), ports: [8080] },
                { name: "user-service", labels: fleet.podLabelsOf("user-service"), ports: [3001] },
            ],
        });
        const before = recorded.length;
        const policies = policyModule.createNetworkPolicies("prepx", rendered, {});
        await Promise.all(policies.map((policy) => valueOf(policy.urn)));
        await settled(recorded);
        created = recorded.slice(before).filter((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy");
    });

    test("one NetworkPolicy object per rendered policy, in the namespace, with the rendered spec", () => {
        expect(created.map((r) => r.name).sort()).toEqual(rendered.map((p) => `netpol-${p.name}`).sort());
        for (const policy of rendered) {
            const object = find(created, "kubernetes:networking.k8s.io/v1:NetworkPolicy", `netpol-${policy.name}`);
            expect(object.inputs.metadata.name).toBe(policy.name);
            expect(object.inputs.metadata.namespace).toBe("prepx");
            expect(object.inputs.metadata.annotations["prepx/purpose"]).toBe(policy.purpose);
            expect(object.inputs.spec).toEqual(policy.spec);
        }
    });

    test("default deny and the gateway's policy are among them", () => {
        expect(find(created, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "netpol-default-deny").inputs.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        const gateway = find(created, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "netpol-service-api-gateway").inputs.spec;
        expect(gateway.podSelector.matchLabels).toEqual(fleet.podLabelsOf("api-gateway"));
        expect(gateway.ingress).toEqual([{ from: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "nginx", "app.kubernetes.io/instance": "lb", "app.kubernetes.io/component": "load-balancer" } } }], ports: [{ protocol: "TCP", port: 8080 }] }]);
    });

    test("duplicate policy names are refused", () => {
        expect(() => policyModule.createNetworkPolicies("prepx", [rendered[0], rendered[0]])).toThrow("two policies are named 'default-deny'");
    });
});

describe("bad args are refused with a ResourceError naming the arg", () => {
    const base = () => {
        const config = readStackConfig("prod") as { services: Record<string, unknown>[] };
        return {
            namespace: "prepx",
            services: config.services as unknown as ConstructorParameters<FleetModule["ServiceFleet"]>[1]["services"],
            database: { host: POOLER, port: 6432, name: "prepx", user: "prepx", passwordSecret: { name: "postgres-app-user", key: "password" } },
            redis: { seedNodes: SEEDS, passwordSecret: { name: "redis-auth", key: "password" } },
        };
    };
    const attempt = (name: string, change: (args: ReturnType<typeof base>) => Record<string, unknown>): unknown => {
        try {
            new fleetModule.ServiceFleet(name, change(base()) as unknown as ConstructorParameters<FleetModule["ServiceFleet"]>[1]);
        } catch (error) {
            return error;
        }
        return undefined;
    };
    test.each([
        [
            "maxReplicas below minReplicas",
            (a: ReturnType<typeof base>) => ({ ...a, services: [a.services[0], { ...a.services[1], autoscaling: { minReplicas: 40, maxReplicas: 10, targetCpuPercent: 70 } }] }),
            "ServiceFleet bad-maxReplicas-below-minReplicas: args.services[1].autoscaling.maxReplicas must be an integer of at least minReplicas (got 10)",
        ],
        ["duplicate names", (a: ReturnType<typeof base>) => ({ ...a, services: [a.services[0], a.services[0]] }), "args.services[1].name must be unique among services"],
        ["no database for database users", (a: ReturnType<typeof base>) => ({ ...a, database: undefined }), "args.database is required: api-gateway, user-service use the database"],
        [
            "a build context without a registry",
            (a: ReturnType<typeof base>) => ({ ...a, services: [{ ...a.services[0], image: { build: { context: "x", repository: "x", tag: "1" } } }] }),
            "args.registry is required: services[0] (api-gateway) has a build context",
        ],
        ["pool min above max", (a: ReturnType<typeof base>) => ({ ...a, pool: { max: 5, min: 6, idleTimeoutMs: 0, connectionTimeoutMs: 1 } }), "args.pool.min must be an integer from 0 to pool.max (5) (got 6)"],
        ["a name too long for its headless Service", (a: ReturnType<typeof base>) => ({ ...a, services: [{ ...a.services[0], name: "a".repeat(55) }] }), "args.services[0].name must be a DNS label of at most 54 characters"],
        ["no services", (a: ReturnType<typeof base>) => ({ ...a, services: [] }), "args.services must list at least one service"],
        ["health check period 0", (a: ReturnType<typeof base>) => ({ ...a, healthCheck: { periodSeconds: 0, timeoutSeconds: 5, failureThreshold: 3 } }), "args.healthCheck.periodSeconds must be a positive integer (got 0)"],
    ])("%s", (reason, change, message) => {
        // A distinct component name per case: each attempt registers its component before refusing.
        const error = attempt(`bad-${reason.replace(/\W+/g, "-")}`, change);
        expect(pulumi.ResourceError.isInstance(error)).toBe(true);
        expect((error as Error).message).toContain(message);
    });
});
