// Public face of src/peers: the peer model (model.ts, keys.ts, material.ts), the registry of wanted peers and its
// sync to an Engine.
// Layering: src/peers may import src/ike-bridge, src/policy, src/dnssec, src/wire and src/util;
// model.ts, keys.ts and material.ts import only src/wire and src/util, since policy and ike-bridge
// import them.
export * from './registry';
export * from './sync';
export type * from './model';
