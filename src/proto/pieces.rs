//! pieces: the byte ranges of one message or stream as they arrive (out of order, overlapping,
//! repeated) in; the bytes held, by offset, out. DTLS handshake fragments and QUIC CRYPTO
//! frames both say where their bytes sit in a whole whose length only a length field claims.
//!
//! Guarantees: memory follows the bytes that arrived, never a length or offset field: a
//! fragment that claims a 64 KiB message, or a CRYPTO frame far into its stream, holds only its
//! own bytes. The first copy of a byte wins (a later copy is dropped, as TCP reassembly does),
//! and ranges that touch are kept as one piece, so a message that arrives whole in order is one
//! buffer. It does not cap anything itself: the callers cap the offsets they accept, the bytes
//! held ([`Pieces::held`]) and the number of pieces ([`Pieces::count`]).

use std::collections::BTreeMap;

/// Disjoint, non-adjacent byte ranges, by start offset.
#[derive(Debug, Default)]
pub struct Pieces {
    map: BTreeMap<usize, Vec<u8>>,
    held: usize,
}

impl Pieces {
    /// Stores the bytes of `data` (which starts at `start`) not held yet; returns how many
    /// were new.
    pub fn insert(&mut self, start: usize, data: &[u8]) -> usize {
        let end = start.saturating_add(data.len());
        // The holes [a, b) of [start, end) that no piece covers.
        let mut holes = Vec::new();
        let mut at = start;
        let first = self
            .map
            .range(..=start)
            .next_back()
            .map_or(start, |(&s, _)| s);
        for (&s, v) in self.map.range(first..end) {
            let e = s + v.len();
            if s > at {
                holes.push((at, s));
            }
            at = at.max(e);
        }
        if at < end {
            holes.push((at, end));
        }
        let mut new = 0;
        for (a, b) in holes {
            let Some(bytes) = data.get(a - start..b - start) else {
                continue;
            };
            new += bytes.len();
            self.place(a, bytes);
        }
        self.held += new;
        new
    }

    /// Puts bytes at `a` where nothing is, joining the pieces that end at `a` and start
    /// right after.
    fn place(&mut self, a: usize, bytes: &[u8]) {
        let b = a + bytes.len();
        let before = self
            .map
            .range(..a)
            .next_back()
            .filter(|(&s, v)| s + v.len() == a)
            .map(|(&s, _)| s);
        let after = self.map.remove(&b);
        let start = match before {
            Some(s) => s,
            None => {
                self.map.insert(a, Vec::new());
                a
            }
        };
        if let Some(piece) = self.map.get_mut(&start) {
            piece.extend_from_slice(bytes);
            if let Some(after) = after {
                piece.extend_from_slice(&after);
            }
        }
    }

    /// Whether `[start, end)` overlaps or adjoins a piece: storing it then adds no piece.
    pub fn touches(&self, start: usize, end: usize) -> bool {
        self.map
            .range(..=end)
            .next_back()
            .is_some_and(|(&s, v)| s + v.len() >= start)
    }

    /// Bytes held.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Disjoint pieces held.
    pub fn count(&self) -> usize {
        self.map.len()
    }

    /// The piece that starts at offset 0: everything contiguous from the start.
    pub fn prefix(&self) -> &[u8] {
        self.map.get(&0).map(Vec::as_slice).unwrap_or_default()
    }

    /// The whole `[0, len)` when it has all arrived (and nothing past it).
    pub fn whole(&self, len: usize) -> Option<&[u8]> {
        match self.map.len() {
            0 if len == 0 => Some(&[]),
            1 => Some(self.prefix()).filter(|p| p.len() == len),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes held, as (start, bytes) pairs.
    fn layout(p: &Pieces) -> Vec<(usize, Vec<u8>)> {
        p.map.iter().map(|(&s, v)| (s, v.clone())).collect()
    }

    #[test]
    fn a_far_offset_holds_only_the_bytes_that_came() {
        let mut p = Pieces::default();
        assert_eq!(p.insert(65_000, &[1; 10]), 10);
        assert_eq!(p.held(), 10);
        assert_eq!(p.count(), 1);
        assert!(p.prefix().is_empty());
        assert_eq!(p.whole(65_010), None);
    }

    #[test]
    fn pieces_in_any_order_join_into_one() {
        let whole: Vec<u8> = (0..30).collect();
        for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2], [2, 0, 1]] {
            let mut p = Pieces::default();
            for i in order {
                p.insert(i * 10, &whole[i * 10..i * 10 + 10]);
            }
            assert_eq!(p.whole(30), Some(&whole[..]), "order {order:?}");
            assert_eq!(p.held(), 30);
        }
    }

    #[test]
    fn the_first_copy_of_a_byte_wins_and_overlaps_fill_only_holes() {
        let mut p = Pieces::default();
        p.insert(2, &[1, 1]);
        p.insert(6, &[3, 3]);
        assert_eq!(p.insert(0, &[9; 10]), 6);
        assert_eq!(p.whole(10), Some(&[9, 9, 1, 1, 9, 9, 3, 3, 9, 9][..]));
        assert_eq!(p.insert(0, &[7; 10]), 0, "a retransmission adds nothing");
        assert_eq!(p.held(), 10);
    }

    #[test]
    fn disjoint_pieces_stay_apart_until_the_gap_fills() {
        let mut p = Pieces::default();
        p.insert(0, &[1; 4]);
        p.insert(8, &[2; 4]);
        p.insert(20, &[]);
        assert_eq!(layout(&p), vec![(0, vec![1; 4]), (8, vec![2; 4])]);
        p.insert(3, &[5; 6]);
        assert_eq!(
            layout(&p),
            vec![(0, vec![1, 1, 1, 1, 5, 5, 5, 5, 2, 2, 2, 2])]
        );
        assert_eq!(p.count(), 1);
    }

    #[test]
    fn seeded_random_fragments_match_a_naive_model() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..200 {
            let len = 1 + next(300);
            let mut model: Vec<Option<u8>> = vec![None; len];
            let mut p = Pieces::default();
            for k in 0..(1 + next(40)) {
                let s = next(len);
                let n = next(len - s + 1);
                let data: Vec<u8> = (0..n).map(|i| (k * 31 + i) as u8).collect();
                let fresh = (s..s + n).filter(|&i| model[i].is_none()).count();
                for (i, &b) in data.iter().enumerate() {
                    model[s + i].get_or_insert(b);
                }
                assert_eq!(p.insert(s, &data), fresh);
            }
            assert_eq!(p.held(), model.iter().flatten().count());
            let mut rebuilt: Vec<Option<u8>> = vec![None; len];
            for (s, v) in layout(&p) {
                for (i, b) in v.into_iter().enumerate() {
                    rebuilt[s + i] = Some(b);
                }
            }
            assert_eq!(rebuilt, model);
        }
    }
}
