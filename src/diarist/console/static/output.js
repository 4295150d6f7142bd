// A job's output as the page reads it: its channels (one, or each of a split job's), the rows'
// keys, the name shown for a speaker (given, matched, or as the API wrote it) and the one used in
// downloads, its end, and the overlaps of a channel's turns.
import { state } from './state.js';

export function channelsOf(output) {
  if (output.channels && output.channels.length) return output.channels;
  return [{ channel: null, ...output }];
}

export function rowKey(channel, speaker) {
  return `${channel ?? ''}|${speaker}`;
}

export function displayName(channel, speaker) {
  const key = rowKey(channel, speaker);
  return state.names.get(key) || state.matches.get(key) || speaker;
}

export function downloadName(channel, speaker) {
  return state.names.get(rowKey(channel, speaker)) || speaker;
}

export function maxEnd(output) {
  let end = 0;
  for (const ch of channelsOf(output)) for (const t of ch.diarization || []) end = Math.max(end, t.end);
  return end;
}

export function overlaps(turns) {
  // Intervals where two or more turns of one channel are active at once.
  const edges = [];
  for (const t of turns) edges.push([t.start, 1], [t.end, -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out = [];
  let active = 0;
  let from = 0;
  for (const [at, step] of edges) {
    if (active < 2 && active + step >= 2) from = at;
    if (active >= 2 && active + step < 2 && at > from) out.push({ start: from, end: at });
    active += step;
  }
  return out;
}
