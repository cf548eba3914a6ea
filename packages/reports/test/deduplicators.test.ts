import { ConfigError } from '@tally/core';
import { deduplicatorFor, type HostMetricRecord, type RenewalDeduplicator, type RenewalNode, renewalNodes } from '@tally/reports';
import { inReferenceOrder } from '../src/renewal-dedup.js';
import { describe, expect, it } from 'vitest';

const day = (d: number) => new Date(Date.UTC(2024, 4, d));
let nextId = 1;
const host = (hostname: string, last: number, ids: Partial<HostMetricRecord> = {}): HostMetricRecord => ({
  hostname,
  hostId: nextId++,
  firstAutomation: day(1),
  lastAutomation: day(last),
  automatedCounter: last,
  deletedCounter: ids.deleted ? 1 : 0,
  lastDeleted: ids.deleted ? day(last + 1) : null,
  deleted: false,
  ansibleProductSerial: null,
  ansibleMachineId: null,
  ansibleHostVariable: null,
  ...ids,
});

/**
 * Crafted host metrics: a shared serial only (db1, db2), a shared machine id only (app1, app2), both
 * (web0, web1), a host renamed keeping its ansible_host (web1 → web1-renamed), a deleted host (web0),
 * another deleted alone (gone), and 'NA' and blanks that must not match (app*, db*, lone).
 */
const RECORDS = inReferenceOrder([
  host('web1', 5, { ansibleHostVariable: '10.0.0.1', ansibleProductSerial: 'S1', ansibleMachineId: 'M1' }),
  host('web1-renamed', 9, { ansibleHostVariable: '10.0.0.1', ansibleProductSerial: 'S1', ansibleMachineId: 'M1' }),
  host('web0', 3, { ansibleProductSerial: 'S1', ansibleMachineId: 'M1', deleted: true }),
  host('db1', 6, { ansibleProductSerial: 'S2', ansibleMachineId: 'NA' }),
  host('db2', 7, { ansibleProductSerial: 'S2', ansibleMachineId: '' }),
  host('app1', 8, { ansibleProductSerial: 'NA', ansibleMachineId: 'M5' }),
  host('app2', 4, { ansibleProductSerial: '', ansibleMachineId: 'M5' }),
  host('lone', 2, { ansibleHostVariable: '', ansibleProductSerial: 'NA', ansibleMachineId: 'NA' }),
  host('gone', 2, { deleted: true }),
]);

const nodes = (deduplicator: RenewalDeduplicator) => renewalNodes(RECORDS, { deduplicator, iterations: 3 });
const brief = (ns: RenewalNode[]) => ns.map((n) => [n.hostname, n.hostnames]);

describe('METRICS_UTILITY_DEDUPLICATOR', () => {
  it('defaults per report type and refuses what does not fit with the reference messages (exit 2)', () => {
    expect(deduplicatorFor('CCSP', undefined)).toBe('ccsp');
    expect(deduplicatorFor('CCSPv2', '')).toBe('ccsp');
    expect(deduplicatorFor('RENEWAL_GUIDANCE', undefined)).toBe('renewal');
    for (const mode of ['renewal', 'renewal-hostname', 'renewal-experimental', 'renewal-closure']) expect(deduplicatorFor('RENEWAL_GUIDANCE', mode)).toBe(mode);
    expect(deduplicatorFor('CCSPv2', 'ccsp-experimental')).toBe('ccsp-experimental');
    const refused = (type: string, value: string) => {
      const err = (() => {
        try {
          deduplicatorFor(type, value);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).exitCode).toBe(2);
      expect((err as ConfigError).field).toBe('METRICS_UTILITY_DEDUPLICATOR');
      return (err as Error).message;
    };
    expect(refused('CCSP', 'fuzzy')).toBe('Factory for fuzzy not supported');
    expect(refused('RENEWAL_GUIDANCE', 'ccsp-experimental')).toBe('Unknown report type: RENEWAL_GUIDANCE');
    expect(refused('CCSPv2', 'renewal-hostname')).toBe('renewal-hostname only supports RENEWAL_GUIDANCE, got: CCSPv2');
    expect(refused('CCSP', 'renewal-experimental')).toBe('renewal-experimental only supports RENEWAL_GUIDANCE, got: CCSP');
    expect(refused('CCSP', 'renewal')).toBe('renewal only supports RENEWAL_GUIDANCE, got: CCSP');
    expect(refused('RENEWAL_GUIDANCE', 'ccsp')).toBe('ccsp only supports CCSP, CCSPv2, got: RENEWAL_GUIDANCE');
  });
});

describe('renewal deduplicators on crafted host metrics', () => {
  it('renewal: any shared identifier, "NA" and blanks never', () => {
    const ns = nodes('renewal');
    expect(brief(ns)).toEqual([
      ['app1', 'app1, app2'],
      ['db2', 'db1, db2'],
      ['gone', 'gone'],
      ['lone', 'lone'],
      ['web1-renamed', 'web0, web1, web1-renamed'],
    ]);
    expect(ns[4]).toEqual({
      hostname: 'web1-renamed', // the latest-automated host that is not deleted
      firstAutomation: day(1),
      lastAutomation: day(9),
      automatedCounter: 17,
      daysAutomated: 8,
      deletedCounter: 1,
      lastDeleted: day(4),
      recordCount: 3,
      activeRecordCount: 2,
      deletedRecordCount: 1,
      hostnames: 'web0, web1, web1-renamed',
      ansibleHosts: '10.0.0.1',
      serials: 'S1',
      machineIds: 'M1',
      deleted: false,
      micros: { firstAutomation: 0, lastAutomation: 0, lastDeleted: 0 },
    });
    expect(ns[0]).toMatchObject({ serials: '', machineIds: 'M5', ansibleHosts: '' });
    expect(ns[1]).toMatchObject({ serials: 'S2', machineIds: '' });
    expect(ns[2]).toMatchObject({ deleted: true, recordCount: 1, activeRecordCount: 0, deletedRecordCount: 1 });
    expect(nodes('renewal-closure')).toEqual(ns); // no chain longer than the budget here
  });

  it('renewal-hostname: ansible_host, else the host name; nothing else merges', () => {
    const ns = nodes('renewal-hostname');
    expect(brief(ns)).toEqual([
      ['app1', 'app1'],
      ['app2', 'app2'],
      ['db1', 'db1'],
      ['db2', 'db2'],
      ['gone', 'gone'],
      ['lone', 'lone'],
      ['web0', 'web0'],
      ['web1-renamed', 'web1, web1-renamed'],
    ]);
    expect(ns[7]).toMatchObject({ recordCount: 2, automatedCounter: 14, serials: 'S1', machineIds: 'M1', ansibleHosts: '10.0.0.1' });
    expect(ns[1]).toMatchObject({ serials: '', machineIds: 'M5' });
  });

  it('renewal-experimental: host-name groups merge by a shared serial or machine id; merged fields summed and concatenated', () => {
    const ns = nodes('renewal-experimental');
    expect(brief(ns)).toEqual([
      ['app1', 'app1, app2'],
      ['db2', 'db1, db2'],
      ['gone', 'gone'],
      ['lone', 'lone'],
      ['web1-renamed', 'web0, web1, web1-renamed'],
    ]);
    expect(ns[4]).toEqual({
      hostname: 'web1-renamed', // the group automated last
      firstAutomation: day(1),
      lastAutomation: day(9),
      automatedCounter: 17,
      daysAutomated: 8,
      deletedCounter: 1,
      lastDeleted: day(4),
      recordCount: 3, // summed over the merged groups
      activeRecordCount: 2,
      deletedRecordCount: 1,
      hostnames: 'web0, web1, web1-renamed', // concatenated group by group
      ansibleHosts: '10.0.0.1',
      serials: 'S1', // sorted and de-duplicated
      machineIds: 'M1',
      deleted: false,
      micros: { firstAutomation: 0, lastAutomation: 0, lastDeleted: 0 },
    });
  });

  it('renewal-experimental follows the reference where it is not transitive, and matches a serial to a machine id', () => {
    const rs = inReferenceOrder([
      host('a', 1, { ansibleProductSerial: 'X' }),
      host('b', 2, { ansibleProductSerial: 'X', ansibleMachineId: 'Y' }),
      host('c', 3, { ansibleMachineId: 'Y' }),
      host('d', 4, { ansibleProductSerial: 'Q' }),
      host('e', 5, { ansibleMachineId: 'Q, NA' }),
      host('f', 6, { ansibleHostVariable: 'shared', ansibleProductSerial: 'Z' }),
      host('g', 7, { ansibleHostVariable: 'shared', ansibleProductSerial: 'Z' }),
    ]);
    const ns = renewalNodes(rs, { deduplicator: 'renewal-experimental' });
    // ps:X merges a+b (canonical a); mid:Y merges b+c (canonical b): b counts twice and c is not
    // listed on its own; d's serial Q equals e's machine id Q (the second pass); f and g were one
    // host-name group already, so their shared serial merges nothing more
    expect(brief(ns)).toEqual([
      ['b', 'a, b'],
      ['c', 'b, c'],
      ['e', 'd, e'],
      ['g', 'f, g'],
    ]);
    // the merge splits and sorts the groups' lists and, as the reference, keeps an 'NA' that was part of a list
    expect(ns[2]).toMatchObject({ serials: 'Q', machineIds: 'NA, Q', recordCount: 2, automatedCounter: 9 });
    // and the reference rule, for comparison, makes one node of a, b and c
    expect(brief(renewalNodes(rs, { deduplicator: 'renewal' }))).toEqual([
      ['c', 'a, b, c'],
      ['d', 'd'],
      ['e', 'e'],
      ['g', 'f, g'],
    ]);
  });
});
