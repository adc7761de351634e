// `npm run deploy:local -- --stack dev [--dir <dir>]`: the whole stack on a local cluster in one
// command. Builds the engine and the control plane (cached), starts the cluster (tools/cluster/cluster.ts),
// runs `pulumi up` of the stack with the real engine against it, prints the outputs and a KUBECONFIG
// to look around with kubectl, and stops everything on Ctrl-C.
//
// What differs from a real cluster: kwok marks pods Ready and completes Job pods, but no container
// runs, so the stack's objects and the provider's awaits are real and its processes are not.
// The stack runs in a copy of the project (`pulumi stack init` rewrites Pulumi.<stack>.yaml), with a
// prebuilt PostgreSQL image (the docker provider cannot be built here) and generated passwords.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EngineSandbox, requireSuccess } from "../engine/sandbox";
import { LOCAL_CONTEXT, startCluster } from "./cluster";
import { parseFlags, runMain } from "../../scripts/cli";

/**
 * Creates `stack` in the project copy `project` as the engine here can run it (EngineSandbox.initStack:
 * a prebuilt PostgreSQL image, generated passwords), aimed at the cluster of `kubeconfig`.
 */
export async function prepareStack(sandbox: EngineSandbox, project: string, stack: string, kubeconfig: string): Promise<void> {
    await sandbox.initStack(project, stack);
    const target = ["--plaintext", `kubeconfig=${kubeconfig}`, "--plaintext", `kubeContext=${LOCAL_CONTEXT}`];
    requireSuccess(await sandbox.cli(["config", "set-all", ...target, "--stack", stack], project), "config kubeconfig");
}

async function main(argv: readonly string[]): Promise<number> {
    const usage = "usage: npm run deploy:local -- --stack <dev|prod> [--dir <dir>]";
    const flags = parseFlags(argv, ["stack", "dir"], usage);
    if (!flags.stack) throw new Error(`--stack is required\n${usage}`);
    const dir = flags.dir ? path.resolve(flags.dir) : fs.mkdtempSync(path.join(os.tmpdir(), "prepx-local-"));
    fs.mkdirSync(path.join(dir, "cluster"), { recursive: true });
    const cluster = await startCluster({ dir: path.join(dir, "cluster") });
    try {
        process.stdout.write(`local cluster at ${cluster.server}\n`);
        const sandbox = new EngineSandbox(path.join(dir, "pulumi"));
        const project = sandbox.copyProject("project");
        await prepareStack(sandbox, project, flags.stack, cluster.kubeconfig);
        process.stdout.write(`pulumi up --stack ${flags.stack} ...\n`);
        const up = await sandbox.withProgram(project, ["up", "--yes", "--skip-preview", "--stack", flags.stack]);
        process.stdout.write(up.stdout);
        requireSuccess(up, `pulumi up ${flags.stack}`);
        const outputs = await sandbox.cli(["stack", "output", "--stack", flags.stack], project);
        process.stdout.write(`${outputs.stdout}\nexport KUBECONFIG=${cluster.kubeconfig}   # kubectl get pods -A\n`);
        process.stdout.write(`Pulumi state, project copy and logs: ${dir}\nCtrl-C stops the cluster.\n`);
        await new Promise<void>((resolve) => {
            process.on("SIGINT", () => resolve());
            process.on("SIGTERM", () => resolve());
        });
        return 0;
    } finally {
        await cluster.stop({ keepDir: true });
    }
}

if (require.main === module) runMain(main);
