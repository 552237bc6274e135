//! capture::input: where the bytes come from. Takes a path, a reader (stdin, a pipe, a file
//! that cannot be mapped) or an in-memory buffer; gives the frames of the capture in it to the
//! parser, decompressing gzip (and zstd / xz behind their features) on the way.
//!
//! Guarantees: a plain regular file is mapped (where the filesystem allows) and parsed in
//! place, its frames borrowing from the map; everything else goes through one buffer that
//! starts at [`INITIAL_BUFFER`] and grows only to hold the largest block, never past
//! [`MAX_BLOCK_LEN`] and never ahead of the bytes that arrived, so memory does not grow with
//! the input nor with what a length field claims. A read error after some data is
//! a truncation, not an [`Error`].
//!
//! Deliberately not done: parsing (that is [`Parser`]), sniffing compression from anything but
//! the magic bytes, and reading archives or other compressions (zip, bzip2): the not-a-capture
//! error names those instead.

use super::map::map_file;
use super::parser::{not_a_capture, Parser, Step};
use super::{CaptureSummary, Frame, SecretsSink, Walker, MAX_BLOCK_LEN};
use crate::error::Error;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Initial size of the streaming buffer.
pub(super) const INITIAL_BUFFER: usize = 1024 * 1024;

pub(super) fn read_file(
    path: &Path,
    secrets: Option<&dyn SecretsSink>,
    on_frame: &mut dyn FnMut(&Frame<'_>),
) -> Result<CaptureSummary, Error> {
    let open_err = |source| Error::Open {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(open_err)?;
    let meta = file.metadata().map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // Pipes, FIFOs and character devices (`<(zcat x.pcap)`, /dev/stdin) report length 0 and
    // cannot be mapped: stream them.
    if !meta.is_file() {
        return read_stream(path, &mut file, secrets, on_frame);
    }
    // Mapping 0 bytes fails on some platforms; an empty file is not a capture anyway.
    if meta.len() == 0 {
        return Err(not_a_capture(path, "empty file".to_string(), ""));
    }
    match map_file(&file) {
        Ok(map) => read_mapped(path, &map, secrets, on_frame),
        // Some filesystems cannot be mapped; reading is slower but works everywhere.
        Err(_) => read_stream(path, &mut file, secrets, on_frame),
    }
}

/// Compression recognized by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Compression {
    Gzip,
    Zstd,
    Xz,
}

impl Compression {
    pub(super) fn sniff(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if head.starts_with(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) {
            Some(Compression::Xz)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
        }
    }

    /// Wraps `r` in a decoder, or says which feature would have one.
    fn decoder<'r>(self, path: &Path, r: Box<dyn Read + 'r>) -> Result<Box<dyn Read + 'r>, Error> {
        match self {
            // Multi-member: `cat a.pcap.gz b.gz` and pigz output are several gzip members.
            Compression::Gzip => Ok(Box::new(GzMembers {
                member: Some(flate2::bufread::GzDecoder::new(
                    std::io::BufReader::with_capacity(64 * 1024, r),
                )),
            })),
            #[cfg(feature = "zstd")]
            Compression::Zstd => zstd::stream::read::Decoder::new(r)
                .map(|d| Box::new(d) as Box<dyn Read + 'r>)
                .map_err(|source| Error::Read {
                    path: path.to_path_buf(),
                    source,
                }),
            #[cfg(feature = "xz")]
            Compression::Xz => Ok(Box::new(xz2::read::XzDecoder::new_multi_decoder(r))),
            #[allow(unreachable_patterns)] // reachable when a compression feature is off
            other => Err(Error::Unsupported {
                path: path.to_path_buf(),
                what: format!(
                    "{}-compressed capture; this build cannot decompress it (rebuild with \
                     `--features {}`, or decompress it first)",
                    other.name(),
                    other.name()
                ),
            }),
        }
    }
}

/// Parses `bytes` in place, or streams it through a decoder when it is compressed.
pub(super) fn read_mapped(
    path: &Path,
    bytes: &[u8],
    secrets: Option<&dyn SecretsSink>,
    on_frame: &mut dyn FnMut(&Frame<'_>),
) -> Result<CaptureSummary, Error> {
    if let Some(c) = Compression::sniff(bytes) {
        let decoded = c.decoder(path, Box::new(bytes))?;
        return stream_decoded(path, c, decoded, secrets, on_frame);
    }
    if let Some(sink) = secrets {
        super::secrets_in(bytes, sink);
    }
    let mut walker = Walker::new(path);
    walker.walk(bytes, 0, bytes.len(), on_frame)?;
    Ok(walker.finish())
}

/// Streams a reader: sniffs compression from the first bytes, then parses.
pub(super) fn read_stream(
    path: &Path,
    reader: &mut dyn Read,
    secrets: Option<&dyn SecretsSink>,
    on_frame: &mut dyn FnMut(&Frame<'_>),
) -> Result<CaptureSummary, Error> {
    // Sniff without consuming: read up to 6 bytes, then put them back in front of the reader.
    let mut head = [0u8; 6];
    let mut got = 0usize;
    while let Some(space) = head.get_mut(got..).filter(|s| !s.is_empty()) {
        match reader.read(space) {
            Ok(0) => break,
            Ok(n) => got = got.saturating_add(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(Error::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    let head = head.get(..got).unwrap_or_default();
    let chained: Box<dyn Read + '_> = Box::new(head.chain(reader));
    match Compression::sniff(head) {
        Some(c) => stream_decoded(path, c, c.decoder(path, chained)?, secrets, on_frame),
        None => stream_plain(path, &mut { chained }, secrets, on_frame),
    }
}

/// The first bytes of a reader (up to `N`), without losing them: they are handed back with
/// the rest.
fn peek<'r, const N: usize>(mut reader: Box<dyn Read + 'r>) -> (Vec<u8>, Box<dyn Read + 'r>) {
    let mut head = [0u8; N];
    let mut got = 0usize;
    while let Some(space) = head.get_mut(got..).filter(|s| !s.is_empty()) {
        match reader.read(space) {
            Ok(0) => break,
            Ok(n) => got = got.saturating_add(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // A stream that fails at once is reported by the parse that follows.
            Err(_) => break,
        }
    }
    let head = head.get(..got).unwrap_or_default().to_vec();
    let rest: Box<dyn Read + 'r> = Box::new(std::io::Cursor::new(head.clone()).chain(reader));
    (head, rest)
}

/// Parses what a decoder gives; a capture compressed twice is named as such.
fn stream_decoded(
    path: &Path,
    c: Compression,
    decoded: Box<dyn Read + '_>,
    secrets: Option<&dyn SecretsSink>,
    on_frame: &mut dyn FnMut(&Frame<'_>),
) -> Result<CaptureSummary, Error> {
    let (head, mut decoded) = peek::<6>(decoded);
    if let Some(inner) = Compression::sniff(&head) {
        return Err(Error::Unsupported {
            path: path.to_path_buf(),
            what: format!(
                "{}-compressed, and what it holds is {}-compressed again: it was decompressed \
                 once and is still not a capture; decompress it twice (e.g. `zcat FILE | zcat \
                 > capture.pcap`)",
                c.name(),
                inner.name()
            ),
        });
    }
    let mut summary = stream_plain(path, &mut decoded, secrets, on_frame)?;
    summary.compression = Some(c.name());
    Ok(summary)
}

/// gzip members one after the other (`cat a.gz b.gz`, pigz), ending at the end of the input
/// or at zeros that pad it (tape and disk images, some uploaders). flate2's `MultiGzDecoder`
/// takes trailing zeros for a broken member header, which would read as a damaged file.
struct GzMembers<R: std::io::BufRead> {
    member: Option<flate2::bufread::GzDecoder<R>>,
}

impl<R: std::io::BufRead> Read for GzMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let Some(member) = self.member.as_mut() else {
                return Ok(0);
            };
            let n = member.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // This member ended: skip zeros; then the end, or the next member.
            let Some(done) = self.member.take() else {
                return Ok(0);
            };
            let mut inner = done.into_inner();
            loop {
                let avail = inner.fill_buf()?;
                if avail.is_empty() {
                    return Ok(0);
                }
                let zeros = avail.iter().take_while(|&&b| b == 0).count();
                if zeros == 0 {
                    break;
                }
                inner.consume(zeros);
            }
            self.member = Some(flate2::bufread::GzDecoder::new(inner));
        }
    }
}

/// Parses an uncompressed capture from a reader through one buffer that starts at
/// [`INITIAL_BUFFER`] and grows only to hold the largest block, up to [`MAX_BLOCK_LEN`].
fn stream_plain(
    path: &Path,
    reader: &mut dyn Read,
    secrets: Option<&dyn SecretsSink>,
    on_frame: &mut dyn FnMut(&Frame<'_>),
) -> Result<CaptureSummary, Error> {
    let mut parser = Parser::new(path);
    parser.secrets = secrets;
    let mut buf: Vec<u8> = Vec::new();
    let (mut start, mut end) = (0usize, 0usize);
    let mut read_total = 0u64;
    let mut eof = false;
    loop {
        let window = buf.get(start..end).unwrap_or_default();
        let need = match parser.step(window, eof, on_frame)? {
            Step::Advance(n) => {
                start = start.saturating_add(n).min(end);
                continue;
            }
            Step::Done => break,
            Step::Need(need) => need,
        };
        if need > MAX_BLOCK_LEN {
            parser.stop(format!(
                "{}: a block of {need} bytes is larger than the {} MiB limit; stopped reading \
                 there (corrupt length field?)",
                parser.position(),
                MAX_BLOCK_LEN >> 20
            ));
            break;
        }
        // Keep the unread tail at the front, then grow (never shrink) to hold `need` bytes.
        buf.copy_within(start..end, 0);
        end = end.saturating_sub(start);
        start = 0;
        let want = need
            .next_power_of_two()
            .clamp(INITIAL_BUFFER, MAX_BLOCK_LEN);
        // Read until the step can go on: a live pipe (`tcpdump -w - | tlsmortem -`) delivers
        // frames as they come, so do not wait for a full buffer. The buffer doubles only when
        // the bytes that came fill it: a block header claiming 64 MiB costs memory only as
        // its bytes arrive.
        while end < need && !eof {
            if end == buf.len() {
                buf.resize(buf.len().saturating_mul(2).clamp(INITIAL_BUFFER, want), 0);
            }
            let Some(space) = buf.get_mut(end..).filter(|s| !s.is_empty()) else {
                break;
            };
            match reader.read(space) {
                Ok(0) => eof = true,
                Ok(n) => {
                    end = end.saturating_add(n);
                    read_total = read_total.saturating_add(n as u64);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) if read_total == 0 => {
                    return Err(Error::Read {
                        path: path.to_path_buf(),
                        source,
                    })
                }
                Err(e) => {
                    // A damaged compressed stream or an I/O error after some data: keep what
                    // was read, like any other truncation.
                    let tail = end.saturating_sub(start);
                    parser.stop(format!(
                        "input ends with a read error after {read_total} bytes ({e}); \
                         {tail} unparsed bytes before it"
                    ));
                    parser.summary.bytes = parser.summary.bytes.saturating_add(tail as u64);
                    return Ok(parser.finish());
                }
            }
        }
    }
    Ok(parser.finish())
}

/// Capture files found under a directory (recursively, sorted), by extension. Folders below
/// it that cannot be read are passed over ([`captures_in_noting`] says which).
pub fn captures_in(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    captures_in_noting(dir).map(|walk| walk.found)
}

/// What a walk of a folder found, and what it passed over.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Walk {
    /// Capture files, sorted, each file once.
    pub found: Vec<PathBuf>,
    /// Folders below the walked one that could not be read: their captures were not analysed.
    pub unreadable: Vec<String>,
    /// What was passed over on purpose, a line each: capture-named entries that are not regular
    /// files (FIFOs, sockets, devices), links to folders (not followed), and second names of a
    /// file already found (hard or symbolic links).
    pub skipped: Vec<String>,
}

/// [`captures_in`], with what the walk passed over. Only `dir` itself not being readable is an
/// error: one unreadable subfolder must not lose the others.
///
/// Links to folders are not followed, as `find` and `rg` do by default: a link to `.` or `..`
/// would walk for ever, one to `/` the whole machine. Only regular files are read: a FIFO named
/// `*.pcap` would block the run. A file reached under two names is read once, under its own
/// name rather than a link's, else the first in sorted order.
pub fn captures_in_noting(dir: &Path) -> Result<Walk, Error> {
    use std::os::unix::fs::MetadataExt;
    let mut walk = Walk::default();
    // Every name of a regular capture file: sorted, the names of one file are side by side, its
    // own name before links, then in path order.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    struct Name {
        file: (u64, u64),
        link: bool,
        path: PathBuf,
    }
    let mut names = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if d.as_path() == dir => {
                return Err(Error::Open {
                    path: d.clone(),
                    source: e,
                })
            }
            Err(e) => {
                walk.unreadable.push(format!(
                    "{}: cannot read this folder ({e}); the captures in it were not analysed",
                    d.display()
                ));
                continue;
            }
        };
        for entry in rd.flatten() {
            let p = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(p);
                continue;
            }
            // The link's target (or the entry itself); a dangling link is no capture.
            let Ok(meta) = std::fs::metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                walk.skipped.push(format!(
                    "{}: a link to a folder, not followed (name the folder itself to read it)",
                    p.display()
                ));
            } else if is_capture_name(&p) {
                if meta.is_file() {
                    names.push(Name {
                        file: (meta.dev(), meta.ino()),
                        link: kind.is_symlink(),
                        path: p,
                    });
                } else {
                    walk.skipped.push(format!(
                        "{}: {}, not a regular file; passed over (give a pipe's capture as - \
                         on standard input)",
                        p.display(),
                        special_kind(&meta)
                    ));
                }
            }
        }
    }
    names.sort();
    let mut kept: Option<&Name> = None;
    for n in &names {
        match kept {
            Some(k) if k.file == n.file => walk.skipped.push(format!(
                "{}: the same file as {}; read once",
                n.path.display(),
                k.path.display()
            )),
            _ => {
                kept = Some(n);
                walk.found.push(n.path.clone());
            }
        }
    }
    walk.found.sort();
    walk.unreadable.sort();
    walk.skipped.sort();
    Ok(walk)
}

/// What a file that is not a regular file is, in words.
fn special_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a file"
    }
}

fn is_capture_name(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name = name
        .trim_end_matches(".gz")
        .trim_end_matches(".zst")
        .trim_end_matches(".xz");
    [".pcap", ".pcapng", ".cap", ".ntar", ".dmp"]
        .iter()
        .any(|e| name.ends_with(e))
}
