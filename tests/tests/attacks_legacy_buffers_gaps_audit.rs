//! Legacy provided buffers (`IORING_OP_PROVIDE_BUFFERS`,
//! `IORING_OP_REMOVE_BUFFERS`) where the existing suites
//! (`attacks_legacy_buffers_source_audit.rs`, `attacks_kbuf_source_audit.rs`)
//! stop short: `RemoveBuffers` pushed by safe code while a scope's reads wait
//! on the group, the order the kernel takes and removes legacy buffers in,
//! one region provided under two sets of ids, multishot receives and reads
//! that run a legacy list dry, scopes that end by a panic with ops waiting
//! on a legacy group, receive and send bundles over a legacy group, the
//! header of a `RecvMsgSelect` that selects a legacy buffer, and the last
//! group and buffer ids.
//!
//! Read against Linux 6.18: `io_uring/kbuf.c` (`io_provide_buffers_prep`,
//! `io_remove_buffers_prep`, `io_add_buffers`, which appends to the list's
//! tail, `io_remove_buffers_legacy`, which takes from its head,
//! `__io_manage_buffers_legacy`, which answers `ENOENT` for a group it does
//! not know, `io_provided_buffer_select`, which takes the head and caps the
//! length at the buffer's, `io_kbuf_recycle_legacy`, which puts a buffer
//! back at the head, `io_buffers_select` and
//! `io_buffers_peek`, which take one legacy buffer where a ring gives a
//! bundle several, `__io_put_kbufs` / `io_kbuf_drop_legacy`), `io_uring/net.c`
//! (`io_recv` and `io_recv_buf_select`, whose `ENOBUFS` ends a multishot
//! receive, and which put a receive's legacy buffer back while it waits;
//! `io_recv_finish`, which retries a bundle into a second legacy buffer and
//! keeps the first one's id; `io_recvmsg_prep` and `io_recvmsg_copy_hdr`, which refuse a
//! bundle and more than one iovec and take the one iovec's length as the
//! cap; `io_send_select_buffer`) and `io_uring/rw.c` (`io_read_mshot`).
//!
//! `ProvideBuffers` has no safe push (`#[retains_memory]`), so every test
//! hands the kernel leaked memory through `push_unchecked`, keeping its
//! contract; everything after that is safe code, and each test checks what
//! the kernel did: results, errnos, the ids named and their order, the
//! bytes in the legacy memory and the canaries around them.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::Instant;

use uring::ops::{ProvideBuffers, Read, ReadMultishot, Recv, RecvMsgSelect, RemoveBuffers, Send};
use uring::{BufferGroup, BufferPool, Cqe, Features, MsgHdrMut, RecvFlags, Ring, SendFlags};
use uring_tests::{PATIENCE, pipe, reap_one, watchdog};

/// The byte leaked regions start with: a byte the kernel never wrote
/// still holds it.
const CANARY: u8 = 0xA5;

/// The `user_data` of the `ProvideBuffers` and `RemoveBuffers` ops.
const PROVIDE: u64 = 0x7072_6f76;
const REMOVE: u64 = 0x7265_6d76;

/// `len` bytes of `CANARY`, leaked: the kernel keeps legacy buffers past
/// `ProvideBuffers`' completion, until a completion names them, they are
/// removed, or the kernel ring is gone, so the tests never free them.
fn leaked(len: usize) -> &'static mut [u8] {
    Box::leak(vec![CANARY; len].into_boxed_slice())
}

/// Provides the `len` bytes at `addr`, cut into buffers of `buf_len`
/// bytes, to `group` with ids from `start_id`; returns the completion's
/// result.
///
/// # Safety
///
/// The `len` bytes at `addr` must be leaked memory that no reference the
/// program uses covers while the kernel may write them (the tests read it
/// only through short-lived shared slices, after the completions that name
/// its buffers).
unsafe fn provide_raw(
    ring: &mut Ring,
    addr: *mut u8,
    len: usize,
    buf_len: u32,
    group: u16,
    start_id: u16,
) -> i32 {
    // SAFETY: the caller vouches that the bytes are leaked, so they stay
    // allocated for as long as the kernel may fill one of the buffers; the
    // slice lives only as long as the statement that builds the pool, which
    // keeps the address alone.
    let region = unsafe { std::slice::from_raw_parts_mut(addr, len) };
    // SAFETY: as above: the memory outlives the kernel's use of it.
    unsafe {
        ring.push_unchecked(
            ProvideBuffers::new(BufferPool::new(region, buf_len), BufferGroup::new(group))
                .start_id(start_id)
                .user_data(PROVIDE),
        )
    }
    .unwrap();
    let cqe = reap_one(ring);
    assert_eq!(cqe.user_data(), PROVIDE, "{cqe:?}");
    cqe.res()
}

/// Provides a fresh leaked region of `count` buffers of `buf_len` bytes to
/// `group` with ids from `start_id`; returns its address (read back with
/// [`bytes`]) and the completion's result.
fn provide(
    ring: &mut Ring,
    count: usize,
    buf_len: u32,
    group: u16,
    start_id: u16,
) -> (*mut u8, i32) {
    let len = count * buf_len as usize;
    let addr = leaked(len).as_mut_ptr();
    // SAFETY: the region was leaked just above and no reference to it is
    // kept: it is read only through `bytes`.
    let res = unsafe { provide_raw(ring, addr, len, buf_len, group, start_id) };
    (addr, res)
}

/// The `len` bytes at `addr` of a leaked region, as they are now.
fn bytes(addr: *const u8, len: usize) -> Vec<u8> {
    // SAFETY: `addr` is the start of a leaked region of at least `len`
    // bytes (every caller passes a region from `provide` or `leaked`); the
    // slice is copied at once, and only read while no op that may write
    // the region is in flight.
    unsafe { std::slice::from_raw_parts(addr, len) }.to_vec()
}

/// Removes up to `count` buffers from `group` through the safe `Ring::push`;
/// returns the completion's result.
fn remove(ring: &mut Ring, count: u32, group: u16) -> i32 {
    ring.push(RemoveBuffers::new(count, BufferGroup::new(group)).user_data(REMOVE))
        .unwrap();
    let cqe = reap_one(ring);
    assert_eq!(cqe.user_data(), REMOVE, "{cqe:?}");
    cqe.res()
}

/// `(user_data, res, buffer id, F_MORE)` of a completion.
fn outcome(cqe: &Cqe) -> (u64, i32, Option<u16>, bool) {
    (cqe.user_data(), cqe.res(), cqe.buffer_id(), cqe.has_more())
}

/// Reads the scope's completions until the op `user_data` has posted one
/// without `IORING_CQE_F_MORE`, within [`PATIENCE`]; returns all of them.
fn until_last(s: &mut uring::Scope<'_, '_>, user_data: u64) -> Vec<Cqe> {
    s.submit().unwrap();
    let start = Instant::now();
    let mut got: Vec<Cqe> = Vec::new();
    while !got
        .iter()
        .any(|c| c.user_data() == user_data && !c.has_more())
    {
        assert!(
            start.elapsed() < PATIENCE,
            "no last completion of {user_data} after {PATIENCE:?}: {got:?}"
        );
        s.wait_timeout(1, PATIENCE).unwrap();
        got.extend(s.completions().map(|c| c.cqe()));
    }
    got
}

/// `RemoveBuffers`, pushed safely in a scope while a read of a pipe and a
/// receive of a socket wait on a legacy group, removes every buffer but the
/// one the read holds: the read fills that buffer when its data comes, and
/// the receive fails with `ENOBUFS`.
///
/// Linux 6.18 treats the two waiting ops differently. The receive
/// (`io_recv`) selects a buffer, finds no data and puts the buffer back at
/// the list's head (`io_kbuf_recycle_legacy`) before it arms its poll:
/// it holds none while it waits. The read of the pipe keeps the legacy
/// buffer it selected (id 0) across its poll. So `RemoveBuffers` of up to
/// 65536 removes 1 (id 1). When the data comes, the read completes with
/// its 4 bytes in buffer 0, naming it; the receive selects again from the
/// empty list and completes with `ENOBUFS`, naming none, its bytes left in
/// the socket. The removed buffer was never written.
#[test]
fn removing_a_legacy_group_under_waiting_ops_spares_only_the_buffer_a_read_holds() {
    let _watch = watchdog();
    const GROUP: u16 = 0x61;
    let mut ring = Ring::new(8).unwrap();
    let (region, res) = provide(&mut ring, 2, 16, GROUP, 0);
    assert_eq!(res, 0);
    let group = BufferGroup::new(GROUP);
    let (r, w) = pipe();
    let mut w = File::from(w);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let got = ring.scope(|s| {
        s.push(Read::new(&r, group.select(16)).user_data(1))
            .unwrap();
        s.push(Recv::new(&rx, group.select(16)).user_data(2))
            .unwrap();
        assert_eq!(s.submit().unwrap(), 2);
        s.push(RemoveBuffers::new(65536, group).user_data(3))
            .unwrap();
        let removed = uring_tests::next_scope_cqe(s);
        assert_eq!(
            (removed.user_data(), removed.res()),
            (3, 1),
            "the waiting read holds one buffer: {:?}",
            removed.cqe()
        );
        w.write_all(b"pipe").unwrap();
        tx.write_all(b"sock").unwrap();
        let mut got = uring_tests::scope_reap(s, 2);
        got.sort_by_key(|c| c.user_data());
        got
    });
    let got: Vec<_> = got.iter().map(outcome).collect();
    assert_eq!(
        got,
        [(1, 4, Some(0), false), (2, -libc::ENOBUFS, None, false)]
    );
    let region = bytes(region, 32);
    assert_eq!(&region[..4], b"pipe");
    assert_eq!(&region[4..], [CANARY; 28], "a removed buffer was written");
    let mut left = [0u8; 8];
    let mut rx = rx;
    assert_eq!(rx.read(&mut left).unwrap(), 4);
    assert_eq!(&left[..4], b"sock");
    assert_eq!(remove(&mut ring, 1, GROUP), 0, "the emptied list stays");
}

/// The kernel takes legacy buffers from the head of the group's list, and
/// `RemoveBuffers` removes from the head too: a program that removes a
/// count of buffers removes the oldest, not the ones it provided last.
///
/// `io_add_buffers` appends each buffer at the list's tail, in id order;
/// `io_remove_buffers_legacy` and `io_provided_buffer_select` take the
/// head. Of ids 0 to 3 (region A), removing 2 removes 0 and 1; ids 100 and
/// 101 (region B) go after 2 and 3. Reads of a pipe then name 2, 3, 100,
/// 101 in that order, and a fifth finds the list empty (`ENOBUFS`). Each
/// read's bytes are where its id's buffer lies, and the removed buffers
/// keep their canary.
#[test]
fn legacy_buffers_are_taken_and_removed_from_the_head_of_the_list() {
    let _watch = watchdog();
    const GROUP: u16 = 0x62;
    let mut ring = Ring::new(8).unwrap();
    let (a, res) = provide(&mut ring, 4, 8, GROUP, 0);
    assert_eq!(res, 0);
    assert_eq!(remove(&mut ring, 2, GROUP), 2);
    let (b, res) = provide(&mut ring, 2, 8, GROUP, 100);
    assert_eq!(res, 0);
    let group = BufferGroup::new(GROUP);
    let (r, w) = pipe();
    let mut w = File::from(w);
    let mut named = Vec::new();
    for i in 0..5u8 {
        w.write_all(&[b'a' + i; 8]).unwrap();
        let cqe = uring_tests::complete(&mut ring, Read::new(&r, group.select(8)).user_data(1));
        named.push((cqe.res(), cqe.buffer_id()));
    }
    assert_eq!(
        named,
        [
            (8, Some(2)),
            (8, Some(3)),
            (8, Some(100)),
            (8, Some(101)),
            (-libc::ENOBUFS, None)
        ]
    );
    let a = bytes(a, 32);
    assert_eq!(&a[..16], [CANARY; 16], "a removed buffer was written");
    assert_eq!(&a[16..], b"aaaaaaaabbbbbbbb");
    assert_eq!(bytes(b, 16), b"ccccccccdddddddd");
}

/// One region provided twice, under two sets of ids, is accepted and
/// written under both: the kernel checks neither overlap nor ids against
/// the buffers it holds, so "every id named once" does not mean "every
/// byte written once".
///
/// `io_provide_buffers_prep` checks only that the range is accessible, and
/// `io_add_buffers` records each buffer's address as it comes. A leaked
/// region of two 16-byte buffers is provided as ids 0 and 1, then again as
/// ids 2 and 3. Four reads of a pipe name four distinct ids, 0 to 3, yet
/// the region holds only the last two reads' bytes: the first two were
/// overwritten by the kernel after their completions had named them. (The
/// `push_unchecked` contract covers it: the program lent the same bytes
/// twice.)
#[test]
fn one_region_provided_under_two_sets_of_ids_is_written_under_both() {
    let _watch = watchdog();
    const GROUP: u16 = 0x63;
    let mut ring = Ring::new(8).unwrap();
    let region = leaked(32).as_mut_ptr();
    for start_id in [0, 2] {
        // SAFETY: `region` is leaked, and read only through `bytes` once
        // every read that may fill it has completed.
        let res = unsafe { provide_raw(&mut ring, region, 32, 16, GROUP, start_id) };
        assert_eq!(res, 0, "the same bytes again, ids from {start_id}");
    }
    let group = BufferGroup::new(GROUP);
    let (r, w) = pipe();
    let mut w = File::from(w);
    let mut seen = Vec::new();
    for i in 0..4u8 {
        w.write_all(&[b'0' + i; 16]).unwrap();
        let cqe = uring_tests::complete(&mut ring, Read::new(&r, group.select(16)).user_data(1));
        assert_eq!(cqe.res(), 16, "{cqe:?}");
        seen.push(cqe.buffer_id().unwrap());
        if i == 1 {
            assert_eq!(bytes(region, 32), b"00000000000000001111111111111111");
        }
    }
    assert_eq!(seen, [0, 1, 2, 3], "four distinct ids");
    assert_eq!(
        bytes(region, 32),
        b"22222222222222223333333333333333",
        "ids 2 and 3 lie over ids 0 and 1"
    );
    assert_eq!(remove(&mut ring, 65536, GROUP), 0);
}

/// A multishot receive and a multishot read over a legacy group post one
/// completion per buffer, each flagged `F_MORE`, and end with a last
/// completion of `ENOBUFS` when the list runs dry; the scope settles them
/// there, and the data that found no buffer stays where it was.
///
/// `io_recv` (and `io_read_mshot`) select a legacy buffer for each
/// datagram (each pipe write), post its id with `IORING_CQE_F_MORE`
/// (`io_kbuf_drop_legacy` lets go of it), and go on; once
/// `io_provided_buffer_select` finds the list empty the op completes with
/// `-ENOBUFS` and no `F_MORE`. Two buffers, three datagrams (three writes):
/// ids 0 and 1 with their bytes, then `ENOBUFS`; the third datagram is
/// still in the socket, the third write still in the pipe.
#[test]
fn multishot_ops_over_a_legacy_group_end_with_enobufs_when_the_list_runs_dry() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_op::<ReadMultishot>(&ring) {
        return;
    }
    const SOCK_GROUP: u16 = 0x64;
    const PIPE_GROUP: u16 = 0x65;
    let (sock_region, res) = provide(&mut ring, 2, 16, SOCK_GROUP, 0);
    assert_eq!(res, 0);
    let (pipe_region, res) = provide(&mut ring, 2, 16, PIPE_GROUP, 0);
    assert_eq!(res, 0);
    let (tx, rx) = UnixDatagram::pair().unwrap();
    for d in [&b"one"[..], b"two", b"three"] {
        tx.send(d).unwrap();
    }
    let got = ring.scope(|s| {
        s.push(
            Recv::new(&rx, BufferGroup::new(SOCK_GROUP).select(0))
                .recv_flags(RecvFlags::MULTISHOT)
                .user_data(1),
        )
        .unwrap();
        let got = until_last(s, 1);
        assert_eq!(s.in_flight(), 0);
        got
    });
    let got: Vec<_> = got.iter().map(outcome).collect();
    assert_eq!(
        got,
        [
            (1, 3, Some(0), true),
            (1, 3, Some(1), true),
            (1, -libc::ENOBUFS, None, false)
        ]
    );
    let sock = bytes(sock_region, 32);
    assert_eq!((&sock[..3], &sock[16..19]), (&b"one"[..], &b"two"[..]));
    let mut left = [0u8; 8];
    assert_eq!(rx.recv(&mut left).unwrap(), 5);
    assert_eq!(&left[..5], b"three");

    let (r, w) = pipe();
    let mut w = File::from(w);
    let got = ring.scope(|s| {
        s.push(ReadMultishot::new(&r, BufferGroup::new(PIPE_GROUP)).user_data(2))
            .unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        for chunk in [&b"first"[..], b"second", b"third"] {
            w.write_all(chunk).unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| c.cqe()));
        }
        if got.last().is_some_and(|c| c.has_more()) {
            got.extend(until_last(s, 2));
        }
        assert_eq!(s.in_flight(), 0);
        got
    });
    let got: Vec<_> = got.iter().map(outcome).collect();
    assert_eq!(
        got,
        [
            (2, 5, Some(0), true),
            (2, 6, Some(1), true),
            (2, -libc::ENOBUFS, None, false)
        ]
    );
    let piped = bytes(pipe_region, 32);
    assert_eq!(
        (&piped[..5], &piped[16..22]),
        (&b"first"[..], &b"second"[..])
    );
    let mut left = [0u8; 8];
    assert_eq!(File::from(r).read(&mut left).unwrap(), 5);
    assert_eq!(&left[..5], b"third");
}

/// A scope that ends by a panic while ops wait on a legacy group cancels
/// them; data that comes later never reaches the legacy memory, and the
/// buffer the read held is gone from the list, named by a completion the
/// scope's end took in and the program never saw.
///
/// A multishot receive of an idle socket and a receive of another put
/// their selection back while they wait (`io_kbuf_recycle_legacy`); a read
/// of an empty pipe keeps the buffer it selected (id 0, the head). The
/// closure panics; the scope cancels and reaps all three before the
/// unwinding goes on, the read's `ECANCELED` completion naming id 0
/// (`io_req_defer_failed` puts the buffer: `__io_put_kbufs`). Bytes
/// written to the sockets and the pipe afterwards stay there, the legacy
/// memory keeps its canary, and reads after the scope take ids 1 and 2,
/// then find the list empty: id 0 is no longer the kernel's, though no
/// completion the program read named it.
#[test]
fn a_scope_that_panics_over_legacy_ops_ends_them_and_the_held_buffer_leaves_unseen() {
    let _watch = watchdog();
    const GROUP: u16 = 0x66;
    let mut ring = Ring::new(8).unwrap();
    let (region, res) = provide(&mut ring, 3, 16, GROUP, 0);
    assert_eq!(res, 0);
    let group = BufferGroup::new(GROUP);
    let (mut tx1, rx1) = UnixStream::pair().unwrap();
    let (mut tx2, rx2) = UnixStream::pair().unwrap();
    let (r, w) = pipe();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ring.scope(|s| {
            s.push(
                Recv::new(&rx1, group.select(0))
                    .recv_flags(RecvFlags::MULTISHOT)
                    .user_data(1),
            )
            .unwrap();
            s.push(Recv::new(&rx2, group.select(16)).user_data(2))
                .unwrap();
            s.push(Read::new(&r, group.select(16)).user_data(3))
                .unwrap();
            assert_eq!(s.submit().unwrap(), 3);
            assert_eq!(s.in_flight(), 3);
            panic!("the scope's closure panics with three ops waiting");
        })
    }));
    assert!(unwound.is_err());
    assert_eq!(ring.ready(), 0, "the scope's end took every completion in");
    tx1.write_all(b"late one").unwrap();
    tx2.write_all(b"late two").unwrap();
    let mut w = File::from(w);
    w.write_all(b"late three").unwrap();
    // A NOP through the ring runs any task work a woken op would have
    // queued before it completes.
    let nop = uring_tests::complete(&mut ring, uring::ops::Nop::new().user_data(9));
    assert_eq!(nop.user_data(), 9);
    assert_eq!(
        bytes(region, 48),
        [CANARY; 48],
        "a legacy buffer was written"
    );
    let mut left = [0u8; 16];
    let mut rx1 = rx1;
    assert_eq!(rx1.read(&mut left).unwrap(), 8);
    let mut rx2 = rx2;
    assert_eq!(rx2.read(&mut left).unwrap(), 8);
    let mut r = File::from(r);
    assert_eq!(r.read(&mut left).unwrap(), 10);
    let mut named = Vec::new();
    for chunk in [b"id?1", b"id?2", b"none"] {
        w.write_all(chunk).unwrap();
        let cqe = uring_tests::complete(&mut ring, Read::new(&r, group.select(16)).user_data(4));
        named.push((cqe.res(), cqe.buffer_id()));
    }
    assert_eq!(
        named,
        [(4, Some(1)), (4, Some(2)), (-libc::ENOBUFS, None)],
        "id 0 left with the read's unseen completion"
    );
}

/// Provides three legacy buffers of 16 bytes to `group`, ids 0 to 2, each
/// at the start of a 32-byte leaked region of its own (the 16 bytes after
/// each buffer are a canary no buffer covers); returns the regions.
fn three_apart(ring: &mut Ring, group: u16) -> [*mut u8; 3] {
    [0u16, 1, 2].map(|id| {
        let region = leaked(32).as_mut_ptr();
        // SAFETY: `region` is leaked and read only through `bytes`.
        let res = unsafe { provide_raw(ring, region, 16, 16, group, id) };
        assert_eq!(res, 0);
        region
    })
}

/// A receive bundle over a legacy group fills two buffers and names one,
/// with a result past that buffer's length; a send bundle over one sends
/// every buffer, naming each in a completion of its own.
///
/// `io_buffers_peek` gives a bundle one legacy buffer ("don't support
/// multiple buffer selections for legacy"), but `io_recv_finish` retries a
/// bundle that filled what it mapped while more data waits
/// (`msg_inq > 1`), selecting again, and the completion keeps the first
/// piece's buffer id (`IORING_RECV_RETRY`: `req->cqe.flags`) with the sum
/// of both pieces. With 40 bytes waiting and three 16-byte buffers apart
/// from each other, the first receive bundle completes with 32, naming id
/// 0 alone: 16 bytes in buffer 0 (the canary after it untouched) and 16 in
/// buffer 1, which no completion names and which is no longer on the list
/// (`RemoveBuffers` finds only id 2). A second takes the last 8 bytes into
/// id 2.
///
/// A send bundle (`io_send_select_buffer`, which Linux 6.18 runs as a
/// multishot op) over three filled 8-byte legacy buffers posts one
/// completion per buffer, each naming its id with 8 bytes, `F_MORE` on all
/// but the last, and the peer gets the three buffers' bytes in id order;
/// the list is then empty.
#[test]
fn bundles_over_a_legacy_group_name_the_first_buffer_of_each_piece() {
    let _watch = watchdog();
    const RECV_GROUP: u16 = 0x67;
    const SEND_GROUP: u16 = 0x68;
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_features(&ring, Features::RECVSEND_BUNDLE, "bundles") {
        return;
    }
    let regions = three_apart(&mut ring, RECV_GROUP);
    let sent = uring_tests::pattern(40, 0x67);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(&sent).unwrap();
    let group = BufferGroup::new(RECV_GROUP);
    let bundle = |ring: &mut Ring| {
        let cqe = uring_tests::complete(
            ring,
            Recv::new(&rx, group.select(0))
                .recv_flags(RecvFlags::BUNDLE)
                .user_data(1),
        );
        outcome(&cqe)
    };
    assert_eq!(
        bundle(&mut ring),
        (1, 32, Some(0), false),
        "two pieces, one id"
    );
    let [first, second, third] = regions.map(|r| bytes(r, 32));
    assert_eq!(&first[..16], &sent[..16]);
    assert_eq!(&first[16..], [CANARY; 16], "nothing past buffer 0");
    assert_eq!(
        &second[..16],
        &sent[16..32],
        "the second piece is in buffer 1"
    );
    assert_eq!(third, [CANARY; 32]);
    // Buffer 1 left the list with the first bundle: the second takes id 2.
    assert_eq!(bundle(&mut ring), (1, 8, Some(2), false));
    assert_eq!(&bytes(regions[2], 8)[..], &sent[32..]);
    assert_eq!(remove(&mut ring, 65536, RECV_GROUP), 0);

    // A send bundle: the legacy buffers hold known bytes first.
    let filled = leaked(24);
    filled.copy_from_slice(b"AAAAAAAABBBBBBBBCCCCCCCC");
    let filled = filled.as_mut_ptr();
    // SAFETY: `filled` is leaked and only read (through `bytes`) from here.
    let res = unsafe { provide_raw(&mut ring, filled, 24, 8, SEND_GROUP, 0) };
    assert_eq!(res, 0);
    let (stx, mut srx) = UnixStream::pair().unwrap();
    let got = ring.scope(|s| {
        s.push(
            Send::new(&stx, BufferGroup::new(SEND_GROUP).select(0))
                .send_flags(SendFlags::BUNDLE)
                .user_data(2),
        )
        .unwrap();
        let got = until_last(s, 2);
        assert_eq!(s.in_flight(), 0);
        got
    });
    let got: Vec<_> = got.iter().map(outcome).collect();
    assert_eq!(
        got,
        [
            (2, 8, Some(0), true),
            (2, 8, Some(1), true),
            (2, 8, Some(2), false)
        ]
    );
    srx.set_nonblocking(true).unwrap();
    let mut peer = vec![0u8; 64];
    let n = srx.read(&mut peer).unwrap();
    assert_eq!(&peer[..n], b"AAAAAAAABBBBBBBBCCCCCCCC");
    assert_eq!(remove(&mut ring, 65536, SEND_GROUP), 0);
    assert_eq!(bytes(filled, 24), b"AAAAAAAABBBBBBBBCCCCCCCC");
}

/// `RecvMsgSelect` over a legacy group writes the payload into the
/// selected buffer only, capped by the header's one iovec, and the kernel
/// refuses a header of two iovecs and a bundle.
///
/// `io_recvmsg_copy_hdr` with buffer selection reads `msg_iovlen` (more
/// than one: `EINVAL`) and the first iovec's length as the cap, never its
/// base; `io_recvmsg_prep` refuses `IORING_RECVSEND_BUNDLE` on
/// `IORING_OP_RECVMSG` (`EINVAL`). A 10-byte datagram into a header whose
/// iovec is 4 canary bytes lands as 4 bytes in legacy buffer 0
/// (`MSG_TRUNC` in the header's flags), the iovec's bytes untouched; with
/// no iovec, the next datagram fills up to the whole 16-byte buffer 1.
/// The refused ops name no buffer and take none.
#[test]
fn recvmsg_select_over_a_legacy_group_writes_only_the_selected_buffer() {
    let _watch = watchdog();
    const GROUP: u16 = 0x69;
    let mut ring = Ring::new(8).unwrap();
    let (region, res) = provide(&mut ring, 3, 16, GROUP, 0);
    assert_eq!(res, 0);
    let group = BufferGroup::new(GROUP);
    let (tx, rx) = UnixDatagram::pair().unwrap();
    tx.send(b"0123456789").unwrap();
    let mut cap = [CANARY; 4];
    let (res, bid, flags) = {
        let mut iov = [std::io::IoSliceMut::new(&mut cap)];
        let mut msg = MsgHdrMut::new(&mut iov);
        let cqe = uring_tests::complete(
            &mut ring,
            RecvMsgSelect::new(&rx, &mut msg, group).user_data(1),
        );
        (cqe.res(), cqe.buffer_id(), msg.flags())
    };
    assert_eq!((res, bid), (4, Some(0)));
    assert_ne!(flags & libc::MSG_TRUNC, 0, "flags {flags:#x}");
    assert_eq!(cap, [CANARY; 4], "the header's iovec was written");

    tx.send(b"abcdefghijklmnopqrst").unwrap();
    let (res, bid) = {
        let mut none: [std::io::IoSliceMut<'_>; 0] = [];
        let mut msg = MsgHdrMut::new(&mut none);
        let cqe = uring_tests::complete(
            &mut ring,
            RecvMsgSelect::new(&rx, &mut msg, group).user_data(2),
        );
        (cqe.res(), cqe.buffer_id())
    };
    assert_eq!((res, bid), (16, Some(1)));

    tx.send(b"refused").unwrap();
    let mut a = [CANARY; 4];
    let mut b = [CANARY; 4];
    {
        let mut two = [
            std::io::IoSliceMut::new(&mut a),
            std::io::IoSliceMut::new(&mut b),
        ];
        let mut msg = MsgHdrMut::new(&mut two);
        let cqe = uring_tests::complete(
            &mut ring,
            RecvMsgSelect::new(&rx, &mut msg, group).user_data(3),
        );
        assert_eq!(
            (cqe.res(), cqe.buffer_id()),
            (-libc::EINVAL, None),
            "two iovecs: {cqe:?}"
        );
    }
    {
        let mut none: [std::io::IoSliceMut<'_>; 0] = [];
        let mut msg = MsgHdrMut::new(&mut none);
        let cqe = uring_tests::complete(
            &mut ring,
            RecvMsgSelect::new(&rx, &mut msg, group)
                .recv_flags(SendFlags::BUNDLE)
                .user_data(4),
        );
        assert_eq!(
            (cqe.res(), cqe.buffer_id()),
            (-libc::EINVAL, None),
            "a bundle: {cqe:?}"
        );
    }
    assert_eq!((a, b), ([CANARY; 4], [CANARY; 4]));
    let region = bytes(region, 48);
    assert_eq!(&region[..4], b"0123");
    assert_eq!(&region[4..16], [CANARY; 12]);
    assert_eq!(&region[16..32], b"abcdefghijklmnop");
    assert_eq!(&region[32..], [CANARY; 16], "a refused op took a buffer");
    assert_eq!(remove(&mut ring, 65536, GROUP), 1);
    let mut left = [0u8; 16];
    assert_eq!(
        rx.recv(&mut left).unwrap(),
        7,
        "the refused ops read nothing"
    );
}

/// The last group id and the last buffer ids work whole, and
/// `RemoveBuffers` of a group that never held a buffer is `ENOENT`, of one
/// emptied 0.
///
/// `io_provide_buffers_prep` takes a start id of 65534 with two buffers
/// (`tmp + nbufs` is 65536, the bound); the completion's 16-bit id field
/// (`IORING_CQE_BUFFER_SHIFT`) carries 65535 unchanged, and group 65535 is
/// one like any other. `__io_manage_buffers_legacy` answers `ENOENT` for a
/// group it has no list of (only `ProvideBuffers` makes one).
#[test]
fn the_last_group_and_buffer_ids_are_named_whole() {
    let _watch = watchdog();
    const GROUP: u16 = u16::MAX;
    let mut ring = Ring::new(8).unwrap();
    assert_eq!(
        remove(&mut ring, 1, GROUP - 1),
        -libc::ENOENT,
        "never provided"
    );
    let (region, res) = provide(&mut ring, 2, 4, GROUP, u16::MAX - 1);
    assert_eq!(res, 0);
    let (r, w) = pipe();
    let mut w = File::from(w);
    let mut named = Vec::new();
    for chunk in [b"abcd", b"efgh"] {
        w.write_all(chunk).unwrap();
        let cqe = uring_tests::complete(
            &mut ring,
            Read::new(&r, BufferGroup::new(GROUP).select(0)).user_data(u64::MAX >> 1),
        );
        assert_eq!(cqe.flags() >> 16, u32::from(cqe.buffer_id().unwrap()));
        named.push((cqe.res(), cqe.buffer_id()));
    }
    assert_eq!(named, [(4, Some(65534)), (4, Some(65535))]);
    assert_eq!(bytes(region, 8), b"abcdefgh");
    assert_eq!(remove(&mut ring, 1, GROUP), 0, "emptied, not gone");
}
