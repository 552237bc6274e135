//! inputs: several captures in; each one's records, in input order, out. Large plain files
//! are shared by every worker, one after another ([`super::sharded`]); runs of inputs that
//! one worker reads anyway (compressed files, standard input, small files) are analysed side
//! by side, one worker each, and their records held back until the inputs before them are out.

use crate::capture::{self, Input};
use crate::error::Error;
use crate::record::Connection;
use crate::{Config, InputStats};
use std::collections::BTreeMap;

/// Inputs a side-by-side worker may be ahead of the one being written, per worker.
pub const SIDE_BY_SIDE_AHEAD: usize = 2;

/// Whether `input` is a plain file large enough to be cut into several chunks (and so worth
/// every worker); anything else is read by one worker.
pub(crate) fn shared_by_workers(input: &Input, config: &Config) -> bool {
    let Input::Path(path) = input else {
        return false;
    };
    let big = std::fs::metadata(path)
        .is_ok_and(|m| m.is_file() && m.len() >= 4 * config.chunk_bytes() as u64);
    // Only a regular file is opened here: reading from a FIFO would take bytes from its reader.
    if !big {
        return false;
    }
    let mut head = [0u8; 6];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .is_ok_and(|n| !capture::is_compressed(head.get(..n).unwrap_or_default()))
}

/// A run of inputs, one worker each, results passed on in input order. Returns false when
/// `done` asked to stop.
pub(crate) fn side_by_side<T: Send>(
    run: &[Input],
    first: usize,
    config: &Config,
    workers: usize,
    prepare: &(dyn Fn(Connection) -> T + Sync),
    sink: &mut dyn FnMut(usize, T),
    done: &mut dyn FnMut(usize, Result<InputStats, Error>) -> bool,
) -> bool {
    use std::sync::{Condvar, Mutex};
    let one = Config {
        threads: 1,
        ..config.clone()
    };
    // (next input to start, next input to write, stop)
    let state = Mutex::new((0usize, 0usize, false));
    let moved = Condvar::new();
    let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Vec<T>, Result<InputStats, Error>)>();
        for _ in 0..workers.min(run.len()) {
            let tx = tx.clone();
            let (one, state, moved) = (&one, &lock, &moved);
            scope.spawn(move || loop {
                let mut g = state();
                while !g.2 && g.0 < run.len() && g.0 >= g.1 + SIDE_BY_SIDE_AHEAD * workers {
                    g = moved.wait(g).unwrap_or_else(|p| p.into_inner());
                }
                if g.2 || g.0 >= run.len() {
                    return;
                }
                let k = g.0;
                g.0 += 1;
                drop(g);
                let Some(input) = run.get(k) else { return };
                let mut records = Vec::new();
                let r = crate::analyze_input_with(input, one, prepare, &mut |t| records.push(t));
                if tx.send((k, records, r)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let mut held = BTreeMap::new();
        let mut next = 0usize;
        let mut keep_going = true;
        for (k, records, r) in rx.iter() {
            held.insert(k, (records, r));
            while let Some((records, r)) = held.remove(&next) {
                for t in records {
                    sink(first + next, t);
                }
                keep_going = done(first + next, r);
                next += 1;
                let mut g = lock();
                g.1 = next;
                g.2 |= !keep_going;
                drop(g);
                moved.notify_all();
                if !keep_going {
                    return false;
                }
            }
        }
        keep_going
    })
}

/// One capture held in memory (or mapped), on `workers` workers.
pub(crate) fn analyze_mapped<T: Send>(
    name: &str,
    bytes: &[u8],
    config: &Config,
    workers: usize,
    prepare: &(dyn Fn(Connection) -> T + Sync),
    sink: &mut dyn FnMut(T),
) -> Result<InputStats, Error> {
    // Compressed bytes are streamed through a decoder, by one worker.
    if workers > 1 && !capture::is_compressed(bytes) {
        return super::sharded(name, bytes, config, workers, prepare, sink);
    }
    super::inline(name, config, prepare, sink, |secrets, on_frame| {
        capture::read_bytes_keyed(name, bytes, Some(secrets), on_frame)
    })
}
