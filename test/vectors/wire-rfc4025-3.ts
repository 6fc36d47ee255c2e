// RFC 4025 §3.3 IPSECKEY examples. `hex` is the RDATA as BIND 9.18 `named-rrchecker -u` encodes the
// example text; `text` is how BIND prints it back (IPv6 gateway in RFC 5952 form).
import type { Ipseckey } from '../../src/wire/rdata';

export const RFC4025_KEY_B64 = 'AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==';
const key = Uint8Array.from(Buffer.from(RFC4025_KEY_B64, 'base64'));
const keyHex = '010351537986ed35533b6064478eeeb27b5bd74dae149b6e81ba3a0521af82ab7801';

export interface IpseckeyVector {
  name: string;
  owner: string;
  input: string;
  text: string;
  hex: string;
  value: Ipseckey;
}

export const rfc4025Examples: IpseckeyVector[] = [
  {
    name: 'IPv4 gateway 192.0.2.38',
    owner: '38.2.0.192.in-addr.arpa',
    input: '10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==',
    text: '10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==',
    hex: '0a0102c0000226' + keyHex,
    value: { precedence: 10, gatewayType: 1, algorithm: 2, gateway: '192.0.2.38', publicKey: key },
  },
  {
    name: 'no gateway',
    owner: '38.2.0.192.in-addr.arpa',
    input: '10 0 2 . AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==',
    text: '10 0 2 . AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==',
    hex: '0a0002' + keyHex,
    value: { precedence: 10, gatewayType: 0, algorithm: 2, gateway: null, publicKey: key },
  },
  {
    name: 'IPv4 gateway 192.0.2.3',
    owner: '38.2.0.192.in-addr.arpa',
    input: '( 10 1 2\n 192.0.2.3\n AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ== )',
    text: '10 1 2 192.0.2.3 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==',
    hex: '0a0102c0000203' + keyHex,
    value: { precedence: 10, gatewayType: 1, algorithm: 2, gateway: '192.0.2.3', publicKey: key },
  },
  {
    name: 'gateway name mygateway.example.com',
    owner: '38.1.0.192.in-addr.arpa',
    input: '10 3 2 mygateway.example.com. AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==',
    text: '10 3 2 mygateway.example.com. AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==',
    hex: '0a0302096d7967617465776179076578616d706c6503636f6d00' + keyHex,
    value: { precedence: 10, gatewayType: 3, algorithm: 2, gateway: 'mygateway.example.com', publicKey: key },
  },
  {
    name: 'IPv6 gateway 2001:0DB8:0:8002::2000:1',
    owner: '0.d.4.0.3.0.e.f.f.f.3.f.0.1.2.0.1.0.0.0.0.0.2.8.B.D.0.1.0.0.2.ip6.arpa',
    input: '10 2 2 2001:0DB8:0:8002::2000:1 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==',
    text: '10 2 2 2001:db8:0:8002::2000:1 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==',
    hex: '0a0202' + '20010db8000080020000000020000001' + keyHex,
    value: { precedence: 10, gatewayType: 2, algorithm: 2, gateway: '2001:db8:0:8002::2000:1', publicKey: key },
  },
];
