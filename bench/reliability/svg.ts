// A small line plot as SVG text, written by the suite itself (no plotting dependency): stacked
// panels sharing the time axis, each with its own y scale, series and legend.

export interface Series {
  label: string;
  color: string;
  points: Array<[number, number]>;
}

export interface Panel {
  title: string;
  unit: string;
  series: Series[];
  /** Lower bound of the y axis (default 0). */
  yMin?: number;
}

const W = 760;
const PANEL_H = 190;
const M = { left: 58, right: 16, top: 26, bottom: 30 };

function niceStep(span: number, ticks: number): number {
  const raw = span / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function plotSvg(title: string, xLabel: string, panels: Panel[]): string {
  const H = 30 + panels.length * PANEL_H + 10;
  const all = panels.flatMap((p) => p.series.flatMap((s) => s.points.map((q) => q[0])));
  const xMax = Math.max(1, ...all);
  const xStep = niceStep(xMax, 8);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach((p, i) => {
    const top = 30 + i * PANEL_H;
    const x0 = M.left;
    const x1 = W - M.right;
    const y0 = top + PANEL_H - M.bottom;
    const y1 = top + M.top;
    const ys = p.series.flatMap((s) => s.points.map((q) => q[1])).filter(Number.isFinite);
    const yMin = p.yMin ?? 0;
    const yMaxRaw = Math.max(yMin + 1e-9, ...ys);
    const yStep = niceStep(yMaxRaw - yMin, 4);
    const yMax = yMin + Math.ceil((yMaxRaw - yMin) / yStep) * yStep;
    const sx = (x: number): number => x0 + (x / xMax) * (x1 - x0);
    const sy = (y: number): number => y0 - ((y - yMin) / (yMax - yMin)) * (y0 - y1);
    out.push(`<text x="${x0}" y="${top + 14}" font-weight="bold">${esc(p.title)} (${esc(p.unit)})</text>`);
    for (let y = yMin; y <= yMax + 1e-9; y += yStep) {
      out.push(`<line x1="${x0}" x2="${x1}" y1="${sy(y).toFixed(1)}" y2="${sy(y).toFixed(1)}" stroke="#ddd"/>`);
      out.push(`<text x="${x0 - 6}" y="${(sy(y) + 4).toFixed(1)}" text-anchor="end">${Number(y.toPrecision(4))}</text>`);
    }
    for (let x = 0; x <= xMax + 1e-9; x += xStep) {
      out.push(`<line x1="${sx(x).toFixed(1)}" x2="${sx(x).toFixed(1)}" y1="${y0}" y2="${y0 + 4}" stroke="#555"/>`);
      out.push(`<text x="${sx(x).toFixed(1)}" y="${y0 + 16}" text-anchor="middle">${Number(x.toPrecision(4))}</text>`);
    }
    out.push(
      `<line x1="${x0}" x2="${x1}" y1="${y0}" y2="${y0}" stroke="#555"/>`,
      `<line x1="${x0}" x2="${x0}" y1="${y1}" y2="${y0}" stroke="#555"/>`,
    );
    if (i === panels.length - 1) out.push(`<text x="${(x0 + x1) / 2}" y="${y0 + 28}" text-anchor="middle">${esc(xLabel)}</text>`);
    let lx = x1;
    for (const s of [...p.series].reverse()) {
      const pts = s.points.filter((q) => Number.isFinite(q[1]));
      if (pts.length)
        out.push(
          `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts.map((q) => `${sx(q[0]).toFixed(1)},${sy(q[1]).toFixed(1)}`).join(' ')}"/>`,
        );
      const w = 14 + s.label.length * 6.2;
      lx -= w + 10;
      out.push(`<line x1="${lx}" x2="${lx + 12}" y1="${top + 10}" y2="${top + 10}" stroke="${s.color}" stroke-width="2"/>`);
      out.push(`<text x="${lx + 16}" y="${top + 14}">${esc(s.label)}</text>`);
    }
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
