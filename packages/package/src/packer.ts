/** One thing to place: a data part (JSON document or one CSV file) of a key. */
export interface PackItem {
  key: string;
  /** Uncompressed bytes counted against the budget. */
  size: number;
  /** Tarballs never mix shipping groups. */
  group: string;
}

export interface Bundle<T extends PackItem> {
  /** Creation order across all groups, from 0. */
  readonly seq: number;
  readonly group: string;
  readonly items: T[];
  total: number;
  closed: boolean;
}

/**
 * First-fit packing as the reference does it: an item goes into the first open
 * bundle of its group that has room (`total + size <= maxSize`) and does not yet
 * hold that key, else into a new bundle. A single item bigger than the budget
 * gets a bundle of its own. Closing (shipping) a bundle is up to the caller.
 */
export class FirstFitPacker<T extends PackItem> {
  readonly maxSize: number;
  private readonly groups = new Map<string, Bundle<T>[]>();
  private seq = 0;

  constructor(maxSize: number) {
    if (!(maxSize > 0)) throw new RangeError(`maxSize must be positive, got ${maxSize}`);
    this.maxSize = maxSize;
  }

  /** Place an item; returns the bundle it went into. */
  add(item: T): Bundle<T> {
    let list = this.groups.get(item.group);
    if (!list) {
      list = [];
      this.groups.set(item.group, list);
    }
    let bundle = list.find(
      (b) => !b.closed && b.total + item.size <= this.maxSize && !b.items.some((i) => i.key === item.key),
    );
    if (!bundle) {
      bundle = { seq: this.seq++, group: item.group, items: [], total: 0, closed: false };
      list.push(bundle);
    }
    bundle.items.push(item);
    bundle.total += item.size;
    return bundle;
  }

  /** The first open bundle of a group, if any (where status-only rows go). */
  firstOpen(group: string): Bundle<T> | undefined {
    return this.groups.get(group)?.find((b) => !b.closed);
  }

  /** Open bundles, group by group in the order groups appeared, each in creation order. */
  open(): Bundle<T>[] {
    return [...this.groups.values()].flat().filter((b) => !b.closed);
  }
}
