// reflect-metadata must be loaded before @peculiar/x509 (its ASN.1 schemas use decorators), and
// the library needs a WebCrypto provider: node's. Import x509 only through this module.
import 'reflect-metadata'
import { webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'

x509.cryptoProvider.set(webcrypto as unknown as Crypto)

export { x509 }
