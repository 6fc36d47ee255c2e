import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseResolvConf, readConfigFile, resolveServeConfig, upstreamsFromResolvConf } from '../../src/config/serve';
import { parseEndpoint } from '../../src/resolver/endpoint';
import { ConfigError } from '../../src/util/errors';
import { tempDir } from './helpers';

const isConfigError = (code: string) => (e: unknown) => e instanceof ConfigError && e.code === code;

describe('config/serve', () => {
  it('parses listen/upstream endpoints, IPv6 in brackets, default port 53', () => {
    assert.deepEqual(parseEndpoint('127.0.0.1'), { host: '127.0.0.1', port: 53, family: 4 });
    assert.deepEqual(parseEndpoint('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353, family: 4 });
    assert.deepEqual(parseEndpoint('::1'), { host: '::1', port: 53, family: 6 });
    assert.deepEqual(parseEndpoint('[::1]:5353'), { host: '::1', port: 5353, family: 6 });
    assert.throws(() => parseEndpoint('localhost:53'), isConfigError('bad-endpoint'));
    assert.throws(() => parseEndpoint('127.0.0.1:70000'), isConfigError('bad-endpoint'));
  });

  it("takes upstreams from resolv.conf, leaving out oedns's own listen addresses", () => {
    const text = '# comment\nsearch example\nnameserver 127.0.0.1\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\noptions edns0\n';
    assert.deepEqual(parseResolvConf(text), ['127.0.0.1', '192.0.2.53', 'fe80::1']);
    const ups = upstreamsFromResolvConf(text, [parseEndpoint('127.0.0.1:53')]);
    assert.deepEqual(
      ups.map((e) => e.host),
      ['192.0.2.53', 'fe80::1'],
    );
    // Listening elsewhere: 127.0.0.1:53 is some other resolver and may be used.
    assert.equal(upstreamsFromResolvConf(text, [parseEndpoint('127.0.0.1:5353')]).length, 3);
  });

  it('fails with no-upstream when resolv.conf only names oedns itself', () => {
    assert.throws(() => resolveServeConfig({}, {}, { readResolvConf: () => 'nameserver 127.0.0.1\n' }), isConfigError('no-upstream'));
  });

  it('uses the defaults: 127.0.0.1:53, dry-run engine, 1232-byte UDP', () => {
    const c = resolveServeConfig({}, {}, { readResolvConf: () => 'nameserver 192.0.2.53\n' });
    assert.deepEqual(c.listen, [{ host: '127.0.0.1', port: 53, family: 4 }]);
    assert.deepEqual(c.upstream, [{ host: '192.0.2.53', port: 53, family: 4 }]);
    assert.equal(c.engine, 'dry-run');
    assert.equal(c.maxUdpSize, 1232);
    assert.deepEqual([c.cacheSize, c.cacheHot], [100_000, 10_000]);
    assert.deepEqual([c.tcpIdleMs, c.tcpFrameMs], [10_000, 3000]);
  });

  it('takes the TCP frame deadline from the file or the command line, within 100 ms to 60 s', () => {
    const up = { upstream: ['192.0.2.1'] };
    const yaml = join(tempDir(), 'oedns.yaml');
    writeFileSync(yaml, 'tcp-frame-ms: 500\n');
    assert.equal(resolveServeConfig(readConfigFile(yaml), up).tcpFrameMs, 500);
    assert.equal(resolveServeConfig(readConfigFile(yaml), { ...up, tcpFrameMs: '800' }).tcpFrameMs, 800);
    assert.throws(
      () => resolveServeConfig({}, { ...up, tcpFrameMs: '5' }),
      (e: unknown) => e instanceof ConfigError && /tcpFrameMs/.test(e.message),
    );
  });

  it('reads JSON and YAML files with the option names, the command line winning', () => {
    const dir = tempDir();
    const ta = join(dir, 'root.key');
    writeFileSync(ta, '. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n');
    const json = join(dir, 'oedns.json');
    writeFileSync(
      json,
      JSON.stringify({
        listen: ['127.0.0.1:5300', '[::1]:5300'],
        upstream: '192.0.2.1',
        'cache-size': 50,
        allow: ['10.0.0.0/8'],
        trustAnchor: ta,
      }),
    );
    const yaml = join(dir, 'oedns.yaml');
    writeFileSync(yaml, 'listen:\n  - 127.0.0.1:5301\nupstream: [192.0.2.2:5353]\ncacheSize: 7\nlog-level: debug\n');
    const fromJson = resolveServeConfig(readConfigFile(json), { cacheSize: '99' });
    assert.equal(fromJson.listen.length, 2);
    assert.equal(fromJson.listen[1]!.family, 6);
    assert.equal(fromJson.upstream[0]!.host, '192.0.2.1');
    assert.equal(fromJson.cacheSize, 99);
    assert.deepEqual(fromJson.allow, ['10.0.0.0/8']);
    assert.match(fromJson.trustAnchor!.text, /20326/);
    const fromYaml = resolveServeConfig(readConfigFile(yaml), {});
    assert.equal(fromYaml.listen[0]!.port, 5301);
    assert.equal(fromYaml.upstream[0]!.port, 5353);
    assert.equal(fromYaml.cacheSize, 7);
    assert.equal(fromYaml.logLevel, 'debug');
  });

  it('names the bad key or value in a ConfigError', () => {
    const dir = tempDir();
    const f = join(dir, 'bad.json');
    writeFileSync(f, JSON.stringify({ listne: ['127.0.0.1'] }));
    assert.throws(() => readConfigFile(f), isConfigError('config-unknown-key'));
    writeFileSync(f, '{ not json');
    assert.throws(() => readConfigFile(f), isConfigError('config-syntax'));
    assert.throws(() => readConfigFile(join(dir, 'missing.json')), isConfigError('config-unreadable'));
    const up = { upstream: ['192.0.2.1'] };
    assert.throws(() => resolveServeConfig({}, { ...up, cacheSize: 'lots' }), isConfigError('config-type'));
    assert.throws(() => resolveServeConfig({}, { ...up, engine: 'racoon' }), isConfigError('bad-engine'));
    assert.throws(() => resolveServeConfig({}, { ...up, allow: ['10.0.0.0/99'] }), isConfigError('bad-cidr'));
    assert.throws(() => resolveServeConfig({}, { ...up, logLevel: 'loud' }), isConfigError('bad-log-level'));
    assert.throws(() => resolveServeConfig({}, { ...up, trustAnchor: join(dir, 'nope') }), isConfigError('trust-anchor-unreadable'));
  });
});
