/**
 * Bench stage: add to a lake of `gen-tarballs.ts` (hosts `host-{i}.example.com`) a main_host tarball
 * for its first day, whose canonical facts make METRICS_UTILITY_DEDUPLICATOR=ccsp-experimental
 * merge hosts: 10 % clones sharing the serial and machine id of another host, 20 % 'NA'/'NA'
 * (one serial for all of them, as the reference has it), 10 % a blank serial, the rest unique.
 *   node --import tsx tools/bench/stage-ccsp-dedup.ts --ship DIR --hosts 20000 --day 2024-03-01
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { addDays } from '@tally/core';
import { tarballName, tarballStorageName, writeTarball } from '@tally/package';

const HEADER = 'host_name,host_id,inventory_remote_id,inventory_name,organization_remote_id,organization_name,last_automation,ansible_host_variable,canonical_facts,facts';
const UUID = '5b0f3a52-3c1e-4d5c-9a57-0c8d2a1e7f10';

/** The canonical facts of host i as a quoted CSV field. */
function canonicalFacts(i: number): string {
  const k = i % 10;
  const [serial, machine] = k === 0 && i > 0 ? [`VMware-${i - 1}`, `mid-${i - 1}`] : k < 3 ? ['NA', 'NA'] : k === 3 ? ['', `mid-${i}`] : [`VMware-${i}`, `mid-${i}`];
  return `"${JSON.stringify({ ansible_machine_id: machine, ansible_product_serial: serial }).replaceAll('"', '""')}"`;
}

export async function writeMainHostTarball(ship: string, day: Date, hosts: number): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'tally-bench-mainhost-'));
  try {
    const csv = join(work, 'main_host.csv');
    const out = createWriteStream(csv, { highWaterMark: 1 << 20 });
    let buf = `${HEADER}\n`;
    for (let i = 0; i < hosts; i++) {
      const ansibleHost = i % 7 === 0 ? `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` : '';
      buf += `host-${i}.example.com,${i + 1},1,Inventory 1,1,Organization 1,2024-03-01 00:00:00+00,${ansibleHost},${canonicalFacts(i)},"{""os"": ""RHEL""}"\n`;
      if (buf.length > 1 << 20) {
        if (!out.write(buf)) await once(out, 'drain');
        buf = '';
      }
    }
    out.end(buf);
    await once(out, 'finish');
    const until = addDays(day, 1);
    const name = tarballStorageName(tarballName(UUID, day, until, 1), day);
    await writeTarball(
      join(ship, name),
      {
        members: [{ key: 'main_host', format: 'csv', version: '1.0', source: { file: csv } }],
        config: { version: '1.0', source: { json: { install_uuid: UUID, platform: { system: 'Linux' }, billing_provider_params: {} } } },
        status: [{ fileName: 'main_host.csv', status: 'ok', since: day, until, startedAt: day, finishedAt: day }],
      },
      { mtime: until },
    );
    return name;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { ship: { type: 'string' }, hosts: { type: 'string' }, day: { type: 'string' } } });
  const name = await writeMainHostTarball(values.ship!, new Date(`${values.day ?? '2024-03-01'}T00:00:00Z`), Number(values.hosts ?? 20_000));
  process.stdout.write(`${name}\n`);
}
