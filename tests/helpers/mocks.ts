// The Pulumi mock runtime of the unit tests. It lives in scripts/mock-runtime.ts because the
// offline renderer (`npm run render`) records resources the same way; this module keeps the
// import path the tests have always used.
export { find, installMocks, isWireSecret, mockPassword, ofType, settled, valueOf } from "../../scripts/mock-runtime";
export type { RecordedResource } from "../../scripts/mock-runtime";
