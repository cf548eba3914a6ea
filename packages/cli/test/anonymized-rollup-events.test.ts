import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTarball } from '@tally/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

// The events part of the anonymized payload is not implemented: a day whose tarballs hold job
// events gets no payload (exit 1, the reason on stderr), and the other days of the window still do.
const dir = mkdtempSync(join(tmpdir(), 'tally-anon-events-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const UJ = 'id,model,organization_name,created,launch_type,failed,started,finished,ansible_version';
const EVENTS = 'id,created,uuid,parent_uuid,event,task_action,resolved_action,resolved_role,duration,warnings,deprecations,playbook,job_id,host_id,job_created';
const job = (day: string) => `${UJ}\n1,job,A,${day} 10:00:00+00,manual,f,${day} 10:00:01+00,${day} 10:00:11+00,2.15.1\n`;

describe('tally rollup --anonymized over a day with job events', () => {
  it('refuses that day with exit 1 and writes the others', async () => {
    const ship = join(dir, 'ship');
    writeTarball(ship, '2024-03-09', { 'unified_jobs.csv': job('2024-03-09') });
    writeTarball(ship, '2024-03-10', {
      'unified_jobs.csv': job('2024-03-10'),
      'main_jobevent_service.csv': `${EVENTS}\n1,2024-03-10 10:00:02+00,u1,,runner_on_ok,ping,ansible.builtin.ping,,0.1,[],[],site.yml,1,1,2024-03-10 10:00:00+00\n`,
    }, { verbatim: ['main_jobevent_service.csv'] });
    writeTarball(ship, '2024-03-11', { 'unified_jobs.csv': job('2024-03-11') });
    const env = { METRICS_UTILITY_SHIP_TARGET: 'directory', METRICS_UTILITY_SHIP_PATH: ship };
    const r = await runCli(['rollup', '--anonymized', '--since', '2024-03-09', '--until', '2024-03-12'], env, dir);
    expect(r.code).toBe(1);
    const name = (d: string) => `rollups/anonymized/period=day/date=${d}/payload.json`;
    expect(r.stdout.trim().split('\n')).toEqual([name('2024-03-09'), name('2024-03-11')]);
    expect(r.stderr).toContain(
      '2024-03-10: data/2024/03/10/u-1-2024-03-10-000000+0000-2024-03-10-235959+0000-0.tar.gz: main_jobevent_service.csv: 1 event rows; the events part of the anonymized rollup is not implemented',
    );
    expect(existsSync(join(ship, name('2024-03-10')))).toBe(false);
    for (const d of ['2024-03-09', '2024-03-11']) {
      expect(JSON.parse(readFileSync(join(ship, name(d)), 'utf8')).statistics.rollup_period_jobs_total).toBe(1);
    }
  });
});
