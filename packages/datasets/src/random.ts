// Seeded pseudo-random numbers for data generation: splitmix32 seeds xoshiro128**.
// Local to this package so that datasets stay free of tensor code. Same seed → same sequence
// on every platform (only 32-bit integer arithmetic via Math.imul and >>> 0).

/** A seeded random source. */
export interface Random {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max] (both inclusive). */
  integer(min: number, max: number): number;
  /** One element chosen uniformly; throws on an empty array. */
  choice<T>(items: readonly T[]): T;
  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[];
  /** True with the given probability. */
  chance(probability: number): boolean;
}

/** splitmix32 step: returns [output, nextState]. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [(z ^ (z >>> 16)) >>> 0, next];
}

function rotateLeft(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * Creates a xoshiro128** generator seeded from `seed` (any finite number; non-integers and
 * values beyond 32 bits are folded into 32 bits).
 */
export function createRandom(seed: number): Random {
  if (!Number.isFinite(seed)) throw new Error(`createRandom: seed must be a finite number, got ${seed}`);
  let low = Math.trunc(seed) >>> 0;
  const high = Math.trunc(seed / 4294967296) >>> 0;
  low = (low ^ Math.imul(high, 0x9e3779b1)) >>> 0;
  const state = new Uint32Array(4);
  let splitState = low;
  for (let i = 0; i < 4; i++) {
    const [value, next] = splitmix32(splitState);
    state[i] = value;
    splitState = next;
  }
  if (state[0] === 0 && state[1] === 0 && state[2] === 0 && state[3] === 0) state[0] = 1;

  const nextUint32 = (): number => {
    const s0 = state[0]!, s1 = state[1]!, s2 = state[2]!, s3 = state[3]!;
    const result = Math.imul(rotateLeft(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    const n2 = (s2 ^ s0) >>> 0;
    const n3 = (s3 ^ s1) >>> 0;
    state[1] = (s1 ^ n2) >>> 0;
    state[0] = (s0 ^ n3) >>> 0;
    state[2] = (n2 ^ t) >>> 0;
    state[3] = rotateLeft(n3, 11);
    return result;
  };

  const random: Random = {
    next: () => nextUint32() / 4294967296,
    integer(min, max) {
      if (!Number.isInteger(min) || !Number.isInteger(max) || max < min) {
        throw new Error(`Random.integer: need integers min <= max, got ${min}, ${max}`);
      }
      return min + Math.floor(random.next() * (max - min + 1));
    },
    choice(items) {
      if (items.length === 0) throw new Error("Random.choice: empty array");
      return items[Math.floor(random.next() * items.length)]!;
    },
    shuffle(items) {
      const copy = items.slice();
      for (let i = copy.length - 1; i > 0; i--) {
        const j = Math.floor(random.next() * (i + 1));
        const tmp = copy[i]!;
        copy[i] = copy[j]!;
        copy[j] = tmp;
      }
      return copy;
    },
    chance: (probability) => random.next() < probability,
  };
  return random;
}

/**
 * A seed for the `index`-th item of a stream seeded with `seed`, so that item i does not depend
 * on how many items are generated (the first 100 of 200 equal a run of 100).
 */
export function deriveSeed(seed: number, index: number): number {
  let h = (Math.trunc(seed) ^ Math.imul(Math.trunc(index) + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}
