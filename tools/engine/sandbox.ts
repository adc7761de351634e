// The real Pulumi CLI (tools/engine/bin) in a sandbox: its own Pulumi home, a file backend and a
// passphrase in one dir, the program run through tools/engine/pulumi.ts. Used by the engine and
// cluster tests and by `npm run deploy:local`.
import { execFile } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { passwordsSchema } from "../../config";
import { readStackConfig } from "../../scripts/stack-files";

export const PROJECT_ROOT = path.resolve(__dirname, "../..");
export const ENGINE_BIN = path.join(PROJECT_ROOT, "tools/engine/bin");
/** tsx's CLI, run with this Node.js: the programs and `npm run render` are TypeScript. */
export const TSX_CLI = path.join(PROJECT_ROOT, "node_modules/tsx/dist/cli.mjs");
const RUNNER = path.join(PROJECT_ROOT, "tools/engine/pulumi.ts");
/** Longest any one command may take before it is killed (a hang is a failure, not a wait). */
const COMMAND_TIMEOUT_MS = 5 * 60_000;

/** What one command did. */
export interface CommandResult {
    code: number;
    stdout: string;
    stderr: string;
    seconds: number;
}

/** The published image of images/postgres, used where the stack would build it: the docker provider is not built here. */
const PREBUILT_POSTGRES_IMAGE = "ghcr.io/prepx/postgres-patroni:15.19-patroni3.0.2-pgbackrest2.45";
/** The one `passwords` key that holds a password per service (each service's Redis user). */
const REDIS_APP_PASSWORDS = "redisApps";
/** Every other password a stack may supply (config.ts `passwords`): the random provider is not built here. */
const PASSWORD_NAMES = Object.keys(passwordsSchema.shape).filter((name) => name !== REDIS_APP_PASSWORDS);

/** A fresh password of 32 hex characters. */
export function newPassword(): string {
    return crypto.randomBytes(16).toString("hex");
}

/** Fails with the command's output unless it exited 0. */
export function requireSuccess(result: CommandResult, what: string): void {
    if (result.code !== 0) {
        throw new Error(`${what}: exit ${result.code}\n--- stdout\n${result.stdout.slice(-6000)}\n--- stderr\n${result.stderr.slice(-6000)}`);
    }
}

function run(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<CommandResult> {
    const started = Date.now();
    return new Promise((resolve) => {
        execFile(file, [...args], { cwd, env, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
            const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
            resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
        });
    });
}

/**
 * A Pulumi home, a file backend and a passphrase in a temp dir; nothing outside it is read or
 * written, and KUBECONFIG names a file that does not exist, so no real cluster can be reached.
 */
export class EngineSandbox {
    /** The dir holding the Pulumi home, the state and any project copies. */
    readonly root: string;
    readonly env: NodeJS.ProcessEnv;

    /**
     * `root` defaults to a new temp dir. KUBECONFIG names a file that does not exist, so a stack
     * reaches a cluster only through its own `kubeconfig` config.
     */
    constructor(root = fs.mkdtempSync(path.join(os.tmpdir(), "prepx-engine-"))) {
        this.root = root;
        this.env = {
            ...process.env,
            PATH: `${ENGINE_BIN}${path.delimiter}${process.env.PATH ?? ""}`,
            PULUMI_HOME: path.join(root, "pulumi-home"),
            PULUMI_BACKEND_URL: `file://${path.join(root, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: "engine-test-passphrase",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            KUBECONFIG: path.join(root, "no-cluster", "kubeconfig"),
        };
        fs.mkdirSync(path.join(root, "state"), { recursive: true });
    }

    /** A copy of the tracked project (as CI's clone has it) sharing this checkout's node_modules. */
    copyProject(name: string): string {
        const target = path.join(this.root, name);
        const skipped = new Set(["node_modules", ".git", "rendered", "dist", "coverage", path.join("tools", "engine", "bin"), path.join("tools", "cluster", "bin")]);
        fs.cpSync(PROJECT_ROOT, target, { recursive: true, filter: (source) => !skipped.has(path.relative(PROJECT_ROOT, source)) });
        fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(target, "node_modules"));
        return target;
    }

    /** The CLI alone (stack and config commands). */
    cli(args: readonly string[], cwd: string): Promise<CommandResult> {
        return run(path.join(ENGINE_BIN, "pulumi"), [...args, "--non-interactive"], cwd, this.env);
    }

    /** The CLI with the program in `programDir` (preview, up, destroy). */
    withProgram(programDir: string, args: readonly string[]): Promise<CommandResult> {
        return run(process.execPath, [TSX_CLI, RUNNER, programDir, ...args, "--non-interactive"], programDir, this.env);
    }

    /**
     * Creates `stack` in the project copy `project` as the engine here can run it: a prebuilt
     * PostgreSQL image instead of a build, and a generated password for every `passwords` key.
     */
    async initStack(project: string, stack: string): Promise<void> {
        requireSuccess(await this.cli(["stack", "init", stack], project), `stack init ${stack}`);
        requireSuccess(await this.cli(["config", "rm", "--path", "postgres.image.build", "--stack", stack], project), "config rm postgres.image.build");
        requireSuccess(await this.cli(["config", "set", "--path", "postgres.image.prebuilt", PREBUILT_POSTGRES_IMAGE, "--stack", stack], project), "config set postgres.image");
        const services = ((readStackConfig(stack, project).services ?? []) as { name: string }[]).map((service) => service.name);
        const passwords = [...PASSWORD_NAMES, ...services.map((service) => `${REDIS_APP_PASSWORDS}.${service}`)].flatMap((name) => [
            "--secret",
            `passwords.${name}=${newPassword()}`,
        ]);
        requireSuccess(await this.cli(["config", "set-all", "--path", ...passwords, "--stack", stack], project), "config passwords");
        // cert-manager signs the internal certificates: the @pulumi/tls provider is not served here (README).
        requireSuccess(await this.cli(["config", "set", "--path", "internalTls.issuer", "cert-manager", "--stack", stack], project), "config internalTls");
    }

    /** Any other command, in the sandbox's environment. */
    exec(file: string, args: readonly string[], cwd: string): Promise<CommandResult> {
        return run(file, args, cwd, this.env);
    }

    dispose(): void {
        fs.rmSync(this.root, { recursive: true, force: true });
    }
}

