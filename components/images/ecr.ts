import * as path from "path";
import * as aws from "@pulumi/aws";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ImageDefinition } from "../../stacks/types";
import { Command } from "../command";
import { hashInputs, prepareScript } from "./index";

/** ECR lifecycle policy: keep the newest images, expire the rest. */
export function lifecyclePolicy(keep: number): string {
    return JSON.stringify({
        rules: [{
            rulePriority: 1,
            description: `keep the newest ${keep} images`,
            selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: keep },
            action: { type: "expire" },
        }],
    });
}

export interface EcrImagesArgs {
    images: Record<string, ImageDefinition>;
    root: string;
    /** Repository path prefix, e.g. `categorisation`. */
    repository: string;
    baseImage?: string;
    /** Images kept per repository. Default 10. */
    keep?: number;
}

/**
 * The stack's images in ECR: a repository per image (with a lifecycle policy), built on the
 * machine running Pulumi and pushed with the docker provider when the content of its inputs
 * changed (the tag is a hash of them).
 */
export class EcrImages extends pulumi.ComponentResource {
    /** Image key -> reference the nodes pull. */
    public readonly refs: pulumi.Output<Record<string, string>>;
    /** Host of the ECR registry (`<account>.dkr.ecr.<region>.amazonaws.com`). */
    public readonly registry: pulumi.Output<string>;

    constructor(name: string, args: EcrImagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:images:EcrImages", name, {}, opts);
        const parent = { parent: this };
        const entries = Object.entries(args.images).map(([key, image]) => {
            const repo = new aws.ecr.Repository(`${name}-${key}`, {
                name: `${args.repository}/${key}`,
                imageTagMutability: "IMMUTABLE",
                imageScanningConfiguration: { scanOnPush: true },
                forceDelete: true,
                tags: { "swarm:project": pulumi.getProject(), "swarm:stack": pulumi.getStack() },
            }, parent);
            new aws.ecr.LifecyclePolicy(`${name}-${key}`, { repository: repo.name, policy: lifecyclePolicy(args.keep ?? 10) }, parent);

            const contextDir = path.join(args.root, image.context);
            const tag = hashInputs(contextDir, image.inputs);
            const prepared = image.prepare
                ? [new Command(`${name}-${key}-prepare`, {
                    create: prepareScript(contextDir, image.prepare),
                    // The machines are amd64 (the images are built for linux/amd64).
                    environment: { NODE_ARCH: "x64" },
                    triggers: [tag],
                }, parent)]
                : [];
            const auth = aws.ecr.getAuthorizationTokenOutput({ registryId: repo.registryId }, parent);
            const built = new docker.Image(`${name}-${key}`, {
                build: {
                    context: contextDir,
                    dockerfile: path.join(contextDir, image.dockerfile),
                    platform: "linux/amd64",
                    ...(args.baseImage ? { args: { BASE_IMAGE: args.baseImage } } : {}),
                },
                imageName: pulumi.interpolate`${repo.repositoryUrl}:${tag}`,
                registry: { server: repo.repositoryUrl, username: auth.userName, password: pulumi.secret(auth.password) },
            }, { parent: this, dependsOn: prepared });
            return { key, repo, ref: built.imageName };
        });
        this.refs = pulumi.all(entries.map((e) => e.ref.apply((ref) => [e.key, ref] as [string, string]))).apply((pairs) => Object.fromEntries(pairs));
        this.registry = entries[0].repo.repositoryUrl.apply((url) => url.split("/")[0]);
        this.registerOutputs({ refs: this.refs, registry: this.registry });
    }
}
