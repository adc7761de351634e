// Another stack consumes the components through the package entry point, as it would after
// `npm install`: the package is built (when its sources changed since the last build), packed with
// `npm pack` (so package.json `files` and `exports` are what is tested), unpacked into a temp
// node_modules, and a minimal consumer program (tests/fixtures/consumer) that imports
// `prepx-platform/components` is evaluated under mocks. `npm run typecheck` type-checks that
// program (tsconfig.json maps the package name to the sources); here TypeScript's own resolution
// must find the packed declarations by the package name.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";
import { renderObjects } from "../../scripts/manifests";
import { RecordedResource } from "../../scripts/mock-runtime";
import { validateAll } from "../../scripts/schema";
import { PROJECT_ROOT } from "../../scripts/stack-files";

const FIXTURE = path.join(PROJECT_ROOT, "tests", "fixtures", "consumer");
const BIN = path.join(PROJECT_ROOT, "node_modules", ".bin");

function exec(command: string, args: string[], cwd: string): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(command, args, { cwd, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
            if (error) reject(new Error(`${command} ${args.join(" ")} failed:\n${stderr}\n${stdout}`));
            else resolve(stdout);
        });
    });
}

/** Newest modification time (ms) of the files under `dir` whose names match `pattern`. */
function newest(dir: string, pattern: RegExp): number {
    let latest = 0;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) latest = Math.max(latest, newest(full, pattern));
        else if (pattern.test(entry.name)) latest = Math.max(latest, fs.statSync(full).mtimeMs);
    }
    return latest;
}

/**
 * `npm run build` unless dist/ is newer than every input of the build: the build parses the
 * Pulumi SDK's declarations (seconds of CPU), so a suite run after an unchanged build skips it.
 */
async function buildIfStale(): Promise<void> {
    const stamp = path.join(PROJECT_ROOT, "dist", ".tsbuildinfo");
    const inputs = Math.max(
        newest(path.join(PROJECT_ROOT, "components"), /\.(ts|json)$/),
        ...["package.json", "tsconfig.json", "tsconfig.build.json"].map((file) => fs.statSync(path.join(PROJECT_ROOT, file)).mtimeMs),
    );
    if (fs.existsSync(stamp) && fs.statSync(stamp).mtimeMs > inputs) return;
    await exec("npm", ["run", "--silent", "build"], PROJECT_ROOT);
    // tsc leaves the build info untouched when nothing changed; touch it so the next run sees it fresh.
    const now = new Date();
    fs.utimesSync(stamp, now, now);
}

interface Packed {
    filename: string;
    files: { path: string }[];
}

let temp: string;
let packed: Packed;
let installed: string;
let consumer: string;
let recorded: RecordedResource[];

beforeAll(async () => {
    temp = fs.mkdtempSync(path.join(os.tmpdir(), "prepx-consumer-"));
    await buildIfStale();
    // --ignore-scripts: the build above already ran (prepack would build again, unconditionally).
    packed = (JSON.parse(await exec("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", temp], PROJECT_ROOT)) as Packed[])[0];
    const modules = path.join(temp, "node_modules");
    installed = path.join(modules, "prepx-platform");
    fs.mkdirSync(installed, { recursive: true });
    await exec("tar", ["-xzf", path.join(temp, packed.filename), "-C", installed, "--strip-components=1"], temp);
    // The package's dependencies (@pulumi/*, zod): the project's, as a hoisted install would have
    // them. One copy, so the mock runtime and the package share it.
    const manifest = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const topLevel = new Set(Object.keys(manifest.dependencies).map((name) => name.split("/")[0]));
    for (const entry of topLevel) fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules", entry), path.join(modules, entry), "dir");
    const project = path.join(temp, "consumer");
    fs.mkdirSync(project);
    consumer = path.join(project, "index.ts");
    fs.copyFileSync(path.join(FIXTURE, "index.ts"), consumer);
    const output = await exec(path.join(BIN, "tsx"), [path.join(FIXTURE, "evaluate.ts"), consumer], project);
    recorded = JSON.parse(output) as RecordedResource[];
}, 120000);

afterAll(() => {
    if (temp) fs.rmSync(temp, { recursive: true, force: true });
});

test("the package ships the compiled components and what `exports` names, not the sources or the program", () => {
    const files = packed.files.map((file) => file.path);
    const manifest = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { exports: Record<string, string | Record<string, string>> };
    const targets = Object.values(manifest.exports).flatMap((target) => (typeof target === "string" ? [target] : Object.values(target)));
    for (const target of targets) expect(files).toContain(path.normalize(target));
    expect(files).toContain("dist/components/redis/index.d.ts");
    expect(files).toContain("dist/components/postgres/index.js");
    // npm always packs the `main` file: the program's index.ts, which Pulumi needs as `main` and which
    // cannot run from the package (its ./config and sources are not shipped). No other source.
    expect(files.filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))).toEqual(["index.ts"]);
    expect(files.filter((file) => !file.startsWith("dist/components/") && !/^(README|LICEN[CS]E)/i.test(file))).toEqual(["index.ts", "package.json"]);
    expect(files.some((file) => file.endsWith(".tsbuildinfo"))).toBe(false);
});

test("TypeScript finds the declarations by package name, with node16 and with the node10 resolution of `pulumi new`", () => {
    const expected = path.join(fs.realpathSync(installed), "dist", "components", "index.d.ts");
    for (const moduleResolution of [ts.ModuleResolutionKind.Node16, ts.ModuleResolutionKind.Node10]) {
        const resolved = ts.resolveModuleName("prepx-platform/components", consumer, { moduleResolution, module: ts.ModuleKind.Node16 }, ts.sys);
        expect(resolved.resolvedModule && fs.realpathSync(resolved.resolvedModule.resolvedFileName)).toBe(expected);
    }
});

test("RedisCluster and PostgresCluster create their children under mocks, with no Pulumi config", () => {
    const components = recorded.filter((r) => !r.custom && r.type.startsWith("prepx:"));
    expect(components.map((r) => `${r.type} ${r.name}`).sort()).toEqual(["prepx:cache:RedisCluster cache", "prepx:database:PostgresCluster db"]);
    const childTypes = (component: string) => {
        const parent = recorded.find((r) => r.type === component);
        return new Set(recorded.filter((r) => r.parent === parent?.urn).map((r) => r.type));
    };
    expect([...childTypes("prepx:cache:RedisCluster")].sort()).toEqual(
        ["kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job", "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Secret", "kubernetes:core/v1:Service", "kubernetes:policy/v1:PodDisruptionBudget", "random:index/randomPassword:RandomPassword"].sort(),
    );
    const database = childTypes("prepx:database:PostgresCluster");
    for (const type of ["kubernetes:apps/v1:StatefulSet", "kubernetes:core/v1:Secret", "kubernetes:core/v1:Service"]) expect(database).toContain(type);
    // The prebuilt image was used: nothing to build.
    expect(recorded.some((r) => r.type === "docker:index/image:Image")).toBe(false);
    const redis = recorded.find((r) => r.type === "kubernetes:apps/v1:StatefulSet" && r.name === "cache");
    expect(redis?.inputs.spec.replicas).toBe(3);
    expect(redis?.inputs.metadata.namespace).toBe("team-b");
    const postgres = recorded.filter((r) => r.type === "kubernetes:apps/v1:StatefulSet" && r.urn.includes("prepx:database:PostgresCluster$"));
    expect(postgres.map((r) => r.inputs.spec.replicas)).toEqual([2]);
});

test("what the consumer creates validates against the Kubernetes schemas", () => {
    const { objects, problems } = renderObjects(recorded);
    expect(objects.length).toBeGreaterThan(10);
    expect(problems).toEqual([]);
    const report = validateAll(objects.map((o) => ({ label: `${o.kind} ${o.name}`, object: o.object })));
    expect(report.invalid).toEqual([]);
    expect(report.unchecked).toEqual([]);
});
