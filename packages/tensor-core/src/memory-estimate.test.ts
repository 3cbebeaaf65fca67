import { afterEach, describe, expect, it, vi } from "vitest";
import {
  assertMemoryFits,
  checkMemory,
  countParameters,
  estimateMemory,
  formatBytes,
  memoryBudget,
  MemoryEstimateError,
  LARGER_BACKENDS,
  type DecoderShape,
} from "./memory-estimate.js";

const GiB = 2 ** 30;
const MiB = 2 ** 20;

// Published shapes. Qwen3-0.6B: 0.6B parameters, 0.44B without the embedding (model card).
const QWEN3_0_6B: DecoderShape = { vocabSize: 151_936, hiddenSize: 1024, intermediateSize: 3072, numLayers: 28, numHeads: 16, numKvHeads: 8, headDim: 128, tieWordEmbeddings: true, qkNorm: true };
// DeepSeek-R1-Distill-Qwen-1.5B (config.json): untied, q/k/v biases, head dim 1536 / 12 = 128.
const R1_DISTILL_1_5B: DecoderShape = { vocabSize: 151_936, hiddenSize: 1536, intermediateSize: 8960, numLayers: 28, numHeads: 12, numKvHeads: 2, headDim: 128, tieWordEmbeddings: false, attentionBias: true };
const QWEN3_4B: DecoderShape = { vocabSize: 151_936, hiddenSize: 2560, intermediateSize: 9728, numLayers: 36, numHeads: 32, numKvHeads: 8, headDim: 128, tieWordEmbeddings: true, qkNorm: true };
// The transformer package's tiny fixtures (test/fixtures/*/config.json).
const QWEN3_TINY: DecoderShape = { vocabSize: 384, hiddenSize: 64, intermediateSize: 160, numLayers: 6, numHeads: 4, numKvHeads: 2, headDim: 32, tieWordEmbeddings: true, qkNorm: true };
const QWEN2_TINY: DecoderShape = { vocabSize: 384, hiddenSize: 96, intermediateSize: 192, numLayers: 4, numHeads: 6, numKvHeads: 2, headDim: 16, tieWordEmbeddings: false, attentionBias: true };

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("countParameters", () => {
  it("matches the element counts of the fixture checkpoints and the published Qwen3 sizes", () => {
    // Summed from the safetensors headers of qwen3-tiny-f32 and qwen2-tiny-f32.
    expect(countParameters(QWEN3_TINY)).toBe(357_568);
    expect(countParameters(QWEN2_TINY)).toBe(394_720);
    // Qwen3-0.6B: 151,936·1,024 embedding + 28 · 15,730,944 per layer + 1,024 final norm.
    expect(countParameters(QWEN3_0_6B)).toBe(596_049_920);
    expect(countParameters(QWEN3_0_6B) - 151_936 * 1024).toBeCloseTo(0.44e9, -7);
    expect(countParameters(QWEN3_4B)).toBe(4_022_468_096);
  });
});

describe("estimateMemory", () => {
  it("weights are parameters × 4 bytes, a tied head is counted again, and the KV cache is 2·L·B·K·D·S floats", () => {
    const e = estimateMemory(QWEN3_0_6B, { batchSize: 1, sequenceLength: 2048, positionsPerCall: 64 });
    expect(e.parameters).toBe(596_049_920);
    expect(e.weightBytes).toBe(596_049_920 * 4);
    expect(e.tiedHeadCopyBytes).toBe(151_936 * 1024 * 4); // 594 MiB
    expect(e.kvCacheBytes).toBe(2 * 28 * 8 * 128 * 2048 * 4); // 224 MiB
    expect(estimateMemory(QWEN2_TINY).tiedHeadCopyBytes).toBe(0);
    expect(e.totalBytes).toBe(e.weightBytes + e.tiedHeadCopyBytes + e.kvCacheBytes + e.activationBytes + e.logitsBytes + e.optimizerBytes);
  });

  it("activations grow with layers, batch and positions; logits with rows; training adds state and backward work", () => {
    const base = estimateMemory(QWEN3_0_6B, { sequenceLength: 512, positionsPerCall: 512 });
    const deeper = estimateMemory({ ...QWEN3_0_6B, numLayers: 56 }, { sequenceLength: 512, positionsPerCall: 512 });
    expect(deeper.activationBytes).toBe(2 * base.activationBytes); // every layer's intermediates live until the forward returns
    const batch = estimateMemory(QWEN3_0_6B, { batchSize: 2, sequenceLength: 512, positionsPerCall: 512 });
    expect(batch.activationBytes).toBe(2 * base.activationBytes);
    expect(base.logitsBytes).toBe(151_936 * 4); // one row: the last position
    const everyPosition = estimateMemory(QWEN3_0_6B, { sequenceLength: 512, positionsPerCall: 512, logitsForEveryPosition: true });
    expect(everyPosition.logitsBytes).toBe(512 * 151_936 * 4);
    const training = estimateMemory(QWEN3_0_6B, { sequenceLength: 512, positionsPerCall: 512, trainableParameters: 1_000_000 });
    expect(training.optimizerBytes).toBe(12_000_000); // gradient + two Adam moments
    expect(training.activationBytes).toBeGreaterThan(1.9 * base.activationBytes);
  });

  it("names the largest tensor, which chunking the logits shrinks", () => {
    const whole = estimateMemory(QWEN3_0_6B, { sequenceLength: 64 });
    expect(whole.largestTensor).toEqual({ name: "embedding table [151936, 1024]", bytes: 151_936 * 1024 * 4 });
    const prefill = estimateMemory(QWEN3_TINY, { sequenceLength: 4096, logitsForEveryPosition: true, logitsChunkColumns: 128 });
    expect(prefill.largestTensor.name).toBe("attention scores [1, 4, 4096, 4096]");
    const logits = estimateMemory(QWEN3_TINY, { batchSize: 4, sequenceLength: 64, logitsForEveryPosition: true });
    expect(logits.largestTensor).toEqual({ name: "logits [256, 384]", bytes: 256 * 384 * 4 });
  });

  it("rejects bad shapes and workloads by name", () => {
    expect(() => estimateMemory({ ...QWEN3_TINY, numLayers: 0 })).toThrow("estimateMemory: numLayers must be a positive integer, got 0");
    expect(() => estimateMemory(QWEN3_TINY, { sequenceLength: 8, positionsPerCall: 9 })).toThrow("MemoryWorkload: positionsPerCall (9) exceeds sequenceLength (8)");
    expect(() => estimateMemory(QWEN3_TINY, { batchSize: 1.5 })).toThrow("MemoryWorkload: batchSize must be a positive integer, got 1.5");
  });
});

describe("memoryBudget and checkMemory", () => {
  it("budgets: wasm's 4 GiB heap, system memory for cpu and software GPUs, unknown for hardware GPUs, env override", () => {
    expect(memoryBudget({ name: "wasm" }, 64 * GiB)).toEqual({ bytes: 4 * GiB, source: "the wasm backend's 4 GiB wasm32 heap", maxTensorBytes: null, largerBackends: LARGER_BACKENDS, hardCeiling: true });
    expect(memoryBudget({ name: "wasm" }, 2 * GiB).bytes).toBe(2 * GiB);
    expect(memoryBudget({ name: "cpu" }, 8 * GiB).bytes).toBe(8 * GiB);
    expect(memoryBudget({ name: "webgpu", software: true, maxStorageBufferBindingSize: 128 * MiB }, 8 * GiB)).toEqual({ bytes: 8 * GiB, source: "system memory, shared with the software GPU", maxTensorBytes: 128 * MiB });
    expect(memoryBudget({ name: "webgpu", software: false, maxStorageBufferBindingSize: 2 * GiB }).bytes).toBeNull();
    vi.stubEnv("EECOT_DEVICE_MEMORY_GB", "80");
    expect(memoryBudget({ name: "webgpu", maxStorageBufferBindingSize: 2 * GiB })).toEqual({ bytes: 80 * GiB, source: "EECOT_DEVICE_MEMORY_GB=80", maxTensorBytes: 2 * GiB });
    vi.stubEnv("EECOT_DEVICE_MEMORY_GB", "lots");
    expect(() => memoryBudget({ name: "wasm" })).toThrow("EECOT_DEVICE_MEMORY_GB=lots is not a positive number of GiB");
  });

  it("verdicts: 0.6B fits wasm for short prompts; 4B clearly does not; over the binding limit is too big; tight in between", () => {
    const wasm = memoryBudget({ name: "wasm" }, 64 * GiB);
    const small = checkMemory(estimateMemory(QWEN3_0_6B, { sequenceLength: 256, positionsPerCall: 32 }), wasm);
    expect(small.verdict).toBe("fits");
    expect(small.message).toMatch(/^memory estimate for 0\.60B parameters \(batch 1, 256 positions, 32 per call\): weights 2\.22 GiB \+ tied head copy 594 MiB \+ KV cache 56\.0 MiB \+ .* = .* GiB; budget 4\.00 GiB/);
    const big = checkMemory(estimateMemory(QWEN3_4B, { sequenceLength: 256, positionsPerCall: 32 }), wasm);
    expect(big.verdict).toBe("too-big");
    expect(big.message).toMatch(/this will not fit: it needs about 1\d\.\d GiB but the wasm backend's 4 GiB wasm32 heap allows 4\.00 GiB/);
    const lavapipe = memoryBudget({ name: "webgpu", software: true, maxStorageBufferBindingSize: 128 * MiB }, 64 * GiB);
    const bound = checkMemory(estimateMemory(QWEN3_0_6B, { sequenceLength: 64 }), lavapipe);
    expect(bound.verdict).toBe("too-big");
    expect(bound.message).toContain("the embedding table [151936, 1024] is 594 MiB but this GPU binds at most 128 MiB per buffer: this will not fit (use a GPU whose WebGPU adapter binds larger buffers, or a smaller model)");
    const prefill = checkMemory(estimateMemory(QWEN3_TINY, { sequenceLength: 4096 }), lavapipe);
    expect(prefill.message).toContain("the attention scores [1, 4, 4096, 4096] is 256 MiB but this GPU binds at most 128 MiB per buffer: this will not fit (use shorter prompts or fewer rows per call)");
    const estimate = estimateMemory(QWEN3_0_6B, { sequenceLength: 1024, positionsPerCall: 512 }); // activations > weights
    expect(checkMemory(estimate, { bytes: estimate.totalBytes / 1.1, source: "test", maxTensorBytes: null }).verdict).toBe("tight");
    expect(checkMemory(estimate, { bytes: null, source: "unknown GPU memory", maxTensorBytes: null }).verdict).toBe("unknown");
  });

  it("assertMemoryFits prints one line and refuses politely (unless forced)", () => {
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    expect(assertMemoryFits(QWEN3_TINY, { sequenceLength: 64 }, { name: "wasm" }, { log, systemBytes: 64 * GiB }).parameters).toBe(357_568);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^eecot: memory estimate for 0\.4M parameters/);
    expect(() => assertMemoryFits(QWEN3_4B, { sequenceLength: 4096 }, { name: "wasm" }, { log, systemBytes: 64 * GiB })).toThrow(MemoryEstimateError);
    expect(() => assertMemoryFits(QWEN3_4B, { sequenceLength: 4096 }, { name: "wasm" }, { log, systemBytes: 64 * GiB })).toThrow(/^not loading the model: memory estimate for 4\.02B parameters .* this will not fit/);
    expect(() => assertMemoryFits(QWEN3_4B, { sequenceLength: 4096 }, { name: "wasm" }, { log, systemBytes: 64 * GiB, force: true })).not.toThrow();
    // Named: the folder (the CLI passes --model's) or preset, then the numbers against the ceiling.
    expect(() => assertMemoryFits(QWEN3_4B, { sequenceLength: 4096 }, { name: "wasm" }, { log, systemBytes: 64 * GiB, subject: "/tmp/ck/qwen3-4b" })).toThrow(
      /^not loading \/tmp\/ck\/qwen3-4b: memory estimate for 4\.02B parameters \(batch 1, 4096 positions, 4096 per call\): weights 15\.0 GiB .* = \d+\.?\d* GiB; this will not fit: it needs about \d+\.?\d* GiB but the wasm backend's 4 GiB wasm32 heap allows 4\.00 GiB/,
    );
  });

  it("wasm's heap is a hard ceiling: a Qwen3-0.6B LoRA step fits at 1×16 tokens and is refused at 1×128, as measured", () => {
    // bench/gpu-bench.ts --backend wasm --train-only (rank-16 LoRA on all 7 projections × 28 layers,
    // log-probs over the vocabulary in chunks), 2026-12-03: at 1×16 (64 MiB chunks) the heap
    // peaked at 3.70 GiB over three steps; at 1×128 (4 MiB chunks) it reached 3.90 GiB after the
    // decoder's forward pass alone and then ran out of the 4 GiB heap.
    const lora = 28 * 16 * (1024 + 2048 + 2 * (1024 + 1024) + (2048 + 1024) + 2 * (1024 + 3072) + (3072 + 1024));
    expect(lora).toBe(10_092_544); // what gpu-bench reports
    const step = (tokens: number, chunkColumns: number) =>
      ({ batchSize: 1, sequenceLength: tokens, positionsPerCall: tokens, trainableParameters: lora, logitsForEveryPosition: true, logitsChunkColumns: chunkColumns });
    const lines: string[] = [];
    const short = assertMemoryFits(QWEN3_0_6B, step(16, 16_384), { name: "wasm" }, { log: (line) => lines.push(line), systemBytes: 64 * GiB });
    expect(Math.abs(short.totalBytes / (3.7 * GiB) - 1)).toBeLessThan(0.15); // the measured peak
    expect(() => assertMemoryFits(QWEN3_0_6B, step(128, 1024), { name: "wasm" }, { log: () => {}, systemBytes: 64 * GiB, subject: "preset qwen3-0.6b" })).toThrow(
      /^not loading preset qwen3-0\.6b: memory estimate for 0\.60B parameters \(batch 1, 128 positions, 128 per call, training\): .* = 4\.\d\d GiB; this will not fit: it needs about 4\.\d\d GiB but the wasm backend's 4 GiB wasm32 heap allows 4\.00 GiB/,
    );
    // The same estimate on a backend whose budget can stretch (system memory) is only tight.
    const over = estimateMemory(QWEN3_0_6B, step(128, 1024));
    expect(checkMemory(over, { bytes: 4 * GiB, source: "system memory", maxTensorBytes: null }).verdict).toBe("tight");
  });

  it("wasm counts XNNPACK's packed copy of a weight over the SIMD kernel's limit only when 8 rows or more multiply it", () => {
    const head = 151_936 * 1024 * 4;
    // Qwen3-0.6B: only the unembedding [1024, 151936] is over 4 Mi elements (MLP 1024 × 3072 is not).
    // Decoding one row (logits of the last position only) streams it: no copy.
    const decode = estimateMemory(QWEN3_0_6B, { sequenceLength: 256, positionsPerCall: 32, packedWeightCopies: true });
    expect(decode.packedWeightBytes).toBe(0);
    // 7 rows of logits still stream; 8 go to XNNPACK, which packs the head once.
    expect(estimateMemory(QWEN3_0_6B, { batchSize: 7, sequenceLength: 64, positionsPerCall: 1, packedWeightCopies: true }).packedWeightBytes).toBe(0);
    const eight = estimateMemory(QWEN3_0_6B, { batchSize: 8, sequenceLength: 64, positionsPerCall: 1, packedWeightCopies: true });
    expect(eight.packedWeightBytes).toBe(head);
    expect(eight.totalBytes - estimateMemory(QWEN3_0_6B, { batchSize: 8, sequenceLength: 64, positionsPerCall: 1 }).totalBytes).toBe(head);
    // Logits at every position of a 32-token pass: 32 rows, packed.
    expect(estimateMemory(QWEN3_0_6B, { sequenceLength: 256, positionsPerCall: 32, logitsForEveryPosition: true, packedWeightCopies: true }).packedWeightBytes).toBe(head);
    // In vocabulary chunks kept as blocks: a second copy of the head; blocks of at most 4 Mi elements are never packed.
    const small = estimateMemory(QWEN3_0_6B, { sequenceLength: 256, logitsForEveryPosition: true, logitsChunkColumns: 4096, vocabularyChunkCopy: true, packedWeightCopies: true });
    expect([small.vocabularyChunkBytes, small.packedWeightBytes]).toEqual([head, 0]);
    const wide = estimateMemory(QWEN3_0_6B, { sequenceLength: 256, logitsForEveryPosition: true, logitsChunkColumns: 16384, vocabularyChunkCopy: true, packedWeightCopies: true });
    expect([wide.vocabularyChunkBytes, wide.packedWeightBytes]).toEqual([head, head]);
    // Sliced per use (frozenChunkedTokenLogProbs): no copy.
    expect(estimateMemory(QWEN3_0_6B, { sequenceLength: 256, logitsForEveryPosition: true, logitsChunkColumns: 4096, packedWeightCopies: true }).vocabularyChunkBytes).toBe(0);
    // R1-Distill-1.5B over a 2,048-token prefill: 3 MLP projections (1536 × 8960) per layer and none of
    // q/k/v/o (1536 × 1536 = 2.4 Mi); the untied head only with 8 logits rows.
    expect(estimateMemory(R1_DISTILL_1_5B, { packedWeightCopies: true }).packedWeightBytes).toBe(28 * 3 * 1536 * 8960 * 4);
    expect(estimateMemory(R1_DISTILL_1_5B, { batchSize: 8, sequenceLength: 2048, positionsPerCall: 1, packedWeightCopies: true }).packedWeightBytes).toBe((1536 * 151_936 + 28 * 3 * 1536 * 8960) * 4);
  });

  it("wasm refuses R1-Distill-1.5B and Qwen3-4B before loading: estimate, the 4 GiB ceiling and the backends that can", () => {
    for (const [shape, params, weights] of [[R1_DISTILL_1_5B, "1.78B", "6.62 GiB"], [QWEN3_4B, "4.02B", "15.0 GiB"]] as const) {
      const lines: string[] = [];
      let message = "";
      try {
        assertMemoryFits(shape, { batchSize: 1, sequenceLength: 1024, positionsPerCall: 128 }, { name: "wasm" }, { log: (line) => lines.push(line), systemBytes: 64 * GiB });
      } catch (error) {
        expect(error).toBeInstanceOf(MemoryEstimateError);
        message = (error as Error).message;
      }
      expect(message).toMatch(new RegExp(`^not loading the model: memory estimate for ${params.replace(".", "\\.")} parameters \\(batch 1, 1024 positions, 128 per call\\): weights ${weights.replace(".", "\\.")} \\+ `));
      expect(message).toContain("XNNPACK packed weights");
      expect(message).toMatch(/this will not fit: it needs about [\d.]+ GiB but the wasm backend's 4 GiB wasm32 heap allows 4\.00 GiB, and the weights \(with their packed copies\), KV cache alone take [\d.]+ GiB: this model is too large for this backend; backends that can: webgpu on a GPU with enough memory \(--backend webgpu\), tensorflow \(--backend tensorflow, with @tensorflow\/tfjs-node-gpu or tfjs-node\), or cpu \(--backend cpu; system memory, very slow\)$/);
      expect(lines).toEqual([`eecot: ${message.slice("not loading the model: ".length)}`]);
    }
    // The same models on a hardware GPU with a known budget are not refused.
    vi.stubEnv("EECOT_DEVICE_MEMORY_GB", "141");
    expect(assertMemoryFits(QWEN3_4B, { batchSize: 1, sequenceLength: 1024, positionsPerCall: 128 }, { name: "webgpu", software: false }, { log: () => {} }).packedWeightBytes).toBe(0);
  });

  it("assertMemoryFits with onlyWhenItMatters is silent on an easy fit only", () => {
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    assertMemoryFits(QWEN3_TINY, { sequenceLength: 64 }, { name: "wasm" }, { log, systemBytes: 64 * GiB, onlyWhenItMatters: true });
    expect(lines).toEqual([]);
    // Fits, but uses two thirds of the budget: printed.
    const estimate = estimateMemory(QWEN3_0_6B, { sequenceLength: 1024 });
    assertMemoryFits(QWEN3_0_6B, { sequenceLength: 1024 }, { name: "cpu" }, { log, systemBytes: 1.5 * estimate.totalBytes, onlyWhenItMatters: true });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^eecot: memory estimate for 0\.\d+B parameters .*; budget /);
    // Will not fit: printed and refused.
    expect(() => assertMemoryFits(QWEN3_4B, { sequenceLength: 4096 }, { name: "wasm" }, { log, systemBytes: 64 * GiB, onlyWhenItMatters: true })).toThrow(MemoryEstimateError);
    expect(lines).toHaveLength(2);
  });

  it("formatBytes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(151_936 * 1024 * 4)).toBe("594 MiB");
    expect(formatBytes(596_049_920 * 4)).toBe("2.22 GiB");
  });
});
