// Validation of rendered objects against the Kubernetes OpenAPI schemas, through kubernetes-models
// (one generated model class per apiVersion/kind, each with the schema's validator). The model is
// found from the object's own apiVersion and kind, so objects of components added later are checked
// without a change here. Objects of a kind with no model (custom resources) are reported as such:
// nothing passes without having been checked.
import type { JsonObject } from "./manifests";

/** A kubernetes-models class: constructed from the object, `validate()` throws on a schema violation. */
interface ModelClass {
    new (data: JsonObject): { validate(): void };
    apiVersion: string;
    kind: string;
}

/** The outcome for one object. */
export type SchemaVerdict =
    | { status: "valid" }
    | { status: "invalid"; errors: string[] }
    | { status: "no-model"; reason: string };

/** The ajv error shape kubernetes-models' ValidationError carries. */
interface AjvError {
    instancePath: string;
    message?: string;
    params?: Record<string, unknown>;
}

// apiVersion is `v1` or `<group>/<version>`; group and kind are DNS-ish names. Anything else cannot
// name a model and must not become part of a module path.
const API_VERSION = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?v[0-9]+((alpha|beta)[0-9]+)?$/;
const KIND = /^[A-Z][A-Za-z0-9]*$/;

const models = new Map<string, ModelClass | string>();

/** The kubernetes-models package of each API group of a custom resource the stack declares (same layout). */
const CRD_MODELS: Readonly<Record<string, string>> = { "cert-manager.io": "@kubernetes-models/cert-manager" };

/** The model class for an apiVersion/kind, or why there is none. Cached: each module loads once. */
export function modelFor(apiVersion: string, kind: string): ModelClass | string {
    const key = `${apiVersion} ${kind}`;
    const cached = models.get(key);
    if (cached !== undefined) return cached;
    let found: ModelClass | string;
    if (!API_VERSION.test(apiVersion) || !KIND.test(kind)) {
        found = `not a Kubernetes apiVersion/kind: ${JSON.stringify(apiVersion)}/${JSON.stringify(kind)}`;
    } else {
        try {
            // kubernetes-models lays out one module per kind: kubernetes-models/<apiVersion>/<Kind>; the
            // custom resources the stack declares come from their project's package (CRD_MODELS).
            const packageName = CRD_MODELS[apiVersion.split("/")[0]] ?? "kubernetes-models";
            // eslint-disable-next-line @typescript-eslint/no-require-imports -- the module is chosen by the object
            const module = require(`${packageName}/${apiVersion}/${kind}`) as Record<string, ModelClass | undefined>;
            const model = module[kind];
            found =
                model && model.apiVersion === apiVersion && model.kind === kind
                    ? model
                    : `${packageName}/${apiVersion}/${kind} does not export the ${kind} model`;
        } catch (error) {
            const code = (error as { code?: string }).code;
            if (code !== "MODULE_NOT_FOUND" && code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw error;
            found = `no schema for ${apiVersion} ${kind} in kubernetes-models (a custom resource, or a kind this Kubernetes version lacks)`;
        }
    }
    models.set(key, found);
    return found;
}

function describeError(error: AjvError): string {
    const at = error.instancePath || "/";
    const extra = error.params && "additionalProperty" in error.params ? ` (${String(error.params.additionalProperty)})` : "";
    return `${at} ${error.message ?? "is invalid"}${extra}`;
}

/** Validates one object against the schema of its apiVersion/kind. */
export function validateObject(object: JsonObject): SchemaVerdict {
    const model = modelFor(String(object.apiVersion), String(object.kind));
    if (typeof model === "string") return { status: "no-model", reason: model };
    try {
        new model(object).validate();
        return { status: "valid" };
    } catch (error) {
        const errors = (error as { errors?: AjvError[] }).errors;
        if (!Array.isArray(errors)) throw error;
        return { status: "invalid", errors: errors.map(describeError) };
    }
}

/** The schema check of a whole render: what failed, and what could not be checked. */
export interface SchemaReport {
    checked: number;
    /** `<Kind> <namespace>/<name>: <path> <message>`, one line per violation. */
    invalid: string[];
    /** `<Kind> <namespace>/<name>: <reason>` for objects with no schema to check against. */
    unchecked: string[];
}

/** Validates every object; the label names each object in the report. */
export function validateAll(objects: readonly { label: string; object: JsonObject }[]): SchemaReport {
    const report: SchemaReport = { checked: 0, invalid: [], unchecked: [] };
    for (const { label, object } of objects) {
        const verdict = validateObject(object);
        if (verdict.status === "no-model") {
            report.unchecked.push(`${label}: ${verdict.reason}`);
            continue;
        }
        report.checked += 1;
        if (verdict.status === "invalid") report.invalid.push(...verdict.errors.map((error) => `${label}: ${error}`));
    }
    return report;
}
