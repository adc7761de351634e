// Reads a stack's configuration the way the Pulumi CLI hands it to the program: the defaults of
// Pulumi.yaml's `config:` block overlaid by Pulumi.<stack>.yaml, and the CLI's refusal of a key
// Pulumi.yaml declares without a default that the stack does not set. Used by the unit tests and the
// offline renderer, which run without the CLI.
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { CONFIG_NAMESPACE, parseConfigValue } from "../config";

/** The project root (where Pulumi.yaml lives). */
export const PROJECT_ROOT = path.resolve(__dirname, "..");

/**
 * Placeholder for values stored encrypted (`secure:`) in a stack file; without the passphrase they
 * cannot be read. Letters and dashes only, so it passes the checks a password gets.
 */
export const SECURE_PLACEHOLDER = "secure-value-not-decrypted";

interface ProjectFile {
    config?: Record<string, { type?: string; default?: unknown; value?: unknown } | null>;
}
interface StackFile {
    config?: Record<string, unknown>;
}

/** Stacks that have a Pulumi.<stack>.yaml in the project root. */
export function knownStacks(root = PROJECT_ROOT): string[] {
    return fs
        .readdirSync(root)
        .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
        .filter((stack): stack is string => stack !== undefined)
        .sort();
}

function replaceSecure(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(replaceSecure);
    if (value !== null && typeof value === "object") {
        const entries = Object.entries(value as Record<string, unknown>);
        if (entries.length === 1 && entries[0][0] === "secure") return SECURE_PLACEHOLDER;
        return Object.fromEntries(entries.map(([key, inner]) => [key, replaceSecure(inner)]));
    }
    return value;
}

/**
 * The stack's `prepx-platform:` values, keys without the namespace, structured values as objects.
 * Throws naming the stack when its file does not exist, and with the CLI's message when a key
 * Pulumi.yaml declares without a default is not set.
 */
export function readStackConfig(stack: string, root = PROJECT_ROOT): Record<string, unknown> {
    const stackPath = path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(stackPath)) {
        throw new Error(`unknown stack '${stack}': no ${path.basename(stackPath)} (known stacks: ${knownStacks(root).join(", ")})`);
    }
    const project = parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as ProjectFile;
    const stackFile = (parse(fs.readFileSync(stackPath, "utf8")) ?? {}) as StackFile;
    const values: Record<string, unknown> = {};
    const prefix = `${CONFIG_NAMESPACE}:`;
    for (const [fullKey, value] of Object.entries(stackFile.config ?? {})) {
        // Other namespaces (e.g. `kubernetes:`) configure providers, not this program.
        // The CLI hands every top-level value over as a string (a file it rewrote holds `"false"`),
        // and loadStackConfig parses it back: do the same.
        if (fullKey.startsWith(prefix)) values[fullKey.slice(prefix.length)] = typeof value === "string" ? parseConfigValue(value) : replaceSecure(value);
    }
    // The CLI's rule (pkg/workspace/config.go mergeConfig): a project key declared without a
    // default or value must be set by the stack, or every preview and up fails before the program runs.
    const missing: string[] = [];
    for (const [key, spec] of Object.entries(project.config ?? {})) {
        if (key in values) continue;
        const declared = spec ?? {};
        if (declared.value !== undefined) values[key] = declared.value;
        else if (declared.default !== undefined) values[key] = declared.default;
        else missing.push(key);
    }
    if (missing.length > 0) {
        throw new Error(`Stack '${stack}' is missing configuration values ${missing.map((key) => `'${key}'`).join(", ")} (declared in Pulumi.yaml without a default)`);
    }
    return values;
}

/** The same values in the form `pulumi.runtime.setAllConfig` takes: namespaced keys, string values. */
export function toPulumiConfig(values: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(
        Object.entries(values).map(([key, value]) => [`${CONFIG_NAMESPACE}:${key}`, typeof value === "string" ? value : JSON.stringify(value)]),
    );
}
