// The commands that talk to a running gridhost over its API.
import type { CommandSpec } from './client-command.ts';
import { pauseCommand, resetBreakerCommand, resumeCommand, retireCommand, scaleCommand } from './control-commands.ts';
import { eventsCommand } from './events-command.ts';
import { rolloutCommand } from './rollout-command.ts';
import { drainHostCommand, hostsCommand, undrainHostCommand } from './host-commands.ts';
import { explainCommand } from './explain-command.ts';
import { statusCommand } from './status-command.ts';

export const CLIENT_COMMANDS: Readonly<Record<string, CommandSpec>> = {
  status: statusCommand,
  events: eventsCommand,
  explain: explainCommand,
  scale: scaleCommand,
  pause: pauseCommand,
  resume: resumeCommand,
  retire: retireCommand,
  'reset-breaker': resetBreakerCommand,
  rollout: rolloutCommand,
  hosts: hostsCommand,
  'drain-host': drainHostCommand,
  'undrain-host': undrainHostCommand,
};

/** Lines for gridhost's main usage text. */
export const CLIENT_USAGE = `  status [POOL]            every pool (like kubectl get hpa), or one pool with its guests
  events [--pool P] [-f]   scale events and operator actions; --follow keeps printing
  explain POOL [--at T]    why did it (not) scale: the evaluations, each hold and its cause
  scale POOL N             hold POOL at N guests by hand (--force: past its bounds)
  pause|resume POOL        stop / restart automatic action for POOL
  retire POOL GUEST        drain and retire one guest (replaced first if at min)
  reset-breaker POOL       close POOL's launch circuit breaker
  rollout POOL [--wait]    replace guests made from another template or base image, with surge
  hosts                    every hypervisor host: open, draining or drained, its guests
  drain-host HOST [--wait] close HOST for maintenance; pools move their guests off it
  undrain-host HOST        open HOST for placement again
                           (these talk to a running gridhost: --url/GRIDHOST_URL, --token/
                           GRIDHOST_API_TOKEN; each has --help; exit 0 ok, 1 failed, 2 usage)`;
