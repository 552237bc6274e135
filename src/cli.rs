//! cli: the command's flags, and what they ask for: the inputs, the configuration of the run,
//! the reporter. Nothing here analyses; errors come back as messages for `main` to print.

use crate::ids::{Severity, VerdictId};
use crate::judge::Later;
#[cfg(feature = "columnar")]
use crate::report::Parquet;
use crate::report::{
    Both, ChainExport, Html, JsonLines, Reporter, SummaryJson, SummaryText, Text, Zeek, ZeekStyle,
    DEFAULT_HTML_DETAIL,
};
use crate::x509::chain::TrustStore;
use crate::{Config, Filter, Input};
use clap::Parser;
use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "tlsmortem",
    version,
    about = "Says, per connection in a packet capture, what happened to the TLS handshake and why",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Capture files (pcap, pcapng, gzip-compressed or not), directories of them, or - for stdin.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Write JSON lines, one object per connection (the README gives the keys); the same as
    /// --format json.
    #[arg(long)]
    json: bool,
    /// What to write: text (the readable report, the default), json (as --json), zeek or
    /// zeek-json (Zeek's ssl.log and x509.log, TSV or JSON, into the -o folder), parquet (one
    /// row per connection, the JSON keys as columns, into the -o file).
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "json")]
    format: Option<Format>,
    /// Where --format zeek and zeek-json write their logs (a folder, created if missing) and
    /// --format parquet its file.
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    output: Option<PathBuf>,
    /// With --json: add summary records (per server name, per server, SNI filtering) at the end.
    #[arg(long, global = true)]
    summary: bool,
    /// Report every TCP flow, not only those that carried TLS or were aimed at a TLS port.
    #[arg(long)]
    all_flows: bool,
    /// Exit with 1 when any finding is at or above this severity (info, low, medium, high).
    #[arg(long, value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
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
    /// Decrypt TLS 1.3 handshakes and encrypted alerts with this key log (repeatable): the file
    /// SSLKEYLOGFILE (curl, Python, browsers) or `-keylogfile` (OpenSSL) wrote. Secrets a
    /// pcapng carries (editcap --inject-secrets) are read without it.
    #[arg(long, value_name = "FILE", global = true)]
    keylog: Vec<PathBuf>,
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
    /// Memory budget for the run (e.g. 512M, 2G; default: a quarter of the machine's memory,
    /// at most 4G). Past it the oldest open connections are reported early, with
    /// flow-evicted; the README gives the worst case per connection.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, global = true)]
    max_memory: Option<usize>,
    /// Read the inputs as one capture, one after the other, frames numbered on across them: the
    /// files of a rotated capture (tcpdump -C/-G, dumpcap's ring buffer), given in order. A
    /// connection that runs on from one file into the next is one record.
    #[arg(long, global = true)]
    join: bool,
    /// Only part K of N of the capture's flows (K from 0 to N-1), picked by a hash of their
    /// addresses and ports: N runs, each with its own K, together report what one run does.
    /// For splitting one capture over batch jobs (Slurm arrays, Kubernetes indexed jobs, Spark).
    #[arg(long, value_name = "K/N", value_parser = parse_part, global = true)]
    shard: Option<crate::Part>,
    /// Also write a self-contained HTML report to FILE: overview, timeline, tables, a ladder
    /// diagram and the certificate chain of each failed handshake.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Failed handshakes of each verdict drawn in full in the HTML report; the rest are counted.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_HTML_DETAIL, requires = "html")]
    html_detail: usize,
    /// Leave the packet ladder out from under each failed handshake in the text report.
    #[arg(long)]
    no_ladder: bool,
    /// No progress bar and no notes on stderr about the captures themselves.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

// Output formats: one variant per `--format` value, kept in this block alone so that adding a
// format touches only it and `Cli::stdout_reporter`.
/// What the report is written as (`--format`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The readable report (the default).
    Text,
    /// JSON lines, one object per connection (the same as --json).
    Json,
    /// Zeek's ssl.log and x509.log, tab-separated with Zeek's header lines, in the -o folder.
    Zeek,
    /// Zeek's ssl.log and x509.log as JSON lines, in the -o folder.
    ZeekJson,
    /// Parquet, one row per connection, the JSON keys as columns, in the -o file.
    #[cfg(feature = "columnar")]
    Parquet,
}
// End of the output formats.

#[derive(clap::Subcommand, Debug)]
pub enum Command {
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
        /// Write the summary records as JSON lines.
        #[arg(long)]
        json: bool,
    },
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
        .map_err(|_| format!("unknown severity '{s}': use info, low, medium or high"))
}

/// "512M", "2G", "64m", "1048576": bytes, with an optional K, M or G (powers of 1024).
fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 10),
        Some((i, 'm' | 'M')) => (&t[..i], 20),
        Some((i, 'g' | 'G')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a size: use bytes or a number with K, M or G"))?;
    let bytes = n
        .checked_mul(1usize << shift)
        .ok_or_else(|| format!("'{s}' is too large"))?;
    if bytes < crate::MIN_MAX_MEMORY {
        return Err(format!(
            "'{s}' is below the smallest budget, {}M",
            crate::MIN_MAX_MEMORY >> 20
        ));
    }
    Ok(bytes)
}

/// The file a flag names, created; an error naming the flag and the path otherwise.
fn create_file(flag: &str, path: &std::path::Path) -> Result<std::fs::File, String> {
    std::fs::File::create(path).map_err(|e| {
        format!(
            "{flag} {}: cannot create the file: {e} (give a path in a folder you can write to)",
            path.display()
        )
    })
}

/// "3/8": part 3 of 8, counted from 0.
fn parse_part(s: &str) -> Result<crate::Part, String> {
    let bad = || format!("'{s}' is not a part: use K/N with 0 <= K < N, e.g. 0/4");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    crate::Part::new(k, n).ok_or_else(bad)
}

fn parse_verdict(s: &str) -> Result<VerdictId, String> {
    s.parse().map_err(|_| {
        let known: Vec<&str> = VerdictId::all().map(VerdictId::as_str).collect();
        format!("unknown verdict '{s}': use one of {}", known.join(", "))
    })
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

/// The inputs a command line names, folders expanded.
#[derive(Debug, Default)]
pub struct Inputs {
    pub inputs: Vec<Input>,
    /// What could not be read, a line each: the run goes on with the rest and exits with 2.
    pub errors: Vec<String>,
    /// What a folder walk passed over on purpose (see [`crate::Walk::skipped`]), a line each.
    pub notes: Vec<String>,
}

impl Cli {
    /// The inputs the flags name, directories expanded; what could not be read, and what a
    /// folder walk passed over.
    pub fn inputs(&self) -> Inputs {
        let paths = match &self.command {
            Some(Command::Certs { inputs, .. } | Command::Summary { inputs, .. }) => inputs,
            None => &self.inputs,
        };
        let mut out = Inputs::default();
        for p in paths {
            if p.as_os_str() == "-" {
                out.inputs.push(Input::Stdin);
            } else if p.is_dir() {
                match crate::captures_in_noting(p) {
                    Ok(walk) => {
                        if walk.found.is_empty() {
                            out.errors.push(format!(
                                "{}: no capture files in this folder or below it (looked for \
                                 .pcap, .pcapng, .cap, .ntar, .dmp, also gzip-, zstd- or \
                                 xz-compressed)",
                                p.display()
                            ));
                        }
                        out.errors.extend(walk.unreadable);
                        out.notes.extend(walk.skipped);
                        out.inputs.extend(walk.found.into_iter().map(Input::Path));
                    }
                    Err(e) => out.errors.push(e.to_string()),
                }
            } else {
                out.inputs.push(Input::Path(p.clone()));
            }
        }
        out
    }

    /// The reporter the flags ask for, writing to standard output, and with `--html` the HTML
    /// report beside it.
    pub fn reporter(&self) -> Result<Box<dyn Reporter>, String> {
        let main = self.stdout_reporter()?;
        let Some(path) = &self.html else {
            return Ok(main);
        };
        let file = create_file("--html", path)?;
        let shown = path.display().to_string();
        let html = Html::new(io::BufWriter::new(file), self.html_detail).with_note(Box::new(
            move |line: &str| eprintln!("tlsmortem: {shown}: {line}"),
        ));
        Ok(Box::new(Both(main, Box::new(html))))
    }

    /// The format asked for: `--json` is `--format json`; the default is text.
    fn format(&self) -> Format {
        match self.format {
            Some(f) => f,
            None if self.json => Format::Json,
            None => Format::Text,
        }
    }

    /// Whether the text report is what goes to standard output.
    fn text_report(&self) -> bool {
        self.command.is_none() && self.format() == Format::Text
    }

    /// The `-o` path of a format that writes files; an error naming the flag when it is
    /// missing or given to a format that writes to standard output.
    fn output_path(&self) -> Result<Option<&std::path::Path>, String> {
        let format = self.format();
        let what = match format {
            Format::Zeek | Format::ZeekJson => Some(
                "writes ssl.log and x509.log into a folder: give it with -o DIR (created if \
                 missing), e.g. -o zeek-logs",
            ),
            #[cfg(feature = "columnar")]
            Format::Parquet => {
                Some("writes a file: give it with -o FILE, e.g. -o connections.parquet")
            }
            Format::Text | Format::Json => None,
        };
        let writes_files = what.is_some() && self.command.is_none();
        match (&self.output, writes_files) {
            (Some(p), true) => Ok(Some(p)),
            (None, true) => {
                let name = clap::ValueEnum::to_possible_value(&format)
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_default();
                Err(format!("--format {name} {}", what.unwrap_or_default()))
            }
            (Some(p), false) => Err(format!(
                "-o {}: only --format zeek, zeek-json and parquet write to -o; the text and JSON \
                 reports go to standard output (redirect it to a file)",
                p.display()
            )),
            (None, false) => Ok(None),
        }
    }

    fn stdout_reporter(&self) -> Result<Box<dyn Reporter>, String> {
        let stdout = io::stdout().lock();
        let summary_only = matches!(self.command, Some(Command::Summary { .. }));
        let as_json = self.format() == Format::Json;
        let json = as_json || matches!(self.command, Some(Command::Summary { json: true, .. }));
        if let Some(path) = self.output_path()? {
            return match self.format() {
                #[cfg(feature = "columnar")]
                Format::Parquet => {
                    let file = create_file("-o", path)?;
                    let out = io::BufWriter::with_capacity(256 * 1024, file);
                    Ok(Box::new(
                        Parquet::new(out).map_err(|e| format!("parquet: {e}"))?,
                    ))
                }
                Format::ZeekJson => Ok(Box::new(Zeek::create(path, ZeekStyle::Json)?)),
                _ => Ok(Box::new(Zeek::create(path, ZeekStyle::Tsv)?)),
            };
        }
        Ok(match &self.command {
            Some(Command::Certs { export, .. }) => Box::new(
                ChainExport::new(export.as_deref(), output(stdout))
                    .map_err(|e| format!("cannot create the export folder: {e}"))?,
            ),
            _ if summary_only && json => Box::new(SummaryJson::summary_only(output(stdout))),
            _ if summary_only => Box::new(SummaryText::new(output(stdout))),
            _ if as_json && self.summary => Box::new(SummaryJson::new(output(stdout))),
            _ if as_json => Box::new(JsonLines::new(output(stdout))),
            _ => {
                let colour = io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
                Box::new(Text::with_colour(output(stdout), colour).with_ladders(!self.no_ladder))
            }
        })
    }

    /// The flags given that choose what is written or where, or what the exit code means: a
    /// caller that takes the records itself (the Python package) refuses them.
    pub fn report_flags(&self) -> Vec<&'static str> {
        let set = [
            (self.command.is_some(), "a subcommand (certs, summary)"),
            (self.json, "--json"),
            (self.format.is_some(), "--format"),
            (self.output.is_some(), "-o/--output"),
            (self.summary, "--summary"),
            (self.html.is_some(), "--html"),
            (self.no_ladder, "--no-ladder"),
            (self.fail_on.is_some(), "--fail-on"),
        ];
        set.into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| f)
            .collect()
    }

    /// The run's configuration: what to judge against and which connections to report.
    pub fn config(&self) -> Result<Config, String> {
        let (trust, later) = judging(self)?;
        let filter = Filter {
            sni: self.sni.as_deref().map(Filter::sni_glob).transpose()?,
            host: self.host,
            port: self.port,
            verdicts: self.verdicts.clone(),
        };
        let mut keylog = crate::keys::KeyLog::default();
        for f in &self.keylog {
            keylog.read_file(f)?;
        }
        Ok(Config {
            all_flows: self.all_flows,
            threads: self.threads,
            trust,
            later,
            filter,
            keylog: Arc::new(keylog),
            max_memory: self.max_memory.unwrap_or(0),
            part: self.shard,
            join: self.join,
            ladders: self.html.is_some() || (self.text_report() && !self.no_ladder),
            ..Config::default()
        })
    }
}
