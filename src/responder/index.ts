// Public face of src/responder: IKE queries DNS (the catch-all hook, allow-list, bounded lookups).
// Layering: src/responder may import src/resolver, src/peers, src/policy, src/ike-bridge, src/dnssec,
// src/wire and src/util (from-config.ts reads src/config's type, a known exception).
export { AllowList, AllowCheck, checkAllowed, hostname, parseAllowList } from './allow-list';
export { UnknownInitiator, unknownInitiators, UNNAMED } from './events';
export { HoldDown, TokenBucket } from './limits';
export {
  CATCHALL_CONN,
  catchAllConn,
  DEFAULT_IKE_PROPOSALS,
  dummyPublicKeyPem,
  ResponderHook,
  StrongswanCatchAll,
  StrongswanCatchAllOptions,
} from './strongswan-catchall';
export {
  createResponder,
  DEFAULT_LIMITS,
  ResponderCounters,
  ResponderLimits,
  ResponderOptions,
  ResponderOutcome,
  ResponderResult,
  ResponderService,
  ResponderServiceOptions,
} from './service';
export { libreswanResponderConf, LibreswanResponderConf } from './libreswan-conf';
