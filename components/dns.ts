// The cluster's DNS names, written once: components publish in-cluster hosts and render them into
// config files. Pure (no Pulumi), so renderers can use it.

/** The in-cluster DNS name of a Service: `<service>.<namespace>.svc.<clusterDomain>`. */
export function serviceHost(service: string, namespace: string, clusterDomain: string): string {
    return `${service}.${namespace}.svc.${clusterDomain}`;
}

/**
 * A Service's names as clients in the cluster may write them: `<svc>`, `<svc>.<ns>`, `<svc>.<ns>.svc`
 * and the full name: what a certificate for that Service lists.
 */
export function serviceDnsNames(service: string, namespace: string, clusterDomain: string): string[] {
    return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, serviceHost(service, namespace, clusterDomain)];
}

/** Names a StatefulSet gives its pods: `<statefulSet>-0` ... `<statefulSet>-(count-1)`. */
export function statefulSetPodNames(statefulSet: string, count: number): string[] {
    return Array.from({ length: count }, (_, ordinal) => `${statefulSet}-${ordinal}`);
}

/** The stable DNS name of a StatefulSet pod behind its headless Service. */
export function podHostname(pod: string, headlessService: string, namespace: string, clusterDomain: string): string {
    return `${pod}.${serviceHost(headlessService, namespace, clusterDomain)}`;
}
