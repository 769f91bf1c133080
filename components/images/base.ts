import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Command } from "../command";
import { localDefaults } from "../config";
import { shellQuote } from "../swarm/scripts";

const offlineScript = path.join(__dirname, "..", "..", "scripts", "build-base-image.sh");

/**
 * Makes `tag` present on this machine's engine: the default base (the one the project's
 * Dockerfiles name) is pulled, or made offline with
 * debootstrap where no registry can be reached (scripts/build-base-image.sh, which takes a
 * machine-wide lock); any other base is pulled when missing.
 */
export function prepareBaseImageScript(tag: string): string {
    const quoted = shellQuote(tag);
    if (tag === localDefaults.baseImage) return `set -eu\nbash ${shellQuote(offlineScript)} ${quoted} >&2\necho ${quoted}`;
    return `set -eu\ndocker image inspect ${quoted} >/dev/null 2>&1 || docker pull ${quoted} >&2\necho ${quoted}`;
}

/**
 * The base image, made once before any image that builds on it: every build takes `tag` (an
 * output that resolves once the image is there), so no two builds ever prepare it at once.
 */
export class BaseImage extends pulumi.ComponentResource {
    public readonly tag: pulumi.Output<string>;

    constructor(name: string, args: { tag: string }, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:images:BaseImage", name, {}, opts);
        const prepared = new Command(name, {
            create: prepareBaseImageScript(args.tag),
            triggers: [args.tag],
            timeoutSeconds: 1800,
        }, { parent: this });
        this.tag = prepared.stdout.apply(() => args.tag);
        this.registerOutputs({ tag: this.tag });
    }
}
