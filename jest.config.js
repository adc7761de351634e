// Five projects, each run by its own npm script: `unit` (Pulumi mocks, no servers) on every `npm test`;
// `package`, `engine` and `cluster` as described below; `live` starts real servers from Debian's
// packages and runs via `npm run test:live`.
// @swc/jest strips types without checking them; `npm run typecheck` checks them once.
const transform = { "^.+\\.ts$": ["@swc/jest", { jsc: { target: "es2022" } }] };

module.exports = {
  // Jest's default on a 2-core machine is one worker; the unit files are independent processes' worth
  // of work (each evaluates a stack under mocks), so use every core.
  maxWorkers: "100%",
  projects: [
    {
      displayName: "unit",
      testEnvironment: "node",
      transform,
      testMatch: ["<rootDir>/tests/unit/**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/tests/unit/setup.ts"],
    },
    {
      // The package as another stack installs it (npm pack, npm install into a temp project, tsc,
      // two of each component under mocks); `npm run test:package`. Apart from `unit`: its npm
      // install alone takes longer than the whole unit suite should.
      displayName: "package",
      testEnvironment: "node",
      transform,
      testMatch: ["<rootDir>/tests/package/**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/tests/unit/setup.ts"],
    },
    {
      // The real Pulumi engine (tools/engine/build.sh); run via `npm run test:engine`.
      displayName: "engine",
      testEnvironment: "node",
      transform,
      testMatch: ["<rootDir>/tests/engine/**/*.test.ts"],
    },
    {
      // The real engine against a real kube-apiserver (tools/cluster/build.sh); `npm run test:cluster`.
      displayName: "cluster",
      testEnvironment: "node",
      transform,
      testMatch: ["<rootDir>/tests/cluster/**/*.test.ts"],
    },
    {
      displayName: "live",
      testEnvironment: "node",
      transform,
      testMatch: ["<rootDir>/tests/live/**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/tests/live/setup.ts"],
    },
  ],
};
