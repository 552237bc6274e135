//! columnar: connection records as Arrow record batches, and the writers built on them: a
//! Parquet file (`--format parquet`) and Arrow IPC streams (the Python package).
//!
//! Takes each record's JSON line — the contract, rendered on the workers for any JSON output —
//! and decodes it with arrow-json against [`schema`], a fixed schema written out here from the
//! README's keys: the same names, nested objects as structs, arrays as lists, code points and
//! counts as unsigned integers of their width, and times (`start`, `end`, a TCP packet's `time`)
//! as UTC timestamps in nanoseconds; a key a record leaves out is null. Fixed, not inferred, so
//! that every capture, every part (`--shard`) and every batch has the same schema and their
//! tables can be concatenated (Dask, a DuckDB glob over many files). Decoding the JSON lines,
//! rather than filling arrays from the record types, keeps the contract's shape in one place
//! (the record's `Serialize`); the Python tests compare every Arrow row with its JSON line on
//! every capture, so a key added to the contract without its column here fails them.
//!
//! Memory: at most [`BATCH_ROWS`] rows ([`PARQUET_BATCH_ROWS`] for Parquet) are decoded at a
//! time, and the Parquet writer holds at most one row group ([`ROW_GROUP_ROWS`] rows, about
//! [`ROW_GROUP_BYTES`]) before writing it.

use super::{Needs, Reporter, Slim};
use arrow_array::RecordBatch;
use arrow_json::reader::Decoder;
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::io::{self, Write};
use std::sync::{Arc, OnceLock};

/// Rows per record batch handed out (the Python package's batches).
pub const BATCH_ROWS: usize = 8192;

/// Rows per batch on the way into a Parquet file: decoding a batch holds its JSON and its
/// arrays at once, about 10 KB a row, and the writer's buffers are bounded apart
/// ([`ROW_GROUP_BYTES`]); 8192 rows took 100 MiB more than 1024 on the benchmark capture.
pub const PARQUET_BATCH_ROWS: usize = 1024;

/// Rows per Parquet row group at most: large enough for column statistics to skip row groups.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Bytes a row group may hold in the writer's buffers (its encoded pages and the open ones)
/// before it is written out, whatever its rows: the writer's memory bound.
pub const ROW_GROUP_BYTES: usize = 16 << 20;

fn field(name: &str, t: DataType) -> Field {
    Field::new(name, t, true)
}

fn list(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", t, true)))
}

fn object(fields: Vec<Field>) -> DataType {
    DataType::Struct(Fields::from(fields))
}

fn utf8(name: &str) -> Field {
    field(name, DataType::Utf8)
}

fn boolean(name: &str) -> Field {
    field(name, DataType::Boolean)
}

fn time(name: &str) -> Field {
    field(
        name,
        DataType::Timestamp(TimeUnit::Nanosecond, Some("+00:00".into())),
    )
}

fn endpoint() -> DataType {
    object(vec![utf8("ip"), field("port", DataType::UInt16)])
}

fn client_hello() -> DataType {
    use DataType::{UInt16, UInt32, UInt64, UInt8};
    object(vec![
        field("frame", UInt64),
        utf8("sni"),
        field("alpn", list(DataType::Utf8)),
        field("legacy_version", UInt16),
        field("cipher_suites", list(UInt16)),
        field("supported_versions", list(UInt16)),
        field("extensions", list(UInt16)),
        field("supported_groups", list(UInt16)),
        field("ec_point_formats", list(UInt8)),
        field("signature_algorithms", list(UInt16)),
        field("key_share_groups", list(UInt16)),
        field("compression_methods", list(UInt8)),
        field("session_id_length", UInt64),
        boolean("psk"),
        boolean("early_data"),
        boolean("ech"),
        boolean("sslv2"),
        field("sslv2_cipher_specs", list(UInt32)),
        utf8("ja3"),
        utf8("ja3_full"),
        utf8("ja4"),
    ])
}

fn server_hello() -> DataType {
    use DataType::{UInt16, UInt64, UInt8};
    object(vec![
        field("frame", UInt64),
        field("version", UInt16),
        utf8("version_name"),
        field("legacy_version", UInt16),
        field("cipher_suite", UInt16),
        utf8("cipher_suite_name"),
        utf8("alpn"),
        field("extensions", list(UInt16)),
        field("key_share_group", UInt16),
        field("compression_method", UInt8),
        field("session_id_length", UInt64),
        boolean("hello_retry_request"),
        utf8("ja3s"),
        utf8("ja3s_full"),
    ])
}

fn certificate() -> DataType {
    object(vec![
        utf8("sha256"),
        utf8("subject"),
        utf8("issuer"),
        utf8("serial"),
        utf8("not_before"),
        utf8("not_after"),
        field("san_dns", list(DataType::Utf8)),
        field("size", DataType::UInt64),
        utf8("key_type"),
        field("key_bits", DataType::UInt32),
        utf8("signature_algorithm"),
        field("aia_ca_issuers", list(DataType::Utf8)),
        field("ocsp_urls", list(DataType::Utf8)),
        utf8("parse_error"),
    ])
}

fn alert() -> DataType {
    use DataType::{UInt64, UInt8};
    object(vec![
        field("frame", UInt64),
        utf8("from"),
        field("level", UInt8),
        field("description", UInt8),
        utf8("description_name"),
        boolean("encrypted"),
        boolean("decrypted"),
    ])
}

fn decrypted() -> DataType {
    use DataType::UInt16;
    object(vec![
        field("encrypted_extensions", list(UInt16)),
        utf8("alpn"),
        boolean("server_name_acknowledged"),
        boolean("early_data_accepted"),
        field("server_signature_scheme", UInt16),
        field("client_signature_scheme", UInt16),
        boolean("client_finished"),
        boolean("server_finished"),
    ])
}

fn quic() -> DataType {
    use DataType::{UInt32, UInt64};
    object(vec![
        field("version", UInt32),
        utf8("dcid"),
        utf8("client_scid"),
        utf8("server_scid"),
        boolean("retry"),
        field("version_negotiation", list(UInt32)),
        field("other_connection_packets", UInt64),
    ])
}

fn starttls() -> DataType {
    use DataType::UInt64;
    object(vec![
        utf8("protocol"),
        field("command_frame", UInt64),
        field("accepted_frame", UInt64),
        utf8("refused"),
        boolean("tls_followed"),
    ])
}

fn tcp_packet() -> DataType {
    use DataType::{UInt16, UInt32, UInt64, UInt8};
    object(vec![
        field("frame", UInt64),
        time("time"),
        utf8("from"),
        utf8("flags"),
        field("seq", UInt32),
        field("ack", UInt32),
        field("window", UInt16),
        field("ttl", UInt8),
        field("ip_id", UInt16),
        field("tsval", UInt32),
        field("tsecr", UInt32),
        field("payload_len", UInt32),
    ])
}

fn tcp() -> DataType {
    use DataType::{Float64, UInt64};
    object(vec![
        boolean("syn"),
        boolean("syn_ack"),
        field("rtt_ms", Float64),
        field("syn_to_syn_ack_ms", Float64),
        field("syn_ack_to_ack_ms", Float64),
        field("client_syn", tcp_packet()),
        field("server_syn_ack", tcp_packet()),
        field("resets", list(tcp_packet())),
        field("fins", list(tcp_packet())),
        field("client_packets", UInt64),
        field("server_packets", UInt64),
        field("client_bytes", UInt64),
        field("server_bytes", UInt64),
        field("missing_bytes", UInt64),
        field("retransmissions", UInt64),
        field("out_of_order", UInt64),
    ])
}

fn verdict() -> DataType {
    object(vec![
        utf8("id"),
        utf8("by"),
        field("confidence", DataType::Float64),
        utf8("summary"),
        field("frames", list(DataType::UInt64)),
    ])
}

fn finding() -> DataType {
    object(vec![
        utf8("id"),
        utf8("severity"),
        utf8("message"),
        field("frames", list(DataType::UInt64)),
        field("evidence", list(DataType::Utf8)),
        utf8("advice"),
        utf8("side"),
        utf8("when"),
    ])
}

/// The schema of a connection record: one column per top-level key of the JSON contract, in
/// its order.
pub fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(Schema::new(vec![
                utf8("capture"),
                utf8("transport"),
                field("encapsulation", list(DataType::Utf8)),
                field("client", endpoint()),
                field("server", endpoint()),
                time("start"),
                time("end"),
                field("first_frame", DataType::UInt64),
                field("client_hello", client_hello()),
                field("server_hello", server_hello()),
                field("more_client_hellos", list(client_hello())),
                field("more_server_hellos", list(server_hello())),
                field("server_certificates", list(certificate())),
                field("client_certificates", list(certificate())),
                field("alerts", list(alert())),
                utf8("keys"),
                field("decrypted", decrypted()),
                field("key_exchange_group", DataType::UInt16),
                field("quic", quic()),
                field("starttls", starttls()),
                field("tcp", tcp()),
                field("verdict", verdict()),
                field("findings", list(finding())),
            ]))
        })
        .clone()
}

/// JSON lines in, record batches of [`schema`] out.
pub struct Batches {
    decoder: Decoder,
    rows: usize,
    batch_rows: usize,
}

impl Batches {
    /// Batches of [`BATCH_ROWS`]. `strict`: a key the schema does not have is an error (tests)
    /// rather than left out.
    pub fn new(strict: bool) -> Result<Batches, ArrowError> {
        Batches::with_rows(strict, BATCH_ROWS)
    }

    /// Batches of `batch_rows` rows (at least 1).
    pub fn with_rows(strict: bool, batch_rows: usize) -> Result<Batches, ArrowError> {
        let batch_rows = batch_rows.max(1);
        let decoder = arrow_json::ReaderBuilder::new(schema())
            .with_batch_size(batch_rows)
            .with_strict_mode(strict)
            .build_decoder()?;
        Ok(Batches {
            decoder,
            rows: 0,
            batch_rows,
        })
    }

    /// Adds one record's JSON line; the batch it fills, when it fills one.
    pub fn push(&mut self, line: &[u8]) -> Result<Option<RecordBatch>, ArrowError> {
        // Never more than batch_rows - 1 rows are buffered here, so the decoder takes the
        // whole line.
        let taken = self.decoder.decode(line)?;
        if taken != line.len() {
            return Err(ArrowError::JsonError(format!(
                "a record's JSON line was decoded in part ({taken} of {} bytes)",
                line.len()
            )));
        }
        self.rows += 1;
        if self.rows < self.batch_rows {
            return Ok(None);
        }
        self.flush()
    }

    /// The rows pushed since the last batch, as one; `None` when there are none.
    pub fn flush(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        self.rows = 0;
        self.decoder.flush()
    }
}

/// `batch` as a whole Arrow IPC stream (schema, then the batch), as `pyarrow.ipc.open_stream`
/// reads it.
pub fn ipc_stream(batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
    let mut out = Vec::new();
    let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut out, &batch.schema())?;
    w.write(batch)?;
    w.finish()?;
    drop(w);
    Ok(out)
}

fn io_error(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::other(e)
}

/// `--format parquet`: one row per connection, written as the records arrive.
pub struct Parquet<W: Write + Send> {
    batches: Batches,
    writer: Option<ArrowWriter<W>>,
}

impl<W: Write + Send> Parquet<W> {
    pub fn new(out: W) -> io::Result<Self> {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("tlsmortem {}", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Parquet {
            batches: Batches::with_rows(false, PARQUET_BATCH_ROWS).map_err(io_error)?,
            writer: Some(ArrowWriter::try_new(out, schema(), Some(props)).map_err(io_error)?),
        })
    }

    fn write(&mut self, batch: Option<RecordBatch>) -> io::Result<()> {
        let (Some(b), Some(w)) = (batch, &mut self.writer) else {
            return Ok(());
        };
        w.write(&b).map_err(io_error)?;
        if w.memory_size() > ROW_GROUP_BYTES {
            w.flush().map_err(io_error)?;
        }
        Ok(())
    }
}

impl<W: Write + Send> Reporter for Parquet<W> {
    fn needs(&self) -> Needs {
        Needs {
            record: false,
            json: true,
            slim: Slim::Yes,
        }
    }

    fn json_line(&mut self, line: &[u8]) -> io::Result<()> {
        let batch = self.batches.push(line).map_err(io_error)?;
        self.write(batch)
    }

    fn finish(&mut self) -> io::Result<()> {
        let batch = self.batches.flush().map_err(io_error)?;
        self.write(batch)?;
        match self.writer.take() {
            Some(w) => w.close().map(drop).map_err(io_error),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    const LINE: &[u8] = br#"{"capture":"a.pcap","transport":"tcp","client":{"ip":"10.0.0.1","port":40000},"server":{"ip":"10.0.0.2","port":443},"start":"2026-11-23T19:57:40.691099Z","end":"2026-11-23T19:57:40.697725123Z","first_frame":1,"client_hello":{"frame":4,"sni":"a.example","alpn":["h2"],"legacy_version":771,"cipher_suites":[4866],"supported_versions":[772],"extensions":[0],"supported_groups":[29],"ec_point_formats":[0],"signature_algorithms":[1027],"key_share_groups":[29],"compression_methods":[0],"session_id_length":32,"psk":false,"early_data":false,"ech":false,"sslv2":false,"ja4":"t13d"},"server_hello":null,"more_client_hellos":[],"more_server_hellos":[],"server_certificates":[],"client_certificates":[],"alerts":[],"keys":null,"key_exchange_group":null,"quic":null,"starttls":null,"tcp":{"syn":true,"syn_ack":false,"rtt_ms":null,"syn_to_syn_ack_ms":null,"syn_ack_to_ack_ms":null,"client_syn":null,"server_syn_ack":null,"resets":[{"frame":5,"time":"2026-11-23T19:57:40.697725Z","from":"server","flags":"RST","seq":1,"ack":0,"window":0,"ttl":52,"ip_id":null,"tsval":null,"tsecr":null,"payload_len":0}],"fins":[],"client_packets":2,"server_packets":1,"client_bytes":300,"server_bytes":0,"missing_bytes":0,"retransmissions":0,"out_of_order":0},"verdict":{"id":"rst-after-client-hello","by":"middlebox","confidence":0.8,"summary":"cut"},"findings":[{"id":"rst-injected","severity":"high","message":"m","frames":[5]}]}
"#;

    #[test]
    fn a_record_line_decodes_into_its_columns_with_times_in_nanoseconds() {
        let mut b = Batches::new(true).unwrap();
        assert!(b.push(LINE).unwrap().is_none());
        let batch = b.flush().unwrap().unwrap();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.schema(), schema());
        let end = batch
            .column_by_name("end")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::TimestampNanosecondArray>()
            .unwrap()
            .value(0);
        // 2026-11-23T19:57:40.697725123Z
        assert_eq!(end, 1_795_463_860_697_725_123);
        let hello = batch.column_by_name("server_hello").unwrap();
        assert!(hello.is_null(0));
        assert!(b.flush().unwrap().is_none());
    }

    #[test]
    fn a_key_the_schema_lacks_is_refused_when_strict_and_left_out_otherwise() {
        let line = br#"{"capture":"a","new_key":1}
"#;
        // Lines are only tokenized as they come; keys are matched when the batch is built.
        let mut strict = Batches::new(true).unwrap();
        assert!(strict.push(line).and_then(|_| strict.flush()).is_err());
        let mut lax = Batches::new(false).unwrap();
        lax.push(line).unwrap();
        assert_eq!(lax.flush().unwrap().unwrap().num_rows(), 1);
    }

    #[test]
    fn a_full_batch_comes_back_at_its_last_row() {
        let mut b = Batches::new(true).unwrap();
        for _ in 1..BATCH_ROWS {
            assert!(b.push(LINE).unwrap().is_none());
        }
        let full = b.push(LINE).unwrap().unwrap();
        assert_eq!(full.num_rows(), BATCH_ROWS);
        assert!(b.flush().unwrap().is_none());
    }

    #[test]
    fn parquet_written_reads_back_with_the_same_rows_and_schema() {
        let mut file = Vec::new();
        {
            let mut p = Parquet::new(&mut file).unwrap();
            for _ in 0..3 {
                p.json_line(LINE).unwrap();
            }
            p.finish().unwrap();
        }
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(file),
        )
        .unwrap()
        .build()
        .unwrap();
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
        assert_eq!(batches[0].schema().fields(), schema().fields());
    }
}
