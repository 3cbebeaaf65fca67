// @ts-nocheck -- AssemblyScript, not TypeScript: compiled by scripts/build-kernels.mjs into
// ../wasm-binary.ts. The module imports tfjs-wasm's memory (env.memory) and works on it in
// place: every pointer is a byte offset into that heap. It has no data segments, allocates
// nothing and never grows memory; callers pass scratch space allocated by tfjs-wasm's malloc.
//
// Legend: N batch, M rows of A and C, K shared dim, P columns of B and C, Q = P rounded up to 8.

// ---------------------------------------------------------------------------------------------
// Batched matrix product: C[n] = op(A[n]) · op(B[n]), op = identity or transpose.

/** Shared-dim block: the panel block [KC, Q] stays in L2 and an A strip [4, KC] in L1. */
const KC = 256;

/**
 * C [N, M, P] = A [N, M, K] · B [N, K, P]; A is stored [N, K, M] when transposeA, B is stored
 * [N, P, K] when transposeB. aBatch / bBatch are the batch strides in elements (0 broadcasts one
 * matrix over the batch). scratch must hold K·Q + 32 floats. Every output element is summed in
 * order k = 0..K-1 (blocks of KC continue from the stored partial sums), like a plain loop.
 */
export function batchMatMul(
  a: usize, b: usize, c: usize, scratch: usize,
  n: i32, m: i32, k: i32, p: i32,
  aBatch: i32, bBatch: i32, transposeA: i32, transposeB: i32,
): void {
  // Bytes between consecutive rows (i) and consecutive shared-dim steps (k) of A.
  const rowStride = <usize>(transposeA ? 4 : k * 4);
  const kStride = <usize>(transposeA ? m * 4 : 4);
  const q = (p + 7) & ~7;
  // Pack B into an aligned, zero-padded panel unless it is only read once or twice (M < 8) and
  // already usable: packing costs one pass over B and measured up to 1.3x faster at M 256.
  const pack = m >= 8 || transposeB != 0 || (p & 7) != 0 || (b & 15) != 0 || (bBatch & 3) != 0;
  const panel = scratch; // [K, Q] copy of B[n] when packed
  const tile = scratch + <usize>(k * q * 4); // [4, 8] partial output tile
  for (let batch = 0; batch < n; batch++) {
    const aN = a + <usize>batch * <usize>aBatch * 4;
    const bN = b + <usize>batch * <usize>bBatch * 4;
    const cN = c + <usize>batch * <usize>(m * p) * 4;
    let panelPointer = bN;
    let panelStride = <usize>(p * 4);
    if (pack) {
      if (batch == 0 || bBatch != 0) packPanel(bN, panel, k, p, q, transposeB);
      panelPointer = panel;
      panelStride = <usize>(q * 4);
    }
    for (let k0 = 0; k0 < k || k0 == 0; k0 += KC) {
      const kb = min(KC, k - k0);
      const accumulate = k0 > 0;
      const aBlock = aN + <usize>k0 * kStride;
      const bBlock = panelPointer + <usize>k0 * panelStride;
      let i = 0;
      for (; i + 4 <= m; i += 4) {
        rows4(aBlock + <usize>i * rowStride, rowStride, kStride, bBlock, panelStride, cN + <usize>(i * p * 4), kb, p, tile, accumulate);
      }
      for (; i + 2 <= m; i += 2) {
        rows2(aBlock + <usize>i * rowStride, rowStride, kStride, bBlock, panelStride, cN + <usize>(i * p * 4), kb, p, tile, accumulate);
      }
      for (; i < m; i++) {
        rows1(aBlock + <usize>i * rowStride, kStride, bBlock, panelStride, cN + <usize>(i * p * 4), kb, p, tile, accumulate);
      }
    }
  }
}

/** Copies B [K, P] (or its stored transpose [P, K]) into a [K, Q] panel, zero-padding P..Q. */
function packPanel(b: usize, panel: usize, k: i32, p: i32, q: i32, transposed: i32): void {
  if (transposed) {
    // panel[kk, j] = b[j, kk]: 4x4 register transposes, scalar edges.
    let j = 0;
    for (; j + 4 <= p; j += 4) {
      const r0 = b + <usize>(j * k * 4);
      const r1 = r0 + <usize>(k * 4);
      const r2 = r1 + <usize>(k * 4);
      const r3 = r2 + <usize>(k * 4);
      let kk = 0;
      for (; kk + 4 <= k; kk += 4) {
        const o = <usize>(kk * 4);
        const v0 = v128.load(r0 + o);
        const v1 = v128.load(r1 + o);
        const v2 = v128.load(r2 + o);
        const v3 = v128.load(r3 + o);
        const t0 = f32x4.shuffle(v0, v1, 0, 4, 1, 5);
        const t1 = f32x4.shuffle(v0, v1, 2, 6, 3, 7);
        const t2 = f32x4.shuffle(v2, v3, 0, 4, 1, 5);
        const t3 = f32x4.shuffle(v2, v3, 2, 6, 3, 7);
        const d = panel + <usize>((kk * q + j) * 4);
        const s = <usize>(q * 4);
        v128.store(d, f32x4.shuffle(t0, t2, 0, 1, 4, 5));
        v128.store(d + s, f32x4.shuffle(t0, t2, 2, 3, 6, 7));
        v128.store(d + 2 * s, f32x4.shuffle(t1, t3, 0, 1, 4, 5));
        v128.store(d + 3 * s, f32x4.shuffle(t1, t3, 2, 3, 6, 7));
      }
      for (; kk < k; kk++) {
        const d = panel + <usize>((kk * q + j) * 4);
        const o = <usize>(kk * 4);
        store<f32>(d, load<f32>(r0 + o));
        store<f32>(d, load<f32>(r1 + o), 4);
        store<f32>(d, load<f32>(r2 + o), 8);
        store<f32>(d, load<f32>(r3 + o), 12);
      }
    }
    for (; j < p; j++) {
      for (let kk = 0; kk < k; kk++) {
        store<f32>(panel + <usize>((kk * q + j) * 4), load<f32>(b + <usize>((j * k + kk) * 4)));
      }
    }
    for (let kk = 0; kk < k; kk++) {
      for (let jj = p; jj < q; jj++) store<f32>(panel + <usize>((kk * q + jj) * 4), 0);
    }
  } else {
    for (let kk = 0; kk < k; kk++) {
      const source = b + <usize>(kk * p * 4);
      const target = panel + <usize>(kk * q * 4);
      let j = 0;
      for (; j + 4 <= p; j += 4) v128.store(target + <usize>(j * 4), v128.load(source + <usize>(j * 4)));
      for (; j < p; j++) store<f32>(target + <usize>(j * 4), load<f32>(source + <usize>(j * 4)));
      for (; j < q; j++) store<f32>(target + <usize>(j * 4), 0);
    }
  }
}

/** Copies the first `columns` columns of a [rows, 8] tile into C rows `rowBytes` apart. */
function storeTile(tile: usize, c: usize, rowBytes: usize, rows: i32, columns: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < columns; j++) {
      store<f32>(c + <usize>r * rowBytes + <usize>(j * 4), load<f32>(tile + <usize>((r * 8 + j) * 4)));
    }
  }
}

/** The inverse of storeTile: C's partial sums into the tile (columns past `columns` are unused). */
function loadTile(tile: usize, c: usize, rowBytes: usize, rows: i32, columns: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < columns; j++) {
      store<f32>(tile + <usize>((r * 8 + j) * 4), load<f32>(c + <usize>r * rowBytes + <usize>(j * 4)));
    }
  }
}

/**
 * Four rows of C: a 4x8 register tile per step over the panel's columns (8 accumulators, two
 * B vectors and a broadcast A value fit V8's 16 SIMD registers without spills).
 */
function rows4(a: usize, rowStride: usize, kStride: usize, panel: usize, panelStride: usize, c: usize, k: i32, p: i32, tile: usize, accumulate: bool): void {
  const rowBytes = <usize>(p * 4);
  const rowStride2 = rowStride * 2;
  const rowStride3 = rowStride * 3;
  for (let j = 0; j < p; j += 8) {
    const full = j + 8 <= p;
    // Start from zero, or from the partial sums of the previous shared-dim block.
    let start = c + <usize>(j * 4);
    let startRow = rowBytes;
    if (!full) {
      if (accumulate) loadTile(tile, start, rowBytes, 4, p - j);
      start = tile;
      startRow = 32;
    }
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
    let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
    let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
    let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
    if (accumulate) {
      c00 = v128.load(start); c01 = v128.load(start, 16);
      c10 = v128.load(start + startRow); c11 = v128.load(start + startRow, 16);
      c20 = v128.load(start + 2 * startRow); c21 = v128.load(start + 2 * startRow, 16);
      c30 = v128.load(start + 3 * startRow); c31 = v128.load(start + 3 * startRow, 16);
    }
    let pa = a;
    let pb = panel + <usize>(j * 4);
    for (let kk = 0; kk < k; kk++) {
      const b0 = v128.load(pb);
      const b1 = v128.load(pb, 16);
      const a0 = v128.load32_splat(pa);
      const a1 = v128.load32_splat(pa + rowStride);
      const a2 = v128.load32_splat(pa + rowStride2);
      const a3 = v128.load32_splat(pa + rowStride3);
      c00 = f32x4.add(c00, f32x4.mul(a0, b0));
      c01 = f32x4.add(c01, f32x4.mul(a0, b1));
      c10 = f32x4.add(c10, f32x4.mul(a1, b0));
      c11 = f32x4.add(c11, f32x4.mul(a1, b1));
      c20 = f32x4.add(c20, f32x4.mul(a2, b0));
      c21 = f32x4.add(c21, f32x4.mul(a2, b1));
      c30 = f32x4.add(c30, f32x4.mul(a3, b0));
      c31 = f32x4.add(c31, f32x4.mul(a3, b1));
      pa += kStride;
      pb += panelStride;
    }
    const d = full ? c + <usize>(j * 4) : tile;
    const dRow = full ? rowBytes : 32;
    v128.store(d, c00); v128.store(d, c01, 16);
    v128.store(d + dRow, c10); v128.store(d + dRow, c11, 16);
    v128.store(d + 2 * dRow, c20); v128.store(d + 2 * dRow, c21, 16);
    v128.store(d + 3 * dRow, c30); v128.store(d + 3 * dRow, c31, 16);
    if (!full) storeTile(tile, c + <usize>(j * 4), rowBytes, 4, p - j);
  }
}

/** Two rows of C (the M % 4 remainder and decoding's G·T = 2 rows): 2x16 tiles, then 2x8. */
function rows2(a: usize, rowStride: usize, kStride: usize, panel: usize, panelStride: usize, c: usize, k: i32, p: i32, tile: usize, accumulate: bool): void {
  const rowBytes = <usize>(p * 4);
  let j = 0;
  for (; j + 16 <= p; j += 16) {
    const d = c + <usize>(j * 4);
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0), c03 = f32x4.splat(0);
    let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0), c13 = f32x4.splat(0);
    if (accumulate) {
      c00 = v128.load(d); c01 = v128.load(d, 16); c02 = v128.load(d, 32); c03 = v128.load(d, 48);
      c10 = v128.load(d + rowBytes); c11 = v128.load(d + rowBytes, 16); c12 = v128.load(d + rowBytes, 32); c13 = v128.load(d + rowBytes, 48);
    }
    let pa = a;
    let pb = panel + <usize>(j * 4);
    for (let kk = 0; kk < k; kk++) {
      const b0 = v128.load(pb);
      const b1 = v128.load(pb, 16);
      const b2 = v128.load(pb, 32);
      const b3 = v128.load(pb, 48);
      const a0 = v128.load32_splat(pa);
      const a1 = v128.load32_splat(pa + rowStride);
      c00 = f32x4.add(c00, f32x4.mul(a0, b0));
      c01 = f32x4.add(c01, f32x4.mul(a0, b1));
      c02 = f32x4.add(c02, f32x4.mul(a0, b2));
      c03 = f32x4.add(c03, f32x4.mul(a0, b3));
      c10 = f32x4.add(c10, f32x4.mul(a1, b0));
      c11 = f32x4.add(c11, f32x4.mul(a1, b1));
      c12 = f32x4.add(c12, f32x4.mul(a1, b2));
      c13 = f32x4.add(c13, f32x4.mul(a1, b3));
      pa += kStride;
      pb += panelStride;
    }
    v128.store(d, c00); v128.store(d, c01, 16); v128.store(d, c02, 32); v128.store(d, c03, 48);
    v128.store(d + rowBytes, c10); v128.store(d + rowBytes, c11, 16); v128.store(d + rowBytes, c12, 32); v128.store(d + rowBytes, c13, 48);
  }
  for (; j < p; j += 8) {
    const full = j + 8 <= p;
    let start = c + <usize>(j * 4);
    let startRow = rowBytes;
    if (!full) {
      if (accumulate) loadTile(tile, start, rowBytes, 2, p - j);
      start = tile;
      startRow = 32;
    }
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
    let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
    if (accumulate) {
      c00 = v128.load(start); c01 = v128.load(start, 16);
      c10 = v128.load(start + startRow); c11 = v128.load(start + startRow, 16);
    }
    let pa = a;
    let pb = panel + <usize>(j * 4);
    for (let kk = 0; kk < k; kk++) {
      const b0 = v128.load(pb);
      const b1 = v128.load(pb, 16);
      const a0 = v128.load32_splat(pa);
      const a1 = v128.load32_splat(pa + rowStride);
      c00 = f32x4.add(c00, f32x4.mul(a0, b0));
      c01 = f32x4.add(c01, f32x4.mul(a0, b1));
      c10 = f32x4.add(c10, f32x4.mul(a1, b0));
      c11 = f32x4.add(c11, f32x4.mul(a1, b1));
      pa += kStride;
      pb += panelStride;
    }
    const d = full ? c + <usize>(j * 4) : tile;
    const dRow = full ? rowBytes : 32;
    v128.store(d, c00); v128.store(d, c01, 16);
    v128.store(d + dRow, c10); v128.store(d + dRow, c11, 16);
    if (!full) storeTile(tile, c + <usize>(j * 4), rowBytes, 2, p - j);
  }
}

/** One row of C: 1x16 tiles, then 1x8. */
function rows1(a: usize, kStride: usize, panel: usize, panelStride: usize, c: usize, k: i32, p: i32, tile: usize, accumulate: bool): void {
  let j = 0;
  for (; j + 16 <= p; j += 16) {
    const d = c + <usize>(j * 4);
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0), c03 = f32x4.splat(0);
    if (accumulate) {
      c00 = v128.load(d); c01 = v128.load(d, 16); c02 = v128.load(d, 32); c03 = v128.load(d, 48);
    }
    let pa = a;
    let pb = panel + <usize>(j * 4);
    for (let kk = 0; kk < k; kk++) {
      const a0 = v128.load32_splat(pa);
      c00 = f32x4.add(c00, f32x4.mul(a0, v128.load(pb)));
      c01 = f32x4.add(c01, f32x4.mul(a0, v128.load(pb, 16)));
      c02 = f32x4.add(c02, f32x4.mul(a0, v128.load(pb, 32)));
      c03 = f32x4.add(c03, f32x4.mul(a0, v128.load(pb, 48)));
      pa += kStride;
      pb += panelStride;
    }
    v128.store(d, c00); v128.store(d, c01, 16); v128.store(d, c02, 32); v128.store(d, c03, 48);
  }
  for (; j < p; j += 8) {
    const full = j + 8 <= p;
    let start = c + <usize>(j * 4);
    if (!full) {
      if (accumulate) loadTile(tile, start, 0, 1, p - j);
      start = tile;
    }
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
    if (accumulate) {
      c00 = v128.load(start); c01 = v128.load(start, 16);
    }
    let pa = a;
    let pb = panel + <usize>(j * 4);
    for (let kk = 0; kk < k; kk++) {
      const a0 = v128.load32_splat(pa);
      c00 = f32x4.add(c00, f32x4.mul(a0, v128.load(pb)));
      c01 = f32x4.add(c01, f32x4.mul(a0, v128.load(pb, 16)));
      pa += kStride;
      pb += panelStride;
    }
    const d = full ? c + <usize>(j * 4) : tile;
    v128.store(d, c00); v128.store(d, c01, 16);
    if (!full) storeTile(tile, c + <usize>(j * 4), 0, 1, p - j);
  }
}

// ---------------------------------------------------------------------------------------------
// Axis permutations, in the two forms attention needs after adjacent axes are merged.

/**
 * [N, R, C] -> [N, C, R]: 4x4 register transposes over blocks of 64 rows by 16 columns (8 when
 * output rows are a multiple of 4 KiB apart: 16 such rows share an L1 set and measured 3.5x
 * slower), scalar edges.
 */
export function transposeLastTwo(source: usize, target: usize, n: i32, rows: i32, columns: i32): void {
  const size = <usize>(rows * columns * 4);
  const inRow = <usize>(columns * 4);
  const outRow = <usize>(rows * 4);
  const blockColumns = (outRow & 4095) == 0 ? 8 : 16;
  for (let batch = 0; batch < n; batch++) {
    const s = source + <usize>batch * size;
    const t = target + <usize>batch * size;
    for (let i0 = 0; i0 < rows; i0 += 64) {
      const i1 = min(i0 + 64, rows);
      for (let j0 = 0; j0 < columns; j0 += blockColumns) {
        const j1 = min(j0 + blockColumns, columns);
        let i = i0;
        for (; i + 4 <= i1; i += 4) {
          const r0 = s + <usize>i * inRow;
          let j = j0;
          for (; j + 4 <= j1; j += 4) {
            const o = <usize>(j * 4);
            const v0 = v128.load(r0 + o);
            const v1 = v128.load(r0 + inRow + o);
            const v2 = v128.load(r0 + 2 * inRow + o);
            const v3 = v128.load(r0 + 3 * inRow + o);
            const t0 = f32x4.shuffle(v0, v1, 0, 4, 1, 5);
            const t1 = f32x4.shuffle(v0, v1, 2, 6, 3, 7);
            const t2 = f32x4.shuffle(v2, v3, 0, 4, 1, 5);
            const t3 = f32x4.shuffle(v2, v3, 2, 6, 3, 7);
            const d = t + <usize>j * outRow + <usize>(i * 4);
            v128.store(d, f32x4.shuffle(t0, t2, 0, 1, 4, 5));
            v128.store(d + outRow, f32x4.shuffle(t0, t2, 2, 3, 6, 7));
            v128.store(d + 2 * outRow, f32x4.shuffle(t1, t3, 0, 1, 4, 5));
            v128.store(d + 3 * outRow, f32x4.shuffle(t1, t3, 2, 3, 6, 7));
          }
          for (; j < j1; j++) {
            const o = <usize>(j * 4);
            const d = t + <usize>j * outRow + <usize>(i * 4);
            store<f32>(d, load<f32>(r0 + o));
            store<f32>(d, load<f32>(r0 + inRow + o), 4);
            store<f32>(d, load<f32>(r0 + 2 * inRow + o), 8);
            store<f32>(d, load<f32>(r0 + 3 * inRow + o), 12);
          }
        }
        for (; i < i1; i++) {
          for (let j = j0; j < j1; j++) {
            store<f32>(t + <usize>j * outRow + <usize>(i * 4), load<f32>(s + <usize>i * inRow + <usize>(j * 4)));
          }
        }
      }
    }
  }
}

/** [N, X, Y, L] -> [N, Y, X, L]: moves whole rows of L floats. */
export function swapMiddleAxes(source: usize, target: usize, n: i32, x: i32, y: i32, length: i32): void {
  const rowBytes = <usize>(length * 4);
  const vectorBytes = rowBytes & ~15;
  for (let batch = 0; batch < n; batch++) {
    const s = source + <usize>batch * <usize>x * <usize>y * rowBytes;
    const t = target + <usize>batch * <usize>x * <usize>y * rowBytes;
    for (let yy = 0; yy < y; yy++) {
      for (let xx = 0; xx < x; xx++) {
        const from = s + <usize>(xx * y + yy) * rowBytes;
        const to = t + <usize>(yy * x + xx) * rowBytes;
        let o: usize = 0;
        for (; o < vectorBytes; o += 16) v128.store(to + o, v128.load(from + o));
        for (; o < rowBytes; o += 4) store<f32>(to + o, load<f32>(from + o));
      }
    }
  }
}
