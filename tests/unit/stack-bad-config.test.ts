// The program itself refuses a bad stack config before declaring anything: what `pulumi preview`
// shows. One stack per file (the Pulumi runtime is process-global).
import { installMocks, RecordedResource } from "../helpers/mocks";
import { readStackConfig } from "../../scripts/stack-files";

test("a sizing that outgrows PgBouncer fails the program with the budget arithmetic, and nothing is declared", async () => {
    const services = structuredClone(readStackConfig("prod").services) as { autoscaling: { maxReplicas: number } }[];
    services[1].autoscaling.maxReplicas = 200;
    // max_client_conn set: a derived one would follow the HPA maximum.
    const recorded: RecordedResource[] = await installMocks("prod", { services, pgbouncer: { maxClientConn: 5000 } });
    await expect(import("../../index")).rejects.toThrow(
        "prod: connection budget exceeded: service pools api-gateway 16 x 100 + user-service 200 x 100 = 21600 client connections; PgBouncer accepts 3 x 5000 = 15000",
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(recorded).toEqual([]);
});
