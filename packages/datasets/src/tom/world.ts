// The state-tracking language of ExploreToM-style stories: properties, belief entries, minds.
//
// A Mind maps (entity, property) to a value. The world is one Mind (the truth); each person p
// has FO[p] (what p believes) and SO[p][q] (what p believes q believes). A missing entry means
// "unknown". Every entry remembers which story action last set it (`source`), so questions can
// say where a belief came from.

/** Where a person or object is: a room name, or `not(<room>)` after a person left it. */
export const ROOM_LOCATION = "room_location";
/** Which container an object is in; `NO_CONTAINER` when it lies in the open (visible). */
export const CONTAINER_LOCATION = "container_location";
/** An object's latest state (e.g. "painted blue"). */
export const OBJECT_STATE = "<state_update>";
/** Knowledge of an abstract topic (entity = topic, value "yes"). */
export const KNOWLEDGE = "<knowledge>";

export type TomProperty = typeof ROOM_LOCATION | typeof CONTAINER_LOCATION | typeof OBJECT_STATE | typeof KNOWLEDGE;

/** Value of `container_location` for an object that is not inside any container. */
export const NO_CONTAINER = "none";

/** `not(<room>)`: the room location believed after seeing someone leave. */
export const notInRoom = (room: string) => `not(${room})`;

export interface BeliefEntry {
  value: string;
  /** Index of the story action (in the tracker's log) that last set this entry. */
  source: number;
}

/** A set of (entity, property) → value beliefs; missing = unknown. */
export class Mind {
  private readonly entries = new Map<string, BeliefEntry>();

  private static key(entity: string, property: TomProperty): string {
    return `${entity}\u0000${property}`;
  }

  get(entity: string, property: TomProperty): string | undefined {
    return this.entries.get(Mind.key(entity, property))?.value;
  }

  entry(entity: string, property: TomProperty): BeliefEntry | undefined {
    return this.entries.get(Mind.key(entity, property));
  }

  /** Sets a value; returns true when the value changed. */
  set(entity: string, property: TomProperty, value: string, source: number): boolean {
    const key = Mind.key(entity, property);
    const changed = this.entries.get(key)?.value !== value;
    this.entries.set(key, { value, source });
    return changed;
  }

  /** Forgets a value (it becomes unknown); returns true when something was known. */
  forget(entity: string, property: TomProperty): boolean {
    return this.entries.delete(Mind.key(entity, property));
  }

  /** All entries as [entity, property, entry]. */
  list(): [string, TomProperty, BeliefEntry][] {
    return [...this.entries].map(([key, entry]) => {
      const [entity, property] = key.split("\u0000") as [string, TomProperty];
      return [entity, property, entry];
    });
  }
}

/** A container and the room it stands in (containers never move). */
export interface TomContainer {
  name: string;
  room: string;
}

/** The entities of one story. */
export interface TomCast {
  people: string[];
  rooms: string[];
  containers: TomContainer[];
  objects: string[];
  topics: string[];
}
