// `oedns policy check FILE` and `oedns policy explain NAME [ADDRESS...]`: the policy file seen from the
// command line. Also where policy files are read from disk, for `serve` and friends.
import { readFile } from 'node:fs/promises';
import { type Command } from 'commander';
import type { PolicyLevel } from '../ike-bridge/engine';
import { ConfigError } from '../util/errors';
import {
  defaultPolicy,
  describeSelector,
  formatFromPath,
  matchPeer,
  parseAddress,
  parsePolicy,
  type Policy,
  type Rule,
  fallbackAllowed,
} from '../policy';

/** One line per level, for people reading `explain`. */
export const LEVEL_MEANING: Record<PolicyLevel, string> = {
  private: 'encryption required: without a DNSSEC-validated key the name gets SERVFAIL (fail closed)',
  'private-or-clear': 'encrypted when DNSSEC proves a key, otherwise answered in clear',
  opportunistic: 'encrypted when DNSSEC proves a key; otherwise unauthenticated encryption if the fallback allows it, else clear',
  clear: 'never touches the IKE engine; answered as a plain validating resolver',
  block: 'the name is refused (REFUSED, extended error 15 Blocked)',
};

/** Read and parse a policy file; errors are ConfigErrors (exit 2) naming the file. */
export async function loadPolicyFile(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError('POLICY_READ', `cannot read policy file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return parsePolicy(text, formatFromPath(path));
  } catch (e) {
    if (e instanceof ConfigError) {
      // Keep the code; put the file name in front of "policy line N".
      const err = new ConfigError(e.code, `${path}: ${e.message.replace(/^oedns [A-Z_]+: /, '')}`, { cause: e });
      throw err;
    }
    throw e;
  }
}

export function summarizePolicy(p: Policy): string {
  const count = (k: string) => p.rules.filter((r) => r.selector.kind === k).length;
  const f = p.fallback;
  const fb = fallbackAllowed(f)
    ? `${f.method}${f.anyKey ? ', any key' : ''}${f.trustedFingerprints.length ? `, ${f.trustedFingerprints.length} trusted fingerprint(s)` : ''}`
    : 'off';
  return [
    `default ${p.default}`,
    `${p.rules.length} rule(s): ${count('name')} exact, ${count('wildcard')} wildcard, ${count('zone')} zone, ${count('address')} address`,
    `max-ttl ${p.maxTtl} s`,
    `trust-insecure ${p.trustInsecure ? 'on' : 'off'}`,
    `fallback ${fb}`,
  ].join('; ');
}

function ruleJson(r: Rule | null): object | null {
  if (!r) return null;
  return {
    index: r.index,
    line: r.line ?? null,
    kind: r.selector.kind,
    selects: describeSelector(r.selector),
    level: r.level,
    comment: r.comment ?? null,
  };
}

function levelCounts(p: Policy): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of p.rules) out[r.level] = (out[r.level] ?? 0) + 1;
  return out;
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('check a policy file, or explain which rule applies to a name');

  policy
    .command('check')
    .description('validate a policy file (YAML or JSON); prints OK and a summary, or the error (exit 2)')
    .argument('<file>', 'policy file (.yaml, .yml or .json)')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { json?: boolean }) => {
      const p = await loadPolicyFile(file);
      if (opts.json) {
        process.stdout.write(
          JSON.stringify(
            {
              ok: true,
              file,
              default: p.default,
              rules: p.rules.length,
              byLevel: levelCounts(p),
              maxTtl: p.maxTtl,
              trustInsecure: p.trustInsecure,
              fallback: {
                allowed: fallbackAllowed(p.fallback),
                anyKey: p.fallback.anyKey,
                method: p.fallback.method,
                trustedFingerprints: p.fallback.trustedFingerprints.length,
              },
              warnings: p.warnings,
            },
            null,
            2,
          ) + '\n',
        );
        return;
      }
      process.stdout.write(`OK ${file}: ${summarizePolicy(p)}\n`);
      for (const w of p.warnings) process.stderr.write(`warning: ${w}\n`);
    });

  policy
    .command('explain')
    .description('print the level for a name (and the addresses it resolves to), the rule that applies and why')
    .argument('<name>', 'domain name')
    .argument('[address...]', 'addresses the name resolves to (address rules may override the name)')
    .option('--policy <file>', 'policy file (without it: the built-in default policy)')
    .option('--json', 'machine-readable output')
    .action(async (name: string, addresses: string[], opts: { policy?: string; json?: boolean }) => {
      for (const a of addresses) {
        if (!parseAddress(a)) throw new ConfigError('BAD_ADDRESS', `"${a}" is not an IPv4 or IPv6 address`);
      }
      const p = opts.policy ? await loadPolicyFile(opts.policy) : defaultPolicy();
      const m = matchPeer(p, name, addresses);
      if (opts.json) {
        process.stdout.write(
          JSON.stringify(
            {
              name,
              addresses,
              policy: opts.policy ?? null,
              level: m.level,
              meaning: LEVEL_MEANING[m.level],
              rule: ruleJson(m.rule),
              why: m.why,
              nameMatch: { level: m.name.level, rule: ruleJson(m.name.rule), why: m.name.why },
              addressMatches: m.addresses.map((a) => ({ address: a.address, level: a.level, rule: ruleJson(a.rule), why: a.why })),
            },
            null,
            2,
          ) + '\n',
        );
        return;
      }
      const lines = [
        `name:    ${name}`,
        ...(addresses.length ? [`address: ${addresses.join(', ')}`] : []),
        `policy:  ${opts.policy ?? '(built-in default)'}`,
        `level:   ${m.level} (${LEVEL_MEANING[m.level]})`,
        `rule:    ${m.rule ? `${describeSelector(m.rule.selector)}, rules[${m.rule.index}]${m.rule.line !== undefined ? ` at line ${m.rule.line}` : ''}` : `none: default ${p.default}`}`,
        `why:     ${m.why}`,
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });
}
