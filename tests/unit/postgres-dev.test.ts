// PostgresCluster under Pulumi mocks with Pulumi.dev.yaml's configuration, instantiated directly
// the way index.ts composes it.
import { clusterArgs, describePostgresCluster, PostgresContext, resolvedClusterArgs } from "../helpers/postgres-expectations";
import { installMocks, settled } from "../helpers/mocks";
import { readStackConfig } from "../../scripts/stack-files";

let context: PostgresContext;

beforeAll(async () => {
    const recorded = await installMocks("dev");
    const { PostgresCluster } = await import("../../components/postgres");
    const { parseStackConfig } = await import("../../config");
    const config = parseStackConfig("dev", readStackConfig("dev"));
    const cluster = new PostgresCluster("postgres", clusterArgs(config));
    await settled(recorded);
    context = { recorded, cluster, config, args: resolvedClusterArgs(config) };
});

describePostgresCluster(() => context, {
    stack: "dev",
    // dev builds and pushes to the local registry of scripts/kind-up.sh: pods run the pushed digest
    // (the mock engine's digest), so a rebuilt image rolls them.
    image: `localhost:5001/prepx/postgres-patroni:15.19-patroni3.0.2-pgbackrest2.45@sha256:${"0".repeat(64)}`,
    protect: false,
    standbys: 1,
    synchronousMode: false,
    backupRepository: "volume",
});
