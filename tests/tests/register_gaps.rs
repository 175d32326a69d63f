//! Registrations and ops liburing offers that `uring` lacked: buffers cloned
//! into an offset of an existing table (`IORING_REGISTER_DST_REPLACE`), a
//! buffer table registered with empty slots among its buffers, and sends
//! over an iovec array (`IORING_SEND_VECTORIZED`).

use std::io::{IoSlice, IoSliceMut, Read};
use std::mem;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

use uring::ops::{ReadFixed, Send, SendV, SendZcV};
use uring::{Error, Features, MsgFlags, Ring, SendFlags, SendZcFlags, sys};
use uring_tests::{
    complete, pattern, push_lent, require_features, require_kernel, require_op, tcp_pair,
};

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

/// One raw `io_uring_register(2)` of `IORING_REGISTER_CLONE_BUFFERS` on
/// the ring `fd`: the kernel's own answer, without the library's checks.
/// Returns 0 or the errno.
///
/// # Safety
///
/// A clone that succeeds shares `src`'s buffers with the ring `fd`: the
/// caller keeps them valid until both rings are closed.
unsafe fn raw_clone(fd: RawFd, arg: &sys::io_uring_clone_buffers) -> i32 {
    // SAFETY: `arg` is the argument the opcode reads, alive for the call;
    // the caller's contract covers what a successful clone shares.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_io_uring_register,
            fd,
            sys::IORING_REGISTER_CLONE_BUFFERS,
            arg as *const sys::io_uring_clone_buffers,
            1,
        )
    };
    if rc < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap()
    } else {
        0
    }
}

/// Reads `n` bytes at file offset 0 through the fixed buffer `index` of
/// `ring` into `dst` (which lies in that buffer's memory); returns the
/// completion's result.
fn read_fixed(
    ring: &mut Ring,
    file: &std::fs::File,
    dst: &mut [u8],
    index: uring::FixedBuf,
) -> i32 {
    complete(ring, ReadFixed::new(file, dst, index)).res()
}

/// Registers `mem` with `ring` as buffers of 4096 bytes each.
///
/// # Safety
///
/// As for [`Ring::register_buffers`]: `mem` must stay valid, and be touched
/// only through the ring's ops, until the ring has unregistered it or been
/// dropped (and every ring it was cloned into too).
unsafe fn register_pages(ring: &mut Ring, mem: &mut [u8]) -> uring::FixedBuffers {
    let slices: Vec<IoSliceMut<'_>> = mem.chunks_mut(4096).map(IoSliceMut::new).collect();
    // SAFETY: the caller's.
    unsafe { ring.register_buffers(&slices) }.unwrap()
}

// ---------------------------------------------------------------------------
// Cloning into an offset of an existing table.
// ---------------------------------------------------------------------------

#[test]
fn a_clone_at_an_offset_replaces_those_slots_with_the_source_s_memory() {
    if !require_kernel(6, 13, "IORING_REGISTER_DST_REPLACE") {
        return;
    }
    // Declared before the rings: freed after both are gone.
    let mut src_mem = vec![0u8; 3 * 4096];
    let mut dst_mem = vec![0u8; 4 * 4096];
    let mut src = Ring::new(4).unwrap();
    let mut dst = Ring::new(4).unwrap();
    // SAFETY: the vector is not touched but through the rings' ops, nor
    // freed, until both rings are dropped.
    let src_bufs = unsafe { register_pages(&mut src, &mut src_mem) };
    // SAFETY: as above.
    let dst_bufs = unsafe { register_pages(&mut dst, &mut dst_mem) };
    // Source buffers 1 and 2 become the destination's slots 2 and 3.
    // SAFETY: both vectors outlive both rings (declared before them).
    let table = unsafe { dst.clone_buffers_replace(dst_bufs, 2, &src, &src_bufs, 1, 2) }.unwrap();
    assert_eq!(table.len(), 4, "the table keeps its length");

    let data = pattern(4096, 9);
    let file = uring_tests::file_of(&data);
    // A read through slot 2 lands in source buffer 1's memory.
    let at = 4096 + 100;
    let n = read_fixed(
        &mut dst,
        &file,
        &mut src_mem[at..at + 300],
        table.get(2).unwrap(),
    );
    assert_eq!(n, 300);
    assert_eq!(src_mem[at..at + 300], data[..300]);
    // And through slot 3, in source buffer 2's.
    let at = 2 * 4096;
    let n = read_fixed(
        &mut dst,
        &file,
        &mut src_mem[at..at + 64],
        table.get(3).unwrap(),
    );
    assert_eq!(n, 64);
    assert_eq!(src_mem[at..at + 64], data[..64]);
    // Slot 2 no longer holds the destination's own third buffer: an address
    // inside it is outside slot 2's buffer now.
    let at = 2 * 4096;
    let n = read_fixed(
        &mut dst,
        &file,
        &mut dst_mem[at..at + 16],
        table.get(2).unwrap(),
    );
    assert_eq!(n, -libc::EFAULT);
    assert_eq!(dst_mem[at..at + 16], [0; 16], "nothing written there");
    // Slots before the range keep their buffers.
    let n = read_fixed(
        &mut dst,
        &file,
        &mut dst_mem[4096..4096 + 32],
        table.get(1).unwrap(),
    );
    assert_eq!(n, 32);
    assert_eq!(dst_mem[4096..4096 + 32], data[..32]);
    // The source ring still has its own buffers.
    let n = read_fixed(&mut src, &file, &mut src_mem[..8], src_bufs.get(0).unwrap());
    assert_eq!(n, 8);
    assert_eq!(src_mem[..8], data[..8]);
    dst.unregister_buffers(table).unwrap();
    // Unregistered here, the cloned memory still serves the source ring.
    let n = read_fixed(
        &mut src,
        &file,
        &mut src_mem[4096..4096 + 8],
        src_bufs.get(1).unwrap(),
    );
    assert_eq!(n, 8);
}

#[test]
fn a_clone_past_the_end_grows_the_table() {
    if !require_kernel(6, 13, "IORING_REGISTER_DST_REPLACE") {
        return;
    }
    let mut src_mem = vec![0u8; 2 * 4096];
    let mut dst_mem = vec![0u8; 2 * 4096];
    let mut src = Ring::new(4).unwrap();
    let mut dst = Ring::new(4).unwrap();
    // SAFETY: the vector outlives both rings and is touched only
    // through their ops.
    let src_bufs = unsafe { register_pages(&mut src, &mut src_mem) };
    // SAFETY: as above.
    let dst_bufs = unsafe { register_pages(&mut dst, &mut dst_mem) };
    // Two buffers at slot 3 of a table of 2: slots 3 and 4, slot 2 empty.
    // SAFETY: both vectors outlive both rings.
    let table = unsafe { dst.clone_buffers_replace(dst_bufs, 3, &src, &src_bufs, 0, 2) }.unwrap();
    assert_eq!(table.len(), 5, "grown to the end of the range");
    let data = pattern(512, 3);
    let file = uring_tests::file_of(&data);
    let at = 4096 + 7;
    let n = read_fixed(
        &mut dst,
        &file,
        &mut src_mem[at..at + 100],
        table.get(4).unwrap(),
    );
    assert_eq!(n, 100);
    assert_eq!(src_mem[at..at + 100], data[..100]);
    // The gap is an empty slot.
    let mut scratch = [0u8; 16];
    let n = read_fixed(&mut dst, &file, &mut scratch, table.get(2).unwrap());
    assert_eq!(n, -libc::EFAULT);
    // The destination's own buffers stay where they were.
    let n = read_fixed(
        &mut dst,
        &file,
        &mut dst_mem[4096..4096 + 10],
        table.get(1).unwrap(),
    );
    assert_eq!(n, 10);
    assert_eq!(dst_mem[4096..4096 + 10], data[..10]);
    assert!(table.get(5).is_err(), "slot 5 is past the table");
    // Slot 0 is still the destination's own buffer, not the source's.
    let n = read_fixed(&mut dst, &file, &mut src_mem[..16], table.get(0).unwrap());
    assert_eq!(n, -libc::EFAULT, "source memory through destination slot 0");
}

/// Slots after the cloned range: kept by kernels with the fix "copy
/// original dst nodes from after the cloned range" (6.19, and 6.18.y
/// stable); emptied before it. Either way the slot never names memory the
/// destination did not register or clone.
#[test]
fn slots_after_a_cloned_range() {
    if !require_kernel(6, 13, "IORING_REGISTER_DST_REPLACE") {
        return;
    }
    let mut src_mem = vec![0u8; 4096];
    let mut dst_mem = vec![0u8; 3 * 4096];
    let mut src = Ring::new(4).unwrap();
    let mut dst = Ring::new(4).unwrap();
    // SAFETY: the vector outlives both rings and is touched only through
    // their ops.
    let src_bufs = unsafe { src.register_buffers(&[IoSliceMut::new(&mut src_mem)]) }.unwrap();
    // SAFETY: as above.
    let dst_bufs = unsafe { register_pages(&mut dst, &mut dst_mem) };
    // SAFETY: both vectors outlive both rings.
    let table = unsafe { dst.clone_buffers_replace(dst_bufs, 0, &src, &src_bufs, 0, 1) }.unwrap();
    assert_eq!(table.len(), 3);
    let data = pattern(64, 5);
    let file = uring_tests::file_of(&data);
    let n = read_fixed(&mut dst, &file, &mut src_mem[..64], table.get(0).unwrap());
    assert_eq!(n, 64);
    assert_eq!(src_mem[..64], data[..]);
    let at = 2 * 4096;
    let n = read_fixed(
        &mut dst,
        &file,
        &mut dst_mem[at..at + 64],
        table.get(2).unwrap(),
    );
    match n {
        64 => assert_eq!(dst_mem[at..at + 64], data[..]),
        n if n == -libc::EFAULT => {
            assert_eq!(dst_mem[at..at + 64], [0; 64]);
            assert!(
                uring_tests::kernel_version() < (6, 19),
                "a kernel with the fix emptied a slot after the range"
            );
            eprintln!("this kernel empties the slots after a cloned range");
        }
        n => panic!("a read through slot 2 gave {n}"),
    }
}

#[test]
fn a_clone_out_of_range_or_of_another_ring_s_table_gives_the_handle_back() {
    if !require_kernel(6, 13, "IORING_REGISTER_DST_REPLACE") {
        return;
    }
    let mut src_mem = vec![0u8; 2 * 4096];
    let mut dst_mem = vec![0u8; 4096];
    let mut src = Ring::new(4).unwrap();
    let mut dst = Ring::new(4).unwrap();
    // SAFETY: the vector outlives both rings and is touched only
    // through their ops.
    let src_bufs = unsafe { register_pages(&mut src, &mut src_mem) };
    // SAFETY: as above.
    let mut table = unsafe { dst.register_buffers(&[IoSliceMut::new(&mut dst_mem)]) }.unwrap();
    let cases: [(u32, u32, u32); 5] = [
        // (dst_offset, src_offset, count)
        (0, 1, 2),                               // past the source table
        (0, u32::MAX, 2),                        // overflows
        (0, 0, 0),                               // nothing
        (sys::IORING_MAX_REG_BUFFERS - 1, 0, 2), // past the most a table holds
        (u32::MAX, 0, 1),                        // overflows
    ];
    for (dst_offset, src_offset, count) in cases {
        // SAFETY: each of these fails before the kernel is asked.
        let e = unsafe {
            dst.clone_buffers_replace(table, dst_offset, &src, &src_bufs, src_offset, count)
        }
        .unwrap_err();
        assert!(
            matches!(e.error, Error::InvalidArgument(_)),
            "({dst_offset}, {src_offset}, {count}): {}",
            e.error
        );
        table = e.handle;
        assert_eq!(table.len(), 1, "the handle comes back unchanged");
    }
    // A table of another ring, on either side.
    let mut other = Ring::new(2).unwrap();
    let other_bufs = other.register_buffers_sparse(2).unwrap();
    // SAFETY: fails before the kernel is asked.
    let e = unsafe { dst.clone_buffers_replace(table, 0, &src, &other_bufs, 0, 1) }.unwrap_err();
    assert!(matches!(e.error, Error::InvalidArgument(_)), "{}", e.error);
    // SAFETY: as above.
    let e = unsafe { dst.clone_buffers_replace(e.handle, 0, &other, &src_bufs, 0, 1) }.unwrap_err();
    assert!(matches!(e.error, Error::InvalidArgument(_)), "{}", e.error);
    let table = e.handle;
    // Still usable.
    let data = pattern(32, 1);
    let file = uring_tests::file_of(&data);
    let n = read_fixed(&mut dst, &file, &mut dst_mem[..32], table.get(0).unwrap());
    assert_eq!(n, 32);
    assert_eq!(dst_mem[..32], data[..]);
}

/// What the kernel itself answers, which the library's checks mirror:
/// cloning into a ring with a table without `IORING_REGISTER_DST_REPLACE`
/// is `EBUSY` (at any offset), a source range past the source table
/// `EOVERFLOW`, more buffers than the source has `EINVAL`, and an offset
/// without a count `EINVAL`.
#[test]
fn the_kernel_s_answers_to_bad_clones() {
    if !require_kernel(6, 13, "IORING_REGISTER_DST_REPLACE") {
        return;
    }
    let mut src_mem = vec![0u8; 2 * 4096];
    let mut dst_mem = vec![0u8; 4096];
    let mut src = Ring::new(4).unwrap();
    let mut dst = Ring::new(4).unwrap();
    // SAFETY: the vector outlives both rings and is touched only
    // through their ops.
    let src_bufs = unsafe { register_pages(&mut src, &mut src_mem) };
    // SAFETY: as above.
    let table = unsafe { dst.register_buffers(&[IoSliceMut::new(&mut dst_mem)]) }.unwrap();
    let clone = |flags: u32, src_off: u32, dst_off: u32, nr: u32| sys::io_uring_clone_buffers {
        src_fd: src.as_raw_fd() as u32,
        flags,
        src_off,
        dst_off,
        nr,
        ..Default::default()
    };
    let replace = sys::IORING_REGISTER_DST_REPLACE;
    // SAFETY: each of these fails, sharing nothing; the vectors outlive
    // both rings anyway.
    unsafe {
        assert_eq!(raw_clone(dst.as_raw_fd(), &clone(0, 0, 1, 1)), libc::EBUSY);
        assert_eq!(raw_clone(dst.as_raw_fd(), &clone(0, 0, 0, 0)), libc::EBUSY);
        assert_eq!(
            raw_clone(dst.as_raw_fd(), &clone(replace, 1, 0, 2)),
            libc::EOVERFLOW
        );
        assert_eq!(
            raw_clone(dst.as_raw_fd(), &clone(replace, 0, 0, 3)),
            libc::EINVAL
        );
        assert_eq!(
            raw_clone(dst.as_raw_fd(), &clone(replace, 0, 1, 0)),
            libc::EINVAL
        );
    }
    // Through the library: `clone_buffers` (no replace flag) into a ring
    // with a table is the kernel's EBUSY.
    // SAFETY: fails, sharing nothing.
    let e = unsafe { dst.clone_buffers(&src, &src_bufs, 0, 1) }.unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBUSY), "{e}");
    // The failed clones left the table alone.
    let data = pattern(16, 2);
    let file = uring_tests::file_of(&data);
    let n = read_fixed(&mut dst, &file, &mut dst_mem[..16], table.get(0).unwrap());
    assert_eq!(n, 16);
    assert_eq!(dst_mem[..16], data[..]);
}

/// A replaced slot's tag is posted once the kernel lets go of its buffer.
#[test]
fn a_replaced_tagged_buffer_posts_its_tag() {
    if !require_kernel(6, 13, "IORING_REGISTER_DST_REPLACE") {
        return;
    }
    let mut src_mem = vec![0u8; 4096];
    let mut dst_mem = vec![0u8; 2 * 4096];
    let mut src = Ring::new(4).unwrap();
    let mut dst = Ring::new(4).unwrap();
    if !require_features(&dst, Features::RSRC_TAGS, "resource tags") {
        return;
    }
    // SAFETY: the vector outlives both rings and is touched only through
    // their ops.
    let src_bufs = unsafe { src.register_buffers(&[IoSliceMut::new(&mut src_mem)]) }.unwrap();
    let dst_bufs = {
        let slices: Vec<IoSliceMut<'_>> = dst_mem.chunks_mut(4096).map(IoSliceMut::new).collect();
        // SAFETY: as above.
        unsafe { dst.register_buffers_tagged(&slices, &[0x71, 0x72]) }.unwrap()
    };
    // SAFETY: both vectors outlive both rings.
    let table = unsafe { dst.clone_buffers_replace(dst_bufs, 1, &src, &src_bufs, 0, 1) }.unwrap();
    dst.submit_and_wait_timeout(1, uring_tests::PATIENCE)
        .unwrap();
    let posted: Vec<_> = dst
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(posted, [(0x72, 0)], "the replaced buffer's tag, only");
    dst.unregister_buffers(table).unwrap();
    dst.submit_and_wait_timeout(1, uring_tests::PATIENCE)
        .unwrap();
    let posted: Vec<_> = dst
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(
        posted,
        [(0x71, 0)],
        "the kept buffer's tag; the clone has none"
    );
}

// ---------------------------------------------------------------------------
// A registration with empty slots.
// ---------------------------------------------------------------------------

#[test]
fn a_registration_with_holes_leaves_those_slots_empty_until_updated() {
    let mut mem = vec![0u8; 3 * 4096];
    let mut ring = Ring::new(4).unwrap();
    let (a, rest) = mem.split_at_mut(4096);
    let (b, c) = rest.split_at_mut(4096);
    let (a_at, b_at, c_at) = (
        a.as_ptr() as usize,
        b.as_ptr() as usize,
        c.as_ptr() as usize,
    );
    // SAFETY: the vector outlives the ring and is touched only through its
    // ops.
    let table = unsafe {
        ring.register_buffer_slots(&[Some(IoSliceMut::new(a)), None, Some(IoSliceMut::new(c))])
    }
    .unwrap();
    assert_eq!(table.len(), 3);
    let data = pattern(4096, 77);
    let file = uring_tests::file_of(&data);
    let base = mem.as_ptr() as usize;
    assert_eq!((a_at - base, b_at - base, c_at - base), (0, 4096, 8192));
    // The hole: the kernel's EFAULT, nothing written.
    let n = read_fixed(
        &mut ring,
        &file,
        &mut mem[4096..4096 + 64],
        table.get(1).unwrap(),
    );
    assert_eq!(n, -libc::EFAULT);
    assert_eq!(mem[4096..4096 + 64], [0; 64]);
    // The filled slots around it.
    let n = read_fixed(&mut ring, &file, &mut mem[10..110], table.get(0).unwrap());
    assert_eq!(n, 100);
    assert_eq!(mem[10..110], data[..100]);
    let n = read_fixed(
        &mut ring,
        &file,
        &mut mem[8192..8192 + 200],
        table.get(2).unwrap(),
    );
    assert_eq!(n, 200);
    assert_eq!(mem[8192..8192 + 200], data[..200]);
    // Filled later.
    let (_, rest) = mem.split_at_mut(4096);
    let (b, _) = rest.split_at_mut(4096);
    // SAFETY: as above.
    let updated = unsafe { ring.update_buffers(&table, 1, &[Some(IoSliceMut::new(b))]) }.unwrap();
    assert_eq!(updated, 1);
    let n = read_fixed(
        &mut ring,
        &file,
        &mut mem[4096..4096 + 64],
        table.get(1).unwrap(),
    );
    assert_eq!(n, 64);
    assert_eq!(mem[4096..4096 + 64], data[..64]);
    ring.unregister_buffers(table).unwrap();
}

#[test]
fn a_tagged_registration_with_holes() {
    let mut mem = vec![0u8; 2 * 4096];
    let mut ring = Ring::new(4).unwrap();
    if !require_features(&ring, Features::RSRC_TAGS, "resource tags") {
        return;
    }
    {
        let (a, b) = mem.split_at_mut(4096);
        // A tag on a hole: the kernel's EINVAL, nothing registered.
        // SAFETY: the vector outlives the ring and is touched only through
        // its ops.
        let e = unsafe {
            ring.register_buffer_slots_tagged(
                &[Some(IoSliceMut::new(a)), None, Some(IoSliceMut::new(b))],
                &[1, 2, 3],
            )
        }
        .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    }
    // Lengths that do not match, and no slot at all, never reach the kernel.
    // SAFETY: these fail before registering anything.
    unsafe {
        let e = ring
            .register_buffer_slots_tagged(&[None, None], &[0])
            .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        let e = ring.register_buffer_slots(&[]).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    }
    let (a, b) = mem.split_at_mut(4096);
    // SAFETY: as above.
    let table = unsafe {
        ring.register_buffer_slots_tagged(
            &[Some(IoSliceMut::new(a)), None, Some(IoSliceMut::new(b))],
            &[0x51, 0, 0x53],
        )
    }
    .unwrap();
    assert_eq!(table.len(), 3);
    let data = pattern(64, 12);
    let file = uring_tests::file_of(&data);
    let n = read_fixed(
        &mut ring,
        &file,
        &mut mem[4096..4096 + 64],
        table.get(2).unwrap(),
    );
    assert_eq!(n, 64);
    assert_eq!(mem[4096..4096 + 64], data[..]);
    let mut scratch = [0u8; 8];
    let n = read_fixed(&mut ring, &file, &mut scratch, table.get(1).unwrap());
    assert_eq!(n, -libc::EFAULT);
    ring.unregister_buffers(table).unwrap();
    ring.submit_and_wait_timeout(2, uring_tests::PATIENCE)
        .unwrap();
    let mut posted: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    posted.sort_unstable();
    assert_eq!(posted, [(0x51, 0), (0x53, 0)]);
}

// ---------------------------------------------------------------------------
// Vectored sends.
// ---------------------------------------------------------------------------

/// Whether the kernel takes `IORING_SEND_VECTORIZED` (6.17); `false`, with
/// a skip message, otherwise.
fn require_vectorized(ring: &Ring) -> bool {
    require_op::<SendV<'_, '_>>(ring)
}

#[test]
fn a_vectored_send_delivers_the_buffers_in_order() {
    let mut ring = Ring::new(4).unwrap();
    if !require_vectorized(&ring) {
        return;
    }
    let (tx, mut rx) = UnixStream::pair().unwrap();
    let parts: [&[u8]; 3] = [b"vectored ", b"", b"sends, in order"];
    let iovecs: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
    let cqe = complete(
        &mut ring,
        SendV::new(&tx, &iovecs).msg_flags(MsgFlags::NOSIGNAL),
    );
    let want: Vec<u8> = parts.concat();
    assert_eq!(cqe.res(), want.len() as i32, "{cqe:?}");
    let mut got = vec![0u8; want.len()];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(got, want);
    // POLL_FIRST is taken with it.
    let cqe = complete(
        &mut ring,
        SendV::new(&tx, &iovecs[2..]).send_flags(SendFlags::POLL_FIRST),
    );
    assert_eq!(cqe.res(), 15, "{cqe:?}");
    let mut got = [0u8; 15];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"sends, in order");
    // With a bundle (no provided buffer here), Linux 6.18 sends once and
    // posts the count flagged IORING_CQE_F_MORE, then a last completion of
    // 0 (older kernels refuse the bundle: EINVAL).
    push_lent!(
        ring,
        SendV::new(&tx, &iovecs)
            .send_flags(SendFlags::BUNDLE)
            .user_data(9)
    )
    .unwrap();
    let _ = ring.submit_and_wait_timeout(2, uring_tests::PATIENCE);
    let cqes: Vec<_> = ring.completions().collect();
    let first = cqes[0];
    if first.res() == -libc::EINVAL {
        assert_eq!(cqes.len(), 1, "{cqes:?}");
        assert_eq!(first.flags() & sys::IORING_CQE_F_MORE, 0, "{first:?}");
    } else {
        assert_eq!(cqes.len(), 2, "{cqes:?}");
        assert_eq!(first.res(), want.len() as i32, "{first:?}");
        assert_ne!(first.flags() & sys::IORING_CQE_F_MORE, 0, "{first:?}");
        let last = cqes[1];
        assert_eq!((last.user_data(), last.res()), (9, 0), "{last:?}");
        assert_eq!(last.flags() & sys::IORING_CQE_F_MORE, 0, "{last:?}");
        let mut got = vec![0u8; want.len()];
        rx.read_exact(&mut got).unwrap();
        assert_eq!(got, want);
    }
}

#[test]
fn a_vectored_zero_copy_send_delivers_the_buffers_then_notifies() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(4).unwrap();
    if !require_op::<SendZcV<'_, '_>>(&ring) {
        return;
    }
    let (tx, mut rx) = tcp_pair();
    let first = pattern(3000, 4);
    let second = pattern(5000, 8);
    let iovecs = [IoSlice::new(&first), IoSlice::new(&second)];
    push_lent!(
        ring,
        SendZcV::new(&tx, &iovecs)
            .send_flags(SendZcFlags::REPORT_USAGE)
            .user_data(5)
    )
    .unwrap();
    let cqes = uring_tests::submit_and_reap(&mut ring, 2);
    assert_eq!(cqes[0].user_data(), 5);
    assert_eq!(cqes[0].res(), 8000, "{:?}", cqes[0]);
    assert!(
        cqes[0].flags() & sys::IORING_CQE_F_MORE != 0,
        "{:?}",
        cqes[0]
    );
    assert_eq!(cqes[1].user_data(), 5);
    assert!(
        cqes[1].flags() & sys::IORING_CQE_F_NOTIF != 0,
        "{:?}",
        cqes[1]
    );
    let mut got = vec![0u8; 8000];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(got[..3000], first[..]);
    assert_eq!(got[3000..], second[..]);
}

/// The 64 bytes liburing writes with `io_uring_prep_send(sqe, fd, iovecs,
/// nr, msg_flags)` (or `io_uring_prep_send_zc(.., zc_flags)`) followed by
/// `sqe->ioprio |= IORING_SEND_VECTORIZED`, and `user_data`.
fn liburing_send(
    opcode: u8,
    ioprio: u16,
    fd: i32,
    addr: u64,
    nr: u32,
    msg_flags: u32,
    user_data: u64,
) -> [u8; 64] {
    let mut b = [0u8; 64];
    b[0] = opcode;
    b[2..4].copy_from_slice(&ioprio.to_ne_bytes());
    b[4..8].copy_from_slice(&fd.to_ne_bytes());
    b[16..24].copy_from_slice(&addr.to_ne_bytes());
    b[24..28].copy_from_slice(&nr.to_ne_bytes());
    b[28..32].copy_from_slice(&msg_flags.to_ne_bytes());
    b[32..40].copy_from_slice(&user_data.to_ne_bytes());
    b
}

/// The bytes of the SQEs pushed on `ring` and not yet submitted.
fn pending_bytes(ring: &mut Ring) -> Vec<[u8; 64]> {
    ring.pending_sqes()
        .map(|sqe| {
            const _: () = assert!(mem::size_of::<sys::io_uring_sqe>() == 64);
            // SAFETY: `io_uring_sqe` is 64 bytes without padding, and this
            // copy was read from the SQ array, whose bytes are initialised.
            unsafe { mem::transmute::<sys::io_uring_sqe, [u8; 64]>(sqe) }
        })
        .collect()
}

#[test]
fn a_vectored_send_writes_liburing_s_sqe() {
    // A ring that is never submitted: the kernel reads none of these SQEs.
    let mut ring = Ring::new(8).unwrap();
    let (tx, _rx) = UnixStream::pair().unwrap();
    let a = *b"abc";
    let b = *b"defgh";
    let iovecs = [IoSlice::new(&a), IoSlice::new(&b)];
    let fd = tx.as_raw_fd();
    let addr = iovecs.as_ptr() as u64;
    let nosignal = libc::MSG_NOSIGNAL as u32;
    let pushes: [(u8, u16, u32); 4] = [
        (sys::IORING_OP_SEND, sys::IORING_SEND_VECTORIZED, nosignal),
        (
            sys::IORING_OP_SEND,
            sys::IORING_SEND_VECTORIZED | sys::IORING_RECVSEND_POLL_FIRST,
            0,
        ),
        (sys::IORING_OP_SEND_ZC, sys::IORING_SEND_VECTORIZED, 0),
        (
            sys::IORING_OP_SEND_ZC,
            sys::IORING_SEND_VECTORIZED | sys::IORING_SEND_ZC_REPORT_USAGE,
            nosignal,
        ),
    ];
    // SAFETY: nothing pushed here is submitted, and the ring has no SQ
    // thread: the kernel never reads these SQEs or what they point to.
    unsafe {
        ring.push_unchecked(
            SendV::new(&tx, &iovecs)
                .msg_flags(MsgFlags::NOSIGNAL)
                .user_data(1),
        )
        .unwrap();
        ring.push_unchecked(
            SendV::new(&tx, &iovecs)
                .send_flags(SendFlags::POLL_FIRST)
                .user_data(2),
        )
        .unwrap();
        ring.push_unchecked(SendZcV::new(&tx, &iovecs).user_data(3))
            .unwrap();
        ring.push_unchecked(
            SendZcV::new(&tx, &iovecs)
                .msg_flags(MsgFlags::NOSIGNAL)
                .send_flags(SendZcFlags::REPORT_USAGE)
                .user_data(4),
        )
        .unwrap();
    }
    let ours = pending_bytes(&mut ring);
    assert_eq!(ours.len(), 4);
    for (i, ((opcode, ioprio, msg_flags), ours)) in pushes.into_iter().zip(ours).enumerate() {
        let theirs = liburing_send(opcode, ioprio, fd, addr, 2, msg_flags, i as u64 + 1);
        assert_eq!(ours, theirs, "SQE {i}");
    }
}

#[test]
fn send_flags_cannot_carry_the_vectorized_bit() {
    let v = sys::IORING_SEND_VECTORIZED;
    assert_eq!(SendFlags::from_bits(v), None);
    assert_eq!(
        SendFlags::from_bits_truncate(v | sys::IORING_RECVSEND_POLL_FIRST),
        SendFlags::POLL_FIRST
    );
    assert_eq!(SendFlags::all().bits() & v, 0);
    assert_eq!(SendZcFlags::from_bits(v), None);
    assert_eq!(SendZcFlags::all().bits() & v, 0);
    // So a plain send, with every flag it takes, never sets it: its buffer
    // is bytes, not iovecs.
    let mut ring = Ring::new(2).unwrap();
    let (tx, _rx) = UnixStream::pair().unwrap();
    let buf = *b"bytes";
    // SAFETY: never submitted; the ring has no SQ thread.
    unsafe {
        ring.push_unchecked(Send::new(&tx, &buf).send_flags(SendFlags::all()))
            .unwrap();
    }
    let sqe = pending_bytes(&mut ring)[0];
    let ioprio = u16::from_ne_bytes([sqe[2], sqe[3]]);
    assert_eq!(ioprio, SendFlags::all().bits());
    assert_eq!(ioprio & v, 0);
}
