import { redisSettingsSchema } from "../../components/redis/args";
import { parseStackConfig } from "../../config";
import { configErrorOf as errorOf, configWith, RawConfig } from "../helpers/config-errors";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { knownStacks, readStackConfig } from "../../scripts/stack-files";

const prodWith = (change: (raw: RawConfig) => void) => configWith("prod", change);

describe("stack configuration", () => {
    test("a section or key the stack leaves out takes the component's default; the stack-wide keys stay stack-wide", () => {
        const raw = structuredClone(readStackConfig("dev")) as Record<string, unknown>;
        delete raw.redis;
        const config = parseStackConfig("dev", raw);
        expect(config.redis).toEqual(redisSettingsSchema.omit({ storageClass: true, protectData: true }).parse({}));
        expect(config.redis).not.toHaveProperty("protectData");
        expect(() => parseStackConfig("dev", { ...raw, redis: { protectData: true } })).toThrow("dev: redis.protectData is not a known key (got true)");
    });

    test("storageClassAllowsExpansion is a stack key of both StatefulSet sections", () => {
        const config = parseStackConfig("prod", configWith("prod", (r) => {
            r.postgres.storageClassAllowsExpansion = false;
            r.redis.storageClassAllowsExpansion = false;
        }));
        expect([config.postgres.storageClassAllowsExpansion, config.redis.storageClassAllowsExpansion]).toEqual([false, false]);
    });

    test("one quantity of a container's resources can be set alone; the other three keep their defaults, and the limit rule still holds", () => {
        const config = parseStackConfig("prod", configWith("prod", (r) => (r.postgres.resources = { limits: { memory: "32Gi" } })));
        expect(config.postgres.resources).toEqual({ requests: { cpu: "4", memory: "8Gi" }, limits: { cpu: "8", memory: "32Gi" } });
        expect(errorOf(prodWith((r) => (r.postgres.resources = { limits: { cpu: "2" } })))).toBe(
            'prod: postgres.resources.limits.cpu must be at least requests.cpu (4) (got "2")',
        );
    });

    test("a protected stack must name its cluster; an unprotected one may use kubectl's current context", () => {
        expect(errorOf(prodWith((r) => delete r.kubeContext))).toBe(
            "prod: kubeContext must be set (or kubeconfig) when protectData is true: a protected stack names its cluster instead of using kubectl's current context (not set)",
        );
        expect(() => parseStackConfig("prod", configWith("prod", (r) => ((r.kubeconfig = "/etc/prepx/prod.kubeconfig"), delete r.kubeContext)))).not.toThrow();
        expect(() => parseStackConfig("prod", configWith("prod", (r) => ((r.renderYamlToDirectory = "out"), delete r.kubeContext)))).not.toThrow();
        expect(parseStackConfig("dev", readStackConfig("dev")).kubeContext).toBeUndefined();
    });

    test("prod carries the plan's numbers, and what its targets derive where the plan's fall short", () => {
        const prod = parseStackConfig("prod", readStackConfig("prod"));
        expect(prod.namespace).toBe("prepx");
        expect(prod.protectData).toBe(true);
        // 8 masters: 100,000 req/s x 3 ops over 50,000 ops/s per master at 80% (components/sizing.ts).
        expect(prod.redis).toMatchObject({ masters: 8, replicasPerMaster: 1, clusterNodeTimeoutMs: 5000 });
        expect(prod.postgres.standbys).toBe(2);
        expect(prod.postgres.synchronousMode).toBe(true);
        expect(prod.postgres.parameters).toMatchObject({
            shared_buffers: "4GB",
            effective_cache_size: "12GB",
            work_mem: "64MB",
            maintenance_work_mem: "512MB",
            // PgBouncer's derived pools (3 x (134 + 20)) plus the reserved 45.
            max_connections: 507,
            wal_level: "replica",
            max_wal_senders: 10,
            max_replication_slots: 10,
        });
        expect(prod.postgres.resources).toEqual({ requests: { cpu: "4", memory: "8Gi" }, limits: { cpu: "8", memory: "16Gi" } });
        expect(prod.loadBalancer).toMatchObject({ replicas: 8, workerConnections: 8192, workerRlimitNofile: 65535, limitConn: 1000, burst: 100 });
        expect(prod.loadBalancer.rateLimits).toEqual({ global: { rate: 1000 }, api: { rate: 500 }, trading: { rate: 100 } });
        expect(prod.services.find((s) => s.name === "api-gateway")?.autoscaling.minReplicas).toBe(8);
        expect(prod.services.find((s) => s.name === "user-service")?.autoscaling.minReplicas).toBe(40);
        expect(prod.servicePool).toEqual({ max: 100, min: 10, idleTimeoutMs: 30000, connectionTimeoutMs: 2000 });
        expect(prod.rateLimits.trading).toEqual({ points: 600, duration: 60, blockDuration: 600 });
        expect(prod.healthCheck).toEqual({ periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3 });
        expect(prod.monitoring.prometheus).toMatchObject({ retentionTime: "30d", retentionSize: "50GB" });
        expect(prod.monitoring.prometheus.resources).toEqual({ requests: { cpu: "2", memory: "4Gi" }, limits: { cpu: "4", memory: "8Gi" } });
        expect(prod.monitoring.grafana.resources).toEqual({ requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "2", memory: "4Gi" } });
    });

    test("dev is the same shape, shrunk", () => {
        const dev = parseStackConfig("dev", readStackConfig("dev"));
        const prod = parseStackConfig("prod", readStackConfig("prod"));
        // prod names its cluster; dev uses kubectl's current context (the laptop's kind cluster).
        expect(Object.keys(dev).sort()).toEqual(Object.keys(prod).filter((key) => key !== "kubeContext").sort());
        expect(dev.protectData).toBe(false);
        expect(dev.redis.masters).toBe(3);
        expect(dev.redis.replicasPerMaster).toBe(0);
        expect(dev.postgres.synchronousMode).toBe(false);
        expect(dev.loadBalancer.replicas).toBe(1);
        // dev pushes to the local registry of scripts/kind-up.sh, which the kind nodes pull from.
        expect(dev.registry.push).toBe(true);
        expect(dev.services.map((s) => s.autoscaling.minReplicas)).toEqual([1, 1]);
    });

    test("registry.platform is optional: unset it stays unset (the build takes this machine's), set it is kept", () => {
        expect(parseStackConfig("dev", readStackConfig("dev")).registry).toEqual({ server: "localhost:5001/prepx", push: true });
        for (const platform of ["linux/amd64", "linux/arm64", "linux/arm/v7"]) {
            expect(parseStackConfig("prod", configWith("prod", (r) => (r.registry.platform = platform))).registry.platform).toBe(platform);
        }
    });

    test("Pulumi.yaml defaults apply under the stack file", () => {
        const raw = readStackConfig("dev");
        expect(raw.namespace).toBe("prepx-dev");
        expect(readStackConfig("prod").protectData).toBe(true);
    });

    test("a Pulumi.yaml key without a default that the stack does not set is refused, as the CLI does", () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "prepx-stack-files-"));
        try {
            fs.writeFileSync(
                path.join(root, "Pulumi.yaml"),
                "name: prepx-platform\nruntime: nodejs\nconfig:\n  namespace: { type: string, default: prepx }\n  kubeContext: { type: string }\n  storageClass: { type: string }\n",
            );
            fs.writeFileSync(path.join(root, "Pulumi.dev.yaml"), "config:\n  prepx-platform:storageClass: fast\n");
            expect(() => readStackConfig("dev", root)).toThrow(
                "Stack 'dev' is missing configuration values 'kubeContext' (declared in Pulumi.yaml without a default)",
            );
            fs.writeFileSync(path.join(root, "Pulumi.dev.yaml"), "config:\n  prepx-platform:storageClass: fast\n  prepx-platform:kubeContext: kind-prepx\n");
            expect(readStackConfig("dev", root)).toEqual({ namespace: "prepx", kubeContext: "kind-prepx", storageClass: "fast" });
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });

    test("every stack in the repository sets what Pulumi.yaml requires", () => {
        for (const stack of knownStacks()) expect(() => readStackConfig(stack)).not.toThrow();
    });

    test("an unknown stack is named with the known ones", () => {
        expect(() => readStackConfig("staging")).toThrow("unknown stack 'staging': no Pulumi.staging.yaml (known stacks: dev, million, prod)");
    });

    const badCases: Array<[string, (raw: RawConfig) => void, string]> = [
        ["too few Redis masters", (r) => (r.redis.masters = 2), "prod: redis.masters must be at least 3 (got 2)"],
        ["a fractional replica count", (r) => (r.redis.replicasPerMaster = 1.5), "prod: redis.replicasPerMaster must be a whole number (got 1.5)"],
        ["a string where a number belongs", (r) => (r.redis.clusterNodeTimeoutMs = "5s"), 'prod: redis.clusterNodeTimeoutMs must be a number (got "5s")'],
        ["an unknown key", (r) => (r.redis.replicas = 1), "prod: redis.replicas is not a known key (got 1)"],
        ["an unknown top-level key", (r) => (r.redsi = {}), "prod: redsi is not a known key (got {})"],
        ["an unpinned image", (r) => (r.redis.image = "redis:latest"), 'prod: redis.image must be an image pinned to a version tag or digest (not \'latest\', not untagged) (got "redis:latest")'],
        ["an untagged image", (r) => (r.loadBalancer.image = "nginx"), 'prod: loadBalancer.image must be an image pinned to a version tag or digest (not \'latest\', not untagged) (got "nginx")'],
        ["a malformed memory quantity", (r) => (r.redis.resources.limits.memory = "8GB"), 'prod: redis.resources.limits.memory must be a memory quantity such as 512Mi or 8Gi (got "8GB")'],
        ["limits below requests", (r) => (r.postgres.resources.limits.cpu = "2"), 'prod: postgres.resources.limits.cpu must be at least requests.cpu (4) (got "2")'],
        ["a missing required section", (r) => delete r.loadBalancer, "prod: loadBalancer must be an object (got nothing)"],
        ["a negative standby count", (r) => (r.postgres.standbys = -1), "prod: postgres.standbys must be at least 0 (got -1)"],
        [
            "synchronous mode without a replica",
            (r) => ((r.postgres.standbys = 0), (r.postgres.synchronousMode = true)),
            "prod: postgres.synchronousMode needs at least one standby (standbys is 0) (got true)",
        ],
        ["a PostgreSQL parameter that is not a size", (r) => (r.postgres.parameters.shared_buffers = "4 gigs"), 'prod: postgres.parameters.shared_buffers must be a PostgreSQL size such as 4GB (got "4 gigs")'],
        ["a bad service type", (r) => (r.loadBalancer.serviceType = "Ingress"), 'prod: loadBalancer.serviceType must be one of "LoadBalancer", "NodePort", "ClusterIP" (got "Ingress")'],
        ["a certificate without names", (r) => (r.loadBalancer.tls.certManager.dnsNames = []), "prod: loadBalancer.tls.certManager.dnsNames must have at least 1 entry (got [])"],
        ["HTTPS on the HTTP port", (r) => (r.loadBalancer.tls.servicePort = 80), "prod: loadBalancer.tls.servicePort must differ from servicePort (80), which redirects to it (got 80)"],
        ["a trusted balancer that is not a CIDR", (r) => (r.loadBalancer.trustedProxies = ["10.0.0.1"]), 'prod: loadBalancer.trustedProxies[0] must be an IPv4 CIDR such as 10.0.0.0/8 (got "10.0.0.1")'],
        [
            "an upstream that is not a service",
            (r) => (r.loadBalancer.upstreamService = "gateway"),
            'prod: loadBalancer.upstreamService must name one of services (api-gateway, user-service) (got "gateway")',
        ],
        [
            "an HPA whose max is below its min",
            (r) => (r.services[1].autoscaling.maxReplicas = 10),
            "prod: services[1].autoscaling.maxReplicas must be at least autoscaling.minReplicas (40) (got 10)",
        ],
        [
            "a Prometheus volume no larger than its retention size",
            (r) => (r.monitoring.prometheus.storage = "50Gi"),
            'prod: monitoring.prometheus.storage must be larger than prometheus.retentionSize (50GB), or the TSDB fills the volume before retention deletes blocks (got "50Gi")',
        ],
        ["a namespace that is not a DNS label", (r) => (r.namespace = "Prepx_Prod"), 'prod: namespace must be a DNS label (lower-case letters, digits and \'-\', at most 63) (got "Prepx_Prod")'],
        ["a boolean given as a string", (r) => (r.protectData = "yes"), 'prod: protectData must be a boolean (got "yes")'],
        [
            "a build platform without its OS",
            (r) => (r.registry.platform = "amd64"),
            'prod: registry.platform must be a single platform os/arch[/variant] such as linux/amd64 or linux/arm64 (got "amd64")',
        ],
        [
            "two build platforms (the docker provider builds one)",
            (r) => (r.registry.platform = "linux/amd64,linux/arm64"),
            'prod: registry.platform must be a single platform os/arch[/variant] such as linux/amd64 or linux/arm64 (got "linux/amd64,linux/arm64")',
        ],
        [
            "a rendered stack that also names a cluster",
            (r) => Object.assign(r, { renderYamlToDirectory: "out", kubeContext: "kind-prepx" }),
            'prod: kubeContext must be unset when renderYamlToDirectory is set (manifests are written, no cluster is used) (got "kind-prepx")',
        ],
        ["a short password, never shown", (r) => (r.passwords = { redis: "hunter2" }), "prod: passwords.redis must be 16 to 128 letters, digits or _-.~ (got a secret value)"],
        ["a misspelt password name, never shown", (r) => (r.passwords = { redsi: "x".repeat(20) }), "prod: passwords.redsi is not a known key (got a secret value)"],
    ];

    test.each(badCases)("rejects %s with one exact message", (_title, change, message) => {
        expect(errorOf(prodWith(change))).toBe(message);
    });

    test("several problems are reported together, one per line", () => {
        const message = errorOf(
            prodWith((r) => {
                r.redis.masters = 1;
                r.pgbouncer.replicas = 0;
            }),
        );
        expect(message.split("\n")).toEqual(["prod: redis.masters must be at least 3 (got 1)", "prod: pgbouncer.replicas must be at least 1 (got 0)"]);
    });

    test("the stack name is the one given", () => {
        const raw = configWith("dev", (r) => (r.redis.masters = 0));
        expect(errorOf(raw, "dev")).toBe("dev: redis.masters must be at least 3 (got 0)");
    });
});
