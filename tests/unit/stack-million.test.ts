// The example stack Pulumi.million.yaml (1,000,000 users, 1,000,000 req/s): the whole program under
// mocks renders, validates, and its capacity report is OK on every line, cost within its budget.
import { baselineViolations } from "../helpers/baseline";
import { installMocks, RecordedResource, settled } from "../helpers/mocks";
import { describeStackRender } from "../fixtures/render-suite";

let recorded: RecordedResource[];

beforeAll(async () => {
    recorded = await installMocks("million");
    await import("../../index");
    await settled(recorded);
}, 60000);

test("every workload meets the baseline", () => {
    expect(baselineViolations(recorded)).toEqual([]);
});

test("it writes YAML instead of deploying: no cluster is needed", () => {
    const providers = recorded.filter((r) => r.type === "pulumi:providers:kubernetes");
    expect(providers).toHaveLength(1);
    expect(providers[0].inputs.renderYamlToDirectory).toBe("rendered/million-yaml");
});

describeStackRender("million", () => recorded, { everyCapacityLineOk: true });
