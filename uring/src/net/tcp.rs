//! TCP over the reactor.

use crate::net::{bind, cvt, run, set_option, socket};
use crate::reactor::ops::{
    Accept, AcceptMulti, Connect, Recv, RecvMulti, RecvRing, Send, Shutdown,
};
use crate::reactor::{BufGroup, Handle, IoBuf, IoBufMut, OpStream, RingBuf, SharedFd};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::task::{Context, Poll};
use std::time::Instant;

/// A TCP listening socket whose accepts go through the reactor.
pub struct TcpListener {
    handle: Handle,
    fd: SharedFd,
}

impl TcpListener {
    /// Binds a listener to `addr` (`SO_REUSEADDR`, a backlog of 4096).
    pub fn bind(handle: &Handle, addr: SocketAddr) -> io::Result<TcpListener> {
        TcpListener::bind_with(handle, addr, false)
    }

    /// Binds a listener to `addr` with `SO_REUSEPORT` too: each thread's
    /// reactor can have its own listener on the same port, and the kernel
    /// spreads the connections between them.
    pub fn bind_reuseport(handle: &Handle, addr: SocketAddr) -> io::Result<TcpListener> {
        TcpListener::bind_with(handle, addr, true)
    }

    fn bind_with(handle: &Handle, addr: SocketAddr, reuseport: bool) -> io::Result<TcpListener> {
        let fd = socket(&addr, libc::SOCK_STREAM)?;
        set_option(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        if reuseport {
            set_option(&fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
        }
        bind(&fd, &addr)?;
        // SAFETY: listen(2) on a socket we own.
        cvt(unsafe { libc::listen(fd.as_raw_fd(), 4096) })?;
        Ok(TcpListener {
            handle: handle.clone(),
            fd: SharedFd::new(fd),
        })
    }

    /// A listener over a std listener.
    pub fn from_std(handle: &Handle, listener: std::net::TcpListener) -> TcpListener {
        TcpListener {
            handle: handle.clone(),
            fd: SharedFd::new(listener),
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        sock_name(self.fd.as_raw_fd(), false)
    }

    /// Accepts one connection.
    pub async fn accept(&self) -> io::Result<TcpStream> {
        let (result, fd) = self.handle.op(Accept::new(&self.fd)).await;
        result?;
        let fd = fd.ok_or_else(|| io::Error::other("an accept gave no socket"))?;
        Ok(TcpStream::from_owned(&self.handle, fd))
    }

    /// The connections as they come, from one multishot accept (armed
    /// again should the kernel end it).
    pub fn incoming(&self) -> Incoming {
        Incoming {
            handle: self.handle.clone(),
            stream: self.handle.stream(AcceptMulti::new(&self.fd)),
            fd: self.fd.clone(),
        }
    }

    /// The reactor the listener is on.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The shared descriptor, for ops of [`reactor::ops`](crate::reactor::ops)
    /// queued by hand (a multishot accept with a callback).
    pub fn shared_fd(&self) -> &SharedFd {
        &self.fd
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("fd", &self.fd)
            .finish_non_exhaustive()
    }
}

/// The connections of a [`TcpListener`], from [`TcpListener::incoming`]:
/// each item is a new stream, or an accept's error (`EMFILE`, ...), after
/// which accepting goes on. Dropping it cancels the accept.
pub struct Incoming {
    handle: Handle,
    fd: SharedFd,
    stream: OpStream<AcceptMulti>,
}

impl Incoming {
    /// The next connection, as [`OpStream::poll_next`]; `None` only once
    /// the reactor has shut down.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<TcpStream>>> {
        loop {
            match self.stream.poll_next(cx) {
                Poll::Ready(Some(Ok(fd))) => {
                    return Poll::Ready(Some(Ok(TcpStream::from_owned(&self.handle, fd))));
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => {
                    if self.handle.is_shut_down() {
                        return Poll::Ready(None);
                    }
                    // The kernel ended the multishot accept: arm another,
                    // or say why none could be (not once per poll forever).
                    self.stream = self.handle.stream(AcceptMulti::new(&self.fd));
                    if let Some(e) = self.stream.failure() {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Awaits the next connection.
    #[allow(clippy::should_implement_trait)]
    pub async fn next(&mut self) -> Option<io::Result<TcpStream>> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("fd", &self.fd)
            .finish_non_exhaustive()
    }
}

/// A TCP connection whose reads and writes go through the reactor.
///
/// Reads and writes take owned buffers and give them back with the result;
/// [`recv_ring`](TcpStream::recv_ring) and [`recv_stream`](TcpStream::recv_stream)
/// receive into a reactor's buffer ring without a copy. Deadlines
/// ([`set_deadline`](TcpStream::set_deadline)) bound each op.
pub struct TcpStream {
    pub(crate) handle: Handle,
    pub(crate) fd: SharedFd,
    pub(crate) read_deadline: Option<Instant>,
    pub(crate) write_deadline: Option<Instant>,
    #[cfg(feature = "tokio")]
    pub(crate) io: crate::net::io_tokio::IoState,
}

impl TcpStream {
    pub(crate) fn from_owned(handle: &Handle, fd: OwnedFd) -> TcpStream {
        TcpStream {
            handle: handle.clone(),
            fd: SharedFd::new(fd),
            read_deadline: None,
            write_deadline: None,
            #[cfg(feature = "tokio")]
            io: Default::default(),
        }
    }

    /// Connects to `addr`.
    pub async fn connect(handle: &Handle, addr: SocketAddr) -> io::Result<TcpStream> {
        let fd = SharedFd::new(socket(&addr, libc::SOCK_STREAM)?);
        let (result, ()) = handle.op(Connect::new(&fd, addr)).await;
        result?;
        Ok(TcpStream {
            handle: handle.clone(),
            fd,
            read_deadline: None,
            write_deadline: None,
            #[cfg(feature = "tokio")]
            io: Default::default(),
        })
    }

    /// A stream over a connected std stream.
    pub fn from_std(handle: &Handle, stream: std::net::TcpStream) -> TcpStream {
        TcpStream::from_owned(handle, stream.into())
    }

    /// Sets both deadlines: reads and writes still in flight at `deadline`
    /// fail with `TimedOut`, and so do those started after it; `None` takes
    /// the deadline away. (go's `SetDeadline`.)
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.read_deadline = deadline;
        self.write_deadline = deadline;
    }

    /// Sets the deadline of reads and receives.
    pub fn set_read_deadline(&mut self, deadline: Option<Instant>) {
        self.read_deadline = deadline;
    }

    /// Sets the deadline of writes and sends.
    pub fn set_write_deadline(&mut self, deadline: Option<Instant>) {
        self.write_deadline = deadline;
    }

    /// Reads into `buf` (from its first byte, up to its capacity); gives
    /// it back with the byte count, 0 at the end of the stream.
    pub async fn read<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        let (result, buf) = run(&self.handle, Recv::new(&self.fd, buf), self.read_deadline).await;
        (result.map(|n| n as usize), buf)
    }

    /// Writes `buf` (some of it, perhaps); gives it back with the byte
    /// count.
    pub async fn write<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        let (result, buf) = run(&self.handle, Send::new(&self.fd, buf), self.write_deadline).await;
        (result.map(|n| n as usize), buf)
    }

    /// Writes all of `buf`, sending again what a short send left.
    pub async fn write_all<B: IoBuf>(&self, buf: B) -> (io::Result<()>, B) {
        let total = buf.bytes_init();
        let (mut result, mut slice) = self.write(buf.slice(..)).await;
        let mut done = 0;
        loop {
            match result {
                Ok(0) if done < total => {
                    return (
                        Err(io::Error::from(io::ErrorKind::WriteZero)),
                        slice.into_inner(),
                    );
                }
                Ok(n) => {
                    done += n;
                    if done >= total {
                        return (Ok(()), slice.into_inner());
                    }
                }
                Err(e) => return (Err(e), slice.into_inner()),
            }
            let rest = slice.into_inner().slice(done..);
            (result, slice) = self.write(rest).await;
        }
    }

    /// Receives into a buffer of the reactor's buffer ring `group`, with no
    /// copy; `None` at the end of the stream. (`ENOBUFS` when the ring has
    /// no buffer left: drop some and try again.)
    pub async fn recv_ring(&self, group: BufGroup) -> io::Result<Option<RingBuf>> {
        let (result, buf) = run(
            &self.handle,
            RecvRing::new(&self.fd, group),
            self.read_deadline,
        )
        .await;
        result?;
        Ok(buf)
    }

    /// Receives continuously into buffers of `group` (one multishot
    /// receive): each item is a buffer, `Ok(None)` at the end of the
    /// stream, or the error that ended it. Deadlines do not apply.
    pub fn recv_stream(&self, group: BufGroup) -> RecvStream {
        RecvStream {
            stream: self.handle.stream(RecvMulti::new(&self.fd, group)),
        }
    }

    /// Shuts down the reading, writing or both halves (`std::net::Shutdown`).
    pub async fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        let how = match how {
            std::net::Shutdown::Read => libc::SHUT_RD,
            std::net::Shutdown::Write => libc::SHUT_WR,
            std::net::Shutdown::Both => libc::SHUT_RDWR,
        };
        self.handle
            .op(Shutdown::new(&self.fd, how))
            .await
            .0
            .map(drop)
    }

    /// Sets `TCP_NODELAY`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        set_option(
            self.fd.owned(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            nodelay as i32,
        )
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        sock_name(self.fd.as_raw_fd(), false)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        sock_name(self.fd.as_raw_fd(), true)
    }

    /// The shared descriptor, for ops of [`reactor::ops`](crate::reactor::ops)
    /// queued by hand (with callbacks).
    pub fn shared_fd(&self) -> &SharedFd {
        &self.fd
    }

    /// The reactor the stream is on.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("fd", &self.fd)
            .finish_non_exhaustive()
    }
}

/// A multishot receive into a buffer ring, from [`TcpStream::recv_stream`].
pub struct RecvStream {
    stream: OpStream<RecvMulti>,
}

impl RecvStream {
    /// The next buffer, as [`OpStream::poll_next`].
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Option<RingBuf>>>> {
        self.stream.poll_next(cx)
    }

    /// Awaits the next buffer: `Some(Ok(Some(buf)))`, `Some(Ok(None))` at
    /// the end of the stream, `Some(Err(..))` when the receive ended with
    /// an error, `None` after the last.
    #[allow(clippy::should_implement_trait)]
    pub async fn next(&mut self) -> Option<io::Result<Option<RingBuf>>> {
        self.stream.next().await
    }
}

impl fmt::Debug for RecvStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvStream").finish_non_exhaustive()
    }
}

/// The local (or, with `peer`, remote) address of a socket.
pub(crate) fn sock_name(fd: RawFd, peer: bool) -> io::Result<SocketAddr> {
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
    buf.socket_addr()
        .ok_or_else(|| io::Error::other("not an IP socket address"))
}
