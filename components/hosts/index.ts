import { HostEntry } from "../config";
import { SwarmNode } from "../swarm";

/**
 * Machines you already have, as listed in the `hosts` config: nothing to create, only their
 * description for the swarm. Names follow the order of the list within each role.
 */
export function hostsNodes(hosts: HostEntry[], defaultUser = "root"): { managers: SwarmNode[]; workers: SwarmNode[] } {
    const of = (role: HostEntry["role"]) =>
        hosts
            .filter((h) => h.role === role)
            .map((h, i) => ({ name: `${role}-${i}`, host: h.host, port: h.port, user: h.user ?? defaultUser, privateAddress: h.privateAddress, role }));
    return { managers: of("manager"), workers: of("worker") };
}
