import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Command } from "../command";
import { hashInputs } from "../images";
import { addressAt } from "../network";
import { ImageRegistry, labels, Machines, Role, SwarmNode } from "../types";
import type { LocalSettings } from "./config";
import * as scripts from "./scripts";

export const nodeImageDir = path.join(__dirname, "node-image");
export const registryImageDir = path.join(__dirname, "registry-image");

export interface LocalNodePlan {
    name: string;
    role: Role;
    index: number;
    address: string;
    sshPort: number;
}

/** Lower-case letters, digits and '-': usable in container, network and host names. */
export function dockerSafe(value: string): string {
    return value.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "") || "x";
}

/**
 * Names, static addresses and SSH ports of the nodes: manager i at .10+i and port base+i,
 * worker i at .20+i and port base+10+i, so adding or removing a worker changes no other node.
 */
export function planLocalNodes(prefix: string, managers: number, workers: number, settings: Pick<LocalSettings, "subnet" | "sshPortBase">): LocalNodePlan[] {
    const at = (offset: number) => hostAddress(settings.subnet, offset);
    const plan: LocalNodePlan[] = [];
    for (let i = 0; i < managers; i++) {
        plan.push({ name: `${prefix}-manager-${i}`, role: "manager", index: i, address: at(10 + i), sshPort: settings.sshPortBase + i });
    }
    for (let i = 0; i < workers; i++) {
        plan.push({ name: `${prefix}-worker-${i}`, role: "worker", index: i, address: at(20 + i), sshPort: settings.sshPortBase + 10 + i });
    }
    return plan;
}

/** The address `offset` places after the subnet's network address. */
export const hostAddress = (subnet: string, offset: number): string => addressAt(subnet, offset);

/** Gateway of the nodes' network: the subnet's first host address. */
export const gatewayOf = (subnet: string): string => hostAddress(subnet, 1);

/** A tag from the content of a build context, so a change of it means a new image. */
export function contentTag(repository: string, dir: string): string {
    return `${repository}:${hashInputs(dir, fs.readdirSync(dir))}`;
}

export const nodeImageTag = (): string => contentTag("swarm-node", nodeImageDir);

/** Address of the registry container: the subnet's second host address. */
export const registryAddressOf = (subnet: string): string => hostAddress(subnet, 2);

export interface LocalNodesArgs {
    managers: number;
    workers: number;
    /** The nodes' network on this machine's Docker engine, and how the nodes run. */
    settings: LocalSettings;
    /** Authorised for root on every node. */
    publicKey: pulumi.Input<string>;
    /** The base image of the node and registry images, once it is present (see BaseImage). */
    baseImage: pulumi.Input<string>;
}

/**
 * Containers acting as machines on the local Docker engine, each with its own dockerd and sshd,
 * on one bridge network with static addresses; SSH published on 127.0.0.1.
 */
export class LocalNodes extends pulumi.ComponentResource implements Machines {
    public readonly managers: pulumi.Output<SwarmNode>[];
    public readonly workers: pulumi.Output<SwarmNode>[];
    /** The registry the nodes pull stack images from; ready once this output resolves. */
    public readonly registry: pulumi.Output<ImageRegistry>;

    constructor(name: string, args: LocalNodesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:local:LocalNodes", name, {}, opts);
        const project = pulumi.getProject();
        const stack = pulumi.getStack();
        const prefix = dockerSafe(`${project}-${stack}`);
        const owner = { [labels.project]: project, [labels.stack]: stack };
        const gateway = gatewayOf(args.settings.subnet);

        const buildImage = (label: string, tag: string, contextDir: string) =>
            new Command(`${name}-${label}-image`, {
                create: pulumi.output(args.baseImage).apply((baseImage) => scripts.buildImageScript({ tag, contextDir, baseImage })),
                triggers: [tag, args.baseImage],
            }, { parent: this });
        const image = nodeImageTag();
        const build = buildImage("node", image, nodeImageDir);

        const network = new Command(`${name}-network`, {
            create: scripts.createNetworkScript({ name: prefix, subnet: args.settings.subnet, gateway, labels: owner }),
            delete: scripts.removeNetworkScript(prefix),
            read: scripts.readNetworkScript(prefix),
            triggers: [prefix, args.settings.subnet],
        }, { parent: this, deleteBeforeReplace: true });

        const registryAddress = registryAddressOf(args.settings.subnet);
        const registryImage = contentTag("swarm-registry", registryImageDir);
        const registryName = `${prefix}-registry`;
        const registryContainer = new Command(`${name}-registry`, {
            create: scripts.createRegistryScript({
                name: registryName,
                image: registryImage,
                network: prefix,
                address: registryAddress,
                hostPort: args.settings.registryPort,
                labels: owner,
            }),
            delete: scripts.removeContainerScript(registryName),
            read: scripts.readContainerScript(registryName),
            triggers: [registryImage, registryAddress, args.settings.registryPort],
        }, { parent: this, dependsOn: [buildImage("registry", registryImage, registryImageDir), network], deleteBeforeReplace: true });
        this.registry = registryContainer.id.apply((instance) => ({
            push: `127.0.0.1:${args.settings.registryPort}`,
            pull: `${registryAddress}:5000`,
            instance,
            insecure: true,
        }));
        const registries = `${registryAddress}:5000`;
        const nodes = planLocalNodes(prefix, args.managers, args.workers, args.settings).map((plan) => {
            const container = new Command(`${name}-${plan.role}-${plan.index}`, {
                create: scripts.createNodeScript({
                    name: plan.name,
                    image,
                    network: prefix,
                    address: plan.address,
                    sshPort: plan.sshPort,
                    labels: { ...owner, [labels.role]: plan.role },
                    privileged: args.settings.privileged,
                }),
                delete: scripts.removeContainerScript(plan.name),
                // Refresh sees a machine stopped (up starts it) or gone (up makes it anew).
                read: scripts.readContainerScript(plan.name),
                environment: { SSH_AUTHORIZED_KEY: args.publicKey, INSECURE_REGISTRIES: registries },
                // A node is made anew (not changed in place) when what it was started with changes.
                triggers: [image, plan.address, plan.sshPort, args.publicKey, registries, args.settings.privileged],
            }, { parent: this, dependsOn: [build, network], deleteBeforeReplace: true });
            const node: pulumi.Output<SwarmNode> = container.id.apply((instance) => ({
                instance,
                name: plan.name,
                host: "127.0.0.1",
                port: plan.sshPort,
                user: "root",
                privateAddress: plan.address,
                role: plan.role,
            }));
            return { plan, node };
        });
        this.managers = nodes.filter((n) => n.plan.role === "manager").map((n) => n.node);
        this.workers = nodes.filter((n) => n.plan.role === "worker").map((n) => n.node);
        this.registerOutputs({ managers: this.managers, workers: this.workers, registry: this.registry });
    }

    /** Nodes are reached at their own address on the nodes' network. */
    edgeAddress(node: SwarmNode): string {
        return node.privateAddress;
    }
}
