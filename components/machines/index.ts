// The machines of the configured provider, in the one shape every provider yields (Machines).
import * as pulumi from "@pulumi/pulumi";
import { awsAccess, AwsNodes } from "../aws";
import type { SwarmConfig } from "../config";
import { HostNodes } from "../hosts";
import { LocalNodes } from "../local";
import { MachineAccess, Machines, ownNetworkAccess } from "../types";

export interface ProvisionArgs {
    /** Authorised on every machine that is made (local containers, EC2 instances). */
    publicKey: pulumi.Input<string>;
    /** The base image of images built here, once it is present (see BaseImage). */
    baseImage: pulumi.Input<string>;
    /** The stacks' images, as paths under `imageRepository` (AWS makes a repository for each). */
    images: string[];
    imageRepository: string;
    /** The gateway's port, opened to the ingress CIDRs (AWS). */
    gatewayPort: number;
}

/** How commands reach the provider's machines. */
export const machineAccess = (provider: SwarmConfig["provider"]): MachineAccess => (provider === "aws" ? awsAccess : ownNetworkAccess);

export function provisionMachines(settings: SwarmConfig, args: ProvisionArgs): Machines {
    switch (settings.provider) {
        case "local":
            return new LocalNodes("local", { managers: settings.managers, workers: settings.workers, settings: settings.local, publicKey: args.publicKey, baseImage: args.baseImage });
        case "hosts":
            return new HostNodes("hosts", { hosts: settings.hosts, defaultUser: settings.ssh.user, registry: settings.registry });
        case "aws":
            return new AwsNodes("aws", {
                managers: settings.managers,
                workers: settings.workers,
                settings: settings.aws,
                publicKey: args.publicKey,
                gatewayPort: args.gatewayPort,
                images: args.images,
                imageRepository: args.imageRepository,
            });
    }
}
