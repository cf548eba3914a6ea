import type { Collector, CollectorInstance, CollectorMeta, CollectorParams, CollectorResult } from './collector.js';

export interface CollectorImpl<P extends CollectorParams, V> {
  /** Check and normalise the parameters; throw CollectorError/ConfigError naming the parameter. */
  validate(params: P): V;
  /** Do the work; called once per `gather()`. */
  run(validated: V, params: Readonly<P>): Promise<CollectorResult>;
}

/**
 * Build a collector: calling it validates the parameters at once (before gather
 * takes a lock or opens a transaction) and runs nothing until `gather()`.
 */
export function defineCollector<P extends CollectorParams, V>(meta: CollectorMeta, impl: CollectorImpl<P, V>): Collector<P> {
  const frozenMeta = Object.freeze({ ...meta });
  const build = (params: P): CollectorInstance => {
    const frozen = Object.freeze({ ...params });
    const validated = impl.validate(frozen);
    return {
      meta: frozenMeta,
      params: frozen,
      gather: () => impl.run(validated, frozen),
    };
  };
  return Object.assign(build, { meta: frozenMeta });
}
