/**
 * The requests awaiting a reply, by 32-bit id: an open-addressed array indexed by the id's low
 * bits instead of a Map, so a request costs no hashing and no Map entry (the 1000-in-flight path
 * makes one add, one get and one delete per request).
 *
 * Ids come from a counter that wraps at 2^32 - 1 (0 is never used); an id whose slot is taken is
 * skipped, so every pending id is unique and lives at `id & mask`. The table doubles whenever it
 * would pass half full, so a free slot is always near and the skips are few.
 */
const MAX_ID = 0xffff_ffff;
const INITIAL_SLOTS = 64;

export class PendingTable<T extends { id: number }> {
  #slots: (T | undefined)[] = new Array<T | undefined>(INITIAL_SLOTS).fill(undefined);
  #mask = INITIAL_SLOTS - 1;
  #nextId = 1;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Gives `entry` a free id (set on it) and stores it. */
  add(entry: T): void {
    if ((this.#size + 1) * 2 > this.#slots.length) this.#grow();
    const slots = this.#slots;
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id === MAX_ID ? 1 : id + 1;
      const slot = id & this.#mask;
      if (slots[slot] === undefined) {
        entry.id = id;
        slots[slot] = entry;
        this.#size++;
        return;
      }
    }
  }

  get(id: number): T | undefined {
    const entry = this.#slots[id & this.#mask];
    return entry !== undefined && entry.id === id ? entry : undefined;
  }

  /** Removes `entry`; false if it is not pending (never added, or already removed). */
  delete(entry: T): boolean {
    const slot = entry.id & this.#mask;
    if (entry.id === 0 || this.#slots[slot] !== entry) return false;
    this.#slots[slot] = undefined;
    this.#size--;
    return true;
  }

  /** Removes and returns every entry, in id order. */
  drain(): T[] {
    const entries: T[] = [];
    for (const entry of this.#slots) if (entry !== undefined) entries.push(entry);
    this.#slots.fill(undefined);
    this.#size = 0;
    return entries.sort((a, b) => a.id - b.id);
  }

  /** Doubles the slots; entries keep their ids (distinct low bits stay distinct with one more bit). */
  #grow(): void {
    const old = this.#slots;
    this.#slots = new Array<T | undefined>(old.length * 2).fill(undefined);
    this.#mask = this.#slots.length - 1;
    for (const entry of old) if (entry !== undefined) this.#slots[entry.id & this.#mask] = entry;
  }
}
