import { renderBootstrapScript, renderClusterHealScript, renderReadinessScript, REPLICA_PLACEMENT_AWK } from "../../components/redis/render";
import { jobDeadlines } from "../../components/k8s";
import { BOOTSTRAP_AWAIT_SECONDS, BOOTSTRAP_TIMEOUT_SECONDS, redisNodeScripts, topologyContainer } from "../../components/redis/specs";
import { redisClusterArgsSchema } from "../../components/redis/args";

const DEFAULTS = redisClusterArgsSchema.parse({ namespace: "prepx" });

describe("cluster-heal", () => {
    test("pods look peers up in DNS and keep the port; the live tests read a file", () => {
        const dns = renderClusterHealScript({ port: 6379, intervalSeconds: 5, peers: { kind: "dns" } });
        expect(dns).toContain(`getent hosts "$1"`);
        expect(dns).toContain(`echo "$ip:$2"`);
        expect(dns).toMatch(/^INTERVAL=5$/m);
        const file = renderClusterHealScript({ port: 7000, intervalSeconds: 1, peers: { kind: "file", path: "/tmp/addresses" } });
        expect(file).toContain(`"/tmp/addresses"`);
        expect(file).not.toContain("getent");
        // Everything but the lookup is the same text.
        const withoutLookup = (script: string) => script.replace(/peer_address\(\) \{[\s\S]*?\n\}/, "").replace(/^(PORT|INTERVAL)=.*$/gm, "");
        expect(withoutLookup(dns)).toBe(withoutLookup(file));
    });

    test("only known peers are met: never a fresh node, never one in handshake", () => {
        const script = renderClusterHealScript({ port: 6379, intervalSeconds: 5, peers: { kind: "dns" } });
        expect(script).toContain("*,myself,*|*,handshake,*|*,noaddr,*) continue");
        expect(script).toContain(`cluster meet "\${now%:*}" "\${now##*:}"`);
    });

    test("the pod's scripts: readiness and cluster-heal on the Redis port", () => {
        const scripts = redisNodeScripts();
        expect(Object.keys(scripts).sort()).toEqual(["cluster-heal.sh", "readiness.sh"]);
        expect(scripts["readiness.sh"]).toBe(renderReadinessScript(6379));
        expect(scripts["cluster-heal.sh"]).toContain("PORT=6379");
    });
});

describe("readiness", () => {
    const script = renderReadinessScript(6379);
    test("fresh nodes ready (for the bootstrap), others need cluster_state:ok, replicas their link and no sync", () => {
        expect(script).toContain(`= "1" ] && [ "$(field "$info" cluster_slots_assigned)" = "0" ]`);
        expect(script).toContain(`if [ "$state" != "ok" ]`);
        expect(script).toContain(`[ "$link" != "up" ] || [ "$syncing" != "0" ]`);
    });
});

describe("bootstrap", () => {
    const script = renderBootstrapScript({ nodes: ["a:6379", "b:6379", "c:6379", "d:6379"], masters: 2, replicasPerMaster: 1, timeoutSeconds: 600, topologyDir: "/topology" });
    test("knows the wanted masters, the topology and embeds the placement program", () => {
        expect(script).toMatch(/^MASTERS=2$/m);
        expect(script).toMatch(/^TOPOLOGY_DIR="\/topology"$/m);
        expect(script).toContain(REPLICA_PLACEMENT_AWK.trim());
        expect(script).toContain("--cluster add-node");
        expect(script).toContain("--cluster rebalance");
        expect(script).toContain("--cluster-use-empty-masters");
        expect(script).toContain("a scale-in is a runbook");
    });

    test("Pulumi awaits the Job as long as all its attempts may take", () => {
        // backoffLimit 3: four attempts, each its pod start and the script's whole deadline, plus the retry delays.
        expect(BOOTSTRAP_AWAIT_SECONDS).toBe(jobDeadlines({ scriptDeadlineSeconds: BOOTSTRAP_TIMEOUT_SECONDS, backoffLimit: 3 }).awaitSeconds);
        expect(BOOTSTRAP_AWAIT_SECONDS).toBeGreaterThan(4 * BOOTSTRAP_TIMEOUT_SECONDS);
    });

    test("the topology init container lists this cluster's pods and the nodes' zones into the shared directory", () => {
        const container = topologyContainer(DEFAULTS, { "app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "redis" });
        expect(container.image).toBe("alpine/k8s:1.30.0");
        const command = (container.command as string[]).join(" ");
        expect(command).toContain("kubectl get pods --cache-dir=/topology/.kube-cache -l 'app.kubernetes.io/name=redis,app.kubernetes.io/instance=redis'");
        expect(command).toContain("> /topology/pods.tmp && mv /topology/pods.tmp /topology/pods.txt");
        expect(command).toContain(String.raw`{.metadata.labels.topology\.kubernetes\.io/zone}`);
        expect(command).toContain("> /topology/zones.txt");
    });
});
