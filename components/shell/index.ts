// Renders the shell scripts that live as .sh files beside the components: the shared helpers
// (lib.sh), then the script's parameters as quoted assignments and its arguments (`set --`), then
// the script. Values reach a script only that way (or on stdin, for secrets), never spliced into
// its code.
import * as fs from "fs";
import * as path from "path";

/** Quotes a value for a POSIX shell. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

export type ScriptParams = Record<string, string | number | boolean>;

const libFile = path.join(__dirname, "lib.sh");

/** The file without its shebang, shellcheck directives and comment-only lines (kept in the state: small). */
function scriptBody(file: string): string {
    return fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => !/^\s*#/.test(line) && line.trim() !== "")
        .join("\n");
}

/** Shell assignments of the parameters, one per line. Names are upper-case shell identifiers. */
export function renderParams(params: ScriptParams): string {
    return Object.entries(params)
        .map(([name, value]) => {
            if (!/^[A-Z][A-Z0-9_]*$/.test(name)) throw new Error(`script parameter ${name}: not an upper-case shell name`);
            return `${name}=${shellQuote(String(value))}`;
        })
        .join("\n");
}

/** The text to run: helpers, parameters, arguments (`"$@"` in the script), then `file` (a .sh file of the project). */
export function renderScript(file: string, params: ScriptParams = {}, args: string[] = []): string {
    const setArgs = args.length > 0 ? `set -- ${args.map(shellQuote).join(" ")}` : "";
    return [scriptBody(libFile), renderParams(params), setArgs, scriptBody(file)].filter(Boolean).join("\n");
}

/** The renderer of the scripts in `<dir>/scripts/`: `script(name, params, args)` renders `<name>.sh`. */
export const scriptsIn = (dir: string) => (name: string, params: ScriptParams = {}, args: string[] = []): string =>
    renderScript(path.join(dir, "scripts", `${name}.sh`), params, args);

/** Docker label options (`flag key=value` for each label, by key), for a script's arguments. */
export function labelArgs(flag: string, labels: Record<string, string>): string[] {
    return Object.entries(labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .flatMap(([key, value]) => {
            if (key === "" || key.includes("=")) throw new Error(`label ${JSON.stringify(key)}: a key is not empty and holds no '='`);
            return [flag, `${key}=${value}`];
        });
}
