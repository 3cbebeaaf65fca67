// Opens a written report in headless Chromium: tables, SVG plots, the token viewer's toggle and
// hover tooltip, no network requests, no script errors; saves screenshots. Skipped when
// /usr/bin/chromium is absent (install: apt-get install -y chromium). Set EECOT_REPORT_TEST_OUT
// to a directory to keep the report and screenshots there.

import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { expect, test } from "vitest";
import { scriptedExternalisationSection } from "../../test/scripted-answerer.js";
import { syntheticReportData } from "../../test/synthetic-report.js";
import { writeReport } from "./write.js";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`report.browser.test: skipped, ${CHROMIUM} not found (apt-get install -y chromium)`);

const skipped = hasChromium ? "" : ` (skipped: ${CHROMIUM} not found; apt-get install -y chromium)`;

test.skipIf(!hasChromium)(`report renders and works in headless Chromium${skipped}`, async () => {
  const keep = process.env.EECOT_REPORT_TEST_OUT;
  const dir = keep ?? (await mkdtemp(join(tmpdir(), "eecot-report-browser-")));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const { htmlPath } = await writeReport(dir, { ...syntheticReportData(), externalisation: await scriptedExternalisationSection() }, { png: false });
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("request", (request) => requests.push(request.url()));
    await page.goto(pathToFileURL(htmlPath).href);

    // tables have their rows
    expect(await page.locator("#kl-sweep-table tbody tr").count()).toBe(6);
    expect(await page.locator("#calibration-table tbody tr").count()).toBe(6);
    expect(await page.locator("#evaluation-table tbody tr").count()).toBeGreaterThanOrEqual(8);
    expect(await page.locator("#judge-status").textContent()).toBe("judge off: coherence from proxies");

    // SVG plots have drawn paths and bars with real extent
    expect(await page.locator("#plot-rl-accuracy svg path.series").count()).toBe(3); // two runs + base model
    expect(await page.locator("#plot-calibration-exit-histogram svg rect.bar").count()).toBe(12);
    const pathWidth = await page.locator("#plot-rl-accuracy svg path.series").first().evaluate((node) => (node as SVGGraphicsElement).getBBox().width);
    expect(pathWidth).toBeGreaterThan(100);

    // externalisation: the table, one early-answering curve per model, bars that are drawn
    expect(await page.locator("#externalisation-table tbody tr").count()).toBe(14);
    expect(await page.locator("#externalisation-table thead th").allTextContents()).toEqual(["measure", "in-head", "faithful"]);
    expect(await page.locator("#plot-externalisation-early-answering svg path.series").count()).toBe(2);
    const faithfulCurve = await page.locator("#plot-externalisation-early-answering svg path.series").nth(1).evaluate((node) => {
      const box = (node as SVGGraphicsElement).getBBox();
      return { width: box.width, height: box.height };
    });
    expect(faithfulCurve.width).toBeGreaterThan(100);
    expect(faithfulCurve.height).toBeGreaterThan(50); // it climbs from 0 to 1
    expect(await page.locator("#plot-externalisation-accuracy svg rect.bar").count()).toBe(6);
    await page.locator("#externalisation").scrollIntoViewIfNeeded();
    await page.locator("#externalisation").screenshot({ path: join(dir, "externalisation.png") });

    // toggle switches the visible generation
    const sample = page.locator(".sample").first();
    expect(await sample.locator('.seq[data-phase="before"]').isVisible()).toBe(true);
    expect(await sample.locator('.seq[data-phase="after"]').isVisible()).toBe(false);
    await page.getByRole("button", { name: "after RL" }).click();
    expect(await sample.locator('.seq[data-phase="before"]').isVisible()).toBe(false);
    expect(await sample.locator('.seq[data-phase="after"]').isVisible()).toBe(true);
    expect(await page.getByRole("button", { name: "after RL" }).getAttribute("aria-pressed")).toBe("true");
    expect(await page.locator(".sample").nth(1).locator(".not-run").isVisible()).toBe(true); // sample 2 has no after-RL text

    // hovering a token shows its exit probabilities, the taken exit highlighted
    const tooltip = page.locator("#token-tooltip");
    expect(await tooltip.isVisible()).toBe(false);
    const token = sample.locator('.seq[data-phase="after"] .tok').nth(3);
    await token.scrollIntoViewIfNeeded();
    await token.hover();
    expect(await tooltip.isVisible()).toBe(true);
    const layer = await token.getAttribute("data-layer");
    expect(await tooltip.locator(".tip-head").textContent()).toContain(`exit layer ${layer} / 28`);
    expect(await tooltip.locator(".tip-row").count()).toBe(6);
    expect(await tooltip.locator(".tip-row.chosen").textContent()).toMatch(new RegExp(`^layer ${layer}\\d*\\.\\d%$`));
    await page.screenshot({ path: join(dir, "token-viewer.png") });
    await page.mouse.move(5, 5);
    expect(await tooltip.isVisible()).toBe(false);
    await page.screenshot({ path: join(dir, "report.png"), fullPage: true });

    expect(errors).toEqual([]);
    expect(requests.filter((url) => !url.startsWith("file:") && !url.startsWith("data:"))).toEqual([]);
  } finally {
    await browser.close();
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
});

test.skipIf(!hasChromium)(`report fits a phone-width (420 px) screen: wide tables scroll in their own box${skipped}`, async () => {
  const dir = await mkdtemp(join(tmpdir(), "eecot-report-narrow-"));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update"] });
  try {
    // A long model path and dataset line, as real runs have.
    const data = syntheticReportData();
    const long = { ...data, run: { ...data.run, model: "/data/models/deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B-with-a-long-folder-name", dataset: "128 stage-1 prompts, 3000 RL prompts, 100 held-out prompts (GSM8K test split + theory of mind)" } };
    const { htmlPath } = await writeReport(dir, long, { png: false });
    const page = await browser.newPage({ viewport: { width: 420, height: 800 } });
    await page.goto(pathToFileURL(htmlPath).href);
    const layout = await page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      // Elements reaching past the right edge that are not inside a horizontally scrolling box.
      const escaping = Array.from(document.querySelectorAll("main *"))
        .filter((element) => element.getBoundingClientRect().right > width + 1 && element.closest(".scroll") === null)
        .map((element) => `${element.tagName.toLowerCase()}${element.id ? `#${element.id}` : ""}${element.className && typeof element.className === "string" ? `.${element.className}` : ""}`);
      const scrollBoxes = Array.from(document.querySelectorAll(".scroll")).map((box) => ({ right: box.getBoundingClientRect().right, scrolls: box.scrollWidth > box.clientWidth }));
      return { width, scrollWidth: document.documentElement.scrollWidth, escaping, scrollBoxes };
    });
    expect(layout.width).toBe(420);
    expect(layout.escaping).toEqual([]);
    expect(layout.scrollWidth).toBeLessThanOrEqual(layout.width);
    // The wide tables are still there, scrolling inside boxes that fit the screen.
    expect(layout.scrollBoxes.some((box) => box.scrolls)).toBe(true);
    expect(layout.scrollBoxes.every((box) => box.right <= layout.width + 1)).toBe(true);
    await page.screenshot({ path: join(dir, "report-420px.png"), fullPage: true });
  } finally {
    await browser.close();
    await rm(dir, { recursive: true, force: true });
  }
});
