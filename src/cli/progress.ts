/**
 * A progress bar with rate and ETA on stderr. Silent when stderr is not a terminal (logs and
 * pipes stay clean), so machine-readable output is never mixed with it.
 */
export class ProgressBar {
  private start = 0;
  private stage = '';
  private readonly enabled: boolean;
  constructor(enabled = Boolean(process.stderr.isTTY)) {
    this.enabled = enabled;
  }

  /** `skipped`: of `done`, those not done now (e.g. resumed), left out of the rate and ETA. */
  update(stage: string, done: number, total: number, unit = 'it', skipped = 0): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (stage !== this.stage) {
      this.stage = stage;
      this.start = now;
    }
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const secs = (now - this.start) / 1000;
    const rate = secs > 0 ? (done - skipped) / secs : 0;
    const eta = rate > 0 ? (total - done) / rate : NaN;
    const line = `${stage} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${rate.toFixed(1)} ${unit}/s ETA ${formatSeconds(eta)}`;
    process.stderr.write(`\r${line.slice(0, (process.stderr.columns ?? 120) - 1)}\x1b[K`);
  }

  done(): void {
    if (this.enabled && this.stage) process.stderr.write('\r\x1b[K');
    this.stage = '';
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60), sec = Math.round(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(sec).padStart(2, '0')}`;
}
