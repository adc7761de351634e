// The service fleet's Grafana dashboard, handed to MonitoringStack. The fleet has no alert rules of its
// own: its pods' restarts are covered by MonitoringStack's PodRestarting.
import { Dashboards } from "../observability";
import dashboard from "./dashboard.json";

/** The services' Grafana dashboard. Imported, not read with fs, so a packaged build carries it. */
export const serviceFleetDashboards: Dashboards = { "service-fleet.json": dashboard };
