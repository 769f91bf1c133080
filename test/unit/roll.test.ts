// npm run roll's plan: which machines, in what order, by which pins (the real engine runs it on a
// stand-in program in test/e2e/smoke.test.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { machinePins, readPreview, rollOrder } from "../../scripts/roll";

test("roll order: workers first, then managers, each from the highest index down, manager 0 last", () => {
    assert.deepEqual(
        rollOrder(["aws-manager-0", "aws-worker-0", "aws-manager-2", "aws-worker-10", "aws-worker-2", "aws-manager-1"]),
        ["aws-worker-10", "aws-worker-2", "aws-worker-0", "aws-manager-2", "aws-manager-1", "aws-manager-0"],
    );
    assert.throws(() => rollOrder(["aws-ami"]), /aws-ami: not a machine name/);
});

test("roll pins: a machine's own pins only (not the stack's AMI lookup, not another machine whose name it starts)", () => {
    const listing = [
        "urn:pulumi:prod::swarm::swarm:aws:AwsNodes$pulumi-nodejs:dynamic/aws:PinnedValue::aws-ami",
        "urn:pulumi:prod::swarm::swarm:aws:AwsNodes$pulumi-nodejs:dynamic/aws:PinnedValue::aws-worker-1-ami",
        "urn:pulumi:prod::swarm::swarm:aws:AwsNodes$pulumi-nodejs:dynamic/aws:PinnedValue::aws-worker-1-type",
        "urn:pulumi:prod::swarm::swarm:aws:AwsNodes$pulumi-nodejs:dynamic/aws:PinnedValue::aws-worker-1-user-data",
        "urn:pulumi:prod::swarm::swarm:aws:AwsNodes$pulumi-nodejs:dynamic/aws:PinnedValue::aws-worker-11-ami",
        "urn:pulumi:prod::swarm::swarm:aws:AwsNodes$aws:ec2/instance:Instance::aws-worker-1",
    ].join("\n    ");
    const pins = machinePins(listing, ["aws-worker-1"]);
    assert.deepEqual(pins.get("aws-worker-1")!.map((urn) => urn.split("::").pop()), ["aws-worker-1-ami", "aws-worker-1-type", "aws-worker-1-user-data"]);
});

test("roll reads preview: the machines that keep old values, and any change pending", () => {
    const preview = JSON.stringify({
        steps: [{ op: "same", urn: "urn:pulumi:prod::swarm::x::a" }, { op: "update", urn: "urn:pulumi:prod::swarm::x::stack-deploy" }],
        diagnostics: [
            { severity: "info", message: "aws-worker-0 keeps type t3.medium; machines made from now on get t3.large (npm run roll moves it)" },
            { severity: "info", message: "aws-worker-0 keeps the user data it was made with; machines made from now on get the new one (npm run roll moves it)" },
            { severity: "warning", message: "something else" },
        ],
    });
    assert.deepEqual(readPreview(preview), { outdated: ["aws-worker-0"], pending: ["update stack-deploy"] });
});
