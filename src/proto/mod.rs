//! proto: the protocols on top of TCP and UDP: TLS, QUIC, DTLS, the plaintext upgrades before
//! TLS (STARTTLS and its kin), and the hello fingerprints.
//!
//! Imports run one way. `tls` (records, hellos, events), `crypto` (key derivation and record
//! opening, for TLS, DTLS and QUIC) `pieces` (out-of-order byte ranges) and `der` (certificates shared
//! between connections) import no sibling but `crypto`; `quic` and `dtls` import `tls` for its hello parsers and event types, and
//! `pieces` to put fragments back together; `conversation`, the per-flow state that feeds TCP
//! bytes to `tls` and sorts UDP datagrams between `quic` and `dtls`, imports all three;
//! `starttls` and `fingerprint` read only what `tls` gives (their corpus tests run
//! whole flows through `conversation`).

pub mod codepoints;
pub mod conversation;
pub mod crypto;
pub mod der;
pub mod dtls;
pub mod fingerprint;
pub mod pieces;
pub mod quic;
pub mod starttls;
pub mod tls;
