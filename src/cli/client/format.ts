// Plain-text formatting for the client commands: aligned tables and short times. Pure.

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** "12s", "5m", "3h", "2d" since `iso`, from `now`. */
export function ago(iso: string | undefined, now: number): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 90) return `${s}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** "12:03:04" in UTC (what the API's ISO times say), with the date when not today. */
export function clock(iso: string, now: number): string {
  const t = new Date(iso).toISOString();
  return t.slice(0, 10) === new Date(now).toISOString().slice(0, 10) ? t.slice(11, 19) : `${t.slice(0, 10)} ${t.slice(11, 19)}`;
}

export function num(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

export interface RuleFigures {
  rule: string;
  metric: string;
  value?: number;
  target?: number;
  above?: number;
  below?: number;
}

/** `rps 30.1/45` for target tracking, `cpu 52%/>70,<15` for thresholds (kubectl get hpa's TARGETS). */
export function targets(rules: readonly RuleFigures[]): string {
  if (rules.length === 0) return '-';
  return rules.map((r) => {
    const u = r.metric === 'cpu' ? '%' : '';
    const against = r.target !== undefined ? `${num(r.target)}${u}` : [r.above !== undefined ? `>${num(r.above)}` : '', r.below !== undefined ? `<${num(r.below)}` : ''].filter(Boolean).join(',');
    return `${r.metric} ${r.value === undefined ? '<unknown>' : `${num(r.value)}${u}`}/${against}`;
  }).join(', ');
}

export function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
