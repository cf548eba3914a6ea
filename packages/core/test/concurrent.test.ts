import { describe, expect, it } from 'vitest';
import { mapConcurrent } from '@tally/core';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('mapConcurrent', () => {
  it('keeps the items order and never runs more than the limit at once', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapConcurrent([5, 1, 4, 2, 3, 0, 6], 3, async (n, i) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      for (let k = 0; k < n; k++) await tick();
      inFlight -= 1;
      return `${i}:${n}`;
    });
    expect(out).toEqual(['0:5', '1:1', '2:4', '3:2', '4:3', '5:0', '6:6']);
    expect(most).toBe(3);
  });

  it('rejects with the first failure and starts no call after it', async () => {
    const started: number[] = [];
    const run = mapConcurrent([0, 1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      await tick();
      if (n === 1) throw new Error('item 1 failed');
      return n;
    });
    await expect(run).rejects.toThrow('item 1 failed');
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toEqual([0, 1, 2]);
  });

  it('maps nothing to nothing', async () => {
    expect(await mapConcurrent([], 4, async () => 1)).toEqual([]);
  });
});
