// Another stack consumes the components as it would after `npm install`: the package is built (when
// its sources changed since the last build) and packed with `npm pack` (so package.json `files`,
// `exports` and `peerDependencies` are what is tested), then npm installs the tarball into a
// consumer project in a temp directory, outside this repo, next to the consumer's own pins of the
// peer dependencies (no symlinks: nothing of this repo's node_modules can be reached from there).
// The consumer program (tests/fixtures/consumer) is type-checked there against the shipped
// declarations and evaluated under mocks: two copies of each of the five components, one of them
// on defaults only.
import { execFile } from "child_process";
import * as fs from "fs";
import { builtinModules } from "module";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";
import { renderObjects } from "../../scripts/manifests";
import { RecordedResource } from "../../scripts/mock-runtime";
import { validateAll } from "../../scripts/schema";
import { PROJECT_ROOT } from "../../scripts/stack-files";

const FIXTURE = path.join(PROJECT_ROOT, "tests", "fixtures", "consumer");
const BIN = path.join(PROJECT_ROOT, "node_modules", ".bin");
const SOURCES = path.join(PROJECT_ROOT, "components");
const DIST = path.join(PROJECT_ROOT, "dist");
const NAMESPACE = "team-b";
/** PostgresCluster's default image: the published build of images/postgres (README, "PostgresCluster"). */
const DEFAULT_POSTGRES_IMAGE = "ghcr.io/prepx/postgres-patroni:15.19-patroni3.0.2-pgbackrest2.45";

interface Manifest {
    dependencies?: Record<string, string>;
    peerDependencies: Record<string, string>;
    devDependencies: Record<string, string>;
    exports: Record<string, string | Record<string, string>>;
}

const manifest = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as Manifest;
const peers = Object.keys(manifest.peerDependencies).sort();

interface Finished {
    code: number;
    stdout: string;
    stderr: string;
}

function run(command: string, args: string[], cwd: string): Promise<Finished> {
    return new Promise((resolve) => {
        execFile(command, args, { cwd, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
            resolve({ code, stdout, stderr: error !== null && stderr === "" ? error.message : stderr });
        });
    });
}

async function exec(command: string, args: string[], cwd: string): Promise<string> {
    const finished = await run(command, args, cwd);
    if (finished.code !== 0) throw new Error(`${command} ${args.join(" ")} failed (exit ${finished.code}):\n${finished.stderr}\n${finished.stdout}`);
    return finished.stdout;
}

/** Every file under `dir`, as paths relative to it with `/` separators. */
function filesUnder(dir: string, prefix = ""): string[] {
    return fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((entry) => (entry.isDirectory() ? filesUnder(path.join(dir, entry.name), `${prefix}${entry.name}/`) : entry.isFile() ? [`${prefix}${entry.name}`] : []));
}

/** What the build makes of components/: per TypeScript file its JS, source map and declarations; JSON as is. */
function expectedBuildOutputs(): string[] {
    return filesUnder(SOURCES)
        .flatMap((file) => (file.endsWith(".ts") ? [".js", ".js.map", ".d.ts"].map((extension) => file.replace(/\.ts$/, extension)) : file.endsWith(".json") ? [file] : []))
        .map((file) => `dist/components/${file}`)
        .sort();
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
 * tsc never deletes an output whose source is gone, and `files` ships all of dist/components: a
 * dist/ holding such leftovers is deleted first (and rebuilt in full).
 */
async function buildIfStale(): Promise<void> {
    const stamp = path.join(DIST, ".tsbuildinfo");
    const expected = new Set(expectedBuildOutputs());
    const built = fs.existsSync(path.join(DIST, "components")) ? filesUnder(path.join(DIST, "components")).map((file) => `dist/components/${file}`) : [];
    if (built.some((file) => !expected.has(file))) fs.rmSync(DIST, { recursive: true, force: true });
    const inputs = Math.max(
        newest(SOURCES, /\.(ts|json)$/),
        ...["package.json", "tsconfig.json", "tsconfig.build.json"].map((file) => fs.statSync(path.join(PROJECT_ROOT, file)).mtimeMs),
    );
    if (fs.existsSync(stamp) && fs.statSync(stamp).mtimeMs > inputs) return;
    await exec("npm", ["run", "--silent", "build"], PROJECT_ROOT);
    // tsc leaves the build info untouched when nothing changed; touch it so the next run sees it fresh.
    const now = new Date();
    fs.utimesSync(stamp, now, now);
}

/** Where `packageName` is installed under `modules`, nested copies included. */
function copiesOf(packageName: string, modules: string): string[] {
    const found: string[] = [];
    const visit = (dir: string) => {
        if (!fs.existsSync(dir)) return;
        for (const entry of fs.readdirSync(dir)) {
            const names = entry.startsWith("@") ? fs.readdirSync(path.join(dir, entry)).map((scoped) => `${entry}/${scoped}`) : [entry];
            for (const name of names) {
                if (name === packageName) found.push(path.join(dir, name));
                visit(path.join(dir, name, "node_modules"));
            }
        }
    };
    visit(modules);
    return found;
}

interface Packed {
    filename: string;
    files: { path: string }[];
}

let temp: string;
let packed: Packed;
let project: string;
let installed: string;
let typecheck: Finished;
let recorded: RecordedResource[];

beforeAll(async () => {
    temp = fs.mkdtempSync(path.join(os.tmpdir(), "prepx-consumer-"));
    await buildIfStale();
    // --ignore-scripts: the build above already ran (prepack would build again, unconditionally).
    packed = (JSON.parse(await exec("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", temp], PROJECT_ROOT)) as Packed[])[0];

    project = path.join(temp, "consumer");
    fs.mkdirSync(project);
    // The consumer pins the peer dependencies itself, to the versions this repo tests with; npm
    // refuses the install (ERESOLVE) if a pin is outside the package's peer range.
    const dependencies = Object.fromEntries(peers.map((name) => [name, manifest.devDependencies[name]]));
    fs.writeFileSync(
        path.join(project, "package.json"),
        JSON.stringify({ name: "consumer", private: true, dependencies: { ...dependencies, "prepx-platform": `file:../${packed.filename}` } }, null, 2),
    );
    // The compiler options of a `pulumi new typescript` project (pulumi/templates, typescript/tsconfig.json:
    // nodenext since March 2026, node10 before; the resolution test below covers both), except:
    // skipLibCheck, because checking every library's declarations took 8 s (and passed; the
    // declarations' own imports are checked by the peer dependency test instead), noEmit, and plain
    // (not pretty) error lines to assert on.
    fs.writeFileSync(
        path.join(project, "tsconfig.json"),
        JSON.stringify({
            compilerOptions: {
                strict: true,
                outDir: "bin",
                target: "es2020",
                module: "nodenext",
                moduleResolution: "nodenext",
                sourceMap: true,
                experimentalDecorators: true,
                pretty: false,
                noFallthroughCasesInSwitch: true,
                noImplicitReturns: true,
                forceConsistentCasingInFileNames: true,
                skipLibCheck: true,
                noEmit: true,
            },
            files: ["index.ts", "rejected.ts"],
        }),
    );
    for (const file of ["index.ts", "rejected.ts"]) fs.copyFileSync(path.join(FIXTURE, file), path.join(project, file));
    // --ignore-scripts: the install hook of @pulumi/kubernetes only fetches its provider plugin.
    // --prefer-offline: npm's cache holds what `npm ci` of this repo fetched; only misses go to the registry.
    await exec("npm", ["install", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund"], project);
    installed = path.join(project, "node_modules", "prepx-platform");

    const [checked, evaluated] = await Promise.all([
        // --listFiles: the declarations the check read, to show they are the shipped ones.
        run(process.execPath, [path.join(PROJECT_ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", ".", "--listFiles"], project),
        exec(path.join(BIN, "tsx"), [path.join(FIXTURE, "evaluate.ts"), path.join(project, "index.ts")], project),
    ]);
    typecheck = checked;
    recorded = JSON.parse(evaluated) as RecordedResource[];
}, 180_000);

afterAll(() => {
    if (temp) fs.rmSync(temp, { recursive: true, force: true });
});

test("the package ships the compiled components, their dashboards and what `exports` names, not the sources or the program", () => {
    const files = packed.files.map((file) => file.path).sort();
    const targets = Object.values(manifest.exports).flatMap((target) => (typeof target === "string" ? [target] : Object.values(target)));
    for (const target of targets) expect(files).toContain(path.posix.normalize(target));
    // Exactly the build of components/: nothing missing (each component's dashboard.json), nothing left over.
    expect(files.filter((file) => file.startsWith("dist/"))).toEqual(expectedBuildOutputs());
    for (const component of ["redis", "postgres", "loadbalancer", "fleet"]) expect(files).toContain(`dist/components/${component}/dashboard.json`);
    // npm always packs the `main` file: the program's index.ts, which Pulumi needs as `main` and which
    // cannot run from the package (its ./config and sources are not shipped). Nothing else of the
    // program: not the stack's own dashboards/, not its Pulumi.*.yaml.
    expect(files.filter((file) => !file.startsWith("dist/components/") && !/^(README|LICEN[CS]E)/i.test(file))).toEqual(["index.ts", "package.json"]);
});

test("@pulumi/* and zod are peer dependencies: caret ranges from this repo's exact pins, and what the shipped code requires", () => {
    expect(peers).toEqual(["@pulumi/docker", "@pulumi/kubernetes", "@pulumi/pulumi", "@pulumi/random", "@pulumi/tls", "zod"]);
    for (const name of peers) {
        expect(manifest.devDependencies[name]).toMatch(/^\d+\.\d+\.\d+$/);
        expect(manifest.peerDependencies[name]).toBe(`^${manifest.devDependencies[name]}`);
    }
    expect(manifest.dependencies).toBeUndefined();
    // Every package the compiled components load, Node's own modules aside, is a peer, and each peer
    // is loaded; the declarations import peers only (a consumer's skipLibCheck would hide a missing one).
    const packagesIn = (extension: string, pattern: RegExp) => {
        const packages = new Set<string>();
        for (const file of filesUnder(installed).filter((name) => name.endsWith(extension))) {
            for (const match of fs.readFileSync(path.join(installed, file), "utf8").matchAll(pattern)) {
                const specifier = match[1];
                if (builtinModules.includes(specifier.replace(/^node:/, ""))) continue;
                packages.add(specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/"));
            }
        }
        return [...packages].sort();
    };
    expect(packagesIn(".js", /require\("([^."][^"]*)"\)/g)).toEqual(peers);
    expect(packagesIn(".d.ts", /(?:from |import\()"([^."][^"]*)"/g)).toEqual(["@pulumi/kubernetes", "@pulumi/pulumi", "zod"]);
});

test("npm installs the tarball as a directory, and one copy of each peer that the package and the consumer share", () => {
    expect(fs.lstatSync(installed).isSymbolicLink()).toBe(false);
    expect(fs.existsSync(path.join(installed, "dist", "components", "index.js"))).toBe(true);
    const shipped = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8")) as Manifest;
    expect(shipped.peerDependencies).toEqual(manifest.peerDependencies);
    const modules = path.join(project, "node_modules");
    for (const name of peers) {
        expect(copiesOf(name, modules)).toEqual([path.join(modules, name)]);
        const version = (JSON.parse(fs.readFileSync(path.join(modules, name, "package.json"), "utf8")) as { version: string }).version;
        expect(`${name}@${version}`).toBe(`${name}@${manifest.devDependencies[name]}`);
    }
});

test("TypeScript finds the declarations by package name: nodenext (`pulumi new` today), node16, bundler, and node10 (`pulumi new` before 2026)", () => {
    const expected = path.join(fs.realpathSync(installed), "dist", "components", "index.d.ts");
    const consumer = path.join(project, "index.ts");
    const settings: [ts.ModuleResolutionKind, ts.ModuleKind][] = [
        [ts.ModuleResolutionKind.NodeNext, ts.ModuleKind.NodeNext],
        [ts.ModuleResolutionKind.Node16, ts.ModuleKind.Node16],
        [ts.ModuleResolutionKind.Bundler, ts.ModuleKind.ESNext],
        [ts.ModuleResolutionKind.Node10, ts.ModuleKind.CommonJS],
    ];
    for (const [moduleResolution, module] of settings) {
        const resolved = ts.resolveModuleName("prepx-platform/components", consumer, { moduleResolution, module }, ts.sys);
        expect([ts.ModuleResolutionKind[moduleResolution], resolved.resolvedModule && fs.realpathSync(resolved.resolvedModule.resolvedFileName)]).toEqual([
            ts.ModuleResolutionKind[moduleResolution],
            expected,
        ]);
    }
});

test("the consumer type-checks against the shipped declarations, which refuse wrong args (rejected.ts)", () => {
    const errors = typecheck.stdout.split("\n").filter((line) => /error TS\d+/.test(line));
    expect(errors).toEqual([]);
    expect(typecheck.stderr).toBe("");
    expect(typecheck.code).toBe(0);
    // The files the compiler read: the package's from its installed declarations, none from this
    // repo but the compiler's own lib files.
    const read = typecheck.stdout.split("\n").filter((line) => line !== "" && !/error TS\d+/.test(line));
    const shipped = path.join(fs.realpathSync(installed), "dist", "components");
    expect(read).toContain(path.join(shipped, "index.d.ts"));
    expect(read.filter((file) => file.includes("prepx-platform") && !(file.startsWith(shipped) && file.endsWith(".d.ts")))).toEqual([]);
    const compilerLibs = path.join(PROJECT_ROOT, "node_modules", "typescript", "lib");
    expect(read.filter((file) => file.startsWith(PROJECT_ROOT) && !file.startsWith(compilerLibs))).toEqual([]);
});

/** The prepx component a resource belongs to (itself, its parent, or further up), if any. */
function componentOf(resource: RecordedResource): RecordedResource | undefined {
    const byUrn = new Map(recorded.map((r) => [r.urn, r]));
    let current: RecordedResource | undefined = resource;
    let owner: RecordedResource | undefined;
    while (current) {
        if (current.type.startsWith("prepx:")) owner = current;
        current = byUrn.get(current.parent);
    }
    return owner;
}

/** The types of everything a component created, its children's children included. */
function descendantTypes(componentName: string): string[] {
    const owned = recorded.filter((r) => !r.type.startsWith("prepx:") && componentOf(r)?.name === componentName);
    return [...new Set(owned.map((r) => r.type))].sort();
}

const CHILD_TYPES: Record<string, string[]> = {
    "prepx:cache:RedisCluster": [
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:batch/v1:Job",
        // The nodes' certificate, issued by the consumer's internal CA (cert-manager by default).
        "kubernetes:cert-manager.io/v1:Certificate",
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:core/v1:PersistentVolumeClaimPatch",
        "kubernetes:core/v1:Secret",
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:policy/v1:PodDisruptionBudget",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
        "kubernetes:rbac.authorization.k8s.io/v1:Role",
        "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
        "random:index/randomPassword:RandomPassword",
    ],
    "prepx:database:PostgresCluster": [
        "kubernetes:apps/v1:Deployment",
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:batch/v1:Job",
        // The members' and PgBouncer's certificates, from the consumer's internal CA (cert-manager by default).
        "kubernetes:cert-manager.io/v1:Certificate",
        "kubernetes:core/v1:ConfigMap",
        // Patroni's Endpoints, created beforehand (its Role has no `create`).
        "kubernetes:core/v1:Endpoints",
        "kubernetes:core/v1:PersistentVolumeClaimPatch",
        "kubernetes:core/v1:Secret",
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:policy/v1:PodDisruptionBudget",
        "kubernetes:rbac.authorization.k8s.io/v1:Role",
        "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
        "random:index/randomPassword:RandomPassword",
    ],
    "prepx:apps:ServiceFleet": [
        "kubernetes:apps/v1:Deployment",
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:policy/v1:PodDisruptionBudget",
    ],
    "prepx:network:LoadBalancerTier": ["kubernetes:apps/v1:Deployment", "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Service", "kubernetes:core/v1:ServiceAccount", "kubernetes:policy/v1:PodDisruptionBudget"],
    "prepx:monitoring:MonitoringStack": [
        "kubernetes:apps/v1:Deployment",
        "kubernetes:apps/v1:StatefulSet",
        // Prometheus' and Alertmanager's certificates (HTTPS, the replicas' TLS gossip).
        "kubernetes:cert-manager.io/v1:Certificate",
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:core/v1:PersistentVolumeClaim",
        "kubernetes:core/v1:Secret",
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:policy/v1:PodDisruptionBudget",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
        "kubernetes:rbac.authorization.k8s.io/v1:Role",
        "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
        "random:index/randomPassword:RandomPassword",
    ],
};
const COMPONENT_NAMES: Record<string, string> = {
    "prepx:cache:RedisCluster": "cache",
    "prepx:database:PostgresCluster": "db",
    "prepx:apps:ServiceFleet": "apps",
    "prepx:network:LoadBalancerTier": "edge",
    "prepx:monitoring:MonitoringStack": "monitoring",
};

test("two copies of each of the five components, with no Pulumi config", () => {
    const components = recorded.filter((r) => r.type.startsWith("prepx:"));
    expect(components.every((r) => !r.custom)).toBe(true);
    // Plus the one internal CA both copies' certificates come from.
    const expected = [...["blue", "green"].flatMap((copy) => Object.entries(COMPONENT_NAMES).map(([type, name]) => `${type} ${copy}-${name}`)), "prepx:index:InternalCertificateAuthority internal-ca"];
    expect(components.map((r) => `${r.type} ${r.name}`).sort()).toEqual(expected.sort());
});

test.each(Object.entries(COMPONENT_NAMES))("%s on defaults only (blue) and on the consumer's settings (green) creates all its children", (type, name) => {
    for (const copy of ["blue", "green"]) expect([`${copy}-${name}`, descendantTypes(`${copy}-${name}`)]).toEqual([`${copy}-${name}`, CHILD_TYPES[type]]);
});

test("the copies do not collide: unique URNs, every child named after its component, unique Kubernetes objects per namespace", () => {
    const urns = recorded.map((r) => r.urn);
    expect(urns.filter((urn, index) => urns.indexOf(urn) !== index)).toEqual([]);
    const misnamed = recorded.filter((r) => {
        const owner = componentOf(r)?.name;
        return owner !== undefined && r.name !== owner && !r.name.startsWith(`${owner}-`);
    });
    expect(misnamed.map((r) => `${r.type} ${r.name}`)).toEqual([]);
    const objects = recorded
        .filter((r) => r.type.startsWith("kubernetes:"))
        .map((r) => `${r.type} ${r.inputs.metadata?.namespace ?? "(cluster)"}/${r.inputs.metadata?.name}`);
    expect(objects.length).toBeGreaterThan(100);
    expect(objects.filter((object, index) => objects.indexOf(object) !== index)).toEqual([]);
    expect(objects.filter((object) => !object.includes(`${NAMESPACE}/`) && !object.includes("(cluster)/"))).toEqual([]);
});

test("the defaults work from the installed package: the published PostgreSQL image, prod sizes, no build", () => {
    expect(recorded.some((r) => r.type === "docker:index/image:Image")).toBe(false);
    const statefulSet = (name: string) => recorded.find((r) => r.type === "kubernetes:apps/v1:StatefulSet" && r.name === name);
    expect(statefulSet("blue-db")?.inputs.spec.template.spec.containers[0].image).toBe(DEFAULT_POSTGRES_IMAGE);
    // Defaults: 3 masters with a replica each, a leader and 2 standbys; green's settings: 3 x 1, 1 + 1.
    expect([statefulSet("blue-cache")?.inputs.spec.replicas, statefulSet("blue-db")?.inputs.spec.replicas]).toEqual([6, 3]);
    expect([statefulSet("green-cache")?.inputs.spec.replicas, statefulSet("green-db")?.inputs.spec.replicas]).toEqual([3, 2]);
});

test("the components' dashboards, JSON files inside the package, reach the consumer's Grafana as they are in the sources", () => {
    const dashboards = recorded.find((r) => r.type === "kubernetes:core/v1:ConfigMap" && r.name === "green-monitoring-grafana-dashboards");
    const data = (dashboards?.inputs.data ?? {}) as Record<string, string>;
    const sources: Record<string, string> = { "loadbalancer.json": "loadbalancer", "postgres.json": "postgres", "redis.json": "redis", "service-fleet.json": "fleet" };
    expect(Object.keys(data).sort()).toEqual(Object.keys(sources));
    for (const [file, component] of Object.entries(sources)) {
        expect(JSON.parse(data[file])).toEqual(JSON.parse(fs.readFileSync(path.join(SOURCES, component, "dashboard.json"), "utf8")));
    }
});

test("what the consumer creates validates against the Kubernetes schemas", () => {
    const { objects, problems } = renderObjects(recorded);
    expect(objects.length).toBeGreaterThan(100);
    expect(problems).toEqual([]);
    const report = validateAll(objects.map((o) => ({ label: `${o.kind} ${o.name}`, object: o.object })));
    expect(report.invalid).toEqual([]);
    expect(report.unchecked).toEqual([]);
});
