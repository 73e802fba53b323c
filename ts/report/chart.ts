// Line charts as SVG (written by hand: axes, ticks, legend, error bars) and PNG (the SVG
// rasterised by sharp/librsvg).
import sharp from 'sharp';

export interface ChartPoint {
  x: number | string;
  y: number;
  /** Half-length of the error bar (the standard deviation); null draws none. */
  error: number | null;
  /** Reference value drawn as a hollow diamond at the same x. */
  reference?: number;
}

export interface ChartSeries {
  label: string;
  points: ChartPoint[];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  logX: boolean;
  series: ChartSeries[];
}

/** Width of the plot area plus its left margin; the legend column is added to the right. */
const PLOT_WIDTH = 560;
const HEIGHT = 460;
const MARGIN = { left: 78, top: 48, bottom: 62 };
/** Rough width of one 12 px DejaVu Sans character, to size the legend column. */
const CHARACTER_WIDTH = 7.2;
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round tick positions (1, 2, 5 x 10^k steps) covering [low, high]. */
export function niceTicks(low: number, high: number, target = 6): number[] {
  if (low === high) {
    const pad = Math.abs(low) > 0 ? Math.abs(low) * 0.1 : 1;
    return niceTicks(low - pad, high + pad, target);
  }
  const rough = (high - low) / target;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= rough) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let value = Math.floor(low / step) * step; value <= high + step * 1e-9; value += step) ticks.push(Number(value.toPrecision(12)));
  if (ticks[ticks.length - 1]! < high) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

export function formatTick(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) return value.toExponential(1);
  return String(Number(value.toPrecision(6)));
}

interface XAxis {
  position(x: number | string): number;
  ticks: { at: number; label: string }[];
}

/** Numeric x on a linear or log scale; any string value makes the axis categorical. */
function buildXAxis(spec: ChartSpec, left: number, right: number): XAxis {
  const values = spec.series.flatMap((series) => series.points.map((point) => point.x));
  const categorical = values.some((value) => typeof value === 'string') || (spec.logX && values.some((value) => (value as number) <= 0));
  if (categorical) {
    const categories = [...new Set(values.map(String))];
    const step = (right - left) / Math.max(categories.length, 1);
    const position = (x: number | string) => left + step * (categories.indexOf(String(x)) + 0.5);
    return { position, ticks: categories.map((label) => ({ at: position(label), label })) };
  }
  const numbers = values as number[];
  if (spec.logX) {
    const [low, high] = [Math.log10(Math.min(...numbers)), Math.log10(Math.max(...numbers))];
    const pad = high === low ? 0.5 : (high - low) * 0.06;
    const position = (x: number | string) => left + ((Math.log10(Number(x)) - (low - pad)) / (high - low + 2 * pad)) * (right - left);
    // On a log axis the measured values are the most readable ticks (token counts, resolutions).
    const distinct = [...new Set(numbers)].sort((a, b) => a - b);
    return { position, ticks: distinct.map((value) => ({ at: position(value), label: formatTick(value) })) };
  }
  const ticks = niceTicks(Math.min(...numbers), Math.max(...numbers));
  const [low, high] = [ticks[0]!, ticks[ticks.length - 1]!];
  const position = (x: number | string) => left + ((Number(x) - low) / (high - low)) * (right - left);
  return { position, ticks: ticks.map((value) => ({ at: position(value), label: formatTick(value) })) };
}

function yRange(spec: ChartSpec): number[] {
  const values = spec.series.flatMap((series) =>
    series.points.flatMap((point) => [point.y - (point.error ?? 0), point.y + (point.error ?? 0), ...(point.reference === undefined ? [] : [point.reference])]),
  );
  const [low, high] = [Math.min(...values), Math.max(...values)];
  // A margin of 5% keeps points that fall on a round value off the frame.
  const margin = (high - low) * 0.05;
  return niceTicks(low - margin, high + margin);
}

/** Renders the chart as a standalone SVG document. */
export function renderChartSvg(spec: ChartSpec): string {
  const longestLabel = Math.max(0, ...spec.series.map((series) => series.label.length));
  const width = Math.ceil(PLOT_WIDTH + Math.max(200, 56 + longestLabel * CHARACTER_WIDTH));
  const [left, right, top, bottom] = [MARGIN.left, PLOT_WIDTH, MARGIN.top, HEIGHT - MARGIN.bottom];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${HEIGHT}" viewBox="0 0 ${width} ${HEIGHT}" font-family="${FONT}">`,
    `<rect width="${width}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${(left + right) / 2}" y="28" font-size="16" text-anchor="middle" font-weight="bold">${escapeXml(spec.title)}</text>`,
  ];
  const points = spec.series.flatMap((series) => series.points);
  if (points.length === 0) {
    parts.push(`<text x="${(left + right) / 2}" y="${(top + bottom) / 2}" font-size="14" text-anchor="middle" fill="#666">no finished trials yet</text>`, '</svg>');
    return parts.join('\n');
  }

  const xAxis = buildXAxis(spec, left + 10, right - 10);
  const yTicks = yRange(spec);
  const [yLow, yHigh] = [yTicks[0]!, yTicks[yTicks.length - 1]!];
  const yPos = (y: number) => bottom - ((y - yLow) / (yHigh - yLow)) * (bottom - top);

  // Grid, axes and tick labels.
  for (const tick of yTicks) {
    const y = yPos(tick).toFixed(1);
    parts.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${left - 8}" y="${y}" font-size="12" text-anchor="end" dominant-baseline="middle">${formatTick(tick)}</text>`);
  }
  for (const tick of xAxis.ticks) {
    const x = tick.at.toFixed(1);
    parts.push(`<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 5}" stroke="#333"/>`);
    parts.push(`<text x="${x}" y="${bottom + 20}" font-size="12" text-anchor="middle">${escapeXml(tick.label)}</text>`);
  }
  parts.push(`<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${(left + right) / 2}" y="${HEIGHT - 18}" font-size="14" text-anchor="middle">${escapeXml(spec.xLabel)}${spec.logX ? ' (log scale)' : ''}</text>`);
  parts.push(`<text x="20" y="${(top + bottom) / 2}" font-size="14" text-anchor="middle" transform="rotate(-90 20 ${(top + bottom) / 2})">${escapeXml(spec.yLabel)}</text>`);

  // Series: line, error bars with caps, markers, hollow diamonds for reference values.
  spec.series.forEach((series, index) => {
    const color = COLORS[index % COLORS.length]!;
    const sorted = [...series.points].sort((a, b) => xAxis.position(a.x) - xAxis.position(b.x));
    const path = sorted.map((point, i) => `${i === 0 ? 'M' : 'L'}${xAxis.position(point.x).toFixed(1)},${yPos(point.y).toFixed(1)}`).join(' ');
    parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const point of sorted) {
      const x = xAxis.position(point.x);
      if (point.error !== null && point.error > 0) {
        const [y1, y2] = [yPos(point.y - point.error), yPos(point.y + point.error)];
        parts.push(`<path d="M${x.toFixed(1)},${y1.toFixed(1)} V${y2.toFixed(1)} M${(x - 5).toFixed(1)},${y1.toFixed(1)} h10 M${(x - 5).toFixed(1)},${y2.toFixed(1)} h10" stroke="${color}" stroke-width="1.5"/>`);
      }
      parts.push(`<circle cx="${x.toFixed(1)}" cy="${yPos(point.y).toFixed(1)}" r="4" fill="${color}"/>`);
      if (point.reference !== undefined) {
        const [cx, cy] = [x, yPos(point.reference)];
        parts.push(`<path d="M${cx.toFixed(1)},${(cy - 6).toFixed(1)} l6,6 l-6,6 l-6,-6 z" fill="white" stroke="${color}" stroke-width="1.5"/>`);
      }
    }
  });

  // Legend to the right of the plot area.
  const legendX = right + 16;
  spec.series.forEach((series, index) => {
    const y = top + 10 + index * 22;
    const color = COLORS[index % COLORS.length]!;
    parts.push(`<line x1="${legendX}" y1="${y}" x2="${legendX + 22}" y2="${y}" stroke="${color}" stroke-width="2"/><circle cx="${legendX + 11}" cy="${y}" r="4" fill="${color}"/>`);
    parts.push(`<text x="${legendX + 30}" y="${y}" font-size="12" dominant-baseline="middle">${escapeXml(series.label)}</text>`);
  });
  let notesY = top + 18 + spec.series.length * 22;
  if (points.some((point) => point.error !== null && point.error > 0)) {
    parts.push(`<text x="${legendX}" y="${notesY}" font-size="11" fill="#555">bars: ±1 std over seeds</text>`);
    notesY += 16;
  }
  if (points.some((point) => point.reference !== undefined)) {
    parts.push(`<path d="M${legendX + 11},${notesY - 6} l6,6 l-6,6 l-6,-6 z" fill="white" stroke="#555" stroke-width="1.5"/>`);
    parts.push(`<text x="${legendX + 30}" y="${notesY}" font-size="11" fill="#555" dominant-baseline="middle">reference</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** Rasterises an SVG document to PNG (librsvg through sharp), at 2x for sharp text. */
export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg), { density: 144 }).png().toBuffer();
}
