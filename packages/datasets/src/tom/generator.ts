// Seeded procedural generator of ExploreToM-style false-belief stories with exact answers.
//
// Story types choose the action set (ExploreToM's `param=story_type` names):
//   tomi                  enter/leave room, move an object between containers
//   tomi+object-state     + object state updates
//   tomi+room-changes     + carrying an object to another room (two rooms)
//   tomi+info-exchange    + private and public communication (locations, topics)
//   tomi+asymmetric       + exactly one peek or distract event
//   all                   everything above
// Sampling: pick an action kind (weighted), shuffle its arguments, take the first whose
// preconditions hold; repeat until the story is final (required moves, people and rooms, at
// least one differentiating action, the type's special action) or too long (then retry).

import { createRandom, deriveSeed, type Random } from "../random.js";
import { askQuestions, type TomQuestion } from "./questions.js";
import { BeliefTracker, type LoggedAction, type StoryAction, type TomFact } from "./tracker.js";
import { CONTAINER_LOCATION, type TomCast, type TomContainer } from "./world.js";

export const TOM_STORY_TYPES = ["tomi", "tomi+object-state", "tomi+room-changes", "tomi+info-exchange", "tomi+asymmetric", "all"] as const;
export type TomStoryType = (typeof TOM_STORY_TYPES)[number];

export interface TomGeneratorConfig {
  /** Number of stories. Example: 100. */
  readonly count: number;
  /** Seed; story i depends only on (seed, i). Example: 0. */
  readonly seed: number;
  /** Story types to draw from, uniformly. Default all six. */
  readonly storyTypes: readonly TomStoryType[];
  /** People per story, inclusive range. Default 2–4. */
  readonly minPeople: number;
  readonly maxPeople: number;
  /** Object moves per story (moveToContainer + moveToRoom). Default 2–4. */
  readonly minMoves: number;
  readonly maxMoves: number;
  /** Rooms per story (room-change stories always use 2). Default 1–2. */
  readonly minRooms: number;
  readonly maxRooms: number;
  /** Objects per story. Default 1. */
  readonly objectsPerStory: number;
  /** Containers in each room. Default 2. */
  readonly containersPerRoom: number;
  /** Longest story in sentences. Default 15. */
  readonly maxSentences: number;
  /** Keep only stories with at least one interesting question (false-belief stories). Default true. */
  readonly requireInterestingQuestion: boolean;
}

export const DEFAULT_TOM_GENERATOR_CONFIG: TomGeneratorConfig = {
  count: 100,
  seed: 0,
  storyTypes: TOM_STORY_TYPES,
  minPeople: 2,
  maxPeople: 4,
  minMoves: 2,
  maxMoves: 4,
  minRooms: 1,
  maxRooms: 2,
  objectsPerStory: 1,
  containersPerRoom: 2,
  maxSentences: 15,
  requireInterestingQuestion: true,
};

/** Merges overrides into the defaults and validates; errors name the field. */
export function resolveTomGeneratorConfig(overrides: Partial<TomGeneratorConfig> = {}): TomGeneratorConfig {
  const config = { ...DEFAULT_TOM_GENERATOR_CONFIG, ...overrides };
  const range = (name: keyof TomGeneratorConfig, min: number, max: number) => {
    const value = config[name];
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new Error(`tom config: ${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
    }
  };
  range("count", 0, Number.MAX_SAFE_INTEGER);
  range("minPeople", 2, PEOPLE.length);
  range("maxPeople", 2, PEOPLE.length);
  range("minMoves", 1, 10);
  range("maxMoves", 1, 10);
  range("minRooms", 1, ROOMS.length);
  range("maxRooms", 1, ROOMS.length);
  range("objectsPerStory", 1, OBJECTS.length);
  range("containersPerRoom", 2, Math.floor(CONTAINERS.length / ROOMS.length));
  range("maxSentences", 5, 100);
  if (!Number.isFinite(config.seed)) throw new Error("tom config: seed must be a finite number");
  if (config.maxPeople < config.minPeople) throw new Error("tom config: maxPeople must be >= minPeople");
  if (config.maxMoves < config.minMoves) throw new Error("tom config: maxMoves must be >= minMoves");
  if (config.maxRooms < config.minRooms) throw new Error("tom config: maxRooms must be >= minRooms");
  if (config.storyTypes.length === 0) throw new Error("tom config: storyTypes must not be empty");
  for (const type of config.storyTypes) {
    if (!TOM_STORY_TYPES.includes(type)) throw new Error(`tom config: unknown story type ${JSON.stringify(type)} (use ${TOM_STORY_TYPES.join(", ")})`);
    if (type === "tomi+room-changes" && config.maxRooms < 2) throw new Error("tom config: tomi+room-changes needs maxRooms >= 2");
  }
  return config;
}

/** One generated story with its questions. */
export interface TomStory {
  /** `tom:<seed>:<index>`. */
  id: string;
  storyType: TomStoryType;
  cast: TomCast;
  /** The actions, replayable with a fresh `BeliefTracker(cast)`. */
  actions: StoryAction[];
  /** The story, one sentence per entry. */
  sentences: string[];
  /** The sentences joined with spaces. */
  text: string;
  questions: TomQuestion[];
  isFalseBeliefStoryFirstOrder: boolean;
  isFalseBeliefStoryFirstAndSecondOrder: boolean;
  numPeople: number;
  numMoves: number;
  numRooms: number;
}

// A modest fixed vocabulary.
const PEOPLE = ["Anne", "Bob", "Carla", "David", "Emma", "Frank", "Grace", "Henry", "Iris", "Jack", "Kate", "Liam"];
const ROOMS = ["kitchen", "garden", "bedroom", "hallway", "garage", "office"];
const CONTAINERS = ["basket", "box", "drawer", "bucket", "suitcase", "cupboard", "crate", "chest", "bag", "jar", "envelope", "bottle"];
const OBJECTS = ["apple", "ball", "key", "book", "hat", "coin", "watch", "scarf", "pencil", "spoon"];
const TOPICS = ["school trip", "surprise party", "new neighbour", "broken window", "lost dog"];
/** Object state changes: the state asked about and the verb phrase of the sentence. */
const STATES: readonly { state: string; description: (object: string) => string }[] = [
  { state: "washed", description: (o) => `washed the ${o}` },
  { state: "wrapped in paper", description: (o) => `wrapped the ${o} in paper` },
  { state: "painted blue", description: (o) => `painted the ${o} blue` },
  { state: "painted red", description: (o) => `painted the ${o} red` },
  { state: "covered in dust", description: (o) => `covered the ${o} in dust` },
];

type ActionKind = "enterRoom" | "leaveRoom" | "moveToContainer" | "moveToRoom" | "updateState" | "tellPrivately" | "tellPublicly" | "asymmetric";

interface StoryPlan {
  type: TomStoryType;
  cast: TomCast;
  numPeople: number;
  numMoves: number;
  numRooms: number;
  kinds: ActionKind[];
}

function planStory(random: Random, config: TomGeneratorConfig, type: TomStoryType): StoryPlan {
  const numPeople = random.integer(config.minPeople, config.maxPeople);
  const numMoves = random.integer(config.minMoves, config.maxMoves);
  const roomChanges = type === "tomi+room-changes" || type === "all";
  const numRooms = type === "tomi+room-changes" ? 2 : random.integer(config.minRooms, config.maxRooms);
  const rooms = random.shuffle(ROOMS).slice(0, numRooms);
  const containerNames = random.shuffle(CONTAINERS);
  const containers: TomContainer[] = rooms.flatMap((room, r) =>
    containerNames.slice(r * config.containersPerRoom, (r + 1) * config.containersPerRoom).map((name) => ({ name, room })));
  const cast: TomCast = {
    people: random.shuffle(PEOPLE).slice(0, numPeople),
    rooms,
    containers,
    objects: random.shuffle(OBJECTS).slice(0, config.objectsPerStory),
    topics: type === "tomi+info-exchange" || type === "all" ? [random.choice(TOPICS)] : [],
  };
  const kinds: ActionKind[] = ["enterRoom", "leaveRoom", "moveToContainer"];
  if (type === "tomi+object-state" || type === "all") kinds.push("updateState");
  if (roomChanges && numRooms > 1) kinds.push("moveToRoom");
  if (type === "tomi+info-exchange" || type === "all") kinds.push("tellPrivately", "tellPublicly");
  if (type === "tomi+asymmetric" || type === "all") kinds.push("asymmetric");
  return { type, cast, numPeople, numMoves, numRooms, kinds };
}

/**
 * Candidate actions of one kind, lazily, in random order (people shuffled, then each argument
 * list shuffled). People who are not in the story yet enter first.
 */
function* candidates(kind: ActionKind, tracker: BeliefTracker, random: Random, allowStateChanges: boolean): Generator<StoryAction> {
  const { people, rooms, containers, objects, topics } = tracker.cast;
  const persons = random.shuffle(people);
  if (kind === "enterRoom") {
    const introduced = new Set(tracker.introducedPeople());
    const outside = persons.filter((person) => tracker.roomOf(person) === undefined);
    const ordered = [...outside.filter((person) => !introduced.has(person)), ...outside.filter((person) => introduced.has(person))];
    for (const person of ordered) for (const room of random.shuffle(rooms)) yield { kind, person, room };
    return;
  }
  if (kind === "leaveRoom") {
    for (const person of persons) {
      const room = tracker.roomOf(person);
      if (room !== undefined) yield { kind, person, room };
    }
    return;
  }
  for (const person of persons) {
    if (tracker.roomOf(person) === undefined) continue;
    if (kind === "tellPrivately" || kind === "tellPublicly") {
      const facts: TomFact[] = random.shuffle([
        ...objects.flatMap((object) => containers.map(({ name }): TomFact => ({ kind: "location", object, container: name }))),
        ...topics.map((topic): TomFact => ({ kind: "topic", topic })),
      ]);
      for (const fact of facts) {
        if (kind === "tellPublicly") yield { kind, speaker: person, fact };
        else for (const listener of random.shuffle(people)) if (listener !== person) yield { kind, speaker: person, listener, fact };
      }
      continue;
    }
    for (const object of random.shuffle(objects)) {
      if (kind === "moveToContainer") for (const { name } of random.shuffle(containers)) yield { kind, person, object, container: name };
      if (kind === "moveToRoom") for (const room of random.shuffle(rooms)) yield { kind, person, object, room };
      if (kind === "updateState") {
        for (const { state, description } of random.shuffle(STATES)) yield { kind, person, object, state, description: description(object) };
      }
      if (kind === "asymmetric") {
        // A move (or state change) that one other person secretly witnesses or misses.
        const base: Extract<StoryAction, { kind: "moveToContainer" | "updateState" }>[] = random.shuffle([
          ...containers.map(({ name }) => ({ kind: "moveToContainer" as const, person, object, container: name })),
          ...(allowStateChanges ? STATES.map(({ state, description }) => ({ kind: "updateState" as const, person, object, state, description: description(object) })) : []),
        ]);
        for (const action of base) {
          for (const other of random.shuffle(people)) {
            if (other === person) continue;
            yield random.chance(0.5) ? { ...action, peeking: [other] } : { ...action, distracted: [other] };
          }
        }
      }
    }
  }
}

const isMove = (action: StoryAction) => action.kind === "moveToContainer" || action.kind === "moveToRoom";

/** One attempt at a story; null when it got too long or stuck. */
function attemptStory(random: Random, config: TomGeneratorConfig, plan: StoryPlan): BeliefTracker | null {
  const tracker = new BeliefTracker(plan.cast);
  const [firstRoom] = plan.cast.rooms as [string];
  tracker.applyOrThrow({ kind: "enterRoom", person: plan.cast.people[0]!, room: firstRoom });
  const firstRoomContainers = plan.cast.containers.filter((container) => container.room === firstRoom);
  for (const object of plan.cast.objects) tracker.applyOrThrow({ kind: "placeObject", object, container: random.choice(firstRoomContainers).name });

  let moves = 0;
  const usedKinds = new Set<string>();
  const needs = (kind: ActionKind) => plan.kinds.includes(kind);
  const isFinal = () => {
    const introduced = tracker.introducedPeople().length === plan.numPeople;
    const roomsUsed = new Set(tracker.log.flatMap(({ action }) => (action.kind === "enterRoom" || action.kind === "moveToRoom" ? [action.room] : []))).size;
    const differentiating = tracker.log.some((entry) => entry.differentiating);
    const special =
      (!needs("asymmetric") || tracker.hasAsymmetricEvent()) &&
      (!needs("updateState") || usedKinds.has("updateState")) &&
      (!needs("moveToRoom") || usedKinds.has("moveToRoom")) &&
      (!needs("tellPrivately") || usedKinds.has("tellPrivately") || usedKinds.has("tellPublicly"));
    return moves === plan.numMoves && introduced && roomsUsed === plan.numRooms && differentiating && special;
  };

  while (!isFinal()) {
    if (tracker.sentences.length >= config.maxSentences) return null;
    let kinds = plan.kinds.filter((kind) => {
      if (moves >= plan.numMoves && (kind === "moveToContainer" || kind === "moveToRoom" || kind === "asymmetric")) return false;
      if (kind === "asymmetric" && tracker.hasAsymmetricEvent()) return false;
      return true;
    });
    // Weights steer towards a final story: newcomers enter, pending special actions happen.
    const fresh = tracker.introducedPeople().length < plan.numPeople;
    const weight = (kind: ActionKind): number => {
      if (kind === "enterRoom") return fresh ? 4 : 1.5;
      if (kind === "leaveRoom") return 1.5;
      if (kind === "moveToContainer") return 3;
      if (kind === "asymmetric") return 3;
      if (kind === "updateState") return usedKinds.has("updateState") ? 0.5 : 2;
      if (kind === "moveToRoom") return usedKinds.has("moveToRoom") ? 1 : 2;
      return usedKinds.has("tellPrivately") || usedKinds.has("tellPublicly") ? 0.5 : 1.5;
    };
    let applied = false;
    while (!applied && kinds.length > 0) {
      const kind = weightedChoice(random, kinds, weight);
      for (const action of candidates(kind, tracker, random, needs("updateState"))) {
        // The last move must make beliefs diverge if nothing has yet (else the story can't end).
        const lastChance = isMove(action) && moves === plan.numMoves - 1 && !tracker.log.some((entry) => entry.differentiating);
        if (lastChance && !wouldDifferentiate(tracker, action)) continue;
        if (tracker.apply(action)) {
          applied = true;
          usedKinds.add(action.kind);
          if (isMove(action)) moves++;
          break;
        }
      }
      kinds = kinds.filter((k) => k !== kind);
    }
    if (!applied) return null;
  }
  return tracker.sentences.length <= config.maxSentences ? tracker : null;
}

/** Whether a move would leave someone with a known belief about the object outdated. */
function wouldDifferentiate(tracker: BeliefTracker, action: StoryAction): boolean {
  if (action.kind !== "moveToContainer" && action.kind !== "moveToRoom") return false;
  if ((action.kind === "moveToContainer" && ((action.peeking?.length ?? 0) > 0 || (action.distracted?.length ?? 0) > 0))) return true;
  const room = tracker.roomOf(action.person);
  return tracker.introducedPeople().some((person) => {
    if (tracker.roomOf(person) === room || (action.kind === "moveToRoom" && tracker.roomOf(person) === action.room)) return false;
    return tracker.firstOrderBelief(person).get(action.object, CONTAINER_LOCATION) !== undefined;
  });
}

function weightedChoice(random: Random, kinds: readonly ActionKind[], weight: (kind: ActionKind) => number): ActionKind {
  const total = kinds.reduce((sum, kind) => sum + weight(kind), 0);
  let threshold = random.next() * total;
  for (const kind of kinds) {
    threshold -= weight(kind);
    if (threshold < 0) return kind;
  }
  return kinds[kinds.length - 1]!;
}

/** Builds the story record from a finished tracker. */
export function storyFromTracker(tracker: BeliefTracker, id: string, storyType: TomStoryType): TomStory {
  const { questions, isFalseBeliefStoryFirstOrder, isFalseBeliefStoryFirstAndSecondOrder } = askQuestions(tracker);
  const actions = tracker.log.map((entry: LoggedAction) => entry.action);
  return {
    id,
    storyType,
    cast: tracker.cast,
    actions,
    sentences: [...tracker.sentences],
    text: tracker.sentences.join(" "),
    questions,
    isFalseBeliefStoryFirstOrder,
    isFalseBeliefStoryFirstAndSecondOrder,
    numPeople: tracker.introducedPeople().length,
    numMoves: actions.filter(isMove).length,
    numRooms: new Set(actions.flatMap((action) => (action.kind === "enterRoom" || action.kind === "moveToRoom" ? [action.room] : []))).size,
  };
}

/** Generates `config.count` stories; same config → same stories. */
export function generateTomStories(overrides: Partial<TomGeneratorConfig> = {}): TomStory[] {
  const config = resolveTomGeneratorConfig(overrides);
  const stories: TomStory[] = [];
  for (let index = 0; index < config.count; index++) {
    const random = createRandom(deriveSeed(config.seed, index));
    let story: TomStory | null = null;
    const storyType = random.choice(config.storyTypes);
    for (let attempt = 0; attempt < 2000 && story === null; attempt++) {
      const plan = planStory(random, config, storyType);
      const tracker = attemptStory(random, config, plan);
      if (tracker === null) continue;
      const candidate = storyFromTracker(tracker, `tom:${config.seed}:${index}`, plan.type);
      if (config.requireInterestingQuestion && !candidate.questions.some((question) => question.interesting)) continue;
      story = candidate;
    }
    if (story === null) throw new Error(`tom: could not generate story ${index} with ${JSON.stringify(config)}; relax the size limits`);
    stories.push(story);
  }
  return stories;
}
