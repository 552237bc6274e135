//! engine: one capture in; its connection records, in first-packet order, out — on one core or
//! on many, with the same records either way.
//!
//! The capture is cut into chunks of [`CHUNK_BYTES`] (a frame belongs to the chunk its record
//! starts in) and its flows into [`SHARDS`] flow tables by a symmetric hash of their addresses
//! and ports ([`shard_of`]). A worker owns the tables `t` with `t % workers == its index`, and
//! nothing else: no flow state is shared and nothing is locked per packet.
//!
//! With one worker (and for streamed input), one thread walks the frames and feeds its tables.
//! With several, each thread both walks chunks and analyses its flows: a walker takes the next
//! chunk (up to a window ahead of the slowest worker), decodes its frames and sorts them into one
//! list per owner; once the chunks before it are confirmed ([`Walker::continues`]: a
//! chunk walked before its start was known is walked again when the guess was wrong), every
//! owner takes its list. So every core walks, decodes and analyses, and a frame is read once.
//!
//! Everything that is not per flow is decided on capture facts, never on timing, so that any
//! number of workers gives the same records:
//! - idle flows are swept when a frame's timestamp enters a later second than every frame
//!   before it (walkers note those frames; owners sweep there);
//! - each table has its share of [`MAX_OPEN_FLOWS`] and of the memory budget
//!   ([`Config::max_memory`]), and counts what its own flows hold;
//! - records are put back in first-packet order by a merger that, at the end of each chunk,
//!   hands out every record older than every open flow. When more than [`MAX_WAITING`] records
//!   wait behind old open flows, it decides to finish those flows early; the decision taken at
//!   the end of chunk `k` applies at the start of chunk `k + DECISION_LAG`, so that workers may
//!   be that many chunks apart without waiting for one another.
//!
//! IP fragments carry no ports, so no flow table can own them: they are put back together
//! before packets are handed to owners, by one [`Reassembler`] per capture that sees every
//! fragment in capture order — on the walking thread with one worker, and where chunks are
//! confirmed (in order) with several. A rebuilt datagram, or what a lost one says about its
//! flow, goes to the owner of its flow at the frame of the fragment that completed it (or of
//! the new second that timed it out), so that any number of workers gives the same records.
//! Plain traffic only pays for a check of the transport.
//!
//! Records are built, filtered and prepared (`prepare`, e.g. rendered as JSON) on the worker
//! that owns the flow; only the merging runs on the calling thread.

mod inputs;
pub use inputs::SIDE_BY_SIDE_AHEAD;
pub(crate) use inputs::{analyze_mapped, shared_by_workers, side_by_side};

use crate::capture::{CaptureSummary, Frame, SecretsSink, Timestamp, Walker};
use crate::flow::{Flow, FlowTable, FragmentNote, MAX_OPEN_FLOWS, MAX_WAITING};
use crate::judge::{self, CaptureFacts};
use crate::net::fragments::{Event, FragmentStats, Reassembler};
use crate::net::{self, Packet, Skip, Transport};
use crate::proto::conversation::{Context, Conversation};
use crate::record::Connection;
use crate::{Config, InputStats};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Condvar, Mutex};

/// Bytes of capture per chunk: the unit of work of a walker, and the step at which the
/// capture-wide decisions are taken.
pub const CHUNK_BYTES: usize = 2 << 20;

/// Flow tables per capture, whatever the number of workers (which it bounds).
pub const SHARDS: usize = 256;

/// Chunks between the merger's look at what waits and the chunk its decision applies to.
const DECISION_LAG: usize = 4;

/// Chunks a walker may run ahead of the slowest owner, per worker: bounds the frames held in
/// owners' lists (a chunk of `CHUNK_BYTES` holds at most `CHUNK_BYTES / 16` frames).
const LOOKAHEAD_PER_WORKER: usize = 2;

/// Emptied owner lists kept for reuse, per worker and owner, and the items each keeps room for.
const SPARE_LISTS_PER_WORKER: usize = LOOKAHEAD_PER_WORKER + 2;
const MAX_SPARE_ITEMS: usize = 16 * 1024;

const NS_PER_SEC: i64 = 1_000_000_000;

/// One of `n` parts of a capture's flows (`--shard K/N`): a flow belongs to exactly one part,
/// chosen by the same symmetric hash of addresses and ports as its flow table, so that the
/// `n` runs' records together are one run's. It is decided per packet, before any flow state,
/// so a run over part `k` does about `1/n` of the flow work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// 0-based.
    pub k: u32,
    pub n: u32,
}

impl Part {
    /// Part `k` of `n`; `None` unless `k < n`.
    pub fn new(k: u32, n: u32) -> Option<Part> {
        (k < n).then_some(Part { k, n })
    }

    /// Whether the flow of a packet with this [`net::packet_hash`] is in this part.
    pub fn holds(&self, hash: u64) -> bool {
        // Remixed, so that parts do not follow the top bits that pick the flow table: each
        // part's flows stay spread over every table, and over every worker.
        let mixed = hash.rotate_left(29).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((u128::from(mixed) * u128::from(self.n)) >> 64) as u32 == self.k
    }

    fn holds_packet(part: Option<Part>, pkt: &Packet<'_>) -> bool {
        part.is_none_or(|p| p.holds(net::packet_hash(pkt)))
    }
}

/// The flow table a packet's flow lives in: the same for both directions.
pub fn shard_of(pkt: &Packet<'_>) -> usize {
    // The top bits are the best mixed; SHARDS is a power of two.
    (net::packet_hash(pkt) >> (64 - SHARDS.trailing_zeros())) as usize
}

/// Frames that gave no packet, by reason; counted without allocating.
#[derive(Debug, Default)]
struct Skips(FxHashMap<Skip, u64>);

impl Skips {
    fn add(&mut self, skip: Skip) {
        *self.0.entry(skip).or_default() += 1;
    }

    fn merge(&mut self, other: Skips) {
        for (k, v) in other.0 {
            *self.0.entry(k).or_default() += v;
        }
    }

    fn into_stats(self, out: &mut BTreeMap<String, u64>) {
        for (k, v) in self.0 {
            *out.entry(format!("{k:?}")).or_default() += v;
        }
    }
}

/// The shard of the flow a reassembly event is about; `None` when it is about none (a
/// rebuilt datagram that does not decode: counted in `skips`; a lost datagram whose first
/// fragment never came or holds no transport header: counted in `stats`).
fn shard_of_event(e: &Event, skips: &mut Skips, stats: &mut FragmentStats) -> Option<usize> {
    match e {
        Event::Whole(w) => match w.packet() {
            Ok(p) => Some(shard_of(&p)),
            Err(skip) => {
                skips.add(skip);
                None
            }
        },
        Event::Lost(l) => {
            let shard = l.packet().map(|p| shard_of(&p));
            if shard.is_none() {
                stats.unattributed += 1;
            }
            shard
        }
    }
}

/// What an owner tells the merger at the end of a chunk.
struct Report<T> {
    /// Records of the flows that finished, with their first frame.
    records: Vec<(u64, T)>,
    /// First frame of the owner's oldest open flow.
    oldest_open: Option<u64>,
    open: usize,
}

/// One worker's flow tables and what turns their finished flows into records.
struct Owner<'c, T> {
    tables: Vec<Option<FlowTable<Conversation>>>,
    out: Out<'c, T>,
    /// The latest second a frame has been in (sweeps happen when it grows).
    second: i64,
    /// Lost datagrams whose flow was not open.
    lost_alone: u64,
}

/// The record-making half of an owner (apart from the tables, to borrow both at once).
struct Out<'c, T> {
    facts: CaptureFacts,
    config: &'c Config,
    prepare: &'c (dyn Fn(Connection) -> T + Sync),
    records: Vec<(u64, T)>,
    kept: u64,
}

impl<T> Out<'_, T> {
    fn flow(&mut self, flow: Box<Flow<Conversation>>) {
        if self.config.all_flows || judge::is_interesting(&flow) {
            let c = judge::connection(&flow, &self.facts);
            if self.config.filter.keeps(&c) {
                self.kept += 1;
                self.records.push((c.first_frame, (self.prepare)(c)));
            }
        }
    }
}

impl<'c, T> Owner<'c, T> {
    fn new(
        name: &str,
        worker: usize,
        workers: usize,
        config: &'c Config,
        prepare: &'c (dyn Fn(Connection) -> T + Sync),
        context: &Arc<Context>,
    ) -> Self {
        let cap = (MAX_OPEN_FLOWS / SHARDS).max(1);
        let bytes = config.table_bytes();
        let tables = (0..SHARDS)
            .map(|t| {
                (t % workers == worker).then(|| FlowTable::with_limits(cap, bytes, context.clone()))
            })
            .collect();
        Owner {
            tables,
            out: Out {
                facts: CaptureFacts {
                    name: name.to_string(),
                    truncated: None,
                    trust: config.trust.clone().unwrap_or_else(crate::mozilla_roots),
                    later: config.later.clone(),
                    ladders: config.ladders,
                    chains: Default::default(),
                    certs: Default::default(),
                    fingerprints: Default::default(),
                },
                config,
                prepare,
                records: Vec::new(),
                kept: 0,
            },
            second: i64::MIN,
            lost_alone: 0,
        }
    }

    /// Capture time reached `ts`: the first frame in a new second sweeps every table. True
    /// for that frame.
    fn clock(&mut self, ts: Timestamp) -> bool {
        let second = ts.0.div_euclid(NS_PER_SEC);
        if second <= self.second {
            return false;
        }
        self.second = second;
        let out = &mut self.out;
        for t in self.tables.iter_mut().flatten() {
            t.sweep(ts);
            t.drain_finished(&mut |f| out.flow(f));
        }
        true
    }

    /// A reassembly event about a flow in table `shard`, at frame `number`. A lost datagram
    /// whose flow is not open is counted.
    fn event(&mut self, shard: usize, e: &Event, number: u64, ts: Timestamp) {
        let (pkt, note) = match e {
            Event::Whole(w) => {
                let Ok(pkt) = w.packet() else { return };
                let conflict = w.conflict;
                (pkt, FragmentNote::Whole { conflict })
            }
            Event::Lost(l) => {
                let Some(pkt) = l.packet() else { return };
                let note = FragmentNote::Lost {
                    frame: l.first_frame,
                    why: l.why,
                };
                (pkt, note)
            }
        };
        if !Part::holds_packet(self.out.config.part, &pkt) {
            return;
        }
        if let FragmentNote::Whole { .. } = note {
            self.packet(shard, &pkt, number, ts);
        }
        let Some(Some(t)) = self.tables.get_mut(shard) else {
            return;
        };
        if !t.fragment_note(&pkt, note) && matches!(note, FragmentNote::Lost { .. }) {
            self.lost_alone += 1;
        }
    }

    fn packet(&mut self, shard: usize, pkt: &Packet<'_>, number: u64, ts: Timestamp) {
        if !Part::holds_packet(self.out.config.part, pkt) {
            return;
        }
        let Some(Some(t)) = self.tables.get_mut(shard) else {
            return;
        };
        t.packet(pkt, number, ts);
        let out = &mut self.out;
        t.drain_finished(&mut |f| out.flow(f));
    }

    /// The merger's decision: finish the open flows that started before `frame`.
    fn force_before(&mut self, frame: u64) {
        let out = &mut self.out;
        for t in self.tables.iter_mut().flatten() {
            t.force_before(frame);
            t.drain_finished(&mut |f| out.flow(f));
        }
    }

    fn report(&mut self) -> Report<T> {
        let tables = self.tables.iter().flatten();
        Report {
            records: std::mem::take(&mut self.out.records),
            oldest_open: tables.clone().filter_map(FlowTable::oldest_open).min(),
            open: tables.map(FlowTable::open_flows).sum(),
        }
    }

    /// End of input: every flow is finished. The report counts the flows that were open.
    fn finish(&mut self, truncated: Option<String>) -> Report<T> {
        self.out.facts.truncated = truncated;
        let open = self
            .tables
            .iter()
            .flatten()
            .map(FlowTable::open_flows)
            .sum();
        let out = &mut self.out;
        for t in self.tables.iter_mut().flatten() {
            t.finish_all(&mut |f| out.flow(f));
        }
        Report {
            open,
            ..self.report()
        }
    }

    fn add_stats(&self, stats: &mut InputStats) {
        stats.flows += self
            .tables
            .iter()
            .flatten()
            .map(|t| t.stats.flows)
            .sum::<u64>();
        for t in self.tables.iter().flatten() {
            stats.evicted += t.stats.evicted;
            stats.shed += t.stats.shed;
            stats.table_peak_bytes = stats.table_peak_bytes.max(t.stats.peak_bytes);
        }
        stats.connections += self.out.kept;
        stats.fragments.unattributed += self.lost_alone;
    }
}

/// Puts records back in first-packet order and decides when old open flows must be finished.
struct Merger<T> {
    workers: usize,
    /// The next chunk to complete.
    next: usize,
    /// Reports of chunks `next..` received so far: how many, and what they say together.
    waiting: VecDeque<Gathered<T>>,
    pile: BTreeMap<u64, T>,
    peak_open: usize,
}

struct Gathered<T> {
    reports: usize,
    records: Vec<(u64, T)>,
    oldest_open: Option<u64>,
    open: usize,
}

impl<T> Default for Gathered<T> {
    fn default() -> Self {
        Gathered {
            reports: 0,
            records: Vec::new(),
            oldest_open: None,
            open: 0,
        }
    }
}

impl<T> Merger<T> {
    fn new(workers: usize) -> Self {
        Merger {
            workers,
            next: 0,
            waiting: VecDeque::new(),
            pile: BTreeMap::new(),
            peak_open: 0,
        }
    }

    /// One owner's report on chunk `chunk`. Returns the decisions for the chunks this report
    /// completed, in order: `Some(frame)` means "finish the flows that started before `frame`".
    fn add(
        &mut self,
        chunk: usize,
        report: Report<T>,
        sink: &mut dyn FnMut(T),
    ) -> Vec<(usize, Option<u64>)> {
        let Some(at) = chunk.checked_sub(self.next) else {
            return Vec::new();
        };
        while self.waiting.len() <= at {
            self.waiting.push_back(Gathered::default());
        }
        if let Some(g) = self.waiting.get_mut(at) {
            g.reports += 1;
            g.records.extend(report.records);
            g.oldest_open = match (g.oldest_open, report.oldest_open) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            g.open += report.open;
        }
        let mut decided = Vec::new();
        while self
            .waiting
            .front()
            .is_some_and(|g| g.reports == self.workers)
        {
            let Some(g) = self.waiting.pop_front() else {
                break;
            };
            self.pile.extend(g.records);
            self.peak_open = self.peak_open.max(g.open);
            let horizon = g.oldest_open.unwrap_or(u64::MAX);
            while let Some(entry) = self.pile.first_entry() {
                if *entry.key() >= horizon {
                    break;
                }
                sink(entry.remove());
            }
            let decision = self
                .pile
                .len()
                .checked_sub(MAX_WAITING)
                .filter(|&excess| excess > 0)
                .and_then(|excess| self.pile.keys().nth(excess).copied());
            decided.push((self.next, decision));
            self.next += 1;
        }
        decided
    }

    /// End of input: the owners' last reports; hands out everything.
    fn finish(&mut self, reports: Vec<Report<T>>, sink: &mut dyn FnMut(T)) {
        let open = reports.iter().map(|r| r.open).sum();
        self.peak_open = self.peak_open.max(open);
        for r in reports {
            self.pile.extend(r.records);
        }
        while let Some((_, t)) = self.pile.pop_first() {
            sink(t);
        }
    }
}

/// Decisions by chunk, for the chunk they apply to.
#[derive(Default)]
struct Decisions {
    /// Decision of chunk `first + i`.
    known: VecDeque<Option<u64>>,
    first: usize,
}

impl Decisions {
    fn push(&mut self, chunk: usize, d: Option<u64>) {
        debug_assert_eq!(chunk, self.first + self.known.len());
        self.known.push_back(d);
    }

    /// What applies at the start of `chunk`: `None` while the decision is not known yet,
    /// `Some(None)` when there is nothing to do.
    fn at_start_of(&self, chunk: usize) -> Option<Option<u64>> {
        let Some(from) = chunk.checked_sub(DECISION_LAG) else {
            return Some(None);
        };
        self.known.get(from.checked_sub(self.first)?).copied()
    }

    /// Forgets decisions for chunks before `chunk`'s.
    fn forget_before(&mut self, chunk: usize) {
        let Some(from) = chunk.checked_sub(DECISION_LAG) else {
            return;
        };
        while self.first < from && !self.known.is_empty() {
            self.known.pop_front();
            self.first += 1;
        }
    }
}

/// Analyses a capture with one worker on the calling thread. `read` walks the capture in
/// order, handing out frames with their byte offsets (mapped or streamed alike).
pub fn inline<T>(
    name: &str,
    config: &Config,
    prepare: &(dyn Fn(Connection) -> T + Sync),
    sink: &mut dyn FnMut(T),
    read: impl FnOnce(
        &dyn SecretsSink,
        &mut dyn FnMut(&Frame<'_>),
    ) -> Result<CaptureSummary, crate::Error>,
) -> Result<InputStats, crate::Error> {
    let context = Arc::new(Context::new(config.keylog.clone()));
    let mut owner = Owner::new(name, 0, 1, config, prepare, &context);
    let mut merger = Merger::new(1);
    let mut decisions = Decisions::default();
    let mut skips = Skips::default();
    let mut defrag = Reassembler::default();
    let mut fragments = FragmentStats::default();
    let mut decoded = 0u64;
    let mut chunk = 0usize;
    let chunk_bytes = config.chunk_bytes();
    let progress = config.progress.as_deref();
    let mut unreported = 0u64;
    // Ends chunk `chunk`, starts the next one.
    let mut step = |owner: &mut Owner<'_, T>, chunk: &mut usize, sink: &mut dyn FnMut(T)| {
        let report = owner.report();
        for (k, d) in merger.add(*chunk, report, sink) {
            decisions.push(k, d);
        }
        *chunk += 1;
        if let Some(Some(frame)) = decisions.at_start_of(*chunk) {
            owner.force_before(frame);
        }
        decisions.forget_before(*chunk);
    };
    let summary = read(&*context.keys, &mut |f: &Frame<'_>| {
        if let Some(p) = progress {
            // Record header + captured bytes; published in batches to keep the hot path cheap.
            unreported += 16 + f.data.len() as u64;
            if unreported > 1 << 20 {
                p.fetch_add(unreported, Ordering::Relaxed);
                unreported = 0;
            }
        }
        let k = usize::try_from(f.offset).unwrap_or(usize::MAX) / chunk_bytes;
        while chunk < k {
            step(&mut owner, &mut chunk, sink);
        }
        let mut to_owner = |e: Event, skips: &mut Skips, owner: &mut Owner<'_, T>| {
            if let Some(shard) = shard_of_event(&e, skips, &mut fragments) {
                owner.event(shard, &e, f.number, f.ts);
            }
        };
        if owner.clock(f.ts) {
            defrag.tick(f.ts, &mut |e| to_owner(e, &mut skips, &mut owner));
        }
        match net::decode(f.link_type, f.data) {
            Ok(pkt) => {
                decoded += 1;
                if let Transport::Fragment(frag) = &pkt.transport {
                    defrag.fragment(&pkt, frag, f.number, f.ts, &mut |e| {
                        to_owner(e, &mut skips, &mut owner)
                    });
                } else {
                    owner.packet(shard_of(&pkt), &pkt, f.number, f.ts);
                }
            }
            Err(skip) => skips.add(skip),
        }
    })?;
    defrag.finish(&mut |e| {
        if let Some(shard) = shard_of_event(&e, &mut skips, &mut fragments) {
            owner.event(shard, &e, 0, Timestamp(0));
        }
    });
    fragments.add(&defrag.stats);
    // The chunks are done; the last report comes with the flows still open.
    let last = owner.finish(summary.truncated.clone());
    merger.finish(vec![last], sink);
    let mut stats = InputStats {
        capture: summary,
        packets_decoded: decoded,
        peak_open_flows: merger.peak_open,
        workers: 1,
        fragments,
        ..Default::default()
    };
    owner.add_stats(&mut stats);
    skips.into_stats(&mut stats.skipped);
    Ok(stats)
}

/// One packet a walker found, for the owner of its flow.
struct Item<'a> {
    /// Frame index within the chunk.
    index: u32,
    shard: u16,
    ts: Timestamp,
    packet: Packet<'a>,
}

/// One walked chunk: what confirming it needs, and what its owners get.
struct Walked<'a, 'p> {
    /// Where the walk began (None: no unit starts in the chunk, as far as the walker saw).
    start: Option<usize>,
    /// Where the next unit starts.
    end: usize,
    /// The state the walk began in, and the walker after it.
    began: Walker<'p>,
    walker: Walker<'p>,
    /// Walked from the true start and state (no check needed).
    exact: bool,
    decoded: u64,
    skips: Skips,
    work: Work<'a>,
}

/// What the owners of a chunk's flows get from it.
#[derive(Default)]
struct Work<'a> {
    /// Frames (index within the chunk, time) in a later second than every frame before them
    /// in the chunk: where owners may have to sweep.
    marks: Vec<(u32, Timestamp)>,
    /// Per owner.
    items: Vec<Vec<Item<'a>>>,
    /// The chunk's IP fragments, for the reassembler (index within the chunk, time).
    fragments: Vec<(u32, Timestamp, Packet<'a>)>,
    /// What reassembly gave each owner in this chunk, in order.
    extras: Vec<Vec<Extra>>,
}

/// A reassembly event for an owner, at a frame of the chunk (`u32::MAX`: after its last).
struct Extra {
    index: u32,
    ts: Timestamp,
    shard: u16,
    event: Event,
}

impl<'a, 'p> Walked<'a, 'p> {
    /// A chunk in which no unit starts.
    fn nothing(walker: Walker<'p>, at: usize, workers: usize) -> Self {
        Walked {
            start: None,
            end: at,
            began: walker.clone(),
            walker,
            exact: true,
            decoded: 0,
            skips: Skips::default(),
            work: Work {
                marks: Vec::new(),
                items: (0..workers).map(|_| Vec::new()).collect(),
                fragments: Vec::new(),
                extras: Vec::new(),
            },
        }
    }
}

/// Walks the units starting in `from..until` with `walker` — from `from` when the true start
/// is known, else from where a unit boundary seems to be — sorting the packets by owner.
fn walk_chunk<'a, 'p>(
    bytes: &'a [u8],
    walker: Walker<'p>,
    from: Option<usize>,
    chunk_start: usize,
    until: usize,
    lists: Vec<Vec<Item<'a>>>,
) -> Result<Walked<'a, 'p>, crate::Error> {
    let workers = lists.len();
    let exact = from.is_some();
    let Some(start) = from.or_else(|| walker.resync(bytes, chunk_start, until)) else {
        let mut w = Walked::nothing(walker, until, workers);
        w.exact = false;
        return Ok(w);
    };
    let mut walked = Walked {
        start: Some(start),
        exact,
        ..Walked::nothing(walker, start, workers)
    };
    walked.work.items = lists;
    let base = walked.walker.summary().frames;
    let mut second = i64::MIN;
    let Work {
        marks,
        items,
        fragments,
        ..
    } = &mut walked.work;
    let (decoded, skips) = (&mut walked.decoded, &mut walked.skips);
    walked.end = walked
        .walker
        .walk(bytes, start, until, &mut |f: &Frame<'a>| {
            let index = u32::try_from(f.number.saturating_sub(base + 1)).unwrap_or(u32::MAX);
            let s = f.ts.0.div_euclid(NS_PER_SEC);
            if s > second {
                second = s;
                marks.push((index, f.ts));
            }
            match net::decode(f.link_type, f.data) {
                Ok(packet) if matches!(packet.transport, Transport::Fragment(_)) => {
                    *decoded += 1;
                    fragments.push((index, f.ts, packet));
                }
                Ok(packet) => {
                    *decoded += 1;
                    let shard = shard_of(&packet);
                    if let Some(list) = items.get_mut(shard % workers) {
                        list.push(Item {
                            index,
                            shard: shard as u16,
                            ts: f.ts,
                            packet,
                        });
                    }
                }
                Err(skip) => skips.add(skip),
            }
        })?;
    Ok(walked)
}

/// A chunk between its walk and the last owner's use of it.
#[derive(Default)]
struct Slot<'a, 'p> {
    /// The walk, until the chunk is confirmed.
    walked: Option<Walked<'a, 'p>>,
    /// Set when the chunk is confirmed.
    work: Option<Work<'a>>,
    /// Frames before the chunk (set when it is confirmed).
    base: u64,
    /// Owners done with it.
    passed: usize,
}

/// What the workers of a sharded run share, behind one lock taken a few times per chunk.
struct Shared<'a, 'p> {
    chunks: usize,
    chunk_bytes: usize,
    /// Next chunk to walk.
    next_walk: usize,
    /// Chunks `first..` not yet used by every owner.
    slots: VecDeque<Slot<'a, 'p>>,
    first: usize,
    /// Chunks before this one are confirmed.
    confirmed: usize,
    /// The walk of every confirmed chunk together: the true state to go on from.
    chain: Walker<'p>,
    /// The state after the capture's leading header units: the guess for chunks walked
    /// before the first chunk is confirmed.
    template: Walker<'p>,
    /// Where the first unit after the confirmed chunks starts.
    chain_end: usize,
    /// Next chunk each owner processes.
    pos: Vec<usize>,
    /// Emptied per-owner lists, kept for the next walks: reusing them spares the allocator
    /// pages freed on one thread and wanted on another.
    spare: Vec<Vec<Item<'a>>>,
    decisions: Decisions,
    decoded: u64,
    skips: Skips,
    /// Every fragment of the capture passes here, in order, as chunks are confirmed.
    defrag: Reassembler,
    fragment_stats: FragmentStats,
    rewalked: u64,
    error: Option<crate::Error>,
    /// A worker panicked: the others stop (the driver re-raises the panic).
    aborted: bool,
}

impl<'a, 'p> Shared<'a, 'p> {
    fn slot(&mut self, chunk: usize) -> Option<&mut Slot<'a, 'p>> {
        let i = chunk.checked_sub(self.first)?;
        self.slots.get_mut(i)
    }

    /// The next chunk to walk, if the slowest owner is not too far behind; with what to walk
    /// it from: the true start and state when every chunk before it is confirmed, else the
    /// state last known (the start is guessed).
    /// One empty list per owner, reused when there are some.
    fn lists(&mut self, workers: usize) -> Vec<Vec<Item<'a>>> {
        (0..workers)
            .map(|_| self.spare.pop().unwrap_or_default())
            .collect()
    }

    /// An owner is done with a list.
    fn give_back(&mut self, mut list: Vec<Item<'a>>, workers: usize) {
        list.clear();
        if self.spare.len() < SPARE_LISTS_PER_WORKER * workers * workers {
            list.shrink_to(MAX_SPARE_ITEMS);
            self.spare.push(list);
        }
    }

    fn claim(&mut self, workers: usize) -> Option<(usize, Walker<'p>, Option<usize>)> {
        let k = self.next_walk;
        let lowest = self.pos.iter().copied().min().unwrap_or(0);
        if k >= self.chunks || k > lowest + LOOKAHEAD_PER_WORKER * workers {
            return None;
        }
        self.next_walk += 1;
        while self.first + self.slots.len() <= k {
            self.slots.push_back(Slot::default());
        }
        let frames = self.chain.summary().frames;
        if k == self.confirmed {
            let w = self.chain.successor(frames);
            Some((k, w, Some(self.chain_end)))
        } else {
            // Frame numbers in a guessed walk count from the chunk's start.
            let known = if self.confirmed == 0 {
                &self.template
            } else {
                &self.chain
            };
            Some((k, known.successor(0), None))
        }
    }

    /// Confirms the walked chunks that follow the confirmed ones, walking a chunk again from
    /// the true start and state when its walk guessed wrong.
    fn confirm(&mut self, bytes: &'a [u8], workers: usize) -> Result<(), crate::Error> {
        loop {
            let k = self.confirmed;
            let until = (k + 1).saturating_mul(self.chunk_bytes).min(bytes.len());
            let chain_end = self.chain_end;
            let frames = self.chain.summary().frames;
            let Some(walked) = self.slot(k).and_then(|s| s.walked.take()) else {
                return Ok(());
            };
            // Nothing starts in this chunk when the walk before stopped, or the unit before
            // runs past the chunk's end.
            let empty = self.chain.stopped() || chain_end >= until;
            let right = if walked.exact {
                true
            } else if empty {
                walked.start.is_none()
            } else {
                walked.start == Some(chain_end)
                    && walked.walker.continues(&walked.began, &self.chain)
            };
            if !right {
                self.rewalked += 1;
            }
            let mut walked = if right {
                walked
            } else if empty {
                Walked::nothing(self.chain.successor(frames), chain_end, workers)
            } else {
                let w = self.chain.successor(frames);
                let lists = self.lists(workers);
                walk_chunk(bytes, w, Some(chain_end), chain_end, until, lists)?
            };
            if !empty {
                self.chain.absorb(walked.walker);
                self.chain_end = walked.end;
            }
            self.decoded += walked.decoded;
            self.skips.merge(walked.skips);
            self.reassemble(&mut walked.work, frames, k + 1 == self.chunks, workers);
            if let Some(slot) = self.slot(k) {
                slot.work = Some(walked.work);
                slot.base = frames;
            }
            self.confirmed += 1;
        }
    }

    /// Passes a confirmed chunk's fragments, and its new seconds, through the reassembler in
    /// frame order (a new second before the frame's own fragment, as one worker does it); the
    /// events go to the owners of their flows. After the last chunk, what is left is lost.
    fn reassemble(&mut self, work: &mut Work<'a>, base: u64, last: bool, workers: usize) {
        let Shared {
            defrag,
            skips,
            fragment_stats: stats,
            ..
        } = self;
        let mut extras: Vec<Vec<Extra>> = (0..workers).map(|_| Vec::new()).collect();
        let mut route = |e: Event, index: u32, ts: Timestamp| {
            if let Some(shard) = shard_of_event(&e, skips, stats) {
                if let Some(list) = extras.get_mut(shard % workers) {
                    let shard = shard as u16;
                    list.push(Extra {
                        index,
                        ts,
                        shard,
                        event: e,
                    });
                }
            }
        };
        let mut fragments = std::mem::take(&mut work.fragments).into_iter().peekable();
        let mut marks = work.marks.iter().copied().peekable();
        loop {
            let (fragment, mark) = (fragments.peek().map(|f| f.0), marks.peek().map(|m| m.0));
            match (fragment, mark) {
                (Some(f), Some(m)) if f < m => {}
                (Some(_), None) => {}
                (_, Some(_)) => {
                    if let Some((index, ts)) = marks.next() {
                        defrag.tick(ts, &mut |e| route(e, index, ts));
                    }
                    continue;
                }
                (None, None) => break,
            }
            if let Some((i, t, p)) = fragments.next() {
                if let Transport::Fragment(frag) = &p.transport {
                    let number = base + u64::from(i) + 1;
                    defrag.fragment(&p, frag, number, t, &mut |e| route(e, i, t));
                }
            }
        }
        if last {
            defrag.finish(&mut |e| route(e, u32::MAX, Timestamp(0)));
        }
        work.extras = extras;
    }

    /// Owner `w` is done with chunk `k`.
    fn pass(&mut self, k: usize, w: usize, workers: usize) {
        if let Some(p) = self.pos.get_mut(w) {
            *p = k + 1;
        }
        if let Some(slot) = self.slot(k) {
            slot.passed += 1;
        }
        while self
            .slots
            .front()
            .is_some_and(|s| s.passed == workers && s.work.is_some())
        {
            self.slots.pop_front();
            self.first += 1;
        }
        let lowest = self.pos.iter().copied().min().unwrap_or(0);
        self.decisions.forget_before(lowest);
    }
}

struct Coordination<'a, 'p> {
    shared: Mutex<Shared<'a, 'p>>,
    changed: Condvar,
    /// The run's protocol context, shared by every worker's flow tables.
    context: Arc<Context>,
}

impl<'a, 'p> Coordination<'a, 'p> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared<'a, 'p>> {
        // A worker that panicked is re-raised by the driver; the state is still consistent
        // enough for the others to stop.
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Analyses a capture held in memory with `workers` threads (see the module text).
pub fn sharded<T: Send>(
    name: &str,
    bytes: &[u8],
    config: &Config,
    workers: usize,
    prepare: &(dyn Fn(Connection) -> T + Sync),
    sink: &mut dyn FnMut(T),
) -> Result<InputStats, crate::Error> {
    let path = Path::new(name);
    let template = Walker::template(path, bytes)?;
    let chunk_bytes = config.chunk_bytes();
    let chunks = bytes.len().div_ceil(chunk_bytes).max(1);
    let coord = Coordination {
        shared: Mutex::new(Shared {
            chunks,
            chunk_bytes,
            next_walk: 0,
            slots: VecDeque::new(),
            first: 0,
            confirmed: 0,
            chain: Walker::new(path),
            template,
            chain_end: 0,
            pos: vec![0; workers],
            spare: Vec::new(),
            decisions: Decisions::default(),
            decoded: 0,
            skips: Skips::default(),
            defrag: Reassembler::default(),
            fragment_stats: FragmentStats::default(),
            rewalked: 0,
            error: None,
            aborted: false,
        }),
        changed: Condvar::new(),
        context: {
            // Walkers read chunks side by side: the secrets a capture carries are read first.
            let context = Context::new(config.keylog.clone());
            crate::capture::secrets_in(bytes, &*context.keys);
            Arc::new(context)
        },
    };
    let coord = &coord;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, Report<T>, Option<InputStats>)>();
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let tx = tx.clone();
            handles.push(scope.spawn(move || {
                run_worker(name, bytes, config, workers, w, prepare, coord, &tx);
            }));
        }
        drop(tx);
        let mut merger = Merger::new(workers);
        let mut last = Vec::with_capacity(workers);
        let mut stats = InputStats::default();
        for (chunk, report, done) in rx.iter() {
            if let Some(s) = done {
                last.push(report);
                stats.add(s);
                continue;
            }
            let decided = merger.add(chunk, report, sink);
            if !decided.is_empty() {
                let mut g = coord.lock();
                for (k, d) in decided {
                    g.decisions.push(k, d);
                }
                drop(g);
                coord.changed.notify_all();
            }
        }
        for h in handles {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
        let mut g = coord.lock();
        if let Some(e) = g.error.take() {
            return Err(e);
        }
        merger.finish(last, sink);
        stats.capture = std::mem::replace(&mut g.chain, Walker::new(path)).finish();
        stats.packets_decoded = g.decoded;
        std::mem::take(&mut g.skips).into_stats(&mut stats.skipped);
        stats.peak_open_flows = merger.peak_open;
        stats.chunks_rewalked = g.rewalked;
        stats.fragments.add(&g.defrag.stats);
        stats.fragments.add(&g.fragment_stats);
        Ok(stats)
    })
}

type Outbox<T> = mpsc::Sender<(usize, Report<T>, Option<InputStats>)>;

#[allow(clippy::too_many_arguments)] // reason: the worker's share of `sharded`'s locals
fn run_worker<'a, T>(
    name: &str,
    bytes: &'a [u8],
    config: &Config,
    workers: usize,
    w: usize,
    prepare: &(dyn Fn(Connection) -> T + Sync),
    coord: &Coordination<'a, '_>,
    tx: &Outbox<T>,
) {
    // Tells the other workers to stop if this one panics, so that none waits for it forever.
    struct Abort<'c, 'a, 'p>(&'c Coordination<'a, 'p>);
    impl Drop for Abort<'_, '_, '_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0.lock().aborted = true;
                self.0.changed.notify_all();
            }
        }
    }
    let _abort = Abort(coord);
    let mut owner = Owner::new(name, w, workers, config, prepare, &coord.context);
    let progress = config.progress.as_deref();
    let mut g = coord.lock();
    loop {
        if g.error.is_some() || g.aborted {
            break;
        }
        let j = g.pos.get(w).copied().unwrap_or(usize::MAX);
        if j >= g.chunks {
            break;
        }
        // Own work first: the oldest chunk this owner has not analysed, once it is confirmed
        // and the decision that applies at its start is known.
        if j < g.confirmed {
            if let Some(decision) = g.decisions.at_start_of(j) {
                let Some(slot) = g.slot(j) else { break };
                let base = slot.base;
                let (marks, items, extras) = match slot.work.as_mut() {
                    Some(work) => (
                        work.marks.clone(),
                        work.items
                            .get_mut(w)
                            .map(std::mem::take)
                            .unwrap_or_default(),
                        work.extras
                            .get_mut(w)
                            .map(std::mem::take)
                            .unwrap_or_default(),
                    ),
                    None => (Vec::new(), Vec::new(), Vec::new()),
                };
                drop(g);
                if let Some(frame) = decision {
                    owner.force_before(frame);
                }
                analyse_chunk(&mut owner, base, &marks, &items, &extras);
                let _ = tx.send((j, owner.report(), None));
                g = coord.lock();
                g.give_back(items, workers);
                g.pass(j, w, workers);
                coord.changed.notify_all();
                continue;
            }
        }
        if let Some((k, walker, from)) = g.claim(workers) {
            let lists = g.lists(workers);
            drop(g);
            let chunk_bytes = config.chunk_bytes();
            let chunk_start = k.saturating_mul(chunk_bytes);
            let until = (k + 1).saturating_mul(chunk_bytes).min(bytes.len());
            let walked = walk_chunk(bytes, walker, from, chunk_start, until, lists);
            if let Some(p) = progress {
                p.fetch_add(until.saturating_sub(chunk_start) as u64, Ordering::Relaxed);
            }
            g = coord.lock();
            match walked {
                Ok(walked) => {
                    if let Some(slot) = g.slot(k) {
                        slot.walked = Some(walked);
                    }
                    if let Err(e) = g.confirm(bytes, workers) {
                        g.error.get_or_insert(e);
                    }
                }
                Err(e) => {
                    g.error.get_or_insert(e);
                }
            }
            coord.changed.notify_all();
            continue;
        }
        g = coord.changed.wait(g).unwrap_or_else(|p| p.into_inner());
    }
    let truncated = g.chain.summary().truncated.clone();
    let failed = g.error.is_some() || g.aborted;
    drop(g);
    coord.changed.notify_all();
    let last = if failed {
        Report {
            records: Vec::new(),
            oldest_open: None,
            open: 0,
        }
    } else {
        owner.finish(truncated)
    };
    let mut stats = InputStats {
        workers: 1,
        ..Default::default()
    };
    owner.add_stats(&mut stats);
    let _ = tx.send((usize::MAX, last, Some(stats)));
}

/// An owner's share of one confirmed chunk: its packets and reassembly events, with the
/// sweeps due between them. At one frame, the sweep comes first, then the reassembly events
/// (a datagram timed out by the new second), then the frame's own packet, as with one worker.
fn analyse_chunk<T>(
    owner: &mut Owner<'_, T>,
    base: u64,
    marks: &[(u32, Timestamp)],
    items: &[Item<'_>],
    extras: &[Extra],
) {
    let mut marks = marks.iter().peekable();
    let mut extras = extras.iter().peekable();
    let mut clock = |owner: &mut Owner<'_, T>, upto: u32| {
        while let Some(&&(index, ts)) = marks.peek() {
            if index > upto {
                break;
            }
            owner.clock(ts);
            marks.next();
        }
    };
    for item in items {
        while let Some(e) = extras.next_if(|e| e.index <= item.index) {
            clock(owner, e.index);
            extra(owner, base, e);
        }
        clock(owner, item.index);
        let number = base + u64::from(item.index) + 1;
        owner.packet(usize::from(item.shard), &item.packet, number, item.ts);
    }
    for e in extras {
        clock(owner, e.index);
        extra(owner, base, e);
    }
    clock(owner, u32::MAX);
}

/// A reassembly event for `owner`, at its frame of the chunk after `base` frames.
fn extra<T>(owner: &mut Owner<'_, T>, base: u64, e: &Extra) {
    let number = base + u64::from(e.index) + 1;
    owner.event(usize::from(e.shard), &e.event, number, e.ts);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes as packets give them: spread, but also the small and regular values a careless
    /// mix would send to one part.
    fn hashes() -> impl Iterator<Item = u64> {
        let mut x = 0x1234_5678_9abc_def0u64;
        (0..20_000u64).map(move |i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 2 == 0 {
                x
            } else {
                i << 56
            }
        })
    }

    #[test]
    fn every_flow_hash_belongs_to_exactly_one_part() {
        for n in [1u32, 2, 7, 64] {
            for h in hashes() {
                let owners = (0..n).filter(|&k| Part { k, n }.holds(h)).count();
                assert_eq!(owners, 1, "hash {h:#x}, {n} parts");
            }
        }
    }

    #[test]
    fn parts_are_about_equal_and_each_spans_many_flow_tables() {
        let n = 7u32;
        let spread: Vec<u64> = hashes().step_by(2).collect();
        for k in 0..n {
            let part = Part { k, n };
            let mine: Vec<u64> = spread.iter().copied().filter(|&h| part.holds(h)).collect();
            let share = mine.len() as f64 / spread.len() as f64;
            assert!((share - 1.0 / 7.0).abs() < 0.02, "part {k}: share {share}");
            let tables: std::collections::BTreeSet<u64> = mine
                .iter()
                .map(|h| h >> (64 - SHARDS.trailing_zeros()))
                .collect();
            assert!(
                tables.len() > SHARDS / 2,
                "part {k} in {} tables",
                tables.len()
            );
        }
    }

    #[test]
    fn a_part_needs_k_below_n() {
        assert_eq!(Part::new(0, 1), Some(Part { k: 0, n: 1 }));
        assert_eq!(Part::new(6, 7), Some(Part { k: 6, n: 7 }));
        assert_eq!(Part::new(7, 7), None);
        assert_eq!(Part::new(0, 0), None);
    }
}
