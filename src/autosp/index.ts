// Public face of src/autosp: peers known by name in advance.
// Layering: src/autosp may import src/control, src/publish, src/resolver, src/peers, src/policy,
// src/ike-bridge, src/dnssec, src/wire and src/util; never capture, the responder, config or the daemon.
export * from './peers-file';
export * from './resolve';
export * from './state';
export * from './keeper';
export * from './service';
export * from './errors';
export * from './daemon-client';
export * from './direct';
export * from './once';
export * from './list';
export * from './ike-states';
export * from './watch';
