import { readFileSync } from 'node:fs';
import { release, type } from 'node:os';
import { CollectorError } from '@tally/core';
import type { CollectorParams } from '../collector.js';
import { defineCollector } from '../define.js';
import { dbOnly } from '../params.js';

const SETTING_KEYS = [
  'AUTHENTICATION_BACKENDS',
  'INSTALL_UUID',
  'LICENSE',
  'LOG_AGGREGATOR_ENABLED',
  'LOG_AGGREGATOR_LOGGERS',
  'LOG_AGGREGATOR_TYPE',
  'PENDO_TRACKING_STATE',
  'SUBSCRIPTION_USAGE_MODEL',
  'SYSTEM_UUID',
  'TOWER_URL_BASE',
];

/** `[license key, output key, default]`, in output order. */
const LICENSE_FIELDS: [string, string, unknown][] = [
  ['account_number', 'account_number', null],
  ['automated_instances', 'automated_instances', null],
  ['automated_since', 'automated_since', null],
  ['compliant', 'compliant', null],
  ['current_instances', 'current_instances', null],
  ['date_expired', 'date_expired', null],
  ['date_warning', 'date_warning', null],
  ['free_instances', 'free_instances', 0],
  ['grace_period_remaining', 'grace_period_remaining', null],
  ['license_date', 'license_date', null],
  ['time_remaining', 'license_expiry', 0],
  ['license_type', 'license_type', 'UNLICENSED'],
  ['pool_id', 'pool_id', null],
  ['product_name', 'product_name', null],
  ['satellite', 'satellite', null],
  ['sku', 'sku', null],
  ['subscription_id', 'subscription_id', null],
  ['subscription_name', 'subscription_name', null],
  ['support_level', 'support_level', null],
  ['instance_count', 'total_licensed_instances', 0],
  ['trial', 'trial', null],
  ['usage', 'usage', null],
  ['valid_key', 'valid_key', null],
];

export type PlatformType = 'openshift' | 'k8s' | 'traditional';

export interface ConfigParams extends CollectorParams {
  /** Recorded as-is under `billing_provider_params`. */
  billingProviderParams?: Record<string, unknown>;
  /**
   * Where Tally runs. Collectors never read the environment: the caller derives it
   * (`openshift` when env `container` is `oci`, `k8s` when `KUBERNETES_SERVICE_PORT` is set).
   */
  platformType?: PlatformType;
  /** Used when no enabled main_instance reports a version (the reference fell back to the awx package). */
  fallbackControllerVersion?: string;
}

interface Validated {
  db: ReturnType<typeof dbOnly>['db'];
  billingProviderParams: Record<string, unknown>;
  platformType: PlatformType;
  fallbackControllerVersion: string | null;
}

const toolVersion: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

/** `distro.linux_distribution()`: `[NAME, VERSION_ID, VERSION_CODENAME]` from os-release. */
function linuxDistribution(): [string, string, string] {
  for (const path of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      const vars = new Map<string, string>();
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
        if (m) vars.set(m[1]!, m[2]!.replace(/^["']|["']$/g, ''));
      }
      return [vars.get('NAME') ?? '', vars.get('VERSION_ID') ?? '', vars.get('VERSION_CODENAME') ?? ''];
    } catch {
      // try the next location
    }
  }
  return ['', '', ''];
}

/**
 * A conf_setting value, read as text whether the column is text (AWX's JSONBlob) or jsonb.
 * Tolerant like the later reference: a value that is not JSON is kept as the string it is.
 */
function decodeSetting(value: string | null): unknown {
  if (value === null || value === '') return null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** Section 1.5 `config`: controller settings, license and platform (`config.json` of every tarball). */
export const config = defineCollector<ConfigParams, Validated>(
  { key: 'config', version: '1.0', format: 'json', description: 'Controller settings, license and platform', config: true },
  {
    validate(p) {
      const { db } = dbOnly('config', p);
      const bpp = p.billingProviderParams ?? {};
      if (typeof bpp !== 'object' || bpp === null || Array.isArray(bpp)) {
        throw new CollectorError('config', 'param "billingProviderParams" must be an object');
      }
      const platformType = p.platformType ?? 'traditional';
      if (!['openshift', 'k8s', 'traditional'].includes(platformType)) {
        throw new CollectorError('config', `param "platformType" must be openshift, k8s or traditional (got ${String(platformType)})`);
      }
      return { db, billingProviderParams: bpp, platformType, fallbackControllerVersion: p.fallbackControllerVersion ?? null };
    },
    async run(v) {
      const { rows } = await v.db.query<{ key: string; value: string | null }>(
        'SELECT key, value::text AS value FROM conf_setting WHERE key = ANY($1::text[]) AND user_id IS NULL ORDER BY id',
        [SETTING_KEYS],
      );
      const s = new Map<string, unknown>();
      for (const r of rows) s.set(r.key, decodeSetting(r.value));
      const get = (k: string) => s.get(k) ?? null;
      const lic = get('LICENSE');
      const license = lic && typeof lic === 'object' && !Array.isArray(lic) ? (lic as Record<string, unknown>) : {};
      const version = await v.db.query<{ version: string }>(
        `SELECT version FROM main_instance WHERE enabled AND version IS NOT NULL AND version <> '' ORDER BY last_seen DESC NULLS LAST LIMIT 1`,
      );
      const data: Record<string, unknown> = {
        authentication_backends: get('AUTHENTICATION_BACKENDS'),
        controller_url_base: get('TOWER_URL_BASE'),
        external_logger_enabled: get('LOG_AGGREGATOR_ENABLED'),
        external_logger_type: get('LOG_AGGREGATOR_TYPE'),
        install_uuid: get('INSTALL_UUID'),
        instance_uuid: get('SYSTEM_UUID'),
        logging_aggregators: get('LOG_AGGREGATOR_LOGGERS'),
        pendo_tracking: get('PENDO_TRACKING_STATE'),
        subscription_usage_model: get('SUBSCRIPTION_USAGE_MODEL'),
      };
      for (const [from, to, dflt] of LICENSE_FIELDS) data[to] = license[from] ?? dflt;
      data.billing_provider_params = v.billingProviderParams;
      data.controller_version = version.rows[0]?.version ?? v.fallbackControllerVersion;
      data.metrics_utility_version = toolVersion;
      data.platform = { dist: linuxDistribution(), release: release(), system: type(), type: v.platformType };
      return { format: 'json', data };
    },
  },
);
