// The stack's image repositories in ECR, as the registry the images are pushed to and pulled from.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ImageRegistry } from "../types";

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

export interface EcrRegistryArgs {
    /**
     * Where the repositories go in the account: `<scope>/<image>` each, and images are pushed
     * under `<registry host>/<scope>`. The Pulumi stack's name: two stacks in one account and
     * region never share (or clash on) a repository.
     */
    scope: string;
    images: string[];
    tags: pulumi.Input<Record<string, string>>;
    /** Images kept per repository. Default 10. */
    keep?: number;
}

/** A Pulumi stack's name as a repository path segment: lower case, and only the characters ECR takes. */
export const repositoryScope = (stack: string): string => stack.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "") || "stack";

/**
 * One repository per image, `<scope>/<image>` (resources `<name>-<image>`), with tags that never
 * change once pushed and a lifecycle policy keeping the newest `keep`. The registry (its login
 * secret) resolves once they all exist; `host` is the registry's host name, not secret;
 * `repositoryArns` the repositories, for the machines' pull policy.
 */
export function ecrRegistry(name: string, { scope, images, tags, keep = 10 }: EcrRegistryArgs, parent: pulumi.Resource) {
    if (images.length === 0) throw new Error("ecrRegistry: no images to make repositories for");
    const repositories = images.map((image) => {
        const repository = new aws.ecr.Repository(`${name}-${image}`, {
            name: `${scope}/${image}`,
            imageTagMutability: "IMMUTABLE",
            imageScanningConfiguration: { scanOnPush: true },
            forceDelete: true,
            tags,
        }, { parent });
        new aws.ecr.LifecyclePolicy(`${name}-${image}`, { repository: repository.name, policy: lifecyclePolicy(keep) }, { parent });
        return repository;
    });
    const host = pulumi.all(repositories.map((repository) => repository.repositoryUrl)).apply((urls) => urls[0].split("/")[0]);
    const auth = aws.ecr.getAuthorizationTokenOutput({ registryId: repositories[0].registryId }, { parent });
    const registry: pulumi.Output<ImageRegistry> = pulumi.all([host, auth.userName, pulumi.secret(auth.password)]).apply(([registryHost, username, password]) => ({
        push: `${registryHost}/${scope}`,
        pull: `${registryHost}/${scope}`,
        instance: registryHost,
        credentials: { username, password },
        platform: "linux/amd64",
    }));
    return { host, registry, repositoryArns: pulumi.all(repositories.map((repository) => repository.arn)) };
}
