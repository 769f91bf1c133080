import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { SwarmNode } from "../types";

export interface GatewayLoadBalancerArgs {
    vpcId: pulumi.Input<string>;
    /** Public subnets, one per zone the managers are in. */
    subnetIds: pulumi.Input<string>[];
    /** The machines' security group: it lets the load balancer's health checks in. */
    nodeGroupId: pulumi.Input<string>;
    /** Every manager runs a gateway (the edge nodes). */
    managers: pulumi.Output<SwarmNode>[];
    port: number;
    ingressCidrs: string[];
    tags: pulumi.Input<Record<string, string>>;
}

/**
 * A network load balancer in front of the gateway port of every manager: one address that
 * survives a machine. It checks each gateway's health over HTTP and sends traffic only to healthy
 * ones; it admits only the ingress CIDRs (the client's address is kept, so the machines' own rule
 * for those CIDRs applies too). Returns its DNS name.
 */
export function gatewayLoadBalancer(name: string, args: GatewayLoadBalancerArgs, parent: pulumi.Resource): pulumi.Output<string> {
    const opts = { parent };
    const group = new aws.ec2.SecurityGroup(`${name}-gateway-lb`, {
        vpcId: args.vpcId,
        description: "Gateway load balancer: the gateway port from the ingress CIDRs",
        ingress: [{ protocol: "tcp", fromPort: args.port, toPort: args.port, cidrBlocks: args.ingressCidrs, description: "gateway: collector and profile API" }],
        egress: [{ protocol: "tcp", fromPort: args.port, toPort: args.port, cidrBlocks: ["0.0.0.0/0"], description: "to the managers' gateways" }],
        tags: args.tags,
    }, opts);
    // Health checks (and traffic) from the load balancer reach the machines by its group.
    new aws.vpc.SecurityGroupIngressRule(`${name}-gateway-from-lb`, {
        securityGroupId: args.nodeGroupId,
        referencedSecurityGroupId: group.id,
        ipProtocol: "tcp",
        fromPort: args.port,
        toPort: args.port,
        description: "gateway: from the load balancer",
        tags: args.tags,
    }, opts);
    const balancer = new aws.lb.LoadBalancer(`${name}-gateway`, {
        loadBalancerType: "network",
        internal: false,
        subnets: args.subnetIds,
        securityGroups: [group.id],
        enableCrossZoneLoadBalancing: true,
        tags: args.tags,
    }, opts);
    const targets = new aws.lb.TargetGroup(`${name}-gateway`, {
        vpcId: args.vpcId,
        port: args.port,
        protocol: "TCP",
        targetType: "instance",
        // A gateway that stops answering is out within about 10 s; one that stops is drained fast.
        healthCheck: { protocol: "HTTPS", path: "/gateway/healthz", port: "traffic-port", interval: 5, timeout: 3, healthyThreshold: 2, unhealthyThreshold: 2 },
        deregistrationDelay: 10,
        tags: args.tags,
    }, opts);
    new aws.lb.Listener(`${name}-gateway`, {
        loadBalancerArn: balancer.arn,
        port: args.port,
        protocol: "TCP",
        defaultActions: [{ type: "forward", targetGroupArn: targets.arn }],
        tags: args.tags,
    }, opts);
    args.managers.forEach((manager, i) => {
        new aws.lb.TargetGroupAttachment(`${name}-gateway-manager-${i}`, {
            targetGroupArn: targets.arn,
            // The EC2 instance ID (a machine of AwsNodes always has one).
            targetId: manager.apply((machine) => machine.instance ?? ""),
            port: args.port,
        }, opts);
    });
    return balancer.dnsName;
}
