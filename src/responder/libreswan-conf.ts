// Libreswan does IKE-queries-DNS by itself: a conn whose remote key is `rightrsasigkey=%dnsondemand`
// makes pluto, as responder, suspend IKE_AUTH, fetch the IPSECKEY and the A record of the initiator's
// FQDN IDi through its own libunbound, accept only a DNSSEC-secure answer (RSA keys only) whose A
// record is the address the initiator came from, and go on. So for Libreswan oedns only writes the
// configuration; no event hook is needed. Pure: returns the ipsec.conf text.
//
// Run in a real pluto 4.10 (test/ike-bridge/libreswan-responder.test.ts): pluto takes this text as
// written (dnssec-anchors shows as dnssec-trusted in `whack --status`), fetches and validates the
// initiator's IPSECKEY, authenticates it, and refuses an unpublished key or a non-matching anchor.
// pluto's libunbound answers names under `test.` itself (empty): such names cannot be looked up.
import type { AllowList } from './allow-list';

export interface LibreswanResponderConf {
  /** Our IKE identity (FQDN). */
  localId: string;
  /** CKAID of our key in pluto's NSS database (`ipsec showhostkey --list`). */
  localCkaid?: string;
  allow: AllowList;
  /** DNSSEC trust anchors file for pluto's libunbound (unbound format); default: its built-in root key. */
  anchorsFile?: string;
  /** Our address; default %defaultroute. */
  localAddr?: string;
}

/** One conn per exact name: pluto's rightid cannot express a zone suffix for FQDN ids. */
export function libreswanResponderConf(o: LibreswanResponderConf): { text: string; skipped: string[] } {
  const lines: string[] = [
    "# Written by oedns: IKE queries DNS (responder side) with pluto's own on-demand IPSECKEY lookup.",
    'config setup',
    '    dnssec-enable=yes',
    ...(o.anchorsFile ? [`    dnssec-anchors=${o.anchorsFile}`] : []),
    '',
  ];
  const skipped = o.allow.zones.map((z) => `.${z}`);
  for (const name of [...o.allow.exact].sort()) {
    lines.push(
      `conn oe-responder-${name}`,
      '    ikev2=insist',
      '    authby=rsasig',
      `    left=${o.localAddr ?? '%defaultroute'}`,
      `    leftid=@${o.localId}`,
      ...(o.localCkaid ? [`    leftckaid=${o.localCkaid}`] : []),
      '    right=%any',
      `    rightid=@${name}`,
      // The key is fetched from DNS when the initiator presents this id, DNSSEC-secure only.
      '    rightrsasigkey=%dnsondemand',
      '    type=tunnel',
      '    auto=add',
      '',
    );
  }
  if (skipped.length) {
    lines.push(
      `# Not written: ${skipped.join(', ')}. pluto matches FQDN ids exactly, so a zone suffix would`,
      '# need rightid=%any, which would look up any name an initiator claims. List the names instead.',
      '',
    );
  }
  return { text: lines.join('\n'), skipped };
}
