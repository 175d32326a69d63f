//! Attacks, in safe code, on the crossings between features that are each
//! attacked alone elsewhere: registered files, buffer rings and claimed
//! buffers held across resizes, ring drops and second registrations of the
//! same group; rings of one worker pool dropped under each other's io-wq
//! reads; message targets that outlive their ring or are dropped inside a
//! scope; a reactor's `Remote` after its thread panicked; a reactor over a
//! ring the program registered things on; personalities, eventfds and
//! restrictions around scopes; slots of one ring named in another's
//! cancels; SQPOLL scopes over slots updated between them; and the
//! descriptors a spawned process inherits while all of these live.
//!
//! Each test asserts what the kernel and the library really did: results
//! and errno values, every completion seen once, canary bytes unchanged in
//! memory no op may write, no panic and no hang.

use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use uring::ops::{MsgRing, Nop, Read, Recv};
use uring::{BufferGroup, PushErrorKind, Ring, SqeFlags, SyncCancel};
use uring_tests::{pattern, pipe, plain_buf_ring, watchdog};

/// Receives once from `rx` into a buffer of `pool`, in a scope of `ring`
/// (the op carrying `user_data`), and claims that buffer.
fn recv_and_claim<'p>(
    ring: &mut Ring,
    rx: &UnixStream,
    pool: &'p uring::BufRing,
    user_data: u64,
) -> uring::Buf<'p> {
    ring.scope(|s| {
        s.push(Recv::new(rx, pool.select()).user_data(user_data))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        pool.claim(&mut cqe).unwrap()
    })
}

/// A registered file table and a held buffer-ring claim both live across a
/// resize: the slot still names its file, the claimed buffer stays out of
/// the kernel's hands (a receive that finds the group empty fails with
/// `ENOBUFS` rather than take it), its bytes do not change, and the table
/// is updated and unregistered through its handle afterwards.
#[test]
fn a_file_table_and_a_held_claim_live_across_a_resize() {
    let _watch = watchdog();
    let Some(mut ring) = uring_tests::resizable_ring(8) else {
        return;
    };
    let first = uring_tests::file_of(b"first file");
    let second = uring_tests::file_of(b"second file");
    let mut table = ring.register_files(&[first.as_fd()]).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 3, 2, 64) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let sent = pattern(40, 3);
    tx.write_all(&sent).unwrap();
    let mut read_back = [0xa5u8; 32];
    let held = ring.scope(|s| {
        s.push(Read::new(table.get(0).unwrap(), &mut read_back[..]).user_data(1))
            .unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(2)).unwrap();
        s.submit_and_wait(2).unwrap();
        let mut held = None;
        let mut seen = Vec::new();
        for mut cqe in s.completions() {
            seen.push((cqe.user_data(), cqe.res()));
            if cqe.user_data() == 2 {
                held = Some(pool.claim(&mut cqe).unwrap());
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, [(1, 10), (2, 40)]);
        held.unwrap()
    });
    assert_eq!(&read_back[..10], b"first file");
    assert!(read_back[10..].iter().all(|&b| b == 0xa5));
    assert_eq!(&held[..], &sent[..]);

    ring.resize(16, 64).unwrap();
    assert_eq!(ring.sq_entries(), 16);

    // The slot names the same file after the resize.
    let mut again = [0u8; 10];
    let cqe = uring_tests::complete(&mut ring, Read::new(table.get(0).unwrap(), &mut again[..]));
    assert_eq!(cqe.res(), 10);
    assert_eq!(&again, b"first file");

    // One buffer of two is held: one receive takes the other, the next
    // finds none.
    tx.write_all(&[0x11; 64]).unwrap();
    let second_claim = recv_and_claim(&mut ring, &rx, &pool, 3);
    assert_ne!(
        second_claim.bid(),
        held.bid(),
        "the held buffer was handed out again"
    );
    assert_eq!(&second_claim[..], [0x11; 64]);
    tx.write_all(&[0x22; 8]).unwrap();
    let cqe = uring_tests::complete(&mut ring, Recv::new(&rx, pool.select()).user_data(4));
    assert_eq!(cqe.res(), -libc::ENOBUFS, "{cqe:?}");
    assert_eq!(&held[..], &sent[..], "the held buffer changed");
    assert_eq!(&second_claim[..], [0x11; 64]);
    drop(second_claim);

    // The table's handle still works on the resized ring.
    assert_eq!(
        ring.update_files(&mut table, 0, &[Some(second.as_fd())])
            .unwrap(),
        1
    );
    let mut third = [0u8; 11];
    let cqe = uring_tests::complete(&mut ring, Read::new(table.get(0).unwrap(), &mut third[..]));
    assert_eq!(cqe.res(), 11);
    assert_eq!(&third, b"second file");
    ring.unregister_files(table).unwrap();

    // Dropping the first claim too gives both buffers back: the bytes
    // still waiting and more are received into them, in the ring's order.
    let bids = [held.bid(), 1 - held.bid()];
    drop(held);
    for (i, expect) in [[0x22u8; 8], [0x33; 8]].into_iter().enumerate() {
        if i == 1 {
            tx.write_all(&expect).unwrap();
        }
        let (res, bid_now, bytes) = ring.scope(|s| {
            s.push(Recv::new(&rx, pool.select()).user_data(5)).unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            let res = cqe.res();
            let buf = pool.claim(&mut cqe).unwrap();
            (res, buf.bid(), buf.to_vec())
        });
        assert_eq!(res, 8);
        assert!(bids.contains(&bid_now), "buffer {bid_now}");
        assert_eq!(bytes, expect, "receive {i}");
    }
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// A claimed buffer held after its ring was dropped keeps its bytes while
/// memory is allocated and written around it, and goes back to a pool
/// whose ring is gone without a fault or a panic.
#[test]
fn a_claim_held_past_its_ring_keeps_its_bytes() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 9, 4, 256) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let sent = pattern(200, 9);
    tx.write_all(&sent).unwrap();
    let held = recv_and_claim(&mut ring, &rx, &pool, 1);
    drop(ring);
    // A new ring under the same group id, with receives filling every one
    // of its buffers.
    let mut other = Ring::new(8).unwrap();
    let other_pool = plain_buf_ring(&mut other, 9, 4, 256).unwrap();
    let fresh: Vec<Vec<u8>> = (0..32).map(|_| vec![0x5a; 256]).collect();
    for round in 0..4u8 {
        tx.write_all(&[round; 100]).unwrap();
        let (res, bytes) = other.scope(|s| {
            s.push(Recv::new(&rx, other_pool.select()).user_data(2))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            let res = cqe.res();
            let buf = other_pool.claim(&mut cqe).unwrap();
            (res, buf.to_vec())
        });
        assert_eq!(res, 100);
        assert_eq!(bytes, [round; 100]);
    }
    assert_eq!(&held[..], &sent[..], "the held buffer changed");
    assert!(fresh.iter().all(|v| v.iter().all(|&b| b == 0x5a)));
    // A claim of the dropped ring's pool taken from the new ring's
    // completion is refused.
    tx.write_all(b"late").unwrap();
    other.scope(|s| {
        s.push(Recv::new(&rx, other_pool.select()).user_data(3))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 4);
        assert!(pool.claim(&mut cqe).is_err(), "claimed through a dead ring");
        let buf = other_pool.claim(&mut cqe).unwrap();
        assert_eq!(&buf[..], b"late");
    });
    drop(held);
    drop(pool);
    assert!(uring_tests::stray(&mut other).is_empty());
}

/// A second registration of a group the ring already has (plain or
/// kernel-allocated) is an error value while a buffer of the first is
/// claimed; the held buffer keeps its bytes, and the first pool goes on
/// serving receives.
#[test]
fn a_group_registered_twice_while_a_claim_is_held_is_refused() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 12, 2, 64) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"held bytes").unwrap();
    let held = recv_and_claim(&mut ring, &rx, &pool, 1);
    let group = BufferGroup::new(12);
    let again = ring.register_buf_ring(group, 2, 64);
    assert_eq!(
        again.as_ref().err().and_then(|e| e.raw_os_error()),
        Some(libc::EEXIST),
        "{:?}",
        again.as_ref().err()
    );
    drop(again);
    if uring_tests::require_kernel(6, 4, "kernel-allocated buffer rings") {
        let mmap = ring.register_buf_ring_mmap(group, 2, 64);
        assert_eq!(
            mmap.as_ref().err().and_then(|e| e.raw_os_error()),
            Some(libc::EEXIST)
        );
    }
    let incremental = ring.register_buf_ring_incremental(group, 2, 64);
    assert!(incremental.is_err());
    drop(incremental);
    assert_eq!(&held[..], b"held bytes");
    tx.write_all(b"next").unwrap();
    ring.scope(|s| {
        s.push(Recv::new(&rx, pool.select()).user_data(2)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        let buf = pool.claim(&mut cqe).unwrap();
        assert_ne!(buf.bid(), held.bid());
        assert_eq!(&buf[..], b"next");
    });
    assert_eq!(&held[..], b"held bytes");
}

/// Rings of one worker pool (`create_many`): the ring that owns the pool is
/// dropped while the other ring's read, forced onto an io-wq worker
/// (`SqeFlags::ASYNC`), blocks in a scope on another thread. The read then
/// completes once, with the bytes written after the drop, into its own
/// buffer only.
#[test]
fn a_pool_owner_dropped_under_an_attached_ring_s_worker_read() {
    let _watch = watchdog();
    if uring_tests::under_valgrind() {
        return uring_tests::skip(
            "valgrind runs one thread at a time: the writing thread cannot run \
             while the reader waits in io_uring_enter",
        );
    }
    let mut rings = match Ring::create_many(2, 8, 1, &Ring::builder()) {
        Ok(rings) => rings,
        Err(e) => return uring_tests::skip(format_args!("create_many: {e}")),
    };
    let attached = rings.pop().unwrap();
    let owner = rings.pop().unwrap();
    assert!(attached.attached_wq().is_some());
    let (rx, tx) = pipe();
    let (submitted, wait_submitted) = mpsc::channel();
    let (first_read, wait_first_read) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut ring = attached;
        let mut buf = [0xb7u8; 64];
        let seen = ring.scope(|s| {
            s.push(
                Read::new(&rx, &mut buf[..32])
                    .flags(SqeFlags::ASYNC)
                    .user_data(1),
            )
            .unwrap();
            s.push(Nop::new().user_data(2)).unwrap();
            s.submit().unwrap();
            submitted.send(()).unwrap();
            let mut seen = Vec::new();
            while seen.len() < 2 {
                s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
                seen.extend(s.completions().map(|c| (c.user_data(), c.res())));
            }
            seen
        });
        first_read.send(()).unwrap();
        // The ring still serves a second worker read after the owner went.
        let mut again = [0u8; 8];
        let cqe = uring_tests::complete(
            &mut ring,
            Read::new(&rx, &mut again[..])
                .flags(SqeFlags::ASYNC)
                .user_data(3),
        );
        (seen, buf, cqe.res(), again)
    });
    wait_submitted.recv().unwrap();
    std::thread::sleep(Duration::from_millis(30));
    drop(owner);
    let mut tx = std::fs::File::from(tx);
    let sent = pattern(20, 4);
    tx.write_all(&sent).unwrap();
    // The next bytes only once the first read completed: a read that ran
    // after both writes would take both (nothing bounds how late its retry
    // runs). A reader that failed sends nothing; its join says why.
    let _ = wait_first_read.recv();
    tx.write_all(b"afterwrd").unwrap();
    let (mut seen, buf, res, again) = reader.join().unwrap();
    seen.sort_unstable();
    assert_eq!(seen, [(1, 20), (2, 0)]);
    assert_eq!(&buf[..20], &sent[..]);
    assert!(buf[20..].iter().all(|&b| b == 0xb7), "{buf:?}");
    assert_eq!(res, 8);
    assert_eq!(&again, b"afterwrd");
}

/// A message target that outlives its ring: posts and messages (data, and
/// a registered file) still reach the kernel's ring, which nobody reads;
/// each sender's op completes once, with a result, even past the dead
/// ring's CQ size; dropping the target then frees the ring.
#[test]
fn a_target_outliving_its_ring_takes_messages_without_harm() {
    let _watch = watchdog();
    let ring = Ring::new(2).unwrap();
    let target = ring.msg_target().unwrap();
    drop(ring);
    if uring_tests::kernel_version() >= (6, 13) {
        target.post(5, 1).unwrap();
    }
    let mut sender = Ring::new(8).unwrap();
    let file = uring_tests::file_of(b"passed");
    let table = sender.register_files(&[file.as_fd()]).unwrap();
    let mut results = Vec::new();
    for round in 0..40u64 {
        let cqe = uring_tests::complete(
            &mut sender,
            MsgRing::new(&target, 7, 100 + round).user_data(round),
        );
        assert_eq!(cqe.user_data(), round);
        results.push(cqe.res());
    }
    // The dead ring's CQ (4 entries) overflows into the kernel's list; the
    // messages all land.
    assert!(results.iter().all(|&r| r == 0), "{results:?}");
    let cqe = uring_tests::complete(
        &mut sender,
        uring::ops::MsgRingFd::new(uring::RingSlot::alloc_in(&target), table.get(0).unwrap(), 9)
            .user_data(77),
    );
    // The dead ring has no file table, so no free slot: the kernel
    // refuses, and the file stays only in the sender's table.
    assert_eq!(cqe.res(), -libc::ENFILE, "{cqe:?}");
    drop(target);
    assert!(uring_tests::stray(&mut sender).is_empty());
    sender.unregister_files(table).unwrap();
}

/// A target dropped in the middle of a scope does not open that scope:
/// it began while another thread could post into the ring, so it takes
/// no op to its end; a completion forged before the drop stays foreign,
/// and the next scope tags every op and settles each once.
#[test]
fn a_target_dropped_inside_a_scope_does_not_open_it() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let target = ring.msg_target().unwrap();
    let mut sender = Ring::new(4).unwrap();
    let mut buf = [0x6cu8; 16];
    let (mut tx, rx) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        assert_eq!(
            s.push(Nop::new().user_data(1)).map_err(|e| e.kind()),
            Err(PushErrorKind::Targeted)
        );
        // Another thread forges a completion, then drops the target.
        std::thread::scope(|threads| {
            threads.spawn(|| {
                let cqe = uring_tests::complete(
                    &mut sender,
                    MsgRing::new(&target, 3, 1u64 << 63).user_data(5),
                );
                assert_eq!(cqe.res(), 0);
                drop(target);
            });
        });
        assert_eq!(
            s.push(Read::new(&rx, &mut buf[..]).user_data(2))
                .map_err(|e| e.kind()),
            Err(PushErrorKind::Targeted)
        );
        assert_eq!(s.in_flight(), 0);
        s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
        let forged: Vec<(u64, i32, bool)> = s
            .completions()
            .map(|c| (c.user_data(), c.res(), c.is_scope_op()))
            .collect();
        assert_eq!(forged, [(1u64 << 63, 3, false)]);
    });
    assert!(buf.iter().all(|&b| b == 0x6c));
    assert!(uring_tests::stray(&mut ring).is_empty());
    tx.write_all(b"now").unwrap();
    let (tags, res) = ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(2)).unwrap();
        s.submit_and_wait(1).unwrap();
        let got: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        (s.tags_every_op(), got)
    });
    assert!(tags, "a ring that was a target tags every op of its scopes");
    assert_eq!(res, [(2, 3)]);
    assert_eq!(&buf[..3], b"now");
    assert!(buf[3..].iter().all(|&b| b == 0x6c));
}

/// Counts how many times it was dropped, wherever that happens.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A reactor's thread panics in a callback while `run` drives an op in
/// flight and a job sent through a `Remote` waits: the unwinding drops
/// the reactor, which ends the op in flight (its callback runs once, with
/// `ECANCELED`); the job either ran or was dropped, once; and the
/// `Remote`, used afterwards from another thread, refuses every call with
/// an error, dropping what it was given unrun.
#[test]
fn a_remote_of_a_reactor_whose_thread_panicked_refuses_and_loses_nothing() {
    use uring::reactor::Reactor;
    use uring::reactor::ops::{Nop as RNop, Timeout as RTimeout};
    let _watch = watchdog();
    let ran = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let cancelled = Arc::new(AtomicUsize::new(0));
    let (remote_tx, remote_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let server = {
        let cancelled = Arc::clone(&cancelled);
        std::thread::spawn(move || {
            let reactor = Reactor::new().unwrap();
            remote_tx.send(reactor.remote()).unwrap();
            let guard = DropCount(Arc::clone(&cancelled));
            reactor
                .queue(RTimeout::new(Duration::from_secs(30)), move |r, ()| {
                    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
                    drop(guard);
                })
                .unwrap();
            go_rx.recv().unwrap();
            reactor
                .queue(RNop, |_, ()| {
                    panic!("a callback panics on the reactor thread")
                })
                .unwrap();
            reactor.run().unwrap();
        })
    };
    let remote = remote_rx.recv().unwrap();
    {
        let ran = Arc::clone(&ran);
        let guard = DropCount(Arc::clone(&dropped));
        remote
            .execute(move |_| {
                ran.fetch_add(1, Ordering::SeqCst);
                drop(guard);
            })
            .unwrap();
    }
    go_tx.send(()).unwrap();
    let joined = server.join();
    assert!(joined.is_err(), "the reactor thread was to panic");
    assert!(ran.load(Ordering::SeqCst) <= 1);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the job was lost or doubled"
    );
    assert_eq!(
        cancelled.load(Ordering::SeqCst),
        1,
        "the timeout's callback"
    );
    // Every call now refuses, and drops what it was given.
    let late = Arc::new(AtomicUsize::new(0));
    let guard = DropCount(Arc::clone(&late));
    assert!(remote.execute(move |_| drop(guard)).is_err());
    let guard = DropCount(Arc::clone(&late));
    assert!(remote.queue(RNop, move |_, ()| drop(guard)).is_err());
    let guard = DropCount(Arc::clone(&late));
    assert!(remote.spawn(async move { drop(guard) }).is_err());
    assert_eq!(late.load(Ordering::SeqCst), 3);
    let _ = remote.shutdown();
    drop(remote);
}

/// A personality unregistered between scopes, or one of another ring, is a
/// number the kernel no longer knows: the op naming it fails once with
/// `EINVAL` and writes nothing into its buffer; the scope ends normally.
#[test]
fn a_personality_gone_or_of_another_ring_fails_its_op_once() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let personality = match ring.register_personality() {
        Ok(p) => p,
        Err(e) => return uring_tests::skip(format_args!("no personalities: {e}")),
    };
    let file = uring_tests::file_of(b"credentials");
    let mut buf = [0x4du8; 16];
    let cqe = uring_tests::complete(
        &mut ring,
        Read::new(&file, &mut buf[..]).personality(personality),
    );
    assert_eq!(cqe.res(), 11);
    ring.unregister_personality(personality).unwrap();
    buf = [0x4d; 16];
    let cqe = uring_tests::complete(
        &mut ring,
        Read::new(&file, &mut buf[..]).personality(personality),
    );
    assert_eq!(cqe.res(), -libc::EINVAL);
    assert!(buf.iter().all(|&b| b == 0x4d));
    // Unregistering twice is an error value.
    assert!(ring.unregister_personality(personality).is_err());
    // Pushed to a ring that has none: refused by the kernel the same way.
    let mut other = Ring::new(8).unwrap();
    let cqe = uring_tests::complete(
        &mut other,
        Read::new(&file, &mut buf[..]).personality(personality),
    );
    assert_eq!(cqe.res(), -libc::EINVAL);
    assert!(buf.iter().all(|&b| b == 0x4d));
    // Unregistered through the wrong ring: refused before the kernel.
    assert!(other.unregister_personality(personality).is_err());
    assert!(uring_tests::stray(&mut ring).is_empty());
    assert!(uring_tests::stray(&mut other).is_empty());
}

/// A synchronous cancel naming a slot of another ring's table is refused
/// before the kernel sees it, from the ring and from a scope: a read of
/// the ring's own slot with the same number stays in flight, and completes
/// once with the bytes written later.
#[test]
fn a_cancel_by_a_slot_of_another_ring_is_refused() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_kernel(6, 0, "synchronous cancellation") {
        return;
    }
    let mut other = Ring::new(8).unwrap();
    let (rx, tx) = pipe();
    let (other_rx, _other_tx) = pipe();
    let table = ring.register_files(&[rx.as_fd()]).unwrap();
    let other_table = other.register_files(&[other_rx.as_fd()]).unwrap();
    let foreign = SyncCancel::fd(other_table.get(0).unwrap());
    assert!(matches!(
        ring.cancel_sync(foreign, Some(Duration::from_millis(10))),
        Err(uring::Error::InvalidArgument(_))
    ));
    let mut buf = [0x3eu8; 16];
    let mut tx = std::fs::File::from(tx);
    let got = ring.scope(|s| {
        s.push(Read::new(table.get(0).unwrap(), &mut buf[..]).user_data(1))
            .unwrap();
        s.submit().unwrap();
        let refused = s.cancel_sync(foreign, Some(Duration::from_millis(10)));
        assert!(
            matches!(refused, Err(uring::Error::InvalidArgument(_))),
            "{refused:?}"
        );
        assert_eq!(s.in_flight(), 1);
        tx.write_all(b"still read").unwrap();
        s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
        s.completions()
            .map(|c| (c.user_data(), c.res()))
            .collect::<Vec<_>>()
    });
    assert_eq!(got, [(1, 10)]);
    assert_eq!(&buf[..10], b"still read");
    assert!(buf[10..].iter().all(|&b| b == 0x3e));
    ring.unregister_files(table).unwrap();
    // The other ring's table, handed to this ring, is refused too and comes
    // back whole.
    let back = ring.unregister_files(other_table).unwrap_err();
    other.unregister_files(back.handle).unwrap();
}

/// Every ring descriptor the crossings make (a ring's, a message target's
/// duplicate, buffer rings' duplicates, rings of one worker pool, a
/// reactor's, an SQPOLL ring's) is close-on-exec: a process spawned while
/// a scope has a read in flight lists none, and the read then completes
/// once in this process.
#[test]
fn a_process_spawned_mid_scope_inherits_no_ring_of_any_kind() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let target = ring.msg_target().unwrap();
    drop(target);
    let _target_kept = ring.msg_target().unwrap();
    let mut plain = Ring::new(4).unwrap();
    let pool = plain_buf_ring(&mut plain, 1, 2, 64);
    let mmap_pool = if uring_tests::kernel_version() >= (6, 4) {
        uring_tests::mmap_buf_ring(&mut plain, 2, 2, 64, false)
    } else {
        None
    };
    let many = Ring::create_many(2, 4, 1, &Ring::builder()).ok();
    let reactor = uring::reactor::Reactor::new().unwrap();
    let sqpoll = uring_tests::sqpoll_ring(4);
    // Every io_uring descriptor of this process says close-on-exec.
    let mut rings = 0;
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let entry = entry.unwrap();
        let Ok(link) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if !link.to_string_lossy().contains("io_uring") {
            continue;
        }
        let fd: i32 = entry.file_name().to_string_lossy().parse().unwrap();
        // SAFETY: F_GETFD only reads the descriptor's flags.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags == -1 {
            continue; // closed since the listing, by a test on another thread
        }
        assert_ne!(
            flags & libc::FD_CLOEXEC,
            0,
            "ring descriptor {fd}: {link:?}"
        );
        rings += 1;
    }
    assert!(rings >= 4, "only {rings} ring descriptors listed");
    let (rx, tx) = pipe();
    let mut buf = [0x19u8; 8];
    let mut tx = std::fs::File::from(tx);
    let (listing, got) = ring.scope(|s| {
        // The ring has a live target: its scopes take nothing. The read is
        // pushed below, on a ring without one.
        assert_eq!(
            s.push(Read::new(&rx, &mut buf[..]).user_data(1))
                .map_err(|e| e.kind()),
            Err(PushErrorKind::Targeted)
        );
        (
            std::process::Command::new("sh")
                .arg("-c")
                .arg("for f in /proc/self/fd/*; do echo \"$f $(readlink $f)\"; done")
                .output(),
            s.in_flight(),
        )
    });
    assert_eq!(got, 0);
    let Ok(out) = listing else {
        return uring_tests::skip("no shell to spawn");
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        !text.contains("io_uring"),
        "a ring reached the child:\n{text}"
    );
    let mut clean = Ring::new(8).unwrap();
    let (child_text, res) = clean.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.submit().unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("for f in /proc/self/fd/*; do echo \"$f $(readlink $f)\"; done")
            .output()
            .unwrap();
        tx.write_all(b"from me").unwrap();
        s.wait_timeout(1, uring_tests::PATIENCE).unwrap();
        let res: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        (String::from_utf8_lossy(&out.stdout).into_owned(), res)
    });
    assert!(!child_text.contains("io_uring"), "{child_text}");
    assert_eq!(res, [(1, 7)]);
    assert_eq!(&buf[..7], b"from me");
    assert_eq!(buf[7], 0x19);
    drop((pool, mmap_pool, many, reactor, sqpoll));
}

/// A reactor over a ring the program registered a file table and a buffer
/// ring on: the reactor cannot take the program's group id (an error, not
/// a panic), serves its own group, and, once the program's buffer ring is
/// dropped (unregistering its group from the reactor's ring through a
/// duplicate of the descriptor), can register that id and receive into it.
#[test]
fn a_reactor_over_a_ring_the_program_registered_on() {
    use uring::reactor::ops::RecvRing;
    use uring::reactor::{Reactor, SharedFd};
    let _watch = watchdog();
    let mut ring = Ring::new(16).unwrap();
    let file = uring_tests::file_of(b"table");
    // The table's handle names a ring that only the reactor reaches from
    // now on; it stays unused, and the kernel frees the table with the ring.
    let _table = ring.register_files(&[file.as_fd()]).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, 5, 2, 64) else {
        return;
    };
    let reactor = Reactor::from_ring(ring).unwrap();
    let taken = reactor.register_buf_ring(BufferGroup::new(5), 2, 64);
    assert_eq!(
        taken.as_ref().err().and_then(|e| e.raw_os_error()),
        Some(libc::EEXIST),
        "{:?}",
        taken.as_ref().err()
    );
    let own = reactor
        .register_buf_ring(BufferGroup::new(6), 2, 64)
        .unwrap();
    let (mine, mut peer) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(mine);
    peer.write_all(b"reactor").unwrap();
    let (r, buf) = reactor
        .run_until(reactor.op(RecvRing::new(&fd, own)))
        .unwrap();
    assert_eq!(r.unwrap(), 7);
    assert_eq!(&buf.unwrap()[..], b"reactor");
    // The program's pool is gone: its group leaves the reactor's ring.
    assert_eq!(pool.lent(), 0);
    drop(pool);
    let freed = reactor
        .register_buf_ring(BufferGroup::new(5), 2, 64)
        .unwrap();
    peer.write_all(b"again").unwrap();
    let (r, buf) = reactor
        .run_until(reactor.op(RecvRing::new(&fd, freed)))
        .unwrap();
    assert_eq!(r.unwrap(), 5);
    assert_eq!(&buf.unwrap()[..], b"again");
    assert_eq!(reactor.in_flight(), 0);
}

/// A ring whose restrictions forbid updating and unregistering its file
/// table: the updates and the unregistration are error values, the handle
/// comes back whole, and the slots keep naming their files for the
/// scope's reads.
#[test]
fn restrictions_that_forbid_table_changes_leave_the_handle_and_slots_whole() {
    use uring::{Restriction, sys};
    let _watch = watchdog();
    let mut ring = Ring::builder().r_disabled().build(8).unwrap();
    ring.register_restrictions(&[
        Restriction::op::<Read<'static>>(),
        Restriction::op::<Nop>(),
        Restriction::sqe_flags_allowed(sys::IOSQE_FIXED_FILE),
    ])
    .unwrap();
    let first = uring_tests::file_of(b"kept");
    let second = uring_tests::file_of(b"never");
    let mut table = ring.register_files(&[first.as_fd()]).unwrap();
    ring.enable().unwrap();
    let refused = ring.update_files(&mut table, 0, &[Some(second.as_fd())]);
    assert_eq!(
        refused.as_ref().err().and_then(|e| e.raw_os_error()),
        Some(libc::EACCES),
        "{refused:?}"
    );
    let refused = ring.update_file_slots(&mut table, 0, &[uring::SlotUpdate::Empty]);
    assert_eq!(
        refused.as_ref().err().and_then(|e| e.raw_os_error()),
        Some(libc::EACCES)
    );
    let back = ring.unregister_files(table).unwrap_err();
    assert_eq!(back.error.raw_os_error(), Some(libc::EACCES));
    let table = back.handle;
    let mut buf = [0x71u8; 8];
    let got = ring.scope(|s| {
        s.push(Read::new(table.get(0).unwrap(), &mut buf[..]).user_data(1))
            .unwrap();
        s.push(Nop::new().user_data(2)).unwrap();
        s.submit_and_wait(2).unwrap();
        let mut got: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        got.sort_unstable();
        got
    });
    assert_eq!(got, [(1, 4), (2, 0)]);
    assert_eq!(&buf[..4], b"kept");
    assert!(buf[4..].iter().all(|&b| b == 0x71));
    // A buffer ring cannot be registered either: an error value.
    assert!(ring.register_buf_ring(BufferGroup::new(1), 2, 64).is_err());
}

/// A read of a registered pipe, on an io-wq worker, left in flight when
/// its scope ends: the scope cancels it and waits; the slot is then
/// replaced, and bytes written to the old pipe afterwards reach no buffer
/// (they stay in the pipe), while a read of the slot gets the new file.
#[test]
fn a_worker_read_of_a_slot_cut_by_its_scope_then_the_slot_replaced() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let (rx, tx) = pipe();
    let other = uring_tests::file_of(b"replacement");
    let mut table = ring.register_files(&[rx.as_fd()]).unwrap();
    let mut buf = [0xc3u8; 16];
    let left = ring.scope(|s| {
        s.push(
            Read::new(table.get(0).unwrap(), &mut buf[..])
                .flags(SqeFlags::ASYNC)
                .user_data(1),
        )
        .unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        s.in_flight()
    });
    assert_eq!(left, 1);
    assert!(buf.iter().all(|&b| b == 0xc3));
    assert_eq!(
        ring.update_files(&mut table, 0, &[Some(other.as_fd())])
            .unwrap(),
        1
    );
    let mut tx = std::fs::File::from(tx);
    tx.write_all(b"late").unwrap();
    std::thread::sleep(Duration::from_millis(30));
    assert!(buf.iter().all(|&b| b == 0xc3), "{buf:?}");
    let cqe = uring_tests::complete(&mut ring, Read::new(table.get(0).unwrap(), &mut buf[..]));
    assert_eq!(cqe.res(), 11);
    assert_eq!(&buf[..11], b"replacement");
    // The bytes written late are still in the old pipe.
    let mut late = [0u8; 4];
    std::io::Read::read_exact(&mut std::fs::File::from(rx), &mut late).unwrap();
    assert_eq!(&late, b"late");
    assert!(uring_tests::stray(&mut ring).is_empty());
    ring.unregister_files(table).unwrap();
}

/// An eventfd registered on a ring that runs scopes: the scope's own
/// completions and the cancel at its end signal it; silenced, it stays
/// quiet; the scope's completions, tagged or not, never reach the ring's
/// own iterator afterwards.
#[test]
fn an_eventfd_counts_scope_completions_and_nothing_leaks_past_the_scope() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let _watch = watchdog();
    // SAFETY: eventfd takes plain integers; the result is checked.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    assert!(raw >= 0);
    // SAFETY: a fresh descriptor, owned here.
    let efd = unsafe { OwnedFd::from_raw_fd(raw) };
    let read_count = || -> Option<u64> {
        let mut value = 0u64;
        // SAFETY: reads 8 bytes into a u64 that outlives the call.
        let n = unsafe { libc::read(efd.as_raw_fd(), (&mut value as *mut u64).cast(), 8) };
        (n == 8).then_some(value)
    };
    let mut ring = Ring::new(8).unwrap();
    ring.register_eventfd(efd.as_fd(), false).unwrap();
    ring.scope(|s| {
        for i in 0..3 {
            s.push(Nop::new().user_data(i)).unwrap();
        }
        s.submit_and_wait(3).unwrap();
        assert_eq!(s.completions().count(), 3);
    });
    let count = read_count().expect("the eventfd was signalled");
    assert!((1..=3).contains(&count), "{count}");
    let (rx, _tx) = pipe();
    let mut buf = [0x2bu8; 8];
    ring.scope(|s| {
        s.push(Read::new(&rx, &mut buf[..]).user_data(9)).unwrap();
        s.submit().unwrap();
    });
    assert!(buf.iter().all(|&b| b == 0x2b));
    assert!(read_count().is_some(), "the cancelled read's completion");
    assert!(uring_tests::stray(&mut ring).is_empty());
    ring.set_cq_eventfd(false).unwrap();
    ring.scope(|s| {
        s.push(Nop::new().user_data(4)).unwrap();
        s.submit_and_wait(1).unwrap();
        assert_eq!(s.completions().count(), 1);
    });
    assert_eq!(read_count(), None, "a silenced eventfd was signalled");
    ring.set_cq_eventfd(true).unwrap();
    ring.unregister_eventfd().unwrap();
    ring.scope(|s| {
        s.push(Nop::new().user_data(5)).unwrap();
        s.submit_and_wait(1).unwrap();
        assert_eq!(s.completions().count(), 1);
    });
    assert_eq!(read_count(), None, "an unregistered eventfd was signalled");
}

/// Scopes on an SQPOLL ring, each reading a slot whose file the table's
/// handle replaced between them: each read gets the file in the slot when
/// it was pushed, once; the last slot is emptied and its read fails with
/// `EBADF`, writing nothing.
#[test]
fn sqpoll_scopes_read_each_slot_s_file_across_updates() {
    let _watch = watchdog();
    if !uring_tests::require_sqpoll() {
        return;
    }
    let mut ring = match Ring::builder().sqpoll(Duration::from_millis(5)).build(8) {
        Ok(ring) => ring,
        Err(e) => return uring_tests::skip(format_args!("no SQPOLL ring: {e}")),
    };
    let files: Vec<std::fs::File> = (0..6u8)
        .map(|i| uring_tests::file_of(&pattern(24, i)))
        .collect();
    let mut table = ring.register_files(&[files[0].as_fd()]).unwrap();
    for (i, file) in files.iter().enumerate() {
        if i > 0 {
            ring.update_files(&mut table, 0, &[Some(file.as_fd())])
                .unwrap();
            // Let the SQ thread go to sleep between some rounds.
            if i % 2 == 0 {
                std::thread::sleep(Duration::from_millis(15));
            }
        }
        let mut buf = [0u8; 32];
        let got = ring.scope(|s| {
            s.push(Read::new(table.get(0).unwrap(), &mut buf[..]).user_data(i as u64))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            s.completions()
                .map(|c| (c.user_data(), c.res()))
                .collect::<Vec<_>>()
        });
        assert_eq!(got, [(i as u64, 24)], "round {i}");
        assert_eq!(&buf[..24], &pattern(24, i as u8)[..], "round {i}");
        assert!(buf[24..].iter().all(|&b| b == 0));
    }
    ring.update_files(&mut table, 0, &[None]).unwrap();
    let mut buf = [0x55u8; 8];
    let cqe = uring_tests::complete(&mut ring, Read::new(table.get(0).unwrap(), &mut buf[..]));
    assert_eq!(cqe.res(), -libc::EBADF);
    assert!(buf.iter().all(|&b| b == 0x55));
    ring.unregister_files(table).unwrap();
}

/// An incremental buffer ring across a resize, with the first piece of its
/// one buffer claimed and held: the next receive after the resize goes
/// into the same buffer past that piece, its claim is the bytes it got,
/// the held piece is unchanged, and a claim out of order stays refused.
/// (Claimed first, the later completion's piece starts where the last
/// claim ended, as SAFETY.md's known limits say: bytes the kernel wrote
/// for the earlier, unclaimed one, and passed.)
#[test]
fn an_incremental_piece_held_across_a_resize() {
    let _watch = watchdog();
    let Some(mut ring) = uring_tests::resizable_ring(8) else {
        return;
    };
    let Some(pool) = uring_tests::incremental_buf_ring(&mut ring, 4, 1, 64) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"piece one!").unwrap();
    let first = ring.scope(|s| {
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 10);
        pool.claim(&mut cqe).unwrap()
    });
    ring.resize(16, 32).unwrap();
    tx.write_all(b"second").unwrap();
    let second = ring.scope(|s| {
        s.push(Recv::new(&rx, pool.select()).user_data(2)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 6);
        pool.claim(&mut cqe).unwrap()
    });
    assert_eq!(second.bid(), first.bid());
    assert_eq!(second.offset(), 10);
    assert_eq!(&second[..], b"second");
    assert_eq!(&first[..], b"piece one!");
    // Two more receives after another resize, the later claimed first: the
    // earlier one is then refused.
    ring.resize(8, 16).unwrap();
    let (third_res, fourth) = ring.scope(|s| {
        tx.write_all(b"3rd").unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(3)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut third = s.completions().next().unwrap();
        tx.write_all(b"4th!").unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(4)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut fourth = s.completions().next().unwrap();
        let claimed = pool.claim(&mut fourth).unwrap();
        let bytes = claimed.to_vec();
        drop(claimed);
        (pool.claim(&mut third).map(|b| b.to_vec()), bytes)
    });
    assert!(
        third_res.is_err(),
        "an earlier piece was lent after a later one"
    );
    assert_eq!(
        fourth, b"3rd4",
        "four bytes from where the last claim ended"
    );
    assert_eq!(&first[..], b"piece one!");
    assert_eq!(&second[..], b"second");
    drop((first, second));
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// Another thread posts through a message target while this thread reads
/// the completions and resizes the ring again and again (a small CQ, so
/// that some messages wait in the overflow list as the rings move): every
/// message comes out exactly once. (A tenth as many under valgrind, which
/// runs one thread at a time, the poster only when this loop yields its
/// turn.)
#[test]
fn messages_posted_from_another_thread_across_resizes_come_out_once() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 13, "posting with IORING_REGISTER_SEND_MSG_RING") {
        return;
    }
    let Some(mut ring) = uring_tests::resizable_ring(4) else {
        return;
    };
    let count: u64 = if uring_tests::under_valgrind() {
        300
    } else {
        3000
    };
    let target = ring.msg_target().unwrap();
    let poster = std::thread::spawn(move || {
        for i in 0..count {
            target.post(i as i32, i).unwrap();
            if i % 256 == 0 {
                std::thread::yield_now();
            }
        }
    });
    let mut seen = vec![0u32; count as usize];
    let mut total = 0u64;
    let mut round = 0u32;
    let mut refused = 0u32;
    let deadline = std::time::Instant::now() + uring_tests::PATIENCE;
    while total < count {
        assert!(std::time::Instant::now() < deadline, "{total} of {count}");
        let _ = ring.get_events();
        for cqe in ring.completions() {
            let i = cqe.user_data();
            assert!(i < count, "{cqe:?}");
            assert_eq!(cqe.res(), i as i32);
            seen[i as usize] += 1;
            total += 1;
        }
        let (sq, cq) = if round.is_multiple_of(2) {
            (4, 8)
        } else {
            (8, 64)
        };
        match ring.resize(sq, cq) {
            Ok(()) => round += 1,
            // More completions wait than the smaller CQ holds: refused,
            // and nothing moved.
            Err(e) if e.raw_os_error() == Some(libc::EOVERFLOW) => refused += 1,
            Err(e) => panic!("resize: {e}"),
        }
        if total < count {
            let _ = ring.wait_timeout(1, Duration::from_millis(5));
            uring_tests::let_peers_run();
        }
    }
    poster.join().unwrap();
    let _ = ring.get_events();
    assert_eq!(
        ring.completions().count(),
        0,
        "more messages than were posted"
    );
    let twice: Vec<usize> = (0..seen.len()).filter(|&i| seen[i] != 1).collect();
    assert!(twice.is_empty(), "not seen once: {twice:?}");
    assert!(round > 2, "{round} resizes, {refused} refused");
}
