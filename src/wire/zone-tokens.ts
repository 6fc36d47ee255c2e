// Zone-file lexer (RFC 1035 §5.1): comments, quoted strings, parentheses that join lines, and escapes
// kept verbatim inside tokens so names and strings can interpret them later.
import { ParseError } from '../util/errors';

export interface Token {
  /** Raw text; for quoted tokens, the text between the quotes with escapes still in place. */
  text: string;
  quoted: boolean;
}

export interface Entry {
  tokens: Token[];
  /** The entry began with white space: the owner is omitted and the previous one applies. */
  leadingSpace: boolean;
  /** 1-based line where the entry starts, for error messages. */
  line: number;
}

export function tokenize(text: string): Entry[] {
  const entries: Entry[] = [];
  let tokens: Token[] = [];
  let depth = 0;
  let line = 1;
  let entryLine = 1;
  let atLineStart = true;
  let leadingSpace = false;
  let i = 0;
  const endEntry = (): void => {
    if (tokens.length > 0) entries.push({ tokens, leadingSpace, line: entryLine });
    tokens = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (atLineStart && depth === 0) {
      leadingSpace = c === ' ' || c === '\t';
      entryLine = line;
      atLineStart = false;
    }
    if (c === '\n') {
      line++;
      i++;
      if (depth === 0) {
        endEntry();
        atLineStart = true;
      }
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === ';') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '(') {
      depth++;
      i++;
      continue;
    }
    if (c === ')') {
      if (depth === 0) throw new ParseError('unbalanced-parens', `line ${line}: ')' without '('`);
      depth--;
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\' && j + 1 < text.length) {
          s += text[j]! + text[j + 1]!;
          j += 2;
        } else {
          if (text[j] === '\n') line++;
          s += text[j++];
        }
      }
      if (j >= text.length) throw new ParseError('unbalanced-quotes', `line ${line}: unterminated quoted string`);
      tokens.push({ text: s, quoted: true });
      i = j + 1;
      continue;
    }
    let s = '';
    while (i < text.length && !' \t\r\n;()"'.includes(text[i]!)) {
      if (text[i] === '\\' && i + 1 < text.length) {
        s += text[i]! + text[i + 1]!;
        i += 2;
      } else s += text[i++];
    }
    tokens.push({ text: s, quoted: false });
  }
  if (depth !== 0) throw new ParseError('unbalanced-parens', `line ${entryLine}: '(' without ')'`);
  endEntry();
  return entries;
}
