// Pure parsers of xl / xentop output (Xen 4.17), tested against verbatim outputs of a real lab.
import { GridhostError, type ErrorCode } from '../../errors/errors.ts';

export interface XlDomain {
  domid: number;
  name: string;
  /** Absent for Domain-0. */
  uuid?: string;
  /** Current target memory, MiB (target_memkb / 1024, rounded). */
  memoryMb: number;
  maxMemoryMb: number;
  /** vCPUs online (avail_vcpus), else max_vcpus, else 1. */
  vcpus: number;
  /** The most vCPUs the domain may bring online (max_vcpus, its maxvcpus), else vcpus. */
  maxVcpus: number;
  /** xl's six-letter state ("-b----"), when known (only `xl list` shows it, not `xl list -l`). */
  state?: string;
  /** Guest kernel command line, disks' backing paths and MACs (from the config). */
  cmdline?: string;
  disks: string[];
  macs: string[];
}

function bad(what: string, detail: string): GridhostError {
  return new GridhostError('GH_COMMAND_FAILED', `unexpected ${what} output: ${detail}`);
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** `xl list -l` (JSON array, one entry per domain). An empty output means no domains. */
export function parseXlListLong(json: string): XlDomain[] {
  if (json.trim() === '') return [];
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (e) {
    throw bad('xl list -l', `not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(data)) throw bad('xl list -l', 'not a JSON array');
  return data.map((entry: unknown, i) => {
    const d = entry as { domid?: unknown; config?: { c_info?: Record<string, unknown>; b_info?: Record<string, unknown>; disks?: unknown; nics?: unknown } };
    const c = d.config?.c_info ?? {};
    const b = d.config?.b_info ?? {};
    const domid = num(d.domid);
    const name = c['name'];
    if (domid === undefined || typeof name !== 'string') throw bad('xl list -l', `entry ${i} has no domid or name`);
    const target = num(b['target_memkb']) ?? 0;
    const max = num(b['max_memkb']) ?? target;
    const avail = b['avail_vcpus'];
    const vcpus = Array.isArray(avail) ? avail.length : (num(b['max_vcpus']) ?? 1);
    const dom: XlDomain = {
      domid,
      name,
      memoryMb: Math.round(target / 1024),
      maxMemoryMb: Math.round(max / 1024),
      vcpus,
      maxVcpus: Math.max(vcpus, num(b['max_vcpus']) ?? vcpus),
      disks: Array.isArray(d.config?.disks)
        ? (d.config.disks as Array<Record<string, unknown>>).map((x) => x['pdev_path']).filter((p): p is string => typeof p === 'string')
        : [],
      macs: Array.isArray(d.config?.nics)
        ? (d.config.nics as Array<Record<string, unknown>>).map((x) => x['mac']).filter((m): m is string => typeof m === 'string')
        : [],
    };
    if (typeof c['uuid'] === 'string') dom.uuid = c['uuid'];
    if (typeof b['cmdline'] === 'string') dom.cmdline = b['cmdline'];
    return dom;
  });
}

export interface XlListRow {
  name: string;
  domid: number;
  memoryMb: number;
  vcpus: number;
  state: string;
}

/** Plain `xl list`: Name ID Mem VCPUs State Time(s). */
export function parseXlList(text: string): XlListRow[] {
  const rows: XlListRow[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || f[0] === 'Name') continue;
    const [time, state, vcpus, mem, id] = [f.pop(), f.pop(), f.pop(), f.pop(), f.pop()];
    const row = { name: f.join(' '), domid: Number(id), memoryMb: Number(mem), vcpus: Number(vcpus), state: state ?? '' };
    if (!Number.isInteger(row.domid) || Number.isNaN(Number(time))) throw bad('xl list', JSON.stringify(line));
    rows.push(row);
  }
  return rows;
}

export interface XlInfo {
  totalMemoryMb: number;
  freeMemoryMb: number;
  nrCpus: number;
  xenVersion?: string;
  /** The hypervisor's scheduler (credit, credit2, rtds, null, arinc653). */
  xenScheduler?: string;
}

/** `xl info`: "key : value" lines. */
export function parseXlInfo(text: string): XlInfo {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) kv.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const n = (k: string): number => {
    const v = Number(kv.get(k));
    if (!kv.has(k) || !Number.isFinite(v)) throw bad('xl info', `no numeric ${k}`);
    return v;
  };
  const info: XlInfo = { totalMemoryMb: n('total_memory'), freeMemoryMb: n('free_memory'), nrCpus: n('nr_cpus') };
  const ver = kv.get('xen_version');
  if (ver) info.xenVersion = ver;
  const sched = kv.get('xen_scheduler');
  if (sched) info.xenScheduler = sched;
  return info;
}

export interface XentopRow {
  name: string;
  state: string;
  /** % of one physical CPU over the sampling interval (can exceed 100 with several vCPUs). */
  cpuPercent: number;
  memoryKb: number;
  vcpus: number;
}

/**
 * `xentop -b -f -d 1 -i 2`: batch output, one table per iteration. Only the LAST iteration is
 * used: the first has no previous sample and reports CPU(%) 0.0 for every domain.
 * (-f prints full names: without it xentop cuts names to 10 characters.)
 */
export function parseXentop(text: string): Map<string, XentopRow> {
  const tables: string[][] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t.startsWith('NAME ')) tables.push([t]);
    else if (t !== '' && tables.length > 0) tables[tables.length - 1]?.push(t);
  }
  const last = tables[tables.length - 1];
  if (!last) throw bad('xentop', 'no NAME header');
  const header = (last[0] ?? '').split(/\s+/);
  const col = (h: string): number => {
    const i = header.indexOf(h);
    if (i < 0) throw bad('xentop', `no ${h} column`);
    return i;
  };
  const [iName, iState, iCpu, iMem, iVcpus] = [col('NAME'), col('STATE'), col('CPU(%)'), col('MEM(k)'), col('VCPUS')];
  const out = new Map<string, XentopRow>();
  for (const line of last.slice(1)) {
    // "no limit" (MAXMEM of an unlimited domain) is the only value with a space in it.
    const f = line.replace(/no limit/g, 'no-limit').split(/\s+/);
    if (f.length !== header.length) continue; // a summary or wrapped line, not a domain row
    const row: XentopRow = {
      name: f[iName] ?? '',
      state: f[iState] ?? '',
      cpuPercent: Number(f[iCpu]),
      memoryKb: Number(f[iMem]),
      vcpus: Number(f[iVcpus]),
    };
    if ([row.cpuPercent, row.memoryKb, row.vcpus].some((v) => !Number.isFinite(v))) throw bad('xentop', JSON.stringify(line));
    out.set(row.name, row);
  }
  return out;
}

/** Which step-level error an `xl create` failure is (from its stderr and exit code). */
export function classifyXlError(stderr: string, exitCode: number): ErrorCode {
  if (exitCode === 0) return 'GH_INTERNAL';
  const s = stderr;
  if (/Domain with name "[^"]*" already exists/.test(s)) return 'GH_NAME_IN_USE';
  if (/Out of memory|Cannot allocate memory|failed to free memory|not enough memory/i.test(s)) return 'GH_OUT_OF_CAPACITY';
  if (/failed to stat|xc_dom_kernel_file|xc_dom_ramdisk_file|xc_dom_module_file|failed to open file|Failed to parse config|Unable to set disk defaults/i.test(s))
    return 'GH_TEMPLATE_INVALID';
  return 'GH_BOOT_FAILED';
}

/** The lines of xl's stderr worth showing: errors, without the repetitive destroy noise. */
export function xlErrorSummary(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('Parsing config from'))
    .filter((l) => !/Non-existant domain|Unable to destroy guest|Destruction of domain failed/.test(l));
  return lines.slice(0, 3).join(' | ') || `(no error output)`;
}

/** `xl` says this when the domain does not exist (exit 1). */
export function isNoSuchDomain(stderr: string): boolean {
  return /is an invalid domain identifier|maybe this domain does not exist/.test(stderr);
}
