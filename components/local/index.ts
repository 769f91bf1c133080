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
        const scope = localScope(name, args, this);

        const nodeImage = nodeImageTag();
        const nodeImageBuilt = buildImage(scope, { label: "node", tag: nodeImage, contextDir: nodeImageDir });
        const network = nodesNetwork(scope);
        const registry = registryContainer(scope, { after: [network] });
        const nodes = planLocalNodes(scope.prefix, args.managers, args.workers, args.settings).map((plan) =>
            nodeContainer(scope, { plan, image: nodeImage, publicKey: args.publicKey, registries: registry.pullAddress, after: [nodeImageBuilt, network] }));

        this.registry = registry.registry;
        this.managers = nodes.filter((node) => node.plan.role === "manager").map((node) => node.node);
        this.workers = nodes.filter((node) => node.plan.role === "worker").map((node) => node.node);
        this.registerOutputs({ managers: this.managers, workers: this.workers, registry: this.registry });
    }

    /** Nodes are reached at their own address on the nodes' network. */
    edgeAddress(node: SwarmNode): string {
        return node.privateAddress;
    }
}

/** What every step shares. */
interface LocalScope {
    /** The component's name: its resources are `<name>-...`. */
    name: string;
    parent: pulumi.Resource;
    settings: LocalSettings;
    /** The base image of the images built here, once it is present. */
    baseImage: pulumi.Input<string>;
    /** Of the network's and the containers' names: the project and stack, Docker-safe. */
    prefix: string;
    /** The labels of everything made on the engine: the project and stack it belongs to. */
    owner: Record<string, string>;
}

function localScope(name: string, args: LocalNodesArgs, parent: pulumi.Resource): LocalScope {
    const project = pulumi.getProject();
    const stack = pulumi.getStack();
    return {
        name,
        parent,
        settings: args.settings,
        baseImage: args.baseImage,
        prefix: dockerSafe(`${project}-${stack}`),
        owner: { [labels.project]: project, [labels.stack]: stack },
    };
}

/** Builds an image from a context of this module on the base image, unless the engine has its tag. */
function buildImage(scope: LocalScope, { label, tag, contextDir }: { label: string; tag: string; contextDir: string }): Command {
    return new Command(`${scope.name}-${label}-image`, {
        create: pulumi.output(scope.baseImage).apply((baseImage) => scripts.buildImageScript({ tag, contextDir, baseImage })),
        triggers: [tag, scope.baseImage],
    }, { parent: scope.parent });
}

/** The nodes' bridge network. */
function nodesNetwork({ name, parent, settings, prefix, owner }: LocalScope): Command {
    return new Command(`${name}-network`, {
        create: scripts.createNetworkScript({ name: prefix, subnet: settings.subnet, gateway: gatewayOf(settings.subnet), labels: owner }),
        delete: scripts.removeNetworkScript(prefix),
        read: scripts.readNetworkScript(prefix),
        triggers: [prefix, settings.subnet],
    }, { parent, deleteBeforeReplace: true });
}

/**
 * The registry container the nodes pull the stacks' images from: on the nodes' network, and
 * published on 127.0.0.1 for this machine to push to.
 */
function registryContainer(scope: LocalScope, { after }: { after: pulumi.Resource[] }): { registry: pulumi.Output<ImageRegistry>; pullAddress: string } {
    const { name, parent, settings, prefix, owner } = scope;
    const address = registryAddressOf(settings.subnet);
    const image = contentTag("swarm-registry", registryImageDir);
    const containerName = `${prefix}-registry`;
    const imageBuilt = buildImage(scope, { label: "registry", tag: image, contextDir: registryImageDir });
    const container = new Command(`${name}-registry`, {
        create: scripts.createRegistryScript({
            name: containerName,
            image,
            network: prefix,
            address,
            hostPort: settings.registryPort,
            labels: owner,
        }),
        delete: scripts.removeContainerScript(containerName),
        read: scripts.readContainerScript(containerName),
        triggers: [image, address, settings.registryPort],
    }, { parent, dependsOn: [imageBuilt, ...after], deleteBeforeReplace: true });
    const pullAddress = `${address}:5000`;
    return {
        // A registry made anew (a new container ID) is empty: every image is pushed again.
        registry: container.id.apply((containerId) => ({
            push: `127.0.0.1:${settings.registryPort}`,
            pull: pullAddress,
            instance: containerId,
            insecure: true,
        })),
        pullAddress,
    };
}

interface NodeContainerArgs {
    plan: LocalNodePlan;
    /** The node image's tag. */
    image: string;
    /** Authorised for root on the node. */
    publicKey: pulumi.Input<string>;
    /** The plain-HTTP registries the node's engine pulls from. */
    registries: string;
    after: pulumi.Resource[];
}

/** One node: a container with its own dockerd and sshd. Its container ID is the machine's ID. */
function nodeContainer({ name, parent, settings, prefix, owner }: LocalScope, { plan, image, publicKey, registries, after }: NodeContainerArgs) {
    const container = new Command(`${name}-${plan.role}-${plan.index}`, {
        create: scripts.createNodeScript({
            name: plan.name,
            image,
            network: prefix,
            address: plan.address,
            sshPort: plan.sshPort,
            labels: { ...owner, [labels.role]: plan.role },
            privileged: settings.privileged,
        }),
        delete: scripts.removeContainerScript(plan.name),
        // Refresh sees a machine stopped (up starts it) or gone (up makes it anew).
        read: scripts.readContainerScript(plan.name),
        environment: { SSH_AUTHORIZED_KEY: publicKey, INSECURE_REGISTRIES: registries },
        // A node is made anew (not changed in place) when what it was started with changes.
        triggers: [image, plan.address, plan.sshPort, publicKey, registries, settings.privileged],
    }, { parent, dependsOn: after, deleteBeforeReplace: true });
    const node: pulumi.Output<SwarmNode> = container.id.apply((containerId) => ({
        instance: containerId,
        name: plan.name,
        host: "127.0.0.1",
        port: plan.sshPort,
        user: "root",
        privateAddress: plan.address,
        role: plan.role,
    }));
    return { plan, node };
}
