// `npm run render -- --stack dev`, checked: the real program under mocks with Pulumi.dev.yaml.
// One stack per file: the Pulumi runtime is process-global.
import { describeStackRender } from "../fixtures/render-suite";

describeStackRender("dev");
