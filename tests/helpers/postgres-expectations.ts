// PostgresCluster expectations shared by tests/unit/postgres-prod.test.ts and postgres-dev.test.ts
// (one stack per jest file, because the Pulumi runtime is process-global). Each file instantiates
// the component with its stack's parsed configuration under mocks; these tests assert what was
// registered.
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import type { PostgresCluster, PostgresClusterArgs } from "../../components/postgres";
import type { StackConfig } from "../../config";
import { postgresClusterArgs } from "../../stack-args";
import { baselineViolations } from "./baseline";
import { find, isWireSecret, mockPassword, ofType, RecordedResource, valueOf } from "./mocks";

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are checked structurally */
const COMPONENT = "prepx:database:PostgresCluster";
const NAME = "postgres";
const PASSWORD_ROLES = ["superuser", "replication", "app", "monitor", "restapi"];

export interface PostgresExpectations {
    stack: "prod" | "dev";
    /** The full built image reference the members must run. */
    image: string;
    protect: boolean;
}

export interface PostgresContext {
    recorded: RecordedResource[];
    cluster: PostgresCluster;
    config: StackConfig;
}

/** The component's args from a stack's config, exactly as index.ts composes them. */
export function clusterArgs(config: StackConfig): PostgresClusterArgs {
    return postgresClusterArgs(config, config.namespace);
}

/** The recorded children of the PostgresCluster named `postgres`. */
function childrenOf(recorded: RecordedResource[]): RecordedResource[] {
    const component = recorded.find((r) => r.type === COMPONENT && r.name === NAME);
    if (!component) throw new Error("no PostgresCluster was registered");
    return recorded.filter((r) => r.parent === component.urn);
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
    return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

export function describePostgresCluster(get: () => PostgresContext, want: PostgresExpectations): void {
    describe(`PostgresCluster with the ${want.stack} stack's configuration`, () => {
        const children = () => childrenOf(get().recorded);
        const child = (type: string, name: string) => find(children(), type, name);
        const statefulSet = () => child("kubernetes:apps/v1:StatefulSet", NAME).inputs;
        const podSpec = () => statefulSet().spec.template.spec;
        const container = (name: string) => podSpec().containers.find((c: any) => c.name === name);
        const patroniConfig = () => parse(child("kubernetes:core/v1:ConfigMap", "postgres-patroni").inputs.data["patroni.yml"]);
        const pooler = () => child("kubernetes:apps/v1:Deployment", "postgres-pooler").inputs;
        const pgbouncerIni = (): string => child("kubernetes:core/v1:ConfigMap", "postgres-pooler").inputs.data["pgbouncer.ini"];
        const namespace = () => get().config.namespace;

        test("every child is parented to the component", () => {
            const types = children().map((r) => r.type);
            const count = (type: string) => types.filter((t) => t === type).length;
            expect(count("random:index/randomPassword:RandomPassword")).toBe(PASSWORD_ROLES.length);
            expect(count("kubernetes:core/v1:Secret")).toBe(3);
            expect(count("kubernetes:core/v1:ConfigMap")).toBe(2);
            expect(count("kubernetes:core/v1:Service")).toBe(6);
            expect(count("kubernetes:apps/v1:StatefulSet")).toBe(1);
            expect(count("kubernetes:apps/v1:Deployment")).toBe(1);
            expect(count("kubernetes:policy/v1:PodDisruptionBudget")).toBe(2);
            expect(count("kubernetes:rbac.authorization.k8s.io/v1:Role")).toBe(1);
            expect(count("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")).toBe(1);
            expect(count("kubernetes:core/v1:ServiceAccount")).toBe(1);
            for (const resource of children()) expect(resource.urn).toContain(`${COMPONENT}$`);
        });

        test("1 + replicas members, the stack's image, resources and storage", () => {
            const { config } = get();
            const spec = statefulSet().spec;
            expect(spec.replicas).toBe(1 + config.postgres.replicas);
            expect(spec.podManagementPolicy).toBe("Parallel");
            expect(spec.serviceName).toBe("postgres-members");
            expect(podSpec().serviceAccountName).toBe("postgres-patroni");
            expect(container("postgres").image).toBe(want.image);
            expect(container("postgres").command).toEqual(["patroni", "/etc/patroni/patroni.yml"]);
            expect(container("postgres").resources).toEqual(config.postgres.resources);
            expect(container("exporter").image).toBe(config.postgres.exporterImage);
            expect(container("exporter").resources).toEqual(config.postgres.exporterResources);
            expect(spec.volumeClaimTemplates).toHaveLength(1);
            expect(spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe(config.postgres.storage);
            expect(container("postgres").volumeMounts).toContainEqual({ name: "data", mountPath: "/var/lib/postgresql/data" });
        });

        test("Patroni's config carries the stack's parameters, timing and synchronous mode", () => {
            const { config } = get();
            const patroni = patroniConfig();
            const dcs = patroni.bootstrap.dcs;
            expect(dcs.postgresql.parameters).toMatchObject(config.postgres.parameters);
            expect(dcs.postgresql.parameters).toMatchObject({ wal_log_hints: "on", wal_retrieve_retry_interval: "500ms", password_encryption: "scram-sha-256" });
            expect(dcs.postgresql.use_slots).toBe(true);
            expect(dcs.postgresql.use_pg_rewind).toBe(true);
            expect(dcs.synchronous_mode).toBe(config.postgres.synchronousMode);
            expect(dcs.synchronous_mode).toBe(want.stack === "prod");
            expect(dcs).toMatchObject({
                ttl: config.postgres.patroni.ttl,
                loop_wait: config.postgres.patroni.loopWait,
                retry_timeout: config.postgres.patroni.retryTimeout,
                maximum_lag_on_failover: config.postgres.patroni.maximumLagOnFailover,
            });
            expect(patroni.postgresql.parameters.shared_buffers).toBe(config.postgres.parameters.shared_buffers);
            expect(patroni.postgresql.pg_hba.every((line: string) => line.endsWith(" scram-sha-256"))).toBe(true);
            expect(patroni.postgresql.pg_hba.filter((line: string) => line.split(/\s+/)[1] === "replication").every((line: string) => line.split(/\s+/)[2] === "replicator")).toBe(true);
            expect(patroni.scope).toBe(NAME);
            expect(patroni.etcd3).toBeUndefined();
        });

        test("Patroni's Kubernetes DCS selects exactly the member pods, and the leader Service matches its Endpoints port", () => {
            const kubernetes = patroniConfig().kubernetes;
            expect(kubernetes.use_endpoints).toBe(true);
            expect(kubernetes.role_label).toBe("role");
            const podLabels = statefulSet().spec.template.metadata.labels;
            // Patroni lists pods by its labels plus scope_label=scope: they must match the pod template.
            expect(selects({ ...kubernetes.labels, [kubernetes.scope_label]: patroniConfig().scope }, podLabels)).toBe(true);
            const poolerLabels = pooler().spec.template.metadata.labels;
            expect(selects({ ...kubernetes.labels, [kubernetes.scope_label]: patroniConfig().scope }, poolerLabels)).toBe(false);
            const leader = child("kubernetes:core/v1:Service", "postgres").inputs.spec;
            expect(leader.selector).toBeUndefined();
            expect(leader.ports.map((p: any) => p.name)).toEqual(kubernetes.ports.map((p: any) => p.name));
            const config = child("kubernetes:core/v1:Service", "postgres-config").inputs.spec;
            expect(config).toEqual({ clusterIP: "None" });
        });

        test("the Role grants exactly what Patroni's Kubernetes DCS uses", () => {
            const role = child("kubernetes:rbac.authorization.k8s.io/v1:Role", "postgres-patroni").inputs;
            expect(role.rules).toEqual([
                { apiGroups: [""], resources: ["endpoints"], verbs: ["get", "list", "watch", "create", "patch"] },
                { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch", "patch"] },
            ]);
            expect(role.metadata.namespace).toBe(namespace());
            const binding = child("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "postgres-patroni").inputs;
            expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "postgres-patroni" });
            expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "postgres-patroni", namespace: namespace() }]);
            expect(child("kubernetes:core/v1:ServiceAccount", "postgres-patroni").inputs.metadata.namespace).toBe(namespace());
            expect(podSpec().automountServiceAccountToken).toBeUndefined(); // Patroni needs its token
            expect(pooler().spec.template.spec.automountServiceAccountToken).toBe(false);
        });

        test("-rw selects the leader, -ro the replicas, -pooler PgBouncer, -members every member", () => {
            const podLabels = statefulSet().spec.template.metadata.labels;
            const service = (name: string) => child("kubernetes:core/v1:Service", name).inputs.spec;
            const rw = service("postgres-rw");
            const ro = service("postgres-ro");
            expect(rw.selector).toEqual({ ...statefulSet().spec.selector.matchLabels, role: "master" });
            expect(ro.selector).toEqual({ ...statefulSet().spec.selector.matchLabels, role: "replica" });
            // Without the role label Patroni adds, they select member pods and nothing else.
            const { role: _rw, ...rwMembers } = rw.selector;
            expect(selects(rwMembers, podLabels)).toBe(true);
            expect(rw.ports).toEqual([{ name: "postgresql", port: 5432, targetPort: "postgresql" }]);
            const members = service("postgres-members");
            expect(members).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
            expect(selects(members.selector, podLabels)).toBe(true);
            const poolerService = service("postgres-pooler");
            expect(selects(poolerService.selector, pooler().spec.template.metadata.labels)).toBe(true);
            expect(selects(poolerService.selector, podLabels)).toBe(false);
            expect(poolerService.ports).toEqual([{ name: "pgbouncer", port: 6432, targetPort: "pgbouncer" }]);
        });

        test("probes use Patroni's REST health endpoints", () => {
            const postgres = container("postgres");
            expect(postgres.readinessProbe.httpGet).toEqual({ path: "/readiness", port: "patroni" });
            expect(postgres.livenessProbe.httpGet).toEqual({ path: "/liveness", port: "patroni" });
            expect(postgres.startupProbe.httpGet).toEqual({ path: "/liveness", port: "patroni" });
            expect(postgres.ports).toEqual([
                { name: "postgresql", containerPort: 5432 },
                { name: "patroni", containerPort: 8008 },
            ]);
        });

        test("PgBouncer: the stack's replicas, transaction pooling in front of -rw, exporter, PDB", () => {
            const { config } = get();
            const spec = pooler().spec;
            expect(spec.replicas).toBe(config.pgbouncer.replicas);
            expect(spec.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
            const [pgbouncer, exporter] = spec.template.spec.containers;
            expect(pgbouncer.image).toBe(config.pgbouncer.image);
            expect(pgbouncer.resources).toEqual(config.pgbouncer.resources);
            expect(pgbouncer.readinessProbe.tcpSocket).toEqual({ port: "pgbouncer" });
            expect(exporter.image).toBe(config.pgbouncer.exporterImage);
            expect(exporter.env).toEqual([
                { name: "PGBOUNCER_EXPORTER_CONNECTION_STRING", valueFrom: { secretKeyRef: { name: "postgres-pooler-auth", key: "exporter-uri" } } },
            ]);
            const ini = pgbouncerIni();
            expect(ini).toContain(`prepx = host=postgres-rw.${namespace()}.svc.cluster.local port=5432 dbname=prepx`);
            expect(ini).toMatch(/^pool_mode = transaction$/m);
            expect(ini).toMatch(/^auth_type = scram-sha-256$/m);
            expect(ini).toContain(`max_client_conn = ${config.pgbouncer.maxClientConn}\n`);
            expect(ini).toContain(`default_pool_size = ${config.pgbouncer.defaultPoolSize}\n`);
            expect(ini).toContain(`max_db_connections = ${config.pgbouncer.defaultPoolSize + config.pgbouncer.reservePoolSize}\n`);
            const pdb = child("kubernetes:policy/v1:PodDisruptionBudget", "postgres-pooler").inputs.spec;
            expect(pdb.maxUnavailable).toBe(1);
            expect(selects(pdb.selector.matchLabels, spec.template.metadata.labels)).toBe(true);
        });

        test("members' PDB allows one down; both pod templates roll on config changes and are scraped", () => {
            const pdb = child("kubernetes:policy/v1:PodDisruptionBudget", "postgres").inputs.spec;
            expect(pdb.maxUnavailable).toBe(1);
            expect(selects(pdb.selector.matchLabels, statefulSet().spec.template.metadata.labels)).toBe(true);
            const members = statefulSet().spec.template.metadata.annotations;
            expect(members["checksum/config"]).toMatch(/^[0-9a-f]{64}$/);
            expect(members["prometheus.io/port"]).toBe("9187");
            const poolers = pooler().spec.template.metadata.annotations;
            expect(poolers["checksum/config"]).toMatch(/^[0-9a-f]{64}$/);
            expect(poolers["prometheus.io/port"]).toBe("9127");
        });

        test("passwords are generated, secret, only in Secrets, and reach pods by secretKeyRef or Secret files", async () => {
            const { recorded, cluster } = get();
            const passwords = PASSWORD_ROLES.map((role) => mockPassword(`postgres-${role}-password`));
            const secrets = ofType(children(), "kubernetes:core/v1:Secret");
            for (const secret of secrets) expect(isWireSecret(secret.wire.stringData)).toBe(true);
            const app = child("kubernetes:core/v1:Secret", "postgres-app").inputs.stringData;
            expect(app.password).toBe(mockPassword("postgres-app-password"));
            expect(app.username).toBe("prepx");
            expect(app.host).toBe(`postgres-pooler.${namespace()}.svc.cluster.local`);
            expect(app.uri).toBe(`postgresql://prepx:${mockPassword("postgres-app-password")}@postgres-pooler.${namespace()}.svc.cluster.local:6432/prepx`);
            const userlist = child("kubernetes:core/v1:Secret", "postgres-pooler-auth").inputs.stringData["userlist.txt"];
            expect(userlist).toBe(`"prepx" "${mockPassword("postgres-app-password")}"\n"monitor" "${mockPassword("postgres-monitor-password")}"\n`);
            // Nowhere else: not in a ConfigMap, not in a pod template, not in any other resource.
            const elsewhere = recorded.filter((r) => r.type !== "kubernetes:core/v1:Secret" && r.type !== "random:index/randomPassword:RandomPassword");
            for (const resource of elsewhere) for (const password of passwords) expect(JSON.stringify(resource.inputs)).not.toContain(password);
            // Env carrying a secret takes it by reference, never as a literal value.
            const containers = [...podSpec().containers, ...pooler().spec.template.spec.containers];
            const secretEnv = containers.flatMap((c: any) => c.env ?? []).filter((e: any) => /PASSWORD|PASS$|CONNECTION_STRING/.test(e.name));
            expect(secretEnv.map((e: any) => e.name).sort()).toEqual(
                ["DATA_SOURCE_PASS", "PATRONI_REPLICATION_PASSWORD", "PATRONI_RESTAPI_PASSWORD", "PATRONI_SUPERUSER_PASSWORD", "PGBOUNCER_EXPORTER_CONNECTION_STRING"].sort(),
            );
            for (const env of secretEnv) {
                expect(env.value).toBeUndefined();
                expect(env.valueFrom.secretKeyRef.name).toMatch(/^postgres-(credentials|pooler-auth)$/);
            }
            // The post-bootstrap script reads the passwords from a projected Secret volume.
            const files = podSpec().volumes.find((v: any) => v.name === "secrets").projected.sources;
            expect(files.map((s: any) => s.secret.name).sort()).toEqual(["postgres-app", "postgres-credentials"]);
            for (const output of [cluster.appPassword, cluster.superuserPassword, cluster.replicationPassword, cluster.monitorPassword]) {
                expect(await pulumi.isSecret(output)).toBe(true);
            }
            expect(await valueOf(cluster.appPassword)).toBe(mockPassword("postgres-app-password"));
            expect(await valueOf(cluster.superuserPassword)).toBe(mockPassword("postgres-superuser-password"));
        });

        test(want.protect ? "prod data is protected: StatefulSet, Secrets, passwords, PVC retention" : "dev data is not protected", () => {
            const retention = want.protect ? "Retain" : "Delete";
            expect(statefulSet().spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: retention, whenScaled: retention });
            const protectedResources = [
                child("kubernetes:apps/v1:StatefulSet", NAME),
                child("kubernetes:core/v1:Secret", "postgres-credentials"),
                child("kubernetes:core/v1:Secret", "postgres-app"),
                ...ofType(children(), "random:index/randomPassword:RandomPassword"),
            ];
            for (const resource of protectedResources) expect(resource.protect).toBe(want.protect);
        });

        test("outputs: hosts, ports, database, Secret names and labels for NetworkPolicies", async () => {
            const { cluster } = get();
            const ns = namespace();
            expect(await valueOf(cluster.rwHost)).toBe(`postgres-rw.${ns}.svc.cluster.local`);
            expect(await valueOf(cluster.roHost)).toBe(`postgres-ro.${ns}.svc.cluster.local`);
            expect(await valueOf(cluster.poolerHost)).toBe(`postgres-pooler.${ns}.svc.cluster.local`);
            expect(cluster.port).toBe(5432);
            expect(cluster.poolerPort).toBe(6432);
            expect(cluster.database).toBe("prepx");
            expect(cluster.appUser).toBe("prepx");
            expect(await valueOf(cluster.appSecretName)).toBe("postgres-app");
            expect(await valueOf(cluster.credentialsSecretName)).toBe("postgres-credentials");
            expect(cluster.leaderLabels).toEqual({ ...cluster.podLabels, role: "master" });
            expect(selects(cluster.podLabels, statefulSet().spec.template.metadata.labels)).toBe(true);
            expect(selects(cluster.poolerLabels, pooler().spec.template.metadata.labels)).toBe(true);
        });

        test("every workload meets the baseline", () => {
            expect(baselineViolations(get().recorded)).toEqual([]);
        });
    });
}
