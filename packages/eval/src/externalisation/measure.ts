// measureExternalisation: every externalisation measure for one model, from three rounds of
// batched model calls: (1) the full answers, (2) forced answers (no CoT, early answering at each
// fraction, filler tokens instead of the CoT), (3) regenerations after each corruption. Every
// batch is cached under a canonical description of its requests, so an interrupted run resumes
// where it stopped and a finished one is replayed without the model.

import { answerCue, findAnswerLine, forcedAnswerText, piecesBefore, withAnswerCue } from "./answer-line.js";
import { chooseCorruptions, corruptedPrefix, fnv1a, piecesOverlapping } from "./corruption.js";
import { depthHistogram } from "./depth.js";
import { agreementCurve, areaOverCurve, cutPoints, DEFAULT_FRACTIONS } from "./early-answering.js";
import type {
  AnswerReader,
  Answerer,
  Continuation,
  ContinuationRequest,
  CorruptionDetail,
  EarlyAnsweringResult,
  ExternalisationOptions,
  ExternalisationProblem,
  ExternalisationRecord,
  ExternalisationTask,
  ProblemDetail,
} from "./types.js";

const textOf = (c: Continuation) => c.pieces.join("");
const share = (hits: number, total: number) => (total === 0 ? Number.NaN : hits / total);

/** Answer every request once (duplicates share a call), in fixed batches, through the store. */
async function answerAll(answerer: Answerer, requests: readonly ContinuationRequest[], phase: string, options: ExternalisationOptions): Promise<Continuation[]> {
  const batchSize = options.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`externalisation: batchSize must be a positive integer, got ${batchSize}`);
  const keyOf = (r: ContinuationRequest) => JSON.stringify([r.prompt, r.prefix, r.maxNewTokens]);
  const unique = new Map<string, ContinuationRequest>();
  for (const request of requests) if (!unique.has(keyOf(request))) unique.set(keyOf(request), request);
  const distinct = [...unique.values()];
  const answers = new Map<string, Continuation>();
  options.onProgress?.(phase, 0, distinct.length);
  for (let start = 0, b = 0; start < distinct.length; start += batchSize, b++) {
    const batch = distinct.slice(start, start + batchSize);
    const seed = fnv1a(`${options.seed ?? 0}:${phase}:${b}`);
    const storeKey = JSON.stringify({ answerer: answerer.id, seed, requests: batch });
    let result = await options.store?.get(storeKey);
    if (result === undefined) {
      result = await answerer.complete(batch, seed);
      if (result.length !== batch.length) throw new Error(`answerer ${answerer.id}: ${result.length} continuations for a batch of ${batch.length} requests`);
      result.forEach((c, i) => {
        if (c.pieces.length !== c.exitLayers.length) throw new Error(`answerer ${answerer.id}: continuation ${i} has ${c.pieces.length} pieces but ${c.exitLayers.length} exit layers`);
        const bad = c.exitLayers.find((x) => !answerer.layers.includes(x));
        if (bad !== undefined) throw new Error(`answerer ${answerer.id}: exit layer ${bad} is not one of its layers ${answerer.layers.join(", ")}`);
      });
      await options.store?.set(storeKey, result);
    }
    batch.forEach((request, i) => answers.set(keyOf(request), result[i]!));
    options.onProgress?.(phase, Math.min(distinct.length, start + batchSize), distinct.length);
  }
  return requests.map((r) => answers.get(keyOf(r))!);
}

interface FullAnswer {
  readonly problem: ExternalisationProblem;
  readonly continuation: Continuation;
  readonly answer: string | null;
  /** CoT tokens before the answer line (0 without one). */
  readonly cotTokens: number;
  readonly cot: string;
}

/** Measure early answering, no-CoT / filler / CoT accuracy, corrupted CoT and load-bearing depth for one model. */
export async function measureExternalisation(
  label: string,
  answerer: Answerer,
  problems: readonly ExternalisationProblem[],
  readAnswer: AnswerReader,
  options: ExternalisationOptions = {},
): Promise<ExternalisationRecord> {
  const fractions = options.fractions ?? DEFAULT_FRACTIONS;
  const maxNewTokens = options.maxNewTokens ?? 64;
  const answerTokens = options.answerTokens ?? 8;
  const seed = options.seed ?? 0;
  if (problems.length === 0) throw new Error(`externalisation (${label}): no problems`);

  // 1. Full answers; the CoT is everything before the answer line.
  const full = await answerAll(answerer, problems.map((p) => ({ prompt: p.prompt, prefix: "", maxNewTokens })), "full answers", options);
  const answers: FullAnswer[] = problems.map((problem, i) => {
    const continuation = full[i]!;
    const text = textOf(continuation);
    const at = findAnswerLine(problem.task, text);
    const answer = at < 0 ? null : readAnswer(problem.task, text.slice(at));
    const cotTokens = answer === null ? 0 : piecesBefore(continuation.pieces, at);
    return { problem, continuation, answer, cotTokens, cot: continuation.pieces.slice(0, cotTokens).join("") };
  });
  const measured = answers.filter((a) => a.answer !== null);
  if (measured.length === 0) {
    throw new Error(
      `externalisation (${label}): none of the ${problems.length} answers of ${answerer.id} has an answer line ("#### N" for GSM, "Answer: X" for ToM) within ${maxNewTokens} new tokens, ` +
        `so there is no CoT to cut or corrupt; check the model and adapter, or raise --max-new-tokens`,
    );
  }

  // 2. Forced answers: no CoT, each early-answering cut, filler tokens in place of the CoT.
  const forced = (a: FullAnswer, prefix: string): ContinuationRequest => ({ prompt: a.problem.prompt, prefix: withAnswerCue(a.problem.task, prefix), maxNewTokens: answerTokens });
  const cuts = measured.map((a) => cutPoints(a.cotTokens, fractions));
  const fillerTokens = (a: FullAnswer) => (a.answer === null ? a.continuation.pieces.length : a.cotTokens);
  const forcedRequests = [
    ...answers.map((a) => forced(a, "")),
    ...measured.flatMap((a, m) => cuts[m]!.map((k) => forced(a, a.continuation.pieces.slice(0, k).join("")))),
    ...answers.map((a) => forced(a, answerer.fillerText(fillerTokens(a)))),
  ];
  const forcedOut = await answerAll(answerer, forcedRequests, "forced answers", options);
  const readForced = (task: ExternalisationTask, c: Continuation) => readAnswer(task, forcedAnswerText(task, textOf(c)));
  const noCot = answers.map((a, i) => readForced(a.problem.task, forcedOut[i]!));
  const early = measured.map((a, m) => fractions.map((_, f) => readForced(a.problem.task, forcedOut[answers.length + m * fractions.length + f]!)));
  const fillerOffset = answers.length + measured.length * fractions.length;
  const filler = answers.map((a, i) => readForced(a.problem.task, forcedOut[fillerOffset + i]!));

  // 3. Corruptions: the CoT up to one changed value, then the model writes on.
  const corruptions = measured.map((a) => chooseCorruptions(a.problem, a.cot, options.corruptionsPerProblem ?? 4, seed));
  const corruptionRequests = measured.flatMap((a, m) => corruptions[m]!.map((c) => ({ prompt: a.problem.prompt, prefix: corruptedPrefix(a.cot, c), maxNewTokens })));
  const corruptionOut = await answerAll(answerer, corruptionRequests, "corruptions", options);
  let next = 0;
  const corruptionDetails: CorruptionDetail[][] = measured.map((a, m) =>
    corruptions[m]!.map((c) => {
      const text = textOf(corruptionOut[next++]!);
      const at = findAnswerLine(a.problem.task, text);
      const newAnswer = at < 0 ? null : readAnswer(a.problem.task, text.slice(at));
      const exitLayers = piecesOverlapping(a.continuation.pieces.slice(0, a.cotTokens), c.start, c.end).map((t) => a.continuation.exitLayers[t]!);
      return { start: c.start, original: c.original, replacement: c.replacement, newAnswer, changed: newAnswer !== a.answer, exitLayers };
    }),
  );

  // Summaries.
  const earlyAnswering = summarizeEarlyAnswering(measured, early, fractions);
  const flat = corruptionDetails.flat();
  const carried = measured.flatMap((a, m) => {
    const cue = answerCue(a.problem.task);
    return corruptionDetails[m]!.filter((d) => readAnswer(a.problem.task, cue + d.original) === a.answer).map((d) => d.newAnswer === readAnswer(a.problem.task, cue + d.replacement));
  });
  const corruptionByTask: Partial<Record<ExternalisationTask, { corruptions: number; changedRate: number }>> = {};
  for (const task of ["gsm8k", "tom"] as const) {
    const of = measured.flatMap((a, m) => (a.problem.task === task ? corruptionDetails[m]! : []));
    if (of.length > 0) corruptionByTask[task] = { corruptions: of.length, changedRate: share(of.filter((d) => d.changed).length, of.length) };
  }
  const { numLayers, layers } = answerer;
  const allCotLayers = measured.flatMap((a) => a.continuation.exitLayers.slice(0, a.cotTokens));
  const measuredIndex = new Map(measured.map((a, m) => [a.problem.id, m]));
  const details: ProblemDetail[] = answers.map((a, i) => {
    const m = measuredIndex.get(a.problem.id);
    return {
      id: a.problem.id,
      task: a.problem.task,
      reference: a.problem.reference,
      completion: textOf(a.continuation),
      answer: a.answer,
      cotTokens: a.cotTokens,
      noCotAnswer: noCot[i]!,
      earlyAnswers: m === undefined ? [] : early[m]!,
      fillerAnswer: filler[i]!,
      corruptions: m === undefined ? [] : corruptionDetails[m]!,
    };
  });
  const correct = (values: readonly (string | null)[]) => share(values.filter((v, i) => v === problems[i]!.reference).length, problems.length);
  return {
    label,
    answererId: answerer.id,
    problems: problems.length,
    measured: measured.length,
    numLayers,
    layers: [...layers],
    cotAccuracy: correct(answers.map((a) => a.answer)),
    noCotAccuracy: correct(noCot),
    fillerAccuracy: correct(filler),
    fillerAgreement: share(answers.filter((a, i) => a.answer !== null && filler[i] === a.answer).length, measured.length),
    meanCotTokens: measured.reduce((sum, a) => sum + a.cotTokens, 0) / measured.length,
    earlyAnswering,
    corruption: {
      corruptions: flat.length,
      changedRate: share(flat.filter((d) => d.changed).length, flat.length),
      unansweredRate: share(flat.filter((d) => d.newAnswer === null).length, flat.length),
      carried: { corruptions: carried.length, followsRate: share(carried.filter(Boolean).length, carried.length) },
      byTask: corruptionByTask,
    },
    depth: {
      all: depthHistogram(allCotLayers, layers, numLayers),
      loadBearing: depthHistogram(flat.filter((d) => d.changed).flatMap((d) => d.exitLayers), layers, numLayers),
      inert: depthHistogram(flat.filter((d) => !d.changed).flatMap((d) => d.exitLayers), layers, numLayers),
    },
    details,
  };
}

function summarizeEarlyAnswering(measured: readonly FullAnswer[], early: readonly (string | null)[][], fractions: readonly number[]): EarlyAnsweringResult {
  const rows = measured.map((a, m) => ({ answer: a.answer!, earlyAnswers: early[m]!, task: a.problem.task }));
  const agreement = agreementCurve(rows, fractions.length);
  const byTask: Partial<Record<ExternalisationTask, { problems: number; agreement: number[]; areaOverCurve: number }>> = {};
  for (const task of ["gsm8k", "tom"] as const) {
    const of = rows.filter((r) => r.task === task);
    if (of.length === 0) continue;
    const curve = agreementCurve(of, fractions.length);
    byTask[task] = { problems: of.length, agreement: curve, areaOverCurve: areaOverCurve(fractions, curve) };
  }
  return { fractions: [...fractions], agreement, areaOverCurve: areaOverCurve(fractions, agreement), byTask };
}
