// The `aws` config: the EC2 machines' network, access and shape, and the region they run in.
import { checkKeys, isCidr, isNetwork, isObject, readBoolean, readInteger, readString, show } from "../checks";
import { overlaps } from "../network";

export interface AwsSettings {
    /** CIDRs allowed to reach SSH. */
    sshAllowedCidrs: string[];
    /** CIDRs allowed to reach the gateway. */
    ingressCidrs: string[];
    /** Opt-in that allows 0.0.0.0/0 in sshAllowedCidrs. */
    allowSshFromAnywhere: boolean;
    /** CIDR of a new VPC, cut into one /24 public subnet per zone. */
    vpcCidr: string;
    /** Availability zones (and public subnets) to spread over, 1 to 3. */
    availabilityZones: number;
    /** An existing VPC and its public subnets instead of a new VPC. */
    vpcId?: string;
    subnetIds?: string[];
    /** The image of machines made from now on, instead of the newest Ubuntu 24.04 LTS pinned when the stack was made. */
    ami?: string;
    managerInstanceType: string;
    workerInstanceType: string;
    spotWorkers: boolean;
    /** Root volume size in GiB. */
    volumeSize: number;
    /**
     * The credit mode of burstable (t2, t3, t3a, t4g) instances: "standard" (they slow down when
     * their credits run out) or "unlimited" (they do not, and sustained load is charged extra).
     */
    cpuCredits: "standard" | "unlimited";
    /**
     * Where the swarm's overlay networks take their /24 subnets (`swarm init --default-addr-pool`):
     * Docker's own default, 10.0.0.0/8, would reuse the VPC's addresses, and containers could not
     * reach the machines there.
     */
    overlayPool: string;
}

/** Overlay pools tried in turn, the first that does not overlap the VPC; outside Docker's local bridges (172.17.0.0/16 and up). */
export const overlayPoolCandidates = ["10.128.0.0/14", "10.192.0.0/14", "192.168.192.0/18"];

/** The first candidate pool that shares no address with `vpcCidr`. */
export function overlayPoolFor(vpcCidr: string): string {
    return overlayPoolCandidates.find((pool) => !overlaps(pool, vpcCidr)) ?? overlayPoolCandidates[0];
}

export const awsDefaults = {
    allowSshFromAnywhere: false,
    vpcCidr: "10.20.0.0/16",
    availabilityZones: 3,
    managerInstanceType: "t3.small",
    workerInstanceType: "t3.medium",
    spotWorkers: false,
    volumeSize: 30,
    cpuCredits: "standard",
} satisfies Partial<AwsSettings>;

const awsKeys = ["sshAllowedCidrs", "ingressCidrs", ...Object.keys(awsDefaults), "vpcId", "subnetIds", "ami", "overlayPool"];
const instanceType = /^[a-z0-9-]+\.[a-z0-9]+$/;

/** A non-empty list of IPv4 CIDRs. */
function readCidrs(value: unknown, key: string, problems: string[]): string[] | undefined {
    if (Array.isArray(value) && value.length > 0 && value.every(isCidr)) return value;
    problems.push(`${key}: ${show(value)} is not a non-empty list of IPv4 CIDRs (like ["203.0.113.7/32"])`);
    return undefined;
}

/** The CIDRs allowed to reach SSH: required, and the whole internet only when meant. */
function readSshCidrs(raw: Record<string, unknown>, anywhere: boolean, problems: string[]): string[] {
    if (raw.sshAllowedCidrs === undefined) {
        problems.push("aws.sshAllowedCidrs: required: the CIDRs allowed to reach SSH on the machines, like [\"203.0.113.7/32\"]");
        return [];
    }
    const list = readCidrs(raw.sshAllowedCidrs, "aws.sshAllowedCidrs", problems) ?? [];
    if (list.some((c) => c.endsWith("/0")) && !anywhere) {
        problems.push(`aws.sshAllowedCidrs: ${show(list)} opens SSH to the whole internet; narrow it, or set aws.allowSshFromAnywhere to true to mean it`);
    }
    return list;
}

/** An existing VPC and its subnets, both or neither. */
function readExistingVpc(raw: Record<string, unknown>, problems: string[]): Pick<AwsSettings, "vpcId" | "subnetIds"> {
    if ((raw.vpcId === undefined) !== (raw.subnetIds === undefined)) {
        problems.push("aws.vpcId and aws.subnetIds: give both (an existing VPC and its public subnets) or neither (a new VPC)");
    }
    const vpcId = raw.vpcId === undefined ? undefined : readString(raw.vpcId, "aws.vpcId", (s) => /^vpc-[0-9a-f]+$/.test(s), "a VPC id (vpc-...)", problems);
    let subnetIds: string[] | undefined;
    if (raw.subnetIds !== undefined) {
        const value = raw.subnetIds;
        if (Array.isArray(value) && value.length > 0 && value.every((s) => typeof s === "string" && /^subnet-[0-9a-f]+$/.test(s))) subnetIds = value;
        else problems.push(`aws.subnetIds: ${show(value)} is not a non-empty list of subnet ids (subnet-...)`);
    }
    return { ...(vpcId ? { vpcId } : {}), ...(subnetIds ? { subnetIds } : {}) };
}

/** The `aws` config with its defaults (required when the provider is "aws"). */
export function validateAws(raw: unknown, problems: string[]): AwsSettings | undefined {
    if (!isObject(raw)) {
        problems.push(raw === undefined
            ? "aws: required when provider is \"aws\", with at least aws.sshAllowedCidrs (the CIDRs allowed to reach SSH, e.g. [\"203.0.113.7/32\"])"
            : `aws: ${show(raw)} is not an object`);
        return undefined;
    }
    checkKeys(raw, awsKeys, "aws", problems);
    const settings: AwsSettings = { ...awsDefaults, sshAllowedCidrs: [], ingressCidrs: [], overlayPool: "", ...readExistingVpc(raw, problems) };
    if (raw.allowSshFromAnywhere !== undefined) settings.allowSshFromAnywhere = readBoolean(raw.allowSshFromAnywhere, "aws.allowSshFromAnywhere", problems) ?? false;
    settings.sshAllowedCidrs = readSshCidrs(raw, settings.allowSshFromAnywhere, problems);
    settings.ingressCidrs = raw.ingressCidrs === undefined ? settings.sshAllowedCidrs : readCidrs(raw.ingressCidrs, "aws.ingressCidrs", problems) ?? [];
    if (raw.vpcCidr !== undefined) {
        // A VPC is /16 to /28, and it must hold a /24 subnet for each of up to three zones.
        if (isNetwork(raw.vpcCidr, 16, 22)) settings.vpcCidr = raw.vpcCidr;
        else problems.push(`aws.vpcCidr: ${show(raw.vpcCidr)} is not an IPv4 network address with a prefix from /16 to /22 (like "10.20.0.0/16")`);
    }
    if (raw.availabilityZones !== undefined) {
        settings.availabilityZones = readInteger(raw.availabilityZones, "aws.availabilityZones", 1, 3, problems, "1, 2 or 3") ?? settings.availabilityZones;
    }
    if (raw.ami !== undefined) settings.ami = readString(raw.ami, "aws.ami", (s) => /^ami-[0-9a-f]+$/.test(s), "an AMI id (ami-...)", problems);
    for (const key of ["managerInstanceType", "workerInstanceType"] as const) {
        if (raw[key] !== undefined) settings[key] = readString(raw[key], `aws.${key}`, (s) => instanceType.test(s), "an instance type (like \"t3.medium\")", problems) ?? settings[key];
    }
    if (raw.spotWorkers !== undefined) settings.spotWorkers = readBoolean(raw.spotWorkers, "aws.spotWorkers", problems) ?? false;
    if (raw.volumeSize !== undefined) settings.volumeSize = readInteger(raw.volumeSize, "aws.volumeSize", 8, 16384, problems, "a size in GiB from 8 to 16384") ?? settings.volumeSize;
    settings.overlayPool = overlayPoolFor(settings.vpcCidr);
    if (raw.overlayPool !== undefined) {
        if (!isNetwork(raw.overlayPool, 8, 20)) {
            problems.push(`aws.overlayPool: ${show(raw.overlayPool)} is not an IPv4 network address with a prefix from /8 to /20 (like "10.128.0.0/14")`);
        } else if (!settings.vpcId && overlaps(raw.overlayPool, settings.vpcCidr)) {
            problems.push(`aws.overlayPool: ${raw.overlayPool} overlaps the VPC (aws.vpcCidr ${settings.vpcCidr}): the overlay networks would take the machines' addresses; choose a range outside it, like ${overlayPoolFor(settings.vpcCidr)}`);
        } else {
            settings.overlayPool = raw.overlayPool;
        }
    }
    if (raw.cpuCredits !== undefined) {
        settings.cpuCredits = readString(raw.cpuCredits, "aws.cpuCredits", (s) => s === "standard" || s === "unlimited", "\"standard\" or \"unlimited\"", problems) as AwsSettings["cpuCredits"] ?? settings.cpuCredits;
    }
    return settings;
}
