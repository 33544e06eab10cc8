// Validated, frozen gridhost configuration (from gridhost.yaml plus GRIDHOST_* environment
// overrides). Produced by src/config/load-config.ts at start-up; never mutated after.

export interface GridhostConfig {
  /** Absolute path of the file it came from, or "<defaults>". */
  source: string;
  api: {
    /** host:port; default 127.0.0.1:8700. */
    listen: string;
    /** Bearer token for the write API. Never logged. Unset = write API disabled. */
    token?: string;
  };
  /** Folder of policy YAML files; default ./policies. */
  policiesDir: string;
  /** Folder templates are resolved against; default ./templates. */
  templatesDir: string;
  /** Where local guests' clones go; default ./data/guests. */
  guestsDir: string;
  /** The store gridhost keeps its state in (store/store-keys.ts lists the kinds). */
  store: StoreConfig;
  limits: {
    /** No policy may set max above this; default 8. */
    hardMax: number;
    /** Samples kept for replay; default 7 days. */
    sampleRetentionMs: number;
    /** Finished guests (gone/failed) and scale events kept after they end; default 30 days. */
    historyRetentionMs: number;
  };
  /** Several gridhost processes on one store (see controller/leadership.ts). */
  cluster: {
    /** A pool leader's lease; a process that dies loses its pools after this. Default 15 s. */
    leaseMs: number;
    /** Every led pool is reconciled this often (and after driver errors). Default 5 min. */
    reconcileIntervalMs: number;
  };
  log: { level: 'error' | 'warn' | 'info' | 'debug'; format: 'auto' | 'json' | 'pretty' };
  /** The Prometheus server rules with `source: prometheus` query; absent = such rules are refused. */
  prometheus?: {
    /** Base URL (http(s)://host:port[/prefix]); credentials in it are sent as basic auth, never logged. */
    url: string;
    /** Per query; default 5s, at most 60s. */
    timeoutMs: number;
  };
  /** Each driver's gridhost.yaml sections as it parsed them (absent = not configured). */
  drivers: DriverSettings;
}

/**
 * The drivers' settings by driver name. Empty here: each driver's keys module adds its own
 * optional member (declaration merging, as fastify's plugins do), so this file names no driver
 * and create() still gets its settings typed. The registries (drivers/<role>/<role>-keys.ts)
 * list the modules.
 */
export interface DriverSettings {}

/**
 * Each store kind's settings by `store.kind`. Empty here: each store driver's keys module adds
 * its own (declaration merging), so this file names no store.
 */
export interface StoreSettings {}

/** The configured store: its kind and that kind's settings. */
export type StoreConfig = { [K in keyof StoreSettings]: { kind: K } & StoreSettings[K] }[keyof StoreSettings];
