// The transcript panel: one line per turn-level item of every channel, in the order `diarist result
// --format txt` writes them; the speaker as renamed; the text (what was said: user input) written
// with textContent; click a line to play from it; the line being played is marked. It also shows or
// hides the transcript downloads (VTT, SRT, TXT).
import { $ } from './dom.js';
import { stamp, transcriptLastEnd, transcriptParts, transcriptRows } from './formats.js';
import { displayName } from './output.js';
import { state } from './state.js';
import { playFrom } from './timeline.js';

export function renderTranscript() {
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

export function markPlaying(at) {
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
