// The dev stack with every password supplied (`passwords` in the stack config), as the engine test
// runs it: no RandomPassword is created and each Secret holds the supplied value, marked secret.
import { installMocks, isWireSecret, RecordedResource, settled } from "../helpers/mocks";

const PASSWORDS = {
    postgresSuperuser: "superuser-0123456789abcdef",
    postgresReplication: "replication-0123456789abcdef",
    postgresApp: "app-0123456789abcdef",
    postgresMonitor: "monitor-0123456789abcdef",
    postgresRestApi: "restapi-0123456789abcdef",
    redis: "redis-0123456789abcdef",
    redisExporter: "redis-exporter-0123456789abcdef",
    redisApps: { "api-gateway": "redis-gateway-0123456789abcdef", "user-service": "redis-users-0123456789abcdef" },
    grafanaAdmin: "grafana-0123456789abcdef",
    grafanaSecretKey: "grafana-key-0123456789abcdef",
};

let recorded: RecordedResource[];

beforeAll(async () => {
    recorded = await installMocks("dev", { passwords: PASSWORDS });
    await import("../../index");
    await settled(recorded);
});

const secret = (name: string) => {
    const found = recorded.find((r) => r.type === "kubernetes:core/v1:Secret" && r.inputs.metadata.name === name);
    if (!found) throw new Error(`no Secret ${name}`);
    return found;
};

test("no password is generated when all are supplied", () => {
    expect(recorded.filter((r) => r.type.startsWith("random:"))).toEqual([]);
});

test.each([
    ["postgres-credentials", "superuser-password", PASSWORDS.postgresSuperuser],
    ["postgres-credentials", "replication-password", PASSWORDS.postgresReplication],
    ["postgres-credentials", "monitor-password", PASSWORDS.postgresMonitor],
    ["postgres-credentials", "restapi-password", PASSWORDS.postgresRestApi],
    ["postgres-app", "password", PASSWORDS.postgresApp],
    ["redis-auth", "password", PASSWORDS.redis],
    ["redis-user-exporter", "password", PASSWORDS.redisExporter],
    ["redis-user-app-api-gateway", "password", PASSWORDS.redisApps["api-gateway"]],
    ["redis-user-app-user-service", "password", PASSWORDS.redisApps["user-service"]],
    ["monitoring-grafana-admin", "admin-password", PASSWORDS.grafanaAdmin],
    ["monitoring-grafana-admin", "secret-key", PASSWORDS.grafanaSecretKey],
])("Secret %s key %s holds the supplied password, as a secret", (name, key, value) => {
    const object = secret(name);
    expect(object.inputs.stringData[key]).toBe(value);
    expect(isWireSecret((object.wire.stringData as Record<string, unknown>)[key]) || isWireSecret(object.wire.stringData)).toBe(true);
});
