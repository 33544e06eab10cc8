// Table-driven: one test per validation rule / default of the policy format.
// Each rejected case must produce exactly one issue (so it tests that rule and no other).

import test from 'ava';
import { stringify } from 'yaml';
import type { Policy } from '../../src/domain/policy.ts';
import { tryParsePolicy, type PolicyOptions } from '../../src/policy/parse-policy.ts';
import { sampleKeyOf } from '../../src/domain/metric-catalogue.ts';

type Obj = Record<string, any>;
const TEMPLATES = '/srv/gridhost/templates';

function base(): Obj {
  return {
    pool: 'web',
    guest: { template: 'web.local.yaml', image: 'images/web' },
    rules: [{ name: 'busy', strategy: 'threshold', metric: 'cpu', above: 70, step: '+1' }],
  };
}

function run(patch: (p: Obj) => void, opts: Partial<PolicyOptions> = {}) {
  const p = base();
  patch(p);
  return tryParsePolicy(stringify(p), 'p.yaml', { templatesDir: TEMPLATES, ...opts });
}

const threshold = (extra: Obj): Obj => ({ strategy: 'threshold', metric: 'cpu', ...extra });
const tracking = (extra: Obj): Obj => ({ strategy: 'target-tracking', metric: 'rps', target: 40, ...extra });
const schedule = (extra: Obj): Obj => ({ name: 'campaign', cron: '0 9 * * 1-5', duration: '1h', min: 4, ...extra });

interface Reject {
  rule: string;
  patch: (p: Obj) => void;
  path: string;
  message: RegExp;
  opts?: Partial<PolicyOptions>;
}

const rejects: Reject[] = [
  // pool
  { rule: 'pool is required', patch: (p) => delete p.pool, path: 'pool', message: /required/ },
  { rule: 'pool name may not contain "/" or ".." (it becomes a path)', patch: (p) => (p.pool = '../x'), path: 'pool', message: /file paths/ },
  { rule: 'pool name may not contain shell characters (it reaches commands)', patch: (p) => (p.pool = 'a;rm'), path: 'pool', message: /shell characters/ },
  { rule: 'pool name must start with a letter', patch: (p) => (p.pool = '1web'), path: 'pool', message: /starting with a letter/ },
  { rule: 'pool name is lowercase', patch: (p) => (p.pool = 'Web'), path: 'pool', message: /a-z/ },
  { rule: 'pool name has no underscores or spaces', patch: (p) => (p.pool = 'web pool'), path: 'pool', message: /a-z/ },
  { rule: 'pool name is at most 32 characters', patch: (p) => (p.pool = 'a'.repeat(33)), path: 'pool', message: /1-32/ },
  { rule: 'pool must be a string', patch: (p) => (p.pool = 42), path: 'pool', message: /must be a string/ },
  // min / max
  { rule: 'min must be an integer', patch: (p) => (p.min = 2.5), path: 'min', message: /integer/ },
  { rule: 'min must be a number, not text', patch: (p) => (p.min = 'two'), path: 'min', message: /must be an integer, found a string/ },
  { rule: 'min must be >= 1', patch: (p) => (p.min = 0), path: 'min', message: />= 1/ },
  { rule: 'max must be an integer', patch: (p) => (p.max = 4.5), path: 'max', message: /integer/ },
  { rule: 'min must be <= max', patch: (p) => ((p.min = 5), (p.max = 3)), path: 'min', message: /<= max \(3\)/ },
  { rule: 'max below the default min is reported at max', patch: (p) => (p.max = 1), path: 'max', message: />= min \(2, the default\)/ },
  { rule: 'max must be <= the hard cap (default 8)', patch: (p) => (p.max = 9), path: 'max', message: /<= 8 \(limits.hard_max\)/ },
  { rule: 'max must be <= a configured hard cap', patch: (p) => (p.max = 5), path: 'max', message: /<= 4/, opts: { hardMax: 4 } },
  { rule: 'min must be <= the hard cap', patch: (p) => ((p.min = 9), (p.max = 8)), path: 'min', message: /<= 8/ },
  // unknown keys at every level
  { rule: 'unknown top-level key is rejected', patch: (p) => (p.maxx = 3), path: 'maxx', message: /unknown key; did you mean max\?/ },
  { rule: 'unknown guest key is rejected', patch: (p) => (p.guest.cpu = 2), path: 'guest.cpu', message: /unknown key/ },
  { rule: 'unknown balancer key is rejected', patch: (p) => (p.balancer = { port: 80 }), path: 'balancer.port', message: /unknown key/ },
  { rule: 'unknown sampling key is rejected', patch: (p) => (p.sampling = { every: '5s' }), path: 'sampling.every', message: /unknown key/ },
  { rule: 'unknown scale_out key is rejected', patch: (p) => (p.scale_out = { step: 2 }), path: 'scale_out.step', message: /unknown key/ },
  { rule: 'unknown scale_in key is rejected', patch: (p) => (p.scale_in = { stabilisation: '1m' }), path: 'scale_in.stabilisation', message: /did you mean stabilization/ },
  { rule: 'unknown breaker key is rejected', patch: (p) => (p.breaker = { failure: 3 }), path: 'breaker.failure', message: /did you mean failures/ },
  { rule: 'unknown threshold rule key is rejected', patch: (p) => (p.rules[0].target = 3), path: 'rules.0.target', message: /unknown key/ },
  { rule: 'unknown target-tracking rule key is rejected', patch: (p) => (p.rules = [tracking({ step: '+1' })]), path: 'rules.0.step', message: /unknown key/ },
  { rule: 'unknown schedule key is rejected', patch: (p) => (p.schedules = [schedule({ tz: 'UTC' })]), path: 'schedules.0.tz', message: /unknown key/ },
  // types of sections
  { rule: 'guest must be a mapping', patch: (p) => (p.guest = 'web'), path: 'guest', message: /must be a mapping, found a string/ },
  { rule: 'guest is required', patch: (p) => delete p.guest, path: 'guest', message: /required/ },
  { rule: 'rules must be a list', patch: (p) => (p.rules = { busy: 1 }), path: 'rules', message: /must be a list, found a mapping/ },
  // durations
  { rule: 'a bare number is not a duration', patch: (p) => (p.warmup = 10), path: 'warmup', message: /needs a unit/ },
  { rule: 'garbage is not a duration', patch: (p) => (p.scale_out = { cooldown: 'a while' }), path: 'scale_out.cooldown', message: /cannot read/ },
  { rule: 'scale_out.while_booting is hold or add', patch: (p) => (p.scale_out = { while_booting: 'wait' }), path: 'scale_out.while_booting', message: /hold, add|hold.*add/ },
  { rule: 'unknown_guests is retire or adopt', patch: (p) => (p.unknown_guests = 'keep'), path: 'unknown_guests', message: /retire.*adopt/ },
  { rule: 'sampling.interval must be > 0', patch: (p) => (p.sampling = { interval: '0s' }), path: 'sampling.interval', message: /longer than 0/ },
  { rule: 'sampling.window must be > 0', patch: (p) => (p.sampling = { window: '0s' }), path: 'sampling.window', message: /longer than 0/ },
  { rule: 'sampling.window must be >= sampling.interval', patch: (p) => (p.sampling = { interval: '10s', window: '5s' }), path: 'sampling.window', message: />= the interval/ },
  { rule: 'breaker.open_for must be > 0', patch: (p) => (p.breaker = { open_for: '0s' }), path: 'breaker.open_for', message: /longer than 0/ },
  { rule: 'guest.boot_timeout must be > 0', patch: (p) => (p.guest.boot_timeout = '0s'), path: 'guest.boot_timeout', message: /longer than 0/ },
  { rule: 'guest.stop_timeout must be > 0', patch: (p) => (p.guest.stop_timeout = '0ms'), path: 'guest.stop_timeout', message: /longer than 0/ },
  { rule: 'guest.drain_timeout must be > 0', patch: (p) => (p.guest.drain_timeout = '0m'), path: 'guest.drain_timeout', message: /longer than 0/ },
  // rules
  { rule: 'rules are required', patch: (p) => delete p.rules, path: 'rules', message: /required/ },
  { rule: 'rules must not be empty', patch: (p) => (p.rules = []), path: 'rules', message: /must not be empty/ },
  { rule: 'rule names are unique', patch: (p) => p.rules.push(threshold({ name: 'busy', below: 10, step: '-1' })), path: 'rules.1.name', message: /duplicate rule name; rules.0/ },
  { rule: 'an explicit rule name may not collide with a default one', patch: (p) => (p.rules = [threshold({ above: 1, step: '+1' }), threshold({ name: 'rule-0', below: 1, step: '-1' })]), path: 'rules.1.name', message: /duplicate/ },
  { rule: 'a rule needs a strategy', patch: (p) => delete p.rules[0].strategy, path: 'rules.0.strategy', message: /required/ },
  { rule: 'strategy is threshold or target-tracking', patch: (p) => (p.rules[0].strategy = 'pid'), path: 'rules.0.strategy', message: /threshold \| target-tracking/ },
  { rule: 'a rule needs a metric', patch: (p) => delete p.rules[0].metric, path: 'rules.0.metric', message: /required/ },
  { rule: 'metric names are lowercase', patch: (p) => (p.rules[0].metric = 'CPU'), path: 'rules.0.metric', message: /lowercase/ },
  { rule: 'metric names start with a letter', patch: (p) => (p.rules[0].metric = '2xx'), path: 'rules.0.metric', message: /starting with a letter/ },
  { rule: 'metric names are at most 64 characters', patch: (p) => (p.rules[0].metric = 'm'.repeat(65)), path: 'rules.0.metric', message: /at most 64/ },
  { rule: 'a metric no source provides is rejected, naming the metrics that exist', patch: (p) => (p.rules[0].metric = 'latency_p99'), path: 'rules.0.metric', message: /no source provides metric latency_p99 for this pool.*metrics that exist: cpu \(hypervisor\); rps, inflight, requests_total, cpu_seconds \(guest\)/ },
  { rule: 'a misspelt metric gets a suggestion', patch: (p) => (p.rules[0].metric = 'rsp'), path: 'rules.0.metric', message: /did you mean rps\?/ },
  { rule: 'a metric only the balancer measures is read only with source: balancer', patch: (p) => (p.rules = [tracking({ metric: 'latency_p95_ms', target: 200 })]), path: 'rules.0.metric', message: /no source provides metric latency_p95_ms.*the balancer measures latency_p95_ms too, and a rule reads it with `source: balancer`/ },
  { rule: 'a guest metric not listed in guest.metrics is rejected', patch: (p) => ((p.guest.metrics = ['rps']), (p.rules = [tracking({ metric: 'inflight' })])), path: 'rules.0.metric', message: /no source provides metric inflight.*rps \(guest\)/ },
  { rule: 'source: hypervisor does not provide guest metrics', patch: (p) => (p.rules = [tracking({ source: 'hypervisor' })]), path: 'rules.0.metric', message: /source hypervisor does not provide rps: it provides cpu/ },
  { rule: 'source: guest does not provide cpu', patch: (p) => (p.rules[0].source = 'guest'), path: 'rules.0.metric', message: /source guest does not provide cpu.*add it to guest.metrics/ },
  { rule: 'source is one of the catalogue', patch: (p) => (p.rules[0].source = 'snmp'), path: 'rules.0.source', message: /must be one of hypervisor \| guest/ },
  { rule: 'memory_mb needs the xen driver', patch: (p) => (p.rules[0].metric = 'memory_mb'), path: 'rules.0.metric', message: /memory_mb is measured only for guest.driver xen; this pool's guests \(driver local\) provide cpu \(hypervisor\)/ },
  { rule: 'guest.metrics must be a list', patch: (p) => (p.guest.metrics = 'rps'), path: 'guest.metrics', message: /must be a list/ },
  { rule: 'guest.metrics names follow the metric name rule', patch: (p) => (p.guest.metrics = ['Bad-Name']), path: 'guest.metrics.0', message: /lowercase/ },
  { rule: 'guest.metrics lists a name once', patch: (p) => (p.guest.metrics = ['rps', 'rps']), path: 'guest.metrics.1', message: /listed twice; guest.metrics.0/ },
  { rule: 'a guest may not report a metric under a hypervisor name', patch: (p) => (p.guest.metrics = ['rps', 'cpu']), path: 'guest.metrics.1', message: /cpu is measured by the hypervisor.*guest_cpu/ },
  { rule: 'aggregate is mean, max or sum', patch: (p) => (p.rules[0].aggregate = 'median'), path: 'rules.0.aggregate', message: /mean \| max \| sum/ },
  { rule: 'threshold needs one of above/below', patch: (p) => delete p.rules[0].above, path: 'rules.0', message: /needs one of above/ },
  { rule: 'threshold may not set both above and below', patch: (p) => (p.rules[0].below = 10), path: 'rules.0.below', message: /exactly one of above or below/ },
  { rule: 'above must be a number', patch: (p) => (p.rules[0].above = 'high'), path: 'rules.0.above', message: /must be a number/ },
  { rule: 'for must be an integer', patch: (p) => (p.rules[0].for = 1.5), path: 'rules.0.for', message: /integer/ },
  { rule: 'for must be >= 1', patch: (p) => (p.rules[0].for = 0), path: 'rules.0.for', message: />= 1/ },
  { rule: 'threshold needs a step', patch: (p) => delete p.rules[0].step, path: 'rules.0.step', message: /required/ },
  { rule: 'step needs an explicit sign', patch: (p) => (p.rules[0].step = 1), path: 'rules.0.step', message: /explicit sign/ },
  { rule: 'step may not be zero', patch: (p) => (p.rules[0].step = '+0'), path: 'rules.0.step', message: /not be 0/ },
  { rule: 'percent step may not be zero', patch: (p) => (p.rules[0].step = '+0%'), path: 'rules.0.step', message: /not be 0/ },
  { rule: 'count step must be an integer', patch: (p) => (p.rules[0].step = '+1.5'), path: 'rules.0.step', message: /\+n \/ -n/ },
  { rule: 'step garbage is rejected', patch: (p) => (p.rules[0].step = 'lots'), path: 'rules.0.step', message: /\+n \/ -n/ },
  { rule: 'an above rule must have a positive step', patch: (p) => (p.rules[0].step = '-1'), path: 'rules.0.step', message: /must be positive/ },
  { rule: 'a below rule must have a negative step', patch: (p) => (p.rules = [threshold({ below: 10, step: '+25%' })]), path: 'rules.0.step', message: /must be negative/ },
  { rule: 'target-tracking needs a target', patch: (p) => (p.rules = [tracking({ target: undefined })]), path: 'rules.0.target', message: /required/ },
  { rule: 'target must be > 0', patch: (p) => (p.rules = [tracking({ target: 0 })]), path: 'rules.0.target', message: /> 0/ },
  { rule: 'target must be positive', patch: (p) => (p.rules = [tracking({ target: -5 })]), path: 'rules.0.target', message: /> 0/ },
  { rule: 'tolerance must be < 1', patch: (p) => (p.rules = [tracking({ tolerance: 1 })]), path: 'rules.0.tolerance', message: /< 1/ },
  { rule: 'tolerance must be >= 0', patch: (p) => (p.rules = [tracking({ tolerance: -0.1 })]), path: 'rules.0.tolerance', message: />= 0/ },
  { rule: 'target-tracking for must be >= 1', patch: (p) => (p.rules = [tracking({ for: 0 })]), path: 'rules.0.for', message: />= 1/ },
  // enums
  { rule: 'on_missing is hold or scale-out', patch: (p) => (p.on_missing = 'panic'), path: 'on_missing', message: /hold \| scale-out/ },
  { rule: 'clone is one of the known methods', patch: (p) => (p.guest.clone = 'rsync'), path: 'guest.clone', message: /auto \| reflink \| copy \| lvm-snapshot \| qcow2/ },
  { rule: 'the local driver cannot clone with lvm-snapshot', patch: (p) => (p.guest.clone = 'lvm-snapshot'), path: 'guest.clone', message: /needs the xen driver/ },
  { rule: 'driver is local or xen', patch: (p) => (p.guest.driver = 'kvm'), path: 'guest.driver', message: /local \| xen/ },
  { rule: 'breaker.failures must be >= 1', patch: (p) => (p.breaker = { failures: 0 }), path: 'breaker.failures', message: />= 1/ },
  { rule: 'source: balancer provides only what the balancer measures', patch: (p) => (p.rules[0].source = 'balancer'), path: 'rules.0.metric', message: /source balancer does not provide cpu: it provides rps, inflight, queue_ms, latency_p95_ms, http_5xx_ratio/ },
  { rule: 'auto_heal.enabled is true or false', patch: (p) => (p.auto_heal = { enabled: 'yes' }), path: 'auto_heal.enabled', message: /true or false/ },
  { rule: 'auto_heal.max_concurrent must be >= 1', patch: (p) => (p.auto_heal = { max_concurrent: 0 }), path: 'auto_heal.max_concurrent', message: />= 1/ },
  { rule: 'unknown auto_heal key is rejected', patch: (p) => (p.auto_heal = { max: 2 }), path: 'auto_heal.max', message: /unknown key/ },
  // guest paths
  { rule: 'health_path must start with /', patch: (p) => (p.guest.health_path = 'healthz'), path: 'guest.health_path', message: /starting with "\/"/ },
  { rule: 'metrics_path must start with /', patch: (p) => (p.guest.metrics_path = 'metrics'), path: 'guest.metrics_path', message: /starting with "\/"/ },
  { rule: 'template is required', patch: (p) => delete p.guest.template, path: 'guest.template', message: /required/ },
  { rule: 'image is required', patch: (p) => delete p.guest.image, path: 'guest.image', message: /required/ },
  { rule: 'an absolute template path is rejected', patch: (p) => (p.guest.template = '/etc/passwd'), path: 'guest.template', message: /not an absolute path/ },
  { rule: 'a template path escaping the templates folder is rejected', patch: (p) => (p.guest.template = '../secrets.yaml'), path: 'guest.template', message: /stay inside the templates folder/ },
  { rule: 'an image path escaping via nested .. is rejected', patch: (p) => (p.guest.image = 'images/../../x'), path: 'guest.image', message: /stay inside/ },
  { rule: 'a missing template is rejected when existence is checked', patch: () => {}, path: 'guest.template', message: /template file not found: \/srv\/gridhost\/templates\/web.local.yaml/, opts: { exists: (f) => !f.endsWith('.yaml') } },
  { rule: 'a missing image is rejected when existence is checked', patch: () => {}, path: 'guest.image', message: /base image not found: \/srv\/gridhost\/templates\/images\/web/, opts: { exists: (f) => f.endsWith('.yaml') } },
  { rule: 'a xen image must be an absolute dom0 path', patch: (p) => ((p.guest.driver = 'xen'), (p.guest.image = 'images/web.img')), path: 'guest.image', message: /absolute path on dom0/ },
  { rule: 'a xen image may not contain shell metacharacters', patch: (p) => ((p.guest.driver = 'xen'), (p.guest.image = '/dev/vg0/web;reboot')), path: 'guest.image', message: /passed to remote commands/ },
  { rule: 'a xen image may not contain ..', patch: (p) => ((p.guest.driver = 'xen'), (p.guest.image = '/dev/../etc/shadow')), path: 'guest.image', message: /must not contain "\.\."/ },
  // balancer
  { rule: 'balancer.listen needs a port', patch: (p) => (p.balancer = { listen: 'localhost' }), path: 'balancer.listen', message: /host:port/ },
  { rule: 'balancer.listen needs a host', patch: (p) => (p.balancer = { listen: ':8080' }), path: 'balancer.listen', message: /host:port/ },
  { rule: 'balancer.listen port 0 is rejected', patch: (p) => (p.balancer = { listen: '127.0.0.1:0' }), path: 'balancer.listen', message: /1\.\.65535/ },
  { rule: 'balancer.listen port above 65535 is rejected', patch: (p) => (p.balancer = { listen: '127.0.0.1:65536' }), path: 'balancer.listen', message: /1\.\.65535/ },
  { rule: 'balancer.check.interval must be a positive duration', patch: (p) => (p.balancer = { check: { interval: '0s' } }), path: 'balancer.check.interval', message: /must be longer than 0/ },
  { rule: 'balancer.check.rise is at least 1', patch: (p) => (p.balancer = { check: { rise: 0 } }), path: 'balancer.check.rise', message: /must be >= 1/ },
  { rule: 'balancer.check.fall must be an integer', patch: (p) => (p.balancer = { check: { fall: 'two' } }), path: 'balancer.check.fall', message: /must be an integer/ },
  { rule: 'balancer.response_timeout must be a positive duration', patch: (p) => (p.balancer = { response_timeout: '0s' }), path: 'balancer.response_timeout', message: /must be longer than 0/ },
  { rule: 'balancer.panic_threshold is a percentage: at most 100', patch: (p) => (p.balancer = { panic_threshold: 150 }), path: 'balancer.panic_threshold', message: /100/ },
  { rule: 'balancer.panic_threshold is a percentage: not negative', patch: (p) => (p.balancer = { panic_threshold: -1 }), path: 'balancer.panic_threshold', message: /0/ },
  { rule: 'balancer.check rejects unknown keys', patch: (p) => (p.balancer = { check: { inter: '2s' } }), path: 'balancer.check.inter', message: /unknown key; allowed here: interval, timeout, rise, fall/ },
  // schedules
  { rule: 'schedules must be a list', patch: (p) => (p.schedules = 'weekdays'), path: 'schedules', message: /must be a list/ },
  { rule: 'a schedule needs a cron expression', patch: (p) => (p.schedules = [schedule({ cron: undefined })]), path: 'schedules.0.cron', message: /required/ },
  { rule: 'cron must be valid for node-cron', patch: (p) => (p.schedules = [schedule({ cron: '0 9 * *' })]), path: 'schedules.0.cron', message: /expected 5 or 6 fields/ },
  { rule: 'cron field values are range-checked', patch: (p) => (p.schedules = [schedule({ cron: '61 * * * *' })]), path: 'schedules.0.cron', message: /not a valid cron expression/ },
  { rule: 'cron that can never fire is rejected', patch: (p) => (p.schedules = [schedule({ cron: '0 0 30 2 *' })]), path: 'schedules.0.cron', message: /impossible day/ },
  { rule: 'timezone must be a known IANA zone', patch: (p) => (p.schedules = [schedule({ timezone: 'Mars/Olympus' })]), path: 'schedules.0.timezone', message: /IANA/ },
  { rule: 'a schedule needs a duration', patch: (p) => (p.schedules = [schedule({ duration: undefined })]), path: 'schedules.0.duration', message: /required/ },
  { rule: 'schedule duration must be > 0', patch: (p) => (p.schedules = [schedule({ duration: '0s' })]), path: 'schedules.0.duration', message: /longer than 0/ },
  { rule: 'a schedule sets min or max', patch: (p) => (p.schedules = [schedule({ min: undefined })]), path: 'schedules.0', message: /min, max or both/ },
  { rule: 'schedule min must be >= 1', patch: (p) => (p.schedules = [schedule({ min: 0 })]), path: 'schedules.0.min', message: />= 1/ },
  { rule: 'schedule max must be <= the hard cap', patch: (p) => (p.schedules = [schedule({ min: undefined, max: 9 })]), path: 'schedules.0.max', message: /<= 8/ },
  { rule: 'schedule min must be <= the policy max when it sets no max', patch: (p) => ((p.max = 3), (p.schedules = [schedule({ min: 4 })])), path: 'schedules.0.min', message: /<= the max in force during the window \(3\)/ },
  { rule: 'schedule min must be <= its own max', patch: (p) => (p.schedules = [schedule({ min: 5, max: 4 })]), path: 'schedules.0.min', message: /\(4\)/ },
  { rule: 'schedule max must be >= the policy min when it sets no min', patch: (p) => ((p.min = 3), (p.schedules = [schedule({ min: undefined, max: 2 })])), path: 'schedules.0.max', message: />= the min in force during the window \(3\)/ },
  { rule: 'schedule names are unique', patch: (p) => (p.schedules = [schedule({}), schedule({ cron: '0 18 * * *' })]), path: 'schedules.1.name', message: /duplicate schedule name/ },
];

for (const c of rejects) {
  test(`rejects: ${c.rule}`, (t) => {
    const r = run(c.patch, c.opts);
    if (r.ok) return t.fail('expected the policy to be rejected');
    t.is(r.issues.length, 1, r.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
    t.is(r.issues[0]!.path, c.path);
    t.regex(r.issues[0]!.message, c.message);
    t.is(r.issues[0]!.file, 'p.yaml');
  });
}

interface Accept {
  rule: string;
  patch: (p: Obj) => void;
  get: (p: Policy) => unknown;
  want: unknown;
  opts?: Partial<PolicyOptions>;
}

const accepts: Accept[] = [
  { rule: 'min defaults to 2', patch: () => {}, get: (p) => p.min, want: 2 },
  { rule: 'max defaults to 8', patch: () => {}, get: (p) => p.max, want: 8 },
  { rule: 'max defaults to the hard cap when that is lower than 8', patch: () => {}, get: (p) => p.max, want: 4, opts: { hardMax: 4 } },
  { rule: 'max may go up to a higher configured hard cap', patch: (p) => (p.max = 12), get: (p) => p.max, want: 12, opts: { hardMax: 16 } },
  { rule: 'min may equal max', patch: (p) => ((p.min = 3), (p.max = 3)), get: (p) => [p.min, p.max], want: [3, 3] },
  { rule: 'pool name of 32 characters is accepted', patch: (p) => (p.pool = 'a'.repeat(32)), get: (p) => p.pool.length, want: 32 },
  { rule: 'pool name with digits and dashes is accepted', patch: (p) => (p.pool = 'web-2'), get: (p) => p.pool, want: 'web-2' },
  { rule: 'driver defaults to local', patch: () => {}, get: (p) => p.guest.driver, want: 'local' },
  { rule: 'clone defaults to auto', patch: () => {}, get: (p) => p.guest.clone, want: 'auto' },
  { rule: 'health_path defaults to /healthz', patch: () => {}, get: (p) => p.guest.healthPath, want: '/healthz' },
  { rule: 'metrics_path defaults to /metrics', patch: () => {}, get: (p) => p.guest.metricsPath, want: '/metrics' },
  { rule: 'boot_timeout defaults to 60s', patch: () => {}, get: (p) => p.guest.bootTimeoutMs, want: 60_000 },
  { rule: 'stop_timeout defaults to 10s', patch: () => {}, get: (p) => p.guest.stopTimeoutMs, want: 10_000 },
  { rule: 'drain_timeout defaults to 30s', patch: () => {}, get: (p) => p.guest.drainTimeoutMs, want: 30_000 },
  { rule: 'template and image resolve to absolute paths under the templates folder', patch: () => {}, get: (p) => [p.guest.template, p.guest.image], want: [`${TEMPLATES}/web.local.yaml`, `${TEMPLATES}/images/web`] },
  { rule: 'a template path with .. that stays inside is accepted', patch: (p) => (p.guest.template = 'images/../web.local.yaml'), get: (p) => p.guest.template, want: `${TEMPLATES}/web.local.yaml` },
  { rule: 'existing template and image pass the existence check', patch: () => {}, get: (p) => p.guest.image, want: `${TEMPLATES}/images/web`, opts: { exists: () => true } },
  { rule: 'a xen image is an absolute dom0 path, not checked locally', patch: (p) => ((p.guest.driver = 'xen'), (p.guest.clone = 'lvm-snapshot'), (p.guest.image = '/dev/vg0/web-base')), get: (p) => [p.guest.image, p.guest.clone], want: ['/dev/vg0/web-base', 'lvm-snapshot'], opts: { exists: (f) => f.endsWith('.yaml') } },
  { rule: 'the xen driver can clone with qcow2', patch: (p) => ((p.guest.driver = 'xen'), (p.guest.clone = 'qcow2'), (p.guest.image = '/var/lib/xen/web.qcow2')), get: (p) => p.guest.clone, want: 'qcow2' },
  { rule: 'balancer.listen defaults to 127.0.0.1:8080', patch: () => {}, get: (p) => p.balancer.listen, want: '127.0.0.1:8080' },
  { rule: 'balancer.listen accepts [IPv6]:port', patch: (p) => (p.balancer = { listen: '[::1]:9000' }), get: (p) => p.balancer.listen, want: '[::1]:9000' },
  { rule: 'balancer.check holds only what the policy sets (the balancer fills in its own defaults)', patch: () => {}, get: (p) => p.balancer.check, want: {} },
  { rule: 'balancer.response_timeout defaults to 60s', patch: () => {}, get: (p) => p.balancer.responseTimeoutMs, want: 60_000 },
  { rule: 'balancer.response_timeout is read as a duration', patch: (p) => (p.balancer = { response_timeout: '90s' }), get: (p) => p.balancer.responseTimeoutMs, want: 90_000 },
  { rule: 'balancer.panic_threshold defaults to 50 (percent, as Envoy)', patch: () => {}, get: (p) => p.balancer.panicThresholdPercent, want: 50 },
  { rule: 'balancer.panic_threshold 0 turns fail-open off', patch: (p) => (p.balancer = { panic_threshold: 0 }), get: (p) => p.balancer.panicThresholdPercent, want: 0 },
  { rule: 'balancer.check keeps the keys the policy sets', patch: (p) => (p.balancer = { listen: '127.0.0.1:9000', check: { interval: '3s', fall: 3 } }), get: (p) => p.balancer.check, want: { intervalMs: 3000, fall: 3 } },
  { rule: 'sampling defaults to interval 5s, window 5m', patch: () => {}, get: (p) => p.sampling, want: { intervalMs: 5_000, windowMs: 300_000 } },
  { rule: 'sampling window may equal the interval', patch: (p) => (p.sampling = { interval: '10s', window: '10s' }), get: (p) => p.sampling, want: { intervalMs: 10_000, windowMs: 10_000 } },
  { rule: 'warmup defaults to twice the sampling interval', patch: (p) => (p.sampling = { interval: '7s' }), get: (p) => p.warmupMs, want: 14_000 },
  { rule: 'warmup may be 0', patch: (p) => (p.warmup = '0s'), get: (p) => p.warmupMs, want: 0 },
  { rule: 'scale_out defaults to cooldown 1m, while_booting add', patch: () => {}, get: (p) => p.scaleOut, want: { cooldownMs: 60_000, whileBooting: 'add' } },
  { rule: 'scale_out.while_booting may be hold', patch: (p) => (p.scale_out = { while_booting: 'hold' }), get: (p) => p.scaleOut.whileBooting, want: 'hold' },
  { rule: 'unknown_guests defaults to retire', patch: () => {}, get: (p) => p.unknownGuests, want: 'retire' },
  { rule: 'unknown_guests may be adopt', patch: (p) => (p.unknown_guests = 'adopt'), get: (p) => p.unknownGuests, want: 'adopt' },
  { rule: 'scale_in defaults to cooldown 2m, stabilization 5m, victims newest', patch: () => {}, get: (p) => p.scaleIn, want: { cooldownMs: 120_000, stabilizationMs: 300_000, victims: 'newest' } },
  { rule: 'cooldowns and stabilization may be 0', patch: (p) => ((p.scale_out = { cooldown: '0s' }), (p.scale_in = { cooldown: '0s', stabilization: '0s' })), get: (p) => [p.scaleOut.cooldownMs, p.scaleIn.cooldownMs, p.scaleIn.stabilizationMs], want: [0, 0, 0] },
  { rule: 'durations combine units', patch: (p) => (p.scale_in = { stabilization: '1h30m' }), get: (p) => p.scaleIn.stabilizationMs, want: 5_400_000 },
  { rule: 'on_missing defaults to hold', patch: () => {}, get: (p) => p.onMissing, want: 'hold' },
  { rule: 'breaker defaults to 3 failures, open for 5m', patch: () => {}, get: (p) => p.breaker, want: { failures: 3, openMs: 300_000 } },
  { rule: 'a balancer metric is read under balancer:<metric>, apart from a guest metric of that name', patch: (p) => (p.rules = [tracking({ source: 'balancer', metric: 'inflight', target: 3 }), tracking({ metric: 'inflight', target: 5 })]), get: (p) => p.rules.map((r) => [r.metric, r.source, sampleKeyOf(r)]), want: [['inflight', 'balancer', 'balancer:inflight'], ['inflight', 'guest', 'inflight']] },
  { rule: 'auto_heal defaults to on, one replacement at a time', patch: () => {}, get: (p) => p.autoHeal, want: { enabled: true, maxConcurrent: 1 } },
  { rule: 'auto_heal may be turned off and allow more at once', patch: (p) => (p.auto_heal = { enabled: false, max_concurrent: 3 }), get: (p) => p.autoHeal, want: { enabled: false, maxConcurrent: 3 } },
  { rule: 'rule name defaults to rule-N (N = list index)', patch: (p) => p.rules.push(threshold({ below: 10, step: '-1' })), get: (p) => p.rules.map((r) => r.name), want: ['busy', 'rule-1'] },
  { rule: 'aggregate defaults to mean and for to 1', patch: () => {}, get: (p) => [p.rules[0]!.aggregate, p.rules[0]!.for], want: ['mean', 1] },
  { rule: 'threshold canonical form keeps only the bound that was set', patch: () => {}, get: (p) => p.rules[0], want: { name: 'busy', strategy: 'threshold', metric: 'cpu', source: 'hypervisor', aggregate: 'mean', above: 70, for: 1, step: { kind: 'count', value: 1 } } },
  { rule: 'a negative count step on a below rule', patch: (p) => (p.rules = [threshold({ below: 10, step: '-2' })]), get: (p) => (p.rules[0] as { step: unknown }).step, want: { kind: 'count', value: -2 } },
  { rule: 'a percent step', patch: (p) => (p.rules[0].step = '+50%'), get: (p) => (p.rules[0] as { step: unknown }).step, want: { kind: 'percent', value: 50 } },
  { rule: 'a negative percent step on a below rule', patch: (p) => (p.rules = [threshold({ below: 10, step: '-25%' })]), get: (p) => (p.rules[0] as { step: unknown }).step, want: { kind: 'percent', value: -25 } },
  { rule: 'target-tracking defaults: tolerance 0.1, for 1, aggregate mean', patch: (p) => (p.rules = [tracking({})]), get: (p) => p.rules[0], want: { name: 'rule-0', strategy: 'target-tracking', metric: 'rps', source: 'guest', aggregate: 'mean', target: 40, tolerance: 0.1, for: 1 } },
  { rule: 'tolerance may be 0', patch: (p) => (p.rules = [tracking({ tolerance: 0 })]), get: (p) => (p.rules[0] as { tolerance: number }).tolerance, want: 0 },
  { rule: 'metric names allow digits and underscores', patch: (p) => ((p.guest.metrics = ['http_5xx']), (p.rules[0].metric = 'http_5xx')), get: (p) => p.rules[0]!.metric, want: 'http_5xx' },
  // the metric catalogue (src/domain/metric-catalogue.ts)
  { rule: 'guest.metrics defaults to what the example guest reports', patch: () => {}, get: (p) => p.guest.metrics, want: ['rps', 'inflight', 'requests_total', 'cpu_seconds'] },
  { rule: 'guest.metrics may be empty (a guest without a metrics endpoint)', patch: (p) => (p.guest.metrics = []), get: (p) => p.guest.metrics, want: [] },
  { rule: 'a rule on a metric listed in guest.metrics has source guest', patch: (p) => ((p.guest.metrics = ['queue_depth']), (p.rules = [tracking({ metric: 'queue_depth' })])), get: (p) => [p.rules[0]!.metric, p.rules[0]!.source], want: ['queue_depth', 'guest'] },
  { rule: 'a rule on cpu has source hypervisor', patch: () => {}, get: (p) => p.rules[0]!.source, want: 'hypervisor' },
  { rule: 'source may be given explicitly', patch: (p) => (p.rules = [tracking({ source: 'guest' })]), get: (p) => p.rules[0]!.source, want: 'guest' },
  { rule: 'the xen driver adds xentop memory_mb and vcpus', patch: (p) => ((p.guest.driver = 'xen'), (p.guest.image = '/var/lib/xen/web.img'), (p.rules[0].metric = 'memory_mb')), get: (p) => [p.rules[0]!.metric, p.rules[0]!.source], want: ['memory_mb', 'hypervisor'] },
  { rule: 'schedules default to none', patch: () => {}, get: (p) => p.schedules, want: [] },
  { rule: 'schedule timezone defaults to UTC', patch: (p) => (p.schedules = [schedule({})]), get: (p) => p.schedules[0], want: { name: 'campaign', cron: '0 9 * * 1-5', timezone: 'UTC', durationMs: 3_600_000, min: 4 } },
  { rule: 'a six-field cron with seconds is accepted', patch: (p) => (p.schedules = [schedule({ cron: '30 0 9 * * 1-5', timezone: 'America/New_York' })]), get: (p) => [p.schedules[0]!.cron, p.schedules[0]!.timezone], want: ['30 0 9 * * 1-5', 'America/New_York'] },
  { rule: 'a schedule may set only max', patch: (p) => (p.schedules = [schedule({ min: undefined, max: 3 })]), get: (p) => p.schedules[0], want: { name: 'campaign', cron: '0 9 * * 1-5', timezone: 'UTC', durationMs: 3_600_000, max: 3 } },
  { rule: 'schedule name defaults to schedule-N', patch: (p) => (p.schedules = [schedule({ name: undefined })]), get: (p) => p.schedules[0]!.name, want: 'schedule-0' },
];

for (const c of accepts) {
  test(`accepts: ${c.rule}`, (t) => {
    const r = run(c.patch, c.opts);
    if (!r.ok) return t.fail(r.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
    t.deepEqual(c.get(r.policy), c.want);
  });
}
