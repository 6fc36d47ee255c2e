// Public face of src/policy: pure rules, matching and the capture-mode decision.
// Layering: src/policy may import the peer model (src/peers/model.ts, keys.ts, material.ts), src/dnssec, src/wire
// and src/util; pure (no I/O, no clock).
export * from './rules';
export * from './load';
export * from './match';
export * from './decide';
export { parseAddress, parseCidr, formatAddress } from './ip';
export type { Cidr } from './ip';
