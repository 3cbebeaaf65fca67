// Exact belief tracker for ExploreToM-style stories (see shared EXPLORETOM.md).
//
// Witness rule: for an action in room r the witnesses W are the people in r (for private
// communication W = {speaker, listener}); the real witnesses are R = (W ∪ peekers) − distracted.
// The tracker sets FO[x] for every x in R and SO[x][y] for every x in R and y in W, y ≠ x.
// Visibility: room locations are visible; container locations, object states and knowledge are
// not. An object inside a container cannot be seen; one lying in the open (after it was
// carried to another room) can. Entering a room shows what is visible there, and what the
// person expected to see there but does not becomes `not(room)` (people) or unknown (objects).
//
// Every action checks its preconditions first and changes nothing when they fail, so a
// generator can propose actions freely. Choices made where the description is silent:
// - a person enters a room only from outside (never in a room, or after leaving one);
// - moveToRoom: the person carries the object (out of its container) into r2, where it lies in
//   the open; the people in both rooms witness it; no peeking or distraction;
// - the one peek/distract event may accompany moveToContainer or updateState only;
// - a fact told must be true and believed by the speaker; a topic can be told by someone who
//   knows it, or by anyone while nobody knows it yet (the speaker is its source).

import {
  CONTAINER_LOCATION,
  KNOWLEDGE,
  Mind,
  NO_CONTAINER,
  OBJECT_STATE,
  ROOM_LOCATION,
  notInRoom,
  type TomCast,
  type TomProperty,
} from "./world.js";

/** Something a person can tell: where an object is, or about an abstract topic. */
export type TomFact =
  | { kind: "location"; object: string; container: string }
  | { kind: "topic"; topic: string };

/** The optional asymmetric event of a story: secret witnesses or inattentive ones. */
export interface AsymmetricEvent {
  /** People outside the room who witness the action in secret. */
  peeking?: string[];
  /** People in the room who get distracted and miss the action. */
  distracted?: string[];
}

/** One action of the story language. */
export type StoryAction =
  | { kind: "enterRoom"; person: string; room: string }
  | { kind: "leaveRoom"; person: string; room: string }
  | { kind: "placeObject"; object: string; container: string }
  | ({ kind: "moveToContainer"; person: string; object: string; container: string } & AsymmetricEvent)
  | { kind: "moveToRoom"; person: string; object: string; room: string }
  | ({ kind: "updateState"; person: string; object: string; state: string; description?: string } & AsymmetricEvent)
  | { kind: "tellPrivately"; speaker: string; listener: string; fact: TomFact }
  | { kind: "tellPublicly"; speaker: string; fact: TomFact };

/** An applied action with its sentences and who witnessed it. */
export interface LoggedAction {
  action: StoryAction;
  /** The action's sentence, then the peek/distract sentence if any. */
  sentences: string[];
  /** W: the people who witnessed it openly. */
  witnesses: string[];
  /** R = (W ∪ peekers) − distracted. */
  realWitnesses: string[];
  /** Index of the action's first sentence in the story. */
  sentenceIndex: number;
  /** Some person already in the story, or a distracted one, did not witness it (beliefs diverge). */
  differentiating: boolean;
}

type Update = readonly [entity: string, property: TomProperty, value: string];

const enumerate = (names: readonly string[]) =>
  names.length <= 1 ? (names[0] ?? "") : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;

export class BeliefTracker {
  /** The true state of the world. */
  readonly world = new Mind();
  /** Applied actions in order. */
  readonly log: LoggedAction[] = [];
  /** The story so far, one sentence per entry. */
  readonly sentences: string[] = [];
  private readonly firstOrder = new Map<string, Mind>();
  private readonly secondOrder = new Map<string, Map<string, Mind>>();
  private readonly introduced = new Set<string>();
  private readonly containerRooms = new Map<string, string>();
  private asymmetricEventUsed = false;

  constructor(readonly cast: TomCast) {
    const names = [...cast.people, ...cast.rooms, ...cast.containers.map((c) => c.name), ...cast.objects, ...cast.topics];
    const duplicate = names.find((name, index) => names.indexOf(name) !== index);
    if (duplicate !== undefined) throw new Error(`BeliefTracker: name ${JSON.stringify(duplicate)} is used twice in the cast`);
    for (const container of cast.containers) {
      if (!cast.rooms.includes(container.room)) throw new Error(`BeliefTracker: container ${container.name} stands in unknown room ${container.room}`);
      this.containerRooms.set(container.name, container.room);
    }
    for (const person of cast.people) {
      this.firstOrder.set(person, new Mind());
      this.secondOrder.set(person, new Map(cast.people.filter((other) => other !== person).map((other) => [other, new Mind()])));
    }
  }

  /** FO[person]: what `person` believes. */
  firstOrderBelief(person: string): Mind {
    const mind = this.firstOrder.get(person);
    if (mind === undefined) throw new Error(`BeliefTracker: unknown person ${JSON.stringify(person)}`);
    return mind;
  }

  /** SO[person][other]: what `person` believes `other` believes (other ≠ person). */
  secondOrderBelief(person: string, other: string): Mind {
    const mind = this.secondOrder.get(person)?.get(other);
    if (mind === undefined) throw new Error(`BeliefTracker: no second-order belief for ${JSON.stringify(person)} about ${JSON.stringify(other)}`);
    return mind;
  }

  /** People who have entered a room at least once. */
  introducedPeople(): string[] {
    return this.cast.people.filter((person) => this.introduced.has(person));
  }

  /** Whether the story's one peek/distract event has happened. */
  hasAsymmetricEvent(): boolean {
    return this.asymmetricEventUsed;
  }

  /** The room a person is in now, or undefined when outside. */
  roomOf(person: string): string | undefined {
    const value = this.world.get(person, ROOM_LOCATION);
    return value !== undefined && this.cast.rooms.includes(value) ? value : undefined;
  }

  /** The people in a room now, in cast order. */
  peopleIn(room: string): string[] {
    return this.cast.people.filter((person) => this.world.get(person, ROOM_LOCATION) === room);
  }

  /** The room a container stands in. */
  roomOfContainer(container: string): string | undefined {
    return this.containerRooms.get(container);
  }

  /** Why `action` is not possible now, or null when it is. */
  check(action: StoryAction): string | null {
    return this.plan(action)?.reason ?? null;
  }

  /** Applies `action` if its preconditions hold; returns whether it was applied. */
  apply(action: StoryAction): boolean {
    const plan = this.plan(action);
    if (plan === null || plan.reason !== null) return false;
    plan.run();
    return true;
  }

  /** Applies `action` or throws with the failed precondition. */
  applyOrThrow(action: StoryAction): void {
    const plan = this.plan(action);
    if (plan !== null && plan.reason !== null) throw new Error(`BeliefTracker: cannot ${action.kind}: ${plan.reason}`);
    plan?.run();
  }

  // ---------------------------------------------------------------- planning

  /** Checks preconditions; returns the reason they fail, or a closure that applies the action. */
  private plan(action: StoryAction): { reason: string; run?: undefined } | { reason: null; run: () => void } | null {
    const fail = (reason: string) => ({ reason });
    const unknown = this.unknownEntity(action);
    if (unknown !== null) return fail(unknown);
    const source = this.log.length;

    switch (action.kind) {
      case "enterRoom": {
        const { person, room } = action;
        if (this.roomOf(person) !== undefined) return fail(`${person} is already in the ${this.roomOf(person)}`);
        return this.ready(() => {
          this.world.set(person, ROOM_LOCATION, room, source);
          this.introduced.add(person);
          const witnesses = this.peopleIn(room);
          this.broadcast([[person, ROOM_LOCATION, room]], witnesses, witnesses, source);
          this.perceive(person, room, witnesses.filter((w) => w !== person), source);
          this.record(action, [`${person} entered the ${room}.`], witnesses, witnesses, source);
        });
      }
      case "leaveRoom": {
        const { person, room } = action;
        if (this.roomOf(person) !== room) return fail(`${person} is not in the ${room}`);
        return this.ready(() => {
          const witnesses = this.peopleIn(room);
          this.world.set(person, ROOM_LOCATION, notInRoom(room), source);
          this.broadcast([[person, ROOM_LOCATION, notInRoom(room)]], witnesses, witnesses, source);
          this.record(action, [`${person} left the ${room}.`], witnesses, witnesses, source);
        });
      }
      case "placeObject": {
        const { object, container } = action;
        if (this.world.get(object, ROOM_LOCATION) !== undefined) return fail(`the ${object} has already been placed`);
        const room = this.containerRooms.get(container)!;
        return this.ready(() => {
          const updates: Update[] = [[object, ROOM_LOCATION, room], [object, CONTAINER_LOCATION, container]];
          this.setWorld(updates, source);
          const witnesses = this.peopleIn(room);
          this.broadcast(updates, witnesses, witnesses, source);
          this.record(action, [`The ${object} is in the ${container}.`], witnesses, witnesses, source);
        });
      }
      case "moveToContainer": {
        const { person, object, container } = action;
        const room = this.roomOf(person);
        if (room === undefined) return fail(`${person} is not in a room`);
        if (this.world.get(object, ROOM_LOCATION) !== room) return fail(`the ${object} is not in the ${room}`);
        if (this.containerRooms.get(container) !== room) return fail(`the ${container} is not in the ${room}`);
        if (this.world.get(object, CONTAINER_LOCATION) === container) return fail(`the ${object} is already in the ${container}`);
        const witnesses = this.peopleIn(room);
        const asymmetric = this.checkAsymmetric(action, person, witnesses);
        if (typeof asymmetric === "string") return fail(asymmetric);
        return this.ready(() => {
          const updates: Update[] = [[object, CONTAINER_LOCATION, container], [object, ROOM_LOCATION, room]];
          this.setWorld(updates, source);
          this.broadcast(updates, witnesses, asymmetric.realWitnesses, source);
          const stale = this.leavesStaleBelief(updates, asymmetric.realWitnesses);
          const sentence = `${person} moved the ${object} to the ${container}, which is also located in the ${room}.`;
          this.record(action, [sentence, ...asymmetric.sentences], witnesses, asymmetric.realWitnesses, source, stale);
        });
      }
      case "moveToRoom": {
        const { person, object, room: destination } = action;
        const room = this.roomOf(person);
        if (room === undefined) return fail(`${person} is not in a room`);
        if (room === destination) return fail(`${person} is already in the ${destination}`);
        if (this.world.get(object, ROOM_LOCATION) !== room) return fail(`the ${object} is not in the ${room}`);
        return this.ready(() => {
          const witnesses = this.cast.people.filter((p) => this.roomOf(p) === room || this.roomOf(p) === destination);
          const updates: Update[] = [
            [person, ROOM_LOCATION, destination],
            [object, ROOM_LOCATION, destination],
            [object, CONTAINER_LOCATION, NO_CONTAINER],
          ];
          this.setWorld(updates, source);
          this.broadcast(updates, witnesses, witnesses, source);
          const stale = this.leavesStaleBelief(updates, witnesses);
          const observers = witnesses.filter((w) => w !== person && this.roomOf(w) === destination);
          this.perceive(person, destination, observers, source);
          this.record(action, [`${person} moved the ${object} to the ${destination}.`], witnesses, witnesses, source, stale);
        });
      }
      case "updateState": {
        const { person, object, state } = action;
        const room = this.roomOf(person);
        if (room === undefined) return fail(`${person} is not in a room`);
        if (this.world.get(object, ROOM_LOCATION) !== room) return fail(`the ${object} is not in the ${room}`);
        if (this.world.get(object, OBJECT_STATE) === state) return fail(`the ${object} is already ${state}`);
        const witnesses = this.peopleIn(room);
        const asymmetric = this.checkAsymmetric(action, person, witnesses);
        if (typeof asymmetric === "string") return fail(asymmetric);
        return this.ready(() => {
          const updates: Update[] = [[object, OBJECT_STATE, state]];
          this.setWorld(updates, source);
          this.broadcast(updates, witnesses, asymmetric.realWitnesses, source);
          const stale = this.leavesStaleBelief(updates, asymmetric.realWitnesses);
          const sentence = `${person} ${action.description ?? `made the ${object} ${state}`}.`;
          this.record(action, [sentence, ...asymmetric.sentences], witnesses, asymmetric.realWitnesses, source, stale);
        });
      }
      case "tellPrivately":
      case "tellPublicly": {
        const speaker = action.speaker;
        const room = this.roomOf(speaker);
        if (room === undefined) return fail(`${speaker} is not in a room`);
        let witnesses: string[];
        if (action.kind === "tellPrivately") {
          if (action.listener === speaker) return fail("a person cannot tell themselves");
          if (this.roomOf(action.listener) !== room) return fail(`${action.listener} is not in the ${room} with ${speaker}`);
          witnesses = [speaker, action.listener];
        } else {
          witnesses = this.peopleIn(room);
          if (witnesses.length < 2) return fail(`${speaker} is alone in the ${room}`);
        }
        const factProblem = this.checkFact(speaker, action.fact);
        if (factProblem !== null) return fail(factProblem);
        const updates = this.factUpdates(action.fact);
        if (!this.wouldChange(updates, witnesses, witnesses)) return fail("nobody's belief would change");
        return this.ready(() => {
          this.broadcast(updates, witnesses, witnesses, source);
          const stale = this.leavesStaleBelief(updates, witnesses);
          const fact = action.fact.kind === "location" ? `that the ${action.fact.object} is in the ${action.fact.container}` : `about the ${action.fact.topic}`;
          const sentence = action.kind === "tellPrivately" ? `${speaker} told ${action.listener} privately ${fact}.` : `${speaker} told everyone ${fact}.`;
          this.record(action, [sentence], witnesses, witnesses, source, stale);
        });
      }
    }
  }

  private ready(run: () => void): { reason: null; run: () => void } {
    return { reason: null, run };
  }

  /** Names in the action that are not in the cast (or of the wrong kind). */
  private unknownEntity(action: StoryAction): string | null {
    const { people, rooms, objects, topics } = this.cast;
    const need = (ok: boolean, what: string, name: string) => (ok ? null : `unknown ${what} ${JSON.stringify(name)}`);
    const checks: (string | null)[] = [];
    if ("person" in action) checks.push(need(people.includes(action.person), "person", action.person));
    if ("speaker" in action) checks.push(need(people.includes(action.speaker), "person", action.speaker));
    if ("listener" in action) checks.push(need(people.includes(action.listener), "person", action.listener));
    if ("room" in action) checks.push(need(rooms.includes(action.room), "room", action.room));
    if ("object" in action) checks.push(need(objects.includes(action.object), "object", action.object));
    if ("container" in action) checks.push(need(this.containerRooms.has(action.container), "container", action.container));
    if ("fact" in action) {
      const fact = action.fact;
      if (fact.kind === "location") {
        checks.push(need(objects.includes(fact.object), "object", fact.object));
        checks.push(need(this.containerRooms.has(fact.container), "container", fact.container));
      } else checks.push(need(topics.includes(fact.topic), "topic", fact.topic));
    }
    return checks.find((check) => check !== null) ?? null;
  }

  /** Validates the optional peek/distract event; returns R and the extra sentence, or a reason. */
  private checkAsymmetric(event: AsymmetricEvent, actor: string, witnesses: string[]): string | { realWitnesses: string[]; sentences: string[] } {
    const peeking = event.peeking ?? [];
    const distracted = event.distracted ?? [];
    if (peeking.length === 0 && distracted.length === 0) return { realWitnesses: witnesses, sentences: [] };
    if (this.asymmetricEventUsed) return "a story has at most one peek/distract event";
    for (const person of [...peeking, ...distracted]) {
      if (!this.cast.people.includes(person)) return `unknown person ${JSON.stringify(person)}`;
      if (person === actor) return `the actor ${actor} cannot peek or be distracted`;
    }
    if (new Set([...peeking, ...distracted]).size !== peeking.length + distracted.length) return "peeking and distracted people must be distinct";
    for (const person of peeking) {
      if (witnesses.includes(person)) return `${person} is in the room and cannot peek`;
      if (!this.introduced.has(person)) return `${person} is not in the story yet and cannot peek`;
    }
    for (const person of distracted) if (!witnesses.includes(person)) return `${person} is not in the room and cannot be distracted`;
    const realWitnesses = this.cast.people.filter((p) => (witnesses.includes(p) || peeking.includes(p)) && !distracted.includes(p));
    const sentences: string[] = [];
    if (peeking.length > 0) sentences.push(`While this was happening, ${enumerate(peeking)} witnessed it in secret.`);
    if (distracted.length > 0) sentences.push(`While this was happening, ${enumerate(distracted)} got distracted and did not notice.`);
    return { realWitnesses, sentences };
  }

  private checkFact(speaker: string, fact: TomFact): string | null {
    if (fact.kind === "location") {
      if (this.world.get(fact.object, CONTAINER_LOCATION) !== fact.container) return `the ${fact.object} is not in the ${fact.container}`;
      if (this.firstOrderBelief(speaker).get(fact.object, CONTAINER_LOCATION) !== fact.container) {
        return `${speaker} does not know that the ${fact.object} is in the ${fact.container}`;
      }
      return null;
    }
    const someoneKnows = this.cast.people.some((p) => this.firstOrderBelief(p).get(fact.topic, KNOWLEDGE) !== undefined);
    if (someoneKnows && this.firstOrderBelief(speaker).get(fact.topic, KNOWLEDGE) === undefined) return `${speaker} does not know about the ${fact.topic}`;
    return null;
  }

  private factUpdates(fact: TomFact): Update[] {
    if (fact.kind === "topic") return [[fact.topic, KNOWLEDGE, "yes"]];
    return [[fact.object, CONTAINER_LOCATION, fact.container], [fact.object, ROOM_LOCATION, this.containerRooms.get(fact.container)!]];
  }

  // ---------------------------------------------------------------- belief updates

  private setWorld(updates: readonly Update[], source: number): void {
    for (const [entity, property, value] of updates) this.world.set(entity, property, value, source);
  }

  /** Some person in the story, not among the real witnesses, now holds an outdated belief. */
  private leavesStaleBelief(updates: readonly Update[], realWitnesses: readonly string[]): boolean {
    return this.introducedPeople().some((person) => {
      if (realWitnesses.includes(person)) return false;
      const mind = this.firstOrderBelief(person);
      return updates.some(([entity, property, value]) => {
        if (this.cast.people.includes(entity)) return false;
        const belief = mind.get(entity, property);
        return property === KNOWLEDGE ? belief !== value : belief !== undefined && belief !== value;
      });
    });
  }

  /** FO[x] for x in R; SO[x][y] for x in R, y in W, y ≠ x. */
  private broadcast(updates: readonly Update[], witnesses: readonly string[], realWitnesses: readonly string[], source: number): void {
    for (const x of realWitnesses) {
      const own = this.firstOrderBelief(x);
      for (const [entity, property, value] of updates) own.set(entity, property, value, source);
      for (const y of witnesses) {
        if (y === x) continue;
        const about = this.secondOrderBelief(x, y);
        for (const [entity, property, value] of updates) about.set(entity, property, value, source);
      }
    }
  }

  private wouldChange(updates: readonly Update[], witnesses: readonly string[], realWitnesses: readonly string[]): boolean {
    for (const x of realWitnesses) {
      const minds = [this.firstOrderBelief(x), ...witnesses.filter((y) => y !== x).map((y) => this.secondOrderBelief(x, y))];
      for (const mind of minds) for (const [entity, property, value] of updates) if (mind.get(entity, property) !== value) return true;
    }
    return false;
  }

  /**
   * `person` now sees what is visible in `room`: who is there and the objects lying in the open.
   * Applied to FO[person] and to SO[o][person] for each observer o (who sees person arrive).
   */
  private perceive(person: string, room: string, observers: readonly string[], source: number): void {
    const minds = [this.firstOrderBelief(person), ...observers.map((observer) => this.secondOrderBelief(observer, person))];
    for (const mind of minds) {
      for (const other of this.cast.people) {
        if (other === person) continue;
        if (this.world.get(other, ROOM_LOCATION) === room) mind.set(other, ROOM_LOCATION, room, source);
        else if (mind.get(other, ROOM_LOCATION) === room) mind.set(other, ROOM_LOCATION, notInRoom(room), source);
      }
      for (const object of this.cast.objects) {
        const visibleHere = this.world.get(object, ROOM_LOCATION) === room && this.world.get(object, CONTAINER_LOCATION) === NO_CONTAINER;
        if (visibleHere) {
          mind.set(object, ROOM_LOCATION, room, source);
          mind.set(object, CONTAINER_LOCATION, NO_CONTAINER, source);
        } else if (mind.get(object, ROOM_LOCATION) === room && mind.get(object, CONTAINER_LOCATION) === NO_CONTAINER) {
          mind.forget(object, ROOM_LOCATION);
          mind.forget(object, CONTAINER_LOCATION);
        }
      }
    }
  }

  private record(action: StoryAction, sentences: string[], witnesses: string[], realWitnesses: string[], source: number, stale = false): void {
    const asymmetric = "peeking" in action || "distracted" in action ? (action.peeking?.length ?? 0) + (action.distracted?.length ?? 0) > 0 : false;
    if (asymmetric) this.asymmetricEventUsed = true;
    this.log[source] = { action, sentences, witnesses, realWitnesses, sentenceIndex: this.sentences.length, differentiating: stale || asymmetric };
    this.sentences.push(...sentences);
  }
}
