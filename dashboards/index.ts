// Dashboards of the whole stack rather than of one component: index.ts hands them to MonitoringStack
// before the components' own. Not part of the components package.
import type { Dashboards } from "../components/observability";
import overview from "./overview.json";

/** The overview: every component's health and traffic on one page. */
export const overviewDashboards: Dashboards = { "overview.json": overview };
