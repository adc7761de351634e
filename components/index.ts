// The package's public API, chosen on purpose: `import { RedisCluster } from "prepx-platform/components"`.
// Every runtime value exported here is a promise to other stacks; render internals are not exported.
// Components take typed args only; none reads Pulumi config.

// The five components, their args (what a caller passes) and resolved args (defaults applied).
export { RedisCluster } from "./redis";
export type { RedisClusterArgs, ResolvedRedisClusterArgs } from "./redis";
export { PostgresCluster } from "./postgres";
export type { PostgresClusterArgs, PostgresPasswords, ResolvedPostgresClusterArgs } from "./postgres";
export { ServiceFleet } from "./fleet";
export type { FleetService, ResolvedServiceFleetArgs, ServiceFleetArgs } from "./fleet";
export { LoadBalancerTier } from "./loadbalancer";
export type { LoadBalancerTierArgs, ResolvedLoadBalancerTierArgs } from "./loadbalancer";
export { MonitoringStack } from "./monitoring";
export type { MonitoringStackArgs, PortScrapeJob, ResolvedMonitoringStackArgs } from "./monitoring";

// Each component's settings schema and the rules between its fields, for a stack that composes its
// own config from them (config.ts does).
export { checkRedisSettings, redisSettingsSchema } from "./redis/args";
export { checkPostgresSettings, pgbouncerSettingsSchema, postgresSettingsSchema } from "./postgres/args";
export { appRateLimitsSchema, healthCheckSchema, servicePoolSchema, servicesSchema } from "./fleet/args";
export { checkLoadBalancerSettings, concurrentRequestsFor, loadBalancerSettingsSchema } from "./loadbalancer/args";
export { checkMonitoringSettings, monitoringSettingsSchema } from "./monitoring/args";

// The internal CA whose certificates the components' TLS uses (pass it as their `certificates`).
export { InternalCertificateAuthority, TLS_SECRET_KEYS } from "./tls";
export type { CertificateIssuer, CertificateRequest, InternalCertificateAuthorityArgs } from "./tls";
export { internalTlsSettingsSchema } from "./tls/args";
export type { InternalTlsSettings } from "./tls/args";

// The NetworkPolicies between the components: computed from their labels and ports, then created.
export { createNetworkPolicies, renderNetworkPolicies } from "./network/policies";
export type { NetworkPolicyInput, RenderedPolicy } from "./network/policies";

// What components publish for monitoring, and shared types of their args.
export type { AlertRule, Dashboards, MetricsTarget, Observable } from "./observability";
export type { ContainerResources, ImageSource, Registry } from "./schema";

/** The connection budget from service pools through PgBouncer to PostgreSQL, with its arithmetic. */
export { connectionBudget } from "./budget";
export type { ConnectionBudget, ConnectionBudgetInput } from "./budget";
/** The recommended Kubernetes labels every object of the stack carries. */
export { standardLabels } from "./k8s";
