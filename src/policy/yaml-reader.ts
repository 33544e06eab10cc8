// Position-aware reading of a YAML document for policy and config files. Every getter
// records a ValidationIssue (FILE:LINE:COL + dotted path) instead of throwing, so a file's
// problems are all reported at once. Pure: takes text, does no I/O.

import { LineCounter, parseDocument, isAlias, isMap, isScalar, isSeq, type Document, type Node } from 'yaml';
import { shortFound, type ValidationIssue } from '../errors/errors.ts';
import { tryParseDuration } from './duration.ts';

/** One key of a mapping (or one item of a list) as found in the file. */
export interface Field {
  /** Key name (or list index). */
  key: string;
  /** Dotted path from the document root, e.g. `rules.1.step`. */
  path: string;
  /** The value; undefined when the key is absent or its value is empty/null. */
  value?: Node;
  /** Where to point when the value is absent: the key itself, else the enclosing mapping's key. */
  at?: Node;
}

/** The known keys of one mapping. */
export interface Fields {
  path: string;
  /** The mapping's own field (for "required" problems that concern the whole mapping). */
  self: Field;
  get(key: string): Field;
  has(key: string): boolean;
}

/**
 * What a getter was asked to read, as the validator states it (keys, type, bounds, choices,
 * default). A recorder given to the reader sees every one of these: the JSON Schema for policy
 * files is built from them (policy-schema.ts), so it cannot drift from the validator.
 */
export type FieldShape =
  | { kind: 'map'; keys: readonly string[]; required: boolean }
  | { kind: 'seq'; required: boolean; nonEmpty: boolean }
  | { kind: 'string'; required: boolean; def?: string; pattern?: RegExp }
  | { kind: 'number'; integer: boolean; required: boolean; def?: number; min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean }
  | { kind: 'duration'; required: boolean; def?: number; positive: boolean }
  | { kind: 'enum'; values: readonly string[]; required: boolean; def?: string }
  | { kind: 'boolean'; required: boolean; def?: boolean }
  /** A field the validator reads its own way (e.g. a rule's step), described by its JSON Schema. */
  | { kind: 'custom'; schema: Record<string, unknown>; required: boolean };

export interface ReaderRecorder {
  /** `value`: the field's value as written, when there is one (a recorder may tell variants apart by it). */
  note(path: string, shape: FieldShape, value: unknown): void;
}

export interface Decoded {
  reader: YamlReader;
  /** The root field, or undefined when the text is not valid YAML (issues say why). */
  root?: Field;
}

type Range = readonly [number, number, number];

/** Parse `text` (from `file`) and return a reader over it. YAML syntax errors become issues. */
export function decodeYaml(text: string, file: string, recorder?: ReaderRecorder): Decoded {
  const lineCounter = new LineCounter();
  // The library's own uniqueKeys check compares every key with every other (30,000 keys took
  // 36 s); duplicateKeyIssues does the same check in one pass.
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: false, strict: true });
  const reader = new YamlReader(file, doc, lineCounter, recorder);
  if (doc.errors.length === 0) duplicateKeyIssues(doc, reader);
  if (reader.issues.length > 0) {
    reader.issues.sort((a, b) => a.line - b.line || a.col - b.col);
    return { reader };
  }
  // The library only warns of a tag it cannot resolve (`token: !x y` would load as "y"): a
  // setting should mean what it says or be refused, so warnings are refused like errors.
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    for (const e of problems) {
      const lp = e.linePos?.[0] ?? { line: 1, col: 1 };
      // The library appends " at line L, column C:" and a code frame; our prefix carries the position.
      // Some messages end by quoting the source they choked on (`...in YAML stream: "x"`, `Block
      // scalar header includes extra characters: x`, `Unresolved tag: x`), which may be a secret
      // (a config's api.token on a badly indented line): keep only a short punctuation token; the
      // position points at the rest.
      const msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
        .replace(/: (.*)$/, (tail, quoted: string) => (/^"?[^\w\s"]{1,3}"?$/.test(quoted) ? tail : ''));
      reader.issueAt(lp.line, lp.col, '', `YAML ${e.name === 'YAMLWarning' ? 'problem' : 'syntax error'}: ${msg}`);
    }
    return { reader };
  }
  const contents = doc.contents as Node | null;
  if (contents === null || (isScalar(contents) && contents.value === null)) {
    reader.issueAt(1, 1, '', 'file is empty; expected a mapping of settings');
    return { reader };
  }
  return { reader, root: { key: '', path: '', value: contents, at: contents } };
}

/** Every mapping of the document, depth first without recursion (nesting can be deep): a key
 *  written twice is an issue at its second occurrence, naming the line of the first. */
function duplicateKeyIssues(doc: Document, reader: YamlReader): void {
  const stack: { node: unknown; path: string }[] = [{ node: doc.contents, path: '' }];
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    if (isMap(node)) {
      const first = new Map<unknown, Node>();
      for (const pair of node.items) {
        const key = pair.key as Node | null;
        if (key !== null && isScalar(key)) {
          const seen = first.get(key.value);
          if (seen !== undefined) {
            const p = reader.pos(key);
            reader.issueAt(p.line, p.col, joinPath(path, String(key.value)), `duplicate key; it is already set at line ${reader.pos(seen).line}`);
          } else first.set(key.value, key);
        }
        stack.push({ node: pair.value, path: key !== null && isScalar(key) ? joinPath(path, String(key.value)) : path });
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => stack.push({ node: item, path: joinPath(path, String(i)) }));
    }
  }
}

export function joinPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function typeName(node: Node | undefined): string {
  if (node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'nothing';
    if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number';
    if (typeof v === 'boolean') return 'a boolean';
    if (typeof v === 'string') return 'a string';
  }
  return 'an unsupported value';
}

function foundOf(node: Node | undefined): unknown {
  if (node !== undefined && isScalar(node)) {
    const v = node.value;
    return typeof v === 'bigint' ? String(v) : v;
  }
  return undefined;
}

function editDistance(a: string, b: string): number {
  // Only "within 2" is ever asked: longer differences need not be computed.
  if (Math.abs(a.length - b.length) > 2) return 3;
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** Names within edit distance 2 of `name`: "did you mean" candidates. */
export function nearest(name: string, candidates: readonly string[]): string[] {
  return candidates.filter((k) => editDistance(k, name) <= 2);
}

export interface NumberOpts {
  required?: boolean;
  def?: number;
  min?: number;
  max?: number;
  /** Strict bounds: value > min / value < max. */
  minExclusive?: boolean;
  maxExclusive?: boolean;
  /** Appended to bound messages, e.g. "(limits.hard_max)". */
  maxNote?: string;
}

export class YamlReader {
  readonly issues: ValidationIssue[] = [];

  constructor(
    readonly file: string,
    private readonly doc: Document | undefined,
    private readonly lc: LineCounter | undefined,
    private readonly recorder?: ReaderRecorder,
  ) {}

  private note(f: Field, shape: FieldShape): void {
    if (!this.recorder) return;
    const v = f.value !== undefined && isScalar(f.value) ? f.value.value : undefined;
    this.recorder.note(f.path, shape, v);
  }

  /** Describe a field read by hand (not through a getter) for the recorder; does nothing else. */
  describe(f: Field, schema: Record<string, unknown>, o: { required?: boolean } = {}): void {
    this.note(f, { kind: 'custom', schema, required: o.required === true });
  }

  /** A reader with no document, for issues about files or folders as a whole. */
  static bare(file: string): YamlReader {
    return new YamlReader(file, undefined, undefined);
  }

  pos(node: Node | undefined): { line: number; col: number } {
    const range = (node as { range?: Range | null } | undefined)?.range;
    if (!range || !this.lc) return { line: 1, col: 1 };
    return this.lc.linePos(range[0]);
  }

  issueAt(line: number, col: number, path: string, message: string, found?: unknown): void {
    const issue: ValidationIssue = { file: this.file, line, col, path, message };
    if (found !== undefined) issue.found = shortFound(found);
    this.issues.push(issue);
  }

  /** Report a problem with a field, at its value (or, when absent, at its key / enclosing mapping). */
  issue(f: Field, message: string, found?: unknown): void {
    const p = this.pos(f.value ?? f.at);
    this.issueAt(p.line, p.col, f.path, message, found === undefined ? foundOf(f.value) : found);
  }

  /** Like issue(), but never echoes the value (tokens, passwords). */
  secretIssue(f: Field, message: string): void {
    const p = this.pos(f.value ?? f.at);
    this.issueAt(p.line, p.col, f.path, message);
  }

  private deref(node: Node | null | undefined): Node | undefined {
    if (node === null || node === undefined) return undefined;
    if (isAlias(node) && this.doc) return (node.resolve(this.doc) as Node | undefined) ?? undefined;
    if (isScalar(node) && node.value === null) return undefined;
    return node;
  }

  /** Read a mapping, rejecting keys not in `allowed` (each at the key's own position). */
  map(f: Field, allowed: readonly string[], opts: { required?: boolean } = {}): Fields | undefined {
    this.note(f, { kind: 'map', keys: allowed, required: opts.required === true });
    const node = f.value;
    if (node === undefined) {
      if (opts.required) this.issue(f, `is required (a mapping with ${allowed.join(', ')})`);
      return undefined;
    }
    if (!isMap(node)) {
      this.issue(f, `must be a mapping, found ${typeName(node)}`);
      return undefined;
    }
    const known = new Map<string, Field>();
    for (const pair of node.items) {
      const keyNode = pair.key as Node | null;
      const key = keyNode !== null && isScalar(keyNode) ? String(keyNode.value) : undefined;
      if (key === undefined || keyNode === null) {
        const p = this.pos(keyNode ?? undefined);
        this.issueAt(p.line, p.col, f.path, 'keys must be plain names');
        continue;
      }
      const path = joinPath(f.path, key);
      if (!allowed.includes(key)) {
        const near = nearest(key, allowed);
        const hint = near.length > 0 ? `did you mean ${near.join(' or ')}? ` : '';
        const p = this.pos(keyNode);
        this.issueAt(p.line, p.col, path, `unknown key; ${hint}allowed here: ${allowed.join(', ')}`, key);
        continue;
      }
      const value = this.deref(pair.value as Node | null);
      known.set(key, value === undefined ? { key, path, at: keyNode } : { key, path, value, at: keyNode });
    }
    return {
      path: f.path,
      self: f,
      has: (key) => known.get(key)?.value !== undefined,
      get: (key) => known.get(key) ?? { key, path: joinPath(f.path, key), ...(f.at ? { at: f.at } : {}) },
    };
  }

  /** Read a mapping whose keys are the user's own (HTTP headers): each key with its value's field. */
  entries(f: Field): [string, Field][] | undefined {
    const node = f.value;
    if (node === undefined) return undefined;
    if (!isMap(node)) {
      this.issue(f, `must be a mapping, found ${typeName(node)}`);
      return undefined;
    }
    const out: [string, Field][] = [];
    for (const pair of node.items) {
      const keyNode = pair.key as Node | null;
      const key = keyNode !== null && isScalar(keyNode) ? String(keyNode.value) : undefined;
      if (key === undefined || keyNode === null) {
        const p = this.pos(keyNode ?? undefined);
        this.issueAt(p.line, p.col, f.path, 'keys must be plain names');
        continue;
      }
      const value = this.deref(pair.value as Node | null);
      const path = joinPath(f.path, key);
      out.push([key, value === undefined ? { key, path, at: keyNode } : { key, path, value, at: keyNode }]);
    }
    return out;
  }

  /** Read a list; returns one Field per item. */
  seq(f: Field, opts: { required?: boolean; nonEmpty?: boolean; what?: string } = {}): Field[] | undefined {
    this.note(f, { kind: 'seq', required: opts.required === true, nonEmpty: opts.nonEmpty === true });
    const node = f.value;
    if (node === undefined) {
      if (opts.required) this.issue(f, `is required (a list${opts.what ? ` of ${opts.what}` : ''})`);
      return undefined;
    }
    if (!isSeq(node)) {
      this.issue(f, `must be a list, found ${typeName(node)}`);
      return undefined;
    }
    const items = node.items.map((item, i): Field => {
      const value = this.deref(item as Node | null);
      const path = joinPath(f.path, String(i));
      return value === undefined ? { key: String(i), path, at: (item as Node | null) ?? node } : { key: String(i), path, value, at: value };
    });
    if (opts.nonEmpty && items.length === 0) this.issue(f, `must not be empty${opts.what ? `: list at least one of ${opts.what}` : ''}`);
    return items;
  }

  str(f: Field, o: { required?: boolean; def?: string; pattern?: RegExp; patternMsg?: string } = {}): string | undefined {
    this.note(f, { kind: 'string', required: o.required === true, ...(o.def !== undefined ? { def: o.def } : {}), ...(o.pattern ? { pattern: o.pattern } : {}) });
    const node = f.value;
    if (node === undefined) {
      if (o.required) this.issue(f, 'is required');
      return o.def;
    }
    if (!isScalar(node) || typeof node.value !== 'string') {
      this.issue(f, `must be a string, found ${typeName(node)}`);
      return undefined;
    }
    const v = node.value;
    if (o.pattern && !o.pattern.test(v)) {
      this.issue(f, o.patternMsg ?? `must match ${o.pattern.source}`);
      return undefined;
    }
    return v;
  }

  num(f: Field, o: NumberOpts & { integer?: boolean } = {}): number | undefined {
    this.note(f, {
      kind: 'number', integer: o.integer === true, required: o.required === true,
      ...(o.def !== undefined ? { def: o.def } : {}), ...(o.min !== undefined ? { min: o.min, minExclusive: o.minExclusive === true } : {}),
      ...(o.max !== undefined ? { max: o.max, maxExclusive: o.maxExclusive === true } : {}),
    });
    const node = f.value;
    const what = o.integer ? 'an integer' : 'a number';
    if (node === undefined) {
      if (o.required) this.issue(f, `is required (${what})`);
      return o.def;
    }
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isFinite(node.value)) {
      this.issue(f, `must be ${what}, found ${typeName(node)}`);
      return undefined;
    }
    const v = node.value;
    if (o.integer && !Number.isInteger(v)) {
      this.issue(f, 'must be an integer');
      return undefined;
    }
    return this.bounds(f, v, o) ? v : undefined;
  }

  int(f: Field, o: NumberOpts = {}): number | undefined {
    return this.num(f, { ...o, integer: true });
  }

  /** Check `v` against bounds, reporting at `f`. */
  bounds(f: Field, v: number, o: NumberOpts): boolean {
    const note = o.maxNote ? ` ${o.maxNote}` : '';
    if (o.min !== undefined && (o.minExclusive ? !(v > o.min) : !(v >= o.min))) {
      this.issue(f, `must be ${o.minExclusive ? '>' : '>='} ${o.min}`);
      return false;
    }
    if (o.max !== undefined && (o.maxExclusive ? !(v < o.max) : !(v <= o.max))) {
      this.issue(f, `must be ${o.maxExclusive ? '<' : '<='} ${o.max}${note}`);
      return false;
    }
    return true;
  }

  /** A duration string (`5s`, `1h30m`); `positive` requires > 0. Returns milliseconds. */
  duration(f: Field, o: { required?: boolean; def?: number; positive?: boolean } = {}): number | undefined {
    this.note(f, { kind: 'duration', required: o.required === true, ...(o.def !== undefined ? { def: o.def } : {}), positive: o.positive === true });
    const node = f.value;
    if (node === undefined) {
      if (o.required) this.issue(f, 'is required (a duration such as 30s)');
      return o.def;
    }
    if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number')) {
      this.issue(f, `must be a duration such as 30s, found ${typeName(node)}`);
      return undefined;
    }
    const text = typeof node.value === 'number' ? String(node.source ?? node.value) : node.value;
    const r = tryParseDuration(text);
    if (!r.ok) {
      this.issue(f, r.message);
      return undefined;
    }
    if (o.positive && r.ms <= 0) {
      this.issue(f, 'must be longer than 0');
      return undefined;
    }
    return r.ms;
  }

  bool(f: Field, o: { def?: boolean; required?: boolean } = {}): boolean | undefined {
    this.note(f, { kind: 'boolean', required: o.required === true, ...(o.def !== undefined ? { def: o.def } : {}) });
    const node = f.value;
    if (node === undefined) {
      if (o.required) this.issue(f, 'is required (true or false)');
      return o.def;
    }
    if (!isScalar(node) || typeof node.value !== 'boolean') {
      this.issue(f, `must be true or false, found ${typeName(node)}`);
      return undefined;
    }
    return node.value;
  }

  oneOf<T extends string>(f: Field, values: readonly T[], o: { def?: T; required?: boolean } = {}): T | undefined {
    this.note(f, { kind: 'enum', values, required: o.required === true, ...(o.def !== undefined ? { def: o.def } : {}) });
    const v = this.str(f, { required: o.required ?? false });
    if (v === undefined) return f.value === undefined ? o.def : undefined;
    if (!(values as readonly string[]).includes(v)) {
      this.issue(f, `must be one of ${values.join(' | ')}`);
      return undefined;
    }
    return v as T;
  }

  /** The scalar text exactly as written (`+1` stays `+1`, unlike the decoded number). */
  sourceText(f: Field): string | undefined {
    const node = f.value;
    if (node === undefined || !isScalar(node)) return undefined;
    return typeof node.source === 'string' ? node.source : String(node.value);
  }
}

/** `host:port` with port 1..65535; host is a name, IPv4 or [IPv6]. Returns a message on failure. */
export function checkListen(v: string): string | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(\d{1,5})$/.exec(v);
  if (m === null) return 'must be host:port, e.g. 127.0.0.1:8080';
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return 'port must be 1..65535';
  return undefined;
}
