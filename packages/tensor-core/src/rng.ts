// A seeded, reproducible pseudo-random number generator: xoshiro128** (Blackman & Vigna,
// https://prng.di.unimi.it/xoshiro128starstar.c) with its 128-bit state filled by splitmix32.
// Its state is plain JSON, so a training run can save it and resume the exact same stream.

/** Everything needed to resume an Rng exactly (plain JSON). */
export interface RngState {
  readonly algorithm: "xoshiro128**";
  /** Stream key: the state the stream started from; `fork` derives child streams from it. */
  readonly key: readonly number[];
  /** Current 128-bit state as four uint32 words. */
  readonly state: readonly number[];
}

const GOLDEN = 0x9e3779b9;

/** splitmix32 finaliser: a bijection on uint32 that scrambles every bit. */
function mix32(value: number): number {
  let z = value | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Four well-mixed words from a safe-integer seed; distinct seeds give distinct words. */
function seedWords(seed: number): number[] {
  const bits = BigInt.asUintN(64, BigInt(seed));
  const low = Number(bits & 0xffffffffn);
  const high = Number(bits >> 32n);
  const words = [1, 2, 3, 4].map((i) => mix32(low + Math.imul(GOLDEN, i))); // splitmix32 sequence
  words[2] = (words[2]! ^ mix32(high + 0x632be5ab)) >>> 0;
  words[3] = (words[3]! ^ mix32(high + 0x7f4a7c15)) >>> 0;
  return nonZero(words);
}

/** xoshiro's all-zero state is a fixed point; never use it. */
function nonZero(words: number[]): number[] {
  return words.every((w) => w === 0) ? [1, 0, 0, 0] : words;
}

/** 32-bit hash of a label, keyed by `seed` (murmur-style mixing of each UTF-16 code unit). */
function hashLabel(label: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return mix32(h ^ label.length);
}

const rotateLeft = (x: number, k: number) => (x << k) | (x >>> (32 - k));

export class Rng {
  private key: number[];
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** A generator for `seed` (any safe integer). Equal seeds give equal streams. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new Error(`Rng: seed must be a safe integer, got ${seed}`);
    this.key = seedWords(seed);
    [this.s0, this.s1, this.s2, this.s3] = this.key as [number, number, number, number];
  }

  /** Next raw output, a uint32 (xoshiro128**). */
  uint32(): number {
    const result = Math.imul(rotateLeft(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotateLeft(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const high = this.uint32() >>> 5; // 27 bits
    const low = this.uint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Standard normal N(0, 1) (Box-Muller; one value per two uniforms). */
  normal(): number {
    const u1 = 1 - this.uniform(); // (0, 1]: log is finite
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling); 1 <= n <= 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) throw new Error(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n); // largest multiple of n that fits
    for (;;) {
      const r = this.uint32();
      if (r < limit) return r % n;
    }
  }

  /**
   * Index i drawn with probability probs[i] / sum(probs). Weights need not be normalised but
   * must be finite, non-negative and not all zero; zero-weight indices are never drawn.
   */
  categorical(probs: ArrayLike<number>): number {
    let total = 0;
    let last = -1;
    for (let i = 0; i < probs.length; i++) {
      const p = probs[i]!;
      if (!(p >= 0) || !Number.isFinite(p)) throw new Error(`Rng.categorical: probability ${i} is ${p}; expected a finite non-negative number`);
      total += p;
      if (p > 0) last = i;
    }
    if (!(total > 0)) throw new Error(`Rng.categorical: probabilities sum to ${total}; need a positive sum over ${probs.length} entries`);
    const target = this.uniform() * total;
    let cumulative = 0;
    for (let i = 0; i < last; i++) {
      cumulative += probs[i]!;
      if (target < cumulative) return i;
    }
    return last; // also absorbs rounding in the cumulative sum
  }

  /** Shuffles `array` in place (Fisher-Yates) and returns it. */
  shuffle<T>(array: T[]): T[] {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const swap = array[i]!;
      array[i] = array[j]!;
      array[j] = swap;
    }
    return array;
  }

  /**
   * An independent generator for `label` (e.g. "dropout", or a step number). It depends only on
   * this stream's key and the label, not on how much of this stream was used: the same label
   * always gives the same child stream, and forking does not advance this one.
   */
  fork(label: string | number): Rng {
    const text = typeof label === "number" ? `#${label}` : `$${label}`;
    const childKey = nonZero(this.key.map((word, i) => mix32(hashLabel(text, word ^ Math.imul(GOLDEN, i + 1)) + i)));
    const child = new Rng(0);
    child.setState({ algorithm: "xoshiro128**", key: childKey, state: childKey });
    return child;
  }

  /** The full state (plain JSON); `setState` of it resumes this exact stream. */
  getState(): RngState {
    return { algorithm: "xoshiro128**", key: [...this.key], state: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0] };
  }

  /** Restores a state from `getState` (validated). */
  setState(state: RngState): void {
    const words = (value: unknown) => Array.isArray(value) && value.length === 4 && value.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff);
    if (state?.algorithm !== "xoshiro128**" || !words(state.key) || !words(state.state) || state.state.every((w) => w === 0)) {
      throw new Error(`Rng.setState: expected { algorithm: "xoshiro128**", key: 4 uint32, state: 4 uint32 not all zero }, got ${JSON.stringify(state)}`);
    }
    this.key = [...state.key];
    [this.s0, this.s1, this.s2, this.s3] = state.state.map((w) => w | 0) as [number, number, number, number];
  }
}
