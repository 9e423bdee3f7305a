import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { experiments } from '../src/experiments/index.js';
import { buildReport, escapeHtml, loadResults } from '../src/report/index.js';
import { planPlots, sweepDimension } from '../src/report/plots.js';
import { sampleResults } from './fixtures/sample-results.js';

/** The report lists experiments in the registry's order. */
function inRegistryOrder(names: string[]): string[] {
  return experiments.map((experiment) => experiment.name).filter((name) => names.includes(name));
}

const CHROMIUM = '/usr/bin/chromium';
test('the sweep dimension is the numeric one with 3+ values, preferring known names', () => {
  const rows = sampleResults();
  assert.equal(sweepDimension(rows[1]!.rows), 'readers');
  assert.equal(sweepDimension(rows[2]!.rows), 'clients');
  assert.equal(sweepDimension(rows[3]!.rows), 'rate'); // 'back-to-back' is kept, after the numbers
  assert.equal(sweepDimension(rows[0]!.rows), undefined);
  const scanPlots = planPlots({
    experiment: 'scan',
    rows: rows[1]!.rows,
    variants: ['sync'],
    headline: 'ms',
  });
  // per input: bars by readers and ms against readers
  assert.deepEqual(
    scanPlots.map((plot) => plot.title),
    [
      'ms per variant by readers (input=tree)',
      'ms against readers (input=tree)',
      'ms per variant by readers (input=large)',
      'ms against readers (input=large)',
    ],
  );
  const servePlots = planPlots({
    experiment: 'serve',
    rows: rows[2]!.rows,
    variants: [],
    headline: 'maxRequestMs',
  });
  assert.ok(servePlots.some((plot) => plot.title === 'peakRssMb against clients (file=2MiB)'));
  assert.equal(escapeHtml('<a href="x">&</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;');
});

test('the report renders every experiment with its plots, and loads in Chromium with no errors', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-report-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const result of sampleResults())
    writeFileSync(path.join(dir, `${result.experiment}.json`), JSON.stringify(result));
  writeFileSync(path.join(dir, 'broken.json'), '{ not json');
  const { results, ignored } = loadResults(dir);
  assert.equal(results.length, 5);
  assert.equal(ignored.length, 1);
  const report = await buildReport(results, ignored);
  assert.deepEqual(report.experiments, inRegistryOrder(['fileread', 'scan', 'rtt', 'serve', 'zip']));
  // at least the headline bars per experiment, and for scan (two inputs, a readers sweep) bars and lines each
  assert.ok(report.plots >= results.length + 3, `only ${report.plots} plots`);
  assert.ok(!/(src|href)="https?:/.test(report.html), 'nothing is loaded from the network');
  assert.ok(report.html.includes('rg zqzqzqzqzq'), "the scan seed's table is beside ours");
  assert.ok(report.html.includes('&lt;angle brackets&gt;'), 'notes are escaped');
  const file = path.join(dir, 'report.html');
  writeFileSync(file, report.html);

  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is missing (CI installs Debian's chromium): the page was built but not loaded`);
    return;
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    assert.deepEqual(problems, []);
    assert.deepEqual(requests, [pathToFileURL(file).href], 'the page fetched nothing else');
    const figures = await page.locator('figure.plot').count();
    assert.equal(figures, report.plots);
    const withSvg = await page.locator('figure.plot > svg').count();
    assert.equal(withSvg, figures, 'every plot has its <svg>');
    // every SVG actually drew marks with a size
    const sizes = await page
      .locator('figure.plot > svg')
      .evaluateAll((svgs) =>
        svgs.map((svg) => svg.getBoundingClientRect().width * svg.getBoundingClientRect().height),
      );
    assert.ok(
      sizes.every((area) => area > 10_000),
      `plot areas ${sizes.join(', ')}`,
    );
    const bars = await page.locator('#scan figure.bars svg path').count();
    assert.ok(bars > 0, 'the scan bars are drawn');
    const sections = await page
      .locator('section.experiment')
      .evaluateAll((nodes) => nodes.map((node) => node.id));
    assert.deepEqual(sections, inRegistryOrder(['fileread', 'scan', 'rtt', 'serve', 'zip']));
  } finally {
    await browser.close();
  }
});
