// Diarist web console: upload, watch, listen, and see who spoke when.
//
// Rules this file keeps (the page's Content-Security-Policy enforces the first three):
// - no inline script or style, no eval, no third-party origin: everything comes from the API's
//   own origin, the audio and uploads from the presigned URLs the API hands out;
// - user input (speaker labels, names, file names, API messages) is only ever written with
//   textContent / setAttribute, never parsed as HTML;
// - the API key lives in sessionStorage only (never in a URL or a cookie) and is sent only to this
//   origin's API; presigned S3 URLs are called without it;
// - every API error is shown as the API wrote it (its `message`), in [data-testid=error].
import WaveSurfer from './vendor/wavesurfer.esm.js';
import RegionsPlugin from './vendor/regions.esm.js';
import TimelinePlugin from './vendor/timeline.esm.js';

const API = new URL('../', import.meta.url); // the API's root: the page's own origin and stage
const KEY_STORE = 'diarist.apiKey';
const ACTIVE = new Set(['pending', 'created', 'running']);
const POLL_MS = 1000;
// wavesurfer.js decodes the whole file in the browser: past this length the page plays the audio
// without drawing its waveform (the timeline does not need it)
const WAVEFORM_MAX_S = 2 * 3600;
const $ = (id) => document.getElementById(id);

const state = {
  key: sessionStorage.getItem(KEY_STORE) || '',
  job: null, // the job shown (the API's view)
  output: null, // its output (inline or fetched from outputUrl)
  media: new Map(), // jobId -> media:// URL it was submitted with (this session)
  voiceprints: [], // [{label, voiceprint}] to identify: the submission becomes POST /v1/identify
  names: new Map(), // row key -> the name the user gave (shown, and used in downloads)
  matches: new Map(), // row key -> the voiceprint label an identify job matched (shown only)
  duration: 0,
  poll: null,
  nextCursor: null,
  wave: null,
};

// --- API ---------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (state.key) headers.Authorization = `Bearer ${state.key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(new URL(path, API), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, `cannot reach the API (${e.message})`);
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!resp.ok) {
    const message = (data && (data.message || (data.detail && data.detail.join('; ')))) || `HTTP ${resp.status}`;
    throw new ApiError(resp.status, message);
  }
  return data;
}

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  const box = $('error');
  box.textContent = '';
  box.hidden = true;
}

async function guarded(work) {
  try {
    clearError();
    await work();
  } catch (e) {
    showError(e instanceof ApiError ? e.message : `unexpected error: ${e.message}`);
  }
}

// --- API key -----------------------------------------------------------------------------------

async function checkKey() {
  try {
    await api('GET', 'v1/test');
    $('key-state').textContent = state.key ? 'key accepted' : 'no key needed (local mode)';
    return true;
  } catch (e) {
    $('key-state').textContent = state.key ? 'key refused' : 'enter your API key';
    if (state.key || e.status !== 401) showError(e.message);
    return false;
  }
}

function forgetView() {
  // what one key showed is not for the next one
  clearInterval(state.poll);
  state.poll = null;
  state.job = null;
  state.output = null;
  state.media.clear();
  $('audio').pause();
  $('job').hidden = true;
  $('jobs-list').replaceChildren();
  $('more-jobs').hidden = true;
  $('notice').textContent = '';
}

function setupKey() {
  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    forgetView();
    state.key = $('api-key').value.trim();
    if (state.key) sessionStorage.setItem(KEY_STORE, state.key);
    else sessionStorage.removeItem(KEY_STORE);
    $('api-key').value = '';
    clearError();
    checkKey().then((ok) => ok && loadJobs(true));
  });
  $('forget-key').addEventListener('click', () => {
    forgetView();
    state.key = '';
    sessionStorage.removeItem(KEY_STORE);
    state.voiceprints = []; // what this user pasted is not for the next one either
    showVoiceprints();
    $('key-state').textContent = 'key forgotten';
  });
}

// --- submission --------------------------------------------------------------------------------

function uploadTo(url, file) {
  // XMLHttpRequest, not fetch: it reports upload progress. No Authorization header: the URL is
  // presigned.
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const bar = $('upload-progress');
    xhr.open('PUT', url);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
    };
    xhr.onload = () =>
      xhr.status >= 200 && xhr.status < 300
        ? (bar.value = 100, resolve())
        : reject(new ApiError(xhr.status, `upload failed: HTTP ${xhr.status}`));
    xhr.onerror = () => reject(new ApiError(0, 'upload failed: the storage did not answer'));
    xhr.send(file);
  });
}

function mediaKey(file) {
  const safe = file.name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(-80) || 'audio';
  const rand = crypto.getRandomValues(new Uint32Array(2)).join('');
  return `media://console/${Date.now()}-${rand}/${safe}`;
}

function intOrNull(id) {
  const v = $(id).value.trim();
  return v === '' ? null : Number(v);
}

function diarizeBody(url) {
  const body = { url };
  const num = intOrNull('num-speakers');
  const min = intOrNull('min-speakers');
  const max = intOrNull('max-speakers');
  if (num !== null) body.numSpeakers = num;
  if (min !== null) body.minSpeakers = min;
  if (max !== null) body.maxSpeakers = max;
  if ($('exclusive').checked) body.exclusive = true;
  if ($('confidence').checked) body.confidence = true;
  if ($('channel-mode').value === 'split') body.channelMode = 'split';
  if ($('transcription').checked) {
    body.transcription = true;
    const language = $('transcription-language').value.trim();
    if (language) body.transcriptionConfig = { language };
  }
  return body;
}

async function submit() {
  const file = $('file-input').files[0];
  let url = $('source-url').value.trim();
  if (!file && !url) throw new ApiError(0, 'choose a file or give an audio URL');
  $('submit').disabled = true;
  try {
    $('upload-progress').value = 0;
    if (file) {
      url = mediaKey(file);
      const { url: put } = await api('POST', 'v1/media/input', { url });
      await uploadTo(put, file);
    }
    const body = diarizeBody(url);
    let path = 'v1/diarize';
    if (state.voiceprints.length) {
      // pyannoteAI's identify body; the API refuses what identify does not take (transcription)
      path = 'v1/identify';
      body.voiceprints = state.voiceprints.map(({ label, voiceprint }) => ({ label, voiceprint }));
    }
    const created = await api('POST', path, body);
    if (url.startsWith('media://')) state.media.set(created.jobId, url);
    await openJob(created.jobId);
    loadJobs(true);
  } finally {
    $('submit').disabled = false;
  }
}

function setupSubmit() {
  $('submit-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    guarded(submit);
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    if (ev.dataTransfer.files.length) {
      $('file-input').files = ev.dataTransfer.files;
      showFileName();
    }
  });
  $('file-input').addEventListener('change', showFileName);
  $('add-voiceprint').addEventListener('click', () => guarded(addVoiceprint));
}

// --- voiceprints to identify ------------------------------------------------------------------
// A voiceprint is the base64 text of `POST /v1/voiceprint`'s output: pasted, or read from a file
// (`diarist voiceprint ... -o x.vp` writes the text; a .json file is the job's output
// `{"voiceprint": "..."}`). The API checks it; the page only trims it.

async function voiceprintText() {
  const pasted = $('voiceprint-text').value.trim();
  const file = $('voiceprint-file').files[0];
  if (pasted && file) throw new ApiError(0, 'paste a voiceprint or choose its file, not both');
  if (pasted) return pasted;
  if (!file) throw new ApiError(0, 'paste a voiceprint or choose its file');
  if (file.size > 100000) throw new ApiError(0, `${file.name} is too large to be a voiceprint`);
  const text = (await file.text()).trim();
  if (text.startsWith('{')) {
    let data = null;
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
    if (!data || typeof data.voiceprint !== 'string') {
      throw new ApiError(0, `${file.name} has no "voiceprint" (expected a voiceprint job's output)`);
    }
    return data.voiceprint.trim();
  }
  return text;
}

async function addVoiceprint() {
  const label = $('voiceprint-label').value.trim();
  if (!label) throw new ApiError(0, 'give the voiceprint a label (the name to show for its speaker)');
  if (state.voiceprints.some((v) => v.label === label)) throw new ApiError(0, `a voiceprint is already labelled ${label}`);
  const voiceprint = await voiceprintText();
  if (!voiceprint) throw new ApiError(0, 'the voiceprint is empty');
  state.voiceprints.push({ label, voiceprint });
  $('voiceprint-label').value = '';
  $('voiceprint-text').value = '';
  $('voiceprint-file').value = '';
  showVoiceprints();
}

function showVoiceprints() {
  const list = $('voiceprint-list');
  list.replaceChildren();
  for (const vp of state.voiceprints) {
    const li = document.createElement('li');
    li.setAttribute('data-testid', 'voiceprint-row');
    li.dataset.label = vp.label;
    const name = document.createElement('span');
    name.className = 'vp-name';
    name.textContent = vp.label;
    const size = document.createElement('span');
    size.className = 'muted';
    size.textContent = `${vp.voiceprint.length} characters`;
    const remove = button('Remove', 'remove-voiceprint', () => {
      state.voiceprints = state.voiceprints.filter((v) => v !== vp);
      showVoiceprints();
    });
    remove.className = 'secondary';
    remove.setAttribute('aria-label', `Remove voiceprint ${vp.label}`);
    li.append(name, size, remove);
    list.append(li);
  }
  $('submit').textContent = state.voiceprints.length ? 'Diarize and identify' : 'Diarize';
}

function showFileName() {
  const file = $('file-input').files[0];
  $('file-name').textContent = file ? `${file.name} (${(file.size / 1e6).toFixed(1)} MB)` : '';
}

// --- one job -----------------------------------------------------------------------------------

async function openJob(jobId) {
  clearInterval(state.poll);
  state.poll = null;
  $('audio').pause();
  state.names.clear();
  state.output = null;
  $('job').hidden = false;
  $('result').hidden = true;
  $('job-id').textContent = jobId;
  $('job-note').textContent = '';
  $('job-warning').textContent = '';
  $('job-warning').hidden = true;
  $('transcript').replaceChildren();
  await refreshJob(jobId);
}

async function refreshJob(jobId) {
  const job = await api('GET', `v1/jobs/${encodeURIComponent(jobId)}`);
  const firstLook = !state.job || state.job.jobId !== job.jobId || state.job.status !== job.status;
  state.job = job;
  showStatus(job);
  showWebhook(job);
  if (ACTIVE.has(job.status)) {
    if (!state.poll) {
      state.poll = setInterval(() => refreshJob(jobId).catch(stopPolling), POLL_MS);
    }
    return;
  }
  clearInterval(state.poll);
  state.poll = null;
  if (!firstLook) return;
  if (job.status === 'succeeded') {
    await showResult(job);
  } else if (job.status === 'canceled') {
    $('job-note').textContent = (job.output && job.output.error) || 'the job was canceled';
  } else if (job.error) {
    showError(job.error.message);
  }
  loadJobs(true);
}

function stopPolling(e) {
  // the API refused (a revoked key, the job deleted ...): say what it said, once
  clearInterval(state.poll);
  state.poll = null;
  showError(e instanceof ApiError ? e.message : `unexpected error: ${e.message}`);
}

function showStatus(job) {
  const pct = job.progress || 0;
  let text = `${job.status}, ${pct}%`;
  if (job.error) text += `: ${job.error.code}`;
  $('job-status').textContent = text;
  $('job-progress').value = pct;
  $('cancel').hidden = !ACTIVE.has(job.status);
  // what the job could not honour (a model or language substituted ...), as the API wrote it
  const warning = $('job-warning');
  warning.textContent = job.warnings && job.warnings.length ? `Warning: ${job.warnings.join('; ')}` : '';
  warning.hidden = !warning.textContent;
}

function showWebhook(job) {
  const box = $('webhook');
  if (!job.webhook) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  $('webhook-delivery').textContent = job.webhook.delivery;
  const body = $('webhook-attempts');
  body.replaceChildren();
  (job.webhook.attempts || []).forEach((a, i) => {
    const tr = document.createElement('tr');
    for (const v of [a.attempt ?? i + 1, a.at || '', a.statusCode ?? '', a.error || '']) {
      const td = document.createElement('td');
      td.textContent = String(v);
      tr.append(td);
    }
    body.append(tr);
  });
}

async function cancelJob(jobId, button) {
  // a running job's container is stopped before the API answers: say so meanwhile
  if (button) button.disabled = true;
  $('notice').textContent = `canceling job ${jobId}…`;
  try {
    const done = await api('POST', `v1/jobs/${encodeURIComponent(jobId)}/cancel`);
    $('notice').textContent = `job ${jobId}: ${done.status}`;
  } catch (e) {
    $('notice').textContent = '';
    throw e;
  } finally {
    if (button) button.disabled = false;
  }
  if (state.job && state.job.jobId === jobId) await refreshJob(jobId);
  loadJobs(true);
}

async function deleteJob(jobId) {
  const done = await api('DELETE', `v1/jobs/${encodeURIComponent(jobId)}?purge=true`);
  if (state.job && state.job.jobId === jobId) {
    $('job').hidden = true;
    state.job = null;
  }
  const files = (done.deleted || []).length;
  $('notice').textContent = `job ${done.jobId}: ${done.status}, ${files} stored file${files === 1 ? '' : 's'} deleted`;
  loadJobs(true);
}

// --- the result --------------------------------------------------------------------------------

function channelsOf(output) {
  if (output.channels && output.channels.length) return output.channels;
  return [{ channel: null, ...output }];
}

function rowKey(channel, speaker) {
  return `${channel ?? ''}|${speaker}`;
}

function displayName(channel, speaker) {
  const key = rowKey(channel, speaker);
  return state.names.get(key) || state.matches.get(key) || speaker;
}

function downloadName(channel, speaker) {
  return state.names.get(rowKey(channel, speaker)) || speaker;
}

async function showResult(job) {
  state.output = job.output || (job.outputUrl ? await fetchJson(job.outputUrl) : null);
  if (!state.output) {
    $('job-note').textContent = 'the result is no longer stored';
    return;
  }
  $('result').hidden = false;
  state.matches.clear();
  for (const ch of channelsOf(state.output)) {
    for (const v of ch.voiceprints || []) if (v.match) state.matches.set(rowKey(ch.channel, v.speaker), v.match);
  }
  state.duration = maxEnd(state.output);
  renderTimeline();
  renderTranscript();
  await loadAudio(job);
}

async function fetchJson(url) {
  const resp = await fetch(url, { credentials: 'omit' }); // presigned: no API key
  if (!resp.ok) throw new ApiError(resp.status, `cannot read the output: HTTP ${resp.status}`);
  return resp.json();
}

function maxEnd(output) {
  let end = 0;
  for (const ch of channelsOf(output)) for (const t of ch.diarization || []) end = Math.max(end, t.end);
  return end;
}

function overlaps(turns) {
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

function place(el, start, end) {
  const d = state.duration || 1;
  el.style.left = `${(100 * start) / d}%`;
  el.style.width = `${(100 * Math.max(end - start, 0)) / d}%`;
}

function renderTimeline() {
  const box = $('timeline');
  box.replaceChildren();
  const multi = channelsOf(state.output).length > 1;
  channelsOf(state.output).forEach((ch) => {
    const turns = ch.diarization || [];
    const speakers = [...new Set(turns.map((t) => t.speaker))].sort();
    speakers.forEach((speaker, i) => {
      const { row, track } = trackRow(`${multi ? `channel ${ch.channel + 1} ` : ''}`, ch.channel, speaker);
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
        b.setAttribute('aria-label', `${displayName(ch.channel, speaker)}: ${t.start.toFixed(2)} s to ${t.end.toFixed(2)} s`);
        b.title = b.getAttribute('aria-label');
        place(b, t.start, t.end);
        b.addEventListener('click', () => playFrom(t.start));
        track.append(b);
      }
      box.append(row);
    });
    const overlapping = overlaps(turns);
    if (overlapping.length) {
      const { row, track } = staticRow(`${multi ? `channel ${ch.channel + 1} ` : ''}overlap`);
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
      const { row, track } = staticRow(`${multi ? `channel ${ch.channel + 1} ` : ''}confidence`);
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
      const label = `${displayName(channel, speaker)}: ${Number(b.dataset.start).toFixed(2)} s to ${Number(b.dataset.end).toFixed(2)} s`;
      b.setAttribute('aria-label', label);
      b.title = label;
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

// --- the transcript ----------------------------------------------------------------------------
// One line per turn-level item of every channel, in the order `diarist result --format txt` writes
// them; the speaker as renamed; the text (what was said: user input) written with textContent.

function transcriptRows(output) {
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

function renderTranscript() {
  const list = $('transcript');
  list.replaceChildren();
  const rows = state.output ? transcriptRows(state.output) : [];
  const present = state.output !== null && transcriptParts(state.output) !== null;
  $('transcript-box').hidden = !present;
  for (const id of ['download-vtt', 'download-srt', 'download-txt']) $(id).hidden = !present;
  const hours = transcriptLastEnd(state.output || {}) >= 3600;
  for (const t of rows) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'tline';
    b.setAttribute('data-testid', 'transcript-line');
    b.dataset.speaker = t.speaker;
    b.dataset.start = String(t.start);
    b.dataset.end = String(t.end);
    if (t.channel !== null) b.dataset.channel = String(t.channel);
    const name = `${t.prefix}${displayName(t.channel, t.speaker)}`;
    const time = document.createElement('span');
    time.className = 't-time';
    time.textContent = stamp(t.start, hours);
    const who = document.createElement('span');
    who.className = 't-speaker';
    who.setAttribute('data-testid', 'transcript-speaker');
    who.textContent = name;
    const text = document.createElement('span');
    text.className = 't-text';
    text.setAttribute('data-testid', 'transcript-text');
    text.textContent = t.text;
    b.append(time, who, text);
    b.addEventListener('click', () => playFrom(t.start));
    li.append(b);
    list.append(li);
  }
  markPlaying($('audio').currentTime || 0);
}

function markPlaying(at) {
  // the line(s) being played: start <= at < end
  for (const b of document.querySelectorAll('#transcript .tline')) {
    const on = Number(b.dataset.start) <= at && at < Number(b.dataset.end);
    if (on === b.classList.contains('playing')) continue;
    b.classList.toggle('playing', on);
    if (on) {
      b.setAttribute('aria-current', 'true');
      if (!$('audio').paused) b.scrollIntoView({ block: 'nearest' });
    } else b.removeAttribute('aria-current');
  }
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

function playFrom(start) {
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

async function loadAudio(job) {
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

function setupAudio() {
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

// --- downloads ---------------------------------------------------------------------------------
// RTTM and CSV are written exactly as the API's client writes a job's output
// (`diarist result --format rttm|csv`): turns in time order per channel, channels from 1.

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

function turnLines(output) {
  const lines = [];
  for (const ch of channelsOf(output)) {
    const number = (ch.channel || 0) + 1;
    const turns = [...(ch.diarization || [])].sort((a, b) => a.start - b.start);
    for (const t of turns) lines.push({ channel: number, speaker: t.speaker, start: t.start, end: t.end });
  }
  return lines;
}

function toRttm(output, fileId) {
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

function toCsv(output) {
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

function transcriptParts(output) {
  // null when the output has no transcription; else each channel's words, turns and word joiner
  const parts = output.channels && output.channels.length ? output.channels : [output];
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

function toVtt(output) {
  const blocks = ['WEBVTT\n'];
  for (const c of cuesOf(requireParts(output))) {
    const end = Math.max(c.end, c.start + 0.001);
    blocks.push(`${clock(c.start, '.')} --> ${clock(end, '.')}\n<v ${vttEscape(c.speaker)}>${vttEscape(c.text)}\n`);
  }
  return blocks.join('\n');
}

function toSrt(output) {
  return cuesOf(requireParts(output))
    .map((c, i) => `${i + 1}\n${clock(c.start, ',')} --> ${clock(Math.max(c.end, c.start + 0.001), ',')}\n${c.speaker}: ${c.text}\n`)
    .join('\n');
}

function transcriptLastEnd(output) {
  let last = 0;
  for (const p of transcriptParts(output) || []) {
    for (const t of [...p.turns, ...p.words]) last = Math.max(last, t.end);
  }
  for (const p of output.channels && output.channels.length ? output.channels : [output]) {
    for (const t of p.diarization || []) last = Math.max(last, t.end);
  }
  return last;
}

function stamp(t, hours) {
  const s = t % 60;
  const minutes = Math.round((t - s) / 60);
  const h = Math.floor(minutes / 60);
  const m = minutes - 60 * h;
  const sec = fixed1(s).padStart(4, '0');
  return hours ? `[${h}:${pad(m, 2)}:${sec}]` : `[${pad(m + 60 * h, 2)}:${sec}]`;
}

function toText(output) {
  requireParts(output);
  const hours = transcriptLastEnd(output) >= 3600;
  return transcriptRows(output)
    .map((t) => `${stamp(t.start, hours)} ${t.prefix}${t.speaker}: ${t.text}\n`)
    .join('');
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

function setupDownloads() {
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

// --- the jobs list -----------------------------------------------------------------------------

async function loadJobs(fresh) {
  const params = new URLSearchParams({ limit: '20' });
  const status = $('status-filter').value;
  if (status) params.set('status', status);
  if (!fresh && state.nextCursor) params.set('cursor', state.nextCursor);
  let page;
  try {
    page = await api('GET', `v2/jobs?${params}`);
  } catch (e) {
    if (e.status !== 401) showError(e.message);
    return;
  }
  const body = $('jobs-list');
  if (fresh) body.replaceChildren();
  for (const job of page.items) body.append(jobRow(job));
  state.nextCursor = page.nextCursor;
  $('more-jobs').hidden = !page.nextCursor;
}

function button(text, testid, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.setAttribute('data-testid', testid);
  b.addEventListener('click', onClick);
  return b;
}

function jobRow(job) {
  const tr = document.createElement('tr');
  tr.setAttribute('data-testid', 'job-row');
  tr.dataset.jobId = job.jobId;
  tr.dataset.status = job.status;
  const idCell = document.createElement('td');
  const open = button(job.jobId, 'open-job', () => guarded(() => openJob(job.jobId)));
  open.setAttribute('aria-label', `Open job ${job.jobId}`);
  idCell.append(open);
  const statusCell = document.createElement('td');
  statusCell.textContent = ACTIVE.has(job.status) ? `${job.status} ${job.progress || 0}%` : job.status;
  const created = document.createElement('td');
  created.textContent = new Date(job.createdAt).toLocaleString();
  const actions = document.createElement('td');
  if (ACTIVE.has(job.status)) {
    const cancel = button('Cancel', 'cancel-job', () => guarded(() => cancelJob(job.jobId, cancel)));
    actions.append(cancel);
  }
  const del = button('Delete', 'delete-job', () => {
    if (del.dataset.armed) guarded(() => deleteJob(job.jobId));
    else {
      del.dataset.armed = '1';
      del.textContent = 'Confirm delete';
    }
  });
  actions.append(del);
  tr.append(idCell, statusCell, created, actions);
  return tr;
}

function setupJobs() {
  $('status-filter').addEventListener('change', () => loadJobs(true));
  $('refresh-jobs').addEventListener('click', () => loadJobs(true));
  $('more-jobs').addEventListener('click', () => loadJobs(false));
  $('cancel').addEventListener('click', () => guarded(() => cancelJob(state.job.jobId, $('cancel'))));
}

// --- start -------------------------------------------------------------------------------------

setupKey();
setupSubmit();
setupAudio();
setupDownloads();
setupJobs();
checkKey().then((ok) => ok && loadJobs(true));
document.body.dataset.ready = '1';
