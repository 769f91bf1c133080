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
    /** Present on this machine's engine (see BaseImage). */
    baseImage: string;
}

/** Builds the node image unless an image with its content-derived tag exists. */
export function buildImageScript(build: ImageBuild): string {
    const tag = shellQuote(build.tag);
    return [
        header,
        `if docker image inspect ${tag} >/dev/null 2>&1; then exit 0; fi`,
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

/** The volume of a container made here (a node's /var/lib/docker, the registry's storage). */
export const volumeOf = (name: string): string => `${name}-docker`;

interface ContainerSpec {
    name: string;
    image: string;
    network: string;
    address: string;
    /** Published on 127.0.0.1: host port -> container port. */
    publish: [number, number];
    labels: Record<string, string>;
    /** Where the container's volume is mounted. */
    volumeAt: string;
    /** Further `docker run` flags. */
    flags?: string;
}

/**
 * Shell that defines `run_container [flags...]` (docker run with the spec) and calls `start`
 * (lines using it) unless the container exists, then makes sure it runs.
 */
function ensureContainer(spec: ContainerSpec, start: string[]): string[] {
    const name = shellQuote(spec.name);
    const run = [
        "docker run --detach",
        `--name ${name} --hostname ${name}`,
        `--network ${shellQuote(spec.network)} --ip ${shellQuote(spec.address)}`,
        `--publish ${shellQuote(`127.0.0.1:${spec.publish[0]}:${spec.publish[1]}`)}`,
        labelFlags(spec.labels),
        `--volume ${shellQuote(`${volumeOf(spec.name)}:${spec.volumeAt}`)}`,
        ...(spec.flags ? [spec.flags] : []),
        '"$@"',
        shellQuote(spec.image),
    ].join(" ");
    return [
        `run_container() { ${run} >/dev/null; }`,
        `if ! docker container inspect ${name} >/dev/null 2>&1; then`,
        `    docker volume create ${labelFlags(spec.labels)} ${shellQuote(volumeOf(spec.name))} >/dev/null`,
        ...start.map((line) => `    ${line}`),
        "fi",
        `docker start ${name} >/dev/null`,
    ];
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

/**
 * Starts a node container (SSH on 127.0.0.1:sshPort, its engine's data on a volume). The public
 * key comes from the environment (SSH_AUTHORIZED_KEY), extra registries from INSECURE_REGISTRIES.
 */
export function createNodeScript(node: NodeContainerSpec): string {
    const start = {
        always: ["run_container --privileged"],
        never: [`run_container ${capabilityFlags}`],
        auto: [
            // Engines that may not grant every capability (nested VMs, rootless) refuse --privileged.
            "if ! out=$(run_container --privileged 2>&1); then",
            `    docker rm --force ${shellQuote(node.name)} >/dev/null 2>&1 || true`,
            `    echo "--privileged refused ($out): using the capability set" >&2`,
            `    run_container ${capabilityFlags}`,
            "fi",
        ],
    }[node.privileged];
    const spec: ContainerSpec = {
        ...node,
        publish: [node.sshPort, 22],
        volumeAt: "/var/lib/docker",
        flags: "--env SSH_AUTHORIZED_KEY --env INSECURE_REGISTRIES",
    };
    return [header, ...ensureContainer(spec, start), `echo ${shellQuote(node.name)}`].join("\n");
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

/** Starts the registry container the nodes pull from (its storage on a volume); waits until it answers. */
export function createRegistryScript(registry: RegistryContainerSpec): string {
    const spec: ContainerSpec = { ...registry, publish: [registry.hostPort, 5000], volumeAt: "/var/lib/docker-registry" };
    return [
        header,
        ...ensureContainer(spec, ["run_container"]),
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
