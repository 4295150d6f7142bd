// The jobs list (GET /v2/jobs, a page at a time, by status) and its actions: open, cancel (also the
// shown job's Cancel button) and delete with a confirming second click.
import { api } from './api.js';
import { $, button } from './dom.js';
import { guarded, showError } from './errors.js';
import { openJob, refreshJob } from './job.js';
import { ACTIVE, state } from './state.js';

export async function loadJobs(fresh) {
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

export function setupJobs() {
  $('status-filter').addEventListener('change', () => loadJobs(true));
  $('refresh-jobs').addEventListener('click', () => loadJobs(true));
  $('more-jobs').addEventListener('click', () => loadJobs(false));
  $('cancel').addEventListener('click', () => guarded(() => cancelJob(state.job.jobId, $('cancel'))));
}
