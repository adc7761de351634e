// Another team's stack with two copies of every component, side by side in one namespace: the
// engine test installs the packed prepx-platform next to this file (`npm install <tarball>`, no
// symlinks) and previews it with the real Pulumi engine, which refuses duplicate URNs. Kubernetes
// object names must not collide either, so each copy's objects carry its own name.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { InternalCertificateAuthority, LoadBalancerTier, MonitoringStack, PostgresCluster, RedisCluster, ServiceFleet } from "prepx-platform/components";

const config = new pulumi.Config();
// Manifests are written, not applied: the preview needs no cluster. The empty kubeconfig keeps the
// SDK from filling it in from $KUBECONFIG, which the provider refuses beside renderYamlToDirectory.
const provider = new k8s.Provider("k8s", { renderYamlToDirectory: config.require("renderYamlToDirectory"), kubeconfig: "" });
const opts = { providers: { kubernetes: provider } };
const namespace = "team-b";
// Two settings the engine test changes, to preview what a config change does under this provider,
// which leaves enableConfigMapMutable and enableSecretMutable unset (the provider's defaults).
const workMem = config.get("workMem") ?? "64MB";
const edgeBurst = config.getNumber("edgeBurst") ?? 100;
// A setting Patroni keeps in its DCS: the dynamic-config Job applies it; the members must not be replaced.
const maxConnections = config.getNumber("maxConnections") ?? 500;
// The random provider cannot be built here (tools/engine/README.md): every password is supplied.
const password = (name: string) => config.requireSecret(`password-${name}`);

// One internal CA (cert-manager's: the tls provider is not served here) for both copies.
const certificates = new InternalCertificateAuthority("team-b-ca", { namespace, settings: { issuer: "cert-manager" } }, opts);

export const copies = ["blue", "green"].map((copy) => {
    const service = `${copy}-api`;
    const cache = new RedisCluster(
        `${copy}-cache`,
        {
            namespace,
            certificates,
            masters: 3,
            replicasPerMaster: 0,
            storage: "1Gi",
            protectData: false,
            apps: [service],
            password: password(`${copy}-cache`),
            exporterPassword: password(`${copy}-cache-exporter`),
            appPasswords: { [service]: password(`${copy}-cache-app`) },
        },
        opts,
    );
    const db = new PostgresCluster(
        `${copy}-db`,
        {
            namespace,
            certificates,
            standbys: 1,
            synchronousMode: false,
            image: { prebuilt: "ghcr.io/prepx/postgres-patroni:15.19-patroni3.0.2-pgbackrest2.45" },
            storage: "2Gi",
            protectData: false,
            parameters: { work_mem: workMem, max_connections: maxConnections },
            passwords: {
                superuser: password(`${copy}-superuser`),
                replication: password(`${copy}-replication`),
                app: password(`${copy}-app`),
                monitor: password(`${copy}-monitor`),
                restapi: password(`${copy}-restapi`),
            },
        },
        opts,
    );
    const fleet = new ServiceFleet(
        `${copy}-apps`,
        {
            namespace,
            services: [
                {
                    name: service,
                    port: 8080,
                    healthPath: "/health",
                    image: { prebuilt: "ghcr.io/prepx/api-gateway:1.4.2" },
                    usesDatabase: true,
                    autoscaling: { minReplicas: 1, maxReplicas: 2, targetCpuPercent: 80 },
                    resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
                },
            ],
            database: db.connection,
            redis: cache.connection,
        },
        opts,
    );
    const edge = new LoadBalancerTier(
        `${copy}-edge`,
        { namespace, serviceType: "ClusterIP", burst: edgeBurst, upstream: { host: fleet.headlessHosts.apply((hosts) => hosts[service]), port: 8080 } },
        opts,
    );
    const monitoring = new MonitoringStack(
        `${copy}-monitoring`,
        {
            namespace,
            certificates,
            alertRules: [...db.alertRules, ...cache.alertRules, ...edge.alertRules],
            dashboards: { ...db.dashboards, ...cache.dashboards, ...edge.dashboards, ...fleet.dashboards },
            portScrapeJobs: db.portScrapeJobs,
            protectData: false,
            grafanaAdminPassword: password(`${copy}-grafana`),
            grafanaSecretKey: password(`${copy}-grafana-secret-key`),
        },
        opts,
    );
    return { cache: cache.serviceHost, database: db.rwHost, api: fleet.serviceHosts, edge: edge.endpoint, grafana: monitoring.grafanaUrl };
});
