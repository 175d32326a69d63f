//! The event-loop layer (`uring::reactor`, `uring::net`, the `tokio`
//! feature's `TokioDriver`) held against what users of the io_uring
//! runtimes reach for: tokio-uring's own tests (`tests/fs_file.rs`:
//! basic_read, read_exact, vectored reads and writes, write_all, sync,
//! fallocate with `FALLOC_FL_ZERO_RANGE` and `FALLOC_FL_KEEP_SIZE`, statx,
//! rename, cancel_read, drop_open), monoio's (`tests/tcp_connect.rs`
//! cancel_select with `CancelableAsyncReadRent`, `tests/fd_leak.rs`, its
//! timers raced in `select!`), and compio's completion-based reads at the
//! file position, ported to uring's equivalents (`reactor::ops` over a
//! `SharedFd`, `Handle::cancel` of an awaited op, `Timeout` as the sleep).
//! Where no equivalent exists the audit's report says so; each test here
//! checks what the kernel did: bytes on disk and on the wire, sizes from
//! `statx`, errnos, canary bytes of buffers the kernel must not have
//! written, and that no byte is lost or read twice across cancellations.
//!
//! Read against Linux 6.18: `io_uring/rw.c` (`io_kiocb_update_pos`, which
//! reads and moves the file position for an offset of -1 on a file not
//! `FMODE_STREAM`, and `io_import_vec` / `__import_iovec`, which skip
//! zero-length iovecs), `io_uring/fs.c` (`io_renameat`, `io_unlinkat`,
//! `io_mkdirat`), `io_uring/sync.c` (`io_fsync`, `io_fallocate`, always
//! issued in io-wq), `io_uring/openclose.c` (`io_openat2`),
//! `io_uring/statx.c`, `io_uring/cancel.c` and `io_uring/poll.c` (a cancel
//! that finds a receive's poll already woken misses it: the receive
//! completes with its bytes), `io_uring/net.c` (`io_recv`, `io_sendmsg`
//! with `IORING_SEND_VECTORIZED`, `io_accept`), `io_uring/timeout.c`.
//!
//! Every test is safe code.

use std::ffi::CString;
use std::future::Future;
use std::io::{self, Read as _, Write as _};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use uring::net::TcpStream;
use uring::reactor::ops::{
    Accept, AcceptFrom, Fallocate, Fsync, MkdirAt, OpenAt, Read, ReadV, Recv, RenameAt, SendV,
    Statx, Timeout, UnlinkAt, Write, WriteV,
};
use uring::reactor::{Handle, IoBuf, Reactor, SharedFd};
use uring_tests::net::{any, connected, drive};
use uring_tests::{pattern, poll_once, skip, watchdog};

const HELLO: &[u8] = b"hello world...";

fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

/// `tokio_uring::start`, in uring's terms: a current-thread runtime, a
/// `LocalSet`, a reactor driven by tokio, and `f` run with its handle.
fn start<F, Fut>(f: F)
where
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = uring_tests::net::runtime();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        tokio::time::timeout(Duration::from_secs(20), f(h.clone()))
            .await
            .expect("the test's body hung");
        h.shutdown();
    });
}

/// Opens `path` through the ring (`File::open` / `File::create`).
async fn open(h: &Handle, path: &Path, flags: i32) -> io::Result<SharedFd> {
    let (r, fd) = h.op(OpenAt::new(cpath(path), flags, 0o644)).await;
    r?;
    Ok(SharedFd::new(
        fd.expect("a successful open owns its descriptor"),
    ))
}

async fn statx_size(h: &Handle, fd: &SharedFd) -> u64 {
    let (r, st) = h.op(Statx::of(fd)).await;
    r.unwrap();
    st.stx_size
}

// ---------------------------------------------------------------------
// tokio-uring's `fs::File`, op by op
// ---------------------------------------------------------------------

/// tokio-uring's `basic_write`, `vectored_write`, `vectored_read`,
/// `sync_doesnt_kill_anything`, `basic_fallocate` and `rename`, on a
/// reactor driven by tokio: a file created through the ring, written at
/// offsets, vectored (with an empty buffer among the others), synced both
/// ways, grown by `FALLOC_FL_ZERO_RANGE` to 1024 bytes and not further by
/// `FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE`, renamed (refused with
/// `EEXIST` under `RENAME_NOREPLACE` onto an existing name, then done),
/// reopened under the new name while the old one is gone (`ENOENT`), and
/// unlinked. What std reads from disk matches at each step.
#[test]
fn tokio_uring_file_lifecycle_through_reactor_ops() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file");
    let renamed = dir.path().join("file_renamed");
    let other = dir.path().join("other");
    std::fs::write(&other, b"keep me").unwrap();
    let (path2, renamed2, other2) = (path.clone(), renamed.clone(), other.clone());
    start(move |h| async move {
        let (path, renamed, other) = (path2, renamed2, other2);
        let fd = open(&h, &path, libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC)
            .await
            .unwrap();
        // write_at(HELLO, 0)
        let (r, back) = h.op(Write::new(&fd, HELLO, 0)).await;
        assert_eq!(r.unwrap() as usize, HELLO.len());
        assert_eq!(back, HELLO);
        assert_eq!(std::fs::read(&path).unwrap(), HELLO);
        // writev_at(["hello", "", " world..."], 14)
        let bufs = vec![b"HELLO".to_vec(), Vec::new(), b" WORLD...".to_vec()];
        let (r, bufs) = h.op(WriteV::new(&fd, bufs, 14)).await;
        assert_eq!(r.unwrap(), 14);
        assert_eq!(bufs[2], b" WORLD...");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"hello world...HELLO WORLD..."
        );
        // sync_all / sync_data, before and after a write
        for op in [Fsync::new(&fd), Fsync::data(&fd)] {
            assert_eq!(h.op(op).await.0.unwrap(), 0);
        }
        // readv_at([5, 0, 9, 100], 0): filled in turn, the empty one skipped
        let bufs = vec![
            Vec::with_capacity(5),
            Vec::new(),
            Vec::with_capacity(9),
            Vec::with_capacity(100),
        ];
        let (r, bufs) = h.op(ReadV::new(&fd, bufs, 0)).await;
        assert_eq!(r.unwrap(), 28);
        assert_eq!(bufs[0], b"hello");
        assert!(bufs[1].is_empty());
        assert_eq!(bufs[2], b" world...");
        assert_eq!(bufs[3], b"HELLO WORLD...");
        // fallocate: ZERO_RANGE grows the file, KEEP_SIZE does not
        let (r, ()) = h
            .op(Fallocate::new(&fd, 0, 1024).mode(libc::FALLOC_FL_ZERO_RANGE))
            .await;
        match errno(&r) {
            Some(libc::EOPNOTSUPP) => {
                skip("the file system has no FALLOC_FL_ZERO_RANGE");
            }
            _ => {
                r.unwrap();
                assert_eq!(h.op(Fsync::new(&fd)).await.0.unwrap(), 0);
                assert_eq!(statx_size(&h, &fd).await, 1024);
                let disk = std::fs::read(&path).unwrap();
                assert_eq!(disk.len(), 1024);
                assert!(disk.iter().all(|&b| b == 0), "ZERO_RANGE left data");
                let mode = libc::FALLOC_FL_ZERO_RANGE | libc::FALLOC_FL_KEEP_SIZE;
                let (r, ()) = h.op(Fallocate::new(&fd, 0, 2048).mode(mode)).await;
                r.unwrap();
                assert_eq!(statx_size(&h, &fd).await, 1024, "KEEP_SIZE grew it");
                assert_eq!(std::fs::metadata(&path).unwrap().len(), 1024);
            }
        }
        // a fallocate of nothing is the kernel's EINVAL, not a panic
        let (r, ()) = h.op(Fallocate::new(&fd, 0, 0)).await;
        assert_eq!(errno(&r), Some(libc::EINVAL));
        drop(fd);
        // rename: NOREPLACE onto an existing name is refused, both files kept
        let (r, ()) = h
            .op(RenameAt::new(cpath(&path), cpath(&other)).flags(libc::RENAME_NOREPLACE))
            .await;
        assert_eq!(errno(&r), Some(libc::EEXIST));
        assert_eq!(std::fs::read(&other).unwrap(), b"keep me");
        let (r, ()) = h.op(RenameAt::new(cpath(&path), cpath(&renamed))).await;
        r.unwrap();
        let gone = open(&h, &path, libc::O_RDONLY).await;
        assert_eq!(errno(&gone), Some(libc::ENOENT));
        let fd = open(&h, &renamed, libc::O_RDONLY).await.unwrap();
        let (r, buf) = h.op(Read::new(&fd, Vec::with_capacity(1024), 0)).await;
        let len = std::fs::metadata(&renamed).unwrap().len();
        assert_eq!(u64::from(r.unwrap()), len.min(1024));
        assert_eq!(buf.len() as u64, len.min(1024));
        drop(fd);
        // create_dir / remove_dir / remove_file
        let sub = renamed.with_file_name("sub");
        assert_eq!(h.op(MkdirAt::new(cpath(&sub), 0o755)).await.0.unwrap(), 0);
        let (r, ()) = h.op(MkdirAt::new(cpath(&sub), 0o755)).await;
        assert_eq!(errno(&r), Some(libc::EEXIST));
        let inner = sub.join("f");
        std::fs::write(&inner, b"x").unwrap();
        let (r, ()) = h.op(UnlinkAt::dir(cpath(&sub))).await;
        assert_eq!(errno(&r), Some(libc::ENOTEMPTY));
        let (r, ()) = h.op(UnlinkAt::new(cpath(&sub))).await;
        assert_eq!(errno(&r), Some(libc::EISDIR), "unlink of a directory");
        assert_eq!(h.op(UnlinkAt::new(cpath(&inner))).await.0.unwrap(), 0);
        assert_eq!(h.op(UnlinkAt::dir(cpath(&sub))).await.0.unwrap(), 0);
        assert_eq!(h.op(UnlinkAt::new(cpath(&renamed))).await.0.unwrap(), 0);
        assert!(!renamed.exists() && !sub.exists() && !path.exists());
    });
    assert_eq!(std::fs::read(&other).unwrap(), b"keep me");
}

/// tokio-uring's `basic_read_exact` and `basic_write_all`, which uring
/// has no helper for: a loop of `Write`s over `Slice`s of one buffer (no
/// copy) puts 14 000 bytes on disk, and a loop of `Read`s reads them back
/// at offsets (into fresh buffers: a read fills a buffer from its first
/// byte, so the unread tail of one cannot be the target). A read at the
/// end of the file completes with 0 and leaves a boxed buffer's canary
/// untouched; a read of 3 bytes into a vector that already holds 8 gives
/// 3 and leaves the vector's length at 8, its last 5 bytes the old ones.
#[test]
fn read_exact_and_write_all_at_offsets_as_loops_over_short_transfers() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let data = HELLO.repeat(1000);
    let (path2, data2) = (path.clone(), data.clone());
    start(move |h| async move {
        let fd = open(&h, &path2, libc::O_RDWR | libc::O_CREAT)
            .await
            .unwrap();
        // write_all_at(data, 100): slices of one buffer, each a new op
        let mut buf = data2.clone();
        let mut done = 0;
        let mut ops = 0;
        while done < buf.len() {
            let end = (done + 4093).min(buf.len());
            let (r, slice) = h
                .op(Write::new(&fd, buf.slice(done..end), 100 + done as u64))
                .await;
            let n = r.unwrap() as usize;
            assert!(n > 0);
            done += n;
            ops += 1;
            buf = slice.into_inner();
        }
        assert_eq!(ops, 4);
        assert_eq!(buf, data2, "the buffer came back changed");
        // read_exact_at(14 000, 100)
        let mut got = Vec::new();
        while got.len() < data2.len() {
            let want = (data2.len() - got.len()).min(5000);
            let (r, chunk) = h
                .op(Read::new(
                    &fd,
                    Vec::with_capacity(want),
                    100 + got.len() as u64,
                ))
                .await;
            let n = r.unwrap() as usize;
            assert!(n > 0, "an early end of file");
            assert_eq!(chunk.len(), n);
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, data2);
        // past the end: 0, and the canary stays
        let (r, boxed) = h
            .op(Read::new(
                &fd,
                vec![0xEEu8; 64].into_boxed_slice(),
                100 + data2.len() as u64,
            ))
            .await;
        assert_eq!(r.unwrap(), 0);
        assert!(
            boxed.iter().all(|&b| b == 0xEE),
            "a read past the end wrote"
        );
        // a vector with a length already: the first bytes replaced, the length kept
        let mut stale = Vec::with_capacity(8);
        stale.extend_from_slice(&[0xEE; 8]);
        let (r, stale) = h
            .op(Read::new(&fd, stale, 100 + data2.len() as u64 - 3))
            .await;
        assert_eq!(r.unwrap(), 3);
        assert_eq!(stale.len(), 8, "the length moved");
        assert_eq!(&stale[..3], &data2[data2.len() - 3..]);
        assert_eq!(&stale[3..], &[0xEE; 5]);
    });
    let disk = std::fs::read(&path).unwrap();
    assert_eq!(disk.len(), 100 + data.len());
    assert!(disk[..100].iter().all(|&b| b == 0), "a hole with data");
    assert_eq!(&disk[100..], &data[..]);
}

/// compio's and monoio's reads and writes "at the cursor", in uring's
/// form (an offset of `u64::MAX`, the kernel's -1): successive reads take
/// successive bytes and move the file's position, which a plain `read(2)`
/// on a duplicate of the descriptor then continues from; writes at the
/// position to a file opened `O_APPEND` land at its end whatever the
/// position; a read at the position of a pipe (`FMODE_STREAM`) reads it.
#[test]
fn reads_and_writes_at_the_file_position_move_it_as_read_2_does() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cursor");
    std::fs::write(&path, b"0123456789abcdef").unwrap();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let file = std::fs::File::open(&path).unwrap();
    let mut dup = file.try_clone().unwrap();
    let fd = SharedFd::new(file);
    let mut got = Vec::new();
    for _ in 0..3 {
        let (r, buf) = reactor
            .run_until(h.op(Read::new(&fd, Vec::with_capacity(4), u64::MAX)))
            .unwrap();
        assert_eq!(r.unwrap(), 4);
        got.extend_from_slice(&buf);
    }
    assert_eq!(got, b"0123456789ab");
    let mut rest = Vec::new();
    dup.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"cdef", "the position did not move with the reads");
    // At the end of the file now: 0.
    let (r, buf) = reactor
        .run_until(h.op(Read::new(&fd, Vec::with_capacity(4), u64::MAX)))
        .unwrap();
    assert_eq!((r.unwrap(), buf.len()), (0, 0));

    let appended = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    let afd = SharedFd::new(appended);
    for (chunk, offset) in [(&b"XY"[..], u64::MAX), (&b"Z"[..], 0)] {
        let (r, _) = reactor
            .run_until(h.op(Write::new(&afd, chunk, offset)))
            .unwrap();
        assert_eq!(r.unwrap() as usize, chunk.len());
    }
    // O_APPEND puts even the write at offset 0 at the end (pwritev2 does too).
    assert_eq!(std::fs::read(&path).unwrap(), b"0123456789abcdefXYZ");

    let (rx, tx) = uring_tests::pipe();
    let rx = SharedFd::new(rx);
    std::fs::File::from(tx).write_all(b"piped").unwrap();
    let (r, buf) = reactor
        .run_until(h.op(Read::new(&rx, Vec::with_capacity(16), u64::MAX)))
        .unwrap();
    assert_eq!(r.unwrap(), 5);
    assert_eq!(buf, b"piped");
}

/// tokio-uring's `cancel_read` and `drop_open`: a read of a file polled
/// once and dropped leaves the file to the next read, which reads it
/// whole; 200 opens with `O_CREAT` dropped unpolled (queued at creation,
/// cancelled at the drop, while io-wq may have opened already) leave no
/// descriptor open once the reactor has nothing in flight, and the next
/// create opens the file. Run in a process of its own, where the count of
/// open descriptors is the test's alone.
#[test]
fn tokio_uring_cancel_read_and_drop_open_leak_no_descriptor() {
    uring_tests::in_own_process(
        "tokio_uring_cancel_read_and_drop_open_leak_no_descriptor",
        "an open that never ended",
        || {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("dropped");
            std::fs::write(&path, HELLO).unwrap();
            let reactor = Reactor::new().unwrap();
            let h = reactor.handle();
            let fd = SharedFd::new(std::fs::File::open(&path).unwrap());
            let base = uring_tests::open_fd_count();
            let mut read = h.op(Read::new(&fd, Vec::with_capacity(1024), 0));
            let _ = poll_once(&mut read);
            drop(read);
            let (r, buf) = reactor
                .run_until(h.op(Read::new(&fd, Vec::with_capacity(1024), 0)))
                .unwrap();
            assert_eq!(r.unwrap() as usize, HELLO.len());
            assert_eq!(buf, HELLO);
            let created = dir.path().join("created");
            for _ in 0..200 {
                let open = h.op(OpenAt::new(
                    cpath(&created),
                    libc::O_RDWR | libc::O_CREAT,
                    0o600,
                ));
                drop(open);
            }
            reactor.run().unwrap();
            assert_eq!(h.in_flight(), 0);
            assert_eq!(
                uring_tests::open_fd_count(),
                base,
                "a dropped open left its descriptor open"
            );
            let (r, made) = reactor
                .run_until(h.op(OpenAt::new(
                    cpath(&created),
                    libc::O_RDWR | libc::O_CREAT,
                    0o600,
                )))
                .unwrap();
            r.unwrap();
            assert!(made.is_some());
            assert!(created.exists());
            drop(made);
            assert_eq!(uring_tests::open_fd_count(), base);
        },
    );
}

// ---------------------------------------------------------------------
// `select!` and cancellation: monoio's cancelable reads, the pitfalls
// ---------------------------------------------------------------------

/// monoio's `cancel_select` (`CancelableAsyncReadRent`): a receive raced
/// against a timer; when the timer wins, the receive is cancelled (by its
/// id) and still awaited, so that its buffer comes back: either the cancel
/// caught it (`ECANCELED`, the buffer's canary intact) or the bytes had
/// come (a count, the bytes in the buffer). A peer thread writes 400
/// chunks at uneven moments; what the receives return, in order, is
/// exactly what it wrote: nothing lost to a cancel, nothing twice.
#[test]
fn monoio_cancel_select_keeps_the_buffer_and_every_byte() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (stream, mut peer) = connected(&h);
    let fd = stream.shared_fd().clone();
    let want = pattern(400 * 97, 3);
    let to_send = want.clone();
    let writer = std::thread::spawn(move || {
        let mut rng = uring_tests::Rng(0x1234_5678);
        for chunk in to_send.chunks(97) {
            std::thread::sleep(Duration::from_micros(rng.below(600)));
            peer.write_all(chunk).unwrap();
        }
        peer.shutdown(std::net::Shutdown::Write).unwrap();
        peer
    });
    let mut got = Vec::new();
    let (mut cancelled_clean, mut cancelled_late, mut won) = (0u32, 0u32, 0u32);
    let mut rng = uring_tests::Rng(0xfeed);
    loop {
        let mut recv = h.op(Recv::new(&fd, vec![0xEE; 64].into_boxed_slice()));
        let mut timer = h.op(Timeout::new(Duration::from_micros(50 + rng.below(400))));
        let first = reactor
            .run_until(std::future::poll_fn(|cx| {
                if let Poll::Ready(done) = Pin::new(&mut recv).poll(cx) {
                    return Poll::Ready(Some(done));
                }
                if Pin::new(&mut timer).poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                Poll::Pending
            }))
            .unwrap();
        drop(timer);
        let (r, buf, late) = match first {
            Some((r, buf)) => {
                won += 1;
                (r, buf, false)
            }
            None => {
                let id = recv.id().expect("the receive is in flight");
                let _ = h.cancel(id).unwrap();
                let (r, buf) = reactor.run_until(recv).unwrap();
                (r, buf, true)
            }
        };
        match r {
            Ok(0) => break,
            Ok(n) => {
                let n = n as usize;
                got.extend_from_slice(&buf[..n]);
                assert!(
                    buf[n..].iter().all(|&b| b == 0xEE),
                    "written past the count"
                );
                if late {
                    cancelled_late += 1;
                }
            }
            Err(e) => {
                assert!(late, "a receive nobody cancelled failed: {e}");
                assert_eq!(e.raw_os_error(), Some(libc::ECANCELED), "{e}");
                assert!(buf.iter().all(|&b| b == 0xEE), "a cancelled receive wrote");
                cancelled_clean += 1;
            }
        }
    }
    let _peer = writer.join().unwrap();
    reactor.run().unwrap();
    assert_eq!(h.in_flight(), 0, "a dropped timer or cancel left in flight");
    // A cancel that comes after the bytes did (the receive's poll already
    // woken, its completion not yet read): it misses, and the receive
    // gives the bytes, not an error.
    let (stream2, mut peer2) = connected(&h);
    let fd2 = stream2.shared_fd().clone();
    let mut recv = h.op(Recv::new(&fd2, vec![0xEE; 64].into_boxed_slice()));
    assert!(poll_once(&mut recv).is_pending());
    reactor.submit().unwrap();
    peer2.write_all(b"late").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let _ = h.cancel(recv.id().unwrap()).unwrap();
    let (r, buf) = reactor.run_until(recv).unwrap();
    match r {
        Ok(n) => {
            eprintln!("the late cancel missed");
            assert_eq!(&buf[..n as usize], b"late");
        }
        Err(e) => {
            assert_eq!(e.raw_os_error(), Some(libc::ECANCELED), "{e}");
            assert!(buf.iter().all(|&b| b == 0xEE));
            let (r, buf) = reactor
                .run_until(h.op(Recv::new(&fd2, Vec::with_capacity(64))))
                .unwrap();
            assert_eq!(r.unwrap(), 4);
            assert_eq!(buf, b"late", "the bytes the cancelled receive missed");
        }
    }
    eprintln!(
        "won {won}, cancelled {cancelled_clean}, completed under the cancel {cancelled_late}"
    );
    assert_eq!(got.len(), want.len(), "bytes lost or doubled");
    assert!(got == want, "the bytes differ");
    assert!(
        cancelled_clean > 0,
        "no receive was ever cancelled: the race never ran"
    );
}

/// The `select!` pitfall of owned-buffer runtimes, on `uring::net`: a
/// `TcpStream::read` polled, completed by the kernel (the bytes are in its
/// buffer), and then dropped unpolled, as a `select!` whose other branch
/// won drops it, takes its bytes with it: the next read gets only what
/// the peer wrote after. (The listener's `accept` is cancel-safe and says
/// so; `read` is not, and its documentation does not say; the reactor's
/// docs say a dropped op's output is dropped with its result.)
#[test]
fn a_net_read_dropped_after_the_kernel_completed_it_loses_its_bytes() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (stream, mut peer) = connected(&h);
    let mut read = Box::pin(stream.read(Vec::with_capacity(64)));
    assert!(poll_once(&mut read).is_pending());
    reactor.submit().unwrap();
    peer.write_all(b"first").unwrap();
    drive(&reactor, Duration::from_secs(5), || {
        (h.in_flight() == 0).then_some(())
    })
    .expect("the read completed");
    drop(read);
    peer.write_all(b"second").unwrap();
    let (r, buf) = reactor
        .run_until(stream.read(Vec::with_capacity(64)))
        .unwrap();
    let n = r.unwrap();
    assert_eq!(&buf[..n], b"second", "the dropped read's bytes came back");
}

/// monoio's `fd_leak` (`test_fd_leak_cancel_fail`), with the reactor's
/// one-shot accepts rather than a listener's (which keeps such a
/// connection for its next accept): an accept polled and submitted, a
/// peer connecting and writing a byte, the accept completed by the kernel
/// and then dropped unpolled: the accepted socket is closed, so the peer
/// reads the end of the stream (or a reset), not silence. Both `Accept`
/// and `AcceptFrom`.
#[test]
fn monoio_fd_leak_an_accept_dropped_after_the_kernel_accepted_closes_the_socket() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = std::net::TcpListener::bind(any()).unwrap();
    let addr = listener.local_addr().unwrap();
    let lfd = SharedFd::new(listener);
    for from in [false, true] {
        let mut plain = (!from).then(|| h.op(Accept::new(&lfd)));
        let mut with_addr = from.then(|| h.op(AcceptFrom::new(&lfd)));
        if let Some(f) = plain.as_mut() {
            assert!(poll_once(f).is_pending());
        }
        if let Some(f) = with_addr.as_mut() {
            assert!(poll_once(f).is_pending());
        }
        reactor.submit().unwrap();
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        conn.write_all(&[0]).unwrap();
        drive(&reactor, Duration::from_secs(5), || {
            (h.in_flight() == 0).then_some(())
        })
        .expect("the accept completed");
        drop(plain);
        drop(with_addr);
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut one = [0u8; 1];
        match conn.read(&mut one) {
            Ok(0) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            other => panic!(
                "accept{}: the dropped accept's socket: {other:?}",
                if from { "_from" } else { "" }
            ),
        }
    }
}

// ---------------------------------------------------------------------
// Sockets: tokio-uring's readv / writev, timers as sleeps
// ---------------------------------------------------------------------

/// tokio-uring's `TcpStream::readv` / `writev` (which `uring::net` lacks),
/// as the reactor's `ReadV` / `WriteV` / `SendV` over the stream's shared
/// descriptor: buffers of 5, 0, 9 and 4 bytes take the 14 bytes a peer
/// wrote in turn (the empty one skipped); a vectored write and a vectored
/// send with an empty buffer among them put the bytes on the wire in
/// order; vectored ops over no buffer at all complete with 0 at once.
#[test]
fn tokio_uring_stream_readv_writev_over_the_shared_descriptor() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (stream, mut peer) = connected(&h);
    let fd = stream.shared_fd().clone();
    peer.write_all(HELLO).unwrap();
    let bufs = vec![
        Vec::with_capacity(5),
        Vec::new(),
        Vec::with_capacity(9),
        Vec::with_capacity(4),
    ];
    // (A peer's 14 bytes in one segment on loopback: one receive takes them.)
    std::thread::sleep(Duration::from_millis(20));
    let (r, bufs) = reactor.run_until(h.op(ReadV::new(&fd, bufs, 0))).unwrap();
    assert_eq!(r.unwrap(), 14);
    assert_eq!(
        bufs.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        [&b"hello"[..], b"", b" world...", b""]
    );
    let out = vec![b"ab".to_vec(), Vec::new(), b"cde".to_vec()];
    let (r, out) = reactor.run_until(h.op(WriteV::new(&fd, out, 0))).unwrap();
    assert_eq!(r.unwrap(), 5);
    assert_eq!(out.len(), 3);
    let (r, ()) = reactor
        .run_until(async {
            let (r, _) = h.op(SendV::new(&fd, vec![&b"fg"[..], b"", b"h"])).await;
            (r, ())
        })
        .unwrap();
    let sent_v = match errno(&r) {
        Some(libc::EINVAL) => {
            skip("no vectored sends (IORING_SEND_VECTORIZED, 6.17)");
            false
        }
        _ => {
            assert_eq!(r.unwrap(), 3);
            true
        }
    };
    let expect: &[u8] = if sent_v { b"abcdefgh" } else { b"abcde" };
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = vec![0u8; expect.len()];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(got, expect);
    let (r, none) = reactor
        .run_until(h.op(ReadV::new(&fd, Vec::<Vec<u8>>::new(), 0)))
        .unwrap();
    assert_eq!((r.unwrap(), none.len()), (0, 0));
    let (r, _) = reactor
        .run_until(h.op(WriteV::new(&fd, Vec::<Vec<u8>>::new(), 0)))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    drop(stream);
}

/// monoio's and compio's `sleep` raced in `select!`, with the reactor's
/// `Timeout` as the sleep: a 10 ms timer beats a 30 s one, which is then
/// dropped (cancelled): the run that follows ends at once with nothing in
/// flight rather than after 30 s; a timer completes with `ETIME` (the
/// kernel's "expired"), never with 0; a timer bounded by an earlier
/// deadline ends `ECANCELED` at the deadline; a zero timer fires at once.
#[test]
fn timers_raced_as_sleeps_and_the_loser_dropped_end_the_run_at_once() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let started = Instant::now();
    let mut short = h.op(Timeout::new(Duration::from_millis(10)));
    let mut long = h.op(Timeout::new(Duration::from_secs(30)));
    let which = reactor
        .run_until(std::future::poll_fn(|cx| {
            if let Poll::Ready((r, ())) = Pin::new(&mut long).poll(cx) {
                return Poll::Ready(("long", r));
            }
            if let Poll::Ready((r, ())) = Pin::new(&mut short).poll(cx) {
                return Poll::Ready(("short", r));
            }
            Poll::Pending
        }))
        .unwrap();
    assert_eq!(which.0, "short");
    assert_eq!(errno(&which.1), Some(libc::ETIME));
    drop(long);
    reactor.run().unwrap();
    assert_eq!(h.in_flight(), 0);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the dropped timer held the run: {:?}",
        started.elapsed()
    );
    let t = Instant::now();
    let (r, ()) = reactor
        .run_until(h.op_with_deadline(
            Timeout::new(Duration::from_secs(30)),
            Instant::now() + Duration::from_millis(20),
        ))
        .unwrap();
    assert_eq!(errno(&r), Some(libc::ECANCELED));
    assert!(t.elapsed() >= Duration::from_millis(15) && t.elapsed() < Duration::from_secs(5));
    let (r, ()) = reactor
        .run_until(h.op(Timeout::new(Duration::ZERO)))
        .unwrap();
    assert_eq!(errno(&r), Some(libc::ETIME));
}

/// tokio-uring's `net` tests and monoio's `tcp_echo`, on the reactor's
/// own executor (`Handle::spawn`, no tokio): a listener accepts, a spawned
/// task echoes 1 MiB back with `read` and `write_all`, the client writes
/// and reads concurrently in two more spawned tasks; tasks report through
/// channels (spawn gives no join handle). The echo matches, and
/// `run()` returns once the tasks are done.
#[test]
fn monoio_tcp_echo_on_the_reactor_s_own_executor() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = uring::net::TcpListener::bind(&h, any()).unwrap();
    let addr = listener.local_addr().unwrap();
    let data = pattern(1 << 20, 11);
    let echoed = Rc::new(RefCell::new(Vec::new()));
    let server_done = Rc::new(RefCell::new(None));
    let sd = server_done.clone();
    h.spawn(async move {
        let conn = listener.accept().await.unwrap();
        let mut total = 0usize;
        let mut buf = Vec::with_capacity(16 * 1024);
        loop {
            buf.clear();
            let (r, b) = conn.read(buf).await;
            let n = r.unwrap();
            if n == 0 {
                break;
            }
            let (r, b) = conn.write_all(b.slice(..n)).await;
            r.unwrap();
            buf = b.into_inner();
            total += n;
        }
        conn.shutdown(std::net::Shutdown::Write).await.unwrap();
        *sd.borrow_mut() = Some(total);
    });
    let h2 = h.clone();
    let (e2, d2) = (echoed.clone(), data.clone());
    h.spawn(async move {
        let client = Rc::new(TcpStream::connect(&h2, addr).await.unwrap());
        let writer = client.clone();
        h2.spawn(async move {
            let (r, _) = writer.write_all(d2).await;
            r.unwrap();
            writer.shutdown(std::net::Shutdown::Write).await.unwrap();
        });
        loop {
            let (r, b) = client.read(Vec::with_capacity(10_000)).await;
            if r.unwrap() == 0 {
                break;
            }
            e2.borrow_mut().extend_from_slice(&b);
        }
    });
    reactor.run().unwrap();
    assert_eq!(*server_done.borrow(), Some(data.len()));
    assert!(*echoed.borrow() == data, "the echo differs");
    assert_eq!(h.in_flight(), 0);
}

/// Offsets and lengths past what the kernel takes (`loff_t` is signed: an
/// offset of `u64::MAX - 1` is -2, one of `1 << 63` is negative), in
/// reads, writes, vectored ones and fallocates, as tokio-uring's
/// `read_at(buf, pos)` / `fallocate(offset, len, mode)` would pass them:
/// each comes back as the kernel's errno (`EINVAL`, `EFBIG`, `ESPIPE`),
/// the buffers whole, the file unchanged; nothing panics.
#[test]
fn offsets_and_lengths_past_loff_t_come_back_as_errnos() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edges");
    std::fs::write(&path, b"unchanged").unwrap();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let fd = SharedFd::new(file);
    let bad = [u64::MAX - 1, 1 << 63, i64::MAX as u64 + 4096];
    for &off in &bad {
        let (r, buf) = reactor
            .run_until(h.op(Read::new(&fd, vec![0xEE; 8].into_boxed_slice(), off)))
            .unwrap();
        assert_eq!(errno(&r), Some(libc::EINVAL), "read at {off:#x}: {r:?}");
        assert!(buf.iter().all(|&b| b == 0xEE));
        let (r, buf) = reactor
            .run_until(h.op(Write::new(&fd, b"xx".to_vec(), off)))
            .unwrap();
        assert!(
            matches!(errno(&r), Some(libc::EINVAL | libc::EFBIG)),
            "write at {off:#x}: {r:?}"
        );
        assert_eq!(buf, b"xx");
        let (r, bufs) = reactor
            .run_until(h.op(ReadV::new(&fd, vec![Vec::<u8>::with_capacity(4)], off)))
            .unwrap();
        assert_eq!(errno(&r), Some(libc::EINVAL), "readv at {off:#x}: {r:?}");
        assert!(bufs[0].is_empty());
        let (r, ()) = reactor
            .run_until(h.op(Fallocate::new(&fd, off, 1)))
            .unwrap();
        assert!(
            matches!(errno(&r), Some(libc::EINVAL | libc::EFBIG)),
            "fallocate at {off:#x}: {r:?}"
        );
        let (r, ()) = reactor
            .run_until(h.op(Fallocate::new(&fd, 0, off)))
            .unwrap();
        assert!(
            matches!(errno(&r), Some(libc::EINVAL | libc::EFBIG)),
            "fallocate of {off:#x}: {r:?}"
        );
    }
    // Just below the largest file size ext4/tmpfs allow: EFBIG, not a write.
    let (r, _) = reactor
        .run_until(h.op(Write::new(&fd, b"yy".to_vec(), i64::MAX as u64 - 1)))
        .unwrap();
    assert!(
        matches!(errno(&r), Some(libc::EFBIG | libc::EINVAL)),
        "{r:?}"
    );
    // An offset on a pipe, which has none: the kernel ignores it for a
    // stream (FMODE_STREAM) and reads.
    let (rx, tx) = uring_tests::pipe();
    std::fs::File::from(tx).write_all(b"p").unwrap();
    let rx = SharedFd::new(rx);
    let (r, buf) = reactor
        .run_until(h.op(Read::new(&rx, Vec::with_capacity(4), 12345)))
        .unwrap();
    match errno(&r) {
        Some(libc::ESPIPE) => assert!(buf.is_empty()),
        _ => assert_eq!((r.unwrap(), buf.as_slice()), (1, &b"p"[..])),
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"unchanged");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 9);
}

/// A `select!` that cancels a timer after it fired but before its
/// completion was read (monoio's and compio's timer drivers once handed
/// out such a timer twice): the timer's completion (`ETIME`) comes once,
/// to the future and to a callback alike; the cancel finds nothing, and
/// nothing is left in flight.
#[test]
fn a_cancel_of_a_timer_that_fired_unread_delivers_its_one_completion() {
    use std::cell::Cell;
    use std::rc::Rc;
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let id = h
        .queue(Timeout::new(Duration::from_millis(1)), move |r, ()| {
            assert_eq!(errno(&r), Some(libc::ETIME));
            c.set(c.get() + 1);
        })
        .unwrap();
    let mut fut = h.op(Timeout::new(Duration::from_millis(1)));
    assert!(poll_once(&mut fut).is_pending());
    reactor.submit().unwrap();
    std::thread::sleep(Duration::from_millis(30));
    let _ = h.cancel(id).unwrap();
    let _ = h.cancel(fut.id().unwrap()).unwrap();
    let (r, ()) = reactor.run_until(fut).unwrap();
    assert_eq!(errno(&r), Some(libc::ETIME), "the fired timer: {r:?}");
    reactor.run().unwrap();
    assert_eq!(
        calls.get(),
        1,
        "the timer's callback ran {} times",
        calls.get()
    );
    assert_eq!(h.in_flight(), 0);
    assert!(!h.cancel(id).unwrap(), "a stale id cancelled something");
}

/// tokio-uring's `UdpSocket::send_zc`, through `uring::net::UdpSocket`'s
/// shared descriptor: a zero-copy send queued by hand on a connected
/// socket completes with its byte count, gives its buffer back, and the
/// peer's `recv` gets the datagram; the socket's `handle` is the reactor
/// it was made on.
#[test]
fn a_udp_socket_s_shared_descriptor_takes_a_zero_copy_send() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let localhost = "127.0.0.1:0".parse().unwrap();
    let a = uring::net::UdpSocket::bind(&h, localhost).unwrap();
    let b = uring::net::UdpSocket::bind(&h, localhost).unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    let sent = pattern(300, 7);
    let (res, back) = reactor
        .run_until(a.handle().op(uring::reactor::ops::SendZc::new(
            a.shared_fd(),
            sent.clone(),
        )))
        .unwrap();
    assert_eq!(res.unwrap(), 300);
    assert_eq!(back, sent, "the buffer given back");
    let (res, got) = reactor.run_until(b.recv(Vec::with_capacity(512))).unwrap();
    assert_eq!(res.unwrap(), 300);
    assert_eq!(got, sent);
}
