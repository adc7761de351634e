// Bad-config cases: a stack's raw config with one change, and the message parseStackConfig throws.
import { parseStackConfig, StackConfigError } from "../../config";
import { readStackConfig } from "../../scripts/stack-files";

/** A stack's raw config as read from its files; reached into freely by the cases. */
export type RawConfig = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- arbitrary config shapes

/** A deep copy of the stack's raw config with `change` applied. */
export function configWith(stack: string, change: (raw: RawConfig) => void): RawConfig {
    const raw = structuredClone(readStackConfig(stack)) as RawConfig;
    change(raw);
    return raw;
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
