// `npm run test:engine`: the program on the real Pulumi engine (CLI 3.248.0 and the kubernetes
// provider, built from the Go module proxy by tools/engine/build.sh), with a file backend, a
// passphrase and no cluster. What mocks cannot show: the CLI's config rules, URN collisions, the
// provider's diffs and replacements, protect. Steps a-f of issue 8, in order; each prints figures.
import * as fs from "fs";
import * as path from "path";
import {
    describeStep,
    EngineSandbox,
    ENGINE_BIN,
    expectExit,
    manifestDifferences,
    newPassword,
    PASSWORD_NAMES,
    PreviewJson,
    PROJECT_ROOT,
    readRenderedDirectory,
    readRenderFile,
    report,
} from "./support";

// Every step runs the CLI; each command is bounded by support.ts' own timeout.
jest.setTimeout(600_000);

// Stacks run here take a prebuilt PostgreSQL image: the docker provider cannot be built from any registry.
const POSTGRES_IMAGE = "ghcr.io/prepx/postgres-patroni:15.10-patroni3.0.2";

const sandbox = new EngineSandbox();
let project: string;

/** Applies what every stack run by the engine here needs: a prebuilt image and supplied passwords. */
async function prepareStack(stack: string): Promise<void> {
    expectExit(await sandbox.cli(["stack", "init", stack], project), 0, `stack init ${stack}`);
    expectExit(await sandbox.cli(["config", "rm", "--path", "postgres.image.build", "--stack", stack], project), 0, "config rm");
    expectExit(await sandbox.cli(["config", "set", "--path", "postgres.image.prebuilt", POSTGRES_IMAGE, "--stack", stack], project), 0, "config set");
    const passwords = PASSWORD_NAMES.flatMap((name) => ["--secret", `passwords.${name}=${newPassword()}`]);
    expectExit(await sandbox.cli(["config", "set-all", "--path", ...passwords, "--stack", stack], project), 0, "config set-all");
}

async function preview(stack: string, ...flags: string[]): Promise<PreviewJson> {
    const result = await sandbox.withProgram(project, ["preview", "--stack", stack, "--json", ...flags]);
    expectExit(result, 0, `preview ${stack}`);
    return JSON.parse(result.stdout) as PreviewJson;
}

function changes(plan: PreviewJson): string[] {
    return plan.steps.filter((step) => step.op !== "same").map(describeStep).sort();
}

beforeAll(async () => {
    for (const binary of ["pulumi", "pulumi-resource-kubernetes"]) {
        if (!fs.existsSync(path.join(ENGINE_BIN, binary))) throw new Error(`${binary} is not built: run tools/engine/build.sh (npm run test:engine does)`);
    }
    project = sandbox.copyProject("project");
    await prepareStack("dev");
    await prepareStack("prod");
}, 120_000);

afterAll(() => sandbox.dispose());

test("a. `pulumi preview` of dev and prod succeeds", async () => {
    for (const stack of ["dev", "prod"]) {
        const started = Date.now();
        const plan = await preview(stack);
        const errors = (plan.diagnostics ?? []).filter((diagnostic) => diagnostic.severity === "error");
        expect(errors).toEqual([]);
        expect(plan.changeSummary.create).toBeGreaterThan(50);
        expect(Object.keys(plan.changeSummary).sort()).toEqual(["create"]);
        report(`a. preview ${stack}: ${plan.changeSummary.create} to create, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
});

test("b. `pulumi up` of dev through the kubernetes provider writes the objects `npm run render` shows", async () => {
    const manifests = path.join(sandbox.root, "manifests-dev");
    expectExit(await sandbox.cli(["config", "set", "renderYamlToDirectory", manifests, "--stack", "dev"], project), 0, "config set");
    const up = await sandbox.withProgram(project, ["up", "--yes", "--skip-preview", "--stack", "dev"]);
    expectExit(up, 0, "up dev");
    const engineObjects = readRenderedDirectory(manifests);

    const renderDir = path.join(sandbox.root, "render-dev");
    const render = await sandbox.exec(process.execPath, [path.join(PROJECT_ROOT, "node_modules/tsx/dist/cli.mjs"), "scripts/render.ts", "--stack", "dev", "--out", renderDir], project);
    expectExit(render, 0, "npm run render");
    const renderObjects = readRenderFile(path.join(renderDir, "manifests.yaml"));

    const differences = manifestDifferences(engineObjects, renderObjects);
    for (const difference of differences) report(`b. ${difference}`);
    report(`b. up dev: ${engineObjects.size} objects written in ${up.seconds.toFixed(1)} s; npm run render: ${renderObjects.size}; ${differences.length} differences`);
    expect(differences).toEqual([]);
    expect(engineObjects.size).toBeGreaterThan(50);
});

test("c. a second preview has no changes (no perpetual diff)", async () => {
    const result = await sandbox.withProgram(project, ["preview", "--expect-no-changes", "--stack", "dev"]);
    expectExit(result, 0, "preview --expect-no-changes");
    report(`c. preview --expect-no-changes dev: passed in ${result.seconds.toFixed(1)} s`);
});

// Each change a user makes, and exactly what it may touch: the config object in place and a roll of
// the pods that read it (checksum annotation), never a replacement.
const CONFIG_CHANGES: Array<{ what: string; key: string; value: string; expected: string[] }> = [
    {
        what: "an nginx rate",
        key: "loadBalancer.rateLimits.api.rate",
        value: "60",
        expected: ["update apps/v1:Deployment lb", "update core/v1:ConfigMap lb-config"],
    },
    {
        what: "a PostgreSQL runtime parameter",
        key: "postgres.parameters.work_mem",
        value: "8MB",
        expected: ["update apps/v1:StatefulSet postgres", "update core/v1:ConfigMap postgres-patroni"],
    },
    {
        what: "Redis maxmemory",
        key: "redis.maxmemory",
        // Within 80% of dev's 256Mi limit (the maxmemory rule); 256mb, used before that rule, is refused.
        value: "180mb",
        expected: ["update apps/v1:StatefulSet redis", "update core/v1:ConfigMap redis-config"],
    },
    {
        what: "a service's replica bounds",
        key: "services[1].autoscaling.maxReplicas",
        value: "3",
        expected: ["update autoscaling/v2:HorizontalPodAutoscaler services-user-service"],
    },
];

test.each(CONFIG_CHANGES)("d. $what ($key) updates exactly the expected objects, replacing nothing", async ({ key, value, expected }) => {
    const original = await sandbox.cli(["config", "get", "--path", key, "--stack", "dev"], project);
    expectExit(original, 0, `config get ${key}`);
    expectExit(await sandbox.cli(["config", "set", "--path", key, value, "--stack", "dev"], project), 0, `config set ${key}`);
    try {
        const plan = await preview("dev");
        const planned = changes(plan);
        report(`d. ${key} ${original.stdout.trim()} -> ${value}: ${planned.join("; ")}`);
        expect(planned).toEqual([...expected].sort());
    } finally {
        expectExit(await sandbox.cli(["config", "set", "--path", key, original.stdout.trim(), "--stack", "dev"], project), 0, `restore ${key}`);
    }
});

test("e. a consumer stack with two copies of every component, installed from the packed package, previews without collisions", async () => {
    const packDir = path.join(sandbox.root, "pack");
    fs.mkdirSync(packDir);
    const pack = await sandbox.exec("npm", ["pack", "--silent", "--pack-destination", packDir], project);
    expectExit(pack, 0, "npm pack");
    const tarball = path.join(packDir, pack.stdout.trim().split("\n").pop() ?? "");

    const consumer = path.join(sandbox.root, "consumer");
    fs.mkdirSync(consumer);
    fs.copyFileSync(path.join(PROJECT_ROOT, "tests/engine/consumer/index.ts"), path.join(consumer, "index.ts"));
    const ownManifest = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as {
        peerDependencies: Record<string, string>;
        devDependencies: Record<string, string>;
    };
    // The consumer pins the package's peer dependencies itself, to the versions this repo tests with.
    const peerPins = Object.fromEntries(Object.keys(ownManifest.peerDependencies).map((name) => [name, ownManifest.devDependencies[name]]));
    fs.writeFileSync(
        path.join(consumer, "package.json"),
        JSON.stringify({ name: "consumer", private: true, dependencies: { ...peerPins, "prepx-platform": `file:${tarball}` } }, null, 2),
    );
    fs.writeFileSync(path.join(consumer, "Pulumi.yaml"), "name: consumer\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
    fs.writeFileSync(
        path.join(consumer, "tsconfig.json"),
        JSON.stringify({ compilerOptions: { strict: true, target: "ES2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true, types: [] } }),
    );
    // The install hook of @pulumi/kubernetes only tries to download its plugin; offline it would fail.
    const install = await sandbox.exec("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], consumer);
    expectExit(install, 0, "npm install");
    expect(fs.lstatSync(path.join(consumer, "node_modules/prepx-platform")).isSymbolicLink()).toBe(false);
    // The consumer type-checks against the packed declarations, not the sources.
    const typecheck = await sandbox.exec(process.execPath, [path.join(PROJECT_ROOT, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", "."], consumer);
    expectExit(typecheck, 0, "tsc --noEmit in the consumer");

    expectExit(await sandbox.cli(["stack", "init", "test"], consumer), 0, "stack init");
    const passwords = ["blue", "green"].flatMap((copy) =>
        ["cache", "superuser", "replication", "app", "monitor", "restapi", "grafana"].flatMap((name) => ["--secret", `consumer:password-${copy}-${name}=${newPassword()}`]),
    );
    expectExit(await sandbox.cli(["config", "set-all", ...passwords, "--plaintext", `consumer:renderYamlToDirectory=${path.join(sandbox.root, "manifests-consumer")}`, "--stack", "test"], consumer), 0, "config");

    const result = await sandbox.withProgram(consumer, ["preview", "--stack", "test", "--json"]);
    expectExit(result, 0, "consumer preview");
    const plan = JSON.parse(result.stdout) as PreviewJson;
    const objects = plan.steps.filter((step) => step.newState?.inputs?.metadata?.name !== undefined && step.newState.type.startsWith("kubernetes:"));
    const names = objects.map((step) => `${step.newState?.inputs?.kind} ${step.newState?.inputs?.metadata?.namespace}/${step.newState?.inputs?.metadata?.name}`);
    const duplicates = names.filter((name, index) => names.indexOf(name) !== index);
    report(`e. consumer: ${plan.changeSummary.create} to create (${objects.length} Kubernetes objects, 2 x 5 components), ${duplicates.length} duplicate object names, in ${result.seconds.toFixed(1)} s`);
    expect(duplicates).toEqual([]);
    expect(plan.steps.filter((step) => step.urn.includes("ServiceFleet$")).length).toBeGreaterThan(0);
    expect(objects.length).toBeGreaterThan(100);
}, 600_000);

test("f. `pulumi destroy` of prod is refused by protect and deletes nothing", async () => {
    const manifests = path.join(sandbox.root, "manifests-prod");
    // Written to a directory instead of prod's cluster, which therefore is not named (config.ts).
    expectExit(await sandbox.cli(["config", "rm", "kubeContext", "--stack", "prod"], project), 0, "config rm kubeContext");
    expectExit(await sandbox.cli(["config", "set", "renderYamlToDirectory", manifests, "--stack", "prod"], project), 0, "config set");
    expectExit(await sandbox.withProgram(project, ["up", "--yes", "--skip-preview", "--stack", "prod"]), 0, "up prod");
    const before = readRenderedDirectory(manifests).size;
    const exported = async () => (JSON.parse((await sandbox.cli(["stack", "export", "--stack", "prod"], project)).stdout) as { deployment: { resources: unknown[] } }).deployment.resources.length;
    const resourcesBefore = await exported();

    const destroy = await sandbox.withProgram(project, ["destroy", "--yes", "--skip-preview", "--stack", "prod"]);
    const output = destroy.stdout + destroy.stderr;
    const refusals = output.match(/cannot be deleted\s+because it is protected/g) ?? [];
    const errored = /(\d+) errored/.exec(output)?.[1] ?? "?";
    report(`f. destroy prod: exit ${destroy.code}, ${errored} resources refused as protected, objects ${before} -> ${readRenderedDirectory(manifests).size}, state ${resourcesBefore} -> ${await exported()} resources, ${destroy.seconds.toFixed(1)} s`);
    expect(destroy.code).not.toBe(0);
    expect(refusals.length).toBeGreaterThan(0);
    expect(output).toContain("To unprotect the resource");
    expect(output).not.toMatch(/\d+ deleted/);
    expect(readRenderedDirectory(manifests).size).toBe(before);
    expect(await exported()).toBe(resourcesBefore);
});
