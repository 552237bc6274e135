//! tlsmortem (scaffold)
#![forbid(unsafe_code)]
pub mod capture;
pub mod error;
pub mod wire;
pub use error::Error;
