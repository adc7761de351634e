// ServiceFleet: the microservices. Its args are declared in args.ts, its specs built in specs.ts, the
// environment contract documented in render.ts; this file creates the objects.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { resolveImage } from "../images";
import { disruptionBudget, podServiceAccount, serviceHostOutput } from "../k8s";
import type { AlertRule, Dashboards, MetricsTarget, Observable } from "../observability";
import { parseArgs } from "../schema";
import { serviceFleetDashboards } from "./alerts";
import { serviceFleetArgsSchema } from "./args";
import type { FleetService, ResolvedServiceFleetArgs, ServiceFleetArgs } from "./args";
import { headlessServiceName } from "./render";
import {
    autoscalerSpec,
    clusterIpServiceSpec,
    disruptionAllowance,
    headlessServiceSpec,
    redisNodesValue,
    serviceDeploymentSpec,
    serviceLabels,
    serviceMetricsTarget,
} from "./specs";

export type { FleetService, ResolvedServiceFleetArgs, ServiceFleetArgs } from "./args";
export { ENV_DOCS } from "./render";

/** What one service adds to the fleet's outputs. */
interface ServiceOutputs {
    image: pulumi.Output<string>;
    host: pulumi.Output<string>;
    headlessHost: pulumi.Output<string>;
}

/**
 * Children are named `<fleet>-<object>`: a URN carries the parent's type, not its name, so two
 * fleets in one stack would otherwise collide. The alias keeps the URN of stacks created when
 * children were named after the object alone (no replacement on upgrade).
 */
const childName = (fleet: string, objectName: string): string => `${fleet}-${objectName}`;
const childOpts = (parent: pulumi.Resource, objectName: string) => ({ parent, aliases: [{ name: objectName }] });

/**
 * The microservices: per service a Deployment (started at the HPA minimum, rolling with
 * maxUnavailable 0, spread across nodes, restricted security context with a read-only root and a
 * /tmp emptyDir, health probes, scrape annotations), a ClusterIP Service, a headless Service for
 * per-pod load balancing, an autoscaling/v2 HorizontalPodAutoscaler on CPU, a
 * PodDisruptionBudget and a ServiceAccount (the image pull Secrets, no API token). Services reach
 * PostgreSQL through PgBouncer and Redis as a cluster; every password arrives through a secretKeyRef.
 */
export class ServiceFleet extends pulumi.ComponentResource implements Observable {
    /** Service name -> DNS name of its ClusterIP Service. */
    public readonly serviceHosts: pulumi.Output<Record<string, string>>;
    /** Service name -> DNS name of its headless Service (one A record per ready pod). */
    public readonly headlessHosts: pulumi.Output<Record<string, string>>;
    /** Service name -> the labels on its pods (for NetworkPolicies and monitoring). */
    public readonly podLabels: Record<string, Record<string, string>>;
    /** Service name -> the port it listens on (Service port = container port). */
    public readonly ports: Record<string, number>;
    /** Service name -> the image reference its pods run (a pushed digest for built images). */
    public readonly images: pulumi.Output<Record<string, string>>;
    /** Per service, its pods and the port Prometheus scrapes on them. */
    public readonly metricsTargets: MetricsTarget[];
    /** None of the fleet's own: its pods' restarts are covered by MonitoringStack's PodRestarting. */
    public readonly alertRules: AlertRule[] = [];
    /** The services' Grafana dashboard. */
    public readonly dashboards: Dashboards = serviceFleetDashboards;

    constructor(name: string, args: ServiceFleetArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("prepx:apps:ServiceFleet", name, {}, opts);
        const settings = parseArgs(serviceFleetArgsSchema, args, this, "ServiceFleet", name);
        // Resolved once and shared by every service's environment.
        const redisNodes = pulumi.output(settings.redis.seedNodes).apply(redisNodesValue);
        const outputs = settings.services.map((service) => this.createService(name, service, settings, redisNodes));
        const byService = (pick: (created: ServiceOutputs) => pulumi.Output<string>) =>
            pulumi.output(Object.fromEntries(settings.services.map((service, index) => [service.name, pick(outputs[index])])));

        this.podLabels = Object.fromEntries(settings.services.map((service) => [service.name, serviceLabels(service.name)]));
        this.ports = Object.fromEntries(settings.services.map((service) => [service.name, service.port]));
        this.metricsTargets = settings.services.map(serviceMetricsTarget);
        this.serviceHosts = byService((created) => created.host);
        this.headlessHosts = byService((created) => created.headlessHost);
        this.images = byService((created) => created.image);
        this.registerOutputs({ serviceHosts: this.serviceHosts, headlessHosts: this.headlessHosts, images: this.images });
    }

    /** The pod labels of one service; throws naming the known services when `service` is not one. */
    public podLabelsOf(service: string): Record<string, string> {
        const labels = this.podLabels[service];
        if (!labels) throw new pulumi.ResourceError(`ServiceFleet has no service '${service}' (have: ${Object.keys(this.podLabels).join(", ")})`, this);
        return labels;
    }

    /** One service's image, ServiceAccount, Deployment, Services, HPA and PDB. */
    private createService(fleet: string, service: FleetService, settings: ResolvedServiceFleetArgs, redisNodes: pulumi.Output<string>): ServiceOutputs {
        const labels = serviceLabels(service.name);
        const metadata = (objectName: string) => ({ name: objectName, namespace: settings.namespace, labels });
        const image = resolveImage(childName(fleet, service.name), service.image, settings.registry, childOpts(this, `${service.name}-image`));
        const account = podServiceAccount(
            childName(fleet, service.name),
            { namespace: settings.namespace, labels, imagePullSecrets: settings.imagePullSecrets, objectName: service.name },
            // No alias: the accounts came with the prefixed names, there is no earlier name to keep.
            { parent: this },
        );

        const deployment = new k8s.apps.v1.Deployment(
            childName(fleet, service.name),
            { metadata: metadata(service.name), spec: serviceDeploymentSpec(service, settings, { image, redisNodes, serviceAccountName: account.metadata.name }) },
            // With server-side apply, an ignored field owned by another manager (the HPA's scale subresource) is
            // left out of Pulumi's apply, so `pulumi up` neither resets the scale nor hits a field conflict
            // (pulumi/pulumi-kubernetes#2566).
            { ...childOpts(this, service.name), ignoreChanges: ["spec.replicas"] },
        );
        const clusterIp = new k8s.core.v1.Service(
            childName(fleet, service.name),
            { metadata: metadata(service.name), spec: clusterIpServiceSpec(service) },
            childOpts(this, service.name),
        );
        const headlessName = headlessServiceName(service.name);
        const headless = new k8s.core.v1.Service(
            childName(fleet, headlessName),
            { metadata: metadata(headlessName), spec: headlessServiceSpec(service) },
            childOpts(this, headlessName),
        );
        new k8s.autoscaling.v2.HorizontalPodAutoscaler(
            childName(fleet, service.name),
            { metadata: metadata(service.name), spec: autoscalerSpec(service, deployment.metadata.name) },
            childOpts(this, service.name),
        );
        disruptionBudget(
            childName(fleet, service.name),
            { namespace: settings.namespace, labels, maxUnavailable: disruptionAllowance(service.autoscaling.minReplicas), objectName: service.name },
            childOpts(this, service.name),
        );

        const hostOf = (objectName: pulumi.Output<string>) =>
            serviceHostOutput(objectName, settings.namespace, settings.clusterDomain);
        return { image, host: hostOf(clusterIp.metadata.name), headlessHost: hostOf(headless.metadata.name) };
    }
}
