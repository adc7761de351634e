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
