// PostgreSQL's alert rules and Grafana dashboard, handed to MonitoringStack (which adds the namespace
// label and renders them). The metric names are postgres_exporter's, Patroni's and the backup agent's (backup.ts).
import { alertRule, AlertRule, countOrZero, Dashboards, SCRAPE_JOBS } from "../observability";
import { BACKUP_METRICS } from "./backup";
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

/** What the backup rules compare against (the `postgres.backup` settings). */
export interface PostgresBackupAlertOptions {
    /** `app.kubernetes.io/name` of the PostgreSQL pods (their `app` label once scraped): one cluster's agents. */
    app: string;
    /** Hours after which the newest backup in the repository is too old. */
    backupAgeHours: number;
    /** Minutes after which the leader's last archived WAL segment is too old. */
    walArchiveMinutes: number;
}

/**
 * Backups and WAL archiving falling behind: the newest backup in the repository (the backup agent's
 * metrics; no agent answering counts as no backup) and the leader's last archived WAL segment
 * (postgres_exporter's pg_stat_archiver; archiving that never succeeded but failed counts too).
 */
export function postgresBackupAlertRules(options: PostgresBackupAlertOptions): AlertRule[] {
    const backupAgeSeconds = options.backupAgeHours * 3600;
    const lastBackup = `${BACKUP_METRICS.lastBackup}{app="${options.app}"}`;
    const walAgeSeconds = options.walArchiveMinutes * 60;
    return [
        alertRule(
            "PostgresBackupTooOld",
            `(time() - max by (app) (${lastBackup})) > ${backupAgeSeconds} or absent(${lastBackup})`,
            "10m",
            "critical",
            `The newest PostgreSQL backup is older than ${options.backupAgeHours}h`,
            `No backup newer than ${options.backupAgeHours} hours is in the repository, or no backup agent reports it ` +
                "(value: seconds since the newest backup, 1 when no agent answers). Point-in-time recovery reaches back only to the newest backup " +
                "and replays every WAL segment since: check the `backup` container's log on the leader pod.",
        ),
        alertRule(
            "PostgresWalArchiveTooOld",
            `(pg_stat_archiver_last_archive_age > ${walAgeSeconds} or (pg_stat_archiver_failed_count > 0 unless pg_stat_archiver_archived_count > 0)) ` +
                "and on (namespace, pod) pg_replication_is_replica == 0",
            "5m",
            "critical",
            `PostgreSQL on {{ $labels.pod }} has archived no WAL for ${options.walArchiveMinutes} minutes`,
            `The leader {{ $labels.pod }} has archived no WAL segment for more than ${options.walArchiveMinutes} minutes, or every attempt failed ` +
                "(the backup agent forces a segment switch more often than that). Commits since the last archived segment cannot be recovered " +
                "from the repository, and pg_wal grows until the disk fills: check archive_command errors in the postgres container's log.",
        ),
    ];
}

/** PostgreSQL's Grafana dashboard. Imported, not read with fs, so a packaged build carries it. */
export const postgresDashboards: Dashboards = { "postgres.json": dashboard };
