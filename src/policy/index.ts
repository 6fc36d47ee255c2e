// Public face of src/policy: pure rules, matching and the capture-mode decision.
export * from './rules';
export * from './load';
export * from './match';
export * from './decide';
export { parseAddress, parseCidr, formatAddress } from './ip';
export type { Cidr } from './ip';
