// Questions with exact answers, read from the belief tracker after the last action.
//
// First order ("In which container will A search for the o?") reads FO[A]; second order ("In
// which container does A think that B will search for the o?") reads SO[A][B]; factual
// questions read the world and the action log. A question is *interesting* when its
// (thing, property) gets different answers across the truth, the people and the orders; a
// story with one is a false-belief story.

import { CONTAINER_LOCATION, KNOWLEDGE, NO_CONTAINER, OBJECT_STATE, ROOM_LOCATION, type Mind, type TomProperty } from "./world.js";
import type { BeliefTracker } from "./tracker.js";

export type TomQuestionKind = "container" | "room" | "state" | "knowledge" | "initial-location" | "current-location" | "location-before";

export interface TomQuestion {
  question: string;
  /** The exact answer: a container or room name, or "yes" / "no". */
  answer: string;
  /** −1 factual, 1 first order, 2 second order (ExploreToM's `nth_order`). */
  order: -1 | 1 | 2;
  kind: TomQuestionKind;
  /** Whose beliefs are asked about: [A] (first order), [A, B] (second order), [] (factual). */
  people: string[];
  /** The object or topic asked about. */
  thing: string;
  /** The same (thing, property) has different answers across truth, people and orders. */
  interesting: boolean;
  /** One short line that explains the answer (used as optional reasoning in SFT text). */
  reasoning: string;
}

export interface TomQuestionSet {
  questions: TomQuestion[];
  /** Some person's first-order belief differs from the truth. */
  isFalseBeliefStoryFirstOrder: boolean;
  /** That, and some second-order belief differs from the truth too. */
  isFalseBeliefStoryFirstAndSecondOrder: boolean;
}

interface MentalGroup {
  kind: "container" | "room" | "state" | "knowledge";
  thing: string;
  property: TomProperty;
  truth: string;
  /** The answer a mind gives, or undefined to skip the question. */
  read: (mind: Mind) => string | undefined;
  /** Whether a question is asked for this answer (e.g. no "container" question for "none"). */
  askable: (answer: string) => boolean;
  firstOrder: (a: string) => string;
  secondOrder: (a: string, b: string) => string;
}

/** Every question the tracker can answer now, with interesting / false-belief flags. */
export function askQuestions(tracker: BeliefTracker): TomQuestionSet {
  const { cast, world } = tracker;
  const groups: MentalGroup[] = [];
  for (const object of cast.objects) {
    const container = world.get(object, CONTAINER_LOCATION);
    if (container === undefined) continue;
    groups.push({
      kind: "container", thing: object, property: CONTAINER_LOCATION, truth: container,
      read: (mind) => mind.get(object, CONTAINER_LOCATION),
      askable: (answer) => answer !== NO_CONTAINER,
      firstOrder: (a) => `In which container will ${a} search for the ${object}?`,
      secondOrder: (a, b) => `In which container does ${a} think that ${b} will search for the ${object}?`,
    });
    if (cast.rooms.length > 1) {
      groups.push({
        kind: "room", thing: object, property: ROOM_LOCATION, truth: world.get(object, ROOM_LOCATION)!,
        read: (mind) => mind.get(object, ROOM_LOCATION),
        askable: () => true,
        firstOrder: (a) => `In which room will ${a} search for the ${object}?`,
        secondOrder: (a, b) => `In which room does ${a} think that ${b} will search for the ${object}?`,
      });
    }
    const state = world.get(object, OBJECT_STATE);
    if (state !== undefined) {
      groups.push({
        kind: "state", thing: object, property: OBJECT_STATE, truth: "yes",
        read: (mind) => (mind.get(object, OBJECT_STATE) === state ? "yes" : "no"),
        askable: () => true,
        firstOrder: (a) => `Does ${a} believe that the ${object} is ${state}?`,
        secondOrder: (a, b) => `Does ${a} think that ${b} believes that the ${object} is ${state}?`,
      });
    }
  }
  for (const topic of cast.topics) {
    if (!cast.people.some((person) => tracker.firstOrderBelief(person).get(topic, KNOWLEDGE) !== undefined)) continue;
    groups.push({
      kind: "knowledge", thing: topic, property: KNOWLEDGE, truth: "yes",
      read: (mind) => (mind.get(topic, KNOWLEDGE) === undefined ? "no" : "yes"),
      askable: () => true,
      firstOrder: (a) => `Does ${a} know about the ${topic}?`,
      secondOrder: (a, b) => `Does ${a} think that ${b} knows about the ${topic}?`,
    });
  }

  const questions: TomQuestion[] = [];
  let firstOrderFalse = false;
  let secondOrderFalse = false;
  for (const group of groups) {
    const asked: TomQuestion[] = [];
    const answers = new Set<string>([group.truth]);
    for (const a of cast.people) {
      const answer = group.read(tracker.firstOrderBelief(a));
      if (answer === undefined) continue;
      answers.add(answer);
      if (answer !== group.truth) firstOrderFalse = true;
      if (group.askable(answer)) {
        asked.push(mentalQuestion(tracker, group, [a], answer, group.firstOrder(a)));
      }
    }
    for (const a of cast.people) {
      for (const b of cast.people) {
        if (a === b) continue;
        const answer = group.read(tracker.secondOrderBelief(a, b));
        if (answer === undefined) continue;
        answers.add(answer);
        if (answer !== group.truth) secondOrderFalse = true;
        if (group.askable(answer)) asked.push(mentalQuestion(tracker, group, [a, b], answer, group.secondOrder(a, b)));
      }
    }
    for (const question of asked) question.interesting = answers.size > 1;
    questions.push(...asked);
  }
  questions.push(...factualQuestions(tracker));
  return {
    questions,
    isFalseBeliefStoryFirstOrder: firstOrderFalse,
    isFalseBeliefStoryFirstAndSecondOrder: firstOrderFalse && secondOrderFalse,
  };
}

function mentalQuestion(tracker: BeliefTracker, group: MentalGroup, people: string[], answer: string, question: string): TomQuestion {
  const [a, b] = people as [string, string | undefined];
  const mind = b === undefined ? tracker.firstOrderBelief(a) : tracker.secondOrderBelief(a, b);
  const entry = mind.entry(group.thing, group.property);
  const who = b === undefined ? a : `${a} thinks ${b}`;
  let reasoning: string;
  if (entry === undefined) {
    reasoning = b === undefined ? `${a} never learned about the ${group.thing}.` : `${a} does not think ${b} learned about the ${group.thing}.`;
  } else {
    reasoning = `What ${who} last learned about the ${group.thing}: ${tracker.log[entry.source]!.sentences[0]}`;
  }
  return { question, answer, order: b === undefined ? 1 : 2, kind: group.kind, people, thing: group.thing, interesting: false, reasoning };
}

/** Where / at the beginning / before the last move, from the world and the action log. */
function factualQuestions(tracker: BeliefTracker): TomQuestion[] {
  const questions: TomQuestion[] = [];
  for (const object of tracker.cast.objects) {
    // The object's locations over time: [location, sentence, description of the move].
    const history: { location: string; sentence: string; move: string | null }[] = [];
    for (const { action, sentences } of tracker.log) {
      if (action.kind === "placeObject" && action.object === object) history.push({ location: action.container, sentence: sentences[0]!, move: null });
      if (action.kind === "moveToContainer" && action.object === object) {
        history.push({ location: action.container, sentence: sentences[0]!, move: `${action.person} moved the ${object} to the ${action.container}` });
      }
      if (action.kind === "moveToRoom" && action.object === object) {
        history.push({ location: action.room, sentence: sentences[0]!, move: `${action.person} moved the ${object} to the ${action.room}` });
      }
    }
    const first = history[0];
    const last = history[history.length - 1];
    if (first === undefined || last === undefined) continue;
    const factual = (kind: TomQuestionKind, question: string, answer: string, reasoning: string): TomQuestion =>
      ({ question, answer, order: -1, kind, people: [], thing: object, interesting: false, reasoning });
    questions.push(factual("initial-location", `Where was the ${object} at the beginning?`, first.location, `At the beginning: ${first.sentence}`));
    questions.push(factual("current-location", `Where is the ${object} now?`, last.location, `The last move: ${last.sentence}`));
    const previous = history[history.length - 2];
    const unique = history.filter((step) => step.move === last.move).length === 1;
    if (previous !== undefined && last.move !== null && unique) {
      questions.push(factual("location-before", `Where was the ${object} before ${last.move}?`, previous.location, `Before that move: ${previous.sentence}`));
    }
  }
  return questions;
}
