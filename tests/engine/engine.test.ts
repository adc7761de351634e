// `npm run test:engine`: the program on the real Pulumi engine (CLI 3.248.0 and the kubernetes
// provider, built from the Go module proxy by tools/engine/build.sh), with a file backend, a
// passphrase and no cluster. What mocks cannot show: the CLI's config rules, URN collisions, the
// provider's diffs and replacements, protect. Steps a-f of issue 8, in order; each prints figures.
import * as fs from "fs";
import * as path from "path";
import {
    changes,
    CONFIG_CHANGES,
    EngineSandbox,
    manifestDifferences,
    newPassword,
    PreviewJson,
    previewPlan,
    PROJECT_ROOT,
    readRenderedDirectory,
    renderStack,
    report,
    requireEngineBuilt,
    requireSuccess,
} from "./support";

// Every step runs the CLI; each command is bounded by the sandbox's own timeout.
jest.setTimeout(600_000);

const sandbox = new EngineSandbox();
let project: string;

beforeAll(async () => {
    requireEngineBuilt("npm run test:engine");
    project = sandbox.copyProject("project");
    await sandbox.initStack(project, "dev");
    await sandbox.initStack(project, "prod");
}, 120_000);

afterAll(() => sandbox.dispose());

test("a. `pulumi preview` of dev and prod succeeds", async () => {
    for (const stack of ["dev", "prod"]) {
        const started = Date.now();
        const plan = await previewPlan(sandbox, project, stack);
        const errors = (plan.diagnostics ?? []).filter((diagnostic) => diagnostic.severity === "error");
        expect(errors).toEqual([]);
        expect(plan.changeSummary.create).toBeGreaterThan(50);
        expect(Object.keys(plan.changeSummary).sort()).toEqual(["create"]);
        report(`a. preview ${stack}: ${plan.changeSummary.create} to create, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
});

test("b. `pulumi up` of dev through the kubernetes provider writes the objects `npm run render` shows", async () => {
    const manifests = path.join(sandbox.root, "manifests-dev");
    requireSuccess(await sandbox.cli(["config", "set", "renderYamlToDirectory", manifests, "--stack", "dev"], project), "config set");
    const up = await sandbox.withProgram(project, ["up", "--yes", "--skip-preview", "--stack", "dev"]);
    requireSuccess(up, "up dev");
    const engineObjects = readRenderedDirectory(manifests);
    const renderObjects = await renderStack(sandbox, project, "dev");

    const differences = manifestDifferences(engineObjects, renderObjects);
    for (const difference of differences) report(`b. ${difference}`);
    report(`b. up dev: ${engineObjects.size} objects written in ${up.seconds.toFixed(1)} s; npm run render: ${renderObjects.size}; ${differences.length} differences`);
    expect(differences).toEqual([]);
    expect(engineObjects.size).toBeGreaterThan(50);
});

test("c. a second preview has no changes (no perpetual diff)", async () => {
    const result = await sandbox.withProgram(project, ["preview", "--expect-no-changes", "--stack", "dev"]);
    requireSuccess(result, "preview --expect-no-changes");
    report(`c. preview --expect-no-changes dev: passed in ${result.seconds.toFixed(1)} s`);
});

test.each(CONFIG_CHANGES)("d. $what ($key) updates exactly the expected objects, replacing no workload", async ({ key, value, expected }) => {
    const original = await sandbox.cli(["config", "get", "--path", key, "--stack", "dev"], project);
    // A key the stack file leaves out (the component default applies) is removed again afterwards.
    const unset = original.code !== 0 && /not found/.test(original.stderr);
    if (!unset) requireSuccess(original, `config get ${key}`);
    requireSuccess(await sandbox.cli(["config", "set", "--path", key, value, "--stack", "dev"], project), `config set ${key}`);
    try {
        const planned = changes(await previewPlan(sandbox, project, "dev"));
        report(`d. ${key} ${unset ? "(default)" : original.stdout.trim()} -> ${value}: ${planned.join("; ")}`);
        expect(planned).toEqual([...expected].sort());
    } finally {
        const restore = unset ? ["config", "rm", "--path", key, "--stack", "dev"] : ["config", "set", "--path", key, original.stdout.trim(), "--stack", "dev"];
        requireSuccess(await sandbox.cli(restore, project), `restore ${key}`);
    }
});

test("e. a consumer stack with two copies of every component, installed from the packed package, previews without collisions", async () => {
    const packDir = path.join(sandbox.root, "pack");
    fs.mkdirSync(packDir);
    const pack = await sandbox.exec("npm", ["pack", "--silent", "--pack-destination", packDir], project);
    requireSuccess(pack, "npm pack");
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
    requireSuccess(install, "npm install");
    expect(fs.lstatSync(path.join(consumer, "node_modules/prepx-platform")).isSymbolicLink()).toBe(false);
    // The consumer type-checks against the packed declarations, not the sources.
    const typecheck = await sandbox.exec(process.execPath, [path.join(PROJECT_ROOT, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", "."], consumer);
    requireSuccess(typecheck, "tsc --noEmit in the consumer");

    requireSuccess(await sandbox.cli(["stack", "init", "test"], consumer), "stack init");
    const passwords = ["blue", "green"].flatMap((copy) =>
        ["cache", "cache-exporter", "cache-app", "superuser", "replication", "app", "monitor", "restapi", "grafana", "grafana-secret-key"].flatMap((name) => ["--secret", `consumer:password-${copy}-${name}=${newPassword()}`]),
    );
    requireSuccess(await sandbox.cli(["config", "set-all", ...passwords, "--plaintext", `consumer:renderYamlToDirectory=${path.join(sandbox.root, "manifests-consumer")}`, "--stack", "test"], consumer), "config");

    const result = await sandbox.withProgram(consumer, ["preview", "--stack", "test", "--json"]);
    requireSuccess(result, "consumer preview");
    const plan = JSON.parse(result.stdout) as PreviewJson;
    const objects = plan.steps.filter((step) => step.newState?.inputs?.metadata?.name !== undefined && step.newState.type.startsWith("kubernetes:"));
    const names = objects.map((step) => `${step.newState?.inputs?.kind} ${step.newState?.inputs?.metadata?.namespace}/${step.newState?.inputs?.metadata?.name}`);
    const duplicates = names.filter((name, index) => names.indexOf(name) !== index);
    report(`e. consumer: ${plan.changeSummary.create} to create (${objects.length} Kubernetes objects, 2 x 5 components), ${duplicates.length} duplicate object names, in ${result.seconds.toFixed(1)} s`);
    expect(duplicates).toEqual([]);
    expect(plan.steps.filter((step) => step.urn.includes("ServiceFleet$")).length).toBeGreaterThan(0);
    expect(objects.length).toBeGreaterThan(100);

    // The consumer's provider does not set enableConfigMapMutable: a config change must still replace
    // no workload (a fixed-name ConfigMap would be deleted first, and the engine would replace the
    // Deployment and the StatefulSet that mount it). Content-named ConfigMaps are created first instead.
    requireSuccess(await sandbox.withProgram(consumer, ["up", "--yes", "--skip-preview", "--stack", "test"]), "consumer up");
    requireSuccess(await sandbox.cli(["config", "set", "workMem", "32MB", "--stack", "test"], consumer), "config set workMem");
    requireSuccess(await sandbox.cli(["config", "set", "edgeBurst", "50", "--stack", "test"], consumer), "config set edgeBurst");
    const planned = changes(await previewPlan(sandbox, consumer, "test"));
    report(`e. consumer (provider defaults) work_mem 64MB -> 32MB, burst 100 -> 50: ${planned.join("; ")}`);
    expect(planned).toEqual(
        ["blue", "green"]
            .flatMap((copy) => [
                `replace (create first) core/v1:ConfigMap ${copy}-db-patroni`,
                `update apps/v1:StatefulSet ${copy}-db`,
                `replace (create first) core/v1:ConfigMap ${copy}-edge-config`,
                `update apps/v1:Deployment ${copy}-edge`,
            ])
            .sort(),
    );

    // Only a setting Patroni keeps in its DCS: the Patroni ConfigMap keeps its name, so this provider
    // re-creates it in place (delete first); the members refer to it by name only, so they are not
    // replaced with it; the dynamic-config Job applies the setting.
    for (const key of ["workMem", "edgeBurst"]) requireSuccess(await sandbox.cli(["config", "rm", key, "--stack", "test"], consumer), `config rm ${key}`);
    requireSuccess(await sandbox.cli(["config", "set", "maxConnections", "520", "--stack", "test"], consumer), "config set maxConnections");
    const dcsOnly = changes(await previewPlan(sandbox, consumer, "test"));
    report(`e. consumer (provider defaults) max_connections 500 -> 520: ${dcsOnly.join("; ")}`);
    expect(dcsOnly).toEqual(
        ["blue", "green"].flatMap((copy) => [`replace (delete first) batch/v1:Job ${copy}-db-dcs-config`, `replace (delete first) core/v1:ConfigMap ${copy}-db-patroni`]).sort(),
    );
}, 600_000);

test("f. `pulumi destroy` of prod is refused by protect and deletes nothing", async () => {
    const manifests = path.join(sandbox.root, "manifests-prod");
    // Written to a directory instead of prod's cluster, which therefore is not named (config.ts).
    requireSuccess(await sandbox.cli(["config", "rm", "kubeContext", "--stack", "prod"], project), "config rm kubeContext");
    requireSuccess(await sandbox.cli(["config", "set", "renderYamlToDirectory", manifests, "--stack", "prod"], project), "config set");
    requireSuccess(await sandbox.withProgram(project, ["up", "--yes", "--skip-preview", "--stack", "prod"]), "up prod");
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
