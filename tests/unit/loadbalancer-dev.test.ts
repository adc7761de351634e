// LoadBalancerTier instantiated directly under mocks with the dev stack's loadBalancer section:
// one replica (no PDB), NodePort, limits undivided; plus a ClusterIP variant.
import * as pulumi from "@pulumi/pulumi";
import { baselineViolations } from "../helpers/baseline";
import { find, installMocks, ofType, RecordedResource, settled, valueOf } from "../helpers/mocks";
import { readStackConfig } from "../../scripts/stack-files";
import { loadBalancerTierArgs } from "../../stack-args";

/* eslint-disable @typescript-eslint/consistent-type-imports -- modules are imported after setMocks */
let recorded: RecordedResource[];
let lbModule: typeof import("../../components/loadbalancer");
let tier: import("../../components/loadbalancer").LoadBalancerTier;
let internal: import("../../components/loadbalancer").LoadBalancerTier;
let args: import("../../components/loadbalancer").LoadBalancerTierArgs;
/* eslint-enable @typescript-eslint/consistent-type-imports */

beforeAll(async () => {
    recorded = await installMocks("dev");
    lbModule = await import("../../components/loadbalancer");
    const { parseStackConfig } = await import("../../config");
    const config = parseStackConfig("dev", readStackConfig("dev"));
    // The host arrives as an Output in the stack (from ServiceFleet); the component must accept one.
    const host = pulumi.interpolate`${config.loadBalancer.upstreamService}-headless.${config.namespace}.svc.cluster.local`;
    args = loadBalancerTierArgs(config, config.namespace, host);
    tier = new lbModule.LoadBalancerTier("lb", args);
    internal = new lbModule.LoadBalancerTier("lb-internal", { ...args, serviceType: "ClusterIP" });
    await Promise.all([valueOf(tier.endpoint), valueOf(internal.endpoint)]);
    await settled(recorded);
});

test("every workload meets the baseline", () => {
    expect(baselineViolations(recorded)).toEqual([]);
});

test("one replica, no PodDisruptionBudget (it could only block node drains), still spread", () => {
    const deployment = find(recorded, "kubernetes:apps/v1:Deployment", "lb");
    expect(deployment.inputs.spec.replicas).toBe(1);
    expect(ofType(recorded, "kubernetes:policy/v1:PodDisruptionBudget")).toEqual([]);
    expect(deployment.inputs.spec.template.spec.topologySpreadConstraints.length).toBeGreaterThan(0);
    expect(deployment.inputs.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
});

test("dev's small resources reach the containers", () => {
    const containers = find(recorded, "kubernetes:apps/v1:Deployment", "lb").inputs.spec.template.spec.containers;
    const nginx = containers.find((c: { name: string }) => c.name === "nginx");
    expect(nginx.resources).toEqual({ requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "128Mi" } });
    for (const sidecar of containers.filter((c: { name: string }) => c.name !== "nginx")) {
        expect(sidecar.resources).toEqual({ requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "100m", memory: "32Mi" } });
    }
});

test("NodePort Service with externalTrafficPolicy Local", () => {
    const service = find(recorded, "kubernetes:core/v1:Service", "lb");
    expect(service.inputs.spec.type).toBe("NodePort");
    expect(service.inputs.spec.externalTrafficPolicy).toBe("Local");
});

test("ClusterIP Service gets no externalTrafficPolicy (Kubernetes rejects it there)", () => {
    const service = find(recorded, "kubernetes:core/v1:Service", "lb-internal");
    expect(service.inputs.spec.type).toBe("ClusterIP");
    expect(service.inputs.spec).not.toHaveProperty("externalTrafficPolicy");
});

test("one replica: dev's limits are used undivided; the Output host is rendered", () => {
    const conf: string = find(recorded, "kubernetes:core/v1:ConfigMap", "lb-config").inputs.data["nginx.conf"];
    expect(conf).toContain("limit_req_zone $binary_remote_addr zone=global:10m rate=100r/s;");
    expect(conf).toContain("limit_req_zone $binary_remote_addr zone=api:10m rate=50r/s;");
    expect(conf).toContain("limit_req_zone $binary_remote_addr zone=trading:10m rate=10r/s;");
    expect(conf).toContain("limit_req zone=trading burst=20 nodelay;");
    expect(conf).toContain("limit_conn perip 100;");
    expect(conf).toContain("worker_connections 1024;");
    expect(conf).toContain("keepalive 8;");
    expect(conf).toContain("server api-gateway-headless.prepx-dev.svc.cluster.local:8080 resolve max_fails=3 fail_timeout=30s;");
});

test("endpoints fall back to the in-cluster DNS names", async () => {
    expect(await valueOf(tier.endpoint)).toBe("lb.prepx-dev.svc.cluster.local");
    expect(await valueOf(internal.endpoint)).toBe("lb-internal.prepx-dev.svc.cluster.local");
    expect(await valueOf(internal.serviceName)).toBe("lb-internal");
});

test("the checksum depends on the rendered files only: same files, same checksum", () => {
    const checksum = (name: string): string =>
        find(recorded, "kubernetes:apps/v1:Deployment", name).inputs.spec.template.metadata.annotations["checksum/config"];
    const conf = (name: string): string => find(recorded, "kubernetes:core/v1:ConfigMap", `${name}-config`).inputs.data["nginx.conf"];
    // Same args except the Service type, which is not in the rendered files: same checksum.
    expect(conf("lb")).toBe(conf("lb-internal"));
    expect(checksum("lb")).toBe(checksum("lb-internal"));
    expect(checksum("lb")).toMatch(/^[0-9a-f]{64}$/);
});

test("a missing upstream is refused with a ResourceError naming the arg", () => {
    const { upstream: _ignored, ...withoutUpstream } = args;
    expect(() => new lbModule.LoadBalancerTier("no-upstream", withoutUpstream as typeof args)).toThrow(pulumi.ResourceError);
    expect(() => new lbModule.LoadBalancerTier("no-upstream-2", withoutUpstream as typeof args)).toThrow(/args\.upstream must be/);
});
