// Resizing the PVCs of a StatefulSet without replacing it. volumeClaimTemplates are immutable: a
// changed size made Pulumi replace the StatefulSet (dev: every PVC deleted with it; prod: refused by
// `protect`). Instead the template keeps the size it was created with (ignoreChanges on that one
// field) and every existing claim is expanded in place by a PersistentVolumeClaimPatch; Kubernetes
// and the CSI driver grow the volume, nothing is deleted. A shrink, or a growth the StorageClass
// cannot do, is refused at preview with its reason.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { parseMemoryQuantity } from "./units";

/**
 * The stack key beside `storage` and `storageClass`: whether the StorageClass has
 * `allowVolumeExpansion: true` (most cloud CSI classes; kind's and minikube's hostpath classes do
 * not). With false, a larger `storage` is refused at preview instead of failing at `up`.
 */
export const storageClassAllowsExpansion = z.boolean().default(true);

/** The template field the StatefulSet ignores, so that a size change never replaces it. */
export const CLAIM_TEMPLATE_SIZE_PATH = "spec.volumeClaimTemplates[0].spec.resources.requests.storage";

export interface ResizeInput {
    statefulSet: string;
    /** The volumeClaimTemplate's name: claims are `<claimTemplate>-<statefulSet>-<ordinal>`. */
    claimTemplate: string;
    /** Pods of the StatefulSet (after this change). */
    replicas: number;
    /** The size asked for (the stack's `storage`). */
    requested: string;
    /** The size the StatefulSet's template holds now; undefined before it exists. */
    current: string | undefined;
    expansionAllowed: boolean;
}

/** What to do: expand `claims` to `size`, or refuse with the reason. */
export type ResizePlan = { kind: "apply"; claims: string[]; size: string } | { kind: "refuse"; reason: string };

/** The StatefulSet's claims: `<claimTemplate>-<statefulSet>-<ordinal>`. */
function claimNames(input: Pick<ResizeInput, "statefulSet" | "claimTemplate" | "replicas">): string[] {
    return Array.from({ length: input.replicas }, (_, ordinal) => `${input.claimTemplate}-${input.statefulSet}-${ordinal}`);
}

/** The claims to patch to the requested size, or why the change cannot be made. */
export function resizePlan(input: ResizeInput): ResizePlan {
    const claims = claimNames(input);
    if (input.current !== undefined) {
        const requested = parseMemoryQuantity(input.requested);
        const current = parseMemoryQuantity(input.current);
        if (requested < current) {
            return {
                kind: "refuse",
                reason: `${input.statefulSet}: storage ${input.requested} is smaller than the ${input.current} its volumes were created with; a PVC cannot shrink. Keep the size, or move the data to a new cluster (README, Storage resize).`,
            };
        }
        if (requested > current && !input.expansionAllowed) {
            return {
                kind: "refuse",
                reason: `${input.statefulSet}: storage ${input.current} -> ${input.requested} needs a StorageClass with allowVolumeExpansion, and storageClassAllowsExpansion is false. Keep the size, or use an expandable class (README, Storage resize).`,
            };
        }
    }
    return { kind: "apply", claims, size: input.requested };
}

/** Where the claims live and what they are sized from. */
export interface ClaimExpansionArgs {
    namespace: pulumi.Input<string>;
    statefulSetName: string;
    claimTemplate: string;
    replicas: number;
    requested: string;
    expansionAllowed: boolean;
    /** The StatefulSet's template size as deployed (its output: the template ignores later changes). */
    currentTemplateSize: pulumi.Output<string | undefined>;
}

/**
 * One PersistentVolumeClaimPatch per pod holding the requested size (a no-op while it is the size
 * the claim has), created after the StatefulSet (its claims exist once its pods do). The plan is
 * checked against the template's size as deployed: a refusal fails the program with its reason, at
 * preview already. The patches take the size from the config, not from that check, so that they
 * show no change (and no unknown value) in a preview where the StatefulSet itself is updated.
 */
export function expandClaims(name: string, args: ClaimExpansionArgs, opts: pulumi.CustomResourceOptions): k8s.core.v1.PersistentVolumeClaimPatch[] {
    const base = { statefulSet: args.statefulSetName, claimTemplate: args.claimTemplate, replicas: args.replicas, requested: args.requested, expansionAllowed: args.expansionAllowed };
    args.currentTemplateSize.apply((current) => {
        const plan = resizePlan({ ...base, current });
        if (plan.kind === "refuse") throw new pulumi.RunError(plan.reason);
        return plan;
    });
    return claimNames(base).map(
        (claim) =>
            new k8s.core.v1.PersistentVolumeClaimPatch(
                `${name}-${claim}`,
                {
                    // The StatefulSet controller created the claim and owns the field: take it over.
                    metadata: { name: claim, namespace: args.namespace, annotations: { "pulumi.com/patchForce": "true" } },
                    spec: { resources: { requests: { storage: args.requested } } },
                },
                // Deleting a patch must not try to give up the claim's size (a required field the
                // provider refuses to release); the claim itself goes with its StatefulSet's retention policy.
                { ...opts, retainOnDelete: true },
            ),
    );
}
