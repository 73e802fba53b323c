import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatTick, niceTicks, renderChartSvg, svgToPng, type ChartSpec } from '../../../ts/report/chart.ts';
import { resultsCsv, summaryCsv } from '../../../ts/report/csv.ts';
import { buildChart } from '../../../ts/report/plots.ts';
import { parseExperiment } from '../../../ts/sweep/experiment.ts';
import { flattenScalars, sampleStd, summarize, valueAt, type ResultRow } from '../../../ts/sweep/results.ts';
import type { TrialRecord } from '../../../ts/sweep/trials.ts';
import type { Versions } from '../../../ts/sweep/versions.ts';

const experiment = parseExperiment(
  `name: rep
trial: {command: eval}
grid:
  options.tokens: [64, 128]
seeds: [0, 1]
metrics: {psnr: psnr, fid: fid.value, status: status}
reference:
  source: paper
  rows: [{where: {tokens: 128}, values: {psnr: 24.06}}]
plots: [{x: tokens, y: psnr, log_x: true}]
`,
  'rep.yaml',
);

const versions: Versions = { code: 'c1', gitCommit: 'c1', gitDirty: false, backend: 'b', python: '3.11', torch: '1.13', node: 'v20', host: 'h' };

function row(index: number, tokens: number, seed: number, status: 'done' | 'pending', metrics: Record<string, number | string | null> = {}): ResultRow {
  const record: TrialRecord = {
    id: `id${index}`,
    status,
    config: status === 'done' ? ({ versions } as TrialRecord['config']) : undefined,
    metrics: undefined,
    outcome: status === 'done' ? { startedAt: 's', finishedAt: 'f', durationS: 1.5, attempts: 1 } : undefined,
  };
  return { trialId: `id${index}`, index, status, params: { tokens, seed }, metrics, record };
}

const rows = [
  row(0, 64, 0, 'done', { psnr: 20, fid: 2, status: 'ok' }),
  row(1, 64, 1, 'done', { psnr: 22, fid: Number.POSITIVE_INFINITY, status: 'ok' }),
  row(2, 128, 0, 'done', { psnr: 24, fid: 1, status: 'ok' }),
  row(3, 128, 1, 'pending'),
];

test('results CSV has explicit columns', () => {
  const lines = resultsCsv(experiment, rows).trim().split('\n');
  assert.is(lines[0], 'trial_id,index,status,tokens,seed,psnr,fid,metric.status,git_commit,git_dirty,node,python,torch,host,attempts,started_at,finished_at,duration_s,error');
  assert.is(lines[2], 'id1,1,done,64,1,22,inf,ok,c1,false,v20,3.11,1.13,h,1,s,f,1.5,');
  assert.is(lines[4], 'id3,3,pending,128,1,,,,,,,,,,,,,,');
});

test('summary CSV averages over seeds', () => {
  const summary = summarize(experiment, rows);
  const lines = summaryCsv(experiment, rows, summary).trim().split('\n');
  assert.is(lines[0], 'tokens,git_commit,git_dirty,trials,done,psnr_mean,psnr_std,psnr_ref,fid_mean,fid_std,status_mean,status_std');
  assert.is(lines[1], `64,c1,false,2,2,21,${Math.SQRT2},,2,,,`);
  assert.is(lines[2], '128,c1,false,2,1,24,,24.06,1,,,');
  assert.is(lines.length, 3);
});

test('std, paths and flattening', () => {
  assert.is(sampleStd([1]), null);
  assert.is(sampleStd([2, 4]), Math.SQRT2);
  assert.is(valueAt({ a: { b: 3 } }, 'a.b'), 3);
  assert.is(valueAt({ a: 1 }, 'a.b'), undefined);
  assert.equal(flattenScalars({ a: { b: 1, c: [1, 2] }, d: 'x', e: null }), { 'a.b': 1, d: 'x', e: null });
});

test('nice ticks', () => {
  assert.equal(niceTicks(0.3, 9.2), [0, 2, 4, 6, 8, 10]);
  assert.equal(niceTicks(20.5, 24.1), [20, 21, 22, 23, 24, 25]);
  assert.equal(niceTicks(5, 5), [4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6]);
  assert.is(formatTick(0.0001), '1.0e-4');
  assert.is(formatTick(2.5), '2.5');
});

test('chart from summary uses means, std and reference', () => {
  const chart = buildChart(experiment, experiment.plots[0]!, summarize(experiment, rows), ['tokens', 'seed']);
  assert.is(chart.title, 'rep: psnr vs tokens');
  assert.equal(chart.series, [
    {
      label: 'psnr',
      points: [
        { x: 64, y: 21, error: Math.SQRT2 },
        { x: 128, y: 24, error: null, reference: 24.06 },
      ],
    },
  ]);
});

test('svg has axes, legend, error bars and renders to png', async () => {
  const spec: ChartSpec = {
    title: 'PSNR <vs> tokens',
    xLabel: 'tokens',
    yLabel: 'psnr',
    logX: true,
    series: [
      { label: 'model=a', points: [{ x: 64, y: 20, error: 1 }, { x: 256, y: 25, error: null, reference: 24 }] },
      { label: 'model=b', points: [{ x: 64, y: 21, error: 0.5 }] },
    ],
  };
  const svg = renderChartSvg(spec);
  assert.ok(svg.includes('PSNR &lt;vs&gt; tokens'));
  assert.ok(svg.includes('>tokens (log scale)</text>'));
  assert.ok(svg.includes('>model=b</text>'));
  assert.ok(svg.includes('>reference</text>'));
  assert.is(svg.match(/<circle /g)?.length, 5, '3 markers and 2 legend markers');
  assert.is(svg.match(/ h10 /g)?.length, 2, 'two error bars with caps');
  const png = await svgToPng(svg);
  const meta = await sharp(png).metadata();
  assert.equal([meta.format, meta.width, meta.height], ['png', 1520, 920]);
});

test('empty chart says why', () => {
  const svg = renderChartSvg({ title: 't', xLabel: 'x', yLabel: 'y', logX: false, series: [] });
  assert.ok(svg.includes('no finished trials yet'));
});

test.run();
