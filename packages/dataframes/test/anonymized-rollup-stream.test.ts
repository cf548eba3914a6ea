import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCsvRows, streamCsvRows } from '@tally/core';
import { anonymizedRollup } from '@tally/dataframes';
import { extractAll } from '@tally/extractors';
import { DirectoryStorage } from '@tally/storage';
import { writeTarball } from '@tally/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'tally-anon-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function streamed(text: string, chunkBytes?: number): Promise<{ header: string[]; rows: Record<string, string | null>[] }> {
  const path = join(dir, 'in.csv');
  writeFileSync(path, text);
  const out = { header: [] as string[], rows: [] as Record<string, string | null>[] };
  await streamCsvRows(path, (h) => { out.header = h; }, (r) => out.rows.push(r), chunkBytes);
  return out;
}

describe('streamCsvRows', () => {
  // Every chunk boundary falls somewhere tricky for some chunk size: inside a doubled quote, between
  // CR and LF, inside a multi-byte character, right after a closing quote.
  const text = '\uFEFFa,b,c\r\n"x ""q"" y",,""\r\n\n"multi\nline",é€𝄞,3\rplain,"a,b",""""\n"end""",x,\n';
  it('reads what parseCsvRows reads, whatever the chunk size', async () => {
    const want = parseCsvRows(text);
    expect(want).toEqual([
      { a: 'x "q" y', b: null, c: '' },
      { a: 'multi\nline', b: 'é€𝄞', c: '3' },
      { a: 'plain', b: 'a,b', c: '"' },
      { a: 'end"', b: 'x', c: null },
    ]);
    for (const size of [1, 2, 3, 5, 7, 11, 64, undefined]) {
      const got = await streamed(text, size);
      expect(got.header, `chunk ${size}`).toEqual(['a', 'b', 'c']);
      expect(got.rows, `chunk ${size}`).toEqual(want);
    }
  });
  it('a file without a final newline, and a header-only file', async () => {
    expect((await streamed('a,b\n1,2', 1)).rows).toEqual([{ a: '1', b: '2' }]);
    expect(await streamed('a,b\n', 3)).toEqual({ header: ['a', 'b'], rows: [] });
  });
  it('refuses a row of another width and an open quote, as parseCsvRows does', async () => {
    await expect(streamed('a,b\n1,2\n\n3\n', 2)).rejects.toThrow('CSV row 3 has 1 fields; the header has 2');
    await expect(streamed('a,b\n1,"2\n', 2)).rejects.toThrow('CSV ends inside a quoted field');
  });
});

const UJ = 'id,model,organization_name,created,launch_type,failed,started,finished,ansible_version';
const EVENTS = 'id,created,uuid,parent_uuid,event,task_action,resolved_action,resolved_role,duration,warnings,deprecations,playbook,job_id,host_id,job_created';

async function rollupOf(ship: string) {
  const tarballs = await extractAll({ storage: new DirectoryStorage({ base: ship }), since: new Date('2024-03-10T00:00:00Z'), until: new Date('2024-03-11T00:00:00Z') });
  try {
    return await anonymizedRollup(tarballs, { knownCollections: [] });
  } finally {
    for (const t of tarballs) await t.release();
  }
}

describe('anonymizedRollup of a day with job events', () => {
  const jobs = `${UJ}\n1,job,A,2024-03-10 10:00:00+00,manual,f,2024-03-10 10:00:01+00,2024-03-10 10:00:11+00,2.15.1\n`;
  it('is refused, naming the tarball, the member and its event rows', async () => {
    const ship = join(dir, 'events');
    writeTarball(ship, '2024-03-10', { 'unified_jobs.csv': jobs }, { index: 0 });
    writeTarball(ship, '2024-03-10', {
      'main_jobevent_service.csv': `${EVENTS}\n1,2024-03-10 10:00:02+00,u1,,runner_on_ok,ping,ansible.builtin.ping,,0.1,[],[],site.yml,1,1,2024-03-10 10:00:00+00\n2,2024-03-10 10:00:03+00,u2,,runner_on_ok,ping,ansible.builtin.ping,,0.1,[],[],site.yml,1,2,2024-03-10 10:00:00+00\n`,
    }, { index: 1, verbatim: ['main_jobevent_service.csv'] });
    await expect(rollupOf(ship)).rejects.toThrow(
      /^data\/2024\/03\/10\/u-1-2024-03-10-000000\+0000-2024-03-10-235959\+0000-1\.tar\.gz: main_jobevent_service\.csv: 2 event rows; the events part of the anonymized rollup is not implemented$/,
    );
  });
  it('is computed when the events member has no rows', async () => {
    const ship = join(dir, 'no-events');
    writeTarball(ship, '2024-03-10', { 'unified_jobs.csv': jobs, 'main_jobevent_service.csv': `${EVENTS}\n` }, { verbatim: ['main_jobevent_service.csv'] });
    const p = await rollupOf(ship);
    expect(p.statistics.rollup_period_jobs_total).toBe(1);
    expect(p.statistics.rollup_period_jobs_duration_all_statuses_seconds).toBe(10);
  });
});
