//! UDP over the reactor.

use crate::ControlMessagesBuf;
use crate::net::{bind, connect_now, run, set_blocking, socket};
use crate::reactor::ops::{ReceivedMsg, Recv, RecvFrom, RecvRing, Send, SendTo};
use crate::reactor::{BufGroup, Handle, IoBuf, IoBufMut, RingBuf, SharedFd};
use crate::types::SockAddr;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Instant;

/// A UDP socket whose sends and receives go through the reactor.
pub struct UdpSocket {
    handle: Handle,
    fd: SharedFd,
    read_deadline: Option<Instant>,
    write_deadline: Option<Instant>,
}

impl UdpSocket {
    /// A socket bound to `addr`.
    pub fn bind(handle: &Handle, addr: SocketAddr) -> io::Result<UdpSocket> {
        let fd = socket(&addr, libc::SOCK_DGRAM)?;
        bind(&fd, &SockAddr::from(addr))?;
        Ok(UdpSocket {
            handle: handle.clone(),
            fd: SharedFd::new(fd),
            read_deadline: None,
            write_deadline: None,
        })
    }

    /// A socket over a std socket.
    ///
    /// The descriptor is switched to blocking mode (`O_NONBLOCK` cleared,
    /// for its duplicates too, which share the flag): io_uring does the
    /// waiting, and an op the kernel runs in an io-wq worker on a
    /// non-blocking socket would fail with `WouldBlock` instead of waiting.
    pub fn from_std(handle: &Handle, socket: std::net::UdpSocket) -> UdpSocket {
        set_blocking(socket.as_fd());
        UdpSocket {
            handle: handle.clone(),
            fd: SharedFd::new(socket),
            read_deadline: None,
            write_deadline: None,
        }
    }

    /// Sets the peer that [`send`](UdpSocket::send) sends to and
    /// [`recv`](UdpSocket::recv) receives from.
    pub fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        connect_now(&self.fd, &SockAddr::from(addr))
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

    /// Sends `buf` to the connected peer.
    pub async fn send<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        let (r, buf) = run(&self.handle, Send::new(&self.fd, buf), self.write_deadline).await;
        (r.map(|n| n as usize), buf)
    }

    /// Receives one datagram into `buf`, as `recv(2)`: from the connected
    /// peer once [`connect`](Self::connect)ed, from anyone before. A
    /// datagram longer than `buf` is cut to it, the rest lost, and the
    /// count says nothing of the cut (it is `buf`'s room): give a buffer as
    /// long as the longest datagram (65 507 bytes for any UDP one).
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        let (r, buf) = run(&self.handle, Recv::new(&self.fd, buf), self.read_deadline).await;
        (r.map(|n| n as usize), buf)
    }

    /// Sends `buf` to `addr`.
    pub async fn send_to<B: IoBuf>(&self, buf: B, addr: SocketAddr) -> (io::Result<usize>, B) {
        let op = SendTo::new(&self.fd, buf, addr);
        let (r, buf) = run(&self.handle, op, self.write_deadline).await;
        (r.map(|n| n as usize), buf)
    }

    /// Receives one datagram into `buf`, with its sender's address; a
    /// longer datagram is cut as [`recv`](Self::recv) says.
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> (io::Result<(usize, SocketAddr)>, B) {
        let op = RecvFrom::new(&self.fd, buf);
        let (r, (buf, from)) = run(&self.handle, op, self.read_deadline).await;
        let r = r.and_then(|n| {
            let from = from.ok_or_else(|| io::Error::other("a datagram without an address"))?;
            Ok((n as usize, from))
        });
        (r, buf)
    }

    /// Sends `buf` with the ancillary records of `control`, to `to` or,
    /// with `None`, to the connected peer
    /// ([`SendMsg`](crate::reactor::ops::SendMsg)): UDP segmentation
    /// (`UDP_SEGMENT`: the kernel cuts `buf` into datagrams of the given
    /// size), the source address (`IP_PKTINFO`), the TTL, the TOS. Records
    /// the kernel does not read as plain data are an error of kind
    /// [`InvalidInput`](io::ErrorKind::InvalidInput).
    pub async fn send_msg<B: IoBuf>(
        &self,
        buf: B,
        to: Option<SocketAddr>,
        control: ControlMessagesBuf,
    ) -> (io::Result<usize>, B) {
        let to = to.map(SockAddr::from);
        let (r, buf) = crate::net::send_msg(
            &self.handle,
            &self.fd,
            buf,
            to,
            control,
            self.write_deadline,
        )
        .await;
        (r.map(|n| n as usize), buf)
    }

    /// Receives one datagram into `buf` with its ancillary records, in a
    /// room of `control_len` bytes ([`RecvMsg`](crate::reactor::ops::RecvMsg)): the records the socket's
    /// options ask for (`IP_PKTINFO`, `IP_RECVTTL`, `SO_TIMESTAMPNS`,
    /// `UDP_GRO`, ...), its sender's address, and whether it was cut
    /// ([`ReceivedMsg::is_truncated`]), which [`recv`](Self::recv) cannot
    /// tell.
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
            false,
            self.read_deadline,
        )
        .await
    }

    /// Receives one datagram into a buffer of the reactor's ring `group`,
    /// with no copy: from the connected peer once connected, from anyone
    /// before; a datagram longer than the ring's buffers is cut as
    /// [`recv`](Self::recv) says. An empty datagram takes no buffer and is
    /// reported as an error of kind [`io::ErrorKind::UnexpectedEof`].
    pub async fn recv_ring(&self, group: BufGroup) -> io::Result<RingBuf> {
        let (r, buf) = run(
            &self.handle,
            RecvRing::new(&self.fd, group),
            self.read_deadline,
        )
        .await;
        r?;
        // An empty datagram takes no buffer.
        buf.ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        crate::net::tcp::sock_name(self.fd.as_raw_fd(), false)
    }

    /// The address the socket is connected to ([`connect`](Self::connect));
    /// `ENOTCONN` before.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        crate::net::tcp::sock_name(self.fd.as_raw_fd(), true)
    }

    /// The shared descriptor, for ops queued by hand (a zero-copy send
    /// `SendZc`, a vectored `SendV`, a multishot `RecvMulti`), which the
    /// socket's deadlines do not reach.
    pub fn shared_fd(&self) -> &SharedFd {
        &self.fd
    }

    /// The reactor the socket is on.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("fd", &self.fd)
            .finish_non_exhaustive()
    }
}
