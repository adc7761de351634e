// Kubernetes building blocks every component uses, so labels, the container baseline (security
// context, resources), probes, exporter sidecars, service accounts, disruption budgets, spreading,
// config checksums, content-named ConfigMaps and Job deadlines are written once.
import { createHash } from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type ContainerResources, ephemeralStorage } from "./schema";
import { serviceHost } from "./dns";

/** The @pulumi/kubernetes input types the spec builders return, by their Kubernetes names. */
export type Container = k8s.types.input.core.v1.Container;
export type EnvVar = k8s.types.input.core.v1.EnvVar;
export type PodSpec = k8s.types.input.core.v1.PodSpec;
export type Probe = k8s.types.input.core.v1.Probe;
export type ServicePort = k8s.types.input.core.v1.ServicePort;
export type ServiceSpec = k8s.types.input.core.v1.ServiceSpec;
export type Volume = k8s.types.input.core.v1.Volume;
export type VolumeMount = k8s.types.input.core.v1.VolumeMount;

/** The part-of label value every object of the stack carries. */
const PART_OF = "prepx";

/**
 * The recommended Kubernetes labels. `name` is the application (redis, postgres, nginx...),
 * `instance` the component instance (unique in the namespace), `component` its role.
 */
export function standardLabels(name: string, instance: string, component: string): Record<string, string> {
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    };
}

/**
 * The subset of standardLabels used in selectors: selectors are immutable on Deployments and
 * StatefulSets, so they hold only labels that never change for the life of the workload.
 */
export function selectorLabels(labels: Record<string, string>): Record<string, string> {
    return {
        "app.kubernetes.io/name": labels["app.kubernetes.io/name"],
        "app.kubernetes.io/instance": labels["app.kubernetes.io/instance"],
        "app.kubernetes.io/component": labels["app.kubernetes.io/component"],
    };
}

/**
 * The restricted container security context (Pod Security Standards "restricted").
 * `readOnlyRootFilesystem` defaults to true; pass false only for images that write outside
 * their mounted volumes.
 */
export function containerSecurityContext(opts: { readOnlyRootFilesystem?: boolean } = {}): k8s.types.input.core.v1.SecurityContext {
    return {
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: opts.readOnlyRootFilesystem ?? true,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/** Pod-level security context: a fixed non-root user, and volumes group-owned by it. */
export function podSecurityContext(uid: number, gid: number = uid): k8s.types.input.core.v1.PodSecurityContext {
    return {
        runAsNonRoot: true,
        runAsUser: uid,
        runAsGroup: gid,
        fsGroup: gid,
        fsGroupChangePolicy: "OnRootMismatch",
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/**
 * Requests and limits in the shape Kubernetes expects, ephemeral storage included (the kubelet evicts
 * a pod past its limit instead of letting it fill the node's disk): DEFAULT_EPHEMERAL_STORAGE of
 * schema.ts where the resources do not set it.
 */
export function containerResources(resources: ContainerResources): k8s.types.input.core.v1.ResourceRequirements {
    const storage = ephemeralStorage(resources);
    return {
        requests: { cpu: resources.requests.cpu, memory: resources.requests.memory, "ephemeral-storage": storage.request },
        limits: { cpu: resources.limits.cpu, memory: resources.limits.memory, "ephemeral-storage": storage.limit },
    };
}

/**
 * Spread pods of one workload across nodes and zones, as a preference the scheduler weighs
 * (ScheduleAnyway), counting only nodes the pod may run on (nodeTaintsPolicy Honor). A hard
 * (DoNotSchedule) hostname rule counted tainted and full nodes as empty domains: on kind (a tainted
 * control plane and two workers) the third Redis pod stayed Pending and `pulumi up` waited for it; in
 * prod one full or tainted node capped every node at its count + 1.
 */
export function spreadAcrossNodes(matchLabels: Record<string, string>): k8s.types.input.core.v1.TopologySpreadConstraint[] {
    return ["kubernetes.io/hostname", "topology.kubernetes.io/zone"].map((topologyKey) => ({
        maxSkew: 1,
        topologyKey,
        whenUnsatisfiable: "ScheduleAnyway",
        nodeTaintsPolicy: "Honor",
        labelSelector: { matchLabels },
    }));
}

/** The checksum annotation that rolls pods when any of the rendered files change. */
export function configChecksumAnnotation(...rendered: pulumi.Input<string>[]): pulumi.Output<Record<string, string>> {
    return pulumi.all(rendered).apply((texts): Record<string, string> => ({ "checksum/config": sha256(texts.join("\u0000")) }));
}

/**
 * A pod template's annotations: the checksum of its rendered files (pods roll when they change)
 * and the scrape annotations of its metrics port.
 */
export function podTemplateAnnotations(metricsPort: number, renderedFiles: pulumi.Input<string>[]): pulumi.Output<Record<string, string>> {
    return configChecksumAnnotation(...renderedFiles).apply((checksum) => ({ ...checksum, ...scrapeAnnotations(metricsPort) }));
}

/** Hex SHA-256 of a string. */
function sha256(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}

/** Annotations MonitoringStack's Prometheus uses to discover a pod's metrics endpoint. */
export function scrapeAnnotations(port: number, path = "/metrics"): Record<string, string> {
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": String(port),
        "prometheus.io/path": path,
    };
}

/** Arguments shared by every PodDisruptionBudget the stack creates. */
export interface DisruptionBudgetArgs {
    namespace: pulumi.Input<string>;
    labels: Record<string, string>;
    /** Pods of the workload that may be down at once by voluntary disruption (default 1). */
    maxUnavailable?: number;
    /** The object's name, the workload's (default: the resource name). */
    objectName?: string;
}

/** A PodDisruptionBudget over the workload selected by `labels`; the same name as the workload. */
export function disruptionBudget(name: string, args: DisruptionBudgetArgs, opts: pulumi.CustomResourceOptions): k8s.policy.v1.PodDisruptionBudget {
    return new k8s.policy.v1.PodDisruptionBudget(
        name,
        {
            metadata: { name: args.objectName ?? name, namespace: args.namespace, labels: args.labels },
            spec: { maxUnavailable: args.maxUnavailable ?? 1, selector: { matchLabels: selectorLabels(args.labels) } },
        },
        opts,
    );
}

/**
 * A PVC template for a StatefulSet. `retain` keeps the claims when the StatefulSet is deleted or
 * scaled down, so data outlives a bad `pulumi up` (used with `protect` in prod).
 */
export function volumeClaimTemplate(
    claimName: string,
    size: string,
    storageClass: string | undefined,
): k8s.types.input.core.v1.PersistentVolumeClaim {
    return {
        metadata: { name: claimName },
        spec: {
            accessModes: ["ReadWriteOnce"],
            ...(storageClass ? { storageClassName: storageClass } : {}),
            resources: { requests: { storage: size } },
        },
    };
}

/** StatefulSet PVC retention: keep data unless the stack explicitly does not protect it. */
export function pvcRetentionPolicy(retain: boolean): k8s.types.input.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy {
    const policy = retain ? "Retain" : "Delete";
    return { whenDeleted: policy, whenScaled: policy };
}

/**
 * How the kubelet pulls every image of the stack, written out rather than left to Kubernetes' default
 * (Always for an untagged or `latest` reference). Every reference is pinned by a version tag or a
 * digest (schema.ts pinnedImage), so a copy already on the node is the one asked for and a reschedule
 * does not depend on the registry. A tag pushed again is not pulled again on a node that has it: pin
 * by digest (`name@sha256:...`) where that matters.
 */
export const IMAGE_PULL_POLICY = "IfNotPresent";

/** A small writable emptyDir for paths a read-only-root container must write (tmp, sockets). */
export function scratchVolume(name: string, sizeLimit = "64Mi"): Volume {
    return { name, emptyDir: { sizeLimit } };
}

/** Arguments of serviceAccountWithRole. */
export interface ServiceAccountWithRoleArgs {
    namespace: pulumi.Input<string>;
    labels: Record<string, string>;
    /** What the account may do in its namespace (and nowhere else). */
    rules: k8s.types.input.rbac.v1.PolicyRule[];
    /** Names of image pull Secrets in the namespace (schema.ts imagePullSecretsSchema), for the pods running as this account. */
    imagePullSecrets: readonly string[];
}

/** Arguments of podServiceAccount. */
export interface PodServiceAccountArgs {
    namespace: pulumi.Input<string>;
    labels: Record<string, string>;
    /** Names of image pull Secrets in the namespace (schema.ts imagePullSecretsSchema). */
    imagePullSecrets: readonly string[];
    /** The object's name (default: the resource name). */
    objectName?: string;
}

/**
 * The ServiceAccount of pods that do not talk to the Kubernetes API: it carries the stack's image
 * pull Secrets (every pod pulls through its account, not a field of its own) and mounts no token.
 */
export function podServiceAccount(name: string, args: PodServiceAccountArgs, opts: pulumi.CustomResourceOptions): k8s.core.v1.ServiceAccount {
    return new k8s.core.v1.ServiceAccount(
        name,
        {
            metadata: { name: args.objectName ?? name, namespace: args.namespace, labels: args.labels },
            automountServiceAccountToken: false,
            ...pullSecrets(args.imagePullSecrets),
        },
        opts,
    );
}

/** `imagePullSecrets` of a ServiceAccount; none written when the list is empty (the provider drops an empty list). */
function pullSecrets(names: readonly string[]): { imagePullSecrets?: { name: string }[] } {
    return names.length > 0 ? { imagePullSecrets: names.map((name) => ({ name })) } : {};
}

/**
 * A ServiceAccount bound to a namespaced Role holding `rules`: the usual identity of a pod that reads
 * the Kubernetes API of its own namespace. The three objects share `name`. The account mounts no
 * token by itself: a pod that talks to the API opts in with `automountServiceAccountToken: true` in
 * its spec, so no other pod that runs as this account (a sidecar's Job, a debug pod) gets the token.
 */
export function serviceAccountWithRole(
    name: string,
    args: ServiceAccountWithRoleArgs,
    opts: pulumi.CustomResourceOptions,
): { serviceAccount: k8s.core.v1.ServiceAccount; role: k8s.rbac.v1.Role; roleBinding: k8s.rbac.v1.RoleBinding } {
    const metadata = { name, namespace: args.namespace, labels: args.labels };
    const serviceAccount = new k8s.core.v1.ServiceAccount(name, { metadata, automountServiceAccountToken: false, ...pullSecrets(args.imagePullSecrets) }, opts);
    const role = new k8s.rbac.v1.Role(name, { metadata, rules: args.rules }, opts);
    const roleBinding = new k8s.rbac.v1.RoleBinding(
        name,
        {
            metadata,
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
            subjects: [{ kind: "ServiceAccount", name: serviceAccount.metadata.name, namespace: args.namespace }],
        },
        opts,
    );
    return { serviceAccount, role, roleBinding };
}

/** Timing of a probe: how often, how long one attempt may take, and failures in a row that count. */
export interface ProbeTiming {
    periodSeconds: number;
    failureThreshold: number;
    /** Seconds one attempt may take (default 3). */
    timeoutSeconds?: number;
}

/** An HTTP GET probe on a named container port. */
export function httpProbe(path: string, port: string, timing: ProbeTiming): Probe {
    return { httpGet: { path, port }, periodSeconds: timing.periodSeconds, timeoutSeconds: timing.timeoutSeconds ?? 3, failureThreshold: timing.failureThreshold };
}

/** An HTTPS GET probe on a named container port (the kubelet does not verify the certificate). */
export function httpsProbe(path: string, port: string, timing: ProbeTiming): Probe {
    const probe = httpProbe(path, port, timing);
    return { ...probe, httpGet: { path, port, scheme: "HTTPS" } };
}

/** A probe that runs `sh -c <script>` in the container; exit 0 is success. */
export function shellProbe(script: string, timing: ProbeTiming): Probe {
    return { exec: { command: ["sh", "-c", script] }, periodSeconds: timing.periodSeconds, timeoutSeconds: timing.timeoutSeconds ?? 3, failureThreshold: timing.failureThreshold };
}

/** A TCP connect probe on a named container port. */
export function tcpProbe(port: string, timing: ProbeTiming): Probe {
    return { tcpSocket: { port }, periodSeconds: timing.periodSeconds, timeoutSeconds: timing.timeoutSeconds ?? 3, failureThreshold: timing.failureThreshold };
}

/** An environment variable read from a key of a Secret. */
export function secretEnv(name: string, secretName: pulumi.Input<string>, key: string): EnvVar {
    return { name, valueFrom: { secretKeyRef: { name: secretName, key } } };
}

/** Probe periods of a metrics exporter sidecar: ready within 10 s, restarted after a minute of silence. */
const EXPORTER_READINESS: ProbeTiming = { periodSeconds: 10, failureThreshold: 3 };
const EXPORTER_LIVENESS: ProbeTiming = { periodSeconds: 20, failureThreshold: 3 };

/** A metrics exporter sidecar: one metrics port and HTTP probes on it, with the container baseline. */
export function exporterSidecar(spec: {
    /** Container name (default `exporter`). */
    name?: string;
    image: string;
    /** Container port and its name (default `metrics`; further exporters of a pod `metrics-*`). */
    port: number;
    portName?: string;
    /** Path the probes request (default `/metrics`). */
    probePath?: string;
    resources: ContainerResources;
    args?: string[];
    env?: EnvVar[];
    volumeMounts?: VolumeMount[];
}): Container {
    const portName = spec.portName ?? "metrics";
    const probePath = spec.probePath ?? "/metrics";
    return {
        name: spec.name ?? "exporter",
        image: spec.image,
        imagePullPolicy: IMAGE_PULL_POLICY,
        ...(spec.args ? { args: spec.args } : {}),
        ...(spec.env ? { env: spec.env } : {}),
        ports: [{ name: portName, containerPort: spec.port }],
        resources: containerResources(spec.resources),
        securityContext: containerSecurityContext(),
        readinessProbe: httpProbe(probePath, portName, EXPORTER_READINESS),
        livenessProbe: httpProbe(probePath, portName, EXPORTER_LIVENESS),
        ...(spec.volumeMounts ? { volumeMounts: spec.volumeMounts } : {}),
    };
}

/** The in-cluster DNS name of a Service whose name or namespace is known only during the deployment. */
export function serviceHostOutput(service: pulumi.Input<string>, namespace: pulumi.Input<string>, clusterDomain: string): pulumi.Output<string> {
    return pulumi.all([service, namespace]).apply(([serviceName, namespaceName]) => serviceHost(serviceName, namespaceName, clusterDomain));
}

/** Hex digits of the data hash a content-named ConfigMap's name ends with. */
const CONTENT_HASH_DIGITS = 10;

/**
 * The name of a ConfigMap holding `data`: `<base>-<10 hex digits of the SHA-256 of its keys and
 * values>`. The same data always gives the same name (no random suffix: renders and previews are
 * reproducible); any change to a key or a value gives another name.
 */
export function contentName(base: string, data: Record<string, string>): string {
    // JSON of the sorted entries: unambiguous whatever the keys and values hold.
    const entries = Object.keys(data)
        .sort()
        .map((key) => [key, data[key]]);
    return `${base}-${sha256(JSON.stringify(entries)).slice(0, CONTENT_HASH_DIGITS)}`;
}

/** Arguments of contentNamedConfigMap. */
export interface ContentNamedConfigMapArgs {
    namespace: pulumi.Input<string>;
    labels: Record<string, string>;
    /** The files. Rendered text only: never a password (the name carries a hash of it). */
    data: Record<string, pulumi.Input<string>>;
    /**
     * What the name is hashed from when it is not `data` itself (Patroni: the members' files without
     * `bootstrap.dcs`). What `data` holds beyond it then changes in place under the same name (the
     * ConfigMap is not immutable, and pods that mount it do not roll): for text that only matters
     * once, such as `bootstrap.dcs`, which seeds a new cluster and is applied to a running one by
     * another route. In place only under a provider with `enableConfigMapMutable`: under the
     * provider's default that change is the fixed-name case below, so the pods must refer to it by
     * `contentName(name, nameFrom)` with `dependsOn`, not by its `metadata.name` output, or the
     * engine replaces them with it.
     */
    nameFrom?: Record<string, pulumi.Input<string>>;
}

/**
 * A ConfigMap named after its content (contentName, the resource name as its base) and immutable
 * (mutable only with `nameFrom`, for the part left out of the name). A data change is then a new
 * ConfigMap under a new name, created before the pods are pointed at it, and the old one is deleted
 * only after the workload's rollout: no pod ever finds its ConfigMap missing, old pods keep their
 * own files while they drain, and the workloads are updated, never replaced. This holds whatever
 * provider the component is given: a fixed-name ConfigMap whose data changes is deleted and
 * re-created by a provider without `enableConfigMapMutable` (the gap), and the engine then replaces
 * every Deployment and StatefulSet that refers to it (a StatefulSet replaced with PVC retention
 * Delete loses its data). Not protected even under a protected parent: it holds only text the
 * program renders again, and each change of it is a replacement, which protect would refuse.
 */
export function contentNamedConfigMap(name: string, args: ContentNamedConfigMapArgs, opts: pulumi.CustomResourceOptions): k8s.core.v1.ConfigMap {
    return new k8s.core.v1.ConfigMap(
        name,
        {
            metadata: { name: pulumi.output(args.nameFrom ?? args.data).apply((files) => contentName(name, files)), namespace: args.namespace, labels: args.labels },
            immutable: args.nameFrom === undefined,
            data: args.data,
        },
        { ...opts, protect: false },
    );
}

/** What bounds a Job's run: its script's own deadline, its retries and the start of each pod. */
export interface JobTiming {
    /** The longest one run of the script takes before it gives up by itself (its deadline). */
    scriptDeadlineSeconds: number;
    /** The Job's backoffLimit: failed pods retried before the Job fails. */
    backoffLimit: number;
    /** Scheduling, image pull and container start of one pod (default JOB_POD_START_SECONDS). */
    podStartSeconds?: number;
}

/** Scheduling plus an image pull on a busy node: what each Job pod may take before its script runs. */
export const JOB_POD_START_SECONDS = 120;
/** Kubernetes' delay before retrying a failed Job pod: 10 s, doubled each time, at most 6 min. */
const JOB_RETRY_BASE_SECONDS = 10;
const JOB_RETRY_MAX_SECONDS = 360;
/** How much longer Pulumi waits than the Job may run, so it reads the Job's own verdict, not its own timeout. */
export const JOB_AWAIT_MARGIN_SECONDS = 60;

/** The delays Kubernetes waits between a Job's failed pods and their retries. */
function jobRetryDelaysSeconds(backoffLimit: number): number {
    let total = 0;
    for (let retry = 0; retry < backoffLimit; retry++) total += Math.min(JOB_RETRY_BASE_SECONDS * 2 ** retry, JOB_RETRY_MAX_SECONDS);
    return total;
}

/**
 * A Job's time bounds, from its script's deadline, computed in one place for every Job:
 * `activeDeadlineSeconds`, the longest every attempt (each pod's start and the script's full
 * deadline) plus Kubernetes' retry delays can take, after which Kubernetes fails the Job if it
 * sets it (the PostgreSQL dynamic-config Job does; the Redis bootstrap does not, so that a
 * rebalance is never cut); and `awaitSeconds`, how long `pulumi up` waits for it (the Job's
 * `customTimeouts`), JOB_AWAIT_MARGIN_SECONDS longer, so a slow but healthy Job is never cut off
 * by Pulumi's default 10 minutes, and a stuck Job that sets the deadline ends with its own failure.
 */
export function jobDeadlines(timing: JobTiming): { activeDeadlineSeconds: number; awaitSeconds: number } {
    const { scriptDeadlineSeconds, backoffLimit } = timing;
    const podStartSeconds = timing.podStartSeconds ?? JOB_POD_START_SECONDS;
    for (const [field, value] of Object.entries({ scriptDeadlineSeconds, backoffLimit, podStartSeconds })) {
        if (!Number.isInteger(value) || value < 0) throw new Error(`${field} must be a non-negative integer (got ${value})`);
    }
    const activeDeadlineSeconds = (backoffLimit + 1) * (podStartSeconds + scriptDeadlineSeconds) + jobRetryDelaysSeconds(backoffLimit);
    return { activeDeadlineSeconds, awaitSeconds: activeDeadlineSeconds + JOB_AWAIT_MARGIN_SECONDS };
}

/**
 * The Pod Security Standards version the namespace enforces: pinned, so a cluster upgrade that
 * tightens `restricted` never starts refusing pods on its own (audit and warn follow `latest`, so
 * such a change shows up as warnings and audit events first; then raise this).
 */
export const POD_SECURITY_VERSION = "v1.31";

/**
 * Pod Security Admission labels of a namespace: `enforce` refuses pods below `level` (the version
 * pinned), `audit` and `warn` report them against the newest version of the standard.
 */
export function podSecurityLabels(level: "restricted" | "baseline" = "restricted", version = POD_SECURITY_VERSION): Record<string, string> {
    return {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": version,
        "pod-security.kubernetes.io/audit": level,
        "pod-security.kubernetes.io/audit-version": "latest",
        "pod-security.kubernetes.io/warn": level,
        "pod-security.kubernetes.io/warn-version": "latest",
    };
}
