// Redis Cluster's alert rules and Grafana dashboard, handed to MonitoringStack (which adds the
// namespace label and renders them). The metric names are redis_exporter's.
import { alertRule, AlertRule, countOrZero, Dashboards } from "../observability";
import dashboard from "./dashboard.json";

/** The cluster shape the Redis rules compare against. */
export interface RedisAlertOptions {
    /** Masters (hash slot ranges); RedisMasterMissing fires below it. */
    masters: number;
    /** Replicas of each master; RedisReplicasBelowExpected is left out at 0. */
    replicasPerMaster: number;
}

/** Redis' alert rules: a node down, the cluster state failed, a master or replicas missing. */
export function redisAlertRules(options: RedisAlertOptions): AlertRule[] {
    const replicas = options.masters * options.replicasPerMaster;
    const rules = [
        alertRule("RedisDown", "redis_up == 0", "1m", "critical", "Redis on {{ $labels.pod }} is down", "redis_exporter on {{ $labels.pod }} cannot reach its Redis node for 1 minute."),
        alertRule(
            "RedisClusterStateNotOk",
            "redis_cluster_state == 0",
            "1m",
            "critical",
            "Redis cluster state is not ok on {{ $labels.pod }}",
            "CLUSTER INFO on {{ $labels.pod }} reports cluster_state:fail for 1 minute: some hash slots are not served and commands on them fail.",
        ),
        alertRule(
            "RedisMasterMissing",
            `${countOrZero('redis_instance_info{role="master"}')} < ${options.masters}`,
            "1m",
            "critical",
            `Redis cluster has {{ $value }} of ${options.masters} masters`,
            `Only {{ $value }} Redis nodes report role master; the cluster has ${options.masters} slot ranges. ` +
                "A master is down and no replica has taken over its slots.",
        ),
    ];
    if (replicas <= 0) return rules;
    return [
        ...rules,
        alertRule(
            "RedisReplicasBelowExpected",
            `${countOrZero('redis_instance_info{role="slave"}')} < ${replicas}`,
            "5m",
            "warning",
            `Redis cluster has {{ $value }} of ${replicas} replicas`,
            `Only {{ $value }} Redis nodes report role replica; the stack runs ${replicas}. A master without a replica cannot fail over.`,
        ),
    ];
}

/** Redis' Grafana dashboard. Imported, not read with fs, so a packaged build carries it. */
export const redisDashboards: Dashboards = { "redis.json": dashboard };
