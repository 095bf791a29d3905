//! Large byte strings as `SharedBytes`: a replica decodes them without copying them out of
//! the frame they arrived in, in an init, a property change, a signal and a reply. Checked by
//! allocation: a copy is an allocation of exactly the value's length on the replica's thread
//! (the frames' read buffer is never that size: it holds the frame's header too), and the
//! host runs on a thread of its own, so its allocations do not count.

mod support;

use std::alloc::{GlobalAlloc, Layout, System as SystemAlloc};
use std::cell::Cell;

use actix::prelude::*;
use actix_remote_objects::prelude::*;
use actix_remote_objects::SharedBytes;
use futures::StreamExt;
use gallery::ReplicaExt;
use support::*;

/// Not a power of two, so no buffer grown by doubling is exactly this long.
const LARGE: usize = (8 << 20) + 12_345;

thread_local! {
    /// Allocations of exactly `LARGE` bytes made by this thread.
    static COPIES: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting each thread's allocations of `LARGE` bytes.
struct CountingCopies;

fn allocating(size: usize) {
    if size == LARGE {
        // `try_with`: a thread being torn down has no counter any more.
        let _ = COPIES.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every call is passed on to the system allocator unchanged; only a counter moves.
unsafe impl GlobalAlloc for CountingCopies {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        allocating(layout.size());
        unsafe { SystemAlloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { SystemAlloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        allocating(new_size);
        unsafe { SystemAlloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingCopies = CountingCopies;

/// How many copies of a `LARGE` value this thread made while `during` ran.
async fn copies_during<F: std::future::Future>(during: F) -> (F::Output, u64) {
    let before = COPIES.with(Cell::get);
    let output = during.await;
    (output, COPIES.with(Cell::get) - before)
}

actix_remote_objects::remote_object! {
    /// Pictures, large and small.
    pub Gallery {
        /// The current picture.
        prop image: SharedBytes;
        /// A short caption: small, so it is copied.
        prop caption: SharedBytes;
        /// A picture taken, sent as a signal.
        signal shot(frame: SharedBytes);
        /// A picture of `len` bytes, as a reply.
        slot fetch(len: u32) -> SharedBytes;
        /// Emits `shot` with a picture of `len` bytes.
        slot take(len: u32);
    }
}

struct GalleryService {
    remote: gallery::SimpleSource,
}

impl Actor for GalleryService {
    type Context = Context<Self>;
}

impl RemoteSource for GalleryService {
    type Api = Gallery;
    fn simple_source(&self) -> &gallery::SimpleSource {
        &self.remote
    }
}

fn picture(len: u32) -> SharedBytes {
    SharedBytes::from((0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

impl Handler<gallery::Fetch> for GalleryService {
    type Result = SlotResult<SharedBytes>;
    fn handle(&mut self, msg: gallery::Fetch, _: &mut Context<Self>) -> Self::Result {
        Ok(picture(msg.len))
    }
}

impl Handler<gallery::Take> for GalleryService {
    type Result = SlotResult<()>;
    fn handle(&mut self, msg: gallery::Take, _: &mut Context<Self>) -> Self::Result {
        self.remote.emit_shot(picture(msg.len))?;
        Ok(())
    }
}

/// The value arrived whole, and this thread made no copy of it.
fn arrived_without_a_copy(what: &str, value: &SharedBytes, expected: SharedBytes, copies: u64) {
    assert!(value == &expected, "{what}: the bytes differ");
    assert_eq!(copies, 0, "{what}: the replica copied the value");
}

/// A host serving a `Gallery` on a thread of its own (an actix system of its own): its URL,
/// and the source's state, for setting the image from the test.
fn gallery_host(url: &str) -> (String, gallery::SimpleSource) {
    let (tx, rx) = std::sync::mpsc::channel();
    let url = url.to_owned();
    std::thread::spawn(move || {
        System::new().block_on(async move {
            let host = Host::listen(&url).await.unwrap();
            let remote = gallery::SimpleSource::default();
            remote.set_image(picture(LARGE as u32)).unwrap();
            remote
                .set_caption(SharedBytes::from(&b"sunset"[..]))
                .unwrap();
            host.enable_remoting(GalleryService {
                remote: remote.clone(),
            })
            .await
            .unwrap();
            tx.send((host.url().unwrap().to_owned(), remote)).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().expect("the host thread failed")
}

async fn a_large_value_shares_the_frame_it_arrived_in(url: &str) {
    let _guard = init();
    let (url, remote) = gallery_host(url);
    let node = Node::connect(&url).await.unwrap();

    let (replica, copies) = copies_during(async {
        let replica = node.acquire::<Gallery>();
        replica.wait_for_source(TIMEOUT).await.unwrap();
        replica
    })
    .await;
    arrived_without_a_copy("init", &replica.image(), picture(LARGE as u32), copies);
    assert_eq!(&replica.caption()[..], b"sunset", "a small value, copied");

    let mut events = replica.events();
    let (change, copies) = copies_during(async {
        remote.set_image(picture(LARGE as u32 - 1)).unwrap();
        loop {
            if let Event::PropertyChanged(gallery::PropertyChange::Image(image)) =
                next_event(&mut events).await
            {
                break image;
            }
        }
    })
    .await;
    arrived_without_a_copy("change", &change, picture(LARGE as u32 - 1), copies);

    let mut signals = replica.signals();
    let (shot, copies) = copies_during(async {
        replica
            .call(gallery::Take { len: LARGE as u32 })
            .await
            .unwrap();
        let gallery::Signal::Shot(shot) = next(&mut signals).await;
        shot.frame
    })
    .await;
    arrived_without_a_copy("signal", &shot, picture(LARGE as u32), copies);

    let (reply, copies) = copies_during(replica.call(gallery::Fetch { len: LARGE as u32 })).await;
    arrived_without_a_copy("reply", &reply.unwrap(), picture(LARGE as u32), copies);
    // Through the replica actor as well (`send`), whose completion decodes.
    let (reply, copies) = copies_during(replica.send(gallery::Fetch { len: LARGE as u32 })).await;
    arrived_without_a_copy(
        "reply (send)",
        &reply.unwrap().unwrap(),
        picture(LARGE as u32),
        copies,
    );

    assert_eq!(
        replica.call(gallery::Fetch { len: 3 }).await.unwrap(),
        picture(3),
        "a small reply, copied"
    );
    node.shutdown().await;
}

async fn next_event<S: futures::Stream + Unpin>(events: &mut S) -> S::Item {
    tokio::time::timeout(TIMEOUT, events.next())
        .await
        .expect("no event in time")
        .expect("the stream ended")
}

over_tcp_and_unix!(a_large_value_shares_the_frame_it_arrived_in);
