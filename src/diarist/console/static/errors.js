// The error box ([data-testid=error]): every API error shown as the API wrote it (its `message`).
import { ApiError } from './api.js';
import { $ } from './dom.js';

export function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
}

export function clearError() {
  const box = $('error');
  box.textContent = '';
  box.hidden = true;
}

export function showFailure(e) {
  showError(e instanceof ApiError ? e.message : `unexpected error: ${e.message}`);
}

export async function guarded(work) {
  try {
    clearError();
    await work();
  } catch (e) {
    showFailure(e);
  }
}
