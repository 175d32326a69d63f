//! Unix-domain sequenced-packet sockets (`SOCK_SEQPACKET`): connections
//! whose messages keep their boundaries, as datagrams do, delivered in
//! order and reliably, as a stream's bytes are.

use crate::ControlMessagesBuf;
use crate::net::tcp::{Accepted, Incoming, accept_one, sealed};
use crate::net::unix::{UnixDatagram, UnixListener, unix_pair};
use crate::reactor::ops::{Connect, ReceivedMsg};
use crate::reactor::{BufGroup, Handle, IoBuf, IoBufMut, RingBuf, SharedFd};
use crate::types::SockAddr;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

/// A Unix-domain listener of sequenced-packet connections
/// ([`UnixSeqpacket`]), whose accepts go through the reactor; as
/// [`UnixListener`] does for streams (a connection the kernel accepted for
/// an accept given up is kept for the next accept).
pub struct UnixSeqpacketListener {
    listener: UnixListener,
}

impl UnixSeqpacketListener {
    /// Binds a listener to the file system path `path` (which must not
    /// exist yet), with a backlog of 4096.
    pub fn bind(handle: &Handle, path: impl AsRef<Path>) -> io::Result<UnixSeqpacketListener> {
        UnixSeqpacketListener::bind_addr(handle, &SockAddr::unix(path)?)
    }

    /// Binds a listener to `addr`: a path or an abstract name (see
    /// [`UnixListener::bind_addr`]).
    pub fn bind_addr(handle: &Handle, addr: &SockAddr) -> io::Result<UnixSeqpacketListener> {
        Ok(UnixSeqpacketListener {
            listener: UnixListener::bind_kind(handle, addr, libc::SOCK_SEQPACKET)?,
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts one connection (cancel-safe, as
    /// [`TcpListener::accept`](crate::net::TcpListener::accept)).
    pub async fn accept(&self) -> io::Result<UnixSeqpacket> {
        let (handle, fd, backlog) = self.listener.parts();
        let fd = accept_one(handle, fd, backlog).await?;
        Ok(UnixSeqpacket::accepted(handle, fd))
    }

    /// The connections as they come, from one multishot accept (armed
    /// again should the kernel end it).
    pub fn incoming(&self) -> Incoming<UnixSeqpacket> {
        let (handle, fd, backlog) = self.listener.parts();
        Incoming::new(handle, fd, backlog)
    }

    /// The reactor the listener is on.
    pub fn handle(&self) -> &Handle {
        self.listener.handle()
    }

    /// The shared descriptor, for ops queued by hand.
    pub fn shared_fd(&self) -> &SharedFd {
        self.listener.shared_fd()
    }
}

impl AsFd for UnixSeqpacketListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }
}

impl fmt::Debug for UnixSeqpacketListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixSeqpacketListener")
            .field("fd", self.shared_fd())
            .finish_non_exhaustive()
    }
}

/// A Unix-domain sequenced-packet connection whose sends and receives go
/// through the reactor: each [`send`](Self::send) is one message, and each
/// [`recv`](Self::recv) takes one whole message (the rest of one longer
/// than the buffer is lost, which [`recv_msg`](Self::recv_msg) tells).
/// After the peer closed or shut down its writing half, a receive
/// completes with 0 bytes; so does one of an empty message.
pub struct UnixSeqpacket {
    socket: UnixDatagram,
}

impl sealed::Sealed for UnixSeqpacket {}

impl Accepted for UnixSeqpacket {
    fn accepted(handle: &Handle, fd: OwnedFd) -> UnixSeqpacket {
        UnixSeqpacket {
            socket: UnixDatagram::over(handle, fd),
        }
    }
}

impl UnixSeqpacket {
    /// Connects to the listener bound to the file system path `path`.
    pub async fn connect(handle: &Handle, path: impl AsRef<Path>) -> io::Result<UnixSeqpacket> {
        UnixSeqpacket::connect_addr(handle, SockAddr::unix(path)?).await
    }

    /// Connects to `addr`: a path or an abstract name (see
    /// [`UnixListener::bind_addr`]).
    pub async fn connect_addr(handle: &Handle, addr: SockAddr) -> io::Result<UnixSeqpacket> {
        let fd = crate::net::socket_of(libc::AF_UNIX, libc::SOCK_SEQPACKET)?;
        let socket = UnixDatagram::over(handle, fd);
        let (result, ()) = handle
            .op(Connect::with_addr(socket.shared_fd(), addr))
            .await;
        result?;
        Ok(UnixSeqpacket { socket })
    }

    /// A connected pair on `handle`'s reactor (`socketpair(2)`).
    pub fn pair(handle: &Handle) -> io::Result<(UnixSeqpacket, UnixSeqpacket)> {
        let (a, b) = unix_pair(libc::SOCK_SEQPACKET)?;
        Ok((
            UnixSeqpacket::accepted(handle, a),
            UnixSeqpacket::accepted(handle, b),
        ))
    }

    /// Sets both deadlines, as [`TcpStream::set_deadline`](crate::net::TcpStream::set_deadline).
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.socket.set_deadline(deadline);
    }

    /// Sets the deadline of receives.
    pub fn set_read_deadline(&mut self, deadline: Option<Instant>) {
        self.socket.set_read_deadline(deadline);
    }

    /// Sets the deadline of sends.
    pub fn set_write_deadline(&mut self, deadline: Option<Instant>) {
        self.socket.set_write_deadline(deadline);
    }

    /// Sends `buf` as one message. A send that waited for room may report
    /// `WriteZero`, as [`UnixDatagram::send`] says (the kernel sends
    /// sequenced packets through the same path).
    pub async fn send<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        self.socket.send(buf).await
    }

    /// Sends `buf` as one message with the ancillary records of `control`,
    /// as [`UnixDatagram::send_msg`] does to its peer (credentials; a
    /// record the kernel does not read as plain data is refused).
    pub async fn send_msg<B: IoBuf>(
        &self,
        buf: B,
        control: ControlMessagesBuf,
    ) -> (io::Result<usize>, B) {
        self.socket.send_msg(buf, None, control).await
    }

    /// Receives one message into `buf` (the rest of a longer one is lost);
    /// 0 bytes after the peer's end, or for an empty message.
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        self.socket.recv(buf).await
    }

    /// Receives one message into `buf` with its ancillary records, as
    /// [`UnixDatagram::recv_msg`] does: credentials, descriptors (owned),
    /// and whether the message was cut ([`ReceivedMsg::is_truncated`]).
    pub async fn recv_msg<B: IoBufMut>(
        &self,
        buf: B,
        control_len: usize,
    ) -> (io::Result<(usize, ReceivedMsg)>, B) {
        self.socket.recv_msg(buf, control_len).await
    }

    /// Receives one message into a buffer of the reactor's buffer ring
    /// `group`, with no copy; `None` for an empty message or the peer's
    /// end (which take no buffer).
    pub async fn recv_ring(&self, group: BufGroup) -> io::Result<Option<RingBuf>> {
        self.socket.recv_ring(group).await
    }

    /// Shuts down the reading half, the writing half (the peer's receives
    /// then complete with 0 bytes) or both.
    pub async fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        crate::net::shutdown(self.socket.handle(), self.socket.shared_fd(), how).await
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.socket.peer_addr()
    }

    /// The credentials of the peer's process (`SO_PEERCRED`), as they were
    /// when it connected (or when the pair was made).
    pub fn peer_cred(&self) -> io::Result<libc::ucred> {
        crate::net::peer_cred(self.socket.as_fd())
    }

    /// The shared descriptor, for ops queued by hand
    /// ([`SendWithFds`](crate::reactor::ops::SendWithFds) passes
    /// descriptors).
    pub fn shared_fd(&self) -> &SharedFd {
        self.socket.shared_fd()
    }

    /// The reactor the socket is on.
    pub fn handle(&self) -> &Handle {
        self.socket.handle()
    }
}

impl AsFd for UnixSeqpacket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl fmt::Debug for UnixSeqpacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixSeqpacket")
            .field("fd", self.shared_fd())
            .finish_non_exhaustive()
    }
}
