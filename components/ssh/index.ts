import * as pulumi from "@pulumi/pulumi";
import { utils } from "ssh2";

/** The provider behind `SshKeyPair`: plain functions, as the dynamic-provider host requires. */
const keyPairProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: { comment: string }) {
        const pair = utils.generateKeyPairSync("ed25519", { comment: inputs.comment });
        return { id: inputs.comment, outs: { comment: inputs.comment, publicKey: pair.public, privateKey: pair.private } };
    },
    async diff(_id: string, olds: { comment: string }, news: { comment: string }) {
        return { changes: olds.comment !== news.comment, replaces: olds.comment !== news.comment ? ["comment"] : [] };
    },
};

/**
 * An ed25519 key pair made once and kept in the state, the private key as a secret. Made here
 * rather than by a TLS provider so it needs no plugin download.
 */
export class SshKeyPair extends pulumi.dynamic.Resource {
    declare public readonly publicKey: pulumi.Output<string>;
    declare public readonly privateKey: pulumi.Output<string>;

    constructor(name: string, args: { comment: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
        super(keyPairProvider, name, { comment: args.comment, publicKey: undefined, privateKey: undefined }, {
            ...opts,
            additionalSecretOutputs: ["privateKey"],
        }, "ssh", "SshKeyPair");
    }
}
