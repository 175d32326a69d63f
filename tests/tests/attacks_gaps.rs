//! Attacks, in safe code only, on the newest public APIs:
//!
//! - provided-buffer rings whose descriptors the kernel allocates
//!   (`register_buf_ring_mmap`, `register_buf_ring_incremental_mmap`) and
//!   the head of any group (`Ring::buf_ring_head`): group ids at the edge
//!   of what the mmap offset holds and their aliases 2048 higher, a ring of
//!   one buffer whose 16-bit positions wrap, rings outliving the ring that
//!   registered them while a new ring takes their descriptor number, rings
//!   dropped in a scope and their group taken again, sizes that cannot be
//!   allocated, and the heads of groups of other rings;
//! - the handles that `register_buffer_slots(_tagged)` and
//!   `clone_buffers_replace` return, used by fixed-buffer ops of a scope:
//!   the slots a grown table gained, indices of a table that was replaced
//!   by a shorter one, indices of another ring, and refused arguments;
//! - vectored sends (`SendV`, `SendZcV`) in scopes: empty arrays, empty
//!   slices, more iovecs than the kernel takes, every send flag, sends
//!   stuck on a full socket that a link timeout, a cancel, the end of the
//!   scope or a panic in its closure stops, zero-copy sends whose
//!   notification comes after the scope's body returned or after a panic,
//!   a forgotten batch, zero-copy sends cancelled by their chain by the
//!   dozen, and a send over a buffer given to the scope.
//!
//! Each test asserts what the kernel did (results, errno, bytes received)
//! and that no memory the program gave back was read or written after: the
//! buffers are overwritten with a canary once the scope ends, and the peer
//! must receive none of it.
//!
//! Not reachable from safe code (compile errors, so not tested here):
//! `Ring::push` of a `SendV` / `SendZcV` (they borrow, so they are not
//! `Unborrowed`); dropping a `BufRing` while a `Buf` claimed from it lives;
//! registering a buffer ring inside a scope (the scope holds the ring);
//! using a `FixedBuffers` handle after `clone_buffers_replace` consumed
//! it; cloning a ring's buffers into itself (`&mut self` and `src: &Ring`
//! of one ring). The reactor offers no vectored send at all.

use std::io::{IoSlice, IoSliceMut, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::Duration;

use uring::ops::{Nop, Read, ReadFixed, Recv, SendV, SendZcV, WriteFixed};
use uring::{BufRing, BufferGroup, Error, MsgFlags, Ring, SendFlags, SendZcFlags, sys};
use uring_tests::Stop;
use uring_tests::{PATIENCE, mmap_buf_ring, pattern, require_kernel, require_op, tcp_pair};

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

/// The byte buffers are overwritten with once the kernel must be done.
const CANARY: u8 = 0xcc;

/// The byte a socket is filled with before a send that must wait.
const FILLER: u8 = 0x11;

/// Receives `data` sent on `tx` into a buffer of `pool` in a scope of
/// `ring`; returns the bytes and the buffer id claimed.
fn recv_into(
    ring: &mut Ring,
    pool: &BufRing,
    tx: &mut UnixStream,
    rx: &UnixStream,
) -> (Vec<u8>, u16) {
    ring.scope(|s| {
        s.push(Recv::new(rx, pool.select()).user_data(1)).unwrap();
        s.submit().unwrap();
        tx.write_all(b"into the pool").unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 13, "{:?}", cqe.cqe());
        let buf = pool.claim(&mut cqe).unwrap();
        (buf.to_vec(), buf.bid())
    })
}

/// Whether `e` is the library's refusal of an argument.
fn is_invalid_argument(e: &Error) -> bool {
    matches!(e, Error::InvalidArgument(_))
}

/// Fills the socket `tx` until a write would block; returns how many
/// bytes of [`FILLER`] it took. The socket is blocking again afterwards.
fn fill(tx: &mut UnixStream) -> usize {
    tx.set_nonblocking(true).unwrap();
    let chunk = [FILLER; 4096];
    let mut total = 0;
    loop {
        match tx.write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("fill: {e}"),
        }
    }
    tx.set_nonblocking(false).unwrap();
    total
}

/// Reads `rx` to its end.
fn drain(mut rx: impl std::io::Read) -> Vec<u8> {
    let mut got = Vec::new();
    rx.read_to_end(&mut got).unwrap();
    got
}

/// Asserts that `got` is `filled` bytes of [`FILLER`] followed by the
/// first bytes of `sent` (no canary): returns how many of `sent`.
fn assert_filler_then_prefix(got: &[u8], filled: usize, sent: &[u8]) -> usize {
    assert!(
        got.len() >= filled,
        "{} bytes of {filled} filled",
        got.len()
    );
    assert!(got[..filled].iter().all(|&b| b == FILLER));
    let rest = &got[filled..];
    assert!(rest.len() <= sent.len(), "more bytes than were sent");
    assert_eq!(
        rest,
        &sent[..rest.len()],
        "bytes that were not sent arrived"
    );
    rest.len()
}

/// Two halves of `data` as iovecs, with an empty one between.
fn halves(data: &[u8]) -> [IoSlice<'_>; 3] {
    let (a, b) = data.split_at(data.len() / 2);
    [IoSlice::new(a), IoSlice::new(&[]), IoSlice::new(b)]
}

/// Whether the kernel takes vectored sends (6.17), with a skip message if
/// not.
fn vectorized(ring: &Ring) -> bool {
    require_op::<SendV<'_, '_>>(ring)
}

/// Whether the kernel takes vectored zero-copy sends (6.17).
fn vectorized_zc(ring: &Ring) -> bool {
    require_op::<SendZcV<'_, '_>>(ring)
}

// ---------------------------------------------------------------------------
// Buffer rings the kernel allocates.
// ---------------------------------------------------------------------------

/// Group 2047 is the last the mmap offset holds; 2048 and 65535 are
/// refused before the kernel is asked (nothing is left registered: a
/// user-allocated ring takes those ids), and a user-allocated ring at 4095
/// (2047 + 2048, which the offset's 11 bits would alias) lives beside the
/// kernel-allocated 2047, each receiving into its own buffers.
#[test]
fn the_last_mmap_group_and_its_alias_keep_their_own_buffers() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(low) = mmap_buf_ring(&mut ring, 2047, 2, 64, false) else {
        return;
    };
    for id in [2048u16, 4095, 65535] {
        let e = ring
            .register_buf_ring_mmap(BufferGroup::new(id), 2, 64)
            .unwrap_err();
        assert!(is_invalid_argument(&e), "group {id}: {e:?}");
        let e = ring
            .register_buf_ring_incremental_mmap(BufferGroup::new(id), 2, 64)
            .unwrap_err();
        assert!(is_invalid_argument(&e), "group {id}: {e:?}");
    }
    let high = ring
        .register_buf_ring(BufferGroup::new(4095), 2, 64)
        .unwrap();
    let top = ring
        .register_buf_ring(BufferGroup::new(65535), 1, 8)
        .unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    for pool in [&low, &high, &low, &high] {
        let (bytes, _) = recv_into(&mut ring, pool, &mut tx, &rx);
        assert_eq!(bytes, b"into the pool");
    }
    if require_kernel(6, 8, "IORING_REGISTER_PBUF_STATUS") {
        assert_eq!(ring.buf_ring_head(low.group()).unwrap(), 2);
        assert_eq!(ring.buf_ring_head(high.group()).unwrap(), 2);
        assert_eq!(ring.buf_ring_head(top.group()).unwrap(), 0);
        assert_eq!(
            ring.buf_ring_head(BufferGroup::new(2048))
                .unwrap_err()
                .raw_os_error(),
            Some(libc::ENOENT)
        );
    }
}

/// A kernel-allocated ring of one buffer: every receive takes the same
/// buffer at the next position, past the 16-bit wrap of the ring's tail
/// and head; each claim shows the bytes of its own receive.
#[test]
fn a_one_buffer_mmap_ring_goes_round_past_the_16_bit_wrap() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    let Some(pool) = mmap_buf_ring(&mut ring, 3, 1, 8, false) else {
        return;
    };
    let files = [
        uring_tests::file_of(b"AAAAAAAA"),
        uring_tests::file_of(b"BBBBBBBB"),
    ];
    let rounds = 65_536 + 5;
    ring.scope(|s| {
        for i in 0..rounds {
            let file = &files[i % 2];
            s.push(Read::new(file, pool.select()).user_data(i as u64))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!((cqe.user_data(), cqe.res()), (i as u64, 8));
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(buf.bid(), 0);
            let want = if i % 2 == 0 { b'A' } else { b'B' };
            assert!(buf.iter().all(|&b| b == want), "round {i}: {buf:?}");
        }
    });
    assert_eq!(pool.lent(), 0);
    if require_kernel(6, 8, "IORING_REGISTER_PBUF_STATUS") {
        assert_eq!(pool.head().unwrap(), (rounds % 65_536) as u16);
        assert_eq!(pool.available().unwrap(), 1);
    }
}

/// A `BufRing` outlives the ring that registered it, and a new ring gets
/// the same descriptor number and registers the same group: dropping the
/// old `BufRing` unregisters the group of the old ring (through its own
/// duplicate of the descriptor), not the new ring's, whose receives still
/// find their buffers.
#[test]
fn a_buf_ring_outliving_its_ring_does_not_unregister_the_next_ring_s_group() {
    let _watch = uring_tests::watchdog();
    let mut old = Ring::new(4).unwrap();
    let Some(stale) = mmap_buf_ring(&mut old, 9, 2, 32, false) else {
        return;
    };
    drop(old);
    let mut ring = Ring::new(4).unwrap();
    // Most often the new ring gets the old one's descriptor number (the
    // lowest free); the outcome is asserted either way.
    let fresh = mmap_buf_ring(&mut ring, 9, 2, 32, false).unwrap();
    if require_kernel(6, 8, "IORING_REGISTER_PBUF_STATUS") {
        // The old ring's group, through the BufRing's own descriptor.
        assert_eq!(stale.head().unwrap(), 0);
        assert_eq!(stale.available().unwrap(), 2);
    }
    drop(stale);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let (bytes, bid) = recv_into(&mut ring, &fresh, &mut tx, &rx);
    assert_eq!((bytes.as_slice(), bid), (&b"into the pool"[..], 0));
    if require_kernel(6, 8, "IORING_REGISTER_PBUF_STATUS") {
        assert_eq!(ring.buf_ring_head(fresh.group()).unwrap(), 1);
    }
}

/// The head of a group is the head of this ring's group: another ring's
/// group of that id is `ENOENT`, and two rings with a group of one id
/// count their heads apart. A dropped ring's group is `ENOENT` again.
#[test]
fn the_head_of_a_group_is_the_asking_ring_s_own() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 8, "IORING_REGISTER_PBUF_STATUS") {
        return;
    }
    let mut a = Ring::new(4).unwrap();
    let mut b = Ring::new(4).unwrap();
    let Some(pa) = mmap_buf_ring(&mut a, 12, 4, 32, false) else {
        return;
    };
    let group = pa.group();
    assert_eq!(
        b.buf_ring_head(group).unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
    let pb = b.register_buf_ring(group, 4, 32).unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    for _ in 0..3 {
        recv_into(&mut a, &pa, &mut tx, &rx);
    }
    recv_into(&mut b, &pb, &mut tx, &rx);
    assert_eq!(a.buf_ring_head(group).unwrap(), 3);
    assert_eq!(b.buf_ring_head(group).unwrap(), 1);
    drop(pa);
    assert_eq!(
        a.buf_ring_head(group).unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
    assert_eq!(b.buf_ring_head(group).unwrap(), 1);
    assert_eq!(pb.head().unwrap(), 1);
}

/// A completion of an op that selected group 5 of ring B is refused by
/// ring A's kernel-allocated group 5, and the buffer is still B's to
/// claim.
#[test]
fn a_same_id_group_of_another_ring_cannot_claim_the_completion() {
    let _watch = uring_tests::watchdog();
    let mut a = Ring::new(4).unwrap();
    let mut b = Ring::new(4).unwrap();
    let Some(pa) = mmap_buf_ring(&mut a, 5, 2, 32, false) else {
        return;
    };
    let pb = mmap_buf_ring(&mut b, 5, 2, 32, false).unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    b.scope(|s| {
        s.push(Recv::new(&rx, pb.select())).unwrap();
        tx.write_all(b"for b").unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 5);
        let e = pa.claim(&mut cqe).unwrap_err();
        assert!(is_invalid_argument(&e), "{e:?}");
        let e = pa.claim_bundle(&mut cqe).unwrap_err();
        assert!(is_invalid_argument(&e), "{e:?}");
        assert_eq!(&*pb.claim(&mut cqe).unwrap(), b"for b");
    });
    assert_eq!(pa.lent(), 0);
}

/// A kernel-allocated ring dropped in a scope while one receive waits on
/// it: the receive finds no buffer (`ENOBUFS`), and so does one pushed
/// later with the same group id; after the scope the group id takes a
/// user-allocated ring, whose buffers the next receive fills from the
/// start of the ring, while memory allocated where the old buffers were
/// keeps its bytes.
#[test]
fn a_group_dropped_in_a_scope_and_taken_again_by_a_user_allocated_ring() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    for incremental in [false, true] {
        let Some(pool) = mmap_buf_ring(&mut ring, 21, 4, 4096, incremental) else {
            return;
        };
        let select = pool.select();
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let (first, second, fresh) = ring.scope(|s| {
            s.push(Recv::new(&rx, select).user_data(1)).unwrap();
            s.submit().unwrap();
            drop(pool);
            let fresh: Vec<Vec<u8>> = (0..32).map(|_| vec![0x5a; 4096]).collect();
            tx.write_all(b"after the drop").unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            let first = s.completions().next().unwrap().cqe();
            s.push(Recv::new(&rx, select).user_data(2)).unwrap();
            s.submit_and_wait(1).unwrap();
            let second = s.completions().next().unwrap().cqe();
            (first, second, fresh)
        });
        assert_eq!((first.user_data(), first.res()), (1, -libc::ENOBUFS));
        assert_eq!((second.user_data(), second.res()), (2, -libc::ENOBUFS));
        assert!(fresh.iter().all(|v| v.iter().all(|&b| b == 0x5a)));
        // The bytes are still in the socket; a new ring of the same id.
        let again = if incremental {
            ring.register_buf_ring_incremental(BufferGroup::new(21), 2, 64)
        } else {
            ring.register_buf_ring(BufferGroup::new(21), 2, 64)
        }
        .unwrap();
        let got = ring.scope(|s| {
            s.push(Recv::new(&rx, again.select())).unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            let buf = again.claim(&mut cqe).unwrap();
            (buf.bid(), buf.to_vec())
        });
        assert_eq!(got, (0, b"after the drop".to_vec()));
        drop(again);
    }
}

/// Sizes that cannot be allocated, or counts out of range, are errors
/// before the kernel is asked: no group is left registered, and the id
/// then takes a ring of a sane size.
#[test]
fn impossible_kernel_allocated_rings_are_errors_and_leave_the_group_free() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    let g = BufferGroup::new(30);
    for (count, len) in [(0u16, 64u32), (32_768, 64), (u16::MAX, 1), (4, 0)] {
        let e = ring.register_buf_ring_mmap(g, count, len).unwrap_err();
        assert!(is_invalid_argument(&e), "{count} x {len}: {e:?}");
    }
    // Buffers of 4 GiB: past the longest buffer a ring holds
    // (`MAX_BUF_RING_BUFFER_LEN`), refused before any memory is mapped.
    let e = ring
        .register_buf_ring_mmap(g, 32_767, u32::MAX)
        .unwrap_err();
    assert!(is_invalid_argument(&e), "{e:?}");
    if require_kernel(6, 8, "IORING_REGISTER_PBUF_STATUS") {
        assert_eq!(
            ring.buf_ring_head(g).unwrap_err().raw_os_error(),
            Some(libc::ENOENT)
        );
    }
    let Some(pool) = mmap_buf_ring(&mut ring, 30, 32_767, 1, true) else {
        return;
    };
    assert_eq!(pool.count(), 32_767);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    // The largest ring, incremental, of one-byte buffers: a receive of one
    // byte takes buffer 0 whole.
    ring.scope(|s| {
        s.push(Recv::new(&rx, pool.group().select(1))).unwrap();
        tx.write_all(b"x").unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.res(), 1);
        let buf = pool.claim(&mut cqe).unwrap();
        assert_eq!((buf.bid(), &*buf), (0, &b"x"[..]));
    });
}

// ---------------------------------------------------------------------------
// Handles of registered buffers.
// ---------------------------------------------------------------------------

/// A table grown by a clone past its end: the handle reaches the new
/// slots and no further; the empty slots between the old end and the
/// clone fail with `EFAULT` in a scope, leaving the bytes named unchanged;
/// the cloned slot reads into the source's memory.
#[test]
fn a_grown_table_s_handle_reaches_the_new_slots_and_no_further() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 13, "IORING_REGISTER_DST_REPLACE") {
        return;
    }
    let mut src_mem = vec![0u8; 2 * 4096];
    let mut loose = vec![CANARY; 4096];
    let mut src = Ring::new(4).unwrap();
    let mut dst = Ring::new(4).unwrap();
    let src_bufs = {
        let slices: Vec<IoSliceMut<'_>> = src_mem.chunks_mut(4096).map(IoSliceMut::new).collect();
        // SAFETY: the vector outlives both rings (declared before them) and
        // is touched only through their ops.
        unsafe { src.register_buffers(&slices) }.unwrap()
    };
    let table = dst.register_buffers_sparse(2).unwrap();
    // SAFETY: as above.
    let table = unsafe { dst.clone_buffers_replace(table, 4, &src, &src_bufs, 0, 2) }.unwrap();
    assert_eq!(table.len(), 6);
    assert!(is_invalid_argument(&table.get(6).unwrap_err()));
    assert!(is_invalid_argument(&table.get(u32::MAX).unwrap_err()));
    let data = pattern(4096, 3);
    let file = uring_tests::file_of(&data);
    let results = dst.scope(|s| {
        for (slot, part) in (0..4u32).zip(loose.chunks_mut(1024)) {
            s.push(
                ReadFixed::new(&file, part, table.get(slot).unwrap()).user_data(u64::from(slot)),
            )
            .unwrap();
            s.submit_and_wait(1).unwrap();
        }
        let mut results: Vec<(u64, i32)> =
            s.completions().map(|c| (c.user_data(), c.res())).collect();
        s.push(
            ReadFixed::new(
                &file,
                &mut src_mem[4096 + 10..4096 + 110],
                table.get(5).unwrap(),
            )
            .user_data(5),
        )
        .unwrap();
        s.submit_and_wait(1).unwrap();
        results.extend(s.completions().map(|c| (c.user_data(), c.res())));
        results.sort();
        results
    });
    assert_eq!(
        results,
        [
            (0, -libc::EFAULT),
            (1, -libc::EFAULT),
            (2, -libc::EFAULT),
            (3, -libc::EFAULT),
            (5, 100)
        ]
    );
    assert!(loose.iter().all(|&b| b == CANARY));
    assert_eq!(src_mem[4096 + 10..4096 + 110], data[..100]);
    drop(dst);
    drop(src);
}

/// The index of a slot of a table that was unregistered and replaced by a
/// shorter one, and the index of another ring's table: the kernel refuses
/// both (`EFAULT`), and neither the old buffer nor the new one changes.
#[test]
fn indices_of_a_replaced_table_or_of_another_ring_write_nothing() {
    let _watch = uring_tests::watchdog();
    let mut old_mem = vec![CANARY; 4 * 4096];
    let mut new_mem = vec![0x77u8; 4096];
    let mut ring = Ring::new(4).unwrap();
    let mut other = Ring::new(4).unwrap();
    let old = {
        let slices: Vec<IoSliceMut<'_>> = old_mem.chunks_mut(4096).map(IoSliceMut::new).collect();
        // SAFETY: the vector outlives the ring (declared before it).
        unsafe { ring.register_buffers(&slices) }.unwrap()
    };
    let stale = old.get(3).unwrap();
    ring.unregister_buffers(old).unwrap();
    let new = {
        let slices = [Some(IoSliceMut::new(&mut new_mem))];
        // SAFETY: as above.
        unsafe { ring.register_buffer_slots(&slices) }.unwrap()
    };
    assert_eq!(new.len(), 1);
    let foreign = other.register_buffers_sparse(8).unwrap();
    let data = pattern(4096, 7);
    let file = uring_tests::file_of(&data);
    let (low, last) = old_mem.split_at_mut(3 * 4096);
    let (first, second) = low.split_at_mut(100);
    let res = ring.scope(|s| {
        // A stale index past the new table, over the old memory.
        s.push(ReadFixed::new(&file, last, stale).user_data(1))
            .unwrap();
        // Another ring's index 0, over memory that is not this ring's slot 0.
        s.push(ReadFixed::new(&file, first, foreign.get(0).unwrap()).user_data(2))
            .unwrap();
        // Another ring's index 7, past this table.
        s.push(ReadFixed::new(&file, &mut second[..100], foreign.get(7).unwrap()).user_data(3))
            .unwrap();
        s.submit_and_wait(3).unwrap();
        let mut res: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        res.sort();
        res
    });
    assert_eq!(
        res,
        [(1, -libc::EFAULT), (2, -libc::EFAULT), (3, -libc::EFAULT)]
    );
    assert!(old_mem.iter().all(|&b| b == CANARY));
    assert!(new_mem.iter().all(|&b| b == 0x77));
    drop(other);
    drop(ring);
}

/// A registration with holes, used in a scope: writes from and reads into
/// the holes fail (`EFAULT`), the registered slot works, and the bytes of
/// the memory named with a hole's index stay as they were.
#[test]
fn holes_of_a_slot_table_fault_in_a_scope() {
    let _watch = uring_tests::watchdog();
    let mut mem = vec![0u8; 4096];
    let mut loose = vec![CANARY; 4096];
    let mut ring = Ring::new(8).unwrap();
    let table = {
        let slices = [None, Some(IoSliceMut::new(&mut mem)), None];
        // SAFETY: the vector outlives the ring (declared before it).
        unsafe { ring.register_buffer_slots(&slices) }.unwrap()
    };
    let data = pattern(4096, 11);
    let file = uring_tests::file_of(&data);
    let out = tempfile::tempfile().unwrap();
    let (a, rest) = loose.split_at_mut(2048);
    let (b, c) = rest.split_at_mut(1024);
    let res = ring.scope(|s| {
        s.push(ReadFixed::new(&file, a, table.get(0).unwrap()).user_data(0))
            .unwrap();
        s.push(ReadFixed::new(&file, b, table.get(2).unwrap()).user_data(2))
            .unwrap();
        s.push(WriteFixed::new(&out, &*c, table.get(0).unwrap()).user_data(3))
            .unwrap();
        s.push(ReadFixed::new(&file, &mut mem[..], table.get(1).unwrap()).user_data(1))
            .unwrap();
        s.submit_and_wait(4).unwrap();
        let mut res: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        res.sort();
        res
    });
    assert_eq!(
        res,
        [
            (0, -libc::EFAULT),
            (1, 4096),
            (2, -libc::EFAULT),
            (3, -libc::EFAULT)
        ]
    );
    assert!(loose.iter().all(|&b| b == CANARY));
    assert_eq!(mem, data);
    assert_eq!(out.metadata().unwrap().len(), 0);
    drop(ring);
}

/// Slot registrations the library or the kernel refuse: no slot, tags of
/// another length, a tag on a hole (`EINVAL`); none leaves a table, so a
/// sparse table registers afterwards.
#[test]
fn refused_slot_registrations_leave_no_table() {
    let mut mem = vec![0u8; 64];
    let mut ring = Ring::new(4).unwrap();
    // SAFETY: nothing is registered by these calls (each fails).
    unsafe {
        let e = ring.register_buffer_slots(&[]).unwrap_err();
        assert!(is_invalid_argument(&e), "{e:?}");
        let e = ring.register_buffer_slots_tagged(&[], &[]).unwrap_err();
        assert!(is_invalid_argument(&e), "{e:?}");
        let e = ring
            .register_buffer_slots_tagged(&[None, None], &[1])
            .unwrap_err();
        assert!(is_invalid_argument(&e), "{e:?}");
        let e = ring
            .register_buffer_slots_tagged(&[None], &[1, 2])
            .unwrap_err();
        assert!(is_invalid_argument(&e), "{e:?}");
        let e = ring
            .register_buffer_slots_tagged(&[None], &[5])
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e:?}");
        let e = ring
            .register_buffer_slots_tagged(&[Some(IoSliceMut::new(&mut mem)), None], &[1, 9])
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e:?}");
    }
    // No tag of the refused registrations is ever posted.
    assert!(uring_tests::stray(&mut ring).is_empty());
    let table = ring.register_buffers_sparse(3).unwrap();
    assert_eq!(table.len(), 3);
    drop(ring);
}

/// `clone_buffers_replace` with nothing to clone or a destination past
/// the largest table: refused before the kernel, the handle back and
/// still the table's, which a later clone grows.
#[test]
fn refused_clones_give_back_a_working_handle() {
    if !require_kernel(6, 13, "IORING_REGISTER_DST_REPLACE") {
        return;
    }
    let mut mem = vec![0u8; 4096];
    let mut src = Ring::new(4).unwrap();
    let mut dst = Ring::new(4).unwrap();
    let src_bufs = {
        let slices = [IoSliceMut::new(&mut mem)];
        // SAFETY: the vector outlives both rings (declared before them).
        unsafe { src.register_buffers(&slices) }.unwrap()
    };
    let mut table = dst.register_buffers_sparse(2).unwrap();
    for (dst_offset, src_offset, count) in [
        (0u32, 0u32, 0u32),
        (u32::MAX, 0, 1),
        (sys::IORING_MAX_REG_BUFFERS, 0, 1),
        (0, 1, 1),
        (0, u32::MAX, 2),
    ] {
        // SAFETY: refused before anything is registered.
        let e = unsafe {
            dst.clone_buffers_replace(table, dst_offset, &src, &src_bufs, src_offset, count)
        }
        .unwrap_err();
        assert!(
            is_invalid_argument(&e.error),
            "{dst_offset} {src_offset} {count}: {:?}",
            e.error
        );
        table = e.handle;
        assert_eq!(table.len(), 2);
    }
    // SAFETY: the vector outlives both rings.
    let table = unsafe {
        dst.clone_buffers_replace(
            table,
            sys::IORING_MAX_REG_BUFFERS - 1,
            &src,
            &src_bufs,
            0,
            1,
        )
    }
    .unwrap();
    assert_eq!(table.len(), sys::IORING_MAX_REG_BUFFERS);
    assert!(table.get(sys::IORING_MAX_REG_BUFFERS - 1).is_ok());
    assert!(table.get(sys::IORING_MAX_REG_BUFFERS).is_err());
    drop(dst);
    drop(src);
}

// ---------------------------------------------------------------------------
// Vectored sends.
// ---------------------------------------------------------------------------

/// An empty iovec array and arrays of empty slices send nothing (0);
/// empty slices among others are skipped.
#[test]
fn empty_iovec_arrays_and_slices_send_nothing() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !vectorized(&ring) {
        return;
    }
    let (tx, rx) = UnixStream::pair().unwrap();
    let none: [IoSlice<'_>; 0] = [];
    let empties = [IoSlice::new(&[]), IoSlice::new(&[])];
    let data = *b"between empties";
    let mixed = halves(&data);
    let res = ring.scope(|s| {
        s.push(SendV::new(&tx, &none).user_data(1)).unwrap();
        s.push(SendV::new(&tx, &empties).user_data(2)).unwrap();
        s.push(SendV::new(&tx, &mixed).user_data(3)).unwrap();
        s.submit_and_wait(3).unwrap();
        let mut res: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        res.sort();
        res
    });
    assert_eq!(res, [(1, 0), (2, 0), (3, 15)]);
    drop(tx);
    assert_eq!(drain(rx), data);
}

/// 1024 iovecs (`UIO_MAXIOV`) are sent; 1025 and 100 000 are refused
/// (`EINVAL`) and send nothing.
#[test]
fn more_iovecs_than_the_kernel_takes_are_refused() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !vectorized(&ring) {
        return;
    }
    let (tx, rx) = UnixStream::pair().unwrap();
    let bytes: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let iovecs: Vec<IoSlice<'_>> = bytes.chunks(1).map(IoSlice::new).collect();
    let res = ring.scope(|s| {
        s.push(SendV::new(&tx, &iovecs[..1025]).user_data(2))
            .unwrap();
        s.push(SendV::new(&tx, &iovecs).user_data(3)).unwrap();
        s.submit_and_wait(2).unwrap();
        s.push(SendV::new(&tx, &iovecs[..1024]).user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut res: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        res.sort();
        res
    });
    assert_eq!(res, [(1, 1024), (2, -libc::EINVAL), (3, -libc::EINVAL)]);
    drop(tx);
    assert_eq!(drain(rx), bytes[..1024]);
}

/// Every send flag at once (`SendFlags::all()`, which is what
/// `from_bits_truncate(u16::MAX)` gives: a bundle without a provided
/// buffer, polled first) on a vectored send in a scope: the kernel sends
/// the bytes once, and the scope takes in every completion the op posts
/// before it ends; nothing more arrives after the buffers are
/// overwritten.
#[test]
fn a_vectored_send_with_every_flag_sends_once_within_its_scope() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !vectorized(&ring) {
        return;
    }
    assert_eq!(SendFlags::from_bits_truncate(u16::MAX), SendFlags::all());
    let (tx, rx) = UnixStream::pair().unwrap();
    let mut data = pattern(3000, 5);
    let (cqes, in_flight) = {
        let iovecs = halves(&data);
        ring.scope(|s| {
            s.push(
                SendV::new(&tx, &iovecs)
                    .send_flags(SendFlags::from_bits_truncate(u16::MAX))
                    .msg_flags(MsgFlags::NOSIGNAL)
                    .user_data(4),
            )
            .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqes: Vec<(u64, i32, bool)> = Vec::new();
            while s.in_flight() > 0 {
                s.wait_timeout(1, PATIENCE).unwrap();
                cqes.extend(
                    s.completions()
                        .map(|c| (c.user_data(), c.res(), c.has_more())),
                );
            }
            cqes.extend(
                s.completions()
                    .map(|c| (c.user_data(), c.res(), c.has_more())),
            );
            (cqes, s.in_flight())
        })
    };
    assert_eq!(in_flight, 0);
    data.fill(CANARY);
    // Either refused (a kernel without bundles on a plain send), or the
    // count alone (polled first, the socket had room: Linux 6.18), or the
    // count flagged MORE and then a last 0.
    let sent = match cqes.as_slice() {
        [(4, e, false)] if *e == -libc::EINVAL => 0,
        [(4, n, false)] if *n > 0 => *n as usize,
        [(4, n, true), (4, 0, false)] => *n as usize,
        other => panic!("{other:?}"),
    };
    drop(tx);
    let got = drain(rx);
    assert_eq!(got.len(), sent);
    assert_eq!(got, pattern(3000, 5)[..sent]);
}

/// Every zero-copy send flag (`from_bits_truncate(u16::MAX)`) on a
/// vectored zero-copy send: the scope ends after the notification, and the
/// peer receives the bytes as they were when sent.
#[test]
fn a_vectored_zero_copy_send_with_every_flag() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !vectorized_zc(&ring) {
        return;
    }
    assert_eq!(
        SendZcFlags::from_bits_truncate(u16::MAX),
        SendZcFlags::all()
    );
    let (tx, rx) = tcp_pair();
    let mut data = pattern(20_000, 6);
    let reader = std::thread::spawn(move || drain(rx));
    let res = {
        let iovecs = halves(&data);
        ring.scope(|s| {
            s.push(
                SendZcV::new(&tx, &iovecs)
                    .send_flags(SendZcFlags::from_bits_truncate(u16::MAX))
                    .user_data(8),
            )
            .unwrap();
            s.submit_and_wait(1).unwrap();
            let cqe = s.completions().next().unwrap();
            cqe.res()
        })
    };
    data.fill(CANARY);
    drop(tx);
    let got = reader.join().unwrap();
    assert!(res > 0, "{res}");
    assert_eq!(got, pattern(20_000, 6)[..res as usize]);
}

/// How a stuck vectored send is stopped in [`stopped_send`].
#[derive(Clone, Copy, Debug)]
enum StopBy {
    /// A link timeout after it.
    LinkTimeout,
    /// `Scope::cancel`.
    Cancel,
    /// The scope's body returns with it in flight.
    ScopeEnd,
    /// The scope's body panics with it in flight.
    Panic,
}

/// A vectored send on a full socket, stopped by `how`: whatever its
/// result, the peer receives the filler and then at most a prefix of the
/// buffers as they were, never bytes written to them after the scope.
fn stopped_send(how: StopBy) {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !vectorized(&ring) {
        return;
    }
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let filled = fill(&mut tx);
    let sent = pattern(1 << 20, 9);
    let mut data = sent.clone();
    let outcome = {
        let iovecs = halves(&data);
        catch_unwind(AssertUnwindSafe(|| {
            ring.scope(|s| {
                let op = SendV::new(&tx, &iovecs)
                    .msg_flags(MsgFlags::NOSIGNAL)
                    .user_data(1);
                match how {
                    StopBy::LinkTimeout => s
                        .push(op.timeout(Duration::from_millis(20)))
                        .map_err(|e| e.kind())
                        .unwrap(),
                    _ => s.push(op).map_err(|e| e.kind()).unwrap(),
                }
                s.submit().unwrap();
                match how {
                    StopBy::LinkTimeout => {}
                    StopBy::Cancel => {
                        assert_eq!(s.cancel(1).unwrap(), 1);
                        s.submit().unwrap();
                    }
                    StopBy::ScopeEnd => return None,
                    StopBy::Panic => resume_unwind(Box::new(Stop)),
                }
                let mut res = None;
                while s.in_flight() > 0 {
                    s.wait_timeout(1, PATIENCE).unwrap();
                    for c in s.completions() {
                        if c.user_data() == 1 {
                            res = Some(c.res());
                        }
                    }
                }
                res
            })
        }))
    };
    data.fill(CANARY);
    let res = match (how, outcome) {
        (StopBy::Panic, Err(payload)) => {
            assert!(payload.is::<Stop>());
            None
        }
        (_, Ok(res)) => res,
        (how, Err(_)) => panic!("{how:?}: unexpected panic"),
    };
    drop(tx);
    let got = drain(rx);
    let arrived = assert_filler_then_prefix(&got, filled, &sent);
    match res {
        Some(n) if n >= 0 => assert_eq!(arrived, n as usize),
        Some(e) => {
            assert!(e == -libc::ECANCELED || e == -libc::EINTR, "{how:?}: {e}");
            assert_eq!(arrived, 0);
        }
        None => {}
    }
    // The ring is usable, and holds no completion of the scope's op.
    assert!(uring_tests::stray(&mut ring).is_empty());
}

#[test]
fn a_stuck_vectored_send_stopped_by_a_link_timeout() {
    stopped_send(StopBy::LinkTimeout);
}

#[test]
fn a_stuck_vectored_send_stopped_by_a_cancel() {
    stopped_send(StopBy::Cancel);
}

#[test]
fn a_stuck_vectored_send_left_in_flight_when_the_scope_ends() {
    stopped_send(StopBy::ScopeEnd);
}

#[test]
fn a_stuck_vectored_send_in_flight_when_the_scope_s_closure_panics() {
    stopped_send(StopBy::Panic);
}

/// How the body of [`zero_copy_late_notification`] leaves the scope.
#[derive(Clone, Copy, Debug)]
enum Leave {
    /// Returns after the send's first completion.
    AfterFirst,
    /// Panics right after submitting.
    Panic,
    /// Pushes through a batch that it forgets, and returns.
    ForgottenBatch,
}

/// A vectored zero-copy send of 4 MiB to a peer that reads only after a
/// while: the send's pages wait in the socket after its first completion,
/// until the peer reads them. However the scope's body leaves, the scope
/// ends only once the kernel let go of the pages: the buffers are then
/// overwritten with a canary, and the peer receives only the bytes as they
/// were.
fn zero_copy_late_notification(leave: Leave) {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !vectorized_zc(&ring) {
        return;
    }
    let (tx, rx) = tcp_pair();
    let sent = pattern(4 << 20, 13);
    let mut data = sent.clone();
    // A process of its own, which runs while the scope waits in
    // `io_uring_enter` (under valgrind too).
    let reader = uring_tests::net::late_reader(rx, Duration::from_millis(200));
    let outcome = {
        let iovecs = halves(&data);
        catch_unwind(AssertUnwindSafe(|| {
            ring.scope(|s| {
                let op = SendZcV::new(&tx, &iovecs).user_data(3);
                match leave {
                    Leave::ForgottenBatch => {
                        let mut batch = s.submission();
                        batch.push(op).map_err(|e| e.kind()).unwrap();
                        std::mem::forget(batch);
                        s.submit().unwrap();
                        None
                    }
                    Leave::Panic => {
                        s.push(op).map_err(|e| e.kind()).unwrap();
                        s.submit().unwrap();
                        resume_unwind(Box::new(Stop))
                    }
                    Leave::AfterFirst => {
                        s.push(op).map_err(|e| e.kind()).unwrap();
                        s.submit_and_wait(1).unwrap();
                        let c = s.completions().next().unwrap();
                        assert!(c.has_more(), "{:?}", c.cqe());
                        Some(c.res())
                    }
                }
            })
        }))
    };
    // The scope is over: the kernel must hold none of these pages.
    data.fill(CANARY);
    let res = match (leave, outcome) {
        (Leave::Panic, Err(payload)) => {
            assert!(payload.is::<Stop>());
            None
        }
        (_, Ok(res)) => res,
        (leave, Err(_)) => panic!("{leave:?}: unexpected panic"),
    };
    drop(tx);
    let got = reader.join().unwrap();
    let arrived = assert_filler_then_prefix(&got, 0, &sent);
    if let Some(n) = res {
        assert_eq!(arrived, n as usize);
    }
    assert!(uring_tests::stray(&mut ring).is_empty());
}

#[test]
fn a_zero_copy_vectored_send_s_notification_after_the_scope_body_returned() {
    zero_copy_late_notification(Leave::AfterFirst);
}

#[test]
fn a_zero_copy_vectored_send_in_flight_when_the_scope_s_closure_panics() {
    zero_copy_late_notification(Leave::Panic);
}

#[test]
fn a_zero_copy_vectored_send_pushed_through_a_forgotten_batch() {
    zero_copy_late_notification(Leave::ForgottenBatch);
}

/// More vectored zero-copy sends than a scope remembers orphans of, each
/// linked after a NOP that fails: each send is cancelled (`ECANCELED`),
/// and no completion of them (nor a notification) comes out of the ring
/// after the scope.
#[test]
fn dozens_of_zero_copy_sends_cancelled_by_their_chain() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::builder().cq_entries(512).build(256).unwrap();
    if !vectorized_zc(&ring) || !require_kernel(6, 10, "IORING_NOP_INJECT_RESULT") {
        return;
    }
    let (tx, rx) = tcp_pair();
    let data = pattern(100, 1);
    let iovecs = halves(&data);
    let n = 80u64;
    let results = ring.scope(|s| {
        for i in 0..n {
            s.push(
                Nop::new()
                    .result(-libc::EIO)
                    .user_data(1000 + i)
                    .link(SendZcV::new(&tx, &iovecs).user_data(i)),
            )
            .map_err(|e| e.kind())
            .unwrap();
        }
        s.submit().unwrap();
        let mut results = Vec::new();
        while s.in_flight() > 0 {
            s.wait_timeout(1, PATIENCE).unwrap();
            results.extend(
                s.completions()
                    .filter(|c| c.is_scope_op() && !c.is_notification())
                    .map(|c| (c.user_data(), c.res())),
            );
        }
        results.sort();
        results
    });
    let mut want: Vec<(u64, i32)> = (0..n).map(|i| (i, -libc::ECANCELED)).collect();
    want.extend((0..n).map(|i| (1000 + i, -libc::EIO)));
    want.sort();
    assert_eq!(results, want);
    std::thread::sleep(Duration::from_millis(50));
    let strays = uring_tests::stray(&mut ring);
    assert!(strays.is_empty(), "completions after the scope: {strays:?}");
    drop(tx);
    assert!(drain(rx).is_empty());
}

/// A vectored send over a buffer given to the scope (`push_owned`), its
/// iovec array leaked so that it lives as long as the buffer's borrow: the
/// buffer comes back with the send's last completion, and then the peer
/// has every byte, in order; a second one stuck on a full socket comes
/// back only once the scope cancelled it, with nothing of it sent.
#[test]
fn a_vectored_send_over_an_owned_buffer() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !vectorized(&ring) {
        return;
    }
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let sent = pattern(5000, 21);
    let back = ring.scope(|s| {
        s.push_owned(sent.clone(), |bytes, push| {
            let (a, b) = bytes.split_at(1234);
            let iovecs: &[IoSlice<'_>] = Box::leak(Box::new([IoSlice::new(b), IoSlice::new(a)]));
            push.push(SendV::new(&tx, iovecs).user_data(1));
        })
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut c = s.completions().next().unwrap();
        assert_eq!((c.user_data(), c.res()), (1, 5000));
        c.take_buf().unwrap()
    });
    assert_eq!(back, sent);
    let mut got = vec![0u8; 5000];
    (&rx).read_exact(&mut got).unwrap();
    assert_eq!(got[..5000 - 1234], sent[1234..]);
    assert_eq!(got[5000 - 1234..], sent[..1234]);
    // Stuck, and left to the scope's end.
    let filled = fill(&mut tx);
    ring.scope(|s| {
        s.push_owned(vec![0x42; 1 << 16], |bytes, push| {
            let iovecs: &[IoSlice<'_>] = Box::leak(Box::new([IoSlice::new(bytes)]));
            push.push(SendV::new(&tx, iovecs).user_data(2));
        })
        .unwrap();
        s.submit().unwrap();
    });
    drop(tx);
    let got = drain(rx);
    assert_eq!(got.len(), filled);
    assert!(got.iter().all(|&b| b == FILLER));
}
