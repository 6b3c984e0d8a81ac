// Newest first across several lists that are each newest first and paged (one experiment's
// runs each): the runs of every experiment as one list, read a page at a time.

export interface Page<T> {
  items: T[];
  next: string | null;
}

export type PageSource<T> = (token: string | null) => Promise<Page<T>>;

interface Cursor<T> {
  read: PageSource<T>;
  buffer: T[];
  token: string | null;
  done: boolean;
}

export class Merged<T> {
  private cursors: Cursor<T>[];

  /** `newer(a, b)` is negative when a is newer than b (a sort comparator, newest first). */
  constructor(
    sources: PageSource<T>[],
    private readonly newer: (a: T, b: T) => number,
  ) {
    this.cursors = sources.map((read) => ({ read, buffer: [], token: null, done: false }));
  }

  /** Nothing more to read in any list. */
  get done(): boolean {
    return this.cursors.every((c) => c.done && c.buffer.length === 0);
  }

  /** The next `count` items, newest first (fewer when the lists run out). */
  async more(count: number): Promise<T[]> {
    const taken: T[] = [];
    while (taken.length < count) {
      // Every list must show its newest unread item before the newest of all can be picked.
      const empty = this.cursors.filter((c) => c.buffer.length === 0 && !c.done);
      await Promise.all(empty.map((c) => this.fill(c)));
      if (this.cursors.some((c) => c.buffer.length === 0 && !c.done)) continue; // a page with nothing on it: read on
      const ready = this.cursors.filter((c) => c.buffer.length > 0);
      if (ready.length === 0) break;
      const newest = ready.reduce((best, c) => (this.newer(c.buffer[0], best.buffer[0]) < 0 ? c : best));
      taken.push(newest.buffer.shift() as T);
    }
    return taken;
  }

  private async fill(cursor: Cursor<T>): Promise<void> {
    const page = await cursor.read(cursor.token);
    cursor.buffer.push(...page.items);
    cursor.token = page.next;
    cursor.done = !page.next;
  }
}
