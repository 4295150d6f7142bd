// Diarist web console: upload, watch, listen, and see who spoke when. This module is the page's
// entry (index.html loads it as a module): the API key form, and the wiring of the other modules.
//
// Rules every module keeps (the page's Content-Security-Policy enforces the first three):
// - no inline script or style, no eval, no third-party origin: everything comes from the API's
//   own origin, the audio and uploads from the presigned URLs the API hands out;
// - user input (speaker labels, names, file names, API messages) is only ever written with
//   textContent / setAttribute, never parsed as HTML;
// - the API key lives in sessionStorage only (never in a URL or a cookie) and is sent only to this
//   origin's API (api.js); presigned S3 URLs are called without it;
// - every API error is shown as the API wrote it (its `message`), in [data-testid=error] (errors.js).
//
// The modules: state.js (shared state), dom.js, api.js, errors.js, form.js (submission and
// voiceprints), job.js (the job shown, polling, its result), jobs.js (the jobs list), output.js (a
// job's output as the page reads it), timeline.js (waveform, player, rows), transcript.js,
// formats.js (RTTM/CSV/VTT/SRT/TXT), downloads.js.
import { api } from './api.js';
import { $ } from './dom.js';
import { clearError, showError } from './errors.js';
import { setupDownloads } from './downloads.js';
import { setupSubmit, showVoiceprints } from './form.js';
import { stopPoll } from './job.js';
import { loadJobs, setupJobs } from './jobs.js';
import { KEY_STORE, state } from './state.js';
import { setupAudio } from './timeline.js';

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
  stopPoll();
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

setupKey();
setupSubmit();
setupAudio();
setupDownloads();
setupJobs();
checkKey().then((ok) => ok && loadJobs(true));
document.body.dataset.ready = '1';
