// Bad-config cases: a stack's raw config with one change, and the message parseStackConfig throws.
import { parseStackConfig, StackConfigError } from "../../config";
import { readStackConfig } from "../../scripts/stack-files";

/** A stack's raw config as read from its files; reached into freely by the cases. */
export type RawConfig = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- arbitrary config shapes

/**
 * A deep copy of the stack's raw config with `change` applied. The stack files leave out what equals
 * a component default, so a section or object a case writes into is created on first access (as a
 * user adding one key to the file would); one only read and left empty is dropped again.
 */
export function configWith(stack: string, change: (raw: RawConfig) => void): RawConfig {
    const raw = structuredClone(readStackConfig(stack)) as RawConfig;
    const created = new Set<object>();
    const creating = (object: Record<string, unknown>): RawConfig =>
        new Proxy(object, {
            get(target, key) {
                if (typeof key === "string" && !(key in target) && !Array.isArray(target)) {
                    target[key] = {};
                    created.add(target[key] as object);
                }
                const value = Reflect.get(target, key);
                return value !== null && typeof value === "object" && !Array.isArray(value) ? creating(value as Record<string, unknown>) : value;
            },
        });
    change(creating(raw));
    return withoutUnused(raw, created) as RawConfig;
}

/** `value` without the objects created by a read that nothing was written into. */
function withoutUnused(value: unknown, created: Set<object>): unknown {
    if (Array.isArray(value)) return value.map((item) => withoutUnused(item, created));
    if (value === null || typeof value !== "object") return value;
    const entries = Object.entries(value)
        .filter(([, child]) => !(child !== null && typeof child === "object" && created.has(child) && Object.keys(child).length === 0))
        .map(([key, child]) => [key, withoutUnused(child, created)]);
    return Object.fromEntries(entries);
}

/** The StackConfigError message for `raw`; fails the test when the config is accepted. */
export function configErrorOf(raw: RawConfig, stack = "prod"): string {
    try {
        parseStackConfig(stack, raw);
    } catch (error) {
        expect(error).toBeInstanceOf(StackConfigError);
        return (error as Error).message;
    }
    throw new Error("config was accepted");
}
