// Renders a stack definition and the config into the Compose file `docker stack deploy` reads.
import { stringify } from "yaml";
import { ServiceDefinition, StackDefinition } from "../../stacks/types";
import { stackDataLabel } from "../swarm/scripts";

/** `vip`: virtual IPs (needs IPVS in the kernel). `dnsrr`: DNS round-robin. */
export type EndpointMode = "vip" | "dnsrr";

export interface RenderOptions {
    /** Image key of the definition -> reference the nodes pull. */
    images: Record<string, string>;
    /** Replica counts from config, overriding the definition's defaults. */
    replicas: Record<string, number>;
    endpointMode: EndpointMode;
    /** Name of the existing swarm config that holds the taxonomy. */
    taxonomyConfig: string;
    /** Encrypt the overlay network's traffic (IPsec) between nodes. */
    encryptNetwork?: boolean;
    /** How many nodes carry the edge label (every manager): the tasks of a global edge service. */
    edgeNodes: number;
}

/**
 * A service that publishes ports runs on every edge node, published there in host mode: each edge
 * node answers itself (no routing mesh, which needs IPVS), and a load balancer or client can
 * move to another edge node when one dies.
 */
const isEdgeService = (service: ServiceDefinition): boolean => (service.ports?.length ?? 0) > 0;
const isStateful = (service: ServiceDefinition): boolean => Object.keys(service.volumes ?? {}).length > 0;

/** Replica counts in force: the definition's defaults, overridden by config. */
export function effectiveReplicas(definition: StackDefinition, overrides: Record<string, number>): Record<string, number> {
    return Object.fromEntries(Object.entries(definition.services).map(([name, s]) => [name, overrides[name] ?? s.replicas]));
}

function renderService(definition: StackDefinition, service: ServiceDefinition, replicas: number, options: RenderOptions): Record<string, unknown> {
    const image = options.images[service.image];
    if (!image) throw new Error(`no image reference for "${service.image}"`);
    const stateful = isStateful(service);
    const edge = isEdgeService(service);
    const constraints = [...(service.constraints ?? []), ...(edge ? [`node.labels.${definition.edgeLabel} == true`] : [])];
    // Replicas of a stateless service go to different machines first: one machine never holds them all.
    const preferences = stateful || edge ? [] : [{ spread: `node.labels.${definition.spreadLabel}` }];
    return {
        image,
        ...(service.command ? { command: service.command } : {}),
        ...(service.environment ? { environment: service.environment } : {}),
        networks: [definition.network],
        ...(service.volumes ? { volumes: Object.entries(service.volumes).map(([name, target]) => `${name}:${target}`) } : {}),
        ...(service.taxonomyAt ? { configs: [{ source: "taxonomy", target: service.taxonomyAt }] } : {}),
        ...(service.ports ? { ports: service.ports.map((p) => ({ target: p.target, published: p.published, protocol: "tcp", mode: "host" })) } : {}),
        healthcheck: {
            test: service.healthcheck.test,
            interval: service.healthcheck.interval,
            timeout: service.healthcheck.timeout,
            retries: service.healthcheck.retries,
            start_period: service.healthcheck.startPeriod,
        },
        // Time between SIGTERM and SIGKILL: the roles finish what is in flight within it.
        stop_grace_period: service.stopGracePeriod,
        deploy: {
            ...(edge ? { mode: "global" } : { mode: "replicated", replicas }),
            endpoint_mode: options.endpointMode,
            ...(constraints.length + preferences.length > 0
                ? { placement: { ...(constraints.length > 0 ? { constraints } : {}), ...(preferences.length > 0 ? { preferences } : {}) } }
                : {}),
            // One task at a time, the new one healthy before the old one stops; a task that fails
            // within `monitor` rolls the service back. A stateful task must stop before its
            // successor mounts the same volume, and an edge task before its successor takes the port.
            update_config: { parallelism: 1, order: stateful || edge ? "stop-first" : "start-first", failure_action: "rollback", monitor: "15s" },
            rollback_config: { parallelism: 1, order: "stop-first" },
            restart_policy: { condition: "any", delay: "5s" },
            ...(service.resources
                ? { resources: { limits: { memory: service.resources.memory, ...(service.resources.cpus ? { cpus: service.resources.cpus } : {}) } } }
                : {}),
        },
    };
}

/** The Compose file (format 3.8) for `docker stack deploy -c -`. */
export function renderCompose(definition: StackDefinition, options: RenderOptions): string {
    const replicas = effectiveReplicas(definition, options.replicas);
    const services = Object.fromEntries(
        Object.entries(definition.services).map(([name, s]) => [name, renderService(definition, s, replicas[name], options)]),
    );
    const volumes = Object.fromEntries(
        Object.values(definition.services).flatMap((s) => Object.keys(s.volumes ?? {})).map((v) => [v, { labels: { [stackDataLabel]: "true" } }]),
    );
    const usesTaxonomy = Object.values(definition.services).some((s) => s.taxonomyAt);
    return stringify({
        version: "3.8",
        services,
        networks: {
            [definition.network]: { driver: "overlay", ...(options.encryptNetwork ? { driver_opts: { encrypted: "" } } : {}) },
        },
        ...(Object.keys(volumes).length > 0 ? { volumes } : {}),
        ...(usesTaxonomy ? { configs: { taxonomy: { external: true, name: options.taxonomyConfig } } } : {}),
    });
}

/** What the `services` output shows: the image and the replica count of each service. */
export function describeServices(definition: StackDefinition, options: RenderOptions): Record<string, { image: string; replicas: number }> {
    const replicas = effectiveReplicas(definition, options.replicas);
    return Object.fromEntries(
        Object.entries(definition.services).map(([name, s]) => [
            name,
            { image: options.images[s.image], replicas: isEdgeService(s) ? options.edgeNodes : replicas[name] },
        ]),
    );
}
