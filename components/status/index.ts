// `npm run status`: what runs where, read over SSH from a manager that answers, and the pipeline's
// figures. The parsing and rendering are pure functions; scripts/status.ts does the I/O.
import { scriptsIn } from "../shell";
import { labels } from "../types";

const script = scriptsIn(__dirname);


/** The script a manager runs: machines, services, tasks and JetStream consumers, as JSON lines (see parseStatus). */
export const statusScript = (stack: string): string => script("status", { STACK: stack, STACK_LABEL: labels.stackNamespace, SERVICE_NAME_LABEL: labels.serviceName });

/** Docker's durations (`10m`, `1h30m`) or times (`2026-12-07T10:00:00`, a Unix time) that `docker service logs --since` takes. */
const since = /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$|^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$|^\d+(\.\d+)?$/;

export interface LogsRequest {
    /** The Docker stack. */
    stack: string;
    /** A service of it, without the stack's prefix (`collector`). */
    service: string;
    since?: string;
    follow: boolean;
}

/** Checks a `npm run logs` request: the problems, none when it can run. */
export function logsProblems(request: LogsRequest): string[] {
    const problems: string[] = [];
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(request.service)) problems.push(`${JSON.stringify(request.service)} is not a service name (like collector)`);
    if (request.since !== undefined && !since.test(request.since)) problems.push(`--since ${JSON.stringify(request.since)} is not a duration (10m, 1h30m) or a time (2026-12-07T10:00:00)`);
    return problems;
}

/** The script a manager runs: the service's lines from every task, each with its task, machine and time. */
export const logsScript = (request: LogsRequest): string =>
    script("logs", { STACK: request.stack, SERVICE: request.service, SINCE: request.since ?? "", FOLLOW: request.follow });

export interface ConsumerLag {
    stream: string;
    consumer: string;
    /** Messages not yet delivered to the consumer. */
    pending: number;
    /** Messages delivered and not yet acknowledged. */
    unacked: number;
}

export interface SwarmStatus {
    /** `[name, role, state, availability]`, role `manager <status>` or `worker`. */
    machines: string[][];
    /** `[name, running/desired, image]`. */
    services: string[][];
    /** `[machine, task, state]`, running tasks. */
    tasks: string[][];
    /** Absent when no NATS server of the stack runs on the manager. */
    consumers?: ConsumerLag[];
}

interface Jsz {
    account_details?: { stream_detail?: { name: string; consumer_detail?: { name: string; num_pending?: number; num_ack_pending?: number }[] }[] }[];
}

/** The consumers of NATS's `/jsz?consumers=true` answer, with what each has yet to do. */
export function consumerLags(jsz: Jsz): ConsumerLag[] {
    return (jsz.account_details ?? []).flatMap((account) =>
        (account.stream_detail ?? []).flatMap((stream) =>
            (stream.consumer_detail ?? []).map((c) => ({ stream: stream.name, consumer: c.name, pending: c.num_pending ?? 0, unacked: c.num_ack_pending ?? 0 })),
        ),
    );
}

/** A row of `docker node ls`, as `{{json .}}` prints it (the fields used). */
interface NodeRow {
    Hostname: string;
    /** Leader, Reachable or Unreachable; empty on a worker. */
    ManagerStatus?: string;
    Status: string;
    Availability: string;
}

/** A row of `docker service ls`, as `{{json .}}` prints it (the fields used). */
interface ServiceRow {
    Name: string;
    Replicas: string;
    Image: string;
}

/** A row of `docker node ps`, as `{{json .}}` prints it (the fields used). */
interface TaskRow {
    Node: string;
    Name: string;
    CurrentState: string;
}

/** A line of the status script: one key, naming what its value is. */
interface StatusRecord {
    machine?: NodeRow;
    service?: ServiceRow;
    task?: TaskRow;
    consumers?: Jsz;
}

/**
 * The status script's output: one JSON object a line, `{"machine": row}`, `{"service": row}`,
 * `{"task": row}` (docker's rows) or `{"consumers": jsz}`.
 */
export function parseStatus(output: string): SwarmStatus {
    const status: SwarmStatus = { machines: [], services: [], tasks: [] };
    for (const line of output.split("\n")) {
        if (line.trim() === "") continue;
        let record: StatusRecord;
        try {
            record = JSON.parse(line) as StatusRecord;
        } catch {
            throw new Error(`the status script printed a line that is not JSON: ${line.slice(0, 200)}`);
        }
        const { machine, service, task, consumers } = record;
        if (machine) status.machines.push([machine.Hostname, machine.ManagerStatus ? `manager ${machine.ManagerStatus}` : "worker", machine.Status, machine.Availability]);
        if (service) status.services.push([service.Name, service.Replicas, service.Image]);
        if (task) status.tasks.push([task.Node, task.Name, task.CurrentState]);
        if (consumers) status.consumers = consumerLags(consumers);
    }
    return status;
}

/** Rows as columns padded to their widest cell. */
function table(header: string[], rows: string[][]): string[] {
    const all = [header, ...rows];
    const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? "").length)));
    return all.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join("  "));
}

export interface Activity {
    eventsPerSecond: number;
    profiles: number;
}

export interface StatusReport {
    stack: string;
    /** The manager the status was read from. */
    readFrom: string;
    /** Managers that did not answer SSH, with the reason. */
    unreachable: string[];
    status: SwarmStatus;
    /** The pipeline's activity, or why it could not be read. */
    activity: Activity | string;
}

/** One screen: machines, services, tasks per machine, the pipeline. */
export function renderStatus(report: StatusReport): string {
    const { status } = report;
    const lines = [`read from ${report.readFrom}${report.unreachable.length ? `; no answer from ${report.unreachable.join(", ")}` : ""}`, ""];
    lines.push("MACHINES", ...table(["machine", "role", "state", "availability"], status.machines.map(([name, role, state, availability]) => [name, role.trim(), state.toLowerCase(), availability.toLowerCase()])), "");
    lines.push("SERVICES", ...table(["service", "running/desired", "image"], status.services), "");
    lines.push("TASKS");
    const machines = [...new Set([...status.machines.map(([name]) => name), ...status.tasks.map(([node]) => node)])];
    for (const machine of machines) {
        // A global service's task is named after its node's id: the service name says enough. Only
        // tasks that are not running show their state.
        const tasks = status.tasks
            .filter(([node]) => node === machine)
            .map(([, task, state]) => `${task.replace(/\.[0-9a-z]{25}$/, "")}${/^running/i.test(state) ? "" : ` (${state.toLowerCase()})`}`);
        lines.push(`${machine}: ${tasks.length ? tasks.join(", ") : "no tasks"}`);
    }
    lines.push("", `PIPELINE (${report.stack})`);
    if (typeof report.activity === "string") lines.push(`events/s and profiles: ${report.activity}`);
    else lines.push(`events/s over the last minute: ${report.activity.eventsPerSecond.toFixed(1)}`, `profiles: ${report.activity.profiles}`);
    if (!status.consumers) lines.push("consumer lag: no NATS server of the stack on that manager");
    for (const c of status.consumers ?? []) lines.push(`consumer lag ${c.stream}/${c.consumer}: ${c.pending} waiting, ${c.unacked} unacknowledged`);
    return lines.join("\n");
}
