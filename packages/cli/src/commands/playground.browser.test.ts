// `eecot playground` in headless Chromium: the page loads the bundled model and an adapter over
// HTTP, generates 24 tokens for a fixed prompt and seed, and its tokens and exit layers (read
// from the DOM) equal `eecot generate --exits sample --json`'s for the same seed; the exit-offset
// slider at +4 lowers the mean exit layer; compare mode runs the base model at full depth; a
// broken model URL shows a readable error. One browser launch. Skipped without /usr/bin/chromium.
// EECOT_PLAYGROUND_SCREENSHOT=PATH saves a screenshot of the page after a generation.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { initBackend, tf } from "@eecot/tensor-core";
import { disposeModel, loadQwenModel } from "@eecot/transformer";
import { EarlyExitModel, saveEarlyExitAdapters } from "@eecot/early-exit";
import { bundledModelDir } from "../bundled.js";
import { runCli } from "../program.js";
import { servePlayground, type PlaygroundServer } from "../playground/build.js";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const skipped = hasChromium ? "" : ` (skipped: ${CHROMIUM} not found; apt-get install -y chromium)`;
if (!hasChromium) console.warn(`playground.browser.test: skipped, ${CHROMIUM} not found (apt-get install -y chromium)`);

const PROMPT = "Ann has 4 pens. She finds 9 more. Then she gives 2 pens to Bob. How many pens does Ann have?";
const SEED = "5";

let dir: string;
let server: PlaygroundServer | null = null;

/** `eecot …` in process; its stdout. */
async function eecot(...args: string[]): Promise<string> {
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  try {
    await runCli(["node", "eecot", "--backend", "wasm", ...args]);
    return stdout.mock.calls.map((call) => String(call[0])).join("");
  } finally {
    stdout.mockRestore();
  }
}

beforeAll(async () => {
  if (!hasChromium) return;
  await initBackend({ backend: "wasm", quiet: true });
  dir = await mkdtemp(join(tmpdir(), "eecot-playground-"));
  // An adapter whose heads exit sometimes (biases −3, −2, −1.4 and small seeded random W2), so the
  // comparison covers early and full-depth tokens.
  const base = await loadQwenModel(bundledModelDir());
  const model = EarlyExitModel.create(base);
  model.heads.forEach((head, i) =>
    tf.tidy(() => {
      head.w2T.assign(tf.randomNormal(head.w2T.shape, 0, 0.005, "float32", 11 + i));
      head.b2.assign(tf.fill([1], [-3, -2, -1.4][i]!));
    }),
  );
  await saveEarlyExitAdapters(join(dir, "adapter"), model);
  model.dispose();
  disposeModel(base);
});

afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Generates with the page's controls; the tokens and exit layers of column `side`. */
async function generateInPage(page: Page, settings: { offset: string; compare?: boolean }) {
  await page.fill("#prompt", PROMPT);
  await page.fill("#max-tokens", "24");
  await page.fill("#temperature", "1");
  await page.fill("#seed", SEED);
  await page.locator("#offset").fill(settings.offset);
  await page.locator("#compare").setChecked(settings.compare === true);
  await page.click("#generate");
  await page.waitForFunction(() => ["done", "error"].includes(document.getElementById("output")!.dataset.state ?? ""), null, { timeout: 60_000 });
  expect(await page.locator("#error").isVisible(), (await page.locator("#error").textContent()) ?? "").toBe(false);
  const read = (side: string) =>
    page.locator(`.column[data-side="${side}"] .token`).evaluateAll((spans) => spans.map((s) => ({ token: Number((s as HTMLElement).dataset.token), layer: Number((s as HTMLElement).dataset.layer) })));
  return { adapter: await read("adapter"), base: settings.compare ? await read("base") : [] };
}

test.skipIf(!hasChromium)(`the playground generates in Chromium exactly what eecot generate does, and the slider moves exits${skipped}`, async () => {
  const out = join(dir, "site");
  const adapter = join(dir, "adapter");
  const written = await eecot("playground", "--adapter", adapter, "--out", out);
  expect(written).toMatch(/JavaScript [\d.]+ KiB minified/);
  const reference = JSON.parse(await eecot("generate", "--adapter", adapter, "--prompt", PROMPT, "--max-new-tokens", "24", "--temperature", "1", "--seed", SEED, "--exits", "sample", "--json")) as {
    tokens: number[];
    exitLayers: number[];
    numLayers: number;
  };
  expect(reference.tokens.length, JSON.stringify(reference)).toBe(24);
  const L = reference.numLayers;
  // The adapter's heads make the comparison mean something: some tokens exit early, some not.
  expect(reference.exitLayers.some((x) => x < L)).toBe(true);
  expect(reference.exitLayers.some((x) => x === L)).toBe(true);

  server = await servePlayground(out, 0);
  // WebGPU on (SwiftShader here, a CPU renderer): the page's "auto" must still choose wasm.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-angle=vulkan", "--disable-vulkan-surface", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("request", (request) => requests.push(request.url()));
    await page.goto(server.url);
    await page.waitForFunction(() => ["ready", "error"].includes(document.getElementById("status")!.dataset.state ?? ""), null, { timeout: 60_000 });
    expect(await page.locator("#error").isVisible(), (await page.locator("#error").textContent()) ?? "").toBe(false);
    expect(await page.locator("#backend").textContent()).toMatch(/^wasm \(1 thread\)(; the WebGPU adapter is a software renderer \(.+\), slower than wasm .*)?$/);
    expect(await page.locator("#legend .swatch").count()).toBe(4); // exits at 2, 4, 6 and full depth 8

    // Same seed, same tokens and exit layers as the CLI.
    const first = await generateInPage(page, { offset: "0" });
    expect(first.adapter.map((t) => t.token)).toEqual(reference.tokens);
    expect(first.adapter.map((t) => t.layer)).toEqual(reference.exitLayers);
    const colours = await page.locator(".token").evaluateAll((spans) => spans.map((s) => `${(s as HTMLElement).dataset.layer} ${getComputedStyle(s).backgroundColor}`));
    const colourOfLayer = new Map(colours.map((c) => [c.split(" ")[0], c]));
    expect(colours.every((c) => colourOfLayer.get(c.split(" ")[0]) === c)).toBe(true); // one colour per layer
    expect(new Set(colours.map((c) => c.slice(c.indexOf(" ")))).size).toBe(new Set(reference.exitLayers).size);

    // The hover card: per-head exit probabilities and the logit lens's top tokens.
    const early = first.adapter.findIndex((t) => t.layer < L);
    await page.locator(".token").nth(early).hover();
    const card = page.locator("#card");
    expect(await card.isVisible()).toBe(true);
    expect(await card.textContent()).toContain(`exited at layer ${first.adapter[early]!.layer} of ${L}`);
    expect(await card.locator("tbody tr").count()).toBe(4);
    expect(await card.locator("tr.taken td").first().textContent()).toBe(String(first.adapter[early]!.layer));
    expect(await card.locator("tbody tr").first().locator("td").nth(2).textContent()).toMatch(/%/);
    expect(await page.locator("#exit-rate").textContent()).toMatch(/%$/);
    const screenshot = process.env.EECOT_PLAYGROUND_SCREENSHOT;
    if (screenshot) await page.screenshot({ path: screenshot });
    await page.mouse.move(2, 2);

    // Slider to +4: exits come earlier.
    const mean = (tokens: { layer: number }[]) => tokens.reduce((s, t) => s + t.layer, 0) / tokens.length;
    const raised = await generateInPage(page, { offset: "4" });
    expect(mean(raised.adapter)).toBeLessThan(mean(first.adapter) - 0.5);

    // Compare: the base model runs every token at full depth beside the adapter.
    const compared = await generateInPage(page, { offset: "0", compare: true });
    expect(compared.base.length).toBeGreaterThan(0);
    expect(compared.base.every((t) => t.layer === L)).toBe(true);
    expect(compared.adapter.map((t) => t.layer)).toEqual(reference.exitLayers);

    // An adapter folder picked from disk (the folder input; a drop goes the same way) replaces the served one.
    await page.locator("#pick-adapter").setInputFiles(adapter);
    await page.waitForFunction(() => document.getElementById("status")!.textContent!.includes("adapter picked adapter"), null, { timeout: 60_000 });
    const picked = await generateInPage(page, { offset: "0" });
    expect(picked.adapter.map((t) => t.layer)).toEqual(reference.exitLayers);

    // A broken model URL: a readable error in the page.
    await page.goto(`${server.url}?model=no-such-model/`);
    await page.waitForFunction(() => document.getElementById("status")!.dataset.state === "error", null, { timeout: 30_000 });
    expect(await page.locator("#error").textContent()).toMatch(new RegExp(`^Could not load the model: ${server.url}no-such-model/config.json: not found \\(a model folder needs config.json`));

    expect(errors).toEqual([]);
    expect(requests.filter((url) => !url.startsWith(server!.url))).toEqual([]);
  } finally {
    await browser.close();
  }
});
