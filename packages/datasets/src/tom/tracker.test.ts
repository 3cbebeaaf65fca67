import { describe, expect, it } from "vitest";
import { askQuestions } from "./questions.js";
import { BeliefTracker, type StoryAction } from "./tracker.js";
import { CONTAINER_LOCATION, KNOWLEDGE, NO_CONTAINER, OBJECT_STATE, ROOM_LOCATION, type TomCast } from "./world.js";

const oneRoom = (people: string[]): TomCast => ({
  people,
  rooms: ["room"],
  containers: [{ name: "basket", room: "room" }, { name: "box", room: "room" }],
  objects: ["marble"],
  topics: ["party"],
});

function run(cast: TomCast, actions: StoryAction[]): BeliefTracker {
  const tracker = new BeliefTracker(cast);
  for (const action of actions) tracker.applyOrThrow(action);
  return tracker;
}

const container = (tracker: BeliefTracker, a: string, b?: string) =>
  (b === undefined ? tracker.firstOrderBelief(a) : tracker.secondOrderBelief(a, b)).get("marble", CONTAINER_LOCATION);

describe("BeliefTracker on hand-written stories", () => {
  it("Sally–Anne: first-order false belief (and the matching second-order beliefs)", () => {
    const tracker = run(oneRoom(["Sally", "Anne"]), [
      { kind: "enterRoom", person: "Sally", room: "room" },
      { kind: "enterRoom", person: "Anne", room: "room" },
      { kind: "placeObject", object: "marble", container: "basket" },
      { kind: "leaveRoom", person: "Sally", room: "room" },
      { kind: "moveToContainer", person: "Anne", object: "marble", container: "box" },
      { kind: "enterRoom", person: "Sally", room: "room" },
    ]);
    expect(tracker.world.get("marble", CONTAINER_LOCATION)).toBe("box");
    expect(container(tracker, "Sally")).toBe("basket"); // she did not see the move; re-entering shows nothing inside containers
    expect(container(tracker, "Anne")).toBe("box");
    expect(container(tracker, "Anne", "Sally")).toBe("basket"); // Anne knows Sally was out
    expect(container(tracker, "Sally", "Anne")).toBe("basket"); // Sally wrongly thinks Anne agrees with her
    expect(tracker.sentences).toEqual([
      "Sally entered the room.",
      "Anne entered the room.",
      "The marble is in the basket.",
      "Sally left the room.",
      "Anne moved the marble to the box, which is also located in the room.",
      "Sally entered the room.",
    ]);
    // Room locations are visible: everyone knows who is where.
    expect(tracker.firstOrderBelief("Anne").get("Sally", ROOM_LOCATION)).toBe("room");

    const { questions, isFalseBeliefStoryFirstOrder, isFalseBeliefStoryFirstAndSecondOrder } = askQuestions(tracker);
    const answer = (question: string) => questions.find((q) => q.question === question);
    expect(answer("In which container will Sally search for the marble?")).toMatchObject({ answer: "basket", order: 1, interesting: true });
    expect(answer("In which container will Anne search for the marble?")?.answer).toBe("box");
    expect(answer("In which container does Sally think that Anne will search for the marble?")).toMatchObject({ answer: "basket", order: 2 });
    expect(answer("Where was the marble at the beginning?")).toMatchObject({ answer: "basket", order: -1 });
    expect(answer("Where is the marble now?")?.answer).toBe("box");
    expect(answer("Where was the marble before Anne moved the marble to the box?")?.answer).toBe("basket");
    expect(answer("In which container will Sally search for the marble?")?.reasoning).toBe("What Sally last learned about the marble: The marble is in the basket.");
    expect(isFalseBeliefStoryFirstOrder).toBe(true);
    expect(isFalseBeliefStoryFirstAndSecondOrder).toBe(true);
  });

  it("second order: private telling leaves a bystander with a false second-order belief", () => {
    const prefix: StoryAction[] = [
      { kind: "enterRoom", person: "Anne", room: "room" },
      { kind: "enterRoom", person: "Bob", room: "room" },
      { kind: "enterRoom", person: "Carl", room: "room" },
      { kind: "placeObject", object: "marble", container: "basket" },
      { kind: "leaveRoom", person: "Carl", room: "room" },
      { kind: "moveToContainer", person: "Anne", object: "marble", container: "box" },
      { kind: "enterRoom", person: "Carl", room: "room" },
    ];
    const privately = run(oneRoom(["Anne", "Bob", "Carl"]), [
      ...prefix,
      { kind: "tellPrivately", speaker: "Anne", listener: "Carl", fact: { kind: "location", object: "marble", container: "box" } },
    ]);
    // All first-order beliefs are now true …
    for (const person of ["Anne", "Bob", "Carl"]) expect(container(privately, person)).toBe("box");
    expect(container(privately, "Anne", "Carl")).toBe("box");
    expect(container(privately, "Carl", "Anne")).toBe("box");
    // … but Bob did not hear the whisper and still thinks Carl believes the basket.
    expect(container(privately, "Bob", "Carl")).toBe("basket");
    expect(privately.sentences.at(-1)).toBe("Anne told Carl privately that the marble is in the box.");
    const flags = askQuestions(privately);
    expect(flags.isFalseBeliefStoryFirstOrder).toBe(false);
    expect(flags.questions.find((q) => q.question === "In which container does Bob think that Carl will search for the marble?")).toMatchObject({ answer: "basket", interesting: true });

    const publicly = run(oneRoom(["Anne", "Bob", "Carl"]), [
      ...prefix,
      { kind: "tellPublicly", speaker: "Anne", fact: { kind: "location", object: "marble", container: "box" } },
    ]);
    expect(container(publicly, "Bob", "Carl")).toBe("box");
    expect(container(publicly, "Carl", "Bob")).toBe("box");
    expect(publicly.sentences.at(-1)).toBe("Anne told everyone that the marble is in the box.");
  });

  it("peek: a secret witness knows the truth, the others do not know that they know", () => {
    const tracker = run(oneRoom(["Anne", "Bob"]), [
      { kind: "enterRoom", person: "Anne", room: "room" },
      { kind: "enterRoom", person: "Bob", room: "room" },
      { kind: "placeObject", object: "marble", container: "basket" },
      { kind: "leaveRoom", person: "Bob", room: "room" },
      { kind: "moveToContainer", person: "Anne", object: "marble", container: "box", peeking: ["Bob"] },
    ]);
    expect(container(tracker, "Bob")).toBe("box");
    expect(container(tracker, "Anne", "Bob")).toBe("basket");
    expect(container(tracker, "Bob", "Anne")).toBe("box");
    expect(tracker.sentences.slice(-2)).toEqual([
      "Anne moved the marble to the box, which is also located in the room.",
      "While this was happening, Bob witnessed it in secret.",
    ]);
    expect(tracker.log.at(-1)).toMatchObject({ witnesses: ["Anne"], realWitnesses: ["Anne", "Bob"], differentiating: true });
  });

  it("distract: an inattentive person misses the action while everyone thinks they saw it", () => {
    const tracker = run(oneRoom(["Anne", "Bob", "Carl"]), [
      { kind: "enterRoom", person: "Anne", room: "room" },
      { kind: "enterRoom", person: "Bob", room: "room" },
      { kind: "enterRoom", person: "Carl", room: "room" },
      { kind: "placeObject", object: "marble", container: "basket" },
      { kind: "moveToContainer", person: "Anne", object: "marble", container: "box", distracted: ["Bob"] },
    ]);
    expect(container(tracker, "Bob")).toBe("basket");
    expect(container(tracker, "Anne", "Bob")).toBe("box");
    expect(container(tracker, "Carl", "Bob")).toBe("box");
    expect(container(tracker, "Bob", "Anne")).toBe("basket");
    expect(container(tracker, "Carl")).toBe("box");
    expect(tracker.sentences.at(-1)).toBe("While this was happening, Bob got distracted and did not notice.");
  });

  it("state updates and topic knowledge", () => {
    const tracker = run(oneRoom(["Anne", "Bob"]), [
      { kind: "enterRoom", person: "Anne", room: "room" },
      { kind: "placeObject", object: "marble", container: "basket" },
      { kind: "updateState", person: "Anne", object: "marble", state: "painted blue", description: "painted the marble blue" },
      { kind: "enterRoom", person: "Bob", room: "room" },
      { kind: "tellPrivately", speaker: "Bob", listener: "Anne", fact: { kind: "topic", topic: "party" } },
    ]);
    expect(tracker.sentences[2]).toBe("Anne painted the marble blue.");
    expect(tracker.firstOrderBelief("Anne").get("marble", OBJECT_STATE)).toBe("painted blue");
    expect(tracker.firstOrderBelief("Bob").get("marble", OBJECT_STATE)).toBeUndefined();
    expect(tracker.firstOrderBelief("Anne").get("party", KNOWLEDGE)).toBe("yes");
    const questions = askQuestions(tracker).questions;
    const answer = (question: string) => questions.find((q) => q.question === question)?.answer;
    expect(answer("Does Anne believe that the marble is painted blue?")).toBe("yes");
    expect(answer("Does Bob believe that the marble is painted blue?")).toBe("no");
    expect(answer("Does Bob think that Anne believes that the marble is painted blue?")).toBe("no");
    expect(answer("Does Anne know about the party?")).toBe("yes");
    expect(answer("Does Anne think that Bob knows about the party?")).toBe("yes");
    // Bob knew nothing about the marble: no container question for him.
    expect(answer("In which container will Bob search for the marble?")).toBeUndefined();
  });

  it("room changes: carried objects lie in the open and are seen on entering", () => {
    const cast: TomCast = {
      people: ["Anne", "Bob"],
      rooms: ["kitchen", "garden"],
      containers: [{ name: "basket", room: "kitchen" }, { name: "box", room: "kitchen" }, { name: "chest", room: "garden" }, { name: "bucket", room: "garden" }],
      objects: ["apple"],
      topics: [],
    };
    const tracker = run(cast, [
      { kind: "enterRoom", person: "Anne", room: "kitchen" },
      { kind: "enterRoom", person: "Bob", room: "kitchen" },
      { kind: "placeObject", object: "apple", container: "basket" },
      { kind: "leaveRoom", person: "Bob", room: "kitchen" },
      { kind: "moveToRoom", person: "Anne", object: "apple", room: "garden" },
    ]);
    expect(tracker.world.get("apple", CONTAINER_LOCATION)).toBe(NO_CONTAINER);
    expect(tracker.firstOrderBelief("Bob").get("apple", ROOM_LOCATION)).toBe("kitchen");
    tracker.applyOrThrow({ kind: "enterRoom", person: "Bob", room: "garden" });
    expect(tracker.firstOrderBelief("Bob").get("apple", ROOM_LOCATION)).toBe("garden");
    expect(tracker.firstOrderBelief("Bob").get("apple", CONTAINER_LOCATION)).toBe(NO_CONTAINER);
    expect(tracker.secondOrderBelief("Anne", "Bob").get("apple", ROOM_LOCATION)).toBe("garden");
    // Anne leaves; Bob hides the apple in the chest; Anne comes back and no longer sees it.
    tracker.applyOrThrow({ kind: "leaveRoom", person: "Anne", room: "garden" });
    tracker.applyOrThrow({ kind: "moveToContainer", person: "Bob", object: "apple", container: "chest" });
    expect(tracker.firstOrderBelief("Anne").get("apple", ROOM_LOCATION)).toBe("garden");
    tracker.applyOrThrow({ kind: "enterRoom", person: "Anne", room: "garden" });
    expect(tracker.firstOrderBelief("Anne").get("apple", ROOM_LOCATION)).toBeUndefined();
    expect(tracker.firstOrderBelief("Anne").get("apple", CONTAINER_LOCATION)).toBeUndefined();
    // Seeing someone leave: not(room).
    tracker.applyOrThrow({ kind: "leaveRoom", person: "Bob", room: "garden" });
    expect(tracker.firstOrderBelief("Anne").get("Bob", ROOM_LOCATION)).toBe("not(garden)");
  });

  it("rejects actions whose preconditions fail, without changing anything", () => {
    const tracker = run(oneRoom(["Anne", "Bob", "Carl"]), [
      { kind: "enterRoom", person: "Anne", room: "room" },
      { kind: "enterRoom", person: "Bob", room: "room" },
      { kind: "placeObject", object: "marble", container: "basket" },
      { kind: "moveToContainer", person: "Anne", object: "marble", container: "box", distracted: ["Bob"] },
    ]);
    const before = tracker.sentences.length;
    const reject = (action: StoryAction, reason: RegExp) => {
      expect(tracker.check(action)).toMatch(reason);
      expect(tracker.apply(action)).toBe(false);
    };
    reject({ kind: "enterRoom", person: "Anne", room: "room" }, /already in the room/);
    reject({ kind: "leaveRoom", person: "Carl", room: "room" }, /not in the room/);
    reject({ kind: "moveToContainer", person: "Anne", object: "marble", container: "box" }, /already in the box/);
    reject({ kind: "moveToContainer", person: "Carl", object: "marble", container: "basket" }, /not in a room/);
    reject({ kind: "moveToContainer", person: "Anne", object: "marble", container: "basket", peeking: ["Carl"] }, /at most one/);
    reject({ kind: "tellPrivately", speaker: "Anne", listener: "Anne", fact: { kind: "topic", topic: "party" } }, /themselves/);
    reject({ kind: "tellPublicly", speaker: "Bob", fact: { kind: "location", object: "marble", container: "box" } }, /Bob does not know/);
    reject({ kind: "tellPrivately", speaker: "Anne", listener: "Bob", fact: { kind: "location", object: "marble", container: "basket" } }, /not in the basket/);
    reject({ kind: "enterRoom", person: "Zed", room: "room" }, /unknown person "Zed"/);
    reject({ kind: "moveToContainer", person: "Anne", object: "marble", container: "sofa" }, /unknown container/);
    tracker.applyOrThrow({ kind: "tellPublicly", speaker: "Anne", fact: { kind: "location", object: "marble", container: "box" } });
    reject({ kind: "tellPublicly", speaker: "Anne", fact: { kind: "location", object: "marble", container: "box" } }, /nobody's belief would change/);
    expect(tracker.sentences.length).toBe(before + 1);
    expect(() => tracker.applyOrThrow({ kind: "leaveRoom", person: "Carl", room: "room" })).toThrow(/cannot leaveRoom: Carl is not in the room/);
  });

  it("checks the cast", () => {
    expect(() => new BeliefTracker({ ...oneRoom(["Anne", "Anne"]) })).toThrow(/used twice/);
    expect(() => new BeliefTracker({ ...oneRoom(["Anne"]), containers: [{ name: "box", room: "attic" }] })).toThrow(/unknown room attic/);
  });
});
