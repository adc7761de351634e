// Expectations on the composed stack (index.ts) shared by the prod and dev stack tests.
import * as pulumi from "@pulumi/pulumi";
import { find, ofType, RecordedResource } from "./mocks";
import { parseAlertRules } from "./monitoring-files";

/** What differs between the stacks' composed checks. */
export interface StackExpectations {
    /** Each alert rule's threshold as it appears in its expression (null = not rendered). */
    rules: Record<string, string | null>;
    /** The dashboards Grafana is given, by file name. */
    dashboards: string[];
    /** The kubeconfig context the provider is given (undefined: kubectl's current context). */
    kubeContext?: string;
    /** The image pull Secrets every pod's ServiceAccount must carry. */
    imagePullSecrets: string[];
}

/** The stack outputs these checks read. */
export interface StackOutputs {
    loadBalancerEndpoint: pulumi.Output<string>;
    grafanaUrl: pulumi.Output<string>;
    grafanaAdminPassword: pulumi.Output<string>;
    postgresAppPassword: pulumi.Output<string>;
    postgresSuperuserPassword: pulumi.Output<string>;
    redisPassword: pulumi.Output<string>;
    postgresPoolerHost: pulumi.Output<string>;
}

const COMPONENT_TYPES = [
    "prepx:cache:RedisCluster",
    "prepx:database:PostgresCluster",
    "prepx:apps:ServiceFleet",
    "prepx:network:LoadBalancerTier",
    "prepx:monitoring:MonitoringStack",
];

/** The NetworkPolicies the stack must create, whatever its size. */
const POLICIES = [
    "default-deny",
    "allow-dns",
    "loadbalancer",
    "service-api-gateway",
    "service-user-service",
    "pgbouncer",
    "postgres-primary",
    "postgres-members",
    "redis",
    "redis-bootstrap",
    "prometheus",
    "grafana",
];

export function describeComposedStack(
    get: () => { recorded: RecordedResource[]; program: StackOutputs },
    namespace: string,
    expected: StackExpectations,
): void {
    describe("the composed stack", () => {
        test("each of the five components exists once, every Kubernetes object through the explicit provider", () => {
            const { recorded } = get();
            for (const type of COMPONENT_TYPES) expect(ofType(recorded, type)).toHaveLength(1);
            const provider = find(recorded, "pulumi:providers:kubernetes", "k8s");
            expect(provider.inputs.context).toBe(expected.kubeContext);
            for (const object of recorded.filter((r) => r.type.startsWith("kubernetes:"))) {
                expect(`${object.type} ${object.name} ${object.provider}`).toContain(`${object.type} ${object.name} ${provider.urn}::`);
            }
        });

        test("every object lives in the stack's namespace", () => {
            const namespaced = get().recorded.filter(
                (r) => r.type.startsWith("kubernetes:") && !/:(Namespace|ClusterRole|ClusterRoleBinding)$/.test(r.type),
            );
            expect(namespaced.length).toBeGreaterThan(50);
            for (const object of namespaced) expect(`${object.name}: ${object.inputs.metadata?.namespace}`).toBe(`${object.name}: ${namespace}`);
        });

        test("every NetworkPolicy is present, with a namespace-wide default deny", () => {
            const policies = ofType(get().recorded, "kubernetes:networking.k8s.io/v1:NetworkPolicy").map((r) => r.inputs.metadata.name);
            for (const name of POLICIES) expect(policies).toContain(name);
            const deny = find(get().recorded, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "netpol-default-deny").inputs.spec;
            expect(deny).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
            expect(policies.filter((name: string) => name.startsWith("metrics-")).length).toBeGreaterThanOrEqual(5);
        });

        test("the services reach PostgreSQL through PgBouncer", async () => {
            const deployment = find(get().recorded, "kubernetes:apps/v1:Deployment", "services-user-service").inputs.spec.template.spec;
            const env: { name: string; value?: string }[] = deployment.containers[0].env;
            expect(env.find((e) => e.name === "DB_HOST")?.value).toBe(`postgres-pooler.${namespace}.svc.cluster.local`);
            expect(env.find((e) => e.name === "DB_PORT")?.value).toBe("6432");
        });

        test("nginx proxies to the gateways' headless Service", () => {
            const conf: string = find(get().recorded, "kubernetes:core/v1:ConfigMap", "lb-config").inputs.data["nginx.conf"];
            expect(conf).toContain(`server api-gateway-headless.${namespace}.svc.cluster.local:8080`);
            expect(conf).toMatch(/ resolve/);
        });

        test("MonitoringStack renders every component's rules with the stack's counts and thresholds, and every dashboard", async () => {
            const data = find(get().recorded, "kubernetes:core/v1:ConfigMap", "monitoring-prometheus-config").inputs.data;
            const rules = parseAlertRules(await data["alerts.yml"]);
            for (const [alert, threshold] of Object.entries(expected.rules)) {
                const rule = rules.find((candidate) => candidate.alert === alert);
                if (threshold === null) expect(rule).toBeUndefined();
                else expect(`${alert}: ${rule?.expr}`).toContain(threshold);
            }
            for (const rule of rules) expect(rule.labels).toEqual({ severity: rule.labels.severity, namespace });
            const dashboards = find(get().recorded, "kubernetes:core/v1:ConfigMap", "monitoring-grafana-dashboards").inputs.data;
            expect(Object.keys(dashboards).sort()).toEqual([...expected.dashboards].sort());
        });

        test("every pod runs as a ServiceAccount of the stack, which carries the stack's image pull Secrets", () => {
            const { recorded } = get();
            const accounts = new Map(ofType(recorded, "kubernetes:core/v1:ServiceAccount").map((account) => [account.inputs.metadata.name as string, account.inputs]));
            const workloads = recorded.filter((r) => ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job"].includes(r.type));
            expect(workloads.length).toBeGreaterThan(8);
            const pullSecrets = expected.imagePullSecrets.map((name) => ({ name }));
            for (const workload of workloads) {
                const accountName: string | undefined = workload.inputs.spec.template.spec.serviceAccountName;
                const account = accountName === undefined ? undefined : accounts.get(accountName);
                expect(`${workload.name}: ${accountName} ${JSON.stringify(account?.imagePullSecrets ?? [])}`).toBe(`${workload.name}: ${accountName} ${JSON.stringify(pullSecrets)}`);
                expect(account).toBeDefined();
            }
        });

        test("secret outputs are secret", async () => {
            const { program } = get();
            for (const output of [program.grafanaAdminPassword, program.postgresAppPassword, program.postgresSuperuserPassword, program.redisPassword]) {
                expect(await pulumi.isSecret(output)).toBe(true);
            }
            expect(await pulumi.isSecret(program.grafanaUrl)).toBe(false);
        });
    });
}
