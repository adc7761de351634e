// The shared Kubernetes helpers that decide object names and await times: pure, tested directly.
import { containerResources, contentName, JOB_AWAIT_MARGIN_SECONDS, JOB_POD_START_SECONDS, jobDeadlines, podSecurityLabels, POD_SECURITY_VERSION } from "../../components/k8s";
import { DEFAULT_EPHEMERAL_STORAGE, resourcesWithDefault } from "../../components/schema";
import { configErrorOf, configWith } from "../helpers/config-errors";

describe("contentName: a ConfigMap's name carries its data", () => {
    const data = { "nginx.conf": "worker_processes 4;\n", "exporter.yaml": "port: 4040\n" };

    test("the same data gives the same name, whatever the key order", () => {
        const name = contentName("lb-config", data);
        expect(name).toMatch(/^lb-config-[0-9a-f]{10}$/);
        expect(contentName("lb-config", { "exporter.yaml": data["exporter.yaml"], "nginx.conf": data["nginx.conf"] })).toBe(name);
    });

    test("any change of a value, a key or the base gives another name", () => {
        const name = contentName("lb-config", data);
        const variants = [
            contentName("lb-config", { ...data, "nginx.conf": "worker_processes 2;\n" }),
            contentName("lb-config", { ...data, extra: "" }),
            contentName("lb-config", { "nginx.conf ": data["nginx.conf"], "exporter.yaml": data["exporter.yaml"] }),
            contentName("other", data),
        ];
        expect(new Set([name, ...variants]).size).toBe(variants.length + 1);
    });

    test("no separator inside a key or value makes two different maps look alike", () => {
        expect(contentName("c", { a: "b\u0000c\u0000d" })).not.toBe(contentName("c", { a: "b", c: "d" }));
        expect(contentName("c", { a: 'b","c' })).not.toBe(contentName("c", { a: "b", c: "" }));
    });
});

describe("jobDeadlines: how long a Job may run and how long pulumi up waits for it", () => {
    test("every attempt gets its pod start and the script's whole deadline, plus Kubernetes' retry delays (10, 20, 40 s)", () => {
        const { activeDeadlineSeconds, awaitSeconds } = jobDeadlines({ scriptDeadlineSeconds: 600, backoffLimit: 3 });
        expect(activeDeadlineSeconds).toBe(4 * (JOB_POD_START_SECONDS + 600) + 10 + 20 + 40);
        expect(awaitSeconds).toBe(activeDeadlineSeconds + JOB_AWAIT_MARGIN_SECONDS);
        // Longer than the provider's default 10 minutes, which cut off the fourth attempt.
        expect(awaitSeconds).toBeGreaterThan(600);
    });

    test("the retry delay doubles up to Kubernetes' 6 minute cap", () => {
        const delays = (backoffLimit: number) => jobDeadlines({ scriptDeadlineSeconds: 0, backoffLimit, podStartSeconds: 0 }).activeDeadlineSeconds;
        expect(delays(0)).toBe(0);
        expect(delays(6)).toBe(10 + 20 + 40 + 80 + 160 + 320);
        expect(delays(8)).toBe(10 + 20 + 40 + 80 + 160 + 320 + 360 + 360);
    });

    test("a script that gives up sooner gives a shorter wait; a bad timing is refused", () => {
        expect(jobDeadlines({ scriptDeadlineSeconds: 60, backoffLimit: 1, podStartSeconds: 30 })).toEqual({ activeDeadlineSeconds: 2 * 90 + 10, awaitSeconds: 190 + JOB_AWAIT_MARGIN_SECONDS });
        expect(() => jobDeadlines({ scriptDeadlineSeconds: -1, backoffLimit: 3 })).toThrow("scriptDeadlineSeconds must be a non-negative integer (got -1)");
        expect(() => jobDeadlines({ scriptDeadlineSeconds: 600, backoffLimit: 1.5 })).toThrow("backoffLimit");
    });
});

describe("containerResources: every container gets an ephemeral-storage request and limit", () => {
    const cpuMemory = { requests: { cpu: "100m", memory: "64Mi" }, limits: { cpu: "1", memory: "128Mi" } };

    test("the default where the resources do not set it", () => {
        expect(DEFAULT_EPHEMERAL_STORAGE).toEqual({ request: "64Mi", limit: "2Gi" });
        expect(containerResources(cpuMemory)).toEqual({
            requests: { cpu: "100m", memory: "64Mi", "ephemeral-storage": "64Mi" },
            limits: { cpu: "1", memory: "128Mi", "ephemeral-storage": "2Gi" },
        });
    });

    test("each side overridden on its own", () => {
        const limitOnly = containerResources({ ...cpuMemory, limits: { ...cpuMemory.limits, ephemeralStorage: "8Gi" } });
        expect(limitOnly.requests).toMatchObject({ "ephemeral-storage": "64Mi" });
        expect(limitOnly.limits).toMatchObject({ "ephemeral-storage": "8Gi" });
        const both = containerResources({ requests: { ...cpuMemory.requests, ephemeralStorage: "1Gi" }, limits: { ...cpuMemory.limits, ephemeralStorage: "4Gi" } });
        expect([both.requests, both.limits]).toMatchObject([{ "ephemeral-storage": "1Gi" }, { "ephemeral-storage": "4Gi" }]);
    });

    test("the schema takes it as a quantity, and a limit below its request (given or default) is refused", () => {
        const schema = resourcesWithDefault(cpuMemory.requests, cpuMemory.limits);
        expect(schema.parse({ limits: { ephemeralStorage: "4Gi" } }).limits).toEqual({ cpu: "1", memory: "128Mi", ephemeralStorage: "4Gi" });
        expect(schema.safeParse({ limits: { ephemeralStorage: "32Mi" } }).error?.issues.map((issue) => [issue.path.join("."), issue.message])).toEqual([
            ["limits.ephemeralStorage", "must be at least requests.ephemeralStorage (64Mi)"],
        ]);
        expect(schema.safeParse({ requests: { ephemeralStorage: "3Gi" } }).success).toBe(false);
        expect(configErrorOf(configWith("dev", (raw) => (raw.redis.resources.limits.ephemeralStorage = "lots")), "dev")).toBe(
            'dev: redis.resources.limits.ephemeralStorage must be a memory quantity such as 512Mi or 8Gi (got "lots")',
        );
    });
});

describe("podSecurityLabels: Pod Security Admission on the namespace", () => {
    test("enforces restricted at a pinned version; audits and warns at the newest", () => {
        expect(POD_SECURITY_VERSION).toMatch(/^v1\.\d+$/);
        expect(podSecurityLabels()).toEqual({
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": POD_SECURITY_VERSION,
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/audit-version": "latest",
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/warn-version": "latest",
        });
    });
});
