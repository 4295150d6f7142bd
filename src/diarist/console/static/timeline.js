// The timeline and the player: the audio element, the waveform (wavesurfer.js, overlaps as its
// regions), one row per speaker with its turns (click to play from there; the name field renames
// the speaker), the overlap and confidence rows, and the cursor following playback.
import WaveSurfer from './vendor/wavesurfer.esm.js';
import RegionsPlugin from './vendor/regions.esm.js';
import TimelinePlugin from './vendor/timeline.esm.js';
import { api } from './api.js';
import { $ } from './dom.js';
import { channelsOf, displayName, overlaps, rowKey } from './output.js';
import { state } from './state.js';
import { markPlaying, renderTranscript } from './transcript.js';

// wavesurfer.js decodes the whole file in the browser: past this length the page plays the audio
// without drawing its waveform (the timeline does not need it)
const WAVEFORM_MAX_S = 2 * 3600;

function place(el, start, end) {
  const d = state.duration || 1;
  el.style.left = `${(100 * start) / d}%`;
  el.style.width = `${(100 * Math.max(end - start, 0)) / d}%`;
}

function labelTurn(b, channel, speaker, start, end) {
  const label = `${displayName(channel, speaker)}: ${start.toFixed(2)} s to ${end.toFixed(2)} s`;
  b.setAttribute('aria-label', label);
  b.title = label;
}

export function renderTimeline() {
  const box = $('timeline');
  box.replaceChildren();
  const multi = channelsOf(state.output).length > 1;
  channelsOf(state.output).forEach((ch) => {
    const prefix = multi ? `channel ${ch.channel + 1} ` : '';
    const turns = ch.diarization || [];
    const speakers = [...new Set(turns.map((t) => t.speaker))].sort();
    speakers.forEach((speaker, i) => {
      const { row, track } = trackRow(prefix, ch.channel, speaker);
      row.setAttribute('data-testid', 'speaker-row');
      row.dataset.speaker = speaker;
      if (ch.channel !== null) row.dataset.channel = String(ch.channel);
      for (const t of turns.filter((x) => x.speaker === speaker)) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = `turn c${i % 8}`;
        b.setAttribute('data-testid', 'turn');
        b.dataset.speaker = speaker;
        b.dataset.start = String(t.start);
        b.dataset.end = String(t.end);
        if (ch.channel !== null) b.dataset.channel = String(ch.channel);
        labelTurn(b, ch.channel, speaker, t.start, t.end);
        place(b, t.start, t.end);
        b.addEventListener('click', () => playFrom(t.start));
        track.append(b);
      }
      box.append(row);
    });
    const overlapping = overlaps(turns);
    if (overlapping.length) {
      const { row, track } = staticRow(`${prefix}overlap`);
      row.setAttribute('data-testid', 'overlap-row');
      for (const o of overlapping) {
        const d = document.createElement('div');
        d.className = 'overlap';
        d.title = `overlap ${o.start.toFixed(2)} s to ${o.end.toFixed(2)} s`;
        place(d, o.start, o.end);
        track.append(d);
      }
      box.append(row);
    }
    if (ch.confidence && ch.confidence.score && ch.confidence.score.length) {
      const { row, track } = staticRow(`${prefix}confidence`);
      row.setAttribute('data-testid', 'confidence-row');
      track.classList.add('conf-track');
      const canvas = document.createElement('canvas');
      canvas.className = 'conf';
      canvas.setAttribute('data-testid', 'confidence-curve');
      canvas.setAttribute('aria-label', 'confidence over time (0 to 100)');
      track.append(canvas);
      box.append(row);
      requestAnimationFrame(() => drawConfidence(canvas, ch.confidence));
    }
  });
  for (const track of box.querySelectorAll('.track')) {
    const c = document.createElement('div');
    c.className = 'cursor';
    c.setAttribute('data-testid', 'cursor');
    track.append(c);
  }
  moveCursor();
}

function trackRow(prefix, channel, speaker) {
  const row = document.createElement('div');
  row.className = 'track-row';
  const input = document.createElement('input');
  input.type = 'text';
  input.value = displayName(channel, speaker);
  input.setAttribute('data-testid', 'speaker-name');
  input.setAttribute('aria-label', `Name for ${prefix}${speaker}`);
  input.addEventListener('change', () => {
    const v = input.value.trim();
    if (v && v !== speaker) state.names.set(rowKey(channel, speaker), v);
    else state.names.delete(rowKey(channel, speaker));
    for (const b of row.querySelectorAll('.turn')) {
      labelTurn(b, channel, speaker, Number(b.dataset.start), Number(b.dataset.end));
    }
    renderTranscript();
  });
  const track = document.createElement('div');
  track.className = 'track';
  row.append(input, track);
  return { row, track };
}

function staticRow(text) {
  const row = document.createElement('div');
  row.className = 'track-row';
  const label = document.createElement('span');
  label.className = 'label';
  label.textContent = text;
  const track = document.createElement('div');
  track.className = 'track';
  row.append(label, track);
  return { row, track };
}

function drawConfidence(canvas, confidence) {
  const w = (canvas.width = canvas.clientWidth || 600);
  const h = (canvas.height = 40);
  const g = canvas.getContext('2d');
  const { score, resolution } = confidence;
  const d = state.duration || score.length * resolution;
  g.clearRect(0, 0, w, h);
  g.strokeStyle = '#0b5cad';
  g.beginPath();
  score.forEach((s, i) => {
    const x = ((i * resolution) / d) * w;
    const y = h - (s / 100) * (h - 2) - 1;
    if (i === 0) g.moveTo(x, y);
    else g.lineTo(x, y);
  });
  g.stroke();
}

function moveCursor() {
  const audio = $('audio');
  const d = state.duration || 1;
  const pct = `${Math.min(100, (100 * (audio.currentTime || 0)) / d)}%`;
  for (const c of document.querySelectorAll('#timeline .cursor')) c.style.left = pct;
  markPlaying(audio.currentTime || 0);
}

function followPlayback() {
  moveCursor();
  if (!$('audio').paused) requestAnimationFrame(followPlayback);
}

export function playFrom(start) {
  const audio = $('audio');
  audio.currentTime = start;
  moveCursor();
  audio.play().catch(() => {}); // no audio device, or not loaded yet: the position is still set
}

// --- audio -------------------------------------------------------------------------------------

async function audioUrl(job) {
  const media = state.media.get(job.jobId);
  if (media) return (await api('POST', 'v1/media/output', { url: media })).url;
  return (await api('GET', `v1/jobs/${encodeURIComponent(job.jobId)}/input`)).url;
}

function styleNonce() {
  const meta = document.querySelector('meta[name="diarist-style-nonce"]');
  return meta ? meta.content : undefined;
}

export async function loadAudio(job) {
  let url;
  try {
    url = await audioUrl(job);
  } catch (e) {
    $('job-note').textContent = `no audio to play: ${e.message}`;
    return;
  }
  if (state.wave) state.wave.destroy();
  state.wave = null;
  const audio = $('audio');
  audio.pause();
  if (state.duration > WAVEFORM_MAX_S) {
    $('job-note').textContent = 'no waveform for recordings over 2 h; the player still works';
    audio.src = url;
    return;
  }
  const regions = RegionsPlugin.create();
  // `url` given here, not loaded afterwards: without it wavesurfer.js would load the element's current
  // source, the previous job's blob: URL, which the page's connect-src does not allow
  state.wave = WaveSurfer.create({
    container: '#waveform',
    media: audio,
    url,
    height: 80,
    normalize: true,
    waveColor: '#7d93ad',
    progressColor: '#10263f',
    cursorColor: '#d11',
    dragToSeek: true,
    cspNonce: styleNonce(),
    plugins: [TimelinePlugin.create(), regions],
  });
  state.wave.on('ready', () => {
    for (const ch of channelsOf(state.output)) {
      for (const o of overlaps(ch.diarization || [])) {
        regions.addRegion({ start: o.start, end: o.end, color: 'rgba(179, 38, 30, 0.25)', drag: false, resize: false });
      }
    }
  });
  const withoutWaveform = (e) => {
    // wavesurfer.js could not fetch or decode the file (no CORS on the bucket, a format the
    // browser cannot decode, ...): the player and the timeline do not need it
    $('job-note').textContent = `no waveform (${e && e.message ? e.message : e}); the player still works`;
    if (!audio.getAttribute('src')) audio.src = url;
  };
  state.wave.on('error', withoutWaveform); // a failed load of `url` is reported here
}

export function setupAudio() {
  const audio = $('audio');
  audio.addEventListener('loadedmetadata', () => {
    if (audio.duration && Number.isFinite(audio.duration) && audio.duration > state.duration) {
      state.duration = audio.duration;
      if (state.output) renderTimeline();
    }
  });
  audio.addEventListener('play', followPlayback);
  audio.addEventListener('timeupdate', moveCursor);
  audio.addEventListener('seeked', moveCursor);
  document.addEventListener('keydown', (ev) => {
    if (ev.code !== 'Space' && ev.key !== ' ') return;
    const t = ev.target;
    if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT', 'BUTTON', 'AUDIO'].includes(t.tagName))) return;
    if ($('result').hidden) return;
    ev.preventDefault();
    if (audio.paused) audio.play().catch(() => {});
    else audio.pause();
  });
}
