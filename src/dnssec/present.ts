// Presentation text for `oedns lookup` output: src/wire's formatRR, with the RFC 3597 generic form for
// RDATA it cannot print (a malformed record must still show up, not abort the report).
import { formatRR } from '../wire/presentation';
import type { RR } from '../wire/types';
import { nameLabel, typeLabel } from './util';

/** One zone-file line for `rr`. */
export function presentRR(rr: RR): string {
  try {
    return formatRR(rr);
  } catch {
    const hex = Buffer.from(rr.rdata).toString('hex').toUpperCase();
    return `${nameLabel(rr.name)} ${rr.ttl} IN ${typeLabel(rr.type)} \\# ${rr.rdata.length}${hex ? ' ' + hex : ''}`;
  }
}
