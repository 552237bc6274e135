//! One TCP direction's reassembly over a run of segments (any sequence numbers, overlaps,
//! retransmissions, wraparound), SYNs, snap-length cuts, the end of buffering and flushes.
//!
//! Oracle, a naive model: deliveries are contiguous from where the stream started (the first
//! SYN's ISN + 1, or the first segment's sequence number), every delivered byte is one that
//! some segment carried at that sequence number, and the delivered count matches.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use std::collections::HashMap;
use tlsmortem::flow::reassembly::{Delivery, HalfStream, Seq};
use tlsmortem_fuzz::{origin, segments, SegOp};

/// The byte values segments carried at each sequence number.
#[derive(Default)]
struct Model {
    seen: HashMap<u32, [u64; 4]>,
    /// Where the next delivery must start.
    pos: Option<u32>,
    delivered: u64,
}

impl Model {
    fn saw(&mut self, seq: u32, payload: &[u8]) {
        for (i, &b) in payload.iter().enumerate() {
            let set = self.seen.entry(seq.wrapping_add(i as u32)).or_default();
            set[usize::from(b / 64)] |= 1 << (b % 64);
        }
    }

    fn check(&mut self, d: Delivery<'_>) {
        let pos = self.pos.expect("a delivery before the stream started");
        match d {
            Delivery::Data { bytes, .. } => {
                assert!(!bytes.is_empty(), "empty data delivery");
                for (i, &b) in bytes.iter().enumerate() {
                    let at = pos.wrapping_add(i as u32);
                    let carried = self
                        .seen
                        .get(&at)
                        .is_some_and(|set| set[usize::from(b / 64)] & (1 << (b % 64)) != 0);
                    assert!(
                        carried,
                        "byte {b:#04x} delivered at seq {at} was never sent there"
                    );
                }
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
                    m.saw(s.seq, s.payload);
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
