// Runs a load plan with undici: one keep-alive Client (one connection, one request at a time) per
// user, bound to the user's client source address when the target is loopback, requests started
// on the open-loop schedule of loadtest-plan.ts. Bounded: rate x duration requests at most, ended
// by duration + timeout at the latest (requests still open then count as unfinished).
import * as fs from "fs";
import * as os from "os";
import { performance } from "perf_hooks";
import { Client } from "undici";
import { LoadPlan, requestsDueBy, scheduledRequest, ScheduledRequest, Slo } from "./loadtest-plan";
import { formatMs, LoadResult, Outcome, Recorder } from "./loadtest-stats";

export interface RunOptions {
    /** Names the run in the progress line and the result (e.g. `nginx`, `direct`). */
    label: string;
    slo: Slo;
    /** Receives the progress line once a second (default: stderr). */
    progress?: (line: string) => void;
    /** Aborting ends the run at once; the promise then rejects. */
    signal?: AbortSignal;
}

/** The error code of a failed request: undici's (UND_ERR_...) or the socket's (ECONNREFUSED...). */
function failureCode(error: unknown): string {
    const code = (error as { code?: unknown })?.code;
    return typeof code === "string" ? code : error instanceof Error ? error.name : "unknown";
}

function pathUnder(base: URL, path: string): string {
    return `${base.pathname.replace(/\/+$/, "")}${path}`;
}

/** The PEM text of --ca-file; a missing or unreadable file, or one without a certificate, is an error naming the flag. */
export function readCaFile(file: string): string {
    let pem: string;
    try {
        pem = fs.readFileSync(file, "utf8");
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new Error(`--ca-file ${file}: ${code === "ENOENT" ? "no such file" : `cannot be read (${code ?? String(error)})`}`, { cause: error });
    }
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new Error(`--ca-file ${file}: no PEM certificate in it`);
    return pem;
}

/** Runs `plan` to its end and returns what it measured. */
export async function runLoadTest(plan: LoadPlan, options: RunOptions): Promise<LoadResult> {
    const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
    // Read before any connection: a bad file fails the run at once, not as one TLS error per request.
    const ca = plan.caFile === undefined ? undefined : readCaFile(plan.caFile);
    const recorder = new Recorder();
    const clients = Array.from({ length: plan.users }, (_, user) => {
        const target = plan.targets[user % plan.targets.length];
        const localAddress = plan.sourceAddresses.length ? plan.sourceAddresses[user % plan.sourceAddresses.length] : undefined;
        return {
            target,
            client: new Client(target.origin, {
                localAddress,
                pipelining: 1,
                // With `ca`, only that CA is trusted (Node's own list is replaced, not extended).
                connect: { timeout: plan.timeoutMs, ...(ca === undefined ? {} : { ca }) },
                headersTimeout: plan.timeoutMs,
                bodyTimeout: plan.timeoutMs,
                // A user's connection outlives its think time, as a browser's does.
                keepAliveTimeout: Math.max(30_000, 2 * plan.thinkTimeMs),
            }),
        };
    });
    const open = new Map<number, ScheduledRequest>();
    const startedAt = new Date();
    const start = performance.now();
    const elapsed = (): number => performance.now() - start;
    let next = 0;
    let lastEnd = 0;
    let finished = false;
    let wake: (() => void) | undefined;

    const end = (request: ScheduledRequest, outcome: Outcome): void => {
        if (finished || !open.delete(request.index)) return;
        const now = elapsed();
        lastEnd = Math.max(lastEnd, now);
        recorder.record(request.step.name, request.dueMs, now - request.dueMs, outcome);
        if (open.size === 0 && next >= plan.requests) wake?.();
    };

    const send = (request: ScheduledRequest, now: number): void => {
        recorder.recordLag(now - request.dueMs);
        open.set(request.index, request);
        const { client, target } = clients[request.user];
        client.request({ method: "GET", path: pathUnder(target, request.step.path) }).then(
            async (response) => {
                try {
                    await response.body.dump({ limit: 1 << 20 });
                    end(request, { kind: "response", status: response.statusCode });
                } catch (error) {
                    end(request, { kind: "failure", code: failureCode(error) });
                }
            },
            (error: unknown) => end(request, { kind: "failure", code: failureCode(error) }),
        );
    };

    let timer: NodeJS.Timeout | undefined;
    const dispatch = (): void => {
        if (finished) return;
        const now = elapsed();
        for (const due = requestsDueBy(plan, now); next < due; next++) send(scheduledRequest(plan, next), now);
        if (next < plan.requests) {
            timer = setTimeout(dispatch, Math.max(0, scheduledRequest(plan, next).dueMs - elapsed()));
        } else if (open.size === 0) {
            wake?.();
        }
    };

    let lastCompleted = 0;
    const ticker = setInterval(() => {
        const now = elapsed();
        const second = Math.floor(now / 1000);
        const counts = recorder.counts();
        progress(
            `[${options.label}] ${second}s/${Math.round(plan.durationMs / 1000)}s sent ${next}/${plan.requests}, in flight ${open.size}, ` +
                `${recorder.completed - lastCompleted} ended in the last second, p95 of the requests due in second ${second - 1}: ${formatMs(recorder.secondP95(second - 1))}; ` +
                `ok ${counts.ok}, 429 ${counts.limited}, errors ${counts.errors}`,
        );
        lastCompleted = recorder.completed;
    }, 1000);

    const deadline = plan.durationMs + plan.timeoutMs + 1000;
    let aborted = false;
    try {
        await new Promise<void>((resolve) => {
            wake = resolve;
            const onAbort = (): void => {
                aborted = true;
                resolve();
            };
            if (options.signal?.aborted) onAbort();
            options.signal?.addEventListener("abort", onAbort, { once: true });
            setTimeout(resolve, deadline).unref();
            dispatch();
        });
    } finally {
        finished = true;
        if (timer) clearTimeout(timer);
        clearInterval(ticker);
    }
    const stoppedAt = elapsed();
    // Requests still open at the deadline: recorded at the time they had waited (a lower bound).
    for (const request of open.values()) recorder.record(request.step.name, request.dueMs, stoppedAt - request.dueMs, { kind: "unfinished" });
    // Requests never sent (the run was aborted) are not recorded: they are not in the plan's count.
    await Promise.all(clients.map(({ client }) => client.destroy().catch(() => undefined)));
    if (aborted) throw new Error(`${options.label}: run aborted after ${(stoppedAt / 1000).toFixed(1)} s`);
    // Throughput over the planned duration at least: the last request is due just before its end.
    const lastMoment = Math.max(plan.durationMs, open.size > 0 ? stoppedAt : lastEnd);
    const result = recorder.result({ label: options.label, startedAt, plan, elapsedSeconds: lastMoment / 1000, slo: options.slo });
    return { ...result, machine: { cpus: os.cpus().length, loadAverage1m: os.loadavg()[0] } };
}
