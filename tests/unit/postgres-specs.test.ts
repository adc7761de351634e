// PostgresCluster's spec builders called directly (no mocks): the member and PgBouncer pods, their
// containers, probes and volumes, the StatefulSet and Deployment specs, the Services and Patroni's Role.
import { testCertificates } from "../helpers/mocks";
import * as path from "path";
import { containerResources, selectorLabels, standardLabels } from "../../components/k8s";
import { postgresClusterArgsSchema, PostgresClusterArgs } from "../../components/postgres/args";
import { PGBOUNCER_IMAGE_LAYOUT, postgresNames, renderPgbouncerStartScript } from "../../components/postgres/render";
import {
    clusterMetricsTargets,
    DYNAMIC_CONFIG_DEADLINE_SECONDS,
    DYNAMIC_CONFIG_JOB_DEADLINES,
    dynamicConfigJobSpec,
    memberPodSpec,
    memberServices,
    memberStatefulSetSpec,
    memberVolumes,
    memberHostTemplate,
    patroniEndpointNames,
    patroniRbacRules,
    patroniContainer,
    PGBOUNCER_COMMAND,
    pgbouncerContainer,
    pgbouncerExporterContainer,
    poolerDeploymentSpec,
    poolerPodSpec,
    poolerServiceSpec,
    postgresExporterContainer,
    sharedMemoryVolume,
} from "../../components/postgres/specs";

const argsWith = (args: Partial<PostgresClusterArgs> = {}) => postgresClusterArgsSchema.parse({ namespace: "prepx", certificates: testCertificates, ...args });
const DEFAULTS = argsWith();
const LABELS = standardLabels("postgres", "db", "database");
const SELECTOR = selectorLabels(LABELS);
const POOLER_LABELS = standardLabels("pgbouncer", "db", "pooler");
const IMAGE = "ghcr.io/prepx/postgres-patroni:15.19-patroni3.0.2-pgbackrest2.45";
const MEMBER_REFS = { serviceAccount: "db-patroni", patroniConfig: "db-patroni", credentialsSecret: "db-credentials", appSecret: "db-app", tlsSecret: "db-tls", membersService: "db-members" };
const POOLER_REFS = { poolerConfig: "db-pooler", poolerSecret: "db-pooler-auth", serviceAccount: "db-pooler", tlsSecret: "db-pooler-tls" };
const memberSet = (args = DEFAULTS) =>
    memberStatefulSetSpec(args, { ...MEMBER_REFS, labels: LABELS, annotations: { "checksum/config": "abc" }, serviceName: "db-members", image: IMAGE });
const secretRef = (name: string, key: string) => ({ secretKeyRef: { name, key } });

describe("the patroni container", () => {
    const container = patroniContainer(DEFAULTS, IMAGE, MEMBER_REFS);

    test("runs Patroni with the mounted config, the image and the args' resources", () => {
        expect(container).toMatchObject({
            name: "postgres",
            image: IMAGE,
            command: ["patroni", "/etc/patroni/patroni.yml"],
            resources: DEFAULTS.resources,
            ports: [
                { name: "postgresql", containerPort: 5432 },
                { name: "patroni", containerPort: 8008 },
            ],
        });
    });

    test("is probed over HTTPS on Patroni's REST health endpoints: 5 minutes to start, then liveness and readiness", () => {
        expect(container.startupProbe).toEqual({ httpGet: { path: "/liveness", port: "patroni", scheme: "HTTPS" }, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 60 });
        expect(container.livenessProbe).toEqual({ httpGet: { path: "/liveness", port: "patroni", scheme: "HTTPS" }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 });
        expect(container.readinessProbe).toEqual({ httpGet: { path: "/readiness", port: "patroni", scheme: "HTTPS" }, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 3 });
    });

    test("takes its identity from the downward API, its passwords by secretKeyRef, and is reached at its DNS name (in its certificate)", () => {
        const field = (fieldPath: string) => ({ fieldRef: { fieldPath } });
        expect(container.env).toEqual([
            { name: "PATRONI_NAME", valueFrom: field("metadata.name") },
            { name: "PATRONI_KUBERNETES_NAMESPACE", valueFrom: field("metadata.namespace") },
            { name: "PATRONI_KUBERNETES_POD_IP", valueFrom: field("status.podIP") },
            { name: "PATRONI_POSTGRESQL_CONNECT_ADDRESS", value: "$(PATRONI_NAME).db-members.$(PATRONI_KUBERNETES_NAMESPACE).svc.cluster.local:5432" },
            { name: "PATRONI_RESTAPI_CONNECT_ADDRESS", value: "$(PATRONI_NAME).db-members.$(PATRONI_KUBERNETES_NAMESPACE).svc.cluster.local:8008" },
            { name: "PATRONI_SUPERUSER_PASSWORD", valueFrom: secretRef("db-credentials", "superuser-password") },
            { name: "PATRONI_REPLICATION_PASSWORD", valueFrom: secretRef("db-credentials", "replication-password") },
            { name: "PATRONI_RESTAPI_PASSWORD", valueFrom: secretRef("db-credentials", "restapi-password") },
            // Patroni's own sessions and what it runs (pg_basebackup, pg_rewind) are exempt from the application timeouts.
            { name: "PGOPTIONS", value: "-c statement_timeout=0 -c idle_in_transaction_session_timeout=0" },
        ]);
    });

    test("mounts the PVC above PGDATA, the config, password files and certificate read-only, and scratch space", () => {
        expect(container.volumeMounts).toEqual([
            { name: "data", mountPath: "/var/lib/postgresql/data" },
            { name: "config", mountPath: "/etc/patroni", readOnly: true },
            { name: "secrets", mountPath: "/etc/patroni-secrets", readOnly: true },
            { name: "tls", mountPath: "/etc/patroni-tls", readOnly: true },
            { name: "run", mountPath: "/var/run/postgresql" },
            { name: "tmp", mountPath: "/tmp" },
            { name: "shm", mountPath: "/dev/shm" },
        ]);
    });
});

test("postgres_exporter logs in as the monitoring role over loopback and is probed on its landing page", () => {
    expect(postgresExporterContainer(DEFAULTS, "db-credentials")).toMatchObject({
        name: "exporter",
        image: DEFAULTS.exporterImage,
        env: [
            { name: "DATA_SOURCE_URI", value: "127.0.0.1:5432/postgres?sslmode=disable" },
            { name: "DATA_SOURCE_USER", value: "monitor" },
            { name: "DATA_SOURCE_PASS", valueFrom: secretRef("db-credentials", "monitor-password") },
        ],
        ports: [{ name: "metrics", containerPort: 9187 }],
        readinessProbe: { httpGet: { path: "/", port: "metrics" } },
        livenessProbe: { httpGet: { path: "/", port: "metrics" } },
        resources: DEFAULTS.exporterResources,
    });
});

test("member volumes: the config world-readable, only the two password files the post-bootstrap script reads, the certificate (root's, group-readable: 0440), small scratch dirs, a memory-backed /dev/shm", () => {
    expect(memberVolumes(MEMBER_REFS, DEFAULTS.parameters)).toEqual([
        { name: "config", configMap: { name: "db-patroni", defaultMode: 0o444 } },
        {
            name: "secrets",
            projected: {
                defaultMode: 0o400,
                sources: [
                    { secret: { name: "db-app", items: [{ key: "password", path: "app-password" }] } },
                    { secret: { name: "db-credentials", items: [{ key: "monitor-password", path: "monitor-password" }] } },
                ],
            },
        },
        { name: "tls", secret: { secretName: "db-tls", defaultMode: 0o440 } },
        { name: "run", emptyDir: { sizeLimit: "16Mi" } },
        { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
        // work_mem 64MB x hash_mem_multiplier 2 x (8 parallel workers + the leader process).
        { name: "shm", emptyDir: { medium: "Memory", sizeLimit: "1152Mi" } },
    ]);
});

test("a member pod: Patroni's service account (its token mounted), the postgres user, time to checkpoint shared_buffers on shutdown, spread over nodes", () => {
    const pod = memberPodSpec(DEFAULTS, IMAGE, SELECTOR, MEMBER_REFS);
    expect(pod).toMatchObject({
        serviceAccountName: "db-patroni",
        securityContext: { runAsUser: 999, runAsGroup: 999, fsGroup: 999, runAsNonRoot: true },
        // 30 s floor + 4GB of shared_buffers at 100 MiB/s (41 s).
        terminationGracePeriodSeconds: 71,
        enableServiceLinks: false,
        containers: [{ name: "postgres" }, { name: "exporter" }],
        topologySpreadConstraints: [{ labelSelector: { matchLabels: SELECTOR } }, { labelSelector: { matchLabels: SELECTOR } }],
    });
    // Patroni's store is the Kubernetes API: the pod opts in, its account mounts no token by itself.
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(memberPodSpec(argsWith({ postgresUid: 70 }), IMAGE, SELECTOR, MEMBER_REFS).securityContext).toMatchObject({ runAsUser: 70 });
});

describe("the members' StatefulSet", () => {
    test("1 + standbys members, started in parallel, governed by the headless Service", () => {
        expect(memberSet().replicas).toBe(3);
        expect(memberSet(argsWith({ standbys: 0, synchronousMode: false })).replicas).toBe(1);
        expect(memberSet()).toMatchObject({ serviceName: "db-members", podManagementPolicy: "Parallel", updateStrategy: { type: "RollingUpdate" } });
    });

    test("selects by the stable labels; the template carries every label and the annotations", () => {
        expect(memberSet()).toMatchObject({
            selector: { matchLabels: SELECTOR },
            template: { metadata: { labels: LABELS, annotations: { "checksum/config": "abc" } }, spec: { containers: [{ image: IMAGE }, {}] } },
        });
    });

    test("one PVC per member of the args' size and class, retained when the data is protected", () => {
        const claim = (storage: string, storageClass?: string) => ({
            metadata: { name: "data" },
            spec: { accessModes: ["ReadWriteOnce"], ...(storageClass ? { storageClassName: storageClass } : {}), resources: { requests: { storage } } },
        });
        expect(memberSet(argsWith({ storage: "2Gi", storageClass: "fast", protectData: false }))).toMatchObject({
            volumeClaimTemplates: [claim("2Gi", "fast")],
            persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Delete" },
        });
        expect(memberSet().volumeClaimTemplates).toEqual([claim("500Gi")]);
        expect(memberSet().persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    });
});

describe("PgBouncer", () => {
    test("the default image's layout, as its Dockerfile and entrypoint.sh (cloudnative-pg/pgbouncer-containers 7b391df) set it", () => {
        // Dockerfile: `ln -s /usr/sbin/pgbouncer /usr/bin/pgbouncer`, `groupadd -r --gid 996 pgbouncer`,
        // `useradd -r --uid 998 --gid 996 pgbouncer`, `USER pgbouncer`;
        // entrypoint.sh: `/usr/bin/pgbouncer /etc/pgbouncer/pgbouncer.ini`.
        expect(PGBOUNCER_IMAGE_LAYOUT).toEqual({ binary: "/usr/bin/pgbouncer", configFile: "/etc/pgbouncer/pgbouncer.ini", uid: 998, gid: 996 });
    });

    test("the pgbouncer container runs the image's entrypoint line itself (exec'd after raising the open-files limit), on the ini mounted where that line reads it", () => {
        const container = pgbouncerContainer(DEFAULTS.pgbouncer);
        expect(PGBOUNCER_COMMAND).toEqual(["/usr/bin/pgbouncer", "/etc/pgbouncer/pgbouncer.ini"]);
        const script = renderPgbouncerStartScript({ binary: PGBOUNCER_IMAGE_LAYOUT.binary, configFile: PGBOUNCER_IMAGE_LAYOUT.configFile, openFiles: 5000 + 120 + 20 + 64, maxClientConn: 5000 });
        expect(container.command).toEqual(["/bin/sh", "-c", script]);
        expect(script).toContain("need=5204\n");
        expect(script).toContain(`exec ${PGBOUNCER_IMAGE_LAYOUT.binary} ${PGBOUNCER_IMAGE_LAYOUT.configFile}\n`);
        expect(container.volumeMounts).toContainEqual({ name: "config", mountPath: path.posix.dirname(PGBOUNCER_IMAGE_LAYOUT.configFile), readOnly: true });
    });

    test("the pgbouncer container writes nothing: read-only root filesystem, only the read-only config, auth and certificate mounts", () => {
        const container = pgbouncerContainer(DEFAULTS.pgbouncer);
        expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true, allowPrivilegeEscalation: false });
        expect(container.volumeMounts).toEqual([
            { name: "config", mountPath: "/etc/pgbouncer", readOnly: true },
            { name: "auth", mountPath: "/etc/pgbouncer-auth", readOnly: true },
            { name: "tls", mountPath: "/etc/pgbouncer-tls", readOnly: true },
        ]);
    });

    test("the pgbouncer container reads the mounted ini and is probed by TCP connects", () => {
        expect(pgbouncerContainer(DEFAULTS.pgbouncer)).toMatchObject({
            name: "pgbouncer",
            image: "ghcr.io/cloudnative-pg/pgbouncer:1.25.2",
            command: ["/bin/sh", "-c", expect.stringContaining("exec /usr/bin/pgbouncer /etc/pgbouncer/pgbouncer.ini")],
            ports: [{ name: "pgbouncer", containerPort: 6432 }],
            resources: DEFAULTS.pgbouncer.resources,
            readinessProbe: { tcpSocket: { port: "pgbouncer" }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
            livenessProbe: { tcpSocket: { port: "pgbouncer" }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 6 },
            volumeMounts: [
                { name: "config", mountPath: "/etc/pgbouncer", readOnly: true },
                { name: "auth", mountPath: "/etc/pgbouncer-auth", readOnly: true },
                { name: "tls", mountPath: "/etc/pgbouncer-tls", readOnly: true },
            ],
        });
    });

    test("the exporter takes its connection string from the auth Secret", () => {
        expect(pgbouncerExporterContainer(DEFAULTS.pgbouncer, "db-pooler-auth")).toMatchObject({
            name: "exporter",
            image: DEFAULTS.pgbouncer.exporterImage,
            env: [{ name: "PGBOUNCER_EXPORTER_CONNECTION_STRING", valueFrom: secretRef("db-pooler-auth", "exporter-uri") }],
            ports: [{ name: "metrics", containerPort: 9127 }],
            readinessProbe: { httpGet: { path: "/metrics", port: "metrics" } },
            livenessProbe: { httpGet: { path: "/metrics", port: "metrics" } },
            resources: DEFAULTS.pgbouncer.exporterResources,
        });
    });

    test("a pod runs as the image's pgbouncer user and group (998:996), or the ones the args give for another image", () => {
        const selector = selectorLabels(POOLER_LABELS);
        expect(poolerPodSpec(DEFAULTS, selector, POOLER_REFS).securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 998, runAsGroup: 996, fsGroup: 996 });
        expect(poolerPodSpec(argsWith({ pgbouncerUid: 70, pgbouncerGid: 71 }), selector, POOLER_REFS).securityContext).toMatchObject({ runAsUser: 70, runAsGroup: 71, fsGroup: 71 });
    });

    test("a pod: its own ServiceAccount (pull Secrets) without a token, PgBouncer's user, the default grace period, the ini, the auth file and its certificate", () => {
        const selector = selectorLabels(POOLER_LABELS);
        expect(poolerPodSpec(DEFAULTS, selector, POOLER_REFS)).toMatchObject({
            serviceAccountName: "db-pooler",
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: { runAsUser: 998, runAsGroup: 996, fsGroup: 996 },
            terminationGracePeriodSeconds: 30,
            containers: [{ name: "pgbouncer" }, { name: "exporter" }],
            volumes: [
                { name: "config", configMap: { name: "db-pooler", defaultMode: 0o444 } },
                { name: "auth", secret: { secretName: "db-pooler-auth", items: [{ key: "userlist.txt", path: "userlist.txt" }], defaultMode: 0o400 } },
                { name: "tls", secret: { secretName: "db-pooler-tls", defaultMode: 0o440 } },
            ],
            topologySpreadConstraints: [{ labelSelector: { matchLabels: selector } }, { labelSelector: { matchLabels: selector } }],
        });
    });

    test("the Deployment: pgbouncer.replicas pods, never below full capacity during a rollout", () => {
        expect(poolerDeploymentSpec(argsWith({ pgbouncer: { replicas: 2 } }), POOLER_LABELS, { a: "b" }, POOLER_REFS)).toMatchObject({
            replicas: 2,
            strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
            selector: { matchLabels: selectorLabels(POOLER_LABELS) },
            template: { metadata: { labels: POOLER_LABELS, annotations: { a: "b" } } },
        });
    });
});

describe("Services", () => {
    const leader = { ...SELECTOR, role: "master" };
    const standbys = { ...SELECTOR, role: "replica" };
    const services = memberServices(postgresNames("db"), { members: SELECTOR, leader, standbys });
    const postgresPort = { name: "postgresql", port: 5432, targetPort: "postgresql" };

    test("Patroni's leader and config Services select nothing: Patroni writes their Endpoints", () => {
        expect(services.leader).toEqual({ name: "db", spec: { type: "ClusterIP", ports: [{ name: "postgresql", port: 5432, targetPort: 5432 }] } });
        expect(services.config).toEqual({ name: "db-config", spec: { clusterIP: "None" } });
    });

    test("the headless members Service publishes members before they are ready, on PostgreSQL's and Patroni's ports", () => {
        expect(services.members).toEqual({
            name: "db-members",
            spec: { clusterIP: "None", publishNotReadyAddresses: true, selector: SELECTOR, ports: [postgresPort, { name: "patroni", port: 8008, targetPort: "patroni" }] },
        });
    });

    test("-rw selects the leader, -ro the standbys, by Patroni's role label", () => {
        expect(services.rw).toEqual({ name: "db-rw", spec: { type: "ClusterIP", selector: leader, ports: [postgresPort] } });
        expect(services.ro).toEqual({ name: "db-ro", spec: { type: "ClusterIP", selector: standbys, ports: [postgresPort] } });
    });

    test("-pooler selects the PgBouncer pods on PgBouncer's port", () => {
        const selector = selectorLabels(POOLER_LABELS);
        expect(poolerServiceSpec(selector)).toEqual({ type: "ClusterIP", selector, ports: [{ name: "pgbouncer", port: 6432, targetPort: "pgbouncer" }] });
    });
});

describe("Patroni's Role: what its Kubernetes DCS (3.0.2, use_endpoints) uses, writes limited by name", () => {
    const rules = patroniRbacRules("db", 3);
    /** Whether the rules allow `verb` on `resource` named `name` (list and watch are never by name: Patroni selects by label). */
    const allows = (verb: string, resource: string, name?: string) =>
        rules.some((rule) => (rule.resources as string[]).includes(resource) && (rule.verbs as string[]).includes(verb) && (rule.resourceNames === undefined || (name !== undefined && (rule.resourceNames as string[]).includes(name))));

    test("the rules", () => {
        expect(rules).toEqual([
            { apiGroups: [""], resources: ["endpoints"], verbs: ["list", "watch"] },
            { apiGroups: [""], resources: ["endpoints"], verbs: ["get"], resourceNames: ["db"] },
            { apiGroups: [""], resources: ["endpoints"], verbs: ["patch"], resourceNames: ["db", "db-config", "db-sync", "db-failover"] },
            { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
            { apiGroups: [""], resources: ["pods"], verbs: ["patch"], resourceNames: ["db-0", "db-1", "db-2"] },
        ]);
    });

    test("patches only its member pods and its four Endpoints; creates, updates and deletes nothing", () => {
        for (const pod of ["db-0", "db-1", "db-2"]) expect(allows("patch", "pods", pod)).toBe(true);
        for (const other of ["db-3", "lb-7d9f", "redis-0", "api-gateway-5c6d"]) expect(allows("patch", "pods", other)).toBe(false);
        for (const endpoints of Object.values(patroniEndpointNames("db"))) expect(allows("patch", "endpoints", endpoints)).toBe(true);
        for (const other of ["db-rw", "lb", "kubernetes", "redis"]) expect(allows("patch", "endpoints", other)).toBe(false);
        for (const verb of ["create", "update", "delete", "deletecollection"]) {
            for (const resource of ["pods", "endpoints", "services"]) expect(allows(verb, resource, "db")).toBe(false);
        }
        expect(allows("get", "endpoints", "db")).toBe(true);
        expect(allows("get", "endpoints", "db-rw")).toBe(false);
        expect(allows("list", "pods")).toBe(true);
        expect(allows("watch", "endpoints")).toBe(true);
    });

    test("the Endpoints it patches are the names Patroni 3.0.2 derives from its scope, and the pods follow the member count", () => {
        expect(patroniEndpointNames("db")).toEqual({ leader: "db", config: "db-config", sync: "db-sync", failover: "db-failover" });
        expect(patroniRbacRules("db", 1)[4].resourceNames).toEqual(["db-0"]);
    });
});

test("a member's DNS name under the members' headless Service, from the pod's name and namespace", () => {
    expect(memberHostTemplate("db-members", "cluster.local")).toBe("$(PATRONI_NAME).db-members.$(PATRONI_KUBERNETES_NAMESPACE).svc.cluster.local");
});

test("metrics targets: every port Prometheus scrapes is a container port of the pods the target selects", () => {
    const poolerSelector = selectorLabels(POOLER_LABELS);
    const targets = clusterMetricsTargets(SELECTOR, poolerSelector);
    expect(targets).toEqual([
        { name: "postgres", labels: SELECTOR, ports: [9187, 8008] },
        { name: "pgbouncer", labels: poolerSelector, ports: [9127] },
    ]);
    const exposing = (port: number) => expect.arrayContaining([expect.objectContaining({ ports: expect.arrayContaining([expect.objectContaining({ containerPort: port })]) })]);
    const members = memberPodSpec(DEFAULTS, IMAGE, SELECTOR, MEMBER_REFS).containers;
    const poolers = poolerPodSpec(DEFAULTS, poolerSelector, POOLER_REFS).containers;
    for (const port of targets[0].ports) expect(members).toEqual(exposing(port));
    for (const port of targets[1].ports) expect(poolers).toEqual(exposing(port));
});

test("/dev/shm: a memory-backed emptyDir sized from work_mem (dev's 4MB gets the 256Mi floor)", () => {
    expect(sharedMemoryVolume(DEFAULTS.parameters)).toEqual({ name: "shm", emptyDir: { medium: "Memory", sizeLimit: "1152Mi" } });
    expect(sharedMemoryVolume({ work_mem: "4MB" })).toEqual({ name: "shm", emptyDir: { medium: "Memory", sizeLimit: "256Mi" } });
});

test("the members' grace period follows shared_buffers", () => {
    const grace = (shared_buffers: string) => memberPodSpec(argsWith({ parameters: { shared_buffers } }), IMAGE, SELECTOR, MEMBER_REFS).terminationGracePeriodSeconds;
    expect(grace("128MB")).toBe(32);
    expect(grace("4GB")).toBe(71);
});

describe("the dynamic-config Job", () => {
    const labels = standardLabels("postgres", "db", "dcs-config");
    const refs = { image: IMAGE, credentialsSecret: "db-credentials", serviceAccount: "db-dcs-config", tlsSecret: "db-tls" };
    const spec = dynamicConfigJobSpec(DEFAULTS, "print('hi')", labels, refs);

    test("runs the script inline with the members' image, the REST API password from the Secret and only the CA of the members' certificate, no API token", () => {
        expect(spec.template).toEqual({
            metadata: { labels },
            spec: {
                restartPolicy: "Never",
                serviceAccountName: "db-dcs-config",
                automountServiceAccountToken: false,
                enableServiceLinks: false,
                securityContext: expect.objectContaining({ runAsUser: 999, runAsGroup: 999, runAsNonRoot: true }),
                containers: [
                    {
                        name: "apply",
                        image: IMAGE,
                        imagePullPolicy: "IfNotPresent",
                        command: ["python3", "-c", "print('hi')"],
                        env: [{ name: "PATRONI_RESTAPI_PASSWORD", valueFrom: secretRef("db-credentials", "restapi-password") }],
                        resources: containerResources(DEFAULTS.exporterResources),
                        securityContext: expect.objectContaining({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false }),
                        volumeMounts: [{ name: "ca", mountPath: "/etc/patroni-ca", readOnly: true }],
                    },
                ],
                volumes: [{ name: "ca", secret: { secretName: "db-tls", items: [{ key: "ca.crt", path: "ca.crt" }], defaultMode: 0o444 } }],
            },
        });
    });

    test("one retry (the script is idempotent), within a deadline that covers both attempts of the script", () => {
        expect(spec.backoffLimit).toBe(1);
        expect(spec.activeDeadlineSeconds).toBe(DYNAMIC_CONFIG_JOB_DEADLINES.activeDeadlineSeconds);
        expect(DYNAMIC_CONFIG_JOB_DEADLINES.activeDeadlineSeconds).toBeGreaterThanOrEqual(2 * DYNAMIC_CONFIG_DEADLINE_SECONDS);
        expect(DYNAMIC_CONFIG_JOB_DEADLINES.awaitSeconds).toBeGreaterThan(DYNAMIC_CONFIG_JOB_DEADLINES.activeDeadlineSeconds);
    });
});
