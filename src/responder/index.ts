export { AllowList, AllowCheck, checkAllowed, hostname, parseAllowList } from './allow-list';
export { UnknownInitiator, unknownInitiators, UNNAMED } from './events';
export { HoldDown, TokenBucket } from './limits';
export { CATCHALL_CONN, catchAllConn, DEFAULT_IKE_PROPOSALS, dummyPublicKeyPem, ResponderHook, StrongswanCatchAll, StrongswanCatchAllOptions } from './strongswan-catchall';
export { createResponder, DEFAULT_LIMITS, ResponderCounters, ResponderLimits, ResponderOptions, ResponderOutcome, ResponderResult, ResponderService, ResponderServiceOptions } from './service';
export { libreswanResponderConf, LibreswanResponderConf } from './libreswan-conf';
