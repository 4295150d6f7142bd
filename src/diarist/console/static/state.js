// The page's shared state (one object every module reads and writes): the API key, the job shown
// and its output, the names given to speakers, the voiceprints to identify; and the job statuses
// that still change.
export const KEY_STORE = 'diarist.apiKey';
export const ACTIVE = new Set(['pending', 'created', 'running']);

export const state = {
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
