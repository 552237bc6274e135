//! report::spool: prepared records that wait for their turn, in; the same records, byte for
//! byte, out. Records are written in order of their connection's first packet, so those of
//! short connections wait behind a long download that started before them; on a large capture
//! tens of thousands wait at once.
//!
//! A [`Spool`] keeps waiting JSON lines in memory up to its budget and past it appends them to
//! an unnamed temporary file (created in the system's temporary directory and unlinked at
//! once), reading each back when its turn comes. Its memory is the budget plus a few dozen
//! bytes per record; the file is emptied whenever no record waits in it. The record itself,
//! when a reporter reads it (text, summaries, certificates, the HTML page), stays in memory
//! beside the line's place in the file: it has no byte form, and is small once slimmed
//! ([`super::Prepared::new`]).
//!
//! Guarantees: what comes out is what went in, whichever records were spilled (which depends
//! on timing with several workers; the output does not). If the temporary file cannot be
//! created or written, records stay in memory. It does not order anything: the driver does.

use super::Prepared;
use crate::record::{Connection, Severity};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Bytes of waiting JSON lines kept in memory by default before they go to the file.
pub const SPOOL_MEMORY: usize = 1 << 20;

/// A prepared record on its way to the reporter: here, or in the spool's file.
#[derive(Debug)]
pub enum Waiting {
    Here(Prepared),
    Spilled {
        at: u64,
        len: usize,
        worst: Option<Severity>,
        connection: Option<Box<Connection>>,
    },
}

/// Waiting records past a memory budget go to a temporary file (see the module text).
#[derive(Debug)]
pub struct Spool {
    budget: usize,
    /// Bytes of JSON lines held in memory by [`Waiting::Here`] records not yet taken.
    held: AtomicUsize,
    file: Mutex<SpoolFile>,
}

#[derive(Debug, Default)]
struct SpoolFile {
    /// `None` until the first spill; `Err` once the file could not be made (never retried).
    file: Option<Result<File, ()>>,
    end: u64,
    /// Records in the file not yet taken back.
    unread: usize,
}

impl Spool {
    /// A spool holding up to `budget` bytes of JSON lines in memory.
    pub fn new(budget: usize) -> Self {
        Spool {
            budget,
            held: AtomicUsize::new(0),
            file: Mutex::new(SpoolFile::default()),
        }
    }

    fn file(&self) -> std::sync::MutexGuard<'_, SpoolFile> {
        self.file.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `p` until its turn: in memory while the budget allows, else in the file.
    pub fn keep(&self, p: Prepared) -> Waiting {
        let len = match &p.json {
            Some(line) => line.len(),
            None => return Waiting::Here(p),
        };
        if self.held.load(Ordering::Relaxed).saturating_add(len) <= self.budget {
            self.held.fetch_add(len, Ordering::Relaxed);
            return Waiting::Here(p);
        }
        let mut f = self.file();
        let at = f.end;
        let written = f
            .file
            .get_or_insert_with(temporary)
            .as_mut()
            .ok()
            .map(|file| {
                file.write_all_at(p.json.as_deref().unwrap_or_default(), at)
                    .is_ok()
            });
        if written != Some(true) {
            drop(f);
            self.held.fetch_add(len, Ordering::Relaxed);
            return Waiting::Here(p);
        }
        f.end += len as u64;
        f.unread += 1;
        Waiting::Spilled {
            at,
            len,
            worst: p.worst,
            connection: p.connection,
        }
    }

    /// The record back, as it was kept.
    pub fn take(&self, w: Waiting) -> io::Result<Prepared> {
        match w {
            Waiting::Here(p) => {
                if let Some(line) = &p.json {
                    self.held.fetch_sub(line.len(), Ordering::Relaxed);
                }
                Ok(p)
            }
            Waiting::Spilled {
                at,
                len,
                worst,
                connection,
            } => {
                let mut f = self.file();
                let mut line = vec![0; len];
                if let Some(Ok(file)) = &f.file {
                    file.read_exact_at(&mut line, at)?;
                }
                f.unread = f.unread.saturating_sub(1);
                if f.unread == 0 {
                    // Nothing waits in the file: start it over.
                    f.end = 0;
                    if let Some(Ok(file)) = &f.file {
                        file.set_len(0)?;
                    }
                }
                Ok(Prepared {
                    connection,
                    json: Some(line),
                    worst,
                })
            }
        }
    }
}

/// An unnamed temporary file: created, then unlinked while open.
fn temporary() -> Result<File, ()> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("tlsmortem-spool-{}-{n}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|_| ())?;
    let _ = std::fs::remove_file(&path);
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize, b: u8) -> Prepared {
        Prepared {
            connection: None,
            json: Some(vec![b; n]),
            worst: Some(Severity::Low),
        }
    }

    #[test]
    fn records_past_the_budget_go_to_the_file_and_come_back_unchanged() {
        let spool = Spool::new(100);
        let kept: Vec<Waiting> = (0..10u8).map(|i| spool.keep(line(40, i))).collect();
        let spilled = kept
            .iter()
            .filter(|w| matches!(w, Waiting::Spilled { .. }))
            .count();
        assert_eq!(spilled, 8, "two lines of 40 bytes fit in 100");
        assert_eq!(spool.held.load(Ordering::Relaxed), 80);
        // Taken back in another order than kept.
        let mut kept: Vec<(u8, Waiting)> = (0..10u8).zip(kept).collect();
        kept.reverse();
        for (i, w) in kept {
            let p = spool.take(w).expect("reads back");
            assert_eq!(p.json, Some(vec![i; 40]));
            assert_eq!(p.worst, Some(Severity::Low));
        }
        assert_eq!(spool.held.load(Ordering::Relaxed), 0);
        let f = spool.file();
        assert_eq!((f.unread, f.end), (0, 0), "the file starts over once empty");
    }

    #[test]
    fn a_record_without_a_line_stays_in_memory() {
        let spool = Spool::new(0);
        let p = Prepared {
            connection: None,
            json: None,
            worst: None,
        };
        assert!(matches!(spool.keep(p), Waiting::Here(_)));
    }

    #[test]
    fn a_record_read_whole_and_as_a_line_spills_its_line_and_keeps_the_record() {
        let bytes = include_bytes!("../../captures/rst-after-client-hello.pcap");
        let mut conns = Vec::new();
        crate::analyze_bytes("c", bytes, &crate::Config::default(), &mut |c| {
            conns.push(c)
        })
        .expect("the capture reads");
        let c = conns.into_iter().next().expect("one connection");
        let needs = super::super::Needs {
            record: true,
            json: true,
            slim: super::super::Slim::No,
        };
        let p = Prepared::new(c.clone(), needs);
        let line = p.json.clone();
        let spool = Spool::new(0);
        let w = spool.keep(p);
        assert!(matches!(
            &w,
            Waiting::Spilled {
                connection: Some(_),
                ..
            }
        ));
        let back = spool.take(w).expect("reads back");
        assert_eq!(back.json, line);
        assert_eq!(back.connection.as_deref(), Some(&c));
    }
}
