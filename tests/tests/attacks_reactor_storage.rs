//! Attacks on how the reactor stores what the program gives it
//! (`uring/src/reactor/slab.rs`, `cell.rs`, `core.rs`, `future.rs`,
//! `remote.rs`): values kept inline in a slot's storage when they fit and
//! are aligned, boxed otherwise, moved out once and dropped once.
//!
//! Safe code chooses the size, the alignment and the drop of every
//! callback (its captures), and can drop, forget, move and poll futures,
//! streams, handles and wakers in any order. The suite gives the reactor
//! callbacks of zero size, of exactly the inline room and one byte more,
//! over-aligned ones (16, 64 and 4096 bytes), captures whose drop panics,
//! queues, shuts the reactor down or drops futures and streams of the same
//! reactor; multishot callbacks whose captures are looked at in place
//! while the slab grows under them; futures and streams dropped by their
//! own wakers, polled after their end and moved between polls; values
//! refused at their push (a deadline on a one-entry SQ, a shut-down
//! reactor), buffer-ring buffers among them; a `Remote` racing the
//! reactor's drop from another thread. Each test counts what really
//! happened: every value called at most once and dropped exactly once
//! with its bytes intact, at the alignment its type asks for, every byte
//! received where it was meant to go, descriptors closed when the last
//! owner goes.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{self, Read as _, Write as _};
use std::mem::{align_of_val, size_of, size_of_val};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::LocalKey;
use std::time::{Duration, Instant};

use uring::reactor::ops::{Nop, PollMulti, Recv, RecvRing, Send as SendOp, Timeout};
use uring::reactor::{Handle, OpFuture, OpId, OpStream, Reactor, SharedFd};
use uring::{BufferGroup, PollEvents, Ring};
use uring_tests::{poll_once, run_for, skip, watchdog};

thread_local! {
    /// Payloads whose callback ran.
    static CALLS: Cell<usize> = const { Cell::new(0) };
    /// Payloads dropped.
    static DROPS: Cell<usize> = const { Cell::new(0) };
    /// Payloads found with bytes other than their own, or misaligned.
    static BROKEN: Cell<usize> = const { Cell::new(0) };
    /// The seeds of the payloads whose callback ran, in order.
    static SEEN: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

fn bump(counter: &'static LocalKey<Cell<usize>>) {
    counter.with(|c| c.set(c.get() + 1));
}

fn get(counter: &'static LocalKey<Cell<usize>>) -> usize {
    counter.with(Cell::get)
}

/// Zeroes the counters of this thread.
fn reset() {
    for counter in [&CALLS, &DROPS, &BROKEN] {
        counter.with(|c| c.set(0));
    }
    SEEN.with(|s| s.borrow_mut().clear());
}

/// The seeds seen, sorted.
fn seen_sorted() -> Vec<u32> {
    let mut seen = SEEN.with(|s| s.borrow().clone());
    seen.sort_unstable();
    seen
}

/// Byte `i` of the pattern of `seed`.
fn byte(seed: u32, i: usize) -> u8 {
    let x = seed.wrapping_mul(0x9E37_79B9) ^ (i as u32).wrapping_mul(0x85EB_CA6B);
    (x ^ (x >> 13) ^ (x >> 24)) as u8
}

/// A value a callback captures: it checks its bytes when its callback runs
/// and when it is dropped, and counts both.
trait Payload: 'static {
    fn make(seed: u32) -> Self;
    /// What the callback does with it: checks it and counts a call.
    fn touch(&self);
    /// The seed it records, if it has room for one.
    fn seed(&self) -> Option<u32>;
}

/// `N` bytes of a pattern: the seed in the first four (when they fit), the
/// pattern of the seed after.
struct Canary<const N: usize>([u8; N]);

impl<const N: usize> Canary<N> {
    fn intact(&self) -> bool {
        let seed = self.seed().unwrap_or(0);
        let from = if N >= 4 { 4 } else { 0 };
        self.0[from..]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == byte(seed, i + from))
    }
}

impl<const N: usize> Payload for Canary<N> {
    fn make(seed: u32) -> Self {
        let mut bytes = [0u8; N];
        if N >= 4 {
            bytes[..4].copy_from_slice(&seed.to_le_bytes());
            for (i, b) in bytes.iter_mut().enumerate().skip(4) {
                *b = byte(seed, i);
            }
        } else {
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = byte(0, i);
            }
        }
        Canary(bytes)
    }

    fn touch(&self) {
        if !self.intact() {
            bump(&BROKEN);
        }
        bump(&CALLS);
        if let Some(seed) = self.seed() {
            SEEN.with(|s| s.borrow_mut().push(seed));
        }
    }

    fn seed(&self) -> Option<u32> {
        (N >= 4).then(|| u32::from_le_bytes([self.0[0], self.0[1], self.0[2], self.0[3]]))
    }
}

impl<const N: usize> Drop for Canary<N> {
    fn drop(&mut self) {
        if !self.intact() {
            bump(&BROKEN);
        }
        bump(&DROPS);
    }
}

/// Payloads aligned to more than the slot's storage is.
macro_rules! aligned {
    ($name:ident, $align:literal) => {
        #[repr(C, align($align))]
        struct $name<P>(P);

        impl<P: Payload> Payload for $name<P> {
            fn make(seed: u32) -> Self {
                $name(P::make(seed))
            }

            fn touch(&self) {
                if (self as *const Self as usize) % $align != 0 {
                    bump(&BROKEN);
                }
                self.0.touch();
            }

            fn seed(&self) -> Option<u32> {
                self.0.seed()
            }
        }
    };
}

aligned!(A8, 8);
aligned!(A16, 16);
aligned!(A64, 64);
aligned!(A4096, 4096);

/// A callback that captures `payload` and nothing else (its size and
/// alignment are the payload's), and expects success.
fn callback_of<P: Payload>(payload: P) -> impl FnOnce(io::Result<u32>, ()) + 'static {
    move |res, ()| {
        if res.is_err() {
            bump(&BROKEN);
        }
        payload.touch();
    }
}

/// Queues a NOP whose callback holds a `P` of `seed`.
fn queue_payload<P: Payload>(h: &Handle, seed: u32, expected: &mut Vec<u32>) {
    let payload = P::make(seed);
    expected.extend(payload.seed());
    h.queue(Nop, callback_of(payload)).unwrap();
}

/// A socket pair whose first end a multishot poll watches: each ring is
/// one wake-up.
struct Bell {
    fd: SharedFd,
    reader: UnixStream,
    writer: UnixStream,
}

impl Bell {
    fn new() -> Bell {
        let (a, b) = UnixStream::pair().unwrap();
        let reader = a.try_clone().unwrap();
        reader.set_nonblocking(true).unwrap();
        Bell {
            fd: SharedFd::new(a),
            reader,
            writer: b,
        }
    }

    fn ring(&self) {
        (&self.writer).write_all(b"!").unwrap();
    }

    /// Reads what the rings sent.
    fn drain(&self) {
        let mut buf = [0u8; 64];
        while let Ok(n) = (&self.reader).read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }

    fn poll(&self) -> PollMulti {
        PollMulti::new(&self.fd, PollEvents::IN)
    }
}

/// Whether the peer of `peer` is closed: reads what is left, and then
/// finds the end of the stream (rather than no data yet).
fn peer_closed(peer: &UnixStream) -> bool {
    peer.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match (&*peer).read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            // Closed with bytes unread.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
            Err(e) => panic!("reading the peer: {e}"),
        }
    }
}

/// An empty vector of `cap` bytes of capacity, all written once (so that
/// memcheck, which does not see the kernel's writes through the ring,
/// takes what a receive fills for initialised).
fn spare(cap: usize) -> Vec<u8> {
    let mut v = vec![0u8; cap];
    v.clear();
    v
}

/// A deadline no test reaches.
fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

/// A reactor whose SQ has one entry: an op with a deadline (two SQEs)
/// never fits, and is refused after its value went into a slot.
fn one_entry_reactor() -> Reactor {
    Reactor::from_ring(Ring::new(1).unwrap()).unwrap()
}

/// Counts its drops; panics in its drop when told to.
struct Bomb {
    drops: Rc<Cell<usize>>,
    explode: bool,
}

impl Drop for Bomb {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
        if self.explode {
            panic!("a capture's drop panics");
        }
    }
}

/// Runs `f`, which must panic; the panic's message is not printed twice.
fn must_panic<R>(f: impl FnOnce() -> R) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    assert!(r.is_err(), "the panic reaches the caller");
}

#[test]
fn callbacks_at_and_around_the_inline_room_keep_their_bytes_and_drop_once() {
    let _watch = watchdog();
    // The captures are exactly the sizes and alignments named: the
    // storage's 96 bytes (12 words) and one byte more, over-aligned ones.
    assert_eq!(size_of_val(&callback_of(Canary::<96>::make(0))), 96);
    assert_eq!(size_of_val(&callback_of(Canary::<97>::make(0))), 97);
    assert_eq!(align_of_val(&callback_of(A8::<Canary<96>>::make(0))), 8);
    assert_eq!(size_of_val(&callback_of(A8::<Canary<96>>::make(0))), 96);
    assert_eq!(align_of_val(&callback_of(A16::<Canary<80>>::make(0))), 16);
    assert_eq!(
        align_of_val(&callback_of(A4096::<Canary<8>>::make(0))),
        4096
    );
    reset();
    let reactor = Reactor::new().unwrap();
    let mut expected = Vec::new();
    const EACH: u32 = 300;
    // Interleaved, so that every slot's neighbours hold values of other
    // sizes, inline and boxed, across many chunks of the slab (256 slots
    // each): a value written past its room would change a neighbour.
    for seed in 0..EACH {
        let h = &reactor;
        let e = &mut expected;
        queue_payload::<Canary<0>>(h, seed, e);
        queue_payload::<Canary<1>>(h, seed, e);
        queue_payload::<Canary<8>>(h, seed, e);
        queue_payload::<Canary<95>>(h, seed, e);
        queue_payload::<Canary<96>>(h, seed, e);
        queue_payload::<Canary<97>>(h, seed, e);
        queue_payload::<Canary<104>>(h, seed, e);
        queue_payload::<Canary<256>>(h, seed, e);
        queue_payload::<A8<Canary<96>>>(h, seed, e);
        queue_payload::<A16<Canary<16>>>(h, seed, e);
        queue_payload::<A16<Canary<80>>>(h, seed, e);
        queue_payload::<A64<Canary<64>>>(h, seed, e);
        queue_payload::<A4096<Canary<8>>>(h, seed, e);
    }
    let total = 13 * EACH as usize;
    assert_eq!(reactor.in_flight() as usize, total);
    assert_eq!(get(&CALLS), 0);
    assert_eq!(get(&DROPS), 0, "nothing dropped while queued");
    reactor.run().unwrap();
    assert_eq!(reactor.in_flight(), 0);
    assert_eq!(get(&CALLS), total, "every callback ran once");
    assert_eq!(get(&DROPS), total, "every capture dropped once");
    assert_eq!(get(&BROKEN), 0, "a capture changed or misaligned");
    expected.sort_unstable();
    assert_eq!(seen_sorted(), expected, "each callback saw its own bytes");
}

#[test]
fn zero_sized_callbacks_and_futures_of_any_alignment() {
    let _watch = watchdog();
    let plain = |res: io::Result<u32>, ()| {
        assert_eq!(res.unwrap(), 0);
        bump(&CALLS);
    };
    assert_eq!(size_of_val(&plain), 0);
    let zst = A4096::<Canary<0>>::make(0);
    assert_eq!((size_of_val(&zst), align_of_val(&zst)), (0, 4096));
    drop(zst);
    reset();
    let reactor = Reactor::new().unwrap();
    const EACH: usize = 700;
    let mut futures = Vec::new();
    for _ in 0..EACH {
        reactor.queue(Nop, plain).unwrap();
        reactor
            .queue(Nop, callback_of(Canary::<0>::make(0)))
            .unwrap();
        reactor
            .queue(Nop, callback_of(A4096::<Canary<0>>::make(0)))
            .unwrap();
        futures.push(reactor.op(Nop));
    }
    let resolved = reactor
        .run_until(async {
            let mut n = 0;
            for f in futures {
                let (res, ()) = f.await;
                assert_eq!(res.unwrap(), 0);
                n += 1;
            }
            n
        })
        .unwrap();
    assert_eq!(resolved, EACH);
    reactor.run().unwrap();
    assert_eq!(get(&CALLS), 3 * EACH);
    assert_eq!(get(&DROPS), 2 * EACH);
    assert_eq!(get(&BROKEN), 0);
    assert_eq!(reactor.in_flight(), 0);
}

/// What a multishot callback of [`in_place`] shares with the test.
struct Spot {
    bell: Bell,
    handle: Handle,
    id: Cell<Option<OpId>>,
    /// Where the callback saw its payload, at each item.
    at: RefCell<Vec<usize>>,
    items: usize,
    /// NOPs queued at each item, from inside the callback.
    grow: u32,
    ended: Cell<Option<i32>>,
}

/// Runs a multishot poll whose callback captures `payload` (and one
/// pointer): at each of `items` wake-ups it records where it sees the
/// payload (in the slab's storage, or in its box) and queues `grow` NOPs
/// with 96-byte captures, so that the slab grows under it. Returns the
/// addresses and the NOPs queued.
fn in_place<P: Payload>(payload: P, items: usize, grow: u32, inline: bool) -> (Vec<usize>, u32) {
    let reactor = Reactor::new().unwrap();
    let spot = Rc::new(Spot {
        bell: Bell::new(),
        handle: reactor.handle(),
        id: Cell::new(None),
        at: RefCell::new(Vec::new()),
        items,
        grow,
        ended: Cell::new(None),
    });
    let s = spot.clone();
    let callback = move |item: io::Result<PollEvents>| match item {
        Ok(events) => {
            assert!(events.contains(PollEvents::IN));
            s.bell.drain();
            payload.touch();
            s.at.borrow_mut().push(&payload as *const P as usize);
            let seeds = s.at.borrow().len() as u32 * 1000;
            for seed in seeds..seeds + s.grow {
                s.handle
                    .queue(Nop, callback_of(Canary::<96>::make(seed)))
                    .unwrap();
            }
            if s.at.borrow().len() < s.items {
                s.bell.ring();
            } else if let Some(id) = s.id.get() {
                assert!(s.handle.cancel(id).unwrap());
            }
        }
        Err(e) => s.ended.set(e.raw_os_error()),
    };
    // Whether the op and its callback fit the 96 bytes of a slot.
    assert_eq!(
        size_of_val(&callback) + size_of::<PollMulti>() <= 96 && align_of_val(&callback) <= 8,
        inline
    );
    let id = reactor.queue_multishot(spot.bell.poll(), callback).unwrap();
    spot.id.set(Some(id));
    spot.bell.ring();
    reactor.run().unwrap();
    assert_eq!(spot.ended.get(), Some(libc::ECANCELED));
    assert_eq!(reactor.in_flight(), 0);
    let at = spot.at.borrow().clone();
    (at, items as u32 * grow)
}

fn check_in_place<P: Payload>(inline: bool) {
    let _watch = watchdog();
    reset();
    let align = std::mem::align_of::<P>();
    let (at, queued) = in_place(P::make(7), 6, 300, inline);
    assert_eq!(at.len(), 6);
    assert!(
        at.iter().all(|&a| a == at[0]),
        "the payload moved while its op was in flight: {at:x?}"
    );
    assert_eq!(at[0] % align, 0, "misaligned in its slot: {:#x}", at[0]);
    let queued = queued as usize;
    assert_eq!(get(&CALLS), 6 + queued);
    assert_eq!(
        get(&DROPS),
        1 + queued,
        "the payload dropped once, at the end"
    );
    assert_eq!(get(&BROKEN), 0);
}

#[test]
fn an_inline_multishot_callback_stays_in_place_while_the_slab_grows() {
    // 8 bytes of pointer and 72 of payload: with the op, 96 bytes.
    check_in_place::<Canary<72>>(true);
}

#[test]
fn a_multishot_callback_one_byte_past_the_inline_room_stays_in_place() {
    check_in_place::<Canary<73>>(false);
}

#[test]
fn over_aligned_multishot_captures_stay_aligned_and_in_place() {
    check_in_place::<A16<Canary<16>>>(false);
    check_in_place::<A64<Canary<64>>>(false);
    check_in_place::<A4096<Canary<4096>>>(false);
}

#[test]
fn a_deadline_the_ring_cannot_hold_gives_every_value_back_once() {
    let _watch = watchdog();
    reset();
    let reactor = one_entry_reactor();
    // Through a handle: refused, the callback dropped unrun, whatever its
    // size and alignment (the value went into a slot, then came out).
    let refuse = |e: io::Error| assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    refuse(
        reactor
            .queue_with_deadline(Nop, far(), callback_of(Canary::<0>::make(1)))
            .unwrap_err(),
    );
    refuse(
        reactor
            .queue_with_deadline(Nop, far(), callback_of(Canary::<96>::make(2)))
            .unwrap_err(),
    );
    refuse(
        reactor
            .queue_with_deadline(Nop, far(), callback_of(Canary::<97>::make(3)))
            .unwrap_err(),
    );
    refuse(
        reactor
            .queue_with_deadline(Nop, far(), callback_of(A4096::<Canary<64>>::make(4)))
            .unwrap_err(),
    );
    assert_eq!((get(&CALLS), get(&DROPS)), (0, 4));
    // As a future: resolves at once with the error and the buffer.
    let (a, mut peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let mut fut = reactor.op_with_deadline(Recv::new(&fd, Vec::with_capacity(40)), far());
    assert!(fut.id().is_none(), "never queued");
    let Poll::Ready((res, buf)) = poll_once(&mut fut) else {
        panic!("a refused op's future is ready at once");
    };
    assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    assert_eq!((buf.len(), buf.capacity()), (0, 40));
    drop(fut);
    // Through a remote: the callback runs with the error.
    let remote = reactor.remote();
    let payload = A64::<Canary<96>>::make(5);
    remote
        .queue_with_deadline(Nop, far(), move |res, ()| {
            assert_eq!(res.unwrap_err().kind(), io::ErrorKind::InvalidInput);
            payload.touch();
        })
        .unwrap();
    drop(remote);
    reactor.run().unwrap();
    assert_eq!((get(&CALLS), get(&DROPS)), (1, 5));
    assert_eq!(get(&BROKEN), 0);
    assert_eq!(seen_sorted(), [5]);
    // Nothing stayed in flight; ops without a deadline still go.
    assert_eq!(reactor.in_flight(), 0);
    peer.write_all(b"data").unwrap();
    let (res, buf) = reactor
        .run_until(reactor.op(Recv::new(&fd, spare(8))))
        .unwrap();
    assert_eq!(res.unwrap(), 4);
    assert_eq!(buf, b"data");
}

#[test]
fn a_panicking_drop_of_a_refused_callback_leaves_the_reactor_whole() {
    let _watch = watchdog();
    let drops = Rc::new(Cell::new(0));
    let reactor = one_entry_reactor();
    // Refused after going into a slot (the deadline does not fit).
    let bomb = Bomb {
        drops: drops.clone(),
        explode: true,
    };
    must_panic(|| {
        reactor.queue_with_deadline(Nop, far(), move |_, ()| {
            let _keep = &bomb;
            unreachable!("a refused callback never runs");
        })
    });
    assert_eq!(drops.get(), 1);
    assert_eq!(reactor.in_flight(), 0);
    let (res, ()) = reactor.run_until(reactor.op(Nop)).unwrap();
    assert_eq!(res.unwrap(), 0);
    // Refused before any slot (the reactor has shut down).
    reactor.shutdown();
    let bomb = Bomb {
        drops: drops.clone(),
        explode: true,
    };
    must_panic(|| {
        reactor.queue(Nop, move |_, ()| {
            let _keep = &bomb;
            unreachable!("a refused callback never runs");
        })
    });
    assert_eq!(drops.get(), 2);
    assert!(reactor.is_shut_down());
    assert_eq!(reactor.in_flight(), 0);
}

#[test]
fn a_capture_that_panics_when_dropped_after_its_callback_loses_no_other_op() {
    let _watch = watchdog();
    reset();
    let reactor = Reactor::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    let mut expected = Vec::new();
    for seed in 0..10u32 {
        if seed == 3 {
            let bomb = Bomb {
                drops: drops.clone(),
                explode: true,
            };
            reactor
                .queue(Nop, move |res, ()| {
                    assert_eq!(res.unwrap(), 0);
                    let _keep = &bomb;
                })
                .unwrap();
        } else if seed % 2 == 0 {
            queue_payload::<Canary<96>>(&reactor, seed, &mut expected);
        } else {
            queue_payload::<A64<Canary<200>>>(&reactor, seed, &mut expected);
        }
    }
    must_panic(|| reactor.run());
    assert_eq!(drops.get(), 1);
    // The rest are handled by the next run, each once.
    reactor.run().unwrap();
    assert_eq!(drops.get(), 1);
    assert_eq!(get(&CALLS), 9);
    assert_eq!(get(&DROPS), 9);
    assert_eq!(get(&BROKEN), 0);
    assert_eq!(seen_sorted(), expected);
    assert_eq!(reactor.in_flight(), 0);
}

/// Queues a NOP with a 96-byte capture when dropped, into `out`.
struct QueueOnDrop {
    handle: Handle,
    out: Rc<Cell<Option<OpId>>>,
}

impl Drop for QueueOnDrop {
    fn drop(&mut self) {
        let id = self
            .handle
            .queue(Nop, callback_of(Canary::<96>::make(42)))
            .unwrap();
        self.out.set(Some(id));
    }
}

#[test]
fn captures_dropped_after_their_op_may_queue_into_the_slot_it_left() {
    let _watch = watchdog();
    reset();
    let reactor = Reactor::new().unwrap();
    // A multishot callback, inline: its value is dropped at the op's last
    // completion, with its slot free again.
    let bell = Bell::new();
    let out = Rc::new(Cell::new(None));
    let guard = QueueOnDrop {
        handle: reactor.handle(),
        out: out.clone(),
    };
    let (h, ended) = (reactor.handle(), Rc::new(Cell::new(false)));
    let (e, own) = (ended.clone(), Rc::new(Cell::new(None::<OpId>)));
    let o = own.clone();
    let id = reactor
        .queue_multishot(bell.poll(), move |item| {
            let _keep = &guard;
            match item {
                Ok(_) => assert!(h.cancel(o.get().unwrap()).unwrap()),
                Err(_) => e.set(true),
            }
        })
        .unwrap();
    own.set(Some(id));
    bell.ring();
    reactor.run().unwrap();
    assert!(ended.get());
    let next = out.get().expect("the capture's drop queued");
    assert_eq!(next.slot(), id.slot(), "the new op took the slot just left");
    assert_ne!(next, id);
    assert_eq!((get(&CALLS), get(&DROPS)), (1, 1));

    // One-shot callbacks, boxed and inline, each queuing from its
    // captures' drop into the slot it left.
    reset();
    let out = Rc::new(Cell::new(None));
    let guard = QueueOnDrop {
        handle: reactor.handle(),
        out: out.clone(),
    };
    let big = Canary::<200>::make(9);
    let id = reactor
        .queue(Nop, move |res, ()| {
            let _keep = &guard;
            big.touch();
            res.unwrap();
        })
        .unwrap();
    reactor.run().unwrap();
    assert_eq!(out.get().unwrap().slot(), id.slot());
    assert_eq!((get(&CALLS), get(&DROPS)), (2, 2));
    assert_eq!(get(&BROKEN), 0);
    assert_eq!(seen_sorted(), [9, 42]);
}

#[test]
fn a_multishot_capture_that_panics_when_dropped_is_dropped_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let bell = Bell::new();
    let drops = Rc::new(Cell::new(0));
    let bomb = Bomb {
        drops: drops.clone(),
        explode: true,
    };
    let (h, own) = (reactor.handle(), Rc::new(Cell::new(None::<OpId>)));
    let o = own.clone();
    let items = Rc::new(Cell::new(0));
    let n = items.clone();
    let id = reactor
        .queue_multishot(bell.poll(), move |item| {
            let _keep = &bomb;
            n.set(n.get() + 1);
            if item.is_ok() {
                assert!(h.cancel(o.get().unwrap()).unwrap());
            }
        })
        .unwrap();
    own.set(Some(id));
    bell.ring();
    must_panic(|| reactor.run());
    assert_eq!(items.get(), 2, "the item and the cancel's last completion");
    assert_eq!(drops.get(), 1);
    assert_eq!(reactor.in_flight(), 0);
    assert!(!reactor.cancel(id).unwrap(), "the op has ended");
    reactor.run().unwrap();
    let (res, ()) = reactor.run_until(reactor.op(Nop)).unwrap();
    assert_eq!(res.unwrap(), 0);
    assert_eq!(drops.get(), 1);
}

/// Shuts its reactor down when dropped.
struct ShutdownOnDrop(Handle);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        self.0.shutdown();
        assert_eq!(self.0.in_flight(), 0);
    }
}

#[test]
fn a_capture_that_shuts_the_reactor_down_when_dropped() {
    let _watch = watchdog();
    reset();
    let reactor = Reactor::new().unwrap();
    let cancelled = Rc::new(Cell::new(0));
    for seed in 0..40u32 {
        let payload = A64::<Canary<96>>::make(seed);
        let c = cancelled.clone();
        reactor
            .queue(Timeout::new(Duration::from_secs(3600)), move |res, ()| {
                assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
                c.set(c.get() + 1);
                payload.touch();
            })
            .unwrap();
    }
    let guard = ShutdownOnDrop(reactor.handle());
    reactor
        .queue(Nop, move |res, ()| {
            res.unwrap();
            let _keep = &guard;
        })
        .unwrap();
    reactor.run().unwrap();
    assert_eq!(cancelled.get(), 40);
    assert_eq!((get(&CALLS), get(&DROPS), get(&BROKEN)), (40, 40, 0));
    assert!(reactor.is_shut_down());
    assert!(
        reactor
            .queue(Nop, callback_of(Canary::<8>::make(0)))
            .is_err()
    );
    assert_eq!((get(&CALLS), get(&DROPS)), (40, 41));
}

thread_local! {
    /// A future a waker of this thread drops when woken.
    static PARKED_FUTURE: RefCell<Option<OpFuture<Recv<Vec<u8>>>>> = const { RefCell::new(None) };
    /// A stream a waker of this thread drops when woken.
    static PARKED_STREAM: RefCell<Option<OpStream<PollMulti>>> = const { RefCell::new(None) };
}

/// Drops the parked future and stream of the thread it wakes on.
struct DropOnWake {
    wakes: AtomicUsize,
}

impl Wake for DropOnWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        let future = PARKED_FUTURE.with(|p| p.borrow_mut().take());
        drop(future);
        let stream = PARKED_STREAM.with(|p| p.borrow_mut().take());
        drop(stream);
    }
}

#[test]
fn a_future_dropped_by_its_own_waker_gives_its_op_back() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (a, mut peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let mut fut = reactor.op(Recv::new(&fd, Vec::with_capacity(64)));
    // The op holds the only other owner of the socket.
    drop(fd);
    let waker = Arc::new(DropOnWake {
        wakes: AtomicUsize::new(0),
    });
    let w = Waker::from(waker.clone());
    assert!(
        Pin::new(&mut fut)
            .poll(&mut Context::from_waker(&w))
            .is_pending()
    );
    drop(w);
    PARKED_FUTURE.with(|p| *p.borrow_mut() = Some(fut));
    peer.write_all(b"taken").unwrap();
    run_for(&reactor, 20);
    assert_eq!(waker.wakes.load(Ordering::SeqCst), 1);
    assert!(PARKED_FUTURE.with(|p| p.borrow().is_none()));
    assert_eq!(reactor.in_flight(), 0);
    // The receive took the bytes, and its socket went with it.
    assert!(peer_closed(&peer));
    assert_eq!(Arc::strong_count(&waker), 1, "the reactor kept no waker");
}

#[test]
fn a_stream_dropped_by_its_own_waker_between_items_ends_its_op() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (a, mut peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let mut stream = reactor.stream(PollMulti::new(&fd, PollEvents::IN));
    drop(fd);
    let waker = Arc::new(DropOnWake {
        wakes: AtomicUsize::new(0),
    });
    let w = Waker::from(waker.clone());
    assert!(stream.poll_next(&mut Context::from_waker(&w)).is_pending());
    drop(w);
    PARKED_STREAM.with(|p| *p.borrow_mut() = Some(stream));
    peer.write_all(b"x").unwrap();
    // Ends once the dropped stream's cancel has ended the op.
    reactor.run().unwrap();
    assert_eq!(waker.wakes.load(Ordering::SeqCst), 1);
    assert!(PARKED_STREAM.with(|p| p.borrow().is_none()));
    assert_eq!(reactor.in_flight(), 0);
    assert!(peer_closed(&peer), "the op's socket closed with it");
    assert_eq!(Arc::strong_count(&waker), 1);
}

/// Counts its wakes.
struct CountWakes(AtomicUsize);

impl Wake for CountWakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn wakers_are_replaced_released_and_woken_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let w1 = Arc::new(CountWakes(AtomicUsize::new(0)));
    let w2 = Arc::new(CountWakes(AtomicUsize::new(0)));
    let poll_with = |fut: &mut OpFuture<Timeout>, w: &Arc<CountWakes>| {
        let waker = Waker::from(w.clone());
        Pin::new(fut).poll(&mut Context::from_waker(&waker))
    };
    let mut fut = reactor.op(Timeout::new(Duration::from_millis(5)));
    assert!(poll_with(&mut fut, &w1).is_pending());
    assert_eq!(Arc::strong_count(&w1), 2, "the reactor keeps one clone");
    assert!(poll_with(&mut fut, &w2).is_pending());
    assert_eq!(Arc::strong_count(&w1), 1, "the replaced waker is dropped");
    assert_eq!(Arc::strong_count(&w2), 2);
    assert!(poll_with(&mut fut, &w2).is_pending());
    assert_eq!(
        Arc::strong_count(&w2),
        2,
        "the same waker is not cloned again"
    );
    run_for(&reactor, 30);
    assert_eq!(w1.0.load(Ordering::SeqCst), 0);
    assert_eq!(w2.0.load(Ordering::SeqCst), 1);
    assert_eq!(Arc::strong_count(&w2), 1, "woken by value, not kept");
    match poll_with(&mut fut, &w2) {
        Poll::Ready((res, ())) => assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ETIME)),
        Poll::Pending => panic!("the timeout has completed"),
    }
    // Polled after its end: pending, and no waker kept.
    for _ in 0..3 {
        assert!(poll_with(&mut fut, &w1).is_pending());
    }
    assert_eq!(Arc::strong_count(&w1), 1);
    assert_eq!(w1.0.load(Ordering::SeqCst), 0);
    drop(fut);

    // A stream's waker: replaced, woken once per item, released.
    let bell = Bell::new();
    let mut stream = reactor.stream(bell.poll());
    let waker1 = Waker::from(w1.clone());
    assert!(
        stream
            .poll_next(&mut Context::from_waker(&waker1))
            .is_pending()
    );
    drop(waker1);
    let waker2 = Waker::from(w2.clone());
    assert!(
        stream
            .poll_next(&mut Context::from_waker(&waker2))
            .is_pending()
    );
    drop(waker2);
    assert_eq!(Arc::strong_count(&w1), 1);
    bell.ring();
    run_for(&reactor, 20);
    assert_eq!(w2.0.load(Ordering::SeqCst), 2);
    assert_eq!(Arc::strong_count(&w2), 1);
    let noop = &mut Context::from_waker(Waker::noop());
    assert!(matches!(stream.poll_next(noop), Poll::Ready(Some(Ok(_)))));
    assert!(reactor.cancel(stream.id().unwrap()).unwrap());
    run_for(&reactor, 20);
    let mut rest = Vec::new();
    while let Poll::Ready(Some(item)) = stream.poll_next(noop) {
        rest.push(item.map_err(|e| e.raw_os_error()));
    }
    assert_eq!(rest, [Err(Some(libc::ECANCELED))]);
    // Ended: stays ended.
    for _ in 0..3 {
        assert!(matches!(stream.poll_next(noop), Poll::Ready(None)));
    }
    assert_eq!(reactor.in_flight(), 0);
}

#[test]
fn wakers_sent_to_another_thread_outlive_their_reactor() {
    let _watch = watchdog();
    let (tx, rx) = mpsc::channel::<Waker>();
    let counter = Arc::new(CountWakes(AtomicUsize::new(0)));
    {
        let reactor = Reactor::new().unwrap();
        // The reactor's own wakers: of the future of a run, of a task.
        let t = tx.clone();
        reactor
            .run_until(std::future::poll_fn(move |cx| {
                t.send(cx.waker().clone()).unwrap();
                Poll::Ready(())
            }))
            .unwrap();
        let t = tx.clone();
        reactor.spawn(std::future::poll_fn(move |cx| {
            t.send(cx.waker().clone()).unwrap();
            Poll::Ready(())
        }));
        reactor.run().unwrap();
        // A future's waker of the program, cloned by the reactor, which
        // also goes to the other thread; the reactor's drop wakes it.
        let mut fut = reactor.op(Timeout::new(Duration::from_secs(3600)));
        let waker = Waker::from(counter.clone());
        assert!(
            Pin::new(&mut fut)
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        tx.send(waker).unwrap();
        drop(reactor);
        assert_eq!(counter.0.load(Ordering::SeqCst), 1, "woken by the shutdown");
        // The future outlives its reactor, and resolves.
        match poll_once(&mut fut) {
            Poll::Ready((res, ())) => {
                assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ECANCELED))
            }
            Poll::Pending => panic!("the shutdown completed the op"),
        }
    }
    drop(tx);
    let wakers: Vec<Waker> = rx.iter().collect();
    assert_eq!(wakers.len(), 3);
    std::thread::spawn(move || {
        for w in &wakers {
            w.wake_by_ref();
        }
        for w in wakers {
            let copy = w.clone();
            w.wake();
            copy.wake_by_ref();
            drop(copy);
        }
    })
    .join()
    .unwrap();
    assert_eq!(counter.0.load(Ordering::SeqCst), 4);
}

#[test]
fn futures_moved_between_polls_resolve_once_each() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (a, mut peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let mut futures: Vec<OpFuture<Recv<Vec<u8>>>> = (0..4)
        .map(|_| reactor.op(Recv::new(&fd, spare(1))))
        .collect();
    for f in &mut futures {
        assert!(poll_once(f).is_pending());
    }
    // Moved: into boxes, in another order, then out again.
    let mut boxed: Vec<Box<OpFuture<Recv<Vec<u8>>>>> =
        futures.into_iter().rev().map(Box::new).collect();
    for f in &mut boxed {
        assert!(poll_once(&mut **f).is_pending());
    }
    reactor.submit().unwrap();
    peer.write_all(b"abcd").unwrap();
    let moved: Vec<OpFuture<Recv<Vec<u8>>>> = boxed.into_iter().map(|b| *b).collect();
    let got = reactor
        .run_until(async move {
            let mut got = Vec::new();
            for f in moved {
                let (res, buf) = f.await;
                assert_eq!(res.unwrap(), 1);
                got.extend(buf);
            }
            got
        })
        .unwrap();
    let mut sorted = got.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, b"abcd", "each byte received once: {got:?}");
    assert_eq!(reactor.in_flight(), 0);
}

#[test]
fn forgotten_futures_and_streams_are_cancelled_at_the_reactor_s_drop_and_take_nothing() {
    let _watch = watchdog();
    let (a, mut peer) = UnixStream::pair().unwrap();
    let mut ours = a.try_clone().unwrap();
    {
        let reactor = Reactor::new().unwrap();
        let fd = SharedFd::new(a);
        let mut fut = reactor.op(Recv::new(&fd, Vec::with_capacity(64)));
        let mut stream = reactor.stream(PollMulti::new(&fd, PollEvents::IN));
        assert!(poll_once(&mut fut).is_pending());
        assert!(
            stream
                .poll_next(&mut Context::from_waker(Waker::noop()))
                .is_pending()
        );
        reactor.submit().unwrap();
        std::mem::forget(fut);
        std::mem::forget(stream);
        // A future whose op completed, forgotten unpolled.
        let done = reactor.op(Nop);
        run_for(&reactor, 5);
        std::mem::forget(done);
        assert_eq!(reactor.in_flight(), 2);
    }
    // The forgotten receive was cancelled by the drop: what comes now is
    // ours, whole.
    peer.write_all(b"after the drop").unwrap();
    ours.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = [0u8; 14];
    ours.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"after the drop");
}

/// What a closure sent through a remote captures: a count of its drops.
struct Counted<P> {
    seed: u32,
    drops: Arc<AtomicUsize>,
    payload: P,
}

impl<P> Drop for Counted<P> {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_remote_racing_the_reactor_s_drop_runs_or_refuses_each_closure_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let remote = reactor.remote();
    let drops = Arc::new(AtomicUsize::new(0));
    let called = Arc::new(Mutex::new(Vec::new()));
    let (started, started_rx) = mpsc::channel();
    let (d, c) = (drops.clone(), called.clone());
    let sender = std::thread::spawn(move || {
        let (mut accepted, mut attempts) = (0u32, 0u32);
        loop {
            let seed = attempts;
            attempts += 1;
            let sent = if seed % 2 == 0 {
                let value = Counted {
                    seed,
                    drops: d.clone(),
                    payload: [seed as u8; 96],
                };
                let c = c.clone();
                remote.queue(Nop, move |res, ()| {
                    let v = &value;
                    assert!(v.payload.iter().all(|&b| b == v.seed as u8));
                    c.lock().unwrap().push((v.seed, res.is_ok()));
                })
            } else {
                #[repr(align(4096))]
                struct Page([u8; 64]);
                let value = Counted {
                    seed,
                    drops: d.clone(),
                    payload: Page([seed as u8; 64]),
                };
                let c = c.clone();
                remote.queue_with_deadline(Nop, far(), move |res, ()| {
                    let v = &value;
                    assert_eq!((&v.payload as *const Page as usize) % 4096, 0);
                    assert!(v.payload.0.iter().all(|&b| b == v.seed as u8));
                    c.lock().unwrap().push((v.seed, res.is_ok()));
                })
            };
            match sent {
                Ok(_) => accepted += 1,
                Err(_) => break,
            }
            if attempts == 50 {
                started.send(()).unwrap();
            }
            if attempts > 50 {
                // Paced, so that the inbox stays small until the drop.
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        (accepted, attempts)
    });
    started_rx.recv().unwrap();
    // Some closures run, the others wait in the inbox for the drop.
    run_for(&reactor, 1);
    drop(reactor);
    let (accepted, attempts) = sender.join().unwrap();
    let mut called = std::mem::take(&mut *called.lock().unwrap());
    assert_eq!(
        called.len(),
        accepted as usize,
        "each accepted closure ran once"
    );
    called.sort_unstable();
    called.dedup_by_key(|(seed, _)| *seed);
    assert_eq!(called.len(), accepted as usize, "no closure ran twice");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        attempts as usize,
        "every capture dropped once, run or refused"
    );
}

#[test]
fn ring_buffers_held_by_refused_ops_and_callbacks_go_back() {
    let _watch = watchdog();
    let reactor = one_entry_reactor();
    let group = match reactor.register_buf_ring(BufferGroup::new(5), 2, 64) {
        Ok(group) => group,
        Err(e) => return skip(format_args!("no provided-buffer rings: {e}")),
    };
    let (a, mut peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(a);
    let mut recv = |what: &[u8]| {
        if !what.is_empty() {
            peer.write_all(what).unwrap();
        }
        reactor
            .run_until(reactor.op(RecvRing::new(&fd, group)))
            .unwrap()
    };
    let (res, first) = recv(b"one");
    assert_eq!(res.unwrap(), 3);
    let first = first.unwrap();
    let (res, second) = recv(b"two");
    assert_eq!(res.unwrap(), 3);
    let second = second.unwrap();
    assert_eq!(&*first, b"one");
    assert_eq!(&*second, b"two");
    // Both buffers are out: the group is dry.
    let (res, none) = recv(b"three");
    assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ENOBUFS));
    assert!(none.is_none());
    // One held by a callback, one by the op itself, both refused.
    reactor
        .queue_with_deadline(Nop, far(), move |_, ()| drop(first))
        .unwrap_err();
    reactor
        .queue_with_deadline(SendOp::new(&fd, second), far(), |_, _| {
            unreachable!("a refused callback never runs")
        })
        .unwrap_err();
    // Both are back: two receives get a buffer each.
    let (res, third) = recv(b"");
    assert_eq!(res.unwrap(), 5);
    let third = third.unwrap();
    assert_eq!(&*third, b"three");
    let (res, fourth) = recv(b"four");
    assert_eq!(res.unwrap(), 4);
    let fourth = fourth.unwrap();
    assert_eq!(&*fourth, b"four");
    assert_ne!(third.bid(), fourth.bid());
    assert_eq!(reactor.in_flight(), 0);
}

#[test]
fn callbacks_holding_futures_and_streams_of_their_reactor_end_them_when_dropped() {
    let _watch = watchdog();
    // Dropped when the callback has run, when the callback is refused
    // (its value came back out of a slot), and when a multishot op ends:
    // each time with the reactor free, so that the futures' ops are
    // cancelled (a future dropped while the reactor is busy is left in
    // flight, which would keep `run` waiting).
    for way in 0..3 {
        let reactor = if way == 1 {
            one_entry_reactor()
        } else {
            Reactor::new().unwrap()
        };
        let (a, pa) = UnixStream::pair().unwrap();
        let (b, pb) = UnixStream::pair().unwrap();
        let (fa, fb) = (SharedFd::new(a), SharedFd::new(b));
        let fut = reactor.op(Recv::new(&fa, Vec::with_capacity(8)));
        let stream = reactor.stream(PollMulti::new(&fb, PollEvents::IN));
        drop((fa, fb));
        reactor.submit().unwrap();
        let held = (fut, stream);
        match way {
            0 => {
                reactor
                    .queue(Nop, move |res, ()| {
                        res.unwrap();
                        drop(held);
                    })
                    .unwrap();
            }
            1 => {
                reactor
                    .queue_with_deadline(Nop, far(), move |_, ()| drop(held))
                    .unwrap_err();
            }
            _ => {
                let bell = Bell::new();
                let (h, own) = (reactor.handle(), Rc::new(Cell::new(None::<OpId>)));
                let o = own.clone();
                let id = reactor
                    .queue_multishot(bell.poll(), move |item| {
                        let _keep = &held;
                        if item.is_ok() {
                            assert!(h.cancel(o.get().unwrap()).unwrap());
                        }
                    })
                    .unwrap();
                own.set(Some(id));
                bell.ring();
            }
        }
        reactor.run().unwrap();
        assert_eq!(reactor.in_flight(), 0, "way {way}");
        assert!(peer_closed(&pa), "way {way}: the receive's socket closed");
        assert!(peer_closed(&pb), "way {way}: the poll's socket closed");
    }
}

#[test]
fn a_reactor_dropped_inside_its_own_multishot_callback() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let home: Rc<RefCell<Option<Reactor>>> = Rc::new(RefCell::new(None));
    let bell = Bell::new();
    let items = Rc::new(RefCell::new(Vec::new()));
    let dropped = Rc::new(Cell::new(0));
    let guard = Bomb {
        drops: dropped.clone(),
        explode: false,
    };
    let (home2, it) = (home.clone(), items.clone());
    let payload = A64::<Canary<64>>::make(11);
    reactor
        .queue_multishot(bell.poll(), move |item| {
            let _keep = &guard;
            payload.touch();
            it.borrow_mut()
                .push(item.map_err(|e| e.raw_os_error()).is_ok());
            // The reactor lives in this callback's captures: dropped here,
            // it shuts down (cancelling this very op) while the callback
            // runs.
            let reactor = home2.borrow_mut().take();
            drop(reactor);
        })
        .unwrap();
    *home.borrow_mut() = Some(reactor);
    bell.ring();
    h.submit().unwrap();
    std::thread::sleep(Duration::from_millis(5));
    reset();
    h.shutdown();
    assert!(h.is_shut_down());
    assert_eq!(h.in_flight(), 0);
    let items = items.borrow().clone();
    assert_eq!(items.last(), Some(&false), "the op's last item is its end");
    assert_eq!(dropped.get(), 1, "the callback's value dropped once");
    assert_eq!(
        (get(&CALLS), get(&DROPS), get(&BROKEN)),
        (items.len(), 1, 0)
    );
    assert!(home.borrow().is_none());
}
