import { createHash } from "crypto";
import {
    ADMIN_ACL_RULES,
    APP_ACL_RULES,
    EXPORTER_ACL_RULES,
    redisCliCommand,
    renderBootstrapScript,
    renderClusterHealScript,
    renderReadinessScript,
    renderRedisAclFile,
    renderRedisConf,
    renderReplicationAuth,
    REPLICA_PLACEMENT_AWK,
} from "../../components/redis/render";
import { jobDeadlines } from "../../components/k8s";
import { BOOTSTRAP_AWAIT_SECONDS, BOOTSTRAP_TIMEOUT_SECONDS, redisConfOptions, redisNodeScripts, topologyContainer } from "../../components/redis/specs";
import { redisClusterArgsSchema } from "../../components/redis/args";
import { noCertificates } from "../helpers/mocks";

const DEFAULTS = redisClusterArgsSchema.parse({ namespace: "prepx", certificates: noCertificates });
const CLIENT = { user: "admin", caFile: "/etc/redis-tls/ca.crt" };
const TLS = { certFile: "/etc/redis-tls/tls.crt", keyFile: "/etc/redis-tls/tls.key", caFile: "/etc/redis-tls/ca.crt" };
const USERS = { aclFile: "/etc/redis-auth/users.acl", adminPasswordFile: "/etc/redis-auth/password", exporterUser: "exporter" };
const CLI = "redis-cli --no-auth-warning --tls --cacert '/etc/redis-tls/ca.crt' --user admin";

describe("cluster-heal", () => {
    test("pods look peers up in DNS and keep the port; the live tests read a file", () => {
        const dns = renderClusterHealScript({ port: 6379, client: CLIENT, tls: TLS, intervalSeconds: 5, peers: { kind: "dns" }, users: USERS });
        expect(dns).toContain(`getent hosts "$1"`);
        expect(dns).toContain(`echo "$ip:$2"`);
        expect(dns).toMatch(/^INTERVAL=5$/m);
        const file = renderClusterHealScript({ port: 7000, client: CLIENT, tls: TLS, intervalSeconds: 1, peers: { kind: "file", path: "/tmp/addresses" }, users: USERS });
        expect(file).toContain(`"/tmp/addresses"`);
        expect(file).not.toContain("getent");
        // Everything but the lookup is the same text.
        const withoutLookup = (script: string) => script.replace(/peer_address\(\) \{[\s\S]*?\n\}/, "").replace(/^(PORT|INTERVAL)=.*$/gm, "");
        expect(withoutLookup(dns)).toBe(withoutLookup(file));
    });

    test("a changed certificate (cert-manager's renewal) is loaded again with the same paths; a failed reload is retried", () => {
        const script = renderClusterHealScript({ port: 6379, client: CLIENT, tls: TLS, intervalSeconds: 5, peers: { kind: "dns" }, users: USERS });
        expect(script).toContain(`TLS_CERT='/etc/redis-tls/tls.crt'`);
        expect(script).toContain(`${CLI} -h 127.0.0.1 -p "$PORT" config set tls-cert-file "$TLS_CERT" tls-key-file "$TLS_KEY" tls-ca-cert-file "$TLS_CA"`);
        // Only a successful reload moves the remembered checksum on.
        expect(script).toMatch(/grep -q '\^OK'; then\n\s+echo "cluster-heal: the certificate files changed; redis-server reloaded them"\n\s+tls_loaded=\$tls_now/);
        expect(script).toMatch(/while :; do\n\s+reload_tls_if_changed\n\s+reload_users_if_changed\n\s+heal_once/);
    });

    test("a changed auth Secret is loaded at runtime: ACL LOAD, the start passwords kept, masterauth set; passwords never as arguments", () => {
        const script = renderClusterHealScript({ port: 6379, client: CLIENT, tls: TLS, intervalSeconds: 5, peers: { kind: "dns" } , users: USERS });
        expect(script).toContain(`ACL_FILE='/etc/redis-auth/users.acl'`);
        expect(script).toContain(`ADMIN_PASSWORD_FILE='/etc/redis-auth/password'`);
        // The mounted files' content, not their modification time: the kubelet swaps a symlink.
        expect(script).toContain(`acl_checksum() { cat "$ACL_FILE" "$ADMIN_PASSWORD_FILE" 2>/dev/null | cksum; }`);
        // Commands and passwords reach redis-cli on stdin; its password from the environment.
        expect(script).toContain(`REDISCLI_AUTH=$1 ${CLI} -h 127.0.0.1 -p "$PORT" 2>&1`);
        expect(script).toContain(`loaded=$(echo "ACL LOAD" | admin_cli "$STARTED_WITH_PASSWORD")`);
        // After a rotation the start password no longer works: log in with the new one.
        expect(script).toContain(`*WRONGPASS*|*NOAUTH*) loaded=$(echo "ACL LOAD" | admin_cli "$admin_password")`);
        expect(script).toContain(`"ACL SETUSER admin \\">$STARTED_WITH_PASSWORD\\""`);
        expect(script).toContain(`\${EXPORTER_PASSWORD:+"ACL SETUSER exporter \\">$EXPORTER_PASSWORD\\""}`);
        expect(script).toContain(`"CONFIG SET masterauth \\"$admin_password\\"" | admin_cli "$admin_password"`);
        // A failed load keeps the remembered checksum (retried next pass) and is logged once per error.
        const failure = script.slice(script.indexOf(`if [ "$loaded" != "OK" ]`), script.indexOf(`acl_failure=""\n  kept=`));
        expect(failure).toContain("return 0");
        expect(failure).not.toContain("acl_loaded=");
        expect(script).toMatch(/cluster-heal: the ACL file changed; ACL LOAD failed, the node keeps its previous users/);
        // Only the passwords this container was given; no password is rendered into the script.
        expect(script.match(/config set masterauth \S+/gi)).toEqual([`CONFIG SET masterauth \\"$admin_password\\""`]);
    });

    test("only known peers are met: never a fresh node, never one in handshake", () => {
        const script = renderClusterHealScript({ port: 6379, client: CLIENT, tls: TLS, intervalSeconds: 5, peers: { kind: "dns" }, users: USERS });
        expect(script).toContain("*,myself,*|*,handshake,*|*,noaddr,*) continue");
        expect(script).toContain(`cluster meet "\${now%:*}" "\${now##*:}"`);
    });

    test("the pod's scripts: readiness and cluster-heal on the Redis port", () => {
        const scripts = redisNodeScripts();
        expect(Object.keys(scripts).sort()).toEqual(["cluster-heal.sh", "readiness.sh"]);
        expect(scripts["readiness.sh"]).toBe(renderReadinessScript(6379, CLIENT));
        expect(scripts["cluster-heal.sh"]).toContain("PORT=6379");
    });
});

describe("readiness", () => {
    const script = renderReadinessScript(6379, CLIENT);
    test("fresh nodes ready (for the bootstrap), others need cluster_state:ok, replicas their link and no sync", () => {
        expect(script).toContain(`= "1" ] && [ "$(field "$info" cluster_slots_assigned)" = "0" ]`);
        expect(script).toContain(`if [ "$state" != "ok" ]`);
        expect(script).toContain(`[ "$link" != "up" ] || [ "$syncing" != "0" ]`);
    });
});

describe("bootstrap", () => {
    const script = renderBootstrapScript({
        nodes: ["a:6379", "b:6379", "c:6379", "d:6379"],
        masters: 2,
        replicasPerMaster: 1,
        timeoutSeconds: 600,
        topologyDir: "/topology",
        client: CLIENT,
    });
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

describe("TLS in every script", () => {
    test("every redis-cli of the pods' scripts and the bootstrap speaks TLS verified by the CA, as the administrator", () => {
        expect(redisCliCommand(CLIENT)).toBe(CLI);
        const scripts = [
            ...Object.values(redisNodeScripts()),
            renderBootstrapScript({ nodes: ["a:6379"], masters: 3, replicasPerMaster: 0, timeoutSeconds: 60, topologyDir: "/t", client: CLIENT }),
        ];
        for (const script of scripts) {
            // Every line that runs redis-cli (not a comment, not a message naming it).
            const code = script.split("\n").map((line) => (/^\s*#/.test(line) ? "" : line.split(" # ")[0]));
            const invocations = code.filter((line) => line.includes("redis-cli ") && !/echo /.test(line));
            expect(invocations.length).toBeGreaterThan(0);
            for (const line of invocations) expect(line).toContain(CLI);
        }
    });
});

describe("redis.conf: TLS, client limits", () => {
    const conf = renderRedisConf(redisConfOptions(DEFAULTS));

    test("no plaintext port; TLS for clients, replication and the cluster bus with the mounted certificate", () => {
        expect(conf).toMatch(/^port 0$/m);
        expect(conf).toMatch(/^tls-port 6379$/m);
        expect(conf).toMatch(/^tls-cert-file \/etc\/redis-tls\/tls\.crt$/m);
        expect(conf).toMatch(/^tls-key-file \/etc\/redis-tls\/tls\.key$/m);
        expect(conf).toMatch(/^tls-ca-cert-file \/etc\/redis-tls\/ca\.crt$/m);
        expect(conf).toMatch(/^tls-replication yes$/m);
        expect(conf).toMatch(/^tls-cluster yes$/m);
        expect(conf).toMatch(/^tls-auth-clients optional$/m);
        expect(conf).not.toMatch(/^port [1-9]/m);
    });

    test("idle clients time out and each client class has an output-buffer limit, from the args", () => {
        expect(conf).toMatch(/^timeout 300$/m);
        expect(conf).toMatch(/^client-output-buffer-limit normal 64mb 16mb 60$/m);
        expect(conf).toMatch(/^client-output-buffer-limit replica 256mb 64mb 60$/m);
        expect(conf).toMatch(/^client-output-buffer-limit pubsub 32mb 8mb 60$/m);
        const tuned = renderRedisConf(
            redisConfOptions({
                ...DEFAULTS,
                clientIdleTimeoutSeconds: 0,
                clientOutputBufferLimits: { ...DEFAULTS.clientOutputBufferLimits, normal: { hard: "128mb", soft: "0", softSeconds: 0 } },
            }),
        );
        expect(tuned).toMatch(/^timeout 0$/m);
        expect(tuned).toMatch(/^client-output-buffer-limit normal 128mb 0 0$/m);
    });
});

describe("ACL users", () => {
    const users = [
        { name: "admin", password: "admin-secret-password", rules: ADMIN_ACL_RULES },
        { name: "exporter", password: "exporter-secret-password", rules: EXPORTER_ACL_RULES },
        { name: "app-api-gateway", password: "app-secret-password", rules: APP_ACL_RULES },
    ];
    const acl = renderRedisAclFile(users);
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");

    test("the ACL file: each user with its password's SHA-256 only, the default user off and without rights, nothing but user lines", () => {
        expect(acl.split("\n")).toEqual([
            "user default off nopass resetkeys resetchannels -@all",
            `user admin on #${sha("admin-secret-password")} ${ADMIN_ACL_RULES}`,
            `user exporter on #${sha("exporter-secret-password")} ${EXPORTER_ACL_RULES}`,
            `user app-api-gateway on #${sha("app-secret-password")} ${APP_ACL_RULES}`,
            "",
        ]);
        for (const user of users) expect(acl).not.toContain(user.password);
        // Redis 7 refuses anything but `user` lines in an ACL file (comments only from 8.8).
        expect(acl.split("\n").filter((line) => line !== "" && !line.startsWith("user "))).toEqual([]);
    });

    test("replicas authenticate as the admin, from an include of their own (the one password in clear)", () => {
        expect(renderReplicationAuth({ user: "admin", password: "admin-secret-password" })).toBe("masteruser admin\nmasterauth admin-secret-password\n");
    });

    test("an app: no dangerous or admin command, no functions; scripting only as EVAL/EVALSHA and SCRIPT LOAD/EXISTS", () => {
        const rules = APP_ACL_RULES.split(" ");
        // The removals come after every grant they must override, the explicit grants after the removals.
        const lastCategoryGrant = Math.max(...rules.map((rule, index) => (rule.startsWith("+@") ? index : -1)));
        for (const removal of ["-@dangerous", "-@admin", "-@scripting"]) expect(rules.indexOf(removal)).toBeGreaterThan(lastCategoryGrant);
        const explicit = rules.slice(rules.indexOf("-@scripting") + 1);
        expect(explicit.every((rule) => rule.startsWith("+") && !rule.startsWith("+@"))).toBe(true);
        expect(explicit).toEqual(expect.arrayContaining(["+eval", "+evalsha", "+script|load", "+script|exists", "+cluster|slots"]));
        for (const forbidden of ["+flushall", "+config", "+shutdown", "+cluster|reset", "+debug", "+module", "+function", "+info", "+@all"]) {
            expect(rules).not.toContain(forbidden);
        }
    });

    test("the exporter: nothing but what it reads, no key, no CONFIG", () => {
        const rules = EXPORTER_ACL_RULES.split(" ");
        expect(rules.slice(0, 3)).toEqual(["resetkeys", "resetchannels", "-@all"]);
        expect(rules.slice(3).every((rule) => rule.startsWith("+") && !rule.startsWith("+@"))).toBe(true);
        expect(rules).toContain("+info");
        expect(rules).toContain("+cluster|info");
        expect(rules.some((rule) => rule.startsWith("+config"))).toBe(false);
    });

    test("the administrator: all but Lua, DEBUG, MODULE, SHUTDOWN and the flushes", () => {
        expect(ADMIN_ACL_RULES).toBe("~* &* +@all -@scripting -debug -module -shutdown -flushall -flushdb");
    });
});
