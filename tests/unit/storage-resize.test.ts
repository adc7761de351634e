import { resizePlan } from "../../components/storage";

const base = { statefulSet: "redis", claimTemplate: "data", replicas: 3, expansionAllowed: true };

describe("resizePlan", () => {
    test("first deploy (no StatefulSet yet): every claim at the requested size", () => {
        expect(resizePlan({ ...base, requested: "50Gi", current: undefined })).toEqual({ kind: "apply", claims: ["data-redis-0", "data-redis-1", "data-redis-2"], size: "50Gi" });
    });

    test("growth: every claim patched to the new size, in other units too", () => {
        expect(resizePlan({ ...base, requested: "60Gi", current: "50Gi" })).toEqual({ kind: "apply", claims: ["data-redis-0", "data-redis-1", "data-redis-2"], size: "60Gi" });
        expect(resizePlan({ ...base, requested: "1Ti", current: "500Gi" })).toMatchObject({ kind: "apply", size: "1Ti" });
    });

    test("unchanged size: a no-op patch, allowed even where the class cannot expand", () => {
        expect(resizePlan({ ...base, requested: "50Gi", current: "50Gi", expansionAllowed: false })).toMatchObject({ kind: "apply", size: "50Gi" });
    });

    test("scale-out with a resize: the new ordinals' claims are patched too", () => {
        const plan = resizePlan({ ...base, replicas: 8, requested: "60Gi", current: "50Gi" });
        expect(plan.kind === "apply" && plan.claims).toHaveLength(8);
    });

    test("a shrink is refused, naming both sizes", () => {
        const plan = resizePlan({ ...base, requested: "40Gi", current: "50Gi" });
        expect(plan).toMatchObject({ kind: "refuse" });
        expect(plan.kind === "refuse" && plan.reason).toMatch(/40Gi is smaller than the 50Gi.*cannot shrink/);
    });

    test("growth on a class without expansion is refused, naming the setting", () => {
        const plan = resizePlan({ ...base, requested: "60Gi", current: "50Gi", expansionAllowed: false });
        expect(plan.kind === "refuse" && plan.reason).toMatch(/50Gi -> 60Gi.*allowVolumeExpansion.*storageClassAllowsExpansion is false/);
    });
});
