// The task example that the CLI, training and evaluation consume, and converters from every
// source (GSM8K, synthetic GSM-style problems, generated ToM stories, ExploreToM CSV rows).

import type { Gsm8kExample } from "./gsm8k.js";
import type { GsmSyntheticProblem } from "./gsm-synthetic.js";
import { gsm8kUserMessage, tomUserMessage } from "./prompts.js";
import type { TaskName } from "./rewards.js";
import { createRandom, deriveSeed } from "./random.js";
import type { ExploreTomRecord } from "./tom/exploretom-csv.js";
import type { TomStory } from "./tom/generator.js";
import type { TomQuestion } from "./tom/questions.js";

/** Extra facts about an example, for reports and SFT text. Fields are set where they apply. */
export interface TaskMeta {
  /** Which loader made it: "gsm8k" | "gsm-synthetic" | "tom" | "tom-csv". */
  source: string;
  /** GSM tasks: the worked solution in GSM8K format, ending with `#### N`. */
  solution?: string;
  /** ToM: the story and the question (the prompt holds both plus the instruction). */
  story?: string;
  question?: string;
  /** ToM: one line explaining the answer (generated stories only). */
  reasoning?: string;
  /** ToM: −1 factual, 1 first order, 2 second order. */
  order?: number;
  /** ToM: the question is interesting (answers differ across people/orders). */
  interesting?: boolean;
  /** ToM: story type, e.g. "tomi+asymmetric". */
  storyType?: string;
  /** ToM (generated stories): the people, rooms and containers of the story. */
  entities?: { people: string[]; rooms: string[]; containers: string[] };
  /** File-based sources: path and 1-based line. */
  file?: string;
  line?: number;
}

/** One prompt with its reference answer. */
export interface TaskExample {
  id: string;
  task: TaskName;
  /** The user message (task text plus the answer-format instruction). */
  prompt: string;
  /** GSM: the normalised final number; ToM: the expected answer. */
  reference: string;
  meta: TaskMeta;
}

export function gsm8kToTaskExample(example: Gsm8kExample, file?: string): TaskExample {
  return {
    id: example.id,
    task: "gsm8k",
    prompt: gsm8kUserMessage(example.question),
    reference: example.finalAnswer,
    meta: { source: "gsm8k", solution: example.answer, ...(file === undefined ? {} : { file }), line: example.line },
  };
}

export function gsmSyntheticToTaskExample(problem: GsmSyntheticProblem): TaskExample {
  return {
    id: problem.id,
    task: "gsm8k",
    prompt: gsm8kUserMessage(problem.question),
    reference: problem.finalAnswer,
    meta: { source: "gsm-synthetic", solution: problem.answer },
  };
}

/** One ToM example for a given story and question. */
export function tomQuestionToTaskExample(story: TomStory, question: TomQuestion, questionIndex: number): TaskExample {
  return {
    id: `${story.id}:q${questionIndex}`,
    task: "tom",
    prompt: tomUserMessage(story.text, question.question),
    reference: question.answer,
    meta: {
      source: "tom",
      story: story.text,
      question: question.question,
      reasoning: question.reasoning,
      order: question.order,
      interesting: question.interesting,
      storyType: story.storyType,
      entities: { people: [...story.cast.people], rooms: [...story.cast.rooms], containers: story.cast.containers.map((c) => c.name) },
    },
  };
}

export interface TomSelection {
  /** Which questions may be picked: only interesting ones (default) or all. */
  questions?: "interesting" | "all";
  /** Restrict to one order (−1, 1, 2); default any. */
  order?: -1 | 1 | 2;
  /** Seed for picking the question of each story. Default 0. */
  seed?: number;
}

/**
 * One example per story: a question drawn (seeded) among the story's eligible questions;
 * stories without one are left out, so the result can be shorter than `stories`.
 */
export function tomStoriesToTaskExamples(stories: readonly TomStory[], selection: TomSelection = {}): TaskExample[] {
  const examples: TaskExample[] = [];
  stories.forEach((story, storyIndex) => {
    const eligible = story.questions
      .map((question, index) => ({ question, index }))
      .filter(({ question }) => (selection.questions === "all" || question.interesting) && (selection.order === undefined || question.order === selection.order));
    if (eligible.length === 0) return;
    const random = createRandom(deriveSeed((selection.seed ?? 0) ^ 0x70d, storyIndex));
    const { question, index } = random.choice(eligible);
    examples.push(tomQuestionToTaskExample(story, question, index));
  });
  return examples;
}

export function exploreTomToTaskExample(record: ExploreTomRecord, file?: string): TaskExample {
  return {
    id: record.id,
    task: "tom",
    prompt: tomUserMessage(record.story, record.question),
    reference: record.expectedAnswer,
    meta: {
      source: "tom-csv",
      story: record.story,
      question: record.question,
      ...(record.nthOrder === null ? {} : { order: record.nthOrder }),
      ...(record.storyType === null ? {} : { storyType: record.storyType }),
      ...(file === undefined ? {} : { file }),
      line: record.line,
    },
  };
}
