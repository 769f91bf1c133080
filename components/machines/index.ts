// The one shape every machine provider yields (local containers, AWS instances, listed hosts):
// the machines, the registry they pull the stack's images from, how to reach them, and where the
// gateway answers. The program wires a swarm and a stack onto it without knowing the provider.
import * as pulumi from "@pulumi/pulumi";
import { SwarmNode } from "../swarm";

/** A registry for the stack's images, as this machine pushes to it and the machines pull from it. */
export interface ImageRegistry {
    /** host[:port] this machine pushes to. */
    push: string;
    /** host[:port] the machines pull from. */
    pull: string;
    /** Changes when the registry is made anew (and so is empty): every image is pushed again. */
    instance: string;
    /** Plain HTTP (a registry on the machines' own network). */
    insecure?: boolean;
    /** Login for pushing (the password is secret and rotates: it never makes an image rebuild). */
    credentials?: { username: string; password: string };
    /** The machines' platform, when it may differ from this one's (linux/amd64). */
    platform?: string;
}

/** How commands reach the machines. */
export interface MachineAccess {
    /** SSH connection attempts per command (booting VMs refuse SSH for a while). */
    dialAttempts?: number;
    /** Bound for each wait on a machine: Docker up, node Ready, tasks moved. */
    timeoutSeconds: number;
    /** Wait for cloud-init before anything else (VMs that install Docker from it). */
    cloudInit: boolean;
    /** Swarm traffic crosses a network that is not ours alone: the overlay network is encrypted. */
    encryptOverlay: boolean;
}

export interface Machines {
    readonly managers: pulumi.Input<SwarmNode>[];
    readonly workers: pulumi.Input<SwarmNode>[];
    /** Where the stack's images go; absent when the provider has none (the stack is not deployed). */
    readonly registry?: pulumi.Output<ImageRegistry>;
    readonly access: MachineAccess;
    /** The address an edge machine's gateway answers at, from the machine running Pulumi. */
    edgeAddress(node: SwarmNode): string;
    /** One address in front of every edge machine (a load balancer), when the provider makes one. */
    readonly frontAddress?: pulumi.Output<string>;
    /** Machine name -> the image it was made from, where the provider pins one per machine (AWS). */
    readonly machineImages?: pulumi.Output<Record<string, string>>;
}
