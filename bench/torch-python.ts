// Which Python runs the PyTorch reference (`--compare-torch`, dev only): the first of
// $EECOT_TORCH_PYTHON, python3 and /usr/bin/python3 with the highest importable torch version
// (Debian's python3-torch 1.13 lives under /usr/bin/python3; a venv with torch 2.x is named by
// EECOT_TORCH_PYTHON or is the python3 on PATH).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface TorchPython {
  readonly python: string;
  readonly executable: string;
  readonly version: string;
  readonly mkldnn: boolean;
  readonly mkl: boolean;
  /** torch.__config__.show(). */
  readonly config: string;
}

/** Numeric parts of a version string ("2.13.0+cpu" → [2, 13, 0]), for ordering. */
export function versionParts(version: string): number[] {
  return (version.split("+")[0] ?? "").split(".").map((part) => Number.parseInt(part, 10) || 0);
}

/** a > b (positive), a < b (negative), equal (0), by numeric parts. */
export function compareVersions(a: string, b: string): number {
  const [x, y] = [versionParts(a), versionParts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export const TORCH_SCALING_SCRIPT = fileURLToPath(new URL("./torch_scaling.py", import.meta.url));

export function torchCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  return [...new Set([env.EECOT_TORCH_PYTHON, "python3", "/usr/bin/python3"].filter((p): p is string => !!p))];
}

/** The candidate with the highest torch version, or null when none imports torch. */
export function pickTorchPython(log: (line: string) => void = () => {}): TorchPython | null {
  let best: TorchPython | null = null;
  for (const python of torchCandidates()) {
    const out = spawnSync(python, [TORCH_SCALING_SCRIPT, "--info"], { encoding: "utf8", timeout: 60_000 });
    if (out.status !== 0) {
      log(`compare-torch: ${python}: no torch (${(out.stderr ?? out.error?.message ?? "").trim().split("\n").at(-1) ?? "failed"})`);
      continue;
    }
    const info = JSON.parse(out.stdout.trim().split("\n").at(-1)!) as Omit<TorchPython, "python">;
    log(`compare-torch: ${python} (${info.executable}): torch ${info.version}`);
    if (!best || compareVersions(info.version, best.version) > 0) best = { python, ...info };
  }
  return best;
}

/** The BLAS / oneDNN / MKL lines of torch.__config__.show(), in one line. */
export function torchBuildSummary(torch: TorchPython): string {
  const lines = torch.config.split("\n").map((l) => l.trim());
  const blas = lines.find((l) => l.startsWith("- BLAS_INFO") || l.includes("BLAS_INFO="))?.match(/BLAS_INFO=([^,\s]+)/)?.[1];
  const lapack = lines.find((l) => l.includes("LAPACK_INFO="))?.match(/LAPACK_INFO=([^,\s]+)/)?.[1];
  const mkl = lines.find((l) => l.startsWith("- Intel(R)") || l.includes("Math Kernel Library"));
  const dnnl = lines.find((l) => l.includes("oneDNN") || l.includes("MKL-DNN"));
  const parts = [`BLAS ${blas ?? "?"}`, lapack ? `LAPACK ${lapack}` : null, `mkldnn ${torch.mkldnn ? "available" : "no"}`, `mkl ${torch.mkl ? "available" : "no"}`, mkl?.replace(/^- /, ""), dnnl?.replace(/^- /, "")];
  return parts.filter(Boolean).join("; ");
}
