// ServiceFleet's args schema and spec builders, called directly (no Pulumi mocks): the defaults
// (the original plan's numbers) and the stack keys config.ts composes from the schema; the
// environment contract, the probes, the container and pod baseline, the Deployment, the Services,
// the HPA and the PDB size.
import { z } from "zod";
import { appRateLimitsSchema, healthCheckSchema, serviceFleetArgsSchema, ServiceFleetArgs, servicePoolSchema, servicesSchema } from "../../components/fleet/args";
import { ENV_DOCS } from "../../components/fleet/render";
import { formatIssues } from "../../components/schema";
import {
    autoscalerSpec,
    clusterIpServiceSpec,
    disruptionAllowance,
    headlessServiceSpec,
    redisNodesValue,
    serviceContainer,
    serviceDeploymentSpec,
    serviceEnv,
    serviceLabels,
    serviceMetricsTarget,
    servicePodTemplate,
    serviceProbes,
} from "../../components/fleet/specs";

const SEEDS = ["redis-0.redis-headless:6379", "redis-1.redis-headless:6379"];
const REDIS_NODES = redisNodesValue(SEEDS);
const IMAGE = "ghcr.io/prepx/user-service:2.7.0";

const userService = {
    name: "user-service",
    port: 3001,
    healthPath: "/health",
    image: { prebuilt: IMAGE },
    usesDatabase: true,
    autoscaling: { minReplicas: 40, maxReplicas: 60, targetCpuPercent: 70 },
    resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "1", memory: "2Gi" } },
};
const notifier = { ...userService, name: "notifier", port: 3002, usesDatabase: false, autoscaling: { minReplicas: 1, maxReplicas: 2, targetCpuPercent: 80 } };

/** The fleet's args as the component parses them: what every builder takes. */
function settingsWith(overrides: Partial<ServiceFleetArgs> = {}) {
    return serviceFleetArgsSchema.parse({
        namespace: "prepx",
        services: [userService, notifier],
        database: {
            host: "pgbouncer.prepx.svc.cluster.local",
            port: 6432,
            name: "prepx",
            user: "app",
            passwordSecret: { name: "postgres-app", key: "password" },
            caSecret: { name: "postgres-pooler-tls", key: "ca.crt" },
        },
        redis: {
            seedNodes: SEEDS,
            users: {
                "user-service": { username: "app-user-service", passwordSecret: { name: "redis-user-app-user-service", key: "password" } },
                notifier: { username: "app-notifier", passwordSecret: { name: "redis-user-app-notifier", key: "password" } },
            },
            caSecret: { name: "redis-tls", key: "ca.crt" },
        },
        ...overrides,
    });
}
const settings = settingsWith();
const [user, notifierService] = settings.services;

type Env = ReturnType<typeof serviceEnv>;
const literalOf = (env: Env, name: string): unknown => env.find((variable) => variable.name === name)?.value;

describe("args", () => {
    const gateway = {
        name: "api-gateway",
        port: 8080,
        healthPath: "/health",
        image: { prebuilt: "ghcr.io/prepx/api-gateway:1.4.2" },
        usesDatabase: false,
        autoscaling: { minReplicas: 8, maxReplicas: 16, targetCpuPercent: 70 },
        resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } },
    };
    const requiredArgs = {
        namespace: "prepx",
        services: [gateway],
        redis: {
            seedNodes: ["redis-0:6379"],
            users: { "api-gateway": { username: "app-api-gateway", passwordSecret: { name: "redis-user-app-api-gateway", key: "password" } } },
            caSecret: { name: "redis-tls", key: "ca.crt" },
        },
    };

    test("everything but the namespace, the services and Redis defaults to the original plan", () => {
        const { namespace: _namespace, services: _services, redis: _redis, ...defaults } = serviceFleetArgsSchema.parse(requiredArgs);
        expect(defaults).toEqual({
            pool: { max: 100, min: 10, idleTimeoutMs: 30000, connectionTimeoutMs: 2000 },
            rateLimits: {
                global: { points: 10000, duration: 60, blockDuration: 60 },
                ip: { points: 1000, duration: 60, blockDuration: 300 },
                user: { points: 2000, duration: 60, blockDuration: 300 },
                trading: { points: 600, duration: 60, blockDuration: 600 },
            },
            healthCheck: { periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3 },
            startupTimeoutSeconds: 120,
            runAsUser: 10001,
            terminationGracePeriodSeconds: 30,
            metricsPath: "/metrics",
            clusterDomain: "cluster.local",
            imagePullSecrets: [],
        });
    });

    test("nested defaults apply field by field: setting one field keeps the others' defaults", () => {
        const parsed = serviceFleetArgsSchema.parse({ ...requiredArgs, pool: { max: 20 }, rateLimits: { trading: { points: 300 } }, healthCheck: { periodSeconds: 10 } });
        expect(parsed.pool).toEqual({ max: 20, min: 10, idleTimeoutMs: 30000, connectionTimeoutMs: 2000 });
        expect(parsed.rateLimits.trading).toEqual({ points: 300, duration: 60, blockDuration: 600 });
        expect(parsed.rateLimits.global).toEqual({ points: 10000, duration: 60, blockDuration: 60 });
        expect(parsed.healthCheck).toEqual({ periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 });
    });

    describe("the stack's keys, composed as config.ts does", () => {
        const stackKeys = z.strictObject({ services: servicesSchema, servicePool: servicePoolSchema, rateLimits: appRateLimitsSchema, healthCheck: healthCheckSchema });
        const problems = (raw: Record<string, unknown>): string[] => {
            const result = stackKeys.safeParse(raw);
            return result.success ? [] : formatIssues("prod", raw, result.error.issues);
        };

        test("a stack may leave out every section with defaults", () => {
            expect(problems({ services: [gateway] })).toEqual([]);
        });

        test("each rule reports at the stack's key path", () => {
            expect(problems({ services: [gateway, gateway], servicePool: { max: 5, min: 6 }, healthCheck: { periodSecond: 10 } })).toEqual([
                'prod: services[1].name must be unique among services (got "api-gateway")',
                "prod: servicePool.min must be at most max (5) (got 6)",
                "prod: healthCheck.periodSecond is not a known key (got 10)",
            ]);
            expect(problems({ services: [{ ...gateway, autoscaling: { minReplicas: 8, maxReplicas: 4, targetCpuPercent: 70 } }] })).toEqual([
                "prod: services[0].autoscaling.maxReplicas must be at least autoscaling.minReplicas (8) (got 4)",
            ]);
        });

        test("cross-field rules wait until the fields they compare are valid (one cause, one message)", () => {
            expect(problems({ services: [gateway, { ...gateway, port: 0 }] })).toEqual(["prod: services[1].port must be at least 1 (got 0)"]);
            expect(problems({ services: [gateway], servicePool: { max: 0, min: 6 } })).toEqual(["prod: servicePool.max must be at least 1 (got 0)"]);
        });
    });
});

describe("serviceEnv", () => {
    const env = serviceEnv(user, settings, REDIS_NODES);

    test("renders every documented variable, in the documented order, each once", () => {
        const names = env.map((variable) => variable.name);
        expect(names).toEqual(ENV_DOCS.map((doc) => doc.name));
        expect(new Set(names).size).toBe(names.length);
    });

    test("database through PgBouncer, pool settings as plain numbers (the plan's pool by default)", () => {
        const values = ["PORT", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_POOL_MAX", "DB_POOL_MIN", "DB_POOL_IDLE_TIMEOUT_MS", "DB_POOL_CONNECTION_TIMEOUT_MS"].map((name) => literalOf(env, name));
        expect(values).toEqual(["3001", "pgbouncer.prepx.svc.cluster.local", "6432", "prepx", "app", "100", "10", "30000", "2000"]);
        const small = serviceEnv(user, settingsWith({ pool: { max: 10, min: 1 } }), REDIS_NODES);
        expect([literalOf(small, "DB_POOL_MAX"), literalOf(small, "DB_POOL_MIN"), literalOf(small, "DB_POOL_IDLE_TIMEOUT_MS")]).toEqual(["10", "1", "30000"]);
    });

    test("TLS to PgBouncer: PGSSLMODE verify-full and PGSSLROOTCERT naming the mounted CA (only that key of its Secret, read-only)", () => {
        expect([literalOf(env, "PGSSLMODE"), literalOf(env, "PGSSLROOTCERT")]).toEqual(["verify-full", "/etc/prepx/database-ca/ca.crt"]);
        const inputs = { image: IMAGE, redisNodes: REDIS_NODES, serviceAccountName: "user-service" };
        const template = servicePodTemplate(user, settings, inputs);
        expect(template.spec.volumes).toContainEqual({ name: "database-ca", secret: { secretName: "postgres-pooler-tls", items: [{ key: "ca.crt", path: "ca.crt" }], defaultMode: 0o444 } });
        expect(template.spec.containers[0].volumeMounts).toContainEqual({ name: "database-ca", mountPath: "/etc/prepx/database-ca", readOnly: true });
        // A service without the database gets neither; without caSecret no service does.
        const notifierTemplate = servicePodTemplate(notifierService, settings, inputs);
        expect(notifierTemplate.spec.volumes.map((volume) => volume.name)).not.toContain("database-ca");
        const { caSecret: _caSecret, ...plainDatabase } = settings.database ?? { caSecret: undefined };
        const withoutCa = settingsWith({ database: plainDatabase as ServiceFleetArgs["database"] });
        expect(serviceEnv(user, withoutCa, REDIS_NODES).map((variable) => variable.name)).not.toContain("PGSSLMODE");
        expect(servicePodTemplate(user, withoutCa, inputs).spec.volumes.map((volume) => volume.name)).not.toContain("database-ca");
    });

    test("passwords only as secretKeyRefs", () => {
        expect(env.find((variable) => variable.name === "DB_PASSWORD")).toEqual({ name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "postgres-app", key: "password" } } });
        expect(env.find((variable) => variable.name === "REDIS_PASSWORD")).toEqual({
            name: "REDIS_PASSWORD",
            valueFrom: { secretKeyRef: { name: "redis-user-app-user-service", key: "password" } },
        });
        const literals = env.filter((variable) => variable.value !== undefined).map((variable) => variable.name);
        expect(literals).not.toContainEqual(expect.stringMatching(/PASSWORD|SECRET|TOKEN/));
    });

    test("Redis seeds comma-separated", () => {
        expect(literalOf(env, "REDIS_CLUSTER_NODES")).toBe("redis-0.redis-headless:6379,redis-1.redis-headless:6379");
    });

    test("Redis: each service its own ACL user and password Secret; TLS with the CA mounted read-only", () => {
        expect(literalOf(env, "REDIS_USERNAME")).toBe("app-user-service");
        const notifierEnv = serviceEnv(notifierService, settings, REDIS_NODES);
        expect(literalOf(notifierEnv, "REDIS_USERNAME")).toBe("app-notifier");
        expect(notifierEnv.find((variable) => variable.name === "REDIS_PASSWORD")?.valueFrom).toEqual({ secretKeyRef: { name: "redis-user-app-notifier", key: "password" } });
        expect([literalOf(env, "REDIS_TLS"), literalOf(env, "REDIS_TLS_CA_FILE")]).toEqual(["true", "/etc/redis-ca/ca.crt"]);
        const template = servicePodTemplate(user, settings, { image: IMAGE, redisNodes: REDIS_NODES, serviceAccountName: "user-service" });
        expect(template.spec.volumes).toContainEqual({ name: "redis-ca", secret: { secretName: "redis-tls", items: [{ key: "ca.crt", path: "ca.crt" }], defaultMode: 0o444 } });
        expect(template.spec.containers[0].volumeMounts).toContainEqual({ name: "redis-ca", mountPath: "/etc/redis-ca", readOnly: true });
    });

    test("four rate-limit tiers with points, duration and block duration (the plan's by default)", () => {
        const values = [
            "RATE_LIMIT_GLOBAL_POINTS",
            "RATE_LIMIT_GLOBAL_DURATION_SECONDS",
            "RATE_LIMIT_GLOBAL_BLOCK_DURATION_SECONDS",
            "RATE_LIMIT_IP_POINTS",
            "RATE_LIMIT_IP_BLOCK_DURATION_SECONDS",
            "RATE_LIMIT_USER_POINTS",
            "RATE_LIMIT_TRADING_POINTS",
            "RATE_LIMIT_TRADING_DURATION_SECONDS",
            "RATE_LIMIT_TRADING_BLOCK_DURATION_SECONDS",
        ].map((name) => literalOf(env, name));
        expect(values).toEqual(["10000", "60", "60", "1000", "300", "2000", "600", "60", "600"]);
    });

    test("a service without a database gets no DB_* variable, and everything else", () => {
        const names = serviceEnv(notifierService, settings, REDIS_NODES).map((variable) => variable.name);
        expect(names).toEqual(ENV_DOCS.filter((doc) => doc.scope === "all").map((doc) => doc.name));
        expect(names).not.toContainEqual(expect.stringMatching(/^DB_/));
    });
});

describe("serviceProbes", () => {
    test("readiness and liveness are the plan's health check (30 s, 5 s, 3) on the health path", () => {
        const probes = serviceProbes("/health", settings.healthCheck, settings.startupTimeoutSeconds);
        for (const probe of [probes.readinessProbe, probes.livenessProbe]) {
            expect(probe).toEqual({ httpGet: { path: "/health", port: "http" }, periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3 });
        }
    });

    test("the startup probe polls every 5 s for the startup timeout (120 s by default), rounded up", () => {
        expect(serviceProbes("/healthz", settings.healthCheck, settings.startupTimeoutSeconds).startupProbe).toEqual({
            httpGet: { path: "/healthz", port: "http" },
            periodSeconds: 5,
            timeoutSeconds: 5,
            failureThreshold: 24,
        });
        expect(serviceProbes("/h", settings.healthCheck, 7).startupProbe.failureThreshold).toBe(2);
    });
});

describe("pod", () => {
    const inputs = { image: IMAGE, redisNodes: REDIS_NODES, serviceAccountName: "user-service" };

    test("the container: named port, environment, probes, resources, restricted with a writable /tmp", () => {
        const container = serviceContainer(user, settings, inputs);
        expect(container.name).toBe("user-service");
        expect(container.image).toBe(IMAGE);
        expect(container.ports).toEqual([{ name: "http", containerPort: 3001, protocol: "TCP" }]);
        expect(container.env).toEqual(serviceEnv(user, settings, REDIS_NODES));
        expect(container).toMatchObject(serviceProbes("/health", settings.healthCheck, settings.startupTimeoutSeconds));
        expect(container.resources).toEqual({ requests: { cpu: "500m", memory: "1Gi", "ephemeral-storage": "64Mi" }, limits: { cpu: "1", memory: "2Gi", "ephemeral-storage": "2Gi" } });
        expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true, allowPrivilegeEscalation: false });
        expect(container.volumeMounts).toEqual([
            { name: "tmp", mountPath: "/tmp" },
            { name: "redis-ca", mountPath: "/etc/redis-ca", readOnly: true },
            { name: "database-ca", mountPath: "/etc/prepx/database-ca", readOnly: true },
        ]);
    });

    test("the template: labels, scrape annotations, UID 10001, no API token or service links, grace period 30 s", () => {
        const template = servicePodTemplate(user, settings, inputs);
        expect(template.metadata).toEqual({
            labels: serviceLabels("user-service"),
            annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": "3001", "prometheus.io/path": "/metrics" },
        });
        const pod = template.spec;
        expect(pod).toMatchObject({ terminationGracePeriodSeconds: 30, automountServiceAccountToken: false, enableServiceLinks: false });
        // Through its ServiceAccount the pod gets the stack's image pull Secrets.
        expect(pod.serviceAccountName).toBe("user-service");
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001 });
        expect(pod.containers).toEqual([serviceContainer(user, settings, inputs)]);
        expect(pod.volumes).toEqual([
            { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
            { name: "redis-ca", secret: { secretName: "redis-tls", items: [{ key: "ca.crt", path: "ca.crt" }], defaultMode: 0o444 } },
            { name: "database-ca", secret: { secretName: "postgres-pooler-tls", items: [{ key: "ca.crt", path: "ca.crt" }], defaultMode: 0o444 } },
        ]);
        const changed = servicePodTemplate(user, settingsWith({ runAsUser: 2000, terminationGracePeriodSeconds: 60, metricsPath: "/prom" }), inputs);
        expect(changed.spec.securityContext).toMatchObject({ runAsUser: 2000, runAsGroup: 2000 });
        expect([changed.spec.terminationGracePeriodSeconds, changed.metadata.annotations["prometheus.io/path"]]).toEqual([60, "/prom"]);
    });

    test("pods spread across nodes and zones as a preference, counting only the same revision", () => {
        const selector = { "app.kubernetes.io/name": "user-service", "app.kubernetes.io/instance": "user-service", "app.kubernetes.io/component": "service" };
        expect(servicePodTemplate(user, settings, inputs).spec.topologySpreadConstraints).toEqual([
            { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", nodeTaintsPolicy: "Honor", labelSelector: { matchLabels: selector }, matchLabelKeys: ["pod-template-hash"] },
            { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway", nodeTaintsPolicy: "Honor", labelSelector: { matchLabels: selector }, matchLabelKeys: ["pod-template-hash"] },
        ]);
    });

    test("labels: the standard five, component `service`", () => {
        expect(serviceLabels("user-service")).toEqual({
            "app.kubernetes.io/name": "user-service",
            "app.kubernetes.io/instance": "user-service",
            "app.kubernetes.io/component": "service",
            "app.kubernetes.io/part-of": "prepx",
            "app.kubernetes.io/managed-by": "pulumi",
        });
    });
});

describe("workload objects", () => {
    const selector = { "app.kubernetes.io/name": "user-service", "app.kubernetes.io/instance": "user-service", "app.kubernetes.io/component": "service" };

    test("the Deployment starts at the HPA minimum and rolls without losing capacity", () => {
        const inputs = { image: IMAGE, redisNodes: REDIS_NODES, serviceAccountName: "user-service" };
        expect(serviceDeploymentSpec(user, settings, inputs)).toEqual({
            replicas: 40,
            revisionHistoryLimit: 5,
            selector: { matchLabels: selector },
            strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: "25%" } },
            template: servicePodTemplate(user, settings, inputs),
        });
    });

    test("a ClusterIP and a headless Service on the service port; the headless one publishes ready pods only", () => {
        const ports = [{ name: "http", port: 3001, targetPort: "http", protocol: "TCP" }];
        expect(clusterIpServiceSpec(user)).toEqual({ type: "ClusterIP", selector, ports });
        expect(headlessServiceSpec(user)).toEqual({ clusterIP: "None", selector, ports });
    });

    test("the HPA scales the Deployment between min and max on CPU", () => {
        expect(autoscalerSpec(user, "user-service")).toEqual({
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "user-service" },
            minReplicas: 40,
            maxReplicas: 60,
            metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }],
        });
    });

    test("PDB allowance is 10 % of the HPA minimum, at least one pod", () => {
        expect([1, 8, 9, 10, 40, 45].map(disruptionAllowance)).toEqual([1, 1, 1, 1, 4, 4]);
    });

    test("Prometheus scrapes each service's own port", () => {
        expect(serviceMetricsTarget(user)).toEqual({ name: "user-service", labels: serviceLabels("user-service"), ports: [3001] });
    });
});
