// Docker CLI scripts run on the machine running Pulumi to make the local provider's nodes.
// Idempotent: each checks whether its object exists before creating or removing it.
import { shellQuote } from "../swarm/scripts";

const header = "set -eu";

/** The flags that let a container run dockerd where --privileged is refused. */
export const capabilityFlags = [
    "--cap-add ALL",
    "--cap-drop SYS_RESOURCE",
    "--security-opt seccomp=unconfined",
    "--security-opt apparmor=unconfined",
    "--security-opt systempaths=unconfined",
    "--cgroupns host",
    "--volume /sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs /run",
].join(" ");

function labelFlags(labels: Record<string, string>): string {
    return Object.entries(labels)
        .map(([k, v]) => `--label ${shellQuote(`${k}=${v}`)}`)
        .join(" ");
}

export interface ImageBuild {
    tag: string;
    contextDir: string;
    baseImage: string;
    /** Script that makes the default base image offline when it cannot be pulled. */
    baseImageScript?: string;
}

/** Builds the node image unless an image with its content-derived tag exists. */
export function buildImageScript(build: ImageBuild): string {
    const tag = shellQuote(build.tag);
    return [
        header,
        `if docker image inspect ${tag} >/dev/null 2>&1; then exit 0; fi`,
        ...(build.baseImageScript ? [`bash ${shellQuote(build.baseImageScript)} >&2`] : []),
        `docker build --quiet --build-arg BASE_IMAGE=${shellQuote(build.baseImage)} --tag ${tag} ${shellQuote(build.contextDir)} >&2`,
    ].join("\n");
}

export interface NetworkSpec {
    name: string;
    subnet: string;
    gateway: string;
    labels: Record<string, string>;
}

export function createNetworkScript(net: NetworkSpec): string {
    const name = shellQuote(net.name);
    return [
        header,
        `if ! docker network inspect ${name} >/dev/null 2>&1; then`,
        `    docker network create --driver bridge --subnet ${shellQuote(net.subnet)} --gateway ${shellQuote(net.gateway)} ${labelFlags(net.labels)} ${name} >/dev/null`,
        "fi",
    ].join("\n");
}

export function removeNetworkScript(name: string): string {
    const quoted = shellQuote(name);
    return [header, `if docker network inspect ${quoted} >/dev/null 2>&1; then docker network rm ${quoted} >/dev/null; fi`].join("\n");
}

export interface NodeContainerSpec {
    name: string;
    image: string;
    network: string;
    address: string;
    sshPort: number;
    labels: Record<string, string>;
    privileged: "auto" | "always" | "never";
}

/** The node's volume for /var/lib/docker, so its images survive a restart of the container. */
export const volumeOf = (name: string): string => `${name}-docker`;

/**
 * Starts a node container (SSH on 127.0.0.1:sshPort, its engine's data on a volume). The public
 * key comes from the environment (SSH_AUTHORIZED_KEY), extra registries from INSECURE_REGISTRIES.
 */
export function createNodeScript(node: NodeContainerSpec): string {
    const name = shellQuote(node.name);
    const run = [
        "docker run --detach",
        `--name ${name} --hostname ${name}`,
        `--network ${shellQuote(node.network)} --ip ${shellQuote(node.address)}`,
        `--publish ${shellQuote(`127.0.0.1:${node.sshPort}:22`)}`,
        labelFlags(node.labels),
        "--env SSH_AUTHORIZED_KEY --env INSECURE_REGISTRIES",
        `--volume ${shellQuote(`${volumeOf(node.name)}:/var/lib/docker`)}`,
        '"$@"',
        shellQuote(node.image),
    ].join(" ");
    const start = {
        always: ["run_node --privileged"],
        never: [`run_node ${capabilityFlags}`],
        auto: [
            // Engines that may not grant every capability (nested VMs, rootless) refuse --privileged.
            "if ! out=$(run_node --privileged 2>&1); then",
            `    docker rm --force ${name} >/dev/null 2>&1 || true`,
            `    echo "--privileged refused ($out): using the capability set" >&2`,
            `    run_node ${capabilityFlags}`,
            "fi",
        ],
    }[node.privileged];
    return [
        header,
        `run_node() { ${run} >/dev/null; }`,
        `if ! docker container inspect ${name} >/dev/null 2>&1; then`,
        `    docker volume create ${labelFlags(node.labels)} ${shellQuote(volumeOf(node.name))} >/dev/null`,
        ...start.map((line) => `    ${line}`),
        "fi",
        `docker start ${name} >/dev/null`,
        `echo ${name}`,
    ].join("\n");
}

export interface RegistryContainerSpec {
    name: string;
    image: string;
    network: string;
    address: string;
    /** Port on 127.0.0.1 to push to (the engine trusts loopback registries without TLS). */
    hostPort: number;
    labels: Record<string, string>;
}

/** Starts the registry container the nodes pull from; its storage on a volume. */
export function createRegistryScript(registry: RegistryContainerSpec): string {
    const name = shellQuote(registry.name);
    return [
        header,
        `if ! docker container inspect ${name} >/dev/null 2>&1; then`,
        `    docker volume create ${labelFlags(registry.labels)} ${shellQuote(volumeOf(registry.name))} >/dev/null`,
        [
            "    docker run --detach",
            `--name ${name}`,
            `--network ${shellQuote(registry.network)} --ip ${shellQuote(registry.address)}`,
            `--publish ${shellQuote(`127.0.0.1:${registry.hostPort}:5000`)}`,
            labelFlags(registry.labels),
            `--volume ${shellQuote(`${volumeOf(registry.name)}:/var/lib/docker-registry`)}`,
            `${shellQuote(registry.image)} >/dev/null`,
        ].join(" "),
        "fi",
        `docker start ${name} >/dev/null`,
        `for _ in $(seq 30); do curl -fsS -o /dev/null http://127.0.0.1:${registry.hostPort}/v2/ && exit 0; sleep 1; done`,
        `echo "the registry did not answer on 127.0.0.1:${registry.hostPort}" >&2`,
        "exit 1",
    ].join("\n");
}

/** Removes a container made by this module, with its volume. */
export function removeContainerScript(name: string): string {
    const quoted = shellQuote(name);
    const volume = shellQuote(volumeOf(name));
    return [
        header,
        `if docker container inspect ${quoted} >/dev/null 2>&1; then docker rm --force --volumes ${quoted} >/dev/null; fi`,
        `if docker volume inspect ${volume} >/dev/null 2>&1; then docker volume rm ${volume} >/dev/null; fi`,
    ].join("\n");
}
