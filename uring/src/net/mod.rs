//! Sockets over a [`Reactor`](crate::reactor::Reactor): go-uring's `net`.
//!
//! [`TcpListener`] accepts with one multishot accept, [`TcpStream`] and
//! [`UdpSocket`] read and write through the ring with owned buffers, or
//! receive into a reactor's buffer ring without a copy ([`RingBuf`]s,
//! which a send takes back as they are). Each has read and write deadlines
//! (go's `SetDeadline`): an op still running at its deadline is cancelled
//! by a link timeout and fails with [`io::ErrorKind::TimedOut`]. The
//! Unix-domain [`UnixListener`], [`UnixStream`] (which passes descriptors
//! too) and [`UnixDatagram`] do the same over paths and abstract names.
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
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

mod conn;
#[cfg(feature = "tokio")]
mod io_tokio;
mod tcp;
mod udp;
mod unix;

pub use conn::RecvStream;
pub use tcp::{Accepted, Incoming, TcpListener, TcpStream};
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

/// A cancellation at or after `deadline` is the deadline's.
pub(crate) fn deadlined(result: io::Result<u32>, deadline: Option<Instant>) -> io::Result<u32> {
    match (result, deadline) {
        (Err(e), Some(deadline))
            if e.raw_os_error() == Some(libc::ECANCELED) && Instant::now() >= deadline =>
        {
            Err(timed_out())
        }
        (result, _) => result,
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
