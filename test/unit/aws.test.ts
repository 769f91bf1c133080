// The AWS path under Pulumi's mocks (nothing here can reach AWS or run its provider): the
// resource graph the program asks for, scenario by scenario.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { zonesOffering } from "../../components/aws";
import { pinProvider } from "../../components/aws/pin";

interface Registration {
    type: string;
    name: string;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    inputs: any;
    dependencies?: string[];
}

interface Outcome {
    error?: string;
    sshPrivateKeySecret?: boolean;
    collectorUrl?: string;
    gatewayUrls?: string[];
    services?: Record<string, { image: string; replicas: number }>;
    stacks?: Record<string, Record<string, { image: string; replicas?: number }>>;
    machineImages?: Record<string, string>;
    caCertificate?: string;
    ingestTokenSecret?: boolean;
    adminTokenSecret?: boolean;
    registrations: Registration[];
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    calls: { token: string; inputs: any }[];
}

const fixture = path.join(__dirname, "..", "fixtures", "mock-program.ts");
const secretSig = "4dabf18193072939515e22adb298388d";

/** Mocks see secret inputs as {sig, value}. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const isSecretValue = (v: any): boolean => typeof v === "object" && v !== null && v[secretSig] !== undefined;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const reveal = (v: any): any => (isSecretValue(v) ? v.value : v);

function runProgram(config: Record<string, unknown>): Outcome {
    const result = spawnSync(process.execPath, ["--import", "tsx", fixture, JSON.stringify(config)], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout.trim().split("\n").pop()!) as Outcome;
}

const base = { "swarm:provider": "aws", "aws:region": "eu-west-1", "swarm:aws": { sshAllowedCidrs: ["203.0.113.7/32"] } };
const production = runProgram({ ...base, "swarm:managers": "3", "swarm:workers": "3", "swarm:aws": { sshAllowedCidrs: ["203.0.113.7/32"], spotWorkers: true } });
const onDemand = runProgram({ ...base, "swarm:managers": "1", "swarm:workers": "2" });

const withOwnStack = runProgram({ ...base, "swarm:stacks": { visits: { file: "examples/visits/compose.yaml", replicas: { web: 3 } } } });

const ofType = (outcome: Outcome, type: string) => outcome.registrations.filter((r) => r.type === type);
const instances = (outcome: Outcome) => ofType(outcome, "aws:ec2/instance:Instance");
const commands = (outcome: Outcome) => ofType(outcome, "pulumi-nodejs:dynamic/command:Command");

test("your own stack's built images get ECR repositories of their own, and the stack pulls them from there", () => {
    assert.equal(withOwnStack.error, undefined);
    const repositories = ofType(withOwnStack, "aws:ecr/repository:Repository").map((r) => r.inputs.name).sort();
    assert.deepEqual(repositories, ["prod/categorisation/edge", "prod/categorisation/gateway", "prod/categorisation/nats", "prod/categorisation/pipeline", "prod/categorisation/redis", "prod/categorisation/visits/redis", "prod/categorisation/visits/web"]);
    const visits = withOwnStack.stacks!.visits;
    assert.match(visits.web.image, /^123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/prod\/categorisation\/visits\/web:[0-9a-f]{12}$/);
    assert.equal(visits.web.replicas, 3);
    const deploy = commands(withOwnStack).find((c) => c.name === "stack-visits-deploy")!;
    // The rendered Compose text holds values from this machine's environment: a secret in the state.
    assert.ok(isSecretValue(deploy.inputs.stdin), "the rendered Compose text is a secret");
    assert.match(reveal(deploy.inputs.stdin), /image: 123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/prod\/categorisation\/visits\/redis:/);
});

test("the program runs to its outputs", () => {
    assert.equal(production.error, undefined);
    assert.equal(production.collectorUrl, "https://aws-gateway-0123456789.elb.eu-west-1.amazonaws.com:8080/events");
    assert.equal(production.gatewayUrls!.length, 3);
    for (const url of production.gatewayUrls!) assert.match(url, /^https:\/\/203\.0\.113\.\d+:8080$/);
    assert.match(production.services!.categoriser.image, /^123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/prod\/categorisation\/pipeline:[0-9a-f]{12}$/);
});

test("the gateway's certificate is from the stack's CA and names the load balancer and every manager's address; the tokens are secret", () => {
    const [certificate] = ofType(production, "pulumi-nodejs:dynamic/tls:GatewayCertificate");
    assert.deepEqual([...certificate.inputs.names].sort(), ["aws-gateway-0123456789.elb.eu-west-1.amazonaws.com", ...production.gatewayUrls!.map((url) => new URL(url).hostname)].sort());
    assert.match(production.caCertificate!, /^-----BEGIN CERTIFICATE-----/);
    assert.equal(production.ingestTokenSecret, true);
    assert.equal(production.adminTokenSecret, true);
    // The load balancer asks the gateways over HTTPS too.
    const [deploy] = commands(production).filter((c) => c.name === "stack-deploy");
    assert.ok(isSecretValue(commands(production).find((c) => c.name === "stack-gateway-tls")!.inputs.stdin), "the key reaches the swarm as a secret");
    assert.ok(isSecretValue(commands(production).find((c) => c.name === "stack-auth-tokens")!.inputs.stdin), "the token hashes too");
    assert.match(reveal(deploy.inputs.stdin), /gateway-tls:\n\s+external: true/);
});

test("managers 3 gives 3 instances in 3 distinct subnets of 3 zones", () => {
    const managers = instances(production).filter((i) => i.inputs.tags["swarm:role"] === "manager");
    assert.equal(managers.length, 3);
    assert.equal(new Set(managers.map((m) => m.inputs.subnetId)).size, 3);
    const subnets = ofType(production, "aws:ec2/subnet:Subnet");
    assert.deepEqual(subnets.map((s) => s.inputs.availabilityZone), ["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
    assert.deepEqual(subnets.map((s) => s.inputs.cidrBlock), ["10.20.0.0/24", "10.20.1.0/24", "10.20.2.0/24"]);
    assert.equal(instances(production).filter((i) => i.inputs.tags["swarm:role"] === "worker").length, 3);
});

/** The machines' group's rules of a kind, as `protocol/from-to from source` lines. */
function machineRules(outcome: Outcome, type: string): string[] {
    return ofType(outcome, type)
        .filter((r) => r.inputs.securityGroupId === "aws-machines-id" && r.name !== "aws-gateway-from-lb")
        .map((r) => `${r.inputs.ipProtocol}/${r.inputs.fromPort ?? ""}-${r.inputs.toPort ?? ""} from ${r.inputs.referencedSecurityGroupId === "aws-machines-id" ? "self" : r.inputs.cidrIpv4}`)
        .sort();
}

test("the security group opens exactly SSH and the gateway to the allowed CIDRs, the swarm ports to itself, and ICMP 'fragmentation needed'", () => {
    // Every rule a resource of its own, none inline: `up --refresh` finds the group as it left it.
    const group = ofType(production, "aws:ec2/securityGroup:SecurityGroup").find((g) => g.name === "aws-machines")!;
    assert.equal(group.inputs.ingress, undefined);
    assert.equal(group.inputs.egress, undefined);
    for (const instance of instances(production)) assert.deepEqual(instance.inputs.vpcSecurityGroupIds, ["aws-machines-id"]);
    assert.deepEqual(machineRules(production, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"), ["-1/- from 0.0.0.0/0"]);
    const rules = machineRules(production, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
    assert.deepEqual(rules, [
        "50/- from self",
        "icmp/3-4 from 0.0.0.0/0",
        "tcp/22-22 from 203.0.113.7/32",
        "tcp/2377-2377 from self",
        "tcp/7946-7946 from self",
        "tcp/8080-8080 from 203.0.113.7/32",
        "udp/4789-4789 from self",
        "udp/7946-7946 from self",
    ]);
    assert.ok(rules.filter((r) => !r.startsWith("icmp/")).every((r) => !r.includes("0.0.0.0/0")), "only path-MTU ICMP is open to all");
    // A rule per CIDR.
    const twoCidrs = runProgram({ ...base, "swarm:aws": { sshAllowedCidrs: ["203.0.113.7/32", "198.51.100.0/24"] } });
    assert.deepEqual(machineRules(twoCidrs, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").filter((r) => r.startsWith("tcp/22-")), ["tcp/22-22 from 198.51.100.0/24", "tcp/22-22 from 203.0.113.7/32"]);
});

test("a destroy removes the machines (and every step over SSH before them) before the network's way to the internet", () => {
    const paths = production.registrations.filter((r) => ["aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/routeTable:RouteTable", "aws:ec2/internetGateway:InternetGateway"].includes(r.type)).map((r) => r.name);
    assert.equal(paths.length, 5);
    for (const instance of instances(production)) {
        const names = (instance.dependencies ?? []).map((urn) => urn.split("::").pop());
        for (const path of paths) assert.ok(names.includes(path), `${instance.name} depends on ${path}: ${names.join(", ")}`);
    }
});

test("a network load balancer in front of every manager's gateway, health-checked, admitting only the ingress CIDRs", () => {
    const [balancer] = ofType(production, "aws:lb/loadBalancer:LoadBalancer");
    assert.equal(balancer.inputs.loadBalancerType, "network");
    assert.equal(balancer.inputs.internal, false);
    assert.equal(balancer.inputs.subnets.length, 3);
    const [listener] = ofType(production, "aws:lb/listener:Listener");
    assert.equal(listener.inputs.port, 8080);
    assert.equal(listener.inputs.protocol, "TCP");
    assert.deepEqual(listener.inputs.defaultActions, [{ type: "forward", targetGroupArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/aws-gateway" }]);
    const [targets] = ofType(production, "aws:lb/targetGroup:TargetGroup");
    assert.equal(targets.inputs.port, 8080);
    assert.equal(targets.inputs.targetType, "instance");
    assert.deepEqual(
        { protocol: targets.inputs.healthCheck.protocol, path: targets.inputs.healthCheck.path, port: targets.inputs.healthCheck.port },
        { protocol: "HTTPS", path: "/gateway/healthz", port: "traffic-port" },
    );
    const attached = ofType(production, "aws:lb/targetGroupAttachment:TargetGroupAttachment").map((a) => a.inputs.targetId).sort();
    assert.deepEqual(attached, ["aws-manager-0-id", "aws-manager-1-id", "aws-manager-2-id"]);
    // The balancer's group admits the gateway port from the ingress CIDRs only; the machines admit the balancer.
    const lbGroup = ofType(production, "aws:ec2/securityGroup:SecurityGroup").find((g) => g.name === "aws-gateway-lb")!;
    assert.deepEqual(lbGroup.inputs.ingress.map((r: { protocol: string; fromPort: number; toPort: number; cidrBlocks: string[] }) => `${r.protocol}/${r.fromPort}-${r.toPort} from ${r.cidrBlocks.join(",")}`), ["tcp/8080-8080 from 203.0.113.7/32"]);
    assert.deepEqual(balancer.inputs.securityGroups, ["aws-gateway-lb-id"]);
    const fromBalancer = ofType(production, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").find((r) => r.name === "aws-gateway-from-lb")!;
    assert.deepEqual(
        { group: fromBalancer.inputs.securityGroupId, from: fromBalancer.inputs.referencedSecurityGroupId, port: fromBalancer.inputs.fromPort, cidr: fromBalancer.inputs.cidrIpv4 },
        { group: "aws-machines-id", from: "aws-gateway-lb-id", port: 8080, cidr: undefined },
    );
});

test("every instance requires IMDSv2, has an encrypted gp3 root volume and is tagged", () => {
    for (const instance of [...instances(production), ...instances(onDemand)]) {
        assert.equal(instance.inputs.metadataOptions.httpTokens, "required", instance.name);
        assert.equal(instance.inputs.rootBlockDevice.encrypted, true, instance.name);
        assert.equal(instance.inputs.rootBlockDevice.volumeType, "gp3", instance.name);
        assert.equal(instance.inputs.tags["swarm:project"], "swarm");
        assert.equal(instance.inputs.tags["swarm:stack"], "prod");
        assert.equal(instance.inputs.ami, "ami-0123456789abcdef0");
        assert.match(instance.inputs.userData, /^#cloud-config\n/);
        assert.ok(parse(instance.inputs.userData).packages.includes("docker.io"));
    }
});

test("spot only on workers, and only when aws.spotWorkers is set", () => {
    for (const instance of instances(production)) {
        const spot = instance.inputs.instanceMarketOptions?.marketType === "spot";
        assert.equal(spot, instance.inputs.tags["swarm:role"] === "worker", instance.name);
    }
    assert.ok(instances(onDemand).every((i) => i.inputs.instanceMarketOptions === undefined));
});

test("the AMI is the newest Ubuntu 24.04 from Canonical when first made, then pinned for the stack and for each machine", async () => {
    const pins = ofType(production, "pulumi-nodejs:dynamic/aws:PinnedValue");
    const lookupPin = pins.find((p) => p.name === "aws-ami");
    assert.equal(lookupPin?.inputs.value, "ami-0123456789abcdef0", "the lookup's result is what gets pinned");
    const lookup = production.calls.find((c) => c.token === "aws:ec2/getAmi:getAmi");
    assert.equal(lookup?.inputs.mostRecent, true);
    // Every machine has pins of its own (its image made from the stack's, its type, its user data),
    // and its instance runs with them.
    assert.deepEqual(pins.map((p) => p.name).sort(), ["aws-ami", ...instances(production).flatMap((i) => ["ami", "type", "user-data"].map((what) => `${i.name}-${what}`))].sort());
    for (const instance of instances(production)) {
        const pin = (what: string) => pins.find((p) => p.name === `${instance.name}-${what}`)!.inputs.value;
        assert.deepEqual([instance.inputs.ami, instance.inputs.instanceType, instance.inputs.userData], [pin("ami"), pin("type"), pin("user-data")], instance.name);
    }
    assert.deepEqual(production.machineImages, Object.fromEntries(instances(production).map((i) => [i.name, "ami-0123456789abcdef0"])));
    assert.ok(instances(production).every((i) => i.inputs.ami === "ami-0123456789abcdef0"));
    // A newer image published later is a new lookup result: the pin keeps the first one.
    assert.deepEqual(await pinProvider.diff(), { changes: false });
    assert.deepEqual((await pinProvider.create({ value: "ami-1" })).outs, { value: "ami-1" });
});

test("aws.ami is the image of machines made from then on; it replaces no machine by itself, one pin replaced rolls one machine", async () => {
    const overridden = runProgram({ ...base, "swarm:managers": "3", "swarm:aws": { sshAllowedCidrs: ["203.0.113.7/32"], ami: "ami-0fedcba9876543210" } });
    const pins = ofType(overridden, "pulumi-nodejs:dynamic/aws:PinnedValue");
    assert.ok(pins.every((p) => p.name !== "aws-ami"), "an explicit AMI needs no lookup");
    assert.ok(pins.filter((p) => p.name.endsWith("-ami")).every((p) => p.inputs.value === "ami-0fedcba9876543210"));
    assert.ok(instances(overridden).every((i) => i.inputs.ami === "ami-0fedcba9876543210"));
    // On a running stack, the new aws.ami reaches every pin's inputs, and no pin changes: no
    // instance's ami changes, so none is replaced. `pulumi up --replace` of one machine's pin makes
    // that pin anew with the new image: only its instance gets it.
    assert.deepEqual(await pinProvider.diff(), { changes: false });
    assert.deepEqual((await pinProvider.create({ value: "ami-0fedcba9876543210" })).outs, { value: "ami-0fedcba9876543210" });
    for (const instance of instances(overridden)) {
        assert.equal(pins.filter((p) => p.name === `${instance.name}-ami`).length, 1, `${instance.name} has a pin of its own`);
    }
});

test("only regular availability zones (no opt-in Local or Wavelength Zones) carry subnets", () => {
    const zones = production.calls.find((c) => c.token === "aws:index/getAvailabilityZones:getAvailabilityZones");
    assert.equal(zones?.inputs.state, "available");
    assert.deepEqual(zones?.inputs.filters, [{ name: "opt-in-status", values: ["opt-in-not-required"] }]);
});

test("task containers cannot reach the instance role (IMDS hop limit 1); path MTU discovery is let in", () => {
    for (const instance of instances(production)) assert.equal(instance.inputs.metadataOptions.httpPutResponseHopLimit, 1, instance.name);
    assert.ok(machineRules(production, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").includes("icmp/3-4 from 0.0.0.0/0"));
});

test("the leader renews the services' registry login every 6 hours, well inside ECR's 12: set up over SSH, not in the user data", () => {
    const setups = commands(production).filter((c) => c.name.endsWith("-setup"));
    assert.equal(setups.length, instances(production).length);
    const script = setups[0].inputs.create as string;
    assert.ok(setups.every((c) => c.inputs.create === script), "one setup for every machine");
    assert.match(script, /docker service update --detach --quiet --with-registry-auth "\$service"/);
    assert.match(script, /ManagerStatus\.Leader/);
    assert.match(script, /OnUnitActiveSec=6h/);
    assert.match(script, /"credHelpers":\{"123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com":"ecr-login"\}/);
    assert.match(script, /systemctl enable swarm-renew-registry-auth\.timer/);
    // The user data, read at first boot only and pinned per machine, holds nothing a project upgrade changes.
    const userData = parse(instances(production)[0].inputs.userData);
    assert.deepEqual(Object.keys(userData).sort(), ["package_update", "packages", "runcmd"]);
    assert.deepEqual(userData.packages, ["docker.io", "amazon-ecr-credential-helper"]);
});

test("cloud VMs wait out cloud-init in a boot step of its own, before the readiness check", () => {
    for (const boot of commands(production).filter((c) => c.name.endsWith("-boot"))) {
        assert.match(boot.inputs.create, /cloud-init status --wait/);
    }
    const names = commands(production).map((c) => c.name);
    assert.equal(names.filter((n) => n.endsWith("-boot")).length, 6);
    for (const ready of names.filter((n) => n.endsWith("-ready"))) {
        assert.ok(names.indexOf(ready.replace(/-ready$/, "-boot")) < names.indexOf(ready), `${ready} after its boot step`);
    }
});

test("every swarm command waits for its instance's readiness, cloud-init included", () => {
    for (const outcome of [production, onDemand]) {
        const seen = new Set<string>();
        const booted = new Set<string>();
        const setUp = new Set<string>();
        for (const command of commands(outcome)) {
            const host = reveal(command.inputs.connection)?.host;
            if (!host) continue;
            if (command.name.endsWith("-boot")) {
                assert.match(command.inputs.create, /cloud-init status --wait/);
                booted.add(host);
            } else if (command.name.endsWith("-setup")) {
                assert.ok(booted.has(host) && !seen.has(host), `${command.name} after cloud-init, before the readiness check`);
                setUp.add(host);
            } else if (command.name.endsWith("-ready")) {
                assert.ok(booted.has(host) && setUp.has(host), `${command.name} after cloud-init and the setup`);
                seen.add(host);
            } else {
                assert.ok(seen.has(host), `${command.name} was created before ${host} was ready`);
            }
        }
        assert.equal(seen.size, instances(outcome).length);
    }
});

test("no join command carries a token in its command text; tokens travel on stdin", () => {
    const joins = commands(production).filter((c) => c.name.endsWith("-join"));
    assert.equal(joins.length, 5);
    for (const join of joins) {
        assert.doesNotMatch(join.inputs.create, /SWMTKN/);
        assert.ok(isSecretValue(join.inputs.stdin), `${join.name}: the token on stdin is a secret`);
        assert.match(reveal(join.inputs.stdin), /^SWMTKN-1-mock(worker|manager)$/);
    }
    assert.ok(commands(production).every((c) => !/SWMTKN/.test(c.inputs.create ?? "") && !/SWMTKN/.test(c.inputs.delete ?? "")));
});

test("the private key is a secret output and a secret in every connection", () => {
    assert.equal(production.sshPrivateKeySecret, true);
    const remote = commands(production).filter((c) => c.inputs.connection !== undefined);
    assert.ok(remote.length > 10);
    for (const command of remote) assert.ok(isSecretValue(command.inputs.connection), `${command.name}: connection is secret`);
});

test("SSH runs as ubuntu with dial retries raised for booting machines", () => {
    const ready = commands(production).filter((c) => c.name.endsWith("-ready"));
    assert.ok(ready.every((c) => reveal(c.inputs.connection).user === "ubuntu" && reveal(c.inputs.connection).dialAttempts >= 60));
});

test("images live in ECR repositories with a lifecycle policy, built here and pushed by the one image builder", () => {
    const repositories = ofType(production, "aws:ecr/repository:Repository").map((r) => r.inputs.name).sort();
    // Under the Pulumi stack's name: two stacks in one account and region each have their own.
    assert.deepEqual(repositories, ["prod/categorisation/edge", "prod/categorisation/gateway", "prod/categorisation/nats", "prod/categorisation/pipeline", "prod/categorisation/redis"]);
    const policies = ofType(production, "aws:ecr/lifecyclePolicy:LifecyclePolicy");
    assert.equal(policies.length, repositories.length);
    assert.equal(JSON.parse(policies[0].inputs.policy).rules[0].action.type, "expire");
    const images = commands(production).filter((c) => c.name.startsWith("stack-images-"));
    assert.deepEqual(images.map((c) => c.name).sort(), ["stack-images-edge", "stack-images-gateway", "stack-images-nats", "stack-images-pipeline", "stack-images-redis"]);
    for (const image of images) {
        assert.ok(isSecretValue(image.inputs.credentials), "the registry password is a secret");
        assert.equal(reveal(image.inputs.credentials), "mock-ecr-password");
        assert.doesNotMatch(image.inputs.create, /mock-ecr-password/, "the password never enters the script");
        assert.match(image.inputs.create, /\nLOGIN_USER='AWS'\n/);
        assert.match(image.inputs.create, /\nPLATFORM='linux\/amd64'\n/);
        assert.match(image.inputs.create, /\nPUSH_REF='123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/prod\/categorisation\/\w+:[0-9a-f]{12}'\n/);
    }
});

test("the stack is deployed with registry auth on an encrypted overlay network", () => {
    const [deploy] = commands(production).filter((c) => c.name === "stack-deploy");
    assert.match(deploy.inputs.create, /--with-registry-auth/);
    assert.deepEqual(parse(reveal(deploy.inputs.stdin)).networks.pipeline, { driver: "overlay", driver_opts: { encrypted: "" } });
});

test("a missing aws.sshAllowedCidrs fails with a clear message before any resource", () => {
    const outcome = runProgram({ "swarm:provider": "aws", "aws:region": "eu-west-1", "swarm:aws": {} });
    assert.match(outcome.error!, /aws\.sshAllowedCidrs: required/);
    assert.deepEqual(outcome.registrations, []);
    const open = runProgram({ "swarm:provider": "aws", "aws:region": "eu-west-1", "swarm:aws": { sshAllowedCidrs: ["0.0.0.0/0"] } });
    assert.match(open.error!, /opens SSH to the whole internet/);
    assert.deepEqual(open.registrations, []);
});

test("a replaced instance (new ID) replaces its swarm steps, and the old node entry is removed by its instance label", () => {
    for (const instance of instances(production)) {
        const name = instance.name.replace(/^aws-/, "");
        const steps = commands(production).filter((c) => c.name.startsWith(`swarm-${name}-`));
        // Mocks give each resource the ID `<name>-id`: the instance ID the steps are keyed on.
        // Manager 0's admit stays: it belongs to the swarm it initialised (a lost manager 0 is not rebuilt yet).
        for (const step of steps.filter((c) => /-(boot|ready|record|join|admit)$/.test(c.name) && c.name !== "swarm-manager-0-admit")) {
            assert.deepEqual(step.inputs.triggers, [`${instance.name}-id`], `${step.name} is replaced with its instance`);
        }
        const record = steps.find((c) => c.name.endsWith("-record"));
        if (record) assert.match(record.inputs.delete, new RegExp(`\\nMACHINE_ID='${instance.name}-id'\\n`));
        const admit = steps.find((c) => c.name.endsWith("-admit"));
        assert.match(admit!.inputs.create, new RegExp(`'--label-add' 'swarm\\.instance=${instance.name}-id'`), `${name}'s node entry carries its instance`);
    }
});

test("the machines pull only from the stack's own repositories (no account-wide read policy)", () => {
    assert.deepEqual(ofType(production, "aws:iam/rolePolicyAttachment:RolePolicyAttachment"), []);
    const [policy] = ofType(production, "aws:iam/rolePolicy:RolePolicy");
    const statements = JSON.parse(policy.inputs.policy).Statement as { Action: string | string[]; Resource: string | string[] }[];
    const repositories = ofType(production, "aws:ecr/repository:Repository").map((r) => `arn:aws:ecr:eu-west-1:123456789012:repository/${r.inputs.name}`).sort();
    for (const statement of statements) {
        if (statement.Action === "ecr:GetAuthorizationToken") continue; // the login: account-wide by nature
        assert.deepEqual([statement.Resource].flat().sort(), repositories);
        assert.ok([statement.Action].flat().every((action) => /^ecr:(BatchGetImage|GetDownloadUrlForLayer|BatchCheckLayerAvailability)$/.test(action)), String(statement.Action));
    }
});

test("burstable machines run in standard credit mode unless aws.cpuCredits says otherwise; spot ones as AWS allows", () => {
    for (const instance of instances(onDemand)) assert.deepEqual(instance.inputs.creditSpecification, { cpuCredits: "standard" }, instance.name);
    const spotWorkers = instances(production).filter((i) => i.inputs.instanceMarketOptions);
    assert.ok(spotWorkers.length > 0 && spotWorkers.every((i) => i.inputs.creditSpecification === undefined));
    const unlimited = runProgram({ ...base, "swarm:aws": { sshAllowedCidrs: ["203.0.113.7/32"], cpuCredits: "unlimited", managerInstanceType: "m7i.large" } });
    const made = instances(unlimited);
    assert.equal(made.find((i) => i.name === "aws-manager-0")!.inputs.creditSpecification, undefined, "not a burstable type");
    assert.deepEqual(made.find((i) => i.name === "aws-worker-0")!.inputs.creditSpecification, { cpuCredits: "unlimited" });
    assert.match(runProgram({ ...base, "swarm:aws": { sshAllowedCidrs: ["203.0.113.7/32"], cpuCredits: "boost" } }).error ?? "", /aws\.cpuCredits: "boost" is not "standard" or "unlimited"/);
});

test("the deployer policy in docs/deployer-policy.json covers every AWS resource and data source the program uses", () => {
    const policy = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "docs", "deployer-policy.json"), "utf8")) as { Statement: { Action: string[] }[] };
    const allowed = new Set(policy.Statement.flatMap((s) => s.Action));
    const grants = (action: string) => allowed.has(action) || [...allowed].some((a) => a.endsWith("*") && action.startsWith(a.slice(0, -1)));
    /** What each resource type and data source needs to be made, read, changed and deleted. */
    const needs: Record<string, string[]> = {
        "aws:ec2/vpc:Vpc": ["ec2:CreateVpc", "ec2:DeleteVpc", "ec2:ModifyVpcAttribute", "ec2:DescribeVpcs", "ec2:DescribeVpcAttribute"],
        "aws:ec2/internetGateway:InternetGateway": ["ec2:CreateInternetGateway", "ec2:AttachInternetGateway", "ec2:DetachInternetGateway", "ec2:DeleteInternetGateway", "ec2:DescribeInternetGateways"],
        "aws:ec2/subnet:Subnet": ["ec2:CreateSubnet", "ec2:DeleteSubnet", "ec2:ModifySubnetAttribute", "ec2:DescribeSubnets"],
        "aws:ec2/routeTable:RouteTable": ["ec2:CreateRouteTable", "ec2:DeleteRouteTable", "ec2:CreateRoute", "ec2:DeleteRoute", "ec2:DescribeRouteTables"],
        "aws:ec2/routeTableAssociation:RouteTableAssociation": ["ec2:AssociateRouteTable", "ec2:DisassociateRouteTable"],
        "aws:ec2/securityGroup:SecurityGroup": ["ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup", "ec2:DescribeSecurityGroups", "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress"],
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DescribeSecurityGroupRules", "ec2:ModifySecurityGroupRules"],
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ["ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress", "ec2:DescribeSecurityGroupRules", "ec2:ModifySecurityGroupRules"],
        "aws:ec2/keyPair:KeyPair": ["ec2:ImportKeyPair", "ec2:DeleteKeyPair", "ec2:DescribeKeyPairs"],
        "aws:ec2/instance:Instance": ["ec2:RunInstances", "ec2:TerminateInstances", "ec2:StopInstances", "ec2:StartInstances", "ec2:ModifyInstanceAttribute", "ec2:ModifyInstanceCreditSpecification", "ec2:DescribeInstances", "iam:PassRole", "ec2:CreateTags"],
        "aws:iam/role:Role": ["iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:TagRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole"],
        "aws:iam/rolePolicy:RolePolicy": ["iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"],
        "aws:iam/instanceProfile:InstanceProfile": ["iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:GetInstanceProfile", "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile"],
        "aws:ecr/repository:Repository": ["ecr:CreateRepository", "ecr:DeleteRepository", "ecr:DescribeRepositories", "ecr:TagResource", "ecr:ListTagsForResource"],
        "aws:ecr/lifecyclePolicy:LifecyclePolicy": ["ecr:PutLifecyclePolicy", "ecr:GetLifecyclePolicy", "ecr:DeleteLifecyclePolicy"],
        "aws:lb/loadBalancer:LoadBalancer": ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:AddTags"],
        "aws:lb/targetGroup:TargetGroup": ["elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DescribeTargetGroups"],
        "aws:lb/listener:Listener": ["elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener", "elasticloadbalancing:DescribeListeners"],
        "aws:lb/targetGroupAttachment:TargetGroupAttachment": ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:DescribeTargetHealth"],
        "aws:index/getAvailabilityZones:getAvailabilityZones": ["ec2:DescribeAvailabilityZones"],
        "aws:ec2/getAmi:getAmi": ["ec2:DescribeImages"],
        "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": ["ec2:DescribeInstanceTypeOfferings"],
        "aws:ecr/getAuthorizationToken:getAuthorizationToken": ["ecr:GetAuthorizationToken"],
        // The image builder's push.
        push: ["ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage"],
    };
    const used = new Set([production, withOwnStack, onDemand].flatMap((outcome) => [
        ...outcome.registrations.map((r) => r.type).filter((type) => type.startsWith("aws:")),
        ...outcome.calls.map((c) => c.token).filter((token) => token.startsWith("aws:")),
    ]));
    const unknown = [...used].filter((type) => needs[type] === undefined);
    assert.deepEqual(unknown, [], "a resource type or data source new to the program: add what it needs here and to docs/deployer-policy.json");
    const missing = [...used, "push"].flatMap((type) => needs[type].filter((action) => !grants(action)).map((action) => `${type}: ${action}`));
    assert.deepEqual(missing, []);
});

test("the swarm's overlay networks take their subnets from a pool outside the VPC", () => {
    const [init] = commands(production).filter((c) => c.name === "swarm-init");
    assert.match(init.inputs.create, /\nADDRESS_POOL='10\.128\.0\.0\/14'\n/);
    const local = runProgram({ "swarm:provider": "local" });
    const [localInit] = commands(local).filter((c) => c.name === "swarm-init");
    assert.match(localInit?.inputs.create ?? "", /\nADDRESS_POOL=''\n/, "other providers keep Docker's default");
});

test("zones are those that offer both instance types; too few fails naming what each lacks, before any resource is made", () => {
    assert.deepEqual(zonesOffering(["a", "b", "c"], [{ zone: "a", type: "t3.small" }, { zone: "b", type: "t3.small" }, { zone: "c", type: "t3.small" }], ["t3.small"], 2), ["a", "b"]);
    assert.deepEqual(zonesOffering(["a", "b", "c"], [{ zone: "a", type: "x" }, { zone: "c", type: "x" }, { zone: "c", type: "y" }, { zone: "a", type: "y" }], ["x", "y"], 2), ["a", "c"]);
    const rare = runProgram({ ...base, "swarm:aws": { sshAllowedCidrs: ["203.0.113.7/32"], workerInstanceType: "g5.rare" } });
    assert.match(rare.error ?? "", /aws\.availabilityZones: 3 zones wanted, and 1 of the region's 3 offer t3\.small and g5\.rare: eu-west-1b \(no g5\.rare\), eu-west-1c \(no g5\.rare\); choose other instance types/);
    assert.deepEqual(rare.registrations.filter((r) => r.type.startsWith("aws:")), [], "no AWS resource was asked for");
    const oneZone = runProgram({ ...base, "swarm:aws": { sshAllowedCidrs: ["203.0.113.7/32"], workerInstanceType: "g5.rare", availabilityZones: 1 } });
    assert.equal(oneZone.error, undefined);
    assert.deepEqual(ofType(oneZone, "aws:ec2/subnet:Subnet").map((s) => s.inputs.availabilityZone), ["eu-west-1a"]);
});
