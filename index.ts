// Wiring only: read the config, provision machines, form the swarm, deploy the stack, export.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { defaultTaxonomyFile, readRawConfig, readTaxonomy, validateConfig } from "./components/config";
import { RegistryImages } from "./components/images";
import { BaseImage } from "./components/images/base";
import { ImageRegistry } from "./components/machines";
import { provisionMachines } from "./components/machines/provision";
import { machineKey } from "./components/ssh";
import { DockerStack } from "./components/stack";
import { SwarmCluster } from "./components/swarm";
import { categorisation, gatewayPort, serviceNames } from "./stacks/categorisation";

const settings = validateConfig(readRawConfig((key) => new pulumi.Config().get(key), new pulumi.Config("aws").get("region")), serviceNames);
const taxonomy = readTaxonomy(settings.taxonomyFile ?? path.join(__dirname, defaultTaxonomyFile), (f) => fs.readFileSync(f, "utf8"));

const key = machineKey("ssh-key", settings.ssh);
const baseImage = new BaseImage("base-image", { tag: settings.local.baseImage }).tag;
const machines = provisionMachines(settings, {
    publicKey: key.publicKey,
    baseImage,
    images: Object.keys(categorisation.images),
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
    }, { dependsOn: [cluster] });
    // The gateway listens on manager 0 (the edge node).
    const edge = pulumi.all([machines.managers[0], stack.services]).apply(([m]) => machines.edgeAddress(m));
    return {
        services: stack.services,
        collectorUrl: pulumi.interpolate`http://${edge}:${gatewayPort}/events`,
        profilesUrl: pulumi.interpolate`http://${edge}:${gatewayPort}/profiles`,
    };
}
if (!machines.registry) {
    pulumi.log.warn("provider \"hosts\" without `registry`: the swarm is formed, the stack is not deployed (set registry.address to a registry your machines can pull from)");
}
const deployed = machines.registry && deployStack(machines.registry);

export const provider = settings.provider;
export const sshUser = cluster.sshUser;
export const sshPrivateKey = key.privateKey;
export const dockerHost = cluster.dockerHost;
export const managers = cluster.managers;
export const workers = cluster.workers;
export const services = deployed?.services;
export const collectorUrl = deployed?.collectorUrl;
export const profilesUrl = deployed?.profilesUrl;
