/** For the Web UI browser tests (playwright-core driving Debian's chromium). */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';

/**
 * Polls the page's text until every string is in it (the UI loads its data, and decodes it, after
 * the page); when one never shows, saves a screenshot in `artifacts` and fails naming the missing.
 */
export async function waitForText(
  page: Page,
  wanted: string[],
  artifacts: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let missing = wanted;
  while (Date.now() < deadline) {
    const text = await page.locator('body').innerText();
    missing = wanted.filter((w) => !text.includes(w));
    if (missing.length === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  await page.screenshot({ path: `${artifacts}/failed-${Date.now()}.png` });
  assert.fail(`the UI at ${page.url()} never showed: ${missing.join(' | ')}`);
}
