// A Docker stack as the program deploys it (StackSpec): the built-in pipeline (stacks/) or one
// of your own Compose files (config `stacks`), each read and checked before any resource is made,
// then rendered into what `docker stack deploy` runs on a manager.
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import ignore from "@balena/dockerignore";
import { isMap, parseDocument, stringify } from "yaml";
import type { StackSettings } from "../config";
import { ConfigError, isObject, show } from "../checks";
import type { ImageDefinition } from "../images";
import { EndpointMode, labels } from "../types";

type Json = Record<string, unknown>;

/** A stack whose every part passed its checks. */
export interface StackSpec {
    name: string;
    /** The Compose file it was read from (absolute), for messages; absent for the built-in stack. */
    file?: string;
    /** The Compose document (for a file: as `docker stack config` normalised it), without `build` sections. */
    project: Json;
    /** The Compose format version, kept for the managers' Docker CLI. */
    version: string;
    /** Images built here and pushed to the swarm's registry, by key. */
    builds: Record<string, ImageDefinition>;
    /** Service -> the key of `builds` whose image it runs. */
    builtImages: Record<string, string>;
    /** Swarm configs the stack ships, by their key in `configs`: their content, deployed under a name that changes with it. */
    configs: Record<string, string>;
    /** Swarm secrets the stack ships, by their key in `secrets`: their content is given to the deployment (ComposeStack). */
    secrets: string[];
    /** For a stack of your own: the file of each secret it ships, read when deployed (see ownStackSecrets). */
    secretFiles?: Record<string, string>;
    /** The services whose replica count config may set; absent: every service not in global mode. */
    scalable?: string[];
    /** Service -> replica count from config, overriding the document's. */
    replicas: Record<string, number>;
}

/** What reading a stack needs from the machine: the file's text and the Docker CLI's normalised form. */
export interface ComposeIo {
    read(file: string): string;
    /** `docker stack config --compose-file FILE`: throws with Docker's message when the file breaks the specification. */
    normalise(file: string): string;
    isDirectory(dir: string): boolean;
    /** Files of `dir` (relative, `/`-separated, recursive), for the image's content hash. */
    listFiles(dir: string): string[];
}

const buildKeys = ["context", "dockerfile", "args", "target"];

/** The most a swarm config or secret holds (Docker's limit, 500 KB). */
const maxSwarmObjectBytes = 500 * 1024;

/** The build of one service: its context on this machine and the files whose content versions the image. */
function readBuild(build: unknown, fileDir: string, where: string, io: ComposeIo, problems: string[]): ImageDefinition | undefined {
    const spec = typeof build === "string" ? { context: build } : build;
    if (!isObject(spec)) {
        problems.push(`${where}.build: ${show(build)} is not a context path or {context, dockerfile, args, target}`);
        return undefined;
    }
    for (const key of Object.keys(spec)) {
        if (!buildKeys.includes(key)) problems.push(`${where}.build.${key}: not supported here; supported: ${buildKeys.join(", ")}`);
    }
    if (typeof spec.context !== "string" || /^[a-z]+:\/\//i.test(spec.context) || spec.context.startsWith("git@")) {
        problems.push(`${where}.build.context: ${show(spec.context)} is not a directory on this machine`);
        return undefined;
    }
    const context = path.resolve(fileDir, spec.context);
    if (!io.isDirectory(context)) {
        problems.push(`${where}.build.context: ${context} is not a directory`);
        return undefined;
    }
    const dockerfile = typeof spec.dockerfile === "string" ? spec.dockerfile : "Dockerfile";
    const files = io.listFiles(context);
    if (!files.includes(dockerfile.split(path.sep).join("/"))) {
        problems.push(`${where}.build.dockerfile: ${path.join(context, dockerfile)} does not exist`);
        return undefined;
    }
    // The image's version is the content of what Docker sends as the context: .dockerignore applies.
    const ignored = files.includes(".dockerignore") ? ignore().add(io.read(path.join(context, ".dockerignore"))) : ignore();
    const inputs = files.filter((f) => f === dockerfile || f === ".dockerignore" || !ignored.ignores(f));
    const args = isObject(spec.args) ? Object.fromEntries(Object.entries(spec.args).map(([k, v]) => [k, String(v ?? "")])) : undefined;
    return {
        context,
        dockerfile,
        inputs,
        ...(args ? { buildArgs: args } : {}),
        ...(typeof spec.target === "string" ? { target: spec.target } : {}),
    };
}

/**
 * Checks the replica counts from config (`key`: where config sets them): each names a service
 * that may be scaled, and none a service in global mode.
 */
export function checkReplicas(stack: StackSpec, key: string, problems: string[]): void {
    const services = stack.project.services as Record<string, Json>;
    const valid = stack.scalable ?? Object.keys(services).sort();
    for (const service of Object.keys(stack.replicas)) {
        const deploy = isObject(services[service]?.deploy) ? services[service].deploy as Json : {};
        if (deploy.mode === "global") {
            problems.push(`${key}.${service}: the service runs in global mode (one task per machine); it takes no replica count`);
        } else if (!valid.includes(service)) {
            problems.push(`${key}.${service}: ${stack.file ? `${stack.file} has no such service` : "unknown service"}; valid services: ${valid.join(", ")}`);
        }
    }
}

/** Reads one stack's file and checks it; each problem names the stack, the file and the key. */
function loadStack(name: string, settings: StackSettings, projectDir: string, io: ComposeIo, problems: string[]): StackSpec | undefined {
    const file = path.resolve(projectDir, settings.file);
    const where = `stacks.${name}: ${file}`;
    let text: string;
    try {
        text = io.read(file);
    } catch (err) {
        problems.push(`${where}: cannot read the file: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "it does not exist" : (err as Error).message}`);
        return undefined;
    }
    const doc = parseDocument(text);
    if (doc.errors.length > 0) {
        problems.push(`${where}: not valid YAML: ${doc.errors[0].message.split("\n")[0].replace(/:$/, "")}`);
        return undefined;
    }
    const raw: unknown = doc.toJS();
    if (!isMap(doc.contents) || !isObject(raw) || !isObject(raw.services) || Object.keys(raw.services).length === 0) {
        problems.push(`${where}: services: a Compose file needs a map of services`);
        return undefined;
    }
    let project: Json;
    try {
        project = parseDocument(io.normalise(file)).toJS() as Json;
    } catch (err) {
        problems.push(`${where}: breaks the Compose specification: ${(err as Error).message.trim()}`);
        return undefined;
    }
    const before = problems.length;
    const builds: Record<string, ImageDefinition> = {};
    // A built service runs the image built here: the manager has no build context.
    const services: Record<string, Json> = {};
    for (const [service, { build, ...spec }] of Object.entries(project.services as Record<string, Json>)) {
        services[service] = spec;
        const key = `${where}: services.${service}`;
        if (build !== undefined) {
            const image = readBuild(build, path.dirname(file), key, io, problems);
            if (image) builds[service] = image;
        } else if (typeof spec.image !== "string") {
            problems.push(`${key}: needs an image or a build section`);
        }
    }
    // The files of configs and secrets are read here and created on the swarm from stdin (the
    // manager has no such files): a config's text goes into the stack, a secret's file is named.
    const configs: Record<string, string> = {};
    const secretFiles: Record<string, string> = {};
    for (const section of ["configs", "secrets"] as const) {
        for (const [entry, spec] of Object.entries(isObject(project[section]) ? project[section] : {})) {
            if (!isObject(spec) || spec.file === undefined) continue;
            const source = path.resolve(path.dirname(file), String(spec.file));
            const key = `${where}: ${section}.${entry}.file`;
            let content: string;
            try {
                content = io.read(source);
            } catch (err) {
                problems.push(`${key}: cannot read ${source}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "it does not exist" : (err as Error).message}`);
                continue;
            }
            if (Buffer.byteLength(content) > maxSwarmObjectBytes) {
                problems.push(`${key}: ${source} has ${Buffer.byteLength(content)} bytes; a swarm ${section.slice(0, -1)} holds at most ${maxSwarmObjectBytes}`);
            } else if (section === "configs") {
                configs[entry] = content;
            } else {
                secretFiles[entry] = source;
            }
        }
    }
    const stack: StackSpec = {
        name,
        file,
        project: { ...project, services },
        version: typeof raw.version === "string" ? raw.version : "3.8",
        builds,
        builtImages: Object.fromEntries(Object.keys(builds).map((service) => [service, service])),
        configs,
        secrets: Object.keys(secretFiles),
        secretFiles,
        replicas: settings.replicas,
    };
    checkReplicas(stack, `stacks.${name}.replicas`, problems);
    return problems.length > before ? undefined : stack;
}

/**
 * Reads every stack of the config and checks it: the file is there and parses, `docker stack
 * config` accepts it, `replicas` names its services, and what it builds has a registry to go to
 * (`hasRegistry`). Throws a ConfigError listing every problem.
 */
export function loadComposeStacks(stacks: Record<string, StackSettings>, projectDir: string, io: ComposeIo, hasRegistry = true): StackSpec[] {
    const problems: string[] = [];
    const loaded = Object.entries(stacks).map(([name, settings]) => loadStack(name, settings, projectDir, io, problems));
    for (const stack of loaded) {
        const built = Object.keys(stack?.builds ?? {});
        if (stack && built.length > 0 && !hasRegistry) {
            problems.push(`stacks.${stack.name}: ${stack.file}: services ${built.join(", ")} have a build section, and there is no registry to push them to: set registry.address`);
        }
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return loaded.filter((s): s is StackSpec => s !== undefined);
}

export interface StackRenderOptions {
    /** Key of the stack's builds -> pushed image reference. */
    images: Record<string, string>;
    endpointMode: EndpointMode;
    /** Key of the stack's secrets -> the swarm secret's name (see swarmObjectName). */
    secrets?: Record<string, string>;
}

/** The name of a config or secret the stack ships: a new content gets a new name (they cannot change). */
export function swarmObjectName(stack: string, key: string, content: string): string {
    return `${stack}_${key}_${crypto.createHash("sha256").update(content).digest("hex").slice(0, 12)}`;
}

/** Where a stack's images go under the registry's `root` path: the built-in stack's (named `root`) at the root, yours beneath it. */
export const imageRepository = (root: string, stack: StackSpec): string => (stack.name === root ? root : `${root}/${stack.name}`);

/** Every image path the stacks push to, relative to `root`: a registry that needs repositories made first (ECR) makes these. */
export const imagePaths = (root: string, stacks: StackSpec[]): string[] =>
    stacks.flatMap((stack) => Object.keys(stack.builds).map((key) => `${imageRepository(root, stack)}/${key}`.slice(root.length + 1)));

/** Docker's own rotating log files: at most 3 of 10 MB a task, which `docker service logs` reads. */
export const rotatedLogs = { driver: "json-file", options: { "max-size": "10m", "max-file": "3" } };

/**
 * The Compose file deployed on the manager: built services name their pushed image, config
 * replica counts override the document's, shipped configs are external ones named after their
 * content, and where the kernels have no IPVS every service uses DNS round-robin and publishes
 * its ports on the machines running it (no routing mesh).
 */
export function renderStackCompose(stack: StackSpec, options: StackRenderOptions): string {
    const services: Record<string, Json> = {};
    for (const [name, original] of Object.entries(stack.project.services as Record<string, Json>)) {
        // The env files' variables are in `environment` already, and the manager has no such files.
        const service = { ...original };
        delete service.env_file;
        const build = stack.builtImages[name];
        if (build !== undefined) {
            const image = options.images[build];
            if (!image) throw new Error(`stack ${stack.name}: no image reference for service ${name}`);
            service.image = image;
        }
        const deploy: Json = { ...(isObject(service.deploy) ? service.deploy : {}) };
        if (stack.replicas[name] !== undefined) deploy.replicas = stack.replicas[name];
        if (options.endpointMode === "dnsrr") {
            deploy.endpoint_mode = "dnsrr";
            if (Array.isArray(service.ports)) service.ports = service.ports.map((p) => (isObject(p) ? { ...p, mode: "host" } : p));
        }
        if (Object.keys(deploy).length > 0) service.deploy = deploy;
        // A task's log is kept in bounded files, so a long-lived machine's disk never fills with it
        // (a service that says how it logs keeps its own).
        service.logging ??= rotatedLogs;
        services[name] = service;
    }
    const external = (section: "configs" | "secrets", names: Record<string, string>) => (Object.keys(names).length === 0 ? {} : {
        [section]: {
            ...(isObject(stack.project[section]) ? stack.project[section] : {}),
            ...Object.fromEntries(Object.entries(names).map(([key, name]) => [key, { external: true, name }])),
        },
    });
    const configs = external("configs", Object.fromEntries(Object.entries(stack.configs).map(([key, content]) => [key, swarmObjectName(stack.name, key, content)])));
    const missing = stack.secrets.filter((key) => !options.secrets?.[key]);
    if (missing.length > 0) throw new Error(`stack ${stack.name}: no swarm secret for ${missing.join(", ")}`);
    const secrets = external("secrets", Object.fromEntries(stack.secrets.map((key) => [key, options.secrets![key]])));
    // The version comes first, and it is the one the file declares (not the normalised one).
    const document: Json = { version: stack.version, ...stack.project, services, ...labelledVolumes(stack.project.volumes), ...configs, ...secrets };
    document.version = stack.version;
    return stringify(document);
}

/** The stack's own volumes (not `external` ones) carry the stack-data label: they go with the machines that leave the swarm. */
function labelledVolumes(volumes: unknown): { volumes?: Json } {
    if (!isObject(volumes) || Object.keys(volumes).length === 0) return {};
    const label = labels.stackData;
    return {
        volumes: Object.fromEntries(Object.entries(volumes).map(([name, original]) => {
            const volume: Json = isObject(original) ? original : {};
            if (volume.external) return [name, volume];
            const volumeLabels = Array.isArray(volume.labels) ? [...volume.labels, `${label}=true`] : { ...(isObject(volume.labels) ? volume.labels : {}), [label]: "true" };
            return [name, { ...volume, labels: volumeLabels }];
        })),
    };
}

/** A global service that runs only on the edge machines (every manager). */
const onEdgeOnly = (deploy: Json): boolean =>
    isObject(deploy.placement) && Array.isArray(deploy.placement.constraints) && deploy.placement.constraints.includes(`node.labels.${labels.edge} == true`);

/**
 * The `services` output: each service's image and its replica count; a service in global mode has
 * one only when it runs on the edge machines alone (`edgeNodes` of them).
 */
export function describeStackServices(stack: StackSpec, images: Record<string, string>, edgeNodes?: number): Record<string, { image: string; replicas?: number }> {
    return Object.fromEntries(Object.entries(stack.project.services as Record<string, Json>).map(([name, service]) => {
        const deploy = isObject(service.deploy) ? service.deploy : {};
        const image = images[stack.builtImages[name]] ?? String(service.image);
        if (deploy.mode === "global") return [name, { image, ...(edgeNodes !== undefined && onEdgeOnly(deploy) ? { replicas: edgeNodes } : {}) }];
        return [name, { image, replicas: stack.replicas[name] ?? (typeof deploy.replicas === "number" ? deploy.replicas : 1) }];
    }));
}

/** `docker stack config`: the Docker CLI's own loader, the one `docker stack deploy` runs (no daemon needed). */
function dockerStackConfig(file: string): string {
    const result = spawnSync("docker", ["stack", "config", "--compose-file", file], { encoding: "utf8" });
    if (result.error) throw new Error(`cannot run the Docker CLI (docker), which checks Compose files: ${result.error.message}`);
    if (result.status !== 0) throw new Error(result.stderr.trim() || `docker stack config exited with ${result.status}`);
    return result.stdout;
}

/** The machine's side of ComposeIo: the file system and the Docker CLI. */
export function localComposeIo(): ComposeIo {
    const listFiles = (dir: string, prefix = ""): string[] =>
        fs.readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
            const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
            return entry.isDirectory() ? listFiles(dir, relative) : [relative];
        }).sort();
    return {
        read: (file) => fs.readFileSync(file, "utf8"),
        normalise: dockerStackConfig,
        isDirectory: (dir) => fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory() ?? false,
        listFiles: (dir) => listFiles(dir),
    };
}
