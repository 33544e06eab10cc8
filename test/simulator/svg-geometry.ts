// Reads the layout out of a vega SVG for chart tests: every group's box (vega writes each
// group as <g transform="translate(x,y)"><path class="background" d="M0,0h{w}v{h}h-{w}Z">)
// and every text, in absolute coordinates, tagged with the classes of the marks around it.

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
  /** Classes of the enclosing elements, innermost first (e.g. ['role-legend', 'role-frame root']). */
  classes: string[];
}

export interface Text {
  x: number;
  y: number;
  text: string;
  classes: string[];
}

export interface SvgLayout {
  width: number;
  height: number;
  boxes: Box[];
  texts: Text[];
  /** The boxes of the groups that hold data marks (lines, areas): the plot areas. */
  plotAreas: Box[];
}

const unescape = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

function attrs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([\w:.-]+)="([^"]*)"/g)) out[m[1]!] = unescape(m[2]!);
  return out;
}

function translate(transform: string | undefined): [number, number] {
  const m = transform ? /^translate\(([-\d.e]+),\s*([-\d.e]+)\)/.exec(transform) : null;
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

export function layout(svg: string): SvgLayout {
  const root = /^<svg[^>]*>/.exec(svg);
  if (!root) throw new Error('not an <svg>');
  const r = attrs(root[0]);
  const out: SvgLayout = { width: Number(r.width), height: Number(r.height), boxes: [], texts: [], plotAreas: [] };
  // Stack of open elements: their offset and class.
  const stack: { name: string; x: number; y: number; cls: string; box?: Box }[] = [];
  const re = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>|([^<]+)/g;
  for (let m = re.exec(svg); m; m = re.exec(svg)) {
    const [, close, name, attrText, selfClose, chars] = m;
    const top = stack[stack.length - 1];
    if (chars !== undefined) {
      if (top?.name === 'text' && chars.trim() !== '') {
        out.texts.push({ x: top.x, y: top.y, text: unescape(chars), classes: stack.map((s) => s.cls).filter(Boolean).reverse() });
      }
      continue;
    }
    if (close) {
      stack.pop();
      continue;
    }
    const a = attrs(attrText ?? '');
    const [dx, dy] = translate(a.transform);
    const x = (top?.x ?? 0) + dx;
    const y = (top?.y ?? 0) + dy;
    if (name === 'path' && a.class === 'background') {
      const d = /^M0,0h([\d.]+)v([\d.]+)h-[\d.]+Z$/.exec(a.d ?? '');
      if (d) {
        const box = { x, y, w: Number(d[1]), h: Number(d[2]), classes: stack.map((s) => s.cls).filter(Boolean).reverse() };
        out.boxes.push(box);
        if (top) top.box = box;
      }
    }
    if (/\brole-mark\b/.test(a.class ?? '') && /\bmark-(line|area|rect|symbol|rule)\b/.test(a.class ?? '')) {
      const area = [...stack].reverse().find((s) => s.box)?.box;
      if (area && !out.plotAreas.includes(area)) out.plotAreas.push(area);
    }
    if (!selfClose) stack.push({ name: name!, x, y, cls: a.class ?? '' });
  }
  return out;
}

/** The box of the innermost group whose class list has `cls` (first such group in document order). */
export function boxOf(l: SvgLayout, cls: string): Box | undefined {
  return l.boxes.find((b) => b.classes[0]?.split(/\s+/).includes(cls));
}

export function intersects(a: Box, b: Box): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

export function inside(a: Box, width: number, height: number): boolean {
  return a.x >= 0 && a.y >= 0 && a.x + a.w <= width && a.y + a.h <= height;
}

/** Texts whose innermost classed element has `cls`. */
export function textsOf(l: SvgLayout, cls: string): Text[] {
  return l.texts.filter((t) => t.classes[0]?.split(/\s+/).includes(cls));
}

/** The absolute points of the first path inside the mark named `mark` (M/L commands only). */
export function pathPoints(svg: string, mark: string): [number, number][] {
  const m = new RegExp(`<g class="mark-[a-z]+ role-mark ${mark}"[^>]*>\\s*<path[^>]* d="(M[^"]+)"`).exec(svg);
  if (!m) return [];
  return m[1]!
    .replace(/Z$/, '')
    .split(/[ML]/)
    .filter(Boolean)
    .map((p) => p.split(',').map(Number) as [number, number]);
}
