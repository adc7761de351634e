// `npm run loadtest -- --url <base> --users N --duration 60s`: the plan's user journey against a
// deployed stack (or anything serving its paths), open-loop, judged against the SLO. Writes
// result.json and report.html to --out; exits 99 when the SLO is missed.
import * as fs from "fs";
import * as path from "path";
import { parseStackConfig } from "../config";
import { runMain } from "./cli";
import { parseLoadTestArgs, planFromFlags, sloFromFlags } from "./loadtest-plan";
import { renderReport, summaryLines } from "./loadtest-report";
import { runLoadTest } from "./loadtest-run";
import { LoadResult } from "./loadtest-stats";
import { PROJECT_ROOT, readStackConfig } from "./stack-files";

/** Exit status of a run that missed its SLO (k6 uses the same for failed thresholds). */
export const SLO_MISSED_EXIT = 99;

/** The stack's p95 target (targets.p95LatencyMs of Pulumi.<stack>.yaml). */
export function stackP95Ms(stack: string): number {
    return parseStackConfig(stack, readStackConfig(stack)).targets.p95LatencyMs;
}

/** A fresh results directory under loadtest-results/ named by the time. */
export function defaultOutDir(now = new Date()): string {
    return path.join(PROJECT_ROOT, "loadtest-results", now.toISOString().replace(/[:.]/g, "-"));
}

/** Writes result.json (or `<name>.json`) and report.html of `results` into `dir`. */
export function writeResults(dir: string, title: string, results: { name: string; result: LoadResult }[]): { report: string; json: string[] } {
    fs.mkdirSync(dir, { recursive: true });
    const json = results.map(({ name, result }) => {
        const file = path.join(dir, `${name}.json`);
        fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
        return file;
    });
    const report = path.join(dir, "report.html");
    fs.writeFileSync(report, renderReport(title, results.map(({ result }) => result)));
    return { report, json };
}

async function main(argv: string[]): Promise<number> {
    const flags = parseLoadTestArgs(argv);
    const plan = planFromFlags(flags);
    const slo = sloFromFlags(flags, () => stackP95Ms(flags.stack ?? "prod"));
    const out = flags.out ?? defaultOutDir();
    process.stderr.write(
        `loadtest: ${plan.users} users, ${plan.rate} req/s for ${plan.durationMs / 1000} s against ${plan.targets.join(", ")}` +
            `${plan.sourceAddresses.length ? ` from ${plan.sourceAddresses.length} loopback addresses` : ""}` +
            `${plan.caFile ? `, https verified against ${plan.caFile}` : ""}; SLO p95 ${slo.p95Ms} ms\n`,
    );
    const result = await runLoadTest(plan, { label: "loadtest", slo });
    const written = writeResults(out, `Load test of ${plan.targets.join(", ")}`, [{ name: "result", result }]);
    console.log([...summaryLines(result), `results: ${written.json.join(", ")}; report: ${written.report}`].join("\n"));
    return result.slo.passed ? 0 : SLO_MISSED_EXIT;
}

if (require.main === module) runMain(main);
