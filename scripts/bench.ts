// `npm run bench`: wall time of `npm run render` for each stack, of the unit suite, and the object
// counts. Figures are printed for the record, never asserted: they depend on the machine.
// Renders go to a temp dir, so rendered/ is left as the user had it.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseAllDocuments } from "yaml";
import { runMain } from "./cli";
import { knownStacks, PROJECT_ROOT } from "./stack-files";

const BIN = path.join(PROJECT_ROOT, "node_modules", ".bin");

interface Timed {
    seconds: number;
    code: number;
    output: string;
}

/** Runs a command to the end, timing it by the wall clock. */
function timed(command: string, args: string[]): Promise<Timed> {
    const start = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ seconds: Number(process.hrtime.bigint() - start) / 1e9, code: code ?? 1, output }));
    });
}

/** Objects by kind in a rendered manifests.yaml. */
function countObjects(file: string): { total: number; byKind: Map<string, number> } {
    const byKind = new Map<string, number>();
    const documents = parseAllDocuments(fs.readFileSync(file, "utf8"));
    const list = Array.isArray(documents) ? documents : [];
    for (const document of list) {
        const kind = String((document.toJS() as { kind?: unknown }).kind);
        byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    }
    return { total: list.length, byKind };
}

async function main(): Promise<number> {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "prepx-bench-"));
    const lines: string[] = [`bench on ${os.cpus().length} CPUs, node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`];
    let failed = false;
    try {
        for (const stack of knownStacks()) {
            const dir = path.join(out, stack);
            const result = await timed(path.join(BIN, "tsx"), ["scripts/render.ts", "--stack", stack, "--out", dir]);
            if (result.code !== 0 || !fs.existsSync(path.join(dir, "manifests.yaml"))) {
                lines.push(`render ${stack}: FAILED (exit ${result.code}) after ${result.seconds.toFixed(1)} s`, result.output);
                failed = true;
                continue;
            }
            const counts = countObjects(path.join(dir, "manifests.yaml"));
            const kinds = [...counts.byKind.entries()].map(([kind, count]) => `${kind} ${count}`).join(", ");
            lines.push(`render ${stack}: ${result.seconds.toFixed(1)} s, ${counts.total} objects (${kinds})`);
        }
        const suite = await timed(path.join(BIN, "jest"), ["--selectProjects", "unit"]);
        const tests = /Tests:\s+(.*)/.exec(suite.output)?.[1] ?? "no test summary";
        const files = /Test Suites:\s+(.*)/.exec(suite.output)?.[1] ?? "";
        lines.push(`unit suite: ${suite.seconds.toFixed(1)} s (exit ${suite.code}; files ${files}; tests ${tests})`);
        if (suite.code !== 0) failed = true;
    } finally {
        fs.rmSync(out, { recursive: true, force: true });
    }
    console.log(lines.join("\n"));
    return failed ? 1 : 0;
}

runMain(main, { withStack: true });
