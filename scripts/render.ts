// `npm run render -- --stack <name> [--out <dir>]`: what a stack would create, without the Pulumi
// CLI, a backend or a cluster. Evaluates the real program (index.ts) under Pulumi's mock runtime
// with the stack's config (Pulumi.yaml defaults + Pulumi.<stack>.yaml, `secure:` values replaced by
// a placeholder), writes every Kubernetes object to <dir>/manifests.yaml (default
// rendered/<stack>) with Secret contents redacted, and prints a summary: objects by kind, resource
// totals, the schema check, the sizing derived from the targets, the capacity report, the monthly
// cost estimate and the security scorecard (also written to <dir>/summary.txt).
// A bad stack name or config exits 1 with the config error and writes nothing.
import * as fs from "fs";
import * as path from "path";
import { parseStackConfig, StackConfig } from "../config";
import { capacityReport, CapacityLine, formatCapacity, formatCost, formatSizing } from "./capacity";
import { parseFlags, runMain } from "./cli";
import { manifestsYaml, renderObjects, RenderResult } from "./manifests";
import { installMocks, RecordedResource, settled } from "./mock-runtime";
import { SchemaReport, validateAll } from "./schema";
import { formatScorecard, SecurityScorecard, securityScorecard } from "./security";
import { knownStacks, PROJECT_ROOT, readStackConfig } from "./stack-files";
import { formatResourceSummary, ResourceSummary, summarize } from "./summary";

/** Everything one render produced. */
export interface StackRender {
    stack: string;
    config: StackConfig;
    recorded: RecordedResource[];
    render: RenderResult;
    schema: SchemaReport;
    summary: ResourceSummary;
    capacity: CapacityLine[];
    security: SecurityScorecard;
    /** manifests.yaml */
    yaml: string;
    /** The printed summary (summary.txt). */
    text: string;
}

/**
 * The stack's validated config, read the way the CLI hands it to the program. Throws the
 * unknown-stack error of readStackConfig or config.ts' StackConfigError (its message is the whole
 * diagnosis) before anything is evaluated or written.
 */
export function loadConfig(stack: string, root = PROJECT_ROOT): StackConfig {
    return parseStackConfig(stack, readStackConfig(stack, root));
}

/**
 * Evaluates index.ts under the mock runtime and returns every resource it registered. The Pulumi
 * runtime is process-global: one stack per process (or jest test file).
 */
export async function evaluateProgram(stack: string): Promise<RecordedResource[]> {
    const recorded = await installMocks(stack);
    // The program must be loaded after setMocks, or its resources never reach the mocks.
    await import(path.join(PROJECT_ROOT, "index"));
    await settled(recorded);
    return recorded;
}

/** Object counts of resources that are not Kubernetes objects (passwords, images), by type. */
function otherResources(recorded: readonly RecordedResource[]): string {
    const counts = new Map<string, number>();
    for (const resource of recorded) {
        if (!resource.custom || resource.type.startsWith("kubernetes:") || resource.type.startsWith("pulumi:providers:")) continue;
        counts.set(resource.type, (counts.get(resource.type) ?? 0) + 1);
    }
    return [...counts.entries()].map(([type, count]) => `${type} x${count}`).join(", ") || "none";
}

function modelsVersion(): string {
    const manifest = path.join(path.dirname(require.resolve("kubernetes-models")), "package.json");
    return (JSON.parse(fs.readFileSync(manifest, "utf8")) as { version: string }).version;
}

/** Renders, validates and summarizes what `recorded` holds. Pure apart from reading kubernetes-models. */
export function buildRender(stack: string, config: StackConfig, recorded: RecordedResource[]): StackRender {
    const render = renderObjects(recorded);
    const schema = validateAll(render.objects.map((o) => ({ label: `${o.kind} ${o.namespace ? `${o.namespace}/` : ""}${o.name}`, object: o.object })));
    const summary = summarize(render.objects);
    const capacity = capacityReport(config, summary);
    const security = securityScorecard(render.objects);
    const lines = [
        // No output path here: summary.txt of two renders (a PR's base and head) must differ only where the stacks do.
        `Stack ${stack}: ${render.objects.length} Kubernetes objects`,
        `Schema: ${schema.checked} objects checked against the Kubernetes OpenAPI schemas (kubernetes-models ${modelsVersion()}): ` +
            `${schema.invalid.length === 0 ? "all valid" : `${schema.invalid.length} violations`}; ${schema.unchecked.length} without a schema`,
        ...schema.invalid.map((line) => `  INVALID ${line}`),
        ...schema.unchecked.map((line) => `  UNCHECKED ${line}`),
        ...render.problems.map((line) => `  PROBLEM ${line}`),
        ...render.unrendered.map((line) => `  NOT RENDERED (remote component, its children are created by the engine): ${line}`),
        `Other resources (not Kubernetes objects): ${otherResources(recorded)}`,
        "",
        ...formatResourceSummary(summary),
        "",
        `Sizing for ${config.targets.concurrentUsers.toLocaleString("en-US")} users, ${config.targets.requestsPerSecond.toLocaleString("en-US")} req/s ` +
            "(targets, capacity; derived = applied, explicit = the stack file's value wins):",
        ...formatSizing(config),
        "",
        "Capacity (OK = covers what is needed, SHORT = falls short; each line shows its arithmetic):",
        ...formatCapacity(capacity),
        "",
        "Monthly cost at HPA max replicas (prices; set your provider's own):",
        ...formatCost(config, summary.totals),
        "",
        "Security (what the render sets up; scripts/security.ts):",
        ...formatScorecard(security),
    ];
    return { stack, config, recorded, render, schema, summary, capacity, security, yaml: manifestsYaml(render.objects), text: `${lines.join("\n")}\n` };
}

/** True when the render is fit to show as the stack: every object valid and nothing left out. */
export function renderIsClean(result: StackRender): boolean {
    return result.schema.invalid.length === 0 && result.schema.unchecked.length === 0 && result.render.problems.length === 0 && result.render.unrendered.length === 0;
}

interface CliOptions {
    stack: string;
    out: string;
}

const USAGE = "usage: npm run render -- --stack <name> [--out <dir>]";

/** Parses `--stack <name>` / `--stack=<name>` and `--out`; throws a usage message otherwise. */
export function parseRenderArgs(argv: readonly string[], cwd = process.cwd()): CliOptions {
    const flags = parseFlags(argv, ["stack", "out"], USAGE);
    if (!flags.stack) throw new Error(`--stack is required (known stacks: ${knownStacks().join(", ")})\n${USAGE}`);
    return { stack: flags.stack, out: flags.out ? path.resolve(cwd, flags.out) : path.join(PROJECT_ROOT, "rendered", flags.stack) };
}

/** The command: returns the exit code (0 = rendered clean, 1 = an error, printed on stderr). */
export async function runRender(argv: readonly string[]): Promise<number> {
    let options: CliOptions;
    let config: StackConfig;
    try {
        options = parseRenderArgs(argv);
        config = loadConfig(options.stack);
    } catch (error) {
        console.error((error as Error).message);
        return 1;
    }
    // Errors the program raises asynchronously (inside an apply, a failed registration) surface as
    // unhandled rejections: collect them so the render fails instead of printing half a stack.
    const asyncErrors: unknown[] = [];
    process.on("unhandledRejection", (reason) => asyncErrors.push(reason));
    let recorded: RecordedResource[];
    try {
        recorded = await evaluateProgram(options.stack);
    } catch (error) {
        console.error(`${options.stack}: the program failed under the mock runtime:\n${(error as Error).stack ?? String(error)}`);
        return 1;
    }
    if (asyncErrors.length > 0) {
        for (const error of asyncErrors) console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
        console.error(`${options.stack}: the program failed under the mock runtime; nothing written`);
        return 1;
    }
    const manifestsPath = path.join(options.out, "manifests.yaml");
    const result = buildRender(options.stack, config, recorded);
    fs.mkdirSync(options.out, { recursive: true });
    fs.writeFileSync(manifestsPath, result.yaml);
    fs.writeFileSync(path.join(options.out, "summary.txt"), result.text);
    process.stdout.write(`${result.text}\nWrote ${path.relative(process.cwd(), manifestsPath) || manifestsPath} and summary.txt beside it.\n`);
    if (!renderIsClean(result)) {
        console.error(`${options.stack}: rendered with problems (see INVALID / UNCHECKED / PROBLEM / NOT RENDERED above); files written for inspection`);
        return 1;
    }
    return 0;
}

if (require.main === module) runMain(runRender, { withStack: true });
