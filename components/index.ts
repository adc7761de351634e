// The package entry point other stacks import: `import { RedisCluster } from "prepx-platform/components"`.
// Components take typed args only; none reads Pulumi config.
export * from "./redis";
export * as k8sHelpers from "./k8s";
export * as units from "./units";
