import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ImageDefinition } from "../../stacks/types";
import { Command } from "../command";
import { renderScript } from "../shell";

/** Hash of the named files and folders (recursively) of `root`: the image's content version. */
export function hashInputs(root: string, inputs: string[]): string {
    const hash = crypto.createHash("sha256");
    const visit = (relative: string) => {
        const full = path.join(root, relative);
        if (fs.statSync(full).isDirectory()) {
            for (const entry of fs.readdirSync(full).sort()) visit(path.join(relative, entry));
        } else {
            hash.update(relative).update("\0").update(fs.readFileSync(full)).update("\0");
        }
    };
    for (const input of [...inputs].sort()) visit(input);
    return hash.digest("hex").slice(0, 12);
}

const scriptsDir = path.join(__dirname, "scripts");

export interface ImageBuildSpec {
    /** Reference pushed from the machine running Pulumi. */
    pushRef: string;
    /** Reference the nodes pull (the same registry, as they reach it). */
    pullRef: string;
    contextDir: string;
    dockerfile: string;
    /** Present on this machine's engine (see BaseImage). */
    baseImage: string;
    prepare?: string;
}

/** Builds and pushes the image unless the registry has it already; prints the pull reference. */
export function buildAndPushScript(spec: ImageBuildSpec): string {
    const [registry, ...rest] = spec.pushRef.split("/");
    const [repository, tag] = rest.join("/").split(":");
    return renderScript(path.join(scriptsDir, "build-and-push.sh"), {
        MANIFEST_URL: `http://${registry}/v2/${repository}/manifests/${tag}`,
        PUSH_REF: spec.pushRef,
        PULL_REF: spec.pullRef,
        CONTEXT_DIR: spec.contextDir,
        DOCKERFILE: path.join(spec.contextDir, spec.dockerfile),
        BASE_IMAGE: spec.baseImage,
        PREPARE: spec.prepare ?? "",
    });
}

/** Runs `prepare` (an image's command line that makes its build context ready) in `contextDir`. */
export const prepareScript = (contextDir: string, prepare: string): string =>
    renderScript(path.join(scriptsDir, "prepare.sh"), { CONTEXT_DIR: contextDir, PREPARE: prepare });

export interface RegistryImagesArgs {
    images: Record<string, ImageDefinition>;
    /** Directory the image contexts are relative to. */
    root: string;
    /** Repository path prefix, e.g. `categorisation`. */
    repository: string;
    /** Where to push and where the nodes pull; `instance` changes when the registry is new (empty). */
    registry: pulumi.Input<{ push: string; pull: string; instance: string }>;
    /** The base image, as a BaseImage's output: no build starts before it is there. */
    baseImage: pulumi.Input<string>;
}

/**
 * The stack's images, built on the machine running Pulumi and pushed to a registry the nodes
 * pull from. An image is built only when the content of its inputs changed (its tag is a hash
 * of them).
 */
export class RegistryImages extends pulumi.ComponentResource {
    /** Image key -> reference the nodes pull. */
    public readonly refs: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: RegistryImagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:images:RegistryImages", name, {}, opts);
        // One build at a time: they share build contexts and the machine's CPUs.
        let previous: Command | undefined;
        const refs = Object.entries(args.images).map(([key, image]) => {
            const contextDir = path.join(args.root, image.context);
            const tag = hashInputs(contextDir, image.inputs);
            const built = new Command(`${name}-${key}`, {
                create: pulumi.all([args.registry, args.baseImage]).apply(([registry, baseImage]) =>
                    buildAndPushScript({
                        pushRef: `${registry.push}/${args.repository}/${key}:${tag}`,
                        pullRef: `${registry.pull}/${args.repository}/${key}:${tag}`,
                        contextDir,
                        dockerfile: image.dockerfile,
                        baseImage,
                        prepare: image.prepare,
                    }),
                ),
                triggers: [tag, pulumi.output(args.registry).apply((r) => r.instance)],
                timeoutSeconds: 1800,
            }, { parent: this, dependsOn: previous ? [previous] : [] });
            previous = built;
            return built.stdout.apply((ref) => [key, ref] as [string, string]);
        });
        this.refs = pulumi.all(refs).apply((pairs) => Object.fromEntries(pairs));
        this.registerOutputs({ refs: this.refs });
    }
}
