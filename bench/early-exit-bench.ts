// Early-exit decoding benchmark (filled in with @eecot/early-exit).
import type { BenchModel } from "./models.js";

export async function earlyExitDecodeBench(_model: BenchModel, _decodeTokens: number): Promise<{ metric: string; value: number; unit: string }[]> {
  return [];
}
