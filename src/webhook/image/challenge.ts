/** `WWW-Authenticate` parsing (RFC 7235) for registry challenges. Pure. */

export interface Challenge {
  readonly scheme: 'basic' | 'bearer';
  /** Lower-cased parameter names: realm, service, scope, error… */
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

/** The first Basic or Bearer challenge of the header, or undefined (unknown scheme, no header). */
export function parseChallenge(header: string | null | undefined): Challenge | undefined {
  if (header === null || header === undefined) return undefined;
  let rest = header.trim();
  while (rest !== '') {
    const schemeMatch = TOKEN.exec(rest);
    if (schemeMatch === null) return undefined;
    const scheme = schemeMatch[0].toLowerCase();
    rest = rest.slice(schemeMatch[0].length).trimStart();
    const params: Record<string, string> = {};
    for (;;) {
      const nameMatch = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*/.exec(rest);
      if (nameMatch === null) break;
      const name = (nameMatch[1] ?? '').toLowerCase();
      rest = rest.slice(nameMatch[0].length);
      const value = readValue(rest);
      if (value === undefined) return undefined;
      params[name] = value.value;
      rest = value.rest.trimStart();
      if (!rest.startsWith(',')) break;
      rest = rest.slice(1).trimStart();
    }
    if (scheme === 'basic' || scheme === 'bearer') return { scheme, params };
    // Another scheme: skip to the next challenge, if any (its parameters were consumed above).
    if (Object.keys(params).length === 0) rest = rest.replace(/^[A-Za-z0-9._~+/-]+=*\s*/, '');
    rest = rest.replace(/^,\s*/, '');
  }
  return undefined;
}

function readValue(text: string): { value: string; rest: string } | undefined {
  if (!text.startsWith('"')) {
    const token = /^[^,\s]*/.exec(text)?.[0] ?? '';
    return { value: token, rest: text.slice(token.length) };
  }
  let value = '';
  for (let i = 1; i < text.length; i += 1) {
    const char = text[i] ?? '';
    if (char === '\\') {
      i += 1;
      value += text[i] ?? '';
    } else if (char === '"') {
      return { value, rest: text.slice(i + 1) };
    } else {
      value += char;
    }
  }
  return undefined;
}
