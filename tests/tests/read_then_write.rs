//! `Read::then_write` and `ReadFixed::then_write`: a read soft-linked to a
//! write of the buffer it filled, built from the read alone.
//!
//! - files copied byte for byte through a borrowed buffer in a scope,
//!   through buffers given to `push_owned`, through registered buffers,
//!   and with either side (or both) a registered file;
//! - a short read (at the end of the file, or past it) and a failed read
//!   cancel the write (`-ECANCELED`): the destination keeps its length and
//!   its bytes;
//! - many pairs in flight at once, at different offsets, forced to io-wq;
//!   pairs inside longer chains (`.link(Fsync)`, `.timeout(..)`, a
//!   `Linked` chain of pairs that stops at the end of the file);
//! - the SQEs a pair writes: the read linked to a write that names the
//!   read's buffer, byte for byte the write `Write::new` makes over it,
//!   through the raw `unsafe` push, across the end of the SQ array, and in
//!   128-byte SQEs.

use std::fs::File;
use std::io::IoSliceMut;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use uring::ops::{Fsync, Nop, Read, ReadFixed, ThenWrite, Write, WriteFixed};
use uring::{Cqe16, Fd, Fixed, Link, Linked, Ring, Scope, Sqe128, SqeFlags, sys};
use uring_tests::net::assert_kernel_bytes;
use uring_tests::{PATIENCE, bad_fd, pattern, reap_sorted, skip, test_dir};

/// The bytes each pair moves in most tests.
const CHUNK: usize = 4096;

/// An I/O priority the kernel takes: class best-effort (2), level 4.
const BEST_EFFORT_4: u16 = (2 << 13) | 4;

/// A source file holding `bytes` and an empty destination, both open for
/// reading and writing, in `dir`.
fn source_and_destination(dir: &tempfile::TempDir, bytes: &[u8]) -> (File, File) {
    let open = |name: &str| {
        File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(dir.path().join(name))
            .unwrap()
    };
    let (src, dst) = (open("src"), open("dst"));
    src.write_all_at(bytes, 0).unwrap();
    (src, dst)
}

/// The whole file.
fn contents(file: &File) -> Vec<u8> {
    let len = file.metadata().unwrap().len() as usize;
    let mut bytes = vec![0u8; len];
    file.read_exact_at(&mut bytes, 0).unwrap();
    bytes
}

/// Submits what the scope holds and waits for `n` completions, returned as
/// `(user_data, res)` sorted by `user_data`.
fn reap(s: &mut Scope<'_, '_>, n: usize) -> Vec<(u64, i32)> {
    s.submit().unwrap();
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        s.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{} of {n} completions after {PATIENCE:?}: {e}", got.len()));
        got.extend(s.completions().map(|c| (c.user_data(), c.res())));
    }
    assert_eq!(got.len(), n, "more completions than ops: {got:?}");
    got.sort_unstable();
    got
}

/// The completions of pair `i` of a test whose reads carry `2 * i` and
/// writes `2 * i + 1`, both with `res`.
fn both(i: u64, res: i32) -> [(u64, i32); 2] {
    [(2 * i, res), (2 * i + 1, res)]
}

/// A file copied chunk by chunk through one buffer, lent to one pair per
/// scope: each read and each write moves the whole chunk, the copy equals
/// the source byte for byte, and the buffer holds the last chunk
/// afterwards.
#[test]
fn a_file_copies_through_one_borrowed_buffer_in_a_scope() {
    let dir = test_dir!();
    let data = pattern(8 * CHUNK, 11);
    let (src, dst) = source_and_destination(&dir, &data);
    let mut ring = Ring::new(8).unwrap();
    let mut buf = vec![0u8; CHUNK];
    for i in 0..8u64 {
        let at = i * CHUNK as u64;
        ring.scope(|s| {
            s.push(
                Read::new(&src, &mut buf[..])
                    .offset(at)
                    .user_data(2 * i)
                    .then_write_with(&dst, |w| w.offset(at).user_data(2 * i + 1)),
            )
            .unwrap();
            assert_eq!(reap(s, 2), both(i, CHUNK as i32), "chunk {i}");
        });
    }
    assert_kernel_bytes(&buf, &data[7 * CHUNK..], "the buffer after the last read");
    assert!(contents(&dst) == data, "the copy differs from the source");
}

/// `then_write(dst, offset)`: the write goes to `offset`, whatever the
/// read's offset, and carries `user_data` 0.
#[test]
fn then_write_writes_at_its_own_offset() {
    let dir = test_dir!();
    let data = pattern(2 * CHUNK, 3);
    let (src, dst) = source_and_destination(&dir, &data);
    dst.write_all_at(&[0xee; 100], 0).unwrap();
    let mut ring = Ring::new(8).unwrap();
    let mut buf = [0u8; 1000];
    ring.scope(|s| {
        s.push(
            Read::new(&src, &mut buf[..])
                .offset(CHUNK as u64)
                .user_data(7)
                .then_write(&dst, 100),
        )
        .unwrap();
        assert_eq!(reap(s, 2), [(0, 1000), (7, 1000)]);
    });
    let copied = contents(&dst);
    assert_eq!(copied.len(), 1100);
    assert_eq!(copied[..100], [0xee; 100]);
    assert!(copied[100..] == data[CHUNK..CHUNK + 1000]);
}

/// Buffers given to `push_owned`, one per chunk, all in flight at once:
/// every chunk lands at its offset, and each buffer comes back with the
/// last completion of its pair, holding the chunk it carried.
#[test]
fn buffers_given_to_push_owned_carry_a_copy_and_come_back() {
    const CHUNKS: u64 = 6;
    let dir = test_dir!();
    let data = pattern(CHUNKS as usize * CHUNK, 29);
    let (src, dst) = source_and_destination(&dir, &data);
    let mut ring = Ring::new(16).unwrap();
    let back = ring.scope(|s| {
        for i in 0..CHUNKS {
            let at = i * CHUNK as u64;
            s.push_owned(vec![0u8; CHUNK], |buf, sq| {
                sq.push(
                    Read::new(&src, buf)
                        .offset(at)
                        .user_data(2 * i)
                        .then_write_with(&dst, |w| w.offset(at).user_data(2 * i + 1)),
                );
            })
            .unwrap();
        }
        s.submit().unwrap();
        let mut done = Vec::new();
        let mut back = Vec::new();
        while done.len() < 2 * CHUNKS as usize {
            s.wait_timeout(1, PATIENCE).unwrap();
            for mut cqe in s.completions() {
                done.push((cqe.user_data(), cqe.res()));
                if let Some(buf) = cqe.take_buf() {
                    back.push((cqe.user_data(), buf));
                }
            }
        }
        done.sort_unstable();
        let want: Vec<_> = (0..CHUNKS).flat_map(|i| both(i, CHUNK as i32)).collect();
        assert_eq!(done, want);
        back
    });
    assert_eq!(back.len(), CHUNKS as usize, "one buffer back per pair");
    for (user_data, buf) in back {
        // The buffer comes back with the pair's last completion: the write's.
        assert_eq!(user_data % 2, 1, "a buffer came back with a read");
        let i = (user_data / 2) as usize;
        assert_kernel_bytes(&buf, &data[i * CHUNK..(i + 1) * CHUNK], "a buffer back");
    }
    assert!(contents(&dst) == data, "the copy differs from the source");
}

/// Registered files on either side, or both: each pair keeps the target
/// type of its read and of its write (the SQEs say `IOSQE_FIXED_FILE`
/// where the side is a `Fixed`), and every combination copies.
#[test]
fn registered_files_on_either_side_keep_their_type_and_copy() {
    let dir = test_dir!();
    let data = pattern(4 * CHUNK, 41);
    let (src, dst) = source_and_destination(&dir, &data);
    let mut ring = Ring::new(16).unwrap();
    let files = ring.register_files(&[src.as_fd(), dst.as_fd()]).unwrap();
    let (from, to) = (files.get(0).unwrap(), files.get(1).unwrap());
    let mut bufs = vec![[0u8; CHUNK]; 4];
    let [b0, b1, b2, b3] = &mut bufs[..] else {
        unreachable!()
    };
    let at = |i: u64| i * CHUNK as u64;
    // The types, spelled out: the read's target and the write's are kept.
    let raw_raw: Link<Read<'_, Fd<'_>>, ThenWrite<Write<'_, Fd<'_>>>> =
        Read::new(&src, &mut b0[..])
            .user_data(0)
            .then_write_with(&dst, |w| w.user_data(1));
    let fixed_raw: Link<Read<'_, Fixed<'_>>, ThenWrite<Write<'_, Fd<'_>>>> =
        Read::new(from, &mut b1[..])
            .offset(at(1))
            .user_data(2)
            .then_write_with(&dst, |w| w.offset(at(1)).user_data(3));
    let raw_fixed: Link<Read<'_, Fd<'_>>, ThenWrite<Write<'_, Fixed<'_>>>> =
        Read::new(&src, &mut b2[..])
            .offset(at(2))
            .user_data(4)
            .then_write_with(to, |w| w.offset(at(2)).user_data(5));
    let fixed_fixed: Link<Read<'_, Fixed<'_>>, ThenWrite<Write<'_, Fixed<'_>>>> =
        Read::new(from, &mut b3[..])
            .offset(at(3))
            .user_data(6)
            .then_write_with(to, |w| w.offset(at(3)).user_data(7));
    // SAFETY: the buffers, files and registration outlive the pairs' last
    // completions, reaped below before any of them is touched or dropped;
    // the fixed files are this ring's.
    unsafe {
        ring.push_unchecked(raw_raw).unwrap();
        ring.push_unchecked(fixed_raw).unwrap();
        ring.push_unchecked(raw_fixed).unwrap();
        ring.push_unchecked(fixed_fixed).unwrap();
    }
    let sqes: Vec<(u8, u64, u8)> = ring
        .pending_sqes()
        .map(|sqe| (sqe.opcode, sqe.user_data, sqe.flags))
        .collect();
    let (link, fixed) = (sys::IOSQE_IO_LINK, sys::IOSQE_FIXED_FILE);
    let (read, write) = (sys::IORING_OP_READ, sys::IORING_OP_WRITE);
    assert_eq!(
        sqes,
        [
            (read, 0, link),
            (write, 1, 0),
            (read, 2, link | fixed),
            (write, 3, 0),
            (read, 4, link),
            (write, 5, fixed),
            (read, 6, link | fixed),
            (write, 7, fixed),
        ]
    );
    let want: Vec<_> = (0..4).flat_map(|i| both(i, CHUNK as i32)).collect();
    assert_eq!(reap_sorted(&mut ring, 8), want);
    assert!(contents(&dst) == data, "the copy differs from the source");
}

/// `ReadFixed::then_write`: copies through slices of registered buffers
/// (two buffers, several slices each, all in flight), with the files
/// registered too; the write is a `WRITE_FIXED` of the same slice of the
/// same buffer.
#[test]
fn registered_buffers_copy_with_read_fixed_then_write_fixed() {
    let dir = test_dir!();
    let data = pattern(8 * CHUNK, 57);
    let (src, dst) = source_and_destination(&dir, &data);
    // Declared before the ring: dropped after it, so the registered memory
    // outlives the registration.
    let mut region = vec![0u8; 8 * CHUNK];
    let mut ring = Ring::new(16).unwrap();
    let (first, second) = region.split_at_mut(4 * CHUNK);
    // SAFETY: the vector is never resized, so the registered bytes stay in
    // place until the ring is dropped, and are touched only through the ops
    // below and after their completions.
    let bufs = unsafe { ring.register_buffers(&[IoSliceMut::new(first), IoSliceMut::new(second)]) };
    let bufs = match bufs {
        Ok(bufs) => bufs,
        Err(e) => return skip(format_args!("no registered buffers here: {e}")),
    };
    let files = ring.register_files(&[src.as_fd(), dst.as_fd()]).unwrap();
    let (from, to) = (files.get(0).unwrap(), files.get(1).unwrap());
    ring.scope(|s| {
        for (i, slice) in region.chunks_mut(CHUNK).enumerate() {
            let index = bufs.get(i as u32 / 4).unwrap();
            // Chunk `i` of the source goes to chunk `7 - i` of the copy.
            let (at, to_at) = ((i * CHUNK) as u64, ((7 - i) * CHUNK) as u64);
            let i = i as u64;
            let pair: Link<ReadFixed<'_, Fixed<'_>>, ThenWrite<WriteFixed<'_, Fixed<'_>>>> =
                ReadFixed::new(from, slice, index)
                    .offset(at)
                    .user_data(2 * i)
                    .then_write_with(to, |w| w.offset(to_at).user_data(2 * i + 1));
            s.push(pair).unwrap();
        }
        let want: Vec<_> = (0..8).flat_map(|i| both(i, CHUNK as i32)).collect();
        assert_eq!(reap(s, 16), want);
    });
    assert_kernel_bytes(&region, &data, "the registered memory");
    let copied = contents(&dst);
    assert_eq!(copied.len(), data.len());
    for i in 0..8 {
        assert!(
            copied[(7 - i) * CHUNK..(8 - i) * CHUNK] == data[i * CHUNK..(i + 1) * CHUNK],
            "chunk {i} of the copy"
        );
    }
}

/// A short read cancels the write, as the kernel does with any soft link:
/// a read that meets the end of the file (1000 bytes of a 4096-byte
/// buffer), and one that starts past it (0 bytes), complete with what they
/// read, their writes with `-ECANCELED`; a read that fails (a descriptor
/// that is not open) cancels it too. The destination keeps its length and
/// its bytes, for `Read` and for `ReadFixed`.
#[test]
fn a_short_or_failed_read_cancels_the_write_and_leaves_the_destination() {
    let dir = test_dir!();
    let data = pattern(1000, 5);
    let (src, dst) = source_and_destination(&dir, &data);
    let before = pattern(100, 99);
    dst.write_all_at(&before, 0).unwrap();
    let mut region = vec![0u8; CHUNK];
    let mut ring = Ring::new(16).unwrap();
    let mut bufs = vec![[0x55u8; CHUNK]; 3];
    let [at_end, past_end, failed] = &mut bufs[..] else {
        unreachable!()
    };
    ring.scope(|s| {
        s.push(
            Read::new(&src, &mut at_end[..])
                .user_data(0)
                .then_write_with(&dst, |w| w.offset(50).user_data(1)),
        )
        .unwrap();
        s.push(
            Read::new(&src, &mut past_end[..])
                .offset(5000)
                .user_data(2)
                .then_write_with(&dst, |w| w.offset(100).user_data(3)),
        )
        .unwrap();
        s.push(
            Read::new(bad_fd(), &mut failed[..])
                .user_data(4)
                .then_write_with(&dst, |w| w.user_data(5)),
        )
        .unwrap();
        let cancelled = -libc::ECANCELED;
        assert_eq!(
            reap(s, 6),
            [
                (0, 1000),
                (1, cancelled),
                (2, 0),
                (3, cancelled),
                (4, -libc::EBADF),
                (5, cancelled),
            ]
        );
    });
    assert_kernel_bytes(&bufs[0][..1000], &data, "the short read");
    assert_eq!(bufs[1], [0x55; CHUNK], "a read past the end reads nothing");
    assert_eq!(contents(&dst), before, "a cancelled write changed the file");

    // The same with a registered buffer.
    // SAFETY: as in `registered_buffers_copy_with_read_fixed_then_write_fixed`.
    let registered = unsafe { ring.register_buffers(&[IoSliceMut::new(&mut region)]) };
    let Ok(registered) = registered else {
        return skip("no registered buffers here");
    };
    let index = registered.get(0).unwrap();
    ring.scope(|s| {
        s.push(
            ReadFixed::new(&src, &mut region[..], index)
                .user_data(0)
                .then_write_with(&dst, |w| w.offset(200).user_data(1)),
        )
        .unwrap();
        assert_eq!(reap(s, 2), [(0, 1000), (1, -libc::ECANCELED)]);
    });
    assert_eq!(contents(&dst), before, "a cancelled write changed the file");
}

/// A file copied by a `Linked` chain of pairs, one per chunk, sized for
/// more chunks than the file has: the pairs up to the end of the file
/// copy, the one that meets it reads what is left and cancels its write
/// and every pair after it.
#[test]
fn a_linked_chain_of_pairs_stops_at_the_end_of_the_file() {
    let dir = test_dir!();
    let data = pattern(3 * CHUNK + 100, 17);
    let (src, dst) = source_and_destination(&dir, &data);
    let mut ring = Ring::new(16).unwrap();
    let mut bufs = vec![[0u8; CHUNK]; 5];
    ring.scope(|s| {
        let pairs: Vec<_> = bufs
            .iter_mut()
            .enumerate()
            .map(|(i, buf)| {
                let (at, i) = ((i * CHUNK) as u64, i as u64);
                Read::new(&src, &mut buf[..])
                    .offset(at)
                    .user_data(2 * i)
                    .then_write_with(&dst, |w| w.offset(at).user_data(2 * i + 1))
            })
            .collect();
        s.push_linked(Linked::new(pairs)).unwrap();
        let cancelled = -libc::ECANCELED;
        let mut want: Vec<_> = (0..3).flat_map(|i| both(i, CHUNK as i32)).collect();
        want.extend([(6, 100), (7, cancelled), (8, cancelled), (9, cancelled)]);
        assert_eq!(reap(s, 10), want);
    });
    assert!(
        contents(&dst) == data[..3 * CHUNK],
        "the copy is not the first three chunks"
    );
}

/// Many pairs in flight at once, reads and writes forced to io-wq
/// (`IOSQE_ASYNC`) where they may run side by side: each write still
/// follows its read and writes what that read filled, at its own offset.
#[test]
fn many_pairs_in_flight_at_different_offsets() {
    const PAIRS: usize = 16;
    let dir = test_dir!();
    let data = pattern(PAIRS * CHUNK, 73);
    let (src, dst) = source_and_destination(&dir, &data);
    let mut ring = Ring::new(64).unwrap();
    let mut bufs = vec![[0u8; CHUNK]; PAIRS];
    ring.scope(|s| {
        for (i, buf) in bufs.iter_mut().enumerate() {
            // Chunk `i` goes to the slot `(i * 5) % 16` of the copy (5 is
            // prime to 16: every slot once).
            let (at, to_at) = ((i * CHUNK) as u64, ((i * 5 % PAIRS) * CHUNK) as u64);
            let i = i as u64;
            let flags = if i.is_multiple_of(2) {
                SqeFlags::ASYNC
            } else {
                SqeFlags::EMPTY
            };
            s.push(
                Read::new(&src, &mut buf[..])
                    .offset(at)
                    .flags(flags)
                    .user_data(2 * i)
                    .then_write_with(&dst, |w| {
                        w.offset(to_at).flags(SqeFlags::ASYNC).user_data(2 * i + 1)
                    }),
            )
            .unwrap();
        }
        let want: Vec<_> = (0..PAIRS as u64)
            .flat_map(|i| both(i, CHUNK as i32))
            .collect();
        assert_eq!(reap(s, 2 * PAIRS), want);
    });
    let copied = contents(&dst);
    assert_eq!(copied.len(), data.len());
    for i in 0..PAIRS {
        let slot = i * 5 % PAIRS;
        assert!(
            copied[slot * CHUNK..(slot + 1) * CHUNK] == data[i * CHUNK..(i + 1) * CHUNK],
            "chunk {i} of the source at slot {slot} of the copy"
        );
    }
}

/// A pair inside a longer chain: an fsync linked after it runs once the
/// write succeeds, a link timeout after it bounds the write (and is
/// cancelled when the write completes first); a short read cancels
/// everything after it.
#[test]
fn a_pair_links_onward_and_takes_a_link_timeout() {
    let dir = test_dir!();
    let data = pattern(CHUNK + 10, 61);
    let (src, dst) = source_and_destination(&dir, &data);
    let mut ring = Ring::new(16).unwrap();
    let mut bufs = vec![[0u8; CHUNK]; 2];
    let [whole, short] = &mut bufs[..] else {
        unreachable!()
    };
    ring.scope(|s| {
        s.push(
            Read::new(&src, &mut whole[..])
                .user_data(0)
                .then_write_with(&dst, |w| w.user_data(1))
                .timeout_with(Duration::from_secs(60), 2)
                .link(Fsync::new(&dst).user_data(3)),
        )
        .unwrap();
        assert_eq!(
            reap(s, 4),
            [
                (0, CHUNK as i32),
                (1, CHUNK as i32),
                (2, -libc::ECANCELED),
                (3, 0)
            ]
        );
        s.push(
            Read::new(&src, &mut short[..])
                .offset(CHUNK as u64)
                .user_data(4)
                .then_write_with(&dst, |w| w.offset(CHUNK as u64).user_data(5))
                .link(Fsync::new(&dst).user_data(6)),
        )
        .unwrap();
        let cancelled = -libc::ECANCELED;
        assert_eq!(reap(s, 3), [(4, 10), (5, cancelled), (6, cancelled)]);
    });
    assert!(
        contents(&dst) == data[..CHUNK],
        "the copy is not the first chunk"
    );
}

/// The SQEs of a pair pushed through the raw `unsafe` push: a `READ`
/// flagged `IOSQE_IO_LINK` into the buffer, then a `WRITE` that names the
/// same address and length, byte for byte the SQE `Write::new` makes over
/// that buffer (pushed on another ring to compare), and no link flag on
/// the last SQE. Submitted, the pair copies.
#[test]
fn the_raw_push_writes_a_linked_read_and_a_write_of_its_buffer() {
    let dir = test_dir!();
    let data = pattern(CHUNK, 83);
    let (src, dst) = source_and_destination(&dir, &data);
    let mut ring = Ring::new(8).unwrap();
    let mut other = Ring::new(8).unwrap();
    let mut buf = vec![0u8; CHUNK];
    let (addr, len) = (buf.as_ptr() as u64, buf.len() as u32);
    let pair = Read::new(&src, &mut buf[..])
        .user_data(1)
        .then_write_with(&dst, |w| {
            w.offset(300)
                .rw_flags(uring::RwFlags::DSYNC)
                .ioprio(BEST_EFFORT_4)
                .user_data(2)
        });
    // SAFETY: `buf` and both files outlive the pair's completions, reaped
    // below before `buf` is read.
    unsafe { ring.push_unchecked(pair) }.unwrap();
    let sqes: Vec<_> = ring.pending_sqes().collect();
    assert_eq!(sqes.len(), 2);
    let (read, write) = (sqes[0], sqes[1]);
    // SAFETY: every member of the `addr` union is a plain integer.
    let (read_addr, write_addr) = unsafe { (read.addr.addr, write.addr.addr) };
    assert_eq!(
        (read.opcode, read.flags, read_addr, read.len),
        (sys::IORING_OP_READ, sys::IOSQE_IO_LINK, addr, len)
    );
    assert_eq!(
        (write.opcode, write.flags, write_addr, write.len),
        (sys::IORING_OP_WRITE, 0, addr, len)
    );
    // The same write built over the buffer by hand, pushed on a ring that
    // is never submitted.
    let plain = Write::new(&dst, &buf[..])
        .offset(300)
        .rw_flags(uring::RwFlags::DSYNC)
        .ioprio(BEST_EFFORT_4)
        .user_data(2);
    // SAFETY: never submitted: the kernel never sees it.
    unsafe { other.push_unchecked(plain) }.unwrap();
    let by_hand = other.pending_sqes().next().unwrap();
    assert_eq!(format!("{write:?}"), format!("{by_hand:?}"));
    assert_eq!(
        reap_sorted(&mut ring, 2),
        [(1, CHUNK as i32), (2, CHUNK as i32)]
    );
    assert_kernel_bytes(&buf, &data, "the buffer");
    let copied = contents(&dst);
    assert_eq!(copied.len(), 300 + CHUNK);
    assert!(
        copied[300..] == data[..],
        "the copy differs from the source"
    );
}

/// The write a `then_write_with` closure returns writes the read's buffer,
/// whatever buffer it was built over: a closure that makes a new `Write`
/// over other bytes (and another offset) changes the offset, not the
/// bytes written.
#[test]
fn a_write_rebuilt_by_the_closure_still_writes_the_reads_buffer() {
    let dir = test_dir!();
    let data = pattern(CHUNK, 37);
    let (src, dst) = source_and_destination(&dir, &data);
    let other = [0xaau8; 10];
    let mut ring = Ring::new(8).unwrap();
    let mut buf = vec![0u8; CHUNK];
    ring.scope(|s| {
        s.push(
            Read::new(&src, &mut buf[..])
                .user_data(1)
                .then_write_with(&dst, |_| {
                    Write::new(&dst, &other[..]).offset(10).user_data(2)
                }),
        )
        .unwrap();
        assert_eq!(reap(s, 2), [(1, CHUNK as i32), (2, CHUNK as i32)]);
    });
    let copied = contents(&dst);
    assert_eq!(copied.len(), 10 + CHUNK);
    assert!(
        copied[10..] == data[..],
        "the write did not write the read's buffer"
    );
}

/// Pairs pushed where their two SQEs straddle the end of the SQ array (a
/// ring of 4, the read in its last slot, the write in its first): the
/// write's SQE, in the slot after the wrap, names the read's buffer, and
/// each pair copies.
#[test]
fn pairs_that_straddle_the_end_of_the_sq_array() {
    let dir = test_dir!();
    let data = pattern(6 * 512, 91);
    let (src, dst) = source_and_destination(&dir, &data);
    let mut ring = Ring::new(4).unwrap();
    assert_eq!(ring.sq_entries(), 4);
    // One NOP first: the pairs then start at slots 1 and 3, in turn.
    ring.push(Nop::new().user_data(100)).unwrap();
    assert_eq!(reap_sorted(&mut ring, 1), [(100, 0)]);
    let mut buf = [0u8; 512];
    for i in 0..6u64 {
        let at = i * 512;
        let addr = buf.as_ptr() as u64;
        let pair = Read::new(&src, &mut buf[..])
            .offset(at)
            .user_data(2 * i)
            .then_write_with(&dst, |w| w.offset(at).user_data(2 * i + 1));
        // SAFETY: `buf` and the files outlive the pair's completions,
        // reaped below before `buf` is touched again.
        unsafe { ring.push_unchecked(pair) }.unwrap();
        let writes: Vec<u64> = ring
            .pending_sqes()
            // SAFETY: every member of the `addr` union is a plain integer.
            .map(|sqe| unsafe { sqe.addr.addr })
            .collect();
        assert_eq!(writes, [addr, addr], "pair {i}");
        assert_eq!(reap_sorted(&mut ring, 2), both(i, 512), "pair {i}");
    }
    assert!(contents(&dst) == data, "the copy differs from the source");
}

/// On a ring of 128-byte SQEs, the write's address lands in the first 64
/// bytes of its slot, as in a 64-byte one, the other 64 stay zero, and the
/// pair copies.
#[test]
fn pairs_in_128_byte_sqes() {
    let dir = test_dir!();
    let data = pattern(2 * CHUNK, 23);
    let (src, dst) = source_and_destination(&dir, &data);
    let mut ring = match Ring::builder().build_sized::<Sqe128, Cqe16>(8) {
        Ok(ring) => ring,
        Err(e) => return skip(format_args!("no 128-byte SQEs: {e}")),
    };
    let mut buf = vec![0u8; 2 * CHUNK];
    let (addr, len) = (buf.as_ptr() as u64, buf.len() as u32);
    let pair = Read::new(&src, &mut buf[..])
        .user_data(1)
        .then_write_with(&dst, |w| w.user_data(2));
    // SAFETY: `buf` and the files outlive the pair's completions, reaped
    // below before `buf` is read.
    unsafe { ring.push_unchecked(pair) }.unwrap();
    let slots: Vec<_> = ring
        .pending_sqes()
        .map(|slot| {
            // SAFETY: every member of the `addr` union is a plain integer.
            let addr = unsafe { slot.sqe.addr.addr };
            (slot.sqe.opcode, addr, slot.sqe.len, slot.ext)
        })
        .collect();
    assert_eq!(
        slots,
        [
            (sys::IORING_OP_READ, addr, len, [0; 64]),
            (sys::IORING_OP_WRITE, addr, len, [0; 64]),
        ]
    );
    ring.submit_and_wait(2).unwrap();
    let mut done: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    while done.len() < 2 {
        ring.wait_timeout(1, PATIENCE).unwrap();
        done.extend(ring.completions().map(|c| (c.user_data(), c.res())));
    }
    done.sort_unstable();
    assert_eq!(done, [(1, 2 * CHUNK as i32), (2, 2 * CHUNK as i32)]);
    assert_kernel_bytes(&buf, &data, "the buffer");
    assert!(contents(&dst) == data, "the copy differs from the source");
}
