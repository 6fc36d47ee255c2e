// 'host', 'host:port', '[v6]:port' and bare IPv6 literals, as used by --listen and --upstream.
import { isIP } from 'node:net';
import { ConfigError } from '../util/errors';

export interface Endpoint {
  host: string;
  port: number;
  family: 4 | 6;
}

export function parseEndpoint(text: string, defaultPort = 53): Endpoint {
  let host = text.trim();
  let port = defaultPort;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracket) {
    host = bracket[1]!;
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (isIP(host) !== 6) {
    const m = /^([^:]+):(\d+)$/.exec(host);
    if (m) {
      host = m[1]!;
      port = Number(m[2]);
    }
  }
  const family = isIP(host);
  if (family !== 4 && family !== 6)
    throw new ConfigError('bad-endpoint', `not an IP address[:port]: '${text}' (use [v6]:port for IPv6 with a port)`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('bad-endpoint', `bad port in '${text}'`);
  return { host, port, family };
}

export function formatEndpoint(e: { host: string; port: number }): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}
