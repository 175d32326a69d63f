//! What the attacks on `uring::net` share: streams connected to plain std
//! peers, sockets whose send side is full, and reading a peer without
//! blocking.

use std::io::{self, Read as _};
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, ReadBuf};
use uring::net::TcpStream;
use uring::reactor::{BufGroup, Handle, Reactor, RingBuf};

pub mod peer;

/// An address on loopback with a port the kernel picks.
pub fn any() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A context whose waker does nothing, for polls the test drives itself.
pub fn noop_cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

thread_local! {
    /// What a wake of a [`Reenter`] waker runs.
    pub static ON_WAKE: std::cell::RefCell<Option<Box<dyn FnMut()>>> =
        std::cell::RefCell::new(None);
}

/// A waker whose wake runs what [`ON_WAKE`] holds, then puts it back
/// (unless it was replaced meanwhile): a wake that re-enters what woke it.
pub struct Reenter;

impl std::task::Wake for Reenter {
    fn wake(self: std::sync::Arc<Self>) {
        let Some(mut f) = ON_WAKE.with(|f| f.borrow_mut().take()) else {
            return;
        };
        f();
        ON_WAKE.with(|slot| {
            let mut slot = slot.borrow_mut();
            if slot.is_none() {
                *slot = Some(f);
            }
        });
    }
}

/// A reactor stream connected to a plain std peer.
pub fn connected(h: &Handle) -> (TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind(any()).unwrap();
    let c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (peer, _) = listener.accept().unwrap();
    (TcpStream::from_std(h, c), peer)
}

/// Fills the send side of the socket `fd` (through a duplicate of its
/// descriptor, which is returned) until the kernel takes no more: a send
/// on it then waits for the peer to read. Returns the bytes written (all
/// zero).
pub fn fill_send_side(fd: BorrowedFd<'_>) -> (std::net::TcpStream, usize) {
    let (filler, total) = peer::fill_through(fd);
    (std::os::fd::OwnedFd::from(filler).into(), total)
}

/// Reads what `peer` holds now, without blocking, up to the end of the
/// stream; whether the end was seen.
pub fn drain(peer: &mut std::net::TcpStream, into: &mut Vec<u8>) -> bool {
    peer.set_nonblocking(true).unwrap();
    let mut chunk = vec![0u8; 1 << 16];
    let eof = loop {
        match peer.read(&mut chunk) {
            Ok(0) => break true,
            Ok(n) => into.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
            Err(e) => panic!("reading the peer: {e}"),
        }
    };
    peer.set_nonblocking(false).unwrap();
    eof
}

/// Runs the reactor and drains `peer` until it sees the end of the stream
/// or `bound` passes (a panic); what it read.
pub fn drain_to_end(reactor: &Reactor, peer: &mut std::net::TcpStream, bound: Duration) -> Vec<u8> {
    let end = Instant::now() + bound;
    let mut got = Vec::new();
    while !drain(peer, &mut got) {
        assert!(
            Instant::now() < end,
            "no end of stream after {bound:?} ({} bytes read)",
            got.len()
        );
        crate::run_for(reactor, 5);
    }
    got
}

/// `got == want`, for bytes that only the kernel wrote through the ring:
/// under valgrind, whose memcheck takes them for uninitialised, only their
/// lengths.
pub fn assert_kernel_bytes(got: &[u8], want: &[u8], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    if !crate::under_valgrind()
        && let Some(i) = got.iter().zip(want).position(|(a, b)| a != b)
    {
        panic!("{what}: the bytes differ first at {i} of {}", want.len());
    }
}

/// One `poll_read` of `stream` into `buf` with a waker that does nothing:
/// the bytes filled, or `Pending`.
pub fn poll_read<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut [u8]) -> Poll<io::Result<usize>> {
    let mut rb = ReadBuf::new(buf);
    match Pin::new(stream).poll_read(&mut noop_cx(), &mut rb) {
        Poll::Ready(r) => Poll::Ready(r.map(|()| rb.filled().len())),
        Poll::Pending => Poll::Pending,
    }
}

/// Runs the reactor in short rounds until `ready` gives a value, or `bound`
/// has passed (`None`).
pub fn drive<T>(
    reactor: &Reactor,
    bound: Duration,
    mut ready: impl FnMut() -> Option<T>,
) -> Option<T> {
    let end = Instant::now() + bound;
    loop {
        if let Some(v) = ready() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        crate::run_for(reactor, 2);
    }
}

/// A current-thread runtime with the drivers the tests' features compile
/// in (I/O and time).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A buffer ring of `count` buffers of `len` bytes registered with the
/// reactor of `h` under group `id`, or `None` with a skip message on a
/// kernel without them.
pub fn group_or_skip(h: &Handle, id: u16, count: u16, len: u32) -> Option<BufGroup> {
    match h.register_buf_ring(uring::BufferGroup::new(id), count, len) {
        Ok(g) => Some(g),
        Err(e) => {
            crate::skip(format_args!("no buffer rings: {e}"));
            None
        }
    }
}

/// Holds as many buffers of `group` at once as it has (`count`, each
/// taken by a receive on a fresh socket pair that is written one byte each
/// time), with no id twice, then checks that one more receive finds none
/// (`ENOBUFS`): no buffer of the group is lost or still lent. The buffers
/// are then given back, and the receive that found none gets its byte.
pub fn assert_group_whole(reactor: &Reactor, group: BufGroup, count: u16, what: &str) {
    use std::io::Write as _;
    let h = reactor.handle();
    let (mine, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let stream = uring::net::UnixStream::from_std(&h, mine);
    let mut held: Vec<RingBuf> = Vec::new();
    for i in 0..count {
        let byte = [i as u8 ^ 0x5A];
        peer.write_all(&byte).unwrap();
        match reactor.run_until(stream.recv_ring(group)).unwrap() {
            Ok(Some(buf)) => {
                assert_kernel_bytes(&buf, &byte, &format!("{what}: buffer {i}"));
                held.push(buf);
            }
            other => panic!("{what}: buffer {i} of {count}: {other:?}"),
        }
    }
    let mut bids: Vec<u16> = held.iter().map(RingBuf::bid).collect();
    bids.sort_unstable();
    bids.dedup();
    assert_eq!(
        bids.len(),
        usize::from(count),
        "{what}: a buffer handed out twice"
    );
    peer.write_all(b"+").unwrap();
    let r = reactor.run_until(stream.recv_ring(group)).unwrap();
    assert_eq!(
        r.as_ref().err().and_then(io::Error::raw_os_error),
        Some(libc::ENOBUFS),
        "{what}: a buffer more than the group has: {r:?}"
    );
    drop(held);
    let last = reactor.run_until(stream.recv_ring(group)).unwrap();
    match last {
        Ok(Some(buf)) => {
            assert_kernel_bytes(&buf, b"+", &format!("{what}: the byte the dry group left"))
        }
        other => panic!("{what}: the byte the dry group left: {other:?}"),
    }
}

/// A connected loopback TCP pair `(client, server)` whose client may queue
/// 4 MiB (`SO_SNDBUF`), without Nagle's delay: while the server reads
/// nothing, its window shuts after some 100 KiB and the rest of what the
/// client sends waits in the client's write queue, unacknowledged (the
/// pages of a zero-copy send stay pinned there) until the server reads.
pub fn slow_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    client.set_nodelay(true).unwrap();
    let (server, _) = listener.accept().unwrap();
    crate::set_int_option(&client, libc::SOL_SOCKET, libc::SO_SNDBUF, 4 << 20).expect("SO_SNDBUF");
    (client, server)
}

/// A reader of `server` in a process of its own: it reads the socket to
/// its end (or until [`PATIENCE`](crate::PATIENCE) passes without data)
/// once `delay` has passed since this call; [`LateReader::join`] returns
/// what it read.
///
/// The delay counts from the call, not from when the reader starts: a
/// test that reads the clock before calling this knows the peer read
/// nothing before that reading plus `delay`. A process rather than a
/// thread, so that it reads while the test's only running thread waits in
/// `io_uring_enter` for what the read lets come (a zero-copy send's
/// notification): valgrind runs one thread of a process at a time, and
/// does not let the others run while one waits there.
pub fn late_reader(server: std::net::TcpStream, delay: Duration) -> LateReader {
    late_reader_with(server, delay, 0, 0)
}

/// [`late_reader`] that first sets the socket's receive buffer to `rcvbuf`
/// bytes (unless 0), opening a window the test kept shut, and stops after
/// `max` bytes (unless 0).
pub fn late_reader_with(
    server: std::net::TcpStream,
    delay: Duration,
    rcvbuf: u32,
    max: usize,
) -> LateReader {
    let read_at = Instant::now() + delay;
    let out = tempfile::tempfile().expect("a file for what the reader reads");
    // The tests crate's `peer_reader` binary, which cargo builds with the
    // integration tests, beside their `deps` directory.
    let exe = std::env::current_exe().expect("the test binary's path");
    let program = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("peer_reader"))
        .filter(|program| program.exists())
        .unwrap_or_else(|| panic!("no peer_reader binary beside {}", exe.display()));
    let child = std::process::Command::new(program)
        .arg(
            read_at
                .saturating_duration_since(Instant::now())
                .as_micros()
                .to_string(),
        )
        .arg(rcvbuf.to_string())
        .arg(max.to_string())
        .arg(crate::PATIENCE.as_millis().to_string())
        .stdin(std::os::fd::OwnedFd::from(server))
        .stdout(out.try_clone().expect("the reader's output"))
        .spawn()
        .expect("the peer_reader process");
    LateReader {
        child: PeerProcess(Some(child)),
        out,
    }
}

/// A peer's process, killed and reaped if dropped before it was waited for.
struct PeerProcess(Option<std::process::Child>);

impl PeerProcess {
    /// Waits for the process to end.
    fn wait(mut self) -> io::Result<std::process::ExitStatus> {
        self.0.take().expect("waited for once").wait()
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The reader process of [`late_reader`]; killed if dropped before
/// [`join`](LateReader::join).
pub struct LateReader {
    child: PeerProcess,
    out: std::fs::File,
}

impl LateReader {
    /// Waits for the reader to end (the socket's end, an error, or
    /// [`PATIENCE`](crate::PATIENCE)) and returns what it read.
    pub fn join(mut self) -> io::Result<Vec<u8>> {
        use std::io::Seek as _;
        self.child.wait()?;
        self.out.rewind()?;
        let mut got = Vec::new();
        self.out.read_to_end(&mut got)?;
        Ok(got)
    }
}

/// A writer of `bytes` to `peer` in a process of its own (`cat`, from a
/// temporary file), which goes on writing while the test's only running
/// thread waits in `io_uring_enter` (valgrind runs one thread of a process
/// at a time); [`PeerWriter::join`] waits for it to have written them all.
/// The process holds the only other copy of `peer`'s descriptor: when it
/// ends, its end of the connection closes, unless the caller kept a clone.
pub fn peer_writer(peer: impl Into<std::os::fd::OwnedFd>, bytes: &[u8]) -> PeerWriter {
    use std::io::{Seek as _, Write as _};
    let mut source = tempfile::tempfile().expect("a file for what the writer writes");
    source.write_all(bytes).expect("the writer's bytes");
    source.rewind().expect("the writer's bytes");
    let child = std::process::Command::new("cat")
        .stdin(source)
        .stdout(peer.into())
        .spawn()
        .expect("cat writes for the peer");
    PeerWriter {
        child: PeerProcess(Some(child)),
    }
}

/// The writer process of [`peer_writer`]; killed if dropped before
/// [`join`](PeerWriter::join).
pub struct PeerWriter {
    child: PeerProcess,
}

impl PeerWriter {
    /// Waits for the writer to end; an error unless it wrote every byte.
    pub fn join(self) -> io::Result<()> {
        let status = self.child.wait()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "the peer writer ended with {status}"
            )))
        }
    }
}

/// The bytes the socket `fd` has queued that its peer has not
/// acknowledged (`SIOCOUTQ`).
pub fn unacked(fd: impl std::os::fd::AsRawFd) -> i32 {
    let mut n = 0i32;
    // SAFETY: inspection: SIOCOUTQ writes one `int` into `n`.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    assert_eq!(rc, 0, "SIOCOUTQ: {}", std::io::Error::last_os_error());
    n
}

/// Sleeps on tokio's timer until `done` holds or `bound` passes; whether it
/// held.
pub async fn eventually(bound: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + bound;
    while !done() {
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    true
}
