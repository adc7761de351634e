// From the validated stack config to each component's args: one place, used by index.ts and by the
// component tests, so a test instantiates a component exactly as the stack does. Pure functions;
// only types come from the components (importing them must not register resources). Each component
// parses its args strictly, so a key passed on by a spread that it does not know fails the preview.
import type * as pulumi from "@pulumi/pulumi";
import type { LoadBalancerTierArgs, MonitoringStackArgs, PostgresClusterArgs, RedisClusterArgs, ServiceFleetArgs } from "./components";
import type { StackConfig } from "./config";
import type { CertificateIssuer } from "./components/tls";
import { concurrentRequestsFor } from "./components";

/** Where stateful components put and keep their data. */
function placement(config: StackConfig): { storageClass: string | undefined; protectData: boolean } {
    return { storageClass: config.storageClass, protectData: config.protectData };
}

/** What every component's pods pull their images with. */
function pulling(config: StackConfig): { imagePullSecrets: string[] } {
    return { imagePullSecrets: config.imagePullSecrets };
}

/** RedisCluster args: one Redis user per service of the fleet, the certificate from the stack's issuer. */
export function redisClusterArgs(config: StackConfig, namespace: string, certificates: CertificateIssuer): RedisClusterArgs {
    return {
        namespace,
        ...config.redis,
        ...placement(config),
        ...pulling(config),
        certificates,
        apps: config.services.map((service) => service.name),
        password: config.passwords?.redis,
        exporterPassword: config.passwords?.redisExporter,
        appPasswords: config.passwords?.redisApps,
    };
}

export function postgresClusterArgs(config: StackConfig, namespace: pulumi.Input<string>, certificates: CertificateIssuer): PostgresClusterArgs {
    const passwords = config.passwords ?? {};
    return {
        namespace,
        namespaceName: config.namespace,
        certificates,
        ...config.postgres,
        pgbouncer: config.pgbouncer,
        registry: config.registry,
        ...placement(config),
        ...pulling(config),
        passwords: {
            superuser: passwords.postgresSuperuser,
            replication: passwords.postgresReplication,
            app: passwords.postgresApp,
            monitor: passwords.postgresMonitor,
            restapi: passwords.postgresRestApi,
        },
    };
}

/** The service the load balancer proxies to; config.ts guarantees it exists. */
export function gatewayService(config: StackConfig): StackConfig["services"][number] {
    const gateway = config.services.find((service) => service.name === config.loadBalancer.upstreamService);
    if (!gateway) throw new Error(`loadBalancer.upstreamService names no service (${config.loadBalancer.upstreamService})`);
    return gateway;
}

/** LoadBalancerTier args; `upstreamHost` is the gateway's headless Service (nginx re-resolves it per pod). */
export function loadBalancerTierArgs(config: StackConfig, namespace: pulumi.Input<string>, upstreamHost: pulumi.Input<string>): LoadBalancerTierArgs {
    const { upstreamService: _gateway, ...loadBalancer } = config.loadBalancer;
    return {
        namespace,
        ...loadBalancer,
        upstream: { host: upstreamHost, port: gatewayService(config).port },
        p95LatencyMs: config.targets.p95LatencyMs,
        concurrentRequests: concurrentRequestsFor(config.targets),
        ...pulling(config),
    };
}

/** ServiceFleet args; the database and Redis connections come from the other components' outputs. */
export function serviceFleetArgs(
    config: StackConfig,
    namespace: pulumi.Input<string>,
    backends: Pick<ServiceFleetArgs, "database" | "redis">,
): ServiceFleetArgs {
    return {
        namespace,
        services: config.services,
        ...backends,
        pool: config.servicePool,
        rateLimits: config.rateLimits,
        healthCheck: config.healthCheck,
        registry: config.registry,
        ...pulling(config),
    };
}

/** MonitoringStack args; the alert rules, dashboards and extra scrape jobs are what the other components publish. */
export function monitoringStackArgs(
    config: StackConfig,
    namespace: pulumi.Input<string>,
    observed: Pick<MonitoringStackArgs, "alertRules" | "dashboards" | "portScrapeJobs">,
    certificates: CertificateIssuer,
): MonitoringStackArgs {
    return { namespace, namespaceName: config.namespace, certificates, ...config.monitoring, ...placement(config), ...pulling(config), grafanaAdminPassword: config.passwords?.grafanaAdmin, grafanaSecretKey: config.passwords?.grafanaSecretKey, ...observed };
}
