// The job shown: opening it, polling its status while it runs, its status, warnings and webhook
// deliveries, and its result once it succeeded (the output, then the timeline, transcript, audio).
import { api, ApiError } from './api.js';
import { $ } from './dom.js';
import { showError, showFailure } from './errors.js';
import { loadJobs } from './jobs.js';
import { channelsOf, maxEnd, rowKey } from './output.js';
import { ACTIVE, state } from './state.js';
import { loadAudio, renderTimeline } from './timeline.js';
import { renderTranscript } from './transcript.js';

const POLL_MS = 1000;

export function stopPoll() {
  clearInterval(state.poll);
  state.poll = null;
}

export async function openJob(jobId) {
  stopPoll();
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

export async function refreshJob(jobId) {
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
  stopPoll();
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
  stopPoll();
  showFailure(e);
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
