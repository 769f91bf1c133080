import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Command } from "../command";
import { scriptsIn } from "../shell";

const script = scriptsIn(__dirname);

/** The project's own tool that pulls the default base, or makes it offline (run here, not rendered). */
/** The base the project's Dockerfiles name, which scripts/build-base-image.sh can make offline. */
export const defaultBaseImage = "debian:bookworm-slim";

const offlineScript = path.join(__dirname, "..", "..", "scripts", "build-base-image.sh");

/**
 * Makes `tag` present on this machine's engine: the default base (the one the project's
 * Dockerfiles name) is pulled, or made offline with debootstrap where no registry can be reached
 * (scripts/build-base-image.sh, which takes a machine-wide lock); any other base is pulled when
 * missing.
 */
export const prepareBaseImageScript = (tag: string): string =>
    script("prepare-base-image", { TAG: tag, OFFLINE_SCRIPT: tag === defaultBaseImage ? offlineScript : "" });

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
        // Its ID, not its output: the ID is known in a preview of an update (a new script), so the
        // images built on it do not show as replaced there.
        this.tag = prepared.id.apply(() => args.tag);
        this.registerOutputs({ tag: this.tag });
    }
}
