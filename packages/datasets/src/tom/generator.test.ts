import { describe, expect, it } from "vitest";
import { generateTomStories, resolveTomGeneratorConfig, TOM_STORY_TYPES, type TomStory } from "./generator.js";
import { askQuestions } from "./questions.js";
import { BeliefTracker } from "./tracker.js";
import { CONTAINER_LOCATION, OBJECT_STATE, ROOM_LOCATION } from "./world.js";

const STORIES = generateTomStories({ count: 1000, seed: 2024 });

/** Replays a story on a fresh tracker. */
function replay(story: TomStory): BeliefTracker {
  const tracker = new BeliefTracker(story.cast);
  for (const action of story.actions) tracker.applyOrThrow(action);
  return tracker;
}

/**
 * Independent reference for container beliefs in stories without room changes (objects are
 * then always inside containers, so only witnessed placements, moves and tellings matter):
 * FO[A] = container of the last such event A really witnessed; SO[A][B] = that of the last one
 * A really witnessed while B was an open witness.
 */
function referenceContainerBeliefs(story: TomStory, object: string) {
  const roomOfPerson = new Map<string, string>();
  const roomOfContainer = new Map(story.cast.containers.map((c) => [c.name, c.room]));
  const first = new Map<string, string>();
  const second = new Map<string, string>();
  const peopleIn = (room: string | undefined) => story.cast.people.filter((p) => room !== undefined && roomOfPerson.get(p) === room);
  for (const action of story.actions) {
    let container: string | undefined;
    let witnesses: string[] = [];
    let peeking: string[] = [];
    let distracted: string[] = [];
    if (action.kind === "enterRoom") roomOfPerson.set(action.person, action.room);
    if (action.kind === "leaveRoom") roomOfPerson.delete(action.person);
    if (action.kind === "placeObject" && action.object === object) {
      container = action.container;
      witnesses = peopleIn(roomOfContainer.get(container));
    }
    if (action.kind === "moveToContainer" && action.object === object) {
      container = action.container;
      witnesses = peopleIn(roomOfPerson.get(action.person));
      peeking = action.peeking ?? [];
      distracted = action.distracted ?? [];
    }
    if ((action.kind === "tellPrivately" || action.kind === "tellPublicly") && action.fact.kind === "location" && action.fact.object === object) {
      container = action.fact.container;
      witnesses = action.kind === "tellPrivately" ? [action.speaker, action.listener] : peopleIn(roomOfPerson.get(action.speaker));
    }
    if (container === undefined) continue;
    const real = [...witnesses, ...peeking].filter((p) => !distracted.includes(p));
    for (const a of real) {
      first.set(a, container);
      for (const b of witnesses) if (b !== a) second.set(`${a}|${b}`, container);
    }
  }
  return { first, second };
}

describe("generateTomStories", () => {
  it("every story replays to the same sentences and answers", () => {
    const replayed = STORIES.map((story) => {
      const tracker = replay(story);
      return { sentences: tracker.sentences, questions: askQuestions(tracker).questions };
    });
    expect(replayed).toEqual(STORIES.map(({ sentences, questions }) => ({ sentences, questions })));
  });

  it("respects the size parameters and the false-belief filter", () => {
    for (const story of STORIES) {
      expect(story.sentences.length).toBeLessThanOrEqual(15);
      expect(story.numPeople).toBeGreaterThanOrEqual(2);
      expect(story.numPeople).toBeLessThanOrEqual(4);
      expect(story.numMoves).toBeGreaterThanOrEqual(2);
      expect(story.numMoves).toBeLessThanOrEqual(4);
      expect(story.numRooms).toBeGreaterThanOrEqual(1);
      expect(story.numRooms).toBeLessThanOrEqual(2);
      expect(story.questions.some((question) => question.interesting)).toBe(true);
      const asymmetric = story.actions.filter((a) => "peeking" in a || "distracted" in a);
      expect(asymmetric.length).toBeLessThanOrEqual(1);
      if (story.storyType === "tomi+asymmetric") expect(asymmetric.length).toBe(1);
      if (story.storyType === "tomi+room-changes") expect(story.actions.some((a) => a.kind === "moveToRoom")).toBe(true);
      if (story.storyType === "tomi+object-state") expect(story.actions.some((a) => a.kind === "updateState")).toBe(true);
      if (story.storyType === "tomi+info-exchange") expect(story.actions.some((a) => a.kind === "tellPrivately" || a.kind === "tellPublicly")).toBe(true);
      if (story.storyType === "tomi") expect(story.actions.every((a) => ["enterRoom", "leaveRoom", "placeObject", "moveToContainer"].includes(a.kind))).toBe(true);
      expect(story.text).toBe(story.sentences.join(" "));
    }
    expect(new Set(STORIES.map((story) => story.storyType))).toEqual(new Set(TOM_STORY_TYPES));
    // Most stories are false-belief stories at first order; many at second order too.
    expect(STORIES.filter((s) => s.isFalseBeliefStoryFirstOrder).length).toBeGreaterThan(800);
    expect(STORIES.filter((s) => s.isFalseBeliefStoryFirstAndSecondOrder).length).toBeGreaterThan(300);
  });

  it("container answers agree with an independent witness-based reference (no room changes)", () => {
    let checked = 0;
    for (const story of STORIES) {
      if (story.actions.some((a) => a.kind === "moveToRoom")) continue;
      for (const object of story.cast.objects) {
        const { first, second } = referenceContainerBeliefs(story, object);
        const asked = story.questions.filter((q) => q.kind === "container" && q.thing === object);
        for (const a of story.cast.people) {
          const question = asked.find((q) => q.order === 1 && q.people[0] === a);
          expect(question?.answer).toBe(first.get(a));
          for (const b of story.cast.people) {
            if (a === b) continue;
            const nested = asked.find((q) => q.order === 2 && q.people[0] === a && q.people[1] === b);
            expect(nested?.answer).toBe(second.get(`${a}|${b}`));
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(3000);
  });

  it("invariants: whoever really saw the last move or state change believes the truth", () => {
    // Checked with plain comparisons (thousands of them), reported together.
    const problems: string[] = [];
    const check = (ok: boolean, story: TomStory, what: string) => {
      if (!ok) problems.push(`${story.id}: ${what}`);
    };
    for (const story of STORIES) {
      const tracker = replay(story);
      for (const object of story.cast.objects) {
        const lastMove = tracker.log.findLast(({ action }) =>
          (action.kind === "placeObject" || action.kind === "moveToContainer" || action.kind === "moveToRoom") && action.object === object)!;
        for (const x of lastMove.realWitnesses) {
          for (const property of [CONTAINER_LOCATION, ROOM_LOCATION] as const) {
            const truth = tracker.world.get(object, property);
            check(tracker.firstOrderBelief(x).get(object, property) === truth, story, `FO[${x}] ${property}`);
            for (const y of lastMove.witnesses) {
              if (y !== x) check(tracker.secondOrderBelief(x, y).get(object, property) === truth, story, `SO[${x}][${y}] ${property}`);
            }
          }
        }
        // Nobody who missed every event concerning the object gets a container question.
        const everWitnessed = new Set(tracker.log.filter(({ action }) =>
          ("object" in action && action.object === object) ||
          ("fact" in action && action.fact.kind === "location" && action.fact.object === object) ||
          action.kind === "enterRoom").flatMap((entry) => entry.realWitnesses));
        for (const question of story.questions.filter((q) => q.order === 1 && q.kind === "container" && q.thing === object)) {
          check(everWitnessed.has(question.people[0]!), story, `${question.question} asked of someone who saw nothing`);
          check(story.cast.containers.some((c) => c.name === question.answer), story, `${question.question} → ${question.answer}`);
        }
        const lastUpdate = tracker.log.findLast(({ action }) => action.kind === "updateState" && action.object === object);
        if (lastUpdate !== undefined) {
          const truth = tracker.world.get(object, OBJECT_STATE);
          for (const x of lastUpdate.realWitnesses) check(tracker.firstOrderBelief(x).get(object, OBJECT_STATE) === truth, story, `FO[${x}] state`);
          for (const question of story.questions.filter((q) => q.kind === "state" && q.order === 1)) {
            if (lastUpdate.realWitnesses.includes(question.people[0]!)) check(question.answer === "yes", story, question.question);
          }
        }
      }
      // Answers are well-formed; factual answers match the world.
      for (const question of story.questions) {
        if (question.kind === "state" || question.kind === "knowledge") check(question.answer === "yes" || question.answer === "no", story, question.question);
        if (question.kind === "room") check(story.cast.rooms.includes(question.answer), story, question.question);
        if (question.kind === "current-location") {
          const container = tracker.world.get(question.thing, CONTAINER_LOCATION);
          check(question.answer === (container === "none" ? tracker.world.get(question.thing, ROOM_LOCATION) : container), story, question.question);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("is deterministic: same seed, same stories; stories are prefix-stable", () => {
    expect(generateTomStories({ count: 200, seed: 2024 })).toEqual(STORIES.slice(0, 200));
    expect(generateTomStories({ count: 10, seed: 2024 })).toEqual(STORIES.slice(0, 10));
    expect(generateTomStories({ count: 10, seed: 2025 })).not.toEqual(STORIES.slice(0, 10));
  });

  it("pins the first story of seed 0 (changes to the generator change this on purpose)", () => {
    const [story] = generateTomStories({ count: 1, seed: 0 });
    expect(story!.storyType).toBe("tomi+asymmetric");
    expect(story!.text).toBe(
      "Anne entered the office. The watch is in the bottle. David entered the office. " +
        "Anne moved the watch to the drawer, which is also located in the office. " +
        "Anne moved the watch to the bottle, which is also located in the office. " +
        "David moved the watch to the drawer, which is also located in the office. " +
        "While this was happening, Anne got distracted and did not notice.",
    );
  });

  it("honours the story type and size knobs", () => {
    const stories = generateTomStories({ count: 30, seed: 1, storyTypes: ["tomi"], minPeople: 3, maxPeople: 3, minMoves: 2, maxMoves: 2, minRooms: 1, maxRooms: 1 });
    for (const story of stories) {
      expect(story.storyType).toBe("tomi");
      expect(story.numPeople).toBe(3);
      expect(story.numMoves).toBe(2);
      expect(story.numRooms).toBe(1);
    }
  });

  it("validates the config", () => {
    expect(() => resolveTomGeneratorConfig({ minPeople: 1 })).toThrow(/minPeople/);
    expect(() => resolveTomGeneratorConfig({ minMoves: 3, maxMoves: 2 })).toThrow(/maxMoves/);
    expect(() => resolveTomGeneratorConfig({ storyTypes: ["fantom" as "tomi"] })).toThrow(/unknown story type/);
    expect(() => resolveTomGeneratorConfig({ storyTypes: ["tomi+room-changes"], maxRooms: 1 })).toThrow(/needs maxRooms/);
  });
});
