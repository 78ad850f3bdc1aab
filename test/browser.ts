/** Headless Chromium for page tests: Debian's chromium driven by playwright-core (installed by .ci/run). */
import fs from 'node:fs';
import nodePath from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { REPO_ROOT } from './helpers.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const HAS_CHROMIUM = fs.existsSync(CHROMIUM);
export const needsChromium = HAS_CHROMIUM ? {} : { skip: `no Chromium at ${CHROMIUM} (.ci/run installs Debian's chromium)` };
/** Screenshots and other artefacts of test runs (git-ignored). */
export const TEST_OUTPUT = nodePath.join(REPO_ROOT, 'test-output');

export async function launch(): Promise<Browser> {
  fs.mkdirSync(TEST_OUTPUT, { recursive: true });
  // The flags keep Chromium off the network (this machine has none) and quiet in containers.
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
