//! Legacy provided buffers (`IORING_OP_PROVIDE_BUFFERS`,
//! `IORING_OP_REMOVE_BUFFERS`) and buffer selection where it meets them,
//! checked against what Linux 6.18's `io_uring/kbuf.c` does with them.
//!
//! `ProvideBuffers` is `#[retains_memory]`: it has no safe push (neither
//! `Unborrowed` nor `Scoped`), so every test hands the kernel leaked memory
//! through `push_unchecked`, keeping that contract; everything after it is
//! safe code attacking the library's assumptions: that a completion naming
//! a legacy buffer is never claimed from a buffer ring (`io_put_kbuf`
//! names legacy and ring buffers alike), that a group is a ring's or a
//! legacy list's, never both (`io_register_pbuf_ring` refuses only a list
//! that still holds buffers, not one whose buffer an op holds), that
//! `RemoveBuffers` reaches only the buffers on the list
//! (`io_remove_buffers_legacy`), how many buffers a group takes
//! (`io_add_buffers`), which bytes of a `BufferPool` the kernel may touch
//! (`io_provide_buffers_prep`, `io_provided_buffer_select`), what the
//! reactor does with legacy groups, and when the kernel is done with a
//! legacy buffer (a completion naming it, its removal, or the ring's end).

use std::fs::File;
use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use uring::ops::{ProvideBuffers, Read, ReadVSelect, Recv, RemoveBuffers};
use uring::reactor::ops::RecvRing;
use uring::reactor::{Reactor, SharedFd};
use uring::{BufferGroup, BufferPool, MsgFlags, Ring};
use uring_tests::{
    Guarded, PATIENCE, has_pbuf_status, incremental_buf_ring, pattern, pipe, plain_buf_ring,
    reap_one, watchdog,
};

/// The byte leaked regions start with: a buffer the kernel never wrote
/// still holds it.
const CANARY: u8 = 0xC3;

/// The `user_data` of the `ProvideBuffers` and `RemoveBuffers` ops.
const PROVIDE: u64 = 0x5052_4f56;
const REMOVE: u64 = 0x5245_4d56;

/// The `user_data` of a receive pushed outside any scope that holds a
/// legacy buffer across what a test does next.
const HELD: u64 = 0x4845_4c44;

/// `len` bytes of `CANARY`, leaked: the kernel keeps legacy buffers past
/// `ProvideBuffers`' completion, until an op's completion names them, they
/// are removed, or the kernel ring is gone, so the tests never free what
/// they provide.
fn leaked(len: usize) -> &'static mut [u8] {
    Box::leak(vec![CANARY; len].into_boxed_slice())
}

/// Provides `region`, cut into buffers of `buf_len` bytes, to `group` with
/// ids from `start_id` (`IORING_OP_PROVIDE_BUFFERS`); returns the region
/// and the completion's result.
fn provide(
    ring: &mut Ring,
    region: &'static mut [u8],
    buf_len: u32,
    group: u16,
    start_id: u16,
) -> (&'static mut [u8], i32) {
    // SAFETY: `region` is leaked, so it stays allocated as long as the
    // kernel may fill one of its buffers; the tests read it only after
    // reading the completions that name its buffers (or once no op can
    // select them).
    unsafe {
        ring.push_unchecked(
            ProvideBuffers::new(
                BufferPool::new(&mut *region, buf_len),
                BufferGroup::new(group),
            )
            .start_id(start_id)
            .user_data(PROVIDE),
        )
    }
    .unwrap();
    let cqe = reap_one(ring);
    assert_eq!(cqe.user_data(), PROVIDE, "{cqe:?}");
    (region, cqe.res())
}

/// Removes up to `count` buffers from `group` (`IORING_OP_REMOVE_BUFFERS`,
/// through the safe `Ring::push`); returns the completion's result.
fn remove(ring: &mut Ring, count: u32, group: u16) -> i32 {
    ring.push(RemoveBuffers::new(count, BufferGroup::new(group)).user_data(REMOVE))
        .unwrap();
    let cqe = reap_one(ring);
    assert_eq!(cqe.user_data(), REMOVE, "{cqe:?}");
    cqe.res()
}

/// Pushes, outside any scope, a `MSG_WAITALL` receive of 16 bytes from
/// `rx` into a buffer of `group`, after `head` has been written to the
/// other end: the kernel receives `head`, keeps the legacy buffer it
/// selected (`io_net_kbuf_recyle` flags the request `REQ_F_BL_NO_RECYCLE`)
/// and waits for the rest. The receive is issued inline by the submit, so
/// it holds the buffer when this returns.
///
/// # Safety
///
/// `rx` must stay open until the receive's completion has been read, and
/// the group's buffers must be leaked memory.
unsafe fn hold_a_legacy_buffer(ring: &mut Ring, rx: &UnixStream, group: u16) {
    // SAFETY: the caller keeps `rx` open until the receive's last
    // completion has been read, and the buffer it selects is leaked.
    unsafe {
        ring.push_unchecked(
            Recv::new(rx, BufferGroup::new(group).select(16))
                .msg_flags(MsgFlags::WAITALL)
                .user_data(HELD),
        )
    }
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
}

/// Waits until `done` holds, or fails after [`PATIENCE`], sleeping a little
/// between tries (the kernel writes the memory `done` reads).
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "{what}: not after {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A completion naming a legacy buffer is claimed by no buffer ring.
///
/// Linux's `__io_put_kbufs` posts `IORING_CQE_F_BUFFER` and the id of a
/// legacy buffer (`io_kbuf_drop_legacy`) exactly as it does a ring's, so
/// the completion alone looks like one a `BufRing` could lend. A scope's
/// receive selects legacy buffer 0 of a group; a ring of another group of
/// the same ring, and a ring of the same group id on another ring (whose
/// buffer 0 the kernel still holds), both refuse the completion, as a
/// single buffer and as a bundle; neither ring lent or lost a buffer, and
/// the bytes are in the legacy memory.
#[test]
fn a_legacy_buffer_named_in_a_scope_is_claimed_by_no_buffer_ring() {
    let _watch = watchdog();
    const GROUP: u16 = 0x51;
    let mut ring = Ring::new(8).unwrap();
    let mut other = Ring::new(8).unwrap();
    let (region, res) = provide(&mut ring, leaked(2 * 32), 32, GROUP, 0);
    assert_eq!(res, 0);
    let Some(beside) = plain_buf_ring(&mut ring, GROUP + 1, 2, 32) else {
        return;
    };
    let Some(twin) = plain_buf_ring(&mut other, GROUP, 2, 32) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"legacy bytes").unwrap();
    ring.scope(|s| {
        s.push(Recv::new(&rx, BufferGroup::new(GROUP).select(0)).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().expect("the receive");
        assert!(cqe.is_scope_op(), "{cqe:?}");
        assert_eq!((cqe.res(), cqe.buffer_id()), (12, Some(0)), "{cqe:?}");
        for (name, pool) in [
            ("a ring of another group", &beside),
            ("a ring of this group on another ring", &twin),
        ] {
            let err = pool.claim(&mut cqe).expect_err(name);
            assert!(
                err.to_string().contains("selected from group"),
                "{name}: {err}"
            );
            assert!(pool.claim_bundle(&mut cqe).is_err(), "{name}");
        }
    });
    assert_eq!(&region[..12], b"legacy bytes");
    assert!(
        region[12..].iter().all(|&b| b == CANARY),
        "only buffer 0 was filled"
    );
    for pool in [&beside, &twin] {
        assert_eq!(pool.lent(), 0, "{pool:?}");
        if has_pbuf_status() {
            assert_eq!(
                pool.head().unwrap(),
                0,
                "the kernel took nothing from {pool:?}"
            );
        }
    }
}

/// A legacy buffer held by an op across a buffer ring's registration under
/// the same group is never claimed from the ring.
///
/// `io_register_pbuf_ring` refuses a group only while its legacy list
/// holds buffers (`!list_empty(&bl->buf_list)`), and destroys an empty
/// list in favour of the ring; a buffer an op took off the list is not on
/// it. A `MSG_WAITALL` receive pushed outside any scope holds the group's
/// one legacy buffer (id 0); `RemoveBuffers` finds the list empty (0), and
/// a `BufRing` registers over the group. In a scope, a receive takes the
/// ring's buffer 0; then the legacy receive completes, inside the scope,
/// naming buffer 0 of the group that is now the ring's (`__io_put_kbufs`
/// puts the legacy buffer whatever the group has become): that completion
/// passes through the scope as no op of it, and the ring refuses it, while
/// its buffer 0, lent to the scope's receive, keeps that receive's bytes.
/// The legacy receive's bytes are in the legacy memory.
#[test]
fn a_legacy_buffer_held_across_a_ring_registration_is_not_claimed_from_the_ring() {
    let _watch = watchdog();
    const GROUP: u16 = 0x52;
    let mut ring = Ring::new(8).unwrap();
    let (region, res) = provide(&mut ring, leaked(16), 16, GROUP, 0);
    assert_eq!(res, 0);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"head").unwrap();
    // SAFETY: `rx` lives to the end of the test, after the held receive's
    // completion is read in the scope below; the group's buffer is leaked.
    unsafe { hold_a_legacy_buffer(&mut ring, &rx, GROUP) };
    assert_eq!(
        remove(&mut ring, 1, GROUP),
        0,
        "the held buffer is off the group's list"
    );
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 16) else {
        return;
    };
    let (mut tx2, rx2) = UnixStream::pair().unwrap();
    tx2.write_all(b"ring").unwrap();
    ring.scope(|s| {
        s.push(Recv::new(&rx2, pool.select()).user_data(2)).unwrap();
        s.submit().unwrap();
        tx.write_all(b"0123456789ab").unwrap();
        let mut lent = None;
        let mut legacy_seen = false;
        while lent.is_none() || !legacy_seen {
            s.wait_timeout(1, PATIENCE).unwrap();
            for mut cqe in s.completions() {
                if cqe.user_data() == HELD {
                    assert!(!cqe.is_scope_op(), "{cqe:?}");
                    assert_eq!((cqe.res(), cqe.buffer_id()), (16, Some(0)), "{cqe:?}");
                    let err = pool
                        .claim(&mut cqe)
                        .expect_err("a legacy buffer claimed from the ring");
                    assert!(err.to_string().contains("not of a scope op"), "{err}");
                    legacy_seen = true;
                } else {
                    assert_eq!(cqe.user_data(), 2, "{cqe:?}");
                    let buf = pool.claim(&mut cqe).unwrap();
                    assert_eq!((buf.bid(), &buf[..]), (0, &b"ring"[..]));
                    lent = Some(buf);
                }
            }
        }
        let lent = lent.unwrap();
        assert_eq!(&lent[..], b"ring", "the ring's buffer 0 changed");
    });
    assert_eq!(&region[..], b"head0123456789ab");
    assert_eq!(pool.lent(), 0);
}

/// `RemoveBuffers` counts only the buffers on the group's list, and ids
/// can name two buffers at once.
///
/// `io_remove_buffers_legacy` walks `bl->buf_list`, which a buffer an op
/// selected has left, and `io_add_buffers` takes any ids (it checks none
/// against those the group holds). Of four buffers (ids 0 to 3), a held
/// receive keeps id 0: removing up to 65536 removes 3. A second region is
/// provided with ids 0 and 1; a receive takes its id 0. The held receive
/// then completes, naming id 0 as well, with its bytes in the first
/// region: two completions name id 0 over different memory, so a
/// completion's id tells which buffer the kernel is done with only while
/// ids are unique among the buffers the kernel holds. The removed buffers
/// were never written; the second region's id 1 is still there (removed:
/// 1).
#[test]
fn remove_buffers_counts_only_listed_buffers_and_ids_can_repeat() {
    let _watch = watchdog();
    const GROUP: u16 = 0x53;
    let mut ring = Ring::new(8).unwrap();
    let (first, res) = provide(&mut ring, leaked(4 * 16), 16, GROUP, 0);
    assert_eq!(res, 0);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"part").unwrap();
    // SAFETY: `rx` is dropped at the end, after the held receive's
    // completion is read; the group's buffers are leaked.
    unsafe { hold_a_legacy_buffer(&mut ring, &rx, GROUP) };
    assert_eq!(
        remove(&mut ring, 65536, GROUP),
        3,
        "the held buffer is not counted"
    );
    let (second, res) = provide(&mut ring, leaked(2 * 16), 16, GROUP, 0);
    assert_eq!(res, 0, "ids 0 and 1 again, while id 0 is held");
    let (mut tx2, rx2) = UnixStream::pair().unwrap();
    tx2.write_all(b"again").unwrap();
    let cqe = uring_tests::complete(
        &mut ring,
        Recv::new(&rx2, BufferGroup::new(GROUP).select(16)).user_data(2),
    );
    assert_eq!((cqe.res(), cqe.buffer_id()), (5, Some(0)), "{cqe:?}");
    assert_eq!(&second[..5], b"again");
    tx.write_all(b"0123456789ab").unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!(cqe.user_data(), HELD, "{cqe:?}");
    assert_eq!((cqe.res(), cqe.buffer_id()), (16, Some(0)), "{cqe:?}");
    assert_eq!(&first[..16], b"part0123456789ab");
    assert!(
        first[16..].iter().all(|&b| b == CANARY),
        "a removed buffer was written"
    );
    assert_eq!(
        remove(&mut ring, 65536, GROUP),
        1,
        "the second region's id 1"
    );
    assert!(second[5..].iter().all(|&b| b == CANARY));
    drop(rx);
}

/// A buffer ring's group refuses legacy management, and stays whole.
///
/// `io_remove_buffers_prep` refuses a count of 0 or above 65536
/// (`MAX_BIDS_PER_BGID`) with `EINVAL` (a count of `u32::MAX` reaches the
/// kernel's `int` field as -1, sign-extended past the bound), and
/// `__io_manage_buffers_legacy` refuses both ops on a group flagged
/// `IOBL_BUF_RING` with `EINVAL`. `RemoveBuffers` (safe through
/// `Ring::push` and in a scope) of any count, and `ProvideBuffers` of a
/// canary region, on a `BufRing`'s group all fail; the ring then serves
/// its two buffers in order, and a third receive finds it empty
/// (`ENOBUFS`): nothing of the refused region joined the group, and it
/// was never written.
#[test]
fn a_ring_group_refuses_legacy_management_and_stays_whole() {
    let _watch = watchdog();
    const GROUP: u16 = 0x54;
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 32) else {
        return;
    };
    for count in [1, 65536, 0, 65537, u32::MAX] {
        assert_eq!(
            remove(&mut ring, count, GROUP),
            -libc::EINVAL,
            "count {count}"
        );
    }
    let (refused, res) = provide(&mut ring, leaked(64), 32, GROUP, 0);
    assert_eq!(res, -libc::EINVAL, "legacy buffers for a ring's group");
    if has_pbuf_status() {
        assert_eq!(pool.head().unwrap(), 0);
    }
    let (mut tx, rx) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        s.push(RemoveBuffers::new(2, pool.group()).user_data(9))
            .unwrap();
        let cqe = uring_tests::next_scope_cqe(s);
        assert_eq!((cqe.user_data(), cqe.res()), (9, -libc::EINVAL), "{cqe:?}");
        // Both buffers stay lent, so the ring has none left for the third.
        let mut kept = Vec::new();
        for (i, bytes) in [&b"first"[..], b"second"].into_iter().enumerate() {
            tx.write_all(bytes).unwrap();
            s.push(Recv::new(&rx, pool.select()).user_data(10)).unwrap();
            let mut cqe = uring_tests::next_scope_cqe(s);
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!((usize::from(buf.bid()), &buf[..]), (i, bytes));
            kept.push(buf);
        }
        tx.write_all(b"third").unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(11)).unwrap();
        let cqe = uring_tests::next_scope_cqe(s);
        assert_eq!(
            (cqe.res(), cqe.buffer_id()),
            (-libc::ENOBUFS, None),
            "{cqe:?}"
        );
        assert_eq!(kept.len(), 2);
        drop(kept);
    });
    assert!(
        refused.iter().all(|&b| b == CANARY),
        "the refused region was written"
    );
}

/// A legacy group holds at most 65535 buffers, and a `ProvideBuffers` that
/// meets the limit still completes with 0.
///
/// `io_provide_buffers_prep` refuses more than 65536 buffers (`E2BIG`), an
/// empty pool (`E2BIG`: a `BufferPool` of zero-length buffers counts
/// none), and ids past 65535 (`EINVAL`); `io_add_buffers` stops adding at
/// `bl->nbufs == USHRT_MAX`, returning 0 if it added any and `EOVERFLOW`
/// if none. So 65536 one-byte buffers complete with 0 and only 65535 are
/// in the group (`RemoveBuffers` counts them): a program that waits for
/// every provided buffer to be named or removed before it frees the
/// memory waits for one that was never the kernel's. A group holding
/// 65535 refuses one more with `EOVERFLOW`.
#[test]
fn a_legacy_group_holds_at_most_65535_buffers() {
    let _watch = watchdog();
    const GROUP: u16 = 0x55;
    let mut ring = Ring::new(8).unwrap();
    let (_, res) = provide(&mut ring, leaked(65536), 1, GROUP, 0);
    assert_eq!(res, 0, "65536 buffers");
    assert_eq!(
        remove(&mut ring, 65536, GROUP),
        65535,
        "one was never added"
    );
    let (_, res) = provide(&mut ring, leaked(65535), 1, GROUP, 0);
    assert_eq!(res, 0, "65535 buffers");
    let (extra, res) = provide(&mut ring, leaked(1), 1, GROUP, 65535);
    assert_eq!(res, -libc::EOVERFLOW, "a 65536th buffer");
    assert_eq!(remove(&mut ring, 65536, GROUP), 65535);
    for (len, buf_len, start_id, errno, what) in [
        (65537, 1, 0, libc::E2BIG, "65537 buffers"),
        (2, 1, 65535, libc::EINVAL, "ids past 65535"),
        (16, 0, 0, libc::E2BIG, "zero-length buffers"),
    ] {
        let (_, res) = provide(&mut ring, leaked(len), buf_len, GROUP, start_id);
        assert_eq!(res, -errno, "{what}");
    }
    assert_eq!(
        remove(&mut ring, 65536, GROUP),
        0,
        "nothing refused was added"
    );
    assert_eq!(extra[0], CANARY);
}

/// The kernel touches only the whole buffers of a `BufferPool`, each up to
/// its length whatever a selection asks.
///
/// `io_provide_buffers_prep` checks `len * nbufs` bytes from `addr`, and
/// `io_provided_buffer_select` caps the transfer at the buffer's length
/// (`*len == 0 || *len > kbuf->len`). A 100-byte region ending at a guard
/// page is cut into 30-byte buffers: 3 of them, the last 10 bytes left
/// out. Reads of a pipe holding 200 bytes through `Read` selections of 0
/// and 4096 bytes and a `ReadVSelect` whose iovec says 4096 each take one
/// whole buffer (30 bytes), in id order; a fourth finds the group empty.
/// The 10 bytes past the last buffer keep their canary, and nothing
/// reached the guard page (a fault would have failed a read).
#[test]
fn leftover_bytes_of_a_buffer_pool_are_never_the_kernels() {
    let _watch = watchdog();
    const GROUP: u16 = 0x56;
    let mut ring = Ring::new(8).unwrap();
    let page: &'static mut [u8] = Guarded::new(4096).leak();
    let region = &mut page[4096 - 100..];
    region.fill(CANARY);
    assert_eq!(BufferPool::new(&mut *region, 30).count(), 3);
    let (region, res) = provide(&mut ring, region, 30, GROUP, 0);
    assert_eq!(res, 0);
    let (r, w) = pipe();
    let sent = pattern(200, 0x56);
    File::from(w).write_all(&sent).unwrap();
    let group = BufferGroup::new(GROUP);
    let cap = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 4096,
    };
    ring.scope(|s| {
        for i in 0..4u16 {
            let pushed = match i {
                0 => s
                    .push(Read::new(&r, group.select(4096)).user_data(1))
                    .is_ok(),
                1 => s
                    .push(ReadVSelect::new(&r, &cap, group).user_data(1))
                    .is_ok(),
                _ => s.push(Read::new(&r, group.select(0)).user_data(1)).is_ok(),
            };
            assert!(pushed);
            let cqe = uring_tests::next_scope_cqe(s);
            if i == 3 {
                assert_eq!(
                    (cqe.res(), cqe.buffer_id()),
                    (-libc::ENOBUFS, None),
                    "{cqe:?}"
                );
            } else {
                assert_eq!(
                    (cqe.res(), cqe.buffer_id()),
                    (30, Some(i)),
                    "read {i}: {cqe:?}"
                );
            }
        }
    });
    assert_eq!(&region[..90], &sent[..90]);
    assert!(
        region[90..].iter().all(|&b| b == CANARY),
        "{:?}",
        &region[90..]
    );
}

/// The reactor never selects from a legacy group, cannot register a ring
/// over one, and never claims a legacy buffer held across its own
/// registration.
///
/// The reactor makes an op that selects from a group it did not register
/// fail with `EINVAL`, and `io_register_pbuf_ring` refuses a group whose
/// legacy list holds buffers (`EEXIST`) but takes one whose only buffer
/// an op holds. A ring with two legacy groups (one buffer each), one of
/// whose buffers a receive pushed before `Reactor::from_ring` holds, goes
/// to a reactor: registering a ring over the full group fails with
/// `EEXIST` (no panic); over the held group it succeeds, and a receive
/// takes the ring's buffer 0. The legacy receive then completes, naming
/// buffer 0 of that group: the reactor hands it to no op, the lent buffer
/// keeps its bytes, and the next receive takes buffer 1. A group of the
/// full group's id from another reactor fails with `EINVAL` and no
/// buffer, its bytes staying in the socket; the full group's legacy
/// buffer is never written.
#[test]
fn a_reactor_never_selects_registers_over_or_claims_a_legacy_buffer() {
    let _watch = watchdog();
    const HELD_GROUP: u16 = 0x57;
    const FULL_GROUP: u16 = 0x58;
    let mut ring = Ring::new(8).unwrap();
    let (held, res) = provide(&mut ring, leaked(16), 16, HELD_GROUP, 0);
    assert_eq!(res, 0);
    let (full, res) = provide(&mut ring, leaked(16), 16, FULL_GROUP, 0);
    assert_eq!(res, 0);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"held").unwrap();
    // SAFETY: `rx` is dropped at the end, after the reactor has read the
    // held receive's completion; the group's buffer is leaked.
    unsafe { hold_a_legacy_buffer(&mut ring, &rx, HELD_GROUP) };
    let reactor = Reactor::from_ring(ring).unwrap();
    let err = reactor
        .register_buf_ring(BufferGroup::new(FULL_GROUP), 2, 16)
        .expect_err("a ring over a group with a legacy buffer");
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err}");
    let group = match reactor.register_buf_ring(BufferGroup::new(HELD_GROUP), 2, 16) {
        Ok(group) => group,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            uring_tests::skip(format_args!("no provided-buffer rings (5.19): {e}"));
            return;
        }
        Err(e) => panic!("register_buf_ring: {e}"),
    };
    let (mut tx2, rx2) = UnixStream::pair().unwrap();
    let fd = SharedFd::new(rx2);
    tx2.write_all(b"ring").unwrap();
    let (res, first) = reactor
        .run_until(reactor.op(RecvRing::new(&fd, group)))
        .unwrap();
    assert_eq!(res.unwrap(), 4);
    let first = first.expect("a ring buffer");
    assert_eq!((first.bid(), &first[..]), (0, &b"ring"[..]));
    tx.write_all(b"0123456789ab").unwrap();
    wait_until("the held legacy receive", || {
        uring_tests::run_for(&reactor, 2);
        std::hint::black_box(&held[..]) == b"held0123456789ab"
    });
    uring_tests::run_for(&reactor, 10);
    assert_eq!(&first[..], b"ring", "the lent ring buffer 0 changed");
    tx2.write_all(b"next").unwrap();
    let (res, second) = reactor
        .run_until(reactor.op(RecvRing::new(&fd, group)))
        .unwrap();
    assert_eq!(res.unwrap(), 4);
    let second = second.expect("a ring buffer");
    assert_eq!((second.bid(), &second[..]), (1, &b"next"[..]));
    drop((first, second));

    let other = Reactor::new().unwrap();
    let foreign = other
        .register_buf_ring(BufferGroup::new(FULL_GROUP), 1, 16)
        .unwrap();
    tx2.write_all(b"legacy?").unwrap();
    let (res, buf) = reactor
        .run_until(reactor.op(RecvRing::new(&fd, foreign)))
        .unwrap();
    assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EINVAL));
    assert!(buf.is_none());
    let (res, buf) = reactor
        .run_until(reactor.op(RecvRing::new(&fd, group)))
        .unwrap();
    assert_eq!(res.unwrap(), 7, "the bytes stayed in the socket");
    assert_eq!(&buf.expect("a ring buffer")[..], b"legacy?");
    assert!(
        full.iter().all(|&b| b == CANARY),
        "the legacy group was selected from"
    );
    assert_eq!(reactor.in_flight(), 0);
    drop(reactor);
    // The held receive's completion was read by the reactor; `rx` may go.
    drop(rx);
}

/// Every legacy buffer is named by exactly one completion or removed:
/// the accounting the `push_unchecked` contract of `ProvideBuffers` rests
/// on (the kernel is done with a buffer once a completion names it).
///
/// Linux 6.18 names a legacy buffer (`__io_put_kbufs`, which frees the
/// kernel's record of it) whenever an op that selected one completes,
/// failed or not: a read of a directory (`EISDIR`) or of a write-only
/// descriptor (`EBADF`) and a read at the end of a file select first and
/// name their buffer; a `MSG_WAITALL` receive cancelled after a partial
/// transfer names its buffer with the bytes it got. Ops that fail before
/// they select, or put their selection back (`io_kbuf_recycle_legacy` on a
/// receive that found the peer gone or the connection reset, or one
/// cancelled while it waited for data), name none. In one scope, eight
/// ops over a group of eight buffers: the ids named are distinct, the
/// buffers left are exactly the others (`RemoveBuffers`), the buffers of
/// failed ops were never written, and a buffer no op named keeps its
/// canary.
#[test]
fn every_legacy_buffer_is_named_by_one_completion_or_removed() {
    let _watch = watchdog();
    const GROUP: u16 = 0x59;
    const N: usize = 8;
    let mut ring = Ring::new(16).unwrap();
    let (region, res) = provide(&mut ring, leaked(N * 16), 16, GROUP, 0);
    assert_eq!(res, 0);
    let group = BufferGroup::new(GROUP);
    let zero = File::open("/dev/zero").unwrap();
    let dir = File::open(std::env::temp_dir()).unwrap();
    let empty = tempfile::tempfile().unwrap();
    let write_only = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    let (gone, closed) = UnixStream::pair().unwrap();
    drop(gone);
    let (reset_peer, reset) = uring_tests::tcp_pair();
    uring_tests::reset_on_close(&reset_peer);
    drop(reset_peer);
    let (mut partial_tx, partial) = UnixStream::pair().unwrap();
    partial_tx.write_all(b"part").unwrap();
    let (_idle_tx, idle) = UnixStream::pair().unwrap();
    // Let the reset reach the other end.
    std::thread::sleep(Duration::from_millis(20));
    let got = ring.scope(|s| {
        s.push(Read::new(&zero, group.select(16)).user_data(1))
            .unwrap();
        s.push(Read::new(&dir, group.select(16)).user_data(2))
            .unwrap();
        s.push(Read::new(&write_only, group.select(16)).user_data(3))
            .unwrap();
        s.push(Read::new(&empty, group.select(16)).user_data(4))
            .unwrap();
        s.push(Recv::new(&closed, group.select(16)).user_data(5))
            .unwrap();
        s.push(Recv::new(&reset, group.select(16)).user_data(6))
            .unwrap();
        s.push(
            Recv::new(&partial, group.select(16))
                .msg_flags(MsgFlags::WAITALL)
                .user_data(7),
        )
        .unwrap();
        s.push(Recv::new(&idle, group.select(16)).user_data(8))
            .unwrap();
        s.submit().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(s.cancel(7).unwrap(), 1);
        assert_eq!(s.cancel(8).unwrap(), 1);
        let mut got = uring_tests::scope_reap(s, 8);
        got.sort_by_key(|c| c.user_data());
        got
    });
    let outcome: Vec<(u64, i32, bool)> = got
        .iter()
        .map(|c| (c.user_data(), c.res(), c.buffer_id().is_some()))
        .collect();
    assert_eq!(
        outcome,
        [
            (1, 16, true),
            (2, -libc::EISDIR, true),
            (3, -libc::EBADF, true),
            (4, 0, true),
            (5, 0, false),
            (6, -libc::ECONNRESET, false),
            (7, 4, true),
            (8, -libc::ECANCELED, false),
        ],
        "{got:?}"
    );
    let mut named: Vec<u16> = got.iter().filter_map(|c| c.buffer_id()).collect();
    let buffer = |bid: u16| &region[usize::from(bid) * 16..][..16];
    for c in &got {
        let Some(bid) = c.buffer_id() else { continue };
        match c.user_data() {
            1 => assert_eq!(buffer(bid), [0; 16], "the zeros read"),
            7 => assert_eq!(&buffer(bid)[..4], b"part"),
            _ => assert!(buffer(bid).iter().all(|&b| b == CANARY), "{c:?} wrote"),
        }
    }
    named.sort_unstable();
    named.dedup();
    assert_eq!(named.len(), 5, "a buffer named twice: {got:?}");
    let removed = remove(&mut ring, 65536, GROUP);
    assert_eq!(
        removed as usize + named.len(),
        N,
        "a buffer neither named nor left"
    );
    for bid in (0..N as u16).filter(|bid| !named.contains(bid)) {
        assert!(buffer(bid).iter().all(|&b| b == CANARY), "buffer {bid}");
    }
}

/// Closing the ring does not end the kernel's use of legacy buffers, as
/// `Ring::push_unchecked`'s contract says (memory still provided when the
/// ring is dropped must be leaked).
///
/// Dropping a `Ring` only closes its descriptor: a `BufRing` (or a
/// `RingTarget`) of the ring holds a duplicate, so the kernel ring, its
/// legacy lists and its ops in flight live on (`io_uring_release` and
/// `io_ring_exit_work`, which cancel the ops, and `io_destroy_buffers`,
/// run only at the last reference; even then the exit work runs after
/// `close` has returned). A read of a pipe that selects from a legacy
/// group is pending when the ring is dropped with either kind of holder
/// alive; data written to the pipe afterwards lands in the legacy memory,
/// which the program therefore could not have freed. (Memory here is
/// leaked, so the write is harmless.)
#[test]
fn legacy_buffers_are_still_filled_after_the_ring_is_dropped() {
    let _watch = watchdog();
    const GROUP: u16 = 0x5a;
    let mut written = Vec::new();
    for holder in ["a BufRing", "a RingTarget"] {
        let mut ring = Ring::new(8).unwrap();
        let (region, res) = provide(&mut ring, leaked(16), 16, GROUP, 0);
        assert_eq!(res, 0);
        let keeper: Box<dyn std::any::Any> = if holder == "a BufRing" {
            let Some(pool) = plain_buf_ring(&mut ring, GROUP + 1, 1, 8) else {
                return;
            };
            Box::new(pool)
        } else {
            Box::new(ring.msg_target().unwrap())
        };
        let (r, w) = pipe();
        // SAFETY: `r` is leaked below (the read's completion may never be
        // read), and the buffer the read selects is leaked memory.
        unsafe {
            ring.push_unchecked(Read::new(&r, BufferGroup::new(GROUP).select(16)).user_data(1))
        }
        .unwrap();
        assert_eq!(ring.submit().unwrap(), 1);
        drop(ring);
        // The ring is closed: the documented contract lets the program free
        // `region` from here on. The read waits for data, and selects its
        // buffer only when the data comes.
        File::from(w).write_all(b"after the close").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        if std::hint::black_box(&region[..]) != [CANARY; 16] {
            written.push(format!(
                "with {holder} alive: {:?}",
                String::from_utf8_lossy(&region[..15])
            ));
        }
        drop(keeper);
        std::mem::forget(r);
    }
    assert_eq!(
        written.len(),
        2,
        "the kernel filled the legacy buffer after the ring was dropped, with each holder \
         alive: {written:?}"
    );
    assert!(
        written.iter().all(|w| w.contains("after the close")),
        "{written:?}"
    );
}

/// A legacy group that reuses the id of a dropped incremental buffer ring
/// is not run one op at a time.
///
/// A scope runs the ops of an incremental group one after the other (a
/// second one fails with `EBUSY` without running) and refuses
/// `MSG_WAITALL` on it (`EINVAL`), marking the group when the ring is
/// registered (`ScopeTable::set_incremental`). Dropping the `BufRing`
/// unregisters the group (`io_unregister_pbuf_ring`), after which
/// `ProvideBuffers` makes it a legacy list, which Linux consumes whole
/// buffers of, any number of ops at once; the dropped ring clears its
/// mark, and the next scope forgets the group. Two reads of two pipes
/// selecting from the legacy group in one scope both read, and so does a
/// `MSG_WAITALL` receive.
#[test]
fn a_legacy_group_under_a_dropped_incremental_ring_id_runs_ops_at_once() {
    let _watch = watchdog();
    const GROUP: u16 = 0x5b;
    let mut ring = Ring::new(8).unwrap();
    let Some(incremental) = incremental_buf_ring(&mut ring, GROUP, 2, 64) else {
        return;
    };
    drop(incremental);
    let (region, res) = provide(&mut ring, leaked(3 * 16), 16, GROUP, 0);
    assert_eq!(res, 0, "the unregistered id takes legacy buffers");
    let group = BufferGroup::new(GROUP);
    let (r1, w1) = pipe();
    let (r2, w2) = pipe();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"whole").unwrap();
    let got = ring.scope(|s| {
        s.push(Read::new(&r1, group.select(16)).user_data(1))
            .unwrap();
        s.push(Read::new(&r2, group.select(16)).user_data(2))
            .unwrap();
        s.submit().unwrap();
        File::from(w1).write_all(b"one").unwrap();
        File::from(w2).write_all(b"two").unwrap();
        let mut got = uring_tests::scope_reap(s, 2);
        s.push(
            Recv::new(&rx, group.select(5))
                .msg_flags(MsgFlags::WAITALL)
                .user_data(3),
        )
        .unwrap();
        got.extend(uring_tests::scope_reap(s, 1));
        got.sort_by_key(|c| c.user_data());
        got.iter()
            .map(|c| (c.user_data(), c.res()))
            .collect::<Vec<_>>()
    });
    assert_eq!(got, [(1, 3), (2, 3), (3, 5)], "spurious refusals");
    assert!(region.iter().any(|&b| b != CANARY));
}

/// A group id passes from legacy buffers to a ring and back, each phase's
/// bytes landing in that phase's memory.
///
/// A legacy list emptied by its ops stays (`RemoveBuffers` finds it and
/// removes 0, not `ENOENT`), and `io_register_pbuf_ring` destroys it for a
/// ring (`io_destroy_bl`); `io_unregister_pbuf_ring` (the `BufRing`
/// dropped) frees the id, which `ProvideBuffers` then makes a new legacy
/// list (`__io_manage_buffers_legacy`); a list still holding a buffer
/// refuses a ring (`EEXIST`) until `RemoveBuffers` empties it. Through
/// legacy, ring, legacy and ring again, scope reads of a pipe take a
/// legacy buffer (never claimable from the ring of the next phase, which
/// does not exist yet) or a ring buffer (claimed), and each legacy region
/// holds exactly its phase's bytes.
#[test]
fn a_group_id_cycles_between_legacy_buffers_and_rings() {
    let _watch = watchdog();
    const GROUP: u16 = 0x5c;
    let mut ring = Ring::new(8).unwrap();
    let group = BufferGroup::new(GROUP);
    let (r, w) = pipe();
    let mut w = File::from(w);
    let mut read_one = |ring: &mut Ring, pool: Option<&uring::BufRing>, bytes: &[u8]| {
        w.write_all(bytes).unwrap();
        ring.scope(|s| {
            s.push(Read::new(&r, group.select(16)).user_data(1))
                .unwrap();
            let mut cqe = uring_tests::next_scope_cqe(s);
            assert_eq!(cqe.res(), bytes.len() as i32, "{cqe:?}");
            match pool {
                Some(pool) => {
                    let buf = pool.claim(&mut cqe).unwrap();
                    assert_eq!(&buf[..], bytes);
                }
                None => assert_eq!(cqe.buffer_id(), Some(0), "{cqe:?}"),
            }
        });
    };

    let (first, res) = provide(&mut ring, leaked(16), 16, GROUP, 0);
    assert_eq!(res, 0);
    read_one(&mut ring, None, b"legacy one");
    assert_eq!(remove(&mut ring, 1, GROUP), 0, "the emptied list stays");
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 16) else {
        return;
    };
    read_one(&mut ring, Some(&pool), b"ring one");
    drop(pool);
    let (second, res) = provide(&mut ring, leaked(2 * 16), 16, GROUP, 0);
    assert_eq!(res, 0, "the unregistered id takes legacy buffers again");
    read_one(&mut ring, None, b"legacy two");
    let err = ring
        .register_buf_ring(group, 2, 16)
        .expect_err("a ring over a list holding a buffer");
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err}");
    assert_eq!(remove(&mut ring, 1, GROUP), 1);
    let pool = ring.register_buf_ring(group, 2, 16).unwrap();
    read_one(&mut ring, Some(&pool), b"ring two");
    assert_eq!(&first[..10], b"legacy one");
    assert!(first[10..].iter().all(|&b| b == CANARY));
    assert_eq!(&second[..10], b"legacy two");
    assert!(
        second[10..].iter().all(|&b| b == CANARY),
        "the removed buffer"
    );
}
