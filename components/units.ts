// Parsing of the size notations the stack uses, so sizes can be compared and summed
// (limits against requests, PVCs against retention, totals against the plan's budget).

const BINARY_SUFFIXES: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
};
const DECIMAL_SUFFIXES: Record<string, number> = {
    "": 1,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
};

/** A Kubernetes memory/storage quantity such as `8Gi`, `512Mi`, `1G` or `1048576`. */
export const MEMORY_QUANTITY = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/;
/** A Kubernetes CPU quantity such as `4`, `0.5` or `500m`. */
export const CPU_QUANTITY = /^(\d+(?:\.\d+)?)(m)?$/;
/** A PostgreSQL memory setting such as `4GB`, `64MB` or `512kB`. */
export const POSTGRES_SIZE = /^(\d+)(kB|MB|GB|TB)$/;
/** A Prometheus retention size such as `50GB` or `512MB`. */
export const PROMETHEUS_SIZE = /^(\d+(?:\.\d+)?)(B|KB|MB|GB|TB|PB)$/;
/** A Prometheus duration such as `30d`, `12h` or `15s`. */
export const PROMETHEUS_DURATION = /^(\d+)(ms|s|m|h|d|w|y)$/;

/** Bytes in a Kubernetes memory or storage quantity. Throws on a malformed quantity. */
export function parseMemoryQuantity(quantity: string): number {
    const match = MEMORY_QUANTITY.exec(quantity);
    if (!match) throw new Error(`not a Kubernetes quantity: ${quantity}`);
    const suffix = match[2] ?? "";
    const multiplier = BINARY_SUFFIXES[suffix] ?? DECIMAL_SUFFIXES[suffix];
    return Number(match[1]) * multiplier;
}

/** Cores in a Kubernetes CPU quantity. Throws on a malformed quantity. */
export function parseCpuQuantity(quantity: string): number {
    const match = CPU_QUANTITY.exec(quantity);
    if (!match) throw new Error(`not a Kubernetes CPU quantity: ${quantity}`);
    return match[2] === "m" ? Number(match[1]) / 1000 : Number(match[1]);
}

/** Whole cores a process may keep busy under a CPU limit: the limit rounded up, at least 1. */
export function wholeCores(cpuLimit: string): number {
    return Math.max(1, Math.ceil(parseCpuQuantity(cpuLimit)));
}

/** Bytes in a PostgreSQL size setting (PostgreSQL's kB/MB/GB/TB are powers of 1024). */
export function parsePostgresSize(size: string): number {
    const match = POSTGRES_SIZE.exec(size);
    if (!match) throw new Error(`not a PostgreSQL size: ${size}`);
    const power = { kB: 1, MB: 2, GB: 3, TB: 4 }[match[2] as "kB" | "MB" | "GB" | "TB"];
    return Number(match[1]) * 1024 ** power;
}

/** Bytes in a Prometheus size (Prometheus' units are powers of 1024). */
export function parsePrometheusSize(size: string): number {
    const match = PROMETHEUS_SIZE.exec(size);
    if (!match) throw new Error(`not a Prometheus size: ${size}`);
    const power = { B: 0, KB: 1, MB: 2, GB: 3, TB: 4, PB: 5 }[match[2] as "B" | "KB" | "MB" | "GB" | "TB" | "PB"];
    return Number(match[1]) * 1024 ** power;
}

/** Seconds in a Prometheus duration. */
export function parsePrometheusDuration(duration: string): number {
    const match = PROMETHEUS_DURATION.exec(duration);
    if (!match) throw new Error(`not a Prometheus duration: ${duration}`);
    const seconds = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 }[
        match[2] as "ms" | "s" | "m" | "h" | "d" | "w" | "y"
    ];
    return Number(match[1]) * seconds;
}
