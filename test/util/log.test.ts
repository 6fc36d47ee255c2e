// Log lines for people and for machines: which format applies where, and what each line holds.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { journalLine, prettyLine, resolveLogFormat } from '../../src/util/log';
import { freePort } from '../support/ports';

const OEDNS = resolve(__dirname, '../../src/cli/oedns.js');
const record = {
  level: 40,
  time: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
  pid: 1,
  hostname: 'h',
  name: 'oedns',
  msg: 'upstreams changed',
  upstream: ['192.0.2.1:53', '192.0.2.2:53'],
  why: 'file changed',
  n: 3,
};

describe('util/log', () => {
  it('picks journal under systemd (JOURNAL_STREAM is our stderr), pretty on a terminal, JSON otherwise', () => {
    assert.equal(resolveLogFormat('auto', { JOURNAL_STREAM: '8:123' }, { isTTY: false, devIno: '8:123' }), 'journal');
    assert.equal(
      resolveLogFormat('auto', { JOURNAL_STREAM: '8:123' }, { isTTY: true, devIno: '8:999' }),
      'pretty',
      'inherited variable, stderr elsewhere',
    );
    assert.equal(resolveLogFormat('auto', {}, { isTTY: true }), 'pretty');
    assert.equal(resolveLogFormat('auto', {}, { isTTY: false }), 'json');
    assert.equal(resolveLogFormat('json', {}, { isTTY: true }), 'json');
  });

  it('writes a terminal line with time, level, message and the facts, quoting only what needs it', () => {
    const line = prettyLine(record);
    assert.match(
      line,
      /^\d\d:\d\d:\d\d\.006 WARN {2}upstreams changed {2}upstream=192\.0\.2\.1:53,192\.0\.2\.2:53 why="file changed" n=3\n$/,
    );
    assert.doesNotMatch(line, /pid|hostname/);
  });

  it('prefixes journal lines with the syslog priority (sd-daemon(3)) and no time', () => {
    assert.equal(journalLine(record), '<4>upstreams changed upstream=192.0.2.1:53,192.0.2.2:53 why="file changed" n=3\n');
    assert.match(journalLine({ ...record, level: 50 }), /^<3>/);
    assert.match(journalLine({ ...record, level: 30 }), /^<6>/);
    assert.match(journalLine({ ...record, level: 20 }), /^<7>/);
    assert.match(journalLine({ ...record, level: 60, msg: 'two\nlines' }), /^<2>two lines/);
  });

  it('`oedns serve` logs in journal format when its stderr is the stream JOURNAL_STREAM names', async function () {
    this.timeout(20_000);
    const dir = mkdtempSync(join(tmpdir(), 'oedns-log-'));
    const file = join(dir, 'stderr');
    const fd = openSync(file, 'w');
    const st = fstatSync(fd);
    const port = await freePort();
    const args = [
      OEDNS,
      'serve',
      '--config',
      'none',
      '--listen',
      `127.0.0.1:${port}`,
      '--upstream',
      '127.0.0.1:9',
      '--control',
      'none',
      '--autosp-state',
      'none',
      '--user',
      'root',
    ];
    const p = spawn(process.execPath, args, {
      stdio: ['ignore', 'ignore', fd],
      env: { ...process.env, JOURNAL_STREAM: `${st.dev}:${st.ino}` },
    });
    closeSync(fd);
    for (let i = 0; i < 100 && !/listening/.test(readFileSync(file, 'utf8')); i++) await new Promise((r) => setTimeout(r, 100));
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
    const text = readFileSync(file, 'utf8');
    assert.match(text, new RegExp(`^<6>listening listen=127\\.0\\.0\\.1:${port} `, 'm'));
    assert.doesNotMatch(text, /^\{/m, 'no JSON line');
  });
});
