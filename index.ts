// Wiring only: read the config, provision machines, form the swarm, deploy the stack.
import * as pulumi from "@pulumi/pulumi";

const config = new pulumi.Config();

export const provider = config.get("provider") ?? "local";
