// The downloads' renderers, pure functions of a job's output, each writing exactly what the CLI
// writes (`diarist result --format rttm|csv|vtt|srt|txt`): RTTM and CSV of the turns, WebVTT, SRT
// and "who said what" text of a transcription; and the transcript's rows and time stamps the
// transcript panel shows.
import { ApiError } from './api.js';
import { channelsOf, maxEnd } from './output.js';

// RTTM and CSV are written exactly as the API's client writes a job's output
// (`diarist result --format rttm|csv`): turns in time order per channel, channels from 1.

function turnLines(output) {
  const lines = [];
  for (const ch of channelsOf(output)) {
    const number = (ch.channel || 0) + 1;
    const turns = [...(ch.diarization || [])].sort((a, b) => a.start - b.start);
    for (const t of turns) lines.push({ channel: number, speaker: t.speaker, start: t.start, end: t.end });
  }
  return lines;
}

export function toRttm(output, fileId) {
  return turnLines(output)
    .map((t) => {
      const name = t.speaker.split(/\s+/).filter(Boolean).join('_') || '_';
      return `SPEAKER ${fileId} ${t.channel} ${t.start.toFixed(3)} ${(t.end - t.start).toFixed(3)} <NA> <NA> ${name} <NA> <NA>\n`;
    })
    .join('');
}

function csvCell(v) {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(output) {
  const rows = [['channel', 'speaker', 'start', 'end']];
  for (const t of turnLines(output)) rows.push([t.channel, t.speaker, t.start.toFixed(3), t.end.toFixed(3)]);
  return rows.map((r) => r.map(csvCell).join(',') + '\r\n').join('');
}

// WebVTT, SRT and "who said what" text of a transcribed output, exactly as `diarist result --format
// vtt|srt|txt` writes them (diarist.client.render over diarist.engine.formats): the same cues (runs of
// one speaker's words, at most MAX_CUE_S seconds and MAX_CUE_CHARS characters, broken at pauses over
// MAX_CUE_GAP_S), the same rounding (Python's: half to even), the same order.
const MAX_CUE_S = 7.0;
const MAX_CUE_CHARS = 84;
const MAX_CUE_GAP_S = 1.5;

const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const chars = (text) => [...text].length; // code points, as Python's len
const pad = (n, width) => String(n).padStart(width, '0');

function roundHalfEven(x) {
  const f = Math.floor(x);
  const d = x - f;
  if (d !== 0.5) return d > 0.5 ? f + 1 : f;
  return f % 2 === 0 ? f : f + 1;
}

function fixed1(x) {
  // Python's f"{x:.1f}": exact ties (x*10 = k + 0.5 exactly: x = odd / 4) go to the even digit
  if (Number.isInteger(x * 4) && !Number.isInteger(x * 2)) return (roundHalfEven(x * 10) / 10).toFixed(1);
  return x.toFixed(1);
}

export function transcriptParts(output) {
  // null when the output has no transcription; else each channel's words, turns and word joiner
  const parts = channelsOf(output);
  if (!parts.some((p) => 'wordLevelTranscription' in p)) return null;
  const multi = parts.length > 1;
  return parts.map((p) => {
    const words = p.wordLevelTranscription || [];
    const turns = p.turnLevelTranscription || [];
    return {
      channel: multi ? p.channel : null,
      prefix: multi ? `ch${Math.trunc(p.channel || 0) + 1} ` : '',
      words,
      turns,
      joiner: joinerOf(words, turns),
    };
  });
}

function joinerOf(words, turns) {
  // ' ' unless each turn of several words reads as its words written without spaces
  const runs = [];
  let speaker = null;
  for (const w of words) {
    if (runs.length && w.speaker === speaker) runs[runs.length - 1].push(w.text);
    else runs.push([w.text]);
    speaker = w.speaker;
  }
  let several = false;
  for (let i = 0; i < Math.min(runs.length, turns.length); i++) {
    if (runs[i].length > 1) {
      several = true;
      const text = turns[i].text;
      if (text === runs[i].join(' ').trim() || text !== runs[i].join('').trim()) return ' ';
    }
  }
  return several ? '' : ' ';
}

function cuesOf(parts) {
  const cues = [];
  for (const p of parts) {
    const join = p.joiner;
    let run = [];
    const flush = () => {
      if (run.length) {
        const text = run.map((w) => w.text).join(join).trim();
        cues.push({ speaker: p.prefix + run[0].speaker, start: run[0].start, end: run[run.length - 1].end, text });
      }
    };
    for (const w of p.words) {
      if (
        run.length &&
        (w.speaker !== run[0].speaker ||
          w.end - run[0].start > MAX_CUE_S ||
          run.reduce((n, x) => n + chars(x.text) + chars(join), 0) + chars(w.text) > MAX_CUE_CHARS ||
          w.start - run[run.length - 1].end > MAX_CUE_GAP_S)
      ) {
        flush();
        run = [];
      }
      run.push(w);
    }
    flush();
  }
  return cues.sort((a, b) => a.start - b.start || a.end - b.end || cmp(a.speaker, b.speaker));
}

function clock(t, sep) {
  let ms = roundHalfEven(Math.max(t, 0) * 1000);
  const h = Math.floor(ms / 3600000);
  ms -= h * 3600000;
  const m = Math.floor(ms / 60000);
  ms -= m * 60000;
  const s = Math.floor(ms / 1000);
  ms -= s * 1000;
  return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}${sep}${pad(ms, 3)}`;
}

const vttEscape = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function requireParts(output) {
  const parts = transcriptParts(output);
  if (!parts) throw new ApiError(0, 'this job has no transcription');
  return parts;
}

export function toVtt(output) {
  const blocks = ['WEBVTT\n'];
  for (const c of cuesOf(requireParts(output))) {
    const end = Math.max(c.end, c.start + 0.001);
    blocks.push(`${clock(c.start, '.')} --> ${clock(end, '.')}\n<v ${vttEscape(c.speaker)}>${vttEscape(c.text)}\n`);
  }
  return blocks.join('\n');
}

export function toSrt(output) {
  return cuesOf(requireParts(output))
    .map((c, i) => `${i + 1}\n${clock(c.start, ',')} --> ${clock(Math.max(c.end, c.start + 0.001), ',')}\n${c.speaker}: ${c.text}\n`)
    .join('\n');
}

export function transcriptLastEnd(output) {
  let last = maxEnd(output);
  for (const p of transcriptParts(output) || []) {
    for (const t of [...p.turns, ...p.words]) last = Math.max(last, t.end);
  }
  return last;
}

export function stamp(t, hours) {
  const s = t % 60;
  const minutes = Math.round((t - s) / 60);
  const h = Math.floor(minutes / 60);
  const m = minutes - 60 * h;
  const sec = fixed1(s).padStart(4, '0');
  return hours ? `[${h}:${pad(m, 2)}:${sec}]` : `[${pad(m + 60 * h, 2)}:${sec}]`;
}

export function transcriptRows(output) {
  // one row per turn-level item of every channel, in the order `--format txt` writes them
  const parts = transcriptParts(output);
  if (!parts) return [];
  const rows = [];
  for (const p of parts) {
    for (const t of p.turns) rows.push({ channel: p.channel, prefix: p.prefix, ...t });
  }
  return rows.sort(
    (a, b) => a.start - b.start || cmp(a.prefix + a.speaker, b.prefix + b.speaker) || cmp(a.text, b.text),
  );
}

export function toText(output) {
  requireParts(output);
  const hours = transcriptLastEnd(output) >= 3600;
  return transcriptRows(output)
    .map((t) => `${stamp(t.start, hours)} ${t.prefix}${t.speaker}: ${t.text}\n`)
    .join('');
}
