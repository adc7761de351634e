// The package entry point other stacks import: `import { RedisCluster } from "prepx-platform/components"`.
// Components take typed args only; none reads Pulumi config.
export * from "./redis";
export * from "./postgres";
export * from "./fleet";
export * from "./loadbalancer";
export * from "./network/policies";
export * from "./monitoring";
export * as k8sHelpers from "./k8s";
export * as units from "./units";
