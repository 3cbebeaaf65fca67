// Progress bars for long phases (rate and ETA) on stderr; in a non-TTY (CI, logs) one line
// every few seconds instead of redrawing.
import cliProgress from "cli-progress";

export interface Progress {
  /** Advance to `value` (absolute) with extra fields shown after the bar, e.g. { loss: "1.23" }. */
  update(value: number, fields?: Record<string, string | number>): void;
  stop(): void;
}

export interface ProgressOptions {
  /** Unit of the rate, e.g. "steps" or "tok". */
  unit?: string;
  /** Silence everything (tests). */
  quiet?: boolean;
  /** Where a resumed job starts: the rate and ETA count only the work done in this run. */
  initial?: number;
}

function formatFields(fields: Record<string, string | number>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k} ${typeof v === "number" ? (Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toPrecision(4)) : v}`)
    .join("  ");
}

export function createProgress(label: string, total: number, options: ProgressOptions = {}): Progress {
  const unit = options.unit ?? "it";
  if (options.quiet || process.env.EECOT_QUIET === "1") return { update: () => {}, stop: () => {} };
  const started = performance.now();
  const initial = options.initial ?? 0;
  if (!process.stderr.isTTY) {
    let lastPrint = 0;
    let last = 0;
    const print = (value: number, fields: Record<string, string | number>) => {
      const seconds = (performance.now() - started) / 1000;
      const rate = (value - initial) / Math.max(seconds, 1e-9);
      const eta = rate > 0 ? (total - value) / rate : 0;
      process.stderr.write(`${label}: ${value}/${total} ${unit}  ${rate.toFixed(2)} ${unit}/s  eta ${eta.toFixed(0)}s  ${formatFields(fields)}\n`);
    };
    let lastFields: Record<string, string | number> = {};
    let printed = -1;
    return {
      update(value, fields = {}) {
        last = value;
        lastFields = fields;
        const now = performance.now();
        if (now - lastPrint > 5000 || value >= total) {
          lastPrint = now;
          printed = value;
          print(value, fields);
        }
      },
      stop() {
        if (printed !== last) print(last, lastFields);
      },
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} |{bar}| {value}/{total} ${unit} | {rate} ${unit}/s | eta {eta_formatted} | {fields}`,
      barsize: 24,
      hideCursor: true,
      stream: process.stderr,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, initial, { rate: "0", fields: "" });
  return {
    update(value, fields = {}) {
      const seconds = (performance.now() - started) / 1000;
      bar.update(value, { rate: ((value - initial) / Math.max(seconds, 1e-9)).toFixed(2), fields: formatFields(fields) });
    },
    stop() {
      bar.stop();
    },
  };
}

/**
 * The A.1 sweep's onProgress(label, done, promptsPerRow) as one bar over every row, the row
 * shown as "row f=0.25" (shared by `eecot sweep-kl` and the pipeline).
 */
export function klSweepProgress(progress: Progress): (label: string, done: number, promptsPerRow: number) => void {
  let finishedRows = 0;
  let lastLabel = "";
  return (label, done, promptsPerRow) => {
    if (label !== lastLabel && lastLabel !== "") finishedRows++;
    lastLabel = label;
    progress.update(finishedRows * promptsPerRow + done, { row: label });
  };
}
