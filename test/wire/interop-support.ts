// Test-only helpers for the wire interop tests: build and sign zones with the real BIND tools, and send raw
// queries to a loopback named over UDP and TCP.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { keyObjectToIpseckey } from '../../src/peers/keys';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function toolsAvailable(tools: string[]): string | null {
  for (const t of tools) {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
    } catch {
      return t;
    }
  }
  return null;
}

/** A fresh RSA public key in RFC 3110 form (exponent length, exponent, modulus). */
export function rsaDnsKey(bits: number): Uint8Array {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return Uint8Array.from(keyObjectToIpseckey(publicKey).publicKey); // RFC 3110 form, as IPSECKEY's
}

/** The unsigned test zone: every record type the wire layer must carry, with mixed case and escapes. */
export function testZone(origin: string, ipseckeyB64: string): string {
  return `$ORIGIN ${origin}.
$TTL 3600
@ IN SOA ns1 HostMaster.${origin}. ( 2026112301 7200 900 1209600 300 )
  NS ns1
  MX 10 Mail
  TXT "v=spf1 -all" "second \\"string\\"" "semi;colon\\\\back" "\\255"
ns1 A 127.0.0.1
Mail A 192.0.2.25
www A 192.0.2.80
www A 192.0.2.81
www AAAA 2001:db8::80
www AAAA ::ffff:192.0.2.80
alias CNAME www
Host 300 IPSECKEY 10 0 2 . ${ipseckeyB64}
Host 300 IPSECKEY 20 1 2 192.0.2.38 ${ipseckeyB64}
Host 300 IPSECKEY 30 2 2 2001:0DB8:0:8002::2000:1 ${ipseckeyB64}
Host 300 IPSECKEY 40 3 2 GW.Wire.Example. ${ipseckeyB64}
ed IPSECKEY 10 0 4 . 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=
odd\\.label TXT "x"
_sip._udp SRV 0 5 5060 Sip.${origin}.
@ CAA 0 issue "ca.example; x=\\"y\\""
*.wild TXT "wild"
child NS ns.child
ns.child A 192.0.2.53
child DS 12345 13 2 2BB183AF5F22588179A53B0A98631FAD1A2921182BB183AF5F22588179A53B0A
`;
}

/** Writes, keys and signs a zone in `dir`; returns the signed file. NSEC3 when `nsec3` is given. */
export function signZone(dir: string, origin: string, text: string, alg: string, nsec3?: { salt: string; iterations: number }): string {
  const unsigned = join(dir, `${origin}.zone`);
  const signed = join(dir, `${origin}.signed`);
  writeFileSync(unsigned, text);
  const bits = alg.startsWith('RSA') ? ['-b', '2048'] : [];
  execFileSync('dnssec-keygen', ['-q', '-a', alg, ...bits, '-K', dir, origin], { stdio: 'ignore' });
  execFileSync('dnssec-keygen', ['-q', '-a', alg, ...bits, '-f', 'KSK', '-K', dir, origin], { stdio: 'ignore' });
  const n3 = nsec3 ? ['-3', nsec3.salt, '-H', String(nsec3.iterations)] : [];
  execFileSync('dnssec-signzone', ['-S', '-K', dir, '-d', dir, ...n3, '-o', origin, '-f', signed, unsigned], { stdio: 'ignore' });
  return signed;
}

export function udpQuery(port: number, query: Uint8Array, timeoutMs = 3000): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error('UDP query timed out'));
    }, timeoutMs);
    sock.once('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(Uint8Array.from(msg));
    });
    sock.send(query, port, '127.0.0.1');
  });
}

export function tcpQuery(port: number, query: Uint8Array, timeoutMs = 3000): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('TCP query timed out'));
    }, timeoutMs);
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      s.write(Buffer.concat([len, query]));
    });
    s.on('data', (d) => {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      if (all.length >= 2 && all.length >= 2 + all.readUInt16BE(0)) {
        clearTimeout(timer);
        s.destroy();
        resolve(Uint8Array.from(all.subarray(2, 2 + all.readUInt16BE(0))));
      }
    });
  });
}

export function dig(port: number, qname: string, qtype: string, extra: string[] = []): string[] {
  const out = execFileSync(
    'dig',
    [
      '+dnssec',
      '+bufsize=4096',
      '+nocookie',
      '+time=2',
      '+tries=2',
      '+nocmd',
      '+noall',
      '+answer',
      '+authority',
      '+additional',
      ...extra,
      '-p',
      String(port),
      '@127.0.0.1',
      qname,
      qtype,
    ],
    { encoding: 'utf8' },
  );
  return out.split('\n').filter((l) => l !== '' && !l.startsWith(';'));
}

/** 'owner ttl class type rdata' with the whitespace between the first five fields collapsed. */
export function normalizeLine(line: string): string {
  const m = /^(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line.trim());
  return m ? `${m[1]} ${m[2]} ${m[3]} ${m[4]} ${m[5]}` : line.trim();
}
