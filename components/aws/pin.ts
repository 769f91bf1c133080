// A value resolved once and kept in the state: later resolutions that differ change nothing.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";

/** The provider behind `PinnedValue`: plain functions, as the dynamic-provider host requires. */
export const pinProvider = {
    async create(inputs: { value: string }) {
        return { id: crypto.randomUUID(), outs: { value: inputs.value } };
    },
    /** Never a change: the first value stays until the resource is replaced on purpose. */
    async diff() {
        return { changes: false };
    },
};

/**
 * The first value of `value`, kept: the newest Ubuntu AMI when the machines were made, so that
 * Canonical publishing a newer one does not rebuild the cluster. `pulumi up --replace` of this
 * resource takes the value of the day.
 */
export class PinnedValue extends pulumi.dynamic.Resource {
    declare public readonly value: pulumi.Output<string>;

    constructor(name: string, args: { value: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
        super(pinProvider, name, { value: args.value }, opts, "aws", "PinnedValue");
    }
}
