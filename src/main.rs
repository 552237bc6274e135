//! The `tlsmortem` command: parses flags, runs the library over each input, maps the outcome to
//! an exit code (0 done, 1 findings at or above `--fail-on`, 2 could not run; a closed output
//! pipe ends the run quietly with 0).

use clap::Parser;
use std::cell::RefCell;

// Records are built from many small allocations (hello lists, names, findings), on every
// worker at once; with mimalloc's per-thread heaps a run on BENCHMARKING.md's capture takes
// about 15% less time than with glibc's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tlsmortem::ids::{Severity, VerdictId};
use tlsmortem::judge::Later;
use tlsmortem::report::{
    ChainExport, JsonLines, Prepared, Reporter, SummaryJson, SummaryText, Text,
};
use tlsmortem::x509::chain::TrustStore;
use tlsmortem::{analyze_inputs, Config, Filter, Input};

#[derive(Parser, Debug)]
#[command(
    name = "tlsmortem",
    version,
    about = "Says, per connection in a packet capture, what happened to the TLS handshake and why",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Capture files (pcap, pcapng, gzip-compressed or not), directories of them, or - for stdin.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Write JSON lines, one object per connection (the README gives the keys).
    #[arg(long)]
    json: bool,
    /// With --json: add summary records (per server name, per server, SNI filtering) at the end.
    #[arg(long, global = true)]
    summary: bool,
    /// Report every TCP flow, not only those that carried TLS or were aimed at a TLS port.
    #[arg(long)]
    all_flows: bool,
    /// Exit with 1 when any finding is at or above this severity (info, low, medium, high).
    #[arg(long, value_parser = parse_severity)]
    fail_on: Option<Severity>,
    /// Workers per capture file (default: one per core). Output is the same for any number.
    #[arg(long, default_value_t = 0, global = true)]
    threads: usize,
    /// Add the CAs in this PEM file to the trust store (repeatable): a private CA, a certifi or
    /// system bundle.
    #[arg(long, value_name = "PEM", global = true)]
    ca_file: Vec<PathBuf>,
    /// Trust only the --ca-file CAs, not Mozilla's roots.
    #[arg(long, global = true)]
    no_default_roots: bool,
    /// Also judge certificate validity now (wall clock), reported apart from capture time.
    #[arg(long, conflicts_with = "at", global = true)]
    now: bool,
    /// Also judge certificate validity at this RFC 3339 time, reported apart from capture time.
    #[arg(long, value_name = "TIME", global = true)]
    at: Option<String>,
    /// Only connections whose SNI matches this glob (e.g. '*.example.com').
    #[arg(long, value_name = "GLOB", global = true)]
    sni: Option<String>,
    /// Only connections with this address at either end.
    #[arg(long, value_name = "IP", global = true)]
    host: Option<std::net::IpAddr>,
    /// Only connections with this port at either end.
    #[arg(long, value_name = "N", global = true)]
    port: Option<u16>,
    /// Only connections with this verdict id (repeatable), e.g. rst-after-client-hello.
    #[arg(long = "verdict", value_name = "ID", global = true, value_parser = parse_verdict)]
    verdicts: Vec<VerdictId>,
    /// No progress bar and no notes on stderr about the captures themselves.
    #[arg(short, long, global = true)]
    quiet: bool,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Each server's certificate chain as sent, what is wrong with it, and (with --export) the
    /// chain as PEM plus what a full chain needs.
    Certs {
        /// Capture files, directories, or - for stdin.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Write NAME.chain.pem (wire order) and NAME.missing.txt per server into this folder.
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
    },
    /// Only the summaries: per server name and per server, how many handshakes completed or
    /// were cut and by whom, and servers that answer one name and cut another.
    Summary {
        /// Capture files, directories, or - for stdin.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
        .map_err(|_| format!("unknown severity '{s}': use info, low, medium or high"))
}

fn parse_verdict(s: &str) -> Result<VerdictId, String> {
    s.parse().map_err(|_| {
        let known: Vec<&str> = VerdictId::all().map(VerdictId::as_str).collect();
        format!("unknown verdict '{s}': use one of {}", known.join(", "))
    })
}

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

/// The trust store and the second moment of judgement the flags ask for.
fn judging(cli: &Cli) -> Result<(Option<Arc<TrustStore>>, Option<Later>), String> {
    let trust = if cli.ca_file.is_empty() && !cli.no_default_roots {
        None
    } else {
        let mut store = if cli.no_default_roots {
            TrustStore::empty()
        } else {
            TrustStore::mozilla()
        };
        for f in &cli.ca_file {
            store.add_pem_file(f).map_err(|e| {
                format!("{}: {e} (give a PEM file of CA certificates)", f.display())
            })?;
        }
        Some(Arc::new(store))
    };
    let later = if cli.now {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        Some(Later {
            label: "now".into(),
            at: secs,
        })
    } else if let Some(at) = &cli.at {
        let t = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .map_err(|e| format!("--at {at}: {e} (use RFC 3339, e.g. 2030-01-01T00:00:00Z)"))?;
        Some(Later {
            label: at.clone(),
            at: t.unix_timestamp(),
        })
    } else {
        None
    };
    Ok((trust, later))
}

/// Standard output, buffered in pieces large enough that writing a hundred megabytes of JSON
/// lines costs a few hundred system calls, not tens of thousands.
fn output(stdout: io::StdoutLock<'static>) -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::with_capacity(256 * 1024, stdout)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (paths, export, summary_only) = match &cli.command {
        Some(Command::Certs { inputs, export }) => (inputs.clone(), Some(export.clone()), false),
        Some(Command::Summary { inputs }) => (inputs.clone(), None, true),
        None => (cli.inputs.clone(), None, false),
    };
    let mut inputs = Vec::new();
    let mut failed = false;
    for p in &paths {
        if p.as_os_str() == "-" {
            inputs.push(Input::Stdin);
        } else if p.is_dir() {
            match tlsmortem::captures_in(p) {
                Ok(found) => inputs.extend(found.into_iter().map(Input::Path)),
                Err(e) => {
                    eprintln!("tlsmortem: {e}");
                    failed = true;
                }
            }
        } else {
            inputs.push(Input::Path(p.clone()));
        }
    }
    let stdout = io::stdout().lock();
    let mut reporter: Box<dyn Reporter> = if let Some(dir) = export {
        match ChainExport::new(dir.as_deref(), output(stdout)) {
            Ok(r) => Box::new(r),
            Err(e) => {
                eprintln!("tlsmortem: cannot create the export folder: {e}");
                return ExitCode::from(2);
            }
        }
    } else if summary_only && cli.json {
        Box::new(SummaryJson::summary_only(output(stdout)))
    } else if summary_only {
        Box::new(SummaryText::new(output(stdout)))
    } else if cli.json && cli.summary {
        Box::new(SummaryJson::new(output(stdout)))
    } else if cli.json {
        Box::new(JsonLines::new(output(stdout)))
    } else {
        let colour = io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Box::new(Text::with_colour(output(stdout), colour))
    };
    let (trust, later) = match judging(&cli) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("tlsmortem: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = Filter {
        sni: match cli.sni.as_deref().map(Filter::sni_glob).transpose() {
            Ok(g) => g,
            Err(e) => {
                eprintln!("tlsmortem: {e}");
                return ExitCode::from(2);
            }
        },
        host: cli.host,
        port: cli.port,
        verdicts: cli.verdicts.clone(),
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
        all_flows: cli.all_flows,
        threads: cli.threads,
        progress: Some(walked),
        trust,
        later,
        filter,
        ..Default::default()
    };
    let mut hit = false;
    let write_error: RefCell<Option<io::Error>> = RefCell::new(None);
    let needs = reporter.needs();
    let prepare = |c| Prepared::new(c, needs);
    analyze_inputs(
        &inputs,
        &config,
        &prepare,
        &mut |_, p: Prepared| {
            if write_error.borrow().is_some() {
                return;
            }
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
                Ok(stats) => {
                    if !cli.quiet {
                        let name = inputs.get(i).map(Input::name).unwrap_or_default();
                        if let Some(t) = &stats.capture.truncated {
                            eprintln!("tlsmortem: {name}: capture is cut short: {t}; every frame before the cut was analysed");
                        }
                        for p in stats.capture.problems.iter().take(5) {
                            eprintln!("tlsmortem: {name}: {p}");
                        }
                        let fragments: u64 = stats
                            .skipped
                            .iter()
                            .filter(|(k, _)| k.contains("Fragment"))
                            .map(|(_, v)| v)
                            .sum();
                        if fragments > 0 {
                            eprintln!("tlsmortem: {name}: {fragments} IP fragments were not reassembled; a handshake carried in them is not seen");
                        }
                    }
                }
                Err(e) => {
                    eprintln!("tlsmortem: {e}");
                    failed = true;
                }
            }
            write_error.borrow().is_none()
        },
    );
    let mut write_error = write_error.into_inner();
    drop(_bar);
    if write_error.is_none() {
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
