//! A fourth batch of ports of liburing's own test cases (the `test/`
//! directory of github.com/axboe/liburing) to uring's API, for the C files
//! the other `liburing_cases*.rs` leave out: reads and writes (buffered,
//! `O_DIRECT`, vectored, registered buffers), polls, sockets, synchronous
//! cancellation, the file and path ops, links, `io_uring_enter(2)` itself
//! and `/proc/self/fdinfo`. Each test names its C file and asserts what the
//! C test asserts of the kernel (results, errnos, order, counts, flags).
//! Where the C test reaches the kernel in a way uring refuses on purpose
//! (a null pointer in an SQE, an iovec overwritten while the kernel may
//! still read it), the port builds that SQE by hand through `push_raw` and
//! says so.

use std::ffi::CString;
use std::fs::File;
use std::io::{IoSlice, IoSliceMut, Read as _, Write as _};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;
use uring_tests::{aligned_blocks, block_bytes, cpath};

use uring::ops::{
    Connect, FGetXattr, FSetXattr, Fadvise, Fallocate, Fsync, Ftruncate, GetXattr, LinkAt, Madvise,
    Nop, OpenAt2, PollAdd, PollRemove, Read, ReadFixed, ReadV, Recv, RemoveBuffers, Send, SendV,
    SetXattr, Socket, Timeout, Write, WriteFixed, WriteV,
};
use uring::{
    BufferGroup, DirectSlot, Fd, Features, FixedBuffers, MadviseRange, PollEvents, PollFlags, Ring,
    SockAddr, SqeFlags, SyncCancel, sys,
};
use uring_tests::{
    PATIENCE, complete, pattern, pipe, push_lent, raw_sqe, reap_sorted, require_kernel, skip,
    stray, submit_and_reap,
};

// ---------------------------------------------------------------- helpers

/// Opens `path` with `flags` (`O_DIRECT` among them or not); `None` (with a
/// skip message) if the file system refuses `O_DIRECT`.
fn open_with(path: &Path, write: bool, direct: bool) -> Option<File> {
    let mut open = std::fs::OpenOptions::new();
    if write {
        open.write(true);
    } else {
        open.read(true);
    }
    if direct {
        open.custom_flags(libc::O_DIRECT);
    }
    match open.open(path) {
        Ok(file) => Some(file),
        Err(e) if direct && e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no O_DIRECT on this file system: {e}"));
            None
        }
        Err(e) => panic!("open {path:?}: {e}"),
    }
}

/// A ring with an SQ thread, or `None` with a skip message.
fn sqpoll_ring(entries: u32) -> Option<Ring> {
    if !uring_tests::require_sqpoll() {
        return None;
    }
    match Ring::builder()
        .sqpoll(Duration::from_millis(100))
        .build(entries)
    {
        Ok(ring) => Some(ring),
        Err(e) => {
            skip(format_args!("no SQPOLL ring: {e}"));
            None
        }
    }
}

/// A deferred-task-work ring of `entries` (disabled if asked), or `None`
/// with a skip message.
fn defer_ring(entries: u32, disabled: bool) -> Option<Ring> {
    let mut builder = Ring::builder().single_issuer().defer_taskrun();
    if disabled {
        builder = builder.r_disabled();
    }
    match builder.build(entries) {
        Ok(ring) => Some(ring),
        Err(e) => {
            skip(format_args!("no DEFER_TASKRUN: {e}"));
            None
        }
    }
}

/// Waits, submitting what is pushed, until `n` completions have arrived
/// or [`PATIENCE`] has passed with none; returns them as `(user_data,
/// res)` in arrival order.
fn wait_n(ring: &mut Ring, n: usize) -> Vec<(u64, i32)> {
    let mut got = Vec::new();
    ring.submit().unwrap();
    while got.len() < n {
        ring.submit_and_wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{e} after {got:?}"));
        got.extend(ring.completions().map(|c| (c.user_data(), c.res())));
    }
    assert_eq!(got.len(), n, "more completions than expected: {got:?}");
    got
}

// ---------------------------------------------------------------- read-write.c

/// File size and block size of read-write.c.
const RW_FILE: usize = 256 * 1024;
const RW_BS: usize = 8192;
const RW_BUFFERS: usize = RW_FILE / RW_BS;

/// How read-write.c's `_test_io` issues each I/O.
#[derive(Clone, Copy, Debug, PartialEq)]
enum RwMode {
    /// `prep_readv` / `prep_writev` of one iovec.
    Vectored,
    /// `prep_read` / `prep_write`.
    NonVectored,
    /// `prep_read_fixed` / `prep_write_fixed` on even `i`, `readv` /
    /// `writev` on odd `i`, over registered buffers.
    Fixed,
}

/// The offset block of I/O `i`: a permutation of the blocks, so that each
/// block is written once and a read's bytes are known (the C test picks
/// offsets at random, with repeats, and checks lengths only).
fn rw_block(i: usize) -> usize {
    (i * 7 + 3) % RW_BUFFERS
}

/// One pass of read-write.c's `_test_io`: `RW_BUFFERS` I/Os of `RW_BS`
/// bytes, each from or into its own buffer of `mem`, at the offsets of
/// [`rw_block`], issued as `mode` says (through `table`, registered over
/// `mem`, for `Fixed`), all submitted at once. Returns `(user_data, res)`
/// sorted.
fn rw_pass(
    ring: &mut Ring,
    file: &File,
    write: bool,
    mode: RwMode,
    table: Option<&FixedBuffers>,
    mem: &mut [u8],
) -> Vec<(u64, i32)> {
    let mut got = Vec::new();
    if write {
        let mut iovs: Vec<[IoSlice<'_>; 1]> =
            mem.chunks(RW_BS).map(|c| [IoSlice::new(c)]).collect();
        ring.scope(|s| {
            for (i, iov) in iovs.iter_mut().enumerate() {
                let off = (rw_block(i) * RW_BS) as u64;
                let ud = i as u64;
                let fixed = mode == RwMode::Fixed && i % 2 == 0;
                if fixed {
                    let index = table.unwrap().get(i as u32).unwrap();
                    s.push(
                        WriteFixed::new(file, &iov[0][..], index)
                            .offset(off)
                            .user_data(ud),
                    )
                    .unwrap();
                } else if mode == RwMode::NonVectored {
                    s.push(Write::new(file, &iov[0][..]).offset(off).user_data(ud))
                        .unwrap();
                } else {
                    s.push(WriteV::new(file, &iov[..]).offset(off).user_data(ud))
                        .unwrap();
                }
            }
            assert_eq!(s.submit().unwrap(), RW_BUFFERS as u32);
            while got.len() < RW_BUFFERS {
                s.wait_timeout(1, PATIENCE).unwrap();
                got.extend(s.completions().map(|c| (c.user_data(), c.res())));
            }
        });
    } else {
        let mut iovs: Vec<[IoSliceMut<'_>; 1]> = mem
            .chunks_mut(RW_BS)
            .map(|c| [IoSliceMut::new(c)])
            .collect();
        ring.scope(|s| {
            for (i, iov) in iovs.iter_mut().enumerate() {
                let off = (rw_block(i) * RW_BS) as u64;
                let ud = i as u64;
                let fixed = mode == RwMode::Fixed && i % 2 == 0;
                if fixed {
                    let index = table.unwrap().get(i as u32).unwrap();
                    s.push(
                        ReadFixed::new(file, &mut iov[0][..], index)
                            .offset(off)
                            .user_data(ud),
                    )
                    .unwrap();
                } else if mode == RwMode::NonVectored {
                    s.push(Read::new(file, &mut iov[0][..]).offset(off).user_data(ud))
                        .unwrap();
                } else {
                    s.push(ReadV::new(file, &mut iov[..]).offset(off).user_data(ud))
                        .unwrap();
                }
            }
            assert_eq!(s.submit().unwrap(), RW_BUFFERS as u32);
            while got.len() < RW_BUFFERS {
                s.wait_timeout(1, PATIENCE).unwrap();
                got.extend(s.completions().map(|c| (c.user_data(), c.res())));
            }
        });
    }
    got.sort_unstable();
    got
}

/// read-write.c's `test_io(write, buffered, fixed, nonvec)`: a file of
/// 256 KiB; 32 I/Os of 8 KiB at once, each completing with its full
/// length (checked against `vecs[user_data].iov_len`). Beyond the C test,
/// a read's buffer holds the file's bytes at its offset, and after the
/// writes the file holds each buffer at its offset. With registered
/// buffers, the pass is run again on a second ring that cloned the first
/// ring's table (`io_uring_clone_buffers`, 6.12), and both tables are
/// unregistered.
fn read_write(write: bool, buffered: bool, mode: RwMode) {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let path = dir.path().join("read-write");
    let contents = pattern(RW_FILE, 5);
    std::fs::write(&path, &contents).unwrap();
    let Some(file) = open_with(&path, write, !buffered) else {
        return;
    };
    let mut ring = Ring::new(64).unwrap();
    let mut blocks = aligned_blocks(RW_FILE);
    let mem = block_bytes(&mut blocks);
    let fill = |mem: &mut [u8], seed: u8| {
        for (i, chunk) in mem.chunks_mut(RW_BS).enumerate() {
            chunk.copy_from_slice(&pattern(RW_BS, seed.wrapping_add(i as u8)));
        }
    };
    let check = |mem: &mut [u8], seed: u8, pass: &str| {
        if write {
            let on_disk = std::fs::read(&path).unwrap();
            for i in 0..RW_BUFFERS {
                let at = rw_block(i) * RW_BS;
                assert_eq!(
                    &on_disk[at..at + RW_BS],
                    &pattern(RW_BS, seed.wrapping_add(i as u8))[..],
                    "{pass}: block written by I/O {i}"
                );
            }
        } else {
            for (i, chunk) in mem.chunks(RW_BS).enumerate() {
                let at = rw_block(i) * RW_BS;
                assert_eq!(
                    chunk,
                    &contents[at..at + RW_BS],
                    "{pass}: buffer of I/O {i}"
                );
            }
        }
    };
    let expect: Vec<(u64, i32)> = (0..RW_BUFFERS as u64).map(|i| (i, RW_BS as i32)).collect();
    fill(mem, 40);
    let table = if mode == RwMode::Fixed {
        let iovs: Vec<IoSliceMut<'_>> = mem.chunks_mut(RW_BS).map(IoSliceMut::new).collect();
        // SAFETY: `blocks` is declared before the rings and outlives them;
        // the registered memory is touched only through this test's ops and
        // between their scopes.
        Some(unsafe { ring.register_buffers(&iovs) }.unwrap())
    } else {
        None
    };
    let got = rw_pass(&mut ring, &file, write, mode, table.as_ref(), mem);
    assert_eq!(got, expect, "first ring");
    check(mem, 40, "first ring");
    let Some(table) = table else {
        return;
    };
    let mut ring2 = Ring::new(64).unwrap();
    // SAFETY: as above: the cloned table names the same memory, which
    // outlives `ring2`.
    match unsafe { ring2.clone_buffers(&ring, &table, 0, RW_BUFFERS as u32) } {
        Ok(table2) => {
            mem.fill(0);
            fill(mem, 80);
            let got = rw_pass(&mut ring2, &file, write, mode, Some(&table2), mem);
            assert_eq!(got, expect, "the ring that cloned the buffers");
            check(mem, 80, "the ring that cloned the buffers");
            ring2.unregister_buffers(table2).unwrap();
        }
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no io_uring_clone_buffers (6.12): {e}"));
        }
        Err(e) => panic!("clone_buffers: {e}"),
    }
    ring.unregister_buffers(table).unwrap();
}

/// read-write.c `test_io` (buffered write, vectored).
#[test]
fn read_write_buffered_writev() {
    read_write(true, true, RwMode::Vectored);
}

/// read-write.c `test_io` (buffered read, vectored).
#[test]
fn read_write_buffered_readv() {
    read_write(false, true, RwMode::Vectored);
}

/// read-write.c `test_io` (buffered write, non-vectored `IORING_OP_WRITE`).
#[test]
fn read_write_buffered_write_nonvec() {
    read_write(true, true, RwMode::NonVectored);
}

/// read-write.c `test_io` (buffered read, non-vectored `IORING_OP_READ`).
#[test]
fn read_write_buffered_read_nonvec() {
    read_write(false, true, RwMode::NonVectored);
}

/// read-write.c `test_io` (buffered write, registered buffers on even
/// I/Os, then again on a ring that cloned them).
#[test]
fn read_write_buffered_write_fixed() {
    read_write(true, true, RwMode::Fixed);
}

/// read-write.c `test_io` (buffered read, registered buffers).
#[test]
fn read_write_buffered_read_fixed() {
    read_write(false, true, RwMode::Fixed);
}

/// read-write.c `test_io` (`O_DIRECT` write, vectored).
#[test]
fn read_write_direct_writev() {
    read_write(true, false, RwMode::Vectored);
}

/// read-write.c `test_io` (`O_DIRECT` read, vectored).
#[test]
fn read_write_direct_readv() {
    read_write(false, false, RwMode::Vectored);
}

/// read-write.c `test_io` (`O_DIRECT` read, non-vectored).
#[test]
fn read_write_direct_read_nonvec() {
    read_write(false, false, RwMode::NonVectored);
}

/// read-write.c `test_io` (`O_DIRECT` write, registered buffers).
#[test]
fn read_write_direct_write_fixed() {
    read_write(true, false, RwMode::Fixed);
}

/// read-write.c `test_io` (`O_DIRECT` read, registered buffers).
#[test]
fn read_write_direct_read_fixed() {
    read_write(false, false, RwMode::Fixed);
}

/// read-write.c `test_io` with `sqthread`: the file registered (slot 0,
/// `IOSQE_FIXED_FILE`) on an SQPOLL ring; 32 buffered `writev`s, then 32
/// `readv`s, each completing with 8 KiB, the reads giving back what was
/// written.
#[test]
fn read_write_sqpoll_registered_file() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = sqpoll_ring(64) else {
        return;
    };
    let dir = uring_tests::test_dir!();
    let path = dir.path().join("read-write-sqpoll");
    std::fs::write(&path, vec![0u8; RW_FILE]).unwrap();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    let data = pattern(RW_FILE, 9);
    let mut back = vec![0u8; RW_FILE];
    let expect: Vec<(u64, i32)> = (0..RW_BUFFERS as u64).map(|i| (i, RW_BS as i32)).collect();
    let slot = files.get(0).unwrap();
    let wiovs: Vec<[IoSlice<'_>; 1]> = data.chunks(RW_BS).map(|c| [IoSlice::new(c)]).collect();
    let wrote = ring.scope(|s| {
        for (i, iov) in wiovs.iter().enumerate() {
            s.push(
                WriteV::new(slot, &iov[..])
                    .offset((i * RW_BS) as u64)
                    .user_data(i as u64),
            )
            .unwrap();
        }
        let mut got = Vec::new();
        s.submit().unwrap();
        while got.len() < RW_BUFFERS {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got.sort_unstable();
        got
    });
    assert_eq!(wrote, expect);
    let mut iovs: Vec<[IoSliceMut<'_>; 1]> = back
        .chunks_mut(RW_BS)
        .map(|c| [IoSliceMut::new(c)])
        .collect();
    let read = ring.scope(|s| {
        for (i, iov) in iovs.iter_mut().enumerate() {
            s.push(
                ReadV::new(slot, &mut iov[..])
                    .offset((i * RW_BS) as u64)
                    .user_data(i as u64),
            )
            .unwrap();
        }
        let mut got = Vec::new();
        s.submit().unwrap();
        while got.len() < RW_BUFFERS {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got.sort_unstable();
        got
    });
    assert_eq!(read, expect);
    drop(iovs);
    assert_eq!(back, data);
    ring.unregister_files(files).unwrap();
}

/// read-write.c `test_eventfd_read`: a read of 8 bytes from an eventfd
/// whose count is 1 completes with 8 (the C test writes 1 more after the
/// submit; the read has already taken the count or takes the sum).
#[test]
fn read_write_eventfd_read() {
    let _watch = uring_tests::watchdog();
    // SAFETY: eventfd takes plain integers.
    let raw = unsafe { libc::eventfd(1, libc::EFD_CLOEXEC) };
    assert!(raw >= 0);
    // SAFETY: just made, owned by no one else.
    let efd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut ring = Ring::new(8).unwrap();
    let mut value = [0u8; 8];
    let cqe = ring.scope(|s| {
        s.push(Read::new(&efd, &mut value[..]).user_data(1))
            .unwrap();
        s.submit().unwrap();
        File::from(efd.try_clone().unwrap())
            .write_all(&1u64.to_ne_bytes())
            .unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        s.completions().next().unwrap().cqe()
    });
    assert_eq!(cqe.res(), 8);
    let n = u64::from_ne_bytes(value);
    assert!(n == 1 || n == 2, "eventfd count {n}");
}

/// read-write.c `test_io_link`: 100 chains of 100 `writev`s of 8 KiB, each
/// forced to a worker (`IOSQE_ASYNC`), all submitted at once: all 10 000
/// complete with 8 KiB. (A chain whose length is known only at run time
/// has no typed form, `a.link(b)` nesting its type per link: the SQEs are
/// written by hand and pushed with `push_raw`.)
#[test]
fn read_write_io_link_of_async_writes() {
    let _watch = uring_tests::watchdog();
    const LINKS: usize = 100;
    const LINK_LEN: usize = 100;
    let dir = uring_tests::test_dir!();
    let path = dir.path().join("io-link");
    std::fs::write(&path, vec![0u8; RW_BS]).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let data = pattern(RW_BS, 2);
    let iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    let mut ring = Ring::new((LINKS * LINK_LEN) as u32).unwrap();
    let mut sqes = Vec::with_capacity(LINKS * LINK_LEN);
    for i in 0..LINKS {
        for j in 0..LINK_LEN {
            let mut flags = sys::IOSQE_ASYNC;
            if j != LINK_LEN - 1 {
                flags |= sys::IOSQE_IO_LINK;
            }
            sqes.push(raw_sqe(
                sys::IORING_OP_WRITEV,
                file.as_raw_fd(),
                &iov as *const libc::iovec as u64,
                1,
                flags,
                (i * LINK_LEN + j) as u64,
            ));
        }
    }
    // SAFETY: each SQE writes from `data` through `iov` into `file`, all of
    // which outlive the ring's use of them: every completion is reaped
    // below before they go out of scope.
    unsafe { ring.push_raw(&sqes) }.unwrap();
    let got = submit_and_reap(&mut ring, LINKS * LINK_LEN);
    let bad: Vec<(u64, i32)> = uring_tests::pairs(&got)
        .into_iter()
        .filter(|&(_, res)| res != RW_BS as i32)
        .collect();
    assert!(bad.is_empty(), "writes that did not write 8 KiB: {bad:?}");
    assert_eq!(std::fs::read(&path).unwrap(), data);
}

/// Limits this process's file size to `limit` bytes and ignores
/// `SIGXFSZ`, so that writes past it fail with `EFBIG`.
fn limit_file_size(limit: u64) {
    let rlim = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: plain process-wide settings; this process is a child that
    // runs this one test.
    unsafe {
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &rlim), 0);
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// read-write.c `test_write_efbig`: with `RLIMIT_FSIZE` at 128 KiB, 32
/// `writev`s of 8 KiB at consecutive offsets: the 16 below the limit
/// complete with 8 KiB, the 16 past it with `-EFBIG`. (Run in a process of
/// its own: the limit applies to the whole process.)
#[test]
fn read_write_write_efbig() {
    const NAME: &str = "read_write_write_efbig";
    if !uring_tests::in_child(NAME) {
        uring_tests::run_in_child(NAME);
        return;
    }
    let _watch = uring_tests::watchdog();
    limit_file_size(128 * 1024);
    let file = tempfile::tempfile_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = pattern(RW_BS, 4);
    let iovs: Vec<[IoSlice<'_>; 1]> = (0..32).map(|_| [IoSlice::new(&data)]).collect();
    let mut ring = Ring::new(32).unwrap();
    let got = ring.scope(|s| {
        for (i, iov) in iovs.iter().enumerate() {
            s.push(
                WriteV::new(&file, &iov[..])
                    .offset((i * RW_BS) as u64)
                    .user_data(i as u64),
            )
            .unwrap();
        }
        assert_eq!(s.submit().unwrap(), 32);
        let mut got = Vec::new();
        while got.len() < 32 {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got.sort_unstable();
        got
    });
    let expect: Vec<(u64, i32)> = (0..32u64)
        .map(|i| (i, if i < 16 { RW_BS as i32 } else { -libc::EFBIG }))
        .collect();
    assert_eq!(got, expect);
}

// ---------------------------------------------------------------- short-read.c

/// short-read.c: a `readv` of 4096 bytes at offset 0 of a 1024-byte file
/// completes with 1024.
#[test]
fn short_read_past_the_end_returns_what_is_there() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let path = dir.path().join(".short-read");
    std::fs::write(&path, pattern(1024, 1)).unwrap();
    let file = File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut ring = Ring::new(32).unwrap();
    let mut buf = vec![0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let cqe = complete(&mut ring, ReadV::new(&file, &mut iov[..]).user_data(1));
    assert_eq!(cqe.res(), 1024);
    assert_eq!(&buf[..1024], &pattern(1024, 1)[..]);
}

// ---------------------------------------------------------------- submit-reuse.c, pipe-reuse.c

/// An SQE of `IORING_OP_READV` over `iovs`, by hand: the ports below
/// overwrite the iovecs once the SQE is submitted, which no safe push
/// allows.
fn readv_sqe(fd: i32, iovs: &[libc::iovec], user_data: u64, flags: u8) -> sys::io_uring_sqe {
    raw_sqe(
        sys::IORING_OP_READV,
        fd,
        iovs.as_ptr() as u64,
        iovs.len() as u32,
        flags,
        user_data,
    )
}

/// iovecs that cut `buf` into `n` equal parts.
fn iovecs_over(buf: &mut [u8], n: usize) -> Vec<libc::iovec> {
    let part = buf.len() / n;
    buf.chunks_mut(part)
        .map(|c| libc::iovec {
            iov_base: c.as_mut_ptr().cast(),
            iov_len: c.len(),
        })
        .collect()
}

/// submit-reuse.c: reads of two 64 KiB files into 32 KiB buffers, split
/// into 16 iovecs or one, with and without `IOSQE_ASYNC`, while another
/// thread drops the files' pages from the cache so that reads go to a
/// worker; right after each submit, every `iov_base` is overwritten with
/// null. On a kernel with `IORING_FEAT_SUBMIT_STABLE` the kernel copied
/// the iovecs at submission: every read completes with 32 KiB, never
/// `-EFAULT`, and the bytes are the files'. (The iovecs are overwritten
/// while the kernel could still read them, which only hand-written SQEs
/// through `push_raw` can do.)
#[test]
fn submit_reuse_iovecs_are_copied_at_submission() {
    let _watch = uring_tests::watchdog();
    const STR: usize = 32768;
    const FILE_SIZE: usize = 65536;
    let mut ring = Ring::new(32).unwrap();
    if !ring.params().has(Features::SUBMIT_STABLE) {
        skip("no IORING_FEAT_SUBMIT_STABLE");
        return;
    }
    let dir = uring_tests::test_dir!();
    let files: Vec<File> = (0..2)
        .map(|k| {
            let path = dir.path().join(format!(".reuse.{k}"));
            std::fs::write(&path, pattern(FILE_SIZE, 20 + k as u8)).unwrap();
            let f = File::open(&path).unwrap();
            std::fs::remove_file(&path).unwrap();
            f
        })
        .collect();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|t| {
        t.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for f in &files {
                    // SAFETY: posix_fadvise on an open descriptor only drops
                    // cached pages.
                    unsafe {
                        libc::posix_fadvise(
                            f.as_raw_fd(),
                            0,
                            FILE_SIZE as libc::off_t,
                            libc::POSIX_FADV_DONTNEED,
                        )
                    };
                }
                std::thread::sleep(Duration::from_micros(10));
            }
        });
        let mut bufs = [vec![0u8; STR], vec![0u8; STR]];
        for (split, async_) in [(false, false), (true, false), (false, true), (true, true)] {
            let flags = if async_ { sys::IOSQE_ASYNC } else { 0 };
            for round in 0..50 {
                for (k, buf) in bufs.iter_mut().enumerate() {
                    buf.fill(0);
                    let mut iovs = iovecs_over(buf, if split { 16 } else { 1 });
                    let sqe = readv_sqe(files[k].as_raw_fd(), &iovs, k as u64, flags);
                    // SAFETY: the read writes into `buf`, untouched and
                    // alive until its completion is reaped below; the iovecs
                    // are copied by the kernel at submission
                    // (IORING_FEAT_SUBMIT_STABLE, checked above).
                    unsafe { ring.push_raw(&[sqe]) }.unwrap();
                    assert_eq!(ring.submit().unwrap(), 1);
                    for iov in &mut iovs {
                        iov.iov_base = std::ptr::null_mut();
                    }
                    std::hint::black_box(&iovs);
                }
                let got = reap_sorted(&mut ring, 2);
                assert_eq!(
                    got,
                    [(0, STR as i32), (1, STR as i32)],
                    "split {split}, async {async_}, round {round}"
                );
                for (k, buf) in bufs.iter().enumerate() {
                    assert_eq!(buf[..], pattern(FILE_SIZE, 20 + k as u8)[..STR]);
                }
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}

/// pipe-reuse.c: 8 KiB (0x11) written into a pipe; a `readv` of 16
/// iovecs of 1 KiB each over a 16 KiB buffer is submitted, and every iovec
/// is then overwritten (null base, length 1 000 000); 8 KiB more (0x22)
/// are written. The read completes with the 16 KiB (a short read is let
/// pass, as in C) and the buffer holds the written bytes: the kernel used
/// its copy of the iovecs. (Hand-written SQE through `push_raw`, as above.)
#[test]
fn pipe_reuse_a_split_read_uses_the_iovecs_copied_at_submission() {
    let _watch = uring_tests::watchdog();
    const BUFSIZE: usize = 16384;
    let mut ring = Ring::new(8).unwrap();
    if !ring.params().has(Features::SUBMIT_STABLE) {
        skip("no IORING_FEAT_SUBMIT_STABLE");
        return;
    }
    let (rx, tx) = pipe();
    let mut tx = File::from(tx);
    let mut wbuf = vec![0x11u8; BUFSIZE];
    wbuf[BUFSIZE / 2..].fill(0x22);
    tx.write_all(&wbuf[..BUFSIZE / 2]).unwrap();
    let mut buf = vec![0u8; BUFSIZE];
    let mut iovs = iovecs_over(&mut buf, 16);
    let sqe = readv_sqe(rx.as_raw_fd(), &iovs, 1, 0);
    // SAFETY: the read writes into `buf`, untouched and alive until its
    // completion is reaped below; the kernel copied the iovecs at
    // submission (IORING_FEAT_SUBMIT_STABLE, checked above).
    unsafe { ring.push_raw(&[sqe]) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    for iov in &mut iovs {
        iov.iov_base = std::ptr::null_mut();
        iov.iov_len = 1_000_000;
    }
    std::hint::black_box(&iovs);
    tx.write_all(&wbuf[BUFSIZE / 2..]).unwrap();
    let got = wait_n(&mut ring, 1);
    let res = got[0].1;
    assert!(res > 0, "read error {res}");
    if res as usize == BUFSIZE {
        assert_eq!(buf, wbuf);
    } else {
        assert_eq!(buf[..res as usize], wbuf[..res as usize], "short read");
    }
}

// ---------------------------------------------------------------- poll.c

/// poll.c `test_basic`: a poll for `POLLIN` on an empty pipe; "foo" is
/// written: the poll completes once, with its `user_data`, and `POLLIN` in
/// its result. (The C test polls in a forked child; here in the same
/// process, the write after the submit.)
#[test]
fn poll_basic_pipe_becomes_readable() {
    let _watch = uring_tests::watchdog();
    let (rx, tx) = pipe();
    let mut ring = Ring::new(1).unwrap();
    let cqe = ring.scope(|s| {
        s.push(PollAdd::new(&rx, PollEvents::IN).user_data(0xfeed))
            .unwrap();
        s.submit().unwrap();
        File::from(tx).write_all(b"foo").unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        s.completions().next().unwrap().cqe()
    });
    assert_eq!(cqe.user_data(), 0xfeed);
    assert_eq!(
        cqe.res() & libc::POLLIN as i32,
        libc::POLLIN as i32,
        "{cqe:?}"
    );
}

/// poll.c `test_missing_events`: on a `DEFER_TASKRUN` ring, a multishot
/// poll for `POLLIN | POLLOUT` on one end of a Unix stream pair whose send
/// buffer is 1 byte and full; the other end sends (`POLLIN`) and then
/// reads what was sent to it (`POLLOUT`): the completions' results
/// together carry both events.
#[test]
fn poll_missing_events_multishot_sees_in_and_out() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = defer_ring(8, false) else {
        return;
    };
    let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    uring_tests::set_int_option(&a, libc::SOL_SOCKET, libc::SO_SNDBUF, 1).unwrap();
    a.write_all(&[0, 0]).unwrap();
    push_lent!(
        ring,
        PollAdd::new(&a, PollEvents::IN | PollEvents::OUT)
            .poll_flags(PollFlags::MULTI)
            .user_data(1)
    )
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    b.write_all(&[0, 0]).unwrap();
    let mut two = [0u8; 2];
    b.read_exact(&mut two).unwrap();
    let mut mask = 0;
    ring.wait_timeout(1, PATIENCE).unwrap();
    loop {
        ring.get_events().unwrap();
        let got: Vec<(u64, i32)> = ring
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect();
        if got.is_empty() {
            break;
        }
        for (ud, res) in got {
            assert_eq!(ud, 1);
            assert!(res >= 0, "poll error {res}");
            mask |= res;
        }
    }
    let both = (libc::POLLIN | libc::POLLOUT) as i32;
    assert_eq!(mask & both, both, "events seen: {mask:#x}");
    // The multishot poll is still armed: remove it and reap its end.
    ring.push(PollRemove::new(1).user_data(2)).unwrap();
    let mut got = Vec::new();
    ring.submit().unwrap();
    while !got.iter().any(|&(ud, _)| ud == 2)
        || !got
            .iter()
            .any(|&(ud, res)| ud == 1 && res == -libc::ECANCELED)
    {
        ring.submit_and_wait_timeout(1, PATIENCE).unwrap();
        got.extend(ring.completions().map(|c| (c.user_data(), c.res())));
    }
    assert!(got.contains(&(2, 0)), "{got:?}");
    drop(a);
}

/// poll.c `test_self_poll`: a ring of 2048 entries gets 32 rounds of 2048
/// polls for `POLLIN` on its own descriptor, each round submitted whole;
/// then a NOP: its completion comes (first, as the ring's descriptor
/// became readable only by it), and the ring is torn down with the polls
/// it woke and those still armed on itself.
#[test]
fn poll_self_poll_many_polls_on_the_ring_itself() {
    let _watch = uring_tests::watchdog();
    const NR: u32 = 2048;
    let mut ring = Ring::new(NR).unwrap();
    // SAFETY: the ring's own descriptor stays open for as long as the
    // ring, and the ring ends every poll on it when it is torn down.
    let me = unsafe { Fd::borrow_raw(ring.as_raw_fd()) };
    for _ in 0..32 {
        for _ in 0..NR {
            push_lent!(ring, PollAdd::new(me, PollEvents::IN).user_data(1)).unwrap();
        }
        assert_eq!(ring.submit().unwrap(), NR);
    }
    ring.push(Nop::new().user_data(2)).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    ring.wait_timeout(1, PATIENCE).unwrap();
    let first = ring.completions().next().unwrap();
    assert_eq!((first.user_data(), first.res()), (2, 0));
    drop(ring);
}

/// poll.c `test_disabled_ring_lazy_polling`: a poll from a second ring on
/// the descriptor of a disabled `DEFER_TASKRUN` ring, armed before or
/// after `enable()`; nothing completes until a NOP completes on the first
/// ring, and then the poll completes exactly once (with `POLLIN`).
fn disabled_ring_lazy_polling(early_poll: bool) {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = defer_ring(8, true) else {
        return;
    };
    let mut ring2 = Ring::new(8).unwrap();
    let arm = |ring2: &mut Ring, ring: &Ring| {
        push_lent!(ring2, PollAdd::new(ring, PollEvents::IN).user_data(7)).unwrap();
        assert_eq!(ring2.submit().unwrap(), 1);
        assert_eq!(ring2.ready(), 0, "the poll completed before any CQE");
    };
    if early_poll {
        arm(&mut ring2, &ring);
    }
    ring.enable().unwrap();
    if !early_poll {
        arm(&mut ring2, &ring);
    }
    ring.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    ring2.wait_timeout(1, PATIENCE).unwrap();
    let got: Vec<(u64, i32)> = ring2
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, 7);
    assert_ne!(got[0].1 & libc::POLLIN as i32, 0, "{got:?}");
    assert_eq!(stray(&mut ring2), []);
    drop(ring2);
    drop(ring);
}

/// poll.c `test_disabled_ring_lazy_polling(false)`.
#[test]
fn poll_disabled_ring_polled_after_enable() {
    disabled_ring_lazy_polling(false);
}

/// poll.c `test_disabled_ring_lazy_polling(true)`.
#[test]
fn poll_disabled_ring_polled_before_enable() {
    disabled_ring_lazy_polling(true);
}

// ---------------------------------------------------------------- poll-ring.c

/// poll-ring.c: a ring of one entry polls its own descriptor for `POLLIN`
/// and is torn down with the poll armed: the teardown returns (on a buggy
/// kernel the circular reference kept io-wq workers alive).
#[test]
fn poll_ring_poll_on_own_descriptor_then_exit() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(1).unwrap();
    // SAFETY: the ring's own descriptor stays open for as long as the
    // ring, which ends the poll when it is torn down.
    let me = unsafe { Fd::borrow_raw(ring.as_raw_fd()) };
    push_lent!(ring, PollAdd::new(me, PollEvents::IN).user_data(1)).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.ready(), 0);
    drop(ring);
}

/// poll-ring.c, on another ring's descriptor (`&Ring` as the target): a
/// poll for `POLLIN` on ring B from ring A stays pending while B's CQ is
/// empty, completes with `POLLIN` once a NOP completes on B, and B's
/// teardown with A's poll of it done leaves A working.
#[test]
fn poll_ring_poll_on_another_ring() {
    let _watch = uring_tests::watchdog();
    let mut a = Ring::new(4).unwrap();
    let mut b = Ring::new(4).unwrap();
    let cqe = a.scope(|s| {
        s.push(PollAdd::new(&b, PollEvents::IN).user_data(1))
            .unwrap();
        s.submit().unwrap();
        assert!(s.wait_timeout(1, Duration::from_millis(20)).is_err());
        // `b` is only borrowed shared by the scope's op: post to it from
        // no ring.
        match b.post(0, 9) {
            Ok(()) => {}
            Err(e) => {
                // Before 6.13, no posting from outside: the poll is
                // cancelled by the scope's end.
                skip(format_args!("no IORING_REGISTER_SEND_MSG_RING: {e}"));
                return None;
            }
        }
        s.wait_timeout(1, PATIENCE).unwrap();
        Some(s.completions().next().unwrap().cqe())
    });
    let Some(cqe) = cqe else {
        return;
    };
    assert_eq!(cqe.user_data(), 1);
    assert_ne!(cqe.res() & libc::POLLIN as i32, 0, "{cqe:?}");
    let got = uring_tests::pairs(&submit_and_reap(&mut b, 1));
    assert_eq!(got, [(9, 0)]);
    drop(b);
    a.push(Nop::new().user_data(3)).unwrap();
    assert_eq!(reap_sorted(&mut a, 1), [(3, 0)]);
}

// ---------------------------------------------------------------- socket.c, send_recv.c

/// The string socket.c sends.
const STR: &[u8] = b"This is a test of send and recv over io_uring!";

/// A UDP socket bound to an ephemeral loopback port, and its address.
fn udp_receiver() -> (UdpSocket, SocketAddr) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    (sock, addr)
}

/// How socket.c and send_recv.c's receiving side issues its `recv`.
#[derive(Clone, Copy, Debug)]
struct RecvSide {
    /// On an SQPOLL ring.
    sqthread: bool,
    /// Through a registered file.
    registered: bool,
    /// With `IOSQE_ASYNC`.
    async_: bool,
}

/// The receiving side of socket.c and send_recv.c: a ring (SQPOLL if
/// asked) with a `recv` of up to `buf.len()` bytes on `sock` pushed and
/// submitted before `send` runs; returns the recv's result once `send`
/// has run. `None` if the ring could not be made (with a skip message).
fn recv_around(
    side: RecvSide,
    sock: &UdpSocket,
    buf: &mut [u8],
    send: impl FnOnce(),
) -> Option<i32> {
    let mut ring = if side.sqthread {
        sqpoll_ring(8)?
    } else {
        Ring::new(8).unwrap()
    };
    let files = if side.registered {
        Some(ring.register_files(&[sock.as_fd()]).unwrap())
    } else {
        None
    };
    let flags = if side.async_ {
        SqeFlags::ASYNC
    } else {
        SqeFlags::EMPTY
    };
    let res = ring.scope(|s| {
        match &files {
            Some(files) => s
                .push(
                    Recv::new(files.get(0).unwrap(), &mut buf[..])
                        .flags(flags)
                        .user_data(2),
                )
                .unwrap(),
            None => s
                .push(Recv::new(sock, &mut buf[..]).flags(flags).user_data(2))
                .unwrap(),
        }
        s.submit().unwrap();
        send();
        s.wait_timeout(1, PATIENCE).unwrap();
        let cqe = s.completions().next().unwrap();
        assert_eq!(cqe.user_data(), 2);
        cqe.res()
    });
    Some(res)
}

/// socket.c `do_send`: a UDP socket made by the `SOCKET` op (a descriptor,
/// or a direct descriptor in a slot the kernel picks or in slot 0),
/// connected by `CONNECT` and sent the string by `SEND` (through the slot
/// for a direct one): each completes with 0 or the string's length, and
/// the receiving ring's `recv` completes with the string.
fn socket_send(side: RecvSide, direct: Option<bool>) {
    let _watch = uring_tests::watchdog();
    let (sock, addr) = udp_receiver();
    let target = SockAddr::from(addr);
    let mut buf = vec![0u8; 128];
    let send = || {
        let mut ring = Ring::new(8).unwrap();
        match direct {
            None => {
                let cqe = complete(
                    &mut ring,
                    Socket::new(libc::AF_INET, libc::SOCK_DGRAM).user_data(1),
                );
                assert!(cqe.res() >= 0, "socket: {}", cqe.res());
                // SAFETY: the op just made this descriptor; no one else owns it.
                let fd = unsafe { OwnedFd::from_raw_fd(cqe.res()) };
                let cqe = complete(&mut ring, Connect::new(&fd, &target).user_data(2));
                assert_eq!(cqe.res(), 0);
                let cqe = complete(&mut ring, Send::new(&fd, STR).user_data(3));
                assert_eq!(cqe.res(), STR.len() as i32);
            }
            Some(alloc) => {
                let mut files = ring.register_files_sparse(4).unwrap();
                let slot = if alloc {
                    push_lent!(
                        ring,
                        Socket::new(libc::AF_INET, libc::SOCK_DGRAM)
                            .direct(DirectSlot::ALLOC)
                            .user_data(1)
                    )
                    .unwrap();
                    let res = submit_and_reap(&mut ring, 1)[0].res();
                    assert!((0..4).contains(&res), "socket direct alloc: {res}");
                    res as u32
                } else {
                    let at = DirectSlot::at(files.get_mut(0).unwrap());
                    push_lent!(
                        ring,
                        Socket::new(libc::AF_INET, libc::SOCK_DGRAM)
                            .direct(at)
                            .user_data(1)
                    )
                    .unwrap();
                    assert_eq!(submit_and_reap(&mut ring, 1)[0].res(), 0);
                    0
                };
                let fixed = files.get(slot).unwrap();
                push_lent!(ring, Connect::new(fixed, &target).user_data(2)).unwrap();
                assert_eq!(uring_tests::pairs(&submit_and_reap(&mut ring, 1)), [(2, 0)]);
                push_lent!(ring, Send::new(fixed, STR).user_data(3)).unwrap();
                assert_eq!(
                    uring_tests::pairs(&submit_and_reap(&mut ring, 1)),
                    [(3, STR.len() as i32)]
                );
                ring.unregister_files(files).unwrap();
            }
        }
    };
    let Some(res) = recv_around(side, &sock, &mut buf, send) else {
        return;
    };
    assert_eq!(res, STR.len() as i32);
    assert_eq!(&buf[..STR.len()], STR);
}

const PLAIN: RecvSide = RecvSide {
    sqthread: false,
    registered: false,
    async_: false,
};

/// socket.c `test(0, 0, 0, 0)`: plain recv, socket made by the op.
#[test]
fn socket_op_send_to_plain_recv() {
    socket_send(PLAIN, None);
}

/// socket.c `test(1, 1, 0, 0)` and `test(1, 0, 0, 0)`: the recv on an
/// SQPOLL ring, through a registered file and not.
#[test]
fn socket_op_send_to_sqpoll_recv() {
    for registered in [true, false] {
        socket_send(
            RecvSide {
                sqthread: true,
                registered,
                async_: false,
            },
            None,
        );
    }
}

/// socket.c `test(0, 0, 1, 0)` and `test(0, 0, 1, 1)`: the socket made as
/// a direct descriptor, in slot 0 and in a slot the kernel picks.
#[test]
fn socket_direct_send() {
    socket_send(PLAIN, Some(false));
    socket_send(PLAIN, Some(true));
}

/// socket.c `test_bad_socket`: a `SOCKET` of family -1 completes with
/// `-EAFNOSUPPORT`.
#[test]
fn socket_bad_family_is_eafnosupport() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(1).unwrap();
    let cqe = complete(&mut ring, Socket::new(-1, libc::SOCK_DGRAM).user_data(1));
    assert_eq!(cqe.res(), -libc::EAFNOSUPPORT);
}

/// The 4096 bytes send_recv.c sends.
fn send_recv_msg() -> Vec<u8> {
    (0..512u64).flat_map(|i| i.to_ne_bytes()).collect()
}

/// send_recv.c `test(sqthread, regfiles, async, 0, vec, big_vec)`: a
/// connected UDP socket sends 4096 bytes with `SEND` (from one buffer, or
/// with `IORING_SEND_VECTORIZED` from 2 or 32 iovecs; `IOSQE_ASYNC` if
/// `async`): it completes with 4096, and the receiving ring's `recv`
/// completes with 4096 and the same bytes.
fn send_recv(side: RecvSide, vec: Option<usize>) {
    let _watch = uring_tests::watchdog();
    if vec.is_some() && !require_kernel(6, 17, "IORING_SEND_VECTORIZED") {
        return;
    }
    let (sock, addr) = udp_receiver();
    let msg = send_recv_msg();
    let mut buf = vec![0u8; 4096];
    let send = || {
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(addr).unwrap();
        let mut ring = Ring::new(1).unwrap();
        let flags = if side.async_ {
            SqeFlags::ASYNC
        } else {
            SqeFlags::EMPTY
        };
        let cqe = match vec {
            None => complete(&mut ring, Send::new(&tx, &msg).flags(flags).user_data(1)),
            Some(n) => {
                let iovs: Vec<IoSlice<'_>> = msg.chunks(msg.len() / n).map(IoSlice::new).collect();
                assert_eq!(iovs.len(), n);
                complete(&mut ring, SendV::new(&tx, &iovs).flags(flags).user_data(1))
            }
        };
        assert_eq!(cqe.res(), 4096, "send");
    };
    let Some(res) = recv_around(side, &sock, &mut buf, send) else {
        return;
    };
    assert_eq!(res, 4096);
    assert_eq!(buf, msg);
}

/// send_recv.c `test(0, 0, a, 0, 0, 0)` for `a` in 0, 1: plain send and
/// recv, inline and forced to a worker.
#[test]
fn send_recv_plain() {
    for async_ in [false, true] {
        send_recv(RecvSide { async_, ..PLAIN }, None);
    }
}

/// send_recv.c `test(1, r, a, 0, 0, 0)`: the recv on an SQPOLL ring,
/// through a registered file or not, inline or forced to a worker.
#[test]
fn send_recv_sqpoll() {
    for registered in [true, false] {
        for async_ in [false, true] {
            send_recv(
                RecvSide {
                    sqthread: true,
                    registered,
                    async_,
                },
                None,
            );
        }
    }
}

/// send_recv.c `test(0, 0, a, 0, 1, b)`: vectored sends of 2 and of 32
/// iovecs, inline and forced to a worker.
#[test]
fn send_recv_vectored_send() {
    for n in [2, 32] {
        for async_ in [false, true] {
            send_recv(RecvSide { async_, ..PLAIN }, Some(n));
        }
    }
}

/// send_recv.c `test(s, r, a, 1, 0, 0)` (provide): a `recv` selecting from
/// a buffer group that holds no buffer completes with `-ENOBUFS` once the
/// datagram arrives, and that completion is not flagged
/// `IORING_CQE_F_SOCK_NONEMPTY`.
#[test]
fn send_recv_select_without_buffers_is_enobufs() {
    let _watch = uring_tests::watchdog();
    for async_ in [false, true] {
        let (sock, addr) = udp_receiver();
        let mut ring = Ring::new(8).unwrap();
        let flags = if async_ {
            SqeFlags::ASYNC
        } else {
            SqeFlags::EMPTY
        };
        let cqe = ring.scope(|s| {
            s.push(
                Recv::new(&sock, BufferGroup::new(1).select(4096))
                    .flags(flags)
                    .user_data(2),
            )
            .unwrap();
            s.submit().unwrap();
            let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
            assert_eq!(tx.send_to(&send_recv_msg(), addr).unwrap(), 4096);
            s.wait_timeout(1, PATIENCE).unwrap();
            s.completions().next().unwrap().cqe()
        });
        assert_eq!(cqe.res(), -libc::ENOBUFS, "async {async_}");
        assert!(!cqe.sock_nonempty(), "SOCK_NONEMPTY on -ENOBUFS: {cqe:?}");
    }
}

/// send_recv.c `test_invalid`: a `SENDMSG` with `MSG_WAITALL` and a
/// `RECVMSG`, each with a null message header, on a Unix stream pair:
/// both complete with `-EFAULT`. (The typed ops take a header by
/// reference; a null one is written by hand through `push_raw`.)
#[test]
fn send_recv_invalid_null_msghdr_is_efault() {
    let _watch = uring_tests::watchdog();
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut ring = Ring::new(8).unwrap();
    let mut send = raw_sqe(sys::IORING_OP_SENDMSG, a.as_raw_fd(), 0, 1, 0, 1);
    send.op_flags = sys::io_uring_sqe_op_flags {
        msg_flags: libc::MSG_WAITALL as u32,
    };
    let recv = raw_sqe(sys::IORING_OP_RECVMSG, b.as_raw_fd(), 0, 1, 0, 2);
    // SAFETY: both SQEs name no memory (a null header, refused with
    // EFAULT) and descriptors that outlive their completions.
    unsafe { ring.push_raw(&[send, recv]) }.unwrap();
    assert_eq!(
        reap_sorted(&mut ring, 2),
        [(1, -libc::EFAULT), (2, -libc::EFAULT)]
    );
}

// ---------------------------------------------------------------- sync-cancel.c

/// The requests waiting in the ring's poll table, as its
/// `/proc/self/fdinfo` entry lists them under `PollList:`.
fn polled(ring: &Ring) -> usize {
    let path = format!("/proc/self/fdinfo/{}", ring.as_raw_fd());
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .skip_while(|line| !line.starts_with("PollList:"))
        .skip(1)
        .take_while(|line| line.trim_start().starts_with("op="))
        .count()
}

/// Waits until `n` requests of `ring` wait in its poll table (each read of
/// an empty pipe, inline or from an io-wq worker, ends up there), for at
/// most [`PATIENCE`]: the C test's 10 ms sleep stands for this wait. (Under
/// load, a read that an io-wq worker was still issuing when the one pass of
/// a cancel of all matching requests ran was seen to stay pending after
/// that cancel returned.)
fn wait_until_polled(ring: &Ring, n: usize) {
    let start = std::time::Instant::now();
    while polled(ring) < n && start.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(polled(ring), n, "requests in the poll table");
}

/// sync-cancel.c `test_sync_cancel(async, nr_all, use_fd)`: 1 or 4 reads
/// of an empty pipe with `user_data` 0x89 (forced to a worker if `async`);
/// a synchronous cancel by that `user_data` or by the pipe's descriptor
/// (all of them with `nr_all`), with a 200 s timeout, succeeds; then each
/// read has completed with an error.
fn sync_cancel(async_: bool, nr_all: bool, use_fd: bool) {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(7).unwrap();
    let (rx, _tx) = pipe();
    let mut buf = [0u8; 32];
    let n = if nr_all { 4 } else { 1 };
    let flags = if async_ {
        SqeFlags::ASYNC
    } else {
        SqeFlags::EMPTY
    };
    for _ in 0..n {
        push_lent!(
            ring,
            Read::new(&rx, &mut buf[..]).flags(flags).user_data(0x89)
        )
        .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), n);
    std::thread::sleep(Duration::from_millis(10));
    wait_until_polled(&ring, n as usize);
    let mut what = if use_fd {
        SyncCancel::fd(&rx)
    } else {
        SyncCancel::user_data(0x89)
    };
    if nr_all {
        what = what.all();
    }
    match ring.cancel_sync(what, Some(Duration::from_secs(200))) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            // Reap the reads before `buf` goes.
            drop(ring);
            skip(format_args!("no IORING_REGISTER_SYNC_CANCEL (6.0): {e}"));
            return;
        }
        Err(e) => panic!("cancel_sync: {e}"),
    }
    let got = wait_n(&mut ring, n as usize);
    for (ud, res) in got {
        assert_eq!(ud, 0x89);
        assert!(res < 0, "a cancelled read completed with {res}");
    }
}

/// sync-cancel.c `test_sync_cancel(0, 0, 0)` and `(1, 0, 0)`.
#[test]
fn sync_cancel_one_by_user_data() {
    sync_cancel(false, false, false);
    sync_cancel(true, false, false);
}

/// sync-cancel.c `test_sync_cancel(0, 1, 0)` and `(1, 1, 0)`.
#[test]
fn sync_cancel_all_by_user_data() {
    sync_cancel(false, true, false);
    sync_cancel(true, true, false);
}

/// sync-cancel.c `test_sync_cancel(a, n, 1)`: by descriptor, one or all,
/// inline or in a worker.
#[test]
fn sync_cancel_by_fd() {
    for async_ in [false, true] {
        for nr_all in [false, true] {
            sync_cancel(async_, nr_all, true);
        }
    }
}

/// sync-cancel.c `test_sync_cancel_timeout(async)`: a read of an empty
/// pipe (forced to a worker if `async`), then a synchronous cancel of
/// every `IORING_OP_READ` (`IORING_ASYNC_CANCEL_OP`, 6.6) with a timeout of
/// 1 ns: inline, it succeeds; in a worker, it succeeds or times out
/// (`-ETIME` in C, `Error::TimedOut` here). Either way the read then
/// completes with an error.
fn sync_cancel_timeout(async_: bool) {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 6, "IORING_ASYNC_CANCEL_OP") {
        return;
    }
    let mut ring = Ring::new(7).unwrap();
    let (rx, _tx) = pipe();
    let mut buf = [0u8; 32];
    let flags = if async_ {
        SqeFlags::ASYNC
    } else {
        SqeFlags::EMPTY
    };
    push_lent!(
        ring,
        Read::new(&rx, &mut buf[..]).flags(flags).user_data(0x89)
    )
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    std::thread::sleep(Duration::from_millis(10));
    wait_until_polled(&ring, 1);
    let r = ring.cancel_sync(SyncCancel::op::<Read<'_>>(), Some(Duration::from_nanos(1)));
    match r {
        Ok(()) => {}
        Err(uring::Error::TimedOut) if async_ => {}
        Err(e) => panic!("cancel_sync: {e}"),
    }
    let got = wait_n(&mut ring, 1);
    assert_eq!(got[0].0, 0x89);
    assert!(got[0].1 < 0, "the read completed with {}", got[0].1);
}

/// sync-cancel.c `test_sync_cancel_timeout(0, ..)`.
#[test]
fn sync_cancel_timeout_inline() {
    sync_cancel_timeout(false);
}

/// sync-cancel.c `test_sync_cancel_timeout(1, 0)`.
#[test]
fn sync_cancel_timeout_in_a_worker() {
    sync_cancel_timeout(true);
}

// ---------------------------------------------------------------- fadvise.c, madvise.c

/// fadvise.c: on a 128 KiB file, `POSIX_FADV_DONTNEED`, then
/// `DONTNEED` and `WILLNEED` again, each through the ring with the advice
/// as `user_data`: each completes with 0 and its `user_data`, and the
/// file reads back whole after each. (The C test compares read times,
/// and ignores the comparison; no timing here.)
#[test]
fn fadvise_dontneed_and_willneed_complete_with_zero() {
    let _watch = uring_tests::watchdog();
    const SIZE: usize = 128 * 1024;
    let dir = uring_tests::test_dir!();
    let path = dir.path().join(".fadvise.tmp");
    let data = pattern(SIZE, 3);
    std::fs::write(&path, &data).unwrap();
    let file = File::open(&path).unwrap();
    let mut ring = Ring::new(8).unwrap();
    for _ in 0..10 {
        assert_eq!(std::fs::read(&path).unwrap(), data);
        for advice in [
            libc::POSIX_FADV_DONTNEED,
            libc::POSIX_FADV_DONTNEED,
            libc::POSIX_FADV_WILLNEED,
        ] {
            let cqe = complete(
                &mut ring,
                Fadvise::new(&file, advice)
                    .len(SIZE as u64)
                    .user_data(advice as u64),
            );
            assert_eq!((cqe.user_data(), cqe.res()), (advice as u64, 0));
            assert_eq!(std::fs::read(&path).unwrap(), data);
        }
    }
}

/// madvise.c: a private read-only mapping of a 128 KiB file, copied out;
/// `MADV_DONTNEED`, then `DONTNEED` and `WILLNEED` again, through the ring
/// with the advice as `user_data`: each completes with 0, and the mapping
/// still reads as the file. (No timing, as above.)
#[test]
fn madvise_dontneed_and_willneed_complete_with_zero() {
    let _watch = uring_tests::watchdog();
    const SIZE: usize = 128 * 1024;
    let dir = uring_tests::test_dir!();
    let path = dir.path().join(".madvise.tmp");
    let data = pattern(SIZE, 6);
    std::fs::write(&path, &data).unwrap();
    let file = File::open(&path).unwrap();
    // SAFETY: a new private read-only mapping of the whole file, unmapped
    // below.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            SIZE,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            file.as_raw_fd(),
            0,
        )
    };
    assert_ne!(ptr, libc::MAP_FAILED);
    // SAFETY: the mapping is SIZE bytes, readable, and lives until the
    // munmap below.
    let view = || unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), SIZE) }.to_vec();
    let mut ring = Ring::new(8).unwrap();
    for _ in 0..10 {
        assert_eq!(view(), data);
        for advice in [
            libc::MADV_DONTNEED,
            libc::MADV_DONTNEED,
            libc::MADV_WILLNEED,
        ] {
            // SAFETY: the range is this test's own file mapping, which no
            // Rust reference points into while the advice runs; dropping
            // its pages only makes the next read fault them in again.
            let range = unsafe { MadviseRange::new(ptr.cast(), SIZE as u64) };
            ring.push(Madvise::new(range, advice).user_data(advice as u64))
                .unwrap();
            let got = reap_sorted(&mut ring, 1);
            assert_eq!(got, [(advice as u64, 0)]);
            assert_eq!(view(), data);
        }
    }
    // SAFETY: the mapping made above, no longer read.
    unsafe { libc::munmap(ptr, SIZE) };
}

// ---------------------------------------------------------------- fallocate.c

/// fallocate.c `test_fallocate`: a `FALLOCATE` of 128 KiB at offset 0
/// (mode 0) on an empty file completes with 0 and the file's size is then
/// 128 KiB.
#[test]
fn fallocate_sets_the_size() {
    let _watch = uring_tests::watchdog();
    let file = tempfile::tempfile_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut ring = Ring::new(8).unwrap();
    let cqe = complete(&mut ring, Fallocate::new(&file, 128 * 1024).user_data(1));
    assert_eq!(cqe.res(), 0);
    assert_eq!(file.metadata().unwrap().len(), 128 * 1024);
}

/// fallocate.c `test_fallocate_fsync`: a `FALLOCATE` of 128 KiB linked to
/// an `FSYNC`: both complete with 0, in order, and the size is 128 KiB.
#[test]
fn fallocate_linked_to_fsync() {
    let _watch = uring_tests::watchdog();
    let file = tempfile::tempfile_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut ring = Ring::new(8).unwrap();
    let got = ring.scope(|s| {
        s.push(
            Fallocate::new(&file, 128 * 1024)
                .user_data(1)
                .link(Fsync::new(&file).user_data(2)),
        )
        .unwrap();
        s.submit_and_wait(2).unwrap();
        let mut got: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        while got.len() < 2 {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got
    });
    assert_eq!(got, [(1, 0), (2, 0)]);
    assert_eq!(file.metadata().unwrap().len(), 128 * 1024);
}

/// fallocate.c `test_fallocate_rlimit`: with `RLIMIT_FSIZE` at 64 KiB, a
/// `FALLOCATE` of 128 KiB completes with `-EFBIG`. (Run in a process of
/// its own, as the limit is the whole process's.)
#[test]
fn fallocate_past_the_file_size_limit_is_efbig() {
    const NAME: &str = "fallocate_past_the_file_size_limit_is_efbig";
    if !uring_tests::in_child(NAME) {
        uring_tests::run_in_child(NAME);
        return;
    }
    let _watch = uring_tests::watchdog();
    limit_file_size(64 * 1024);
    let file = tempfile::tempfile_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut ring = Ring::new(8).unwrap();
    let cqe = complete(&mut ring, Fallocate::new(&file, 128 * 1024).user_data(1));
    assert_eq!(cqe.res(), -libc::EFBIG);
}

// ---------------------------------------------------------------- truncate.c

/// truncate.c: `FTRUNCATE` to 2 GiB, 1 GiB and 512 MiB: each completes
/// with 0 and `fstat` then gives that size; an `FTRUNCATE` SQE with its
/// `addr` field set (the C test's `"fail"` pointer) and `len` 4 completes
/// with `-EINVAL`. (The typed op has no `addr`; that SQE is written by
/// hand.)
#[test]
fn truncate_sets_sizes_and_refuses_extra_fields() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let path = dir.path().join(".truncate");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap();
    let mut ring = Ring::new(1).unwrap();
    for size in [2u64 << 30, 1 << 30, 512 << 20] {
        let cqe = complete(&mut ring, Ftruncate::new(&file, size).user_data(1));
        assert_eq!(cqe.res(), 0, "ftruncate to {size}");
        assert_eq!(file.metadata().unwrap().len(), size);
    }
    let fail = c"fail";
    let sqe = raw_sqe(
        sys::IORING_OP_FTRUNCATE,
        file.as_raw_fd(),
        fail.as_ptr() as u64,
        4,
        0,
        2,
    );
    // SAFETY: the kernel refuses the SQE for its extra fields without
    // reading anything through them; the file outlives the completion.
    unsafe { ring.push_raw(&[sqe]) }.unwrap();
    assert_eq!(reap_sorted(&mut ring, 1), [(2, -libc::EINVAL)]);
    assert_eq!(file.metadata().unwrap().len(), 512 << 20);
}

// ---------------------------------------------------------------- hardlink.c

/// Whether `a` and `b` name the same inode, which has two links.
fn linked_ok(a: &Path, b: &Path) -> bool {
    let (Ok(sa), Ok(sb)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    sa.dev() == sb.dev() && sa.ino() == sb.ino() && sa.nlink() == 2 && sb.nlink() == 2
}

/// hardlink.c: a file "target" holding "linktest"; `LINKAT` with
/// `AT_EMPTY_PATH` from its descriptor (as root) makes "empty" a second
/// link to it; `LINKAT` of "target" to "link" does too; of the symbolic
/// link "symlink" (to "target") to "link" with `AT_SYMLINK_FOLLOW`,
/// links the target; again "target" to the now existing "link" is
/// `-EEXIST`; to a path under missing directories, `-ENOENT`.
#[test]
fn hardlink_linkat_cases() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let target = dir.path().join("io_uring-linkat-test-target");
    let empty = dir.path().join("io_uring-linkat-test-empty");
    let link = dir.path().join("io_uring-linkat-test-link");
    let symlink = dir.path().join("io_uring-linkat-test-symlink");
    let (ct, ce, cl, cs) = (cpath(&target), cpath(&empty), cpath(&link), cpath(&symlink));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&target)
        .unwrap();
    file.write_all(b"linktest").unwrap();
    let mut ring = Ring::new(8).unwrap();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let cqe = complete(
            &mut ring,
            LinkAt::new(&file, c"", Fd::CWD, &ce)
                .hardlink_flags(libc::AT_EMPTY_PATH)
                .user_data(1),
        );
        assert_eq!(cqe.res(), 0, "linkat AT_EMPTY_PATH");
        assert!(linked_ok(&empty, &target));
        std::fs::remove_file(&empty).unwrap();
    } else {
        skip("linkat with AT_EMPTY_PATH needs root: that case is left out");
    }
    drop(file);
    std::os::unix::fs::symlink(&target, &symlink).unwrap();
    let cqe = complete(
        &mut ring,
        LinkAt::new(Fd::CWD, &ct, Fd::CWD, &cl).user_data(2),
    );
    assert_eq!(cqe.res(), 0);
    assert!(linked_ok(&link, &target));
    std::fs::remove_file(&link).unwrap();
    let cqe = complete(
        &mut ring,
        LinkAt::new(Fd::CWD, &cs, Fd::CWD, &cl)
            .hardlink_flags(libc::AT_SYMLINK_FOLLOW)
            .user_data(3),
    );
    assert_eq!(cqe.res(), 0);
    assert!(linked_ok(&symlink, &target));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_file(),
        "the link names the target, not the symbolic link"
    );
    let cqe = complete(
        &mut ring,
        LinkAt::new(Fd::CWD, &ct, Fd::CWD, &cl).user_data(4),
    );
    assert_eq!(cqe.res(), -libc::EEXIST);
    let missing = cpath(&dir.path().join("surely/this/does/not/exist"));
    let cqe = complete(
        &mut ring,
        LinkAt::new(Fd::CWD, &ct, Fd::CWD, &missing).user_data(5),
    );
    assert_eq!(cqe.res(), -libc::ENOENT);
}

// ---------------------------------------------------------------- xattr.c

const KEY1: &std::ffi::CStr = c"user.val1";
const KEY2: &std::ffi::CStr = c"user.val2";
const VALUE1: &[u8] = b"value1";
const VALUE2: &[u8] = b"value2-a-lot-longer";

/// A file for xattr.c in `dir`, or `None` (with a skip message) if its
/// file system takes no `user.` attributes.
fn xattr_file(dir: &Path) -> Option<(File, CString)> {
    let path = dir.join("xattr.test");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    let c = cpath(&path);
    // SAFETY: valid C strings and a value that outlive the call.
    let rc = unsafe {
        libc::setxattr(
            c.as_ptr(),
            c"user.probe".as_ptr(),
            b"x".as_ptr().cast(),
            1,
            0,
        )
    };
    if rc != 0 {
        skip(format_args!(
            "no user xattrs here: {}",
            std::io::Error::last_os_error()
        ));
        return None;
    }
    Some((file, c))
}

/// xattr.c `test_fxattr`: `FSETXATTR` of two keys on a descriptor, each
/// completing with 0; `FGETXATTR` of each into a 255-byte buffer completes
/// with the value's length, and the buffer starts with the value.
#[test]
fn xattr_fsetxattr_and_fgetxattr() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let Some((file, _)) = xattr_file(dir.path()) else {
        return;
    };
    let mut ring = Ring::new(32).unwrap();
    for (key, value) in [(KEY1, VALUE1), (KEY2, VALUE2)] {
        let cqe = complete(&mut ring, FSetXattr::new(&file, key, value).user_data(1));
        if cqe.res() == -libc::EINVAL || cqe.res() == -libc::EOPNOTSUPP {
            skip(format_args!("no FSETXATTR: {}", cqe.res()));
            return;
        }
        assert_eq!(cqe.res(), 0);
    }
    for (key, value) in [(KEY1, VALUE1), (KEY2, VALUE2)] {
        let mut out = [0u8; 255];
        let cqe = complete(
            &mut ring,
            FGetXattr::new(&file, key, &mut out[..]).user_data(2),
        );
        assert_eq!(cqe.res(), value.len() as i32);
        assert_eq!(&out[..value.len()], value);
    }
}

/// xattr.c `test_xattr`: the same through `SETXATTR` and `GETXATTR` on
/// the path.
#[test]
fn xattr_setxattr_and_getxattr() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let Some((_file, path)) = xattr_file(dir.path()) else {
        return;
    };
    let mut ring = Ring::new(32).unwrap();
    for (key, value) in [(KEY1, VALUE1), (KEY2, VALUE2)] {
        let cqe = complete(&mut ring, SetXattr::new(&path, key, value).user_data(1));
        assert_eq!(cqe.res(), 0);
    }
    for (key, value) in [(KEY1, VALUE1), (KEY2, VALUE2)] {
        let mut out = [0u8; 255];
        let cqe = complete(
            &mut ring,
            GetXattr::new(&path, key, &mut out[..]).user_data(2),
        );
        assert_eq!(cqe.res(), value.len() as i32);
        assert_eq!(&out[..value.len()], value);
    }
}

/// xattr.c `test_failure_fxattr`, the cases a typed op can express: on
/// descriptor -1 `FSETXATTR` and `FGETXATTR` fail; a value of length 0
/// sets an empty value (0), and then `FGETXATTR` into a buffer of 0 bytes
/// completes with 0. The null name and null value cases are written by
/// hand and fail too. (`size` -1 needs a slice of that length and is left
/// out.)
#[test]
fn xattr_failure_fxattr() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let Some((file, _)) = xattr_file(dir.path()) else {
        return;
    };
    let mut ring = Ring::new(32).unwrap();
    let bad = uring_tests::bad_fd();
    let cqe = complete(&mut ring, FSetXattr::new(bad, KEY1, VALUE1).user_data(1));
    assert!(cqe.res() < 0, "fsetxattr on -1: {}", cqe.res());
    let cqe = complete(&mut ring, FSetXattr::new(&file, KEY1, &[][..]).user_data(2));
    assert_eq!(cqe.res(), 0);
    let mut out = [0u8; 255];
    let cqe = complete(
        &mut ring,
        FGetXattr::new(bad, KEY1, &mut out[..]).user_data(3),
    );
    assert!(cqe.res() < 0, "fgetxattr on -1: {}", cqe.res());
    let cqe = complete(
        &mut ring,
        FGetXattr::new(&file, KEY1, &mut out[..0]).user_data(4),
    );
    assert_eq!(cqe.res(), 0);
    // A null name, and a null value of 6 bytes, by hand.
    let mut null_name = raw_sqe(sys::IORING_OP_FSETXATTR, file.as_raw_fd(), 0, 6, 0, 5);
    null_name.off = sys::io_uring_sqe_off {
        addr2: VALUE1.as_ptr() as u64,
    };
    let null_value = raw_sqe(
        sys::IORING_OP_FSETXATTR,
        file.as_raw_fd(),
        KEY1.as_ptr() as u64,
        6,
        0,
        6,
    );
    let null_get_name = raw_sqe(sys::IORING_OP_FGETXATTR, file.as_raw_fd(), 0, 0, 0, 7);
    // SAFETY: every pointer is null or names memory that outlives the
    // completions reaped below; the kernel only reads through them.
    unsafe { ring.push_raw(&[null_name, null_value, null_get_name]) }.unwrap();
    let got = reap_sorted(&mut ring, 3);
    for (ud, res) in got {
        assert!(res < 0, "hand-written case {ud} completed with {res}");
    }
}

/// xattr.c `test_failure_xattr`, the typed cases: `SETXATTR` and
/// `GETXATTR` on the path "complete garbage" fail; a `SETXATTR` of length
/// 0 succeeds; a `GETXATTR` into 0 bytes then completes with 0.
#[test]
fn xattr_failure_xattr() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let Some((_file, path)) = xattr_file(dir.path()) else {
        return;
    };
    let mut ring = Ring::new(32).unwrap();
    let garbage = c"complete garbage";
    let cqe = complete(&mut ring, SetXattr::new(garbage, KEY1, VALUE1).user_data(1));
    assert!(cqe.res() < 0, "setxattr on garbage: {}", cqe.res());
    let cqe = complete(&mut ring, SetXattr::new(&path, KEY1, &[][..]).user_data(2));
    assert_eq!(cqe.res(), 0);
    let mut out = [0u8; 255];
    let cqe = complete(
        &mut ring,
        GetXattr::new(garbage, KEY1, &mut out[..]).user_data(3),
    );
    assert!(cqe.res() < 0, "getxattr on garbage: {}", cqe.res());
    let cqe = complete(
        &mut ring,
        GetXattr::new(&path, KEY1, &mut out[..0]).user_data(4),
    );
    assert_eq!(cqe.res(), 0);
}

// ---------------------------------------------------------------- link.c

/// link.c `test_single_hardlink`: a 10 ms timeout hard-linked to a NOP:
/// the timeout completes with `-ETIME`, and the NOP (run despite the
/// failure) with 0, after it.
#[test]
fn link_single_hardlink() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        Timeout::new(Duration::from_millis(10))
            .user_data(1)
            .hard_link(Nop::new().user_data(2)),
    )
    .unwrap();
    assert_eq!(wait_n(&mut ring, 2), [(1, -libc::ETIME), (2, 0)]);
}

/// link.c `test_double_hardlink`: two 10 ms timeouts hard-linked to each
/// other and to a NOP: `-ETIME`, `-ETIME`, 0, in that order.
#[test]
fn link_double_hardlink() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        Timeout::new(Duration::from_millis(10))
            .user_data(1)
            .hard_link(Timeout::new(Duration::from_millis(10)).user_data(2))
            .hard_link(Nop::new().user_data(3)),
    )
    .unwrap();
    assert_eq!(
        wait_n(&mut ring, 3),
        [(1, -libc::ETIME), (2, -libc::ETIME), (3, 0)]
    );
}

/// link.c `test_single_link_fail`: a `REMOVE_BUFFERS` of 10 buffers from
/// group 1, which holds none, linked to a NOP: the first completes with
/// `-ENOENT`, the NOP with `-ECANCELED`.
#[test]
fn link_single_link_fail() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        RemoveBuffers::new(10, BufferGroup::new(1))
            .user_data(1)
            .link(Nop::new().user_data(2)),
    )
    .unwrap();
    assert_eq!(
        wait_n(&mut ring, 2),
        [(1, -libc::ENOENT), (2, -libc::ECANCELED)]
    );
}

/// link.c `test_double_chain`: two chains of two NOPs pushed together:
/// four completions of 0.
#[test]
fn link_double_chain() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(Nop::new().user_data(1).link(Nop::new().user_data(2)))
        .unwrap();
    ring.push(Nop::new().user_data(3).link(Nop::new().user_data(4)))
        .unwrap();
    assert_eq!(reap_sorted(&mut ring, 4), [(1, 0), (2, 0), (3, 0), (4, 0)]);
}

/// link.c `test_double_link` and `test_single_link`: chains of three and
/// of two NOPs complete with 0, in chain order.
#[test]
fn link_single_and_double_link() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        Nop::new()
            .user_data(1)
            .link(Nop::new().user_data(2))
            .link(Nop::new().user_data(3)),
    )
    .unwrap();
    assert_eq!(wait_n(&mut ring, 3), [(1, 0), (2, 0), (3, 0)]);
    ring.push(Nop::new().user_data(4).link(Nop::new().user_data(5)))
        .unwrap();
    assert_eq!(wait_n(&mut ring, 2), [(4, 0), (5, 0)]);
}

/// link.c `test_early_fail_and_wait`: a `readv` on an invalid descriptor
/// linked to a NOP, submitted with a wait for 2: the wait returns (the
/// read fails with `-EBADF`, the NOP is cancelled) instead of hanging.
#[test]
fn link_early_fail_and_wait() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let mut buf = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let got = ring.scope(|s| {
        s.push(
            ReadV::new(uring_tests::bad_fd(), &mut iov[..])
                .user_data(1)
                .link(Nop::new().user_data(2)),
        )
        .unwrap();
        match s.submit_and_wait(2) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
            Err(e) => panic!("submit_and_wait: {e}"),
        }
        let mut got: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        while got.len() < 2 {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got
    });
    assert_eq!(got, [(1, -libc::EBADF), (2, -libc::ECANCELED)]);
}

// ---------------------------------------------------------------- self.c

/// self.c: `OPENAT2` of "/proc/self/comm" (read-only) completes with a
/// descriptor whose bytes are this process's name, the same as a read of
/// that path by the submitting thread: the path resolves against the
/// submitting task, not an io-wq worker (also when forced to a worker).
#[test]
fn self_proc_self_resolves_to_the_submitter() {
    let _watch = uring_tests::watchdog();
    let expected = std::fs::read("/proc/self/comm").unwrap();
    let mut ring = Ring::new(1).unwrap();
    // SAFETY: all-zero bytes are a valid `open_how`.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = libc::O_RDONLY as u64;
    for flags in [SqeFlags::EMPTY, SqeFlags::ASYNC] {
        let cqe = complete(
            &mut ring,
            OpenAt2::new(Fd::CWD, c"/proc/self/comm", &how)
                .flags(flags)
                .user_data(1),
        );
        if cqe.res() == -libc::EINVAL || cqe.res() == -libc::EOPNOTSUPP {
            skip(format_args!("no OPENAT2: {}", cqe.res()));
            return;
        }
        assert!(cqe.res() >= 0, "openat2: {}", cqe.res());
        // SAFETY: the op just made this descriptor; no one else owns it.
        let mut f = File::from(unsafe { OwnedFd::from_raw_fd(cqe.res()) });
        let mut got = Vec::new();
        f.read_to_end(&mut got).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "flags {flags:?}"
        );
    }
}

// ---------------------------------------------------------------- io_uring_enter.c

/// io_uring_enter.c, the calls on bad arguments (through `sys`, the raw
/// system call): flags `~0` is `EINVAL`; descriptor -1 is `EBADF`; a
/// descriptor that is not a ring (a pipe, where C uses stdin) is
/// `EOPNOTSUPP`; 0 to submit and no flags returns 0.
#[test]
fn io_uring_enter_bad_arguments() {
    let _watch = uring_tests::watchdog();
    let ring = Ring::new(8).unwrap();
    let (rx, _tx) = pipe();
    let enter = |fd: i32, to_submit: u32, flags: u32| {
        // SAFETY: no SQE is queued on the ring (nothing was pushed), and
        // no argument pointer is passed.
        unsafe { sys::io_uring_enter(fd, to_submit, 0, flags, std::ptr::null(), 0) }
            .map_err(|e| e.raw_os_error().unwrap())
    };
    assert_eq!(enter(ring.as_raw_fd(), 1, !0), Err(libc::EINVAL));
    assert_eq!(enter(-1, 0, 0), Err(libc::EBADF));
    assert_eq!(enter(rx.as_raw_fd(), 0, 0), Err(libc::EOPNOTSUPP));
    assert_eq!(enter(ring.as_raw_fd(), 0, 0), Ok(0));
}

/// io_uring_enter.c, the full queue: a ring of 4096 entries (128 if that
/// is too much memory) gets one 4 KiB read per entry of a sparse file,
/// submitted; a raw `io_uring_enter` of 0 to submit and
/// `min_complete` = all of them with `IORING_ENTER_GETEVENTS` returns only
/// once all are in the CQ, and each read completed with 4096. (The
/// invalid SQ array index and the dropped count are in
/// `queues.rs`, `sqes_the_kernel_drops_are_counted`.)
#[test]
fn io_uring_enter_waits_for_min_complete() {
    let _watch = uring_tests::watchdog();
    let mut ring = match Ring::new(4096) {
        Ok(ring) => ring,
        Err(_) => Ring::new(128).unwrap(),
    };
    let n = ring.sq_entries();
    let file = tempfile::tempfile_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    file.set_len(u64::from(n) * 4096).unwrap();
    let mut bufs = vec![0xaau8; n as usize * 4096];
    for (i, buf) in bufs.chunks_mut(4096).enumerate() {
        push_lent!(
            ring,
            Read::new(&file, buf)
                .offset(i as u64 * 4096)
                .user_data(i as u64)
        )
        .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), n);
    // SAFETY: nothing is left to submit; no argument pointer.
    let r = unsafe {
        sys::io_uring_enter(
            ring.as_raw_fd(),
            0,
            n,
            sys::IORING_ENTER_GETEVENTS,
            std::ptr::null(),
            0,
        )
    };
    assert_eq!(r.unwrap(), 0);
    assert_eq!(
        ring.ready(),
        n,
        "completions in the CQ when the wait returned"
    );
    let got: Vec<(u64, i32)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(got.len(), n as usize);
    assert!(got.iter().all(|&(_, res)| res == 4096), "{got:?}");
    assert!(bufs.iter().all(|&b| b == 0), "a sparse file reads as zeros");
}

// ---------------------------------------------------------------- no-mmap-inval.c

/// no-mmap-inval.c: `io_uring_setup` with `IORING_SETUP_NO_MMAP`, 2 SQ
/// entries, the CQ ring's user address on 8 KiB of page-aligned memory and
/// the SQ ring's left null: refused, with `EFAULT` (or `ENOMEM`), never a
/// ring. (Through `sys::io_uring_setup`: the builder's `no_mmap()`
/// allocates both rings itself and cannot leave one address out.)
#[test]
fn no_mmap_inval_null_sq_ring_address_is_refused() {
    let _watch = uring_tests::watchdog();
    let mut mem = aligned_blocks(8192);
    let mut p = sys::io_uring_params {
        sq_entries: 2,
        cq_entries: 4,
        flags: sys::IORING_SETUP_NO_MMAP,
        ..Default::default()
    };
    p.cq_off.user_addr = block_bytes(&mut mem).as_mut_ptr() as u64;
    // SAFETY: `p` is a valid, writable `io_uring_params`; the CQ address
    // names 8 KiB that outlive the call (and any ring made, closed below).
    match unsafe { sys::io_uring_setup(2, &mut p) } {
        Ok(fd) => {
            // SAFETY: the descriptor just returned, owned here.
            drop(unsafe { OwnedFd::from_raw_fd(fd) });
            panic!("a NO_MMAP ring with a null SQ ring address was made");
        }
        Err(e) => match e.raw_os_error() {
            Some(libc::EFAULT) | Some(libc::ENOMEM) => {}
            Some(libc::EINVAL) | Some(libc::ENOENT) => {
                skip(format_args!("no IORING_SETUP_NO_MMAP: {e}"));
            }
            _ => panic!("io_uring_setup: {e}, wanted EFAULT"),
        },
    }
}

// ---------------------------------------------------------------- fdinfo.c

/// The value of the line `name:` of `text`, trimmed.
fn fdinfo_field<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// fdinfo.c (a subset): `/proc/self/fdinfo` of a ring read while it works
/// lists what was pushed: the completions waiting in the CQ by
/// `user_data`, the CQ head and tail moving by their count, the number of
/// registered files and buffers, and for an SQPOLL ring its thread's pid
/// (-1 without one). Reading it while SQPOLL reads are in flight, as the C
/// test does, leaves them completing whole.
#[test]
fn fdinfo_lists_completions_and_registrations() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let path = format!("/proc/self/fdinfo/{}", ring.as_raw_fd());
    let before = std::fs::read_to_string(&path).unwrap();
    assert_eq!(fdinfo_field(&before, "SqThread"), Some("-1"), "{before}");
    let head0: u32 = fdinfo_field(&before, "CqHead").unwrap().parse().unwrap();
    for ud in [11, 12, 13] {
        ring.push(Nop::new().user_data(ud)).unwrap();
    }
    ring.submit_and_wait(3).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let listed = uring_tests::fdinfo_user_data(ring.as_raw_fd());
    for ud in [11, 12, 13] {
        assert!(listed.contains(&ud), "{ud} not listed:\n{text}");
    }
    let tail: u32 = fdinfo_field(&text, "CqTail").unwrap().parse().unwrap();
    assert_eq!(tail.wrapping_sub(head0), 3, "{text}");
    assert_eq!(reap_sorted(&mut ring, 3), [(11, 0), (12, 0), (13, 0)]);
    let text = std::fs::read_to_string(&path).unwrap();
    let head: u32 = fdinfo_field(&text, "CqHead").unwrap().parse().unwrap();
    assert_eq!(head.wrapping_sub(head0), 3, "{text}");
    assert!(
        uring_tests::fdinfo_user_data(ring.as_raw_fd()).is_empty(),
        "{text}"
    );

    let (a, b) = (tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap());
    let files = ring.register_files(&[a.as_fd(), b.as_fd()]).unwrap();
    let mut mem = vec![0u8; 3 * 4096];
    let iovs: Vec<IoSliceMut<'_>> = mem.chunks_mut(4096).map(IoSliceMut::new).collect();
    // SAFETY: `mem` outlives the registration, unregistered below, and no
    // op uses it.
    let bufs = unsafe { ring.register_buffers(&iovs) }.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(fdinfo_field(&text, "UserFiles"), Some("2"), "{text}");
    assert_eq!(fdinfo_field(&text, "UserBufs"), Some("3"), "{text}");
    ring.unregister_buffers(bufs).unwrap();
    ring.unregister_files(files).unwrap();
    drop(iovs);

    // SQPOLL reads with fdinfo read meanwhile.
    let Some(mut sq) = sqpoll_ring(64) else {
        return;
    };
    let spath = format!("/proc/self/fdinfo/{}", sq.as_raw_fd());
    let text = std::fs::read_to_string(&spath).unwrap();
    let pid: i64 = fdinfo_field(&text, "SqThread").unwrap().parse().unwrap();
    assert!(pid > 0, "{text}");
    let data = pattern(RW_FILE, 12);
    let file = tempfile::tempfile_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    (&file).write_all(&data).unwrap();
    let mut back = vec![0u8; RW_FILE];
    let got = sq.scope(|s| {
        for (i, chunk) in back.chunks_mut(RW_BS).enumerate() {
            s.push(
                Read::new(&file, chunk)
                    .offset((i * RW_BS) as u64)
                    .user_data(i as u64),
            )
            .unwrap();
        }
        s.submit().unwrap();
        let mut got = Vec::new();
        while got.len() < RW_BUFFERS {
            let _ = std::fs::read_to_string(&spath).unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got.sort_unstable();
        got
    });
    let expect: Vec<(u64, i32)> = (0..RW_BUFFERS as u64).map(|i| (i, RW_BS as i32)).collect();
    assert_eq!(got, expect);
    assert_eq!(back, data);
}
