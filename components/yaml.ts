// YAML for the files components render (Patroni's config, prometheus.yml, alert rules, Grafana
// provisioning). Components may not import the `yaml` package (a devDependency), so this emits
// block style for readability in `kubectl get cm -o yaml`, every string double-quoted in JSON
// syntax (which YAML's double-quoted scalars accept), so PromQL and templates need no hand escaping.

/** A value toYaml can emit. Object entries that are undefined are left out. */
export type YamlValue = string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue | undefined };

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_.\-/]*$/;

function isObject(value: YamlValue | undefined): value is { [key: string]: YamlValue | undefined } {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

function definedEntries(value: { [key: string]: YamlValue | undefined }): [string, YamlValue][] {
    return Object.entries(value).filter((entry): entry is [string, YamlValue] => entry[1] !== undefined);
}

function isNonEmptyCollection(value: YamlValue): boolean {
    return Array.isArray(value) ? value.length > 0 : isObject(value) && definedEntries(value).length > 0;
}

function inline(value: YamlValue): string {
    if (Array.isArray(value)) return "[]";
    if (isObject(value)) return "{}";
    if (typeof value === "string") return JSON.stringify(value);
    if (typeof value === "number") {
        if (!Number.isFinite(value)) throw new Error(`toYaml: cannot emit the number ${value}`);
        return String(value);
    }
    return value === null ? "null" : String(value);
}

function blockLines(value: YamlValue, indent: string): string[] {
    if (Array.isArray(value)) {
        return value.flatMap((item) => {
            if (!isNonEmptyCollection(item)) return [`${indent}- ${inline(item)}`];
            const inner = blockLines(item, `${indent}  `);
            inner[0] = `${indent}- ${inner[0].slice(indent.length + 2)}`;
            return inner;
        });
    }
    if (isObject(value)) {
        return definedEntries(value).flatMap(([key, item]) => {
            const name = PLAIN_KEY.test(key) ? key : JSON.stringify(key);
            return isNonEmptyCollection(item) ? [`${indent}${name}:`, ...blockLines(item, `${indent}  `)] : [`${indent}${name}: ${inline(item)}`];
        });
    }
    return [`${indent}${inline(value)}`];
}

/** YAML text for a plain value (block style, strings double-quoted). */
export function toYaml(value: YamlValue, header?: string): string {
    const body = isNonEmptyCollection(value) ? blockLines(value, "") : [inline(value)];
    return [...(header ? header.split("\n").map((line) => `# ${line}`) : []), ...body, ""].join("\n");
}
