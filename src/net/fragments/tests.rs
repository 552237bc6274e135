//! Unit tests of IP reassembly, without captures: in-order, reversed and shuffled fragments,
//! overlaps (identical and conflicting: first copy wins), inconsistent ends, the timeout by
//! capture time, the caps (size, pieces, held bytes, datagrams), datagrams told apart by id,
//! protocol and virtual network, IPv6, a lost datagram's head, and nested fragments.

use super::*;
use crate::net::{decode, Layer, Tunnel};

const SRC: [u8; 4] = [10, 0, 0, 1];
const DST: [u8; 4] = [10, 0, 0, 2];
const SEC: i64 = 1_000_000_000;

/// A UDP datagram (ports 5000 → 443) with `len` payload bytes counting up.
fn udp_datagram(len: usize) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(5000u16.to_be_bytes());
    v.extend(443u16.to_be_bytes());
    v.extend(u16::try_from(8 + len).unwrap().to_be_bytes());
    v.extend([0, 0]);
    v.extend((0..len).map(|i| (i % 251) as u8));
    v
}

/// An IPv4 fragment (raw IP) of `data` at byte `offset`.
fn v4_fragment(id: u16, protocol: u8, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
    let mut v = vec![0x45, 0];
    v.extend(u16::try_from(20 + data.len()).unwrap().to_be_bytes());
    v.extend(id.to_be_bytes());
    let field = u16::try_from(offset / 8).unwrap() | if more { 0x2000 } else { 0 };
    v.extend(field.to_be_bytes());
    v.extend([61, protocol, 0, 0]);
    v.extend(SRC);
    v.extend(DST);
    v.extend(data);
    v
}

/// `datagram` cut into fragments of `size` bytes (a multiple of 8), as raw IPv4 packets.
fn cut(id: u16, datagram: &[u8], size: usize) -> Vec<Vec<u8>> {
    datagram
        .chunks(size)
        .enumerate()
        .map(|(i, c)| v4_fragment(id, 17, i * size, (i + 1) * size < datagram.len(), c))
        .collect()
}

struct Run {
    r: Reassembler,
    events: Vec<Event>,
    frame: u64,
}

impl Run {
    fn new() -> Self {
        Run {
            r: Reassembler::default(),
            events: Vec::new(),
            frame: 0,
        }
    }

    fn feed_at(&mut self, raw: &[u8], ts: i64) {
        self.frame += 1;
        let events = &mut self.events;
        self.r.tick(Timestamp(ts), &mut |e| events.push(e));
        let p = decode(101, raw).expect("a fragment decodes");
        let Transport::Fragment(f) = p.transport else {
            panic!("not a fragment: {:?}", p.transport);
        };
        self.r
            .fragment(&p, &f, self.frame, Timestamp(ts), &mut |e| events.push(e));
    }

    fn feed(&mut self, raw: &[u8]) {
        self.feed_at(raw, SEC);
    }

    fn wholes(&self) -> Vec<&Whole> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Whole(w) => Some(w),
                Event::Lost(_) => None,
            })
            .collect()
    }

    fn lost(&self) -> Vec<&Lost> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Lost(l) => Some(l),
                Event::Whole(_) => None,
            })
            .collect()
    }
}

fn payload_of(w: &Whole) -> Vec<u8> {
    let p = w.packet().expect("the rebuilt datagram decodes");
    match p.transport {
        Transport::Udp(u) => u.payload.to_vec(),
        other => panic!("expected UDP, got {other:?}"),
    }
}

#[test]
fn fragments_in_order_reversed_and_shuffled_give_the_same_datagram() {
    let d = udp_datagram(3000);
    let frags = cut(1, &d, 1480);
    assert_eq!(frags.len(), 3);
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]] {
        let mut run = Run::new();
        for &i in &order {
            run.feed(&frags[i]);
        }
        let wholes = run.wholes();
        assert_eq!(wholes.len(), 1, "{order:?}");
        assert_eq!(payload_of(wholes[0]), d[8..].to_vec(), "{order:?}");
        assert_eq!(wholes[0].fragments, 3);
        assert_eq!(wholes[0].conflict, None);
        let p = wholes[0].packet().unwrap();
        assert_eq!(
            (p.src, p.dst, p.ip.ttl),
            (IpAddr::from(SRC), IpAddr::from(DST), 61)
        );
        assert!(run.r.is_idle(), "nothing left in progress");
        assert_eq!(run.r.stats.reassembled, 1);
    }
}

#[test]
fn a_duplicate_fragment_is_no_conflict() {
    let d = udp_datagram(2000);
    let frags = cut(2, &d, 1000);
    let mut run = Run::new();
    run.feed(&frags[0]);
    run.feed(&frags[0]);
    run.feed(&frags[1]);
    run.feed(&frags[2]);
    let w = run.wholes();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].conflict, None);
    assert_eq!(payload_of(w[0]), d[8..].to_vec());
}

#[test]
fn overlapping_fragments_with_different_bytes_keep_the_first_copy_and_say_so() {
    let d = udp_datagram(2000);
    let mut run = Run::new();
    // 0..1200 first, then 1000..2008 with other bytes in 1000..1200.
    run.feed(&v4_fragment(3, 17, 0, true, &d[..1200]));
    let mut second = d[1000..].to_vec();
    second[50] ^= 0xff;
    second[300] ^= 0xff; // past the overlap: new bytes, taken as they are
    run.feed(&v4_fragment(3, 17, 1000, false, &second));
    let w = run.wholes();
    assert_eq!(w.len(), 1);
    assert_eq!(
        w[0].conflict,
        Some(2),
        "the frame of the conflicting fragment"
    );
    let mut expected = d.clone();
    expected[1300] ^= 0xff;
    assert_eq!(
        payload_of(w[0]),
        expected[8..].to_vec(),
        "first copy wins in the overlap"
    );
    assert_eq!(run.r.stats.conflicts, 1);
}

#[test]
fn a_fragment_filling_two_holes_and_covering_a_piece_between_is_stored_in_parts() {
    let d = udp_datagram(4000);
    let mut run = Run::new();
    run.feed(&v4_fragment(4, 17, 1000, true, &d[1000..2000]));
    run.feed(&v4_fragment(4, 17, 3000, false, &d[3000..]));
    // One fragment over 0..3000 spans a hole, the held piece and another hole.
    run.feed(&v4_fragment(4, 17, 0, true, &d[..3000]));
    let w = run.wholes();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].conflict, None);
    assert_eq!(payload_of(w[0]), d[8..].to_vec());
}

#[test]
fn a_last_fragment_that_contradicts_the_known_end_gives_the_datagram_up() {
    let d = udp_datagram(3000);
    let mut run = Run::new();
    run.feed(&v4_fragment(5, 17, 0, true, &d[..1000]));
    run.feed(&v4_fragment(5, 17, 2000, false, &d[2000..]));
    // Another last fragment, ending earlier.
    run.feed(&v4_fragment(5, 17, 1000, false, &d[1000..1500]));
    assert!(run.wholes().is_empty());
    let lost = run.lost();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].why, GaveUp::Inconsistent);
    assert!(run.r.is_idle());
    // Data past a known end, too.
    let mut run = Run::new();
    run.feed(&v4_fragment(6, 17, 1000, false, &d[1000..2000]));
    run.feed(&v4_fragment(6, 17, 2000, true, &d[2000..2800]));
    assert_eq!(run.lost()[0].why, GaveUp::Inconsistent);
}

#[test]
fn a_datagram_is_given_up_thirty_seconds_of_capture_time_after_its_first_fragment() {
    let d = udp_datagram(3000);
    let frags = cut(7, &d, 1480);
    let mut run = Run::new();
    run.feed_at(&frags[0], 100 * SEC);
    // 30 s later exactly: still waiting; the last fragment may come.
    run.feed_at(&frags[2], 130 * SEC);
    assert!(run.lost().is_empty());
    // A new second past the timeout gives it up, with what its head says.
    let events = &mut run.events;
    run.r.tick(Timestamp(131 * SEC), &mut |e| events.push(e));
    let lost = run.lost();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].why, GaveUp::Timeout);
    assert_eq!((lost[0].first_frame, lost[0].head_frame), (1, Some(1)));
    assert_eq!(lost[0].length, Some(3008));
    assert_eq!(lost[0].bytes_seen, 1480 + (3008 - 2960));
    let head = lost[0].packet().expect("the head holds the UDP header");
    match head.transport {
        Transport::Udp(u) => assert_eq!((u.src_port, u.dst_port), (5000, 443)),
        other => panic!("{other:?}"),
    }
    // The missing middle fragment arrives late: a new datagram, never completed.
    run.feed_at(&frags[1], 132 * SEC);
    let events = &mut run.events;
    run.r.finish(&mut |e| events.push(e));
    let lost = run.lost();
    assert_eq!(lost.len(), 2);
    assert_eq!(lost[1].why, GaveUp::EndOfCapture);
    assert!(
        lost[1].packet().is_none(),
        "no head: no ports to find the flow by"
    );
    assert!(run.wholes().is_empty());
}

#[test]
fn the_clock_only_acts_when_capture_time_enters_a_new_second() {
    let d = udp_datagram(3000);
    let frags = cut(8, &d, 1480);
    let mut run = Run::new();
    run.feed_at(&frags[0], 10 * SEC);
    let events = &mut run.events;
    run.r.tick(Timestamp(50 * SEC), &mut |e| events.push(e));
    assert_eq!(run.lost().len(), 1);
    // An earlier time afterwards does nothing.
    run.feed_at(&frags[0], 60 * SEC);
    let events = &mut run.events;
    run.r.tick(Timestamp(20 * SEC), &mut |e| events.push(e));
    assert_eq!(run.lost().len(), 1);
}

#[test]
fn fragments_past_65535_bytes_give_the_datagram_up() {
    let mut run = Run::new();
    run.feed(&v4_fragment(9, 17, 0, true, &[1; 1480]));
    run.feed(&v4_fragment(9, 17, 65_528, true, &[2; 16]));
    let lost = run.lost();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].why, GaveUp::TooBig);
    assert_eq!(run.r.stats.capped, 1);
}

#[test]
fn a_fragment_far_out_allocates_only_its_own_bytes() {
    let mut run = Run::new();
    run.feed(&v4_fragment(10, 17, 64_000, true, &[1; 8]));
    assert!(
        run.r.stats.peak_bytes < 1024,
        "{} bytes held",
        run.r.stats.peak_bytes
    );
}

#[test]
fn more_pieces_than_the_cap_give_the_datagram_up() {
    let mut run = Run::new();
    // Every other 8-byte piece: no two merge.
    for i in 0..=MAX_PIECES {
        run.feed(&v4_fragment(11, 17, i * 16, true, &[3; 8]));
    }
    let lost = run.lost();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].why, GaveUp::TooBig);
}

#[test]
fn held_bytes_stay_under_the_cap_by_giving_up_the_oldest() {
    let mut run = Run::new();
    // 200 datagrams of 60 KB never completed: 12 MB offered, 4 MiB held at most.
    for id in 0..200u16 {
        for k in 0..40 {
            run.feed(&v4_fragment(id, 17, k * 1480, true, &[id as u8; 1480]));
        }
    }
    assert!(
        run.r.stats.peak_bytes <= MAX_HELD_BYTES,
        "{}",
        run.r.stats.peak_bytes
    );
    let lost = run.lost();
    assert!(!lost.is_empty());
    assert!(lost.iter().all(|l| l.why == GaveUp::Cap));
    // Oldest first.
    let firsts: Vec<u64> = lost.iter().map(|l| l.first_frame).collect();
    assert!(firsts.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn datagrams_in_progress_stay_under_their_cap() {
    let mut run = Run::new();
    for id in 0..(MAX_DATAGRAMS + 10) {
        let ip = v4_fragment(
            (id % 65_536) as u16,
            (id / 65_536) as u8 + 17,
            0,
            true,
            &[0; 8],
        );
        run.feed(&ip);
    }
    assert_eq!(run.lost().len(), 10);
    assert_eq!(run.r.map.len(), MAX_DATAGRAMS);
}

#[test]
fn datagrams_differ_by_id_and_protocol_and_their_fragments_do_not_mix() {
    let d = udp_datagram(2000);
    let mut run = Run::new();
    run.feed(&v4_fragment(12, 17, 0, true, &d[..1000]));
    run.feed(&v4_fragment(13, 17, 1000, false, &d[1000..]));
    run.feed(&v4_fragment(12, 6, 1000, false, &d[1000..]));
    assert!(run.wholes().is_empty());
    run.feed(&v4_fragment(12, 17, 1000, false, &d[1000..]));
    assert_eq!(run.wholes().len(), 1);
}

#[test]
fn fragments_from_different_virtual_networks_do_not_mix() {
    let d = udp_datagram(2000);
    let first = v4_fragment(14, 17, 0, true, &d[..1000]);
    let last = v4_fragment(14, 17, 1000, false, &d[1000..]);
    let mut r = Reassembler::default();
    let mut events = Vec::new();
    for (raw, vni, frame) in [(&first, 1, 1), (&last, 2, 2), (&last, 1, 3)] {
        let mut p = decode(101, raw).unwrap();
        p.encap.push(Layer::new(Tunnel::Vxlan, vni)).unwrap();
        let Transport::Fragment(f) = p.transport else {
            panic!()
        };
        r.fragment(&p, &f, frame, Timestamp(SEC), &mut |e| events.push(e));
    }
    assert_eq!(events.len(), 1);
    let Event::Whole(w) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(
        w.encap.layers().collect::<Vec<_>>(),
        [Layer::new(Tunnel::Vxlan, 1)]
    );
    assert_eq!(
        w.packet().unwrap().encap.layers().collect::<Vec<_>>(),
        [Layer::new(Tunnel::Vxlan, 1)]
    );
}

#[test]
fn ipv6_fragments_are_rebuilt_with_the_fragment_headers_next_header() {
    let d = udp_datagram(2000);
    let v6 = |offset: usize, more: bool, data: &[u8]| {
        let mut v = vec![0x60, 0, 0, 0];
        v.extend(u16::try_from(8 + data.len()).unwrap().to_be_bytes());
        v.extend([44, 55]);
        v.extend([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v.extend([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        let field = u16::try_from(offset).unwrap() | u16::from(more);
        v.extend([17, 0]);
        v.extend(field.to_be_bytes());
        v.extend(0xdead_beefu32.to_be_bytes());
        v.extend(data);
        v
    };
    let mut run = Run::new();
    run.feed(&v6(1232, false, &d[1232..]));
    run.feed(&v6(0, true, &d[..1232]));
    let w = run.wholes();
    assert_eq!(w.len(), 1);
    assert_eq!(payload_of(w[0]), d[8..].to_vec());
    let p = w[0].packet().unwrap();
    assert_eq!((p.ip.version, p.ip.ttl), (6, 55));
}

#[test]
fn a_rebuilt_datagram_that_is_itself_a_fragment_is_reassembled_again() {
    // The inner datagram, cut in two; each inner fragment is carried by an outer IP-in-IP
    // datagram that is itself cut in two.
    let inner = udp_datagram(1600);
    let inner_frags = cut(20, &inner, 808);
    let mut run = Run::new();
    for (k, f) in inner_frags.iter().enumerate() {
        let mut outer = vec![0x45, 0];
        outer.extend(u16::try_from(20 + f.len()).unwrap().to_be_bytes());
        let _ = outer;
        for piece in cut_outer(30 + k as u16, f) {
            run.feed(&piece);
        }
    }
    let w = run.wholes();
    assert_eq!(w.len(), 1, "{:?}", run.events);
    assert_eq!(payload_of(w[0]), inner[8..].to_vec());
    assert_eq!(
        w[0].encap.layers().collect::<Vec<_>>(),
        [Layer::new(Tunnel::IpIp, 0)]
    );
}

/// `packet` (an IPv4 packet) carried by IP-in-IP, the outer datagram cut at 400 bytes.
fn cut_outer(id: u16, packet: &[u8]) -> Vec<Vec<u8>> {
    packet
        .chunks(400)
        .enumerate()
        .map(|(i, c)| v4_fragment(id, 4, i * 400, (i + 1) * 400 < packet.len(), c))
        .collect()
}

/// A seeded random mix of fragments of several datagrams, with duplicates and identical
/// overlaps, against the naive model: each datagram comes out whole, exactly once.
#[test]
fn random_orders_with_duplicates_and_overlaps_match_the_naive_model() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rand = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for round in 0..50 {
        let datagrams: Vec<Vec<u8>> = (0..4)
            .map(|k| udp_datagram(500 + 700 * k + round))
            .collect();
        let mut pieces = Vec::new();
        for (id, d) in datagrams.iter().enumerate() {
            let mut at = 0;
            while at < d.len() {
                // Never the whole datagram in one piece (that is no fragment).
                let len = (8 * (1 + rand(100)))
                    .min(d.len() - at)
                    .min(d.len() / 16 * 8);
                // Sometimes start earlier (an identical overlap) or send twice.
                let start = at.saturating_sub(8 * rand(3));
                let end = at + len;
                let more = end < d.len();
                pieces.push(v4_fragment(id as u16, 17, start, more, &d[start..end]));
                if rand(5) == 0 {
                    pieces.push(v4_fragment(id as u16, 17, start, more, &d[start..end]));
                }
                at = end;
            }
        }
        for i in (1..pieces.len()).rev() {
            pieces.swap(i, rand(i + 1));
        }
        let mut run = Run::new();
        for p in &pieces {
            run.feed(p);
        }
        let mut got: Vec<Vec<u8>> = run.wholes().iter().map(|w| payload_of(w)).collect();
        let mut want: Vec<Vec<u8>> = datagrams.iter().map(|d| d[8..].to_vec()).collect();
        got.sort();
        got.dedup();
        want.sort();
        // Duplicates that come after their datagram completed start a new one (as in a
        // receiver's stack), which completes again only if they cover it all.
        assert_eq!(got, want, "round {round}");
        assert!(run.wholes().iter().all(|w| w.conflict.is_none()));
    }
}
