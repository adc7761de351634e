// Lint with the import boundaries of DESIGN.md section 3 (`npm run lint`, run by .ci/run):
// - a component never reads stack config and never reaches into another component's files; shared
//   building blocks live in components/*.ts;
// - the stack (index.ts, stack-args.ts) and the scripts use the package's public API
//   (components/index.ts), not a component's internals;
// - no `yaml` package inside components: what they render is written by components/yaml.ts.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const STACK_CONFIG = {
    group: ["**/config", "**/stack-args", "**/scripts/**"],
    message: "Components take typed args; only the stack (index.ts via stack-args.ts) reads config.",
};
const OTHER_COMPONENT = {
    regex: "^\\.\\./[^/]+/",
    message: "Another component's internals: use what it publishes (outputs, components/index.ts) or a shared module in components/.",
};
const COMPONENT_INTERNALS = {
    regex: "^(\\./|\\.\\./)components/[^/]+/",
    message: "Use the public API (components/index.ts) instead of a component's internals.",
};

export default tseslint.config(
    { ignores: ["node_modules/**", "dist/**", "rendered/**", "tools/*/bin/**", "coverage/**"] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        files: ["**/*.ts"],
        rules: {
            // `_`-prefixed names are deliberately unused (destructuring a key away).
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
        },
    },
    {
        files: ["components/**/*.ts"],
        rules: {
            "no-restricted-imports": [
                "error",
                {
                    paths: [{ name: "yaml", message: "Components render YAML with components/yaml.ts (no runtime dependency)." }],
                    patterns: [STACK_CONFIG, OTHER_COMPONENT],
                },
            ],
        },
    },
    {
        files: ["index.ts", "stack-args.ts", "scripts/**/*.ts"],
        rules: { "no-restricted-imports": ["error", { patterns: [COMPONENT_INTERNALS] }] },
    },
    {
        files: ["*.js", "**/*.cjs"],
        languageOptions: { sourceType: "commonjs", globals: { module: "writable", require: "readonly", __dirname: "readonly" } },
    },
);
