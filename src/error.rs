//! Run errors: the things that stop a run (cannot open a file, not a capture, cannot write).
//!
//! Traffic problems (malformed packets, gaps, bad records, expired certificates) are never
//! errors: they are findings in the output and analysis goes on. Every error names the file and
//! says what to do.

use std::path::PathBuf;

/// An error that stops the run for one input (or for the whole run when writing fails).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{path}: cannot open: {source} (check the path and that you may read it)")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a packet capture ({what}); tlsmortem reads pcap and pcapng, plain or gzip-compressed{hint}")]
    NotACapture {
        path: PathBuf,
        what: String,
        hint: &'static str,
    },
    #[error("{path}: {what}")]
    Unsupported { path: PathBuf, what: String },
    #[error("cannot write output: {0}")]
    Write(std::io::Error),
}
