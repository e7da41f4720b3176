// Schemeful sites (scheme + registrable domain), for the popup's "this site"
// filter and for saying beforehand what "delete this site" frees. This mirrors
// cos-core's `SiteRules` over the same bundled Public Suffix List because the
// admin summary does not say which sites an entry touches; the deletion itself
// is still decided by the engine.

let rules;

async function load() {
  const text = await (await fetch(chrome.runtime.getURL('extension/pkg/public_suffix_list.dat'))).text();
  const exact = new Set(), wildcard = new Set(), exception = new Set();
  for (const line of text.split('\n')) {
    const rule = line.trim().split(/\s/)[0];
    if (!rule || rule.startsWith('//')) continue;
    const [set, name] = rule.startsWith('*.') ? [wildcard, rule.slice(2)] : rule.startsWith('!') ? [exception, rule.slice(1)] : [exact, rule];
    set.add(toAscii(name));
  }
  return { exact, wildcard, exception };
}

// Origins carry punycode hosts; the list has Unicode rules. The URL parser converts.
function toAscii(name) {
  try {
    return new URL(`http://${name}`).hostname;
  } catch {
    return name;
  }
}

/** Number of labels of the longest matching rule (the implicit `*` rule is one label). */
function suffixLabels(labels, { exact, wildcard, exception }) {
  let best = 1;
  for (let i = 0; i < labels.length; i++) {
    const suffix = labels.slice(i).join('.');
    const count = labels.length - i;
    if (exception.has(suffix)) return count - 1;
    if (exact.has(suffix)) best = Math.max(best, count);
    if (i > 0 && wildcard.has(suffix)) best = Math.max(best, count + 1);
  }
  return best;
}

/** Resolves to `siteOf(origin)`. */
export async function siteRules() {
  rules ??= load();
  const loaded = await rules;
  return (origin) => {
    const { protocol, hostname } = new URL(origin);
    const ip = hostname.startsWith('[') || /^\d+(\.\d+){3}$/.test(hostname);
    const labels = hostname.split('.');
    const keep = ip ? labels.length : suffixLabels(labels, loaded) + 1;
    return `${protocol}//${labels.slice(-Math.min(keep, labels.length)).join('.')}`;
  };
}
