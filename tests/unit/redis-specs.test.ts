// RedisCluster's pure builders called directly (no mocks): the node pod (containers, probes,
// volumes, grace period), the StatefulSet, the Services, the bootstrap Job, node addresses and the
// mapping from args to the renderers' options.
import { containerResources } from "../../components/k8s";
import { noCertificates } from "../helpers/mocks";
import { redisClusterArgsSchema, type ResolvedRedisClusterArgs } from "../../components/redis/args";
import { renderBootstrapScript, renderRedisConf } from "../../components/redis/render";
import {
    BOOTSTRAP_TIMEOUT_SECONDS,
    bootstrapContainer,
    bootstrapJobSpec,
    bootstrapScriptOptions,
    certificateDnsNames,
    clusterHealContainer,
    topologyContainer,
    clientServiceSpec,
    exporterContainer,
    headlessServiceSpec,
    nodeAddresses,
    redisConfOptions,
    redisContainer,
    redisNodeScripts,
    redisObjectNames,
    redisPodSpec,
    redisStatefulSetSpec,
    redisVolumes,
} from "../../components/redis/specs";

const DEFAULTS: ResolvedRedisClusterArgs = redisClusterArgsSchema.parse({ namespace: "cache", certificates: noCertificates });
const NAMES = redisObjectNames("redis");
const REFS = { secretName: "redis-auth", exporterSecretName: "redis-user-exporter", tlsSecretName: "redis-tls", configMapName: "redis-config", serviceAccountName: "redis" };
const LABELS = {
    "app.kubernetes.io/name": "redis",
    "app.kubernetes.io/instance": "redis",
    "app.kubernetes.io/component": "cache",
    "app.kubernetes.io/part-of": "prepx",
    "app.kubernetes.io/managed-by": "pulumi",
};
const SELECTOR = { "app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "redis", "app.kubernetes.io/component": "cache" };
const PING = {
    exec: { command: ["sh", "-c", "redis-cli --no-auth-warning --tls --cacert '/etc/redis-tls/ca.crt' --user admin -h 127.0.0.1 -p 6379 ping | grep -q PONG"] },
    timeoutSeconds: 3,
};
const TLS_MOUNT = { name: "tls", mountPath: "/etc/redis-tls", readOnly: true };
const PASSWORD_REF = { secretKeyRef: { name: "redis-auth", key: "password" } };

interface EnvHolder {
    env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
}

describe("object names", () => {
    test("derive from the component name", () => {
        expect(redisObjectNames("cache")).toEqual({
            statefulSet: "cache",
            headless: "cache-headless",
            secret: "cache-auth",
            exporterSecret: "cache-user-exporter",
            tls: "cache-tls",
            config: "cache-config",
            bootstrap: "cache-bootstrap",
        });
    });
});

describe("redis container", () => {
    const container = redisContainer(DEFAULTS, NAMES, REFS);

    test("runs redis-server on the mounted redis.conf, announcing the pod's stable hostname", () => {
        // 7.2.11 fixed the Lua RCEs (CVE-2025-49844 and others); 7.2.16 is the newest 7.2 image.
        expect(container.image).toBe("redis:7.2.16");
        expect(container.command).toEqual(["redis-server"]);
        expect(container.args).toEqual(["/etc/redis/redis.conf", "--cluster-announce-hostname", "$(POD_NAME).redis-headless.$(POD_NAMESPACE).svc.cluster.local"]);
        expect(redisContainer({ ...DEFAULTS, clusterDomain: "corp.example" }, redisObjectNames("cache"), REFS).args).toEqual([
            "/etc/redis/redis.conf",
            "--cluster-announce-hostname",
            "$(POD_NAME).cache-headless.$(POD_NAMESPACE).svc.corp.example",
        ]);
    });

    test("the pod's name and namespace from the downward API, the administrator's password from the Secret", () => {
        expect(container.env).toEqual([
            { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
            { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
            { name: "REDISCLI_AUTH", valueFrom: PASSWORD_REF },
        ]);
    });

    test("client port and cluster bus (client + 10000)", () => {
        expect(container.ports).toEqual([
            { name: "redis", containerPort: 6379 },
            { name: "cluster-bus", containerPort: 16379 },
        ]);
    });

    test("PING probes: five minutes to load the AOF, restarted after a minute; ready by the rendered readiness script", () => {
        expect(container.startupProbe).toEqual({ ...PING, periodSeconds: 5, failureThreshold: 60 });
        expect(container.readinessProbe).toEqual({ exec: { command: ["sh", "-c", "sh /etc/redis/readiness.sh"] }, timeoutSeconds: 3, periodSeconds: 5, failureThreshold: 3 });
        expect(container.livenessProbe).toEqual({ ...PING, periodSeconds: 10, failureThreshold: 6 });
    });

    test("the args' resources, data on the PVC, config, auth and certificate read-only", () => {
        expect(container.resources).toEqual({ requests: { cpu: "1", memory: "8Gi", "ephemeral-storage": "64Mi" }, limits: { cpu: "2", memory: "8Gi", "ephemeral-storage": "2Gi" } });
        expect(container.volumeMounts).toEqual([
            { name: "data", mountPath: "/data" },
            { name: "config", mountPath: "/etc/redis", readOnly: true },
            { name: "auth", mountPath: "/etc/redis-auth", readOnly: true },
            TLS_MOUNT,
        ]);
        expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true, allowPrivilegeEscalation: false });
    });
});

describe("exporter sidecar", () => {
    const exporter = exporterContainer(DEFAULTS, REFS);

    test("reads its node over TLS by a name of the certificate, as the exporter user with its own Secret", () => {
        expect(exporter.name).toBe("exporter");
        expect(exporter.image).toBe("oliver006/redis_exporter:v1.62.0");
        expect(exporter.env).toEqual([
            { name: "REDIS_ADDR", value: "rediss://localhost:6379" },
            { name: "REDIS_USER", value: "exporter" },
            { name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: "redis-user-exporter", key: "password" } } },
            { name: "REDIS_EXPORTER_TLS_CA_CERT_FILE", value: "/etc/redis-tls/ca.crt" },
        ]);
        expect(exporter.volumeMounts).toEqual([TLS_MOUNT]);
    });

    test("serves metrics on 9121 and is probed on /health", () => {
        expect(exporter.ports).toEqual([{ name: "metrics", containerPort: 9121 }]);
        expect(exporter.readinessProbe).toEqual({ httpGet: { path: "/health", port: "metrics" }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 });
        expect(exporter.livenessProbe).toEqual({ httpGet: { path: "/health", port: "metrics" }, periodSeconds: 20, timeoutSeconds: 3, failureThreshold: 3 });
        expect(exporter.resources).toEqual({ requests: { cpu: "50m", memory: "64Mi", "ephemeral-storage": "64Mi" }, limits: { cpu: "200m", memory: "128Mi", "ephemeral-storage": "2Gi" } });
    });
});

describe("node pod", () => {
    const pod = redisPodSpec(DEFAULTS, NAMES, REFS, LABELS);

    test("redis, cluster-heal and the exporter, as the redis user, spread over nodes, 30 s to shut down", () => {
        expect((pod.containers as Array<{ name: string }>).map((container) => container.name)).toEqual(["redis", "cluster-heal", "exporter"]);
        expect(pod.securityContext).toMatchObject({ runAsUser: 999, runAsGroup: 999, fsGroup: 999, runAsNonRoot: true });
        expect(pod.terminationGracePeriodSeconds).toBe(30);
        expect(pod.enableServiceLinks).toBe(false);
        // Through its ServiceAccount the pod gets the stack's image pull Secrets; no API token is mounted.
        expect(pod.serviceAccountName).toBe("redis");
        expect(pod.automountServiceAccountToken).toBe(false);
        expect(pod.topologySpreadConstraints).toEqual([
            { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", nodeTaintsPolicy: "Honor", labelSelector: { matchLabels: SELECTOR } },
            { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway", nodeTaintsPolicy: "Honor", labelSelector: { matchLabels: SELECTOR } },
        ]);
    });

    test("every container of the node pod and of the bootstrap Job takes its password through secretKeyRef, never a literal", () => {
        const containers = [...(pod.containers as EnvHolder[]), bootstrapContainer(DEFAULTS, REFS) as EnvHolder];
        const passwordVariables = containers.flatMap((container) => container.env ?? []).filter((env) => /AUTH|PASSWORD/.test(env.name));
        expect(passwordVariables.map((env) => env.name)).toEqual(["REDISCLI_AUTH", "REDISCLI_AUTH", "EXPORTER_PASSWORD", "REDIS_PASSWORD", "REDISCLI_AUTH"]);
        const exporterRef = { secretKeyRef: { name: "redis-user-exporter", key: "password" } };
        const exporterVariables = ["REDIS_PASSWORD", "EXPORTER_PASSWORD"];
        for (const env of passwordVariables) expect(env).toEqual({ name: env.name, valueFrom: exporterVariables.includes(env.name) ? exporterRef : PASSWORD_REF });
    });

    test("volumes: redis.conf from the ConfigMap, the auth Secret's ACL file, masterauth include and admin password, the certificate; group-readable", () => {
        const authKeys = ["users.acl", "replication.conf", "password"];
        expect(redisVolumes(REFS)).toEqual([
            { name: "config", configMap: { name: "redis-config" } },
            { name: "auth", secret: { secretName: "redis-auth", items: authKeys.map((key) => ({ key, path: key })), defaultMode: 0o440 } },
            {
                name: "tls",
                secret: {
                    secretName: "redis-tls",
                    items: [
                        { key: "tls.crt", path: "tls.crt" },
                        { key: "tls.key", path: "tls.key" },
                        { key: "ca.crt", path: "ca.crt" },
                    ],
                    defaultMode: 0o440,
                },
            },
        ]);
        expect(pod.volumes).toEqual(redisVolumes(REFS));
    });

    test("cluster-heal reaches its node over TLS (the certificate's CA is mounted) and sees the auth Secret the node reads its users from", () => {
        const authMount = { name: "auth", mountPath: "/etc/redis-auth", readOnly: true };
        expect(clusterHealContainer(DEFAULTS, REFS).volumeMounts).toEqual([{ name: "config", mountPath: "/etc/redis", readOnly: true }, authMount, TLS_MOUNT]);
        expect(redisContainer(DEFAULTS, NAMES, REFS).volumeMounts).toContainEqual(authMount);
        const heal = redisNodeScripts()["cluster-heal.sh"];
        expect(heal).toContain("ACL_FILE='/etc/redis-auth/users.acl'");
        expect(heal).toContain("ADMIN_PASSWORD_FILE='/etc/redis-auth/password'");
        expect(heal).toContain("ACL SETUSER exporter");
    });
});

describe("StatefulSet", () => {
    const template = { labels: LABELS, annotations: { "checksum/config": "0".repeat(64) } };

    test("masters x (1 + replicasPerMaster) pods started in parallel behind the headless Service", () => {
        const spec = redisStatefulSetSpec(DEFAULTS, NAMES, REFS, template);
        expect(spec.replicas).toBe(6);
        expect(redisStatefulSetSpec({ ...DEFAULTS, masters: 4, replicasPerMaster: 2 }, NAMES, REFS, template).replicas).toBe(12);
        expect(spec.serviceName).toBe("redis-headless");
        expect(spec.podManagementPolicy).toBe("Parallel");
        expect(spec.updateStrategy).toEqual({ type: "RollingUpdate" });
        expect(spec.selector).toEqual({ matchLabels: SELECTOR });
        expect(spec.template).toEqual({ metadata: template, spec: redisPodSpec(DEFAULTS, NAMES, REFS, LABELS) });
    });

    test("one PVC per pod of the args' size and class, retained unless data is unprotected", () => {
        const protectedSpec = redisStatefulSetSpec(DEFAULTS, NAMES, REFS, template);
        expect(protectedSpec.volumeClaimTemplates).toEqual([
            { metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "50Gi" } } } },
        ]);
        expect(protectedSpec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
        const scratch = redisStatefulSetSpec({ ...DEFAULTS, storage: "1Gi", storageClass: "fast", protectData: false }, NAMES, REFS, template);
        expect(scratch.volumeClaimTemplates).toEqual([
            { metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], storageClassName: "fast", resources: { requests: { storage: "1Gi" } } } },
        ]);
        expect(scratch.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Delete", whenScaled: "Delete" });
    });
});

describe("Services", () => {
    test("headless: client port and cluster bus, not-ready pods published so the cluster can form", () => {
        expect(headlessServiceSpec(SELECTOR)).toEqual({
            clusterIP: "None",
            publishNotReadyAddresses: true,
            selector: SELECTOR,
            ports: [
                { name: "redis", port: 6379, targetPort: "redis" },
                { name: "cluster-bus", port: 16379, targetPort: "cluster-bus" },
            ],
        });
    });

    test("client: the client port only", () => {
        expect(clientServiceSpec(SELECTOR)).toEqual({ type: "ClusterIP", selector: SELECTOR, ports: [{ name: "redis", port: 6379, targetPort: "redis" }] });
    });
});

describe("bootstrap Job", () => {
    const bootstrapLabels = { ...SELECTOR, "app.kubernetes.io/component": "cluster-bootstrap" };
    const refs = { secretName: "redis-auth", tlsSecretName: "redis-tls", scriptConfigMapName: "redis-bootstrap", serviceAccountName: "redis" };
    const containerOf = (args: ResolvedRedisClusterArgs) => bootstrapContainer(args, refs);

    test("runs the mounted script once with the node image and the password from the Secret", () => {
        const spec = bootstrapJobSpec(DEFAULTS, refs, bootstrapLabels, SELECTOR);
        expect(spec.backoffLimit).toBe(3);
        expect(spec.template).toMatchObject({
            metadata: { labels: bootstrapLabels },
            spec: {
                restartPolicy: "Never",
                serviceAccountName: "redis",
                automountServiceAccountToken: true,
                enableServiceLinks: false,
                securityContext: { runAsUser: 999 },
                initContainers: [topologyContainer(DEFAULTS, SELECTOR)],
                containers: [containerOf(DEFAULTS)],
                volumes: [
                    { name: "scripts", configMap: { name: "redis-bootstrap" } },
                    { name: "topology", emptyDir: { sizeLimit: "1Mi" } },
                    // Only the CA of the certificate Secret: the Job verifies the nodes, it is no node.
                    { name: "tls", secret: { secretName: "redis-tls", items: [{ key: "ca.crt", path: "ca.crt" }], defaultMode: 0o440 } },
                ],
            },
        });
        expect(containerOf(DEFAULTS)).toMatchObject({
            name: "bootstrap",
            image: "redis:7.2.16",
            command: ["sh", "/scripts/bootstrap.sh"],
            env: [{ name: "REDISCLI_AUTH", valueFrom: PASSWORD_REF }],
            volumeMounts: [
                { name: "scripts", mountPath: "/scripts", readOnly: true },
                { name: "topology", mountPath: "/topology", readOnly: true },
                TLS_MOUNT,
            ],
            securityContext: { readOnlyRootFilesystem: true },
        });
    });

    test("sized like the exporter unless bootstrapResources is given", () => {
        expect(containerOf(DEFAULTS).resources).toEqual({ requests: { cpu: "50m", memory: "64Mi", "ephemeral-storage": "64Mi" }, limits: { cpu: "200m", memory: "128Mi", "ephemeral-storage": "2Gi" } });
        const small = { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "100m", memory: "64Mi" } };
        expect(containerOf({ ...DEFAULTS, exporterResources: small }).resources).toEqual(containerResources(small));
        const own = { requests: { cpu: "100m", memory: "64Mi" }, limits: { cpu: "500m", memory: "64Mi" } };
        expect(containerOf({ ...DEFAULTS, exporterResources: small, bootstrapResources: own }).resources).toEqual(containerResources(own));
    });
});

describe("args to the renderers' options", () => {
    test("node addresses: every pod's stable name behind the headless Service, in pod order", () => {
        expect(nodeAddresses(NAMES, "prepx", { masters: 3, replicasPerMaster: 0, clusterDomain: "cluster.local" })).toEqual([
            "redis-0.redis-headless.prepx.svc.cluster.local:6379",
            "redis-1.redis-headless.prepx.svc.cluster.local:6379",
            "redis-2.redis-headless.prepx.svc.cluster.local:6379",
        ]);
        expect(nodeAddresses(NAMES, "prepx", DEFAULTS)).toHaveLength(6);
    });

    test("redis.conf in a pod: every interface, the PVC, the Secret-mounted include and certificate, the args' memory and client limits", () => {
        expect(redisConfOptions(DEFAULTS)).toEqual({
            bind: "* -::*",
            port: 6379,
            dataDir: "/data",
            auth: { aclFile: "/etc/redis-auth/users.acl", replicationInclude: "/etc/redis-auth/replication.conf" },
            tls: { certFile: "/etc/redis-tls/tls.crt", keyFile: "/etc/redis-tls/tls.key", caFile: "/etc/redis-tls/ca.crt" },
            clusterNodeTimeoutMs: 5000,
            maxmemory: "6gb",
            maxmemoryPolicy: "noeviction",
            clientIdleTimeoutSeconds: 300,
            outputBufferLimits: {
                normal: { hard: "64mb", soft: "16mb", softSeconds: 60 },
                replica: { hard: "256mb", soft: "64mb", softSeconds: 60 },
                pubsub: { hard: "32mb", soft: "8mb", softSeconds: 60 },
            },
        });
        const conf = renderRedisConf(redisConfOptions({ ...DEFAULTS, maxmemory: "6gb", clusterNodeTimeoutMs: 15000 }));
        expect(conf).toMatch(/^maxmemory 6gb$/m);
        expect(conf).toMatch(/^cluster-node-timeout 15000$/m);
        expect(conf).toMatch(/^aclfile \/etc\/redis-auth\/users\.acl$/m);
        expect(conf).toMatch(/^include \/etc\/redis-auth\/replication\.conf$/m);
        // Users come from the ACL file only (ACL LOAD re-reads it); Redis refuses both at once.
        expect(conf).not.toMatch(/^user /m);
    });

    test("redis.conf elsewhere (the live tests): the given layout, the same settings", () => {
        const tls = { certFile: "/tmp/tls.crt", keyFile: "/tmp/tls.key", caFile: "/tmp/ca.crt" };
        const layout = { bind: "127.0.0.1", port: 7000, dataDir: "/tmp/node", auth: { aclFile: "/tmp/node/users.acl", replicationInclude: "/tmp/node/replication.conf" }, tls };
        expect(redisConfOptions(DEFAULTS, layout)).toMatchObject({ ...layout, clusterNodeTimeoutMs: 5000, maxmemory: "6gb", maxmemoryPolicy: "noeviction", clientIdleTimeoutSeconds: 300 });
    });

    test("bootstrap: the nodes, the replicas per master and a ten-minute deadline", () => {
        const nodes = ["a:6379", "b:6379", "c:6379"];
        const client = { user: "admin", caFile: "/etc/redis-tls/ca.crt" };
        expect(bootstrapScriptOptions({ masters: 3, replicasPerMaster: 0 }, nodes)).toEqual({ nodes, masters: 3, replicasPerMaster: 0, timeoutSeconds: 600, topologyDir: "/topology", client });
        expect(BOOTSTRAP_TIMEOUT_SECONDS).toBe(600);
        expect(renderBootstrapScript(bootstrapScriptOptions(DEFAULTS, nodes))).toContain("DEADLINE=$(( $(date +%s) + 600 ))");
    });
});

describe("certificate", () => {
    test("issued for every pod's announced hostname, both Services' names and localhost (the exporter's)", () => {
        const names = certificateDnsNames(NAMES, "prepx", { masters: 3, replicasPerMaster: 1, clusterDomain: "cluster.local" });
        expect(names).toEqual([
            ...Array.from({ length: 6 }, (_, i) => `redis-${i}.redis-headless.prepx.svc.cluster.local`),
            "redis-headless",
            "redis-headless.prepx",
            "redis-headless.prepx.svc",
            "redis-headless.prepx.svc.cluster.local",
            "redis",
            "redis.prepx",
            "redis.prepx.svc",
            "redis.prepx.svc.cluster.local",
            "localhost",
        ]);
        // The hostnames the nodes announce are the ones redisContainer passes, with the pod's name filled in.
        const announced = (redisContainer(DEFAULTS, NAMES, REFS).args as string[])[2];
        expect(names).toContain(announced.replace("$(POD_NAME)", "redis-5").replace("$(POD_NAMESPACE)", "prepx"));
    });
});
