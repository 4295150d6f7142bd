// Small DOM helpers: an element by id, and a button that carries its data-testid.
export const $ = (id) => document.getElementById(id);

export function button(text, testid, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.setAttribute('data-testid', testid);
  b.addEventListener('click', onClick);
  return b;
}
