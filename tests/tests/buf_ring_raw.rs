//! Provided-buffer rings whose buffers the program places (`RawBufRing`)
//! against the kernel: buffers of any length at any address with any id are
//! taken in the order they were published, the kernel writes exactly the
//! bytes it reports at exactly those addresses, re-added buffers are used
//! again, an empty ring fails ops with ENOBUFS, incremental rings hand out
//! one buffer over several completions, and dropping the ring unregisters
//! the group.

use std::io::Write as _;
use std::os::unix::net::UnixStream;
use uring::ops::{Read, Recv};
use uring::sys::IORING_CQE_F_BUF_MORE;
use uring::{BufferGroup, Cqe, Error, RawBufRing, RecvFlags, Ring};
use uring_tests::{complete, incremental_raw_buf_ring, pattern, raw_buf_ring};

/// The byte every placed buffer starts with, and every byte around them
/// keeps.
const CANARY: u8 = 0xa5;

fn ring() -> Ring {
    Ring::new(16).unwrap()
}

/// Receives from `rx` into a buffer the kernel selects from `raw`.
fn recv(ring: &mut Ring, rx: &UnixStream, raw: &RawBufRing) -> Cqe {
    complete(ring, Recv::new(rx, raw.select()))
}

#[test]
fn buffers_anywhere_are_taken_in_the_order_they_were_added() {
    let _watch = uring_tests::watchdog();
    let arena = uring_tests::Arena::new(4096);
    let mut other = vec![CANARY; 64];
    let mut ring = ring();
    let Some(mut raw) = raw_buf_ring(&mut ring, 1, 8) else {
        return;
    };
    // (offset, length, id): unrelated places, lengths and ids, the ids out
    // of order.
    let placed = [(3000, 11, 300), (17, 5, 65535), (1200, 3, 7)];
    for &(off, len, bid) in &placed {
        // SAFETY: the arena outlives the ring and is read only when no op is
        // in flight; four buffers fit eight descriptors.
        unsafe { raw.add(arena.at(off), len as u32, bid) }.unwrap();
    }
    // SAFETY: `other` is declared before the ring, so it outlives it, and
    // is read only after the completion naming it.
    unsafe { raw.add(other.as_mut_ptr().wrapping_add(8), 32, 0) }.unwrap();
    assert_eq!(raw.pending(), 4);
    raw.advance();
    assert_eq!((raw.pending(), raw.tail()), (0, 4));

    let (mut tx, rx) = UnixStream::pair().unwrap();
    let (pipe_r, pipe_w) = uring_tests::pipe();
    let stream = pattern(20, 1);
    tx.write_all(&stream).unwrap();
    // 20 bytes waiting; the first buffer takes 11 of them.
    let cqe = recv(&mut ring, &rx, &raw);
    assert_eq!((cqe.res(), cqe.buffer_id()), (11, Some(300)), "{cqe:?}");
    assert_eq!(arena.bytes(3000, 11), &stream[..11]);
    // The second, 5.
    let cqe = recv(&mut ring, &rx, &raw);
    assert_eq!((cqe.res(), cqe.buffer_id()), (5, Some(65535)), "{cqe:?}");
    assert_eq!(arena.bytes(17, 5), &stream[11..16]);
    // A read from a pipe takes the third: 3 of the 10 bytes there.
    let piped = pattern(10, 2);
    std::io::Write::write_all(&mut std::fs::File::from(pipe_w), &piped).unwrap();
    let cqe = complete(&mut ring, Read::new(&pipe_r, raw.select()));
    assert_eq!((cqe.res(), cqe.buffer_id()), (3, Some(7)), "{cqe:?}");
    assert_eq!(arena.bytes(1200, 3), &piped[..3]);
    // The fourth, outside the arena, gets the rest of the stream.
    let cqe = recv(&mut ring, &rx, &raw);
    assert_eq!((cqe.res(), cqe.buffer_id()), (4, Some(0)), "{cqe:?}");
    assert_eq!(&other[8..12], &stream[16..]);
    assert!(other[..8].iter().chain(&other[12..]).all(|&b| b == CANARY));
    // Nothing else of the arena was written: not a byte past any buffer's
    // reported length, nor past its own length.
    arena.assert_untouched_but(&[(3000, 11), (17, 5), (1200, 3)]);
    drop(raw);
}

#[test]
fn an_empty_ring_fails_ops_with_enobufs_and_unpublished_buffers_do_not_count() {
    let _watch = uring_tests::watchdog();
    let arena = uring_tests::Arena::new(256);
    let mut ring = ring();
    let Some(mut raw) = raw_buf_ring(&mut ring, 2, 4) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"waiting").unwrap();
    let cqe = recv(&mut ring, &rx, &raw);
    assert_eq!((cqe.res(), cqe.buffer_id()), (-libc::ENOBUFS, None));
    // Added but not advanced: the kernel does not see it.
    // SAFETY: the arena outlives the ring; read after the completion.
    unsafe { raw.add(arena.at(40), 100, 12) }.unwrap();
    assert_eq!((raw.pending(), raw.tail()), (1, 0));
    let cqe = recv(&mut ring, &rx, &raw);
    assert_eq!((cqe.res(), cqe.buffer_id()), (-libc::ENOBUFS, None));
    arena.assert_untouched_but(&[]);
    raw.advance();
    let cqe = recv(&mut ring, &rx, &raw);
    assert_eq!((cqe.res(), cqe.buffer_id()), (7, Some(12)));
    assert_eq!(arena.bytes(40, 7), b"waiting");
    arena.assert_untouched_but(&[(40, 7)]);
    // Taken: the ring is empty again.
    tx.write_all(b"more").unwrap();
    let cqe = recv(&mut ring, &rx, &raw);
    assert_eq!(cqe.res(), -libc::ENOBUFS);
}

#[test]
fn a_buffer_added_again_is_used_again_with_its_new_length() {
    let _watch = uring_tests::watchdog();
    let arena = uring_tests::Arena::new(512);
    let mut ring = ring();
    let Some(mut raw) = raw_buf_ring(&mut ring, 3, 2) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    // Seven rounds on a ring of two descriptors: the positions wrap, and the
    // same memory comes back each time with a different length.
    let mut last = Vec::new();
    for round in 0..7u8 {
        let len = 3 + usize::from(round) * 2;
        // SAFETY: the arena outlives the ring; the previous completion
        // named this buffer, so the kernel is done with it; one buffer in
        // a ring of two.
        unsafe { raw.add(arena.at(100), len as u32, 42) }.unwrap();
        raw.advance();
        let msg = pattern(32, round);
        tx.write_all(&msg).unwrap();
        let cqe = recv(&mut ring, &rx, &raw);
        assert_eq!(
            (cqe.res(), cqe.buffer_id()),
            (len as i32, Some(42)),
            "round {round}"
        );
        assert_eq!(arena.bytes(100, len), &msg[..len], "round {round}");
        last = msg[..len].to_vec();
        // Drain the rest of the message with a plain read.
        let mut rest = vec![0; 32 - len];
        std::io::Read::read_exact(&mut &rx, &mut rest).unwrap();
        assert_eq!(raw.tail(), u16::from(round) + 1);
    }
    assert_eq!(arena.bytes(100, last.len()), &last[..]);
    arena.assert_untouched_but(&[(100, last.len())]);
}

#[test]
fn an_incremental_ring_hands_out_one_buffer_over_several_completions() {
    let _watch = uring_tests::watchdog();
    let arena = uring_tests::Arena::new(4096);
    let mut ring = ring();
    let Some(mut raw) = incremental_raw_buf_ring(&mut ring, 4, 4, false) else {
        return;
    };
    assert!(raw.is_incremental());
    // SAFETY: the arena outlives the ring; read only with no op in flight;
    // two buffers in four descriptors.
    unsafe {
        raw.add(arena.at(500), 64, 9).unwrap();
        raw.add(arena.at(2000), 16, 10).unwrap();
    }
    raw.advance();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let data = pattern(75, 3);
    let mut at = 0;
    // Three pieces of buffer 9, each after the last, the kernel keeping the
    // rest.
    for piece in [10, 20, 5] {
        tx.write_all(&data[at..at + piece]).unwrap();
        let cqe = recv(&mut ring, &rx, &raw);
        assert_eq!((cqe.res(), cqe.buffer_id()), (piece as i32, Some(9)));
        assert_ne!(cqe.flags() & IORING_CQE_F_BUF_MORE, 0, "{cqe:?}");
        assert_eq!(arena.bytes(500 + at, piece), &data[at..at + piece]);
        at += piece;
        assert_eq!(raw.head().unwrap(), 0, "buffer 9 is still at the head");
    }
    // 40 bytes waiting: the last 29 of buffer 9 take 29 of them, and the
    // kernel is done with it.
    tx.write_all(&data[at..]).unwrap();
    let cqe = recv(&mut ring, &rx, &raw);
    assert_eq!((cqe.res(), cqe.buffer_id()), (29, Some(9)));
    assert_eq!(cqe.flags() & IORING_CQE_F_BUF_MORE, 0, "{cqe:?}");
    assert_eq!(arena.bytes(535, 29), &data[35..64]);
    assert_eq!(raw.head().unwrap(), 1);
    // The other 11 go to buffer 10, which keeps 5 bytes.
    let cqe = recv(&mut ring, &rx, &raw);
    assert_eq!((cqe.res(), cqe.buffer_id()), (11, Some(10)));
    assert_ne!(cqe.flags() & IORING_CQE_F_BUF_MORE, 0, "{cqe:?}");
    assert_eq!(arena.bytes(2000, 11), &data[64..]);
    assert_eq!(raw.head().unwrap(), 1);
    arena.assert_untouched_but(&[(500, 64), (2000, 11)]);
}

#[test]
fn a_scope_runs_the_ops_of_an_incremental_raw_group_one_at_a_time() {
    let _watch = uring_tests::watchdog();
    let arena = uring_tests::Arena::new(256);
    let mut ring = ring();
    let Some(mut raw) = incremental_raw_buf_ring(&mut ring, 5, 2, false) else {
        return;
    };
    // SAFETY: the arena outlives the ring; read after the scope.
    unsafe { raw.add(arena.at(0), 64, 1) }.unwrap();
    raw.advance();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let (_tx2, rx2) = UnixStream::pair().unwrap();
    tx.write_all(b"first").unwrap();
    let got = ring.scope(|s| -> uring::Result<Vec<(u64, i32, Option<u16>)>> {
        s.push(Recv::new(&rx, raw.select()).user_data(1))?;
        s.push(Recv::new(&rx2, raw.select()).user_data(2))?;
        s.submit_and_wait(2)?;
        let mut got: Vec<_> = s
            .completions()
            .map(|c| (c.user_data(), c.res(), c.buffer_id()))
            .collect();
        got.sort();
        Ok(got)
    });
    assert_eq!(got.unwrap(), [(1, 5, Some(1)), (2, -libc::EBUSY, None)]);
    assert_eq!(arena.bytes(0, 5), b"first");
    arena.assert_untouched_but(&[(0, 5)]);
}

#[test]
fn the_head_follows_what_the_kernel_takes() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::require_kernel(6, 8, "IORING_REGISTER_PBUF_STATUS") {
        return;
    }
    let arena = uring_tests::Arena::new(1024);
    let mut ring = ring();
    let Some(mut raw) = raw_buf_ring(&mut ring, 6, 4) else {
        return;
    };
    assert_eq!(
        (
            raw.head().unwrap(),
            raw.available().unwrap(),
            raw.room().unwrap()
        ),
        (0, 0, 4)
    );
    for i in 0..3u16 {
        // SAFETY: the arena outlives the ring; three buffers in four
        // descriptors; read with no op in flight.
        unsafe { raw.add(arena.at(usize::from(i) * 100), 10, i) }.unwrap();
    }
    // Pending buffers take room but are not available.
    assert_eq!((raw.available().unwrap(), raw.room().unwrap()), (0, 1));
    raw.advance();
    assert_eq!((raw.available().unwrap(), raw.room().unwrap()), (3, 1));
    assert_eq!(ring.buf_ring_head(raw.group()).unwrap(), 0);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    for i in 0..2u16 {
        tx.write_all(b"abc").unwrap();
        let cqe = recv(&mut ring, &rx, &raw);
        assert_eq!((cqe.res(), cqe.buffer_id()), (3, Some(i)));
    }
    assert_eq!(raw.head().unwrap(), 2);
    assert_eq!(ring.buf_ring_head(raw.group()).unwrap(), 2);
    assert_eq!((raw.available().unwrap(), raw.room().unwrap()), (1, 3));
}

#[test]
fn a_bundle_fills_consecutive_placed_buffers_in_ring_order() {
    let _watch = uring_tests::watchdog();
    let arena = uring_tests::Arena::new(4096);
    let mut ring = ring();
    if !uring_tests::require_features(&ring, uring::Features::RECVSEND_BUNDLE, "bundles") {
        return;
    }
    let Some(mut raw) = raw_buf_ring(&mut ring, 7, 4) else {
        return;
    };
    let placed = [(50, 5, 7), (900, 11, 300), (3333, 6, 65535)];
    for &(off, len, bid) in &placed {
        // SAFETY: the arena outlives the ring; read with no op in flight.
        unsafe { raw.add(arena.at(off), len, bid) }.unwrap();
    }
    raw.advance();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let data = pattern(20, 4);
    tx.write_all(&data).unwrap();
    let cqe = complete(
        &mut ring,
        Recv::new(&rx, raw.group().select(0)).recv_flags(RecvFlags::BUNDLE),
    );
    // One completion naming the first buffer, its bytes running on into
    // the next ones in the order they were added (how many the kernel maps
    // at once is its choice: at least two here, as 20 bytes wait).
    assert_eq!(cqe.buffer_id(), Some(7), "{cqe:?}");
    let res = usize::try_from(cqe.res()).unwrap();
    assert!(res > 5 && res <= 20, "{cqe:?}");
    let mut written = Vec::new();
    let mut at = 0;
    for &(off, len, _) in &placed {
        let piece = (len as usize).min(res - at);
        if piece == 0 {
            break;
        }
        assert_eq!(arena.bytes(off, piece), &data[at..at + piece]);
        written.push((off, piece));
        at += piece;
    }
    arena.assert_untouched_but(&written);
    // The kernel took the buffers the bundle filled; a receive of the rest
    // takes the next one.
    assert_eq!(raw.head().unwrap(), written.len() as u16);
    if res < 20 {
        let (off, _, bid) = placed[written.len()];
        let cqe = recv(&mut ring, &rx, &raw);
        assert_eq!((cqe.res(), cqe.buffer_id()), ((20 - res) as i32, Some(bid)));
        assert_eq!(arena.bytes(off, 20 - res), &data[res..]);
    }
}

#[test]
fn bad_entries_and_bad_buffers_are_refused() {
    let _watch = uring_tests::watchdog();
    let mut ring = ring();
    let Some(probe) = raw_buf_ring(&mut ring, 8, 1) else {
        return;
    };
    assert_eq!(probe.entries(), 1);
    drop(probe);
    for entries in [0, 3, 100, 32767, 65535] {
        let got = ring.register_buf_ring_raw(BufferGroup::new(8), entries);
        assert!(
            matches!(got, Err(Error::InvalidArgument(_))),
            "entries {entries}: {got:?}"
        );
    }
    let big = ring
        .register_buf_ring_raw(BufferGroup::new(8), 32768)
        .unwrap();
    assert_eq!(big.entries(), 32768);
    drop(big);

    let arena = uring_tests::Arena::new(64);
    let mut raw = ring.register_buf_ring_raw(BufferGroup::new(8), 2).unwrap();
    // SAFETY: refused before anything is written.
    let null = unsafe { raw.add(std::ptr::null_mut(), 8, 1) };
    assert!(matches!(null, Err(Error::InvalidArgument(_))), "{null:?}");
    // SAFETY: refused before anything is written.
    let empty = unsafe { raw.add(arena.at(0), 0, 1) };
    assert!(matches!(empty, Err(Error::InvalidArgument(_))), "{empty:?}");
    // SAFETY: the arena outlives the ring and is not read while ops are in
    // flight (none is pushed); two buffers in two descriptors.
    unsafe {
        raw.add(arena.at(0), 8, 1).unwrap();
        raw.add(arena.at(8), 8, 2).unwrap();
    }
    // SAFETY: refused: both descriptors are written since the last advance.
    let third = unsafe { raw.add(arena.at(16), 8, 3) };
    assert!(matches!(third, Err(Error::InvalidArgument(_))), "{third:?}");
    assert_eq!(raw.pending(), 2);
    assert_eq!(
        format!("{raw:?}"),
        "RawBufRing { group: BufferGroup(8), entries: 2, incremental: false, mmap: false, tail: 0, pending: 2 }"
    );
    drop(raw);
}

#[test]
fn dropping_or_unregistering_leaves_the_group_empty_and_free() {
    let _watch = uring_tests::watchdog();
    let arena = uring_tests::Arena::new(128);
    let mut ring = ring();
    let Some(mut raw) = raw_buf_ring(&mut ring, 9, 2) else {
        return;
    };
    // SAFETY: the arena outlives the ring; no op takes the buffer before
    // the group is unregistered, and it is read after.
    unsafe { raw.add(arena.at(10), 32, 5) }.unwrap();
    raw.advance();
    drop(raw);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"late").unwrap();
    let group = BufferGroup::new(9);
    let cqe = complete(&mut ring, Recv::new(&rx, group.select(0)));
    assert_eq!((cqe.res(), cqe.buffer_id()), (-libc::ENOBUFS, None));
    arena.assert_untouched_but(&[]);
    // The group can be registered again, and unregistered explicitly.
    let mut raw = ring.register_buf_ring_raw(group, 2).unwrap();
    // SAFETY: as above.
    unsafe { raw.add(arena.at(10), 32, 5) }.unwrap();
    raw.advance();
    raw.unregister().unwrap();
    let cqe = complete(&mut ring, Recv::new(&rx, group.select(0)));
    assert_eq!((cqe.res(), cqe.buffer_id()), (-libc::ENOBUFS, None));
    arena.assert_untouched_but(&[]);
    // And taken by a library-owned ring.
    let pool = ring.register_buf_ring(group, 2, 8).unwrap();
    let cqe = complete(&mut ring, Recv::new(&rx, pool.select()));
    assert_eq!((cqe.res(), cqe.buffer_id()), (4, Some(0)));
}

#[test]
fn a_group_that_has_buffers_is_refused_with_eexist() {
    let _watch = uring_tests::watchdog();
    let mut ring = ring();
    let Some(raw) = raw_buf_ring(&mut ring, 10, 4) else {
        return;
    };
    let again = ring.register_buf_ring_raw(BufferGroup::new(10), 4);
    assert_eq!(again.unwrap_err().raw_os_error(), Some(libc::EEXIST));
    let pool = ring.register_buf_ring(BufferGroup::new(10), 2, 8);
    assert_eq!(pool.unwrap_err().raw_os_error(), Some(libc::EEXIST));
    drop(raw);
    let pool = ring.register_buf_ring(BufferGroup::new(11), 2, 8).unwrap();
    let raw = ring.register_buf_ring_raw(BufferGroup::new(11), 4);
    let err = raw.unwrap_err();
    assert!(matches!(err, Error::Os { .. }), "{err:?}");
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
    let incremental = ring.register_buf_ring_raw_incremental(BufferGroup::new(11), 4);
    assert_eq!(incremental.unwrap_err().raw_os_error(), Some(libc::EEXIST));
    drop(pool);
}

/// [`raw_ring`] with descriptors the kernel allocates (6.4; incremental,
/// 6.12), or `None` with a skip message.
fn mmap_raw_ring(
    ring: &mut Ring,
    group: u16,
    entries: u16,
    incremental: bool,
) -> Option<RawBufRing> {
    let group = BufferGroup::new(group);
    let made = if incremental {
        ring.register_buf_ring_raw_incremental_mmap(group, entries)
    } else {
        ring.register_buf_ring_raw_mmap(group, entries)
    };
    match made {
        Ok(raw) => {
            assert!(raw.is_mmap());
            assert_eq!(raw.is_incremental(), incremental);
            Some(raw)
        }
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            uring_tests::skip(format_args!(
                "no buffer rings the kernel allocates (6.4; incremental 6.12): {e}"
            ));
            None
        }
        Err(e) => panic!("register a kernel-allocated raw buffer ring: {e}"),
    }
}

/// How many mappings of the descriptors the kernel allocated for `group`
/// the process has: io_uring memory at the group's offset
/// (`IORING_OFF_PBUF_RING | group << IORING_OFF_PBUF_SHIFT`), which no other
/// test of this file maps.
fn ring_mappings(group: u16) -> usize {
    let offset = format!(
        "{:08x}",
        uring::sys::IORING_OFF_PBUF_RING | (i64::from(group) << uring::sys::IORING_OFF_PBUF_SHIFT)
    );
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|l| l.contains("io_uring") && l.split_whitespace().nth(2) == Some(&offset[..]))
        .count()
}

#[test]
fn kernel_allocated_descriptors_hand_out_placed_buffers_in_order() {
    let _watch = uring_tests::watchdog();
    let arena = uring_tests::Arena::new(1024);
    let mut ring = ring();
    let Some(mut raw) = mmap_raw_ring(&mut ring, 12, 4, false) else {
        return;
    };
    assert!(!raw.is_incremental());
    assert!(format!("{raw:?}").contains("mmap: true"), "{raw:?}");
    // SAFETY: the arena outlives the ring and is read only with no op in
    // flight; three buffers in four descriptors.
    unsafe {
        raw.add(arena.at(700), 6, 41).unwrap();
        raw.add(arena.at(30), 9, 40).unwrap();
        raw.add(arena.at(400), 32, 42).unwrap();
    }
    raw.advance();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let stream = pattern(20, 4);
    tx.write_all(&stream).unwrap();
    let cqe = recv(&mut ring, &rx, &raw);
    assert_eq!((cqe.res(), cqe.buffer_id()), (6, Some(41)), "{cqe:?}");
    let cqe = recv(&mut ring, &rx, &raw);
    assert_eq!((cqe.res(), cqe.buffer_id()), (9, Some(40)), "{cqe:?}");
    let cqe = recv(&mut ring, &rx, &raw);
    assert_eq!((cqe.res(), cqe.buffer_id()), (5, Some(42)), "{cqe:?}");
    assert_eq!(raw.head().unwrap(), 3);
    assert_eq!(arena.bytes(700, 6), &stream[..6]);
    assert_eq!(arena.bytes(30, 9), &stream[6..15]);
    assert_eq!(arena.bytes(400, 5), &stream[15..]);
    arena.assert_untouched_but(&[(700, 6), (30, 9), (400, 5)]);
    // The ring is empty again: the next receive finds no buffer.
    tx.write_all(b"more").unwrap();
    let cqe = recv(&mut ring, &rx, &raw);
    assert_eq!((cqe.res(), cqe.buffer_id()), (-libc::ENOBUFS, None));
}

#[test]
fn kernel_allocated_incremental_descriptors_hand_out_one_buffer_in_pieces() {
    let _watch = uring_tests::watchdog();
    let arena = uring_tests::Arena::new(512);
    let mut ring = ring();
    let Some(mut raw) = mmap_raw_ring(&mut ring, 13, 2, true) else {
        return;
    };
    // SAFETY: the arena outlives the ring; read with no op in flight.
    unsafe { raw.add(arena.at(100), 24, 3) }.unwrap();
    raw.advance();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let data = pattern(24, 5);
    tx.write_all(&data[..10]).unwrap();
    let cqe = recv(&mut ring, &rx, &raw);
    assert_eq!((cqe.res(), cqe.buffer_id()), (10, Some(3)));
    assert_ne!(cqe.flags() & IORING_CQE_F_BUF_MORE, 0, "{cqe:?}");
    assert_eq!(raw.head().unwrap(), 0, "the buffer stays at the head");
    tx.write_all(&data[10..]).unwrap();
    let cqe = recv(&mut ring, &rx, &raw);
    assert_eq!((cqe.res(), cqe.buffer_id()), (14, Some(3)));
    assert_eq!(cqe.flags() & IORING_CQE_F_BUF_MORE, 0, "{cqe:?}");
    assert_eq!(raw.head().unwrap(), 1);
    assert_eq!(arena.bytes(100, 24), &data[..]);
    arena.assert_untouched_but(&[(100, 24)]);
}

#[test]
fn kernel_allocated_descriptors_are_unmapped_and_the_group_freed_by_drop_and_unregister() {
    let _watch = uring_tests::watchdog();
    let arena = uring_tests::Arena::new(128);
    let mut ring = ring();
    let before = ring_mappings(14);
    assert_eq!(before, 0);
    let Some(mut raw) = mmap_raw_ring(&mut ring, 14, 8, false) else {
        return;
    };
    assert_eq!(ring_mappings(14), before + 1, "the descriptors are mapped");
    // SAFETY: the arena outlives the ring; no op takes the buffer before
    // the group is unregistered, and it is read after.
    unsafe { raw.add(arena.at(8), 16, 1) }.unwrap();
    raw.advance();
    drop(raw);
    assert_eq!(ring_mappings(14), before, "dropped, the mapping goes");
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"late").unwrap();
    let group = BufferGroup::new(14);
    let cqe = complete(&mut ring, Recv::new(&rx, group.select(0)));
    assert_eq!((cqe.res(), cqe.buffer_id()), (-libc::ENOBUFS, None));
    // Registered again, with the kernel's memory, then unregistered.
    let mut raw = ring.register_buf_ring_raw_mmap(group, 8).unwrap();
    // SAFETY: as above.
    unsafe { raw.add(arena.at(8), 16, 1) }.unwrap();
    raw.advance();
    raw.unregister().unwrap();
    assert_eq!(ring_mappings(14), before, "unregistered, the mapping goes");
    let cqe = complete(&mut ring, Recv::new(&rx, group.select(0)));
    assert_eq!((cqe.res(), cqe.buffer_id()), (-libc::ENOBUFS, None));
    arena.assert_untouched_but(&[]);
    // Many rounds leave no mapping behind.
    for _ in 0..64 {
        drop(ring.register_buf_ring_raw_mmap(group, 8).unwrap());
    }
    assert_eq!(ring_mappings(14), before);
    // The group is free for a ring whose descriptors the program owns.
    let mut raw = ring.register_buf_ring_raw(group, 2).unwrap();
    // SAFETY: as above; read after the completion naming it.
    unsafe { raw.add(arena.at(64), 8, 2) }.unwrap();
    raw.advance();
    let cqe = recv(&mut ring, &rx, &raw);
    assert_eq!((cqe.res(), cqe.buffer_id()), (4, Some(2)));
    assert_eq!(arena.bytes(64, 4), b"late");
}

#[test]
fn kernel_allocated_descriptors_need_a_group_below_2048() {
    let _watch = uring_tests::watchdog();
    let mut ring = ring();
    if mmap_raw_ring(&mut ring, 2047, 2, false).is_none() {
        return;
    }
    for id in [2048, 4095, u16::MAX] {
        let err = ring
            .register_buf_ring_raw_mmap(BufferGroup::new(id), 2)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{id}: {err:?}");
        let err = ring
            .register_buf_ring_raw_incremental_mmap(BufferGroup::new(id), 2)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{id}: {err:?}");
        // Nothing was registered under it.
        let raw = ring.register_buf_ring_raw(BufferGroup::new(id), 2).unwrap();
        assert!(!raw.is_mmap());
    }
    // Entries that are not a power of two are refused first.
    let err = ring
        .register_buf_ring_raw_mmap(BufferGroup::new(20), 3)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
}

#[test]
fn kernel_allocated_descriptors_on_a_ring_in_the_programs_memory() {
    let _watch = uring_tests::watchdog();
    let Ok(mut ring) = Ring::builder().no_mmap().build(8) else {
        uring_tests::skip("no rings in the program's memory (NO_MMAP, 6.5)");
        return;
    };
    let arena = uring_tests::Arena::new(64);
    match ring.register_buf_ring_raw_mmap(BufferGroup::new(15), 2) {
        Ok(mut raw) => {
            // SAFETY: the arena outlives the ring; read after the
            // completion naming the buffer.
            unsafe { raw.add(arena.at(4), 16, 77) }.unwrap();
            raw.advance();
            let (mut tx, rx) = UnixStream::pair().unwrap();
            tx.write_all(b"no_mmap").unwrap();
            let cqe = complete(&mut ring, Recv::new(&rx, raw.select()));
            assert_eq!((cqe.res(), cqe.buffer_id()), (7, Some(77)));
            assert_eq!(arena.bytes(4, 7), b"no_mmap");
            arena.assert_untouched_but(&[(4, 7)]);
        }
        // Before 6.7 the kernel maps no buffer ring of such a ring, and the
        // group is unregistered again.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            uring_tests::skip(format_args!(
                "kernel-allocated buffer rings on NO_MMAP rings (6.7): {e}"
            ));
            let raw = ring.register_buf_ring_raw(BufferGroup::new(15), 2).unwrap();
            drop(raw);
        }
        Err(e) => panic!("register_buf_ring_raw_mmap on a NO_MMAP ring: {e}"),
    }
}
