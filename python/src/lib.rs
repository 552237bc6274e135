//! `tlsmortem._native`: the Rust half of the Python package. Takes the command line's options
//! (the Python side turns keyword arguments into flags, [`tlsmortem::cli::Cli`] parses them) and
//! capture paths; gives the connection records as Arrow record batches, each one whole Arrow IPC
//! stream (`bytes`) that `pyarrow.ipc.open_stream` reads.
//!
//! The analysis runs on a thread of its own and hands over batches through a channel of
//! [`AHEAD`] batches: a Python loop over [`Batches`] holds one batch at a time and the analysis
//! waits for it, so a capture larger than memory streams through. Python's lock is released
//! while a batch is awaited. Dropping the iterator early stops the analysis at the end of the
//! input it is in.
//!
//! Batches cross as IPC bytes, not through the Arrow C data interface, so that the package
//! does not tie its pyo3 version to arrow-rs's: the copy costs far less than the analysis.

use clap::Parser;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;
use tlsmortem::cli::{Cli, Inputs};
use tlsmortem::report::columnar;
use tlsmortem::{analyze_inputs, Config, Input};

pyo3::create_exception!(
    _native,
    TlsmortemError,
    pyo3::exceptions::PyException,
    "A capture could not be analysed (not a capture, unreadable, not found)."
);

/// Batches made ahead of the Python loop that takes them.
const AHEAD: usize = 2;

enum Message {
    Batch(Vec<u8>),
    Failed(String),
}

/// The command line `tlsmortem ARGS -- PATHS`, parsed: its inputs and configuration. Flags that
/// pick what is written (a subcommand, --json, --format, --html, …) are refused: here the
/// records are the output.
fn parse(py: Python<'_>, args: Vec<String>, paths: Vec<String>) -> PyResult<(Vec<Input>, Config)> {
    let argv = std::iter::once("tlsmortem".to_string())
        .chain(args)
        .chain(std::iter::once("--".to_string()))
        .chain(paths);
    let cli = Cli::try_parse_from(argv).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let refused = cli.report_flags();
    if !refused.is_empty() {
        return Err(PyValueError::new_err(format!(
            "{} chooses what the command line writes; the Python package returns the records \
             as Arrow (write Parquet with pyarrow.parquet.write_table)",
            refused.join(", ")
        )));
    }
    let Inputs {
        inputs,
        errors,
        notes,
    } = cli.inputs();
    if !errors.is_empty() {
        return Err(TlsmortemError::new_err(errors.join("; ")));
    }
    // What a folder walk passed over (FIFOs, links to folders, second names) is a warning.
    if !notes.is_empty() {
        PyErr::warn(
            py,
            &py.get_type::<pyo3::exceptions::PyUserWarning>(),
            &std::ffi::CString::new(notes.join("; ")).unwrap_or_default(),
            1,
        )?;
    }
    if inputs.iter().any(|i| matches!(i, Input::Stdin)) {
        return Err(PyValueError::new_err(
            "'-' (standard input) is for the command line: give capture paths",
        ));
    }
    let config = cli.config().map_err(PyValueError::new_err)?;
    Ok((inputs, config))
}

/// Runs the analysis, sending each full batch (and the last) down `tx`; stops at the first
/// input that fails, or when the receiver is gone.
fn run(inputs: Vec<Input>, config: Config, tx: SyncSender<Message>) {
    let mut batches = match columnar::Batches::new(false) {
        Ok(b) => b,
        Err(e) => {
            let _ = tx.send(Message::Failed(e.to_string()));
            return;
        }
    };
    let mut gone = false;
    let send = |batch: Result<Option<arrow_array::RecordBatch>, _>, gone: &mut bool| {
        let message = match batch.and_then(|b| b.map(|b| columnar::ipc_stream(&b)).transpose()) {
            Ok(Some(bytes)) => Message::Batch(bytes),
            Ok(None) => return,
            Err(e) => Message::Failed(format!("Arrow: {e}")),
        };
        let failed = matches!(message, Message::Failed(_));
        *gone |= tx.send(message).is_err() || failed;
    };
    let mut sink = |_: usize, line: Vec<u8>| {
        if !gone {
            let batch = batches.push(&line);
            send(batch, &mut gone);
        }
    };
    let mut failure = None;
    // The error names its input.
    let mut done = |_: usize, r: Result<tlsmortem::InputStats, tlsmortem::Error>| {
        if let Err(e) = r {
            failure = Some(e.to_string());
        }
        failure.is_none()
    };
    let prepare = |c: tlsmortem::Connection| tlsmortem::report::json_line(&c);
    analyze_inputs(&inputs, &config, &prepare, &mut sink, &mut done);
    if let Some(f) = failure {
        let _ = tx.send(Message::Failed(f));
        return;
    }
    if !gone {
        let last = batches.flush();
        send(last, &mut gone);
    }
}

/// The records of a run, batch by batch (Arrow IPC streams as `bytes`).
#[pyclass(module = "tlsmortem._native")]
struct Batches {
    rx: Mutex<Option<Receiver<Message>>>,
}

#[pymethods]
impl Batches {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyBytes>>> {
        // Never wait for the lock while holding Python's: the holder waits for a batch without
        // Python's lock and then needs it back.
        let mut guard = self
            .rx
            .try_lock()
            .map_err(|_| PyValueError::new_err("the batch iterator is in use by another thread"))?;
        let Some(rx) = guard.take() else {
            return Ok(None);
        };
        let (rx, message) = py.detach(move || {
            let m = rx.recv();
            (rx, m)
        });
        match message {
            Ok(Message::Batch(bytes)) => {
                *guard = Some(rx);
                Ok(Some(PyBytes::new(py, &bytes).unbind()))
            }
            Ok(Message::Failed(e)) => Err(TlsmortemError::new_err(e)),
            Err(_) => Ok(None),
        }
    }
}

/// `batches(args, paths)`: analyses `paths` with the command-line flags `args`; an iterator of
/// Arrow IPC streams, one record batch each.
#[pyfunction]
fn batches(py: Python<'_>, args: Vec<String>, paths: Vec<String>) -> PyResult<Batches> {
    let (inputs, config) = parse(py, args, paths)?;
    let (tx, rx) = sync_channel(AHEAD);
    std::thread::Builder::new()
        .name("tlsmortem".into())
        .spawn(move || run(inputs, config, tx))
        .map_err(|e| TlsmortemError::new_err(format!("cannot start the analysis: {e}")))?;
    Ok(Batches {
        rx: Mutex::new(Some(rx)),
    })
}

/// `captures(paths)`: the capture files `paths` name, folders expanded as the command line
/// does (for splitting work by file).
#[pyfunction]
fn captures(py: Python<'_>, paths: Vec<String>) -> PyResult<Vec<String>> {
    let (inputs, _) = parse(py, Vec::new(), paths)?;
    Ok(inputs.iter().map(Input::name).collect())
}

/// `schema()`: the records' schema, as an Arrow IPC stream with no batch.
#[pyfunction]
fn schema(py: Python<'_>) -> PyResult<Py<PyBytes>> {
    let empty = arrow_array::RecordBatch::new_empty(columnar::schema());
    let bytes =
        columnar::ipc_stream(&empty).map_err(|e| PyValueError::new_err(format!("Arrow: {e}")))?;
    Ok(PyBytes::new(py, &bytes).unbind())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(batches, m)?)?;
    m.add_function(wrap_pyfunction!(captures, m)?)?;
    m.add_function(wrap_pyfunction!(schema, m)?)?;
    m.add_class::<Batches>()?;
    m.add("TlsmortemError", m.py().get_type::<TlsmortemError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
