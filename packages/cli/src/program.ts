import { Command, InvalidArgumentError, Option } from 'commander';
import { parseInstant, TallyError } from '@tally/core';
import type { CliIO } from './io.js';
import { oneLineError } from './one-line.js';

function instant(name: string) {
  return (value: string): Date => {
    try {
      return parseInstant(value, { name });
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message.replace(`${name}: `, ''));
    }
  };
}

function list(value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!items.length) throw new InvalidArgumentError('expected a comma-separated list of collector keys');
  return items;
}

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return Number(value);
}

/** Where watermarks, run status and the cluster lock are kept: the same choice for gather, status and schedule. */
const stateDbOption = () =>
  new Option('--state-db <url>', "keep state in this PostgreSQL database, not the controller's (default: TALLY_STATE_DATABASE_URL)").conflicts('stateFile');
const stateFileOption = () =>
  new Option('--state-file <path>', 'keep state in this JSON file, locked by lock files beside it; one host only (default: TALLY_STATE_FILE)').conflicts('stateDb');

const EXIT_CODES = `
Exit codes: 0 success, 1 failure, 2 usage or configuration error (one line on stderr).
`;

/** The `tally` program; actions load their modules lazily so `--help` stays instant. */
export function buildProgram(io: CliIO): Command {
  const program = new Command('tally')
    .description('Measure automation usage: gather controller data, ship it, roll it up and build billing reports.')
    .version('0.1.0')
    .option('-c, --config <file>', 'a JSON file of settings (keys such as shipPath or METRICS_UTILITY_SHIP_PATH); the environment wins')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`${oneLineError(s)}\n`),
    })
    .addHelpText(
      'after',
      `
Examples:
  $ pnpm demo                                   # the whole pipeline on an embedded database
  $ tally gather --ship --until=10m             # hourly, from cron (as metrics-utility)
  $ tally report --month 2024-03                # monthly report
  $ tally status --json
${EXIT_CODES}`,
    );

  const globalConfig = () => program.opts<{ config?: string }>().config;

  program
    .command('gather')
    .description('Collect usage from the controller database into tarballs and ship them (or keep them with --dry-run).')
    .option('--since <when>', 'start of the window: Nd, Nm, Nmo (or Ndays, Nminutes, Nmonths) or an ISO date/datetime (default: each collector\'s watermark)', instant('--since'))
    .option('--until <when>', 'end of the window (default: now), e.g. 10m for ten minutes ago', instant('--until'))
    .addOption(
      new Option(
        '--ship',
        'ship the tarballs to METRICS_UTILITY_SHIP_TARGET (directory, s3, crc, crc-mutual, postgres or ingress) and advance the watermarks; segment is refused: Segment takes dicts, not tarballs',
      ).conflicts('dryRun'),
    )
    .addOption(new Option('--dry-run', 'ship the tarballs to a new local directory instead and print where they are; record nothing').conflicts('ship'))
    .option('--collectors <keys>', 'only these collectors (comma-separated), e.g. job_host_summary,main_host', list)
    .option('--db <url>', 'the controller database (default: DATABASE_URL)')
    .addOption(stateDbOption())
    .addOption(stateFileOption())
    .addHelpText(
      'after',
      `
Examples:
  $ DATABASE_URL=postgres://awx@db/awx METRICS_UTILITY_SHIP_TARGET=directory \\
    METRICS_UTILITY_SHIP_PATH=/var/lib/tally tally gather --ship --until=10m
  $ tally gather --dry-run --since 2024-03-01 --until 2024-03-02 --collectors job_host_summary
  $ tally gather --ship --state-db postgres://tally@statedb/tally   # a SELECT-only role on the controller
${EXIT_CODES}`,
    )
    .action(async (opts) => {
      const { gatherCommand } = await import('./gather-command.js');
      await gatherCommand({ ...opts, config: globalConfig() }, io);
    });

  program
    .command('collect')
    .description('Run one collector from its files (query, target, credentials, token) and push its records to an HTTP data set.')
    .requiredOption('--query <file>', 'JSON: {"entrypoint": "tally:sql | tally:prometheus | ./module.mjs | package", "query": …, "options": {"additionalFields": {…}}, "data-set": {"data-group": "…", "data-set": "…"}}')
    .requiredOption('--target <file>', 'JSON: {"url": "https://…/data"}; records go to {url}/{data-group}/{data-set}')
    .option('--credentials <file>', 'JSON the entrypoint needs, e.g. {"url": "postgres://…"} for tally:sql')
    .option('--token <file>', 'JSON: {"token": "…"}, sent as Authorization: Bearer (required unless --dry-run)')
    .option('--since <when>', 'start of the window (Nd, Nm, Nmo — or Ndays, Nminutes, Nmonths — or an ISO date/datetime)', instant('--since'))
    .option('--until <when>', 'end of the window (default: none; the entrypoint decides)', instant('--until'))
    .option('--chunk-size <n>', 'records per POST (default: the query file\'s options.chunk-size, else 100)', positiveInt)
    .option('--dry-run', 'print each request (method, URL, headers with the token masked, body) instead of sending it')
    .addHelpText(
      'after',
      `
Examples:
  $ tally collect --query jobs.query.json --target target.json --credentials db.json --token token.json \\
    --since 2024-03-01 --until 2024-03-02
  $ tally collect --query my-collector.query.json --target target.json --dry-run
${EXIT_CODES}`,
    )
    .action(async (opts) => {
      const { collectCommand } = await import('./collect-command.js');
      await collectCommand(opts, io);
    });

  program
    .command('rollup')
    .description('Roll gathered tarballs up into Hive-partitioned Parquet under {ship_path}/rollups (METRICS_UTILITY_SHIP_TARGET directory or s3).')
    .requiredOption('--since <when>', 'start of the window (Nd, Nmo — or Ndays, Nmonths — or an ISO date)', instant('--since'))
    .option('--until <when>', 'end of the window (default: now)', instant('--until'))
    .addOption(new Option('--period <period>', 'rollup granularity').choices(['day', 'week', 'month']).default('day'))
    .option('--anonymized', 'instead: the anonymized daily payload of the newest metrics-utility, one JSON per day under rollups/anonymized/')
    .option('--collections <collections.json>', 'with --anonymized: the known collections (metrics-utility\'s anonymized_rollups/collections.json)')
    .addHelpText(
      'after',
      `
Examples:
  $ METRICS_UTILITY_SHIP_TARGET=directory METRICS_UTILITY_SHIP_PATH=/var/lib/tally \\
    tally rollup --since 2024-03-01 --until 2024-04-01 --period month
  $ tally rollup --anonymized --collections collections.json --since 2024-03-10 --until 2024-03-11
${EXIT_CODES}`,
    )
    .action(async (opts) => {
      if (opts.anonymized) {
        if (opts.period !== 'day') throw new TallyError('rollup --anonymized: the payload is daily; --period must be day');
        const { anonymizedRollupCommand } = await import('./anonymized-rollup-command.js');
        await anonymizedRollupCommand({ since: opts.since, until: opts.until, collections: opts.collections, config: globalConfig() }, io);
        return;
      }
      if (opts.collections !== undefined) throw new TallyError('rollup: --collections needs --anonymized');
      const { rollupCommand } = await import('./rollup-command.js');
      await rollupCommand({ ...opts, config: globalConfig() }, io);
    });

  program
    .command('report')
    .description('Build a CCSP, CCSPv2 or Renewal Guidance workbook (METRICS_UTILITY_REPORT_TYPE, default CCSPv2) for a month or a range.')
    .option('--month <YYYY-MM>', 'the calendar month (default: the previous month)')
    .option('--since <when>', 'start of a range instead of a month (Nd, Nmo — or Ndays, Nmonths — or an ISO date)', instant('--since'))
    .option('--until <when>', 'end of the range (default: today)', instant('--until'))
    .option('--ephemeral <age>', 'also count hosts seen for at most this long (Nd or Nmo), Renewal Guidance')
    .option('--force', 'overwrite an existing report')
    .option('--db <url>', 'the controller database, for RENEWAL_GUIDANCE (default: DATABASE_URL)')
    .addOption(new Option('--from <source>', 'raw: read every tarball; auto: each day\'s current rollup, the other days raw').choices(['auto', 'raw']).default('auto'))
    .option('--write-rollups', 'store daily rollups of the days read raw (for the next report)')
    .option('--verify <report>', 'check a workbook (storage name or path) against its {report}.inputs.json: exit 0 if its inputs are unchanged, 1 naming those that changed')
    .addHelpText(
      'after',
      `
Examples:
  $ METRICS_UTILITY_SHIP_TARGET=directory METRICS_UTILITY_SHIP_PATH=/var/lib/tally \\
    METRICS_UTILITY_REPORT_TYPE=CCSPv2 tally report --month 2024-03
  $ METRICS_UTILITY_REPORT_TYPE=CCSP tally report --since 2024-03-01 --until 2024-03-15 --force
${EXIT_CODES}`,
    )
    .action(async (opts) => {
      const { reportCommand } = await import('./report-wiring.js');
      await reportCommand({ ...opts, config: globalConfig() }, io);
    });

  program
    .command('status')
    .description('Show each collector: enabled, last success, watermark, data state, last error, consecutive failures.')
    .option('--json', 'machine-readable JSON on stdout')
    .option('--db <url>', 'the controller database holding the state (default: DATABASE_URL)')
    .addOption(stateDbOption())
    .addOption(stateFileOption())
    .option('--month <YYYY-MM>', "instead: the month's data coverage, the gaps no collection covers (from the stored tarballs)")
    .option('--since <when>', 'instead: the data coverage from this day (with --until, default today)', instant('--since'))
    .option('--until <when>', 'end of the --since range (inclusive day)', instant('--until'))
    .addHelpText(
      'after',
      `
Examples:
  $ tally status
  $ tally status --json | jq '.collectors[] | select(.consecutiveFailures > 0)'
  $ tally status --month 2024-03              # gaps in the data of March, as the report's Data collection status sheet
${EXIT_CODES}`,
    )
    .action(async (opts) => {
      const { statusCommand } = await import('./status-command.js');
      await statusCommand({ ...opts, config: globalConfig() }, io);
    });

  program
    .command('schedule')
    .description('Run collectors on their cron schedules, forever; one runner per cluster (PostgreSQL advisory lock).')
    .option('--schedule <file>', 'JSON: {"collectors": {"<key>": {"cron": "5 * * * *", "dependsOn": ["…"], "enabled": true}}}; a user collector adds "query", "target", "credentials", "token" files')
    .option('--once', 'run one tick (whatever is due now) and exit')
    .option('--until-lag <when>', 'each run gathers up to this long ago (Nm or Nminutes, e.g. 10m)', '10m')
    .option('--lease <seconds>', 'a running collector whose runner stops heart-beating for this long is taken over', positiveInt, 600)
    .option('--db <url>', 'the controller database (default: DATABASE_URL)')
    .addOption(stateDbOption())
    .addOption(stateFileOption())
    .option('--listen <host:port>', 'serve GET /api/v1/status (JSON) and GET /metrics (Prometheus) here, e.g. 127.0.0.1:9464')
    .option('--status-token-file <file>', 'JSON {"token": "…"}: the status API then needs Authorization: Bearer (else TALLY_STATUS_TOKEN)')
    .option('--listen-insecure', 'allow --listen on a non-loopback address without a token')
    .addHelpText(
      'after',
      `
Examples:
  $ tally schedule                                 # default: every collector hourly at minute 5, shipped
  $ tally schedule --schedule schedule.json --listen 127.0.0.1:9464
  $ tally schedule --schedule /etc/tally/schedule.json
  $ tally schedule --once                          # one tick, e.g. from a Kubernetes CronJob
${EXIT_CODES}`,
    )
    .action(async (opts) => {
      const { scheduleCommand } = await import('./schedule-command.js');
      await scheduleCommand({ ...opts, config: globalConfig() }, io);
    });

  program
    .command('send-to-segment')
    .alias('send_to_segment')
    .description("Send a CSV or JSON file to Segment as one '{app}_data_upload' track event (metrics-utility's send_to_segment).")
    .requiredOption('--file <path>', 'the file: .csv → its rows as objects, .json → a list (an object or a value is wrapped in one), anything else read as CSV; at most 32 KiB')
    .requiredOption('--app <name>', 'application identifier, e.g. ansible-automation-platform or awx; the event is {app}_data_upload')
    .option('--user-id <id>', 'the Segment user id of the event', 'system')
    .option('--verbose', 'debug logs on stderr, including each request to Segment and its answer')
    .addHelpText(
      'after',
      `
Environment:
  SEGMENT_WRITE_KEY (required)     the Segment source's write key; never printed
  METRICS_UTILITY_SEGMENT_HOST     the API base URL (default https://api.segment.io)

Examples:
  $ SEGMENT_WRITE_KEY=… tally send-to-segment --file data.csv --app ansible-automation-platform
  $ SEGMENT_WRITE_KEY=… tally send-to-segment --file metrics.json --app awx --user-id user123
${EXIT_CODES}`,
    )
    .action(async (opts) => {
      const { sendToSegmentCommand } = await import('./send-to-segment-command.js');
      await sendToSegmentCommand({ ...opts, config: globalConfig() }, io);
    });

  program
    .command('demo')
    .description('The whole pipeline on an embedded PostgreSQL (or DATABASE_URL): seed, gather, roll up, build reports (needs @tally/demo).')
    .option('--dir <path>', 'where artifacts go (default: ./.tally/demo)')
    .option('--days <n>', 'days of synthetic history', positiveInt, 30)
    .addHelpText(
      'after',
      `
Examples:
  $ pnpm demo
  $ tally demo --dir /tmp/tally-demo --days 7
  $ npx @tally/cli demo                           # from npm, in an empty folder
${EXIT_CODES}`,
    )
    .action(async (opts) => {
      const { demoCommand } = await import('./demo-command.js');
      await demoCommand(opts, io);
    });

  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput(program.configureOutput()).showSuggestionAfterError(true);
  }
  return program;
}
