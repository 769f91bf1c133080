import * as pulumi from "@pulumi/pulumi";
import { utils } from "ssh2";
import { hostKeyFingerprint } from "../command/provider";

/**
 * A new ed25519 key pair in OpenSSH format. ssh2's generator drops a leading zero byte of the
 * key (12 of 3,000 pairs when measured), which makes a key nothing can parse, so such a pair is made anew.
 */
export function generateKeyPair(comment: string): { public: string; private: string } {
    for (let attempt = 0; attempt < 100; attempt++) {
        const pair = utils.generateKeyPairSync("ed25519", { comment });
        if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair;
    }
    throw new Error("could not make an ed25519 key pair that parses");
}

/** The provider behind `SshKeyPair`: plain functions, as the dynamic-provider host requires. */
const keyPairProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: { comment: string }) {
        const pair = generateKeyPair(inputs.comment);
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

/** The key the machines trust: the one in config, or one made once and kept (secret) in the state. */
export interface MachineKey {
    publicKey: pulumi.Output<string>;
    /** Secret. */
    privateKey: pulumi.Output<string>;
}

export function machineKey(name: string, configured: { publicKey?: string; privateKey?: string }): MachineKey {
    if (configured.privateKey && configured.publicKey) {
        return { publicKey: pulumi.output(configured.publicKey), privateKey: pulumi.secret(configured.privateKey) };
    }
    const generated = new SshKeyPair(name, { comment: `${pulumi.getProject()}-${pulumi.getStack()}` });
    return { publicKey: generated.publicKey, privateKey: pulumi.secret(generated.privateKey) };
}

/**
 * The lines of `ssh-keyscan` output (`<host> <type> <base64 key>`) whose key is the one pinned
 * (`<type> SHA256:<hash>`), for a known_hosts file. Fails when none is: the machine answering is
 * not the one the stack made, or its keys were made anew behind the stack's back.
 */
export function pinnedKnownHosts(scanned: string, pinned: string, machine: string): string[] {
    const lines = scanned.split("\n").filter((line) => line.trim() && !line.startsWith("#"));
    const matching = lines.filter((line) => {
        const blob = line.trim().split(/\s+/)[2];
        return blob !== undefined && hostKeyFingerprint(Buffer.from(blob, "base64")) === pinned;
    });
    if (matching.length === 0) {
        const presented = lines.map((line) => hostKeyFingerprint(Buffer.from(line.trim().split(/\s+/)[2] ?? "", "base64"))).join(", ") || "none";
        throw new Error(`the SSH host key of ${machine} is not the one the stack pinned (${pinned}); it presented ${presented}. Not trusted.`);
    }
    return matching;
}
