import * as pulumi from "@pulumi/pulumi";
import { AwsNodes } from "../aws";
import { SwarmConfig } from "../config";
import { HostNodes } from "../hosts";
import { LocalNodes } from "../local";
import { Machines } from "./index";

export interface ProvisionArgs {
    /** Authorised on every machine that is made (local containers, EC2 instances). */
    publicKey: pulumi.Input<string>;
    /** The base image of images built here, once it is present (see BaseImage). */
    baseImage: pulumi.Input<string>;
    /** The images the stack needs a repository for (AWS), under `imageRepository/`. */
    images: string[];
    imageRepository: string;
    /** The gateway's port, opened to the ingress CIDRs (AWS). */
    gatewayPort: number;
}

/** The machines of the configured provider, in the one shape every provider yields. */
export function provisionMachines(settings: SwarmConfig, args: ProvisionArgs): Machines {
    switch (settings.provider) {
        case "local":
            return new LocalNodes("local", { managers: settings.managers, workers: settings.workers, network: settings.local, publicKey: args.publicKey, baseImage: args.baseImage });
        case "hosts":
            return new HostNodes("hosts", { hosts: settings.hosts, defaultUser: settings.ssh.user, registry: settings.registry });
        case "aws":
            if (!settings.aws) throw new Error("provider aws: the aws settings are missing"); // validation requires them
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
