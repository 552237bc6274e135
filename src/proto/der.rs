//! der: certificate bytes from a Certificate message in; one shared copy per distinct
//! certificate out.
//!
//! The connections to one server send the same chain again and again, and each waits seconds
//! of capture time after it closes (for late packets) before it is judged: on a busy capture
//! thousands hold their chain at once. [`share`] hands out an [`Der`] that every connection
//! carrying the same bytes shares, so a chain is held once however many connections sent it
//! (what Zeek's x509 certificate cache does for its logs).
//!
//! Guarantees: a [`Der`] holds exactly the bytes it was made from; sharing changes no output.
//! The table of shared certificates is the whole process's (every worker and input); it keeps
//! only certificates some connection still holds (the others are dropped whenever it has
//! doubled since it was last pruned), so it never holds more than the connections do, plus a
//! pointer per entry. One lock per Certificate message, never per packet.

use rustc_hash::FxHashSet;
use std::sync::{Arc, Mutex, OnceLock};

/// A certificate as it came off the wire (DER), shared by every holder of the same bytes.
pub type Der = Arc<[u8]>;

/// Entries below which the table is never pruned.
const PRUNE_FLOOR: usize = 1024;

struct Table {
    set: FxHashSet<Der>,
    /// The size at which the table is next pruned.
    prune_at: usize,
}

fn table() -> &'static Mutex<Table> {
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    TABLE.get_or_init(|| {
        Mutex::new(Table {
            set: FxHashSet::default(),
            prune_at: PRUNE_FLOOR,
        })
    })
}

/// The shared copy of these certificate bytes.
pub fn share(bytes: &[u8]) -> Der {
    let mut t = table().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(d) = t.set.get(bytes) {
        return Arc::clone(d);
    }
    if t.set.len() >= t.prune_at {
        // Only the table holds these: no connection needs them any more.
        t.set.retain(|d| Arc::strong_count(d) > 1);
        t.prune_at = (2 * t.set.len()).max(PRUNE_FLOOR);
    }
    let d: Der = Arc::from(bytes);
    t.set.insert(Arc::clone(&d));
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_bytes_share_one_copy_and_keep_their_content() {
        let a = share(b"der: one certificate");
        let b = share(&b"der: one certificate"[..]);
        let c = share(b"der: another certificate");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(&a[..], b"der: one certificate");
        assert_eq!(&c[..], b"der: another certificate");
    }

    #[test]
    fn certificates_nobody_holds_are_pruned() {
        // Unique bytes for this test (tests share the process's table).
        let held = share(b"der: pruning test, held");
        for i in 0..3 * PRUNE_FLOOR {
            drop(share(format!("der: pruning test, dropped {i}").as_bytes()));
        }
        let t = table().lock().unwrap();
        let dropped = t
            .set
            .iter()
            .filter(|d| d.starts_with(b"der: pruning test, dropped"))
            .count();
        assert!(
            dropped <= PRUNE_FLOOR * 2,
            "{dropped} dropped certificates kept"
        );
        assert!(t.set.contains(&held[..]));
    }
}
