import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Command } from "../command";
import type { ImageRegistry } from "../types";
import { scriptsIn } from "../shell";

/** Hash of the named files and folders (recursively) of `root`, and of `values`: the image's content version. */
export function hashInputs(root: string, inputs: string[], values: Record<string, string> = {}): string {
    const hash = crypto.createHash("sha256");
    for (const [name, value] of Object.entries(values).sort(([a], [b]) => a.localeCompare(b))) hash.update(`${name}=${value}`).update("\0");
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

const script = scriptsIn(__dirname);

/**
 * An image's tag: a hash of its inputs and of everything else that makes it (its base image, build
 * args and target), so that a change of any of them pushes a new image (registry tags, ECR's
 * included, are never overwritten). Build args may be secret: only this hash of them is shown.
 */
export function imageTag(image: ImageDefinition, baseImage: string): string {
    return hashInputs(image.context, image.inputs, { BASE_IMAGE: baseImage, ...image.buildArgs, ...(image.target ? { "--target": image.target } : {}) });
}

/** An image the program builds here and ships to the machines. */
export interface ImageDefinition {
    /** Build context (absolute). */
    context: string;
    /** Dockerfile, relative to the context. */
    dockerfile: string;
    /** Files and folders of the context (relative to it) whose content makes the image. */
    inputs: string[];
    /** Run in the context before the build (for example, compile). */
    prepare?: string;
    /** `--build-arg`s besides BASE_IMAGE. */
    buildArgs?: Record<string, string>;
    /** The Dockerfile stage to build. */
    target?: string;
}

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
    /** A plain-HTTP registry. */
    insecure?: boolean;
    /** The machines' platform, like linux/amd64. */
    platform?: string;
    /** Registry login user; the password comes on stdin. */
    loginUser?: string;
    buildArgs?: Record<string, string>;
    target?: string;
}

/** Builds and pushes the image unless the registry has it already; prints the pull reference. */
export function buildAndPushScript(spec: ImageBuildSpec): string {
    return script("build-and-push", {
        PUSH_REF: spec.pushRef,
        PULL_REF: spec.pullRef,
        CONTEXT_DIR: spec.contextDir,
        DOCKERFILE: path.join(spec.contextDir, spec.dockerfile),
        BASE_IMAGE: spec.baseImage,
        PREPARE: spec.prepare ?? "",
        INSECURE: spec.insecure ?? false,
        PLATFORM: spec.platform ?? "",
        LOGIN_USER: spec.loginUser ?? "",
    }, [
        ...Object.entries(spec.buildArgs ?? {}).flatMap(([name, value]) => ["--build-arg", `${name}=${value}`]),
        ...(spec.target ? ["--target", spec.target] : []),
    ]);
}

export interface RegistryImagesArgs {
    images: Record<string, ImageDefinition>;
    /** Repository path prefix, e.g. `categorisation`. */
    repository: string;
    /** Where to push and where the machines pull. */
    registry: pulumi.Input<ImageRegistry>;
    /** The base image, as a BaseImage's output: no build starts before it is there. */
    baseImage: pulumi.Input<string>;
}

/**
 * The stack's images, built on the machine running Pulumi and pushed to the registry the machines
 * pull from (the local provider's registry container, a registry named in config, or ECR). An
 * image is built only when the content of its inputs changed (its tag is a hash of them) or the
 * registry is new. The images build side by side: each has a context of its own.
 */
export class RegistryImages extends pulumi.ComponentResource {
    /** Image key -> reference the nodes pull. */
    public readonly refs: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: RegistryImagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:images:RegistryImages", name, {}, opts);
        const registry = pulumi.output(args.registry);
        // Everything but the password, which stays secret and only ever travels on stdin.
        const endpoint = pulumi.unsecret(registry.apply(({ credentials, ...rest }) => ({ ...rest, loginUser: credentials?.username })));
        const password = registry.apply(({ credentials }) => credentials?.password);
        const refs = Object.entries(args.images).map(([key, image]) => {
            const contextDir = image.context;
            const tag = pulumi.output(args.baseImage).apply((baseImage) => imageTag(image, baseImage));
            const create = pulumi.all([endpoint, args.baseImage, tag]).apply(([target, baseImage, tag]) =>
                buildAndPushScript({
                    pushRef: `${target.push}/${args.repository}/${key}:${tag}`,
                    pullRef: `${target.pull}/${args.repository}/${key}:${tag}`,
                    contextDir,
                    dockerfile: image.dockerfile,
                    baseImage,
                    prepare: image.prepare,
                    insecure: target.insecure,
                    platform: target.platform,
                    loginUser: target.loginUser,
                    buildArgs: image.buildArgs,
                    target: image.target,
                }),
            );
            const built = new Command(`${name}-${key}`, {
                // Build args may hold values interpolated from this machine's environment: the
                // script that carries them is secret (its change is still seen: the provider hashes it).
                create: Object.keys(image.buildArgs ?? {}).length > 0 ? pulumi.secret(create) : create,
                credentials: password,
                triggers: [tag, endpoint.instance],
                timeoutSeconds: 1800,
            }, { parent: this });
            return built.stdout.apply((ref) => [key, ref] as [string, string]);
        });
        this.refs = pulumi.all(refs).apply((pairs) => Object.fromEntries(pairs));
        this.registerOutputs({ refs: this.refs });
    }
}
