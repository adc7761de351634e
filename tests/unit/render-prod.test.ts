// `npm run render -- --stack prod`, checked: the real program under mocks with Pulumi.prod.yaml.
// One stack per file: the Pulumi runtime is process-global.
import { describeStackRender } from "../fixtures/render-suite";

describeStackRender("prod");
