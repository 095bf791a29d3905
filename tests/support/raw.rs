//! A raw client for fault tests: speaks the wire protocol by hand over a real socket.

use actix_remote_objects::wire::{Encoding, Handshake, Packet, PacketCodec};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::TIMEOUT;

pub struct RawClient {
    pub stream: TcpStream,
    buf: bytes::BytesMut,
    codec: PacketCodec,
}

impl RawClient {
    pub async fn connect(url: &str) -> RawClient {
        let addr = url.strip_prefix("tcp://").expect("a tcp URL");
        RawClient::from_stream(TcpStream::connect(addr).await.unwrap())
    }

    /// Either end of a connection: a fake host uses this on an accepted socket.
    pub fn from_stream(stream: TcpStream) -> RawClient {
        RawClient {
            stream,
            buf: bytes::BytesMut::new(),
            codec: PacketCodec::default(),
        }
    }

    /// Connects and completes a correct handshake, consuming the host's object list.
    pub async fn handshaken(url: &str) -> RawClient {
        let mut c = RawClient::connect(url).await;
        c.send(&Packet::Handshake(Handshake::ours(Encoding::Bincode)))
            .await;
        assert!(matches!(c.recv().await, Some(Packet::Handshake(_))));
        assert!(matches!(c.recv().await, Some(Packet::ObjectList(_))));
        c
    }

    pub async fn send(&mut self, packet: &Packet) {
        self.stream.write_all(&packet.to_frame()).await.unwrap();
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        // The host may already have closed the connection: that is what some tests expect.
        let _ = self.stream.write_all(bytes).await;
    }

    /// The next packet, or `None` once the host closed the connection.
    pub async fn recv(&mut self) -> Option<Packet> {
        use tokio_util::codec::Decoder;
        loop {
            if let Some(p) = self
                .codec
                .decode(&mut self.buf)
                .expect("the host sent a bad frame")
            {
                return Some(p);
            }
            let mut chunk = [0u8; 4096];
            let n = match tokio::time::timeout(TIMEOUT, self.stream.read(&mut chunk))
                .await
                .expect("timed out reading")
            {
                Ok(n) => n,
                Err(_) => return None, // reset by the host
            };
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads until the host closes the connection, returning what it sent first.
    pub async fn until_closed(&mut self) -> Vec<Packet> {
        let mut got = Vec::new();
        while let Some(p) = self.recv().await {
            got.push(p);
        }
        got
    }
}
