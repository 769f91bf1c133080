// Wiring only: read the config, provision machines, form the swarm, deploy the stack, export.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { defaultTaxonomyFile, localDefaults, readRawConfig, readTaxonomy, validateConfig } from "./components/config";
import { AwsNodes } from "./components/aws";
import { hostsNodes } from "./components/hosts";
import { EcrImages } from "./components/images/ecr";
import { RegistryImages } from "./components/images";
import { BaseImage } from "./components/images/base";
import { LocalNodes } from "./components/local";
import { SshKeyPair } from "./components/ssh";
import { DockerStack } from "./components/stack";
import { SwarmCluster, SwarmNode } from "./components/swarm";
import { categorisation, gatewayPort, serviceNames } from "./stacks/categorisation";

const config = new pulumi.Config();
const settings = validateConfig(readRawConfig((key) => config.get(key), new pulumi.Config("aws").get("region")), serviceNames);
const taxonomy = readTaxonomy(settings.taxonomyFile ?? path.join(__dirname, defaultTaxonomyFile), (f) => fs.readFileSync(f, "utf8"));

// The SSH key the machines trust: from config, or made once and kept (secret) in the state.
const configuredSsh = config.getObject<{ privateKey?: string }>("ssh");
const generated = settings.ssh.hasPrivateKey ? undefined : new SshKeyPair("ssh-key", { comment: `${pulumi.getProject()}-${pulumi.getStack()}` });
const privateKey = generated ? generated.privateKey : pulumi.secret(configuredSsh?.privateKey ?? "");
const publicKey = generated ? generated.publicKey : pulumi.output(settings.ssh.publicKey ?? "");

/** The stack's images, built here and pushed to a registry the machines pull from. */
const registryImages = (registry: pulumi.Input<{ push: string; pull: string; instance: string }>, baseImage: pulumi.Input<string>) =>
    new RegistryImages("images", {
        images: categorisation.images,
        root: __dirname,
        repository: settings.stackName,
        registry,
        baseImage,
    }).refs;

let managerMachines: pulumi.Input<SwarmNode>[];
let workerMachines: pulumi.Input<SwarmNode>[];
let images: pulumi.Output<Record<string, string>> | undefined;
// Cloud VMs boot slowly and install Docker from cloud-init; their swarm traffic crosses a network
// that is not ours alone, so it is encrypted.
const cloud = settings.provider === "aws";
switch (settings.provider) {
    case "local": {
        const nodes = new LocalNodes("local", { managers: settings.managers, workers: settings.workers, settings: settings.local, publicKey });
        managerMachines = nodes.managers;
        workerMachines = nodes.workers;
        images = registryImages(nodes.registry, nodes.baseImage);
        break;
    }
    case "hosts":
        ({ managers: managerMachines, workers: workerMachines } = hostsNodes(settings.hosts, settings.ssh.user));
        if (settings.registry) {
            const { address, pullAddress } = settings.registry;
            images = registryImages({ push: address, pull: pullAddress ?? address, instance: address }, new BaseImage("base-image", { tag: localDefaults.baseImage }).tag);
        } else {
            pulumi.log.warn("provider \"hosts\" without `registry`: the swarm is formed, the stack is not deployed (set registry.address to a registry your machines can pull from)");
        }
        break;
    case "aws": {
        const ecr = new EcrImages("images", { images: categorisation.images, root: __dirname, repository: settings.stackName });
        const nodes = new AwsNodes("aws", {
            managers: settings.managers,
            workers: settings.workers,
            settings: settings.aws!,
            publicKey,
            gatewayPort,
            ecrRegistry: ecr.registry,
        });
        managerMachines = nodes.managers;
        workerMachines = nodes.workers;
        images = ecr.refs;
        break;
    }
}

const cluster = new SwarmCluster("swarm", {
    managers: managerMachines,
    workers: workerMachines,
    privateKey,
    cloudInit: cloud,
    dialAttempts: cloud ? 60 : undefined,
    timeoutSeconds: cloud ? 900 : 300,
});

export const provider = settings.provider;
export const sshUser = cluster.sshUser;
export const sshPrivateKey = pulumi.secret(privateKey);
export const dockerHost = cluster.dockerHost;
export const managers = cluster.managers;
export const workers = cluster.workers;

let services: pulumi.Output<Record<string, { image: string; replicas: number }>> | undefined;
let collectorUrl: pulumi.Output<string> | undefined;
let profilesUrl: pulumi.Output<string> | undefined;
if (images) {
    const stack = new DockerStack("stack", {
        connection: cluster.leaderConnection,
        stackName: settings.stackName,
        definition: categorisation,
        images,
        replicas: settings.replicas,
        taxonomy,
        encryptNetwork: cloud,
    }, { dependsOn: [cluster] });
    services = stack.services;
    // The gateway listens on manager 0 (the edge node); local nodes are reached at their own address.
    const edge = pulumi.all([managerMachines[0], stack.services]).apply(([m]) => (settings.provider === "local" ? m.privateAddress : m.host));
    collectorUrl = pulumi.interpolate`http://${edge}:${gatewayPort}/events`;
    profilesUrl = pulumi.interpolate`http://${edge}:${gatewayPort}/profiles`;
}
export { services, collectorUrl, profilesUrl };
