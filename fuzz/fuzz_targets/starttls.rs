//! The STARTTLS stage on the plaintext both sides sent before TLS: upgrade detection for every
//! protocol it knows, and the plaintext protocol guess. Each side is delivered in chunks cut
//! after every newline, one frame each, as a line-by-line dialogue arrives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsmortem::capture::Timestamp;
use tlsmortem::proto::starttls::{self, Side};
use tlsmortem::proto::tls::{PlaintextChunk, MAX_PLAINTEXT, MAX_PLAINTEXT_CHUNKS};

/// Chunk starts as the TLS stage records them: one per line, frames counting from `first`.
fn line_chunks(bytes: &[u8], first: u64) -> Vec<PlaintextChunk> {
    let mut starts = vec![0];
    starts.extend(
        bytes
            .iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\n' && i + 1 < bytes.len())
            .map(|(i, _)| i + 1),
    );
    starts.truncate(MAX_PLAINTEXT_CHUNKS);
    starts
        .into_iter()
        .enumerate()
        .map(|(n, offset)| PlaintextChunk {
            frame: first + 2 * n as u64,
            ts: Timestamp(n as i64 * 1_000_000),
            offset,
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let p = tlsmortem_fuzz::plaintext(data);
    let (client, server) = (
        &p.client[..p.client.len().min(MAX_PLAINTEXT)],
        &p.server[..p.server.len().min(MAX_PLAINTEXT)],
    );
    let (cc, sc) = (line_chunks(client, 1), line_chunks(server, 2));
    let side = |bytes, chunks, saw_tls| Side {
        bytes,
        chunks,
        saw_tls,
    };
    let c = side(client, &cc, p.options & 1 != 0);
    let s = side(server, &sc, p.options & 2 != 0);
    if let Some(up) = starttls::detect(c, s) {
        // The server's words are cut at 200 characters; a short label may precede them
        // ("E ", an LDAP result name and code).
        if let Some(r) = &up.refused {
            let n = r.chars().count();
            assert!(n <= 264, "refusal text of {n} characters: {r:?}");
        }
    }
    let _ = starttls::protocol_guess(client, server);
});
