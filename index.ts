// Wiring only: read the config, provision machines, form the swarm, export what users need.
import * as pulumi from "@pulumi/pulumi";
import { readRawConfig, validateConfig } from "./components/config";
import { hostsNodes } from "./components/hosts";
import { LocalNodes } from "./components/local";
import { SshKeyPair } from "./components/ssh";
import { SwarmCluster, SwarmNode } from "./components/swarm";

const config = new pulumi.Config();
const settings = validateConfig(readRawConfig((key) => config.get(key)), []);

// The SSH key the machines trust: from config, or made once and kept (secret) in the state.
const configuredSsh = config.getObject<{ privateKey?: string }>("ssh");
const generated = settings.ssh.hasPrivateKey ? undefined : new SshKeyPair("ssh-key", { comment: `${pulumi.getProject()}-${pulumi.getStack()}` });
const privateKey = generated ? generated.privateKey : pulumi.secret(configuredSsh?.privateKey ?? "");
const publicKey = generated ? generated.publicKey : pulumi.output(settings.ssh.publicKey ?? "");

let managerMachines: pulumi.Input<SwarmNode>[];
let workerMachines: pulumi.Input<SwarmNode>[];
switch (settings.provider) {
    case "local": {
        const nodes = new LocalNodes("local", { managers: settings.managers, workers: settings.workers, settings: settings.local, publicKey });
        managerMachines = nodes.managers;
        workerMachines = nodes.workers;
        break;
    }
    case "hosts":
        ({ managers: managerMachines, workers: workerMachines } = hostsNodes(settings.hosts, settings.ssh.user));
        break;
    case "aws":
        throw new Error("provider: \"aws\" is not available yet; use \"local\" or \"hosts\"");
}

const cluster = new SwarmCluster("swarm", { managers: managerMachines, workers: workerMachines, privateKey });

export const provider = settings.provider;
export const sshUser = cluster.sshUser;
export const sshPrivateKey = pulumi.secret(privateKey);
export const dockerHost = cluster.dockerHost;
export const managers = cluster.managers;
export const workers = cluster.workers;
