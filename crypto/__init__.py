"""Keys, ciphers and (later) Merkle hashing: the only package that touches key material."""
