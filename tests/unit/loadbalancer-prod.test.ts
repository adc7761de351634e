// LoadBalancerTier instantiated directly under mocks with the prod stack's loadBalancer section.
import * as pulumi from "@pulumi/pulumi";
import { baselineViolations } from "../helpers/baseline";
import { find, installMocks, ofType, RecordedResource, settled, valueOf } from "../helpers/mocks";
import { sha256 } from "../../components/k8s";
import { readStackConfig } from "../../scripts/stack-files";
import { loadBalancerTierArgs } from "../../stack-args";

/* eslint-disable @typescript-eslint/consistent-type-imports -- modules are imported after setMocks */
let recorded: RecordedResource[];
let lbModule: typeof import("../../components/loadbalancer");
let tier: import("../../components/loadbalancer").LoadBalancerTier;
let args: import("../../components/loadbalancer").LoadBalancerTierArgs;
/* eslint-enable @typescript-eslint/consistent-type-imports */

const HEADLESS = "api-gateway-headless.prepx.svc.cluster.local";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";

beforeAll(async () => {
    recorded = await installMocks("prod");
    lbModule = await import("../../components/loadbalancer");
    const { parseStackConfig } = await import("../../config");
    const config = parseStackConfig("prod", readStackConfig("prod"));
    args = loadBalancerTierArgs(config, config.namespace, HEADLESS);
    tier = new lbModule.LoadBalancerTier("lb", args);
    await valueOf(tier.endpoint);
    await settled(recorded);
});

const deployment = () => find(recorded, DEPLOYMENT, "lb");
const podSpec = () => deployment().inputs.spec.template.spec;
const container = (name: string) => podSpec().containers.find((c: { name: string }) => c.name === name);
const nginxConf = () => find(recorded, "kubernetes:core/v1:ConfigMap", "lb-config").inputs.data["nginx.conf"] as string;

test("one component, its children parented to it", () => {
    const components = ofType(recorded, "prepx:network:LoadBalancerTier");
    expect(components).toHaveLength(1);
    const children = recorded.filter((r) => r.parent === components[0].urn);
    expect(children.map((r) => r.type).sort()).toEqual([
        DEPLOYMENT,
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:core/v1:Service",
        "kubernetes:policy/v1:PodDisruptionBudget",
    ]);
});

test("every workload meets the baseline", () => {
    expect(baselineViolations(recorded)).toEqual([]);
});

test("3 nginx replicas, rolling updates that never drop one first", () => {
    expect(deployment().inputs.spec.replicas).toBe(3);
    expect(deployment().inputs.spec.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
});

test("a PodDisruptionBudget and hard spreading across nodes select the nginx pods", () => {
    const podLabels = deployment().inputs.spec.template.metadata.labels;
    const pdb = find(recorded, "kubernetes:policy/v1:PodDisruptionBudget", "lb");
    expect(pdb.inputs.spec.maxUnavailable).toBe(1);
    for (const [key, value] of Object.entries(pdb.inputs.spec.selector.matchLabels)) expect(podLabels[key]).toBe(value);
    const byHost = podSpec().topologySpreadConstraints.find((c: { topologyKey: string }) => c.topologyKey === "kubernetes.io/hostname");
    expect(byHost.whenUnsatisfiable).toBe("DoNotSchedule");
    expect(byHost.labelSelector.matchLabels).toEqual(tier.podLabels);
});

test("LoadBalancer Service keeps client addresses (externalTrafficPolicy Local) for the per-IP limits", () => {
    const service = find(recorded, "kubernetes:core/v1:Service", "lb");
    expect(service.inputs.spec.type).toBe("LoadBalancer");
    expect(service.inputs.spec.externalTrafficPolicy).toBe("Local");
    expect(service.inputs.spec.ports).toEqual([{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }]);
    expect(service.inputs.spec.selector).toEqual(tier.podLabels);
});

test("nginx.conf re-resolves the gateways' headless Service and carries prod's limits divided by 3", () => {
    const conf = nginxConf();
    expect(conf).toContain(`server ${HEADLESS}:8080 resolve max_fails=3 fail_timeout=30s;`);
    expect(conf).toContain("resolver kube-dns.kube-system.svc.cluster.local valid=5s;");
    expect(conf).toContain("zone=global:100m rate=20000r/m;");
    expect(conf).toContain("zone=trading:100m rate=2000r/m;");
    expect(conf).toContain("limit_conn perip 333;");
    expect(conf).toContain("limit_req zone=trading burst=33 nodelay;");
    expect(conf).toContain("pid /tmp/nginx/nginx.pid;");
});

test("pods roll when either rendered file changes; Prometheus finds the exporter", () => {
    const data = find(recorded, "kubernetes:core/v1:ConfigMap", "lb-config").inputs.data;
    const annotations = deployment().inputs.spec.template.metadata.annotations;
    expect(annotations["checksum/config"]).toBe(sha256([data["nginx.conf"], data["nginxlog-exporter.yaml"]].join("\u0000")));
    expect(annotations["prometheus.io/scrape"]).toBe("true");
    expect(annotations["prometheus.io/port"]).toBe("9113");
});

test("nginx runs non-root on a read-only root filesystem, writing only to an emptyDir", () => {
    expect(podSpec().securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 101 });
    const nginx = container("nginx");
    expect(nginx.image).toBe("nginx:1.28.0");
    expect(nginx.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(nginx.command).toEqual(["nginx", "-c", "/etc/nginx/prepx/nginx.conf"]);
    expect(nginx.ports).toEqual([{ name: "http", containerPort: 8080 }]);
    const run = nginx.volumeMounts.find((m: { mountPath: string }) => m.mountPath === "/tmp/nginx");
    expect(podSpec().volumes.find((v: { name: string }) => v.name === run.name).emptyDir).toBeDefined();
});

test("probes on /healthz; drain: preStop sleep then SIGQUIT, grace period above the proxy timeouts", () => {
    const nginx = container("nginx");
    expect(nginx.readinessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(nginx.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    const script: string = nginx.lifecycle.preStop.exec.command[2];
    expect(script).toMatch(/^sleep 10\n/);
    expect(script).toContain('kill -QUIT "$(cat /tmp/nginx/nginx.pid)"');
    const grace: number = podSpec().terminationGracePeriodSeconds;
    expect(grace).toBe(10 + 65 + 10);
    expect(grace).toBeGreaterThan(60 + 10);
    expect(nginxConf()).toContain("worker_shutdown_timeout 65s;");
});

test("two metrics sidecars: stub_status exporter and access-log exporter", () => {
    const exporter = container("exporter");
    expect(exporter.image).toBe("nginx/nginx-prometheus-exporter:1.4.1");
    expect(exporter.args).toContain("--nginx.scrape-uri=http://127.0.0.1:8081/stub_status");
    expect(exporter.ports).toEqual([{ name: "metrics", containerPort: 9113 }]);
    const logExporter = container("log-exporter");
    expect(logExporter.image).toBe("quay.io/martinhelmich/prometheus-nginxlog-exporter:v1.11.0");
    expect(logExporter.args).toEqual(["-config-file", "/etc/nginxlog-exporter/nginxlog-exporter.yaml"]);
    expect(logExporter.ports).toEqual([{ name: "metrics-log", containerPort: 4040 }]);
    expect(nginxConf()).toContain("access_log syslog:server=127.0.0.1:5531,tag=nginx prepx_metrics;");
    expect(tier.metricsPorts).toEqual({ stubStatus: 9113, accessLog: 4040 });
});

test("outputs: Service name, endpoint falling back to the in-cluster name, pod labels", async () => {
    expect(await valueOf(tier.serviceName)).toBe("lb");
    // Under mocks the Service has no load balancer status yet.
    expect(await valueOf(tier.endpoint)).toBe("lb.prepx.svc.cluster.local");
    expect(tier.podLabels).toEqual({
        "app.kubernetes.io/name": "nginx",
        "app.kubernetes.io/instance": "lb",
        "app.kubernetes.io/component": "load-balancer",
    });
    expect(tier.port).toBe(80);
});

describe("bad args are refused with a ResourceError naming the arg", () => {
    const cases: [string, () => Partial<typeof args>, RegExp][] = [
        ["replicas 0", () => ({ replicas: 0 }), /args\.replicas must be an integer of at least 1 \(got 0\)/],
        ["fractional replicas", () => ({ replicas: 2.5 }), /args\.replicas/],
        ["trading rate 0", () => ({ rateLimits: { ...args.rateLimits!, trading: { rate: 0 } } }), /args\.rateLimits\.trading\.rate/],
        ["zone size", () => ({ zoneSize: "100MB" }), /args\.zoneSize must be an nginx size/],
        ["negative burst", () => ({ burst: -1 }), /args\.burst/],
        ["upstream port", () => ({ upstream: { host: HEADLESS, port: 0 } }), /args\.upstream\.port/],
        ["upstream host", () => ({ upstream: { host: "not a host", port: 8080 } }), /args\.upstream\.host/],
        ["nginx without resolve", () => ({ image: "nginx:1.26.2" }), /args\.image must be nginx 1\.27\.3 or newer/],
        ["service type", () => ({ serviceType: "External" as never }), /args\.serviceType/],
        ["trading prefix", () => ({ tradingPathPrefix: "/api/" }), /args\.tradingPathPrefix/],
        ["proxy timeout", () => ({ proxy: { ...args.proxy!, readTimeoutSeconds: 0 } }), /args\.proxy\.readTimeoutSeconds/],
    ];
    test.each(cases)("%s", (label, override, message) => {
        let error: unknown;
        try {
            new lbModule.LoadBalancerTier(`bad-${label.replace(/\W+/g, "-")}`, { ...args, ...override() });
        } catch (caught) {
            error = caught;
        }
        expect(error).toBeInstanceOf(pulumi.ResourceError);
        expect((error as Error).message).toMatch(message);
    });
});
