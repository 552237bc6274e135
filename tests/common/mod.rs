//! The harness every integration test shares, so that each test file says only what it checks:
//! running the `tlsmortem` binary and reading its JSON lines ([`run`]), where the fixtures live
//! ([`fixtures`]), the ground truth written beside the captures ([`truth`]), reading fields
//! of connection objects ([`json`]), running the library in-process to compare whole results
//! ([`analyze`]) and writing small captures in memory ([`pcap`]). A test binary opts in with
//! `mod common;`. The harness judges nothing itself: every assertion stays in the tests.

// Each test binary compiles this module and uses a different subset of it; the rest would
// warn as dead code in every binary that does not use it.
#![allow(dead_code)]

pub mod analyze;
pub mod fixtures;
pub mod hostile;
pub mod json;
pub mod pcap;
pub mod run;
pub mod truth;
