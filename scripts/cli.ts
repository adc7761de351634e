// The one command-line parser of the scripts: `--name value` or `--name=value`, every flag known in
// advance and every flag given a value, so a missing value is an error instead of shifting the flags
// after it.

/** Parsed flags by name (without the leading `--`). */
export type Flags<Name extends string> = Partial<Record<Name, string>>;

/**
 * Parses `argv` against the flag names a script takes. Throws `<problem>\n<usage>` for an unknown
 * argument, a flag without a value or a flag given twice.
 */
export function parseFlags<Name extends string>(argv: readonly string[], names: readonly Name[], usage: string): Flags<Name> {
    const flags: Flags<Name> = {};
    for (let index = 0; index < argv.length; index++) {
        const match = /^--([a-z][a-z-]*)(?:=(.*))?$/.exec(argv[index]);
        const name = match?.[1] as Name | undefined;
        if (!match || name === undefined || !names.includes(name)) throw new Error(`unexpected argument '${argv[index]}'\n${usage}`);
        const value = match[2] ?? argv[++index];
        if (value === undefined || value === "" || (match[2] === undefined && value.startsWith("--"))) throw new Error(`--${name} needs a value\n${usage}`);
        if (flags[name] !== undefined) throw new Error(`--${name} is given twice\n${usage}`);
        flags[name] = value;
    }
    return flags;
}
