// The prepx stack: one namespace, an explicit Kubernetes provider and the components, sized from
// Pulumi.<stack>.yaml through config.ts.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./config";
import { RedisCluster } from "./components";
import { standardLabels } from "./components/k8s";

const config = loadStackConfig();

// Explicit provider: nothing lands in whatever cluster the ambient kubeconfig happens to point at
// unless the stack says so (kubeconfig/kubeContext unset = the user's current context).
const provider = new k8s.Provider("k8s", {
    kubeconfig: config.kubeconfig,
    context: config.kubeContext,
});

const namespace = new k8s.core.v1.Namespace(
    "namespace",
    { metadata: { name: config.namespace, labels: standardLabels("prepx", config.namespace, "namespace") } },
    { provider, protect: config.protectData },
);
const ns = namespace.metadata.name;
const componentOpts: pulumi.ComponentResourceOptions = { providers: { kubernetes: provider } };

const redis = new RedisCluster(
    "redis",
    { namespace: ns, ...config.redis, storageClass: config.storageClass, protectData: config.protectData },
    componentOpts,
);

export const namespaceName = ns;
export const redisSeedNodes = redis.seedNodes;
export const redisHost = redis.serviceHost;
export const redisSecretName = redis.secretName;
export const redisPassword = redis.password;
