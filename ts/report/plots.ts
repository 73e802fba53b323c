// Sweep plots: one chart per `plots` entry of the experiment, a metric's mean over seeds
// against a parameter, one line per group, written as <y>_vs_<x>.svg and .png next to the CSV.
import path from 'node:path';
import { writeFileAtomic } from '../data/fetch.ts';
import type { Experiment, PlotSpec } from '../sweep/experiment.ts';
import type { SummaryRow } from '../sweep/results.ts';
import { renderChartSvg, svgToPng, type ChartSeries, type ChartSpec } from './chart.ts';

function numericOrString(value: unknown): number | string {
  const number = typeof value === 'number' ? value : Number(value);
  return typeof value === 'boolean' || value === null || value === '' || !Number.isFinite(number) ? String(value) : number;
}

/** Builds the chart of one plot entry from the summary rows (finished groups only). */
export function buildChart(experiment: Experiment, plot: PlotSpec, summary: SummaryRow[], paramNames: string[]): ChartSpec {
  const groupNames = plot.group ?? paramNames.filter((name) => name !== plot.x && name !== 'seed');
  const series = new Map<string, ChartSeries>();
  for (const row of summary) {
    const y = row.mean[plot.y];
    if (y === undefined) continue;
    const label = groupNames.map((name) => `${name}=${row.params[name]}`).join(', ') || plot.y;
    if (!series.has(label)) series.set(label, { label, points: [] });
    series.get(label)!.points.push({
      x: numericOrString(row.params[plot.x]),
      y,
      error: row.std[plot.y] ?? null,
      ...(row.reference[plot.y] === undefined ? {} : { reference: row.reference[plot.y] }),
    });
  }
  return {
    title: plot.title ?? `${experiment.name}: ${plot.y} vs ${plot.x}`,
    xLabel: plot.x,
    yLabel: plot.y,
    logX: plot.logX,
    series: [...series.values()],
  };
}

function plotFileStem(plot: PlotSpec): string {
  return `${plot.y}_vs_${plot.x}`.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** Writes every plot of the experiment; returns the written file paths. */
export async function writeSweepPlots(out: string, experiment: Experiment, summary: SummaryRow[], paramNames: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const plot of experiment.plots) {
    const svg = renderChartSvg(buildChart(experiment, plot, summary, paramNames));
    const stem = path.join(out, plotFileStem(plot));
    await writeFileAtomic(`${stem}.svg`, svg);
    await writeFileAtomic(`${stem}.png`, await svgToPng(svg));
    files.push(`${stem}.svg`, `${stem}.png`);
  }
  return files;
}
