// Before the tests: remove what an interrupted earlier run left behind (containers, networks and
// volumes of test stacks whose process is gone), so that its subnets and ports are free again.
import { removeLabelled, staleTestStacks } from "./helpers/stack";

for (const stack of staleTestStacks()) {
    console.log(`removing what an interrupted test run left: ${stack}`);
    removeLabelled(stack);
}
