// 16-bit floats (IEEE float16 and bfloat16) <-> float32, element-wise on typed arrays.
// bfloat16 is the top half of a float32; float16 has 5 exponent bits and 10 mantissa bits.
// float32 -> 16-bit conversions round to nearest, ties to even (as PyTorch's .to() does).

let float16Table: Float32Array | undefined;

/** Lookup table: float16 bit pattern (0..65535) -> float32 value. Built on first use (256 KiB). */
function getFloat16Table(): Float32Array {
  if (float16Table) return float16Table;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) table[h] = sign * mantissa * 2 ** -24; // zero or subnormal
    else if (exponent === 31) table[h] = mantissa === 0 ? sign * Infinity : NaN;
    else table[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  float16Table = table;
  return table;
}

/** float16 bit patterns -> float32 values (exact). */
export function float16BitsToFloat32(bits: Uint16Array): Float32Array {
  const table = getFloat16Table();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}

/** bfloat16 bit patterns -> float32 values (exact: the bits become the float32's top half). */
export function bfloat16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i]! << 16;
  return new Float32Array(out.buffer);
}

/** float32 values -> bfloat16 bit patterns, round to nearest even; NaN stays NaN. */
export function float32ToBfloat16Bits(values: Float32Array): Uint16Array {
  const inBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = inBits[i]!;
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) {
      out[i] = (x >>> 16) | 0x40; // quiet NaN (keep it NaN even if the low bits held the payload)
    } else {
      out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16; // max finite + bias stays below 2^32
    }
  }
  return out;
}

/** One float32 bit pattern -> float16 bit pattern, round to nearest even, overflow -> ±Infinity. */
function float32BitsToFloat16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 | (mantissa >>> 13) : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 31) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign; // below half the smallest subnormal: ±0
    mantissa |= 0x800000; // implicit leading one
    const shift = 14 - halfExponent; // 14..24
    let half = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && half & 1)) half++;
    return sign | half; // a carry turns the largest subnormal into the smallest normal
  }
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && half & 1)) half++; // may carry to Infinity
  return sign | half;
}

/** float32 values -> float16 bit patterns, round to nearest even; overflow -> ±Infinity. */
export function float32ToFloat16Bits(values: Float32Array): Uint16Array {
  const inBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32BitsToFloat16Bits(inBits[i]!);
  return out;
}
