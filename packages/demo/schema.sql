-- The subset of an Automation Controller (AWX) database that Tally's collectors read,
-- with AWX's column types. Synthetic sites are built on it (see seed.ts); it is never
-- applied to a real controller. Statements are separated by ";" at line ends.

CREATE TABLE IF NOT EXISTS django_content_type (
  id serial PRIMARY KEY,
  app_label varchar(100) NOT NULL,
  model varchar(100) NOT NULL,
  UNIQUE (app_label, model)
);

CREATE TABLE IF NOT EXISTS conf_setting (
  id serial PRIMARY KEY,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL,
  key varchar(255) NOT NULL,
  value text,
  created_by_id integer,
  modified_by_id integer,
  user_id integer
);

CREATE TABLE IF NOT EXISTS main_instance (
  id serial PRIMARY KEY,
  uuid varchar(40) NOT NULL,
  hostname varchar(250) NOT NULL UNIQUE,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL,
  capacity integer NOT NULL DEFAULT 0,
  version varchar(120) NOT NULL DEFAULT '',
  last_seen timestamptz,
  enabled boolean NOT NULL DEFAULT true,
  node_type varchar(16) NOT NULL DEFAULT 'hybrid'
);

CREATE TABLE IF NOT EXISTS main_organization (
  id serial PRIMARY KEY,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL,
  description text NOT NULL DEFAULT '',
  name varchar(512) NOT NULL UNIQUE,
  max_hosts integer NOT NULL DEFAULT 0,
  created_by_id integer,
  modified_by_id integer,
  default_environment_id integer
);

CREATE TABLE IF NOT EXISTS main_executionenvironment (
  id serial PRIMARY KEY,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL,
  description text NOT NULL DEFAULT '',
  image varchar(1024) NOT NULL,
  managed boolean NOT NULL DEFAULT false,
  created_by_id integer,
  credential_id integer,
  modified_by_id integer,
  organization_id integer,
  name varchar(512) NOT NULL UNIQUE,
  pull varchar(16) NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS main_inventory (
  id serial PRIMARY KEY,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL,
  description text NOT NULL DEFAULT '',
  name varchar(512) NOT NULL,
  variables text NOT NULL DEFAULT '',
  has_active_failures boolean NOT NULL DEFAULT false,
  total_hosts integer NOT NULL DEFAULT 0,
  hosts_with_active_failures integer NOT NULL DEFAULT 0,
  total_groups integer NOT NULL DEFAULT 0,
  has_inventory_sources boolean NOT NULL DEFAULT false,
  total_inventory_sources integer NOT NULL DEFAULT 0,
  inventory_sources_with_failures integer NOT NULL DEFAULT 0,
  organization_id integer,
  kind varchar(32) NOT NULL DEFAULT '',
  host_filter text,
  pending_deletion boolean NOT NULL DEFAULT false,
  created_by_id integer,
  modified_by_id integer,
  UNIQUE (name, organization_id)
);

CREATE TABLE IF NOT EXISTS main_unifiedjobtemplate (
  id serial PRIMARY KEY,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL,
  description text NOT NULL DEFAULT '',
  name varchar(512) NOT NULL,
  last_job_failed boolean NOT NULL DEFAULT false,
  last_job_run timestamptz,
  next_job_run timestamptz,
  status varchar(32) NOT NULL DEFAULT 'ok',
  polymorphic_ctype_id integer,
  organization_id integer,
  execution_environment_id integer,
  created_by_id integer,
  modified_by_id integer
);

CREATE TABLE IF NOT EXISTS main_unifiedjob (
  id serial PRIMARY KEY,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL,
  description text NOT NULL DEFAULT '',
  name varchar(512) NOT NULL,
  launch_type varchar(20) NOT NULL,
  cancel_flag boolean NOT NULL DEFAULT false,
  status varchar(20) NOT NULL,
  failed boolean NOT NULL DEFAULT false,
  started timestamptz,
  finished timestamptz,
  elapsed numeric(12, 3) NOT NULL DEFAULT 0,
  job_args text NOT NULL DEFAULT '',
  job_cwd varchar(1024) NOT NULL DEFAULT '',
  job_env text NOT NULL DEFAULT '{}',
  job_explanation text NOT NULL DEFAULT '',
  start_args text NOT NULL DEFAULT '',
  result_traceback text NOT NULL DEFAULT '',
  celery_task_id varchar(100) NOT NULL DEFAULT '',
  polymorphic_ctype_id integer,
  schedule_id integer,
  unified_job_template_id integer,
  execution_node text NOT NULL DEFAULT '',
  instance_group_id integer,
  emitted_events integer NOT NULL DEFAULT 0,
  controller_node text NOT NULL DEFAULT '',
  canceled_on timestamptz,
  dependencies_processed boolean NOT NULL DEFAULT true,
  organization_id integer,
  execution_environment_id integer,
  installed_collections text NOT NULL DEFAULT '{}',
  ansible_version varchar(255) NOT NULL DEFAULT '',
  work_unit_id varchar(255),
  host_status_counts text,
  created_by_id integer,
  modified_by_id integer
);
CREATE INDEX IF NOT EXISTS main_unifiedjob_created_idx ON main_unifiedjob (created);
CREATE INDEX IF NOT EXISTS main_unifiedjob_finished_idx ON main_unifiedjob (finished);

-- A project's options (its row in main_unifiedjobtemplate holds the name); unified_jobs reads scm_type.
CREATE TABLE IF NOT EXISTS main_project (
  unifiedjobtemplate_ptr_id integer PRIMARY KEY,
  local_path varchar(1024) NOT NULL DEFAULT '',
  scm_type varchar(8) NOT NULL DEFAULT '',
  scm_url varchar(1024) NOT NULL DEFAULT '',
  scm_branch varchar(256) NOT NULL DEFAULT '',
  scm_refspec varchar(1024) NOT NULL DEFAULT '',
  scm_clean boolean NOT NULL DEFAULT false,
  scm_delete_on_update boolean NOT NULL DEFAULT false,
  scm_update_on_launch boolean NOT NULL DEFAULT false,
  scm_update_cache_timeout integer NOT NULL DEFAULT 0,
  allow_override boolean NOT NULL DEFAULT false,
  timeout integer NOT NULL DEFAULT 0,
  scm_revision varchar(1024) NOT NULL DEFAULT '',
  credential_id integer,
  default_environment_id integer
);

CREATE TABLE IF NOT EXISTS main_job (
  unifiedjob_ptr_id integer PRIMARY KEY,
  job_type varchar(64) NOT NULL DEFAULT 'run',
  playbook varchar(1024) NOT NULL DEFAULT '',
  forks integer NOT NULL DEFAULT 0,
  "limit" text NOT NULL DEFAULT '',
  verbosity integer NOT NULL DEFAULT 0,
  extra_vars text NOT NULL DEFAULT '',
  job_tags varchar(1024) NOT NULL DEFAULT '',
  force_handlers boolean NOT NULL DEFAULT false,
  skip_tags varchar(1024) NOT NULL DEFAULT '',
  start_at_task varchar(1024) NOT NULL DEFAULT '',
  become_enabled boolean NOT NULL DEFAULT false,
  allow_simultaneous boolean NOT NULL DEFAULT false,
  timeout integer NOT NULL DEFAULT 0,
  use_fact_cache boolean NOT NULL DEFAULT false,
  inventory_id integer,
  job_template_id integer,
  project_id integer,
  project_update_id integer,
  scm_branch varchar(1024) NOT NULL DEFAULT '',
  webhook_service varchar(16) NOT NULL DEFAULT '',
  webhook_guid varchar(128) NOT NULL DEFAULT '',
  job_slice_number integer NOT NULL DEFAULT 0,
  job_slice_count integer NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS main_job_inventory_idx ON main_job (inventory_id);

CREATE TABLE IF NOT EXISTS main_host (
  id serial PRIMARY KEY,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL,
  description text NOT NULL DEFAULT '',
  name varchar(512) NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  instance_id varchar(1024) NOT NULL DEFAULT '',
  variables text NOT NULL DEFAULT '',
  created_by_id integer,
  inventory_id integer NOT NULL,
  last_job_id integer,
  last_job_host_summary_id integer,
  modified_by_id integer,
  ansible_facts jsonb NOT NULL DEFAULT '{}',
  ansible_facts_modified timestamptz,
  UNIQUE (name, inventory_id)
);
CREATE INDEX IF NOT EXISTS main_host_inventory_idx ON main_host (inventory_id);

CREATE TABLE IF NOT EXISTS main_jobhostsummary (
  id serial PRIMARY KEY,
  created timestamptz,
  modified timestamptz,
  host_name varchar(1024) NOT NULL DEFAULT '',
  changed integer NOT NULL DEFAULT 0,
  dark integer NOT NULL DEFAULT 0,
  failures integer NOT NULL DEFAULT 0,
  ok integer NOT NULL DEFAULT 0,
  processed integer NOT NULL DEFAULT 0,
  skipped integer NOT NULL DEFAULT 0,
  failed boolean NOT NULL DEFAULT false,
  host_id integer,
  job_id integer NOT NULL,
  ignored integer NOT NULL DEFAULT 0,
  rescued integer NOT NULL DEFAULT 0,
  constructed_host_id integer
);
CREATE INDEX IF NOT EXISTS main_jobhostsummary_modified_idx ON main_jobhostsummary (modified);
CREATE INDEX IF NOT EXISTS main_jobhostsummary_job_idx ON main_jobhostsummary (job_id);

-- AWX partitions job events by job_created (hourly partitions); one default partition here.
CREATE TABLE IF NOT EXISTS main_jobevent (
  id bigserial,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL,
  event varchar(100) NOT NULL,
  event_data text NOT NULL DEFAULT '{}',
  failed boolean NOT NULL DEFAULT false,
  changed boolean NOT NULL DEFAULT false,
  uuid varchar(1024) NOT NULL DEFAULT '',
  playbook varchar(1024) NOT NULL DEFAULT '',
  play varchar(1024) NOT NULL DEFAULT '',
  role varchar(1024) NOT NULL DEFAULT '',
  task varchar(1024) NOT NULL DEFAULT '',
  counter integer NOT NULL DEFAULT 0,
  host_id integer,
  job_id bigint,
  parent_uuid varchar(1024) NOT NULL DEFAULT '',
  end_line integer NOT NULL DEFAULT 0,
  start_line integer NOT NULL DEFAULT 0,
  stdout text NOT NULL DEFAULT '',
  verbosity integer NOT NULL DEFAULT 0,
  host_name varchar(1024) NOT NULL DEFAULT '',
  job_created timestamptz NOT NULL,
  PRIMARY KEY (id, job_created)
) PARTITION BY RANGE (job_created);
CREATE TABLE IF NOT EXISTS main_jobevent_default PARTITION OF main_jobevent DEFAULT;
CREATE INDEX IF NOT EXISTS main_jobevent_job_idx ON main_jobevent (job_id, job_created);

-- Present on newer controllers only (the collector skips it when missing).
CREATE TABLE IF NOT EXISTS main_indirectmanagednodeaudit (
  id bigserial PRIMARY KEY,
  created timestamptz NOT NULL,
  name varchar(255) NOT NULL,
  canonical_facts jsonb NOT NULL DEFAULT '{}',
  facts jsonb NOT NULL DEFAULT '{}',
  events jsonb NOT NULL DEFAULT '[]',
  count integer NOT NULL DEFAULT 0,
  host_id integer,
  inventory_id integer,
  job_id integer NOT NULL,
  organization_id integer
);
CREATE INDEX IF NOT EXISTS main_indirectmanagednodeaudit_created_idx ON main_indirectmanagednodeaudit (created);

-- Hosts ever automated, for the Renewal Guidance report.
CREATE TABLE IF NOT EXISTS main_hostmetric (
  id bigserial PRIMARY KEY,
  hostname varchar(512) NOT NULL UNIQUE,
  first_automation timestamptz NOT NULL,
  last_automation timestamptz NOT NULL,
  last_deleted timestamptz,
  automated_counter bigint NOT NULL DEFAULT 0,
  deleted_counter integer NOT NULL DEFAULT 0,
  deleted boolean NOT NULL DEFAULT false,
  used_in_inventories integer
);

-- Credential types and credentials, for credentials_service (it reads ids, type names and `managed`;
-- never `inputs`, which holds the secrets).
CREATE TABLE IF NOT EXISTS main_credentialtype (
  id serial PRIMARY KEY,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL,
  description text NOT NULL DEFAULT '',
  name varchar(512) NOT NULL,
  kind varchar(32) NOT NULL,
  managed boolean NOT NULL DEFAULT false,
  inputs jsonb NOT NULL DEFAULT '{}',
  injectors jsonb NOT NULL DEFAULT '{}',
  namespace varchar(1024),
  created_by_id integer,
  modified_by_id integer,
  UNIQUE (name, kind)
);

CREATE TABLE IF NOT EXISTS main_credential (
  id serial PRIMARY KEY,
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL,
  description text NOT NULL DEFAULT '',
  name varchar(512) NOT NULL,
  inputs jsonb NOT NULL DEFAULT '{}',
  managed boolean NOT NULL DEFAULT false,
  credential_type_id integer NOT NULL,
  organization_id integer,
  created_by_id integer,
  modified_by_id integer
);

CREATE TABLE IF NOT EXISTS main_unifiedjob_credentials (
  id serial PRIMARY KEY,
  unifiedjob_id integer NOT NULL,
  credential_id integer NOT NULL,
  UNIQUE (unifiedjob_id, credential_id)
);

-- django-ansible-base's feature flags, for feature_flags_service (it reads the enabled boolean ones).
CREATE TABLE IF NOT EXISTS dab_feature_flags_aapflag (
  id serial PRIMARY KEY,
  modified timestamptz NOT NULL,
  created timestamptz NOT NULL,
  name varchar(64) NOT NULL,
  ui_name varchar(64) NOT NULL,
  condition varchar(64) NOT NULL DEFAULT 'boolean',
  value varchar(127) NOT NULL DEFAULT 'False',
  required boolean NOT NULL DEFAULT false,
  support_level varchar(25) NOT NULL,
  visibility boolean NOT NULL DEFAULT false,
  toggle_type varchar(20) NOT NULL DEFAULT 'run-time',
  description text NOT NULL DEFAULT '',
  support_url varchar(250) NOT NULL DEFAULT '',
  labels jsonb NOT NULL DEFAULT '[]',
  created_by_id integer,
  modified_by_id integer,
  UNIQUE (name, condition)
);

-- The metrics service's task executions, for task_executions_service. Not a controller table: the
-- reference's gather reads it through the controller connection, so it is there only where the metrics
-- service shares the controller database.
CREATE TABLE IF NOT EXISTS tasks_taskexecution (
  id bigserial PRIMARY KEY,
  started_at timestamptz,
  completed_at timestamptz,
  result_data jsonb
);
