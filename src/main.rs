//! The `tlsmortem` command: parses flags, runs the library over each input, maps the outcome to
//! an exit code (0 done, 1 findings at or above `--fail-on`, 2 could not run; a closed output
//! pipe ends the run quietly with 0).

use clap::Parser;
use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use tlsmortem::diagnose::Severity;
use tlsmortem::report::{JsonLines, Reporter, Text};
use tlsmortem::{analyze_input, Config, Input};

#[derive(Parser, Debug)]
#[command(
    name = "tlsmortem",
    version,
    about = "Says, per connection in a packet capture, what happened to the TLS handshake and why"
)]
struct Cli {
    /// Capture files (pcap, pcapng, gzip-compressed or not), directories of them, or - for stdin.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Write JSON lines, one object per connection (the README gives the keys).
    #[arg(long)]
    json: bool,
    /// Report every TCP flow, not only those that carried TLS or were aimed at a TLS port.
    #[arg(long)]
    all_flows: bool,
    /// Exit with 1 when any finding is at or above this severity (info, low, medium, high).
    #[arg(long, value_parser = parse_severity)]
    fail_on: Option<Severity>,
    /// No notes on stderr about the captures themselves.
    #[arg(short, long)]
    quiet: bool,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    match s {
        "info" => Ok(Severity::Info),
        "low" => Ok(Severity::Low),
        "medium" => Ok(Severity::Medium),
        "high" => Ok(Severity::High),
        _ => Err(format!(
            "unknown severity '{s}': use info, low, medium or high"
        )),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut inputs = Vec::new();
    let mut failed = false;
    for p in &cli.inputs {
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
    let mut reporter: Box<dyn Reporter> = if cli.json {
        Box::new(JsonLines::new(io::BufWriter::new(stdout)))
    } else {
        Box::new(Text::new(io::BufWriter::new(stdout)))
    };
    let config = Config {
        all_flows: cli.all_flows,
    };
    let mut hit = false;
    let mut write_error: Option<io::Error> = None;
    for input in &inputs {
        let result = analyze_input(input, &config, &mut |c| {
            if write_error.is_some() {
                return;
            }
            if let Some(level) = cli.fail_on {
                hit |= c.findings.iter().any(|f| f.severity >= level);
            }
            if let Err(e) = reporter.connection(&c) {
                write_error = Some(e);
            }
        });
        match result {
            Ok(stats) => {
                if !cli.quiet {
                    if let Some(t) = &stats.capture.truncated {
                        eprintln!("tlsmortem: {}: capture is cut short: {t}; every frame before the cut was analysed", input.name());
                    }
                    for p in stats.capture.problems.iter().take(5) {
                        eprintln!("tlsmortem: {}: {p}", input.name());
                    }
                }
            }
            Err(e) => {
                eprintln!("tlsmortem: {e}");
                failed = true;
            }
        }
        if write_error.is_some() {
            break;
        }
    }
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
    let _ = io::stderr().is_terminal();
    if failed {
        ExitCode::from(2)
    } else if hit {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
