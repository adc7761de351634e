// PostgresCluster expectations shared by tests/unit/postgres-prod.test.ts and postgres-dev.test.ts
// (one stack per jest file, because the Pulumi runtime is process-global). Each file instantiates
// the component with its stack's parsed configuration under mocks; these tests assert what was
// registered: that the stack's values reach the objects and the objects are wired to each other.
// The shapes of pods, containers, probes and Services are tested on the builders (postgres-specs.test.ts).
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { parse } from "yaml";
import { containerResources, contentName } from "../../components/k8s";
import { podBackupFiles } from "../../components/postgres/backup";
import { toYaml } from "../../components/yaml";
import type { PostgresCluster } from "../../components/postgres";
import { postgresClusterArgsSchema, type PostgresClusterArgs, type ResolvedPostgresClusterArgs } from "../../components/postgres/args";
import { DCS_ONLY_PARAMETERS, dynamicConfigJobName, memberCount } from "../../components/postgres/render";
import { patroniRbacRules } from "../../components/postgres/specs";
import type { StackConfig } from "../../config";
import { postgresClusterArgs } from "../../stack-args";
import { baselineViolations } from "./baseline";
import { find, isWireSecret, mockPassword, ofType, RecordedResource, testCertificates, valueOf } from "./mocks";

const COMPONENT = "prepx:database:PostgresCluster";
const sha256Hex = (text: string) => createHash("sha256").update(text).digest("hex");
const NAME = "postgres";
const PASSWORD_ROLES = ["superuser", "replication", "app", "monitor", "restapi"];

/** Views of the recorded inputs (plain values under mocks). */
type StatefulSet = k8s.types.output.apps.v1.StatefulSet;
type Deployment = k8s.types.output.apps.v1.Deployment;
type ServiceSpec = k8s.types.output.core.v1.ServiceSpec;
type PodDisruptionBudgetSpec = k8s.types.output.policy.v1.PodDisruptionBudgetSpec;
type Container = k8s.types.output.core.v1.Container;

interface PatroniYaml {
    scope: string;
    kubernetes: { use_endpoints: boolean; labels: Record<string, string>; scope_label: string; role_label: string; ports: { name: string }[] };
    etcd3?: unknown;
    bootstrap: { dcs: { synchronous_mode: boolean; ttl: number; loop_wait: number; retry_timeout: number; maximum_lag_on_failover: number; postgresql: { parameters: Record<string, unknown> } } };
    postgresql: { parameters: Record<string, unknown>; pg_hba: string[] };
}

export interface PostgresExpectations {
    stack: "prod" | "dev";
    /** The full built image reference the members must run. */
    image: string;
    protect: boolean;
    /** Streaming standbys the stack asks for. */
    standbys: number;
    synchronousMode: boolean;
    /** Where the stack keeps backups: `volume` adds the repository's PVC. */
    backupRepository: "s3" | "volume";
}

export interface PostgresContext {
    recorded: RecordedResource[];
    cluster: PostgresCluster;
    config: StackConfig;
    /** The component's args with its defaults applied, as the component parsed them. */
    args: ResolvedPostgresClusterArgs;
}

/** The component's args from a stack's config, exactly as index.ts composes them. */
export function clusterArgs(config: StackConfig): PostgresClusterArgs {
    return postgresClusterArgs(config, config.namespace, testCertificates);
}

/** The same args with every default applied. */
export function resolvedClusterArgs(config: StackConfig): ResolvedPostgresClusterArgs {
    return postgresClusterArgsSchema.parse(clusterArgs(config));
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
        const statefulSet = (): StatefulSet => child("kubernetes:apps/v1:StatefulSet", NAME).inputs as StatefulSet;
        const podLabels = () => statefulSet().spec.template.metadata.labels;
        const container = (name: string): Container | undefined => statefulSet().spec.template.spec.containers.find((c) => c.name === name);
        const patroniConfig = (): PatroniYaml => parse(child("kubernetes:core/v1:ConfigMap", "postgres-patroni").inputs.data["patroni.yml"]);
        const pooler = (): Deployment => child("kubernetes:apps/v1:Deployment", "postgres-pooler").inputs as Deployment;
        const poolerLabels = () => pooler().spec.template.metadata.labels;
        const service = (name: string): ServiceSpec => child("kubernetes:core/v1:Service", name).inputs.spec;
        const pdb = (name: string): PodDisruptionBudgetSpec => child("kubernetes:policy/v1:PodDisruptionBudget", name).inputs.spec;
        const pgbouncerIni = (): string => child("kubernetes:core/v1:ConfigMap", "postgres-pooler").inputs.data["pgbouncer.ini"];
        const namespace = () => get().config.namespace;

        test("every child is parented to the component", () => {
            const types = children().map((r) => r.type);
            const count = (type: string) => types.filter((t) => t === type).length;
            expect(count("random:index/randomPassword:RandomPassword")).toBe(PASSWORD_ROLES.length);
            expect(count("kubernetes:core/v1:Secret")).toBe(3);
            // Patroni's, PgBouncer's and the backup's (pgbackrest.conf, the agent).
            expect(count("kubernetes:core/v1:ConfigMap")).toBe(3);
            expect(count("kubernetes:core/v1:PersistentVolumeClaim")).toBe(want.backupRepository === "volume" ? 1 : 0);
            // The members', rw, ro, the pooler's, and the four that keep Patroni's Endpoints.
            expect(count("kubernetes:core/v1:Service")).toBe(8);
            expect(count("kubernetes:core/v1:Endpoints")).toBe(4);
            // Patroni's (with its Role), PgBouncer's and the dynamic-config Job's.
            expect(count("kubernetes:core/v1:ServiceAccount")).toBe(3);
            expect(count("kubernetes:batch/v1:Job")).toBe(1);
            expect(count("kubernetes:apps/v1:StatefulSet")).toBe(1);
            expect(count("kubernetes:apps/v1:Deployment")).toBe(1);
            expect(count("kubernetes:policy/v1:PodDisruptionBudget")).toBe(2);
            expect(count("kubernetes:rbac.authorization.k8s.io/v1:Role")).toBe(1);
            expect(count("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")).toBe(1);
            for (const resource of children()) expect(resource.urn).toContain(`${COMPONENT}$`);
        });

        test("the Patroni ConfigMap is named from the members' files without bootstrap.dcs, so a bootstrap.dcs change updates it in place and rolls no member", () => {
            const configMap = child("kubernetes:core/v1:ConfigMap", "postgres-patroni").inputs;
            const document = parse(configMap.data["patroni.yml"]) as { bootstrap: Record<string, unknown> };
            expect(document.bootstrap.dcs).toBeDefined();
            const memberFiles = { "patroni.yml": toYaml({ ...document, bootstrap: { ...document.bootstrap, dcs: undefined } }), "post-bootstrap.sh": configMap.data["post-bootstrap.sh"] };
            expect(configMap.metadata.name).toBe(contentName("postgres-patroni", memberFiles));
            expect(configMap.metadata.name).not.toBe(contentName("postgres-patroni", configMap.data));
            expect(configMap.immutable).toBe(false);
            // The backup agent's files roll the members too (they are read at start).
            const { args } = get();
            const backupFiles = args.backup.enabled ? Object.values(podBackupFiles(args.backup, NAME)) : [];
            expect(statefulSet().spec.template.metadata.annotations["checksum/config"]).toBe(sha256Hex([...Object.values(memberFiles), ...backupFiles].join("\u0000")));
        });

        test("the stack's standbys, image, resources and storage reach the members", () => {
            const { args } = get();
            expect([args.standbys, args.synchronousMode]).toEqual([want.standbys, want.synchronousMode]);
            const spec = statefulSet().spec;
            expect(spec.replicas).toBe(memberCount(want.standbys));
            expect(spec.serviceName).toBe("postgres-members");
            expect(spec.template.spec.serviceAccountName).toBe("postgres-patroni");
            expect(container("postgres")?.image).toBe(want.image);
            expect(container("postgres")?.resources).toEqual(containerResources(args.resources));
            expect(container("exporter")?.image).toBe(args.exporterImage);
            expect(container("exporter")?.resources).toEqual(containerResources(args.exporterResources));
            expect(spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe(args.storage);
        });

        test("Patroni's config carries the stack's parameters, timing and synchronous mode", () => {
            const { args } = get();
            const patroni = patroniConfig();
            const dcs = patroni.bootstrap.dcs;
            expect(dcs.postgresql.parameters).toMatchObject(args.parameters);
            expect(dcs.synchronous_mode).toBe(want.synchronousMode);
            expect(dcs).toMatchObject({
                ttl: args.patroni.ttl,
                loop_wait: args.patroni.loopWait,
                retry_timeout: args.patroni.retryTimeout,
                maximum_lag_on_failover: args.patroni.maximumLagOnFailover,
            });
            expect(patroni.postgresql.parameters.shared_buffers).toBe(args.parameters.shared_buffers);
            expect(patroni.scope).toBe(NAME);
            expect(patroni.etcd3).toBeUndefined();
        });

        test("Patroni's Kubernetes DCS selects exactly the member pods, and the leader Service matches its Endpoints port", () => {
            const kubernetes = patroniConfig().kubernetes;
            expect(kubernetes.use_endpoints).toBe(true);
            // Patroni lists pods by its labels plus scope_label=scope: they must match the pod template.
            const members = { ...kubernetes.labels, [kubernetes.scope_label]: patroniConfig().scope };
            expect(selects(members, podLabels())).toBe(true);
            expect(selects(members, poolerLabels())).toBe(false);
            const leader = service("postgres");
            expect(leader.selector).toBeUndefined();
            expect(leader.ports.map((port) => port.name)).toEqual(kubernetes.ports.map((port) => port.name));
        });

        test("Patroni's four Endpoints exist beforehand (its Role cannot create), labelled so its label selector finds them, each kept by a Service", () => {
            const kubernetes = patroniConfig().kubernetes;
            const selector = { ...kubernetes.labels, [kubernetes.scope_label]: patroniConfig().scope };
            for (const name of ["postgres", "postgres-config", "postgres-sync", "postgres-failover"]) {
                const endpoints = child("kubernetes:core/v1:Endpoints", name).inputs;
                expect(endpoints.metadata.namespace).toBe(namespace());
                expect(selects(selector, endpoints.metadata.labels)).toBe(true);
                // Patroni writes annotations and addresses; the stack declares neither.
                expect(endpoints.subsets).toBeUndefined();
                expect(endpoints.metadata.annotations).toBeUndefined();
                const kept = service(name);
                expect(kept.selector).toBeUndefined();
            }
        });

        test("TLS: the members mount their certificate, PgBouncer its own, the dynamic-config Job only the CA; the apps get the CA's Secret", async () => {
            const members = statefulSet().spec.template.spec;
            expect(members.volumes).toContainEqual({ name: "tls", secret: { secretName: "postgres-tls", defaultMode: 0o440 } });
            const poolerPod = pooler().spec.template.spec;
            expect(poolerPod.volumes).toContainEqual({ name: "tls", secret: { secretName: "postgres-pooler-tls", defaultMode: 0o440 } });
            const job = child("kubernetes:batch/v1:Job", "postgres-dcs-config").inputs.spec as k8s.types.output.batch.v1.JobSpec;
            expect(job.template.spec.volumes).toEqual([{ name: "ca", secret: { secretName: "postgres-tls", items: [{ key: "ca.crt", path: "ca.crt" }], defaultMode: 0o444 } }]);
            const connection = get().cluster.connection;
            expect([await valueOf(connection.caSecret.name), connection.caSecret.key]).toEqual(["postgres-pooler-tls", "ca.crt"]);
            // The probes speak HTTPS to Patroni; the members reach each other by DNS name (in their certificate).
            expect(container("postgres")?.readinessProbe?.httpGet?.scheme).toBe("HTTPS");
            expect(container("postgres")?.env).toContainEqual({
                name: "PATRONI_POSTGRESQL_CONNECT_ADDRESS",
                value: "$(PATRONI_NAME).postgres-members.$(PATRONI_KUBERNETES_NAMESPACE).svc.cluster.local:5432",
            });
            expect(await valueOf(get().cluster.memberTlsSecretName)).toBe("postgres-tls");
        });

        test("Prometheus scrapes Patroni's /metrics over HTTPS, checking the members' certificate by the members Service's name", async () => {
            const [patroni] = get().cluster.portScrapeJobs;
            expect(patroni.tls?.serverName).toBe(`postgres-members.${namespace()}.svc.cluster.local`);
            expect(await valueOf(pulumi.output(patroni.tls?.caSecret ?? ""))).toBe("postgres-tls");
        });

        test("the Role holds Patroni's rules and is bound to the members' service account", () => {
            const role = child("kubernetes:rbac.authorization.k8s.io/v1:Role", "postgres-patroni").inputs;
            expect(role.rules).toEqual(patroniRbacRules("postgres", memberCount(get().args.standbys)));
            expect(role.metadata.namespace).toBe(namespace());
            const binding = child("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "postgres-patroni").inputs;
            expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "postgres-patroni" });
            expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "postgres-patroni", namespace: namespace() }]);
            expect(child("kubernetes:core/v1:ServiceAccount", "postgres-patroni").inputs.metadata.namespace).toBe(namespace());
        });

        test("-rw selects the leader, -ro the standbys, -members every member, -pooler PgBouncer", () => {
            const selector = statefulSet().spec.selector.matchLabels;
            expect(service("postgres-rw").selector).toEqual({ ...selector, role: "master" });
            expect(service("postgres-ro").selector).toEqual({ ...selector, role: "replica" });
            // Without the role label Patroni adds, they select member pods and nothing else.
            const { role: _role, ...rwMembers } = service("postgres-rw").selector;
            expect(selects(rwMembers, podLabels())).toBe(true);
            expect(selects(service("postgres-members").selector, podLabels())).toBe(true);
            expect(selects(service("postgres-pooler").selector, poolerLabels())).toBe(true);
            expect(selects(service("postgres-pooler").selector, podLabels())).toBe(false);
        });

        test("PgBouncer: the stack's replicas and sizing, transaction pooling in front of -rw", () => {
            const { args } = get();
            const spec = pooler().spec;
            expect(spec.replicas).toBe(args.pgbouncer.replicas);
            const [pgbouncer, exporter] = spec.template.spec.containers;
            expect(pgbouncer.image).toBe(args.pgbouncer.image);
            // Both stacks keep the default image, so the pods run its binary as its user (PGBOUNCER_IMAGE_LAYOUT).
            expect(pgbouncer.image).toBe("ghcr.io/cloudnative-pg/pgbouncer:1.25.2");
            // Started through sh, which raises the open-files limit to what max_client_conn needs and execs PgBouncer.
            const { defaultPoolSize, reservePoolSize, maxClientConn } = args.pgbouncer;
            expect(pgbouncer.command.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
            expect(pgbouncer.command[2]).toContain(`need=${maxClientConn + defaultPoolSize + reservePoolSize + 64}\n`);
            expect(pgbouncer.command[2]).toMatch(/\nexec \/usr\/bin\/pgbouncer \/etc\/pgbouncer\/pgbouncer.ini\n$/);
            expect(spec.template.spec.securityContext).toMatchObject({ runAsUser: 998, runAsGroup: 996, fsGroup: 996 });
            expect(pgbouncer.resources).toEqual(containerResources(args.pgbouncer.resources));
            expect(exporter.image).toBe(args.pgbouncer.exporterImage);
            expect(exporter.env[0].valueFrom.secretKeyRef).toEqual({ name: "postgres-pooler-auth", key: "exporter-uri" });
            const ini = pgbouncerIni();
            expect(ini).toContain(`prepx = host=postgres-rw.${namespace()}.svc.cluster.local port=5432 dbname=prepx`);
            expect(ini).toMatch(/^pool_mode = transaction$/m);
            expect(ini).toContain(`max_prepared_statements = ${args.pgbouncer.maxPreparedStatements}\n`);
            expect(ini).toContain(`max_client_conn = ${args.pgbouncer.maxClientConn}\n`);
            expect(ini).toContain(`default_pool_size = ${args.pgbouncer.defaultPoolSize}\n`);
            expect(ini).toContain(`max_db_connections = ${args.pgbouncer.defaultPoolSize + args.pgbouncer.reservePoolSize}\n`);
            expect(pdb("postgres-pooler").maxUnavailable).toBe(1);
            expect(selects(pdb("postgres-pooler").selector.matchLabels, poolerLabels())).toBe(true);
        });

        test("the dynamic-config Job applies Patroni's bootstrap.dcs to the running cluster, named by the script's hash", () => {
            const job = child("kubernetes:batch/v1:Job", "postgres-dcs-config");
            const spec = job.inputs.spec as k8s.types.output.batch.v1.JobSpec;
            const [apply] = spec.template.spec.containers;
            const script = apply.command[2];
            expect(apply.command.slice(0, 2)).toEqual(["python3", "-c"]);
            expect(job.inputs.metadata.name).toMatch(/^postgres-dcs-config-[0-9a-f]{8}$/);
            expect(job.inputs.metadata.name).toBe(dynamicConfigJobName({ dynamicConfigJob: "postgres-dcs-config" }, script));
            // The settings Patroni bootstraps with, the parameters only those it takes from the DCS alone.
            const embedded = JSON.parse(JSON.parse(/^CONFIG = json\.loads\((.*)\)$/m.exec(script)?.[1] ?? "null")) as PatroniYaml["bootstrap"]["dcs"];
            const { postgresql, ...settings } = patroniConfig().bootstrap.dcs;
            expect(embedded).toMatchObject(settings);
            expect(embedded.postgresql.parameters).toEqual(Object.fromEntries(DCS_ONLY_PARAMETERS.filter((key) => key in postgresql.parameters).map((key) => [key, postgresql.parameters[key]])));
            expect(script).toContain('BASE_URL = "https://postgres-members:8008"');
            expect(script).toContain('TLS = ssl.create_default_context(cafile="/etc/patroni-ca/ca.crt")');
            expect(apply.image).toBe(want.image);
            expect(apply.env).toEqual([{ name: "PATRONI_RESTAPI_PASSWORD", valueFrom: { secretKeyRef: { name: "postgres-credentials", key: "restapi-password" } } }]);
            expect(spec.template.spec.serviceAccountName).toBe("postgres-dcs-config");
            expect(spec.template.spec.automountServiceAccountToken).toBe(false);
            expect(selects(spec.template.metadata.labels, podLabels())).toBe(false);
            expect(selects(get().cluster.dynamicConfigJobLabels, spec.template.metadata.labels)).toBe(true);
        });

        test("members' PDB allows one down; both pod templates roll on config changes and are scraped", () => {
            expect(pdb("postgres").maxUnavailable).toBe(1);
            expect(selects(pdb("postgres").selector.matchLabels, podLabels())).toBe(true);
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
            const containers = [...statefulSet().spec.template.spec.containers, ...pooler().spec.template.spec.containers];
            const secretEnv = containers.flatMap((c) => c.env ?? []).filter((e) => /PASSWORD|PASS$|CONNECTION_STRING/.test(e.name));
            expect(secretEnv.map((e) => e.name).sort()).toEqual(
                // PGPASSWORD: the backup agent's (pgBackRest logs in as the superuser).
                ["DATA_SOURCE_PASS", "PATRONI_REPLICATION_PASSWORD", "PATRONI_RESTAPI_PASSWORD", "PATRONI_SUPERUSER_PASSWORD", "PGBOUNCER_EXPORTER_CONNECTION_STRING", "PGPASSWORD"].sort(),
            );
            for (const env of secretEnv) {
                expect(env.value).toBeUndefined();
                expect(env.valueFrom.secretKeyRef.name).toMatch(/^postgres-(credentials|pooler-auth)$/);
            }
            // The post-bootstrap script reads the passwords from a projected Secret volume.
            const files = statefulSet().spec.template.spec.volumes.find((v) => v.name === "secrets")?.projected.sources ?? [];
            expect(files.map((source) => source.secret.name).sort()).toEqual(["postgres-app", "postgres-credentials"]);
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

        test("outputs: hosts, ports, database, Secret names, labels and metrics targets", async () => {
            const { cluster } = get();
            const ns = namespace();
            expect(await valueOf(cluster.rwHost)).toBe(`postgres-rw.${ns}.svc.cluster.local`);
            expect(await valueOf(cluster.roHost)).toBe(`postgres-ro.${ns}.svc.cluster.local`);
            expect(await valueOf(cluster.poolerHost)).toBe(`postgres-pooler.${ns}.svc.cluster.local`);
            expect([cluster.port, cluster.poolerPort, cluster.patroniPort]).toEqual([5432, 6432, 8008]);
            expect([cluster.database, cluster.appUser, cluster.patroniScope]).toEqual(["prepx", "prepx", "postgres"]);
            expect(await valueOf(cluster.appSecretName)).toBe("postgres-app");
            expect(await valueOf(cluster.credentialsSecretName)).toBe("postgres-credentials");
            expect(await valueOf(cluster.poolerSecretName)).toBe("postgres-pooler-auth");
            expect(cluster.leaderLabels).toEqual({ ...cluster.podLabels, role: "master" });
            expect(cluster.standbyLabels).toEqual({ ...cluster.podLabels, role: "replica" });
            expect(selects(cluster.podLabels, podLabels())).toBe(true);
            expect(selects(cluster.poolerLabels, poolerLabels())).toBe(true);
            expect(cluster.metricsTargets).toEqual([
                { name: "postgres", labels: cluster.podLabels, ports: [9187, 8008, 9854] },
                { name: "pgbouncer", labels: cluster.poolerLabels, ports: [9127] },
            ]);
        });

        test("every workload meets the baseline", () => {
            expect(baselineViolations(get().recorded)).toEqual([]);
        });
    });
}
