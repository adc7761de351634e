// The Grafana dashboards kept as JSON files in ./dashboards. They are imported (not read with fs) so
// that `tsc` copies them next to the compiled component and a packaged build finds them too.
import loadbalancer from "./dashboards/loadbalancer.json";
import overview from "./dashboards/overview.json";
import postgres from "./dashboards/postgres.json";
import redis from "./dashboards/redis.json";
import serviceFleet from "./dashboards/service-fleet.json";
import { dashboardProblems } from "./render";

/** Every dashboard by its file name in the ConfigMap: one per component plus an overview. */
export const DASHBOARDS: Readonly<Record<string, unknown>> = {
    "overview.json": overview,
    "postgres.json": postgres,
    "redis.json": redis,
    "loadbalancer.json": loadbalancer,
    "service-fleet.json": serviceFleet,
};

/**
 * The dashboards as ConfigMap data (file name -> JSON text). Throws listing every problem
 * dashboardProblems finds, so a bad dashboard fails the preview instead of the Grafana pod.
 */
export function dashboardFiles(dashboards: Readonly<Record<string, unknown>> = DASHBOARDS): Record<string, string> {
    const problems = Object.entries(dashboards).flatMap(([file, dashboard]) => dashboardProblems(file, dashboard));
    if (problems.length > 0) throw new Error(`invalid Grafana dashboards:\n${problems.join("\n")}`);
    return Object.fromEntries(Object.entries(dashboards).map(([file, dashboard]) => [file, `${JSON.stringify(dashboard, null, 2)}\n`]));
}
