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

/**
 * What a machine is made with and keeps (its image, type and user data): each is pinned when the
 * machine is made, so a new value in config or a project upgrade changes no running machine (a new
 * instance type would stop and start them all at once, a new image or user data make them all
 * anew, each losing what it held). `npm run roll` replaces a machine's pins, one machine at a time:
 * that machine alone is made anew with the values of the day. `preview` and `up` say which
 * machines keep another value than new ones get (scripts/roll.ts reads it there).
 */
export function pinned(parent: pulumi.Resource | undefined, machine: string, what: string, current: pulumi.Input<string>): pulumi.Output<string> {
    const pin = new PinnedValue(`${machine}-${what}`, { value: current }, { parent });
    pulumi.all([pin.value, current]).apply(([kept, now]) => {
        if (kept !== now) pulumi.log.info(keepsMessage(machine, what, kept, now), pin);
    });
    return pin.value;
}

/** What preview says of a machine that keeps another value than new machines get. */
export const keepsMessage = (machine: string, what: string, kept: string, now: string): string =>
    what === "user-data"
        ? `${machine} keeps the user data it was made with; machines made from now on get the new one (npm run roll moves it)`
        : `${machine} keeps ${what} ${kept}; machines made from now on get ${now} (npm run roll moves it)`;
