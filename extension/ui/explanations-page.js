// The explanations page: every cause the DevTools panel names, one section
// each, addressable as explanations.html#<cause> (the panel and the popup link there).
import { CAUSES } from './explanations.js';
import { el } from './view.js';

document.getElementById('causes').replaceChildren(
  ...CAUSES.map(({ id, title, why, fix }) =>
    el('section', { id }, el('h2', {}, title), el('p', {}, why), el('p', {}, el('strong', {}, 'What to do: '), fix)),
  ),
);
// The sections exist only now: scroll to the one the link named.
if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
