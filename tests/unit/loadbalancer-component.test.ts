// LoadBalancerTier instantiated directly under mocks, with the prod and the dev stack's loadBalancer
// sections (and a ClusterIP variant of dev): the objects it creates and how they are wired, its
// outputs, and its argument errors. The shapes of the pod and the Service are tested on their
// builders (loadbalancer-specs.test.ts).
import * as pulumi from "@pulumi/pulumi";
// Types only: the module itself is imported after the mocks are installed.
import type * as LoadBalancerModule from "../../components/loadbalancer";
import type { LoadBalancerTier, LoadBalancerTierArgs } from "../../components/loadbalancer";
import { baselineViolations } from "../helpers/baseline";
import { find, installMocks, ofType, RecordedResource, settled, valueOf } from "../helpers/mocks";
import { configChecksumAnnotation, contentName } from "../../components/k8s";
import { resolvedUpstreamSchema } from "../../components/loadbalancer/args";
import { parseArgs } from "../../components/schema";
import { readStackConfig } from "../../scripts/stack-files";
import { loadBalancerTierArgs } from "../../stack-args";

let recorded: RecordedResource[];
let lbModule: typeof LoadBalancerModule;
let tier: LoadBalancerTier;
let devTier: LoadBalancerTier;
let devInternal: LoadBalancerTier;
let args: LoadBalancerTierArgs;

const HEADLESS = "api-gateway-headless.prepx.svc.cluster.local";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const CONFIG_MAP = "kubernetes:core/v1:ConfigMap";
const SERVICE = "kubernetes:core/v1:Service";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";
const CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate";

beforeAll(async () => {
    recorded = await installMocks("prod");
    lbModule = await import("../../components/loadbalancer");
    const { parseStackConfig } = await import("../../config");
    const config = parseStackConfig("prod", readStackConfig("prod"));
    args = loadBalancerTierArgs(config, config.namespace, HEADLESS);
    tier = new lbModule.LoadBalancerTier("lb", args);
    const dev = parseStackConfig("dev", readStackConfig("dev"));
    // The host arrives as an Output in the stack (from ServiceFleet); the component must accept one.
    const devHost = pulumi.interpolate`${dev.loadBalancer.upstreamService}-headless.${dev.namespace}.svc.cluster.local`;
    const devArgs = loadBalancerTierArgs(dev, dev.namespace, devHost);
    devTier = new lbModule.LoadBalancerTier("lb-dev", devArgs);
    devInternal = new lbModule.LoadBalancerTier("lb-dev-internal", { ...devArgs, serviceType: "ClusterIP" });
    await Promise.all([tier, devTier, devInternal].map((component) => valueOf(component.endpoint)));
    await settled(recorded);
});

const deployment = (name = "lb") => find(recorded, DEPLOYMENT, name);
const nginxConf = (name = "lb") => find(recorded, CONFIG_MAP, `${name}-config`).inputs.data["nginx.conf"] as string;

test("every workload meets the baseline", () => {
    expect(baselineViolations(recorded)).toEqual([]);
});

describe("prod", () => {
    test("one component, its children parented to it", () => {
        const component = find(recorded, "prepx:network:LoadBalancerTier", "lb");
        const children = recorded.filter((resource) => resource.parent === component.urn);
        expect(children.map((resource) => resource.type).sort()).toEqual([DEPLOYMENT, CERTIFICATE, CONFIG_MAP, SERVICE, "kubernetes:core/v1:ServiceAccount", PDB]);
    });

    test("8 nginx replicas (derived from prod's targets), rolling updates that never drop one first", () => {
        expect(deployment().inputs.spec.replicas).toBe(8);
        expect(deployment().inputs.spec.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    });

    test("a PodDisruptionBudget selects the nginx pods; the pods carry the selector", () => {
        const podLabels = deployment().inputs.spec.template.metadata.labels;
        const pdb = find(recorded, PDB, "lb");
        expect(pdb.inputs.spec.maxUnavailable).toBe(1);
        expect(pdb.inputs.spec.selector.matchLabels).toEqual(tier.podLabels);
        for (const [key, value] of Object.entries(tier.podLabels)) expect(podLabels[key]).toBe(value);
        expect(deployment().inputs.spec.selector.matchLabels).toEqual(tier.podLabels);
    });

    test("the Service selects the nginx pods on the plain HTTP and HTTPS ports", () => {
        const service = find(recorded, SERVICE, "lb");
        expect(service.inputs.metadata).not.toHaveProperty("annotations");
        expect(service.inputs.spec).toMatchObject({ type: "LoadBalancer", externalTrafficPolicy: "Local", sessionAffinity: "ClientIP", selector: tier.podLabels });
        expect(service.inputs.spec.ports).toEqual([
            { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
            { name: "https", port: 443, targetPort: "https", protocol: "TCP" },
        ]);
    });

    test("cert-manager issues prod's certificate into the Secret the pods mount; the pods mount no API token", async () => {
        const certificate = find(recorded, CERTIFICATE, "lb-tls").inputs;
        expect(certificate.metadata).toMatchObject({ name: "lb-tls", namespace: "prepx" });
        expect(certificate.spec).toMatchObject({ dnsNames: ["api.prepx.example.com"], issuerRef: { name: "letsencrypt-prod", kind: "ClusterIssuer", group: "cert-manager.io" } });
        const spec = deployment().inputs.spec.template.spec;
        const tlsVolume = spec.volumes.find((volume: { name: string }) => volume.name === "tls");
        expect(tlsVolume.secret).toMatchObject({ secretName: certificate.spec.secretName, defaultMode: 0o440 });
        expect(await valueOf(tier.tlsSecretName)).toBe(certificate.spec.secretName);
        expect(spec.automountServiceAccountToken).toBe(false);
        expect(nginxConf()).toContain("ssl_certificate /etc/nginx/tls/tls.crt;");
    });

    test("nginx.conf re-resolves the gateways' headless Service and carries prod's whole per-client limits (ClientIP affinity)", () => {
        const conf = nginxConf();
        expect(conf).toContain(`server ${HEADLESS}:8080 resolve max_fails=3 fail_timeout=30s;`);
        expect(conf).toContain("resolver kube-dns.kube-system.svc.cluster.local valid=5s;");
        expect(conf).toContain("zone=global:100m rate=1000r/s;");
        expect(conf).toContain("zone=trading:100m rate=100r/s;");
        expect(conf).toContain("limit_conn perip 1000;");
        expect(conf).toContain("limit_req zone=trading burst=100 nodelay;");
        expect(conf).toContain("pid /tmp/nginx/nginx.pid;");
    });

    test("pods roll when either rendered file changes; Prometheus finds the exporter", async () => {
        const data = find(recorded, CONFIG_MAP, "lb-config").inputs.data;
        const annotations = deployment().inputs.spec.template.metadata.annotations;
        expect(annotations).toMatchObject(await valueOf(configChecksumAnnotation(data["nginx.conf"], data["nginxlog-exporter.yaml"])));
        expect(annotations["prometheus.io/scrape"]).toBe("true");
        expect(annotations["prometheus.io/port"]).toBe("9113");
    });

    test("the pod mounts the ConfigMap the component created; the conf drains as long as the grace period allows", () => {
        const spec = deployment().inputs.spec.template.spec;
        const fromConfigMap = spec.volumes.filter((v: { configMap?: unknown }) => v.configMap);
        // nginx.conf and the log exporter's config: a loop over no volume would prove nothing.
        expect(fromConfigMap).toHaveLength(2);
        const configMap = find(recorded, CONFIG_MAP, "lb-config").inputs;
        // Named after its content: a config change is a new ConfigMap, created before the pods move to it.
        expect(configMap.metadata.name).toBe(contentName("lb-config", configMap.data));
        expect(configMap.metadata.name).toMatch(/^lb-config-[0-9a-f]{10}$/);
        for (const volume of fromConfigMap) expect(volume.configMap.name).toBe(configMap.metadata.name);
        expect(nginxConf()).toContain("worker_shutdown_timeout 65s;");
        expect(spec.terminationGracePeriodSeconds).toBe(10 + 65 + 10);
        expect(nginxConf()).toContain("access_log syslog:server=127.0.0.1:5531,tag=nginx prepx_metrics;");
    });

    test("metrics: both exporters' ports on the nginx pods", () => {
        expect(tier.metricsPorts).toEqual({ stubStatus: 9113, accessLog: 4040 });
        expect(tier.metricsTargets).toEqual([{ name: "loadbalancer", labels: tier.podLabels, ports: [9113, 4040] }]);
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
        expect([tier.port, tier.httpPort]).toEqual([443, 80]);
        expect(tier.containerPorts).toEqual([8080, 8443]);
    });
});

describe("dev: one replica, NodePort, limits undivided; a ClusterIP variant", () => {
    test("one replica and no PodDisruptionBudget (it could only block node drains)", () => {
        expect(deployment("lb-dev").inputs.spec.replicas).toBe(1);
        expect(ofType(recorded, PDB).map((pdb) => pdb.name)).toEqual(["lb"]);
    });

    test("NodePort keeps externalTrafficPolicy; ClusterIP gets none (Kubernetes rejects it there)", () => {
        expect(find(recorded, SERVICE, "lb-dev").inputs.spec).toMatchObject({ type: "NodePort", externalTrafficPolicy: "Local" });
        const internal = find(recorded, SERVICE, "lb-dev-internal").inputs.spec;
        expect(internal.type).toBe("ClusterIP");
        expect(internal).not.toHaveProperty("externalTrafficPolicy");
    });

    test("dev's limits are used undivided; the Output host is rendered", () => {
        const conf = nginxConf("lb-dev");
        expect(conf).toContain("limit_req_zone $binary_remote_addr zone=global:10m rate=100r/s;");
        expect(conf).toContain("limit_req_zone $binary_remote_addr zone=api:10m rate=50r/s;");
        expect(conf).toContain("limit_req_zone $binary_remote_addr zone=trading:10m rate=10r/s;");
        expect(conf).toContain("limit_req zone=trading burst=20 nodelay;");
        expect(conf).toContain("limit_conn perip 100;");
        expect(conf).toContain("worker_connections 1024;");
        expect(conf).toContain("keepalive 8;");
        expect(conf).toContain("server api-gateway-headless.prepx-dev.svc.cluster.local:8080 resolve max_fails=3 fail_timeout=30s;");
    });

    test("no cert-manager: the existing Secret named after the component, no Certificate", async () => {
        expect(ofType(recorded, CERTIFICATE).map((certificate) => certificate.name)).toEqual(["lb-tls"]);
        const tlsVolume = deployment("lb-dev").inputs.spec.template.spec.volumes.find((volume: { name: string }) => volume.name === "tls");
        expect(tlsVolume.secret.secretName).toBe("lb-dev-tls");
        expect(await valueOf(devTier.tlsSecretName)).toBe("lb-dev-tls");
        expect(nginxConf("lb-dev")).toContain("ssl_session_cache shared:TLS:1m;");
    });

    test("endpoints fall back to the in-cluster DNS names", async () => {
        expect(await valueOf(devTier.endpoint)).toBe("lb-dev.prepx-dev.svc.cluster.local");
        expect(await valueOf(devInternal.endpoint)).toBe("lb-dev-internal.prepx-dev.svc.cluster.local");
        expect(await valueOf(devInternal.serviceName)).toBe("lb-dev-internal");
    });

    test("the checksum depends on the rendered files only: same files, same checksum", () => {
        const checksum = (name: string): string => deployment(name).inputs.spec.template.metadata.annotations["checksum/config"];
        // Same args except the Service type, which is not in the rendered files: same checksum.
        expect(nginxConf("lb-dev")).toBe(nginxConf("lb-dev-internal"));
        expect(checksum("lb-dev")).toBe(checksum("lb-dev-internal"));
        expect(checksum("lb-dev")).toMatch(/^[0-9a-f]{64}$/);
        expect(checksum("lb-dev")).not.toBe(checksum("lb"));
    });
});

describe("bad args are refused with one ResourceError listing every problem", () => {
    const refusal = (name: string, badArgs: unknown): string => {
        let error: unknown;
        try {
            new lbModule.LoadBalancerTier(name, badArgs as typeof args);
        } catch (caught) {
            error = caught;
        }
        expect(error).toBeInstanceOf(pulumi.ResourceError);
        return (error as Error).message;
    };
    const cases: [string, () => object, string][] = [
        ["replicas 0", () => ({ replicas: 0 }), "replicas must be at least 1 (got 0)"],
        ["fractional replicas", () => ({ replicas: 2.5 }), "replicas must be a whole number (got 2.5)"],
        ["trading rate 0", () => ({ rateLimits: { ...args.rateLimits, trading: { rate: 0 } } }), "rateLimits.trading.rate must be at least 1 (got 0)"],
        ["zone size", () => ({ zoneSize: "100MB" }), 'zoneSize must be an nginx size such as 10m (got "100MB")'],
        ["negative burst", () => ({ burst: -1 }), "burst must be at least 0 (got -1)"],
        ["upstream port", () => ({ upstream: { host: HEADLESS, port: 0 } }), "upstream.port must be at least 1 (got 0)"],
        ["upstream host", () => ({ upstream: { host: "not a host", port: 8080 } }), 'upstream.host must be a DNS name (got "not a host")'],
        ["nginx without resolve", () => ({ image: "nginx:1.26.2" }), 'image must be nginx 1.27.3 or newer (open-source `server ... resolve`) (got "nginx:1.26.2")'],
        ["service type", () => ({ serviceType: "External" }), 'serviceType must be one of "LoadBalancer", "NodePort", "ClusterIP" (got "External")'],
        ["api prefix", () => ({ apiPathPrefix: "api" }), 'apiPathPrefix must be a path starting and ending with / (got "api")'],
        ["trading prefix", () => ({ tradingPathPrefix: "/api/" }), 'tradingPathPrefix must differ from apiPathPrefix (/api/) (got "/api/")'],
        ["resolver", () => ({ resolver: "kube dns" }), 'resolver must be a DNS name or IPv4 address (got "kube dns")'],
        ["proxy timeout", () => ({ proxy: { ...args.proxy, readTimeoutSeconds: 0 } }), "proxy.readTimeoutSeconds must be at least 1 (got 0)"],
        ["TLS on the HTTP port", () => ({ tls: { servicePort: 80 } }), "tls.servicePort must differ from servicePort (80), which redirects to it (got 80)"],
        ["trusted proxy", () => ({ trustedProxies: ["10.0.0.0/33"] }), 'trustedProxies[0] must be an IPv4 CIDR such as 10.0.0.0/8 (got "10.0.0.0/33")'],
        ["body size", () => ({ client: { maxBodySize: "1g" } }), 'client.maxBodySize must be an nginx size such as 10m or 512k (got "1g")'],
        ["misspelt key", () => ({ replcas: 3 }), "replcas is not a known key (got 3)"],
        ["misspelt nested key", () => ({ proxy: { ...args.proxy, readTimeout: 30 } }), "proxy.readTimeout is not a known key (got 30)"],
    ];
    test.each(cases)("%s", (label, override, problem) => {
        const name = `bad-${label.replace(/\W+/g, "-")}`;
        expect(refusal(name, { ...args, ...override() })).toBe(`LoadBalancerTier ${name}: ${problem}`);
    });

    test("a missing upstream", () => {
        const { upstream: _ignored, ...withoutUpstream } = args;
        expect(refusal("no-upstream", withoutUpstream)).toBe("LoadBalancerTier no-upstream: upstream must be an object (got nothing)");
    });

    test("several problems at once, one line each; the cross-field rule waits until the fields are valid", () => {
        expect(refusal("many", { ...args, replicas: 0, zoneSize: "100MB", replcas: 3, tradingPathPrefix: "/api/" })).toBe(
            [
                "LoadBalancerTier many: replicas must be at least 1 (got 0)",
                'LoadBalancerTier many: zoneSize must be an nginx size such as 10m (got "100MB")',
                "LoadBalancerTier many: replcas is not a known key (got 3)",
            ].join("\n"),
        );
    });

    test("an Output host is checked once resolved, in the same format", () => {
        const component = new pulumi.ComponentResource("test:index:Probe", "probe");
        expect(() => parseArgs(resolvedUpstreamSchema, { upstream: { host: "not a host" } }, component, "LoadBalancerTier", "lb")).toThrow(
            new pulumi.ResourceError('LoadBalancerTier lb: upstream.host must be a DNS name (got "not a host")', component),
        );
        expect(parseArgs(resolvedUpstreamSchema, { upstream: { host: HEADLESS } }, component, "LoadBalancerTier", "lb").upstream.host).toBe(HEADLESS);
    });
});
