/** Spike statistics as text: a one-line summary and a per-layer table. */
import type { ModelSpikeSummary } from '../sdllm/stats.js';

export function formatStatsLine(s: ModelSpikeSummary): string {
  const l = s.linears;
  const parts = [
    `spike stats: firing rate ${(100 * l.firingRate).toFixed(2)}%`,
    `T ${l.maxTimeSteps === l.timeSteps ? l.timeSteps : `${l.timeSteps.toFixed(1)} (max ${l.maxTimeSteps})`}`,
    `mean |count| ${l.meanAbsCount.toFixed(3)}`,
    `silent ${(100 * l.silentFraction).toFixed(1)}%`,
    `events/token ${Math.round(l.eventsPerToken).toLocaleString('en-US')}`,
  ];
  if (s.attention) parts.push(`attention Q firing rate ${(100 * s.attention.firingRate).toFixed(2)}%`);
  return parts.join(' | ');
}

export function formatStatsTable(s: ModelSpikeSummary): string {
  const rows = [['layer', 'firing %', 'T', 'mean |c|', 'silent %', 'events/token']];
  for (const l of s.layers)
    rows.push([l.name, (100 * l.firingRate).toFixed(2), l.timeSteps.toFixed(1), l.meanAbsCount.toFixed(3), (100 * l.silentFraction).toFixed(1), Math.round(l.eventsPerToken).toLocaleString('en-US')]);
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ')).join('\n');
}
