// Docker CLI scripts run on the machine running Pulumi to make the local provider's nodes and
// registry (scripts/*.sh beside this file). Idempotent: each checks whether its object exists
// before creating or removing it. These functions only name a script and its parameters; the
// labels a script sets come to it as arguments or parameters, never as literals of its own.
import { labelArgs, ScriptParams, scriptsIn } from "../shell";
import { labels } from "../types";
import type { PrivilegeMode } from "./config";

const script = scriptsIn(__dirname);

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

export interface ImageBuild {
    tag: string;
    contextDir: string;
    /** Present on this machine's engine (see BaseImage). */
    baseImage: string;
}

/** Builds the node image unless an image with its content-derived tag exists. */
export const buildImageScript = (build: ImageBuild): string =>
    script("build-image", { TAG: build.tag, CONTEXT_DIR: build.contextDir, BASE_IMAGE: build.baseImage });

export interface NetworkSpec {
    name: string;
    subnet: string;
    gateway: string;
    labels: Record<string, string>;
}

export const createNetworkScript = (net: NetworkSpec): string =>
    script("create-network", { NETWORK: net.name, SUBNET: net.subnet, GATEWAY: net.gateway }, labelArgs("--label", net.labels));

export const removeNetworkScript = (name: string): string => script("remove-network", { NETWORK: name });

/**
 * The volume of a container made here: a node's /var/lib/docker. (A registry made before the
 * shared `registryCacheVolume` kept its storage on one too: removing the container removes it.)
 */
export const volumeOf = (name: string): string => `${name}-docker`;

interface ContainerSpec {
    name: string;
    image: string;
    network: string;
    address: string;
    labels: Record<string, string>;
}

/** The parameters every container script takes: the container, its image, and where it runs. */
const containerParams = (spec: ContainerSpec): ScriptParams => ({
    NAME: spec.name,
    IMAGE: spec.image,
    NETWORK: spec.network,
    ADDRESS: spec.address,
});

export interface NodeContainerSpec extends ContainerSpec {
    sshPort: number;
    privileged: PrivilegeMode;
}

/**
 * Starts a node container (SSH on 127.0.0.1:sshPort, its engine's data on a volume). The public
 * key comes from the environment (SSH_AUTHORIZED_KEY), extra registries from INSECURE_REGISTRIES.
 */
export const createNodeScript = (node: NodeContainerSpec): string =>
    script("create-node", { ...containerParams(node), VOLUME: volumeOf(node.name), SSH_PORT: node.sshPort, PRIVILEGED: node.privileged, CAPABILITY_FLAGS: capabilityFlags }, labelArgs("--label", node.labels));

export interface RegistryContainerSpec extends ContainerSpec {
    /** Port on 127.0.0.1 to push to (the engine trusts loopback registries without TLS). */
    hostPort: number;
}

/**
 * The storage of every local registry on this engine: content-addressed layers and tags that are
 * content hashes, so that a stack made again, or another local stack, finds the images pushed
 * before and pushes nothing. It outlives the stacks, like the engine's own image cache.
 */
export const registryCacheVolume = "swarm-registry-cache";

/** Starts the registry container the nodes pull from (its storage on `registryCacheVolume`); waits until it answers. */
export const createRegistryScript = (registry: RegistryContainerSpec): string =>
    script("create-registry", {
        ...containerParams(registry),
        HOST_PORT: registry.hostPort,
        STORAGE_VOLUME: registryCacheVolume,
        CACHE_LABEL: labels.registryCache,
    }, labelArgs("--label", registry.labels));

/** What is there now of a container made here (`running`, `stopped`; exit 3 when gone), for refresh. */
export const readContainerScript = (name: string): string => script("read-container", { NAME: name });

/** Whether the nodes' network is there (exit 3 when gone), for refresh. */
export const readNetworkScript = (name: string): string => script("read-network", { NETWORK: name });

/** Removes a container made by this module, with its volume. */
export const removeContainerScript = (name: string): string => script("remove-container", { NAME: name, VOLUME: volumeOf(name) });
