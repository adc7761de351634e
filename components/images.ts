// Images the stack builds itself (from a Dockerfile in the repo) or takes prebuilt; one place for
// both PostgresCluster and ServiceFleet.
import * as path from "path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ImageSource, Registry } from "./schema";

/** The reference a built image gets: `<server>/<repository>:<tag>`. Pure. */
export function builtImageName(registry: Registry, repository: string, tag: string): string {
    return `${registry.server.replace(/\/+$/, "")}/${repository}:${tag}`;
}

/**
 * Docker's name (Go's GOARCH) of each Node.js architecture a Kubernetes node commonly runs. Others
 * are not guessed: the stack then asks for `registry.platform`.
 */
const DOCKER_ARCHITECTURES: Readonly<Record<string, string>> = { x64: "amd64", arm64: "arm64" };

/**
 * The platform of the machine running Pulumi as `docker build --platform` names it, from a
 * Node.js `process.arch` value: `linux/amd64` for `x64`, `linux/arm64` for `arm64`, undefined for
 * any other. Always `linux/`: the images run on Kubernetes nodes, and Docker Desktop builds Linux
 * images on macOS and Windows too. Pure.
 */
export function hostPlatform(nodeArch: string): string | undefined {
    const architecture = DOCKER_ARCHITECTURES[nodeArch];
    return architecture === undefined ? undefined : `linux/${architecture}`;
}

/** What a build source says about its files (the `build` branch of an ImageSource). */
export interface BuildFiles {
    /** Build context, relative to the project directory (or absolute). */
    context: string;
    /** Dockerfile relative to the context; default `Dockerfile`. */
    dockerfile?: string;
}

/**
 * The `context` and `dockerfile` the docker provider gets: both relative to `projectDir`, with `/`
 * separators, the Dockerfile joined onto the context because the provider resolves it against its
 * working directory, not the context (`docker build -f` semantics). The provider runs in the
 * Pulumi project directory, as the program does, so relative paths build the same files; and they
 * are the same strings in every checkout, where absolute ones differed and made the provider's
 * diff of its inputs report a change (a rebuild, a new digest, a rolled leader) from another
 * clone. Pure.
 */
export function buildPaths(files: BuildFiles, projectDir: string): { context: string; dockerfile: string } {
    const relative = path.relative(projectDir, path.resolve(projectDir, files.context));
    const context = relative === "" ? "." : relative.split(path.sep).join("/");
    return { context, dockerfile: path.posix.join(context, files.dockerfile ?? "Dockerfile") };
}

/**
 * The image reference for a container. A prebuilt source is returned as given; a build source
 * becomes a @pulumi/docker Image named `<name>-image`, created with `opts` (which must name the
 * parent component), built for `registry.platform` or this machine's platform, and pods reference
 * the pushed digest when pushing, so a rebuilt image rolls them.
 */
export function resolveImage(
    name: string,
    source: ImageSource,
    registry: Registry | undefined,
    opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource },
): pulumi.Output<string> {
    if ("prebuilt" in source) return pulumi.output(source.prebuilt);
    if (!registry) throw new pulumi.ResourceError(`${name}: an image with a build context needs a registry`, opts.parent);
    const platform = registry.platform ?? hostPlatform(process.arch);
    if (platform === undefined) {
        throw new pulumi.ResourceError(`${name}: no Docker platform is known for this machine's architecture '${process.arch}'; set registry.platform (e.g. linux/amd64)`, opts.parent);
    }
    // Pulumi runs the program and its providers in the project directory: paths relative to it.
    const files = buildPaths(source.build, process.cwd());
    const image = new docker.Image(
        `${name}-image`,
        {
            imageName: builtImageName(registry, source.build.repository, source.build.tag),
            build: { context: files.context, dockerfile: files.dockerfile, platform },
            skipPush: !registry.push,
        },
        opts,
    );
    return registry.push ? image.repoDigest : image.imageName;
}
