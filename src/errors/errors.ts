// One catalogue of coded errors (the fastify model). Callers branch on `code` or on the class,
// never on the message text. Every code here has a test in errors.test.ts.

export const ERROR_CODES = {
  // policy and config
  GH_POLICY_INVALID: { status: 422, message: 'policy is invalid' },
  GH_CONFIG_INVALID: { status: 500, message: 'configuration is invalid' },
  // api
  GH_NOT_FOUND: { status: 404, message: 'not found' },
  GH_BAD_REQUEST: { status: 400, message: 'bad request' },
  GH_UNAUTHORIZED: { status: 401, message: 'a valid bearer token is required' },
  GH_FORBIDDEN: { status: 403, message: 'this credential may not do that' },
  GH_METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed on this route' },
  GH_POOL_MANAGED: { status: 409, message: 'the pool is managed by a policy' },
  GH_STARTING: { status: 503, message: 'gridhost is starting: repairing guests from the last run' },
  GH_LISTEN_FAILED: { status: 500, message: 'cannot listen on the configured address' },
  GH_INTERNAL: { status: 500, message: 'internal error' },
  // shell safety
  GH_UNSAFE_ARGUMENT: { status: 400, message: 'argument is not safe to pass to a shell' },
  // hypervisor drivers
  GH_CLONE_FAILED: { status: 502, message: 'cloning the base image failed' },
  GH_BOOT_FAILED: { status: 502, message: 'booting the guest failed' },
  GH_HEALTH_TIMEOUT: { status: 504, message: 'guest did not become healthy in time' },
  GH_STOP_FAILED: { status: 502, message: 'stopping the guest failed' },
  GH_OUT_OF_CAPACITY: { status: 503, message: 'no host has capacity for the guest' },
  GH_NAME_IN_USE: { status: 409, message: 'a guest with that name already exists' },
  GH_TEMPLATE_INVALID: { status: 422, message: 'guest template is invalid' },
  GH_RESIZE_FAILED: { status: 502, message: 'changing the guest\'s vCPUs or memory failed; it keeps running at the size its record says' },
  GH_SCHED_FAILED: { status: 502, message: 'setting the guest\'s scheduler parameters (credit weight, cap) failed' },
  GH_HOST_UNREACHABLE: { status: 503, message: 'host is unreachable' },
  GH_HOST_KEY_MISMATCH: { status: 502, message: 'host key does not match the pinned fingerprint' },
  GH_COMMAND_TIMEOUT: { status: 504, message: 'remote command timed out' },
  GH_COMMAND_FAILED: { status: 502, message: 'remote command failed' },
  // balancer
  GH_BALANCER_FAILED: { status: 502, message: 'load balancer operation failed' },
  GH_BACKEND_UNKNOWN: { status: 404, message: 'backend is not registered' },
  // HAProxy runtime API (the haproxy balancer driver): what HAProxy answered, typed
  GH_HAPROXY_UNREACHABLE: { status: 503, message: 'HAProxy\'s stats socket cannot be reached' },
  GH_HAPROXY_PERMISSION_DENIED: { status: 502, message: 'HAProxy refused the command: permission denied' },
  GH_HAPROXY_NOT_ADMIN: { status: 502, message: 'HAProxy\'s stats socket is not at admin level' },
  GH_HAPROXY_UNKNOWN_BACKEND: { status: 502, message: 'HAProxy has no such backend' },
  GH_HAPROXY_SERVER_EXISTS: { status: 409, message: 'HAProxy already has a server of that name' },
  GH_HAPROXY_COMMAND_FAILED: { status: 502, message: 'HAProxy rejected the command' },
  // builtin balancer wire replies (sent to clients of a pool's front end)
  GH_NO_BACKEND: { status: 503, message: 'no healthy backend for this pool' },
  GH_BAD_GATEWAY: { status: 502, message: 'the backend failed before answering' },
  GH_GATEWAY_TIMEOUT: { status: 504, message: 'the backend did not begin its answer within balancer.response_timeout' },
  // store
  GH_STORE_FAILED: { status: 500, message: 'store operation failed' },
  GH_STALE_WRITE: { status: 409, message: 'the record changed since it was read; the write was refused' },
  GH_FENCED: { status: 409, message: 'another gridhost now leads this pool; the write was refused' },
  GH_LEASE_LOST: { status: 409, message: 'the pool lease is no longer held by this gridhost' },
  // controller
  GH_MIGRATE_FAILED: { status: 502, message: 'the live migration failed; the guest still runs where it was' },
  GH_HOST_UNKNOWN: { status: 404, message: 'no configured hypervisor host has that name' },
  GH_BREAKER_OPEN: { status: 503, message: 'launch circuit breaker is open' },
  GH_STALE_DECISION: { status: 409, message: 'decision no longer matches the pool state' },
  // operator actions (the write API)
  GH_POOL_UNMANAGED: { status: 409, message: 'the pool has no policy (its file was removed): only retiring it is possible' },
  // 421 Misdirected Request: this process cannot act for the pool; details.leader says which can.
  GH_NOT_LEADER: { status: 421, message: 'another gridhost process leads this pool: send the request to it' },
  GH_GUEST_BUSY: { status: 409, message: 'the guest is not serving: it is still launching, or already being retired' },
  GH_STOPPING: { status: 503, message: 'gridhost is stopping' },
  GH_POOL_BLOCKED: { status: 409, message: 'the pool\'s balancer cannot take guests now: nothing is launched or retired until it can' },
  // metric sources outside the guests (a rule's source: prometheus)
  GH_QUERY_FAILED: { status: 502, message: 'a metric query failed' },
  // lifecycle hooks (a policy's hooks.before_register / before_retire)
  GH_HOOK_FAILED: { status: 502, message: 'a lifecycle hook failed' },
  // simulator
  GH_TRACE_INVALID: { status: 422, message: 'trace is invalid' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class GridhostError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Structured facts for logs and API responses; never secrets. */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message?: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code].message, options);
    this.name = 'GridhostError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return Object.keys(this.details).length > 0
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}

/** One problem found in a policy or config file, with its location. */
export interface ValidationIssue {
  file: string;
  line: number;
  col: number;
  /** Dotted path of the field, e.g. `rules.0.step`. Empty for file-level problems. */
  path: string;
  message: string;
  /** The offending value as written, when there is one (a string is cut by shortFound). */
  found?: unknown;
  /** Absent = an error. A warning does not stop the file from loading. */
  severity?: 'warning';
}

/** Longest `found` string kept in an issue: a value is quoted to locate the problem, never to
 *  copy a file's contents (a policy symlinked to /etc/passwd, a binary file) into logs. */
export const FOUND_MAX_CHARS = 40;

/** A string value cut to FOUND_MAX_CHARS, saying how long it was; anything else as it is. */
export function shortFound(v: unknown): unknown {
  if (typeof v !== 'string' || v.length <= FOUND_MAX_CHARS) return v;
  return `${v.slice(0, FOUND_MAX_CHARS)}... (${v.length} characters)`;
}

/** `FILE:LINE:COL: path.to.field: message (found VALUE)`; warnings read `...: warning: message`. */
export function formatIssue(i: ValidationIssue): string {
  const where = `${i.file}:${i.line}:${i.col}`;
  const field = i.path ? `${i.path}: ` : '';
  const level = i.severity === 'warning' ? 'warning: ' : '';
  const found = i.found === undefined ? '' : ` (found ${JSON.stringify(shortFound(i.found))})`;
  return `${where}: ${field}${level}${i.message}${found}`;
}

/** A policy file (or config file) that failed validation: carries every issue at once. */
export class PolicyError extends GridhostError {
  readonly issues: ValidationIssue[];
  constructor(issues: ValidationIssue[], code: 'GH_POLICY_INVALID' | 'GH_CONFIG_INVALID' = 'GH_POLICY_INVALID') {
    super(code, issues.map(formatIssue).join('\n'), { issues });
    this.name = 'PolicyError';
    this.issues = issues;
  }
}

export function isGridhostError(e: unknown): e is GridhostError {
  return e instanceof GridhostError;
}

/**
 * Wrap anything thrown into a GridhostError with the given code, keeping the cause. A
 * GridhostError keeps its code, message and stack, and gains the caller's `details` (the facts
 * it already carries win: they come from closer to the failure). It is copied, not changed, so
 * an error shared between callers (an injected fault, a memoized failure) never shows one
 * caller's details to another.
 */
export function wrapError(code: ErrorCode, e: unknown, details: Record<string, unknown> = {}): GridhostError {
  if (e instanceof GridhostError) {
    const added = Object.keys(details).filter((k) => !(k in e.details));
    if (added.length === 0) return e;
    // A real Error (not Object.create): tools check the internal error slot, not the prototype.
    const copy = new GridhostError(e.code, e.message, { ...details, ...e.details }, 'cause' in e ? { cause: e.cause } : undefined);
    Object.setPrototypeOf(copy, Object.getPrototypeOf(e) as object);
    for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(e))) if (k !== 'details') Object.defineProperty(copy, k, d);
    return copy;
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new GridhostError(code, `${ERROR_CODES[code].message}: ${msg}`, details, { cause: e });
}
