// Externalisation: does the answer depend on the written chain of thought? (Beyond the paper.)
export type * from "./types.js";
export { answerCue, findAnswerLine, forcedAnswerText, piecesBefore, withAnswerCue } from "./answer-line.js";
export { agreementCurve, areaOverCurve, cutPoints, DEFAULT_FRACTIONS } from "./early-answering.js";
export { chooseCorruptions, corruptedPrefix, corruptionSites, piecesOverlapping, replacementFor, type Corruption, type CorruptionSite } from "./corruption.js";
export { depthHistogram } from "./depth.js";
export { measureExternalisation } from "./measure.js";
