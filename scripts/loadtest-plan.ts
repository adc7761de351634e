// The load tester's plan, from its command line: who the users are, what they request, and when.
// Pure (no I/O): `npm run loadtest` and `npm run loadtest:local` parse with it, the unit tests
// check it directly.
//
// The schedule is open-loop: request k of the run is due at k / rate seconds after the start,
// whatever the server does, and goes to user k mod users. Each user walks the plan's journey in
// order on its own keep-alive connection, so a user whose previous request is still running sends
// the next one late; its latency is measured from when it was due (the wait counts), never from
// when it was sent. A slow server therefore shows as latency, not as a lower request rate that
// looks fast (coordinated omission).
import * as net from "net";
import { parsePrometheusDuration } from "../components/units";
import { Flags, parseFlags } from "./cli";

/** One request of the journey. */
export interface JourneyStep {
    /** A short name for reports. */
    name: string;
    /** Path (and query) under the base URL. */
    path: string;
}

/**
 * The plan's user journey (original-scaling-plan.md, "Load testing"): health, the user's profile,
 * their trading positions, one after another, with think time between requests.
 */
export const JOURNEY: readonly JourneyStep[] = [
    { name: "health", path: "/api/health" },
    { name: "profile", path: "/api/users/profile" },
    { name: "positions", path: "/api/trading/positions" },
];

/** A run is refused above these: one process holds one connection per user, and every result in memory. */
export const LIMITS = { users: 50_000, requests: 20_000_000, durationMs: 3_600_000 } as const;

/** Everything a run needs, validated. Times in milliseconds. */
export interface LoadPlan {
    /** Base URLs; user u talks to targets[u mod targets.length]. */
    targets: URL[];
    users: number;
    /** Time between the starts of one user's consecutive requests (users / rate). */
    thinkTimeMs: number;
    /** Requests per second over all users (users / think time). */
    rate: number;
    /** How long requests are started; the run ends at most timeoutMs later. */
    durationMs: number;
    /** Requests scheduled in the run: rate x duration. */
    requests: number;
    /** A request without a complete response after this long is an error. */
    timeoutMs: number;
    /** Client source addresses, one per user or shared round-robin; empty = the OS chooses. */
    sourceAddresses: string[];
    journey: readonly JourneyStep[];
    /** PEM file of the CA https targets are verified against instead of Node's CAs (a stack's own or a test CA). */
    caFile?: string;
}

/** Pass/fail thresholds of a run. */
export interface Slo {
    /** p95 latency target in ms (the stack's targets.p95LatencyMs). */
    p95Ms: number;
    /** Largest share of requests that may fail (transport errors, timeouts, HTTP statuses other than 2xx/3xx/429). */
    maxErrorRate: number;
    /** Largest share of requests that may be answered 429 (rate-limited). */
    max429Rate: number;
}

/** The plan's 99.9% availability target as a share of requests allowed to fail. */
const DEFAULT_MAX_ERROR_RATE = 0.001;

const LOADTEST_FLAGS = [
    "url",
    "users",
    "rate",
    "think-time",
    "duration",
    "timeout",
    "source-addresses",
    "stack",
    "slo-p95",
    "max-error-rate",
    "max-429-rate",
    "out",
    "ca-file",
] as const;
export type LoadTestFlag = (typeof LOADTEST_FLAGS)[number];

const LOADTEST_USAGE = `usage: npm run loadtest -- --url <base>[,<base>...] [options]
  --url URL[,URL]        base URL(s) of the stack (http:// or https://); users are spread over them
  --users N              concurrent users (default 100; with --rate and --think-time, any two decide the third)
  --rate R               requests per second over all users
  --think-time T         time between the starts of one user's requests (default 1s)
  --duration T           how long requests are started (default 60s), e.g. 60s, 2m
  --timeout T            a request unanswered after T is an error (default 10s)
  --source-addresses N   loopback targets only: spread the users over N client addresses 127.1.x.y
                         (default one per user, so per-client limits see each user as a client)
  --stack NAME           read the SLO from Pulumi.NAME.yaml's targets.p95LatencyMs (default prod)
  --slo-p95 T            the p95 latency target instead, e.g. 100ms
  --max-error-rate F     share of requests allowed to fail (default ${DEFAULT_MAX_ERROR_RATE}: the plan's 99.9%)
  --max-429-rate F       share of requests allowed to be rate-limited (default ${DEFAULT_MAX_ERROR_RATE})
  --out DIR              where result.json and report.html go (default loadtest-results/<time>)
  --ca-file FILE         verify https:// targets against the CA certificate(s) in this PEM file instead of Node's CAs
exit status: 0 SLO met, 99 SLO missed, 1 bad arguments or a failed run`;

/** A duration flag in ms: `60s`, `500ms`, `2m`. */
export function parseDurationFlag(name: string, value: string): number {
    let ms: number;
    try {
        ms = parsePrometheusDuration(value) * 1000;
    } catch {
        throw new Error(`--${name} must be a duration such as 500ms, 60s or 2m (got '${value}')`);
    }
    if (ms <= 0) throw new Error(`--${name} must be above zero (got '${value}')`);
    return ms;
}

function positiveInteger(name: string, value: string): number {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`--${name} must be a whole number of at least 1 (got '${value}')`);
    return Number(value);
}

function positiveNumber(name: string, value: string): number {
    const number = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value) || !(number > 0)) throw new Error(`--${name} must be a number above zero (got '${value}')`);
    return number;
}

function share(name: string, value: string): number {
    const number = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value) || number > 1) throw new Error(`--${name} must be a share between 0 and 1 (got '${value}')`);
    return number;
}

/** http:// or https:// base URLs, comma-separated (https verifies against --ca-file, or else Node's CAs plus NODE_EXTRA_CA_CERTS). */
function parseTargets(value: string): URL[] {
    return value.split(",").map((text) => {
        let url: URL;
        try {
            url = new URL(text);
        } catch {
            throw new Error(`--url must be a URL such as http://127.0.0.1:8080 (got '${text}')`);
        }
        if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`--url must use http:// or https:// (got '${text}')`);
        if (url.search || url.hash) throw new Error(`--url must be a base URL without query or fragment (got '${text}')`);
        return url;
    });
}

/** True when every target resolves to this host's loopback (127.0.0.0/8 or `localhost`). */
export function isLoopback(targets: URL[]): boolean {
    return targets.every((url) => url.hostname === "localhost" || (net.isIPv4(url.hostname) && url.hostname.startsWith("127.")));
}

/**
 * `count` distinct client addresses in 127.1.0.0/16 and up (all of 127.0.0.0/8 is local on Linux,
 * no setup needed), skipping host parts 0 and 255.
 */
export function loopbackSourceAddresses(count: number): string[] {
    const addresses: string[] = [];
    for (let index = 0; addresses.length < count; index++) {
        const third = Math.floor(index / 254);
        const fourth = (index % 254) + 1;
        const second = 1 + Math.floor(third / 256);
        if (second > 254) throw new Error(`at most ${254 * 256 * 254} loopback source addresses`);
        addresses.push(`127.${second}.${third % 256}.${fourth}`);
    }
    return addresses;
}

/**
 * Users, rate and think time: rate = users / think time. Any two decide the third; all three must
 * agree; with one or none, the defaults (100 users, 1 s) fill in.
 */
export function resolveLoad(given: { users?: number; rate?: number; thinkTimeMs?: number }): { users: number; rate: number; thinkTimeMs: number } {
    const { users, rate, thinkTimeMs } = given;
    if (users !== undefined && rate !== undefined && thinkTimeMs !== undefined) {
        const expected = (users * 1000) / thinkTimeMs;
        if (Math.abs(expected - rate) > 1e-9 * Math.max(expected, rate)) {
            throw new Error(`--users ${users} with --think-time ${thinkTimeMs}ms gives ${expected} requests/s, not --rate ${rate}: give two of the three`);
        }
        return { users, rate, thinkTimeMs };
    }
    if (users !== undefined && rate !== undefined) return { users, rate, thinkTimeMs: (users * 1000) / rate };
    if (rate !== undefined) {
        const think = thinkTimeMs ?? 1000;
        const derived = (rate * think) / 1000;
        if (!Number.isInteger(derived) || derived < 1) {
            throw new Error(`--rate ${rate} with --think-time ${think}ms gives ${derived} users: choose a rate that gives a whole number of users, or give --users`);
        }
        return { users: derived, rate, thinkTimeMs: think };
    }
    const resolvedUsers = users ?? 100;
    const think = thinkTimeMs ?? 1000;
    return { users: resolvedUsers, rate: (resolvedUsers * 1000) / think, thinkTimeMs: think };
}

/** The run's plan from its flags (the SLO is resolved separately: it may need the stack's config). */
export function planFromFlags(flags: Flags<LoadTestFlag>, journey: readonly JourneyStep[] = JOURNEY): LoadPlan {
    if (flags.url === undefined) throw new Error("--url is required");
    const targets = parseTargets(flags.url);
    const load = resolveLoad({
        users: flags.users === undefined ? undefined : positiveInteger("users", flags.users),
        rate: flags.rate === undefined ? undefined : positiveNumber("rate", flags.rate),
        thinkTimeMs: flags["think-time"] === undefined ? undefined : parseDurationFlag("think-time", flags["think-time"]),
    });
    const durationMs = flags.duration === undefined ? 60_000 : parseDurationFlag("duration", flags.duration);
    const timeoutMs = flags.timeout === undefined ? 10_000 : parseDurationFlag("timeout", flags.timeout);
    const requests = Math.floor((load.rate * durationMs) / 1000);
    if (load.users > LIMITS.users) throw new Error(`--users ${load.users} is above ${LIMITS.users} (one connection each in one process): run several testers`);
    if (durationMs > LIMITS.durationMs) throw new Error(`--duration is above ${LIMITS.durationMs / 60000} minutes`);
    if (requests > LIMITS.requests) throw new Error(`${requests} requests (rate x duration) is above ${LIMITS.requests}: shorten the run or run several testers`);
    if (requests < 1) throw new Error(`rate ${load.rate}/s for ${durationMs} ms schedules no request: lengthen --duration`);
    let sourceAddresses: string[] = [];
    if (flags["source-addresses"] !== undefined) {
        if (!isLoopback(targets)) throw new Error("--source-addresses needs loopback targets (127.x.y.z or localhost): other hosts see this machine's own addresses");
        sourceAddresses = loopbackSourceAddresses(Math.min(positiveInteger("source-addresses", flags["source-addresses"]), load.users));
    } else if (isLoopback(targets)) {
        sourceAddresses = loopbackSourceAddresses(load.users);
    }
    const caFile = flags["ca-file"];
    if (caFile !== undefined && !targets.some((url) => url.protocol === "https:")) throw new Error(`--ca-file verifies https:// targets: none of --url is https (got '${flags.url}')`);
    return { targets, ...load, durationMs, requests, timeoutMs, sourceAddresses, journey, ...(caFile === undefined ? {} : { caFile }) };
}

/** The SLO from flags; `stackP95Ms` is the stack's targets.p95LatencyMs, used when --slo-p95 is absent. */
export function sloFromFlags(flags: Flags<LoadTestFlag>, stackP95Ms: () => number): Slo {
    return {
        p95Ms: flags["slo-p95"] === undefined ? stackP95Ms() : parseDurationFlag("slo-p95", flags["slo-p95"]),
        maxErrorRate: flags["max-error-rate"] === undefined ? DEFAULT_MAX_ERROR_RATE : share("max-error-rate", flags["max-error-rate"]),
        max429Rate: flags["max-429-rate"] === undefined ? DEFAULT_MAX_ERROR_RATE : share("max-429-rate", flags["max-429-rate"]),
    };
}

/** Parses the tester's command line; errors name the flag and end with the usage. */
export function parseLoadTestArgs(argv: readonly string[]): Flags<LoadTestFlag> {
    return parseFlags(argv, LOADTEST_FLAGS, LOADTEST_USAGE);
}

/** Request k of the run: when it is due (ms after the start), whose it is, and which step. */
export interface ScheduledRequest {
    index: number;
    dueMs: number;
    user: number;
    step: JourneyStep;
}

/**
 * Request `index` of the plan. Users take turns (k mod users), so each user's requests are one
 * think time apart and the users' phases are spread evenly over it; each user walks the journey
 * in order, starting over at the end.
 */
export function scheduledRequest(plan: Pick<LoadPlan, "users" | "rate" | "journey">, index: number): ScheduledRequest {
    const user = index % plan.users;
    const round = Math.floor(index / plan.users);
    return { index, dueMs: (index * 1000) / plan.rate, user, step: plan.journey[round % plan.journey.length] };
}

/** How many requests are due by `elapsedMs` (the first `n` indexes), at most the plan's total. */
export function requestsDueBy(plan: Pick<LoadPlan, "rate" | "requests">, elapsedMs: number): number {
    if (elapsedMs < 0) return 0;
    return Math.min(plan.requests, Math.floor((elapsedMs * plan.rate) / 1000) + 1);
}
