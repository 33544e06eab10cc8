// What an operator reads when HAProxy cannot take a pool's guests: the pool, what HAProxy
// answered, and what to change in haproxy.cfg (or the policy). Pure.
import { GridhostError } from '../../../errors/errors.ts';

/** The same code as `cause`, its message in the pool's terms with the fix. Idempotent. */
export function blockedError(pool: string, backend: string, socket: string, prefix: string, cause: GridhostError): GridhostError {
  if (cause.details.pool === pool) return cause;
  const said = cause.message;
  let fix: string;
  switch (cause.code) {
    case 'GH_HAPROXY_UNREACHABLE':
      fix = `haproxy.cfg's global section must open it (\`stats socket ${socket} mode 660 level admin\`) and HAProxy must be running; gridhost.yaml's haproxy.socket names the same path or address`;
      break;
    case 'GH_HAPROXY_NOT_ADMIN':
      fix = `gridhost adds and removes servers, which needs admin: write \`level admin\` on that \`stats socket\` line of haproxy.cfg and reload HAProxy`;
      break;
    case 'GH_HAPROXY_PERMISSION_DENIED':
      fix = `give gridhost an admin socket: \`stats socket ${socket} mode 660 level admin\` in haproxy.cfg's global section (user/group letting gridhost's user open it)`;
      break;
    case 'GH_HAPROXY_UNKNOWN_BACKEND':
      fix = `add \`backend ${backend}\` (with \`option httpchk GET <the pool's guest.health_path>\`) and a frontend using it to haproxy.cfg and reload HAProxy (templates/haproxy.cfg shows one), or name the pool's backend in its policy (balancer.backend)`;
      break;
    case 'GH_HAPROXY_SERVER_EXISTS':
      fix = `gridhost did not create it, and server names starting with "${prefix}" are gridhost's: rename that server in haproxy.cfg (or give this pool a backend of its own) and reload HAProxy`;
      break;
    default:
      fix = '';
  }
  const message = `pool ${pool}: ${said}${fix ? `; ${fix}` : ''}`;
  return new GridhostError(cause.code, message, { ...cause.details, pool, backend }, { cause });
}

/** HAProxy dials guests itself: one reachable only through its dom0's SSH connection cannot be registered. */
export function routeError(pool: string, id: string, via: string): GridhostError {
  return new GridhostError('GH_BALANCER_FAILED',
    `pool ${pool}: guest ${id} is reachable only through ${via}'s SSH connection, which HAProxy cannot use; route the guest network to HAProxy's machine and set guest_network: routed for ${via} in gridhost.yaml, or use balancer.driver: builtin`,
    { pool, id, via });
}
