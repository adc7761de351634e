// MonitoringStack's rendered files (prometheus.yml, alerts.yml) parsed back, typed as far as the
// tests read them.
import { parse } from "yaml";

export interface Relabel {
    source_labels: string[];
    regex?: string;
    replacement?: string;
    target_label?: string;
    action: string;
}

export interface ScrapeJob {
    job_name: string;
    honor_labels?: boolean;
    scheme?: string;
    authorization?: unknown;
    tls_config?: unknown;
    kubernetes_sd_configs?: { role: string; namespaces?: { names: string[] } }[];
    file_sd_configs?: unknown;
    relabel_configs: Relabel[];
    metric_relabel_configs?: Relabel[];
}

export interface PrometheusYml {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: ScrapeJob[];
}

/** One rule of alerts.yml, with the namespace label MonitoringStack adds. */
export interface RenderedRule {
    alert: string;
    expr: string;
    for: string;
    labels: Record<string, string>;
    annotations: { summary: string; description: string };
}

export function parsePrometheusYml(text: string): PrometheusYml {
    return parse(text) as PrometheusYml;
}

/** The rules of alerts.yml's one group. */
export function parseAlertRules(text: string): RenderedRule[] {
    return (parse(text) as { groups: { name: string; rules: RenderedRule[] }[] }).groups[0].rules;
}

/** The job of that name (throws on a missing one, so the test names it). */
export function scrapeJob(config: PrometheusYml, name: string): ScrapeJob {
    const found = config.scrape_configs.find((job) => job.job_name === name);
    if (!found) throw new Error(`no scrape job ${name}`);
    return found;
}
