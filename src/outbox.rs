//! A connection's outgoing frames: one FIFO per connection, drained by a writer task that
//! batches whatever is queued into one socket write and flushes when the queue is empty.
//!
//! Everything a connection sends goes through its outbox in the order it was pushed. That is
//! what keeps the contract's ordering: a property change pushed while a slot runs is queued
//! before the slot's reply, which is pushed only when the slot finishes.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Identifies one connection for the lifetime of the process.
pub(crate) type ConnId = u64;

pub(crate) fn next_conn_id() -> ConnId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

enum Outgoing {
    Frame(Bytes),
    /// Flush what is queued, then shut the write side down.
    Close,
}

/// The sending side of a connection's outgoing queue. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Outbox {
    id: ConnId,
    tx: mpsc::UnboundedSender<Outgoing>,
}

/// Frames up to this size are copied into the batch buffer; larger ones are written as they
/// are, so a big property is never copied.
const COPY_LIMIT: usize = 16 * 1024;
/// Stop batching once this much is buffered, so one write does not grow without bound.
const BATCH_LIMIT: usize = 256 * 1024;

impl Outbox {
    /// An outbox and the writer future that drains it into `writer`. The future ends when
    /// the outbox is closed (after flushing) or every clone is dropped, or on a write error.
    pub(crate) fn new<W>(
        id: ConnId,
        writer: W,
    ) -> (
        Outbox,
        impl std::future::Future<Output = std::io::Result<()>>,
    )
    where
        W: AsyncWrite + Unpin,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        (Outbox { id, tx }, write_loop(rx, writer))
    }

    pub(crate) fn id(&self) -> ConnId {
        self.id
    }

    /// Queues a frame; false if the connection's writer is gone.
    pub(crate) fn push(&self, frame: Bytes) -> bool {
        self.tx.send(Outgoing::Frame(frame)).is_ok()
    }

    /// Asks the writer to flush what is queued and shut the write side down.
    pub(crate) fn close(&self) {
        let _ = self.tx.send(Outgoing::Close);
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    mut writer: W,
) -> std::io::Result<()> {
    let mut batch = BytesMut::with_capacity(8 * 1024);
    'outer: while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        // Take everything already queued before touching the socket.
        while let Some(item) = next {
            match item {
                Outgoing::Frame(frame) if frame.len() <= COPY_LIMIT => {
                    batch.extend_from_slice(&frame)
                }
                Outgoing::Frame(frame) => {
                    write_batch(&mut writer, &mut batch).await?;
                    writer.write_all(&frame).await?;
                }
                Outgoing::Close => {
                    write_batch(&mut writer, &mut batch).await?;
                    break 'outer;
                }
            }
            if batch.len() >= BATCH_LIMIT {
                write_batch(&mut writer, &mut batch).await?;
            }
            next = rx.try_recv().ok();
        }
        write_batch(&mut writer, &mut batch).await?;
        writer.flush().await?;
    }
    writer.flush().await?;
    writer.shutdown().await
}

async fn write_batch<W: AsyncWrite + Unpin>(
    writer: &mut W,
    batch: &mut BytesMut,
) -> std::io::Result<()> {
    if !batch.is_empty() {
        writer.write_all(batch).await?;
        batch.clear();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn writes_frames_in_order_and_shuts_down_on_close() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let (outbox, writer) = Outbox::new(1, a);
        let big = Bytes::from(vec![7u8; COPY_LIMIT + 1]);
        outbox.push(Bytes::from_static(b"one"));
        outbox.push(big.clone());
        outbox.push(Bytes::from_static(b"two"));
        outbox.close();
        writer.await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        let expected = [&b"one"[..], &big[..], &b"two"[..]].concat();
        assert_eq!(got, expected);
    }
}
