// Synthetic ReportData for tests: deterministic, shaped like a real run (L = 28, E = 5..25).

import { compareExitDistributions } from "../src/calibration.js";
import { computeCoherenceProxies } from "../src/text-proxies.js";
import type { ReportData, ViewerToken } from "../src/report/types.js";

/** mulberry32: a tiny seeded PRNG. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const L = 28;
const E = [5, 10, 15, 20, 25];
const LAYERS = [...E, L];

/** Stick-breaking distribution over E ∪ {L} from per-head probabilities. */
function stickBreaking(p: readonly number[]): number[] {
  let remaining = 1;
  const out = p.map((pe) => {
    const mass = remaining * pe;
    remaining *= 1 - pe;
    return mass;
  });
  return [...out, remaining];
}

/** Head probabilities that favour the later exits, as in the paper. */
function headProbabilities(next: () => number, eagerness: number): number[] {
  return E.map((e) => Math.min(0.95, eagerness * (e / L) ** 3 * next()));
}

function sampleFrom(distribution: readonly number[], next: () => number): number {
  let u = next();
  for (let i = 0; i < distribution.length; i++) {
    u -= distribution[i] ?? 0;
    if (u <= 0) return LAYERS[i]!;
  }
  return L;
}

const ANSWER =
  "Natalia sold 48 / 2 = 24 clips in May.\nIn April and May together she sold 48 + 24 = 72 clips.\nSo the answer is 72.\n#### 72";

function tokens(text: string, next: () => number, eagerness: number): ViewerToken[] {
  return (text.match(/\s*\S+|\s+/g) ?? []).map((piece) => {
    const exitProbabilities = stickBreaking(headProbabilities(next, eagerness));
    return { text: piece, exitLayer: sampleFrom(exitProbabilities, next), exitProbabilities };
  });
}

/** A full synthetic report; `judge` switches judge scores on. */
export function syntheticReportData(options: { judge?: boolean } = {}): ReportData {
  const next = random(7);
  const learned: number[][] = [];
  const target: number[][] = [];
  for (let t = 0; t < 400; t++) {
    const heads = headProbabilities(next, 1.4);
    learned.push(stickBreaking(heads));
    target.push(stickBreaking(heads.map((p) => Math.min(0.99, p * (0.8 + 0.4 * next())))));
  }
  const proxies = (text: string) => ({ ...computeCoherenceProxies([{ text }]), perplexity: 6 + 10 * next() });
  const judge = (coherence: number) =>
    options.judge ? { judge: { count: 50, coherence, completeness: coherence - 0.4, clarity: coherence - 0.2, repetitionAvoidance: coherence + 0.3, overall: coherence - 0.1 } } : {};
  const sweep = [
    { klFactor: 0.25, earlyExitRate: 0.61, averageLayerSavings: 0.21, coherence: 1.8 },
    { klFactor: 0.5, earlyExitRate: 0.5, averageLayerSavings: 0.09, coherence: 5.1 },
    { klFactor: 1, earlyExitRate: 0.45, averageLayerSavings: 0.066, coherence: 7.2 },
    { klFactor: 2, earlyExitRate: 0.41, averageLayerSavings: 0.05, coherence: 8.1 },
    { klFactor: 4, earlyExitRate: 0.35, averageLayerSavings: 0.043, coherence: 8.6 },
    { klFactor: "base" as const, earlyExitRate: 0, averageLayerSavings: 0, coherence: 8.9 },
  ];
  const rlRun = (name: string, seed: number) => {
    const r = random(seed);
    return {
      name,
      steps: Array.from({ length: 20 }, (_, i) => {
        const step = i * 20;
        const progress = step / 380;
        return {
          step,
          accuracy: 0.47 + 0.1 * progress + 0.04 * (r() - 0.5),
          judgeCoherence: options.judge ? 7.6 + 0.4 * (r() - 0.5) : undefined,
          repeatedNgramRate: 0.05 + 0.02 * r(),
          averageCompute: 0.98 - 0.035 * progress + 0.005 * (r() - 0.5),
          totalCompute: 210 - 20 * progress + 6 * (r() - 0.5),
          reward: -0.9 + 0.15 * progress + 0.05 * (r() - 0.5),
          kl: 0.02 * progress + 0.002 * r(),
        };
      }),
    };
  };
  return {
    run: {
      model: "synthetic/qwen3-tiny",
      date: "2025-06-01T12:00:00Z",
      seed: 0,
      backend: "tfjs-node (cpu)",
      durations: [
        { stage: "stage 1 calibration", seconds: 812.4 },
        { stage: "stage 2 RL", seconds: 5400 },
        { stage: "evaluation", seconds: 7.25 },
      ],
      numLayers: L,
      exitableLayers: E,
      dataset: "GSM8K test, 50 prompts",
      settings: { klFactor: 1, exitPenalty: 1.5, klCoefficient: 0.05, samplesPerPrompt: 4 },
      notes: ["Synthetic data for tests."],
    },
    judge: options.judge ? { enabled: true, model: "judge-model" } : { enabled: false },
    klSweep: {
      promptCount: 50,
      rows: sweep.map((row) => ({
        klFactor: row.klFactor,
        earlyExitRate: row.earlyExitRate,
        averageLayerSavings: row.averageLayerSavings,
        coherence: { ...judge(row.coherence), proxies: proxies(ANSWER + (row.klFactor === 0.25 ? " 72 72 72 72 72 72" : "")) },
      })),
    },
    calibration: {
      comparison: compareExitDistributions(learned, target, LAYERS),
      numLayers: L,
      description: "stage-1 student vs KL-heuristic target, f = 1, 50 GSM8K prompts",
    },
    rlCurves: { runs: [rlRun("seed 0", 1), rlRun("seed 1", 2)], baseline: { accuracy: 0.5, averageCompute: 1, judgeCoherence: options.judge ? 8.9 : undefined }, evaluationPromptCount: 60 },
    evaluation: {
      promptCount: 60,
      variants: [
        { label: "before RL", accuracy: 0.47, formatRate: 0.9, earlyExitRate: 0.12, averageLayerSavings: 0.02, averageCompute: 0.98, totalCompute: 205.8, flopsSavedFraction: 0.011, wallClockMsPerToken: 41.2, repeatedNgramRate: 0.05 },
        { label: "after RL", accuracy: 0.58, formatRate: 0.95, earlyExitRate: 0.31, averageLayerSavings: 0.05, averageCompute: 0.95, totalCompute: 180.5, flopsSavedFraction: 0.034, wallClockMsPerToken: 39.8, repeatedNgramRate: 0.06 },
      ],
    },
    tokenViewer: {
      numLayers: L,
      layers: LAYERS,
      samples: [
        { title: "GSM8K #1", prompt: "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?", before: tokens(ANSWER, next, 0.9), after: tokens(ANSWER, next, 2.2) },
        { title: "GSM8K #2 (no after-RL sample)", prompt: "What is 3 + 4?", before: tokens("3 + 4 = 7.\n#### 7", next, 1) },
      ],
    },
  };
}
