// RedisCluster expectations shared by the prod and dev stack tests (one stack per jest file,
// because the Pulumi runtime is process-global).
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { contentName } from "../../components/k8s";
import { find, isWireSecret, mockPassword, ofType, RecordedResource, valueOf } from "./mocks";

interface ProgramOutputs {
    redisSeedNodes: pulumi.Output<string[]>;
    redisHost: pulumi.Output<string>;
    redisSecretName: pulumi.Output<string>;
    redisPassword: pulumi.Output<string>;
}

interface RedisExpectations {
    stack: string;
    pods: number;
    replicasPerMaster: number;
    cpuRequest: string;
    memoryLimit: string;
    protect: boolean;
    /** The services of the stack: each gets its own Redis user and password Secret. */
    apps: string[];
    /** Who signs the nodes' certificate (the stack's internalTls.issuer): the kinds of the certificate's children differ. */
    certificateIssuer: "cert-manager" | "stack";
}

/** The children that make the nodes' certificate, by issuer (components/tls). */
const CERTIFICATE_CHILDREN = {
    "cert-manager": ["kubernetes:cert-manager.io/v1:Certificate"],
    stack: ["tls:index/privateKey:PrivateKey", "tls:index/certRequest:CertRequest", "tls:index/locallySignedCert:LocallySignedCert", "kubernetes:core/v1:Secret"],
};

const COMPONENT_URN = "prepx:cache:RedisCluster";

export function describeRedisCluster(get: () => { recorded: RecordedResource[]; program: ProgramOutputs }, want: RedisExpectations): void {
    describe(`RedisCluster in ${want.stack}`, () => {
        const statefulSet = () => find(get().recorded, "kubernetes:apps/v1:StatefulSet", "redis");
        const password = mockPassword("redis-password");

        test("one component, every child parented to it", () => {
            const { recorded } = get();
            const components = ofType(recorded, COMPONENT_URN);
            expect(components).toHaveLength(1);
            const children = recorded.filter((r) => r.parent === components[0].urn);
            expect(children.map((r) => r.type).sort()).toEqual(
                [
                    "kubernetes:apps/v1:StatefulSet",
                    "kubernetes:batch/v1:Job",
                    "kubernetes:core/v1:ConfigMap",
                    "kubernetes:core/v1:ConfigMap",
                    // The administrator's password, the ACL file and the masterauth include; the exporter's and each app's password.
                    "kubernetes:core/v1:Secret",
                    "kubernetes:core/v1:Secret",
                    ...want.apps.map(() => "kubernetes:core/v1:Secret"),
                    ...CERTIFICATE_CHILDREN[want.certificateIssuer],
                    "kubernetes:core/v1:Service",
                    "kubernetes:core/v1:Service",
                    "kubernetes:core/v1:ServiceAccount",
                    // The bootstrap's account: it lists the node pods (Role) and the nodes' zones (ClusterRole).
                    "kubernetes:core/v1:ServiceAccount",
                    "kubernetes:rbac.authorization.k8s.io/v1:Role",
                    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
                    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
                    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
                    "kubernetes:policy/v1:PodDisruptionBudget",
                    // One password per user: the administrator, the exporter, each app.
                    "random:index/randomPassword:RandomPassword",
                    "random:index/randomPassword:RandomPassword",
                    ...want.apps.map(() => "random:index/randomPassword:RandomPassword"),
                    // One storage-resize patch per pod (components/storage.ts).
                    ...Array.from({ length: want.pods }, () => "kubernetes:core/v1:PersistentVolumeClaimPatch"),
                ].sort(),
            );
            for (const child of children) expect(child.urn).toContain(`${COMPONENT_URN}$`);
        });

        // The pod's shape (containers, probes, volumes, Services) is tested on the builders
        // (redis-specs.test.ts); here, that the stack's sizing reaches it.
        test(`runs ${want.pods} pods with the stack's resources`, () => {
            const spec = statefulSet().inputs.spec;
            expect(spec.replicas).toBe(want.pods);
            const redis = spec.template.spec.containers.find((container: { name: string }) => container.name === "redis");
            expect(redis.resources.requests.cpu).toBe(want.cpuRequest);
            expect(redis.resources.limits.memory).toBe(want.memoryLimit);
            expect(spec.volumeClaimTemplates[0].spec.resources.requests.storage).toMatch(/Gi$/);
            expect(statefulSet().protect).toBe(want.protect);
        });

        test("redis.conf is cluster-enabled with AOF and holds no password", () => {
            const conf: string = find(get().recorded, "kubernetes:core/v1:ConfigMap", "redis-config").inputs.data["redis.conf"];
            expect(conf).toMatch(/^cluster-enabled yes$/m);
            expect(conf).toMatch(/^appendonly yes$/m);
            expect(conf).toMatch(/^cluster-node-timeout 5000$/m);
            expect(conf).not.toMatch(/^\s*(requirepass|masterauth|replicaof)\b/m);
            expect(conf).not.toContain(password);
        });

        test("each user's password is generated, secret, and only in its own Secret; the ACL file holds their hashes", async () => {
            const { recorded, program } = get();
            const secret = find(recorded, "kubernetes:core/v1:Secret", "redis-auth");
            expect(secret.inputs.stringData.password).toBe(password);
            const acl: string = secret.inputs.stringData["users.acl"];
            const sha = (text: string) => createHash("sha256").update(text).digest("hex");
            expect(acl).toMatch(/^user default off nopass resetkeys resetchannels -@all$/m);
            expect(acl).toContain(`\nuser admin on #${sha(password)} `);
            expect(acl).not.toContain(password);
            expect(secret.inputs.stringData["replication.conf"]).toBe(`masteruser admin\nmasterauth ${password}\n`);
            const users = [
                { secret: "redis-user-exporter", user: "exporter", password: mockPassword("redis-exporter-password") },
                ...want.apps.map((app) => ({ secret: `redis-user-app-${app}`, user: `app-${app}`, password: mockPassword(`redis-app-${app}-password`) })),
            ];
            for (const user of users) {
                const own = find(recorded, "kubernetes:core/v1:Secret", user.secret);
                expect(own.inputs.stringData).toEqual({ username: user.user, password: user.password });
                expect(isWireSecret(own.wire.stringData)).toBe(true);
                expect(acl).toContain(`\nuser ${user.user} on #${sha(user.password)} `);
                expect(acl).not.toContain(user.password);
            }
            // The whole stringData travels to the engine as a secret value.
            expect(isWireSecret(secret.wire.stringData)).toBe(true);
            expect(await pulumi.isSecret(program.redisPassword)).toBe(true);
            expect(await valueOf(program.redisPassword)).toBe(password);
            const elsewhere = recorded.filter((r) => r.type !== "kubernetes:core/v1:Secret" && r.type !== "random:index/randomPassword:RandomPassword");
            for (const resource of elsewhere) {
                for (const secretValue of [password, ...users.map((user) => user.password)]) expect(JSON.stringify(resource.inputs)).not.toContain(secretValue);
            }
        });

        test("each service's pods log in as its own user, over TLS with the nodes' CA", () => {
            const { recorded } = get();
            for (const app of want.apps) {
                const deployment = recorded.find((r) => r.type === "kubernetes:apps/v1:Deployment" && r.inputs.metadata.name === app);
                const env: { name: string; value?: string; valueFrom?: unknown }[] = deployment?.inputs.spec.template.spec.containers[0].env ?? [];
                expect(env.find((variable) => variable.name === "REDIS_USERNAME")?.value).toBe(`app-${app}`);
                expect(env.find((variable) => variable.name === "REDIS_PASSWORD")?.valueFrom).toEqual({ secretKeyRef: { name: `redis-user-app-${app}`, key: "password" } });
                expect(deployment?.inputs.spec.template.spec.volumes).toContainEqual({
                    name: "redis-ca",
                    secret: { secretName: "redis-tls", items: [{ key: "ca.crt", path: "ca.crt" }], defaultMode: 0o444 },
                });
            }
        });

        test("pods roll when redis.conf or the node scripts change, and only then: no secret-derived value in the checksum", () => {
            const annotations = statefulSet().inputs.spec.template.metadata.annotations;
            const files: Record<string, string> = find(get().recorded, "kubernetes:core/v1:ConfigMap", "redis-config").inputs.data;
            // A changed auth Secret reaches the running nodes through cluster-heal (ACL LOAD), not a roll.
            const rendered = [files["redis.conf"], files["readiness.sh"], files["cluster-heal.sh"]].join("\u0000");
            expect(annotations["checksum/config"]).toBe(createHash("sha256").update(rendered).digest("hex"));
            expect(annotations["prometheus.io/port"]).toBe("9121");
        });

        test("the bootstrap Job runs the rendered script against every pod", () => {
            const { recorded } = get();
            const script: string = find(recorded, "kubernetes:core/v1:ConfigMap", "redis-bootstrap").inputs.data["bootstrap.sh"];
            const namespace = want.stack === "prod" ? "prepx" : "prepx-dev";
            const hosts = Array.from({ length: want.pods }, (_, i) => `redis-${i}.redis-headless.${namespace}.svc.cluster.local:6379`);
            expect(script).toContain(`NODES="${hosts.join(" ")}"`);
            expect(script).toContain(`REPLICAS=${want.replicasPerMaster}`);
            const job = find(recorded, "kubernetes:batch/v1:Job", "redis-bootstrap").inputs.spec.template.spec;
            expect(job.containers[0].command).toEqual(["sh", "/scripts/bootstrap.sh"]);
        });

        test("the Job mounts its script by a content name: a changed node list (scale-out) is a new Job spec, so the bootstrap runs again", () => {
            const { recorded } = get();
            const configMap = find(recorded, "kubernetes:core/v1:ConfigMap", "redis-bootstrap").inputs;
            expect(configMap.metadata.name).toBe(contentName("redis-bootstrap", configMap.data));
            const job = find(recorded, "kubernetes:batch/v1:Job", "redis-bootstrap");
            expect(job.inputs.spec.template.spec.volumes).toContainEqual({ name: "scripts", configMap: { name: configMap.metadata.name } });
        });

        test("a disruption budget allows one pod down", () => {
            expect(find(get().recorded, "kubernetes:policy/v1:PodDisruptionBudget", "redis").inputs.spec.maxUnavailable).toBe(1);
        });

        test("stack outputs: seeds, host, Secret name", async () => {
            const { program } = get();
            const seeds = await valueOf(program.redisSeedNodes);
            expect(seeds).toHaveLength(want.pods);
            expect(seeds[0]).toMatch(/^redis-0\.redis-headless\.prepx(-dev)?\.svc\.cluster\.local:6379$/);
            expect(await valueOf(program.redisHost)).toMatch(/^redis\.prepx(-dev)?\.svc\.cluster\.local$/);
            expect(await valueOf(program.redisSecretName)).toBe("redis-auth");
        });
    });
}
