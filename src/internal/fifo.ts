/**
 * A first-in first-out queue with O(1) push and shift: a ring of slots that doubles when full.
 * `Array.prototype.shift` is O(n) on large arrays; waiting lists (pool waiters, limiter queues)
 * must not pay that per item (undici `lib/dispatcher/fixed-queue.js` makes the same choice).
 *
 * Invariant: the live items are `slots[(head + i) & mask]` for `0 <= i < length`; vacated slots are
 * set to `undefined` so the queue never keeps a shifted item alive.
 */
export class Fifo<T> {
  #slots: (T | undefined)[];
  #mask: number;
  #head = 0;
  #length = 0;

  constructor(initialCapacity = 16) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity *= 2;
    this.#slots = new Array<T | undefined>(capacity);
    this.#mask = capacity - 1;
  }

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    if (this.#length === this.#slots.length) this.#grow();
    this.#slots[(this.#head + this.#length) & this.#mask] = item;
    this.#length++;
  }

  /** Removes and returns the oldest item, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#slots[this.#head];
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#length--;
    return item;
  }

  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#slots[this.#head];
  }

  /** Removes the first item equal to `item` (O(n); for rare cancellations only). */
  remove(item: T): boolean {
    for (let i = 0; i < this.#length; i++) {
      if (this.#slots[(this.#head + i) & this.#mask] === item) {
        for (let j = i; j < this.#length - 1; j++) {
          this.#slots[(this.#head + j) & this.#mask] = this.#slots[(this.#head + j + 1) & this.#mask];
        }
        this.#slots[(this.#head + this.#length - 1) & this.#mask] = undefined;
        this.#length--;
        return true;
      }
    }
    return false;
  }

  /** Empties the queue and returns what it held, oldest first. */
  drain(): T[] {
    const items: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) items.push(item);
    return items;
  }

  #grow(): void {
    const capacity = this.#slots.length * 2;
    const slots = new Array<T | undefined>(capacity);
    for (let i = 0; i < this.#length; i++) slots[i] = this.#slots[(this.#head + i) & this.#mask];
    this.#slots = slots;
    this.#mask = capacity - 1;
    this.#head = 0;
  }
}
