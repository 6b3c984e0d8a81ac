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

/**
 * The first page read again, merged into what is listed: items not listed yet go in at their
 * place (newest first: new runs at the top), listed ones take their fresh state, and the rows
 * "Older runs" loaded stay as they are. `added` are the items that went in.
 */
export function mergeFresh<T>(rows: T[], fresh: T[], id: (item: T) => string, newer: (a: T, b: T) => number): { rows: T[]; added: T[] } {
  const byId = new Map(fresh.map((item) => [id(item), item]));
  const listed = new Set(rows.map(id));
  const updated = rows.map((row) => byId.get(id(row)) ?? row);
  const added: T[] = [];
  for (const item of byId.values()) if (!listed.has(id(item))) added.push(item);
  added.sort(newer);
  const merged: T[] = [];
  let a = 0;
  let r = 0;
  while (a < added.length || r < updated.length) {
    if (r >= updated.length || (a < added.length && newer(added[a], updated[r]) <= 0)) merged.push(added[a++]);
    else merged.push(updated[r++]);
  }
  return { rows: merged, added };
}

/** Items of a next page that are not listed yet (a list that grew at its top since its first
 * page may answer some of them again). */
export function unlisted<T>(rows: T[], more: T[], id: (item: T) => string): T[] {
  const listed = new Set(rows.map(id));
  const found: T[] = [];
  for (const item of more) {
    if (listed.has(id(item))) continue;
    listed.add(id(item));
    found.push(item);
  }
  return found;
}

export interface Watched {
  name: string;
  lastCreatedRunUtc: string | null;
}

/**
 * Which experiments have new runs since they were read: an experiment whose last run's time
 * (`lastCreatedRunUtc`) changed. A changed one is read twice, on two checks in a row, before its
 * new time counts as seen: the index row that moves the time may be written just before its
 * run can be read.
 */
export class Watermarks {
  private seen = new Map<string, string | null>();
  private once = new Map<string, string | null>();

  constructor(experiments: Watched[]) {
    for (const e of experiments) this.seen.set(e.name, e.lastCreatedRunUtc);
  }

  /** The experiments of `experiments` to read again (a new experiment is one). */
  changed(experiments: Watched[]): Watched[] {
    return experiments.filter((e) => !this.seen.has(e.name) || this.seen.get(e.name) !== e.lastCreatedRunUtc);
  }

  /** `experiments` (from `changed`) were read: a second read of the same time settles it. */
  read(experiments: Watched[]): void {
    for (const e of experiments) {
      if (this.once.has(e.name) && this.once.get(e.name) === e.lastCreatedRunUtc) {
        this.seen.set(e.name, e.lastCreatedRunUtc);
        this.once.delete(e.name);
      } else {
        this.once.set(e.name, e.lastCreatedRunUtc);
      }
    }
  }
}
