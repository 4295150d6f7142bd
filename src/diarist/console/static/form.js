// The submit form: the file (picked or dropped) and its upload with progress, the URL, the options,
// and the voiceprints to identify (with any, the submission is POST /v1/identify).
import { api, ApiError, parseJson } from './api.js';
import { $, button } from './dom.js';
import { guarded } from './errors.js';
import { openJob } from './job.js';
import { loadJobs } from './jobs.js';
import { state } from './state.js';

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

export function setupSubmit() {
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
    const data = parseJson(text);
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

export function showVoiceprints() {
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
