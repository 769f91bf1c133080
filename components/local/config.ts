// The `local` config: how the local provider's machines (containers on this machine's engine) are
// laid out. Its base image is also the base of every image the program builds, whatever the provider.
import { checkKeys, isNetwork, isObject, readChoice, readInteger, readString, show } from "../checks";
import { defaultBaseImage } from "../images/base";

export const privilegeModes = ["auto", "always", "never"] as const;
/** `auto` tries --privileged and falls back to an explicit capability set. */
export type PrivilegeMode = (typeof privilegeModes)[number];

export interface LocalSettings {
    /** Base image of the images built here (a pulled tag, or the one made offline by scripts/build-base-image.sh). */
    baseImage: string;
    /** Subnet of the nodes' bridge network; nodes get static addresses in it. */
    subnet: string;
    /** Host port (on 127.0.0.1) of manager 0's SSH; other nodes count up from it. */
    sshPortBase: number;
    privileged: PrivilegeMode;
    /** Port on 127.0.0.1 of the registry that stack images are pushed to. */
    registryPort: number;
}

export const localDefaults: LocalSettings = {
    baseImage: defaultBaseImage,
    subnet: "10.213.0.0/24",
    sshPortBase: 2200,
    privileged: "auto",
    registryPort: 5000,
};

/** The `local` config with its defaults filled in; problems are added to `problems`. */
export function validateLocal(raw: unknown, problems: string[]): LocalSettings {
    const settings = { ...localDefaults };
    if (raw === undefined) return settings;
    const allowed = Object.keys(localDefaults);
    if (!isObject(raw)) {
        problems.push(`local: ${show(raw)} is not an object; allowed keys: ${allowed.join(", ")}`);
        return settings;
    }
    checkKeys(raw, allowed, "local", problems);
    if (raw.baseImage !== undefined) {
        settings.baseImage = readString(raw.baseImage, "local.baseImage", (s) => s.trim() !== "", "an image reference", problems) ?? settings.baseImage;
    }
    if (raw.subnet !== undefined) {
        if (isNetwork(raw.subnet, 8, 24)) settings.subnet = raw.subnet;
        else problems.push(`local.subnet: ${show(raw.subnet)} is not an IPv4 network address with a prefix from /8 to /24 (like "10.213.0.0/24")`);
    }
    if (raw.sshPortBase !== undefined) settings.sshPortBase = readInteger(raw.sshPortBase, "local.sshPortBase", 1024, 65000, problems) ?? settings.sshPortBase;
    if (raw.registryPort !== undefined) settings.registryPort = readInteger(raw.registryPort, "local.registryPort", 1024, 65535, problems) ?? settings.registryPort;
    if (raw.privileged !== undefined) settings.privileged = readChoice(raw.privileged, "local.privileged", privilegeModes, problems) ?? settings.privileged;
    return settings;
}
