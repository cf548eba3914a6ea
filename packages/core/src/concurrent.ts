/**
 * `fn` over `items`, at most `limit` calls in flight at once; the results in the items' order.
 * For I/O that waits on the thread pool or the network (listing, reading small files): one call
 * at a time leaves both idle between round trips. The first rejection rejects the whole and no
 * further call starts (those in flight run to their end).
 */
export async function mapConcurrent<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
