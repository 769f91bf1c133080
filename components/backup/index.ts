// `npm run backup` and `npm run restore`: the pipeline's own backup and restore commands
// (services/src/backup.ts), run in a running profile-api task, whose environment has the stores'
// addresses and credentials; the file streams over SSH. The pure parts live here; scripts/backup.ts
// and scripts/restore.ts do the I/O.
import * as path from "path";
import { scriptsIn } from "../shell";
import { labels } from "../types";

const script = scriptsIn(__dirname);

export type PipelineCommand = "backup" | "restore";

/** What a machine runs: `command` in a running profile-api task of `stack` there, with this script's stdin and stdout. */
export const pipelineCommandScript = (stack: string, command: PipelineCommand): string =>
    script("pipeline-command", { STACK: stack, COMMAND: command, SERVICE_NAME_LABEL: labels.serviceName });

/** pipeline-command.sh's exit status when the machine runs no profile-api task of the stack. */
export const noTaskHere = 5;
/** The restore command's exit status when the backup's store key is not the stack's. */
export const otherStoreKey = 3;

/** The first line of a backup (gzip-compressed JSON lines). */
export interface BackupHeader {
    format: "categorisation-backup";
    version: number;
    createdAt: string;
    /** Secret: the key under which the backup's profiles are kept (a keyed hash of the user IDs). */
    storeKey: string;
}

/** The header of a backup from its first line; an error naming what is wrong (never the key) for anything else. */
export function parseBackupHeader(firstLine: string, file: string): BackupHeader {
    let header: Partial<BackupHeader> | undefined;
    try {
        header = JSON.parse(firstLine) as Partial<BackupHeader>;
    } catch {
        header = undefined;
    }
    if (header?.format !== "categorisation-backup") throw new Error(`${file} is not a backup of the pipeline (made by npm run backup)`);
    if (header.version !== 1) throw new Error(`${file} is a backup of version ${JSON.stringify(header.version)}; this program restores version 1`);
    if (typeof header.storeKey !== "string" || header.storeKey.length < 16) throw new Error(`${file} has no store key in its header`);
    return header as BackupHeader;
}

/** Where a backup goes by default: backups/<stack>-<UTC time>.backup.gz under `dir`. */
export function defaultBackupFile(dir: string, stack: string, now: Date): string {
    const stamp = now.toISOString().replace(/\.\d+Z$/, "Z").replace(/[-:]/g, "");
    return path.join(dir, "backups", `${stack}-${stamp}.backup.gz`);
}
