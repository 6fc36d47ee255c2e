// Every benchmark writes its figures into docs/BENCHMARKS.md, each into its own `## ` section, and
// leaves the other sections as they are: this is the one place that knows how.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const BENCHMARKS_DOC = resolve(__dirname, '../../../docs/BENCHMARKS.md');

/** Replaces the section `heading` (a `## ` line) with `heading` + `body`, or appends it. */
export function writeBenchSection(heading: string, body: string, file = BENCHMARKS_DOC): void {
  const section = `${heading}\n\n${body.trim()}\n`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const at = text.startsWith(`${heading}\n`) ? 0 : text.indexOf(`\n${heading}\n`) + 1;
  if (at === 0 && !text.startsWith(`${heading}\n`)) {
    text = `${text.trimEnd()}\n\n${section}`;
  } else {
    const next = text.indexOf('\n## ', at + heading.length);
    text = text.slice(0, at) + section + (next >= 0 ? text.slice(next) : '');
  }
  writeFileSync(file, text);
  console.error(`wrote ${heading} into ${file}`);
}

/** 198.18.0.0/15 (RFC 2544 benchmarking range), never routed here: the i-th address in it. */
export function benchAddress(i: number): string {
  const n = 198 * 2 ** 24 + 18 * 2 ** 16 + 1 + i;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
