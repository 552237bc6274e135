//! Running the `tlsmortem` binary built for the tests (`CARGO_BIN_EXE_tlsmortem`) and reading
//! what it wrote. [`tlsmortem`] gives the command to add arguments to, [`run`] runs it and keeps
//! the exit code and both streams, and [`Run::json_lines`] reads stdout as JSON lines. Exit
//! codes are the binary's: 0 done, 1 findings at or above `--fail-on`, 2 could not run. Nothing
//! here decides what a test accepts beyond "it ran" when asked ([`Run::expect_ran`]).

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::fixtures;

/// Path of the binary under test, for tools that run it themselves.
pub const BIN: &str = env!("CARGO_BIN_EXE_tlsmortem");

/// The binary under test, with the package root as working directory: relative paths such as
/// `captures/tls12-openssl.pcap` resolve as they do under `cargo test`, and are printed back
/// as given in the `capture` field.
pub fn tlsmortem() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(fixtures::root());
    cmd
}

/// What one run of the binary gave.
pub struct Run {
    /// `tlsmortem ARGS…`, for messages.
    pub command: String,
    /// The exit code; `None` when a signal ended the process.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Run {
    fn new(cmd: &Command, out: Output) -> Self {
        Run {
            command: describe(cmd),
            code: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }

    /// stdout as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Exit code 0 or 1: the inputs were analysed, with or without findings. 2 means it could
    /// not run.
    pub fn ran(&self) -> bool {
        matches!(self.code, Some(0) | Some(1))
    }

    /// Panics, with the command and its stderr, unless the exit code is 0 or 1.
    pub fn expect_ran(self) -> Self {
        assert!(
            self.ran(),
            "{} exited with {:?}; stderr:\n{}",
            self.command,
            self.code,
            self.stderr_text()
        );
        self
    }

    /// Every non-blank stdout line as one JSON value (see [`json_lines`]).
    pub fn json_lines(&self) -> Vec<Value> {
        json_lines(&self.command, &self.stdout_text())
    }

    /// Every stdout line as one JSON value, blank lines included (see [`json_every_line`]).
    pub fn json_every_line(&self) -> Vec<Value> {
        json_every_line(&self.command, &self.stdout_text())
    }

    /// The connection records on stdout (see [`connection_records`]).
    pub fn connection_records(&self) -> Vec<Value> {
        connection_records(&self.command, &self.stdout_text())
    }
}

/// `tlsmortem ARGS…` with the arguments as given (lossy), for messages.
fn describe(cmd: &Command) -> String {
    let mut s = String::from("tlsmortem");
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` to the end; panics only if it cannot be started.
pub fn run(cmd: &mut Command) -> Run {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(cmd)));
    Run::new(cmd, out)
}

/// Runs `cmd` with `input` on its stdin.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(cmd)));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // Written from another thread, so that a full stdout pipe cannot stall the write.
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {}: {e}", describe(cmd)));
    writer
        .join()
        .expect("stdin writer")
        .unwrap_or_else(|e| panic!("writing the stdin of {}: {e}", describe(cmd)));
    Run::new(cmd, out)
}

/// Runs `cmd`, requires exit code 0 or 1, and reads every non-blank stdout line as JSON.
pub fn run_json(cmd: &mut Command) -> Vec<Value> {
    run(cmd).expect_ran().json_lines()
}

/// Every non-blank line of `text` as one JSON value; panics naming `ctx` and the line that is
/// not JSON.
pub fn json_lines(ctx: &str, text: &str) -> Vec<Value> {
    parse_lines(ctx, text.lines().filter(|l| !l.trim().is_empty()))
}

/// Every line of `text` as one JSON value: unlike [`json_lines`], a blank line fails too.
pub fn json_every_line(ctx: &str, text: &str) -> Vec<Value> {
    parse_lines(ctx, text.lines())
}

fn parse_lines<'a>(ctx: &str, lines: impl Iterator<Item = &'a str>) -> Vec<Value> {
    lines
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{ctx}: stdout line is not JSON ({e}): {l}"))
        })
        .collect()
}

/// The connection records among the lines of `text`: lines that start with `{`, parsed as JSON
/// (panicking naming `ctx` if one is not), keeping the objects with a `client` key. Other
/// lines, and summary records, are passed over.
pub fn connection_records(ctx: &str, text: &str) -> Vec<Value> {
    parse_lines(ctx, text.lines().filter(|l| l.starts_with('{')))
        .into_iter()
        .filter(|v| v.get("client").is_some())
        .collect()
}
