//! One TCP direction's reassembly over a run of segments (any sequence numbers, overlaps,
//! retransmissions, wraparound), SYNs, snap-length cuts, the end of buffering and flushes.
//!
//! Oracle, a naive model: deliveries are contiguous from where the stream started (the first
//! SYN's ISN + 1, or the first segment's sequence number), every delivered byte is one that
//! some segment carried at that sequence number, and the delivered count matches.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use tlsmortem::flow::reassembly::{Delivery, HalfStream, Seq};
use tlsmortem_fuzz::{origin, segments, SegOp};

/// The segments sent so far, and where the stream stands.
#[derive(Default)]
struct Model<'a> {
    sent: Vec<(u32, &'a [u8])>,
    /// Where the next delivery must start.
    pos: Option<u32>,
    delivered: u64,
}

impl Model<'_> {
    /// Whether some segment carried `bytes` at `seq`: one segment holding them all (the usual
    /// case), or, byte by byte, any segment holding each.
    fn carried(&self, seq: u32, bytes: &[u8]) -> bool {
        let sent_at = |seq: u32, len: usize| {
            self.sent.iter().filter_map(move |&(start, payload)| {
                let off = seq.wrapping_sub(start) as usize;
                payload.get(off..off.checked_add(len)?)
            })
        };
        sent_at(seq, bytes.len()).any(|s| s == bytes)
            || bytes
                .iter()
                .enumerate()
                .all(|(i, b)| sent_at(seq.wrapping_add(i as u32), 1).any(|s| s == [*b]))
    }

    fn check(&mut self, d: Delivery<'_>) {
        let pos = self.pos.expect("a delivery before the stream started");
        match d {
            Delivery::Data { bytes, .. } => {
                assert!(!bytes.is_empty(), "empty data delivery");
                assert!(
                    self.carried(pos, bytes),
                    "{} bytes delivered at seq {pos} that no segment carried there",
                    bytes.len()
                );
                self.pos = Some(pos.wrapping_add(bytes.len() as u32));
                self.delivered += bytes.len() as u64;
            }
            Delivery::Gap { missing } => {
                assert!(missing > 0, "empty gap");
                self.pos = Some(pos.wrapping_add(missing as u32));
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let model = RefCell::new(Model::default());
    let mut stream = HalfStream::new();
    let mut sink = |d: Delivery<'_>| model.borrow_mut().check(d);
    for (n, s) in segments(data).iter().enumerate() {
        match s.op {
            SegOp::Data => {
                {
                    let mut m = model.borrow_mut();
                    if m.pos.is_none() && !s.payload.is_empty() {
                        m.pos = Some(s.seq);
                    }
                    m.sent.push((s.seq, s.payload));
                }
                stream.segment(Seq(s.seq), s.payload, origin(n), &mut sink);
            }
            SegOp::Syn => {
                {
                    let mut m = model.borrow_mut();
                    if m.pos.is_none() {
                        m.pos = Some(s.seq.wrapping_add(1));
                    }
                }
                stream.syn(Seq(s.seq));
            }
            SegOp::StopBuffering => stream.stop_buffering(),
            SegOp::Flush => stream.flush(&mut sink),
            SegOp::Snapped => stream.snapped(Seq(s.seq), u32::from(s.length), &mut sink),
        }
        assert_eq!(
            stream.started(),
            model.borrow().pos.is_some(),
            "stream start differs from the model"
        );
    }
    stream.flush(&mut sink);
    assert_eq!(stream.stats.delivered, model.borrow().delivered);
});
