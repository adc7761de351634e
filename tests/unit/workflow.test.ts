// .github/workflows/preview.yml parses and has the steps a PR preview needs; the comment it posts
// (scripts/preview-comment.ts) says what changed and fits GitHub's size limit.
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { COMMENT_MARKER, objectChanges, previewComment, StackPreview, truncateLines } from "../../scripts/preview-comment";
import { PROJECT_ROOT } from "../../scripts/stack-files";

interface Step {
    name?: string;
    id?: string;
    uses?: string;
    run?: string;
    if?: string;
    with?: Record<string, unknown>;
    env?: Record<string, string>;
}
interface Workflow {
    on: Record<string, unknown>;
    permissions: Record<string, string>;
    jobs: Record<string, { steps: Step[] }>;
}

const packageJson = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
const workflow = parse(fs.readFileSync(path.join(PROJECT_ROOT, ".github", "workflows", "preview.yml"), "utf8")) as Workflow;
const steps = Object.values(workflow.jobs).flatMap((job) => job.steps);
const stepIndex = (predicate: (step: Step) => boolean, what: string): number => {
    const index = steps.findIndex(predicate);
    if (index === -1) throw new Error(`no step ${what}`);
    return index;
};
const runs = (text: string) => (step: Step) => (step.run ?? "").includes(text);

describe("preview workflow", () => {
    test("runs on pull requests with read access to the code and write access to PR comments only", () => {
        expect(Object.keys(workflow.on)).toEqual(["pull_request"]);
        expect(workflow.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    });

    test("every action is pinned to a release, not a branch", () => {
        const uses = steps.map((step) => step.uses).filter((use): use is string => Boolean(use));
        expect(uses.length).toBeGreaterThan(0);
        for (const use of uses) expect(use).toMatch(/^[\w.-]+\/[\w.-]+@v\d+\.\d+\.\d+$/);
    });

    test("checks out with history, sets up Node 20, installs, type-checks and tests, in that order", () => {
        const checkout = stepIndex((s) => (s.uses ?? "").startsWith("actions/checkout@"), "checkout");
        expect(steps[checkout].with?.["fetch-depth"]).toBe(0);
        const node = stepIndex((s) => (s.uses ?? "").startsWith("actions/setup-node@"), "setup-node");
        expect(steps[node].with?.["node-version"]).toBe(20);
        const install = stepIndex(runs("npm ci"), "npm ci");
        const typecheck = stepIndex(runs("npm run typecheck"), "typecheck");
        const test = stepIndex((s) => (s.run ?? "").trim() === "npm test", "npm test");
        expect([checkout, node, install, typecheck, test]).toEqual([...[checkout, node, install, typecheck, test]].sort((a, b) => a - b));
    });

    test("renders every stack on the head and on the base (a worktree of the base commit), then diffs and comments", () => {
        const env = (workflow as unknown as { env: Record<string, string> }).env;
        expect(env.STACKS.split(" ")).toEqual(["dev", "prod"]);
        const head = stepIndex((s) => runs("npm run --silent render")(s) && runs('"$RENDER_DIR/head/$stack"')(s), "render head");
        const base = stepIndex(runs("git worktree add --detach"), "base worktree");
        expect(steps[base].env?.BASE_SHA).toBe("${{ github.event.pull_request.base.sha }}");
        expect(steps[base].run).toContain('"$RENDER_DIR/base/$stack"');
        const comment = stepIndex(runs("scripts/preview-comment.ts"), "comment");
        const post = stepIndex((s) => (s.uses ?? "").startsWith("actions/github-script@"), "post comment");
        expect(String(steps[post].with?.script)).toContain(COMMENT_MARKER);
        expect(String(steps[post].with?.script)).toContain("updateComment");
        expect(head < comment && base < comment && comment < post).toBe(true);
    });

    test("pulumi preview runs per stack with pulumi/actions v6, only when the backend secret exists", () => {
        const check = steps.find((s) => s.id === "backend");
        expect(check?.env?.PULUMI_BACKEND_URL).toBe("${{ secrets.PULUMI_BACKEND_URL }}");
        expect(check?.run).toContain('echo "configured=false" >> "$GITHUB_OUTPUT"');
        const previews = steps.filter((s) => (s.uses ?? "").startsWith("pulumi/actions@"));
        expect(previews.map((s) => s.with?.["stack-name"])).toEqual(["dev", "prod"]);
        for (const preview of previews) {
            expect(preview.uses).toMatch(/^pulumi\/actions@v6\./);
            expect(preview.if).toBe("steps.backend.outputs.configured == 'true'");
            expect(preview.with).toMatchObject({ command: "preview", "comment-on-pr": true, "cloud-url": "${{ secrets.PULUMI_BACKEND_URL }}" });
            // The CLI the engine test builds and runs (tools/engine/build.sh), which is @pulumi/pulumi's version.
            expect(preview.with?.["pulumi-version"]).toBe(packageJson.dependencies["@pulumi/pulumi"]);
            expect(preview.env?.PULUMI_CONFIG_PASSPHRASE).toBe("${{ secrets.PULUMI_CONFIG_PASSPHRASE }}");
        }
        expect(steps.indexOf(check as Step)).toBeLessThan(steps.indexOf(previews[0]));
    });
});

const doc = (kind: string, name: string, data: string) => `apiVersion: v1\nkind: ${kind}\nmetadata:\n  name: ${name}\n  namespace: ns\ndata:\n  a: "${data}"\n`;
const manifests = (...documents: string[]) => documents.join("---\n");

describe("preview comment", () => {
    test("objects added, removed and changed, by kind and name", () => {
        const base = manifests(doc("ConfigMap", "kept", "1"), doc("ConfigMap", "edited", "1"), doc("Secret", "gone", "1"));
        const head = manifests(doc("ConfigMap", "kept", "1"), doc("ConfigMap", "edited", "2"), doc("Service", "new", "1"));
        expect(objectChanges(base, head)).toEqual({ added: ["Service ns/new"], removed: ["Secret ns/gone"], changed: ["ConfigMap ns/edited"], total: 3 });
        expect(objectChanges(undefined, head).added).toHaveLength(3);
    });

    const preview = (diff: string, base: StackPreview["base"] = { manifests: doc("ConfigMap", "a", "1"), exitCode: 0 }): StackPreview => ({
        stack: "prod",
        base,
        head: { manifests: doc("ConfigMap", "a", "2"), summary: "Stack prod: 1 Kubernetes objects\n  SHORT nginx connections: ...\n", exitCode: 0 },
        manifestsDiff: diff,
        summaryDiff: "",
    });

    test("starts with the marker, names the refs, lists the changes, fences the diff and the summary", () => {
        const body = previewComment([preview("--- base/prod/manifests.yaml\n+++ head/prod/manifests.yaml\n-  a: \"1\"\n+  a: \"2\"\n")], { base: "abc", head: "def" });
        expect(body.startsWith(`${COMMENT_MARKER}\n## Rendered manifests: \`abc\` → \`def\``)).toBe(true);
        expect(body).toContain("### prod: 1 changed, 0 added, 0 removed (head: 1 objects)");
        expect(body).toContain("- changed: `ConfigMap ns/a`");
        expect(body).toContain('````diff\n--- base/prod/manifests.yaml\n+++ head/prod/manifests.yaml\n-  a: "1"\n+  a: "2"\n````');
        expect(body).toContain("SHORT nginx connections");
    });

    test("says when the base has no renderer, and shows a failed render's log", () => {
        const body = previewComment([{ ...preview(""), base: undefined, head: { log: "prod: redis.masters must be at least 3 (got 2)", exitCode: 1 } }], { base: "a", head: "b" });
        expect(body).toContain("The base has no render (no renderer on the base branch)");
        expect(body).toContain("**head render failed** (exit 1; nothing was written)");
        expect(body).toContain("prod: redis.masters must be at least 3 (got 2)");
    });

    test("a huge diff is cut at a line end to keep the comment under the limit", () => {
        const line = `+${"x".repeat(99)}\n`;
        const huge = line.repeat(5000); // 500,000 characters
        const body = previewComment([preview(huge), { ...preview(huge), stack: "dev" }], { base: "a", head: "b" }, 60000);
        expect(body.length).toBeLessThanOrEqual(60000);
        expect(body).toMatch(/\n\.\.\. \d+ more lines cut to fit a comment/);
        expect(truncateLines("a\nb\nc\n", 2)).toBe("a\n... 2 more lines cut to fit a comment: the whole render is in the workflow's artifact\n");
        expect(truncateLines("short\n", 100)).toBe("short\n");
    });
});
