// Your own Compose stacks (config `stacks`): each file read, checked and normalised before any
// resource is made, then rendered into what `docker stack deploy` runs on a manager.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import ignore from "@balena/dockerignore";
import { isMap, parseDocument, stringify } from "yaml";
import type { ImageDefinition } from "../../stacks/types";
import { ConfigError, isObject, StackSettings } from "../config";
import type { EndpointMode } from "../stack/compose";
import { stackDataLabel } from "../swarm/scripts";

type Json = Record<string, unknown>;

/** A stack from config whose file passed every check. */
export interface ComposeStackFile {
    name: string;
    /** Absolute path of the Compose file. */
    file: string;
    /** The file as `docker stack config` normalised it: variables interpolated, env files read, paths absolute. */
    project: Json;
    /** The `version` the file declares, kept for the managers' Docker CLI. */
    version: string;
    /** Services with a `build:` section: the image built here and pushed to the swarm's registry. */
    builds: Record<string, ImageDefinition>;
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

/** The build of one service: its context on this machine and the files whose content versions the image. */
function readBuild(build: unknown, fileDir: string, where: string, io: ComposeIo, problems: string[]): ImageDefinition | undefined {
    const spec = typeof build === "string" ? { context: build } : build;
    if (!isObject(spec)) {
        problems.push(`${where}.build: ${JSON.stringify(build)} is not a context path or {context, dockerfile, args, target}`);
        return undefined;
    }
    for (const key of Object.keys(spec)) {
        if (!buildKeys.includes(key)) problems.push(`${where}.build.${key}: not supported here; supported: ${buildKeys.join(", ")}`);
    }
    if (typeof spec.context !== "string" || /^[a-z]+:\/\//i.test(spec.context) || spec.context.startsWith("git@")) {
        problems.push(`${where}.build.context: ${JSON.stringify(spec.context)} is not a directory on this machine`);
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

/** Reads one stack's file and checks it; each problem names the stack, the file and the key. */
function loadStack(name: string, settings: StackSettings, projectDir: string, io: ComposeIo, problems: string[]): ComposeStackFile | undefined {
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
    const services = project.services as Record<string, Json>;
    const names = Object.keys(services);
    const builds: Record<string, ImageDefinition> = {};
    for (const [service, spec] of Object.entries(services)) {
        const key = `${where}: services.${service}`;
        if (spec.build !== undefined) {
            const build = readBuild(spec.build, path.dirname(file), key, io, problems);
            if (build) builds[service] = build;
        } else if (typeof spec.image !== "string") {
            problems.push(`${key}: needs an image or a build section`);
        }
        const mode = isObject(spec.deploy) ? spec.deploy.mode : undefined;
        if (settings.replicas[service] !== undefined && mode === "global") {
            problems.push(`stacks.${name}.replicas.${service}: the service runs in global mode (one task per machine); it takes no replica count`);
        }
    }
    for (const service of Object.keys(settings.replicas)) {
        if (!names.includes(service)) problems.push(`stacks.${name}.replicas.${service}: ${file} has no such service; valid services: ${names.join(", ")}`);
    }
    // Files named in configs and secrets are read by the Docker CLI on the manager, where they are not.
    for (const section of ["configs", "secrets"]) {
        for (const [entry, spec] of Object.entries(isObject(project[section]) ? project[section] : {})) {
            if (isObject(spec) && spec.file !== undefined) {
                problems.push(`${where}: ${section}.${entry}.file: files are not shipped to the swarm; create the ${section.slice(0, -1)} on the swarm and mark it external`);
            }
        }
    }
    if (problems.length > before) return undefined;
    return { name, file, project, version: typeof raw.version === "string" ? raw.version : "3.8", builds, replicas: settings.replicas };
}

/**
 * Reads every stack of the config and checks it: the file is there and parses, `docker stack
 * config` accepts it, `replicas` names its services, and what it builds has a registry to go to
 * (`hasRegistry`). Throws a ConfigError listing every problem.
 */
export function loadComposeStacks(stacks: Record<string, StackSettings>, projectDir: string, io: ComposeIo, hasRegistry = true): ComposeStackFile[] {
    const problems: string[] = [];
    const loaded = Object.entries(stacks).map(([name, settings]) => loadStack(name, settings, projectDir, io, problems));
    for (const stack of loaded) {
        const built = Object.keys(stack?.builds ?? {});
        if (stack && built.length > 0 && !hasRegistry) {
            problems.push(`stacks.${stack.name}: ${stack.file}: services ${built.join(", ")} have a build section, and there is no registry to push them to: set registry.address`);
        }
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return loaded.filter((s): s is ComposeStackFile => s !== undefined);
}

export interface StackRenderOptions {
    /** Service -> pushed image reference, for the services built here. */
    images: Record<string, string>;
    endpointMode: EndpointMode;
}

/**
 * The Compose file deployed on the manager: built services name their pushed image, config
 * replica counts override the file's, and where the kernels have no IPVS every service uses DNS
 * round-robin and publishes its ports on the machines running it (no routing mesh).
 */
export function renderStackCompose(stack: ComposeStackFile, options: StackRenderOptions): string {
    const services: Record<string, Json> = {};
    for (const [name, original] of Object.entries(stack.project.services as Record<string, Json>)) {
        // The env files' variables are in `environment` already, and the manager has no such files.
        const { build, ...service } = original;
        delete service.env_file;
        if (build !== undefined) {
            const image = options.images[name];
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
        services[name] = service;
    }
    return stringify({ ...stack.project, version: stack.version, services, ...labelledVolumes(stack.project.volumes) });
}

/** The file's own volumes (not `external` ones) carry `stackDataLabel`: they go with the machines that leave the swarm. */
function labelledVolumes(volumes: unknown): { volumes?: Json } {
    if (!isObject(volumes)) return {};
    return {
        volumes: Object.fromEntries(Object.entries(volumes).map(([name, original]) => {
            const volume: Json = isObject(original) ? original : {};
            if (volume.external) return [name, volume];
            const labels = Array.isArray(volume.labels) ? [...volume.labels, `${stackDataLabel}=true`] : { ...(isObject(volume.labels) ? volume.labels : {}), [stackDataLabel]: "true" };
            return [name, { ...volume, labels }];
        })),
    };
}

/** The `services` output: each service's image and, unless it runs in global mode, its replica count. */
export function describeStackServices(stack: ComposeStackFile, images: Record<string, string>): Record<string, { image: string; replicas?: number }> {
    return Object.fromEntries(Object.entries(stack.project.services as Record<string, Json>).map(([name, service]) => {
        const deploy = isObject(service.deploy) ? service.deploy : {};
        const replicas = stack.replicas[name] ?? (typeof deploy.replicas === "number" ? deploy.replicas : 1);
        return [name, { image: images[name] ?? String(service.image), ...(deploy.mode === "global" ? {} : { replicas }) }];
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
