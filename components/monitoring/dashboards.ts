// Grafana dashboards: the check every dashboard passes before it is provisioned (MonitoringStack's
// args refuse one that fails it, so a bad dashboard fails the preview instead of the Grafana pod)
// and the ConfigMap data they become. The dashboards themselves belong to the components.
import type { Dashboards } from "../observability";
import { PROMETHEUS_DATASOURCE_UID } from "./render";

/** Panel types built into Grafana 11 and 12 that the dashboards may use (no plugin installs, no Angular). */
const ALLOWED_PANEL_TYPES = ["timeseries", "stat", "gauge", "piechart", "geomap", "row", "text", "table", "bargauge"];
/** Deprecated Angular plugins the original plan installed; refused anywhere in a dashboard. */
const DEPRECATED_PLUGINS = ["grafana-piechart-panel", "grafana-worldmap-panel"];

/** Grafana's file provider reads `*.json`; a ConfigMap key holds only these characters. */
const DASHBOARD_FILE_NAME = /^[-._a-zA-Z0-9]+\.json$/;

interface DashboardPanel {
    type?: unknown;
    title?: unknown;
    panels?: unknown;
    datasource?: unknown;
}

/** Every panel of a dashboard, those nested in rows included. */
function allPanels(list: unknown): DashboardPanel[] {
    if (!Array.isArray(list)) return [];
    return (list as DashboardPanel[]).flatMap((panel) => [panel, ...allPanels(panel.panels)]);
}

/**
 * Problems with one dashboard (empty = fine): a file name Grafana reads, a uid and title, only
 * built-in panel types, no deprecated plugin anywhere, every panel on the provisioned Prometheus
 * datasource.
 */
export function dashboardProblems(file: string, dashboard: unknown): string[] {
    if (dashboard === null || typeof dashboard !== "object") return [`${file}: not a JSON object`];
    const problems: string[] = [];
    if (!DASHBOARD_FILE_NAME.test(file)) problems.push(`${file}: file name must end in .json and hold only letters, digits, '-', '_' and '.'`);
    const model = dashboard as { uid?: unknown; title?: unknown; panels?: unknown };
    if (typeof model.uid !== "string" || model.uid.length === 0 || model.uid.length > 40) problems.push(`${file}: uid must be a string of 1-40 characters`);
    if (typeof model.title !== "string" || model.title.length === 0) problems.push(`${file}: no title`);
    const text = JSON.stringify(dashboard);
    for (const plugin of DEPRECATED_PLUGINS) if (text.includes(plugin)) problems.push(`${file}: uses deprecated plugin ${plugin}`);
    const panels = allPanels(model.panels);
    if (panels.length === 0) problems.push(`${file}: no panels`);
    for (const panel of panels) {
        const where = `${file}: panel "${String(panel.title)}"`;
        if (typeof panel.type !== "string" || !ALLOWED_PANEL_TYPES.includes(panel.type)) problems.push(`${where} has type ${String(panel.type)}, not a built-in panel`);
        if (panel.type === "row" || panel.type === "text") continue;
        const uid = (panel.datasource as { uid?: unknown } | undefined)?.uid;
        if (uid !== PROMETHEUS_DATASOURCE_UID) problems.push(`${where} does not use datasource uid ${PROMETHEUS_DATASOURCE_UID}`);
    }
    return problems;
}

/** The dashboards as ConfigMap data (file name -> JSON text), in the order given. */
export function dashboardFiles(dashboards: Dashboards): Record<string, string> {
    return Object.fromEntries(Object.entries(dashboards).map(([file, dashboard]) => [file, `${JSON.stringify(dashboard, null, 2)}\n`]));
}
