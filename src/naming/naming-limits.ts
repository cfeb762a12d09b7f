/**
 * Bounds of a name server's registry. Every client that can reach the name
 * server can register, so each bound keeps one careless or hostile client
 * from growing the registry (memory, the storage file, every `list` reply)
 * without limit. Past a bound the call fails with `NAMING_LIMIT`.
 */
export interface NamingLimits {
  /** Registrations held, the name server's own included. */
  maxNames: number;
  /** Characters in a name. */
  maxNameLength: number;
  /** Characters in a registered URL. */
  maxUrlLength: number;
  /** Metadata tags on one registration, and tags in one `metadata_all`/`metadata_any` filter. */
  maxMetadata: number;
  /** Characters in one metadata tag. */
  maxMetadataLength: number;
  /** Characters in a `regex` filter (patterns are matched in linear time; see name-regex.ts). */
  maxRegexLength: number;
  /** States a compiled regex may have (large `{n,m}` repeats expand). */
  maxRegexProgram: number;
  /** Matching steps one `list`/`remove` by regex may spend over all names (about 50 ms). */
  maxRegexSteps: number;
  /** Shortest lease (ms) a registration may ask for: renewals every ttl/3 must stay cheap. */
  minTtl: number;
  /** Longest lease (ms). */
  maxTtl: number;
}

export const DEFAULT_NAMING_LIMITS: Readonly<NamingLimits> = Object.freeze({
  maxNames: 10_000,
  maxNameLength: 512,
  maxUrlLength: 2048,
  maxMetadata: 32,
  maxMetadataLength: 256,
  maxRegexLength: 256,
  maxRegexProgram: 1024,
  maxRegexSteps: 5_000_000,
  minTtl: 100,
  maxTtl: 7 * 24 * 3600 * 1000,
});
