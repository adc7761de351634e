// The pull-request comment of .github/workflows/preview.yml: for each stack, which Kubernetes
// objects the change adds, removes or changes (from `npm run render` on the base and the head),
// the manifest diff, and the head's summary with the capacity report.
//
//   tsx scripts/preview-comment.ts --base <dir> --head <dir> --stacks "dev prod" --out comment.md
//
// <dir>/<stack>/manifests.yaml and summary.txt are render outputs; <dir>/<stack>.log and
// <dir>/<stack>.exit hold the render's output and exit code. A missing base (the base branch has
// no renderer yet) shows every object as added.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parseAllDocuments } from "yaml";
import { parseFlags } from "./cli";

/** The marker the workflow looks for to update its own comment instead of adding one per push. */
export const COMMENT_MARKER = "<!-- prepx-platform render preview -->";
/** GitHub refuses comments over 65,536 characters; leave room for the marker and headings. */
export const COMMENT_LIMIT = 60000;

/** One side (base or head) of one stack's render. */
export interface SideRender {
    manifests?: string;
    summary?: string;
    log?: string;
    exitCode?: number;
}

/** One stack, both sides, and the unified diffs of their files. */
export interface StackPreview {
    stack: string;
    base?: SideRender;
    head: SideRender;
    manifestsDiff: string;
    summaryDiff: string;
}

/** Objects of a manifests.yaml keyed by `Kind namespace/name`, each as canonical JSON text. */
export function objectsByKey(yaml: string | undefined): Map<string, string> {
    const objects = new Map<string, string>();
    if (!yaml) return objects;
    const documents = parseAllDocuments(yaml);
    for (const document of Array.isArray(documents) ? documents : []) {
        const object = document.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } } | null;
        if (!object) continue;
        const namespace = object.metadata?.namespace;
        objects.set(`${object.kind} ${namespace ? `${namespace}/` : ""}${object.metadata?.name}`, JSON.stringify(object));
    }
    return objects;
}

/** Which objects the head adds, removes or changes relative to the base. */
export function objectChanges(base: string | undefined, head: string | undefined): { added: string[]; removed: string[]; changed: string[]; total: number } {
    const before = objectsByKey(base);
    const after = objectsByKey(head);
    const added = [...after.keys()].filter((key) => !before.has(key));
    const removed = [...before.keys()].filter((key) => !after.has(key));
    const changed = [...after.keys()].filter((key) => before.has(key) && before.get(key) !== after.get(key));
    return { added, removed, changed, total: after.size };
}

/** A fenced block that cannot be closed early by its content. */
function fence(language: string, text: string): string {
    return `\`\`\`\`${language}\n${text.replace(/\n$/, "")}\n\`\`\`\`\n`;
}

/** At most `limit` characters of `text`, cut at a line end, saying how much was left out. */
export function truncateLines(text: string, limit: number): string {
    if (text.length <= limit) return text;
    const cut = text.lastIndexOf("\n", limit);
    const kept = text.slice(0, cut > 0 ? cut : limit);
    const dropped = text.slice(kept.length).split("\n").filter(Boolean).length;
    return `${kept}\n... ${dropped} more lines cut to fit a comment: the whole render is in the workflow's artifact\n`;
}

function list(label: string, keys: string[]): string {
    if (keys.length === 0) return "";
    const shown = keys.slice(0, 30).map((key) => `\`${key}\``).join(", ");
    return `- ${label}: ${shown}${keys.length > 30 ? ` and ${keys.length - 30} more` : ""}\n`;
}

function failure(side: string, render: SideRender): string {
    if (render.exitCode === 0 || render.exitCode === undefined) return "";
    const written = render.manifests === undefined ? "nothing was written" : "the files were written for inspection";
    return `> **${side} render failed** (exit ${render.exitCode}; ${written}):\n${fence("", truncateLines(render.log ?? "", 3000))}`;
}

/** The markdown of one stack; `diffBudget` characters for the manifest diff. */
function stackSection(preview: StackPreview, diffBudget: number): string {
    const changes = objectChanges(preview.base?.manifests, preview.head.manifests);
    const counts = `${changes.changed.length} changed, ${changes.added.length} added, ${changes.removed.length} removed (head: ${changes.total} objects)`;
    const parts = [`### ${preview.stack}: ${counts}\n`];
    if (!preview.base) parts.push("The base has no render (no renderer on the base branch): every object shows as added.\n");
    if (preview.base) parts.push(failure("base", preview.base));
    parts.push(failure("head", preview.head));
    parts.push(list("added", changes.added), list("removed", changes.removed), list("changed", changes.changed));
    if (preview.manifestsDiff.trim()) {
        const diff = truncateLines(preview.manifestsDiff, diffBudget);
        parts.push(`\n<details><summary>manifests.yaml diff (${preview.manifestsDiff.split("\n").length - 1} lines)</summary>\n\n${fence("diff", diff)}\n</details>\n`);
    } else {
        parts.push("\nNo change to the rendered manifests.\n");
    }
    if (preview.summaryDiff.trim()) {
        parts.push(`\n<details><summary>summary diff (resources, capacity)</summary>\n\n${fence("diff", truncateLines(preview.summaryDiff, 8000))}\n</details>\n`);
    }
    if (preview.head.summary) {
        parts.push(`\n<details><summary>summary and capacity report (head)</summary>\n\n${fence("", truncateLines(preview.head.summary, 8000))}\n</details>\n`);
    }
    return parts.filter(Boolean).join("");
}

/** The whole comment, kept under `limit` characters by cutting the manifest diffs evenly. */
export function previewComment(previews: readonly StackPreview[], refs: { base: string; head: string }, limit = COMMENT_LIMIT): string {
    const header = `${COMMENT_MARKER}\n## Rendered manifests: \`${refs.base}\` → \`${refs.head}\`\n\n` +
        "Offline render of every stack (`npm run render`, the real program under Pulumi's mock runtime; Secret values redacted).\n\n";
    const fixed = header.length + previews.reduce((sum, preview) => sum + stackSection(preview, 0).length, 0);
    const budget = Math.max(1000, Math.floor((limit - fixed) / Math.max(1, previews.length)));
    return header + previews.map((preview) => stackSection(preview, budget)).join("\n");
}

function readIfExists(file: string): string | undefined {
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
}

function readSide(root: string, stack: string): SideRender | undefined {
    if (!fs.existsSync(root)) return undefined;
    const exit = readIfExists(path.join(root, `${stack}.exit`));
    return {
        manifests: readIfExists(path.join(root, stack, "manifests.yaml")),
        summary: readIfExists(path.join(root, stack, "summary.txt")),
        log: readIfExists(path.join(root, `${stack}.log`)),
        exitCode: exit === undefined ? undefined : Number(exit.trim()),
    };
}

/** `diff -u` of two files, either of which may be missing (shown as empty). */
function unifiedDiff(before: string | undefined, after: string | undefined, label: string): string {
    const result = spawnSync("diff", ["-u", "--label", `base/${label}`, "--label", `head/${label}`, before ?? "/dev/null", after ?? "/dev/null"], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    // diff exits 0 (same), 1 (different) or 2 (trouble).
    if (result.status === 2 || result.error) throw new Error(`diff failed: ${result.stderr || result.error?.message}`);
    return result.stdout;
}

function main(argv: readonly string[]): void {
    const usage = "usage: tsx scripts/preview-comment.ts --base <dir> --head <dir> --stacks '<stack> ...' --out <file> [--base-ref <ref>] [--head-ref <ref>]";
    const flags = parseFlags(argv, ["base", "head", "stacks", "out", "base-ref", "head-ref"], usage);
    const { base, head, out } = flags;
    if (!base || !head || !out) throw new Error(`--base, --head and --out are required\n${usage}`);
    const stacks = (flags.stacks ?? "dev prod").split(/\s+/).filter(Boolean);
    const previews = stacks.map((stack): StackPreview => {
        const file = (root: string, name: string) => {
            const full = path.join(root, stack, name);
            return fs.existsSync(full) ? full : undefined;
        };
        return {
            stack,
            base: readSide(base, stack),
            head: readSide(head, stack) ?? {},
            manifestsDiff: unifiedDiff(file(base, "manifests.yaml"), file(head, "manifests.yaml"), `${stack}/manifests.yaml`),
            summaryDiff: unifiedDiff(file(base, "summary.txt"), file(head, "summary.txt"), `${stack}/summary.txt`),
        };
    });
    fs.writeFileSync(out, previewComment(previews, { base: flags["base-ref"] ?? "base", head: flags["head-ref"] ?? "head" }));
}

if (require.main === module) main(process.argv.slice(2));
