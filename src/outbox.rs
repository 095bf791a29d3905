//! A connection's outgoing frames: one FIFO per connection, drained by a writer task that
//! batches whatever is queued into one socket write (or, for a connection a Qt gateway
//! translates, hands the batch to the gateway: [`FrameWriter`]).
//!
//! Ordering: everything a connection sends goes through its outbox in the order it was
//! pushed. A property change pushed while a slot runs is queued before the slot's reply,
//! which is pushed only when the slot finishes (DESIGN.md contract item 1).
//!
//! Bounded memory (contract item 8): once more than [`COALESCE_ABOVE`] bytes wait (the peer
//! reads slower than the source writes), a new value of a property replaces the older value
//! still queued for it: the old entry is dropped and the new one appended, so what the peer
//! sees stays in the order the source produced it, minus intermediate values (latest wins).
//! Frames that cannot be coalesced (signals, replies, inits) are never dropped; once more
//! than the connection's `max_queued` bytes of them wait, the connection is closed instead,
//! and the peer reconnects and re-initializes.

use crate::proto::FrameSink;
use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tracing::warn;

use crate::wire::SourceId;

/// Identifies one connection for the lifetime of the process.
pub(crate) use crate::proto::ConnId;

pub(crate) fn next_conn_id() -> ConnId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Queued bytes above which property values coalesce.
pub(crate) const COALESCE_ABOVE: usize = 256 * 1024;
/// The default for [`Outbox`]'s limit on queued bytes.
pub(crate) const DEFAULT_MAX_QUEUED: usize = 64 * 1024 * 1024;
/// Frames up to this size are copied into the batch buffer; larger ones are written as they
/// are, so a big property is never copied.
const COPY_LIMIT: usize = 16 * 1024;
/// The most the writer takes from the queue at once: the rest stays coalescable.
const BATCH_LIMIT: usize = 256 * 1024;
/// Small frames copied into the queue share buffers of up to this size (see
/// [`Outbox::push_copy`]).
const RUN_LIMIT: usize = COPY_LIMIT;
/// The first size of such a buffer: it grows as frames are added.
const RUN_START: usize = 256;

/// A property of a source: the unit of coalescing.
type PropertyKey = (SourceId, u16);

struct Entry {
    /// One frame, possibly in several pieces (a large init shares its values' buffers).
    pieces: Pieces,
    key: Option<PropertyKey>,
}

enum Pieces {
    One(Bytes),
    /// Small frames copied back to back into one buffer, and how many.
    Run {
        bytes: BytesMut,
        frames: usize,
    },
    Many(Vec<Bytes>),
    /// Nothing to write: run once everything queued before it is written.
    Marker(Marker),
}

/// What a marker runs: a subscriber that stopped sending because the peer fell behind
/// learns the peer caught up (see [`Outbox::push_marker`]).
pub(crate) type Marker = Box<dyn FnOnce() + Send>;

impl Entry {
    fn len(&self) -> usize {
        match &self.pieces {
            Pieces::One(frame) => frame.len(),
            Pieces::Run { bytes, .. } => bytes.len(),
            Pieces::Many(pieces) => pieces.iter().map(Bytes::len).sum(),
            Pieces::Marker(_) => 0,
        }
    }
}

#[derive(Default)]
struct State {
    /// `None` marks an entry coalesced away.
    entries: VecDeque<Option<Entry>>,
    /// The sequence number of `entries[0]`.
    front_seq: u64,
    /// How many frames were ever queued (several may share an entry).
    pushed: u64,
    /// Where each property's queued value is, by sequence number.
    queued_values: FxHashMap<PropertyKey, u64>,
    queued_bytes: usize,
    /// How many of `entries` are `None`.
    tombstones: usize,
    /// Flush what is queued, then shut the write side down.
    closing: bool,
    /// Stop at once: the peer fell too far behind.
    overflowed: bool,
    /// The writer has ended; nothing more is accepted.
    writer_gone: bool,
}

struct Shared {
    state: Mutex<State>,
    wake_writer: Notify,
    /// Stops the writer even inside a write that never returns (a peer that does not read
    /// and a socket window of zero): overflow and forced shutdown.
    abort_writer: Notify,
    max_queued: usize,
    /// Whether the writer takes frames as bytes, so small ones may be queued copied into
    /// shared buffers ([`FrameWriter::GATHERS_FRAMES`]).
    gathers: bool,
}

impl Shared {
    fn new(max_queued: usize, gathers: bool) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake_writer: Notify::new(),
            abort_writer: Notify::new(),
            max_queued,
            gathers,
        })
    }

    /// How many frames were ever queued, and how many bytes wait now.
    fn backlog(&self) -> (u64, usize) {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (state.pushed, state.queued_bytes)
    }
}

/// The sending side of a connection's outgoing queue. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Outbox {
    id: ConnId,
    shared: Arc<Shared>,
}

/// Why a connection's writer ended.
#[derive(Debug)]
pub(crate) enum WriterEnd {
    /// Closed on request, after flushing.
    Closed,
    /// The peer fell too far behind; the queue was dropped.
    Overflowed,
    /// Stopped on request without flushing (a shutdown that could not wait any longer).
    Aborted,
    /// The socket failed.
    Failed(std::io::Error),
}

/// Where a writer task puts the frames it takes from the queue.
pub(crate) trait FrameWriter {
    /// Whether it writes the frames' bytes back to back, wherever one ends (a socket). Then
    /// small frames may reach it copied together in one piece; a writer that needs each
    /// frame as it was pushed (a Qt translation, which shares its work per frame) says no.
    const GATHERS_FRAMES: bool = true;
    /// Takes `frames` (leaving it empty) and passes them on in order.
    fn write_frames(
        &mut self,
        frames: &mut Vec<Bytes>,
    ) -> impl std::future::Future<Output = std::io::Result<()>>;
    /// Nothing more will be written.
    fn shutdown(&mut self) -> impl std::future::Future<Output = std::io::Result<()>>;
}

/// A socket's write side as a [`FrameWriter`]: small frames are gathered into one buffer,
/// big ones written as they are.
struct SocketWriter<W> {
    writer: W,
    buffer: BytesMut,
}

impl<W: AsyncWrite + Unpin> FrameWriter for SocketWriter<W> {
    async fn write_frames(&mut self, frames: &mut Vec<Bytes>) -> std::io::Result<()> {
        write_frames(&mut self.writer, frames, &mut self.buffer).await
    }
    async fn shutdown(&mut self) -> std::io::Result<()> {
        self.writer.shutdown().await
    }
}

impl Outbox {
    /// An outbox and the writer future that drains it into `writer`.
    pub(crate) fn new<W>(
        id: ConnId,
        writer: W,
        max_queued: usize,
    ) -> (Outbox, impl std::future::Future<Output = WriterEnd>)
    where
        W: AsyncWrite + Unpin,
    {
        let writer = SocketWriter {
            writer,
            buffer: BytesMut::with_capacity(8 * 1024),
        };
        Outbox::with_writer(id, writer, max_queued)
    }

    /// An outbox and the writer future that drains it into any [`FrameWriter`].
    pub(crate) fn with_writer<W: FrameWriter>(
        id: ConnId,
        writer: W,
        max_queued: usize,
    ) -> (Outbox, impl std::future::Future<Output = WriterEnd>) {
        let shared = Shared::new(max_queued, W::GATHERS_FRAMES);
        let outbox = Outbox {
            id,
            shared: Arc::clone(&shared),
        };
        (outbox, write_loop(id, shared, writer))
    }

    pub(crate) fn id(&self) -> ConnId {
        self.id
    }

    /// An outbox with no writer: what is pushed stays queued until [`Outbox::drain`]
    /// takes it. For driving protocol sessions in memory.
    #[cfg(test)]
    pub(crate) fn detached(id: ConnId, max_queued: usize) -> Outbox {
        let shared = Shared::new(max_queued, true);
        Outbox { id, shared }
    }

    /// A detached outbox whose (absent) writer takes frames one by one, as a Qt
    /// translation's does.
    #[cfg(test)]
    pub(crate) fn detached_one_by_one(id: ConnId, max_queued: usize) -> Outbox {
        let shared = Shared::new(max_queued, false);
        Outbox { id, shared }
    }

    /// Every queued piece, as the writer would take it (for tests).
    #[cfg(test)]
    pub(crate) fn queued_pieces(&self) -> Vec<Bytes> {
        let mut pieces = Vec::new();
        self.lock().take_batch(&mut pieces);
        pieces
    }

    /// Takes every queued frame, in order, as the bytes a writer would write.
    #[cfg(test)]
    pub(crate) fn drain(&self) -> bytes::BytesMut {
        let mut pieces = Vec::new();
        loop {
            let mut state = self.lock();
            if state.entries.is_empty() {
                break;
            }
            let (_, marker) = state.take_batch(&mut pieces);
            drop(state);
            if let Some(marker) = marker {
                marker();
            }
        }
        let mut bytes = bytes::BytesMut::new();
        for piece in pieces {
            bytes.extend_from_slice(&piece);
        }
        bytes
    }

    /// Queues a frame that must arrive (replies, signals, inits…); false if the connection
    /// is gone or was just closed for falling too far behind.
    pub(crate) fn push(&self, frame: Bytes) -> bool {
        self.enqueue(Entry {
            pieces: Pieces::One(frame),
            key: None,
        })
    }

    /// Queues one frame given in pieces, written back to back with nothing in between.
    pub(crate) fn push_pieces(&self, pieces: Vec<Bytes>) -> bool {
        self.enqueue(Entry {
            pieces: Pieces::Many(pieces),
            key: None,
        })
    }

    /// Queues a property value, which may replace an older value of the same property still
    /// waiting when the peer is behind.
    pub(crate) fn push_property(&self, source: SourceId, index: u16, frame: Bytes) -> bool {
        self.enqueue(Entry {
            pieces: Pieces::One(frame),
            key: Some((source, index)),
        })
    }

    /// Queues a copy of a small frame (a property value, when `key` names it, or else one
    /// that must arrive). Frames copied one after another share a buffer: while the peer
    /// keeps up, queueing one costs neither an allocation nor a reference count. Once values
    /// may coalesce, a property's value gets a buffer of its own, which a newer one can
    /// replace.
    pub(crate) fn push_copy(&self, key: Option<PropertyKey>, frame: &[u8]) -> bool {
        if !self.shared.gathers {
            let frame = Bytes::copy_from_slice(frame);
            return self.enqueue(Entry {
                pieces: Pieces::One(frame),
                key,
            });
        }
        self.queue(key, frame.len(), |state, tracked| {
            state.append_copy(frame, key.filter(|_| tracked))
        })
    }

    /// Whether [`Outbox::push_copy`] gathers frames, or a writer needs them each in a
    /// buffer of its own (then one frame shared by every such connection costs less).
    pub(crate) fn gathers_frames(&self) -> bool {
        self.shared.gathers
    }

    /// Queues `marker`, which the writer runs once every frame queued before it is written
    /// (never, if the connection ends first); false if the connection is gone.
    pub(crate) fn push_marker(&self, marker: Marker) -> bool {
        self.enqueue(Entry {
            pieces: Pieces::Marker(marker),
            key: None,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the queue consistent before it can panic.
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn enqueue(&self, entry: Entry) -> bool {
        let (key, len) = (entry.key, entry.len());
        self.queue(key, len, |state, tracked| {
            let entry = Entry {
                key: key.filter(|_| tracked),
                ..entry
            };
            state.entries.push_back(Some(entry));
        })
    }

    /// Queues `len` bytes, which `put` appends to the state, told whether `key` (a
    /// property's value) is tracked and must therefore be an entry of its own. False if the
    /// connection is gone or was just closed for falling too far behind.
    fn queue(
        &self,
        key: Option<PropertyKey>,
        len: usize,
        put: impl FnOnce(&mut State, bool),
    ) -> bool {
        let mut state = self.lock();
        if state.closing || state.writer_gone {
            return false;
        }
        if let Some(key) = key {
            if state.queued_bytes > COALESCE_ABOVE && state.drop_queued_value(key) {
                crate::telemetry::value_coalesced();
            }
        }
        if state.queued_bytes > self.shared.max_queued {
            warn!(
                conn = self.id,
                queued_bytes = state.queued_bytes,
                "the peer reads too slowly; closing the connection"
            );
            state.overflowed = true;
            state.closing = true;
            drop(state);
            crate::telemetry::slow_peer_dropped();
            self.shared.abort_writer.notify_one();
            return false;
        }
        let was_empty = state.queued_bytes == 0;
        let seq = state.front_seq + state.entries.len() as u64;
        state.queued_bytes += len;
        state.pushed += 1;
        // Positions matter only once coalescing may start: below half the threshold the
        // writer is keeping up, and an untracked value is simply sent.
        let tracked = key.filter(|_| state.queued_bytes > COALESCE_ABOVE / 2);
        if let Some(key) = tracked {
            state.queued_values.insert(key, seq);
        }
        put(&mut state, tracked.is_some());
        drop(state);
        if was_empty {
            self.shared.wake_writer.notify_one();
        }
        true
    }

    /// Asks the writer to flush what is queued and shut the write side down.
    pub(crate) fn close(&self) {
        self.lock().closing = true;
        self.shared.wake_writer.notify_one();
    }

    /// Stops the writer at once, dropping what is queued, even in the middle of a write the
    /// peer never reads.
    pub(crate) fn abort(&self) {
        self.lock().closing = true;
        self.shared.abort_writer.notify_one();
    }

    /// Whether the peer is behind: more is queued than the point where property values
    /// start to coalesce (or half the limit, if that is lower). Frames that cannot coalesce
    /// but can be replaced by a summary (a model's diffs) stop there.
    pub(crate) fn is_lagging(&self) -> bool {
        self.lock().queued_bytes > COALESCE_ABOVE.min(self.shared.max_queued / 2)
    }

    /// Bytes waiting to be written (for tests and diagnostics).
    #[cfg(test)]
    pub(crate) fn queued_bytes(&self) -> usize {
        self.lock().queued_bytes
    }
}

impl State {
    /// Appends a copy of `frame`: to the run of copies at the back if there is room, else as
    /// a new entry (of its own if it is the tracked value of `key`).
    fn append_copy(&mut self, frame: &[u8], key: Option<PropertyKey>) {
        if key.is_none() {
            if let Some(Some(Entry {
                pieces: Pieces::Run { bytes, frames },
                ..
            })) = self.entries.back_mut()
            {
                if bytes.len() + frame.len() <= RUN_LIMIT {
                    bytes.extend_from_slice(frame);
                    *frames += 1;
                    return;
                }
            }
        }
        let pieces = match key {
            Some(_) => Pieces::One(Bytes::copy_from_slice(frame)),
            None => {
                let mut bytes = BytesMut::with_capacity(frame.len().max(RUN_START));
                bytes.extend_from_slice(frame);
                Pieces::Run { bytes, frames: 1 }
            }
        };
        self.entries.push_back(Some(Entry { pieces, key }));
    }

    /// Drops the queued value of `key`, if one waits; whether one did.
    fn drop_queued_value(&mut self, key: PropertyKey) -> bool {
        let Some(seq) = self.queued_values.remove(&key) else {
            return false;
        };
        let Some(slot) = self.entries.get_mut((seq - self.front_seq) as usize) else {
            return false;
        };
        let dropped = slot.take().inspect(|old| {
            self.queued_bytes -= old.len();
            self.tombstones += 1;
        });
        // A stalled peer's writer pops nothing: without this, dropped values would leave a
        // slot each behind. Compacting once most slots are empty keeps it amortized O(1).
        if self.tombstones > 1024 && self.tombstones * 2 > self.entries.len() {
            self.compact();
        }
        dropped.is_some()
    }

    fn compact(&mut self) {
        self.entries = self.entries.drain(..).filter(Option::is_some).collect();
        self.tombstones = 0;
        for (i, entry) in self.entries.iter().enumerate() {
            if let Some(Entry { key: Some(key), .. }) = entry {
                self.queued_values.insert(*key, self.front_seq + i as u64);
            }
        }
    }

    /// Takes queued frames, up to about [`BATCH_LIMIT`] bytes, and stops at a marker, which
    /// it hands back to run once those frames are written. Returns how many frames it took
    /// (more than the pieces in `into` when copies share a piece).
    fn take_batch(&mut self, into: &mut Vec<Bytes>) -> (usize, Option<Marker>) {
        let mut taken = 0;
        let mut frames = 0;
        while taken < BATCH_LIMIT {
            let Some(slot) = self.entries.pop_front() else {
                break;
            };
            let seq = self.front_seq;
            self.front_seq += 1;
            let Some(entry) = slot else {
                self.tombstones -= 1;
                continue;
            };
            if let Some(key) = entry.key {
                if self.queued_values.get(&key) == Some(&seq) {
                    self.queued_values.remove(&key);
                }
            }
            let len = entry.len();
            taken += len;
            self.queued_bytes -= len;
            frames += 1;
            match entry.pieces {
                Pieces::One(frame) => into.push(frame),
                Pieces::Run { bytes, frames: n } => {
                    into.push(bytes.freeze());
                    frames += n - 1;
                }
                Pieces::Many(pieces) => into.extend(pieces),
                Pieces::Marker(marker) => return (frames - 1, Some(marker)),
            }
        }
        (frames, None)
    }
}

impl FrameSink for Outbox {
    fn conn(&self) -> ConnId {
        self.id
    }
    fn push(&self, frame: Bytes) -> bool {
        Outbox::push(self, frame)
    }
}

async fn write_loop<W: FrameWriter>(id: ConnId, shared: Arc<Shared>, mut writer: W) -> WriterEnd {
    let end = drain(&shared, &mut writer).await;
    let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
    state.writer_gone = true;
    state.entries.clear();
    state.queued_values.clear();
    state.queued_bytes = 0;
    state.tombstones = 0;
    drop(state);
    if let WriterEnd::Failed(error) = &end {
        tracing::debug!(conn = id, %error, "write side closed");
    }
    end
}

async fn drain<W: FrameWriter>(shared: &Shared, writer: &mut W) -> WriterEnd {
    let mut frames = Vec::new();
    let mut pacing = Pacing::default();
    loop {
        let (closing, overflowed, taken, marker) = {
            let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
            let (taken, marker) = state.take_batch(&mut frames);
            (state.closing, state.overflowed, taken, marker)
        };
        pacing.found(taken);
        if overflowed {
            return WriterEnd::Overflowed;
        }
        // Every await races the abort: a peer that stops reading must not be able to hold
        // the writer (and with it the connection and its queue) forever.
        let step = async {
            if !frames.is_empty() {
                if let Err(e) = writer.write_frames(&mut frames).await {
                    return Some(WriterEnd::Failed(e));
                }
                if let Some(marker) = marker {
                    marker();
                }
                return None;
            }
            if let Some(marker) = marker {
                marker();
                return None;
            }
            if closing {
                return Some(match writer.shutdown().await {
                    Ok(()) => WriterEnd::Closed,
                    Err(e) => WriterEnd::Failed(e),
                });
            }
            shared.wake_writer.notified().await;
            pacing.before_write(|| shared.backlog()).await;
            None
        };
        tokio::select! {
            biased;
            () = shared.abort_writer.notified() => {
                let state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
                return if state.overflowed { WriterEnd::Overflowed } else { WriterEnd::Aborted };
            }
            ended = step => if let Some(end) = ended {
                return end;
            },
        }
    }
}

/// When a woken writer waits a turn of the event loop before it writes, so that what the
/// task that woke it queues next (the next change of a source emitting one per turn, the
/// same frame for the other connections) goes out in the same write. While every turn adds
/// to the batch (a source changing once per turn, without pause) it waits on, up to
/// [`Pacing::MAX_TURNS`] turns: one system call per that many changes, on this side and on
/// the reader's, instead of one per change. It waits only while that pays: a wait that
/// finds a lone frame (a reply to a round trip, a change of a quiet source) stops the
/// waiting for the next [`Pacing::PROBE_AFTER`] wakes, so a round trip costs it almost
/// nothing.
#[derive(Default)]
struct Pacing {
    /// Wakes left to write at once.
    skip: u32,
    /// The writer waited before this batch.
    waited: bool,
}

impl Pacing {
    const PROBE_AFTER: u32 = 64;
    /// The most turns a batch waits while a source keeps adding to it: the latency a busy
    /// stream pays for sending one write per this many changes.
    const MAX_TURNS: u32 = 16;
    /// Waiting stops once this much is queued: more would not make the write cheaper.
    const ENOUGH_BYTES: usize = 64 * 1024;

    /// Woken with something queued: waits (or not) before the batch is taken. `backlog`
    /// tells how many entries were ever queued and how many bytes wait: the wait goes on
    /// while each turn adds to the batch, up to [`Pacing::MAX_TURNS`] turns or until a
    /// write's worth waits.
    async fn before_write(&mut self, backlog: impl Fn() -> (u64, usize)) {
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        self.waited = true;
        let (mut seen, _) = backlog();
        for _ in 0..Self::MAX_TURNS {
            // Tokio runs the tasks a turn deferred in the reverse order they yielded, so one
            // yield would let this writer run before the task that woke it: two let it go on.
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            let (pushed, bytes) = backlog();
            if pushed == seen || bytes >= Self::ENOUGH_BYTES {
                break;
            }
            seen = pushed;
        }
    }

    /// The batch taken held `frames` frames.
    fn found(&mut self, frames: usize) {
        if std::mem::take(&mut self.waited) && frames <= 1 {
            self.skip = Self::PROBE_AFTER;
        }
    }
}

/// Writes `frames` in order: small ones gathered into one buffer, big ones as they are.
async fn write_frames<W: AsyncWrite + Unpin>(
    writer: &mut W,
    frames: &mut Vec<Bytes>,
    buffer: &mut BytesMut,
) -> std::io::Result<()> {
    crate::telemetry::write_batch(frames.iter().map(Bytes::len).sum());
    for frame in frames.drain(..) {
        if frame.len() <= COPY_LIMIT {
            buffer.extend_from_slice(&frame);
        } else {
            if !buffer.is_empty() {
                writer.write_all(buffer).await?;
                buffer.clear();
            }
            writer.write_all(&frame).await?;
        }
    }
    if !buffer.is_empty() {
        writer.write_all(buffer).await?;
        buffer.clear();
    }
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn frame(tag: u8, len: usize) -> Bytes {
        Bytes::from(vec![tag; len])
    }

    /// The size of the frames [`backed_up`] fills its queue with.
    const FILLER: usize = 1024;

    /// An outbox with no writer, holding more than values need to start coalescing: what
    /// the queue looks like behind a stalled peer.
    fn backed_up() -> Outbox {
        let outbox = Outbox::detached(1, DEFAULT_MAX_QUEUED);
        for _ in 0..=(COALESCE_ABOVE / FILLER) {
            outbox.push(frame(0, FILLER));
        }
        outbox
    }

    /// Records how many bytes each write carried.
    #[derive(Clone, Default)]
    struct CountingWriter(Arc<Mutex<Vec<usize>>>);

    impl CountingWriter {
        fn writes(&self) -> Vec<usize> {
            self.0.lock().unwrap().clone()
        }
    }

    impl FrameWriter for CountingWriter {
        async fn write_frames(&mut self, frames: &mut Vec<Bytes>) -> std::io::Result<()> {
            self.0
                .lock()
                .unwrap()
                .push(frames.iter().map(Bytes::len).sum());
            frames.clear();
            Ok(())
        }
        async fn shutdown(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_source_changing_once_per_turn_without_pause_costs_one_write_per_many_changes() {
        once_per_turn(|outbox, i| outbox.push_property(1, 0, Bytes::from(vec![i]))).await;
    }

    /// Copied frames share one entry: the writer must still see that each turn added one.
    #[tokio::test]
    async fn copied_changes_once_per_turn_also_cost_one_write_per_many() {
        once_per_turn(|outbox, i| outbox.push_copy(Some((1, 0)), &[i])).await;
    }

    /// Pushes 512 one-byte changes with `push`, one per turn of the event loop.
    async fn once_per_turn(push: impl Fn(&Outbox, u8) -> bool) {
        let counting = CountingWriter::default();
        let (outbox, writer) = Outbox::with_writer(1, counting.clone(), DEFAULT_MAX_QUEUED);
        let writer = tokio::spawn(writer);
        let changes = 512;
        for i in 0..changes {
            assert!(push(&outbox, i as u8));
            tokio::task::yield_now().await;
        }
        outbox.close();
        assert!(matches!(writer.await.unwrap(), WriterEnd::Closed));
        let writes = counting.writes();
        assert_eq!(writes.iter().sum::<usize>(), changes, "nothing lost");
        assert!(
            writes.len() <= changes / 8,
            "{} writes for {changes} changes: {writes:?}",
            writes.len()
        );
    }

    #[tokio::test]
    async fn a_lone_frame_is_written_within_a_few_turns() {
        let counting = CountingWriter::default();
        let (outbox, writer) = Outbox::with_writer(1, counting.clone(), DEFAULT_MAX_QUEUED);
        let writer = tokio::spawn(writer);
        for round in 1..=100 {
            outbox.push(Bytes::from_static(b"reply"));
            // What the writer waits for is the next change; with none coming it writes.
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
            assert_eq!(counting.writes().len(), round, "round {round}");
        }
        outbox.close();
        assert!(matches!(writer.await.unwrap(), WriterEnd::Closed));
    }

    #[tokio::test]
    async fn writes_frames_in_order_and_shuts_down_on_close() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let (outbox, writer) = Outbox::new(1, a, DEFAULT_MAX_QUEUED);
        let big = frame(7, COPY_LIMIT + 1);
        outbox.push(Bytes::from_static(b"one"));
        outbox.push(big.clone());
        outbox.push(Bytes::from_static(b"two"));
        outbox.close();
        assert!(matches!(writer.await, WriterEnd::Closed));
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, [&b"one"[..], &big[..], &b"two"[..]].concat());
        assert!(
            !outbox.push(Bytes::from_static(b"late")),
            "nothing is accepted after close"
        );
    }

    #[tokio::test]
    async fn a_marker_runs_once_what_was_queued_before_it_is_written_and_not_before() {
        let (a, mut b) = tokio::io::duplex(64);
        let (outbox, writer) = Outbox::new(1, a, DEFAULT_MAX_QUEUED);
        let writer = tokio::spawn(writer);
        let (ran_tx, mut ran_rx) = tokio::sync::oneshot::channel();
        outbox.push(frame(1, 1000));
        let after = outbox.clone();
        assert!(outbox.push_marker(Box::new(move || {
            // What a marker queues goes after everything before it.
            after.push(Bytes::from_static(b"after"));
            let _ = ran_tx.send(());
        })));
        // The peer has read nothing: the writer is stuck in the first frame.
        tokio::task::yield_now().await;
        assert!(
            ran_rx.try_recv().is_err(),
            "the marker waits for the frame before it"
        );
        let mut got = vec![0; 1000];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(got, vec![1; 1000]);
        ran_rx.await.unwrap();
        let mut tail = vec![0; 5];
        b.read_exact(&mut tail).await.unwrap();
        assert_eq!(&tail, b"after");
        outbox.close();
        assert!(matches!(writer.await.unwrap(), WriterEnd::Closed));
    }

    #[tokio::test]
    async fn a_backed_up_queue_keeps_only_the_latest_value_of_each_property_in_order() {
        let outbox = backed_up();
        let filler = FILLER;
        let before = outbox.queued_bytes();
        for v in 1..=1000u16 {
            outbox.push_property(1, 0, Bytes::from(v.to_le_bytes().to_vec()));
            if v == 500 {
                outbox.push(Bytes::from_static(b"signal"));
            }
        }
        // One queued value of the property (the latest), plus the signal.
        assert_eq!(outbox.queued_bytes(), before + 2 + 6);
        let mut state = outbox.lock();
        let mut tail: Vec<Bytes> = Vec::new();
        for entry in state.entries.drain(..).flatten() {
            if let Pieces::One(frame) = entry.pieces {
                if frame[0] != 0 || frame.len() != filler {
                    tail.push(frame);
                }
            }
        }
        assert_eq!(
            tail,
            vec![
                Bytes::from_static(b"signal"),
                Bytes::from(1000u16.to_le_bytes().to_vec())
            ]
        );
    }

    #[test]
    fn small_frames_copied_in_a_row_share_one_buffer_in_order() {
        let outbox = Outbox::detached(1, DEFAULT_MAX_QUEUED);
        for i in 0..100u8 {
            outbox.push_copy(Some((1, u16::from(i % 3))), &[i, i]);
            outbox.push_copy(None, &[i]);
        }
        assert_eq!(outbox.lock().entries.len(), 1);
        let expected: Vec<u8> = (0..100u8).flat_map(|i| [i, i, i]).collect();
        assert_eq!(&outbox.drain()[..], &expected[..]);
    }

    #[test]
    fn a_writer_that_takes_frames_one_by_one_gets_each_copy_alone() {
        let outbox = Outbox::detached_one_by_one(1, DEFAULT_MAX_QUEUED);
        for i in 0..10u8 {
            outbox.push_copy(None, &[i]);
        }
        let pieces = outbox.queued_pieces();
        assert_eq!(pieces, (0..10u8).map(|i| vec![i]).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_backed_up_queue_coalesces_copied_values_too() {
        let outbox = backed_up();
        let before = outbox.queued_bytes();
        for v in 1..=1000u16 {
            outbox.push_copy(Some((1, 0)), &v.to_le_bytes());
        }
        assert_eq!(
            outbox.queued_bytes(),
            before + 2,
            "only the latest value waits"
        );
    }

    #[tokio::test]
    async fn coalesced_values_leave_no_slots_behind() {
        let outbox = backed_up();
        for v in 0..1_000_000u32 {
            outbox.push_property(1, (v % 3) as u16, Bytes::from(v.to_le_bytes().to_vec()));
        }
        let state = outbox.lock();
        assert!(
            state.entries.len() < 2 * 1024 + 300,
            "{} slots",
            state.entries.len()
        );
        let values: Vec<_> = state
            .entries
            .iter()
            .flatten()
            .filter_map(|e| e.key)
            .collect();
        assert_eq!(values.len(), 3, "one queued value per property");
    }

    #[tokio::test]
    async fn values_are_not_coalesced_while_the_peer_keeps_up() {
        let (a, _b) = tokio::io::duplex(16);
        let (outbox, _writer) = Outbox::new(1, a, DEFAULT_MAX_QUEUED);
        for v in 0..100u8 {
            outbox.push_property(1, 0, Bytes::from(vec![v]));
        }
        assert_eq!(outbox.queued_bytes(), 100);
    }

    #[tokio::test]
    async fn overflow_stops_a_writer_stuck_in_a_write_the_peer_never_reads() {
        // A 16-byte pipe nobody reads: the first big frame blocks the writer forever.
        let (a, _b) = tokio::io::duplex(16);
        let (outbox, writer) = Outbox::new(1, a, 4096);
        let writer = tokio::spawn(writer);
        while outbox.push(frame(1, 1000)) {}
        let ended = tokio::time::timeout(std::time::Duration::from_secs(10), writer).await;
        assert!(matches!(ended, Ok(Ok(WriterEnd::Overflowed))), "{ended:?}");
        assert!(
            !outbox.push(frame(1, 1)),
            "nothing is accepted after overflow"
        );
    }

    #[tokio::test]
    async fn abort_stops_a_flush_the_peer_never_reads() {
        let (a, _b) = tokio::io::duplex(16);
        let (outbox, writer) = Outbox::new(1, a, DEFAULT_MAX_QUEUED);
        let writer = tokio::spawn(writer);
        outbox.push(frame(1, 1000));
        outbox.close();
        outbox.abort();
        let ended = tokio::time::timeout(std::time::Duration::from_secs(10), writer).await;
        assert!(matches!(ended, Ok(Ok(WriterEnd::Aborted))), "{ended:?}");
    }

    #[tokio::test]
    async fn a_backlog_of_frames_that_must_arrive_closes_the_connection() {
        let (a, _b) = tokio::io::duplex(16);
        let (outbox, writer) = Outbox::new(1, a, 4096);
        let mut accepted = 0;
        while outbox.push(frame(1, 1000)) {
            accepted += 1;
            assert!(accepted < 100, "never refused");
        }
        assert_eq!(accepted, 5, "one frame past the limit is the last accepted");
        assert!(matches!(writer.await, WriterEnd::Overflowed));
    }
}
