// @ts-nocheck -- AssemblyScript, not TypeScript: compiled by scripts/build-kernels.mjs into
// ../wasm-binary.ts. The module imports tfjs-wasm's memory (env.memory) and works on it in
// place: every pointer is a byte offset into that heap. It has no data segments, allocates
// nothing and never grows memory; callers pass scratch space allocated by tfjs-wasm's malloc.
//
// Legend: N batch, M rows of A and C, K shared dim, P columns of B and C, Q = P rounded up to 8.

// ---------------------------------------------------------------------------------------------
// Batched matrix product: C[n] = op(A[n]) · op(B[n]), op = identity or transpose.

/** Shared-dim block: the panel block [KC, NC] stays in L2 and an A strip [4, KC] in L1. */
const KC = 256;
/** Column block (a multiple of 8): 256 × 512 floats of panel = 512 KiB. */
const NC = 512;

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
  rowStart: i32, rowEnd: i32,
): void {
  // Bytes between consecutive rows (i) and consecutive shared-dim steps (k) of A.
  const rowStride = <usize>(transposeA ? 4 : k * 4);
  const kStride = <usize>(transposeA ? m * 4 : 4);
  // Only rows [rowStart, rowEnd) of each C[n] are computed (one thread's share; strides stay
  // those of all m rows): A and C start rowStart rows in, the rows themselves are unchanged.
  a += <usize>rowStart * rowStride;
  c += <usize>(rowStart * p * 4);
  const rows = rowEnd - rowStart;
  // Few rows (decoding) of a non-transposed B: stream B once, row by row, with no panel, so a
  // weight of any size (a 151,936-column unembedding) needs no scratch copy.
  if (m < 8 && transposeB == 0) {
    for (let batch = 0; batch < n; batch++) {
      streamRows(a + <usize>batch * <usize>aBatch * 4, rowStride, kStride, b + <usize>batch * <usize>bBatch * 4, c + <usize>batch * <usize>(m * p) * 4, rows, k, p, 0, p);
    }
    return;
  }
  const q = (p + 7) & ~7;
  // Otherwise B is packed into an aligned, zero-padded panel (measured up to 1.3x faster at M 256).
  const panel = scratch; // [K, Q] copy of B[n]
  const tile = scratch + <usize>(k * q * 4); // [4, 8] partial output tile
  const panelStride = <usize>(q * 4);
  for (let batch = 0; batch < n; batch++) {
    const aN = a + <usize>batch * <usize>aBatch * 4;
    const bN = b + <usize>batch * <usize>bBatch * 4;
    const cN = c + <usize>batch * <usize>(m * p) * 4;
    if (batch == 0 || bBatch != 0) packPanel(bN, panel, k, p, q, transposeB);
    const rowBytes = <usize>(p * 4);
    for (let k0 = 0; k0 < k || k0 == 0; k0 += KC) {
      const kb = min(KC, k - k0);
      const accumulate = k0 > 0;
      const aBlock = aN + <usize>k0 * kStride;
      // Column blocks of NC keep the panel block [KC, NC] in L2 for wide products (an
      // unembedding); each element's sum still runs k = 0..K-1 in order.
      for (let j0 = 0; j0 < p; j0 += NC) {
        const columns = min(NC, p - j0);
        const bBlock = panel + <usize>k0 * panelStride + <usize>(j0 * 4);
        const cBlock = cN + <usize>(j0 * 4);
        let i = 0;
        for (; i + 4 <= rows; i += 4) {
          rows4(aBlock + <usize>i * rowStride, rowStride, kStride, bBlock, panelStride, cBlock + <usize>i * rowBytes, kb, columns, rowBytes, tile, accumulate);
        }
        for (; i + 2 <= rows; i += 2) {
          rows2(aBlock + <usize>i * rowStride, rowStride, kStride, bBlock, panelStride, cBlock + <usize>i * rowBytes, kb, columns, rowBytes, tile, accumulate);
        }
        for (; i < rows; i++) {
          rows1(aBlock + <usize>i * rowStride, kStride, bBlock, panelStride, cBlock + <usize>i * rowBytes, kb, columns, tile, accumulate);
        }
      }
    }
  }
}

/**
 * Columns [columnStart, columnEnd) of C [M, P] = A [M, K] · B [K, P] for fewer than 8 rows, B
 * streamed in place (one thread's share of a decoding projection; the rest of C is untouched).
 * A is stored [K, M] when transposeA. Each element is summed k = 0..K-1, as batchMatMul does.
 */
export function streamColumns(a: usize, b: usize, c: usize, m: i32, k: i32, p: i32, transposeA: i32, columnStart: i32, columnEnd: i32): void {
  streamRows(a, <usize>(transposeA ? 4 : k * 4), <usize>(transposeA ? m * 4 : 4), b, c, m, k, p, columnStart, columnEnd);
}

/** Columns of C per block of streamRows: a block of each of C's rows and 8 rows of B stay in L1. */
const STREAM_COLUMNS = 512;

/**
 * C [M, P] = A [M, K] · B [K, P] for a few rows, B read in place (unaligned is fine): per block
 * of STREAM_COLUMNS columns, eight rows of B at a time are added into each row of C, so B streams
 * through once in order and C's block stays in L1. Each element is summed k = 0..K-1 in order.
 */
function streamRows(a: usize, rowStride: usize, kStride: usize, b: usize, c: usize, m: i32, k: i32, p: i32, columnStart: i32, columnEnd: i32): void {
  const rowBytes = <usize>(p * 4);
  for (let j0 = columnStart; j0 < columnEnd; j0 += STREAM_COLUMNS) {
    const j1 = min(columnEnd, j0 + STREAM_COLUMNS);
    const vectorEnd = j0 + ((j1 - j0) & ~3);
    for (let r = 0; r < m; r++) {
      const cr = c + <usize>r * rowBytes;
      for (let j = j0; j < vectorEnd; j += 4) v128.store(cr + <usize>(j * 4), f32x4.splat(0));
      for (let j = vectorEnd; j < j1; j++) store<f32>(cr + <usize>(j * 4), 0);
    }
    let kk = 0;
    for (; kk + 8 <= k; kk += 8) {
      const b0 = b + <usize>kk * rowBytes;
      for (let r = 0; r < m; r++) {
        const ar = a + <usize>r * rowStride + <usize>kk * kStride;
        const s0 = load<f32>(ar);
        const s1 = load<f32>(ar + kStride);
        const s2 = load<f32>(ar + 2 * kStride);
        const s3 = load<f32>(ar + 3 * kStride);
        const s4 = load<f32>(ar + 4 * kStride);
        const s5 = load<f32>(ar + 5 * kStride);
        const s6 = load<f32>(ar + 6 * kStride);
        const s7 = load<f32>(ar + 7 * kStride);
        const a0 = f32x4.splat(s0), a1 = f32x4.splat(s1), a2 = f32x4.splat(s2), a3 = f32x4.splat(s3);
        const a4 = f32x4.splat(s4), a5 = f32x4.splat(s5), a6 = f32x4.splat(s6), a7 = f32x4.splat(s7);
        const cr = c + <usize>r * rowBytes;
        for (let j = j0; j < vectorEnd; j += 4) {
          const o = <usize>(j * 4);
          let pb = b0 + o;
          let acc = v128.load(cr + o);
          acc = f32x4.add(acc, f32x4.mul(a0, v128.load(pb))); pb += rowBytes;
          acc = f32x4.add(acc, f32x4.mul(a1, v128.load(pb))); pb += rowBytes;
          acc = f32x4.add(acc, f32x4.mul(a2, v128.load(pb))); pb += rowBytes;
          acc = f32x4.add(acc, f32x4.mul(a3, v128.load(pb))); pb += rowBytes;
          acc = f32x4.add(acc, f32x4.mul(a4, v128.load(pb))); pb += rowBytes;
          acc = f32x4.add(acc, f32x4.mul(a5, v128.load(pb))); pb += rowBytes;
          acc = f32x4.add(acc, f32x4.mul(a6, v128.load(pb))); pb += rowBytes;
          acc = f32x4.add(acc, f32x4.mul(a7, v128.load(pb)));
          v128.store(cr + o, acc);
        }
        for (let j = vectorEnd; j < j1; j++) {
          const o = <usize>(j * 4);
          let pb = b0 + o;
          let acc = load<f32>(cr + o);
          acc += s0 * load<f32>(pb); pb += rowBytes;
          acc += s1 * load<f32>(pb); pb += rowBytes;
          acc += s2 * load<f32>(pb); pb += rowBytes;
          acc += s3 * load<f32>(pb); pb += rowBytes;
          acc += s4 * load<f32>(pb); pb += rowBytes;
          acc += s5 * load<f32>(pb); pb += rowBytes;
          acc += s6 * load<f32>(pb); pb += rowBytes;
          acc += s7 * load<f32>(pb);
          store<f32>(cr + o, acc);
        }
      }
    }
    for (; kk < k; kk++) {
      const b0 = b + <usize>kk * rowBytes;
      for (let r = 0; r < m; r++) {
        const s0 = load<f32>(a + <usize>r * rowStride + <usize>kk * kStride);
        const a0 = f32x4.splat(s0);
        const cr = c + <usize>r * rowBytes;
        for (let j = j0; j < vectorEnd; j += 4) {
          const o = <usize>(j * 4);
          v128.store(cr + o, f32x4.add(v128.load(cr + o), f32x4.mul(a0, v128.load(b0 + o))));
        }
        for (let j = vectorEnd; j < j1; j++) {
          const o = <usize>(j * 4);
          store<f32>(cr + o, load<f32>(cr + o) + s0 * load<f32>(b0 + o));
        }
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
function rows4(a: usize, rowStride: usize, kStride: usize, panel: usize, panelStride: usize, c: usize, k: i32, p: i32, rowBytes: usize, tile: usize, accumulate: bool): void {
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
function rows2(a: usize, rowStride: usize, kStride: usize, panel: usize, panelStride: usize, c: usize, k: i32, p: i32, rowBytes: usize, tile: usize, accumulate: bool): void {
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

// ---------------------------------------------------------------------------------------------
// RMSNorm, RoPE and batch-1 decoding: elementwise chains fused into one pass each, so a decode
// step runs a few kernels per layer instead of dozens (each tfjs op costs ~10 µs of overhead).

/** Sum of the `d` floats at x (f32x4 lanes, then the lanes, then a scalar tail). */
function sumOfSquares(x: usize, d: i32): f32 {
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= d; j += 4) {
    const v = v128.load(x + <usize>(j * 4));
    acc = f32x4.add(acc, f32x4.mul(v, v));
  }
  let total = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  for (; j < d; j++) {
    const v = load<f32>(x + <usize>(j * 4));
    total += v * v;
  }
  return total;
}

/** 1 / sqrt(mean(x²) + eps) of one row. */
function inverseRms(x: usize, d: i32, eps: f32): f32 {
  return <f32>1 / Mathf.sqrt(sumOfSquares(x, d) / <f32>d + eps);
}

/** y [R, D] = x · rsqrt(mean(x², last axis) + eps) · w [D]. */
export function rmsNorm(x: usize, w: usize, y: usize, rows: i32, d: i32, eps: f32): void {
  const rowBytes = <usize>(d * 4);
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * rowBytes;
    const yr = y + <usize>r * rowBytes;
    const inv = inverseRms(xr, d, eps);
    const scale = f32x4.splat(inv);
    let j = 0;
    for (; j + 4 <= d; j += 4) {
      const o = <usize>(j * 4);
      v128.store(yr + o, f32x4.mul(f32x4.mul(v128.load(xr + o), scale), v128.load(w + o)));
    }
    for (; j < d; j++) {
      const o = <usize>(j * 4);
      store<f32>(yr + o, load<f32>(xr + o) * inv * load<f32>(w + o));
    }
  }
}

/**
 * Gradients of rmsNorm for dy [R, D]: with r = rsqrt(mean(x²) + eps), x̂ = x·r, g = dy·w:
 * dx = r · (g − x̂ · mean(g · x̂)), dw = Σ_rows dy · x̂ (dw [D] is overwritten).
 */
export function rmsNormGrad(dy: usize, x: usize, w: usize, dx: usize, dw: usize, rows: i32, d: i32, eps: f32): void {
  const rowBytes = <usize>(d * 4);
  for (let j = 0; j < d; j++) store<f32>(dw + <usize>(j * 4), 0);
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * rowBytes;
    const gr = dy + <usize>r * rowBytes;
    const dxr = dx + <usize>r * rowBytes;
    const inv = inverseRms(xr, d, eps);
    const scale = f32x4.splat(inv);
    // mean(g · x̂)
    let accumulator = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= d; j += 4) {
      const o = <usize>(j * 4);
      const xhat = f32x4.mul(v128.load(xr + o), scale);
      const g = f32x4.mul(v128.load(gr + o), v128.load(w + o));
      accumulator = f32x4.add(accumulator, f32x4.mul(g, xhat));
    }
    let dot = f32x4.extract_lane(accumulator, 0) + f32x4.extract_lane(accumulator, 1) + f32x4.extract_lane(accumulator, 2) + f32x4.extract_lane(accumulator, 3);
    for (let t = j; t < d; t++) {
      const o = <usize>(t * 4);
      dot += load<f32>(gr + o) * load<f32>(w + o) * (load<f32>(xr + o) * inv);
    }
    const mean = dot / <f32>d;
    const meanV = f32x4.splat(mean);
    j = 0;
    for (; j + 4 <= d; j += 4) {
      const o = <usize>(j * 4);
      const dyv = v128.load(gr + o);
      const xhat = f32x4.mul(v128.load(xr + o), scale);
      const g = f32x4.mul(dyv, v128.load(w + o));
      v128.store(dxr + o, f32x4.mul(scale, f32x4.sub(g, f32x4.mul(xhat, meanV))));
      v128.store(dw + o, f32x4.add(v128.load(dw + o), f32x4.mul(dyv, xhat)));
    }
    for (; j < d; j++) {
      const o = <usize>(j * 4);
      const dyv = load<f32>(gr + o);
      const xhat = load<f32>(xr + o) * inv;
      store<f32>(dxr + o, inv * (dyv * load<f32>(w + o) - xhat * mean));
      store<f32>(dw + o, load<f32>(dw + o) + dyv * xhat);
    }
  }
}

/**
 * Rotate-half RoPE of x [R, N, D] with tables cos, sin [R, D] shared by the N heads, h = D/2:
 *   y₁ = x₁·cos₁ − x₂·sin₁,  y₂ = x₂·cos₂ + x₁·sin₂                 (inverse = 0)
 * and its transpose (the gradient, dx for dy):
 *   y₁ = x₁·cos₁ + x₂·sin₂,  y₂ = x₂·cos₂ − x₁·sin₁                 (inverse = 1)
 * Products are rounded before the add, as tf's x·cos + rotate_half(x)·sin.
 */
export function rope(x: usize, cos: usize, sin: usize, y: usize, rows: i32, heads: i32, d: i32, inverse: i32): void {
  const h = d >> 1;
  const halfBytes = <usize>(h * 4);
  const rowBytes = <usize>(d * 4);
  const vector = (h & 3) == 0;
  for (let r = 0; r < rows; r++) {
    const c = cos + <usize>r * rowBytes;
    const s = sin + <usize>r * rowBytes;
    // Sine halves in the order each output half uses them.
    const sFirst = inverse ? s + halfBytes : s;
    const sSecond = inverse ? s : s + halfBytes;
    for (let n = 0; n < heads; n++) {
      const xr = x + (<usize>r * <usize>heads + <usize>n) * rowBytes;
      const yr = y + (<usize>r * <usize>heads + <usize>n) * rowBytes;
      if (vector) {
        for (let j = 0; j < h; j += 4) {
          const o = <usize>(j * 4);
          const x1 = v128.load(xr + o);
          const x2 = v128.load(xr + halfBytes + o);
          const a1 = f32x4.mul(x1, v128.load(c + o));
          const a2 = f32x4.mul(x2, v128.load(c + halfBytes + o));
          const b1 = f32x4.mul(x2, v128.load(sFirst + o));
          const b2 = f32x4.mul(x1, v128.load(sSecond + o));
          v128.store(yr + o, inverse ? f32x4.add(a1, b1) : f32x4.sub(a1, b1));
          v128.store(yr + halfBytes + o, inverse ? f32x4.sub(a2, b2) : f32x4.add(a2, b2));
        }
      } else {
        for (let j = 0; j < h; j++) {
          const o = <usize>(j * 4);
          const x1 = load<f32>(xr + o);
          const x2 = load<f32>(xr + halfBytes + o);
          const a1 = x1 * load<f32>(c + o);
          const a2 = x2 * load<f32>(c + halfBytes + o);
          const b1 = x2 * load<f32>(sFirst + o);
          const b2 = x1 * load<f32>(sSecond + o);
          store<f32>(yr + o, inverse ? a1 + b1 : a1 - b1);
          store<f32>(yr + halfBytes + o, inverse ? a2 - b2 : a2 + b2);
        }
      }
    }
  }
}

/**
 * One head vector x [D] prepared for attention into `out` (tmp: D floats of scratch): RMSNorm by
 * w when flags & 1, then RoPE by the table rows c, s [D] when flags & 2, rounded exactly as the
 * rmsNorm and rope kernels round. Returns where the prepared vector is (x when flags = 0).
 */
function prepareHead(x: usize, out: usize, tmp: usize, w: usize, c: usize, s: usize, d: i32, eps: f32, flags: i32): usize {
  let source = x;
  if (flags & 1) {
    rmsNorm(x, w, tmp, 1, d, eps);
    source = tmp;
  }
  if (flags & 2) {
    rope(source, c, s, out, 1, 1, d, 0);
    return out;
  }
  return source;
}

/**
 * Appends T new positions to a layer's key/value cache: k, v [B, T, K, D], past keysT
 * [B*K, D, P] and values [B*K, P, D] (ignored when p = 0) -> keysT [B*K, D, P+T], values
 * [B*K, P+T, D]. Each new key is first prepared as prepareHead does with flags (1: RMSNorm by
 * normWeight [D], 2: RoPE by cos, sin [B, T, D]). scratch: 2·D floats.
 */
export function appendKeyValues(
  k: usize, v: usize, pastKeysT: usize, pastValues: usize, keysT: usize, values: usize,
  b: i32, t: i32, kvHeads: i32, d: i32, p: i32,
  normWeight: usize, cos: usize, sin: usize, eps: f32, flags: i32, scratch: usize,
): void {
  const s = p + t;
  for (let bb = 0; bb < b; bb++) {
    for (let kh = 0; kh < kvHeads; kh++) {
      const cacheIndex = <usize>(bb * kvHeads + kh);
      // keysᵀ: row dd holds P old then T new key components.
      const oldK = pastKeysT + cacheIndex * <usize>(d * p * 4);
      const newK = keysT + cacheIndex * <usize>(d * s * 4);
      for (let dd = 0; dd < d; dd++) {
        const from = oldK + <usize>(dd * p * 4);
        const to = newK + <usize>(dd * s * 4);
        copyFloats(from, to, p);
      }
      for (let tt = 0; tt < t; tt++) {
        const row = <usize>(bb * t + tt) * <usize>(d * 4);
        const key = prepareHead(k + <usize>(((bb * t + tt) * kvHeads + kh) * d * 4), scratch, scratch + <usize>(d * 4), normWeight, cos + row, sin + row, d, eps, flags);
        for (let dd = 0; dd < d; dd++) {
          store<f32>(newK + <usize>((dd * s + p + tt) * 4), load<f32>(key + <usize>(dd * 4)));
        }
      }
      // values: P old rows then T new rows of D.
      const oldV = pastValues + cacheIndex * <usize>(p * d * 4);
      const newV = values + cacheIndex * <usize>(s * d * 4);
      copyFloats(oldV, newV, p * d);
      for (let tt = 0; tt < t; tt++) {
        copyFloats(v + <usize>(((bb * t + tt) * kvHeads + kh) * d * 4), newV + <usize>((p + tt) * d * 4), d);
      }
    }
  }
}

function copyFloats(from: usize, to: usize, count: i32): void {
  let j = 0;
  for (; j + 4 <= count; j += 4) v128.store(to + <usize>(j * 4), v128.load(from + <usize>(j * 4)));
  for (; j < count; j++) store<f32>(to + <usize>(j * 4), load<f32>(from + <usize>(j * 4)));
}

/** e^x for x ≤ 0 in float32 (Cephes expf: 2^n · polynomial; ~1 ulp; 0 below −87). */
function expNonPositive(x: f32): f32 {
  if (x < <f32>-87.0) return 0;
  const n = Mathf.floor(x * <f32>1.44269504088896341 + <f32>0.5);
  const r = x - n * <f32>0.693359375 + n * <f32>2.12194440e-4;
  const r2 = r * r;
  let poly: f32 = <f32>1.9875691500e-4;
  poly = poly * r + <f32>1.3981999507e-3;
  poly = poly * r + <f32>8.3334519073e-3;
  poly = poly * r + <f32>4.1665795894e-2;
  poly = poly * r + <f32>1.6666665459e-1;
  poly = poly * r + <f32>5.0000001201e-1;
  const value = poly * r2 + r + <f32>1;
  return value * reinterpret<f32>((<i32>n + 127) << 23);
}

/**
 * Grouped-query attention without gradients, for decoding and inference prefill:
 * q [B, T, H, D], keysT [B*K, D, S], values [B*K, S, D], additive mask
 * [B, T, S] -> out [B, T, H, D]; query head h reads kv head h / (H / K). Per (b, t, h): q
 * prepared as prepareHead does with flags (1: RMSNorm by normWeight, 2: RoPE by cos, sin
 * [B, T, D]), scores = (q · scale) · keysᵀ + mask, softmax, · values. scratch: S + 3 + 2·D floats.
 */
export function attentionNoGrad(
  q: usize, keysT: usize, values: usize, mask: usize, out: usize, scratch: usize,
  b: i32, t: i32, heads: i32, kvHeads: i32, d: i32, s: i32, scale: f32,
  normWeight: usize, cos: usize, sin: usize, eps: f32, flags: i32,
): void {
  const g = heads / kvHeads;
  const scores = scratch;
  const prepared = scratch + <usize>(((s + 3) & ~3) * 4);
  const tmp = prepared + <usize>(d * 4);
  const sVector = s & ~3;
  const dVector = (d & 3) == 0;
  for (let bb = 0; bb < b; bb++) {
    for (let tt = 0; tt < t; tt++) {
      const maskRow = mask + <usize>((bb * t + tt) * s * 4);
      for (let hh = 0; hh < heads; hh++) {
        const cacheIndex = <usize>(bb * kvHeads + hh / g);
        const kT = keysT + cacheIndex * <usize>(d * s * 4);
        const vals = values + cacheIndex * <usize>(s * d * 4);
        const tableRow = <usize>(bb * t + tt) * <usize>(d * 4);
        const qRow = prepareHead(q + <usize>(((bb * t + tt) * heads + hh) * d * 4), prepared, tmp, normWeight, cos + tableRow, sin + tableRow, d, eps, flags);
        const outRow = out + <usize>(((bb * t + tt) * heads + hh) * d * 4);
        // scores[s] = Σ_d (q_d · scale) · kT[d, s], d in order.
        for (let j = 0; j < s; j++) store<f32>(scores + <usize>(j * 4), 0);
        for (let dd = 0; dd < d; dd++) {
          const qd = load<f32>(qRow + <usize>(dd * 4)) * scale;
          const qv = f32x4.splat(qd);
          const kRow = kT + <usize>(dd * s * 4);
          let j = 0;
          for (; j < sVector; j += 4) {
            const o = <usize>(j * 4);
            v128.store(scores + o, f32x4.add(v128.load(scores + o), f32x4.mul(qv, v128.load(kRow + o))));
          }
          for (; j < s; j++) {
            const o = <usize>(j * 4);
            store<f32>(scores + o, load<f32>(scores + o) + qd * load<f32>(kRow + o));
          }
        }
        // Softmax over the masked scores.
        let max: f32 = -Infinity;
        for (let j = 0; j < s; j++) {
          const o = <usize>(j * 4);
          const value = load<f32>(scores + o) + load<f32>(maskRow + o);
          store<f32>(scores + o, value);
          max = value > max ? value : max;
        }
        let total: f32 = 0;
        for (let j = 0; j < s; j++) {
          const o = <usize>(j * 4);
          const e = expNonPositive(load<f32>(scores + o) - max);
          store<f32>(scores + o, e);
          total += e;
        }
        const inverseTotal = <f32>1 / total;
        // out = Σ_s weight_s · values[s, :].
        if (dVector) {
          for (let d0 = 0; d0 < d; d0 += 16) {
            const width = min(16, d - d0);
            let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
            let row = vals + <usize>(d0 * 4);
            for (let j = 0; j < s; j++) {
              const wv = f32x4.splat(load<f32>(scores + <usize>(j * 4)) * inverseTotal);
              a0 = f32x4.add(a0, f32x4.mul(wv, v128.load(row)));
              if (width > 4) a1 = f32x4.add(a1, f32x4.mul(wv, v128.load(row, 16)));
              if (width > 8) a2 = f32x4.add(a2, f32x4.mul(wv, v128.load(row, 32)));
              if (width > 12) a3 = f32x4.add(a3, f32x4.mul(wv, v128.load(row, 48)));
              row += <usize>(d * 4);
            }
            const o = outRow + <usize>(d0 * 4);
            v128.store(o, a0);
            if (width > 4) v128.store(o, a1, 16);
            if (width > 8) v128.store(o, a2, 32);
            if (width > 12) v128.store(o, a3, 48);
          }
        } else {
          for (let dd = 0; dd < d; dd++) {
            let acc: f32 = 0;
            for (let j = 0; j < s; j++) acc += load<f32>(scores + <usize>(j * 4)) * inverseTotal * load<f32>(vals + <usize>((j * d + dd) * 4));
            store<f32>(outRow + <usize>(dd * 4), acc);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// SwiGLU's gate: y = silu(g) · u = g · σ(g) · u, elementwise, and its gradient.

/**
 * e^x for x ≤ 0 in four lanes (expNonPositive's polynomial; inputs below −87 give ~2^−125).
 * n = round(x · log2 e) comes from adding 1.5·2^23 + 127, which leaves n + 127 in the low
 * mantissa bits; << 23 moves them into the exponent for 2^n (no float→int conversion).
 */
// @ts-ignore: decorator
@inline
function exp4NonPositive(x: v128): v128 {
  const clamped = f32x4.pmax(x, f32x4.splat(-87.0)); // pmax: one maxps (max handles NaN in several)
  const shifted = f32x4.add(f32x4.mul(clamped, f32x4.splat(1.44269504088896341)), f32x4.splat(12583039.0));
  const n = f32x4.sub(shifted, f32x4.splat(12583039.0));
  const r = f32x4.add(f32x4.sub(clamped, f32x4.mul(n, f32x4.splat(0.693359375))), f32x4.mul(n, f32x4.splat(2.12194440e-4)));
  let poly = f32x4.splat(1.9875691500e-4);
  poly = f32x4.add(f32x4.mul(poly, r), f32x4.splat(1.3981999507e-3));
  poly = f32x4.add(f32x4.mul(poly, r), f32x4.splat(8.3334519073e-3));
  poly = f32x4.add(f32x4.mul(poly, r), f32x4.splat(4.1665795894e-2));
  poly = f32x4.add(f32x4.mul(poly, r), f32x4.splat(1.6666665459e-1));
  poly = f32x4.add(f32x4.mul(poly, r), f32x4.splat(5.0000001201e-1));
  const value = f32x4.add(f32x4.add(f32x4.mul(poly, f32x4.mul(r, r)), r), f32x4.splat(1));
  return f32x4.mul(value, i32x4.shl(shifted, 23));
}

/** σ(x) = 1 / (1 + e^−x) in four lanes, from e^−|x| (no overflow). */
// @ts-ignore: decorator
@inline
function sigmoid4(x: v128): v128 {
  const e = exp4NonPositive(f32x4.neg(f32x4.abs(x)));
  const reciprocal = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e)); // one division
  return v128.bitselect(reciprocal, f32x4.mul(e, reciprocal), f32x4.ge(x, f32x4.splat(0)));
}

function sigmoid1(x: f32): f32 {
  const e = expNonPositive(-Mathf.abs(x));
  return x >= 0 ? <f32>1 / (<f32>1 + e) : e / (<f32>1 + e);
}

/** y [n] = (g · σ(g)) · u. */
export function swiglu(g: usize, u: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>(i * 4);
    const gv = v128.load(g + o);
    v128.store(y + o, f32x4.mul(f32x4.mul(gv, sigmoid4(gv)), v128.load(u + o)));
  }
  for (; i < n; i++) {
    const o = <usize>(i * 4);
    const gv = load<f32>(g + o);
    store<f32>(y + o, gv * sigmoid1(gv) * load<f32>(u + o));
  }
}

/** dg = dy · u · σ(g) · (1 + g · (1 − σ(g))), du = dy · g · σ(g). */
export function swigluGrad(dy: usize, g: usize, u: usize, dg: usize, du: usize, n: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>(i * 4);
    const gv = v128.load(g + o);
    const dyv = v128.load(dy + o);
    const s = sigmoid4(gv);
    v128.store(du + o, f32x4.mul(dyv, f32x4.mul(gv, s)));
    const slope = f32x4.mul(s, f32x4.add(one, f32x4.mul(gv, f32x4.sub(one, s))));
    v128.store(dg + o, f32x4.mul(f32x4.mul(dyv, v128.load(u + o)), slope));
  }
  for (; i < n; i++) {
    const o = <usize>(i * 4);
    const gv = load<f32>(g + o);
    const dyv = load<f32>(dy + o);
    const s = sigmoid1(gv);
    store<f32>(du + o, dyv * (gv * s));
    store<f32>(dg + o, dyv * load<f32>(u + o) * (s * (<f32>1 + gv * (<f32>1 - s))));
  }
}

// ---------------------------------------------------------------------------------------------
// Attention's softmax with the scale and the additive mask folded in, and its gradient.

/**
 * y = softmax(x · scale + mask) over the last axis: x, y [B, H, R, S] (H heads sharing one mask
 * row), mask [B, R, S]. Masked entries (−1e9) get e^−87 ≈ 0 weight; a fully masked row is
 * uniform, as tf.softmax makes it.
 */
export function maskedSoftmax(x: usize, mask: usize, y: usize, b: i32, heads: i32, rows: i32, s: i32, scale: f32): void {
  const scaleV = f32x4.splat(scale);
  const rowBytes = <usize>(s * 4);
  const sVector = s & ~3;
  for (let bb = 0; bb < b; bb++) {
    for (let hh = 0; hh < heads; hh++) {
      for (let r = 0; r < rows; r++) {
        const xr = x + <usize>((bb * heads + hh) * rows + r) * rowBytes;
        const yr = y + <usize>((bb * heads + hh) * rows + r) * rowBytes;
        const mr = mask + <usize>(bb * rows + r) * rowBytes;
        // y ← x · scale + mask; running max.
        let maxV = f32x4.splat(-Infinity);
        let j = 0;
        for (; j < sVector; j += 4) {
          const o = <usize>(j * 4);
          const v = f32x4.add(f32x4.mul(v128.load(xr + o), scaleV), v128.load(mr + o));
          v128.store(yr + o, v);
          maxV = f32x4.pmax(maxV, v);
        }
        let largest = max<f32>(max<f32>(f32x4.extract_lane(maxV, 0), f32x4.extract_lane(maxV, 1)), max<f32>(f32x4.extract_lane(maxV, 2), f32x4.extract_lane(maxV, 3)));
        for (; j < s; j++) {
          const o = <usize>(j * 4);
          const v = load<f32>(xr + o) * scale + load<f32>(mr + o);
          store<f32>(yr + o, v);
          largest = v > largest ? v : largest;
        }
        // e = exp(v − max), summed.
        const maxS = f32x4.splat(largest);
        let sumV = f32x4.splat(0);
        j = 0;
        for (; j < sVector; j += 4) {
          const o = <usize>(j * 4);
          const e = exp4NonPositive(f32x4.sub(v128.load(yr + o), maxS));
          v128.store(yr + o, e);
          sumV = f32x4.add(sumV, e);
        }
        let total = f32x4.extract_lane(sumV, 0) + f32x4.extract_lane(sumV, 1) + f32x4.extract_lane(sumV, 2) + f32x4.extract_lane(sumV, 3);
        for (; j < s; j++) {
          const o = <usize>(j * 4);
          const e = expNonPositive(load<f32>(yr + o) - largest);
          store<f32>(yr + o, e);
          total += e;
        }
        const inverse = f32x4.splat(<f32>1 / total);
        j = 0;
        for (; j < sVector; j += 4) {
          const o = <usize>(j * 4);
          v128.store(yr + o, f32x4.mul(v128.load(yr + o), inverse));
        }
        for (; j < s; j++) {
          const o = <usize>(j * 4);
          store<f32>(yr + o, load<f32>(yr + o) * (<f32>1 / total));
        }
      }
    }
  }
}

/** dx = scale · y · (dy − Σ_s dy · y) per row of S, for `count` rows. */
export function maskedSoftmaxGrad(dy: usize, y: usize, dx: usize, count: i32, s: i32, scale: f32): void {
  const rowBytes = <usize>(s * 4);
  const sVector = s & ~3;
  for (let r = 0; r < count; r++) {
    const g = dy + <usize>r * rowBytes;
    const yr = y + <usize>r * rowBytes;
    const d = dx + <usize>r * rowBytes;
    let dotV = f32x4.splat(0);
    let j = 0;
    for (; j < sVector; j += 4) {
      const o = <usize>(j * 4);
      dotV = f32x4.add(dotV, f32x4.mul(v128.load(g + o), v128.load(yr + o)));
    }
    let dot = f32x4.extract_lane(dotV, 0) + f32x4.extract_lane(dotV, 1) + f32x4.extract_lane(dotV, 2) + f32x4.extract_lane(dotV, 3);
    for (; j < s; j++) dot += load<f32>(g + <usize>(j * 4)) * load<f32>(yr + <usize>(j * 4));
    const dotS = f32x4.splat(dot);
    const scaleV = f32x4.splat(scale);
    j = 0;
    for (; j < sVector; j += 4) {
      const o = <usize>(j * 4);
      v128.store(d + o, f32x4.mul(scaleV, f32x4.mul(v128.load(yr + o), f32x4.sub(v128.load(g + o), dotS))));
    }
    for (; j < s; j++) {
      const o = <usize>(j * 4);
      store<f32>(d + o, scale * (load<f32>(yr + o) * (load<f32>(g + o) - dot)));
    }
  }
}
