// The stack's security policy read off its rendered objects (what `npm run render` writes and the
// cluster receives), shared by the dev and prod stack tests: Pod Security enforced on the namespace,
// service-account tokens only in the pods that talk to the API, ephemeral storage bounded in every
// container, pull policies written out, and no NetworkPolicy open to the whole internet.
import { podSecurityLabels } from "../../components/k8s";
import { parse } from "yaml";
import { SCRAPE_JOBS } from "../../components/observability";
import { JsonObject, renderObjects } from "../../scripts/manifests";
import { securityScorecard } from "../../scripts/security";
import { RecordedResource } from "./mocks";

/** A rendered object as the cluster gets it; reached into freely by the checks. */
type Manifest = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- arbitrary Kubernetes shapes

/** What differs between the stacks' security checks. */
export interface SecurityExpectations {
    /** `<Kind> <name>` of every workload whose pods mount a service-account token (they talk to the API). */
    podsWithToken: string[];
}

const WORKLOAD_KINDS = ["Deployment", "StatefulSet", "Job", "DaemonSet"];

/** Every workload with its pod spec. */
function workloads(objects: Manifest[]): { where: string; pod: Manifest }[] {
    return objects.filter((o) => WORKLOAD_KINDS.includes(o.kind)).map((o) => ({ where: `${o.kind} ${o.metadata.name}`, pod: o.spec.template.spec }));
}

/** Every container of a pod, init containers included. */
function containersOf(pod: Manifest): Manifest[] {
    return [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
}

/** Whether a pod gets a token: its own field wins, then its ServiceAccount's, then Kubernetes' default (true). */
export function mountsToken(pod: Manifest, serviceAccounts: Manifest[]): boolean {
    if (pod.automountServiceAccountToken !== undefined) return pod.automountServiceAccountToken === true;
    const account = serviceAccounts.find((sa) => sa.metadata.name === (pod.serviceAccountName ?? "default"));
    return account?.automountServiceAccountToken ?? true;
}

/** Every address block of every NetworkPolicy that spans the whole address space (/0), by policy and direction. */
export function internetWideBlocks(objects: Manifest[]): string[] {
    const found: string[] = [];
    for (const policy of objects.filter((o) => o.kind === "NetworkPolicy")) {
        for (const [direction, rules, peersKey] of [["egress", policy.spec.egress, "to"], ["ingress", policy.spec.ingress, "from"]] as const) {
            for (const rule of (rules ?? []) as Manifest[]) {
                // A rule without peers matches every address: the same as 0.0.0.0/0 and ::/0.
                if (rule[peersKey] === undefined) found.push(`${policy.metadata.name} ${direction}: no ${peersKey} (every address)`);
                for (const peer of (rule[peersKey] ?? []) as Manifest[]) {
                    const cidr: string | undefined = peer.ipBlock?.cidr;
                    if (cidr !== undefined && /\/0$/.test(cidr)) found.push(`${policy.metadata.name} ${direction}: ${cidr}`);
                }
            }
        }
    }
    return found;
}

/** Bytes of a memory quantity such as 64Mi, 2Gi or 1G. */
function bytes(quantity: string): number {
    const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
    if (!match) throw new Error(`not a quantity: ${quantity}`);
    const units: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
    return Number(match[1]) * (match[2] ? units[match[2]] : 1);
}

/** The kubelet's default log rotation keeps 5 files of 10Mi per container; they count as ephemeral storage. */
const CONTAINER_LOG_BYTES = 5 * 10 * 2 ** 20;

export function describeSecurityPolicy(get: () => { recorded: RecordedResource[] }, namespace: string, expected: SecurityExpectations): void {
    describe("security policy of the rendered objects", () => {
        let objects: Manifest[];
        beforeAll(() => {
            objects = renderObjects(get().recorded).objects.map((rendered) => rendered.object as JsonObject as Manifest);
        });

        test("the namespace enforces Pod Security 'restricted' at a pinned version, and audits and warns at the newest", () => {
            const ns = objects.find((o) => o.kind === "Namespace" && o.metadata.name === namespace);
            // tests/unit/k8s.test.ts pins what podSecurityLabels() is (restricted, POD_SECURITY_VERSION, latest).
            expect(ns?.metadata.labels).toMatchObject(podSecurityLabels());
        });

        test("no ServiceAccount mounts a token by itself; only the pods that talk to the API opt in, each bound to a role", () => {
            const serviceAccounts = objects.filter((o) => o.kind === "ServiceAccount");
            expect(serviceAccounts.length).toBeGreaterThan(5);
            for (const account of serviceAccounts) expect(`${account.metadata.name}: ${account.automountServiceAccountToken}`).toBe(`${account.metadata.name}: false`);
            const withToken = workloads(objects).filter(({ pod }) => mountsToken(pod, serviceAccounts));
            expect(withToken.map(({ where }) => where).sort()).toEqual([...expected.podsWithToken].sort());
            const bindings = objects.filter((o) => o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding");
            for (const { where, pod } of withToken) {
                expect(pod.automountServiceAccountToken).toBe(true);
                const bound = bindings.some((binding) => (binding.subjects ?? []).some((subject: Manifest) => subject.kind === "ServiceAccount" && subject.name === pod.serviceAccountName));
                expect(`${where}: ${bound ? "bound" : "no binding"}`).toBe(`${where}: bound`);
            }
        });

        test("every container requests and is limited in ephemeral storage, enough for its pod's disk-backed emptyDirs and logs", () => {
            const problems: string[] = [];
            let containers = 0;
            for (const { where, pod } of workloads(objects)) {
                let limits = 0;
                for (const container of containersOf(pod)) {
                    containers++;
                    const request = container.resources?.requests?.["ephemeral-storage"];
                    const limit = container.resources?.limits?.["ephemeral-storage"];
                    if (request === undefined || limit === undefined) problems.push(`${where} container ${container.name}: no ephemeral-storage request and limit`);
                    else limits += bytes(limit);
                }
                const scratch = (pod.volumes ?? [])
                    .filter((volume: Manifest) => volume.emptyDir && volume.emptyDir.medium !== "Memory")
                    .reduce((total: number, volume: Manifest) => total + bytes(volume.emptyDir.sizeLimit), 0);
                // The kubelet evicts a pod whose emptyDirs and logs outgrow the sum of its containers' limits.
                const needed = scratch + containersOf(pod).length * CONTAINER_LOG_BYTES;
                if (limits < needed) problems.push(`${where}: ephemeral-storage limits ${limits} bytes < emptyDirs and logs ${needed} bytes`);
            }
            expect(containers).toBeGreaterThan(10);
            expect(problems).toEqual([]);
        });

        test("every container names its image's pull policy: IfNotPresent (every image is pinned by tag or digest)", () => {
            const unset = workloads(objects).flatMap(({ where, pod }) =>
                containersOf(pod).filter((container) => container.imagePullPolicy !== "IfNotPresent").map((container) => `${where} container ${container.name}: ${container.imagePullPolicy}`),
            );
            expect(unset).toEqual([]);
        });

        test("no NetworkPolicy is open to the whole internet (0.0.0.0/0, ::/0, or a rule without peers) but the load balancer's ingress", () => {
            expect(objects.filter((o) => o.kind === "NetworkPolicy").length).toBeGreaterThan(10);
            expect(internetWideBlocks(objects)).toEqual(["loadbalancer ingress: no from (every address)"]);
        });

        test("Prometheus scrapes Patroni over verified HTTPS: the CA of the members' own Secret, mounted alone, and a name their certificate carries", () => {
            expect(patroniScrapeTlsProblems(objects, get().recorded)).toEqual([]);
            const hop = securityScorecard(renderObjects(get().recorded).objects).hops.find((candidate) => candidate.hop === "Prometheus -> metrics endpoints");
            expect(hop?.evidence).toMatch(/scrape jobs over verified HTTPS \(.*\bpatroni\b.*\)$/);
        });

        test("Grafana accepts no source by default (port-forward only)", () => {
            const grafana = objects.find((o) => o.kind === "NetworkPolicy" && o.metadata.name === "grafana");
            expect(grafana?.spec.ingress).toBeUndefined();
            expect(grafana?.spec.policyTypes).toEqual(["Egress"]);
        });
    });
}

/**
 * What is wrong with the Patroni scrape's TLS in a render (empty = nothing): the job must be HTTPS
 * with a ca_file and server_name; Prometheus' pod must project only `ca.crt` of a Secret to that
 * file; the PostgreSQL pods must serve that Secret's certificate; and its dnsNames (cert-manager's
 * Certificate, or the stack CA's CertRequest) must hold server_name.
 */
function patroniScrapeTlsProblems(objects: Manifest[], recorded: RecordedResource[]): string[] {
    const prometheusYml = objects.find((o) => o.kind === "ConfigMap" && o.data?.["prometheus.yml"] !== undefined)?.data["prometheus.yml"];
    if (prometheusYml === undefined) return ["no prometheus.yml"];
    const job: Manifest | undefined = (parse(prometheusYml) as Manifest).scrape_configs.find((candidate: Manifest) => candidate.job_name === SCRAPE_JOBS.patroni);
    if (job === undefined) return ["no patroni job"];
    const caFile: string | undefined = job.tls_config?.ca_file;
    const serverName: string | undefined = job.tls_config?.server_name;
    if (job.scheme !== "https" || caFile === undefined || serverName === undefined || job.tls_config.insecure_skip_verify === true) {
        return [`patroni job: scheme ${job.scheme}, tls_config ${JSON.stringify(job.tls_config)}`];
    }
    const prometheusPod = workloads(objects).find(({ pod }) => (pod.containers as Manifest[]).some((container) => container.name === "prometheus"))?.pod;
    const projections: Manifest[] = (prometheusPod?.volumes ?? []).flatMap((volume: Manifest) => volume.projected?.sources ?? []).filter((source: Manifest) => source.secret);
    const projection = projections.find((source) => (source.secret.items as Manifest[]).some((item) => item.path === caFile));
    if (projection === undefined) return [`no Secret of the Prometheus pod projects ${caFile}`];
    const problems: string[] = [];
    if (JSON.stringify(projection.secret.items) !== JSON.stringify([{ key: "ca.crt", path: caFile }])) problems.push(`projected items ${JSON.stringify(projection.secret.items)}`);
    const secretName: string = projection.secret.name;
    const served = workloads(objects).some(({ where, pod }) => where.startsWith("StatefulSet postgres") && (pod.volumes ?? []).some((volume: Manifest) => volume.secret?.secretName === secretName));
    if (!served) problems.push(`the PostgreSQL pods do not mount ${secretName}`);
    const certificate = objects.find((o) => o.kind === "Certificate" && o.spec?.secretName === secretName);
    const request = recorded.find((r) => r.type === "tls:index/certRequest:CertRequest" && r.name === secretName);
    const dnsNames: string[] | undefined = certificate?.spec.dnsNames ?? request?.inputs.dnsNames;
    if (dnsNames === undefined) problems.push(`no certificate declared for ${secretName}`);
    else if (!dnsNames.includes(serverName)) problems.push(`${secretName}'s certificate does not name ${serverName}`);
    return problems;
}
