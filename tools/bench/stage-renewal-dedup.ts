/**
 * Bench stage: the Renewal Guidance deduplicator (metrics-utility's rule) on generated host metrics.
 *   --shape realistic   --rows N: inventory-like sharing (duplicate inventory rows, shared ansible_host,
 *                       'NA' serials, cloned machine ids)
 *   --shape dense       --rows N: the worst case for a rule where rows join several groups — chains of 8
 *                       hosts whose far end reaches, within the 3 iterations, one host of a hub that
 *                       shares a serial with N/8 others, so every chain's group takes the whole hub
 *   --floor             only generate the rows and hash each identifier once (what any index needs)
 */
import { parseArgs } from 'node:util';
import { type HostMetricRecord, renewalNodes } from '@tally/reports';

const { values } = parseArgs({ options: { shape: { type: 'string' }, rows: { type: 'string' }, floor: { type: 'boolean', default: false } } });
const n = Number(values.rows);
const day = (d: number) => new Date(Date.UTC(2024, 0, 1) + (d % 365) * 86_400_000);

function record(i: number, hostname: string, ids: Partial<HostMetricRecord>): HostMetricRecord {
  return {
    hostname,
    hostId: i + 1,
    firstAutomation: day(i % 97),
    lastAutomation: day((i % 97) + (i % 13)),
    automatedCounter: 1 + (i % 17),
    deletedCounter: i % 11 === 0 ? 1 : 0,
    lastDeleted: i % 11 === 0 ? day(i % 200) : null,
    deleted: i % 23 === 0,
    ansibleProductSerial: null,
    ansibleMachineId: null,
    ansibleHostVariable: null,
    ...ids,
  };
}

/** 5 % of hosts in a second inventory, a tenth of ansible_host values shared, 40 % of serials 'NA' or blank, 10 % cloned machine ids. */
function realistic(rows: number): HostMetricRecord[] {
  const out: HostMetricRecord[] = [];
  for (let i = 0; out.length < rows; i++) {
    const hostname = `host-${String(i).padStart(7, '0')}.example.com`;
    const copies = i % 20 === 0 ? 2 : 1;
    for (let c = 0; c < copies && out.length < rows; c++) {
      const k = out.length;
      out.push(
        record(k, hostname, {
          ansibleHostVariable: k % 10 < 7 ? `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${(k * 9) % 256}` : null,
          ansibleProductSerial: k % 5 < 2 ? (k % 2 ? 'NA' : '') : `VMware-${(k * 7919) % Math.floor(rows * 0.95)}`,
          ansibleMachineId: k % 10 === 0 ? `template-${k % 50}` : `mid-${k}`,
        }),
      );
    }
  }
  return out;
}

/** Chains y7 -ah- y6 -serial- y5 -machine id- y4 -ah- y3 -serial- y2 -machine id- y1 -ah- hub host; all hub hosts share one serial. */
function dense(rows: number): HostMetricRecord[] {
  const chains = Math.max(1, Math.floor(rows / 8));
  const out: HostMetricRecord[] = [];
  const link = ['ansibleHostVariable', 'ansibleProductSerial', 'ansibleMachineId'] as const;
  for (let s = 0; s < chains; s++) {
    // far ends sort first, so each starts a group before the rest of its chain is taken
    out.push(record(out.length, `a-${s}`, { ansibleHostVariable: `l${s}-6` }));
    for (let h = 6; h >= 1; h--) {
      const inward = link[(6 - h + 1) % 3]!;
      const outward = link[(6 - h) % 3]!;
      out.push(record(out.length, `y${h}-${s}`, { [outward]: `l${s}-${h}`, [inward]: `l${s}-${h - 1}` }));
    }
    out.push(record(out.length, `z-hub-${s}`, { ansibleHostVariable: `l${s}-0`, ansibleProductSerial: 'hub' }));
  }
  return out.sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
}

const records = values.shape === 'dense' ? dense(n) : realistic(n);
if (values.floor) {
  let distinct = 0;
  for (const key of ['hostname', 'ansibleHostVariable', 'ansibleProductSerial', 'ansibleMachineId'] as const) {
    const seen = new Map<string, number>();
    for (const r of records) {
      const v = r[key];
      if (v !== null) seen.set(v, (seen.get(v) ?? 0) + 1);
    }
    distinct += seen.size;
  }
  process.stdout.write(`${JSON.stringify({ rows: records.length, distinct })}\n`);
} else {
  const nodes = renewalNodes(records, { iterations: 3 });
  const memberships = nodes.reduce((s, node) => s + node.hostnames.split(', ').length, 0);
  process.stdout.write(`${JSON.stringify({ rows: records.length, nodes: nodes.length, memberships })}\n`);
}
