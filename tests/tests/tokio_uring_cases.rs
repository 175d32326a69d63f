//! tokio-uring's own test suite, ported to this library's event-loop layer
//! (`uring::reactor`, `uring::fs`, `uring::net`), so that a program moving
//! from tokio-uring finds each behaviour here: tokio-uring's
//! `tests/fs_file.rs`, `fs_directory.rs`, `fs_symlink.rs`, `driver.rs`,
//! `runtime.rs` and `buf.rs` (HEAD 5fb1a4f), and the doc examples of its
//! `src/net` (`TcpListener`, `TcpStream`, `UdpSocket`, `UnixListener`,
//! `UnixStream`), which stand for the net tests it has no file for. Each
//! test names the case it ports; `tokio_uring::start(fut)` is a fresh
//! `Reactor` running `fut` to its end. Beside the straight ports: the same
//! cases over a pipe, a socket, IPv6, a tiny CQ with a multishot accept,
//! a tokio-driven reactor whose runtime is dropped, and tokio's task
//! handles (abort, panic, drop at shutdown) against the reactor's.
//!
//! Read against tokio-uring's sources (`src/fs`, `src/net`, `src/io`,
//! `src/runtime`) for what each case expects, and Linux's `io_uring/rw.c`
//! (`io_prep_rw`: a file opened as a stream, `FMODE_STREAM`, takes no
//! position; a short write to a pipe completes short, only regular files
//! and block devices are retried), `net/socket.c` (`sock_read_iter` and
//! `sock_write_iter` fail a position other than 0 with `ESPIPE`),
//! `io_uring/net.c` (`io_recvmsg` through `__sys_recvmsg_sock`, which
//! writes the sender's address and its length back; a datagram cut to the
//! buffer without `MSG_TRUNC` in the count) and `io_uring/timeout.c`
//! (relative timeouts saturate, so `Duration::MAX` never fires).
//! What tokio-uring offers and this library has no form of (fixed buffers
//! through the reactor, a thread's current runtime, ...) is not faked.

use std::cell::RefCell;
use std::future::Future;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::ops::Bound;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use uring::fs::{self, File, OpenOptions};
use uring::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use uring::reactor::ops::{Nop, SendV, SendZc};
use uring::reactor::{Handle, IoBuf, IoBufMut, Reactor};
use uring_tests::reactor::{drive_until, pipe_bytes};
use uring_tests::{pattern, watchdog};

const HELLO: &[u8] = b"hello world...";

/// `tokio_uring::start`: a fresh reactor runs the future `f` makes to its
/// end; then the reactor is run until nothing of the program's is left in
/// flight (a dropped future's op ends at its cancel), which must come.
fn start<F, Fut, T>(f: F) -> T
where
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = T>,
{
    let reactor = Reactor::new().unwrap();
    let out = reactor.run_until(f(reactor.handle())).unwrap();
    assert!(
        drive_until(&reactor, Duration::from_secs(10), || reactor.in_flight()
            == 0),
        "ops left in flight: {}",
        reactor.in_flight()
    );
    out
}

/// A named temporary file holding `bytes`.
fn tempfile_with(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut t = tempfile::NamedTempFile::new().unwrap();
    t.write_all(bytes).unwrap();
    t
}

/// tokio-uring's `read_hello`: a read at 0 into a 1 KiB buffer gives
/// `HELLO` whole.
async fn read_hello(file: &File) {
    let (res, buf) = file.read_at(Vec::with_capacity(1024), 0).await;
    let n = res.unwrap();
    assert_eq!(n, HELLO.len());
    assert_eq!(&buf[..n], HELLO);
}

/// Polls `fut` once (a waker that does nothing), asserting it is pending,
/// then drops it: tokio-uring's `poll_once`.
fn poll_once_then_drop<F: Future>(fut: F) {
    let mut fut = Box::pin(fut);
    assert!(uring_tests::poll_once(&mut fut).is_pending());
}

/// Whether the pipe whose read end is `r` has seen its last writer go: a
/// read of it gives 0 bytes at once (it must hold nothing).
fn pipe_at_eof(r: &OwnedFd) -> bool {
    let mut probe = std::fs::File::from(r.try_clone().unwrap());
    // SAFETY: F_GETFL / F_SETFL on a descriptor owned here; no memory.
    unsafe {
        let flags = libc::fcntl(probe.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(probe.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let mut b = [0u8; 1];
    match probe.read(&mut b) {
        Ok(0) => true,
        Ok(n) => panic!("the pipe held {n} bytes"),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(e) => panic!("reading the pipe: {e}"),
    }
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

// ---------------------------------------------------------------- fs_file.rs

/// fs_file.rs `basic_read`: a file written by std, opened through the
/// ring and read at 0.
#[test]
fn fs_file_basic_read() {
    let _watch = watchdog();
    let t = tempfile_with(HELLO);
    start(|h| async move {
        let file = File::open(&h, t.path()).await.unwrap();
        read_hello(&file).await;
    });
    // The next case of the port, in this test.
    fs_file_basic_read_exact();
}

/// fs_file.rs `basic_read_exact`: 14 000 bytes read back whole, by
/// `read_exact_at` into a vector of that capacity; past the end it fails
/// with `UnexpectedEof`, the bytes there kept.
fn fs_file_basic_read_exact() {
    let _watch = watchdog();
    let data = HELLO.repeat(1000);
    let t = tempfile_with(&data);
    let len = data.len();
    let got = start(|h| async move {
        let file = File::open(&h, t.path()).await.unwrap();
        let (res, got) = file.read_exact_at(Vec::with_capacity(len), 0).await;
        res.unwrap();
        let (res, tail) = file
            .read_exact_at(Vec::with_capacity(8), len as u64 - 3)
            .await;
        assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(tail, &HELLO[HELLO.len() - 3..]);
        got
    });
    assert_eq!(got, HELLO.repeat(1000));
}

/// fs_file.rs `basic_write`: a write of static bytes at 0 into a created
/// file; std reads them back.
#[test]
fn fs_file_basic_write() {
    let _watch = watchdog();
    let t = tempfile::NamedTempFile::new().unwrap();
    let path = t.path().to_path_buf();
    start(|h| async move {
        let file = File::create(&h, &path).await.unwrap();
        let (res, buf) = file.write_at(HELLO, 0).await;
        assert_eq!(res.unwrap(), HELLO.len());
        assert_eq!(buf, HELLO);
    });
    assert_eq!(std::fs::read(t.path()).unwrap(), HELLO);
    // The next case of the port, in this test.
    fs_file_basic_write_all();
}

/// fs_file.rs `vectored_read`: buffers of 5 and 9 bytes' room filled in
/// turn; the second starts with the space.
#[test]
fn fs_file_vectored_read() {
    let _watch = watchdog();
    let t = tempfile_with(HELLO);
    start(|h| async move {
        let file = File::open(&h, t.path()).await.unwrap();
        let bufs = vec![Vec::<u8>::with_capacity(5), Vec::<u8>::with_capacity(9)];
        let (res, bufs) = file.readv_at(bufs, 0).await;
        assert_eq!(res.unwrap(), HELLO.len());
        assert_eq!(bufs[0], b"hello");
        assert_eq!(bufs[1][0], b' ');
        assert_eq!(bufs[1], b" world...");
    });
    // The next case of the port, in this test.
    fs_file_vectored_write();
}

/// fs_file.rs `vectored_write`: two owned buffers written in turn at 0.
fn fs_file_vectored_write() {
    let _watch = watchdog();
    let t = tempfile::NamedTempFile::new().unwrap();
    let path = t.path().to_path_buf();
    start(|h| async move {
        let file = File::create(&h, &path).await.unwrap();
        let bufs = vec![b"hello".to_vec(), b" world...".to_vec()];
        let (res, bufs) = file.writev_at(bufs, 0).await;
        assert_eq!(res.unwrap(), HELLO.len());
        assert_eq!(bufs.len(), 2, "the buffers come back");
    });
    assert_eq!(std::fs::read(t.path()).unwrap(), HELLO);
}

/// fs_file.rs `basic_write_all`: 14 000 bytes with `write_all_at`, and the
/// buffer back unchanged.
fn fs_file_basic_write_all() {
    let _watch = watchdog();
    let data = pattern(14_000, 3);
    let t = tempfile::NamedTempFile::new().unwrap();
    let path = t.path().to_path_buf();
    let back = start(|h| async move {
        let file = File::create(&h, &path).await.unwrap();
        let (res, data) = file.write_all_at(data, 0).await;
        res.unwrap();
        data
    });
    assert_eq!(back, pattern(14_000, 3));
    assert_eq!(std::fs::read(t.path()).unwrap(), back);
}

/// fs_file.rs `cancel_read`: a read's future polled once and dropped
/// (its op cancelled), then the same file read again whole.
#[test]
fn fs_file_cancel_read() {
    let _watch = watchdog();
    let t = tempfile_with(HELLO);
    start(|h| async move {
        let file = File::open(&h, t.path()).await.unwrap();
        poll_once_then_drop(read_hello(&file));
        read_hello(&file).await;
    });
}

/// fs_file.rs `explicit_close` (ignored there): `close` closes the
/// descriptor now and says what `close(2)` said. Shown on a pipe's write
/// end, whose reader sees the end at once (a check of the descriptor
/// number would race other tests' opens).
#[test]
fn fs_file_explicit_close() {
    let _watch = watchdog();
    let (r, w) = uring_tests::pipe();
    start(|h| async move {
        let file = File::from_fd(&h, w);
        let (res, _) = file.write_at(b"x".to_vec(), 0).await;
        assert_eq!(res.unwrap(), 1);
        assert_eq!(pipe_bytes(&r), b"x");
        file.close().unwrap();
        assert!(pipe_at_eof(&r), "the write end is still open after close");
    });
    // The next case of the port, in this test.
    fs_file_close_with_a_read_in_flight();
}

/// fs_file.rs `drop_open`: an open's future made and dropped unpolled
/// opens nothing; the next `create` and write work.
#[test]
fn fs_file_drop_open() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let p = path.clone();
    start(|h| async move {
        drop(File::create(&h, &p));
        assert!(!p.exists(), "an unpolled create created the file");
        let file = File::create(&h, &p).await.unwrap();
        let (res, _) = file.write_at(HELLO, 0).await;
        assert_eq!(res.unwrap(), HELLO.len());
    });
    assert_eq!(std::fs::read(&path).unwrap(), HELLO);
}

/// fs_file.rs `drop_off_runtime` (ignored there): a file that outlives
/// its reactor is still closed when dropped, and its ops after the
/// reactor's end fail rather than hang or panic.
#[test]
fn fs_file_drop_off_runtime() {
    let _watch = watchdog();
    let (r, w) = uring_tests::pipe();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let file = reactor
        .run_until(async move { File::from_fd(&h, w) })
        .unwrap();
    drop(reactor);
    assert!(
        !pipe_at_eof(&r),
        "the file's descriptor closed with its reactor"
    );
    let fut = file.write_at(b"late".to_vec(), 0);
    let mut fut = Box::pin(fut);
    match uring_tests::poll_once(&mut fut) {
        std::task::Poll::Ready((res, buf)) => {
            assert!(res.is_err(), "a write after the reactor's end: {res:?}");
            assert_eq!(buf, b"late");
        }
        std::task::Poll::Pending => panic!("a write on a shut-down reactor waits for ever"),
    }
    drop(fut);
    assert_eq!(
        pipe_bytes(&r),
        b"",
        "a write after shutdown reached the pipe"
    );
    drop(file);
    assert!(
        pipe_at_eof(&r),
        "dropping the file off its reactor left it open"
    );
}

/// fs_file.rs `sync_doesnt_kill_anything`: `sync_all` and `sync_data`
/// before and after a write all succeed, and the write is there.
#[test]
fn fs_file_sync_doesnt_kill_anything() {
    let _watch = watchdog();
    let t = tempfile::NamedTempFile::new().unwrap();
    let path = t.path().to_path_buf();
    start(|h| async move {
        let file = File::create(&h, &path).await.unwrap();
        file.sync_all().await.unwrap();
        file.sync_data().await.unwrap();
        let (res, _) = file.write_at(&b"foo"[..], 0).await;
        assert_eq!(res.unwrap(), 3);
        file.sync_all().await.unwrap();
        file.sync_data().await.unwrap();
    });
    assert_eq!(std::fs::read(t.path()).unwrap(), b"foo");
}

/// fs_file.rs `rename`: read, close, rename through the ring; the new
/// path reads the same, the old one no longer opens (`ENOENT`).
#[test]
fn fs_file_rename() {
    let _watch = watchdog();
    let t = tempfile_with(HELLO);
    let old = t.path().to_path_buf();
    let mut name = old.file_name().unwrap().to_os_string();
    name.push("_renamed");
    let new = old.with_file_name(name);
    let (o, n) = (old.clone(), new.clone());
    start(|h| async move {
        let old_file = File::open(&h, &o).await.unwrap();
        read_hello(&old_file).await;
        old_file.close().unwrap();
        fs::rename(&h, &o, &n).await.unwrap();
        let new_file = File::open(&h, &n).await.unwrap();
        read_hello(&new_file).await;
        let err = File::open(&h, &o).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    });
    std::fs::remove_file(&new).unwrap();
    // The temporary file's own removal finds nothing, as tokio-uring's.
    drop(t);
}

/// fs_file.rs `basic_fallocate`: `FALLOC_FL_ZERO_RANGE` over 1 KiB sets
/// the size (`statx`'s `stx_size`) to 1024; with `FALLOC_FL_KEEP_SIZE`
/// over 2 KiB the size stays 1024, and the blocks grow.
#[test]
fn fs_file_basic_fallocate() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("falloc");
    start(|h| async move {
        let file = File::create(&h, &path).await.unwrap();
        match file.fallocate(0, 1024, libc::FALLOC_FL_ZERO_RANGE).await {
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
                uring_tests::skip("this file system has no FALLOC_FL_ZERO_RANGE");
                return;
            }
            r => r.unwrap(),
        }
        file.sync_all().await.unwrap();
        let st = file.statx().await.unwrap();
        assert_eq!(st.stx_size, 1024);
        let blocks = st.stx_blocks;
        file.fallocate(
            0,
            2048,
            libc::FALLOC_FL_ZERO_RANGE | libc::FALLOC_FL_KEEP_SIZE,
        )
        .await
        .unwrap();
        file.sync_all().await.unwrap();
        let st = file.statx().await.unwrap();
        assert_eq!(st.stx_size, 1024, "KEEP_SIZE changed the size");
        assert!(st.stx_blocks >= blocks);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 1024);
    });
}

// ------------------------------------------ fs_directory.rs, fs_symlink.rs

/// fs_directory.rs `basic_create_dir`: a directory made through the ring
/// is one; made again, `EEXIST`.
#[test]
fn fs_directory_basic_create_dir() {
    let _watch = watchdog();
    let base = tempfile::tempdir().unwrap();
    let new_dir = base.path().join("foo");
    let d = new_dir.clone();
    start(|h| async move {
        fs::create_dir(&h, &d).await.unwrap();
        let again = fs::create_dir(&h, &d).await.unwrap_err();
        assert_eq!(again.raw_os_error(), Some(libc::EEXIST));
    });
    assert!(new_dir.is_dir());
    // The next case of the port, in this test.
    fs_directory_basic_remove_dir();
}

/// fs_directory.rs `basic_remove_dir`: an empty directory removed
/// through the ring is gone; a non-empty one is refused (`ENOTEMPTY`).
fn fs_directory_basic_remove_dir() {
    let _watch = watchdog();
    let temp_dir = tempfile::TempDir::new().unwrap();
    let full = temp_dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("x"), b"x").unwrap();
    let (p, f) = (temp_dir.path().to_path_buf(), full.clone());
    start(|h| async move {
        let e = fs::remove_dir(&h, &f).await.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTEMPTY));
        fs::remove_file(&h, f.join("x")).await.unwrap();
        fs::remove_dir(&h, &f).await.unwrap();
        fs::remove_dir(&h, &p).await.unwrap();
    });
    assert!(std::fs::metadata(temp_dir.path()).is_err());
}

/// fs_symlink.rs `test_create_symlink`: a link made through the ring reads
/// as its target's bytes, and names the target as given.
#[test]
fn fs_symlink_test_create_symlink() {
    const TEST_PAYLOAD: &[u8] = b"I am data in the source file";
    let _watch = watchdog();
    let src = tempfile_with(TEST_PAYLOAD);
    let dst_dir = tempfile::tempdir().unwrap();
    let link = dst_dir.path().join("abc");
    let (s, l) = (src.path().to_path_buf(), link.clone());
    start(|h| async move {
        fs::symlink(&h, &s, &l).await.unwrap();
    });
    assert_eq!(std::fs::read(&link).unwrap(), TEST_PAYLOAD);
    assert_eq!(std::fs::read_link(&link).unwrap(), src.path());
}

// ----------------------------------------------------------------- driver.rs

/// A buffer that counts its owners through an `Arc`: tokio-uring's
/// `MyBuf` of `complete_ops_on_drop`.
struct CountedBuf {
    data: Vec<u8>,
    _owners: Arc<()>,
}

// SAFETY: the vector's heap bytes stay put and unchanged while the value
// is neither moved out of nor borrowed mutably.
unsafe impl IoBuf for CountedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.data.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.data.len()
    }
}

// SAFETY: as for `IoBuf`; the kernel may write the vector's capacity, and
// `set_init` is the vector's own.
unsafe impl IoBufMut for CountedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.data.as_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.data.capacity()
    }
    unsafe fn set_init(&mut self, n: usize) {
        // SAFETY: the caller says the first `n` bytes are initialised.
        unsafe { IoBufMut::set_init(&mut self.data, n) }
    }
}

/// driver.rs `complete_ops_on_drop`: a 64 KiB read of a 50 MiB file,
/// polled once and dropped; the buffer is dropped once the op ended, and
/// certainly once the reactor is gone, while the file lives on.
#[test]
fn driver_complete_ops_on_drop() {
    let _watch = watchdog();
    let owners = Arc::new(());
    let t = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(t.path(), vec![0u8; 50 * 1024 * 1024]).unwrap();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let o = owners.clone();
    let path = t.path().to_path_buf();
    let file = reactor
        .run_until(async move {
            let file = File::create(&h, &path).await.unwrap();
            poll_once_then_drop(file.read_at(
                CountedBuf {
                    data: vec![0; 64 * 1024],
                    _owners: o,
                },
                25 * 1024 * 1024,
            ));
            file
        })
        .unwrap();
    drop(reactor);
    assert_eq!(Arc::strong_count(&owners), 1, "the buffer outlived its op");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(Arc::strong_count(&owners), 1);
    drop(file);
}

/// driver.rs `too_many_submissions`: 600 writes, each polled once and
/// dropped, more than the SQ's 256 entries; none is lost or fails the
/// reactor, all end, and the file holds the write's bytes (or none).
#[test]
fn driver_too_many_submissions() {
    let _watch = watchdog();
    let t = tempfile::NamedTempFile::new().unwrap();
    let path = t.path().to_path_buf();
    start(|h| async move {
        let file = File::create(&h, &path).await.unwrap();
        for _ in 0..600 {
            poll_once_then_drop(file.write_at(b"hello world".to_vec(), 0));
        }
        // One awaited to its end after them.
        let (res, _) = file.write_at(b"hello world".to_vec(), 0).await;
        assert_eq!(res.unwrap(), 11);
    });
    assert_eq!(std::fs::read(t.path()).unwrap(), b"hello world");
}

/// driver.rs `completion_overflow`: 50 NOP tasks on a ring of 2 SQ and 4
/// CQ entries; every task gets its NOP's 0, none hangs.
#[test]
fn driver_completion_overflow() {
    let _watch = watchdog();
    let ring = uring::Ring::builder().cq_entries(4).build(2).unwrap();
    let reactor = Reactor::from_ring(ring).unwrap();
    let h = reactor.handle();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let h2 = h.clone();
            h.spawn(async move { (i, h2.op(Nop).await.0) })
        })
        .collect();
    let outs = reactor
        .run_until(async move {
            let mut outs = Vec::new();
            for t in tasks {
                outs.push(t.await.unwrap());
            }
            outs
        })
        .unwrap();
    assert_eq!(outs.len(), 50);
    for (i, (j, res)) in outs.into_iter().enumerate() {
        assert_eq!(i, j);
        assert_eq!(res.unwrap(), 0, "task {i}");
    }
    assert_eq!(reactor.in_flight(), 0);
    // The next case of the port, in this test.
    driver_completion_overflow_callbacks_once_each();
}

/// driver.rs `completion_overflow`, with callbacks: 200 NOPs queued on
/// the same tiny ring before a run; each callback runs exactly once.
fn driver_completion_overflow_callbacks_once_each() {
    let _watch = watchdog();
    let ring = uring::Ring::builder().cq_entries(4).build(2).unwrap();
    let reactor = Reactor::from_ring(ring).unwrap();
    let seen = Rc::new(RefCell::new(vec![0u32; 200]));
    for i in 0..200 {
        let seen = seen.clone();
        reactor
            .queue(Nop, move |res, ()| {
                assert_eq!(res.unwrap(), 0);
                seen.borrow_mut()[i] += 1;
            })
            .unwrap();
    }
    reactor.run().unwrap();
    assert!(seen.borrow().iter().all(|&n| n == 1), "{:?}", seen.borrow());
}

// ---------------------------------------------------------------- runtime.rs

/// runtime.rs `use_tokio_types_from_runtime`: on a tokio runtime that
/// drives the reactor (`into_tokio`), tokio's own listener and streams
/// work beside the reactor's ops.
#[test]
fn runtime_use_tokio_types_from_runtime() {
    let _watch = watchdog();
    let rt = uring_tests::net::runtime();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        });
        let (_socket, _) = listener.accept().await.unwrap();
        task.await.unwrap();
        // And a reactor op, awaited on the same runtime.
        let (res, ()) = h.op(Nop).await;
        assert_eq!(res.unwrap(), 0);
        // A reactor stream and a tokio stream talk to each other.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, accepted) =
            futures_join(TcpStream::connect(&h, addr), listener.accept()).await;
        let (client, (mut server, _)) = (client.unwrap(), accepted.unwrap());
        let (res, _) = client.write_all(b"via ring").await;
        res.unwrap();
        let mut got = [0u8; 8];
        tokio::io::AsyncReadExt::read_exact(&mut server, &mut got)
            .await
            .unwrap();
        assert_eq!(&got, b"via ring");
        h.shutdown();
    });
}

/// runtime.rs `spawn_a_task`: a spawned task (not `Send`) changes an
/// `Rc<RefCell>`; its handle resolves once it has.
#[test]
fn runtime_spawn_a_task() {
    let _watch = watchdog();
    start(|h| async move {
        let cell = Rc::new(RefCell::new(1));
        let c = cell.clone();
        let handle = h.spawn(async move {
            *c.borrow_mut() = 2;
        });
        handle.await.unwrap();
        assert_eq!(2, *cell.borrow());
    });
    // The next case of the port, in this test.
    runtime_no_op();
}

/// tokio-uring's `no_op` (benches, driver.rs): `ops::Nop` awaited
/// completes with 0, as does one queued with a callback.
fn runtime_no_op() {
    let _watch = watchdog();
    start(|h| async move {
        let (res, ()) = h.op(Nop).await;
        assert_eq!(res.unwrap(), 0);
        let got = Rc::new(RefCell::new(None));
        let g = got.clone();
        h.queue(Nop, move |res, ()| *g.borrow_mut() = Some(res.unwrap()))
            .unwrap();
        h.sleep(Duration::from_millis(5)).await.unwrap();
        assert_eq!(*got.borrow(), Some(0));
    });
}

/// cancel_read, with tokio's `timeout` standing for a deadline: the
/// reactor's own `timeout` over a pipe read that never gets bytes ends with
/// `TimedOut`, and the cancelled read took nothing the writer sends after.
#[test]
fn runtime_timeout_cancels_a_read() {
    let _watch = watchdog();
    let (r, w) = uring_tests::pipe();
    let dup = r.try_clone().unwrap();
    start(|h| async move {
        let file = File::from_fd(&h, r);
        let started = std::time::Instant::now();
        let res = h
            .timeout(Duration::from_millis(50), file.read_at(vec![0u8; 16], 0))
            .await;
        let err = res.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(45));
        h.sleep(Duration::from_millis(10)).await.unwrap();
        let mut w = std::fs::File::from(w);
        w.write_all(b"after").unwrap();
        h.sleep(Duration::from_millis(20)).await.unwrap();
    });
    assert_eq!(pipe_bytes(&dup), b"after");
}

// -------------------------------------------------------------------- buf.rs

const DATA: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789!?";

/// buf.rs `test_vec`: a `Vec`'s pointer, its length as the bytes a write
/// sends and its capacity as the room a read fills; `set_init` never
/// shortens it, and moves it forward over bytes written.
#[test]
fn buf_test_vec() {
    let mut v: Vec<u8> = vec![];
    assert_eq!(v.as_ptr(), v.stable_ptr());
    assert_eq!(v.as_mut_ptr(), v.stable_mut_ptr());
    assert_eq!(v.bytes_init(), 0);
    assert_eq!(IoBufMut::bytes_total(&v), 0);
    v.reserve(100);
    assert_eq!(v.as_ptr(), v.stable_ptr());
    assert_eq!(v.bytes_init(), 0);
    assert_eq!(IoBufMut::bytes_total(&v), v.capacity());
    v.extend(b"hello");
    assert_eq!(v.as_mut_ptr(), v.stable_mut_ptr());
    assert_eq!(v.bytes_init(), 5);
    assert_eq!(v.as_bytes(), b"hello");
    // SAFETY: 3 <= 5 bytes are initialised.
    unsafe { IoBufMut::set_init(&mut v, 3) };
    assert_eq!(&v[..], b"hello", "set_init went backwards");
    // SAFETY: the 10 bytes are written before they are marked, within the
    // capacity of 100.
    unsafe {
        std::ptr::copy(DATA.as_ptr(), v.stable_mut_ptr(), 10);
        IoBufMut::set_init(&mut v, 10);
    }
    assert_eq!(&v[..], &DATA[..10]);
    // The next case of the port, in this test.
    buf_test_slice();
}

/// buf.rs `test_slice`: static bytes as a buffer to write.
fn buf_test_slice() {
    let v: &'static [u8] = b"";
    assert_eq!(v.as_ptr(), v.stable_ptr());
    assert_eq!(v.bytes_init(), 0);
    let v: &'static [u8] = b"hello";
    assert_eq!(v.as_ptr(), v.stable_ptr());
    assert_eq!(v.bytes_init(), 5);
    assert_eq!(v.as_bytes(), b"hello");
}

/// buf.rs `test_slice_read` (for `Vec` and `&'static [u8]`): the ranges
/// of a `Slice`, its bytes, and the buffer back whole from `into_inner`.
#[test]
fn buf_test_slice_read() {
    fn case<B: IoBuf + std::fmt::Debug>(buf: B) {
        let ptr = buf.stable_ptr();
        let slice = buf.slice(..);
        assert_eq!((slice.begin(), slice.end()), (0, DATA.len()));
        assert_eq!(slice.as_bytes(), DATA);
        let buf = slice.into_inner();
        let slice = buf.slice(10..);
        assert_eq!((slice.begin(), slice.end()), (10, DATA.len()));
        assert_eq!(slice.as_bytes(), &DATA[10..]);
        assert_eq!(slice.stable_ptr(), ptr.wrapping_add(10));
        let buf = slice.into_inner();
        let slice = buf.slice(5..15);
        assert_eq!((slice.begin(), slice.end()), (5, 15));
        assert_eq!(slice.as_bytes(), &DATA[5..15]);
        let buf = slice.into_inner();
        let slice = buf.slice(..=14);
        assert_eq!((slice.begin(), slice.end()), (0, 15));
        assert_eq!(slice.as_bytes(), &DATA[..15]);
        let slice = slice
            .into_inner()
            .slice((Bound::Excluded(4), Bound::Included(9)));
        assert_eq!((slice.begin(), slice.end()), (5, 10));
        assert_eq!(slice.as_bytes(), &DATA[5..10]);
        let buf = slice.into_inner();
        assert_eq!(buf.stable_ptr(), ptr);
        assert_eq!(buf.as_bytes(), DATA);
    }
    case(Vec::from(DATA));
    case(DATA);
    // The next case of the port, in this test.
    buf_test_subslice_read();
    // The next case of the port, in this test.
    buf_can_deref_slice_into_uninit_buf();
}

/// buf.rs `test_subslice_read`: a slice of a slice. tokio-uring flattens
/// it (`begin` counts from the buffer); here it is a `Slice<Slice<B>>`
/// whose range counts from the inner slice, with the same bytes.
fn buf_test_subslice_read() {
    let inner = Vec::from(DATA).slice(5..25);
    let sub = inner.slice(5..15);
    assert_eq!(sub.as_bytes(), &DATA[10..20]);
    assert_eq!((sub.begin(), sub.end()), (5, 15));
    let inner = sub.into_inner();
    assert_eq!(inner.as_bytes(), &DATA[5..25]);
    let sub = inner.slice(..10);
    assert_eq!(sub.as_bytes(), &DATA[5..15]);
    let buf = sub.into_inner().into_inner();
    assert_eq!(buf, DATA);
}

/// buf.rs `can_deref_slice_into_uninit_buf`: a slice of a vector with
/// room but no bytes. tokio-uring's spans the room (`bytes_total` 10);
/// here a slice is of the initialised bytes only (clamped), so it is
/// empty, and one past the bytes is clamped rather than a panic.
fn buf_can_deref_slice_into_uninit_buf() {
    let buf = Vec::<u8>::with_capacity(10).slice(..);
    assert_eq!(buf.bytes_init(), 0);
    assert!(buf.as_bytes().is_empty());
    let mut v = Vec::with_capacity(10);
    v.push(42u8);
    let buf = v.slice(..);
    assert_eq!(buf.bytes_init(), 1);
    assert_eq!(buf.as_bytes(), &[42]);
    let clamped = buf.into_inner().slice(..100);
    assert_eq!((clamped.begin(), clamped.end()), (0, 1));
    let clamped = clamped.into_inner().slice(50..);
    assert_eq!((clamped.begin(), clamped.end()), (1, 1));
}

/// A write of a `Slice` sends its range only: tokio-uring's
/// `write_at(buf.slice(..))` form, through a file.
#[test]
fn buf_slice_writes_its_range_only() {
    let _watch = watchdog();
    let t = tempfile::NamedTempFile::new().unwrap();
    let path = t.path().to_path_buf();
    start(|h| async move {
        let file = File::create(&h, &path).await.unwrap();
        let (res, slice) = file.write_at(Vec::from(DATA).slice(3..11), 0).await;
        assert_eq!(res.unwrap(), 8);
        assert_eq!(slice.into_inner(), DATA);
        let (res, _) = file.write_all_at(DATA.slice(30..), 8).await;
        res.unwrap();
    });
    let mut want = DATA[3..11].to_vec();
    want.extend_from_slice(&DATA[30..]);
    assert_eq!(std::fs::read(t.path()).unwrap(), want);
}

// ------------------------------------------------- src/net (doc examples)

/// TcpListener's doc example: a spawned task accepts while the main one
/// connects; 4 bytes written on one side are read on the other. (The
/// accepted stream knows its peer, which tokio-uring's `accept` returns
/// beside it.)
#[test]
fn tcp_listener_accept_in_spawned_task() {
    let _watch = watchdog();
    start(|h| async move {
        let listener = TcpListener::bind(&h, loopback()).unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = h.spawn(async move { listener.accept().await.unwrap() });
        let tx = TcpStream::connect(&h, addr).await.unwrap();
        let rx = accepted.await.unwrap();
        assert_eq!(rx.peer_addr().unwrap(), tx.local_addr().unwrap());
        assert_eq!(tx.peer_addr().unwrap(), addr);
        let (res, _) = tx.write(b"test" as &'static [u8]).await;
        assert_eq!(res.unwrap(), 4);
        let (res, buf) = rx.read(vec![0; 4]).await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"test");
    });
}

/// TcpStream's doc example (an echo): `write_all` of 1 MiB, read back
/// through the server's echo until the client's write shutdown ends it.
#[test]
fn tcp_stream_echo_write_all_and_shutdown() {
    let _watch = watchdog();
    let data = pattern(1 << 20, 7);
    let want = data.clone();
    let got = start(|h| async move {
        let listener = TcpListener::bind(&h, loopback()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = h.spawn(async move {
            let s = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            loop {
                let (res, b) = s.read(buf).await;
                let n = res.unwrap();
                if n == 0 {
                    break;
                }
                let (res, b) = s.write_all(b.slice(..n)).await;
                res.unwrap();
                buf = b.into_inner();
            }
            s.shutdown(std::net::Shutdown::Write).await.unwrap();
        });
        let client = Rc::new(TcpStream::connect(&h, addr).await.unwrap());
        let c = client.clone();
        let writer = h.spawn(async move {
            let (res, _) = c.write_all(data).await;
            res.unwrap();
            c.shutdown(std::net::Shutdown::Write).await.unwrap();
        });
        let mut got = Vec::new();
        let mut buf = Vec::with_capacity(8192);
        loop {
            buf.clear();
            let (res, b) = client.read(buf).await;
            let n = res.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&b[..n]);
            buf = b;
        }
        writer.await.unwrap();
        server.await.unwrap();
        got
    });
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the echo differs");
}

/// TcpStream::writev: the stream's `writev` sends the buffers in turn
/// (an empty one among them) and gives them back; the same bytes go out
/// through `ops::SendV` on the stream's shared descriptor.
fn tcp_stream_writev_through_sendv() {
    let _watch = watchdog();
    start(|h| async move {
        let listener = TcpListener::bind(&h, loopback()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) = futures_join(TcpStream::connect(&h, addr), listener.accept()).await;
        let (client, server) = (client.unwrap(), server.unwrap());
        let bufs = vec![b"hello".to_vec(), Vec::new(), b" world...".to_vec()];
        let (res, bufs) = client.writev(bufs).await;
        assert_eq!(res.unwrap(), HELLO.len());
        assert_eq!(bufs[2], b" world...");
        let (res, bufs) = h.op(SendV::new(client.shared_fd(), bufs)).await;
        assert_eq!(res.unwrap() as usize, HELLO.len());
        assert_eq!(bufs[2], b" world...");
        let mut got = Vec::new();
        while got.len() < 2 * HELLO.len() {
            let (res, b) = server.read(Vec::with_capacity(64)).await;
            let n = res.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&b[..n]);
        }
        assert_eq!(got, HELLO.repeat(2));
        // Shut down for writing: refused as a write is, nothing sent.
        client.shutdown(std::net::Shutdown::Write).await.unwrap();
        let (res, _) = client.writev(vec![b"late".to_vec()]).await;
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EPIPE));
        let (res, _) = server.read(Vec::with_capacity(8)).await;
        assert_eq!(res.unwrap(), 0, "the end of the stream, no late bytes");
    });
}

/// Awaits two futures together (tokio's `join!` without a runtime).
async fn futures_join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let std::task::Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let std::task::Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() {
            std::task::Poll::Ready((ra.take().unwrap(), rb.take().unwrap()))
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

/// TcpStream::set_nodelay and shutdown: `TCP_NODELAY` as the kernel
/// reports it, and a write shutdown the peer reads as the end (its own
/// writes still arriving).
#[test]
fn tcp_stream_set_nodelay_and_shutdown() {
    let _watch = watchdog();
    start(|h| async move {
        let listener = TcpListener::bind(&h, loopback()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) = futures_join(TcpStream::connect(&h, addr), listener.accept()).await;
        let (client, server) = (client.unwrap(), server.unwrap());
        for on in [true, false, true] {
            client.set_nodelay(on).unwrap();
            let mut v: libc::c_int = -1;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: getsockopt writes at most `len` bytes into `v`.
            let rc = unsafe {
                libc::getsockopt(
                    client.shared_fd().as_raw_fd(),
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    (&mut v as *mut libc::c_int).cast(),
                    &mut len,
                )
            };
            assert_eq!(rc, 0);
            assert_eq!(v != 0, on);
        }
        client.shutdown(std::net::Shutdown::Write).await.unwrap();
        let (res, _) = server.read(vec![0u8; 8]).await;
        assert_eq!(res.unwrap(), 0, "the peer's read after shutdown");
        let (res, _) = server.write_all(b"back").await;
        res.unwrap();
        let (res, buf) = client.read(Vec::with_capacity(8)).await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"back");
        let (res, _) = client.write(b"more").await;
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EPIPE));
    });
    // The next case of the port, in this test.
    tcp_stream_writev_through_sendv();
}

/// TcpStream::connect to a port nobody listens on: `ECONNREFUSED`, as
/// tokio-uring's connect reports the kernel's error.
#[test]
fn tcp_stream_connect_refused() {
    let _watch = watchdog();
    let free = std::net::TcpListener::bind(loopback()).unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    start(|h| async move {
        let err = TcpStream::connect(&h, addr).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
    });
    // The next case of the port, in this test.
    unix_stream_connect_errors();
}

/// TcpListener::from_std / TcpStream::from_std: std sockets taken over
/// (a non-blocking one set blocking, as documented), then used through the
/// ring.
#[test]
fn tcp_from_std() {
    let _watch = watchdog();
    let std_listener = std::net::TcpListener::bind(loopback()).unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    start(|h| async move {
        let listener = TcpListener::from_std(&h, std_listener);
        // SAFETY: F_GETFL on the listener's own descriptor; no memory.
        let fl = unsafe { libc::fcntl(listener.shared_fd().as_raw_fd(), libc::F_GETFL) };
        assert_eq!(fl & libc::O_NONBLOCK, 0, "from_std left O_NONBLOCK");
        let accepted = h.spawn(async move { listener.accept().await });
        let c = std::net::TcpStream::connect(addr).unwrap();
        let client = TcpStream::from_std(&h, c);
        let server = accepted.await.unwrap().unwrap();
        let (res, _) = client.write_all(HELLO).await;
        res.unwrap();
        let (res, buf) = server.read(Vec::with_capacity(64)).await;
        assert_eq!(res.unwrap(), HELLO.len());
        assert_eq!(buf, HELLO);
    });
}

/// UdpSocket's first doc example: two sockets connected to each other;
/// `send` on one, `recv` (tokio-uring's `read`) on the other, twice.
#[test]
fn udp_socket_connected_send_and_recv() {
    let _watch = watchdog();
    start(|h| async move {
        let socket = UdpSocket::bind(&h, loopback()).unwrap();
        let other = UdpSocket::bind(&h, loopback()).unwrap();
        let (first, second) = (socket.local_addr().unwrap(), other.local_addr().unwrap());
        socket.connect(second).unwrap();
        other.connect(first).unwrap();
        assert_eq!(socket.peer_addr().unwrap(), second);
        let (res, _) = socket.send(b"hello world" as &'static [u8]).await;
        assert_eq!(res.unwrap(), 11);
        let (res, buf) = other.recv(vec![0; 32]).await;
        let n = res.unwrap();
        assert_eq!(&buf[..n], b"hello world");
        let (res, _) = socket.send(b"hello world via send" as &'static [u8]).await;
        assert_eq!(res.unwrap(), 20);
        let (res, buf) = other.recv(buf).await;
        let n = res.unwrap();
        assert_eq!(&buf[..n], b"hello world via send");
    });
    // The next case of the port, in this test.
    udp_socket_send_to_recv_from();
}

/// UdpSocket's second doc example: `send_to` and `recv_from` unconnected;
/// the sender's address comes with the datagram.
fn udp_socket_send_to_recv_from() {
    let _watch = watchdog();
    start(|h| async move {
        let socket = UdpSocket::bind(&h, loopback()).unwrap();
        let other = UdpSocket::bind(&h, loopback()).unwrap();
        let (first, second) = (socket.local_addr().unwrap(), other.local_addr().unwrap());
        let (res, _) = socket
            .send_to(b"hello world" as &'static [u8], second)
            .await;
        assert_eq!(res.unwrap(), 11);
        let (res, buf) = other.recv_from(vec![0; 32]).await;
        let (n, addr) = res.unwrap();
        assert_eq!(addr, first);
        assert_eq!(&buf[..n], b"hello world");
    });
}

/// UdpSocket::from_std's doc example: a std socket with `SO_REUSEPORT`,
/// non-blocking, taken over (and set blocking): a receive armed before the
/// datagram comes waits for it rather than fail with `EAGAIN`.
#[test]
fn udp_socket_from_std_nonblocking() {
    let _watch = watchdog();
    let fd = uring_tests::socket(libc::AF_INET, libc::SOCK_DGRAM).unwrap();
    let one: libc::c_int = 1;
    // SAFETY: setsockopt reads `one`, a c_int, for its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEPORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    bind_loopback(&fd);
    let std_sock = std::net::UdpSocket::from(fd);
    std_sock.set_nonblocking(true).unwrap();
    start(|h| async move {
        let std_addr = std_sock.local_addr().unwrap();
        let sock = UdpSocket::from_std(&h, std_sock);
        let other = UdpSocket::bind(&h, loopback()).unwrap();
        let other_addr = other.local_addr().unwrap();
        let h2 = h.clone();
        let receiver = h.spawn(async move {
            let (res, buf) = sock.recv_from(vec![0; 32]).await;
            let (n, from) = res.unwrap();
            drop(h2);
            (buf[..n].to_vec(), from)
        });
        h.sleep(Duration::from_millis(20)).await.unwrap();
        let (res, _) = other
            .send_to(b"hello world" as &'static [u8], std_addr)
            .await;
        assert_eq!(res.unwrap(), 11);
        let (got, from) = receiver.await.unwrap();
        assert_eq!(got, b"hello world");
        assert_eq!(from, other_addr);
    });
}

/// Binds the IPv4 socket `fd` to loopback, with a port of the kernel's
/// choice (std binds only the sockets it makes).
fn bind_loopback(fd: &OwnedFd) {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: bind reads a `sockaddr_in` of the size given.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
}

/// UdpSocket::send_zc: uring's socket has no `send_zc`; `ops::SendZc` on
/// its shared descriptor sends the datagram (its count at the first
/// completion, the buffer back after the notification).
#[test]
fn udp_socket_send_zc_through_op() {
    let _watch = watchdog();
    start(|h| async move {
        let socket = UdpSocket::bind(&h, loopback()).unwrap();
        let other = UdpSocket::bind(&h, loopback()).unwrap();
        socket.connect(other.local_addr().unwrap()).unwrap();
        let (res, buf) = h.op(SendZc::new(socket.shared_fd(), HELLO.to_vec())).await;
        match res {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                uring_tests::skip("no zero-copy sends on this kernel");
                return;
            }
            r => assert_eq!(r.unwrap() as usize, HELLO.len()),
        }
        assert_eq!(buf, HELLO);
        let (res, got) = other.recv(vec![0; 64]).await;
        let n = res.unwrap();
        assert_eq!(&got[..n], HELLO);
    });
}

/// UnixListener / UnixStream doc examples: bind a path, accept in a task,
/// connect by path; bytes both ways; the listener's and the connected
/// stream's addresses name the path.
#[test]
fn unix_listener_and_stream_by_path() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sock");
    start(|h| async move {
        let listener = UnixListener::bind(&h, &path).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        let accepted = h.spawn(async move { listener.accept().await.unwrap() });
        let tx = UnixStream::connect(&h, &path).await.unwrap();
        let rx = accepted.await.unwrap();
        assert_eq!(tx.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
        let (res, _) = tx.write(b"test" as &'static [u8]).await;
        assert_eq!(res.unwrap(), 4);
        let (res, buf) = rx.read(vec![0; 4]).await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"test");
        let (res, _) = rx.write_all(HELLO).await;
        res.unwrap();
        rx.shutdown(std::net::Shutdown::Write).await.unwrap();
        let mut got = Vec::new();
        loop {
            let (res, b) = tx.read(Vec::with_capacity(5)).await;
            let n = res.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&b[..n]);
        }
        assert_eq!(got, HELLO);
    });
}

/// UnixStream::connect to a path nobody listens on: `ENOENT` when the
/// path is missing, `ECONNREFUSED` when a socket file has no listener.
fn unix_stream_connect_errors() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let stale = dir.path().join("stale");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    start(|h| async move {
        let e = UnixStream::connect(&h, &missing).await.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        let e = UnixStream::connect(&h, &stale).await.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED));
    });
}

/// OpenOptions as tokio-uring's (std's): `create_new` on an existing file
/// fails with `EEXIST`, `append` writes at the end whatever the position,
/// and an option set std refuses is refused before the ring is asked.
#[test]
fn fs_open_options_as_std() {
    let _watch = watchdog();
    let t = tempfile_with(b"abc");
    let path = t.path().to_path_buf();
    start(|h| async move {
        let e = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&h, &path)
            .await
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        let file = OpenOptions::new()
            .append(true)
            .open(&h, &path)
            .await
            .unwrap();
        let (res, _) = file.write_at(b"def" as &'static [u8], 0).await;
        assert_eq!(res.unwrap(), 3);
        let e = OpenOptions::new()
            .read(true)
            .truncate(true)
            .open(&h, &path)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    });
    assert_eq!(std::fs::read(t.path()).unwrap(), b"abcdef");
}

/// tokio-uring's `fs::statx(path)` and `is_dir_regfile` (src/fs/statx.rs):
/// through `ops::Statx::new` (`uring::fs::statx` is the same op), a
/// directory and a file told apart by `stx_mode`, a symbolic link seen as
/// one with `AT_SYMLINK_NOFOLLOW`, and a missing path `ENOENT`.
#[test]
fn fs_statx_by_path_through_op() {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use uring::reactor::ops::Statx;
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, HELLO).unwrap();
    let link = dir.path().join("l");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let c = |p: &std::path::Path| CString::new(p.as_os_str().as_bytes()).unwrap();
    let (d, f, l, m) = (
        c(dir.path()),
        c(&file),
        c(&link),
        c(&dir.path().join("missing")),
    );
    start(|h| async move {
        let kind = |st: &libc::statx| u32::from(st.stx_mode) & libc::S_IFMT;
        let (res, st) = h.op(Statx::new(d)).await;
        res.unwrap();
        assert_eq!(kind(&st), libc::S_IFDIR);
        let (res, st) = h.op(Statx::new(f)).await;
        res.unwrap();
        assert_eq!(kind(&st), libc::S_IFREG);
        assert_eq!(st.stx_size, HELLO.len() as u64);
        let (res, st) = h.op(Statx::new(l).flags(libc::AT_SYMLINK_NOFOLLOW)).await;
        res.unwrap();
        assert_eq!(kind(&st), libc::S_IFLNK);
        let (res, _) = h.op(Statx::new(m)).await;
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ENOENT));
    });
}

/// tokio's `JoinHandle::abort` (tokio-uring's `spawn` returns tokio's
/// handle): an aborted task's handle says so, and the pipe read it awaited
/// is cancelled: bytes written after stay in the pipe, and its buffer is
/// dropped.
#[test]
fn runtime_abort_spawned_task() {
    let _watch = watchdog();
    let (r, w) = uring_tests::pipe();
    let dup = r.try_clone().unwrap();
    let owners = Arc::new(());
    let o = owners.clone();
    start(|h| async move {
        let file = File::from_fd(&h, r);
        let task = h.spawn(async move {
            let buf = CountedBuf {
                data: Vec::with_capacity(16),
                _owners: o,
            };
            let (res, buf) = file.read_at(buf, 0).await;
            (res.map(drop), buf.data)
        });
        h.sleep(Duration::from_millis(20)).await.unwrap();
        assert!(!task.is_finished());
        task.abort();
        let err = task.await.unwrap_err();
        assert!(err.is_aborted(), "{err}");
        h.sleep(Duration::from_millis(20)).await.unwrap();
    });
    assert_eq!(
        Arc::strong_count(&owners),
        1,
        "the aborted read's buffer lives"
    );
    let mut w = std::fs::File::from(w);
    w.write_all(b"kept").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(pipe_bytes(&dup), b"kept");
    // The next case of the port, in this test.
    runtime_task_dropped_by_shutdown();
}

/// A runtime dropped with a task still waiting (tokio-uring's runtime
/// drop): the reactor's drop cancels the task's read and drops the task;
/// its handle, polled after, reports it dropped (not finished with an
/// output), and the buffer is gone.
fn runtime_task_dropped_by_shutdown() {
    let _watch = watchdog();
    let (r, _w) = uring_tests::pipe();
    let owners = Arc::new(());
    let o = owners.clone();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let file = File::from_fd(&h, r);
    let task = reactor.spawn(async move {
        let buf = CountedBuf {
            data: Vec::with_capacity(16),
            _owners: o,
        };
        file.read_at(buf, 0).await.0.map(drop)
    });
    uring_tests::run_for(&reactor, 10);
    assert_eq!(reactor.in_flight(), 1);
    drop(reactor);
    assert_eq!(Arc::strong_count(&owners), 1, "the task's buffer lives on");
    let mut task = task;
    match uring_tests::poll_once(&mut task) {
        std::task::Poll::Ready(Err(e)) => assert!(e.is_dropped(), "{e}"),
        other => panic!("the handle after shutdown: {:?}", other.map(|r| r.is_ok())),
    }
    drop(h);
}

/// tokio-uring's `start` inside `start` (a runtime within a runtime,
/// which tokio refuses with a panic): a run started from inside a run of
/// the same reactor is an error, and the outer run goes on.
#[test]
fn runtime_nested_start_refused() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let out = reactor
        .run_until(async {
            let inner = reactor.run_until(async { 1 });
            let (res, ()) = reactor.op(Nop).await;
            (inner.is_err(), res.unwrap())
        })
        .unwrap();
    assert_eq!(out, (true, 0));
}

/// tokio-uring's `builder().uring_builder(..)`: a ring of the program's
/// own setup. One set up with `defer_taskrun` cannot be driven by tokio
/// (`into_tokio` refuses it with `InvalidInput`), but runs on the
/// reactor's own loop.
#[test]
fn runtime_builder_defer_taskrun_ring() {
    let _watch = watchdog();
    let make = || {
        uring::Ring::builder()
            .single_issuer()
            .defer_taskrun()
            .build(8)
    };
    let Ok(ring) = make() else {
        uring_tests::skip("no defer_taskrun rings here");
        return;
    };
    let rt = uring_tests::net::runtime();
    let err = rt.block_on(async { Reactor::from_ring(ring).unwrap().into_tokio().err() });
    assert_eq!(err.unwrap().kind(), std::io::ErrorKind::InvalidInput);
    let reactor = Reactor::from_ring(make().unwrap()).unwrap();
    let (res, ()) = reactor.run_until(reactor.op(Nop)).unwrap();
    assert_eq!(res.unwrap(), 0);
}

/// tokio's `spawn` turns a task's panic into a `JoinError`; here the panic
/// goes on out of the run that polled the task (as documented), the
/// handle then reports it, and the reactor runs on.
#[test]
fn runtime_panicking_task() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let mut task = reactor.spawn(async { panic!("boom from a task") });
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        reactor.run_until(reactor.sleep(Duration::from_millis(20)))
    }));
    assert!(run.is_err(), "the task's panic did not come out of the run");
    match uring_tests::poll_once(&mut task) {
        std::task::Poll::Ready(Err(e)) => assert!(e.is_panic(), "{e}"),
        _ => panic!("the panicked task's handle"),
    }
    let (res, ()) = reactor.run_until(reactor.op(Nop)).unwrap();
    assert_eq!(res.unwrap(), 0);
    assert_eq!(reactor.run_until(async { 5 }).unwrap(), 5);
}

/// fs_file.rs `explicit_close`, with a read in flight: `close` returns
/// `Ok` and leaves the descriptor to the read, which still gets the
/// writer's bytes; once it ends the descriptor is closed (the pipe has no
/// reader left: a write fails with `EPIPE`).
fn fs_file_close_with_a_read_in_flight() {
    let _watch = watchdog();
    let (r, w) = uring_tests::pipe();
    start(|h| async move {
        let file = File::from_fd(&h, r);
        let read = h.spawn({
            let h = h.clone();
            let fd = file.shared_fd().clone();
            async move {
                let out = h
                    .op(uring::reactor::ops::Read::new(&fd, vec![0u8; 8], 0))
                    .await;
                drop(fd);
                out
            }
        });
        h.sleep(Duration::from_millis(20)).await.unwrap();
        file.close().unwrap();
        let mut w = std::fs::File::from(w);
        w.write_all(b"late").unwrap();
        let (res, buf) = read.await.unwrap();
        assert_eq!(res.unwrap(), 4);
        assert_eq!(&buf[..4], b"late");
        // The task and its op are gone with the read end's last holder.
        let e = w.write_all(b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPIPE));
    });
}

/// A socket and a pipe given to `File::from_fd`, as tokio-uring's
/// `File::from_std` takes any descriptor: positions are ignored on a pipe
/// (a read at 7 reads), and a socket takes position 0 alone (`ESPIPE`
/// otherwise), as the module's documentation says.
#[test]
fn fs_file_from_fd_stream_positions() {
    let _watch = watchdog();
    let (pr, pw) = uring_tests::pipe();
    let (sa, sb) = std::os::unix::net::UnixStream::pair().unwrap();
    start(|h| async move {
        let (pipe_r, pipe_w) = (File::from_fd(&h, pr), File::from_fd(&h, pw));
        let (res, _) = pipe_w.write_at(b"pipe" as &'static [u8], 9).await;
        assert_eq!(res.unwrap(), 4);
        let (res, buf) = pipe_r.read_at(Vec::with_capacity(8), 7).await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"pipe");
        let (a, b) = (File::from_fd(&h, sa), File::from_fd(&h, sb));
        let (res, _) = a.write_at(b"sock" as &'static [u8], 3).await;
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ESPIPE));
        let (res, _) = a.write_at(b"sock" as &'static [u8], 0).await;
        assert_eq!(res.unwrap(), 4);
        let (res, _) = b.read_at(Vec::with_capacity(8), 2).await;
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ESPIPE));
        let (res, buf) = b.read_at(Vec::with_capacity(8), 0).await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"sock");
    });
}

/// TcpListener::accept polled once and dropped (tokio-uring's
/// `cancel_read` for an accept): the connection that comes next is not
/// lost; the following accept hands it out, and its bytes arrive.
#[test]
fn tcp_listener_dropped_accept_loses_no_connection() {
    let _watch = watchdog();
    start(|h| async move {
        let listener = TcpListener::bind(&h, loopback()).unwrap();
        let addr = listener.local_addr().unwrap();
        poll_once_then_drop(listener.accept());
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.write_all(b"first").unwrap();
        h.sleep(Duration::from_millis(20)).await.unwrap();
        let s = h
            .timeout(Duration::from_secs(5), listener.accept())
            .await
            .expect("the connection was lost")
            .unwrap();
        assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
        let (res, buf) = s.read(Vec::with_capacity(8)).await;
        assert_eq!(res.unwrap(), 5);
        assert_eq!(buf, b"first");
    });
}

/// fs_file.rs `basic_write_all` through a pipe (`File::from_fd`), whose
/// writes may complete short: 4 MiB with `write_all_at` while a thread
/// reads slowly arrive whole, in order, once.
#[test]
fn fs_file_write_all_into_a_pipe_with_a_slow_reader() {
    let _watch = watchdog();
    let (r, w) = uring_tests::pipe();
    let data = pattern(4 << 20, 11);
    let reader = std::thread::spawn(move || {
        let mut r = std::fs::File::from(r);
        let mut got = Vec::new();
        let mut chunk = vec![0u8; 7001];
        loop {
            let n = r.read(&mut chunk).unwrap();
            if n == 0 {
                break got;
            }
            got.extend_from_slice(&chunk[..n]);
            if got.len() % 5 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    });
    let sent = data.clone();
    start(|h| async move {
        let file = File::from_fd(&h, w);
        let (res, back) = file.write_all_at(sent, 0).await;
        res.unwrap();
        assert_eq!(back.len(), 4 << 20);
        file.close().unwrap();
    });
    let got = reader.join().unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the pipe's bytes differ from those written");
}

/// driver.rs `completion_overflow`, for a multishot accept: a reactor on
/// a ring of 2 SQ and 4 CQ entries, 50 clients connected before the
/// listener's `incoming` is read; each connection comes out exactly once
/// (told apart by the byte each client sends), although the kernel ends
/// the multishot accept whenever the CQ is full.
#[test]
fn driver_completion_overflow_incoming() {
    let _watch = watchdog();
    let ring = uring::Ring::builder().cq_entries(4).build(2).unwrap();
    let reactor = Reactor::from_ring(ring).unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, loopback()).unwrap();
    let addr = listener.local_addr().unwrap();
    let clients: Vec<_> = (0..50u8)
        .map(|i| {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(&[i]).unwrap();
            c
        })
        .collect();
    let seen = reactor
        .run_until(async move {
            let mut incoming = listener.incoming();
            let mut seen = vec![0u32; 50];
            for _ in 0..50 {
                let s = h
                    .timeout(Duration::from_secs(5), incoming.next())
                    .await
                    .expect("a connection was lost")
                    .expect("the stream ended")
                    .unwrap();
                let (res, buf) = s.read(Vec::with_capacity(1)).await;
                assert_eq!(res.unwrap(), 1);
                seen[usize::from(buf[0])] += 1;
            }
            // Nothing more comes.
            let more = h.timeout(Duration::from_millis(50), incoming.next()).await;
            assert!(more.is_err(), "a 51st connection came out");
            seen
        })
        .unwrap();
    assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
    drop(clients);
}

/// The net doc examples over IPv6 loopback (tokio-uring's sockets take any
/// `SocketAddr`): a TCP connection's addresses and bytes, and a UDP
/// datagram's sender as `recv_from` reports it, scope and flow included.
#[test]
fn net_over_ipv6_loopback() {
    let _watch = watchdog();
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        uring_tests::skip("no IPv6 loopback here");
        return;
    }
    start(|h| async move {
        let any6: SocketAddr = "[::1]:0".parse().unwrap();
        let listener = TcpListener::bind(&h, any6).unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(addr.is_ipv6());
        let (client, server) = futures_join(TcpStream::connect(&h, addr), listener.accept()).await;
        let (client, server) = (client.unwrap(), server.unwrap());
        assert_eq!(client.peer_addr().unwrap(), addr);
        assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
        let (res, _) = client.write_all(HELLO).await;
        res.unwrap();
        let (res, buf) = server.read(Vec::with_capacity(64)).await;
        assert_eq!(res.unwrap(), HELLO.len());
        assert_eq!(buf, HELLO);

        let a = UdpSocket::bind(&h, any6).unwrap();
        let b = UdpSocket::bind(&h, any6).unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let (res, _) = a.send_to(b"six" as &'static [u8], b_addr).await;
        assert_eq!(res.unwrap(), 3);
        let (res, buf) = b.recv_from(vec![0; 8]).await;
        let (n, from) = res.unwrap();
        assert_eq!(&buf[..n], b"six");
        assert_eq!(from, a_addr);
        // A datagram longer than the buffer is cut to it; the next one
        // comes whole.
        let (res, _) = a.send_to(pattern(20, 1), b_addr).await;
        assert_eq!(res.unwrap(), 20);
        let (res, _) = a.send_to(b"next" as &'static [u8], b_addr).await;
        assert_eq!(res.unwrap(), 4);
        let (res, buf) = b.recv_from(Vec::with_capacity(8)).await;
        assert_eq!(res.unwrap().0, 8);
        assert_eq!(buf, pattern(20, 1)[..8]);
        let (res, buf) = b.recv_from(Vec::with_capacity(8)).await;
        assert_eq!(res.unwrap(), (4, a_addr));
        assert_eq!(buf, b"next");
    });
}

/// driver.rs `complete_ops_on_drop` on a tokio runtime (tokio-uring's own
/// setting): a read left in flight when the runtime and its `LocalSet` are
/// dropped. The driver task's drop shuts the reactor down: the read is
/// cancelled and waited for, its buffer dropped, and a handle kept after
/// sees the reactor shut down.
#[test]
fn driver_complete_ops_on_drop_under_tokio() {
    let _watch = watchdog();
    let (r, w) = uring_tests::pipe();
    let dup = r.try_clone().unwrap();
    let owners = Arc::new(());
    let o = owners.clone();
    let rt = uring_tests::net::runtime();
    let local = tokio::task::LocalSet::new();
    let h = local.block_on(&rt, async move {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let file = File::from_fd(&h, r);
        tokio::task::spawn_local(async move {
            let buf = CountedBuf {
                data: Vec::with_capacity(16),
                _owners: o,
            };
            let _ = file.read_at(buf, 0).await;
        });
        let (res, ()) = h.op(Nop).await;
        res.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(h.in_flight(), 1, "the read is in flight");
        h
    });
    drop(local);
    drop(rt);
    assert!(h.is_shut_down(), "the runtime's end left the reactor up");
    assert_eq!(h.in_flight(), 0);
    assert_eq!(Arc::strong_count(&owners), 1, "the read's buffer lives on");
    let mut w = std::fs::File::from(w);
    w.write_all(b"after").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(pipe_bytes(&dup), b"after", "a read outlived the runtime");
    drop(h);
}

/// tokio's `sleep` and `timeout` as tokio-uring programs use them, on the
/// ring's clock: a sleep lasts at least its duration; one of
/// `Duration::MAX` (too long for an `Instant`) never ends, and neither does
/// a `timeout` of it around a read that gets no bytes; a timeout of 0
/// around a future ready at once gives its output.
#[test]
fn runtime_sleep_and_timeout_bounds() {
    let _watch = watchdog();
    let (r, _w) = uring_tests::pipe();
    start(|h| async move {
        let t0 = std::time::Instant::now();
        h.sleep(Duration::from_millis(30)).await.unwrap();
        assert!(t0.elapsed() >= Duration::from_millis(30));
        let file = File::from_fd(&h, r);
        let forever = h.timeout(Duration::MAX, file.read_at(vec![0u8; 4], 0));
        let raced = h
            .timeout(
                Duration::from_millis(50),
                futures_join(forever, h.sleep(Duration::MAX)),
            )
            .await;
        assert_eq!(
            raced.map(|_| ()).unwrap_err().kind(),
            std::io::ErrorKind::TimedOut,
            "a sleep of Duration::MAX ended"
        );
        let ready = h.timeout(Duration::ZERO, async { 7 }).await;
        assert_eq!(ready.unwrap(), 7);
        let sleep_past = h.sleep_until(t0);
        let t1 = std::time::Instant::now();
        sleep_past.await.unwrap();
        assert!(t1.elapsed() < Duration::from_secs(2));
    });
}

/// Bad input where tokio-uring answers with an error (socket2's address
/// checks, std's path checks): a Unix path too long for `sun_path`, one
/// with a NUL byte, a file path with a NUL byte; an IPv6 destination on an
/// IPv4 UDP socket. Each is an error, none a panic.
#[test]
fn net_and_fs_bad_input_errors() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("x".repeat(200));
    let nul = std::path::PathBuf::from(
        <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(b"/tmp/a\0b".to_vec()),
    );
    start(|h| async move {
        let e = UnixListener::bind(&h, &long).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        let e = UnixStream::connect(&h, &long).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        let e = UnixListener::bind(&h, &nul).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        let e = File::open(&h, &nul).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        let e = fs::create_dir(&h, &nul).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        let u = UdpSocket::bind(&h, loopback()).unwrap();
        let (res, _) = u
            .send_to(b"x" as &'static [u8], "[::1]:9".parse().unwrap())
            .await;
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EAFNOSUPPORT));
        let e = u.connect("[::1]:9".parse().unwrap()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EAFNOSUPPORT));
    });
}
