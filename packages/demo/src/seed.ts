import { createHash } from 'node:crypto';
import type { Queryable } from '@tally/core';
import { controllerSchemaStatements } from './schema.js';

export interface SeedOptions {
  /** Days of history, ending at `end`. */
  days: number;
  jobsPerDay: number;
  hosts: number;
  orgs: number;
  /** Same seed (and `end`) → same rows. */
  seed: number;
  /** End of the synthetic history (exclusive; default: the current UTC hour). */
  end?: Date;
  /** Average hosts a job touches (default 30): job_host_summary rows ≈ days·jobsPerDay·hostsPerJob. */
  hostsPerJob?: number;
  /** Task events per job host summary (default 1; 0 for none). */
  eventsPerSummary?: number;
  /** Called after each bulk statement with its start and duration in seconds (progress, benchmarks). */
  onStep?: (statement: string, seconds: number) => void;
}

export interface SeedSummary {
  since: Date;
  until: Date;
  installUuid: string;
  organizations: number;
  inventories: number;
  hosts: number;
  jobs: number;
  unifiedJobs: number;
  jobHostSummaries: number;
  jobEvents: number;
  hostMetrics: number;
  indirectAudits: number;
}

/** Modules a synthetic task runs: [task_action, resolved_action, resolved_role, task name]. */
const MODULES: [string, string, string | null, string][] = [
  ['command', 'ansible.builtin.command', null, 'Run a command'],
  ['ansible.builtin.copy', 'ansible.builtin.copy', null, 'Copy configuration'],
  ['yum', 'ansible.builtin.yum', null, 'Install packages'],
  ['ansible.builtin.template', 'ansible.builtin.template', 'webserver', 'Render nginx.conf'],
  ['ansible.builtin.service', 'ansible.builtin.service', 'webserver', 'Restart nginx'],
  ['community.general.timezone', 'community.general.timezone', null, 'Set timezone'],
  ['ansible.posix.firewalld', 'ansible.posix.firewalld', 'hardening', 'Open port 443'],
  ['ansible.windows.win_ping', 'ansible.windows.win_ping', null, 'Ping Windows'],
  ['cisco.ios.ios_config', 'cisco.ios.ios_config', null, 'Configure interfaces'],
  ['amazon.aws.ec2_instance_info', 'amazon.aws.ec2_instance_info', null, 'Gather EC2 info'],
  ['timesync', 'ansible.builtin.include_role', 'redhat.rhel_system_roles.timesync', 'Configure chrony'],
  ['debug', 'ansible.builtin.debug', null, 'Show result'],
];

/** Secondary indexes of the bulk-loaded tables (names as in schema.sql). */
const BULK_INDEXES = ['main_jobhostsummary_modified_idx', 'main_jobhostsummary_job_idx', 'main_jobevent_job_idx'];

const TEMPLATE_NAMES = ['Patch servers', 'Deploy web app', 'Configure firewall', 'Rotate certificates', 'Backup databases'];
const PLAYBOOKS = ['patch.yml', 'deploy.yml', 'firewall.yml', 'certs.yml', 'backup.yml'];

function positiveInt(name: string, v: number, min = 1): number {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`seedController: ${name} must be a whole number ≥ ${min} (got ${v})`);
  return v;
}

/** A UUID derived from the seed, so a seeded site always has the same INSTALL_UUID. */
export function seededUuid(seed: number, what: string): string {
  const h = createHash('sha256').update(`tally-seed:${what}:${seed}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Named parameters: `{name}` in the text becomes `$n`. Only the names a statement
 * uses are sent (PostgreSQL rejects parameters it cannot type).
 */
function named(text: string, vars: Record<string, unknown>): [string, unknown[]] {
  const order: string[] = [];
  const sql = text.replace(/\{([a-z][a-zA-Z0-9]*)\}/g, (_m, name: string) => {
    if (!(name in vars)) throw new Error(`seed SQL uses an unknown parameter {${name}}`);
    let i = order.indexOf(name);
    if (i < 0) i = order.push(name) - 1;
    return `$${i + 1}`;
  });
  return [sql, order.map((n) => vars[n])];
}

/** Deterministic pseudo-random non-negative int4 from a key and a salt (per seed). */
const rnd = (key: string, salt: number) => `(hashint8(((${key})::bigint * 1000003 + {seed}::bigint * 7919 + ${salt})) & 2147483647)`;
/** A UUID-shaped id from a kind digit and a number: far cheaper than md5 for millions of rows. */
const uuidOf = (kind: string, n: string) => `('${kind}0000000-0000-4000-8000-' || lpad(to_hex(${n}), 12, '0'))`;
/** Uniform in [0, 1). */
const rnd01 = (key: string, salt: number) => `(${rnd(key, salt)}::float8 / 2147483648.0)`;

/**
 * Fill the synthetic controller schema (schema.sql, empty tables) with
 * a realistic site: organizations, inventories, hosts with JSON and YAML variables and
 * facts, jobs and other unified jobs, job host summaries, task events, indirect node
 * audits, host metrics and settings. Every row is generated in SQL with hash-based
 * pseudo-randomness (INSERT … SELECT … generate_series), one statement per call, so it
 * is fast on PostgreSQL and also runs on PGlite.
 */
export async function seedController(db: Queryable, opts: SeedOptions): Promise<SeedSummary> {
  const days = positiveInt('days', opts.days);
  const jobsPerDay = positiveInt('jobsPerDay', opts.jobsPerDay);
  const hosts = positiveInt('hosts', opts.hosts);
  const orgs = positiveInt('orgs', opts.orgs);
  const seed = positiveInt('seed', opts.seed, 0);
  const hostsPerJob = positiveInt('hostsPerJob', opts.hostsPerJob ?? 30);
  const eventsPerSummary = positiveInt('eventsPerSummary', opts.eventsPerSummary ?? 1, 0);
  const end = opts.end ?? new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
  if (Number.isNaN(end.getTime())) throw new RangeError('seedController: end is not a valid date');
  const span = days * 86_400;
  const endEpoch = Math.floor(end.getTime() / 1000);
  const startEpoch = endEpoch - span;
  const jobs = days * jobsPerDay;
  const inventories = Math.min(2 * orgs, hosts);
  const projects = 2 * orgs;
  const templates = 5 * orgs;
  const projectUpdates = Math.ceil(jobs / 20);
  const installUuid = seededUuid(seed, 'install');
  const vars = {
    seed,
    startEpoch,
    endEpoch,
    // Jobs start early enough to finish (≤ ~11 minutes) before `end`.
    jobSpan: Math.max(span - 1200, 60),
    jobs,
    hosts,
    orgs,
    inventories,
    projects,
    templates,
    projectUpdates,
    hostsPerJob,
    eventsPerSummary,
  };
  const run = async (text: string) => {
    const [sql, params] = named(text, vars);
    const t0 = performance.now();
    await db.query(sql, params);
    opts.onStep?.(sql.slice(0, 60).replace(/\s+/g, ' ').trim(), (performance.now() - t0) / 1000);
  };
  const ts = (epochExpr: string) => `to_timestamp(${epochExpr})`;
  /** A job template's playbook (main_job.playbook), computable without a join. */
  const playbookOf = (templateId: string) =>
    `(ARRAY[${PLAYBOOKS.map((p) => `'${p}'`).join(', ')}])[(${templateId} - {projects}::int - 1) % ${PLAYBOOKS.length} + 1]`;
  // JSON timestamps inside event_data follow the session time zone: make them UTC.
  await db.query(`SELECT set_config('TimeZone', 'UTC', false), set_config('work_mem', '256MB', false)`);
  const analyze = (t: string) => db.query(`ANALYZE ${t}`);

  await run(`INSERT INTO django_content_type (id, app_label, model) VALUES
    (1, 'main', 'job'), (2, 'main', 'projectupdate'), (3, 'main', 'inventoryupdate'), (4, 'main', 'jobtemplate'),
    (5, 'main', 'project'), (6, 'main', 'inventorysource'), (7, 'main', 'workflowjob'), (8, 'main', 'systemjob')`);

  const license = {
    license_type: 'enterprise',
    subscription_name: 'Red Hat Ansible Automation Platform, Premium (100 Managed Nodes)',
    sku: 'MCT3695',
    support_level: 'Premium',
    usage: 'Production',
    product_name: 'Red Hat Ansible Automation Platform',
    valid_key: true,
    satellite: false,
    pool_id: seededUuid(seed, 'pool').replace(/-/g, ''),
    subscription_id: String(1_000_000 + seed),
    account_number: String(5_000_000 + seed),
    instance_count: Math.max(100, Math.ceil(hosts / 100) * 100),
    current_instances: hosts,
    automated_instances: hosts,
    automated_since: startEpoch,
    trial: false,
    grace_period_remaining: 0,
    compliant: true,
    date_warning: false,
    date_expired: false,
    free_instances: 0,
    license_date: endEpoch + 300 * 86_400,
    time_remaining: 300 * 86_400,
  };
  const settings: [string, unknown][] = [
    ['INSTALL_UUID', installUuid],
    ['SYSTEM_UUID', seededUuid(seed, 'system')],
    ['TOWER_URL_BASE', 'https://controller.example.com'],
    ['AUTHENTICATION_BACKENDS', ['awx.sso.backends.LDAPBackend', 'awx.main.backends.AWXModelBackend']],
    ['LICENSE', license],
    ['LOG_AGGREGATOR_ENABLED', false],
    ['LOG_AGGREGATOR_LOGGERS', ['awx', 'activity_stream', 'job_events', 'system_tracking', 'broadcast_websocket']],
    ['LOG_AGGREGATOR_TYPE', null],
    ['PENDO_TRACKING_STATE', 'off'],
    ['SUBSCRIPTION_USAGE_MODEL', ''],
  ];
  await db.query(
    `INSERT INTO conf_setting (created, modified, key, value)
     SELECT to_timestamp($1::bigint), to_timestamp($1::bigint), k, v FROM unnest($2::text[], $3::text[]) AS s(k, v)`,
    [startEpoch - 86_400 * 365, settings.map((s) => s[0]), settings.map((s) => JSON.stringify(s[1]))],
  );
  await run(`INSERT INTO main_instance (uuid, hostname, created, modified, capacity, version, last_seen, enabled, node_type)
    SELECT md5('instance' || g || {seed}::text)::uuid::text, 'controller-' || g || '.example.com',
      ${ts('{startEpoch}::bigint - 86400 * 400')}, ${ts('{endEpoch}::bigint - 60')}, 100,
      CASE WHEN g = 1 THEN '4.6.2' ELSE '4.5.8' END, ${ts('{endEpoch}::bigint - 60 * g')}, g <> 3,
      CASE WHEN g = 2 THEN 'execution' ELSE 'hybrid' END
    FROM generate_series(1, 3) g`);

  await run(`INSERT INTO main_organization (id, created, modified, name, description)
    SELECT g, ${ts('{startEpoch}::bigint - 86400 * 365')}, ${ts('{startEpoch}::bigint - 86400 * 365')},
      CASE WHEN g = 1 THEN 'Default' ELSE 'Organization ' || lpad(g::text, 3, '0') END, 'Synthetic organization'
    FROM generate_series(1, {orgs}::int) g`);
  await run(`INSERT INTO main_executionenvironment (id, created, modified, description, image, managed, organization_id, name, pull)
    VALUES
    (1, ${ts('{startEpoch}::bigint - 86400 * 300')}, ${ts('{startEpoch}::bigint - 86400 * 300')}, '', 'registry.redhat.io/ansible-automation-platform-25/ee-supported-rhel8:latest', true, NULL, 'Default execution environment', 'missing'),
    (2, ${ts('{startEpoch}::bigint - 86400 * 300')}, ${ts('{startEpoch}::bigint - 86400 * 300')}, '', 'registry.redhat.io/ansible-automation-platform-25/ee-minimal-rhel8:latest', true, NULL, 'Minimal execution environment', 'missing'),
    (3, ${ts('{startEpoch}::bigint - 86400 * 100')}, ${ts('{startEpoch}::bigint - 86400 * 10')}, 'Network automation', 'quay.example.com/netops/ee-network:2.3', false, 1, 'Network EE', 'always')`);
  await run(`INSERT INTO main_inventory (id, created, modified, name, organization_id, kind, total_hosts)
    SELECT g, ${ts('{startEpoch}::bigint - 86400 * 200')}, ${ts('{startEpoch}::bigint - 86400 * 200')},
      'Inventory ' || g, (g - 1) % {orgs}::int + 1, '', 0
    FROM generate_series(1, {inventories}::int) g`);
  await run(`INSERT INTO main_unifiedjobtemplate (id, created, modified, name, polymorphic_ctype_id, organization_id, status)
    SELECT g, ${ts('{startEpoch}::bigint - 86400 * 200')}, ${ts('{startEpoch}::bigint - 86400 * 200')},
      'Project ' || g, 5, (g - 1) % {orgs}::int + 1, 'successful'
    FROM generate_series(1, {projects}::int) g`);
  await run(`INSERT INTO main_project (unifiedjobtemplate_ptr_id, scm_type, scm_url, scm_branch)
    SELECT g, 'git', 'https://git.example.com/project-' || g || '.git', 'main' FROM generate_series(1, {projects}::int) g`);
  await run(`INSERT INTO main_unifiedjobtemplate (id, created, modified, name, polymorphic_ctype_id, organization_id, status)
    SELECT {projects}::int + t, ${ts('{startEpoch}::bigint - 86400 * 150')}, ${ts('{startEpoch}::bigint - 86400 * 150')},
      (ARRAY[${TEMPLATE_NAMES.map((n) => `'${n}'`).join(', ')}])[(t - 1) % ${TEMPLATE_NAMES.length} + 1] || ' ' || t,
      4, (t - 1) % {orgs}::int + 1, 'successful'
    FROM generate_series(1, {templates}::int) t`);

  // Hosts: host g lives in inventory (g - 1) % inventories + 1. Variables are JSON,
  // YAML `key: value`, YAML `key=value`, or empty; ~5% share an ansible_host with a neighbour.
  const ip = (n: string) => `'10.' || ((${n}) >> 16 & 255) || '.' || ((${n}) >> 8 & 255) || '.' || ((${n}) & 255)`;
  await run(`INSERT INTO main_host (id, created, modified, name, enabled, variables, inventory_id, ansible_facts, ansible_facts_modified)
    SELECT g, c.created, CASE WHEN r.v % 5 = 0 THEN greatest(c.created, ${ts(`{startEpoch}::bigint + ${rnd('g', 11)} % {jobSpan}::int`)}) ELSE c.created END,
      CASE WHEN r.v % 7 = 0 THEN ${ip('g')} ELSE 'host-' || lpad(g::text, 6, '0') || '.example.com' END,
      ${rnd('g', 12)} % 20 <> 0,
      CASE
        WHEN r.v % 10 < 4 THEN json_build_object('ansible_host', a.ip, 'ansible_connection', 'ssh', 'ansible_port', 22, 'ansible_user', 'admin')::text
        WHEN r.v % 10 < 7 THEN 'ansible_host: ' || a.ip || chr(10) || 'ansible_connection: ssh' || chr(10) || 'ansible_port: "2222"' || chr(10)
        WHEN r.v % 10 = 7 THEN 'ansible_host=' || a.ip || chr(10) || 'ansible_connection=local'
        WHEN r.v % 10 = 8 THEN '{}'
        ELSE ''
      END,
      (g - 1) % {inventories}::int + 1,
      CASE WHEN r.f % 10 < 7 THEN jsonb_build_object(
        'ansible_product_serial', 'SN-' || upper(substr(md5('serial' || g || {seed}::text), 1, 10)),
        'ansible_machine_id', md5('machine' || g || {seed}::text),
        'ansible_virtualization_type', (ARRAY['VMware', 'kvm', 'NA', 'openstack'])[r.f % 4 + 1],
        'ansible_virtualization_role', (ARRAY['guest', 'guest', 'NA', 'guest'])[r.f % 4 + 1],
        'ansible_system_vendor', (ARRAY['VMware, Inc.', 'Red Hat', 'Dell Inc.', 'HPE'])[r.f % 4 + 1],
        'ansible_product_name', (ARRAY['VMware Virtual Platform', 'KVM', 'PowerEdge R750', 'ProLiant DL380 Gen10'])[r.f % 4 + 1],
        'ansible_architecture', CASE WHEN r.f % 9 = 0 THEN 'aarch64' ELSE 'x86_64' END,
        'ansible_processor', jsonb_build_array('0', 'GenuineIntel', 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz'),
        'ansible_form_factor', (ARRAY['Other', 'Rack Mount Chassis', 'Other', 'Rack Mount Chassis'])[r.f % 4 + 1],
        'ansible_bios_vendor', (ARRAY['Phoenix Technologies LTD', 'SeaBIOS', 'Dell Inc.', 'HPE'])[r.f % 4 + 1],
        'ansible_bios_version', '6.00',
        'ansible_board_serial', 'BRD' || (r.f % 100000)::text,
        'ansible_distribution', (ARRAY['RedHat', 'RedHat', 'CentOS', 'Ubuntu'])[r.f % 4 + 1]
      ) ELSE '{}'::jsonb END,
      CASE WHEN r.f % 10 < 7 THEN c.created END
    FROM generate_series(1, {hosts}::int) g
    CROSS JOIN LATERAL (SELECT ${rnd('g', 13)} AS v, ${rnd('g', 14)} AS f) r
    CROSS JOIN LATERAL (SELECT CASE WHEN r.v % 20 = 1 AND g > 1 THEN ${ip('g - 1')} ELSE ${ip('g')} END AS ip) a
    CROSS JOIN LATERAL (SELECT ${ts(`{startEpoch}::bigint - 86400 * 60 + ${rnd('g', 15)} % (86400 * 60)`)} AS created) c`);

  // Jobs 1..jobs, spread evenly over the window; then project updates (launch_type sync).
  await run(`INSERT INTO main_unifiedjob (id, created, modified, name, launch_type, status, failed, started, finished, elapsed,
      job_explanation, polymorphic_ctype_id, unified_job_template_id, execution_node, controller_node, instance_group_id,
      emitted_events, organization_id, execution_environment_id, installed_collections, ansible_version, schedule_id)
    SELECT j, c.created, c.created + (x.elapsed + 2) * interval '1 second', ujt.name,
      CASE WHEN x.l < 40 THEN 'manual' WHEN x.l < 80 THEN 'scheduled' WHEN x.l < 90 THEN 'workflow' WHEN x.l < 95 THEN 'relaunch' ELSE 'webhook' END,
      CASE WHEN x.s < 8 THEN 'failed' WHEN x.s = 8 THEN 'error' ELSE 'successful' END,
      x.s <= 8,
      c.created + (1 + x.s % 30) * interval '1 second',
      c.created + (1 + x.s % 30 + x.elapsed) * interval '1 second',
      x.elapsed,
      CASE WHEN x.s = 8 THEN 'Job terminated due to error' ELSE '' END,
      1, ujt.id, 'exec-node-' || (x.l % 3 + 1) || '.example.com', 'controller-1.example.com', 1,
      10 + x.s, ujt.organization_id, x.l % 3 + 1,
      json_build_object('ansible.posix', json_build_object('version', '1.5.4'),
        'community.general', json_build_object('version', '8.' || (x.l % 6) || '.0'),
        'ansible.windows', json_build_object('version', '2.3.0'))::text,
      (ARRAY['2.16.14', '2.15.13', '2.14.17'])[x.l % 3 + 1],
      CASE WHEN x.l >= 40 AND x.l < 80 THEN 1 + x.l % 4 END
    FROM generate_series(1, {jobs}::int) j
    CROSS JOIN LATERAL (SELECT ${rnd('j', 21)} % 100 AS l, ${rnd('j', 22)} % 100 AS s,
      round((20 + ${rnd('j', 23)} % 600 + ${rnd01('j', 24)})::numeric, 3) AS elapsed,
      {projects}::int + ${rnd('j', 25)} % {templates}::int + 1 AS tpl) x
    CROSS JOIN LATERAL (SELECT ${ts(`{startEpoch}::bigint + ((j - 1) + ${rnd01('j', 26)} * 0.9) * {jobSpan}::float8 / {jobs}::int`)} AS created) c
    JOIN main_unifiedjobtemplate ujt ON ujt.id = x.tpl
    ORDER BY j`);
  await run(`INSERT INTO main_unifiedjob (id, created, modified, name, launch_type, status, failed, started, finished, elapsed,
      polymorphic_ctype_id, unified_job_template_id, execution_node, controller_node, organization_id, execution_environment_id)
    SELECT {jobs}::int + p, c.created, c.created + interval '40 seconds', ujt.name || ' - update', 'sync', 'successful', false,
      c.created + interval '2 seconds', c.created + interval '32 seconds', 30, 2, ujt.id,
      'controller-1.example.com', 'controller-1.example.com', ujt.organization_id, 2
    FROM generate_series(1, {projectUpdates}::int) p
    CROSS JOIN LATERAL (SELECT ${ts(`{startEpoch}::bigint + (p - 1 + 0.5) * {jobSpan}::float8 / {projectUpdates}::int`)} AS created) c
    JOIN main_unifiedjobtemplate ujt ON ujt.id = (p - 1) % {projects}::int + 1`);
  await run(`INSERT INTO main_job (unifiedjob_ptr_id, job_type, playbook, forks, inventory_id, job_template_id, project_id, verbosity)
    SELECT uj.id, 'run', ${playbookOf('uj.unified_job_template_id')},
      5 * (1 + ${rnd('uj.id', 31)} % 4), (t.n - 1) % {inventories}::int + 1, uj.unified_job_template_id,
      (t.n - 1) % {projects}::int + 1, 0
    FROM main_unifiedjob uj
    CROSS JOIN LATERAL (SELECT uj.unified_job_template_id - {projects}::int AS n) t
    WHERE uj.polymorphic_ctype_id = 1`);

  await analyze('main_host');
  await analyze('main_unifiedjob');
  await analyze('main_job');
  // Building the secondary indexes once after the bulk inserts is several times faster than
  // maintaining them row by row; they are recreated from schema.sql below.
  for (const index of BULK_INDEXES) await db.query(`DROP INDEX IF EXISTS ${index}`);
  // Each job touches k consecutive hosts of its inventory (wrapping); ~1% of rows lost their host.
  await run(`INSERT INTO main_jobhostsummary (created, modified, host_name, changed, dark, failures, ok, processed, skipped,
      failed, host_id, job_id, ignored, rescued)
    SELECT uj.finished - (${rnd('uj.id * 4096 + m', 41)} % 900) * interval '1 millisecond',
      uj.finished - (${rnd('uj.id * 4096 + m', 41)} % 900) * interval '1 millisecond' + interval '12 microseconds',
      h.name, st.changed, st.dark, st.failures, st.ok, 1, st.skipped, st.failures > 0 OR st.dark > 0,
      CASE WHEN ${rnd('uj.id * 4096 + m', 42)} % 100 = 0 THEN NULL ELSE h.id END,
      uj.id, st.ignored, 0
    FROM main_unifiedjob uj
    JOIN main_job mj ON mj.unifiedjob_ptr_id = uj.id
    CROSS JOIN LATERAL (SELECT (({hosts}::int - mj.inventory_id) / {inventories}::int) + 1 AS cnt) n
    CROSS JOIN LATERAL (SELECT least(n.cnt, 1 + ${rnd('uj.id', 43)} % (2 * {hostsPerJob}::int - 1)) AS k,
      ${rnd('uj.id', 44)} % n.cnt AS s0) pick
    CROSS JOIN LATERAL generate_series(0, pick.k - 1) m
    JOIN main_host h ON h.id = mj.inventory_id + {inventories}::int * ((pick.s0 + m) % n.cnt)
    CROSS JOIN LATERAL (SELECT 1 + ${rnd('uj.id * 4096 + m', 45)} % 20 AS ok,
      ${rnd('uj.id * 4096 + m', 46)} % 6 AS changed,
      CASE WHEN uj.failed AND m = 0 THEN 1 ELSE 0 END AS failures,
      CASE WHEN ${rnd('uj.id * 4096 + m', 47)} % 200 = 0 THEN 1 ELSE 0 END AS dark,
      ${rnd('uj.id * 4096 + m', 48)} % 5 AS skipped,
      CASE WHEN ${rnd('uj.id * 4096 + m', 49)} % 50 = 0 THEN 1 ELSE 0 END AS ignored) st
    WHERE uj.polymorphic_ctype_id = 1
    ORDER BY uj.finished, uj.id, m`);

  await analyze('main_jobhostsummary');
  if (eventsPerSummary > 0) {
    const modules = `(VALUES ${MODULES.map((m, i) => `(${i + 1}, '${m[0]}', '${m[1]}', ${m[2] ? `'${m[2]}'` : 'NULL::text'}, '${m[3]}')`).join(', ')})
      AS md(i, task_action, resolved_action, resolved_role, task)`;
    await run(`INSERT INTO main_jobevent (created, modified, event, event_data, failed, changed, uuid, parent_uuid, playbook,
        play, role, task, counter, host_id, job_id, host_name, job_created, stdout)
      SELECT ev.created, ev.created, ev.event,
        CASE WHEN ${rnd('s.id * 64 + n', 51)} % 500 = 0
          THEN left(ev.data, -1) || ', "stdout": "bin\\u0000ary \\u00e9"}'
          ELSE ev.data END,
        ev.event IN ('runner_on_failed', 'runner_on_unreachable'), ev.changed,
        ${uuidOf('e', 's.id * 64 + n')}, ${uuidOf('7', 's.job_id * 64 + n')},
        ${playbookOf('uj.unified_job_template_id')}, 'Synthetic play', coalesce(md.resolved_role, ''), md.task, n, s.host_id,
        s.job_id, s.host_name, uj.created, ''
      FROM main_jobhostsummary s
      JOIN main_unifiedjob uj ON uj.id = s.job_id
      CROSS JOIN generate_series(1, {eventsPerSummary}::int) n
      JOIN ${modules} ON md.i = ${rnd('s.job_id * 64 + n', 52)} % ${MODULES.length} + 1
      CROSS JOIN LATERAL (SELECT
          CASE WHEN n = 1 AND s.failures > 0 THEN 'runner_on_failed'
               WHEN n = 1 AND s.dark > 0 THEN 'runner_on_unreachable'
               WHEN ${rnd('s.id * 64 + n', 53)} % 10 = 0 THEN 'runner_on_skipped'
               WHEN ${rnd('s.id * 64 + n', 53)} % 10 = 1 THEN 'runner_item_on_ok'
               ELSE 'runner_on_ok' END AS event,
          ${rnd('s.id * 64 + n', 54)} % 4 = 0 AS changed,
          uj.started + (n::float8 * uj.elapsed::float8 / ({eventsPerSummary}::int + 1)) * interval '1 second' AS created,
          ${rnd('s.id * 64 + n', 55)} % 5000 / 1000.0 AS duration) e0
      CROSS JOIN LATERAL (SELECT e0.event, e0.changed, e0.created, json_build_object(
          'task_action', md.task_action, 'resolved_action', md.resolved_action,
          'resolved_role', md.resolved_role, 'duration', e0.duration,
          'start', e0.created, 'end', e0.created + e0.duration * interval '1 second',
          'task_uuid', ${uuidOf('7', 's.job_id * 64 + n')}, 'host', s.host_name,
          'ignore_errors', CASE WHEN e0.event = 'runner_on_failed' THEN false END,
          'res', CASE WHEN ${rnd('s.id * 64 + n', 56)} % 40 = 0
                 THEN json_build_object('changed', e0.changed, 'msg', 'ok', 'warnings', json_build_array('Consider using the service module'))
                 ELSE json_build_object('changed', e0.changed, 'msg', 'ok') END
        )::text AS data) ev`);
    await run(`INSERT INTO main_jobevent (created, modified, event, event_data, failed, changed, uuid, playbook, counter,
        job_id, host_name, job_created)
      SELECT uj.finished, uj.finished, 'playbook_on_stats',
        jsonb_build_object('playbook', mj.playbook, 'changed', jsonb_build_object(), 'ok', jsonb_build_object(),
          'artifact_data', jsonb_build_object(), 'playbook_uuid', ${uuidOf('b', 'uj.id')})::text,
        uj.failed, false, ${uuidOf('5', 'uj.id')}, mj.playbook, 1000, uj.id, '', uj.created
      FROM main_unifiedjob uj JOIN main_job mj ON mj.unifiedjob_ptr_id = uj.id`);
  }

  await run(`INSERT INTO main_indirectmanagednodeaudit (created, name, canonical_facts, facts, events, count, host_id,
      inventory_id, job_id, organization_id)
    SELECT uj.finished, 'vm-' || lpad(uj.id::text, 7, '0') || '.vcenter.example.com',
      jsonb_build_object('host_name', 'vm-' || lpad(uj.id::text, 7, '0'), 'uuid', md5('vm' || uj.id)::uuid::text),
      jsonb_build_object('device_type', 'virtual_machine', 'guest_os', 'rhel9_64Guest'),
      jsonb_build_array('vmware.vmware.vm_info', 'vmware.vmware.guest_info'),
      1 + ${rnd('uj.id', 61)} % 5, NULL, mj.inventory_id, uj.id, uj.organization_id
    FROM main_unifiedjob uj JOIN main_job mj ON mj.unifiedjob_ptr_id = uj.id
    WHERE ${rnd('uj.id', 62)} % 25 = 0`);

  await db.query(`UPDATE main_host h SET last_job_id = l.job_id, last_job_host_summary_id = l.id
    FROM (SELECT DISTINCT ON (host_id) host_id, job_id, id FROM main_jobhostsummary
          WHERE host_id IS NOT NULL ORDER BY host_id, modified DESC, id DESC) l
    WHERE h.id = l.host_id`);
  await db.query(`UPDATE main_inventory i SET total_hosts = c.n
    FROM (SELECT inventory_id, count(*) AS n FROM main_host GROUP BY inventory_id) c WHERE c.inventory_id = i.id`);
  await run(`INSERT INTO main_hostmetric (hostname, first_automation, last_automation, last_deleted, automated_counter,
      deleted_counter, deleted, used_in_inventories)
    SELECT a.host_name, a.first, a.last,
      CASE WHEN ${rnd('a.k', 71)} % 40 = 0 THEN least(a.last + interval '1 day', ${ts('{endEpoch}::bigint - 1')}) END,
      a.n, CASE WHEN ${rnd('a.k', 71)} % 40 = 0 THEN 1 ELSE 0 END, ${rnd('a.k', 71)} % 40 = 0, 1
    FROM (SELECT host_name, min(created) AS first, max(modified) AS last, count(*) AS n, min(id) AS k
          FROM main_jobhostsummary GROUP BY host_name) a`);

  for (const t of ['main_organization', 'main_executionenvironment', 'main_inventory', 'main_unifiedjobtemplate', 'main_unifiedjob', 'main_host', 'django_content_type']) {
    await db.query(`SELECT setval(pg_get_serial_sequence('${t}', 'id'), (SELECT max(id) FROM ${t}))`);
  }

  const schema = await controllerSchemaStatements();
  for (const index of BULK_INDEXES) {
    const create = schema.find((stmt) => stmt.includes(`INDEX IF NOT EXISTS ${index} `));
    if (!create) throw new Error(`schema.sql has no CREATE INDEX for ${index}`);
    await db.query(create);
  }
  // Fresh statistics, as autovacuum would keep on a live controller.
  for (const t of ['main_jobhostsummary', 'main_jobevent', 'main_unifiedjob', 'main_host', 'main_hostmetric', 'main_indirectmanagednodeaudit']) {
    await analyze(t);
  }

  const count = async (table: string) =>
    Number((await db.query<{ n: string | number }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
  return {
    since: new Date(startEpoch * 1000),
    until: new Date(endEpoch * 1000),
    installUuid,
    organizations: orgs,
    inventories,
    hosts,
    jobs,
    unifiedJobs: jobs + projectUpdates,
    jobHostSummaries: await count('main_jobhostsummary'),
    jobEvents: await count('main_jobevent'),
    hostMetrics: await count('main_hostmetric'),
    indirectAudits: await count('main_indirectmanagednodeaudit'),
  };
}
