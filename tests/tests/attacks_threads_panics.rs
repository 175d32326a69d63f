//! Attacks on thread safety and panic safety, written in safe code:
//! - which public types are `Send` / `Sync` (checked at compile time for
//!   the ones that are, at run time for the ones that must not be), and
//!   what the `Send` ones allow: rings moved between threads (a ring that
//!   has only a registered index, rings of one worker pool on several
//!   threads), buffer rings moved and dropped on another thread under an
//!   op that selects from them, a scope's completion claimed on another
//!   thread;
//! - panics where the library calls the program's code with its own state
//!   in the middle of a change: the closure of `for_each` over a scope's
//!   completions, callbacks and the drops of what they capture while a
//!   reactor shuts down.
//!
//! (Found on the way, outside those two areas: the marker that lets
//! `Ring::push` take a submission, `Unborrowed`, was a safe trait, so a
//! wrapper around a borrowing op could claim it; it is an `unsafe trait`
//! now, and the ui case `unborrowed_impl_is_unsafe` shows the claim no
//! longer compiles.)

use std::cell::Cell;
use std::io::Write as _;
use std::marker::PhantomData;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::ops::{Nop, Read, Recv};
use uring::reactor::{IoBuf, IoBufMut, Reactor};
use uring::{Cqe, Ring};
use uring_tests::PATIENCE;

// ---------------------------------------------------------------------
// Auto traits.

/// Answers `send()` with `true` only for a `Send` type: the inherent
/// method, when its bound holds, is picked before the trait's.
struct SendProbe<T: ?Sized>(PhantomData<T>);

trait NotSend {
    fn send(&self) -> bool {
        false
    }
}

impl<T: ?Sized> NotSend for SendProbe<T> {}

impl<T: ?Sized + Send> SendProbe<T> {
    fn send(&self) -> bool {
        true
    }
}

/// As [`SendProbe`], for `Sync`.
struct SyncProbe<T: ?Sized>(PhantomData<T>);

trait NotSync {
    fn sync(&self) -> bool {
        false
    }
}

impl<T: ?Sized> NotSync for SyncProbe<T> {}

impl<T: ?Sized + Sync> SyncProbe<T> {
    fn sync(&self) -> bool {
        true
    }
}

/// `(name, Send, Sync)` of each type.
macro_rules! traits_of {
    ($($t:ty),* $(,)?) => {
        vec![$((
            stringify!($t),
            SendProbe::<$t>(PhantomData).send(),
            SyncProbe::<$t>(PhantomData).sync(),
        )),*]
    };
}

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}

/// Every public type with state that the kernel or the library shares
/// between values is `!Send` or `!Sync` where a second thread could touch
/// that state: the SQ/CQ views, a scope's table holders, a claimed buffer
/// (it borrows its `!Sync` buffer ring), and everything of the reactor that
/// holds an `Rc` (handles, futures, shared descriptors, ring buffers, the
/// ops that own descriptors). What is `Send` owns its state outright (a
/// ring, a buffer ring with no buffer out, a scope's completion) or is
/// plain data (handles of registrations, ids, op arguments).
#[test]
fn auto_traits_of_the_public_types() {
    use uring::reactor as r;
    // Compile-time: these are Send (and the second group Sync too).
    assert_send::<Ring>();
    assert_send::<Ring<uring::Sqe128, uring::Cqe32>>();
    assert_send::<uring::Scope<'static, 'static>>();
    assert_send::<uring::BufRing>();
    assert_send::<uring::ScopeCqe<'static>>();
    assert_sync::<uring::ScopeCqe<'static>>();
    assert_sync::<uring::FixedFiles>();
    assert_sync::<uring::Fixed<'static>>();
    assert_sync::<uring::FixedMut<'static>>();
    assert_sync::<uring::FixedBuffers>();
    assert_sync::<uring::Personality>();
    assert_sync::<uring::Probe>();
    assert_sync::<uring::ops::Read<'static>>();
    assert_sync::<r::Slice<Vec<u8>>>();
    assert_sync::<r::OpId>();
    assert_sync::<r::BufGroup>();

    // The probes themselves.
    assert!(SendProbe::<Cqe>(PhantomData).send() && SyncProbe::<Cqe>(PhantomData).sync());
    assert!(!SendProbe::<Rc<u8>>(PhantomData).send());
    assert!(!SyncProbe::<Cell<u8>>(PhantomData).sync());

    let rows = traits_of![
        Ring,
        uring::Scope<'static, 'static>,
        uring::ScopeSubmissionQueue<'static, 'static>,
        uring::ScopeCompletions<'static, 'static>,
        uring::OwnedPush<'static, 'static>,
        uring::SubmissionQueue<'static>,
        uring::Completions<'static>,
        uring::BufRing,
        uring::Buf<'static>,
        uring::Builder<'static>,
        uring::RingSlot<'static>,
        uring::MsgHdr<'static>,
        uring::MsgHdrMut<'static>,
        r::Reactor,
        r::Handle,
        r::OpFuture<r::ops::Nop>,
        r::OpStream<r::ops::RecvMulti>,
        r::Next<'static, r::ops::RecvMulti>,
        r::SharedFd,
        r::RingBuf,
        r::Completion,
        r::TokioDriver,
        r::ops::Read<Vec<u8>>,
        r::ops::Write<Vec<u8>>,
        r::ops::Recv<Vec<u8>>,
        r::ops::Send<Vec<u8>>,
        r::ops::SendZc<Vec<u8>>,
        r::ops::RecvRing,
        r::ops::RecvMulti,
        r::ops::Accept,
        r::ops::AcceptMulti,
        r::ops::Connect,
        r::ops::Shutdown,
        r::ops::Poll,
        r::ops::PollMulti,
        r::ops::SendTo<Vec<u8>>,
        r::ops::RecvFrom<Vec<u8>>,
        uring::net::TcpListener,
        uring::net::TcpStream,
        uring::net::Incoming,
        uring::net::RecvStream,
        uring::net::UdpSocket,
    ];
    // (Send, Sync) expected: a ring, a scope and a buffer ring move but are
    // not shared; nothing else in this list moves.
    let movable_only = ["Ring", "uring::Scope<'static, 'static>", "uring::BufRing"];
    for (name, send, sync) in rows {
        let want_send = movable_only.contains(&name);
        assert_eq!(
            (send, sync),
            (want_send, false),
            "{name}: Send {send}, Sync {sync}"
        );
    }
}

// ---------------------------------------------------------------------
// Rings and buffer rings on other threads.

/// A ring made with `registered_fd_only` has no descriptor, only an index
/// in the table of the thread that made it. Moved to another thread (it is
/// `Send`), its enters fail there (`EBADF`): a scope on that thread takes
/// no op (`PushErrorKind::OtherThread`) rather than abort or return with a
/// read in the kernel; nothing writes into the buffer the read would have
/// borrowed; moved back, the ring works.
#[test]
fn a_ring_with_only_a_registered_index_moved_to_another_thread_keeps_its_scope_sound() {
    let _watch = uring_tests::watchdog();
    let Ok(mut ring) = Ring::builder().registered_fd_only().build(8) else {
        uring_tests::skip("no registered_fd_only rings (6.5)");
        return;
    };
    ring.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(uring_tests::reap_one(&mut ring).user_data(), 1);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let (ring, buf, submitted, settled) = std::thread::spawn(move || {
        let mut ring = ring;
        let mut buf = [0xa5u8; 16];
        let (pushed, settled) = ring.scope(|s| {
            let pushed = s
                .push(Read::new(&rx, &mut buf[..]).user_data(2))
                .map(|_| ())
                .map_err(|e| e.kind());
            (pushed, s.in_flight())
        });
        (ring, buf, pushed, settled)
    })
    .join()
    .expect("no panic on the other thread");
    assert_eq!(submitted, Err(uring::PushErrorKind::OtherThread));
    assert_eq!(settled, 0, "the read was refused");
    uring_tests::assert_nothing_writes_after(&mut [&mut tx], &[&buf[..]], 0xa5);
    let mut ring = ring;
    ring.push(Nop::new().user_data(3)).unwrap();
    let cqes = uring_tests::submit_and_reap(&mut ring, 1);
    assert_eq!(cqes.len(), 1);
    assert_eq!(cqes[0].user_data(), 3, "the read was taken back: {cqes:?}");
}

/// Rings of one worker pool (`create_many`), each on a thread of its own,
/// run scopes at once: reads that complete and reads that are cancelled
/// when the scope ends (in the shared pool too, with `IOSQE_ASYNC`). Each
/// settles once, on its own ring, and nothing writes into a buffer after
/// its scope.
#[test]
fn rings_of_one_worker_pool_run_scopes_on_their_own_threads() {
    let _watch = uring_tests::watchdog();
    let rings = match Ring::create_many(4, 8, 2, &Ring::builder()) {
        Ok(rings) => rings,
        Err(e) => {
            uring_tests::skip(format_args!("create_many: {e}"));
            return;
        }
    };
    let threads: Vec<_> = rings
        .into_iter()
        .enumerate()
        .map(|(n, mut ring)| {
            std::thread::spawn(move || {
                for round in 0..20u64 {
                    let (mut done_tx, done_rx) = UnixStream::pair().unwrap();
                    let (mut idle_tx, idle_rx) = UnixStream::pair().unwrap();
                    let mut done = [0u8; 8];
                    let mut idle = [0x5au8; 8];
                    let mut idle_async = [0x5au8; 8];
                    done_tx.write_all(&round.to_le_bytes()).unwrap();
                    let seen = ring.scope(|s| {
                        s.push(Read::new(&done_rx, &mut done[..]).user_data(1))
                            .unwrap();
                        s.push(Read::new(&idle_rx, &mut idle[..]).user_data(2))
                            .unwrap();
                        s.push(
                            Read::new(&idle_rx, &mut idle_async[..])
                                .user_data(3)
                                .flags(uring::SqeFlags::ASYNC),
                        )
                        .unwrap();
                        s.submit_and_wait(1).unwrap();
                        let deadline = Instant::now() + PATIENCE;
                        let mut seen: Vec<Cqe> = Vec::new();
                        while !seen.iter().any(|c| c.user_data() == 1) {
                            assert!(Instant::now() < deadline, "ring {n}: {seen:?}");
                            let _ = s.wait_timeout(1, Duration::from_millis(10));
                            seen.extend(s.completions());
                        }
                        seen
                    });
                    assert_eq!(
                        seen.iter().filter(|c| c.user_data() == 1).count(),
                        1,
                        "ring {n}: {seen:?}"
                    );
                    assert_eq!(done, round.to_le_bytes(), "ring {n}");
                    uring_tests::assert_nothing_writes_after(
                        &mut [&mut idle_tx],
                        &[&idle[..], &idle_async[..]],
                        0x5a,
                    );
                    // Nothing of the scope is left in the ring.
                    ring.push(Nop::new().user_data(9)).unwrap();
                    let cqes = uring_tests::submit_and_reap(&mut ring, 1);
                    assert_eq!(cqes.len(), 1);
                    assert_eq!(cqes[0].user_data(), 9, "ring {n}: {cqes:?}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no panic on a ring's thread");
    }
}

/// A buffer ring moved to another thread and dropped there while its
/// ring's scope, on this thread, has a receive waiting to select from it:
/// the receive then finds no buffer (or its write lands in the reservation
/// the dropped ring leaves) and settles once; the scope ends.
#[test]
fn a_buffer_ring_dropped_on_another_thread_under_a_waiting_receive() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 3, 4, 64) else {
        return;
    };
    let select = pool.select();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let seen = ring.scope(|s| {
        s.push(Recv::new(&rx, select).user_data(1)).unwrap();
        s.submit().unwrap();
        std::thread::spawn(move || drop(pool))
            .join()
            .expect("the buffer ring drops on another thread");
        tx.write_all(b"after the buffer ring went").unwrap();
        let deadline = Instant::now() + PATIENCE;
        let mut seen: Vec<Cqe> = Vec::new();
        while seen.is_empty() {
            assert!(Instant::now() < deadline, "no completion");
            let _ = s.submit_and_wait(1);
            seen.extend(s.completions());
        }
        assert_eq!(s.in_flight(), 0);
        seen
    });
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].res() == -libc::ENOBUFS || seen[0].res() == -libc::EFAULT,
        "{seen:?}"
    );
}

/// A scope's completion (`Send`) and its buffer ring (`Send` with no
/// buffer out) move to another thread, which claims the buffer there: the
/// claim works once, a second claim of the same completion is refused, and
/// the buffer goes back to the kernel when dropped there.
#[test]
fn a_scope_completion_claimed_on_another_thread_claims_once() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 4, 2, 64) else {
        return;
    };
    let select = pool.select();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"claimed elsewhere").unwrap();
    let pool = ring.scope(|s| {
        s.push(Recv::new(&rx, select).user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let cqe = s.completions().next().expect("the receive's completion");
        std::thread::scope(|t| {
            t.spawn(move || {
                let mut cqe = cqe;
                let got = {
                    let buf = pool.claim(&mut cqe).expect("a first claim");
                    buf.to_vec()
                };
                assert_eq!(got, b"claimed elsewhere");
                assert!(pool.claim(&mut cqe).is_err(), "a second claim");
                assert_eq!(pool.lent(), 0);
                pool
            })
            .join()
            .expect("no panic on the claiming thread")
        })
    });
    assert_eq!(pool.available().unwrap_or(pool.count()), pool.count());
}

// ---------------------------------------------------------------------
// Panics.

/// A panic in the closure of `for_each` over a scope's completions, half
/// way through (with owned buffers coming back in some of them): the
/// completion being handed over is settled, the others stay in the queue
/// for the next read, none is seen twice or lost, every owned buffer is
/// freed once, and the scope's count of ops in flight follows.
#[test]
fn a_panic_in_for_each_over_a_scope_s_completions_loses_and_repeats_nothing() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(16).unwrap();
    let (seen, in_flight) = ring.scope(|s| {
        for i in 0..8u64 {
            if i % 2 == 0 {
                s.push(Nop::new().user_data(i)).unwrap();
            } else {
                s.push_owned(vec![i as u8; 32], |_buf, sq| {
                    sq.push(Nop::new().user_data(i));
                })
                .unwrap();
            }
        }
        s.submit_and_wait(8).unwrap();
        let mut seen = Vec::new();
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            s.completions().for_each(|mut c| {
                let buf = c.take_buf();
                seen.push((c.user_data(), buf.map(|b| b[0])));
                if seen.len() == 3 {
                    panic!("the program's closure panics");
                }
            })
        }));
        assert!(panicked.is_err());
        for mut c in s.completions() {
            let buf = c.take_buf();
            seen.push((c.user_data(), buf.map(|b| b[0])));
        }
        (seen, s.in_flight())
    });
    assert_eq!(in_flight, 0);
    let mut ids: Vec<u64> = seen.iter().map(|&(u, _)| u).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..8).collect::<Vec<_>>(), "{seen:?}");
    for (u, b) in seen {
        let want = (u % 2 == 1).then_some(u as u8);
        assert_eq!(b, want, "op {u}");
    }
}

/// An owned buffer that records when it is dropped: a `Vec<u8>` inside.
struct Watched {
    bytes: Vec<u8>,
    dropped: Rc<Cell<bool>>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.dropped.set(true);
    }
}

// SAFETY: (test set-up) every method forwards to the inner vector, whose
// heap bytes do not move with the wrapper; `Vec<u8>`'s own impl vouches.
unsafe impl IoBuf for Watched {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.stable_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.bytes.bytes_init()
    }
}

// SAFETY: as for `IoBuf`: forwarded to the inner vector.
unsafe impl IoBufMut for Watched {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.stable_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.bytes.bytes_total()
    }
    unsafe fn set_init(&mut self, n: usize) {
        // SAFETY: forwarded from the caller.
        unsafe { self.bytes.set_init(n) }
    }
}

/// Panics when dropped, unless already panicking.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("a value the callback captured panics in its drop");
        }
    }
}

/// The reactor is dropped (shut down) with a read waiting in the kernel
/// and a NOP whose callback panics: the panic leaves the drop before the
/// shutdown has waited for the read. The read's buffer must not be freed
/// while the kernel may still write into it: it is freed only once the read
/// has completed (here, never: it stays leaked), and a handle kept alive
/// can finish the shutdown, which then sees the read end once.
#[test]
fn a_callback_panicking_in_the_reactor_s_drop_frees_nothing_in_flight() {
    let _watch = uring_tests::watchdog();
    for keep_handle in [false, true] {
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let dropped = Rc::new(Cell::new(false));
        let ended = Rc::new(Cell::new(0));
        let reactor = Reactor::new().unwrap();
        let handle = reactor.handle();
        let buf = Watched {
            bytes: Vec::with_capacity(64),
            dropped: dropped.clone(),
        };
        let e = ended.clone();
        reactor
            .queue(
                uring::reactor::ops::Recv::new(&uring::reactor::SharedFd::new(rx), buf),
                move |_result, buf| {
                    e.set(e.get() + 1);
                    drop(buf);
                },
            )
            .unwrap();
        // The read reaches the kernel and waits there.
        let (slept, ()) = reactor
            .run_until(reactor.op(uring::reactor::ops::Timeout::new(Duration::from_millis(20))))
            .unwrap();
        assert!(slept.is_err(), "the timeout fires: {slept:?}");
        assert_eq!(reactor.in_flight(), 1);
        // Completes in the shutdown's first submit, and panics in its reap.
        reactor
            .queue(uring::reactor::ops::Nop, |_, ()| {
                panic!("a callback panics during the shutdown")
            })
            .unwrap();
        let (handle, panicked) = if keep_handle {
            (
                Some(handle),
                catch_unwind(AssertUnwindSafe(|| drop(reactor))),
            )
        } else {
            drop(handle);
            (None, catch_unwind(AssertUnwindSafe(|| drop(reactor))))
        };
        assert!(panicked.is_err(), "the callback's panic leaves the drop");
        tx.write_all(b"late data").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        match handle {
            None => assert!(
                !dropped.get() || ended.get() == 1,
                "the read's buffer was freed while the read was in the kernel"
            ),
            Some(handle) => {
                handle.shutdown();
                assert_eq!(handle.in_flight(), 0);
                assert_eq!(ended.get(), 1, "the read ends once");
                assert!(dropped.get());
            }
        }
    }
}

/// A multishot callback that captured a value whose drop panics: the
/// shutdown that ends the op drops the callback (the program's code, with
/// the reactor released); another op in flight meanwhile keeps its buffer
/// until it has ended, and ends once.
#[test]
fn a_callback_whose_drop_panics_at_shutdown_frees_nothing_in_flight() {
    let _watch = uring_tests::watchdog();
    let (_tx, rx) = UnixStream::pair().unwrap();
    let (_ptx, prx) = UnixStream::pair().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let ended = Rc::new(Cell::new(0));
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let guard = PanicOnDrop;
    let polled = reactor.queue_multishot(
        uring::reactor::ops::PollMulti::new(
            &uring::reactor::SharedFd::new(prx),
            uring::PollEvents::IN,
        ),
        move |_item| {
            let _ = &guard;
        },
    );
    if polled.is_err() {
        uring_tests::skip("no multishot polls");
        return;
    }
    let e = ended.clone();
    reactor
        .queue(
            uring::reactor::ops::Recv::new(
                &uring::reactor::SharedFd::new(rx),
                Watched {
                    bytes: Vec::with_capacity(64),
                    dropped: dropped.clone(),
                },
            ),
            move |_result, buf| {
                e.set(e.get() + 1);
                drop(buf);
            },
        )
        .unwrap();
    let _ = catch_unwind(AssertUnwindSafe(|| {
        reactor.run_until(async {}).unwrap();
    }));
    let first = catch_unwind(AssertUnwindSafe(|| handle.shutdown()));
    assert!(
        !dropped.get() || ended.get() == 1,
        "the read's buffer was freed while the read was in the kernel"
    );
    if first.is_err() {
        // The drop's panic left the shutdown: finish it.
        handle.shutdown();
    }
    drop(reactor);
    assert_eq!(handle.in_flight(), 0);
    assert_eq!(ended.get(), 1, "the read ends once");
    assert!(dropped.get());
}
