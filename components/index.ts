// The package entry point other stacks import: `import { RedisCluster } from "prepx-platform/components"`.
// Components take typed args only; none reads Pulumi config.
export * from "./redis";
export * from "./postgres";
export * from "./fleet";
export * from "./loadbalancer";
export * from "./network/policies";
// Not `export *`: monitoring/render and postgres/render both export a `toYaml`, and a star export of
// both would be ambiguous (TS2308). The component, its args and defaults are what consumers need.
export { MonitoringStack, MONITORING_STACK_DEFAULTS, PROMETHEUS_PORT, GRAFANA_PORT } from "./monitoring";
export type { MonitoringStackArgs, PrometheusArgs, GrafanaArgs, KubeStateMetricsArgs } from "./monitoring";
export * as k8sHelpers from "./k8s";
export * as units from "./units";
