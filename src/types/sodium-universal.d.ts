// Minimal declarations for the parts of sodium-universal (libsodium, as hyperdht uses it) roost uses.
declare module 'sodium-universal' {
  interface Sodium {
    crypto_sign_SEEDBYTES: number
    crypto_sign_PUBLICKEYBYTES: number
    crypto_sign_SECRETKEYBYTES: number
    crypto_sign_BYTES: number
    crypto_sign_seed_keypair: (publicKey: Uint8Array, secretKey: Uint8Array, seed: Uint8Array) => void
    crypto_sign_detached: (signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array) => void
    crypto_sign_verify_detached: (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean
  }
  const sodium: Sodium
  export default sodium
}
