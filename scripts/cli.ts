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
        const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(argv[index]);
        const name = match?.[1] as Name | undefined;
        if (!match || name === undefined || !names.includes(name)) throw new Error(`unexpected argument '${argv[index]}'\n${usage}`);
        const value = match[2] ?? argv[++index];
        if (value === undefined || value === "" || (match[2] === undefined && value.startsWith("--"))) throw new Error(`--${name} needs a value\n${usage}`);
        if (flags[name] !== undefined) throw new Error(`--${name} is given twice\n${usage}`);
        flags[name] = value;
    }
    return flags;
}

/**
 * Runs a command's `main` and exits with its code; an error ends it with exit 1 and the error's
 * message (its stack when `withStack`). Exiting explicitly: the Pulumi runtime and child processes
 * keep handles open after the work is done.
 */
export function runMain(main: (argv: string[]) => Promise<number>, options: { withStack?: boolean } = {}): void {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (error: unknown) => {
            const text = error instanceof Error ? (options.withStack ? (error.stack ?? error.message) : error.message) : String(error);
            process.stderr.write(`${text}\n`);
            process.exit(1);
        },
    );
}
