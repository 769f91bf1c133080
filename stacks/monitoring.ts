// The stack's monitoring (config `monitoring: true`): Prometheus on manager 0, which finds every
// task of the pipeline's roles through Docker Swarm service discovery (the manager's Docker
// socket), scrapes their /metrics on the stack's network, watches the machines' states, and
// evaluates the alert rules below. Pure functions of the stack's name and roles: the Prometheus
// config and rules as YAML text, shipped as the stack's swarm configs.
import { stringify } from "yaml";
import { labels } from "../components/types";

/** Where Prometheus answers, in its task and (behind the admin token) through the gateway. */
export const prometheusPort = 9090;
export const prometheusPath = "/prometheus";

/** Where the stack mounts the config and the rules in Prometheus's task. */
export const prometheusFiles = { config: "/etc/prometheus/prometheus.yml", rules: "/etc/prometheus/rules.yml" };

/** A Docker label as Prometheus's service discovery names it: every character outside [a-zA-Z0-9_] becomes "_". */
const sdLabel = (kind: "service" | "node", label: string) => `__meta_dockerswarm_${kind}_label_${label.replace(/[^a-zA-Z0-9_]/g, "_")}`;

const regexQuote = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const dockerSd = (role: "tasks" | "nodes") => ({ host: "unix:///var/run/docker.sock", role, port: 8080, refresh_interval: "10s" });
const self = `127.0.0.1:${prometheusPort}`;

/**
 * Prometheus's config for stack `stackName`, whose `roles` serve /metrics on port 8080 on network
 * `network`. Three jobs:
 * - `pipeline`: every running task of the roles, labelled `service` (the Docker service), `role`
 *   and `machine` (the roles' own samples carry the same `role`);
 * - `machines`: one series per swarm node, `up{job="machines", machine, status}` (its target is
 *   Prometheus itself with the node's labels: Swarm gives node states, not an endpoint on them);
 * - `prometheus`: itself.
 */
export function prometheusConfig(stackName: string, roles: string[], network: string): string {
    const machine = { source_labels: [sdLabel("node", labels.nodeName)], target_label: "machine" };
    return stringify({
        global: { scrape_interval: "10s", evaluation_interval: "10s", external_labels: { stack: stackName } },
        rule_files: [prometheusFiles.rules],
        scrape_configs: [
            {
                job_name: "pipeline",
                // The roles label their samples with their role themselves: the same value.
                honor_labels: true,
                dockerswarm_sd_configs: [{ ...dockerSd("tasks"), filters: [{ name: "desired-state", values: ["running"] }] }],
                relabel_configs: [
                    { source_labels: [sdLabel("service", labels.stackNamespace)], regex: regexQuote(stackName), action: "keep" },
                    { source_labels: ["__meta_dockerswarm_task_state"], regex: "running", action: "keep" },
                    // One target per task: its address on the stack's own network.
                    { source_labels: ["__meta_dockerswarm_network_name"], regex: regexQuote(`${stackName}_${network}`), action: "keep" },
                    { source_labels: ["__meta_dockerswarm_service_name"], regex: `${regexQuote(stackName)}_(${roles.map(regexQuote).join("|")})`, action: "keep" },
                    { source_labels: ["__meta_dockerswarm_service_name"], target_label: "service" },
                    { source_labels: ["__meta_dockerswarm_service_name"], regex: `${regexQuote(stackName)}_(.+)`, target_label: "role" },
                    machine,
                    { source_labels: ["__meta_dockerswarm_task_slot"], target_label: "slot" },
                ],
            },
            {
                job_name: "machines",
                metrics_path: `${prometheusPath}/metrics`,
                dockerswarm_sd_configs: [dockerSd("nodes")],
                relabel_configs: [
                    machine,
                    { source_labels: ["__meta_dockerswarm_node_status"], target_label: "status" },
                    { source_labels: ["__meta_dockerswarm_node_role"], target_label: "node_role" },
                    { target_label: "__address__", replacement: self },
                ],
                // Only `up` is wanted from these scrapes.
                metric_relabel_configs: [{ source_labels: ["__name__"], regex: ".+", action: "drop" }],
            },
            { job_name: "prometheus", metrics_path: `${prometheusPath}/metrics`, static_configs: [{ targets: [self] }] },
        ],
    });
}

/** How long a condition holds before its alert fires. */
export const alertAfter = { roleWithoutTask: "1m", lagGrowing: "5m", storeNearlyFull: "2m", machineDown: "1m" };

/**
 * The alert rules: a role with no task answering, a consumer's backlog growing for 5 minutes,
 * the profile store near its memory limit, a machine not ready. One rule a role, so each alert
 * names its role even when it has no series left.
 */
export function alertRules(roles: string[]): string {
    const pending = "max by (stream, consumer) (categorisation_consumer_pending_messages)";
    return stringify({
        groups: [
            {
                name: "pipeline",
                rules: [
                    ...roles.map((role) => ({
                        alert: "RoleWithoutTask",
                        expr: `absent(up{job="pipeline", role="${role}"} == 1)`,
                        for: alertAfter.roleWithoutTask,
                        labels: { severity: "critical", role },
                        annotations: { summary: `No ${role} task answers: the role's work stops` },
                    })),
                    {
                        alert: "ConsumerLagGrowing",
                        expr: `deriv((${pending})[5m:30s]) > 0 and ${pending} > 100`,
                        for: alertAfter.lagGrowing,
                        labels: { severity: "warning" },
                        annotations: { summary: "The backlog of consumer {{ $labels.consumer }} on {{ $labels.stream }} has grown for 5 minutes ({{ $value }} messages/s)" },
                    },
                    {
                        alert: "ProfileStoreNearlyFull",
                        expr: "max(categorisation_redis_used_memory_bytes) / max(categorisation_redis_max_memory_bytes > 0) > 0.9",
                        for: alertAfter.storeNearlyFull,
                        labels: { severity: "critical" },
                        annotations: { summary: "Redis uses {{ $value | humanizePercentage }} of its maxmemory: when full it refuses profile updates (redis.maxMemory, privacy.retention)" },
                    },
                    {
                        alert: "MachineDown",
                        expr: 'up{job="machines", status!="ready"}',
                        for: alertAfter.machineDown,
                        labels: { severity: "critical" },
                        annotations: { summary: "Machine {{ $labels.machine }} is {{ $labels.status }} in the swarm" },
                    },
                ],
            },
        ],
    });
}
