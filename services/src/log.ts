// One JSON line per log record on stdout/stderr; a command whose stdout is its output (backup)
// sends the records elsewhere (setLogSink).
export type LogLevel = "info" | "warn" | "error";
type Sink = (level: LogLevel, msg: string, extra: Record<string, unknown>) => void;
let sink: Sink | undefined;

/** Where log records go from now on; undefined: back to stdout/stderr. */
export function setLogSink(s: Sink | undefined): void {
  sink = s;
}

export function log(level: LogLevel, msg: string, extra: Record<string, unknown> = {}): void {
  if (sink) return sink(level, msg, extra);
  const line = JSON.stringify({ t: new Date().toISOString(), level, role: process.env.ROLE ?? process.argv[2], msg, ...extra });
  if (level === "error") process.stderr.write(line + "\n");
  else process.stdout.write(line + "\n");
}
