// The load balancer tier's args schema and pure spec builders, called directly (no Pulumi mocks):
// the defaults, the mapping to nginx.conf's options, the nginx pod (containers, probes, volumes,
// stop sequence), the Deployment, the Service and the cert-manager Certificate.
import { CLOUD_LOAD_BALANCER_ANNOTATIONS, concurrentRequestsFor, loadBalancerSettingsSchema, checkLoadBalancerSettings, loadBalancerTierArgsSchema, ResolvedLoadBalancerTierArgs, upstreamKeepalive } from "../../components/loadbalancer/args";
import {
    CERTIFICATE_CHECK_SECONDS,
    edgeCertificate,
    GRACE_MARGIN_SECONDS,
    nginxConfOptions,
    nginxContainer,
    nginxDeploymentSpec,
    nginxPodContainers,
    nginxPodSpec,
    nginxPodVolumes,
    nginxService,
    nginxStartScript,
    preStopScript,
    terminationGracePeriodSeconds,
    tlsSecretName,
} from "../../components/loadbalancer/specs";
import { formatIssues } from "../../components/schema";
import { parseStackConfig } from "../../config";
import { readStackConfig } from "../../scripts/stack-files";
import { loadBalancerTierArgs } from "../../stack-args";

const HEADLESS = "api-gateway-headless.prepx.svc.cluster.local";
const UPSTREAM = { host: HEADLESS, port: 8080 };

/** A stack's LoadBalancerTier args as the component resolves them. */
function stackArgs(stack: "dev" | "prod"): ResolvedLoadBalancerTierArgs {
    const config = parseStackConfig(stack, readStackConfig(stack));
    return loadBalancerTierArgsSchema.parse(loadBalancerTierArgs(config, config.namespace, HEADLESS));
}

const prod = stackArgs("prod");
const dev = stackArgs("dev");
const selector = { "app.kubernetes.io/name": "nginx", "app.kubernetes.io/instance": "lb", "app.kubernetes.io/component": "load-balancer" };
const labels = { ...selector, "app.kubernetes.io/part-of": "prepx", "app.kubernetes.io/managed-by": "pulumi" };

describe("args", () => {
    test("the defaults are the prod shape: prod's stack section only restates them (the pull Secrets and the certificate's names are the stack's, the replicas derived from its targets)", () => {
        const { certManager, ...tlsDefaults } = prod.tls;
        expect(loadBalancerTierArgsSchema.parse({ namespace: "prepx", upstream: UPSTREAM })).toEqual({ ...prod, imagePullSecrets: [], tls: tlsDefaults, replicas: 3 });
        expect(prod.replicas).toBe(8);
        expect(prod.imagePullSecrets).toEqual(["ghcr-pull"]);
        // prod names its public host; the issuer is the default's.
        expect(certManager).toEqual({ dnsNames: ["api.prepx.example.com"], issuerRef: { name: "letsencrypt-prod", kind: "ClusterIssuer", group: "cert-manager.io" } });
    });

    test("TLS, client and real_ip defaults: HTTPS on 443, a year of HSTS, an existing Secret unless cert-manager is asked, tight client timeouts, no trusted balancer", () => {
        const args = loadBalancerTierArgsSchema.parse({ namespace: "prepx", upstream: UPSTREAM });
        expect(args.tls).toEqual({ servicePort: 443, hstsMaxAgeSeconds: 31536000, sessionCacheSize: "20m" });
        expect(args.client).toEqual({ headerTimeoutSeconds: 10, bodyTimeoutSeconds: 10, sendTimeoutSeconds: 10, keepaliveTimeoutSeconds: 20, maxBodySize: "1m" });
        expect(args.trustedProxies).toEqual([]);
        expect(dev.tls).toEqual({ servicePort: 443, hstsMaxAgeSeconds: 31536000, sessionCacheSize: "1m" });
    });

    test("TLS and real_ip settings are checked", () => {
        const problemsOf = (args: Record<string, unknown>) => {
            const result = loadBalancerTierArgsSchema.safeParse({ namespace: "n", upstream: UPSTREAM, ...args });
            return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
        };
        expect(problemsOf({ tls: { servicePort: 80 } })).toEqual(["tls.servicePort: must differ from servicePort (80), which redirects to it"]);
        expect(problemsOf({ tls: { certManager: { dnsNames: [] } } })).toEqual(["tls.certManager.dnsNames: Too small: expected array to have >=1 items"]);
        expect(problemsOf({ tls: { certManager: { dnsNames: ["api example"] } } })).toEqual(["tls.certManager.dnsNames.0: a DNS name"]);
        expect(problemsOf({ tls: { certManager: { dnsNames: ["a.example"], issuerRef: { kind: "CA" } } } })[0]).toMatch(/^tls\.certManager\.issuerRef\.kind: /);
        expect(problemsOf({ tls: { secretName: "Edge_TLS" } })[0]).toMatch(/^tls\.secretName: a DNS label/);
        expect(problemsOf({ trustedProxies: ["10.0.0.0/8", "10.0.0.300/32", "10.0.0.0"] })).toEqual(["trustedProxies.1: an IPv4 CIDR such as 10.0.0.0/8", "trustedProxies.2: an IPv4 CIDR such as 10.0.0.0/8"]);
        expect(problemsOf({ client: { maxBodySize: "0" } })).toEqual(["client.maxBodySize: an nginx size such as 10m or 512k"]);
        expect(problemsOf({ client: { headerTimeoutSeconds: 0 } })[0]).toMatch(/^client\.headerTimeoutSeconds: /);
    });

    test("nested defaults apply field by field", () => {
        const args = loadBalancerTierArgsSchema.parse({ namespace: "prepx", upstream: UPSTREAM, proxy: { readTimeoutSeconds: 30 }, rateLimits: { api: { rate: 7 } } });
        expect(args.proxy).toEqual({ ...prod.proxy, readTimeoutSeconds: 30 });
        expect(args.rateLimits).toEqual({ global: { rate: 1000 }, api: { rate: 7 }, trading: { rate: 100 } });
    });

    test("the resolver defaults to kube-dns of the cluster domain; a given one is kept", () => {
        const parse = (extra: object) => loadBalancerTierArgsSchema.parse({ namespace: "prepx", upstream: UPSTREAM, ...extra }).resolver;
        expect(parse({})).toBe("kube-dns.kube-system.svc.cluster.local");
        expect(parse({ clusterDomain: "corp.example" })).toBe("kube-dns.kube-system.svc.corp.example");
        expect(parse({ resolver: "10.96.0.10:53" })).toBe("10.96.0.10:53");
    });

    test("nginx images: open-source `resolve` needs 1.27.3; a tag without a version or a digest is taken as is", () => {
        const problems = (image: string) => loadBalancerTierArgsSchema.safeParse({ namespace: "prepx", upstream: UPSTREAM, image }).error?.issues.map((issue) => issue.message) ?? [];
        for (const image of ["nginx:1.27.3", "nginx:1.28.0", "nginxinc/nginx-unprivileged:1.28.0-alpine", "registry.example/edge:stable-2", `nginx@sha256:${"a".repeat(64)}`]) {
            expect([image, problems(image)]).toEqual([image, []]);
        }
        for (const image of ["nginx:1.27.2", "nginx:1.26.3-alpine"]) {
            expect(problems(image)).toEqual(["must be nginx 1.27.3 or newer (open-source `server ... resolve`)"]);
        }
    });

    test("worker_rlimit_nofile covers twice worker_connections; the keepalive cache at most half of them", () => {
        const problemsOf = (args: Record<string, unknown>) => {
            const result = loadBalancerTierArgsSchema.safeParse({ namespace: "n", upstream: { host: "gw.example", port: 8080 }, ...args });
            return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
        };
        expect(problemsOf({ workerConnections: 8192, workerRlimitNofile: 10000 })).toEqual(["workerRlimitNofile: must be at least 2 x workerConnections (16384)"]);
        expect(problemsOf({ workerConnections: 1024, workerRlimitNofile: 4096, upstreamKeepalive: 600 })).toEqual([
            "upstreamKeepalive: gives 600 idle upstream connections per worker, more than half of workerConnections (1024): add replicas or CPU, or raise workerConnections",
        ]);
        expect(problemsOf({ workerConnections: 1024, workerRlimitNofile: 4096, replicas: 1, concurrentRequests: 8000 })[0]).toMatch(/^concurrentRequests: gives 2000 idle upstream connections per worker/);
        expect(problemsOf({})).toEqual([]);
    });

    test("limit_conn per instance stays within nginx's 65535: all of limitConn with clientAffinity, a share without", () => {
        const problemsOf = (args: Record<string, unknown>) => {
            const result = loadBalancerTierArgsSchema.safeParse({ namespace: "n", upstream: { host: "gw.example", port: 8080 }, ...args });
            return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
        };
        expect(problemsOf({ limitConn: 100_000 })).toEqual([
            "limitConn: gives each nginx instance limit_conn 100000, above nginx's maximum 65535 (with clientAffinity every instance enforces the whole limit)",
        ]);
        expect(problemsOf({ limitConn: 100_000, clientAffinity: false, replicas: 3 })).toEqual([]);
        expect(problemsOf({ limitConn: 200_000, clientAffinity: false, replicas: 3 })).toEqual(["limitConn: gives each nginx instance limit_conn 66666, above nginx's maximum 65535"]);
        expect(problemsOf({ limitConn: 65_535 })).toEqual([]);
    });

    test("the stack sizes the keepalive from its targets (Little's law), or takes the stack's own number", () => {
        expect(concurrentRequestsFor({ requestsPerSecond: 100000, p95LatencyMs: 100 })).toBe(10000);
        expect(concurrentRequestsFor({ requestsPerSecond: 100, p95LatencyMs: 100 })).toBe(10);
        expect(prod.concurrentRequests).toBe(10000);
        expect(upstreamKeepalive({ ...prod, upstreamKeepalive: 8 })).toBe(8);
        expect(stackArgs("dev").upstreamKeepalive).toBe(8);
    });

    test("the settings' cross-field rule, as config.ts composes it", () => {
        const section = { apiPathPrefix: "/v1/", tradingPathPrefix: "/v1/" };
        const result = loadBalancerSettingsSchema.superRefine(checkLoadBalancerSettings).safeParse(section);
        expect(result.success).toBe(false);
        expect(formatIssues("prod: loadBalancer", section, result.error!.issues)).toEqual(['prod: loadBalancer: tradingPathPrefix must differ from apiPathPrefix (/v1/) (got "/v1/")']);
    });
});

describe("nginxConfOptions", () => {
    test("prod: the args, the pod's ports and paths, the drain as shutdown timeout", () => {
        expect(nginxConfOptions(prod, HEADLESS)).toEqual({
            replicas: 8,
            clientAffinity: true,
            workerProcesses: 4,
            workerConnections: 8192,
            workerRlimitNofile: 65535,
            rateLimits: { global: 1000, api: 500, trading: 100 },
            burst: 100,
            limitConn: 1000,
            zoneSize: "100m",
            upstream: { kind: "resolve", host: HEADLESS, port: 8080, resolver: "kube-dns.kube-system.svc.cluster.local", resolverValidSeconds: 5 },
            upstreamKeepalive: 313,
            upstreamKeepaliveRequests: 10000,
            upstreamKeepaliveTimeoutSeconds: 4,
            maxFails: 3,
            failTimeoutSeconds: 30,
            proxy: { connectTimeoutSeconds: 5, sendTimeoutSeconds: 60, readTimeoutSeconds: 60, nextUpstreamTries: 3, nextUpstreamTimeoutSeconds: 10 },
            listenPort: 8080,
            tls: {
                listenPort: 8443,
                certificateFile: "/etc/nginx/tls/tls.crt",
                keyFile: "/etc/nginx/tls/tls.key",
                publicPort: 443,
                hstsMaxAgeSeconds: 31536000,
                sessionCacheSize: "20m",
            },
            client: { headerTimeoutSeconds: 10, bodyTimeoutSeconds: 10, sendTimeoutSeconds: 10, keepaliveTimeoutSeconds: 20, maxBodySize: "1m" },
            trustedProxies: [],
            statusPort: 8081,
            paths: { pidFile: "/tmp/nginx/nginx.pid", tempDir: "/tmp/nginx", errorLog: "stderr" },
            accessLogSyslog: "127.0.0.1:5531",
            apiPathPrefix: "/api/",
            tradingPathPrefix: "/api/trading/",
            shutdownTimeoutSeconds: 65,
        });
    });

    test("the host given, not the args' (an Output in the stack), is rendered", () => {
        expect(nginxConfOptions(prod, "other.example").upstream).toMatchObject({ kind: "resolve", host: "other.example" });
    });
});

describe("stop sequence", () => {
    test("sleep, SIGQUIT to the master, wait for its pid file to go, bounded by the drain", () => {
        expect(preStopScript(prod)).toBe(
            ["sleep 10", 'kill -QUIT "$(cat /tmp/nginx/nginx.pid)"', 'i=0; while [ -f /tmp/nginx/nginx.pid ] && [ "$i" -lt 65 ]; do sleep 1; i=$((i+1)); done'].join("\n"),
        );
    });

    test("the grace period covers the delay, the longest proxied request and a margin", () => {
        expect(terminationGracePeriodSeconds(prod)).toBe(10 + 65 + GRACE_MARGIN_SECONDS);
        const slow = { preStopDelaySeconds: 0, proxy: { ...prod.proxy, connectTimeoutSeconds: 10, sendTimeoutSeconds: 300 } };
        expect(terminationGracePeriodSeconds(slow)).toBe(310 + GRACE_MARGIN_SECONDS);
    });
});

describe("nginx pod", () => {
    const containers = nginxPodContainers(prod);
    const byName = (name: string) => containers.find((container) => container.name === name)!;

    test("nginx: non-root on a read-only root, started by the script that reloads it on a new certificate, probes on /healthz (plain HTTP), the preStop", () => {
        expect(nginxContainer(prod)).toEqual({
            name: "nginx",
            image: "nginx:1.28.0",
            imagePullPolicy: "IfNotPresent",
            command: ["sh", "-c", nginxStartScript()],
            ports: [
                { name: "http", containerPort: 8080 },
                { name: "https", containerPort: 8443 },
            ],
            resources: { requests: { cpu: "2", memory: "1Gi", "ephemeral-storage": "64Mi" }, limits: { cpu: "4", memory: "2Gi", "ephemeral-storage": "2Gi" } },
            securityContext: {
                runAsNonRoot: true,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
            },
            readinessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 },
            livenessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
            lifecycle: { preStop: { exec: { command: ["sh", "-c", preStopScript(prod)] } } },
            volumeMounts: [
                { name: "config", mountPath: "/etc/nginx/prepx", readOnly: true },
                { name: "tls", mountPath: "/etc/nginx/tls", readOnly: true },
                { name: "run", mountPath: "/tmp/nginx" },
            ],
        });
    });

    test("the start script runs nginx on its config and watches the mounted certificate and key every minute", () => {
        const script = nginxStartScript();
        expect(script).toContain("'nginx' '-c' '/etc/nginx/prepx/nginx.conf' &");
        expect(script).toContain("cat '/etc/nginx/tls/tls.crt' '/etc/nginx/tls/tls.key'");
        expect(script).toContain(`sleep ${CERTIFICATE_CHECK_SECONDS}\n`);
        expect(CERTIFICATE_CHECK_SECONDS).toBe(60);
    });

    test("two metrics sidecars: stub_status exporter and access-log exporter, probed on their metrics ports", () => {
        expect(containers.map((container) => container.name)).toEqual(["nginx", "exporter", "log-exporter"]);
        const exporter = byName("exporter");
        expect(exporter.image).toBe("nginx/nginx-prometheus-exporter:1.4.1");
        expect(exporter.args).toEqual(["--nginx.scrape-uri=http://127.0.0.1:8081/stub_status", "--web.listen-address=:9113"]);
        expect(exporter.ports).toEqual([{ name: "metrics", containerPort: 9113 }]);
        expect(exporter.readinessProbe).toEqual({ httpGet: { path: "/metrics", port: "metrics" }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 });
        expect(exporter.livenessProbe).toEqual({ httpGet: { path: "/metrics", port: "metrics" }, periodSeconds: 20, timeoutSeconds: 3, failureThreshold: 3 });
        const logExporter = byName("log-exporter");
        expect(logExporter.image).toBe("quay.io/martinhelmich/prometheus-nginxlog-exporter:v1.11.0");
        expect(logExporter.args).toEqual(["-config-file", "/etc/nginxlog-exporter/nginxlog-exporter.yaml"]);
        expect(logExporter.ports).toEqual([{ name: "metrics-log", containerPort: 4040 }]);
        expect(logExporter.readinessProbe).toMatchObject({ httpGet: { path: "/metrics", port: "metrics-log" } });
        expect(logExporter.volumeMounts).toEqual([{ name: "log-exporter-config", mountPath: "/etc/nginxlog-exporter", readOnly: true }]);
        for (const sidecar of [exporter, logExporter]) expect(sidecar.securityContext).toEqual(byName("nginx").securityContext);
    });

    test("dev's small resources reach nginx and both sidecars", () => {
        const [nginx, ...sidecars] = nginxPodContainers(dev);
        expect(nginx.resources).toEqual({ requests: { cpu: "50m", memory: "64Mi", "ephemeral-storage": "64Mi" }, limits: { cpu: "500m", memory: "128Mi", "ephemeral-storage": "2Gi" } });
        for (const sidecar of sidecars) expect(sidecar.resources).toEqual({ requests: { cpu: "10m", memory: "16Mi", "ephemeral-storage": "64Mi" }, limits: { cpu: "100m", memory: "32Mi", "ephemeral-storage": "2Gi" } });
    });

    test("volumes: each file of the ConfigMap where its container reads it, the certificate and key readable by nginx's group only, an emptyDir for the run directory", () => {
        expect(nginxPodVolumes("lb-config", "lb-tls")).toEqual([
            { name: "config", configMap: { name: "lb-config", items: [{ key: "nginx.conf", path: "nginx.conf" }] } },
            { name: "log-exporter-config", configMap: { name: "lb-config", items: [{ key: "nginxlog-exporter.yaml", path: "nginxlog-exporter.yaml" }] } },
            {
                name: "tls",
                secret: {
                    secretName: "lb-tls",
                    defaultMode: 0o440,
                    items: [
                        { key: "tls.crt", path: "tls.crt" },
                        { key: "tls.key", path: "tls.key" },
                    ],
                },
            },
            { name: "run", emptyDir: { sizeLimit: "64Mi" } },
        ]);
        // Only the sidecars' own files: neither exporter mounts the key.
        for (const sidecar of nginxPodContainers(prod).slice(1)) expect(JSON.stringify(sidecar.volumeMounts ?? [])).not.toContain('"tls"');
    });

    test("pod: runs as nginx's uid, spread across the nodes it may run on, every mount backed by a volume", () => {
        const spec = nginxPodSpec(prod, selector, { configMapName: "lb-config", serviceAccountName: "lb", tlsSecretName: "lb-tls" });
        // Through its ServiceAccount the pod gets the stack's image pull Secrets; no API token, whatever the account says.
        expect(spec.serviceAccountName).toBe("lb");
        expect(spec.automountServiceAccountToken).toBe(false);
        expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 101, runAsGroup: 101, fsGroup: 101 });
        expect(spec.terminationGracePeriodSeconds).toBe(terminationGracePeriodSeconds(prod));
        expect(spec.enableServiceLinks).toBe(false);
        expect(spec.topologySpreadConstraints).toContainEqual({
            maxSkew: 1,
            topologyKey: "kubernetes.io/hostname",
            whenUnsatisfiable: "ScheduleAnyway",
            nodeTaintsPolicy: "Honor",
            labelSelector: { matchLabels: selector },
        });
        const volumes = (spec.volumes as { name: string }[]).map((volume) => volume.name);
        for (const container of spec.containers as { volumeMounts?: { name: string }[] }[]) {
            for (const mount of container.volumeMounts ?? []) expect(volumes).toContain(mount.name);
        }
    });
});

test("Deployment: the replicas, rolling updates that never drop a pod first, the template's labels and annotations", () => {
    const annotations = { "checksum/config": "abc" };
    const refs = { configMapName: "lb-config", serviceAccountName: "lb", tlsSecretName: "lb-tls" };
    const spec = nginxDeploymentSpec(prod, labels, selector, refs, annotations);
    expect(spec.replicas).toBe(8);
    expect(spec.selector).toEqual({ matchLabels: selector });
    expect(spec.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    expect(spec.template).toEqual({ metadata: { labels, annotations }, spec: nginxPodSpec(prod, selector, refs) });
});

describe("Service", () => {
    const metadata = { name: "lb", namespace: "prepx", labels };

    test("LoadBalancer keeps client addresses (externalTrafficPolicy Local) and pins each to one pod (ClientIP) for the per-IP limits; no empty annotations", () => {
        expect(nginxService(metadata, prod, selector)).toEqual({
            metadata,
            spec: {
                type: "LoadBalancer",
                selector,
                ports: [
                    { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
                    { name: "https", port: 443, targetPort: "https", protocol: "TCP" },
                ],
                externalTrafficPolicy: "Local",
                sessionAffinity: "ClientIP",
                sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } },
            },
        });
    });

    test("without clientAffinity the Service has no session affinity", () => {
        const spec = nginxService(metadata, { ...prod, clientAffinity: false }, selector).spec;
        expect(spec).not.toHaveProperty("sessionAffinity");
        expect(spec).not.toHaveProperty("sessionAffinityConfig");
    });

    test("ClusterIP gets no externalTrafficPolicy (Kubernetes rejects it there); annotations when given", () => {
        const annotations = { "service.beta.kubernetes.io/aws-load-balancer-type": "nlb" };
        const service = nginxService(metadata, { ...prod, serviceType: "ClusterIP", serviceAnnotations: annotations }, selector);
        expect(service.spec).not.toHaveProperty("externalTrafficPolicy");
        expect(service.metadata).toEqual({ ...metadata, annotations });
    });

    test("NodePort (dev) keeps externalTrafficPolicy", () => {
        expect(nginxService(metadata, dev, selector).spec).toMatchObject({ type: "NodePort", externalTrafficPolicy: "Local" });
    });
});

test.each(Object.entries(CLOUD_LOAD_BALANCER_ANNOTATIONS))("the %s example set as prod's loadBalancer.serviceAnnotations reaches the Service, with client addresses kept (Local)", (_cloud, annotations) => {
    const raw = structuredClone(readStackConfig("prod")) as { loadBalancer: Record<string, unknown> };
    raw.loadBalancer.serviceAnnotations = { ...annotations };
    const args = loadBalancerTierArgsSchema.parse(loadBalancerTierArgs(parseStackConfig("prod", raw), "prepx", "api-gateway-headless.prepx.svc.cluster.local"));
    const service = nginxService({ name: "lb", namespace: "prepx", labels: {} }, args, { app: "nginx" });
    expect(service.metadata).toMatchObject({ annotations });
    expect(service.spec).toMatchObject({ type: "LoadBalancer", externalTrafficPolicy: "Local" });
});

describe("certificate", () => {
    test("the Secret: tls.secretName, or named after the component", () => {
        expect(tlsSecretName("lb", prod.tls)).toBe("lb-tls");
        expect(tlsSecretName("edge", { secretName: "edge-cert" })).toBe("edge-cert");
    });

    test("prod's cert-manager Certificate: its public names from the ClusterIssuer letsencrypt-prod, into the Secret nginx mounts, an ECDSA key renewed with it", () => {
        const metadata = { name: "lb-tls", namespace: "prepx", labels };
        expect(edgeCertificate(metadata, prod.tls.certManager!, "lb-tls")).toEqual({
            apiVersion: "cert-manager.io/v1",
            kind: "Certificate",
            metadata,
            spec: {
                secretName: "lb-tls",
                secretTemplate: { labels },
                dnsNames: ["api.prepx.example.com"],
                issuerRef: { name: "letsencrypt-prod", kind: "ClusterIssuer", group: "cert-manager.io" },
                privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
                usages: ["digital signature", "server auth"],
            },
        });
    });
});
