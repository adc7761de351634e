// Pulumi mock runtime shared by the unit tests, the offline renderer (scripts/render.ts) and the
// consumer fixture: records every resource the program registers, with its inputs (plain and as
// serialized, so secretness is visible), its parent URN and its options. Nothing here needs the
// Pulumi CLI, a backend or a cluster.
import * as pulumi from "@pulumi/pulumi";
import { readStackConfig, toPulumiConfig } from "./stack-files";

/** Pulumi's marker for a secret value in serialized properties. */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

/** One registered resource as the mock engine saw it. */
export interface RecordedResource {
    type: string;
    name: string;
    /** Inputs with secrets unwrapped. */
    inputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- arbitrary resource shapes
    /** Inputs as serialized on the wire: secret values are wrapped objects carrying SECRET_SIG. */
    wire: Record<string, unknown>;
    urn: string;
    parent: string;
    protect: boolean;
    custom: boolean;
    /** The provider reference (`<provider urn>::<id>`) a custom resource was registered with. */
    provider: string;
}

/** A value that stands in for a generated password under mocks. */
export function mockPassword(name: string): string {
    return `mock-password-${name}`;
}

/** True if a serialized value (from RecordedResource.wire) is marked secret. */
export function isWireSecret(value: unknown): boolean {
    return value !== null && typeof value === "object" && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** A value wrapped as Pulumi serializes a secret (for tests of code that reads RecordedResource.wire). */
export function wireSecret(value: unknown): Record<string, unknown> {
    return { [SIG_KEY]: SECRET_SIG, value };
}

/** Mock state for resources whose outputs the engine or provider would compute. */
function computedState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    switch (type) {
        case "random:index/randomPassword:RandomPassword":
            return { ...inputs, result: mockPassword(name) };
        case "tls:index/privateKey:PrivateKey":
            return { ...inputs, privateKeyPem: `mock-private-key-${name}` };
        case "tls:index/certRequest:CertRequest":
            return { ...inputs, certRequestPem: `mock-certificate-request-${name}` };
        case "tls:index/selfSignedCert:SelfSignedCert":
        case "tls:index/locallySignedCert:LocallySignedCert":
            return { ...inputs, certPem: `mock-certificate-${name}` };
        case "docker:index/image:Image":
            return { ...inputs, repoDigest: `${String(inputs.imageName)}@sha256:${"0".repeat(64)}` };
        default: {
            // Kubernetes auto-naming: objects without metadata.name get the logical name.
            const metadata = inputs.metadata as Record<string, unknown> | undefined;
            if (type.startsWith("kubernetes:") && metadata && metadata.name === undefined) {
                return { ...inputs, metadata: { ...metadata, name } };
            }
            return inputs;
        }
    }
}

/**
 * Installs mocks for `stack` with the config of Pulumi.<stack>.yaml (plus `overrides`, keys without
 * the namespace) and returns the list that fills as resources register. Import the program after.
 */
export async function installMocks(stack: string, overrides: Record<string, unknown> = {}): Promise<RecordedResource[]> {
    return installMockRuntime("prepx-platform", stack, toPulumiConfig({ ...readStackConfig(stack), ...overrides }));
}

/**
 * The general form of installMocks: any project and stack, config given as namespaced keys with
 * string values (what `pulumi.runtime.setAllConfig` takes). A program that reads no config, such as
 * another team's stack importing the components, passes `{}`.
 */
export async function installMockRuntime(project: string, stack: string, config: Record<string, string>): Promise<RecordedResource[]> {
    const recorded: RecordedResource[] = [];
    pulumi.runtime.setAllConfig(config);
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => ({ id: `${args.name}-id`, state: computedState(args.type, args.name, args.inputs) }),
            call: (args) => args.inputs,
        },
        project,
        stack,
    );
    const monitor = pulumi.runtime.getMonitor() as unknown as {
        registerResource(req: RegisterRequest, callback: (err: unknown, res?: { getUrn(): string }) => void): void;
    };
    const original = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, callback) => {
        original(req, (err, res) => {
            if (!err && res) {
                const wire = req.getObject()?.toJavaScript() ?? {};
                recorded.push({
                    type: req.getType(),
                    name: req.getName(),
                    inputs: unwrapSecrets(wire) as Record<string, unknown>,
                    wire,
                    urn: res.getUrn(),
                    parent: req.getParent(),
                    protect: req.getProtect() === true,
                    custom: req.getCustom(),
                    provider: req.getProvider(),
                });
            }
            callback(err, res);
        });
    };
    return recorded;
}

interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getProtect(): boolean | undefined;
    getCustom(): boolean;
    getProvider(): string;
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
}

function unwrapSecrets(value: unknown): unknown {
    if (isWireSecret(value)) return unwrapSecrets((value as Record<string, unknown>).value);
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

/** The value of an Output, awaited (never assert inside an apply). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise<T>((resolve) => output.apply(resolve));
}

/**
 * Waits until registration has settled: the count of recorded resources stops growing.
 * Registration is asynchronous, so right after a constructor returns nothing is recorded yet.
 */
export async function settled(recorded: RecordedResource[], quietMs = 150, maxMs = 20000): Promise<void> {
    const start = Date.now();
    let last = -1;
    while (Date.now() - start < maxMs) {
        if (recorded.length === last && last > 0) return;
        last = recorded.length;
        await new Promise((resolve) => setTimeout(resolve, quietMs));
    }
    throw new Error(`resources still registering after ${maxMs} ms (${recorded.length} so far)`);
}

/** Resources of a type token, e.g. `kubernetes:apps/v1:StatefulSet`. */
export function ofType(recorded: RecordedResource[], type: string): RecordedResource[] {
    return recorded.filter((resource) => resource.type === type);
}

/** The one resource of a type and name; throws listing what exists otherwise. */
export function find(recorded: RecordedResource[], type: string, name: string): RecordedResource {
    const match = recorded.find((resource) => resource.type === type && resource.name === name);
    if (!match) {
        const names = ofType(recorded, type).map((resource) => resource.name);
        throw new Error(`no ${type} named ${name} (have: ${names.join(", ") || "none"})`);
    }
    return match;
}
