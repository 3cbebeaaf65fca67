import { describe, expect, it } from "vitest";
import {
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
} from "./half-precision.js";

/** float32 values with the given bit patterns. */
const fromBits = (bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);

describe("bfloat16", () => {
  it("decodes hand-computed bit patterns", () => {
    const decoded = bfloat16BitsToFloat32(Uint16Array.from([0x3f80, 0xc000, 0x4049, 0x0001, 0x7f80, 0xff80, 0x8000]));
    expect([...decoded]).toEqual([1, -2, 3.140625, 2 ** -133, Infinity, -Infinity, -0]);
    expect(Number.isNaN(bfloat16BitsToFloat32(Uint16Array.from([0x7fc0]))[0])).toBe(true);
  });

  it("rounds float32 to nearest, ties to even", () => {
    const bits = float32ToBfloat16Bits(fromBits([
      0x3f800000, // 1.0 exact
      0x3f808000, // halfway between 0x3f80 (even) and 0x3f81 -> 0x3f80
      0x3f818000, // halfway between 0x3f81 (odd) and 0x3f82 -> 0x3f82
      0x3f808001, // just above halfway -> 0x3f81
      0x3f807fff, // just below halfway -> 0x3f80
      0xbf818000, // negative tie -> 0xbf82
      0x7f7fffff, // largest float32 rounds up to +Infinity
      0x7f800000, // +Infinity
    ]));
    expect([...bits]).toEqual([0x3f80, 0x3f80, 0x3f82, 0x3f81, 0x3f80, 0xbf82, 0x7f80, 0x7f80]);
    const nan = float32ToBfloat16Bits(fromBits([0x7f800001]))[0]!; // signalling NaN, low payload only
    expect(nan & 0x7f80).toBe(0x7f80);
    expect(nan & 0x7f).not.toBe(0); // still NaN, not Infinity
  });

  it("round-trips every non-NaN bit pattern", () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i).filter((h) => !((h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0));
    expect(float32ToBfloat16Bits(bfloat16BitsToFloat32(all))).toEqual(all);
  });
});

describe("float16", () => {
  it("decodes hand-computed bit patterns", () => {
    const decoded = float16BitsToFloat32(Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x3555, 0x7c00, 0xfc00, 0x8000]));
    expect([...decoded]).toEqual([1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 0.333251953125, Infinity, -Infinity, -0]);
    expect(Number.isNaN(float16BitsToFloat32(Uint16Array.from([0x7e00]))[0])).toBe(true);
  });

  it("rounds float32 to nearest, ties to even, with subnormals and overflow", () => {
    const values = new Float32Array([1, -2, 0.1, 1 / 3, 65504, 65519, 65520, 1e6, 2 ** -14, 2 ** -24, 2 ** -25, 1.5 * 2 ** -25, 3 * 2 ** -25, 2 ** -30, 1 + 2 ** -11, 1 + 3 * 2 ** -11]);
    expect([...float32ToFloat16Bits(values)]).toEqual([
      0x3c00, // 1
      0xc000, // -2
      0x2e66, // 0.1
      0x3555, // 1/3
      0x7bff, // largest finite
      0x7bff, // below the halfway point to 65536
      0x7c00, // halfway, 0x7bff is odd -> rounds up to Infinity
      0x7c00, // overflow -> Infinity
      0x0400, // smallest normal
      0x0001, // smallest subnormal
      0x0000, // halfway between 0 (even) and 2^-24 -> 0
      0x0001, // above halfway -> 2^-24
      0x0002, // 1.5 * 2^-24 halfway between 1 (odd) and 2 -> 2
      0x0000, // underflow
      0x3c00, // 1 + half an ulp: tie to even 1.0
      0x3c02, // 1 + 1.5 ulp: tie to even 1 + 2 ulp
    ]);
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(new Float32Array([NaN])))[0])).toBe(true);
  });

  it("round-trips every non-NaN bit pattern", () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i).filter((h) => !((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0));
    expect(float32ToFloat16Bits(float16BitsToFloat32(all))).toEqual(all);
  });
});
