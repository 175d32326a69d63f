//! TCP over the reactor.

use crate::net::backlog::{Backlog, KeptAcceptMulti};
use crate::net::conn::{Conn, stream_methods, stream_traits};
use crate::net::{bind, cvt, get_option, name_of, set_blocking, set_option, socket};
use crate::reactor::ops::Connect;
use crate::reactor::{Handle, OpStream, SharedFd};
use crate::types::SockAddr;
use std::cell::Cell;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::task::{Context, Poll};
use std::time::Duration;

/// The keep-alive of accepted connections until
/// [`TcpListener::set_keepalive`] changes it: Go's (`net.Listen`'s, and
/// go-uring's listener's), 15 s of silence before the first probe and
/// between probes.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);

/// A TCP listening socket whose accepts go through the reactor.
///
/// The connections it accepts have TCP keep-alive on, as Go's do
/// ([`DEFAULT_KEEPALIVE`]; see [`set_keepalive`](TcpListener::set_keepalive)),
/// and know their peer's address from the accept on (see
/// [`TcpStream::peer_addr`]).
///
/// Its accepts may be given up without losing a connection: a connection
/// the kernel accepted for an [`accept`](TcpListener::accept) future or an
/// [`Incoming`] stream dropped before it was read (a `select` whose other
/// branch won, a timeout) is kept by the listener and handed out by its
/// next accept, before those still in the kernel's queue (an accept
/// already waiting in the kernel is woken to take it).
pub struct TcpListener {
    handle: Handle,
    fd: SharedFd,
    keepalive: Cell<Option<Duration>>,
    backlog: Backlog,
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
        bind(&fd, &SockAddr::from(addr))?;
        // SAFETY: listen(2) on a socket we own.
        cvt(unsafe { libc::listen(fd.as_raw_fd(), 4096) })?;
        Ok(TcpListener {
            handle: handle.clone(),
            fd: SharedFd::new(fd),
            keepalive: Cell::new(Some(DEFAULT_KEEPALIVE)),
            backlog: Backlog::default(),
        })
    }

    /// A listener over a std listener.
    ///
    /// The descriptor is switched to blocking mode (`O_NONBLOCK` cleared,
    /// for its duplicates too, which share the flag): io_uring does the
    /// waiting, and an op the kernel runs in an io-wq worker on a
    /// non-blocking socket would fail with `WouldBlock` instead of waiting.
    pub fn from_std(handle: &Handle, listener: std::net::TcpListener) -> TcpListener {
        set_blocking(listener.as_fd());
        TcpListener {
            handle: handle.clone(),
            fd: SharedFd::new(listener),
            keepalive: Cell::new(Some(DEFAULT_KEEPALIVE)),
            backlog: Backlog::default(),
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        sock_name(self.fd.as_raw_fd(), false)
    }

    /// The keep-alive the connections accepted from now on get:
    /// `Some(idle)` turns it on, with a first probe after `idle` of silence
    /// and the next ones `idle` apart (see [`TcpStream::set_keepalive`]);
    /// `None` leaves accepted sockets as the kernel makes them (off).
    /// [`DEFAULT_KEEPALIVE`] until changed, as in Go. An
    /// [`incoming`](TcpListener::incoming) stream takes the setting it had
    /// when it was made.
    pub fn set_keepalive(&self, idle: Option<Duration>) {
        self.keepalive.set(idle);
    }

    /// The keep-alive accepted connections get (see
    /// [`set_keepalive`](TcpListener::set_keepalive)).
    pub fn keepalive(&self) -> Option<Duration> {
        self.keepalive.get()
    }

    /// Accepts one connection.
    ///
    /// Cancel-safe: dropping the future before it is ready loses no
    /// connection (one the kernel accepted for it meanwhile is kept for
    /// the next accept).
    pub async fn accept(&self) -> io::Result<TcpStream> {
        let fd = accept_one(&self.handle, &self.fd, &self.backlog).await?;
        let stream = TcpStream::from_owned(&self.handle, fd);
        stream.accepted_with(self.keepalive.get());
        Ok(stream)
    }

    /// The connections as they come, from one multishot accept (armed
    /// again should the kernel end it).
    ///
    /// An error (`EMFILE`, `ENFILE` when out of descriptors) is yielded
    /// and the accept armed again at the next call, which fails the same
    /// at once while no descriptor is freed: a loop that goes on after an
    /// error should pause first. The kernel reads the descriptor limit
    /// (`RLIMIT_NOFILE`) as the accept is armed: a limit lowered while it
    /// is armed applies from its next arming.
    ///
    /// Dropping the stream loses no connection: those the kernel accepted
    /// for it and nobody read are kept for the listener's next accept.
    pub fn incoming(&self) -> Incoming {
        let mut incoming = Incoming::new(&self.handle, &self.fd, &self.backlog);
        incoming.keepalive = self.keepalive.get();
        incoming
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

/// The connections of a listener, from [`TcpListener::incoming`] (or
/// [`UnixListener::incoming`](crate::net::UnixListener::incoming), whose
/// streams are [`UnixStream`](crate::net::UnixStream)s): each item is a new
/// stream, or an accept's error (`EMFILE`, ...), after which accepting goes
/// on. Dropping it cancels the accept; the connections accepted for it
/// and not read are kept for the listener's next accept (or closed, if the
/// listener is gone too).
pub struct Incoming<S: Accepted = TcpStream> {
    handle: Handle,
    fd: SharedFd,
    stream: OpStream<KeptAcceptMulti>,
    backlog: Backlog,
    /// The keep-alive each accepted TCP stream gets.
    keepalive: Option<Duration>,
    _stream: std::marker::PhantomData<fn() -> S>,
}

/// The connection types a listener accepts: [`TcpStream`],
/// [`UnixStream`](crate::net::UnixStream) and
/// [`UnixSeqpacket`](crate::net::UnixSeqpacket).
#[diagnostic::on_unimplemented(
    message = "a listener cannot accept `{Self}`",
    label = "not a connection type of `uring::net`",
    note = "a `TcpListener` accepts `TcpStream`s, a `UnixListener` `UnixStream`s, a `UnixSeqpacketListener` `UnixSeqpacket`s; wrap the stream after the accept"
)]
pub trait Accepted: sealed::Sealed + Sized {
    /// The stream over an accepted socket.
    #[doc(hidden)]
    fn accepted(handle: &Handle, fd: OwnedFd) -> Self;

    /// Sets a new stream up as its listener says (keep-alive, the peer's
    /// address).
    #[doc(hidden)]
    fn set_up(&self, _keepalive: Option<Duration>) {}
}

pub(crate) mod sealed {
    /// Only this module's stream types are accepted.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be accepted: only `uring::net`'s connections can",
        label = "not `TcpStream`, `UnixStream` or `UnixSeqpacket`"
    )]
    pub trait Sealed {}
}

impl sealed::Sealed for TcpStream {}

impl Accepted for TcpStream {
    fn accepted(handle: &Handle, fd: OwnedFd) -> TcpStream {
        TcpStream::from_owned(handle, fd)
    }

    fn set_up(&self, keepalive: Option<Duration>) {
        self.accepted_with(keepalive);
    }
}

impl<S: Accepted> Incoming<S> {
    pub(crate) fn new(handle: &Handle, fd: &SharedFd, backlog: &Backlog) -> Incoming<S> {
        Incoming {
            handle: handle.clone(),
            stream: handle.stream(backlog.accept_multi(fd)),
            fd: fd.clone(),
            backlog: backlog.clone(),
            keepalive: None,
            _stream: std::marker::PhantomData,
        }
    }

    /// The next connection, as [`OpStream::poll_next`]; `None` only once
    /// the reactor has shut down.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<S>>> {
        // Connections accepted for accepts given up came first.
        if let Some(fd) = self.backlog.take_live(&self.handle) {
            return Poll::Ready(Some(Ok(self.set_up(fd))));
        }
        loop {
            match self.stream.poll_next(cx) {
                Poll::Ready(Some(Ok(unclaimed))) => {
                    // An item always holds its socket until claimed.
                    if let Some(fd) = unclaimed.claim() {
                        return Poll::Ready(Some(Ok(self.set_up(fd))));
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => {
                    if self.handle.is_shut_down() {
                        return Poll::Ready(None);
                    }
                    // The kernel ended the multishot accept: arm another,
                    // or say why none could be (not once per poll forever).
                    self.stream = self.handle.stream(self.backlog.accept_multi(&self.fd));
                    if let Some(e) = self.stream.failure() {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Poll::Pending => {
                    // A socket kept meanwhile (for an accept given up) is
                    // the stream's to hand out: wake for it.
                    self.backlog.wake_on_keep(cx.waker());
                    return Poll::Pending;
                }
            }
        }
    }

    fn set_up(&self, fd: OwnedFd) -> S {
        let stream = S::accepted(&self.handle, fd);
        stream.set_up(self.keepalive);
        stream
    }

    /// Awaits the next connection.
    #[allow(clippy::should_implement_trait)]
    pub async fn next(&mut self) -> Option<io::Result<S>> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }
}

/// One connection for a listener's `accept`: the oldest of its backlog, or
/// one the kernel accepts now (kept in the backlog should the future be
/// dropped after the kernel accepted it).
pub(crate) async fn accept_one(
    handle: &Handle,
    fd: &SharedFd,
    backlog: &Backlog,
) -> io::Result<OwnedFd> {
    if let Some(fd) = backlog.take_live(handle) {
        return Ok(fd);
    }
    let mut accept = std::pin::pin!(handle.op(backlog.accept(fd)));
    // A socket kept while this accept waits in the kernel (for an accept
    // given up whose completion came late) is this accept's to take: the
    // kernel would give it a later connection instead, or none. Dropped
    // then, the accept is cancelled, and a socket it got kept in turn.
    let accepted = std::future::poll_fn(|cx| {
        if let Poll::Ready(done) = accept.as_mut().poll(cx) {
            return Poll::Ready(Some(done));
        }
        if backlog.has_live(handle) {
            return Poll::Ready(None);
        }
        backlog.wake_on_keep(cx.waker());
        Poll::Pending
    })
    .await;
    let Some((result, unclaimed)) = accepted else {
        return backlog
            .take_live(handle)
            .ok_or_else(|| io::Error::other("a kept socket went missing"));
    };
    result?;
    unclaimed
        .and_then(|unclaimed| unclaimed.claim())
        .ok_or_else(|| io::Error::other("an accept gave no socket"))
}

impl<S: Accepted> fmt::Debug for Incoming<S> {
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
    pub(crate) conn: Conn,
    /// The peer's address, once known.
    peer: Cell<Option<SocketAddr>>,
}

impl TcpStream {
    pub(crate) fn from_owned(handle: &Handle, fd: OwnedFd) -> TcpStream {
        TcpStream {
            conn: Conn::from_owned(handle, fd),
            peer: Cell::new(None),
        }
    }

    /// Sets up a stream a listener accepted: its keep-alive, and its
    /// peer's address, read while the connection is there to ask (both
    /// best effort: a connection reset already has neither).
    fn accepted_with(&self, keepalive: Option<Duration>) {
        if keepalive.is_some() {
            let _ = self.set_keepalive(keepalive);
        }
        let _ = self.peer_addr();
    }

    /// Connects to `addr`.
    pub async fn connect(handle: &Handle, addr: SocketAddr) -> io::Result<TcpStream> {
        let fd = SharedFd::new(socket(&addr, libc::SOCK_STREAM)?);
        let (result, ()) = handle.op(Connect::new(&fd, addr)).await;
        result?;
        // The address the kernel connected to, which the one given may
        // only stand for (an unspecified address reaches the loopback; a
        // scope id or flow label the kernel did not keep): Go's
        // `RemoteAddr` after a dial. The one given, should the peer have
        // reset the connection already.
        let peer = sock_name(fd.as_raw_fd(), true).unwrap_or(addr);
        Ok(TcpStream {
            conn: Conn::new(handle, fd),
            peer: Cell::new(Some(peer)),
        })
    }

    /// A stream over a connected std stream.
    ///
    /// The descriptor is switched to blocking mode (`O_NONBLOCK` cleared,
    /// for its duplicates too, which share the flag): io_uring does the
    /// waiting, and an op the kernel runs in an io-wq worker on a
    /// non-blocking socket would fail with `WouldBlock` instead of waiting.
    pub fn from_std(handle: &Handle, stream: std::net::TcpStream) -> TcpStream {
        set_blocking(stream.as_fd());
        TcpStream::from_owned(handle, stream.into())
    }

    stream_methods!();

    /// Sets `TCP_NODELAY`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        set_option(
            self.conn.fd.owned(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            nodelay as i32,
        )
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        sock_name(self.conn.fd.as_raw_fd(), false)
    }

    /// Sets TCP keep-alive (Go's `SetKeepAlive` and
    /// `SetKeepAlivePeriod`): `Some(idle)` turns it on (`SO_KEEPALIVE`),
    /// with the first probe after `idle` of silence (`TCP_KEEPIDLE`) and
    /// the next ones `idle` apart (`TCP_KEEPINTVL`), in whole seconds, at
    /// least 1; `None` turns it off. Connections a [`TcpListener`] accepts
    /// have it on already ([`DEFAULT_KEEPALIVE`]).
    pub fn set_keepalive(&self, idle: Option<Duration>) -> io::Result<()> {
        let fd = self.conn.fd.owned();
        let Some(idle) = idle else {
            return set_option(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 0);
        };
        let secs = i32::try_from(idle.as_secs())
            .unwrap_or(i32::MAX)
            .clamp(1, 32767);
        set_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs)?;
        set_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, secs)?;
        set_option(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)
    }

    /// Whether TCP keep-alive is on, and after how much silence it probes
    /// (`TCP_KEEPIDLE`).
    pub fn keepalive(&self) -> io::Result<Option<Duration>> {
        let fd = self.conn.fd.owned();
        if get_option(fd.as_fd(), libc::SOL_SOCKET, libc::SO_KEEPALIVE)? == 0 {
            return Ok(None);
        }
        let idle = get_option(fd.as_fd(), libc::IPPROTO_TCP, libc::TCP_KEEPIDLE)?;
        Ok(Some(Duration::from_secs(u64::try_from(idle).unwrap_or(0))))
    }

    /// The peer's address, as the kernel names it (`getpeername(2)`: for a
    /// stream from [`connect`](TcpStream::connect), the address the kernel
    /// connected to, which for `0.0.0.0` is the loopback's), kept once
    /// known, so that it is still there after the peer reset the
    /// connection, as Go's `RemoteAddr`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        if let Some(addr) = self.peer.get() {
            return Ok(addr);
        }
        let addr = sock_name(self.conn.fd.as_raw_fd(), true)?;
        self.peer.set(Some(addr));
        Ok(addr)
    }
}

stream_traits!(TcpStream);

/// The local (or, with `peer`, remote) IP address of a socket.
pub(crate) fn sock_name(fd: RawFd, peer: bool) -> io::Result<SocketAddr> {
    name_of(fd, peer)?
        .socket_addr()
        .ok_or_else(|| io::Error::other("not an IP socket address"))
}
