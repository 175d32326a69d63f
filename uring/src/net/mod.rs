//! Sockets over a [`Reactor`](crate::reactor::Reactor): go-uring's `net`.
//!
//! [`TcpListener`] accepts with one multishot accept, [`TcpStream`] and
//! [`UdpSocket`] read and write through the ring with owned buffers, or
//! receive into a reactor's buffer ring without a copy ([`RingBuf`]s,
//! which a send takes back as they are). Each has read and write deadlines
//! (go's `SetDeadline`): an op still running at its deadline is cancelled
//! by a link timeout and fails with [`io::ErrorKind::TimedOut`]. The
//! Unix-domain [`UnixListener`], [`UnixStream`] (which passes descriptors
//! too) and [`UnixDatagram`] do the same over paths and abstract names,
//! and [`UnixSeqpacketListener`] and [`UnixSeqpacket`] carry connections
//! whose messages keep their boundaries.
//! With the `tokio` feature, [`TcpStream`] and [`UnixStream`] implement
//! tokio's `AsyncRead` and `AsyncWrite`.
//!
//! ```
//! use uring::net::{TcpListener, TcpStream};
//! use uring::reactor::{IoBuf, Reactor};
//!
//! # fn main() -> std::io::Result<()> {
//! let reactor = Reactor::new()?;
//! let h = reactor.handle();
//! let listener = TcpListener::bind(&h, "127.0.0.1:0".parse().unwrap())?;
//! let addr = listener.local_addr()?;
//! let echoed = reactor.run_until(async move {
//!     let client = TcpStream::connect(&h, addr).await?;
//!     let server = listener.accept().await?;
//!     let (n, _) = client.write_all(b"ping".to_vec()).await;
//!     n?;
//!     let (n, buf) = server.read(vec![0; 16]).await;
//!     let (n, buf) = server.write_all(buf.slice(..n?)).await;
//!     n?;
//!     let (n, buf) = client.read(Vec::with_capacity(16)).await;
//!     Ok::<_, std::io::Error>(buf[..n?].to_vec())
//! })??;
//! assert_eq!(echoed, b"ping");
//! # Ok(())
//! # }
//! ```
//!
//! [`RingBuf`]: crate::reactor::RingBuf

use crate::reactor::{Completion, Handle, Op, SharedFd};
use crate::types::SockAddr;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Instant;

mod backlog;
mod conn;
#[cfg(feature = "tokio")]
mod io_tokio;
mod seqpacket;
mod tcp;
mod udp;
mod unix;

pub use conn::RecvStream;
pub use seqpacket::{UnixSeqpacket, UnixSeqpacketListener};
pub use tcp::{Accepted, DEFAULT_KEEPALIVE, Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};

/// The error of an op cancelled by its deadline.
fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the i/o deadline has passed")
}

/// Runs `op` on `handle`, bounded by `deadline`: an op still in flight at
/// the deadline is cancelled and fails with `TimedOut`; a deadline already
/// past fails at once, without the op.
pub(crate) async fn run<O: Op>(
    handle: &Handle,
    op: O,
    deadline: Option<Instant>,
) -> (io::Result<u32>, O::Output) {
    let Some(deadline) = deadline else {
        return handle.op(op).await;
    };
    if Instant::now() >= deadline {
        let output = op.complete(Completion::new(-libc::ETIMEDOUT, 0));
        return (Err(timed_out()), output);
    }
    let (result, output) = handle.op_with_deadline(op, deadline).await;
    (deadlined(result, Some(deadline)), output)
}

/// A [`SendMsg`](crate::reactor::ops::SendMsg) of `buf` with the records
/// of `control` on `fd`, to `to` or to the connected peer, cut at
/// `deadline`: the kernel's result, and the buffer (handed back at once,
/// with `InvalidInput`, when a record is not one the kernel reads as plain
/// data).
pub(crate) async fn send_msg<B: crate::reactor::IoBuf>(
    handle: &Handle,
    fd: &crate::reactor::SharedFd,
    buf: B,
    to: Option<SockAddr>,
    control: crate::ControlMessagesBuf,
    deadline: Option<Instant>,
) -> (io::Result<u32>, B) {
    let op = match crate::reactor::ops::SendMsg::new(fd, buf, control) {
        Ok(op) => op,
        Err((e, buf)) => return (Err(e), buf),
    };
    let op = match to {
        Some(to) => op.to_addr(to),
        None => op,
    };
    run(handle, op, deadline).await
}

/// A shutdown (`shutdown(2)` through the ring) of part of the connection
/// `fd`, or of all of it.
pub(crate) async fn shutdown(
    handle: &Handle,
    fd: &SharedFd,
    how: std::net::Shutdown,
) -> io::Result<()> {
    let how = match how {
        std::net::Shutdown::Read => libc::SHUT_RD,
        std::net::Shutdown::Write => libc::SHUT_WR,
        std::net::Shutdown::Both => libc::SHUT_RDWR,
    };
    let op = crate::reactor::ops::Shutdown::new(fd, how);
    handle.op(op).await.0.map(drop)
}

/// A [`RecvMsg`](crate::reactor::ops::RecvMsg) of `buf` on `fd` with
/// `control_len` bytes of room, cut at `deadline`: the byte count and
/// what the message carried besides. `unix_domain` says the socket's
/// domain.
pub(crate) async fn recv_msg<B: crate::reactor::IoBufMut>(
    handle: &Handle,
    fd: &crate::reactor::SharedFd,
    buf: B,
    control_len: usize,
    unix_domain: bool,
    deadline: Option<Instant>,
) -> (io::Result<(usize, crate::reactor::ops::ReceivedMsg)>, B) {
    let op = crate::reactor::ops::RecvMsg::new(fd, buf, control_len).on_domain(unix_domain);
    let (r, (buf, received)) = run(handle, op, deadline).await;
    (r.map(|n| (n as usize, received)), buf)
}

/// A cancellation at or after `deadline` is the deadline's: an op that
/// ended [`cut`] once it has passed fails with `TimedOut`.
pub(crate) fn deadlined(result: io::Result<u32>, deadline: Option<Instant>) -> io::Result<u32> {
    match (result, deadline) {
        (Err(e), Some(deadline)) if cut(&e) && Instant::now() >= deadline => Err(timed_out()),
        (result, _) => result,
    }
}

/// Whether an op's error says it was cancelled, having moved no byte:
/// `ECANCELED`, or `EINTR`.
///
/// A cancel (`IORING_OP_ASYNC_CANCEL`, or a link timeout firing) finds an
/// op in one of two places. Waiting on its socket's poll, it is taken off
/// and completes with `-ECANCELED`. Issued blocking in an io-wq worker
/// (after `APOLL_MAX_RETRY` polls that said "ready" while the op kept
/// failing with `EAGAIN`, or when the kernel punts it there for another
/// reason), it is running: io-wq signals the worker (`io_wq_cancel_cb` ->
/// `__set_notify_signal`), the socket's wait returns `-ERESTARTSYS`, and
/// `io_send` / `io_sendmsg` / `io_recv` / `io_recvmsg` complete the op with
/// `-EINTR`. Either way nothing moved: bytes sent or received before the
/// interruption make the op's result a count, not an error (`done_io`, and
/// the socket layer's own partial counts).
///
/// Nothing else is known to interrupt an op in a worker. A worker is an
/// io thread: it blocks every signal but `SIGKILL` and `SIGSTOP`, so a
/// signal sent to the process never picks it, and the kernel applies no
/// stop to it. What wakes it with a signal pending is io-wq's cancel
/// (its notify-signal), asked for by an `ASYNC_CANCEL` or a link timeout,
/// by the ring's teardown or its task's exit; or a `SIGKILL`, which ends
/// the process. An op issued
/// from the submitting thread runs non-blocking and never sleeps in its
/// socket, so a signal to that thread interrupts none. So `EINTR` from an
/// op is a cancel, as `ECANCELED` is, and whose cancel it was is decided
/// as for `ECANCELED`: the net layer's own (a deadline's link timeout,
/// once the deadline has passed; a cancel to start the op again under a
/// moved deadline), or someone else's (an `ASYNC_CANCEL` queued by hand
/// on the shared descriptor, the reactor's shutdown), which is reported
/// as the error it is. An `EINTR` that came otherwise would be reported
/// the same way (`Interrupted`), unless the net layer had asked for a
/// cancel of that op or its deadline had passed: then, the op having
/// moved nothing, taking it for that cancel loses nothing either.
pub(crate) fn cut(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ECANCELED | libc::EINTR))
}

/// Switches a socket handed over by its owner to blocking mode (clears
/// `O_NONBLOCK` on its open file description, which duplicates of the
/// descriptor share).
///
/// io_uring does the waiting: it tries each op without blocking and
/// waits through a poll. But an op it issues blocking in an io-wq worker
/// gets `MSG_DONTWAIT` (or, for an accept, `O_NONBLOCK`) from a file left
/// `O_NONBLOCK` (`____sys_sendmsg`, `____sys_recvmsg`, `do_accept`), and
/// its `EAGAIN` is then final: the op fails with `WouldBlock` instead of
/// waiting.
///
/// An error of `fcntl` is ignored: `F_GETFL` and `F_SETFL` of `O_NONBLOCK`
/// on an open socket the caller owns do not fail (`EBADF` needs a closed
/// descriptor; no socket refuses the flag), and were one to, the socket
/// would only stay as its owner left it, its ops failing with
/// `WouldBlock` where a worker runs them, as they would without the
/// switch: nothing worse.
pub(crate) fn set_blocking(fd: BorrowedFd<'_>) {
    // SAFETY: fcntl(2) F_GETFL on a descriptor the borrow keeps open; it
    // touches no memory of the program.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags >= 0 && flags & libc::O_NONBLOCK != 0 {
        // SAFETY: fcntl(2) F_SETFL on a descriptor the borrow keeps open,
        // with the flags it has less `O_NONBLOCK`; it touches no memory of
        // the program. (Ignored on failure: see above.)
        let _ = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) };
    }
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// A new close-on-exec socket of `kind` for `addr`'s family.
pub(crate) fn socket(addr: &SocketAddr, kind: libc::c_int) -> io::Result<OwnedFd> {
    let domain = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    socket_of(domain, kind)
}

/// A new close-on-exec socket of `domain` and `kind`.
pub(crate) fn socket_of(domain: libc::c_int, kind: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) with valid arguments; the result is checked.
    let fd = cvt(unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An `int` socket option of `fd` (`getsockopt(2)`).
pub(crate) fn get_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes to `value` and the
    // length to `len`, both on the stack, alive for the call.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

/// The peer's credentials of a Unix-domain socket (`SO_PEERCRED`).
pub(crate) fn peer_cred(fd: BorrowedFd<'_>) -> io::Result<libc::ucred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes to `cred` and the
    // length to `len`, both on the stack, alive for the call.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    })?;
    Ok(cred)
}

/// Sets an integer socket option.
pub(crate) fn set_option(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: the option value is an int on the stack, alive for the call.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Binds `fd` to `addr`.
pub(crate) fn bind(fd: &OwnedFd, addr: &SockAddr) -> io::Result<()> {
    // SAFETY: the address is a valid sockaddr of `len` bytes, alive for the
    // call.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr().cast(), addr.len()) }).map(drop)
}

/// Connects `fd` to `addr` now, with a system call: for datagram sockets,
/// whose connect only sets the peer and does not block.
pub(crate) fn connect_now(fd: &SharedFd, addr: &SockAddr) -> io::Result<()> {
    // SAFETY: the address is a valid sockaddr of `len` bytes, alive for the
    // call.
    cvt(unsafe { libc::connect(fd.as_raw_fd(), addr.as_ptr().cast(), addr.len()) }).map(drop)
}

/// The local (or, with `peer`, remote) address of a socket, as the kernel
/// wrote it.
pub(crate) fn name_of(fd: std::os::fd::RawFd, peer: bool) -> io::Result<crate::types::SockAddrBuf> {
    let mut buf = crate::types::SockAddrBuf::new();
    let (storage, len) = buf.as_out_ptrs();
    // SAFETY: the kernel writes at most `*len` bytes to `storage` and the
    // length to `len`, both in `buf`, alive for the call.
    let rc = unsafe {
        if peer {
            libc::getpeername(fd, storage.cast(), len)
        } else {
            libc::getsockname(fd, storage.cast(), len)
        }
    };
    cvt(rc)?;
    Ok(buf)
}
