/** The index page in Debian's headless Chromium: renders without console errors, and a download link works. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { createDownloadServer } from '../../src/http/server.js';
import { patternBytes, tempDir, writeFiles } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';

test('index page in headless Chromium: no console errors, a download link followed', {
  skip: !existsSync(CHROMIUM),
}, async () => {
  const library = tempDir();
  const content = patternBytes(300_000, 9);
  await writeFiles(library.dir, { 'Les Misérables/01 Fantine.mp3': content, 'Alice/01 Rabbit.mp3': 'x' });
  const server = createDownloadServer({ root: library.dir, zip: false });
  const url = await server.listen(0, '127.0.0.1');
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
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    const response = await page.goto(url);
    assert.equal(response?.status(), 200);
    assert.equal(await page.title(), 'Audiobooks');
    assert.equal(await page.locator('h2', { hasText: 'Les Misérables' }).count(), 1);
    await page.locator('summary').first().click();
    await page.locator('summary').nth(1).click();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('a', { hasText: '01 Fantine.mp3' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), '01 Fantine.mp3');
    const saved = await download.path();
    assert.ok(readFileSync(saved).equals(content), 'downloaded bytes are the file');
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await server.close({ graceMs: 100 });
    library.remove();
  }
});
