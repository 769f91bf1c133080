import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ImageRegistry, MachineAccess, Machines, Role, SwarmNode } from "../types";
import type { AwsSettings } from "./config";
import { subnetAt } from "../network";
import { ecrRegistry, repositoryScope } from "./ecr";
import { pinned, PinnedValue } from "./pin";
import { cloudInitUserData, loginUser, registryLoginScript } from "./cloudInit";
import { gatewayLoadBalancer } from "./loadBalancer";

/** Canonical's AWS account: the owner of the official Ubuntu AMIs. */
export const canonicalOwnerId = "099720109477";
export const ubuntuAmiNamePattern = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*";

/** Swarm ports open between the machines (and only between them). */
export const swarmPorts: { protocol: string; fromPort: number; toPort: number; description: string }[] = [
    { protocol: "tcp", fromPort: 2377, toPort: 2377, description: "swarm cluster management" },
    { protocol: "tcp", fromPort: 7946, toPort: 7946, description: "swarm node communication" },
    { protocol: "udp", fromPort: 7946, toPort: 7946, description: "swarm node communication" },
    { protocol: "udp", fromPort: 4789, toPort: 4789, description: "overlay network (VXLAN)" },
    // Encrypted overlay networks carry VXLAN inside IPsec ESP (IP protocol 50).
    { protocol: "50", fromPort: 0, toPort: 0, description: "encrypted overlay network (IPsec ESP)" },
];

/** /24 public subnets counted up from the VPC's network address. */
export function subnetCidrs(vpcCidr: string, count: number): string[] {
    return Array.from({ length: count }, (_, i) => subnetAt(vpcCidr, 24, i));
}

/**
 * How commands reach EC2 machines: they boot slowly and install Docker from cloud-init, and their
 * swarm traffic crosses a network that is not ours alone, so it is encrypted.
 */
export const awsAccess: MachineAccess = { dialAttempts: 60, timeoutSeconds: 900, cloudInit: true, encryptOverlay: true };

export interface AwsNodesArgs {
    managers: number;
    workers: number;
    settings: AwsSettings;
    publicKey: pulumi.Input<string>;
    /** Port of the stack's gateway, opened to settings.ingressCidrs. */
    gatewayPort: number;
    /** The stack's images: an ECR repository each, `<imageRepository>/<image>`. */
    images: string[];
    imageRepository: string;
}

/**
 * EC2 machines for the swarm: a VPC with public subnets over up to three availability zones (or
 * an existing one), a security group that opens SSH to the allowed CIDRs and the swarm ports only
 * between the machines, Ubuntu 24.04 instances with Docker from cloud-init, IMDSv2 required and
 * encrypted root volumes; managers spread over the zones, workers on demand or spot.
 */
export class AwsNodes extends pulumi.ComponentResource implements Machines {
    public readonly managers: pulumi.Output<SwarmNode>[];
    public readonly workers: pulumi.Output<SwarmNode>[];
    /** The stack's ECR repositories. */
    public readonly registry: pulumi.Output<ImageRegistry>;
    public readonly vpcId: pulumi.Output<string>;
    public readonly securityGroupId: pulumi.Output<string>;
    /** DNS name of the network load balancer in front of the managers' gateways. */
    public readonly frontAddress: pulumi.Output<string>;
    /** Machine name -> the AMI it was made from (each machine's own pin). */
    public readonly machineImages: pulumi.Output<Record<string, string>>;
    /** Run on every machine once it has booted, and again in place when it changes: its ECR logins. */
    public readonly setupScript: pulumi.Output<string>;

    constructor(name: string, args: AwsNodesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:aws:AwsNodes", name, {}, opts);
        const { settings } = args;
        // The zones that offer the instance types, checked before anything is made: every AWS
        // resource here waits for the check through its tags (a new VPC only; with your own
        // subnets, their zones are yours to choose).
        const zones = settings.vpcId ? undefined : offeringZones(settings, this);
        const scope = awsScope(name, this, zones);

        const { vpcId, subnetIds, paths } = network(scope, settings, zones);
        const group = nodeSecurityGroup(scope, { vpcId, settings, gatewayPort: args.gatewayPort });
        const keyPair = new aws.ec2.KeyPair(`${name}-key`, { publicKey: args.publicKey, tags: scope.tags }, { parent: this });
        const newMachinesAmi = machineImage(scope, settings.ami);
        const ecr = ecrRegistry(`${name}-images`, {
            scope: repositoryScope(scope.stack),
            images: args.images.map((image) => `${args.imageRepository}/${image}`),
            tags: scope.tags,
        }, this);
        const instanceProfile = instanceRole(scope, ecr.repositoryArns);
        const launch: LaunchSpec = {
            settings,
            subnetIds,
            securityGroupId: group.id,
            keyName: keyPair.keyName,
            instanceProfile,
            newMachinesAmi,
            userData: cloudInitUserData(),
            paths,
        };
        const managers = Array.from({ length: args.managers }, (_, index) => machine(scope, launch, { role: "manager", index }));
        const workers = Array.from({ length: args.workers }, (_, index) => machine(scope, launch, { role: "worker", index }));

        this.managers = managers.map((made) => made.node);
        this.workers = workers.map((made) => made.node);
        this.registry = ecr.registry;
        this.setupScript = ecr.host.apply((host) => registryLoginScript(host));
        this.machineImages = pulumi.all(Object.fromEntries([...managers, ...workers].map((made) => [made.name, made.ami])));
        this.vpcId = vpcId;
        this.securityGroupId = group.id;
        this.frontAddress = gatewayLoadBalancer(name, {
            vpcId,
            subnetIds,
            nodeGroupId: group.id,
            managers: this.managers,
            port: args.gatewayPort,
            ingressCidrs: settings.ingressCidrs,
            tags: scope.tags,
        }, this);
        this.registerOutputs({
            managers: this.managers,
            workers: this.workers,
            registry: this.registry,
            vpcId: this.vpcId,
            securityGroupId: this.securityGroupId,
            frontAddress: this.frontAddress,
            machineImages: this.machineImages,
            setupScript: this.setupScript,
        });
    }

    /** The gateway answers on the edge machines' public addresses. */
    edgeAddress(node: SwarmNode): string {
        return node.host;
    }
}

/** What every step shares: resource names, their parent, and the tags of every AWS resource. */
interface AwsScope {
    /** The component's name: its resources are `<name>-...`. */
    name: string;
    parent: pulumi.Resource;
    /** The Pulumi stack, in the Name tags. */
    stack: string;
    /** Once the checks that must pass before anything is made have passed. */
    tags: pulumi.Output<Record<string, string>>;
}

function awsScope(name: string, parent: pulumi.Resource, checked?: pulumi.Output<unknown>): AwsScope {
    const stack = pulumi.getStack();
    const tags: Record<string, string> = { "swarm:project": pulumi.getProject(), "swarm:stack": stack };
    return { name, parent, stack, tags: checked ? checked.apply(() => tags) : pulumi.output(tags) };
}

/** The scope's tags and a Name. */
const named = (tags: pulumi.Output<Record<string, string>>, more: Record<string, string>) => tags.apply((t) => ({ ...t, ...more }));

/**
 * The VPC and its public subnets: those of settings.vpcId, else a new VPC with one subnet per
 * zone; `paths`: what the machines' traffic to the internet goes through (the route table, its
 * associations, the internet gateway), which the machines depend on so that a destroy removes it
 * only after every step over SSH is done.
 */
function network(
    { name, parent, stack, tags }: AwsScope,
    settings: AwsSettings,
    zones: pulumi.Output<string[]> | undefined,
): { vpcId: pulumi.Output<string>; subnetIds: pulumi.Output<string>[]; paths: pulumi.Resource[] } {
    if (!zones || (settings.vpcId && settings.subnetIds)) {
        if (!settings.vpcId || !settings.subnetIds) throw new Error("network: a new VPC needs its zones checked");
        return { vpcId: pulumi.output(settings.vpcId), subnetIds: settings.subnetIds.map((id) => pulumi.output(id)), paths: [] };
    }
    const vpc = new aws.ec2.Vpc(`${name}-vpc`, {
        cidrBlock: settings.vpcCidr,
        enableDnsHostnames: true,
        enableDnsSupport: true,
        tags: named(tags, { Name: `${name}-${stack}` }),
    }, { parent });
    const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags }, { parent });
    const routes = new aws.ec2.RouteTable(`${name}-public`, {
        vpcId: vpc.id,
        routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: gateway.id }],
        tags,
    }, { parent });
    const paths: pulumi.Resource[] = [gateway, routes];
    const subnetIds = subnetCidrs(settings.vpcCidr, settings.availabilityZones).map((cidrBlock, i) => {
        const subnet = new aws.ec2.Subnet(`${name}-public-${i}`, {
            vpcId: vpc.id,
            cidrBlock,
            availabilityZone: zones.apply((names) => names[i]),
            mapPublicIpOnLaunch: true,
            tags: named(tags, { Name: `${name}-${stack}-public-${i}` }),
        }, { parent });
        paths.push(new aws.ec2.RouteTableAssociation(`${name}-public-${i}`, { subnetId: subnet.id, routeTableId: routes.id }, { parent }));
        return subnet.id;
    });
    return { vpcId: vpc.id, subnetIds, paths };
}

/**
 * The first `availabilityZones` regular zones of the region that offer both instance types, in
 * the region's order; fails naming the zones and what each lacks when there are fewer.
 */
export function zonesOffering(zones: string[], offerings: { zone: string; type: string }[], types: string[], wanted: number): string[] {
    const offers = (zone: string, type: string) => offerings.some((o) => o.zone === zone && o.type === type);
    const usable = zones.filter((zone) => types.every((type) => offers(zone, type)));
    if (usable.length < wanted) {
        const lacking = zones.filter((zone) => !usable.includes(zone)).map((zone) => `${zone} (no ${types.filter((type) => !offers(zone, type)).join(", ")})`);
        throw new Error(
            `aws.availabilityZones: ${wanted} zones wanted, and ${usable.length} of the region's ${zones.length} offer ${[...new Set(types)].join(" and ")}` +
                `${lacking.length > 0 ? `: ${lacking.join(", ")}` : ""}; choose other instance types (aws.managerInstanceType, aws.workerInstanceType) or fewer zones`,
        );
    }
    return usable.slice(0, wanted);
}

/** Regular zones only (Local and Wavelength Zones need an opt-in and lack instance types), and only those that offer both instance types. */
function offeringZones(settings: AwsSettings, parent: pulumi.Resource): pulumi.Output<string[]> {
    const types = [...new Set([settings.managerInstanceType, settings.workerInstanceType])];
    const zones = aws.getAvailabilityZonesOutput({ state: "available", filters: [{ name: "opt-in-status", values: ["opt-in-not-required"] }] }, { parent });
    const offerings = aws.ec2.getInstanceTypeOfferingsOutput({ locationType: "availability-zone", filters: [{ name: "instance-type", values: types }] }, { parent });
    return pulumi.all([zones.names, offerings.locations, offerings.instanceTypes]).apply(([names, locations, offered]) =>
        zonesOffering(names, locations.map((zone, i) => ({ zone, type: offered[i] })), types, settings.availabilityZones));
}

/** One rule of the machines' security group: from CIDRs, or from the group itself. */
interface GroupRule {
    key: string;
    protocol: string;
    fromPort?: number;
    toPort?: number;
    from: string[] | "self";
    description: string;
}

/** The machines' ingress: SSH and the gateway from the allowed CIDRs, the swarm ports between the machines only, path MTU discovery from anywhere. */
export function machineIngress(settings: AwsSettings, gatewayPort: number): GroupRule[] {
    return [
        { key: "ssh", protocol: "tcp", fromPort: 22, toPort: 22, from: settings.sshAllowedCidrs, description: "SSH" },
        { key: "gateway", protocol: "tcp", fromPort: gatewayPort, toPort: gatewayPort, from: settings.ingressCidrs, description: "gateway: collector and profile API" },
        ...swarmPorts.map((port) => ({
            key: `swarm-${port.protocol}-${port.fromPort}`,
            protocol: port.protocol,
            ...(port.protocol === "50" ? {} : { fromPort: port.fromPort, toPort: port.toPort }),
            from: "self" as const,
            description: port.description,
        })),
        // "Fragmentation needed": path MTU discovery, without which large replies stall.
        { key: "icmp-mtu", protocol: "icmp", fromPort: 3, toPort: 4, from: ["0.0.0.0/0"], description: "path MTU discovery" },
    ];
}

/**
 * The machines' security group: every rule a resource of its own, none inline, so that rules
 * added beside it (the load balancer's) and `up --refresh` never fight over the group's rule list.
 */
function nodeSecurityGroup(
    { name, parent, tags }: AwsScope,
    { vpcId, settings, gatewayPort }: { vpcId: pulumi.Output<string>; settings: AwsSettings; gatewayPort: number },
): aws.ec2.SecurityGroup {
    const group = new aws.ec2.SecurityGroup(`${name}-machines`, {
        vpcId,
        description: "Swarm machines: SSH and the gateway from the allowed CIDRs, swarm traffic between the machines",
        tags,
    }, { parent });
    for (const rule of machineIngress(settings, gatewayPort)) {
        const sources = rule.from === "self" ? [undefined] : rule.from;
        sources.forEach((cidr, i) => {
            new aws.vpc.SecurityGroupIngressRule(`${name}-machines-${rule.key}${sources.length > 1 ? `-${i}` : ""}`, {
                securityGroupId: group.id,
                ipProtocol: rule.protocol,
                fromPort: rule.fromPort,
                toPort: rule.toPort,
                ...(cidr === undefined ? { referencedSecurityGroupId: group.id } : { cidrIpv4: cidr }),
                description: rule.description,
                tags,
            }, { parent });
        });
    }
    new aws.vpc.SecurityGroupEgressRule(`${name}-machines-egress`, {
        securityGroupId: group.id,
        ipProtocol: "-1",
        cidrIpv4: "0.0.0.0/0",
        description: "package and image downloads",
        tags,
    }, { parent });
    return group;
}

/**
 * What the machines may do with ECR: log in, and pull from the stack's own repositories (not the
 * account's others).
 */
export function pullPolicy(repositoryArns: string[]): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            { Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
            { Effect: "Allow", Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"], Resource: repositoryArns },
        ],
    });
}

/** The machines' instance profile: it lets them pull the stack's images from ECR (the credential helper uses it). Returns its name. */
function instanceRole({ name, parent, tags }: AwsScope, repositoryArns: pulumi.Output<string[]>): pulumi.Output<string> {
    const nodeRole = new aws.iam.Role(`${name}-node`, {
        assumeRolePolicy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
        }),
        tags,
    }, { parent });
    new aws.iam.RolePolicy(`${name}-node-ecr`, { role: nodeRole.name, policy: repositoryArns.apply(pullPolicy) }, { parent });
    return new aws.iam.InstanceProfile(`${name}-node`, { role: nodeRole.name, tags }, { parent }).name;
}

/**
 * The image a machine made from now on gets: aws.ami, else the newest Ubuntu image when the stack
 * was first made (resolved once and kept, so Canonical publishing one changes nothing).
 */
function machineImage({ name, parent }: AwsScope, ami: string | undefined): pulumi.Output<string> {
    if (ami) return pulumi.output(ami);
    return new PinnedValue(`${name}-ami`, {
        value: aws.ec2.getAmiOutput({
            owners: [canonicalOwnerId],
            mostRecent: true,
            filters: [
                { name: "name", values: [ubuntuAmiNamePattern] },
                { name: "virtualization-type", values: ["hvm"] },
            ],
        }, { parent }).id,
    }, { parent }).value;
}

/** Instance types that run on CPU credits (t2, t3, t3a, t4g). */
export const isBurstable = (instanceType: string): boolean => /^t\d+[a-z]*\./.test(instanceType);

/** What every machine is made with. */
interface LaunchSpec {
    settings: AwsSettings;
    /** Public subnets, one per zone. */
    subnetIds: pulumi.Output<string>[];
    securityGroupId: pulumi.Output<string>;
    keyName: pulumi.Output<string>;
    /** The instance profile's name. */
    instanceProfile: pulumi.Output<string>;
    /** The image of machines made from now on (each machine pins the one it was made with). */
    newMachinesAmi: pulumi.Output<string>;
    /** The cloud-init of machines made from now on (each machine pins the one it was made with). */
    userData: string;
    /** The network's paths to the internet (see network): each machine depends on them. */
    paths: pulumi.Resource[];
}

/** One EC2 machine: its name, its description for the swarm, and the image it was made from. */
function machine(
    { name, parent, stack, tags }: AwsScope,
    launch: LaunchSpec,
    { role, index }: { role: Role; index: number },
): { name: string; node: pulumi.Output<SwarmNode>; ami: pulumi.Output<string> } {
    const { settings } = launch;
    const nodeName = `${name}-${role}-${index}`;
    const spot = role === "worker" && settings.spotWorkers;
    const instanceType = pinned(parent, nodeName, "type", role === "manager" ? settings.managerInstanceType : settings.workerInstanceType);
    const ami = pinned(parent, nodeName, "ami", launch.newMachinesAmi);
    const instance = new aws.ec2.Instance(nodeName, {
        ami,
        instanceType,
        // Managers spread over the zones first, so losing a zone keeps quorum.
        subnetId: launch.subnetIds[index % launch.subnetIds.length],
        vpcSecurityGroupIds: [launch.securityGroupId],
        keyName: launch.keyName,
        iamInstanceProfile: launch.instanceProfile,
        associatePublicIpAddress: true,
        // A replaced pin makes the machine anew with the new user data (it is read at first boot only).
        userData: pinned(parent, nodeName, "user-data", launch.userData),
        userDataReplaceOnChange: true,
        // Hop limit 1: the host reaches the instance role, task containers (one hop more) do not.
        metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 },
        rootBlockDevice: { volumeType: "gp3", volumeSize: settings.volumeSize, encrypted: true, deleteOnTermination: true },
        ...(spot
            ? { instanceMarketOptions: { marketType: "spot", spotOptions: { spotInstanceType: "one-time", instanceInterruptionBehavior: "terminate" } } }
            : {}),
        // Burstable types launch unlimited by default: sustained load is then charged on top.
        // (Spot instances take standard only.) A change is made in place.
        ...(spot ? {} : { creditSpecification: instanceType.apply((type) => (isBurstable(type) ? { cpuCredits: settings.cpuCredits } : undefined)) }),
        tags: named(tags, { "swarm:role": role, Name: `${nodeName}-${stack}` }),
    // A new type (a replaced pin) makes the machine anew, as a new image does: it joins, and the old
    // one is drained and leaves the swarm. (In place, AWS would stop and start it undrained; a
    // one-time spot instance cannot be stopped at all.)
    }, { parent, replaceOnChanges: ["instanceType"], dependsOn: launch.paths });
    const node = pulumi.all([instance.id, instance.publicIp, instance.privateIp]).apply(([instanceId, publicIp, privateIp]) => ({
        instance: instanceId,
        name: nodeName,
        host: publicIp,
        port: 22,
        user: loginUser,
        privateAddress: privateIp,
        role,
    }));
    return { name: nodeName, node, ami };
}
