// The `eecot` command as a user runs it (spawned processes): --version, what stderr carries,
// and the last-resort error handlers. After the wasm backend starts, an uncaught error or unhandled rejection is reported by our
// handler ("eecot: <message>", exit code 1), not by the wasm runtime's rethrow (exit code 7).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const script = fileURLToPath(new URL("./fixtures/throw-after-backend.ts", import.meta.url));
const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url));

function eecot(...args: string[]) {
  const result = spawnSync(process.execPath, ["--import", "tsx", bin, "--backend", "wasm", ...args], { cwd: root, encoding: "utf8", timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function runScript(env: Record<string, string>) {
  const result = spawnSync(process.execPath, ["--import", "tsx", script], { cwd: root, encoding: "utf8", env: { ...process.env, ...env }, timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("eecot", () => {
  test("--version prints the package version", () => {
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    const { status, stdout } = eecot("--version");
    expect(stdout.trim()).toBe(version);
    expect(status).toBe(0);
  });

  test("--json: stdout is exactly one JSON document (progress and notes go to stderr)", () => {
    for (const args of [["lens", "--ids", "1,2,3"], ["generate", "--prompt", "What is 2 + 3?", "--max-new-tokens", "4", "--exits", "sample"], ["eval", "--data", "tom:2", "--max-new-tokens", "6"]]) {
      const { status, stdout } = eecot(...args, "--json");
      expect(status, args.join(" ")).toBe(0);
      expect(() => JSON.parse(stdout), args.join(" ")).not.toThrow();
    }
  });

  test("the memory estimate is printed for the bundled model only with --verbose", () => {
    const quiet = eecot("lens", "--ids", "1,2,3");
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).not.toContain("memory estimate");
    const verbose = eecot("--verbose", "lens", "--ids", "1,2,3");
    expect(verbose.status).toBe(0);
    expect(verbose.stderr).toMatch(/eecot: memory estimate for 1\.\dM parameters/);
  });
});

describe("uncaught errors after the wasm backend starts", () => {
  test("an uncaught exception prints our message and exits with 1", () => {
    const { status, stdout, stderr } = runScript({ EECOT_THROW: "exception" });
    expect(stdout).toContain("KL(final‖layer)"); // the command really ran
    expect(stderr).toContain("eecot: an uncaught error after the backend started");
    expect(stderr).not.toContain("throw ex");
    expect(status).toBe(1);
  });

  test("an unhandled rejection prints our message and exits with 1", () => {
    const { status, stderr } = runScript({ EECOT_THROW: "rejection" });
    expect(stderr).toContain("eecot: a rejected promise after the backend started");
    expect(stderr).not.toContain("throw ex");
    expect(status).toBe(1);
  });

  test("without our handlers the wasm runtime's rethrow crashes with exit code 7 (what this fixes)", () => {
    const { status, stderr } = runScript({ EECOT_THROW: "exception", EECOT_NO_HANDLERS: "1" });
    expect(stderr).toContain("throw ex");
    expect(status).toBe(7);
  });
});

// A read-only mount needs a mount namespace (root, or user namespaces); skipped where there is none.
const canMountReadOnly = spawnSync("unshare", ["-m", "sh", "-c", "mount -t tmpfs -o ro none /mnt"], { encoding: "utf8" }).status === 0;

describe("--out on a read-only file system", () => {
  test.runIf(canMountReadOnly)("reports the read-only error naming the folder, not ENOENT, before the model loads", () => {
    const mountPoint = mkdtempSync(join(tmpdir(), "eecot-ro-"));
    const out = join(mountPoint, "runs", "stage1");
    const command = `mount -t tmpfs -o ro none ${mountPoint} && exec "$@"`;
    const args = ["-m", "sh", "-c", command, "sh", process.execPath, "--import", "tsx", bin, "calibrate", "--model", "/nonexistent/eecot-model", "--data", "tom:4", "--out", out];
    const result = spawnSync("unshare", args, { cwd: root, encoding: "utf8", timeout: 120_000 });
    expect(result.stderr).toContain(`--out ${out}: cannot create the folder: EROFS: read-only file system, mkdir '${join(mountPoint, "runs")}'`);
    expect(result.status).toBe(1);
  });
});
