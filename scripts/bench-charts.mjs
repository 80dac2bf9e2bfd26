#!/usr/bin/env node
// Charts of the published benchmark figures. Reads the markdown tables that the bench scripts wrote
// between their markers in docs/benchmarks.md (nothing is measured here, so the charts can be drawn
// again from the published figures at any time) and writes PNGs into docs/benchmarks/, then lists
// the charts it drew under each section, between "charts:<section>" markers outside the bench
// markers (a bench run rewrites only its own markers, so the charts stay until this runs again).
//
//   npm run bench:charts
//   node scripts/bench-charts.mjs --doc <file.md> --out <directory>   # another page, another folder
//
// A chart whose table is missing (for example memory per key before bench:node has written it) is
// skipped with a message and left out of the page. Pipeline: vega-lite spec → vega View (renderer
// 'none') → SVG → @resvg/resvg-js → PNG at twice the CSS pixel size.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile } from 'vega-lite';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function option(name, fallback) {
  const index = process.argv.indexOf(name);
  return index < 0 ? fallback : path.resolve(process.argv[index + 1]);
}

const docFile = option('--doc', path.join(root, 'docs/benchmarks.md'));
const chartDirectory = option('--out', path.join(root, 'docs/benchmarks'));
/** Width of a whole chart in CSS pixels; faceted charts set their plot width to come close. */
const chartWidthPx = 640;
const facetPlotWidthPx = 540;
const pixelRatio = 2;
const fontFamily = 'DejaVu Sans, Verdana, Arial, sans-serif';
const resvgFontOptions = { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' };

/** One palette for every chart: Redis in reds, Ballast in blues, the stricter setting lighter. */
const systemColors = {
  Redis: '#c0392b',
  'Redis everysec': '#c0392b',
  'Redis always': '#e8a09a',
  Ballast: '#2c6fad',
  'Ballast async': '#2c6fad',
  'Ballast sync': '#8fbbe3',
};

const chartConfig = {
  font: fontFamily,
  background: 'white',
  padding: 12,
  title: { fontSize: 15, anchor: 'start', offset: 12, subtitleFontSize: 11, subtitleColor: '#555', subtitlePadding: 4 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#e6e6e6', domainColor: '#888', tickColor: '#888' },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: 'top', direction: 'horizontal', title: null, symbolType: 'square' },
  header: { labelFontSize: 12, labelFontWeight: 'bold', labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', title: null },
  view: { stroke: null },
};

// ---------------------------------------------------------------- text widths

/**
 * Vega places labels and sizes a chart by the width of its text; with no canvas it guesses 0.8 em a
 * character, which leaves wide margins and cuts labels short. Here widths come from the font resvg
 * draws with: a character's advance is the width of "H<c>H" less that of "HH" at 100 px, measured
 * once per character and weight.
 */
const measureFontPx = 100;
const inkWidthCache = new Map();

function inkWidth(text, bold) {
  const key = `${bold}|${text}`;
  let width = inkWidthCache.get(key);
  if (width === undefined) {
    const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${measureFontPx * 8}" height="${measureFontPx * 2}"><text x="10" y="${measureFontPx * 1.5}" font-family="${fontFamily}" font-weight="${bold ? 'bold' : 'normal'}" font-size="${measureFontPx}">${escaped}</text></svg>`;
    width = new Resvg(svg, { font: resvgFontOptions }).getBBox()?.width ?? 0;
    inkWidthCache.set(key, width);
  }
  return width;
}

function textWidth(item, text) {
  const bold = item.fontWeight === 'bold' || Number(item.fontWeight) >= 600;
  const fontPx = item.fontSize ?? 11;
  let width = 0;
  for (const character of String(text ?? '').trim()) {
    width += ((inkWidth(`H${character}H`, bold) - inkWidth('HH', bold)) / measureFontPx) * fontPx;
  }
  return width;
}

vega.textMetrics.width = textWidth;

// ---------------------------------------------------------------- reading the page

function markerSection(text, name) {
  const begin = text.indexOf(`<!-- bench:${name} begin -->`);
  const end = text.indexOf(`<!-- bench:${name} end -->`);
  return begin < 0 || end < begin ? null : text.slice(begin, end);
}

/** The markdown tables of a piece of text: rows as objects keyed by the header cells. */
function parseTables(text) {
  const tables = [];
  let block = [];
  for (const line of [...text.split('\n'), '']) {
    if (line.trimStart().startsWith('|')) {
      block.push(line);
      continue;
    }
    if (block.length >= 2) {
      const [header, , ...rows] = block.map((row) => row.trim().replace(/^\||\|$/g, '').split('|').map((cell) => cell.trim()));
      tables.push(rows.map((cells) => Object.fromEntries(header.map((name, index) => [name, cells[index] ?? '']))));
    }
    block = [];
  }
  return tables;
}

/** The first table of section `name` that has all of `columns`, or a reason there is none. */
function findTable(text, name, columns) {
  const section = markerSection(text, name);
  if (section === null) return { missing: `${path.basename(docFile)} has no bench:${name} markers` };
  const table = parseTables(section).find((rows) => rows.length > 0 && columns.every((column) => column in rows[0]));
  return table ?? { missing: `bench:${name} has no table with columns ${columns.map((column) => `"${column}"`).join(', ')}` };
}

/** A figure as the tables print it: "98,668", "0.27×", "1.64 s", "**38.7 MB/s**", "270 B". */
function number(cell) {
  const digits = cell.replace(/\*\*/g, '').replace(/,/g, '').replace(/[^0-9.eE+-].*$/, '');
  const value = Number(digits);
  if (digits === '' || !Number.isFinite(value)) throw new Error(`not a number: "${cell}"`);
  return value;
}

/** "0.287/0.799" → [0.287, 0.799]. */
function latencyPair(cell) {
  return cell.split('/').map(number);
}

function fmt(value) {
  return Math.round(value).toLocaleString('en-US');
}

function family(system) {
  return /^ballast/i.test(system) ? 'Ballast' : 'Redis';
}

// ---------------------------------------------------------------- chart pieces

function title(text, subtitle) {
  return subtitle === undefined ? { text } : { text, subtitle };
}

function colorOf(systems, legend = {}) {
  return { field: 'system', type: 'nominal', sort: systems, scale: { domain: systems, range: systems.map((system) => systemColors[system]) }, legend };
}

/** Axis labels on several lines: category values carry "\n" where a line should break. */
const multiLineLabels = "split(datum.label, '\\n')";

/** A group of bars or ranges per `group` value (labels may break lines), one per system. */
function groupAxis(groups) {
  return { field: 'group', type: 'nominal', sort: groups, title: null, axis: { labelAngle: 0, labelFontSize: 12, labelPadding: 6, labelExpr: multiLineLabels } };
}

function facetRows(values, field, plot) {
  const rows = [...new Set(values.map((row) => row[field]))];
  return { data: { values }, facet: { row: { field, type: 'nominal', sort: rows, title: null } }, spec: plot, spacing: 24 };
}

/**
 * Vertical grouped bars (a group per `group`, a bar per system), each value printed over its bar
 * and, for rows that carry one, a `ratio` in bold above it.
 */
function groupedBars({ values, groups, systems, yTitle, facetRow }) {
  const x = groupAxis(groups);
  const xOffset = { field: 'system', sort: systems };
  const y = { field: 'value', type: 'quantitative', title: yTitle, axis: { labelExpr: "datum.value === 0 ? '0' : format(datum.value, '~s')", tickCount: 5 } };
  const layer = [
    { mark: { type: 'bar', cornerRadiusTopLeft: 2, cornerRadiusTopRight: 2 }, encoding: { x, xOffset, y, color: colorOf(systems) } },
    {
      transform: [{ calculate: "format(datum.value, datum.value >= 1000 ? '.3~s' : '.3~')", as: 'label' }],
      mark: { type: 'text', baseline: 'bottom', dy: -3, fontSize: 10, color: '#333' },
      encoding: { x, xOffset, y, text: { field: 'label' } },
    },
    {
      transform: [{ filter: 'datum.ratio != null' }],
      mark: { type: 'text', baseline: 'bottom', dy: -16, fontSize: 11, fontWeight: 'bold', color: '#1d4f7d' },
      encoding: { x, xOffset, y, text: { field: 'ratio' } },
    },
  ];
  return facetRows(values, facetRow, { width: facetPlotWidthPx, height: 180, layer });
}

/**
 * Latency as a range per system: a line from p50 (circle) to p99 (triangle) on a log axis, so a
 * 0.3 ms p50 and a 48 ms p99 read on one chart; the p99 value is printed over its mark.
 */
function latencyRanges({ values, groups, systems, facetRow }) {
  const x = groupAxis(groups);
  const xOffset = { field: 'system', sort: systems };
  // Whole decades around the data, ticks at 1, 3, 10, 30…: a log axis's default ticks crowd it.
  const lowest = 10 ** Math.floor(Math.log10(Math.min(...values.map((row) => row.p50))));
  const highest = 10 ** Math.ceil(Math.log10(Math.max(...values.map((row) => row.p99))));
  const ticks = [];
  for (let decade = lowest; decade < highest; decade *= 10) ticks.push(decade, decade * 3);
  ticks.push(highest);
  const y = {
    type: 'quantitative',
    scale: { type: 'log', domain: [lowest, highest] },
    title: 'latency (ms, log scale)',
    axis: { values: ticks.map((tick) => Number(tick.toPrecision(3))), format: '~g' },
  };
  const layer = [
    { mark: { type: 'rule', strokeWidth: 3 }, encoding: { x, xOffset, y: { ...y, field: 'p50' }, y2: { field: 'p99' }, color: colorOf(systems) } },
    {
      transform: [{ fold: ['p50', 'p99'], as: ['percentile', 'ms'] }],
      mark: { type: 'point', filled: true, size: 55, opacity: 1 },
      encoding: {
        x,
        xOffset,
        y: { ...y, field: 'ms' },
        color: colorOf(systems),
        shape: { field: 'percentile', type: 'nominal', scale: { domain: ['p50', 'p99'], range: ['circle', 'triangle-up'] }, legend: { title: null } },
      },
    },
    {
      mark: { type: 'text', baseline: 'bottom', dy: -7, fontSize: 10, color: '#333' },
      encoding: { x, xOffset, y: { ...y, field: 'p99' }, text: { field: 'p99', format: '.3~' } },
    },
  ];
  return facetRows(values, facetRow, { width: facetPlotWidthPx, height: 190, layer });
}

/**
 * Plot width of a horizontal bar chart so that category labels on the left, the plot, and value
 * labels running past the longest bar come to chartWidthPx in all.
 */
function barPlotWidth(categories, labels, labelFontPx) {
  const widest = (texts, fontPx) => Math.max(...texts.flatMap((text) => text.split('\n')).map((text) => textWidth({ fontSize: fontPx }, text)));
  const axisPx = widest(categories, 11) + 8 + 6;
  const labelPx = widest(labels, labelFontPx) + 10;
  return Math.round(chartWidthPx - 2 * chartConfig.padding - axisPx - labelPx);
}

/**
 * Horizontal bars, one per `category` (labels may break lines), each labelled with `label` at
 * `labelAt` (its end unless given); `points` (optional, { category, value }) drawn on top. The
 * category names the system, so there is no legend.
 */
function horizontalBars({ values, xTitle, points }) {
  const categories = values.map((row) => row.category);
  const y = { field: 'category', type: 'nominal', sort: categories, title: null, axis: { labelExpr: multiLineLabels, labelFontSize: 11, labelLimit: 400, labelPadding: 8 } };
  const x = { field: 'value', type: 'quantitative', title: xTitle, axis: { tickCount: 6 } };
  const layer = [
    { mark: { type: 'bar', height: { band: 0.62 }, cornerRadiusEnd: 2 }, encoding: { y, x, color: colorOf([...new Set(values.map((row) => row.system))], null) } },
    {
      transform: [{ calculate: 'datum.labelAt == null ? datum.value : datum.labelAt', as: 'labelX' }],
      mark: { type: 'text', align: 'left', dx: 7, fontSize: 11, color: '#222' },
      encoding: { y, x: { ...x, field: 'labelX' }, text: { field: 'label' } },
    },
  ];
  if (points !== undefined) {
    layer.push({
      data: { values: points },
      mark: { type: 'point', shape: 'diamond', filled: true, size: 60, color: '#222', opacity: 0.8 },
      encoding: { y, x },
    });
  }
  const lines = Math.max(...categories.map((category) => category.split('\n').length));
  return {
    data: { values },
    width: barPlotWidth(categories, values.map((row) => row.label), 11),
    height: values.length * Math.max(36, lines * 16 + 14),
    layer,
  };
}

// ---------------------------------------------------------------- the charts

const nodeGroups = ['SET\nno pipelining', 'GET\nno pipelining', 'SET\npipeline 16', 'GET\npipeline 16'];

const charts = [
  {
    section: 'node',
    file: 'node-throughput.png',
    alt: 'Single node throughput, Ballast vs redis-server',
    columns: ['Pair (Ballast vs Redis)', 'Mode', 'Test', 'Redis req/s', 'Ballast req/s', 'Ratio'],
    build(rows) {
      const values = rows.flatMap((row) => {
        const common = { pair: row['Pair (Ballast vs Redis)'], group: `${row.Test}\n${row.Mode}` };
        return [
          { ...common, system: 'Redis', value: number(row['Redis req/s']), ratio: null },
          { ...common, system: 'Ballast', value: number(row['Ballast req/s']), ratio: `${number(row.Ratio).toFixed(2)}×` },
        ];
      });
      return {
        title: title('Single node throughput: ballast-node vs redis-server', 'redis-benchmark -c 50 -r 100000 -d 100, plain and -P 16; in bold, Ballast ÷ Redis'),
        ...groupedBars({ values, groups: nodeGroups, systems: ['Redis', 'Ballast'], yTitle: 'requests per second', facetRow: 'pair' }),
      };
    },
  },
  {
    section: 'node',
    file: 'node-latency.png',
    alt: 'Single node latency p50 and p99, Ballast vs redis-server',
    columns: ['Pair (Ballast vs Redis)', 'Mode', 'Test', 'Redis p50/p99 ms', 'Ballast p50/p99 ms'],
    build(rows) {
      const values = rows.flatMap((row) =>
        [['Redis', 'Redis p50/p99 ms'], ['Ballast', 'Ballast p50/p99 ms']].map(([system, column]) => {
          const [p50, p99] = latencyPair(row[column]);
          return { pair: row['Pair (Ballast vs Redis)'], group: `${row.Test}\n${row.Mode}`, system, p50, p99 };
        }),
      );
      return {
        title: title('Single node latency: ballast-node vs redis-server', 'redis-benchmark, 50 clients; each line runs from p50 (circle) to p99 (triangle, value printed)'),
        ...latencyRanges({ values, groups: nodeGroups, systems: ['Redis', 'Ballast'], facetRow: 'pair' }),
      };
    },
  },
  {
    section: 'node',
    file: 'node-memory.png',
    alt: 'Memory and disk per key, Ballast vs redis-server',
    columns: ['Figure', 'ballast-node per key', 'redis-server per key', 'Ballast ÷ Redis'],
    build(rows, sectionText) {
      const keys = /per key with ([\d,]+) keys/.exec(sectionText)?.[1] ?? 'the loaded';
      const values = rows.flatMap((row) =>
        [['Ballast', 'ballast-node per key'], ['Redis', 'redis-server per key']]
          .filter(([, column]) => row[column] !== '—')
          .map(([system, column]) => {
            const value = number(row[column]);
            const ratio = system === 'Ballast' && row['Ballast ÷ Redis'] !== '—' ? ` (${row['Ballast ÷ Redis']} Redis)` : '';
            return { category: row.Figure, system, value, label: `${fmt(value)} B${ratio}` };
          }),
      );
      const categories = [...new Set(values.map((row) => row.category))];
      const y = { field: 'category', type: 'nominal', sort: categories, title: null, axis: { labelLimit: 400, labelFontSize: 11, labelPadding: 8 } };
      const yOffset = { field: 'system', sort: ['Ballast', 'Redis'] };
      const x = { field: 'value', type: 'quantitative', title: 'bytes per key: (loaded − empty) ÷ keys', axis: { tickCount: 6 } };
      return {
        title: title(`Memory and disk per key, ${keys} keys of 100 bytes`, 'ballast-node vs redis-server, each loaded from empty; in brackets, Ballast ÷ Redis'),
        data: { values },
        width: barPlotWidth(categories, values.map((row) => row.label), 10),
        height: categories.length * 40,
        layer: [
          { mark: { type: 'bar', cornerRadiusEnd: 2 }, encoding: { y, yOffset, x, color: colorOf(['Ballast', 'Redis']) } },
          { mark: { type: 'text', align: 'left', dx: 5, fontSize: 10, color: '#222' }, encoding: { y, yOffset, x, text: { field: 'label' } } },
        ],
      };
    },
  },
  {
    section: 'node',
    file: 'node-restart.png',
    alt: 'Restart time with the loaded keys, Ballast vs redis-server',
    columns: ['Server', 'Restart to first GET'],
    build(rows, sectionText) {
      const keys = /Restart with ([\d,]+) keys/.exec(sectionText)?.[1] ?? 'the loaded';
      const values = rows.map((row) => ({ category: row.Server, system: family(row.Server), value: number(row['Restart to first GET']), label: row['Restart to first GET'] }));
      return {
        title: title(`Restart with ${keys} keys of 100 bytes`, 'time from process start to the first successful GET of the last key'),
        ...horizontalBars({ values, xTitle: 'seconds' }),
      };
    },
  },
  {
    section: 'cluster',
    file: 'cluster-throughput.png',
    alt: 'Cluster throughput, Ballast (3 nodes) vs Redis Cluster (3 masters + 3 replicas)',
    columns: ['Mode', 'Test', 'Redis everysec req/s', 'Redis always req/s', 'Ballast async req/s', 'Ballast sync req/s', 'async / everysec', 'sync / always'],
    build(rows) {
      const values = rows.flatMap((row) =>
        [
          { system: 'Redis everysec', value: number(row['Redis everysec req/s']), ratio: null },
          { system: 'Redis always', value: number(row['Redis always req/s']), ratio: null },
          { system: 'Ballast async', value: number(row['Ballast async req/s']), ratio: `${number(row['async / everysec']).toFixed(2)}×` },
          { system: 'Ballast sync', value: number(row['Ballast sync req/s']), ratio: `${number(row['sync / always']).toFixed(2)}×` },
        ].map((value) => ({ ...value, mode: row.Mode, group: row.Test })),
      );
      return {
        title: title('Cluster throughput: Ballast (3 nodes) vs Redis Cluster (3 + 3)', 'redis-benchmark --cluster; in bold, Ballast async ÷ Redis everysec and Ballast sync ÷ Redis always'),
        ...groupedBars({ values, groups: ['SET', 'GET'], systems: ['Redis everysec', 'Redis always', 'Ballast async', 'Ballast sync'], yTitle: 'requests per second', facetRow: 'mode' }),
      };
    },
  },
  {
    section: 'cluster',
    file: 'cluster-latency.png',
    alt: 'Cluster latency p50 and p99, Ballast vs Redis Cluster',
    columns: ['Mode', 'Test', 'Redis everysec', 'Redis always', 'Ballast async', 'Ballast sync'],
    build(rows) {
      const systems = ['Redis everysec', 'Redis always', 'Ballast async', 'Ballast sync'];
      const values = rows.flatMap((row) =>
        systems.map((system) => {
          const [p50, p99] = latencyPair(row[system]);
          return { mode: row.Mode, group: row.Test, system, p50, p99 };
        }),
      );
      return {
        title: title('Cluster latency: Ballast (3 nodes) vs Redis Cluster (3 + 3)', 'redis-benchmark --cluster; each line runs from p50 (circle) to p99 (triangle, value printed)'),
        ...latencyRanges({ values, groups: ['SET', 'GET'], systems, facetRow: 'mode' }),
      };
    },
  },
  {
    section: 'cluster',
    file: 'cluster-failover.png',
    alt: 'Failover time after kill -9 of a primary, Ballast vs Redis Cluster',
    columns: ['System', 'Setting', 'Median', 'Max', 'Each trial'],
    build(rows) {
      const categoryOf = (row) => `${row.System}\n${row.Setting}`;
      // A trial that did not recover is printed "> N s"; it is left out of the points.
      const points = rows.flatMap((row) =>
        row['Each trial'].split(',').map((trial) => trial.trim()).filter((trial) => trial !== '' && !trial.startsWith('>')).map((trial) => ({ category: categoryOf(row), value: number(trial) })),
      );
      const values = rows.map((row) => ({
        category: categoryOf(row),
        system: family(row.System),
        value: row.Median === '—' ? 0 : number(row.Median),
        labelAt: Math.max(0, ...points.filter((point) => point.category === categoryOf(row)).map((point) => point.value)),
        label: row.Median === '—' ? 'not recovered' : `median ${row.Median}`,
      }));
      return {
        title: title('Failover: kill -9 of a key\'s owner until a write of the key succeeds', 'bar: median of the trials; diamonds: each trial'),
        ...horizontalBars({ values, xTitle: 'seconds from the kill to the first successful write', points }),
      };
    },
  },
  {
    section: 'rebalance',
    file: 'rebalance-rate.png',
    alt: 'Rebalance rate per limit setting when a 4th node joins',
    columns: ['Limits', 'Bytes moved', 'Time', 'Rate'],
    build(rows) {
      const values = rows.map((row) => ({
        category: `limits: ${row.Limits}`,
        system: 'Ballast',
        value: number(row.Rate),
        label: `${number(row.Rate)} MB/s (${row['Bytes moved']} in ${row.Time})`,
      }));
      return {
        title: title('Rebalance: a 4th node joins a 3-node cluster', 'bytes sent to the new node ÷ time until the rebalance is done, per limit setting'),
        ...horizontalBars({ values, xTitle: 'MB per second (10⁶ bytes)' }),
      };
    },
  },
];

// ---------------------------------------------------------------- drawing and the page

async function renderPng(spec) {
  const { spec: vegaSpec } = compile({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: chartConfig, ...spec });
  const view = new vega.View(vega.parse(vegaSpec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return new Resvg(svg, {
      font: resvgFontOptions,
      fitTo: { mode: 'zoom', value: pixelRatio },
    }).render().asPng();
  } finally {
    view.finalize();
  }
}

/** Rewrites the "charts:<section>" block after the section's end marker (adds it if absent). */
function placeCharts(text, section, drawn) {
  const begin = `<!-- charts:${section} begin -->`;
  const end = `<!-- charts:${section} end -->`;
  const directory = path.relative(path.dirname(docFile), chartDirectory).split(path.sep).join('/');
  const images = drawn.map((chart) => `![${chart.alt}](${directory}/${chart.file})`).join('\n\n');
  const block = drawn.length === 0
    ? `${begin}\n${end}`
    : `${begin}\nDrawn from the table${drawn.length > 1 ? 's' : ''} above by \`npm run bench:charts\` (run it again after a benchmark rewrites a table):\n\n${images}\n${end}`;
  const start = text.indexOf(begin);
  if (start >= 0) {
    const stop = text.indexOf(end, start);
    if (stop < 0) throw new Error(`docs/benchmarks.md has ${begin} without ${end}`);
    return `${text.slice(0, start)}${block}${text.slice(stop + end.length)}`;
  }
  const benchEnd = `<!-- bench:${section} end -->`;
  const at = text.indexOf(benchEnd);
  if (at < 0) return text;
  return `${text.slice(0, at + benchEnd.length)}\n\n${block}${text.slice(at + benchEnd.length)}`;
}

async function main() {
  let text = readFileSync(docFile, 'utf8');
  mkdirSync(chartDirectory, { recursive: true });
  const drawnBySection = new Map();
  for (const chart of charts) {
    const table = findTable(text, chart.section, chart.columns);
    if (!drawnBySection.has(chart.section)) drawnBySection.set(chart.section, []);
    if ('missing' in table) {
      console.log(`skipped ${chart.file}: ${table.missing}`);
      continue;
    }
    const png = await renderPng(chart.build(table, markerSection(text, chart.section)));
    writeFileSync(path.join(chartDirectory, chart.file), png);
    drawnBySection.get(chart.section).push(chart);
    console.log(`wrote ${path.relative(process.cwd(), path.join(chartDirectory, chart.file))}`);
  }
  for (const [section, drawn] of drawnBySection) text = placeCharts(text, section, drawn);
  writeFileSync(docFile, text);
  console.log(`${path.relative(process.cwd(), docFile)}: chart links updated`);
}

await main();
