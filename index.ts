// Wiring only: read the config, provision machines, form the swarm, deploy the stack, export.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ComposeStack, loadComposeStacks, localComposeIo } from "./components/compose";
import { defaultTaxonomyFile, readRawConfig, readTaxonomy, validateConfig } from "./components/config";
import { RegistryImages } from "./components/images";
import { BaseImage } from "./components/images/base";
import { ImageRegistry } from "./components/machines";
import { provisionMachines } from "./components/machines/provision";
import { machineKey } from "./components/ssh";
import { DockerStack } from "./components/stack";
import { SwarmCluster } from "./components/swarm";
import { categorisationStack, gatewayPort, scalableServices } from "./stacks/categorisation";

const rawConfig = readRawConfig((key) => new pulumi.Config().get(key), new pulumi.Config("aws").get("region"), Object.keys(pulumi.runtime.allConfig()), pulumi.getProject());
const settings = validateConfig(rawConfig, scalableServices);
const categorisation = categorisationStack({ managers: settings.managers });
// A provider "hosts" without `registry` has nowhere to push images built for the machines.
const userStacks = loadComposeStacks(settings.stacks, process.cwd(), localComposeIo(), settings.provider !== "hosts" || settings.registry !== undefined);
const taxonomy = readTaxonomy(settings.taxonomyFile ?? path.join(__dirname, defaultTaxonomyFile), (f) => fs.readFileSync(f, "utf8"));

const key = machineKey("ssh-key", settings.ssh);
const baseImage = new BaseImage("base-image", { tag: settings.local.baseImage }).tag;
const machines = provisionMachines(settings, {
    publicKey: key.publicKey,
    baseImage,
    images: [...Object.keys(categorisation.images), ...userStacks.flatMap((s) => Object.keys(s.builds).map((service) => `${s.name}/${service}`))],
    imageRepository: settings.stackName,
    gatewayPort,
});
const cluster = new SwarmCluster("swarm", { managers: machines.managers, workers: machines.workers, privateKey: key.privateKey, ...machines.access });

/** The categorisation stack: its images pushed to the machines' registry, deployed on the swarm. */
function deployStack(registry: pulumi.Output<ImageRegistry>) {
    const images = new RegistryImages("images", { images: categorisation.images, root: __dirname, repository: settings.stackName, registry, baseImage });
    const stack = new DockerStack("stack", {
        connection: cluster.leaderConnection,
        stackName: settings.stackName,
        definition: categorisation,
        images: images.refs,
        replicas: settings.replicas,
        taxonomy,
        encryptNetwork: machines.access.encryptOverlay,
        endpointMode: cluster.endpointMode,
        swarmId: cluster.swarmId,
        edgeNodes: settings.managers,
    }, { dependsOn: [cluster] });
    // A gateway answers on every manager; the provider may put one address in front of them all.
    const edges = pulumi.all([pulumi.all(machines.managers), stack.services]).apply(([nodes]) => nodes.map((n) => machines.edgeAddress(n)));
    // The URLs resolve once the stack is deployed.
    const front = pulumi.all([machines.frontAddress ?? edges.apply((list) => list[0]), stack.services]).apply(([address]) => address);
    return {
        services: stack.services,
        gatewayUrls: edges.apply((list) => list.map((address) => `http://${address}:${gatewayPort}`)),
        collectorUrl: pulumi.interpolate`http://${front}:${gatewayPort}/events`,
        profilesUrl: pulumi.interpolate`http://${front}:${gatewayPort}/profiles`,
    };
}
if (!machines.registry) {
    pulumi.log.warn("provider \"hosts\" without `registry`: the swarm is formed, the categorisation stack is not deployed (set registry.address to a registry your machines can pull from)");
}
const deployed = machines.registry && deployStack(machines.registry);
// Your own stacks, each beside the built-in one: a change to one touches no other.
const ownStacks = userStacks.map((stack) => new ComposeStack(`stack-${stack.name}`, {
    connection: cluster.leaderConnection,
    stack,
    registry: machines.registry,
    repository: settings.stackName,
    baseImage,
    endpointMode: cluster.endpointMode,
    swarmId: cluster.swarmId,
}, { dependsOn: [cluster] }));

export const provider = settings.provider;
export const stackName = settings.stackName;
export const sshUser = cluster.sshUser;
export const sshPrivateKey = key.privateKey;
export const dockerHost = cluster.dockerHost;
export const managers = cluster.managers;
export const workers = cluster.workers;
export const services = deployed?.services;
export const gatewayUrls = deployed?.gatewayUrls;
export const collectorUrl = deployed?.collectorUrl;
export const profilesUrl = deployed?.profilesUrl;
export const machineImages = machines.machineImages;
export const stacks = pulumi.all(ownStacks.map((s) => s.services)).apply((list) => Object.fromEntries(list.map((services, i) => [userStacks[i].name, services])));
