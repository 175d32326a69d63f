//! Attacks on the safe API, written as safe code would attempt them, each
//! shown to fail: the kernel refuses the op, the push is refused, or the
//! canary memory stays as it was. (Attacks that must not even compile live
//! in `ui-tests`: naming a ring inside its own scope for `MSG_RING`, a raw
//! `ioprio`, raw flag bits, a raw descriptor number, a `Fixed` that outlives
//! its registration, a second close of a slot.) `SAFETY.md` maps each
//! guarantee to its test.

use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use uring::ops::{
    Fsync, FutexWake, LinkTimeout, MsgRing, Nop, Recv, Splice, Timeout, TimeoutRemove, Write,
};
use uring::{
    BufferGroup, CancelFlags, DirectSlot, MsgFlags, PushErrorKind, Ring, SendFlags, SpliceFlags,
    TimeoutFlags, sys,
};
use uring_tests::{PATIENCE, push_lent, require_sqpoll};

/// A scope's tags are no secret (the kernel shows them in fdinfo), so an
/// attacker who read one scope's tag plants completions for every slot and
/// generation the next scope could use with the same key. The next scope
/// draws a fresh key: none of them settles its op, which keeps its buffer
/// until the real data arrives.
#[test]
fn planted_completions_do_not_end_a_later_scope_s_borrow() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::builder().cq_entries(512).build(16).unwrap();
    if !uring_tests::require_op::<MsgRing>(&ring) {
        return;
    }
    let fd = ring.as_raw_fd();
    // An op pushed outside a scope makes every later scope of the ring tag
    // all its ops: that op's completion could otherwise pass for theirs.
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completions().count(), 1);
    // A scope op completes; while its completion waits in the CQ, fdinfo
    // shows its tag. (Safe code can read fdinfo by the ring's number.)
    let tags = ring.scope(|s| {
        s.push(Nop::new().user_data(2)).unwrap();
        s.submit_and_wait(1).unwrap();
        let tags = uring_tests::fdinfo_user_data(fd);
        assert_eq!(s.completions().count(), 1);
        tags
    });
    assert_eq!(tags.len(), 1, "fdinfo shows the scope op's tag");
    assert_ne!(
        tags[0], 2,
        "the kernel sees a tag, not the caller's user_data"
    );
    // Were the next scope to keep the key, its ops' tags would differ from
    // this one in the slot and generation bits alone: plant all of those.
    let leaked = tags[0];
    let planted: Vec<u64> = (0..16u64)
        .flat_map(|generation| (0..16u64).map(move |slot| leaked ^ (generation << 32 | slot)))
        .collect();
    let mut poster = Ring::new(64).unwrap();
    for chunk in planted.chunks(32) {
        poster.scope(|p| {
            for &ud in chunk {
                p.push(MsgRing::new(&ring, 0, ud)).unwrap();
            }
            p.submit_and_wait(chunk.len() as u32).unwrap();
            assert!(p.completions().all(|c| c.res() == 0));
        });
    }
    assert_eq!(ring.ready() as usize, planted.len(), "all planted");
    assert_eq!(uring_tests::fdinfo_user_data(fd).len(), planted.len());

    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut canary = [0xa5u8; 16];
    let foreign = ring.scope(|s| {
        s.push(Recv::new(&rx, &mut canary[..]).user_data(9))
            .unwrap();
        s.submit().unwrap();
        let mut foreign = 0;
        for cqe in s.completions() {
            assert!(
                !cqe.is_scope_op(),
                "a planted completion settled an op: {cqe:?}"
            );
            assert_eq!(cqe.res(), 0);
            foreign += 1;
        }
        assert_eq!(s.in_flight(), 1, "the recv is still in flight");
        tx.write_all(b"real data").unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let cqe = s.completions().next().unwrap();
        assert!(cqe.is_scope_op());
        assert_eq!((cqe.user_data(), cqe.res()), (9, 9));
        foreign
    });
    assert_eq!(foreign, planted.len());
    assert_eq!(&canary[..9], b"real data");
    assert_eq!(canary[9..], [0xa5; 7], "nothing else was written");
}

/// On a ring where only scopes push, a scope tags only the ops that need
/// it (here: one that selects a buffer), and the others keep their
/// `user_data`. An attacker who reads a tag in fdinfo and gives plain ops
/// `user_data` around it, hoping one passes for the next tag, gets nothing:
/// such values take a slot of their own, and the op that selected a buffer
/// stays in flight until its data comes.
#[test]
fn user_data_shaped_like_a_tag_cannot_pass_for_one() {
    let mut ring = Ring::builder().cq_entries(1024).build(512).unwrap();
    let fd = ring.as_raw_fd();
    let mut pool = match ring.register_buf_ring(BufferGroup::new(3), 4, 64) {
        Ok(pool) => pool,
        Err(e) => {
            uring_tests::skip(format_args!("no provided-buffer rings: {e}"));
            return;
        }
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let claimed = ring.scope(|s| {
        // A plain op keeps its user_data: the kernel sees the caller's.
        s.push(Nop::new().user_data(2)).unwrap();
        s.submit_and_wait(1).unwrap();
        let plain = uring_tests::fdinfo_user_data(fd);
        assert_eq!(s.completions().count(), 1);
        // One that selects a buffer is tagged; its completion shows the tag.
        tx.write_all(b"x").unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(3)).unwrap();
        s.submit_and_wait(1).unwrap();
        let tags = uring_tests::fdinfo_user_data(fd);
        let mut first = s.completions().next().unwrap();
        assert_eq!(first.user_data(), 3);
        drop(pool.claim(&mut first).unwrap());
        // The next tagged op takes a slot near the first one's, with a
        // nearby count: plant user_data on every such neighbour.
        let leaked = tags[0];
        let planted: Vec<u64> = (0..16u64)
            .flat_map(|count| (0..16u64).map(move |slot| leaked ^ (count << 32 | slot)))
            .collect();
        s.push(Recv::new(&rx, pool.select()).user_data(4)).unwrap();
        for chunk in planted.chunks(128) {
            for &ud in chunk {
                s.push(Nop::new().user_data(ud)).unwrap();
            }
            s.submit_and_wait(chunk.len() as u32).unwrap();
            for mut cqe in s.completions() {
                assert!(planted.contains(&cqe.user_data()), "{cqe:?}");
                assert!(pool.claim(&mut cqe).is_err(), "a NOP names no buffer");
            }
        }
        assert_eq!(s.in_flight(), 1, "the receive is still in flight");
        tx.write_all(b"real").unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        // Its tag was among the planted values: one of the NOPs carried it.
        let live = uring_tests::fdinfo_user_data(fd);
        assert!(planted.contains(&live[0]), "{live:x?}");
        let mut cqe = s.completions().next().unwrap();
        assert_eq!((cqe.user_data(), cqe.res()), (4, 4));
        let buf = pool.claim(&mut cqe).unwrap().to_vec();
        (plain, tags, buf)
    });
    let (plain, tags, buf) = claimed;
    assert_eq!(plain, [2], "a plain op keeps the caller's user_data");
    assert_eq!(tags.len(), 1);
    assert_ne!(tags[0], 3, "an op that selects a buffer is tagged");
    assert_eq!(buf, b"real");
    pool = ring.register_buf_ring(BufferGroup::new(4), 1, 8).unwrap();
    drop(pool);
}

/// In a scope that tags only what it must, the test of "could pass for a
/// tag" is the top bit: a pointer (as an event loop gives as `user_data`)
/// or any value with bit 32 set reaches the kernel as it is; a value with
/// the top bit set is tagged, and both come back as they were pushed.
#[test]
fn only_user_data_with_the_top_bit_set_is_tagged_in_a_fast_scope() {
    let mut ring = Ring::new(8).unwrap();
    let fd = ring.as_raw_fd();
    let boxed = Box::new(0u64);
    let pointer = &*boxed as *const u64 as u64;
    for (user_data, tagged) in [
        (pointer, false),
        (1 << 32 | 5, false),
        (u64::MAX >> 1, false),
        (1 << 63, true),
        (u64::MAX, true),
    ] {
        let (shown, back) = ring.scope(|s| {
            assert!(!s.tags_every_op(), "a clean ring");
            s.push(Nop::new().user_data(user_data)).unwrap();
            s.submit_and_wait(1).unwrap();
            let shown = uring_tests::fdinfo_user_data(fd);
            let back: Vec<u64> = s.completions().map(|c| c.user_data()).collect();
            (shown, back)
        });
        assert_eq!(back, [user_data], "{user_data:#x}");
        assert_eq!(shown.len(), 1, "{user_data:#x}");
        assert_eq!(shown[0] != user_data, tagged, "{user_data:#x}: {shown:x?}");
    }
}

/// Lending a ring as the target of messages (here: building a `MsgRing`
/// to it) makes its later scopes tag every op: a message could arrive
/// during one of them, and must not pass for a scope op's completion.
#[test]
fn a_ring_lent_as_a_message_target_tags_every_scope_op() {
    let mut ring = Ring::new(8).unwrap();
    let shown = uring_tests::scope_nop_user_data;
    assert_eq!(shown(&mut ring), [2], "untagged while only scopes push");
    drop(MsgRing::new(&ring, 0, 2));
    let after = shown(&mut ring);
    assert_eq!(after.len(), 1);
    assert_ne!(after, [2], "tagged once the ring was lent");
}

/// A fixed file names a slot of one ring's table: pushed to another ring it
/// is refused, whole chains with it, and the queue is left as it was.
#[test]
fn a_fixed_file_of_another_ring_is_refused() {
    let _watch = uring_tests::watchdog();
    let mut a = Ring::new(8).unwrap();
    let mut b = Ring::new(8).unwrap();
    let file = tempfile::tempfile().unwrap();
    let mut files = a.register_files(&[file.as_fd()]).unwrap();
    let slot = files.get(0).unwrap();
    let space = b.space_left();
    let (rx, tx) = uring_tests::pipe();
    b.scope(|s| {
        let e = s.push(Fsync::new(slot).user_data(1)).unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::ForeignFile);
        let chain = Nop::new().link(Fsync::new(slot));
        let e = s.push(chain).unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::ForeignFile);
        let e = s.push(Splice::new(&tx, slot, 1).user_data(2)).unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::ForeignFile, "a fixed splice input");
        assert_eq!(s.in_flight(), 0);
    });
    drop(rx);
    assert_eq!(b.space_left(), space, "nothing was written");
    // The raw push leaves it to its caller, and asserts it in debug builds.
    if cfg!(debug_assertions) {
        let pushed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = push_lent!(b, Fsync::new(slot));
        }));
        assert!(pushed.is_err(), "push_unchecked took a foreign file");
    }
    // A slot held exclusively, for a direct descriptor, likewise.
    let at = DirectSlot::at(files.get_mut(0).unwrap());
    b.scope(|s| {
        let e = s
            .push(uring::ops::OpenAt::new(uring::Fd::CWD, c"/dev/null").direct(at))
            .unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::ForeignFile);
    });
    assert_eq!(b.pending(), 0);
    // On its own ring the slot works.
    let cqe = uring_tests::complete(&mut a, Fsync::new(files.get(0).unwrap()).user_data(3));
    assert_eq!(cqe.res(), 0);
}

/// Bits a flag type does not model are dropped by the safe constructors, so
/// they never reach an SQE: the fixed-input bit of SPLICE (which would make
/// the raw descriptor name a fixed slot), cancel-by-descriptor (which would
/// match on the SQE's unset `fd`), `MSG_ZEROCOPY` (which would leave the
/// kernel holding pages after the send completes), the futex word sizes
/// past 32 bits (which would read beyond the `AtomicU32`).
#[test]
fn unmodelled_flag_bits_never_reach_an_sqe() {
    let _watch = uring_tests::watchdog();
    assert_eq!(
        SpliceFlags::from_bits_truncate(sys::SPLICE_F_FD_IN_FIXED | 1).bits(),
        1
    );
    assert_eq!(SpliceFlags::from_bits(sys::SPLICE_F_FD_IN_FIXED), None);
    assert!(CancelFlags::from_bits_truncate(sys::IORING_ASYNC_CANCEL_FD).is_empty());
    assert!(
        MsgFlags::from_bits_truncate(0x400_0000).is_empty(),
        "MSG_ZEROCOPY"
    );
    assert_eq!(
        SendFlags::all().bits(),
        sys::IORING_RECVSEND_POLL_FIRST | sys::IORING_RECVSEND_BUNDLE,
        "no IORING_SEND_VECTORIZED, no IORING_RECVSEND_FIXED_BUF"
    );
    assert!(
        TimeoutFlags::from_bits_truncate(sys::IORING_TIMEOUT_UPDATE_MASK).is_empty(),
        "update flags belong to the update ops"
    );

    let mut ring = Ring::new(8).unwrap();
    let (rx, tx) = uring_tests::pipe();
    let word = std::sync::atomic::AtomicU32::new(0);
    push_lent!(
        ring,
        Splice::new(&tx, &rx, 1)
            .splice_flags(SpliceFlags::from_bits_truncate(u32::MAX))
            .user_data(1)
    )
    .unwrap();
    push_lent!(
        ring,
        FutexWake::new(&word, 1)
            .futex_flags(uring::FutexFlags::from_bits_truncate(u32::MAX))
            .user_data(2)
    )
    .unwrap();
    let sqes: Vec<sys::io_uring_sqe> = ring.pending_sqes().collect();
    // SAFETY: SPLICE's op flags are its splice flags; all union members are
    // plain integers.
    let splice_flags = unsafe { sqes[0].op_flags.splice_flags };
    assert_eq!(splice_flags & sys::SPLICE_F_FD_IN_FIXED, 0);
    assert_eq!(splice_flags, SpliceFlags::all().bits());
    assert_eq!(
        sqes[1].fd as u32,
        sys::FUTEX2_SIZE_U32 | sys::FUTEX2_PRIVATE,
        "a 32-bit word, private, nothing else"
    );
    let cqes = uring_tests::submit_and_reap(&mut ring, 2);
    assert_eq!(cqes.len(), 2);
}

/// Ring-owned timespecs outlive the kernel's reads: an SQPOLL ring whose
/// kernel object outlives it (a buffer ring holds its file) is dropped right
/// after publishing a 10 s timeout linked to a write. Were the timespec
/// freed and reused before the SQ thread read it, the timer would take
/// whatever the heap held then (zeros here: at once) and the write would
/// land within milliseconds.
#[test]
fn a_dropped_sqpoll_ring_never_lets_its_timespecs_be_reused() {
    let _watch = uring_tests::watchdog();
    if !require_sqpoll() {
        return;
    }
    let (rx, tx) = uring_tests::pipe();
    let rx = std::fs::File::from(rx);
    // SAFETY: plain fcntl on a descriptor we own.
    unsafe { libc::fcntl(rx.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let mut keepers = Vec::new();
    let mut pages = Vec::new();
    for round in 0..10 {
        let mut ring = Ring::builder()
            .sqpoll(Duration::from_millis(1))
            .build(8)
            .unwrap();
        // Holds a duplicate of the ring's descriptor: the kernel ring lives
        // on after the `Ring` is dropped.
        let keeper = ring
            .register_buf_ring(BufferGroup::new(round), 1, 16)
            .unwrap();
        let chain = Timeout::new(Duration::from_secs(10))
            .timeout_flags(TimeoutFlags::ETIME_SUCCESS)
            .user_data(1)
            .link(Write::new(&tx, b"early").user_data(2));
        push_lent!(ring, chain).unwrap();
        ring.submit().unwrap();
        drop(ring);
        // Take fresh zeroed pages where freed ones were, as the next mapping
        // of the process would: a timespec read from one is zero.
        reuse_freed_pages(&mut pages);
        keepers.push(keeper);
    }
    let start = Instant::now();
    let mut byte = [0u8; 1];
    while start.elapsed() < Duration::from_millis(300) {
        match std::io::Read::read(&mut &rx, &mut byte) {
            Ok(n) => panic!("a write ran after {:?}: {n} bytes", start.elapsed()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Dropping the keepers tears the kernel rings down, cancelling the
    // chains; `tx` outlives them.
    drop(keepers);
    drop(tx);
    for page in pages {
        // SAFETY: each is a page this test mapped and no longer uses.
        unsafe { libc::munmap(page, 4096) };
    }
}

/// Maps a few zeroed pages, which the kernel places where pages were just
/// unmapped.
fn reuse_freed_pages(pages: &mut Vec<*mut libc::c_void>) {
    for _ in 0..4 {
        // SAFETY: a fresh anonymous mapping chosen by the kernel overlaps
        // nothing in use.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(page, libc::MAP_FAILED);
        pages.push(page);
    }
}

/// `Duration::MAX` and friends mean "as long as the kernel allows", never a
/// negative timespec the kernel refuses or an overflow.
#[test]
fn the_longest_durations_wait_as_long_as_the_kernel_allows() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(Timeout::new(Duration::MAX).user_data(1)).unwrap();
    ring.push(
        Nop::new()
            .user_data(2)
            .link_timeout(LinkTimeout::new(Duration::from_secs(u64::MAX)).user_data(3)),
    )
    .unwrap();
    ring.submit().unwrap();
    ring.wait_timeout(2, Duration::MAX).unwrap();
    let mut got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    got.sort_unstable();
    assert_eq!(
        got,
        [(2, 0), (3, -libc::ECANCELED)],
        "the NOP ran, its timeout was cancelled"
    );
    ring.push(TimeoutRemove::new(1).user_data(4)).unwrap();
    let mut got: Vec<(u64, i32)> = uring_tests::submit_and_reap(&mut ring, 2)
        .iter()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    got.sort_unstable();
    assert_eq!(
        got,
        [(1, -libc::ECANCELED), (4, 0)],
        "the longest timeout was pending, not refused"
    );
    assert!(Ring::create_many(usize::MAX, 8, 1, &Ring::builder()).is_err());
}

/// Safe code knows a ring's number (`AsRawFd`, `/proc/self/fd`), but cannot
/// turn it into a file that names the ring: reopening it through `/proc`
/// fails, and an `O_PATH` file is not a ring to `MSG_RING`.
#[test]
fn a_ring_cannot_be_reopened_through_proc() {
    let _watch = uring_tests::watchdog();
    use std::os::unix::fs::OpenOptionsExt;
    let mut ring = Ring::new(8).unwrap();
    let target = Ring::new(8).unwrap();
    let path = format!("/proc/self/fd/{}", target.as_raw_fd());
    let err = std::fs::File::open(&path).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENXIO), "{err}");
    let err = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENXIO), "{err}");
    let Ok(by_path) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(&path)
    else {
        return;
    };
    if !uring_tests::require_op::<MsgRing>(&ring) {
        return;
    }
    let cqe = uring_tests::complete(&mut ring, MsgRing::new(&by_path, 0, 7).user_data(1));
    assert!(
        cqe.res() == -libc::EBADFD || cqe.res() == -libc::EBADF,
        "MSG_RING through an O_PATH file: {cqe:?}"
    );
    let mut target = target;
    assert!(target.peek().is_none(), "nothing reached the ring");
}
