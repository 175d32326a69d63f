//! Streams of either family (TCP over loopback, Unix socket pairs) whose
//! other end is a plain socket read with `read(2)`: what the attacks on the
//! tokio traits of `uring::net` share.

use std::io::{self, Read as _, Write as _};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt as _;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::AsyncWrite;
use uring::net::{TcpStream, UnixStream};
use uring::reactor::{Handle, Reactor};

use super::noop_cx;
use crate::{run_for, set_int_option};

/// The peer of a stream under test: a std `UnixStream` over the
/// descriptor, whatever its family (reads and `FIONBIO` are the same for
/// both).
pub type Peer = std::os::unix::net::UnixStream;

/// A reactor TCP stream connected over loopback to a plain peer.
pub fn tcp(h: &Handle) -> (TcpStream, Peer) {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listener = std::net::TcpListener::bind(any).unwrap();
    let c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (peer, _) = listener.accept().unwrap();
    (TcpStream::from_std(h, c), Peer::from(OwnedFd::from(peer)))
}

/// A reactor Unix stream connected to a plain peer (`socketpair(2)`).
pub fn unix(h: &Handle) -> (UnixStream, Peer) {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    (UnixStream::from_std(h, a), b)
}

/// `poll_write` of all of `data` (one copy), which must take it at once.
pub fn write_now<S: AsyncWrite + Unpin>(stream: &mut S, data: &[u8], what: &str) {
    match Pin::new(stream).poll_write(&mut noop_cx(), data) {
        Poll::Ready(Ok(n)) => assert_eq!(n, data.len(), "{what}: the write"),
        other => panic!("{what}: the write: {other:?}"),
    }
}

/// Fills the send side of `fd` through a duplicate of its descriptor
/// (returned) until the kernel takes no more; the bytes written (zeros).
/// The send buffer gets a fixed size first: TCP would grow it later
/// (autotuning), making room for a send meant to wait.
pub fn fill_send_side(fd: BorrowedFd<'_>) -> (Peer, usize) {
    set_int_option(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, 64 << 10).unwrap();
    fill_through(fd)
}

/// Writes zeros through a duplicate of `fd` (returned) until the kernel
/// takes no more; the bytes written. The duplicate is left blocking: the
/// descriptor is shared, and the stream's own ops see the flag too.
pub fn fill_through(fd: BorrowedFd<'_>) -> (Peer, usize) {
    let mut filler = Peer::from(fd.try_clone_to_owned().unwrap());
    filler.set_nonblocking(true).unwrap();
    let chunk = vec![0u8; 1 << 16];
    let mut total = 0;
    loop {
        match filler.write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the socket: {e}"),
        }
    }
    filler.set_nonblocking(false).unwrap();
    (filler, total)
}

/// Reads what `peer` holds now, without blocking, up to `limit` bytes;
/// whether it saw the end of the stream (or a reset, which ends it too:
/// `Err` then).
pub fn drain_some(peer: &mut Peer, into: &mut Vec<u8>, limit: usize) -> io::Result<bool> {
    peer.set_nonblocking(true).unwrap();
    let mut chunk = vec![0u8; 1 << 16];
    let mut taken = 0;
    let eof = loop {
        if taken >= limit {
            break Ok(false);
        }
        let want = chunk.len().min(limit - taken);
        match peer.read(&mut chunk[..want]) {
            Ok(0) => break Ok(true),
            Ok(n) => {
                into.extend_from_slice(&chunk[..n]);
                taken += n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(false),
            Err(e) => break Err(e),
        }
    };
    peer.set_nonblocking(false).unwrap();
    eof
}

/// [`drain_some`] with no limit; a reset ends the stream too, any other
/// error is a panic.
pub fn drain(peer: &mut Peer, into: &mut Vec<u8>) -> bool {
    match drain_some(peer, into, usize::MAX) {
        Ok(eof) => eof,
        Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => true,
        Err(e) => panic!("reading the peer: {e}"),
    }
}

/// Runs the reactor (unless it has shut down) and drains `peer` until it
/// sees the end of the stream or `bound` passes (a panic); what it read.
pub fn drain_to_end(reactor: &Reactor, peer: &mut Peer, bound: Duration) -> Vec<u8> {
    let end = Instant::now() + bound;
    let mut got = Vec::new();
    while !drain(peer, &mut got) {
        assert!(
            Instant::now() < end,
            "no end of stream after {bound:?} ({} bytes read)",
            got.len()
        );
        if !reactor.is_shut_down() {
            run_for(reactor, 2);
        }
    }
    got
}

/// The inode of the socket open as `fd`.
pub fn inode(fd: impl AsFd) -> u64 {
    std::fs::metadata(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
        .unwrap()
        .ino()
}

/// Whether a descriptor of this process names the socket of inode `ino`.
pub fn socket_open(ino: u64) -> bool {
    crate::fd_names(format!("socket:[{ino}]"))
}

/// The number of descriptors this process has open.
pub fn open_fds() -> usize {
    // The directory's own descriptor is among them while it is read.
    std::fs::read_dir("/proc/self/fd").unwrap().count() - 1
}

/// The peer's bytes after the `filled` zeros a [`fill_send_side`] wrote:
/// what the stream sent.
pub fn sent_part<'a>(got: &'a [u8], filled: usize, what: &str) -> &'a [u8] {
    assert!(
        got.len() >= filled,
        "{what}: the filler's bytes are missing"
    );
    assert!(
        got[..filled].iter().all(|&b| b == 0),
        "{what}: filler bytes"
    );
    &got[filled..]
}
