// Opens the HTML report in a real headless Chromium: every chart must render (SVG with drawn paths), with no
// console errors and no network requests; saves a screenshot to tests/out/.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { evaluateTables } from '../../src/eval/evaluate-tables.js';
import { renderReport } from '../../src/eval/report.js';
import { echartsSource } from '../../src/pipeline/evaluate.js';
import { makeFlows } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';

const HAVE_CHROMIUM = existsSync(CHROMIUM);

describe.skipIf(!HAVE_CHROMIUM)(HAVE_CHROMIUM ? 'report in headless Chromium' : `report in headless Chromium (skipped: ${CHROMIUM} not installed; apt-get install chromium)`, () => {
  it('renders every chart with no console errors and no network requests', async () => {
    const { chromium } = await import('playwright-core');
    const real = makeFlows(2500, 1);
    const syn = makeFlows(2500, 2);
    const { result, charts } = evaluateTables(real, syn, { seed: 3, baselines: ['marginals', 'bootstrap'] });
    const html = renderReport(result, charts, await echartsSource());
    const dir = mkdtempSync(join(tmpdir(), 'netshare-report-'));
    const file = join(dir, 'report.html');
    writeFileSync(file, html);
    const profile = mkdtempSync(join(tmpdir(), 'netshare-chromium-'));
    // A fresh profile directory (playwright passes it as --user-data-dir).
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1300, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('request', (r) => {
        if (!r.url().startsWith('file:')) requests.push(r.url());
      });
      const url = pathToFileURL(file).href;
      await page.goto(url, { waitUntil: 'load' });
      await page.waitForFunction(() => (window as unknown as { __chartsRendered?: number }).__chartsRendered !== undefined, undefined, { timeout: 15_000 });
      const stats = await page.$$eval('.chart', (els) =>
        els.map((el) => ({
          id: el.id,
          svg: el.querySelectorAll('svg').length,
          paths: el.querySelectorAll('svg path').length,
          width: el.querySelector('svg')?.getBoundingClientRect().width ?? 0,
        })),
      );
      // cdfs + 2 rank plots + 3 bars + classification + sketches + privacy
      expect(stats.length).toBe(charts.cdfs.length + 2 + 3 + 3);
      for (const s of stats) {
        expect(s.svg, s.id).toBe(1);
        expect(s.paths, s.id).toBeGreaterThan(3);
        expect(s.width, s.id).toBeGreaterThan(100);
      }
      const ratioCells = await page.$$eval('td.r', (els) => els.length);
      expect(ratioCells).toBe(result.metricInfo.length * result.methods.length);
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      mkdirSync(join('tests', 'out'), { recursive: true });
      await page.screenshot({ path: join('tests', 'out', 'eval-report.png'), fullPage: true });
    } finally {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
