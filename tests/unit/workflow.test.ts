// .github/workflows/preview.yml parses, keeps untrusted PR code away from the secrets and from a
// write token, and has the steps a PR preview needs; the comment it posts
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
    "continue-on-error"?: boolean;
    with?: Record<string, unknown>;
    env?: Record<string, string>;
}
interface Job {
    name?: string;
    needs?: string | string[];
    if?: string;
    environment?: string;
    permissions?: Record<string, string>;
    strategy?: { "fail-fast"?: boolean; matrix?: Record<string, unknown> };
    env?: Record<string, string>;
    steps: Step[];
}
interface Workflow {
    on: Record<string, unknown>;
    permissions?: Record<string, string>;
    env?: Record<string, string>;
    jobs: Record<string, Job>;
}

const WORKFLOW_FILE = path.join(PROJECT_ROOT, ".github", "workflows", "preview.yml");
const workflowText = fs.readFileSync(WORKFLOW_FILE, "utf8");
const workflow = parse(workflowText) as Workflow;
const copyOfWorkflow = (): Workflow => parse(workflowText) as Workflow;

/** The condition that keeps a fork's code out of a job: the PR's branch lives in this repository. */
const SAME_REPOSITORY = "github.event.pull_request.head.repo.full_name == github.repository";
/** Actions that only move or post text; a job limited to them runs none of the PR's code. */
const TEXT_ONLY_ACTIONS = ["actions/download-artifact@", "actions/github-script@"];

/** Every `${{ ... }}` expression of a job that reads the `secrets` context. */
function secretsReadBy(value: unknown): string[] {
    return [...JSON.stringify(value).matchAll(/\$\{\{[^}]*\bsecrets\b[^}]*\}\}/g)].map((match) => match[0]);
}

/**
 * A job runs PR code when it checks out the repository (the PR's merge commit under `pull_request`)
 * or runs a command: either can execute what the PR author wrote.
 */
function runsPullRequestCode(job: Job): boolean {
    return job.steps.some((step) => step.run !== undefined || !TEXT_ONLY_ACTIONS.some((action) => (step.uses ?? "").startsWith(action)));
}

/**
 * The trust rules of the workflow; one line per broken rule, none for a sound workflow:
 * - only `pull_request` (never `pull_request_target` or `workflow_run`, which get the base
 *   repository's write token and secrets for fork PRs too);
 * - nothing granted at the workflow level, every job states its own permissions;
 * - a job that runs PR code may read the repository and nothing else;
 * - a job that can write runs no PR code (only download-artifact and github-script, no `run`);
 * - no secret at the workflow level; a job that reads secrets names a per-stack environment (whose
 *   required reviewers gate it) and has the same-repository condition, with no `||` that could
 *   bypass it.
 */
function trustViolations(candidate: Workflow): string[] {
    const violations: string[] = [];
    const triggers = Object.keys(candidate.on);
    if (triggers.length !== 1 || triggers[0] !== "pull_request") violations.push(`triggers: ${triggers.join(", ")}`);
    if (JSON.stringify(candidate.permissions) !== "{}") violations.push(`workflow permissions: ${JSON.stringify(candidate.permissions)}`);
    if (secretsReadBy(candidate.env).length > 0) violations.push("workflow env reads secrets");
    for (const [id, job] of Object.entries(candidate.jobs)) {
        const permissions = job.permissions;
        if (permissions === undefined) {
            violations.push(`${id}: no permissions`);
            continue;
        }
        const writes = Object.values(permissions).some((level) => level !== "read");
        if (runsPullRequestCode(job) && JSON.stringify(permissions) !== JSON.stringify({ contents: "read" })) {
            violations.push(`${id}: runs PR code with ${JSON.stringify(permissions)}`);
        }
        if (writes && runsPullRequestCode(job)) violations.push(`${id}: can write and runs PR code`);
        if (secretsReadBy(job).length > 0) {
            if (job.environment !== "preview-${{ matrix.stack }}") violations.push(`${id}: reads secrets outside a per-stack environment (${job.environment})`);
            const condition = job.if ?? "";
            if (!condition.includes(SAME_REPOSITORY) || condition.includes("||")) violations.push(`${id}: reads secrets without the same-repository condition (${condition})`);
        }
    }
    return violations;
}

const jobs = workflow.jobs;
const stepIndex = (job: Job, predicate: (step: Step) => boolean, what: string): number => {
    const index = job.steps.findIndex(predicate);
    if (index === -1) throw new Error(`no step ${what}`);
    return index;
};
const runs = (text: string) => (step: Step) => (step.run ?? "").includes(text);
const uses = (action: string) => (step: Step) => (step.uses ?? "").startsWith(`${action}@`);

/** The exact @pulumi/pulumi version package.json pins (in dependencies or devDependencies). */
function pinnedPulumiSdk(): string {
    const packageJson = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as Record<string, Record<string, string> | undefined>;
    const pins = [packageJson.dependencies?.["@pulumi/pulumi"], packageJson.devDependencies?.["@pulumi/pulumi"]].filter((version): version is string => /^\d+\.\d+\.\d+$/.test(version ?? ""));
    if (pins.length === 0) throw new Error("package.json pins no exact @pulumi/pulumi version");
    return pins[0];
}

describe("preview workflow: who gets what", () => {
    test("the workflow breaks none of the trust rules", () => {
        expect(trustViolations(workflow)).toEqual([]);
    });

    test("the rules catch each way of handing PR code a secret or a write token", () => {
        const target = copyOfWorkflow();
        target.on = { pull_request_target: null };
        expect(trustViolations(target)).toEqual(["triggers: pull_request_target"]);

        const secretInRender = copyOfWorkflow();
        secretInRender.jobs.render.steps[0].env = { PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}" };
        expect(trustViolations(secretInRender)).toEqual([
            "render: reads secrets outside a per-stack environment (undefined)",
            "render: reads secrets without the same-repository condition ()",
        ]);

        const noEnvironment = copyOfWorkflow();
        delete noEnvironment.jobs["pulumi-preview"].environment;
        expect(trustViolations(noEnvironment)).toEqual(["pulumi-preview: reads secrets outside a per-stack environment (undefined)"]);

        const forksToo = copyOfWorkflow();
        forksToo.jobs["pulumi-preview"].if = "${{ vars.PULUMI_PREVIEW == 'enabled' }}";
        expect(trustViolations(forksToo)).toEqual(["pulumi-preview: reads secrets without the same-repository condition (${{ vars.PULUMI_PREVIEW == 'enabled' }})"]);

        const bypass = copyOfWorkflow();
        bypass.jobs["pulumi-preview"].if = `\${{ ${SAME_REPOSITORY} || true }}`;
        expect(trustViolations(bypass)).toEqual([`pulumi-preview: reads secrets without the same-repository condition (\${{ ${SAME_REPOSITORY} || true }})`]);

        const afterARun = copyOfWorkflow();
        afterARun.on = { pull_request: null, workflow_run: { workflows: ["preview"] } };
        expect(trustViolations(afterARun)).toEqual(["triggers: pull_request, workflow_run"]);

        const writingRender = copyOfWorkflow();
        writingRender.jobs.render.permissions = { contents: "read", "pull-requests": "write" };
        expect(trustViolations(writingRender)).toEqual([
            'render: runs PR code with {"contents":"read","pull-requests":"write"}',
            "render: can write and runs PR code",
        ]);

        const commentRunsCode = copyOfWorkflow();
        commentRunsCode.jobs["comment-render"].steps.unshift({ uses: "actions/checkout@v4.2.2" });
        expect(trustViolations(commentRunsCode)).toEqual([
            'comment-render: runs PR code with {"pull-requests":"write"}',
            "comment-render: can write and runs PR code",
        ]);

        const workflowWide = copyOfWorkflow();
        workflowWide.permissions = { contents: "read", "pull-requests": "write" };
        expect(trustViolations(workflowWide)).toEqual(['workflow permissions: {"contents":"read","pull-requests":"write"}']);
    });

    test("four jobs: the offline render and its comment, the per-stack preview and its comments", () => {
        expect(Object.keys(jobs)).toEqual(["render", "comment-render", "pulumi-preview", "comment-pulumi-preview"]);
        expect(workflow.permissions).toEqual({});
        expect(jobs.render.permissions).toEqual({ contents: "read" });
        expect(jobs["pulumi-preview"].permissions).toEqual({ contents: "read" });
        expect(jobs["comment-render"].permissions).toEqual({ "pull-requests": "write" });
        expect(jobs["comment-pulumi-preview"].permissions).toEqual({ "pull-requests": "write" });
        expect(Object.entries(jobs).filter(([, job]) => runsPullRequestCode(job)).map(([id]) => id)).toEqual(["render", "pulumi-preview"]);
        expect([jobs["comment-render"].needs, jobs["pulumi-preview"].needs, jobs["comment-pulumi-preview"].needs]).toEqual(["render", "render", "pulumi-preview"]);
    });

    test("the offline render reads no secret and leaves no token in the checkout", () => {
        expect(secretsReadBy(jobs.render)).toEqual([]);
        expect(jobs.render.environment).toBeUndefined();
        expect(jobs.render.if).toBeUndefined();
        for (const job of [jobs.render, jobs["pulumi-preview"]]) {
            const checkout = job.steps[stepIndex(job, uses("actions/checkout"), "checkout")];
            expect(checkout.with?.["persist-credentials"]).toBe(false);
            // No `ref`: under pull_request the checkout is the PR's merge commit, never something else.
            expect(checkout.with?.ref).toBeUndefined();
        }
    });

    test("pulumi preview: same-repository PRs after an opt-in, one protected environment and one set of secrets per stack", () => {
        const preview = jobs["pulumi-preview"];
        expect(preview.if).toBe(`\${{ vars.PULUMI_PREVIEW == 'enabled' && ${SAME_REPOSITORY} }}`);
        expect(preview.strategy).toEqual({ "fail-fast": false, matrix: { stack: ["dev", "prod"] } });
        expect(preview.environment).toBe("preview-${{ matrix.stack }}");
        expect(secretsReadBy(preview).sort()).toEqual([
            "${{ secrets.KUBECONFIG }}",
            "${{ secrets.PULUMI_BACKEND_URL }}",
            "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
        ]);
        // Each secret reaches only the step that needs it, never the job's env (and so every step).
        expect(secretsReadBy(preview.env)).toEqual([]);
        const kubeconfig = preview.steps[stepIndex(preview, (s) => s.env?.KUBECONFIG_CONTENT !== undefined, "kubeconfig")];
        expect(kubeconfig.env).toEqual({ KUBECONFIG_CONTENT: "${{ secrets.KUBECONFIG }}" });
        expect(kubeconfig.run).toContain('echo "KUBECONFIG=$RUNNER_TEMP/kubeconfig" >> "$GITHUB_ENV"');
        const run = preview.steps[stepIndex(preview, runs("pulumi preview --stack"), "pulumi preview")];
        expect(run.env).toEqual({ PULUMI_BACKEND_URL: "${{ secrets.PULUMI_BACKEND_URL }}", PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}" });
        expect(run.run).toContain('pulumi login "$PULUMI_BACKEND_URL"');
        expect(run.run).toContain('pulumi preview --stack "$STACK" --non-interactive');
        expect(preview.env).toEqual({ STACK: "${{ matrix.stack }}" });
        expect(stepIndex(preview, (s) => s === kubeconfig, "kubeconfig")).toBeLessThan(stepIndex(preview, (s) => s === run, "preview"));
    });

    test("the Pulumi CLI is pinned to the SDK's version, the one the engine test builds", () => {
        const preview = jobs["pulumi-preview"];
        const install = preview.steps.filter(uses("pulumi/actions"));
        expect(install).toHaveLength(1);
        // Without `command` the action installs the CLI and nothing else; the preview is our own step.
        expect(install[0].with).toEqual({ "pulumi-version": pinnedPulumiSdk() });
        expect(install[0].uses).toBe("pulumi/actions@v6.6.1");
        const buildScript = fs.readFileSync(path.join(PROJECT_ROOT, "tools", "engine", "build.sh"), "utf8");
        expect(/^PULUMI_VERSION=v(\S+)$/m.exec(buildScript)?.[1]).toBe(pinnedPulumiSdk());
        expect(stepIndex(preview, uses("pulumi/actions"), "install")).toBeLessThan(stepIndex(preview, runs("pulumi preview --stack"), "preview"));
    });

    test("comments are posted only for same-repository PRs, by jobs that read the artifact as text", () => {
        const render = jobs["comment-render"];
        const pulumi = jobs["comment-pulumi-preview"];
        expect(render.if).toBe(`\${{ !cancelled() && needs.render.result != 'skipped' && ${SAME_REPOSITORY} }}`);
        expect(pulumi.if).toBe(`\${{ !cancelled() && needs.pulumi-preview.result != 'skipped' && ${SAME_REPOSITORY} }}`);
        expect(pulumi.strategy?.matrix).toEqual({ stack: ["dev", "prod"] });
        for (const job of [render, pulumi]) {
            expect(secretsReadBy(job)).toEqual([]);
            expect(job.steps.map((step) => step.uses)).toEqual(["actions/download-artifact@v4.3.0", "actions/github-script@v7.0.1"]);
            expect(job.steps[0]["continue-on-error"]).toBe(true);
            expect(job.steps[1].if).toBe(`\${{ steps.${job.steps[0].id}.outcome == 'success' }}`);
        }
        expect(render.steps[0].with?.name).toBe("render-preview");
        expect(pulumi.steps[0].with?.name).toBe("pulumi-preview-${{ matrix.stack }}");
        // One posting script for both; the marker tells their comments apart, one per stack for pulumi.
        const script = String(render.steps[1].with?.script);
        expect(String(pulumi.steps[1].with?.script)).toBe(script);
        expect(script).toContain("updateComment");
        expect(script).toContain("readFileSync(process.env.COMMENT_FILE");
        expect(render.steps[1].env).toEqual({ COMMENT_MARKER, COMMENT_FILE: "${{ runner.temp }}/render-preview/comment.md" });
        expect(pulumi.steps[1].env).toEqual({
            COMMENT_MARKER: "<!-- prepx-platform pulumi preview ${{ matrix.stack }} -->",
            COMMENT_FILE: "${{ runner.temp }}/pulumi-preview/comment.md",
        });
    });

    test("every action is pinned to a release, not a branch", () => {
        const all = Object.values(jobs).flatMap((job) => job.steps).map((step) => step.uses).filter((use): use is string => Boolean(use));
        expect(all.length).toBeGreaterThan(0);
        for (const use of all) expect(use).toMatch(/^[\w.-]+\/[\w.-]+@v\d+\.\d+\.\d+$/);
    });
});

describe("preview workflow: the offline render", () => {
    const render = jobs.render;

    test("checks out with history, sets up Node 20, installs, type-checks and tests, in that order", () => {
        const checkout = stepIndex(render, uses("actions/checkout"), "checkout");
        expect(render.steps[checkout].with?.["fetch-depth"]).toBe(0);
        const node = stepIndex(render, uses("actions/setup-node"), "setup-node");
        expect(render.steps[node].with?.["node-version"]).toBe(20);
        const install = stepIndex(render, runs("npm ci"), "npm ci");
        const typecheck = stepIndex(render, runs("npm run typecheck"), "typecheck");
        const test = stepIndex(render, (s) => (s.run ?? "").trim() === "npm test", "npm test");
        expect([checkout, node, install, typecheck, test]).toEqual([...[checkout, node, install, typecheck, test]].sort((a, b) => a - b));
    });

    test("renders every stack on the head and on the base (a worktree of the base commit), builds the comment and keeps it", () => {
        expect(workflow.env?.STACKS.split(" ")).toEqual(["dev", "prod"]);
        const head = stepIndex(render, (s) => runs("npm run --silent render")(s) && runs('"$RENDER_DIR/head/$stack"')(s), "render head");
        const base = stepIndex(render, runs("git worktree add --detach"), "base worktree");
        expect(render.steps[base].env?.BASE_SHA).toBe("${{ github.event.pull_request.base.sha }}");
        expect(render.steps[base].run).toContain('"$RENDER_DIR/base/$stack"');
        const comment = stepIndex(render, runs("scripts/preview-comment.ts"), "comment");
        expect(render.steps[comment].run).toContain('--out "$RENDER_DIR/comment.md"');
        const keep = stepIndex(render, uses("actions/upload-artifact"), "upload");
        expect(render.steps[keep].with?.name).toBe("render-preview");
        expect(String(render.steps[keep].with?.path).trim().split("\n")).toEqual([
            "${{ env.RENDER_DIR }}/base",
            "${{ env.RENDER_DIR }}/head",
            "${{ env.RENDER_DIR }}/comment.md",
        ]);
        expect(head < comment && base < comment && comment < keep).toBe(true);
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
