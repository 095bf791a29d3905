//! Runs a gateway ([`HostGateway`] or [`NodeGateway`]) between a Qt peer's stream and a
//! native session.

use bytes::{Bytes, BytesMut};
use futures::{FutureExt, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_util::codec::{Decoder, FramedRead};
use tracing::{debug, warn};

use super::gateway::HostGateway;
use super::node_gateway::NodeGateway;
use crate::transport::Transport;
use crate::wire::qt::{QtPacket, TypeRegistry};
use crate::wire::{Packet, PacketCodec};

/// Qt's frames: a little-endian `u32` length, then that many bytes (QTRO.md §3.1), at most
/// `max` of them. A forged length reserves nothing before its bytes arrive.
pub(crate) struct QtFrames {
    max: usize,
}

/// A Qt frame that is too large.
#[derive(Debug, thiserror::Error)]
pub(crate) enum QtFrameError {
    #[error("a Qt frame of {size} bytes is larger than the {max} allowed")]
    TooLarge { size: usize, max: usize },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Decoder for QtFrames {
    type Item = BytesMut;
    type Error = QtFrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, QtFrameError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let size = u32::from_le_bytes([src[0], src[1], src[2], src[3]]) as usize;
        if size > self.max {
            return Err(QtFrameError::TooLarge {
                size,
                max: self.max,
            });
        }
        if src.len() < 4 + size {
            src.reserve((4 + size - src.len()).min(64 * 1024));
            return Ok(None);
        }
        let mut frame = src.split_to(4 + size);
        Ok(Some(frame.split_off(4)))
    }
}

async fn write_all<W: AsyncWrite + Unpin>(out: &mut W, bytes: &[u8]) -> bool {
    out.write_all(bytes).await.is_ok() && out.flush().await.is_ok()
}

/// At most this many packets are translated before what they produced is written.
const BATCH: usize = 256;

/// One side of a translation: a gateway between a Qt peer and a native session.
pub(crate) trait Translator {
    /// What ends the connection.
    type Error: std::fmt::Display;
    /// A packet from the Qt peer.
    fn on_qt(&mut self, packet: QtPacket) -> Result<(), Self::Error>;
    /// A packet from the native session.
    fn on_native(&mut self, packet: Packet) -> Result<(), Self::Error>;
    /// What to send the native session.
    fn take_to_native(&mut self) -> Vec<Packet>;
    /// What to send the Qt peer.
    fn take_to_qt(&mut self) -> Vec<QtPacket>;
    /// Whether there is anything to send the Qt peer.
    fn has_to_qt(&self) -> bool;
    /// Whether `packet` translates the same on every connection that receives it, so one
    /// translation of a frame fanned out to many can serve them all.
    fn translates_alike(&self, packet: &Packet) -> bool;
    /// The named types to read the Qt peer's frames with.
    fn types(&self) -> &TypeRegistry;
}

impl Translator for HostGateway {
    type Error = super::gateway::GatewayError;
    fn on_qt(&mut self, packet: QtPacket) -> Result<(), Self::Error> {
        HostGateway::from_qt(self, packet)
    }
    fn on_native(&mut self, packet: Packet) -> Result<(), Self::Error> {
        self.from_host(packet)
    }
    fn take_to_native(&mut self) -> Vec<Packet> {
        self.take_to_host()
    }
    fn take_to_qt(&mut self) -> Vec<QtPacket> {
        HostGateway::take_to_qt(self)
    }
    fn has_to_qt(&self) -> bool {
        HostGateway::has_to_qt(self)
    }
    fn translates_alike(&self, packet: &Packet) -> bool {
        HostGateway::translates_alike(self, packet)
    }
    fn types(&self) -> &TypeRegistry {
        HostGateway::types(self)
    }
}

impl Translator for NodeGateway {
    type Error = super::node_gateway::NodeGatewayError;
    fn on_qt(&mut self, packet: QtPacket) -> Result<(), Self::Error> {
        NodeGateway::from_qt(self, packet)
    }
    fn on_native(&mut self, packet: Packet) -> Result<(), Self::Error> {
        self.from_node(packet)
    }
    fn take_to_native(&mut self) -> Vec<Packet> {
        self.take_to_node()
    }
    fn take_to_qt(&mut self) -> Vec<QtPacket> {
        NodeGateway::take_to_qt(self)
    }
    fn has_to_qt(&self) -> bool {
        NodeGateway::has_to_qt(self)
    }
    fn translates_alike(&self, _: &Packet) -> bool {
        // A Qt host's connections each carry their own bytes: nothing is fanned out here.
        false
    }
    fn types(&self) -> &TypeRegistry {
        NodeGateway::types(self)
    }
}

/// How many batches of the Qt peer's packets wait for the native session at most: past
/// them the gateway stops reading the Qt peer (the session reads no faster than its calls
/// finish).
const NATIVE_BATCHES: usize = 4;

/// A batch of packets for the native session, with the room it takes while it waits (the
/// gateway's own answers to the session take none: they must never wait on it).
type ForNative = (Vec<Packet>, Option<tokio::sync::OwnedSemaphorePermit>);

/// The translator, and the native session's input (`None` once closed): packets are taken
/// from the one and sent to the other under one lock, so they reach the session in the
/// order the gateway decided them.
struct Translating<G> {
    gateway: G,
    to_native: Option<tokio::sync::mpsc::UnboundedSender<ForNative>>,
}

/// What a gateway's two halves share: the reader of the Qt peer's frames (a task of its
/// own) and the writer that takes the native session's frames (the session's outbox
/// writer). Packets cross to the native session as they are, with no framing, pipe or
/// second parse; frames from it are translated and written to the Qt peer by the outbox's
/// own writer task, as a native connection's are written by it.
struct Link<G> {
    gateway: std::sync::Mutex<Translating<G>>,
    /// Room for the Qt peer's batches on their way to the native session.
    room: std::sync::Arc<tokio::sync::Semaphore>,
    /// The Qt peer's write side. Whoever holds it takes what the gateway queued for Qt and
    /// writes it, so Qt packets go out in the order the gateway decided them.
    qt_write: tokio::sync::Mutex<tokio::io::WriteHalf<Box<dyn Transport>>>,
    /// Tells the reader that the native side ended the connection.
    ended: tokio::sync::Notify,
}

impl<G: Translator> Link<G> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Translating<G>> {
        // Every gateway call leaves it consistent before it could panic.
        self.gateway.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes what the gateway decided for the Qt peer, in one write; false if the peer
    /// is gone.
    async fn flush_qt(&self) -> bool {
        if !self.lock().gateway.has_to_qt() {
            return true;
        }
        let mut qt = self.qt_write.lock().await;
        let mut frames = Vec::new();
        encode_to_qt(&mut self.lock().gateway, &mut frames);
        frames.is_empty() || write_all(&mut *qt, &frames).await
    }

    /// Closes the native session's input and the Qt peer's write side.
    async fn close(&self) {
        self.lock().to_native.take();
        let _ = self.qt_write.lock().await.shutdown().await;
    }
}

impl<G: Translator> Translating<G> {
    /// Hands the native session what the gateway decided for it, taking `room` if it
    /// waits for the session; false once the session is gone.
    fn send_native(&mut self, room: Option<tokio::sync::OwnedSemaphorePermit>) -> bool {
        let Some(native) = &self.to_native else {
            return false;
        };
        let packets = self.gateway.take_to_native();
        packets.is_empty() || native.send((packets, room)).is_ok()
    }
}

/// The native session's side of a gateway: what it reads, and what its outbox writes into.
pub(crate) struct NativeEnd<G> {
    pub(crate) packets: NativePackets,
    pub(crate) writer: LinkWriter<G>,
}

/// The packets the gateway hands a native session, one at a time.
pub(crate) struct NativePackets {
    from_gateway: tokio::sync::mpsc::UnboundedReceiver<ForNative>,
    batch: std::vec::IntoIter<Packet>,
}

impl futures::Stream for NativePackets {
    type Item = Result<Packet, crate::wire::FrameError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        loop {
            if let Some(packet) = self.batch.next() {
                return std::task::Poll::Ready(Some(Ok(packet)));
            }
            match std::task::ready!(self.from_gateway.poll_recv(cx)) {
                // Taken in: its room is the Qt peer's again.
                Some((batch, _room)) => self.batch = batch.into_iter(),
                None => return std::task::Poll::Ready(None),
            }
        }
    }
}

/// At most this many bytes of fanned-out frames and their translations are kept: enough
/// for every Qt connection's writer to find what another translated even when one drains
/// a whole backlog before the next runs.
const KEPT_BYTES: usize = 4 << 20;
/// Frames larger than this are translated by each connection (one would crowd out
/// hundreds of small ones, and copying it costs about what translating it does).
const LARGEST_KEPT: usize = KEPT_BYTES / 16;

/// The Qt translations of the frames a host fans out, shared by its Qt connections: a
/// change sent to eight Qt replicas is translated once, not eight times.
///
/// A fanned-out frame is one buffer pushed to every subscriber, so it is known by where
/// its bytes are. Each entry holds the frame itself, so that buffer cannot be freed and
/// reused for another frame while its translation is kept.
#[derive(Default)]
pub(crate) struct Translations {
    kept: std::sync::Mutex<Kept>,
}

/// Frame (by address and length) → (the frame, its translation), oldest first in `order`.
#[derive(Default)]
struct Kept {
    by_frame: rustc_hash::FxHashMap<(usize, usize), (Bytes, Bytes)>,
    order: std::collections::VecDeque<(usize, usize)>,
    bytes: usize,
}

fn frame_key(frame: &Bytes) -> (usize, usize) {
    (frame.as_ptr() as usize, frame.len())
}

impl Translations {
    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The translation kept for `frame`, if any.
    fn get(&self, frame: &Bytes) -> Option<Bytes> {
        let kept = self.lock();
        kept.by_frame
            .get(&frame_key(frame))
            .map(|(_, qt)| qt.clone())
    }

    fn keep(&self, frame: Bytes, qt: Bytes) {
        let size = frame.len() + qt.len();
        if size > LARGEST_KEPT {
            return;
        }
        let mut kept = self.lock();
        let key = frame_key(&frame);
        if kept.by_frame.insert(key, (frame, qt)).is_some() {
            return;
        }
        kept.order.push_back(key);
        kept.bytes += size;
        while kept.bytes > KEPT_BYTES {
            let Some(oldest) = kept.order.pop_front() else {
                break;
            };
            if let Some((frame, qt)) = kept.by_frame.remove(&oldest) {
                kept.bytes -= frame.len() + qt.len();
            }
        }
    }
}

/// A native session's outbox writer that translates its frames for the Qt peer and
/// writes them.
pub(crate) struct LinkWriter<G> {
    link: std::sync::Arc<Link<G>>,
    frames: NativeFrames,
    /// The host's shared translations (a node has none).
    shared: Option<std::sync::Arc<Translations>>,
}

/// Appends what `gateway` decided for the Qt peer to `out`, as frames.
fn encode_to_qt<G: Translator>(gateway: &mut G, out: &mut Vec<u8>) {
    for packet in &gateway.take_to_qt() {
        if let Err(error) = packet.append_frame(out, gateway.types()) {
            warn!(%error, kind = packet.kind(), "a Qt packet that cannot be written: dropped");
        }
    }
}

/// Translates one native packet into `out`, through `shared` when it translates alike
/// everywhere; false when it ends the connection.
fn translate<G: Translator>(
    gateway: &mut G,
    packet: Packet,
    frame: Option<&Bytes>,
    shared: Option<&Translations>,
    out: &mut Vec<u8>,
) -> bool {
    let (Some(frame), Some(shared)) = (frame, shared) else {
        return handle_native(gateway, packet);
    };
    if !gateway.translates_alike(&packet) {
        return handle_native(gateway, packet);
    }
    // What was decided before it goes out before it.
    encode_to_qt(gateway, out);
    if let Some(qt) = shared.get(frame) {
        out.extend_from_slice(&qt);
        crate::telemetry::qt_translation_shared();
        return true;
    }
    let start = out.len();
    let going_on = handle_native(gateway, packet);
    encode_to_qt(gateway, out);
    shared.keep(frame.clone(), Bytes::copy_from_slice(&out[start..]));
    going_on
}

fn gateway_ended() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the Qt connection ended")
}

impl<G: Translator> crate::outbox::FrameWriter for LinkWriter<G> {
    // Translations are shared per frame pushed, across the connections it went to.
    const GATHERS_FRAMES: bool = false;

    async fn write_frames(&mut self, frames: &mut Vec<Bytes>) -> std::io::Result<()> {
        // Held while translating, so what the reader decides meanwhile goes out after.
        let mut qt = self.link.qt_write.lock().await;
        let mut out = Vec::new();
        let going_on = {
            let mut guard = self.link.lock();
            let gateway = &mut *guard;
            let shared = self.shared.as_deref();
            let read = self.frames.read(std::mem::take(frames), |packet, frame| {
                translate(&mut gateway.gateway, packet, frame, shared, &mut out)
            });
            let going_on = match read {
                Ok(going_on) => going_on,
                Err(error) => {
                    warn!(%error, "the native side of a Qt connection wrote what does not decode");
                    false
                }
            };
            // What the gateway decided goes out even when it ends the connection (a last
            // RemoveObject).
            encode_to_qt(&mut gateway.gateway, &mut out);
            // The gateway's own answers to the session (rare: an acquire after a
            // description) never wait for room: the session may be waiting on this write.
            gateway.send_native(None) && going_on
        };
        if !out.is_empty() {
            crate::telemetry::write_batch(out.len());
        }
        let written = out.is_empty() || write_all(&mut *qt, &out).await;
        if going_on && written {
            Ok(())
        } else {
            self.link.ended.notify_one();
            Err(gateway_ended())
        }
    }

    async fn shutdown(&mut self) -> std::io::Result<()> {
        self.link.flush_qt().await;
        self.link.close().await;
        self.link.ended.notify_one();
        Ok(())
    }
}

/// Starts translating between `qt` (a Qt peer) and a native session, which reads and
/// writes through the end this returns, until either side closes or breaks the protocol.
pub(crate) fn start_gateway<G: Translator + 'static>(
    gateway: G,
    qt: Box<dyn Transport>,
    max_frame_size: usize,
    shared: Option<std::sync::Arc<Translations>>,
) -> NativeEnd<G> {
    let (qt_read, qt_write) = tokio::io::split(qt);
    let (to_native, from_gateway) = tokio::sync::mpsc::unbounded_channel();
    let link = std::sync::Arc::new(Link {
        gateway: std::sync::Mutex::new(Translating {
            gateway,
            to_native: Some(to_native),
        }),
        room: std::sync::Arc::new(tokio::sync::Semaphore::new(NATIVE_BATCHES)),
        qt_write: tokio::sync::Mutex::new(qt_write),
        ended: tokio::sync::Notify::new(),
    });
    let frames = FramedRead::new(
        qt_read,
        QtFrames {
            max: max_frame_size,
        },
    );
    actix::spawn(read_qt(std::sync::Arc::clone(&link), frames));
    NativeEnd {
        packets: NativePackets {
            from_gateway,
            batch: Vec::new().into_iter(),
        },
        writer: LinkWriter {
            link,
            frames: NativeFrames::new(max_frame_size),
            shared,
        },
    }
}

/// Reads the Qt peer's frames into the gateway and hands on what it decides, until the
/// peer or the native side ends the connection.
async fn read_qt<G: Translator>(
    link: std::sync::Arc<Link<G>>,
    mut qt_frames: FramedRead<tokio::io::ReadHalf<Box<dyn Transport>>, QtFrames>,
) {
    // Resolves once the native session is gone, however it ended (an overflowed queue
    // ends it without a word to the gateway).
    let Some(native) = link.lock().to_native.clone() else {
        return;
    };
    // The gateway's first packets (the handshakes) go out before anything is read.
    let mut going_on = link.lock().send_native(None) && link.flush_qt().await;
    while going_on {
        let frame = tokio::select! {
            biased;
            () = link.ended.notified() => break,
            () = native.closed() => break,
            frame = next_when_room(&link.room, &mut qt_frames) => frame,
        };
        let Some((frame, room)) = frame else { break };
        {
            let mut guard = link.lock();
            let gateway = &mut *guard;
            going_on = handle_qt(&mut gateway.gateway, frame);
            // Whatever else has already arrived is translated before the next write.
            for _ in 0..BATCH {
                let Some(frame) = qt_frames.next().now_or_never().filter(|_| going_on) else {
                    break;
                };
                going_on = handle_qt(&mut gateway.gateway, frame);
            }
            // What the gateway decided goes out even when it ends the connection.
            going_on &= gateway.send_native(Some(room));
        }
        going_on &= link.flush_qt().await;
    }
    // Its clone would keep the session's input open.
    drop(native);
    link.close().await;
}

/// The Qt peer's next frame, once there is room for what it may send the native session.
async fn next_when_room(
    room: &std::sync::Arc<tokio::sync::Semaphore>,
    frames: &mut FramedRead<tokio::io::ReadHalf<Box<dyn Transport>>, QtFrames>,
) -> Option<(
    Option<Result<BytesMut, QtFrameError>>,
    tokio::sync::OwnedSemaphorePermit,
)> {
    let permit = std::sync::Arc::clone(room).acquire_owned().await.ok()?;
    Some((frames.next().await, permit))
}

/// Reads the packets in the frames a native session's writer hands over: a frame queued
/// whole is read where it lies; one queued in pieces is put together first.
struct NativeFrames {
    codec: PacketCodec,
    partial: BytesMut,
}

impl NativeFrames {
    fn new(max_frame_size: usize) -> Self {
        NativeFrames {
            codec: PacketCodec::new(max_frame_size),
            partial: BytesMut::new(),
        }
    }

    /// Hands every packet in `frames` to `each`, in order; stops at the first that does
    /// not decode (our own session wrote it, so that is a bug, and ends the connection).
    fn read(
        &mut self,
        frames: Vec<Bytes>,
        mut each: impl FnMut(Packet, Option<&Bytes>) -> bool,
    ) -> Result<bool, crate::wire::FrameError> {
        for piece in frames {
            if self.partial.is_empty() && is_whole_frame(&piece) {
                let packet = Packet::decode(piece.slice(4..))?;
                if !each(packet, Some(&piece)) {
                    return Ok(false);
                }
                continue;
            }
            self.partial.extend_from_slice(&piece);
            while let Some(packet) = self.codec.decode(&mut self.partial)? {
                if !each(packet, None) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// Whether `piece` is exactly one frame: its length prefix, then that many bytes.
fn is_whole_frame(piece: &[u8]) -> bool {
    piece.len() >= 4
        && u32::from_be_bytes([piece[0], piece[1], piece[2], piece[3]]) as usize == piece.len() - 4
}

fn handle_qt<G: Translator>(
    gateway: &mut G,
    frame: Option<Result<BytesMut, QtFrameError>>,
) -> bool {
    match frame {
        Some(Ok(frame)) => match QtPacket::decode(&frame, gateway.types()) {
            Ok(packet) => match gateway.on_qt(packet) {
                Ok(()) => true,
                Err(error) => {
                    warn!(%error, "closing a Qt connection");
                    false
                }
            },
            Err(error) => {
                warn!(%error, "a Qt peer sent a frame that does not decode: closing its connection");
                false
            }
        },
        Some(Err(QtFrameError::Io(error))) => {
            debug!(%error, "a Qt connection ended");
            false
        }
        Some(Err(error)) => {
            warn!(%error, "closing a Qt connection");
            false
        }
        None => {
            debug!("the Qt peer closed its connection");
            false
        }
    }
}

fn handle_native<G: Translator>(gateway: &mut G, packet: Packet) -> bool {
    match gateway.on_native(packet) {
        Ok(()) => true,
        Err(error) => {
            warn!(%error, "closing a Qt connection");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_translation_is_found_by_its_frame_buffer_and_never_by_equal_bytes() {
        let shared = Translations::default();
        let frame = Bytes::from(vec![1, 2, 3]);
        shared.keep(frame.clone(), Bytes::from_static(b"qt"));
        assert_eq!(shared.get(&frame.clone()), Some(Bytes::from_static(b"qt")));
        // The same bytes in another buffer are another frame.
        assert_eq!(shared.get(&Bytes::from(vec![1, 2, 3])), None);
        // A slice of it is not it either.
        assert_eq!(shared.get(&frame.slice(0..2)), None);
    }

    #[test]
    fn only_the_newest_translations_are_kept_within_the_budget() {
        let shared = Translations::default();
        let chunk = LARGEST_KEPT / 2;
        let count = KEPT_BYTES / (2 * chunk) + 1;
        let frames: Vec<Bytes> = (0..count).map(|_| Bytes::from(vec![0; chunk])).collect();
        for frame in &frames {
            shared.keep(frame.clone(), frame.clone());
        }
        assert_eq!(shared.get(&frames[0]), None);
        assert_eq!(shared.get(&frames[1]), Some(frames[1].clone()));
        assert_eq!(
            shared.get(&frames[count - 1]),
            Some(frames[count - 1].clone())
        );
        assert!(shared.lock().bytes <= KEPT_BYTES);
        // One frame too large to keep is left to each connection.
        let large = Bytes::from(vec![0; LARGEST_KEPT]);
        shared.keep(large.clone(), Bytes::from_static(b"qt"));
        assert_eq!(shared.get(&large), None);
    }
}
