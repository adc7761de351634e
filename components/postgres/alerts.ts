// PostgreSQL's alert rules and Grafana dashboard, handed to MonitoringStack (which adds the namespace
// label and renders them). The metric names are postgres_exporter's and Patroni's.
import { alertRule, AlertRule, countOrZero, Dashboards, SCRAPE_JOBS } from "../observability";
import dashboard from "./dashboard.json";

/** What the PostgreSQL rules compare against. */
export interface PostgresAlertOptions {
    /** `app.kubernetes.io/name` of the PostgreSQL pods (their `app` label once scraped). */
    app: string;
    /** Streaming standbys next to the leader; PostgresReplicasBelowExpected is left out at 0. */
    standbys: number;
    /** Replica replay lag, in seconds, reported by postgres_exporter, beyond which a replica is stale. */
    replicationLagSeconds: number;
    /** WAL bytes a replica may be behind the leader (Patroni's maximum_lag_on_failover: beyond it a replica is not promoted). */
    replicationLagBytes: number;
}

/** PostgreSQL's alert rules: the server down, replication lag in time and in WAL bytes, standbys missing. */
export function postgresAlertRules(options: PostgresAlertOptions): AlertRule[] {
    const rules = [
        alertRule(
            "PostgresDown",
            `pg_up == 0 or up{job="${SCRAPE_JOBS.pods}", app="${options.app}"} == 0`,
            "1m",
            "critical",
            "PostgreSQL on {{ $labels.pod }} is down",
            "postgres_exporter on {{ $labels.pod }} cannot reach PostgreSQL, or the exporter itself is unreachable, for 1 minute.",
        ),
        alertRule(
            "PostgresReplicationLagHigh",
            `pg_replication_lag_seconds > ${options.replicationLagSeconds} and on (namespace, pod) pg_replication_is_replica == 1`,
            "2m",
            "warning",
            "PostgreSQL replica {{ $labels.pod }} lags {{ $value | humanizeDuration }}",
            `Replica {{ $labels.pod }} has been more than ${options.replicationLagSeconds}s behind the leader in replay for 2 minutes. ` +
                "Reads from it are stale, and a failover to it would lose the unreplayed commits.",
        ),
        alertRule(
            "PostgresReplicationLagBytesHigh",
            `(max by (namespace) (patroni_xlog_location) - on (namespace) group_right () patroni_xlog_replayed_location) > ${options.replicationLagBytes} ` +
                "and on (namespace, pod) patroni_replica == 1",
            "2m",
            "warning",
            "PostgreSQL replica {{ $labels.pod }} is {{ $value | humanize1024 }}B behind the leader",
            `Replica {{ $labels.pod }} has been more than ${options.replicationLagBytes} bytes of WAL behind the leader for 2 minutes ` +
                "(Patroni's maximum_lag_on_failover): Patroni will not promote it if the leader fails.",
        ),
    ];
    if (options.standbys <= 0) return rules;
    return [
        ...rules,
        alertRule(
            "PostgresReplicasBelowExpected",
            `${countOrZero("pg_replication_is_replica == 1 and on (namespace, pod) pg_up == 1")} < ${options.standbys}`,
            "5m",
            "warning",
            `PostgreSQL has {{ $value }} of ${options.standbys} replicas`,
            `Only {{ $value }} PostgreSQL replicas are up and in recovery; the stack runs ${options.standbys}. ` +
                "Failover capacity (and, with synchronous_mode, write availability) is reduced.",
        ),
    ];
}

/** PostgreSQL's Grafana dashboard. Imported, not read with fs, so a packaged build carries it. */
export const postgresDashboards: Dashboards = { "postgres.json": dashboard };
