//! The `tlsmortem` command: parses flags ([`tlsmortem::cli`]), runs the library over each
//! input, maps the outcome to an exit code (0 done, 1 findings at or above `--fail-on`, 2 could
//! not run; a closed output pipe ends the run quietly with 0).

use clap::Parser;
use std::cell::RefCell;

// Records are built from many small allocations (hello lists, names, findings), on every
// worker at once; with mimalloc's per-thread heaps a run on BENCHMARKING.md's capture takes
// about 15% less time than with glibc's allocator. Its 2.x line, tuned by `allocator_options`,
// holds the least memory (BENCHMARKING.md, "Memory").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's defaults trade memory for speed this program does not need: memory freed is
/// given back to the system at once rather than 10 ms later (connections are freed in waves,
/// each second of capture time), and arenas are committed as they are used, not all at once
/// (pages of an eagerly committed arena are only reset when freed, and stay counted in the
/// process's memory until the system needs them). Together they take a third off the peak on
/// BENCHMARKING.md's capture at no measurable cost. The numbers are `mi_option_e` in
/// mimalloc.h (the same in its 2.x and 3.x lines), which the Rust binding does not name; an
/// environment variable (`MIMALLOC_PURGE_DELAY`, …) still wins.
///
/// Arenas are reserved at the first allocation, before `main`: on Linux this runs as an ELF
/// constructor, before the Rust runtime allocates anything.
extern "C" fn allocator_options() {
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    for (option, name) in [
        (ARENA_EAGER_COMMIT, "MIMALLOC_ARENA_EAGER_COMMIT"),
        (PURGE_DELAY, "MIMALLOC_PURGE_DELAY"),
    ] {
        if std::env::var_os(name).is_none() {
            // SAFETY: sets one of mimalloc's option values; any value is valid for these two.
            unsafe { libmimalloc_sys::mi_option_set(option, 0) };
        }
    }
}
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tlsmortem::cli::{Cli, Inputs};
use tlsmortem::report::{Prepared, Spool, Waiting, SPOOL_MEMORY};
use tlsmortem::{analyze_inputs, Config, Input};

/// A progress line on stderr (terminal only, after the first second): bytes walked of the
/// total, handshakes found, rate.
struct ProgressBar {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProgressBar {
    fn start(bytes: Arc<AtomicU64>, found: Arc<AtomicU64>, total: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut shown = false;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let secs = t0.elapsed().as_secs_f64();
                if secs < 1.0 {
                    continue;
                }
                let done = bytes.load(Ordering::Relaxed);
                let pct = if total > 0 {
                    (done as f64 * 100.0 / total as f64).min(100.0)
                } else {
                    0.0
                };
                let filled = (pct / 5.0) as usize;
                // Compressed inputs count their decompressed bytes, which outgrow the files'
                // sizes: then only the amount is shown.
                let of_total = if done <= total {
                    format!(" / {}", total / 1_000_000)
                } else {
                    String::new()
                };
                eprint!(
                    "\r[{}{}] {:5.1}%  {}{of_total} MB  {} connections  {:.0} MB/s ",
                    "#".repeat(filled),
                    " ".repeat(20 - filled.min(20)),
                    pct,
                    done / 1_000_000,
                    found.load(Ordering::Relaxed),
                    done as f64 / 1e6 / secs
                );
                shown = true;
            }
            if shown {
                eprint!("\r{}\r", " ".repeat(90));
                let _ = io::stderr().flush();
            }
        });
        ProgressBar {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ProgressBar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static ALLOCATOR_OPTIONS: extern "C" fn() = allocator_options;

fn main() -> ExitCode {
    #[cfg(not(target_os = "linux"))]
    allocator_options();
    let cli = Cli::parse();
    let Inputs {
        inputs,
        errors,
        notes,
    } = cli.inputs();
    for e in notes.iter().chain(&errors) {
        eprintln!("tlsmortem: {}", tlsmortem::text::shown(e));
    }
    let mut failed = !errors.is_empty();
    let (mut reporter, config) = match cli.reporter().and_then(|r| Ok((r, cli.config()?))) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tlsmortem: {}", tlsmortem::text::shown(&e));
            return ExitCode::from(2);
        }
    };
    let walked = Arc::new(AtomicU64::new(0));
    let found = Arc::new(AtomicU64::new(0));
    let _bar = (!cli.quiet && io::stderr().is_terminal()).then(|| {
        let total = inputs
            .iter()
            .filter_map(|i| match i {
                Input::Path(p) => std::fs::metadata(p).ok().map(|m| m.len()),
                Input::Stdin => None,
            })
            .sum();
        ProgressBar::start(walked.clone(), found.clone(), total)
    });
    let config = Config {
        progress: Some(walked),
        ..config
    };
    let mut hit = false;
    // Inputs that were read: with none, there is no report to write, only the errors.
    let mut analysed = 0usize;
    let write_error: RefCell<Option<io::Error>> = RefCell::new(None);
    let needs = reporter.needs();
    let spool = Spool::new(SPOOL_MEMORY);
    let prepare = |c| spool.keep(Prepared::new(c, needs));
    analyze_inputs(
        &inputs,
        &config,
        &prepare,
        &mut |_, w: Waiting| {
            if write_error.borrow().is_some() {
                return;
            }
            let p = match spool.take(w) {
                Ok(p) => p,
                Err(e) => {
                    *write_error.borrow_mut() = Some(e);
                    return;
                }
            };
            found.fetch_add(1, Ordering::Relaxed);
            if let (Some(level), Some(worst)) = (cli.fail_on, p.worst) {
                hit |= worst >= level;
            }
            if let Err(e) = reporter.prepared(&p) {
                *write_error.borrow_mut() = Some(e);
            }
        },
        &mut |i, result| {
            match result {
                Ok(stats) if stats.capture.frames == 0 && stats.capture.truncated.is_some() => {
                    // A capture header and then nothing that reads as a frame (text, another
                    // format): nothing was analysed, which is not a success.
                    let name = inputs.get(i).map(Input::name).unwrap_or_default();
                    let t = stats.capture.truncated.unwrap_or_default();
                    eprintln!("tlsmortem: {name}: no frame could be read after the capture header ({t}); is it a whole packet capture?");
                    failed = true;
                }
                Ok(stats) => {
                    analysed += 1;
                    if !cli.quiet {
                        let name = inputs.get(i).map(Input::name).unwrap_or_default();
                        if let Some(t) = &stats.capture.truncated {
                            eprintln!("tlsmortem: {name}: capture is cut short: {t}; every frame before the cut was analysed");
                        }
                        for (k, v) in &stats.skipped {
                            let link = k
                                .strip_prefix("UnsupportedLinkType(")
                                .and_then(|r| r.strip_suffix(')'));
                            if let Some(t) = link {
                                eprintln!("tlsmortem: {name}: {v} frames have link type {t}, which tlsmortem does not decode (it reads Ethernet, Linux cooked SLL and SLL2, raw IPv4/IPv6, BSD loopback and PPP); nothing in them was analysed");
                            }
                        }
                        for p in stats.capture.problems.iter().take(5) {
                            eprintln!("tlsmortem: {name}: {p}");
                        }
                        let f = &stats.fragments;
                        if f.lost > 0 {
                            eprintln!("tlsmortem: {name}: {} fragmented IP datagrams were never completed ({} not attributable to a connection); a handshake carried in them is not seen", f.lost, f.unattributed);
                        }
                        if let Some(n) = stats.skipped.get("TooDeep") {
                            eprintln!("tlsmortem: {name}: {n} frames nest more than {} tunnel layers and were skipped", tlsmortem::net::MAX_ENCAP);
                        }
                    }
                }
                Err(e) => {
                    eprintln!("tlsmortem: {}", tlsmortem::text::shown(&e.to_string()));
                    failed = true;
                }
            }
            write_error.borrow().is_none()
        },
    );
    let mut write_error = write_error.into_inner();
    drop(_bar);
    if write_error.is_none() && (analysed > 0 || !failed) {
        if let Err(e) = reporter.finish() {
            write_error = Some(e);
        }
    }
    if let Some(e) = write_error {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return ExitCode::SUCCESS;
        }
        eprintln!("tlsmortem: cannot write output: {e}");
        return ExitCode::from(2);
    }
    if failed {
        ExitCode::from(2)
    } else if hit {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
