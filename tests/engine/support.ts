// Helpers of the engine test: a sandbox with its own Pulumi home, file backend and passphrase, the
// real CLI (tools/engine/bin) run on a program through tools/engine/pulumi.ts, and readers for the
// manifests that renderYamlToDirectory and `npm run render` write.
import * as fs from "fs";
import * as path from "path";
import { parseAllDocuments } from "yaml";

export { CommandResult, EngineSandbox, ENGINE_BIN, newPassword, PASSWORD_NAMES, PROJECT_ROOT } from "../../tools/engine/sandbox";
import type { CommandResult } from "../../tools/engine/sandbox";

/** Fails with the command's output when it did not exit as expected. */
export function expectExit(result: CommandResult, code: number, what: string): void {
    if (result.code !== code) {
        throw new Error(`${what}: exit ${result.code}, expected ${code}\n--- stdout\n${result.stdout.slice(-6000)}\n--- stderr\n${result.stderr.slice(-6000)}`);
    }
}

/** One step of `pulumi preview --json`. */
export interface PlanStep {
    op: string;
    urn: string;
    newState?: { type: string; inputs?: { kind?: string; metadata?: { name?: string; namespace?: string } } };
}
/** `pulumi preview --json`. */
export interface PreviewJson {
    steps: PlanStep[];
    changeSummary: Record<string, number>;
    diagnostics?: { severity: string; message: string }[];
}

/** `<op> <type without package> <name>`, e.g. `update core/v1:ConfigMap lb-config`. */
export function describeStep(step: PlanStep): string {
    // urn:pulumi:<stack>::<project>::<parent types $ type>::<name>
    const [, , typeChain, name] = step.urn.split("::");
    const type = typeChain.split("$").pop() ?? typeChain;
    return `${step.op} ${type.replace(/^kubernetes:/, "")} ${name}`;
}

/** A Kubernetes object as written to YAML. */
interface ManifestObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string } & Record<string, unknown>;
    data?: Record<string, string>;
    stringData?: Record<string, string>;
    [field: string]: unknown;
}

function identity(object: ManifestObject): string {
    return `${object.kind} ${object.metadata.namespace ?? "-"}/${object.metadata.name}`;
}

function parseObjects(text: string, source: string): ManifestObject[] {
    return parseAllDocuments(text)
        .map((document) => {
            if (document.errors.length > 0) throw new Error(`${source}: ${document.errors[0].message}`);
            return document.toJS() as ManifestObject | null;
        })
        .filter((object): object is ManifestObject => object !== null);
}

/** Every object renderYamlToDirectory wrote under `dir`, by `<kind> <namespace>/<name>`. */
export function readRenderedDirectory(dir: string): Map<string, ManifestObject> {
    const objects = new Map<string, ManifestObject>();
    const visit = (current: string): void => {
        for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
            const file = path.join(current, entry.name);
            if (entry.isDirectory()) visit(file);
            else for (const object of parseObjects(fs.readFileSync(file, "utf8"), file)) objects.set(identity(object), object);
        }
    };
    visit(dir);
    return objects;
}

/** Every object of `npm run render`'s manifests.yaml, by `<kind> <namespace>/<name>`. */
export function readRenderFile(file: string): Map<string, ManifestObject> {
    return new Map(parseObjects(fs.readFileSync(file, "utf8"), file).map((object) => [identity(object), object]));
}

/** Keys in a stable order, so two objects compare by content. */
function canonical(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(canonical);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical((value as Record<string, unknown>)[key])]));
    }
    return value;
}

/** Each field whose value differs, as `<path>: engine <value>, render <value>`. */
function fieldDifferences(engine: unknown, render: unknown, at: string): string[] {
    const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object";
    if (isObject(engine) && isObject(render) && Array.isArray(engine) === Array.isArray(render)) {
        const keys = [...new Set([...Object.keys(engine), ...Object.keys(render)])].sort();
        return keys.flatMap((key) => fieldDifferences(engine[key], render[key], at ? `${at}.${key}` : key));
    }
    if (JSON.stringify(engine) === JSON.stringify(render)) return [];
    return [`${at}: engine ${JSON.stringify(engine) ?? "nothing"}, render ${JSON.stringify(render) ?? "nothing"}`];
}

/**
 * What differs between the engine's objects and the render's. Secrets are compared without their
 * values (the render redacts them; the engine writes them base64-encoded): same metadata, same keys.
 */
export function manifestDifferences(engine: Map<string, ManifestObject>, render: Map<string, ManifestObject>): string[] {
    const differences: string[] = [];
    for (const key of engine.keys()) if (!render.has(key)) differences.push(`only in the engine's manifests: ${key}`);
    for (const [key, expected] of render) {
        const actual = engine.get(key);
        if (!actual) {
            differences.push(`only in npm run render: ${key}`);
            continue;
        }
        if (expected.kind === "Secret") {
            const keysOf = (object: ManifestObject) => [...Object.keys(object.data ?? {}), ...Object.keys(object.stringData ?? {})].sort();
            const { data: _a, stringData: _b, ...actualRest } = actual;
            const { data: _c, stringData: _d, ...expectedRest } = expected;
            if (JSON.stringify(keysOf(actual)) !== JSON.stringify(keysOf(expected))) differences.push(`${key}: keys ${keysOf(actual)} vs ${keysOf(expected)}`);
            if (JSON.stringify(canonical(actualRest)) !== JSON.stringify(canonical(expectedRest))) differences.push(`${key}: metadata or type differ`);
            continue;
        }
        differences.push(...fieldDifferences(actual, expected, "").map((field) => `${key}: ${field}`));
    }
    return differences;
}

/** Prints a line of figures to the terminal (jest's console adds a stack trace per line). */
export function report(line: string): void {
    process.stdout.write(`engine: ${line}\n`);
}
