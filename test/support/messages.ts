// Tests and benches build DNS responses by hand to feed caches, validators, stores and checks; this
// writes the header once, so that a call names only what its case is about (the flags, the rcode,
// the sections) and a new field of Message is added in one place.
//
//   dnsResponse({ q: { name: 'www.example.test', type: 1 }, rd: true, ra: true, answers: [a] })
import type { Message } from '../../src/wire/types';

/**
 * A response (QR set) to the question `q` (class IN; no question when absent): id 0, opcode QUERY,
 * rcode NOERROR, every other flag clear and every section empty, unless `m` sets them.
 */
export function dnsResponse(m: Partial<Omit<Message, 'qr' | 'questions'>> & { q?: { name: string; type: number } }): Message {
  const { q, ...header } = m;
  return {
    id: 0,
    qr: true,
    opcode: 0,
    aa: false,
    tc: false,
    rd: false,
    ra: false,
    z: false,
    ad: false,
    cd: false,
    rcode: 0,
    questions: q ? [{ name: q.name, type: q.type, class: 1 }] : [],
    answers: [],
    authorities: [],
    additionals: [],
    ...header,
  };
}
