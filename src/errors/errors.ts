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
  GH_HOST_UNREACHABLE: { status: 503, message: 'host is unreachable' },
  GH_HOST_KEY_MISMATCH: { status: 502, message: 'host key does not match the pinned fingerprint' },
  GH_COMMAND_TIMEOUT: { status: 504, message: 'remote command timed out' },
  GH_COMMAND_FAILED: { status: 502, message: 'remote command failed' },
  // balancer
  GH_BALANCER_FAILED: { status: 502, message: 'load balancer operation failed' },
  GH_BACKEND_UNKNOWN: { status: 404, message: 'backend is not registered' },
  // builtin balancer wire replies (sent to clients of a pool's front end)
  GH_NO_BACKEND: { status: 503, message: 'no healthy backend for this pool' },
  GH_BAD_GATEWAY: { status: 502, message: 'the backend failed before answering' },
  GH_GATEWAY_TIMEOUT: { status: 504, message: 'the backend did not begin its answer within balancer.response_timeout' },
  // store
  GH_STORE_FAILED: { status: 500, message: 'store operation failed' },
  // controller
  GH_BREAKER_OPEN: { status: 503, message: 'launch circuit breaker is open' },
  GH_STALE_DECISION: { status: 409, message: 'decision no longer matches the pool state' },
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
  /** The offending value as written, when there is one. */
  found?: unknown;
}

/** `FILE:LINE:COL: path.to.field: message (found VALUE)` */
export function formatIssue(i: ValidationIssue): string {
  const where = `${i.file}:${i.line}:${i.col}`;
  const field = i.path ? `${i.path}: ` : '';
  const found = i.found === undefined ? '' : ` (found ${JSON.stringify(i.found)})`;
  return `${where}: ${field}${i.message}${found}`;
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

/** Wrap anything thrown into a GridhostError with the given code, keeping the cause. */
export function wrapError(code: ErrorCode, e: unknown, details: Record<string, unknown> = {}): GridhostError {
  if (e instanceof GridhostError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new GridhostError(code, `${ERROR_CODES[code].message}: ${msg}`, details, { cause: e });
}
