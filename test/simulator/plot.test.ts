import test from 'ava';
import { renderSvg } from '../../src/simulator/plot.ts';

/** Minimal XML well-formedness check: every tag closes in order, one root <svg>. */
function checkWellFormed(xml: string): string[] {
  const stack: string[] = [];
  const roots: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    const between = xml.slice(last, m.index);
    if (between.includes('<')) throw new Error(`unparsed markup near offset ${last}: ${between.slice(0, 60)}`);
    last = re.lastIndex;
    const [, close, name, , selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      if (stack.length === 0) roots.push(name!);
      if (!selfClose) stack.push(name!);
    }
  }
  if (xml.slice(last).includes('<')) throw new Error('unparsed markup at the end');
  if (stack.length) throw new Error(`unclosed: ${stack.join(' > ')}`);
  return roots;
}

function series(n: number) {
  const load: number[] = [];
  const demand: number[] = [];
  const supply: number[] = [];
  for (let i = 0; i < n; i++) {
    const l = 100 + 80 * Math.sin(i / 50);
    load.push(l);
    demand.push(Math.ceil(l / 40));
    supply.push(Math.max(2, Math.ceil(l / 40) - (i % 7 === 0 ? 1 : 0)));
  }
  return { load, demand, supply };
}

test('renderSvg produces well-formed SVG with one root <svg> and the title', async (t) => {
  const svg = await renderSvg({ ...series(300), stepSeconds: 5, title: 'web on nasa' });
  t.deepEqual(checkWellFormed(svg), ['svg']);
  t.true(svg.startsWith('<svg'));
  t.regex(svg, /xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.regex(svg, /web on nasa/);
});

test('renderSvg draws three line series (load, demand, supply), each a non-empty path', async (t) => {
  const svg = await renderSvg({ ...series(300), stepSeconds: 5, title: 'x' });
  for (const name of ['load-line', 'demand-line', 'supply-line']) {
    const m = new RegExp(`<g class="mark-line role-mark ${name}"[^>]*>\\s*<path[^>]* d="(M[^"]+)"`).exec(svg);
    t.truthy(m, `${name} has a path`);
    t.true((m?.[1]?.split(/[LHV]/).length ?? 0) > 10, `${name} path has many points`);
  }
});

test('a long run is bucketed to at most maxPoints per series', async (t) => {
  const small = await renderSvg({ ...series(100_000), stepSeconds: 1, title: 'x', maxPoints: 50 });
  t.regex(small, /each point covers 2000 s/);
  const m = /<g class="mark-line role-mark load-line"[^>]*>\s*<path[^>]* d="(M[^"]+)"/.exec(small);
  t.true((m?.[1]?.split('L').length ?? 0) <= 50);
});
