// The download buttons: the shown job's output with the names the user gave, as JSON or through
// the renderers of formats.js (RTTM, CSV; VTT, SRT, TXT of a transcription), saved as a file.
import { $ } from './dom.js';
import { guarded } from './errors.js';
import { toCsv, toRttm, toSrt, toText, toVtt } from './formats.js';
import { channelsOf, downloadName } from './output.js';
import { state } from './state.js';

const RENAMED = ['diarization', 'exclusiveDiarization', 'wordLevelTranscription', 'turnLevelTranscription'];

function renamedOutput() {
  const rename = (channel) => (t) => ({ ...t, speaker: downloadName(channel, t.speaker) });
  const out = structuredClone(state.output);
  const parts = channelsOf(out);
  const first = parts[0].channel;
  for (const key of RENAMED) {
    if (out[key]) out[key] = out[key].map(rename(first));
  }
  if (out.channels) {
    out.channels = out.channels.map((ch) => {
      const copy = { ...ch };
      for (const key of RENAMED) {
        if (copy[key]) copy[key] = copy[key].map(rename(ch.channel));
      }
      return copy;
    });
  }
  return out;
}

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function setupDownloads() {
  const id = () => state.job.jobId;
  $('download-json').addEventListener('click', () =>
    download(`${id()}.json`, 'application/json', JSON.stringify(renamedOutput(), null, 2) + '\n'));
  $('download-rttm').addEventListener('click', () =>
    download(`${id()}.rttm`, 'text/plain', toRttm(renamedOutput(), id())));
  $('download-csv').addEventListener('click', () =>
    download(`${id()}.csv`, 'text/csv', toCsv(renamedOutput())));
  $('download-vtt').addEventListener('click', () =>
    guarded(async () => download(`${id()}.vtt`, 'text/vtt', toVtt(renamedOutput()))));
  $('download-srt').addEventListener('click', () =>
    guarded(async () => download(`${id()}.srt`, 'application/x-subrip', toSrt(renamedOutput()))));
  $('download-txt').addEventListener('click', () =>
    guarded(async () => download(`${id()}.txt`, 'text/plain', toText(renamedOutput()))));
}
