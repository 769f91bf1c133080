// Wiring only: read the config, provision machines, form the swarm, deploy the stacks, export.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { defaultTaxonomyFile, readRawConfig, readTaxonomy, validateConfig } from "./components/config";
import { GatewayAccess } from "./components/gateway";
import { BaseImage } from "./components/images/base";
import { machineAccess, provisionMachines } from "./components/machines";
import { PipelineCredentials } from "./components/pipeline";
import { machineKey } from "./components/ssh";
import { ComposeStack, imagePaths, loadComposeStacks, localComposeIo, ownStackSecrets } from "./components/stack";
import { SwarmCluster } from "./components/swarm";
import { machineId } from "./components/types";
import { categorisationStack, gatewayPort, pipelineSecrets } from "./stacks/categorisation";
import { prometheusPath } from "./stacks/monitoring";

const settings = validateConfig(readRawConfig((key) => new pulumi.Config().get(key), new pulumi.Config("aws").get("region"), Object.keys(pulumi.runtime.allConfig()), pulumi.getProject()));
// A provider "hosts" without `registry` has nowhere to push images built for the machines.
const hasRegistry = settings.provider !== "hosts" || settings.registry !== undefined;
const access = machineAccess(settings.provider);
const pipeline = categorisationStack({
    ...settings,
    taxonomy: readTaxonomy(settings.taxonomyFile ?? path.join(__dirname, defaultTaxonomyFile), (f) => fs.readFileSync(f, "utf8")),
    encryptNetwork: access.encryptOverlay,
    projectDir: __dirname,
});
const ownStacks = loadComposeStacks(settings.stacks, process.cwd(), localComposeIo(), hasRegistry);
const toDeploy = [...(hasRegistry ? [pipeline] : []), ...ownStacks];

const key = machineKey("ssh-key", settings.ssh);
const baseImage = new BaseImage("base-image", { tag: settings.baseImage }).tag;
const machines = provisionMachines(settings, { publicKey: key.publicKey, baseImage, images: imagePaths(settings.stackName, toDeploy), imageRepository: settings.stackName, gatewayPort });
const cluster = new SwarmCluster("swarm", {
    managers: machines.managers,
    workers: machines.workers,
    privateKey: key.privateKey,
    ...access,
    ...(settings.provider === "aws" ? { addressPool: settings.aws.overlayPool } : {}),
    machineSetup: machines.setupScript,
});
if (!hasRegistry) {
    pulumi.log.warn("provider \"hosts\" without `registry`: the swarm is formed, the categorisation stack is not deployed (set registry.address to a registry your machines can pull from)");
}

// The gateway answers on every manager; the provider may put one address in front of them all.
// Its certificate names every address it is reached by.
const edges = pulumi.all(machines.managers).apply((nodes) => nodes.map((node) => machines.edgeAddress(node)));
const front = machines.frontAddress ?? edges.apply((list) => list[0]);
const gatewayNames = pulumi.all([edges, front]).apply(([list, address]) => [...new Set([...list, address])]);
const gatewayAccess = hasRegistry ? new GatewayAccess("gateway", { names: gatewayNames, tls: settings.tls, auth: settings.auth }) : undefined;
const credentials = hasRegistry ? new PipelineCredentials("pipeline", { store: settings.store }) : undefined;

// Each stack on its own: a change to one touches no other. The built-in one was a component of
// another type, with its images beside it, in stacks made before it was a Compose stack.
const deployed = new Map(toDeploy.map((stack) => {
    const builtIn = stack === pipeline;
    return [stack, new ComposeStack(builtIn ? "stack" : `stack-${stack.name}`, {
        connection: cluster.leaderConnection,
        stack,
        registry: machines.registry,
        repository: settings.stackName,
        baseImage,
        endpointMode: cluster.endpointMode,
        swarmId: cluster.swarmId,
        edgeNodes: settings.managers,
        secrets: builtIn && gatewayAccess && credentials ? {
            [pipelineSecrets.gatewayTls]: gatewayAccess.gatewayPem,
            [pipelineSecrets.authTokens]: gatewayAccess.tokenHashes,
            [pipelineSecrets.storeKey]: credentials.storeKey,
            [pipelineSecrets.storePassword]: credentials.redisPassword,
            [pipelineSecrets.streamPassword]: credentials.natsPassword,
        } : ownStackSecrets(stack),
        imagesAliases: builtIn ? [{ name: "images", parent: pulumi.rootStackResource }] : [],
        // The pipeline's stateless roles go to every machine, one that joins or is made anew too
        // (machine IDs: known in a preview unless a machine is made anew).
        ...(builtIn ? { machines: pulumi.all([...machines.managers, ...machines.workers]).apply((nodes) => nodes.map(machineId)) } : {}),
    }, { dependsOn: [cluster], aliases: builtIn ? [{ type: "swarm:stack:DockerStack" }] : [] })];
}));
const pipelineStack = deployed.get(pipeline);

// The URLs resolve once the stack is deployed.
const urlOf = (address: pulumi.Input<string>) => pulumi.all([address, pipelineStack?.services]).apply(([host]) => `https://${host}:${gatewayPort}`);

export const provider = settings.provider;
export const stackName = settings.stackName;
export const sshUser = cluster.sshUser;
export const sshPrivateKey = key.privateKey;
export const dockerHost = cluster.dockerHost;
export const managers = cluster.managers;
export const workers = cluster.workers;
export const services = pipelineStack?.services;
export const gatewayUrls = pipelineStack && edges.apply((list) => pulumi.all(list.map(urlOf)));
export const collectorUrl = pipelineStack && pulumi.interpolate`${urlOf(front)}/events`;
export const profilesUrl = pipelineStack && pulumi.interpolate`${urlOf(front)}/profiles`;
// The stack's Prometheus HTTP API (`monitoring: true`), behind the admin token.
export const prometheusUrl = pipelineStack && settings.monitoring ? pulumi.interpolate`${urlOf(front)}${prometheusPath}` : undefined;
export const caCertificate = gatewayAccess?.caCertificate;
export const ingestToken = gatewayAccess?.ingestToken;
export const adminToken = gatewayAccess?.adminToken;
// The AMI of each machine (AWS); none for machines that are not made from an image here.
export const machineImages = machines.machineImages ?? {};
export const stacks = pulumi.all(Object.fromEntries(ownStacks.map((stack) => [stack.name, deployed.get(stack)!.services])));
