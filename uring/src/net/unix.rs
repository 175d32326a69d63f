//! Unix-domain sockets over the reactor: streams that also pass
//! descriptors, and datagrams.

use crate::ControlMessagesBuf;
use crate::net::backlog::Backlog;
use crate::net::conn::{Conn, stream_methods, stream_traits};
use crate::net::tcp::{Accepted, Incoming, accept_one, sealed};
use crate::net::{bind, connect_now, cvt, run, set_blocking, socket_of};
use crate::reactor::ops::{
    Connect, ReceivedMsg, Recv, RecvFrom, RecvRing, RecvWithFds, Send, SendTo, SendWithFds,
};
use crate::reactor::{BufGroup, Handle, IoBuf, IoBufMut, RingBuf, SharedFd};
use crate::types::SockAddr;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

/// A connected pair of close-on-exec Unix-domain sockets of `kind`.
pub(crate) fn unix_pair(kind: libc::c_int) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: socketpair(2) writes two descriptors into `fds`, alive for the
    // call; the result is checked.
    cvt(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            kind | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: two new descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The local (or, with `peer`, remote) Unix-domain address of a socket,
/// read by std's sockets, which read every address the kernel reports (a
/// path that fills `sun_path` too).
fn unix_name(fd: RawFd, peer: bool) -> io::Result<SocketAddr> {
    // SAFETY: `fd` is an open socket that the caller holds for the call;
    // the std socket over it is never dropped, so it never closes it.
    let socket =
        std::mem::ManuallyDrop::new(unsafe { std::os::unix::net::UnixDatagram::from_raw_fd(fd) });
    if peer {
        socket.peer_addr()
    } else {
        socket.local_addr()
    }
}

/// A Unix-domain listening socket whose accepts go through the reactor.
///
/// As with [`TcpListener`](crate::net::TcpListener), a connection the
/// kernel accepted for an accept given up (a dropped future or stream) is
/// kept for the next accept.
pub struct UnixListener {
    handle: Handle,
    fd: SharedFd,
    backlog: Backlog,
}

impl UnixListener {
    /// Binds a listener to the file system path `path` (which must not
    /// exist yet), with a backlog of 4096.
    pub fn bind(handle: &Handle, path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::bind_addr(handle, &SockAddr::unix(path)?)
    }

    /// Binds a listener to `addr`: a path ([`SockAddr::unix`]) or an
    /// abstract name (`SockAddr::from(&std::os::unix::net::SocketAddr)`,
    /// with one made by `SocketAddrExt::from_abstract_name`).
    pub fn bind_addr(handle: &Handle, addr: &SockAddr) -> io::Result<UnixListener> {
        UnixListener::bind_kind(handle, addr, libc::SOCK_STREAM)
    }

    /// A listener of sockets of `kind` (`SOCK_STREAM`, `SOCK_SEQPACKET`)
    /// bound to `addr`.
    pub(crate) fn bind_kind(
        handle: &Handle,
        addr: &SockAddr,
        kind: libc::c_int,
    ) -> io::Result<UnixListener> {
        let fd = socket_of(libc::AF_UNIX, kind)?;
        bind(&fd, addr)?;
        // SAFETY: listen(2) on a socket we own.
        cvt(unsafe { libc::listen(fd.as_raw_fd(), 4096) })?;
        Ok(UnixListener {
            handle: handle.clone(),
            fd: SharedFd::new(fd),
            backlog: Backlog::default(),
        })
    }

    /// A listener over a std listener.
    ///
    /// The descriptor is switched to blocking mode (`O_NONBLOCK` cleared,
    /// for its duplicates too, which share the flag): io_uring does the
    /// waiting, and an op the kernel runs in an io-wq worker on a
    /// non-blocking socket would fail with `WouldBlock` instead of waiting.
    pub fn from_std(handle: &Handle, listener: std::os::unix::net::UnixListener) -> UnixListener {
        set_blocking(listener.as_fd());
        UnixListener {
            handle: handle.clone(),
            fd: SharedFd::new(listener),
            backlog: Backlog::default(),
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        unix_name(self.fd.as_raw_fd(), false)
    }

    /// Accepts one connection (cancel-safe, as
    /// [`TcpListener::accept`](crate::net::TcpListener::accept)).
    pub async fn accept(&self) -> io::Result<UnixStream> {
        let fd = accept_one(&self.handle, &self.fd, &self.backlog).await?;
        Ok(UnixStream::accepted(&self.handle, fd))
    }

    /// The connections as they come, from one multishot accept (armed
    /// again should the kernel end it).
    pub fn incoming(&self) -> Incoming<UnixStream> {
        Incoming::new(&self.handle, &self.fd, &self.backlog)
    }

    /// The reactor the listener is on.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The shared descriptor, for ops of [`reactor::ops`](crate::reactor::ops)
    /// queued by hand.
    pub fn shared_fd(&self) -> &SharedFd {
        &self.fd
    }

    /// What an accept needs: the reactor, the socket, the kept connections.
    pub(crate) fn parts(&self) -> (&Handle, &SharedFd, &Backlog) {
        (&self.handle, &self.fd, &self.backlog)
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("fd", &self.fd)
            .finish_non_exhaustive()
    }
}

/// A Unix-domain stream connection whose reads and writes go through the
/// reactor: what [`TcpStream`](crate::net::TcpStream) does, and the
/// passing of descriptors ([`send_with_fds`](UnixStream::send_with_fds),
/// [`recv_with_fds`](UnixStream::recv_with_fds)).
pub struct UnixStream {
    pub(crate) conn: Conn,
}

impl sealed::Sealed for UnixStream {}

impl Accepted for UnixStream {
    fn accepted(handle: &Handle, fd: OwnedFd) -> UnixStream {
        UnixStream {
            conn: Conn::from_owned(handle, fd),
        }
    }
}

impl UnixStream {
    /// Connects to the socket bound to the file system path `path`.
    pub async fn connect(handle: &Handle, path: impl AsRef<Path>) -> io::Result<UnixStream> {
        UnixStream::connect_addr(handle, SockAddr::unix(path)?).await
    }

    /// Connects to `addr`: a path or an abstract name (see
    /// [`UnixListener::bind_addr`]).
    pub async fn connect_addr(handle: &Handle, addr: SockAddr) -> io::Result<UnixStream> {
        let fd = SharedFd::new(socket_of(libc::AF_UNIX, libc::SOCK_STREAM)?);
        let (result, ()) = handle.op(Connect::with_addr(&fd, addr)).await;
        result?;
        Ok(UnixStream {
            conn: Conn::new(handle, fd),
        })
    }

    /// A connected pair of streams on `handle`'s reactor (`socketpair(2)`).
    pub fn pair(handle: &Handle) -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = unix_pair(libc::SOCK_STREAM)?;
        Ok((
            UnixStream::accepted(handle, a),
            UnixStream::accepted(handle, b),
        ))
    }

    /// A stream over a connected std stream.
    ///
    /// The descriptor is switched to blocking mode (`O_NONBLOCK` cleared,
    /// for its duplicates too, which share the flag): io_uring does the
    /// waiting, and an op the kernel runs in an io-wq worker on a
    /// non-blocking socket would fail with `WouldBlock` instead of waiting.
    pub fn from_std(handle: &Handle, stream: std::os::unix::net::UnixStream) -> UnixStream {
        set_blocking(stream.as_fd());
        UnixStream::accepted(handle, stream.into())
    }

    stream_methods!();

    /// Sends `buf` with the descriptors `fds` (`SCM_RIGHTS`); gives back
    /// the byte count, the buffer and the descriptors (the peer holds its
    /// own copies once the send succeeded). Refused as
    /// [`write`](Self::write) is.
    pub async fn send_with_fds<B: IoBuf>(
        &self,
        buf: B,
        fds: Vec<OwnedFd>,
    ) -> (io::Result<usize>, B, Vec<OwnedFd>) {
        if let Err(e) = self.conn.may_send() {
            return (Err(e), buf, fds);
        }
        let op = SendWithFds::new(&self.conn.fd, buf, fds);
        let (result, (buf, fds)) = run(&self.conn.handle, op, self.conn.write_deadline).await;
        (result.map(|n| n as usize), buf, fds)
    }

    /// Receives into `buf` with up to `max_fds` descriptors sent along;
    /// gives back the byte count, the buffer and the descriptors received,
    /// each owned (and close-on-exec). Refused as
    /// [`recv_ring`](Self::recv_ring) is while `AsyncRead` holds bytes it
    /// received ahead or has a receive in flight.
    pub async fn recv_with_fds<B: IoBufMut>(
        &self,
        buf: B,
        max_fds: usize,
    ) -> (io::Result<usize>, B, Vec<OwnedFd>) {
        if let Err(e) = self.conn.may_receive() {
            return (Err(e), buf, Vec::new());
        }
        let op = RecvWithFds::new(&self.conn.fd, buf, max_fds);
        let (result, (buf, fds)) = run(&self.conn.handle, op, self.conn.read_deadline).await;
        (result.map(|n| n as usize), buf, fds)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        unix_name(self.conn.fd.as_raw_fd(), false)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        unix_name(self.conn.fd.as_raw_fd(), true)
    }

    /// The credentials of the peer's process (`SO_PEERCRED`): its pid, user
    /// and group, as they were when it connected (or, for a
    /// [`pair`](Self::pair), when the pair was made).
    pub fn peer_cred(&self) -> io::Result<libc::ucred> {
        crate::net::peer_cred(self.conn.fd.as_fd())
    }
}

stream_traits!(UnixStream);

/// A Unix-domain datagram socket whose sends and receives go through the
/// reactor.
pub struct UnixDatagram {
    handle: Handle,
    fd: SharedFd,
    read_deadline: Option<Instant>,
    write_deadline: Option<Instant>,
}

impl UnixDatagram {
    pub(crate) fn over(handle: &Handle, fd: OwnedFd) -> UnixDatagram {
        UnixDatagram {
            handle: handle.clone(),
            fd: SharedFd::new(fd),
            read_deadline: None,
            write_deadline: None,
        }
    }

    /// A socket bound to the file system path `path`.
    pub fn bind(handle: &Handle, path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_addr(handle, &SockAddr::unix(path)?)
    }

    /// A socket bound to `addr`: a path or an abstract name (see
    /// [`UnixListener::bind_addr`]).
    pub fn bind_addr(handle: &Handle, addr: &SockAddr) -> io::Result<UnixDatagram> {
        let fd = socket_of(libc::AF_UNIX, libc::SOCK_DGRAM)?;
        bind(&fd, addr)?;
        Ok(UnixDatagram::over(handle, fd))
    }

    /// A socket bound to no address: it can send, and receive what is sent
    /// back to it once it is connected.
    pub fn unbound(handle: &Handle) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram::over(
            handle,
            socket_of(libc::AF_UNIX, libc::SOCK_DGRAM)?,
        ))
    }

    /// A connected pair of datagram sockets (`socketpair(2)`).
    pub fn pair(handle: &Handle) -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = unix_pair(libc::SOCK_DGRAM)?;
        Ok((UnixDatagram::over(handle, a), UnixDatagram::over(handle, b)))
    }

    /// A socket over a std socket.
    ///
    /// The descriptor is switched to blocking mode (`O_NONBLOCK` cleared,
    /// for its duplicates too, which share the flag): io_uring does the
    /// waiting, and an op the kernel runs in an io-wq worker on a
    /// non-blocking socket would fail with `WouldBlock` instead of waiting.
    pub fn from_std(handle: &Handle, socket: std::os::unix::net::UnixDatagram) -> UnixDatagram {
        set_blocking(socket.as_fd());
        UnixDatagram::over(handle, socket.into())
    }

    /// Sets the peer that [`send`](UnixDatagram::send) sends to and
    /// [`recv`](UnixDatagram::recv) receives from: the socket bound to the
    /// path `path`.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.connect_addr(&SockAddr::unix(path)?)
    }

    /// [`connect`](UnixDatagram::connect) to a path or an abstract name.
    pub fn connect_addr(&self, addr: &SockAddr) -> io::Result<()> {
        connect_now(&self.fd, addr)
    }

    /// Sets both deadlines, as [`TcpStream::set_deadline`](crate::net::TcpStream::set_deadline).
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.read_deadline = deadline;
        self.write_deadline = deadline;
    }

    /// Sets the deadline of receives.
    pub fn set_read_deadline(&mut self, deadline: Option<Instant>) {
        self.read_deadline = deadline;
    }

    /// Sets the deadline of sends.
    pub fn set_write_deadline(&mut self, deadline: Option<Instant>) {
        self.write_deadline = deadline;
    }

    /// Sends `buf` to the connected peer as one datagram.
    ///
    /// A send that had to wait for room in the receiver's queue may have
    /// sent an empty datagram instead (Linux 6.18: `unix_dgram_sendmsg`
    /// takes the bytes out of the message before it finds the queue full,
    /// and io_uring sends the message again once there is room, with
    /// nothing left in it): that is a `WriteZero` error, not a count of 0.
    pub async fn send<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        let len = buf.bytes_init();
        let (result, buf) = run(&self.handle, Send::new(&self.fd, buf), self.write_deadline).await;
        (datagram_sent(result, len), buf)
    }

    /// Sends `buf` as one datagram to the socket bound to the path `path`.
    pub async fn send_to<B: IoBuf>(
        &self,
        buf: B,
        path: impl AsRef<Path>,
    ) -> (io::Result<usize>, B) {
        match SockAddr::unix(path) {
            Ok(addr) => self.send_to_addr(buf, addr).await,
            Err(e) => (Err(e), buf),
        }
    }

    /// [`send_to`](UnixDatagram::send_to) a path or an abstract name. A
    /// send that waited for room may report `WriteZero`, as
    /// [`send`](UnixDatagram::send) says.
    pub async fn send_to_addr<B: IoBuf>(&self, buf: B, addr: SockAddr) -> (io::Result<usize>, B) {
        let len = buf.bytes_init();
        let op = SendTo::with_addr(&self.fd, buf, addr);
        let (result, buf) = run(&self.handle, op, self.write_deadline).await;
        (datagram_sent(result, len), buf)
    }

    /// Sends `buf` as one datagram with the ancillary records of
    /// `control`, to `to` (a path or an abstract name) or, with `None`, to
    /// the connected peer ([`SendMsg`](crate::reactor::ops::SendMsg)): the
    /// sender's credentials (`SCM_CREDENTIALS`, which the kernel checks
    /// against the process's own ids). A record the kernel does not read as plain data is an
    /// error of kind [`InvalidInput`](io::ErrorKind::InvalidInput), with
    /// nothing sent: descriptors go by the op [`SendWithFds`] instead. A
    /// send that waited for room may report `WriteZero`, as
    /// [`send`](UnixDatagram::send) says.
    pub async fn send_msg<B: IoBuf>(
        &self,
        buf: B,
        to: Option<SockAddr>,
        control: ControlMessagesBuf,
    ) -> (io::Result<usize>, B) {
        let len = buf.bytes_init();
        let (result, buf) = crate::net::send_msg(
            &self.handle,
            &self.fd,
            buf,
            to,
            control,
            self.write_deadline,
        )
        .await;
        (datagram_sent(result, len), buf)
    }

    /// Receives one datagram from the connected peer into `buf` (the rest
    /// of a longer one is lost).
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        let (result, buf) = run(&self.handle, Recv::new(&self.fd, buf), self.read_deadline).await;
        (result.map(|n| n as usize), buf)
    }

    /// Receives one datagram into `buf`, with its sender's address (unnamed
    /// for an unbound sender; `None` for one bound to a path that fills
    /// `sun_path`, 108 bytes with no NUL, which std has no constructor for).
    pub async fn recv_from<B: IoBufMut>(
        &self,
        buf: B,
    ) -> (io::Result<usize>, B, Option<SocketAddr>) {
        let op = RecvFrom::unix(&self.fd, buf);
        let (result, (buf, from)) = run(&self.handle, op, self.read_deadline).await;
        (result.map(|n| n as usize), buf, from)
    }

    /// Receives one datagram into `buf` with its ancillary records, in a
    /// room of `control_len` bytes ([`RecvMsg`](crate::reactor::ops::RecvMsg)): the sender's
    /// credentials with `SO_PASSCRED` set, the descriptors it passed (each
    /// owned: [`ReceivedMsg::take_fds`]), its address
    /// ([`ReceivedMsg::from_unix`]), and whether it was cut
    /// ([`ReceivedMsg::is_truncated`]).
    pub async fn recv_msg<B: IoBufMut>(
        &self,
        buf: B,
        control_len: usize,
    ) -> (io::Result<(usize, ReceivedMsg)>, B) {
        crate::net::recv_msg(
            &self.handle,
            &self.fd,
            buf,
            control_len,
            true,
            self.read_deadline,
        )
        .await
    }

    /// Receives one datagram into a buffer of the reactor's buffer ring
    /// `group`, with no copy; `None` for an empty datagram (which takes no
    /// buffer).
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

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        unix_name(self.fd.as_raw_fd(), false)
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        unix_name(self.fd.as_raw_fd(), true)
    }

    /// The shared descriptor, for ops queued by hand.
    pub fn shared_fd(&self) -> &SharedFd {
        &self.fd
    }

    /// The reactor the socket is on.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.fd)
            .finish_non_exhaustive()
    }
}

/// A datagram send's result: a count of 0 for `len` bytes is the empty
/// datagram of a send the kernel issued again with its message consumed
/// (see [`UnixDatagram::send`]), which lost the bytes.
fn datagram_sent(result: io::Result<u32>, len: usize) -> io::Result<usize> {
    match result {
        Ok(0) if len > 0 => Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "the kernel sent an empty datagram: the send waited for room, and its bytes were \
             consumed by its first attempt",
        )),
        result => result.map(|n| n as usize),
    }
}
