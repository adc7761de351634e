// `tsx tools/engine/pulumi.ts <program dir> <pulumi args...>`: runs the real Pulumi CLI
// (tools/engine/bin/pulumi) on a TypeScript program, with the program served by the Node.js SDK's own
// language runtime instead of the `pulumi-language-nodejs` plugin.
//
// Why: the Go module proxy reachable here serves no version of the plugin's module
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3), so it cannot be built. The CLI
// takes an already running language runtime with `--client=<address>`; @pulumi/pulumi's Automation
// API runs inline programs exactly this way (automation/stack.js: LanguageServer + `--client`).
// Everything else is the real thing: the CLI reads Pulumi.yaml and the stack file, validates the
// config, runs the engine, loads the providers, diffs and checkpoints.
//
// The SDK and gRPC are loaded from the program's own node_modules, so the language runtime and the
// program share one @pulumi/pulumi (as they do under the real plugin). The program is loaded with
// tsx, like `npm run render`; it is type-checked by `npm run typecheck`, not here.
import { spawn } from "child_process";
import { createRequire } from "module";
import * as path from "path";
import { register } from "tsx/cjs/api";
import { runMain } from "../../scripts/cli";

interface GrpcServer {
    addService(service: unknown, implementation: unknown): void;
    bindAsync(address: string, credentials: unknown, callback: (error: Error | null, port: number) => void): void;
    forceShutdown(): void;
}
interface GrpcModule {
    Server: new (options?: Record<string, unknown>) => GrpcServer;
    ServerCredentials: { createInsecure(): unknown };
}
interface LanguageServerInstance {
    onPulumiExit(hasError: boolean): void;
}

async function main(argv: string[]): Promise<number> {
    const [programArg, ...pulumiArgs] = argv;
    if (!programArg || pulumiArgs.length === 0) {
        process.stderr.write("usage: tsx tools/engine/pulumi.ts <program dir> <pulumi args...>\n");
        return 2;
    }
    const programDir = path.resolve(programArg);
    const fromProgram = createRequire(path.join(programDir, "package.json"));
    const grpc = fromProgram("@grpc/grpc-js") as GrpcModule;
    const { LanguageRuntimeService } = fromProgram("@pulumi/pulumi/proto/language_grpc_pb") as { LanguageRuntimeService: unknown };
    const { LanguageServer } = fromProgram("@pulumi/pulumi/automation/server") as {
        LanguageServer: new (program: () => unknown) => LanguageServerInstance;
    };
    const { grpcChannelOptions } = fromProgram("@pulumi/pulumi/runtime/settings") as { grpcChannelOptions: Record<string, unknown> };

    register();
    // The program's exports become the stack outputs, as under the plugin (run.js requires the entry).
    const languageServer = new LanguageServer(() => fromProgram(programDir));
    const server = new grpc.Server(grpcChannelOptions);
    server.addService(LanguageRuntimeService, languageServer);
    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );

    const cli = process.env.PULUMI_CLI ?? path.join(__dirname, "bin", "pulumi");
    const child = spawn(cli, [...pulumiArgs, `--client=127.0.0.1:${port}`], { cwd: programDir, stdio: "inherit" });
    const code = await new Promise<number>((resolve) => {
        child.on("error", (error) => {
            process.stderr.write(`cannot run ${cli}: ${error.message} (build it with tools/engine/build.sh)\n`);
            resolve(127);
        });
        child.on("exit", (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
    });
    languageServer.onPulumiExit(code !== 0);
    server.forceShutdown();
    return code;
}

runMain(main, { withStack: true });
