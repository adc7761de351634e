// MonitoringStack's own alert rules: about every pod and volume of the namespace, from
// kube-state-metrics and the kubelets it scrapes. Rendered after the components' rules.
import { alertRule, AlertRule } from "../observability";

/** What MonitoringStack's own rules compare against. */
export interface MonitoringAlertOptions {
    /** Container restarts within `podRestartWindow` that count as restarting. */
    podRestarts: number;
    /** Window of `podRestarts`, a Prometheus duration. */
    podRestartWindow: string;
    /** Used share of a PVC that counts as nearly full (0.85 = 85%). */
    pvcUsedRatio: number;
}

/** Containers restarting, and PersistentVolumeClaims nearly full. */
export function monitoringAlertRules(options: MonitoringAlertOptions): AlertRule[] {
    return [
        alertRule(
            "PodRestarting",
            `increase(kube_pod_container_status_restarts_total[${options.podRestartWindow}]) >= ${options.podRestarts}`,
            "5m",
            "warning",
            "Container {{ $labels.container }} of {{ $labels.pod }} is restarting",
            `Container {{ $labels.container }} of pod {{ $labels.pod }} restarted {{ $value | humanize }} times in ${options.podRestartWindow} (threshold ${options.podRestarts}).`,
        ),
        alertRule(
            "PersistentVolumeNearlyFull",
            `kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes > ${options.pvcUsedRatio}`,
            "10m",
            "warning",
            "PVC {{ $labels.persistentvolumeclaim }} is {{ $value | humanizePercentage }} full",
            `PersistentVolumeClaim {{ $labels.persistentvolumeclaim }} has been more than ${options.pvcUsedRatio * 100}% full for 10 minutes.`,
        ),
    ];
}
