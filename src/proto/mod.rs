//! proto: the protocols on top of TCP and UDP: TLS, QUIC, DTLS, the plaintext upgrades before
//! TLS (STARTTLS and its kin), and the hello fingerprints.

pub mod codepoints;
pub mod dtls;
pub mod fingerprint;
pub mod quic;
pub mod starttls;
pub mod tls;
