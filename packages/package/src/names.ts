import { tarballStamp } from '@tally/core';

/** `{install_uuid}-{since}-{until}-{index}.tar.gz`, stamps as `%Y-%m-%d-%H%M%S%z`. */
export function tarballName(installUuid: string, since: Date, until: Date, index: number): string {
  if (!installUuid) throw new TypeError('tarballName: installUuid is empty');
  if (!Number.isInteger(index) || index < 0) throw new TypeError(`tarballName: index ${index} is not a whole number`);
  return `${installUuid}-${tarballStamp(since)}-${tarballStamp(until)}-${index}.tar.gz`;
}

/** Storage key `data/YYYY/MM/DD/{name}`, the date being the UTC day of `since`. */
export function tarballStorageName(name: string, since: Date): string {
  const d = since.toISOString();
  return `data/${d.slice(0, 4)}/${d.slice(5, 7)}/${d.slice(8, 10)}/${name}`;
}
