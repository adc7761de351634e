// ServiceFleet with Pulumi.prod.yaml under mocks, user-service given a build context; plus the
// stack's NetworkPolicies created from the fleet's labels.
import * as pulumi from "@pulumi/pulumi";
import { baselineViolations } from "../helpers/baseline";
import { find, installMocks, ofType, RecordedResource, settled, valueOf } from "../helpers/mocks";
import { readStackConfig } from "../../scripts/stack-files";
import { serviceFleetArgs } from "../../stack-args";
import { ResolvedServiceFleetArgs, ServiceFleetArgs, serviceFleetArgsSchema } from "../../components/fleet/args";
// Modules that register resources are imported after the mocks.
type Fleet = import("../../components/fleet").ServiceFleet;
type FleetModule = typeof import("../../components/fleet");
type PolicyModule = typeof import("../../components/network/policies");
type SpecsModule = typeof import("../../components/fleet/specs");

const COMPONENT = "prepx:apps:ServiceFleet";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";
const SERVICE = "kubernetes:core/v1:Service";
const IMAGE = "docker:index/image:Image";
const SEEDS = ["redis-0.redis-headless.prepx.svc.cluster.local:6379", "redis-1.redis-headless.prepx.svc.cluster.local:6379"];
const POOLER = "postgres-pooler.prepx.svc.cluster.local";
const DIGEST = `ghcr.io/prepx/user-service:2.7.1@sha256:${"0".repeat(64)}`;
const PROD_SERVICES = ["api-gateway", "user-service"];

/** RedisCluster.connection's shape: each service its own user and password Secret, and the CA; `wrap` makes names Outputs. */
function redisConnection(seedNodes: pulumi.Input<string[]>, wrap: (name: string) => pulumi.Input<string> = (name) => name) {
    return {
        seedNodes,
        users: Object.fromEntries(PROD_SERVICES.map((service) => [service, { username: `app-${service}`, passwordSecret: { name: wrap(`redis-user-app-${service}`), key: "password" } }])),
        caSecret: { name: wrap("redis-tls"), key: "ca.crt" },
    };
}

let recorded: RecordedResource[];
let fleetModule: FleetModule;
let policyModule: PolicyModule;
let specs: SpecsModule;
let fleet: Fleet;
/** The fleet's args as the component resolves them, the other components' outputs as plain values. */
let expected: ResolvedServiceFleetArgs;
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
    specs = await import("../../components/fleet/specs");
    const config = parseStackConfig("prod", { ...raw, services });
    expected = serviceFleetArgsSchema.parse(
        serviceFleetArgs(config, config.namespace, {
            database: { host: POOLER, port: 6432, name: "prepx", user: "prepx", passwordSecret: { name: "postgres-app-user", key: "password" } },
            redis: redisConnection(SEEDS),
        }),
    );
    fleet = new fleetModule.ServiceFleet(
        "services",
        serviceFleetArgs(config, config.namespace, {
            database: { host: pulumi.output(POOLER), port: 6432, name: "prepx", user: "prepx", passwordSecret: { name: pulumi.output("postgres-app-user"), key: "password" } },
            redis: redisConnection(pulumi.output(SEEDS), (name) => pulumi.output(name)),
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
            `kubernetes:core/v1:ServiceAccount services-api-gateway`,
            `kubernetes:core/v1:ServiceAccount services-user-service`,
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
    expect([hpa.scaleTargetRef.name, hpa.minReplicas, hpa.maxReplicas, hpa.metrics[0].resource.target.averageUtilization]).toEqual([service, min, max, target]);
});

test("the HPA owns the scale: Pulumi ignores spec.replicas after creation", () => {
    expect(ignoreChanges.get(`${DEPLOYMENT}::services-api-gateway`)).toEqual(["spec.replicas"]);
    expect(ignoreChanges.get(`${DEPLOYMENT}::services-user-service`)).toEqual(["spec.replicas"]);
});

test("every object carries its builder's spec, with the stack's values and the other components' outputs resolved", () => {
    const objectOf = (type: string, name: string) => {
        const { metadata, spec } = find(recorded, type, fleetChild(name)).inputs;
        return { metadata, spec };
    };
    for (const service of expected.services) {
        const image = service.name === "user-service" ? DIGEST : "ghcr.io/prepx/api-gateway:1.4.2";
        const metadata = { name: service.name, namespace: "prepx", labels: specs.serviceLabels(service.name) };
        expect(objectOf(DEPLOYMENT, service.name)).toEqual({ metadata, spec: specs.serviceDeploymentSpec(service, expected, { image, redisNodes: SEEDS.join(","), serviceAccountName: service.name }) });
        expect(objectOf(SERVICE, service.name)).toEqual({ metadata, spec: specs.clusterIpServiceSpec(service) });
        const headlessName = `${service.name}-headless`;
        expect(objectOf(SERVICE, headlessName)).toEqual({ metadata: { ...metadata, name: headlessName }, spec: specs.headlessServiceSpec(service) });
        expect(objectOf(HPA, service.name)).toEqual({ metadata, spec: specs.autoscalerSpec(service, service.name) });
    }
});

test("prod values reach the pods: PgBouncer, the pool, Redis seeds, rate limits, passwords by reference", () => {
    const env = envOf("user-service");
    const value = (name: string) => env.find((e) => e.name === name)?.value;
    expect([value("DB_HOST"), value("DB_PORT"), value("DB_POOL_MAX"), value("DB_POOL_MIN")]).toEqual([POOLER, "6432", "100", "10"]);
    expect(value("REDIS_CLUSTER_NODES")).toBe(SEEDS.join(","));
    expect([value("RATE_LIMIT_TRADING_POINTS"), value("RATE_LIMIT_TRADING_DURATION_SECONDS"), value("RATE_LIMIT_TRADING_BLOCK_DURATION_SECONDS")]).toEqual(["600", "60", "600"]);
    expect(env.find((e) => e.name === "DB_PASSWORD")).toEqual({ name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "postgres-app-user", key: "password" } } });
    // Its own Redis user and password Secret, TLS with the mounted CA.
    expect(value("REDIS_USERNAME")).toBe("app-user-service");
    expect(env.find((e) => e.name === "REDIS_PASSWORD")).toEqual({ name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: "redis-user-app-user-service", key: "password" } } });
    expect([value("REDIS_TLS"), value("REDIS_TLS_CA_FILE")]).toEqual(["true", "/etc/redis-ca/ca.crt"]);
    expect(envOf("api-gateway").find((e) => e.name === "REDIS_PASSWORD")?.valueFrom).toEqual({ secretKeyRef: { name: "redis-user-app-api-gateway", key: "password" } });
    const probe = container("api-gateway").readinessProbe;
    expect([probe.periodSeconds, probe.timeoutSeconds, probe.failureThreshold]).toEqual([30, 5, 3]);
});

test("PDBs allow 10 % of the HPA floor", () => {
    expect(find(recorded, PDB, fleetChild("api-gateway")).inputs.spec.maxUnavailable).toBe(1);
    expect(find(recorded, PDB, fleetChild("user-service")).inputs.spec.maxUnavailable).toBe(4);
});

test("outputs: hosts, headless hosts, pod labels, ports, metrics targets, dashboards", async () => {
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
    expect(fleet.metricsTargets).toEqual([
        { name: "api-gateway", labels: fleet.podLabelsOf("api-gateway"), ports: [8080] },
        { name: "user-service", labels: fleet.podLabelsOf("user-service"), ports: [3001] },
    ]);
    expect(fleet.alertRules).toEqual([]);
    expect(Object.keys(fleet.dashboards)).toEqual(["service-fleet.json"]);
    expect(() => fleet.podLabelsOf("billing")).toThrow("ServiceFleet has no service 'billing' (have: api-gateway, user-service)");
});

test("a build context is built and pushed to the registry; pods run the pushed digest; prebuilt images are used as given", async () => {
    const images = ofType(recorded, IMAGE);
    expect(images.map((image) => image.name)).toEqual(["services-user-service-image"]);
    expect(images[0].inputs.imageName).toBe("ghcr.io/prepx/user-service:2.7.1");
    expect(images[0].inputs.skipPush).toBe(false);
    expect(images[0].inputs.build.context).toMatch(/services\/user-service$/);
    expect(container("user-service").image).toBe(DIGEST);
    expect(container("api-gateway").image).toBe("ghcr.io/prepx/api-gateway:1.4.2");
    expect(await valueOf(fleet.images)).toEqual({ "api-gateway": "ghcr.io/prepx/api-gateway:1.4.2", "user-service": DIGEST });
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
            postgresStandbys: { labels: { ...members, role: "replica" }, port: 5432 },
            redis: { labels: { "app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "redis", "app.kubernetes.io/component": "cache" }, port: 6379, busPort: 16379 },
            prometheus: { labels: { "app.kubernetes.io/name": "prometheus" }, port: 9090 },
            grafana: { labels: { "app.kubernetes.io/name": "grafana" }, port: 3000 },
            metricsTargets: [
                { name: "api-gateway", labels: fleet.podLabelsOf("api-gateway"), ports: [8080] },
                { name: "user-service", labels: fleet.podLabelsOf("user-service"), ports: [3001] },
            ],
            kubernetesApi: { cidrs: ["10.0.0.1/32"], ports: [443] },
            kubelets: { cidrs: ["10.0.0.0/16"], ports: [10250] },
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

    test("a second set in the same namespace, with its own prefix, collides neither in URNs nor in object names", async () => {
        const before = recorded.length;
        const second = policyModule.createNetworkPolicies("prepx", rendered, {}, "blue");
        await Promise.all(second.map((policy) => valueOf(policy.urn)));
        await settled(recorded);
        const blue = recorded.slice(before).filter((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy");
        expect(blue.map((r) => r.inputs.metadata.name).sort()).toEqual(rendered.map((p) => `blue-${p.name}`).sort());
        const objectNames = [...created, ...blue].map((r) => r.inputs.metadata.name);
        expect(new Set(objectNames).size).toBe(objectNames.length);
        const urns = [...created, ...blue].map((r) => r.urn);
        expect(new Set(urns).size).toBe(urns.length);
    });

    test("duplicate policy names are refused", () => {
        expect(() => policyModule.createNetworkPolicies("prepx", [rendered[0], rendered[0]])).toThrow("two policies are named 'default-deny'");
    });
});

describe("bad args are refused with one ResourceError listing every problem", () => {
    type Args = Record<string, unknown> & { services: Record<string, unknown>[] };
    const base = (): Args => ({
        namespace: "prepx",
        services: readStackConfig("prod").services as Record<string, unknown>[],
        database: { host: POOLER, port: 6432, name: "prepx", user: "prepx", passwordSecret: { name: "postgres-app-user", key: "password" } },
        redis: redisConnection(SEEDS),
    });
    /** The error of a fleet named `bad-<n>` (each attempt registers its component before refusing, so names differ). */
    let attempts = 0;
    const errorOf = (change: (args: Args) => Args): Error => {
        const name = `bad-${++attempts}`;
        try {
            new fleetModule.ServiceFleet(name, change(base()) as unknown as ServiceFleetArgs);
        } catch (error) {
            expect(pulumi.ResourceError.isInstance(error)).toBe(true);
            return error as Error;
        }
        throw new Error("the fleet was accepted");
    };
    const withService = (args: Args, index: number, change: Record<string, unknown>): Args => ({
        ...args,
        services: args.services.map((service, at) => (at === index ? { ...service, ...change } : service)),
    });

    test.each<[string, (args: Args) => Args, string]>([
        [
            "maxReplicas below minReplicas",
            (args) => withService(args, 1, { autoscaling: { minReplicas: 40, maxReplicas: 10, targetCpuPercent: 70 } }),
            "services[1].autoscaling.maxReplicas must be at least autoscaling.minReplicas (40) (got 10)",
        ],
        ["duplicate names", (args) => ({ ...args, services: [args.services[0], args.services[0]] }), 'services[1].name must be unique among services (got "api-gateway")'],
        ["no database for database users", (args) => ({ ...args, database: undefined }), "database is required: api-gateway, user-service use the database (not set)"],
        [
            "a build context without a registry",
            (args) => withService(args, 0, { image: { build: { context: "x", repository: "x", tag: "1" } } }),
            "registry is required: services[0] (api-gateway) has a build context (not set)",
        ],
        ["pool min above max", (args) => ({ ...args, pool: { max: 5, min: 6 } }), "pool.min must be at most max (5) (got 6)"],
        [
            "a name too long for its headless Service",
            (args) => withService(args, 0, { name: "a".repeat(55) }),
            `services[0].name must be a DNS label of at most 54 characters (its headless Service appends '-headless') (got "${"a".repeat(55)}")`,
        ],
        ["no services", (args) => ({ ...args, services: [] }), "services must have at least 1 entry (got [])"],
        ["health check period 0", (args) => ({ ...args, healthCheck: { periodSeconds: 0 } }), "healthCheck.periodSeconds must be at least 1 (got 0)"],
        ["a misspelt key, which would otherwise fall back to the default", (args) => ({ ...args, startupTimeoutSecond: 300 }), "startupTimeoutSecond is not a known key (got 300)"],
        ["a misspelt nested key", (args) => ({ ...args, rateLimits: { trading: { point: 300 } } }), "rateLimits.trading.point is not a known key (got 300)"],
        ["an empty Secret key", (args) => ({ ...args, redis: { ...redisConnection(SEEDS), caSecret: { name: "redis-tls", key: "" } } }), `redis.caSecret.key must be a Secret key (letters, digits, '-', '_' or '.') (got "")`],
        [
            "a service without its own Redis user",
            (args) => ({ ...args, redis: { ...redisConnection(SEEDS), users: { "api-gateway": redisConnection(SEEDS).users["api-gateway"] } } }),
            "redis.users.user-service is required: every service connects to Redis as its own user (not set)",
        ],
    ])("%s", (_reason, change, problem) => {
        const error = errorOf(change);
        expect(error.message).toBe(`ServiceFleet bad-${attempts}: ${problem}`);
    });

    test("several problems are reported together, one per line", () => {
        const error = errorOf((args) => ({ ...withService(args, 0, { port: 70000 }), namespace: "", healthCheck: { timeoutSeconds: 0 }, runAsUser: 0 }));
        expect(error.message.split("\n")).toEqual([
            `ServiceFleet bad-${attempts}: namespace must be a DNS label (lower-case letters, digits and '-', at most 63) (got "")`,
            `ServiceFleet bad-${attempts}: services[0].port must be at most 65535 (got 70000)`,
            `ServiceFleet bad-${attempts}: healthCheck.timeoutSeconds must be at least 1 (got 0)`,
            `ServiceFleet bad-${attempts}: runAsUser must be at least 1 (got 0)`,
        ]);
    });

    test("the other components' outputs pass unresolved; plain values are checked", async () => {
        const redis = redisConnection(pulumi.output(SEEDS), (name) => pulumi.output(name));
        const accepted = new fleetModule.ServiceFleet("outputs-pass", { ...base(), namespace: pulumi.output("prepx"), redis } as unknown as ServiceFleetArgs);
        expect(Object.keys(await valueOf(accepted.serviceHosts))).toEqual(["api-gateway", "user-service"]);
        await settled(recorded);
        const database = { host: "", port: 6432, name: "prepx", user: "prepx", passwordSecret: { name: "postgres-app-user", key: "password" } };
        expect(errorOf((args) => ({ ...args, database })).message).toBe(`ServiceFleet bad-${attempts}: database.host must be a non-empty string (got "")`);
    });
});
