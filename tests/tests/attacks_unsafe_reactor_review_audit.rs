//! A review of every `unsafe` block and `unsafe impl` of the event-loop
//! layer (`uring/src/reactor/*.rs`, `uring/src/net/*.rs`, `uring/src/fs.rs`):
//! each `// SAFETY:` claim checked against the code around it and the safe
//! paths that reach it, and the claims no suite drove yet attacked from safe
//! code: spawned tasks whose futures must stay where they were pinned from
//! their first poll to their one drop (finished, aborted by another task or
//! by themselves, unwound, dropped by the shutdown, and `run_until`'s own
//! future), while the executor's table grows under them; a `Slice` of a
//! `Slice` of a `RingBuf` handed to a send (the composed pointer and
//! length, and the buffer lent once); fd-passing and address-taking ops
//! whose SQE was built over their own fields before the push was refused,
//! then moved out of their slot and handed back; a `RingBuf` that outlives
//! its reactor, every handle and the ring's own descriptor; the std socket
//! `unix_name` borrows through `ManuallyDrop`; and the bytes `AsyncRead`
//! received ahead, copied into `RingBuf`, `Vec` and `Box` destinations.
//!
//! Read against Linux 6.18: `io_uring/kbuf.c` (`io_ring_buffer_select`,
//! which fails a receive with `ENOBUFS` when the ring has no buffer, and
//! caps a selected length at the buffer's), `io_uring/net.c` (`io_recv`,
//! `io_sendmsg_prep`, `io_recvmsg`), `io_uring/register.c`
//! (`io_unregister_pbuf_ring` on the last reference of the ring's file),
//! `net/core/scm.c` (`scm_detach_fds`) and `net/unix/af_unix.c`
//! (`unix_getname`).
//!
//! Every `unsafe` block and `unsafe impl` checked (line numbers of the
//! tree this was written against), with its verdict:
//!
//! `reactor/buf.rs`
//! - 34 `as_bytes`: holds (trait contract). 99-179 impls for `Vec`,
//!   `Box<[u8]>`, `&'static [u8]`/`[u8; N]`/`str`, `String`: hold.
//! - 121 `Vec::set_init` grows the length only: holds (`filled` caps `n`
//!   at `bytes_total`).
//! - 221-224 `Slice`: `begin <= end <= bytes_init` at creation, the inner
//!   buffer owned and never handed out mutably: holds, also composed
//!   (`a_slice_of_a_slice_of_a_ring_buf_sends_its_range_and_keeps_the_buffer_lent_once`).
//!
//! `reactor/ring_buf.rs`
//! - 70 `claim`: called from `Core::resolve` only for a live slot's tag and
//!   a group the reactor registered: holds.
//! - 107/114 `Deref`/`DerefMut`: the `Rc<BufRing>` keeps the memory and the
//!   ring (a duplicate of its descriptor) alive: holds past the reactor
//!   (`a_ring_buf_outliving_its_reactor_keeps_its_ring_until_its_own_drop`).
//! - 137/151 `IoBuf`/`IoBufMut`: holds (`set_init` clamps to the capacity).
//! - 185/190 unit tests.
//!
//! `reactor/slab.rs`
//! - 39-89 `Stored::write/get/take`: inline when size and alignment fit,
//!   else a raw box never re-borrowed as `Box`: holds (Miri test in tree;
//!   attacks_reactor_storage.rs drives sizes and alignments).
//! - 230 `Chunk::drop`: only when no slot is `in_kernel` (else
//!   `leak_storage`): holds.
//! - 293/315/345/383 `held`, `alloc`, `grow`, `release_callback`: indices
//!   below `slots.len()`, never shrunk: hold.
//!
//! `reactor/cell.rs`
//! - 48-72, 105, 144-160, 194-206: each vtable function reads the one type
//!   it was made for; `call` takes the value before the callback runs (so
//!   the callback may reuse the slot): hold.
//! - 80/115/165/211 `unsafe impl Cell`: hold.
//!
//! `reactor/core.rs`
//! - 183/192 `Garbage::into_value`/`drop`: taken once (`ManuallyDrop`):
//!   holds, also after `sqe()` built pointers into the value
//!   (`fd_passing_and_address_ops_refused_after_their_sqe_was_built_give_everything_back`).
//! - 414-416, 445-477 `start`/`launch`: the value written into a free slot,
//!   then the SQE built in place: holds.
//! - 547 union read of `buf_group`: holds (both members `u16`).
//! - 576/665 `push_unchecked_then`: memory in the slot or ring-owned:
//!   holds.
//! - 750-795 `next_cqe`/`refill` raw CQ pointers: `cq_end` is emptied by
//!   every head move outside `next_cqe` (`drain_cq`): holds.
//! - 842/930 `release_callback` before the call: holds.
//! - 877 `RingBuf::claim`: the key is secret, and safe code reaches no
//!   `RingTarget` of a reactor's ring (checked at `Core::new`; `Ring` has
//!   no `AsFd`, `Ring::from_fd` is `unsafe`): holds.
//! - 888/1007 multishot `each` under `catch_unwind`: holds.
//! - 1025 `read` of the executor's eventfd: holds.
//! - 1054 `take_garbage`'s `ptr::read` then `release`: holds.
//! - 1459 `Core::drop` discards only `Ready`/`StreamDone` values: holds.
//! - 1511-1671 unit tests.
//!
//! `reactor/mod.rs`
//! - 392/422 `launch` after `alloc`/`reserve`: holds.
//! - 729/769/786 calls of `call`/`each` with the core released: hold.
//! - 1104 unit test.
//!
//! `reactor/future.rs`
//! - 158 `take_ready`: the slot of an in-flight future is released only by
//!   that future (no generation check needed): holds.
//! - 259/267/284 `OpStream::poll_next`: the slot is the stream's until the
//!   stream releases it: holds.
//!
//! `reactor/join.rs`
//! - 131 `ManuallyDrop::drop` once (`live`), 153 `get_unchecked_mut`, 166
//!   `Pin::new_unchecked` (structural pinning of `task`): hold
//!   (`spawned_self_referential_futures_stay_where_they_were_pinned_until_their_one_drop`).
//!
//! `reactor/exec.rs`
//! - 52/61 eventfd creation, 88 write, 150 `poll`, 155 read: hold.
//!
//! `reactor/ops.rs`
//! - 37-102 `spare`, `bytes`, `iovecs_of`, `spare_iovec`, `set_init`:
//!   lengths capped at `MAX_TRANSFER` and at `bytes_total`: hold.
//! - 112-1952 every `unsafe impl Op`/`MultishotOp`: the SQE points into
//!   the op (boxed or a field) or `'static` memory, names a `SharedFd` the
//!   op holds: hold.
//! - 599 `made_fd`, 1322 `received_fds`, 1608 `Pipe::complete`: from a
//!   kernel completion of a live slot, read once, never for `res < 0`:
//!   hold.
//! - 897-1045 `SendTo`/`RecvFrom` self-references: used only while the op
//!   stays in its slot; `complete` reads the header's own field only for
//!   `res >= 0`: hold.
//! - 1167-1300 `SendWithFds`/`RecvWithFds` control records: hold.
//! - 1634 zeroed `statx`: holds.
//!
//! `reactor/tokio.rs` 137 `AsyncFd::register_with_interest`: the
//! registration is the driver's first field, dropped before the reactor:
//! holds.
//!
//! `net/backlog.rs` 112/134 `unsafe impl` delegating to `Accept`/
//! `AcceptMulti`: hold. `net/mod.rs` 151-249 `fcntl`, `socket`,
//! `getsockopt`, `setsockopt`, `bind`, `connect`, `get*name`: hold.
//! `net/tcp.rs` 63, `net/unix.rs` 25-34, 77 (`listen`, `socketpair`): hold.
//! `net/unix.rs` 44 `ManuallyDrop<UnixDatagram>` over a borrowed
//! descriptor: holds
//! (`unix_addresses_read_through_a_borrowed_std_socket_leave_it_open`).
//! `net/io_tokio.rs` 645 `copy_nonoverlapping` into `bytes_total()` bytes
//! of the destination, then `set_init`: holds
//! (`bytes_read_ahead_land_in_ring_bufs_vecs_and_boxes_as_a_kernel_read_would`).
//! `fs.rs` 463 `close` of a descriptor given up by `into_raw_fd`: holds.
//!
//! No defect found: every test below passes.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{self, Read as _, Write as _};
use std::marker::PhantomPinned;
use std::ops::Bound;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use uring::Ring;
use uring::net::{UnixDatagram, UnixListener, UnixStream};
use uring::reactor::ops::{RecvFrom, RecvRing, RecvWithFds, Send, SendWithFds};
use uring::reactor::{Handle, IoBuf, JoinHandle, Reactor, RingBuf, SharedFd};
use uring_tests::net::{connected, drive, group_or_skip, poll_read};
use uring_tests::{fd_is_open, pattern, poll_once, watchdog};

/// What a [`Pinned`] future saw of itself.
#[derive(Default)]
struct Seen {
    polls: Cell<u32>,
    /// Polls or the drop that found the future elsewhere than at its first
    /// poll.
    moved: Cell<u32>,
    drops: Cell<u32>,
}

/// What a [`Pinned`] future does at each poll.
enum Plan {
    /// Pending (waking itself) until its `n`th poll, which gives `n`; at
    /// its first poll it spawns `fillers` tasks on `handle`, which grow the
    /// executor's table of tasks.
    Finish {
        n: u32,
        handle: Handle,
        fillers: u32,
    },
    /// Pending for ever, never waking itself.
    Forever,
    /// Aborts the task through the handle in the cell at its first poll,
    /// then waits for ever.
    AbortSelf(Rc<RefCell<Option<JoinHandle<u32>>>>),
    /// Panics at its `n`th poll.
    PanicAt(u32),
}

/// A future that must not move once polled (`PhantomPinned`): it keeps the
/// address of its first poll and checks it at every poll and at its drop.
struct Pinned {
    at: Cell<usize>,
    seen: Rc<Seen>,
    plan: Plan,
    _pin: PhantomPinned,
}

impl Pinned {
    fn new(plan: Plan) -> (Pinned, Rc<Seen>) {
        let seen = Rc::new(Seen::default());
        let future = Pinned {
            at: Cell::new(0),
            seen: Rc::clone(&seen),
            plan,
            _pin: PhantomPinned,
        };
        (future, seen)
    }

    fn check_place(&self) {
        let here = self as *const Pinned as usize;
        match self.at.get() {
            0 => self.at.set(here),
            at if at != here => self.seen.moved.set(self.seen.moved.get() + 1),
            _ => {}
        }
    }
}

impl Future for Pinned {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let this = self.as_ref().get_ref();
        this.check_place();
        let poll = this.seen.polls.get() + 1;
        this.seen.polls.set(poll);
        match &this.plan {
            Plan::Finish { n, handle, fillers } => {
                if poll == 1 {
                    for _ in 0..*fillers {
                        drop(handle.spawn(async {}));
                    }
                }
                if poll >= *n {
                    Poll::Ready(poll)
                } else {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            }
            Plan::Forever => Poll::Pending,
            Plan::AbortSelf(own) => {
                if poll == 1 {
                    own.borrow().as_ref().expect("the handle is set").abort();
                }
                Poll::Pending
            }
            Plan::PanicAt(n) => {
                if poll >= *n {
                    panic!("a task panics at its poll {poll} (expected by the test)");
                }
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let here = self as *const Pinned as usize;
        if self.at.get() != 0 && self.at.get() != here {
            self.seen.moved.set(self.seen.moved.get() + 1);
        }
        self.seen.drops.set(self.seen.drops.get() + 1);
    }
}

/// Pending once (waking itself), then ready: lets a run poll the tasks.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn settle(reactor: &Reactor) {
    for _ in 0..3 {
        reactor.run_until(YieldOnce(false)).unwrap();
    }
}

fn assert_in_place_and_dropped_once(seen: &Seen, what: &str) {
    assert!(seen.polls.get() > 0, "{what}: never polled");
    assert_eq!(seen.moved.get(), 0, "{what}: moved after it was pinned");
    assert_eq!(
        seen.drops.get(),
        1,
        "{what}: dropped {} times",
        seen.drops.get()
    );
}

/// `join.rs` (`Joined::poll`'s `get_unchecked_mut` and
/// `Pin::new_unchecked`, `drop_task`'s `ManuallyDrop::drop` in place) and
/// `exec.rs` (tasks boxed and pinned, taken out of the table while polled)
/// claim that a task's future stays where it was first polled until its
/// one drop. Futures that must not move (`PhantomPinned`) check it at
/// every poll and at their drop: one that finishes after its first poll
/// spawned 500 tasks (the executor's table grows, and its slots are
/// reused); one aborted by another task; one that aborts itself from its
/// own poll; one that panics at its third poll (the panic goes out of
/// `run_until`); one dropped by the reactor's shutdown; and `run_until`'s
/// own future. Each is polled in place and dropped once, and each
/// `JoinHandle` resolves as documented.
#[test]
fn spawned_self_referential_futures_stay_where_they_were_pinned_until_their_one_drop() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();

    let (main, main_seen) = Pinned::new(Plan::Finish {
        n: 4,
        handle: reactor.handle(),
        fillers: 64,
    });
    assert_eq!(reactor.run_until(main).unwrap(), 4);
    assert_in_place_and_dropped_once(&main_seen, "run_until's future");

    let (task, finished) = Pinned::new(Plan::Finish {
        n: 5,
        handle: reactor.handle(),
        fillers: 500,
    });
    let joined = reactor.spawn(task);
    assert_eq!(reactor.run_until(joined).unwrap().unwrap(), 5);
    assert_in_place_and_dropped_once(&finished, "a finished task");

    let (task, aborted) = Pinned::new(Plan::Forever);
    let joined = reactor.spawn(task);
    settle(&reactor);
    assert_eq!(aborted.drops.get(), 0, "dropped before its abort");
    let out = reactor
        .run_until(async move {
            joined.abort();
            joined.await
        })
        .unwrap();
    assert!(out.unwrap_err().is_aborted());
    assert_in_place_and_dropped_once(&aborted, "a task aborted by another");

    let own = Rc::new(RefCell::new(None));
    let (task, self_aborted) = Pinned::new(Plan::AbortSelf(Rc::clone(&own)));
    *own.borrow_mut() = Some(reactor.spawn(task));
    settle(&reactor);
    let joined = own.borrow_mut().take().unwrap();
    assert!(joined.is_finished());
    assert!(reactor.run_until(joined).unwrap().unwrap_err().is_aborted());
    assert_in_place_and_dropped_once(&self_aborted, "a task that aborted itself");
    assert_eq!(self_aborted.polls.get(), 1, "polled again after its abort");

    let (task, panicked) = Pinned::new(Plan::PanicAt(3));
    let mut joined = reactor.spawn(task);
    let unwound = catch_unwind(AssertUnwindSafe(|| reactor.run_until(&mut joined)));
    assert!(unwound.is_err(), "the task's panic goes out of the run");
    assert_in_place_and_dropped_once(&panicked, "a task that panicked");
    match poll_once(&mut joined) {
        Poll::Ready(Err(e)) => assert!(e.is_panic(), "{e:?}"),
        other => panic!("a panicked task's handle: {:?}", other.map(|r| r.is_ok())),
    }

    let (task, dropped) = Pinned::new(Plan::Forever);
    let mut joined = reactor.spawn(task);
    settle(&reactor);
    assert_eq!(dropped.drops.get(), 0);
    drop(reactor);
    assert_in_place_and_dropped_once(&dropped, "a task dropped by the shutdown");
    match poll_once(&mut joined) {
        Poll::Ready(Err(e)) => assert!(e.is_dropped(), "{e:?}"),
        other => panic!("a dropped task's handle: {:?}", other.map(|r| r.is_ok())),
    }
}

/// The errno of a failed result.
fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// `buf.rs` (`Slice`'s `stable_ptr` adds `begin` to the inner buffer's
/// pointer) and `ring_buf.rs` (a `RingBuf` holds its buffer out of the
/// kernel's hands until dropped), composed: a `Slice` of a `Slice` of the
/// one buffer of a group, the inner range given with an excluded start, is
/// sent whole and alone (10 bytes, from byte 15 of the buffer); all along,
/// from the receive that filled the buffer to the drop of what the two
/// `into_inner` give back, the kernel finds no buffer in the group
/// (`ENOBUFS`), and the buffer comes back with the bytes it held. Once it
/// is dropped, the next receive gets it, with the bytes that waited.
#[test]
fn a_slice_of_a_slice_of_a_ring_buf_sends_its_range_and_keeps_the_buffer_lent_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let Some(group) = group_or_skip(&reactor.handle(), 61, 1, 64) else {
        return;
    };
    let (a, mut b) = StdUnixStream::pair().unwrap();
    let a = SharedFd::new(OwnedFd::from(a));
    let data = pattern(40, 3);
    b.write_all(&data).unwrap();
    let (r, buf) = reactor
        .run_until(reactor.op(RecvRing::new(&a, group)))
        .unwrap();
    assert_eq!(r.unwrap(), 40);
    let buf: RingBuf = buf.expect("the receive's buffer");
    let bid = buf.bid();
    assert_eq!(&buf[..], &data[..]);
    b.write_all(b"later").unwrap();
    let none = |what: &str| {
        let (r, out) = reactor
            .run_until(reactor.op(RecvRing::new(&a, group)))
            .unwrap();
        assert_eq!(errno(&r), Some(libc::ENOBUFS), "{what}: {r:?}");
        assert!(out.is_none(), "{what}: a second buffer");
    };
    none("with the buffer held");

    let nested = buf
        .slice(5..35)
        .slice((Bound::Excluded(9), Bound::Included(19)));
    assert_eq!(nested.as_bytes(), &data[15..25]);
    let (r, nested) = reactor
        .run_until(reactor.op(Send::new(&a, nested)))
        .unwrap();
    assert_eq!(r.unwrap(), 10);
    let mut got = [0u8; 10];
    b.read_exact(&mut got).unwrap();
    assert_eq!(got[..], data[15..25]);
    b.set_nonblocking(true).unwrap();
    assert_eq!(
        b.read(&mut [0u8; 64]).unwrap_err().kind(),
        io::ErrorKind::WouldBlock,
        "more than the range was sent"
    );
    none("with the buffer in a slice");

    let mut buf = nested.into_inner().into_inner();
    assert_eq!(buf.bid(), bid);
    assert_eq!(&buf[..], &data[..], "the buffer changed under the send");
    buf[0] = !buf[0];
    none("with the buffer back");
    drop(buf);
    let (r, again) = reactor
        .run_until(reactor.op(RecvRing::new(&a, group)))
        .unwrap();
    assert_eq!(r.unwrap(), 5);
    let again = again.expect("the buffer, back in the ring");
    assert_eq!(again.bid(), bid);
    assert_eq!(&again[..], b"later");
}

/// Where `/proc/self/fd/{fd}` points.
fn link(fd: RawFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// `core.rs` (`launch` builds the SQE over the value in its slot, and a
/// push refused after that hands the value back through
/// `Garbage::into_value`) with the ops whose SQE points into themselves
/// (`ops.rs`: `SendWithFds`' control record of raw descriptor numbers,
/// `RecvWithFds`' control room, `RecvFrom`'s header and address): on a
/// ring of one SQ entry, a deadline (two SQEs) is refused after the SQE
/// was built. Each future resolves at once with `InvalidInput` and its
/// memory as it was: the same two descriptors, open, naming the same
/// pipe; the canaries of the buffers; no descriptor and no address
/// received. The kernel saw none of them: the peer has no byte, and the
/// message sent afterwards without a deadline arrives whole, with its two
/// descriptors, to a receive without one.
#[test]
fn fd_passing_and_address_ops_refused_after_their_sqe_was_built_give_everything_back() {
    let _watch = watchdog();
    let reactor = Reactor::from_ring(Ring::new(1).unwrap()).unwrap();
    let (a, b) = StdUnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    let a = SharedFd::new(OwnedFd::from(a));
    let (r_end, w_end) = uring_tests::pipe();
    let raws = [r_end.as_raw_fd(), w_end.as_raw_fd()];
    let links = raws.map(link);
    let canary = pattern(32, 7);
    let far = Instant::now() + Duration::from_secs(3600);

    let mut send = reactor.op_with_deadline(
        SendWithFds::new(&a, canary.clone(), vec![r_end, w_end]),
        far,
    );
    assert!(send.id().is_none(), "queued");
    let Poll::Ready((r, (buf, fds))) = poll_once(&mut send) else {
        panic!("a refused op's future is ready at once");
    };
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    assert_eq!(buf, canary);
    let back: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    assert_eq!(back, raws, "other descriptors came back");
    assert!(raws.iter().all(|&fd| fd_is_open(fd)));
    assert_eq!(raws.map(link), links);
    assert_eq!(
        (&b).read(&mut [0u8; 8]).unwrap_err().kind(),
        io::ErrorKind::WouldBlock,
        "the refused send reached the peer"
    );

    b.set_nonblocking(false).unwrap();
    let b = SharedFd::new(OwnedFd::from(b));
    let (r, _) = reactor
        .run_until(reactor.op(SendWithFds::new(&a, b"m".to_vec(), fds)))
        .unwrap();
    assert_eq!(r.unwrap(), 1);

    let boxed = vec![0xA5u8; 16].into_boxed_slice();
    let mut recv = reactor.op_with_deadline(RecvWithFds::new(&b, boxed, 4), far);
    let Poll::Ready((r, (buf, got))) = poll_once(&mut recv) else {
        panic!("a refused receive's future is ready at once");
    };
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    assert!(buf.iter().all(|&x| x == 0xA5), "the refused receive wrote");
    assert!(got.is_empty(), "descriptors from a receive never run");

    let boxed = vec![0x5Au8; 16].into_boxed_slice();
    let mut from = reactor.op_with_deadline(RecvFrom::unix(&b, boxed), far);
    let Poll::Ready((r, (buf, addr))) = poll_once(&mut from) else {
        panic!("a refused receive's future is ready at once");
    };
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    assert!(buf.iter().all(|&x| x == 0x5A), "the refused receive wrote");
    assert!(addr.is_none());

    let (r, (buf, got)) = reactor
        .run_until(reactor.op(RecvWithFds::new(&b, Vec::with_capacity(8), 4)))
        .unwrap();
    assert_eq!(r.unwrap(), 1, "the message waited whole");
    assert_eq!(buf, b"m");
    assert_eq!(got.len(), 2);
    let got_links: Vec<String> = got.iter().map(|fd| link(fd.as_raw_fd())).collect();
    assert_eq!(got_links, links, "the descriptors name the same pipe");
}

/// `ring_buf.rs` (`Deref`, `DerefMut`, `IoBuf` of a `RingBuf`: the
/// `Rc<BufRing>` keeps its memory) with `Core::drop` and the ring's drop:
/// a `RingBuf` kept after its reactor and every handle were dropped keeps
/// its bytes, takes changes, and is sent whole by another reactor; the
/// process then holds one descriptor more than before the reactor, a
/// ring's (the buffer ring's duplicate, which keeps the kernel's ring and
/// its registration), and none once the buffer is dropped. Run in a
/// process of its own, where the descriptors are the test's alone.
#[test]
fn a_ring_buf_outliving_its_reactor_keeps_its_ring_until_its_own_drop() {
    uring_tests::in_own_process(
        "a_ring_buf_outliving_its_reactor_keeps_its_ring_until_its_own_drop",
        "a ring buffer's drop after its reactor's",
        || {
            let _watch = watchdog();
            let (a, mut b) = StdUnixStream::pair().unwrap();
            let a = SharedFd::new(OwnedFd::from(a));
            let before = uring_tests::open_fd_set();
            let reactor = Reactor::new().unwrap();
            let Some(group) = group_or_skip(&reactor.handle(), 62, 2, 32) else {
                return;
            };
            let data = pattern(20, 5);
            b.write_all(&data).unwrap();
            let (r, buf) = reactor
                .run_until(reactor.op(RecvRing::new(&a, group)))
                .unwrap();
            assert_eq!(r.unwrap(), 20);
            let mut buf = buf.expect("a buffer");
            drop(reactor);

            let kept = uring_tests::open_fd_set();
            let extra: Vec<RawFd> = kept.difference(&before).copied().collect();
            assert!(!extra.is_empty(), "the ring is gone under a lent buffer");
            for &fd in &extra {
                assert_eq!(
                    link(fd),
                    "anon_inode:[io_uring]",
                    "descriptor {fd} left open"
                );
            }
            assert_eq!(&buf[..], &data[..]);
            buf[3] = 0xFF;
            let mut want = data.clone();
            want[3] = 0xFF;
            assert_eq!(&buf[..], &want[..]);

            let other = Reactor::new().unwrap();
            let (r, buf) = other.run_until(other.op(Send::new(&a, buf))).unwrap();
            assert_eq!(r.unwrap(), 20);
            let mut got = [0u8; 20];
            b.read_exact(&mut got).unwrap();
            assert_eq!(got[..], want[..]);
            drop(other);
            assert_eq!(uring_tests::open_fd_set(), kept);
            drop(buf);
            assert_eq!(
                uring_tests::open_fd_set(),
                before,
                "the ring outlived its last buffer"
            );
        },
    );
}

/// `net/unix.rs` (`unix_name` reads an address through a std socket made
/// over the stream's descriptor, in a `ManuallyDrop` so that it never
/// closes it): 200 rounds of every address read of a listener, both ends
/// of a connection and a datagram pair leave each descriptor open and
/// working: bytes still flow both ways afterwards, and the addresses read
/// are the ones the kernel gave (the listener's path at the client's peer).
#[test]
fn unix_addresses_read_through_a_borrowed_std_socket_leave_it_open() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let dir = uring_tests::test_dir!();
    let path = dir.path().join("sock");
    let listener = UnixListener::bind(&h, &path).unwrap();
    let client = reactor
        .run_until(UnixStream::connect(&h, &path))
        .unwrap()
        .unwrap();
    let server = reactor.run_until(listener.accept()).unwrap().unwrap();
    let (d1, d2) = UnixDatagram::pair(&h).unwrap();
    for _ in 0..200 {
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        assert_eq!(
            client.peer_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        assert!(client.local_addr().unwrap().is_unnamed());
        assert!(server.peer_addr().unwrap().is_unnamed());
        assert_eq!(
            server.local_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        assert!(d1.local_addr().unwrap().is_unnamed());
        assert!(d2.peer_addr().unwrap().is_unnamed());
    }
    for fd in [
        listener.shared_fd(),
        client.shared_fd(),
        server.shared_fd(),
        d1.shared_fd(),
        d2.shared_fd(),
    ] {
        assert!(fd_is_open(fd.as_raw_fd()), "an address read closed {fd:?}");
    }
    let (r, _) = reactor.run_until(client.write(b"ping".to_vec())).unwrap();
    assert_eq!(r.unwrap(), 4);
    let (r, got) = reactor
        .run_until(server.read(Vec::with_capacity(8)))
        .unwrap();
    assert_eq!(r.unwrap(), 4);
    assert_eq!(got, b"ping");
    let (r, _) = reactor.run_until(d2.send(b"dg".to_vec())).unwrap();
    assert_eq!(r.unwrap(), 2);
    let (r, got) = reactor.run_until(d1.recv(Vec::with_capacity(8))).unwrap();
    assert_eq!(r.unwrap(), 2);
    assert_eq!(got, b"dg");
}

/// `net/io_tokio.rs` (`take_read_ahead` copies the bytes `AsyncRead`
/// received ahead into `bytes_total()` bytes of a plain read's buffer, then
/// `set_init`): ten bytes wait after a one-byte `AsyncRead`; plain reads
/// into a `RingBuf` of 4 bytes' capacity holding 3 old bytes, a `Vec` of 5
/// bytes (full) and one of capacity 8, empty, take them in order, as a
/// kernel read into the same buffer would have filled it: the `RingBuf`'s
/// length becomes the count (4), the full `Vec` is overwritten from its
/// start and keeps its length, the empty one grows to the count. A
/// zero-byte `Box` takes nothing (0, as the kernel's read of no room
/// answers) and loses nothing: the next read gets the rest.
#[test]
fn bytes_read_ahead_land_in_ring_bufs_vecs_and_boxes_as_a_kernel_read_would() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 63, 1, 4) else {
        return;
    };
    // A RingBuf of capacity 4, holding 3 old bytes.
    let (x, mut y) = StdUnixStream::pair().unwrap();
    let x = SharedFd::new(OwnedFd::from(x));
    y.write_all(b"old").unwrap();
    let (r, ring) = reactor
        .run_until(reactor.op(RecvRing::new(&x, group)))
        .unwrap();
    assert_eq!(r.unwrap(), 3);
    let ring = ring.unwrap();
    assert_eq!((ring[..].len(), ring.capacity()), (3, 4));

    let (mut stream, mut peer) = connected(&h);
    let data = b"0123456789ABCDEF";
    peer.write_all(&data[..11]).unwrap();
    let mut one = [0u8; 1];
    let first = drive(&reactor, Duration::from_secs(5), || {
        match poll_read(&mut stream, &mut one) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    })
    .unwrap();
    assert_eq!(first.unwrap(), 1);
    assert_eq!(one, [b'0']);
    // Bytes were received ahead: a receive into a buffer ring, which
    // cannot take them, refuses to start.
    let refused = reactor.run_until(stream.recv_ring(group)).unwrap();
    assert_eq!(refused.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    // Ten bytes, "123456789A", wait in the stream; whether all of them were
    // received ahead or some are still in the socket, each read below
    // takes the next ones.
    let (r, ring) = reactor.run_until(stream.read(ring)).unwrap();
    assert_eq!(r.unwrap(), 4);
    assert_eq!(&ring[..], b"1234");
    let (r, full) = reactor.run_until(stream.read(b"zzzzz".to_vec())).unwrap();
    assert_eq!(r.unwrap(), 5);
    assert_eq!(full, b"56789");
    let empty: Box<[u8]> = Box::new([]);
    let (r, empty) = reactor.run_until(stream.read(empty)).unwrap();
    assert_eq!(r.unwrap(), 0);
    assert!(empty.is_empty());
    let (r, grown) = reactor
        .run_until(stream.read(Vec::with_capacity(8)))
        .unwrap();
    assert_eq!(r.unwrap(), 1);
    assert_eq!(grown, b"A");
    drop(ring);
    // The RingBuf went back: the group's one buffer takes the next bytes.
    y.write_all(b"new!").unwrap();
    let (r, again) = reactor
        .run_until(reactor.op(RecvRing::new(&x, group)))
        .unwrap();
    assert_eq!(r.unwrap(), 4);
    assert_eq!(&again.unwrap()[..], b"new!");
}
