// Calls to this origin's API: the key (from the shared state) as a Bearer token, never to another
// origin; an error answer becomes an ApiError carrying the API's own `message`.
import { state } from './state.js';

const API = new URL('../', import.meta.url); // the API's root: the page's own origin and stage

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function parseJson(text) {
  // the parsed JSON, or null when the text is not JSON
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export async function api(method, path, body) {
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
  const data = text ? parseJson(text) : null;
  if (!resp.ok) {
    const message = (data && (data.message || (data.detail && data.detail.join('; ')))) || `HTTP ${resp.status}`;
    throw new ApiError(resp.status, message);
  }
  return data;
}
