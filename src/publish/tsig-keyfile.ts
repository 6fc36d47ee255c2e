// Reads a TSIG key in BIND's configuration syntax, exactly what `tsig-keygen NAME` prints and what
// named.conf includes:   key "NAME" { algorithm hmac-sha256; secret "BASE64"; };
// Comments (#, //, /* */) and other statements around the key blocks are allowed. Pure: text in, key out.
import { ConfigError } from '../util/errors';
import { normalizeName } from '../wire/name';
import { TSIG_ALGORITHMS, type TsigAlgorithm, type TsigKey } from './tsig';

/** BIND's short names for the algorithms it writes (hmac-md5 is the only one with a long wire name). */
const ALIASES: Record<string, TsigAlgorithm> = { 'hmac-md5': 'hmac-md5.sig-alg.reg.int' };

function tokens(text: string): string[] {
  const out: string[] = [];
  const re = /\/\*[\s\S]*?\*\/|(?:#|\/\/)[^\n]*|"((?:[^"\\]|\\.)*)"|([{};])|([^\s{};"#]+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[1] !== undefined)
      out.push(`"${m[1]}`); // quoted: keep a marker so `"{"` is not a brace
    else if (m[2] !== undefined || m[3] !== undefined) out.push(m[2] ?? m[3]!);
  }
  return out;
}

const unquote = (t: string): string => (t.startsWith('"') ? t.slice(1) : t);

export function tsigAlgorithm(text: string): TsigAlgorithm {
  const a = text.toLowerCase().replace(/\.$/, '');
  if (a in TSIG_ALGORITHMS) return a as TsigAlgorithm;
  const alias = ALIASES[a];
  if (alias !== undefined) return alias;
  throw new ConfigError(
    'tsig-algorithm',
    `TSIG algorithm '${text}' is not supported (hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224, hmac-sha1, hmac-md5)`,
  );
}

/**
 * Every key block in `text`. Throws ConfigError 'tsig-key-file' when a block is malformed or none is
 * there, 'tsig-algorithm' for an algorithm we do not implement.
 */
export function parseTsigKeys(text: string): TsigKey[] {
  const t = tokens(text);
  const keys: TsigKey[] = [];
  const bad = (msg: string): never => {
    throw new ConfigError('tsig-key-file', msg);
  };
  let i = 0;
  const skipBlock = (): void => {
    // From a '{': skip to its matching '}' (and the ';' after it).
    let depth = 0;
    for (; i < t.length; i++) {
      if (t[i] === '{') depth++;
      else if (t[i] === '}' && --depth === 0) {
        i++;
        if (t[i] === ';') i++;
        return;
      }
    }
    bad('unbalanced braces');
  };
  while (i < t.length) {
    if (t[i] !== 'key') {
      // Another statement: skip it up to its ';' or its block.
      while (i < t.length && t[i] !== ';' && t[i] !== '{') i++;
      if (t[i] === '{') skipBlock();
      else i++;
      continue;
    }
    const rawName = t[i + 1]!;
    if (rawName === undefined || t[i + 2] !== '{') bad(`expected key "NAME" { ... }; near token ${i + 1}`);
    let name: string;
    try {
      name = normalizeName(unquote(rawName));
    } catch (e) {
      bad(`key name ${unquote(rawName)} is not a domain name: ${(e as Error).message}`);
    }
    i += 3;
    let algorithm: string | undefined;
    let secret: string | undefined;
    while (i < t.length && t[i] !== '}') {
      const k = t[i];
      const v = t[i + 1]!;
      if (v === undefined || t[i + 2] !== ';') bad(`key ${name!}: expected '${k} VALUE;'`);
      if (k === 'algorithm') algorithm = unquote(v);
      else if (k === 'secret') secret = unquote(v);
      else bad(`key ${name!}: unknown statement '${k}'`);
      i += 3;
    }
    if (t[i] !== '}') bad(`key ${name!}: missing '}'`);
    i++;
    if (t[i] === ';') i++;
    if (!algorithm) bad(`key ${name!} has no algorithm`);
    if (!secret) bad(`key ${name!} has no secret`);
    const clean = secret!.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(clean) || clean.length % 4 !== 0) bad(`key ${name!}: the secret is not base64`);
    keys.push({ name: name!, algorithm: tsigAlgorithm(algorithm!), secret: new Uint8Array(Buffer.from(clean, 'base64')) });
  }
  if (keys.length === 0) bad('no key "NAME" { algorithm ...; secret "..."; }; block (make one with tsig-keygen NAME)');
  return keys;
}

/**
 * The key named `want`, or the only key in the text. A secret shorter than the algorithm's hash output
 * is refused ('tsig-key-weak'): RFC 8945 §6 asks for at least that length, and tsig-keygen makes it.
 */
export function pickTsigKey(text: string, want?: string): TsigKey {
  const keys = parseTsigKeys(text);
  let k: TsigKey | undefined;
  if (want !== undefined) {
    const name = normalizeName(want);
    k = keys.find((x) => x.name.toLowerCase() === name.toLowerCase());
    if (!k) throw new ConfigError('tsig-key-name', `no key ${want} in the file (it has ${keys.map((x) => x.name).join(', ')})`);
  } else {
    if (keys.length > 1)
      throw new ConfigError(
        'tsig-key-name',
        `the file holds ${keys.length} keys (${keys.map((x) => x.name).join(', ')}): choose one with --tsig-key-name`,
      );
    k = keys[0]!;
  }
  const need = TSIG_ALGORITHMS[k.algorithm].size;
  if (k.secret.length < need) {
    throw new ConfigError(
      'tsig-key-weak',
      `the secret of key ${k.name} is ${k.secret.length} bytes, shorter than the ${need} bytes of ${k.algorithm}: make a new one with tsig-keygen -a ${k.algorithm.replace('.sig-alg.reg.int', '')} ${k.name} (on the server too)`,
    );
  }
  return k;
}
