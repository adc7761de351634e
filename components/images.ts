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
 * The image reference for a container. A prebuilt source is returned as given; a build source
 * becomes a @pulumi/docker Image named `<name>-image`, created with `opts` (which must name the
 * parent component), and pods reference the pushed digest when pushing, so a rebuilt image rolls them.
 */
export function resolveImage(
    name: string,
    source: ImageSource,
    registry: Registry | undefined,
    opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource },
): pulumi.Output<string> {
    if ("prebuilt" in source) return pulumi.output(source.prebuilt);
    if (!registry) throw new pulumi.ResourceError(`${name}: an image with a build context needs a registry`, opts.parent);
    // Pulumi runs a program in its project directory, so contexts are relative to it.
    const context = path.resolve(source.build.context);
    const image = new docker.Image(
        `${name}-image`,
        {
            imageName: builtImageName(registry, source.build.repository, source.build.tag),
            build: {
                context,
                dockerfile: path.join(context, source.build.dockerfile ?? "Dockerfile"),
                platform: "linux/amd64",
            },
            skipPush: !registry.push,
        },
        opts,
    );
    return registry.push ? image.repoDigest : image.imageName;
}
