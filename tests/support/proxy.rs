//! An in-test TCP fault proxy between a node and a host: passes bytes through, stalls them
//! (sockets stay open, nothing moves), cuts every connection (and refuses new ones), severs
//! the current connections only, delays each chunk, or ends each connection once the host
//! has answered (a persistent fault that lets every handshake through).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Stall,
    Cut,
    Delay(Duration),
    /// Forwards the host's first chunk (its handshake answer), then closes the connection.
    AnswerOnce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    mode: Mode,
    /// Connections accepted under an older generation are closed.
    generation: u64,
}

pub struct FaultProxy {
    url: String,
    state: watch::Sender<State>,
    accept: tokio::task::JoinHandle<()>,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    from_host: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `target` (a `tcp://` URL).
    pub async fn start(target: &str) -> FaultProxy {
        let target = target.strip_prefix("tcp://").expect("a tcp URL").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("tcp://{}", listener.local_addr().unwrap());
        let (state, _) = watch::channel(State {
            mode: Mode::Pass,
            generation: 0,
        });
        let states = state.clone();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&accepted);
        let from_host = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let host_bytes = std::sync::Arc::clone(&from_host);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let now = *states.borrow();
                if now.mode == Mode::Cut {
                    continue; // dropped: the connection is refused
                }
                let Ok(upstream) = TcpStream::connect(&target).await else {
                    continue;
                };
                let bytes = std::sync::Arc::clone(&host_bytes);
                tokio::spawn(relay(
                    client,
                    upstream,
                    states.subscribe(),
                    now.generation,
                    bytes,
                ));
            }
        });
        FaultProxy {
            url,
            state,
            accept,
            accepted,
            from_host,
        }
    }

    /// How many bytes it has passed from the host to its clients.
    pub fn bytes_from_host(&self) -> u64 {
        self.from_host.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many connections it has accepted (refused ones included).
    pub fn connections(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Ends each connection, from now on, once the host's first chunk went through.
    pub fn answer_once(&self) {
        self.state.send_modify(|s| s.mode = Mode::AnswerOnce);
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn pass(&self) {
        self.state.send_modify(|s| s.mode = Mode::Pass);
    }

    pub fn stall(&self) {
        self.state.send_modify(|s| s.mode = Mode::Stall);
    }

    pub fn delay(&self, by: Duration) {
        self.state.send_modify(|s| s.mode = Mode::Delay(by));
    }

    /// Closes every connection and refuses new ones until [`FaultProxy::pass`].
    pub fn cut(&self) {
        self.state.send_modify(|s| {
            s.mode = Mode::Cut;
            s.generation += 1;
        });
    }

    /// Closes the current connections; new ones pass.
    pub fn sever(&self) {
        self.state.send_modify(|s| {
            s.mode = Mode::Pass;
            s.generation += 1;
        });
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

async fn relay(
    client: TcpStream,
    upstream: TcpStream,
    state: watch::Receiver<State>,
    generation: u64,
    from_host: std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    // When either direction ends, both sockets are dropped: the connection is closed.
    tokio::select! {
        _ = pump(client_read, upstream_write, state.clone(), generation, None) => {}
        _ = pump(upstream_read, client_write, state, generation, Some(from_host)) => {}
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut state: watch::Receiver<State>,
    generation: u64,
    // The host's side counts what it passes here.
    from_host: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
) {
    let closed = |s: &State| s.generation != generation || s.mode == Mode::Cut;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            changed = state.changed() => {
                if changed.is_err() || closed(&state.borrow()) {
                    return;
                }
                continue;
            }
        };
        // Hold the bytes while stalled; drop them if the connection is cut meanwhile.
        loop {
            let now = *state.borrow_and_update();
            if closed(&now) {
                return;
            }
            match now.mode {
                Mode::Pass | Mode::AnswerOnce => break,
                Mode::Delay(by) => {
                    tokio::time::sleep(by).await;
                    break;
                }
                Mode::Stall | Mode::Cut => {
                    if state.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        if let Some(count) = &from_host {
            count.fetch_add(n as u64, std::sync::atomic::Ordering::SeqCst);
        }
        if from_host.is_some() && state.borrow().mode == Mode::AnswerOnce {
            return;
        }
    }
}
