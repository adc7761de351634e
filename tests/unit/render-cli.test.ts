// The render command's failure paths: a bad stack name or a bad config exits non-zero with the
// config error and writes nothing; arguments are checked before anything runs.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { StackConfigError } from "../../config";
import { parseFlags } from "../../scripts/cli";
import { loadConfig, parseRenderArgs, runRender } from "../../scripts/render";
import { PROJECT_ROOT } from "../../scripts/stack-files";

/** Runs the command in-process (what `npm run render` runs), capturing what it prints. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const stderr = jest.spyOn(console, "error").mockImplementation(() => undefined);
    const stdout = jest.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
        const code = await runRender(args);
        return { code, stdout: stdout.mock.calls.map((c) => String(c[0])).join(""), stderr: stderr.mock.calls.map((c) => c.join(" ")).join("\n") };
    } finally {
        stderr.mockRestore();
        stdout.mockRestore();
    }
}

let temp: string;
beforeAll(() => {
    temp = fs.mkdtempSync(path.join(os.tmpdir(), "render-cli-"));
});
afterAll(() => fs.rmSync(temp, { recursive: true, force: true }));

test("an unknown stack exits 1 naming the known stacks, and writes nothing", async () => {
    const out = path.join(temp, "staging");
    const result = await run(["--stack", "staging", "--out", out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("unknown stack 'staging': no Pulumi.staging.yaml (known stacks: dev, million, prod)");
    expect(result.stdout).toBe("");
    expect(fs.existsSync(out)).toBe(false);
});

test("a bad config fails with config.ts' message before the program runs", () => {
    // A project root of its own, so the real stack files stay untouched.
    const root = path.join(temp, "project");
    fs.mkdirSync(root);
    fs.copyFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), path.join(root, "Pulumi.yaml"));
    const prod = fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.prod.yaml"), "utf8");
    // prod's file leaves redis to the defaults; the broken copy adds a section with one bad key.
    fs.writeFileSync(path.join(root, "Pulumi.broken.yaml"), `${prod.trimEnd()}\n  prepx-platform:redis:\n    masters: 2\n`);
    expect(() => loadConfig("broken", root)).toThrow(StackConfigError);
    expect(() => loadConfig("broken", root)).toThrow(/^broken: redis\.masters must be at least 3 \(got 2\)$/);
    expect(loadConfig("prod").redis.masters).toBe(8);
});

test("bad arguments exit 1 with the usage", async () => {
    const result = await run(["--stack", "dev", "--force"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("unexpected argument '--force'\nusage: npm run render -- --stack <name> [--out <dir>]");
});

test("arguments: --stack is required, --out resolves against the working directory, anything else is refused", () => {
    expect(parseRenderArgs(["--stack", "dev"])).toEqual({ stack: "dev", out: path.join(PROJECT_ROOT, "rendered", "dev") });
    expect(parseRenderArgs(["--stack=prod", "--out=tmp/x"], "/work")).toEqual({ stack: "prod", out: "/work/tmp/x" });
    expect(() => parseRenderArgs([])).toThrow("--stack is required (known stacks: dev, million, prod)");
    expect(() => parseRenderArgs(["--stack"])).toThrow("--stack needs a value");
    expect(() => parseRenderArgs(["--stack", "dev", "--force"])).toThrow("unexpected argument '--force'");
});

test("the scripts' flag parser: a flag without a value is refused, never paired with the next flag", () => {
    const usage = "usage: x --base <dir> --out <file>";
    expect(parseFlags(["--base", "a", "--out=b"], ["base", "out"], usage)).toEqual({ base: "a", out: "b" });
    expect(() => parseFlags(["--base", "--out", "b"], ["base", "out"], usage)).toThrow(`--base needs a value\n${usage}`);
    expect(() => parseFlags(["--base", "a", "--base", "c"], ["base", "out"], usage)).toThrow("--base is given twice");
    expect(() => parseFlags(["base", "a"], ["base", "out"], usage)).toThrow("unexpected argument 'base'");
    expect(() => parseFlags(["--stacks", "dev"], ["base", "out"], usage)).toThrow("unexpected argument '--stacks'");
});
