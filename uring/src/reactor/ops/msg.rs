//! Messages with ancillary data: `sendmsg(2)` and `recvmsg(2)` with
//! control records, for what a plain send or receive cannot say (UDP
//! segmentation offload, the packet's local address, its TTL, receive
//! timestamps, the sender's credentials).

use super::{bytes, filled, is_unix_domain, received_fds, spare_iovec};
use crate::ControlMessages;
use crate::ops as raw;
use crate::reactor::buf::{IoBuf, IoBufMut};
use crate::reactor::fd::SharedFd;
use crate::reactor::op::{Completion, Op};
use crate::types::{SockAddr, SockAddrBuf};
use crate::{ControlMessagesBuf, MsgFlags, MsgHdr, MsgHdrMut};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

/// The most control room a [`RecvMsg`] makes (64 KiB): a larger request
/// is cut to it.
pub const MAX_CONTROL_LEN: usize = 64 * 1024;

/// Sends `buf` with ancillary records, like `sendmsg(2)` (with
/// `MSG_NOSIGNAL`): to the connected peer, or to the address given with
/// [`to`](SendMsg::to). The records are checked when the op is made: only
/// those the kernel reads as plain data go (UDP segmentation with
/// `UDP_SEGMENT`, packet info, TTL and hop limits, TOS, credentials,
/// marks, transmit times; see [`MsgHdr::control`]). Records that pass
/// descriptors have [`SendWithFds`](super::SendWithFds).
/// Completes with the byte count and gives the buffer back. (Linux 5.3.)
///
/// ```
/// use std::net::UdpSocket;
/// use uring::reactor::ops::SendMsg;
/// use uring::reactor::{Reactor, SharedFd};
/// use uring::ControlMessagesBuf;
///
/// # fn main() -> std::io::Result<()> {
/// let reactor = Reactor::new()?;
/// let rx = UdpSocket::bind("127.0.0.1:0")?;
/// let tx = UdpSocket::bind("127.0.0.1:0")?;
/// let fd = SharedFd::new(tx);
/// // Four datagrams of 100 bytes, handed to the kernel as one send.
/// let mut control = ControlMessagesBuf::new();
/// control.push(libc::SOL_UDP, libc::UDP_SEGMENT, &100u16.to_ne_bytes());
/// let op = SendMsg::new(&fd, vec![7u8; 400], control)
///     .map_err(|(e, _)| e)?
///     .to(rx.local_addr()?);
/// let (sent, _buf) = reactor.run_until(reactor.op(op))?;
/// assert_eq!(sent?, 400);
/// let mut datagram = [0u8; 1000];
/// assert_eq!(rx.recv(&mut datagram)?, 100);
/// # Ok(())
/// # }
/// ```
pub struct SendMsg<B> {
    fd: SharedFd,
    buf: B,
    to: Option<SockAddr>,
    control: ControlMessagesBuf,
    iov: [IoSlice<'static>; 1],
    msg: Option<MsgHdr<'static>>,
}

impl<B: IoBuf> SendMsg<B> {
    /// A send of `buf` with the records of `control` on `fd`. Records the
    /// kernel does not read as plain data are an error of kind
    /// [`InvalidInput`](io::ErrorKind::InvalidInput), with the buffer
    /// given back.
    pub fn new(
        fd: &SharedFd,
        buf: B,
        control: ControlMessagesBuf,
    ) -> Result<SendMsg<B>, (io::Error, B)> {
        if let Err(e) = MsgHdr::new(&[]).control(control.as_bytes()) {
            let e = io::Error::new(io::ErrorKind::InvalidInput, e.to_string());
            return Err((e, buf));
        }
        Ok(SendMsg {
            fd: fd.clone(),
            buf,
            to: None,
            control,
            iov: [IoSlice::new(&[])],
            msg: None,
        })
    }

    /// Sends to `addr` rather than to the connected peer.
    pub fn to(self, addr: SocketAddr) -> SendMsg<B> {
        self.to_addr(SockAddr::from(addr))
    }

    /// Sends to an address in the kernel's layout: a Unix-domain one
    /// ([`SockAddr::unix`]) as well as an IP one.
    pub fn to_addr(mut self, addr: SockAddr) -> SendMsg<B> {
        self.to = Some(addr);
        self
    }
}

// SAFETY: the header, the iovec, the address and the records are the op's
// (the records' bytes on the heap of its `ControlMessagesBuf`), unmoved
// and unchanged until the last completion; the iovec points into `buf`,
// which the op owns; every record is one the kernel reads as plain data
// (checked in `new`; the op never changes them); `fd` is kept open.
unsafe impl<B: IoBuf> Op for SendMsg<B> {
    const SELECTS_BUFFER: bool = false;
    type Output = B;
    type Sqe<'a> = raw::SendMsg<'a, 'static, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        // SAFETY: the buffer does not move while the op does not.
        self.iov = [IoSlice::new(unsafe { bytes(&self.buf) })];
        // SAFETY: fields of `self` (and the records' heap bytes), which
        // stay where they are until the op's last completion (the reactor
        // does not move the op); not used through the header after the op
        // moves.
        let (iov, to, control): (
            &'static [IoSlice<'static>],
            Option<&'static SockAddr>,
            &'static [u8],
        ) = unsafe {
            (
                &*(&self.iov[..] as *const _),
                self.to.as_ref().map(|to| &*(to as *const SockAddr)),
                &*(self.control.as_bytes() as *const [u8]),
            )
        };
        let mut msg = MsgHdr::new(iov);
        if let Some(to) = to {
            msg = msg.to(to);
        }
        if !control.is_empty() {
            // SAFETY: every record was checked in `new` to be one the
            // kernel reads as plain data: no descriptor, no address of
            // memory.
            msg = unsafe { msg.control_unchecked(control) };
        }
        let msg = self.msg.insert(msg);
        raw::SendMsg::new(self.fd.owned(), &*msg).msg_flags(MsgFlags::NOSIGNAL)
    }
    fn complete(mut self, _: Completion) -> B {
        self.msg = None;
        self.buf
    }
}

impl<B> std::fmt::Debug for SendMsg<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendMsg")
            .field("fd", &self.fd)
            .field("to", &self.to)
            .field("control", &self.control)
            .finish_non_exhaustive()
    }
}

/// Receives one message into `buf` with its ancillary records, like
/// `recvmsg(2)` (with `MSG_CMSG_CLOEXEC`): completes with the byte count
/// and gives back the buffer, its first bytes filled, and a
/// [`ReceivedMsg`]: the sender's address, the records the kernel wrote
/// into the op's own room of `control_len` bytes (rounded up to whole
/// 8-byte words; at most [`MAX_CONTROL_LEN`]), and the message's flags.
/// Records that do not fit are dropped and the message flagged
/// ([`is_control_truncated`](ReceivedMsg::is_control_truncated)).
/// Descriptors a Unix-domain message passes come out owned
/// ([`take_fds`](ReceivedMsg::take_fds)), never leaked. (Linux 5.3.)
pub struct RecvMsg<B> {
    fd: SharedFd,
    buf: B,
    from: SockAddrBuf,
    control: Box<[u64]>,
    iov: [IoSliceMut<'static>; 1],
    msg: Option<MsgHdrMut<'static>>,
    /// Whether `fd` is a Unix-domain socket, where the caller knows;
    /// otherwise asked of the socket when a receive names no sender.
    unix_domain: Option<bool>,
}

impl<B: IoBufMut> RecvMsg<B> {
    /// A receive from `fd` into `buf`, with `control_len` bytes of room
    /// for records.
    pub fn new(fd: &SharedFd, buf: B, control_len: usize) -> RecvMsg<B> {
        let words = control_len.min(MAX_CONTROL_LEN).div_ceil(8);
        RecvMsg {
            fd: fd.clone(),
            buf,
            from: SockAddrBuf::new(),
            control: vec![0u64; words].into_boxed_slice(),
            iov: [IoSliceMut::new(&mut [])],
            msg: None,
            unix_domain: None,
        }
    }

    /// The same receive on a socket whose domain the caller knows, so that
    /// a message without a sender's address costs no question to the
    /// socket.
    pub(crate) fn on_domain(mut self, unix_domain: bool) -> RecvMsg<B> {
        self.unix_domain = Some(unix_domain);
        self
    }
}

// SAFETY: the header, the iovec, the address room and the control room are
// fields of the op, unmoved until the last completion, which only the
// kernel writes while it runs; the iovec covers `buf`'s writable bytes,
// which the op owns; `fd` is kept open.
unsafe impl<B: IoBufMut> Op for RecvMsg<B> {
    const SELECTS_BUFFER: bool = false;
    type Output = (B, ReceivedMsg);
    type Sqe<'a> = raw::RecvMsg<'a, 'static, crate::Fd<'a>>;
    fn sqe(&mut self) -> Self::Sqe<'_> {
        // SAFETY: the buffer's writable bytes, stable while the op does not
        // move; the iovec goes to the kernel alone.
        self.iov = [unsafe { spare_iovec(&mut self.buf) }];
        let room = self.control.len() * 8;
        type Rooms = (
            &'static mut [IoSliceMut<'static>],
            &'static mut SockAddrBuf,
            &'static mut [u8],
        );
        // SAFETY: fields of `self`, unmoved until the last completion, and
        // not used through the header after the op moves; the control room
        // is plain bytes the kernel may overwrite.
        let (iov, from, control): Rooms = unsafe {
            (
                &mut *(&mut self.iov[..] as *mut _),
                &mut *(&mut self.from as *mut _),
                std::slice::from_raw_parts_mut(self.control.as_mut_ptr().cast::<u8>(), room),
            )
        };
        let mut msg = MsgHdrMut::new(iov).from(from);
        if room > 0 {
            msg = msg.control(control);
        }
        let msg = self.msg.insert(msg);
        raw::RecvMsg::new(self.fd.owned(), msg).msg_flags(MsgFlags::CMSG_CLOEXEC)
    }
    fn complete(mut self, completion: Completion) -> (B, ReceivedMsg) {
        filled(&mut self.buf, completion.res);
        let room = self.control.len() * 8;
        let (name_len, control_len, flags) = match self.msg.take() {
            Some(msg) if completion.res >= 0 => {
                (msg.name_len(), msg.control_len().min(room), msg.flags())
            }
            _ => (0, 0, 0),
        };
        self.from.set_len(name_len);
        // SAFETY: the room is the op's, 8-aligned, and `control_len` of its
        // bytes are what the kernel wrote for this completion (all of them
        // initialised: the room was zeroed).
        let control =
            unsafe { std::slice::from_raw_parts(self.control.as_ptr().cast::<u8>(), control_len) };
        let fds = received_fds(control);
        // No address at all is an unbound sender's on a Unix-domain
        // socket, and nothing on any other.
        let unnamed_sender = completion.res >= 0
            && name_len == 0
            && self.unix_domain.unwrap_or_else(|| is_unix_domain(&self.fd));
        let received = ReceivedMsg {
            from: self.from,
            unnamed_sender,
            control: self.control,
            control_len,
            flags,
            fds,
        };
        (self.buf, received)
    }
}

impl<B> std::fmt::Debug for RecvMsg<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvMsg")
            .field("fd", &self.fd)
            .field("room", &(self.control.len() * 8))
            .finish_non_exhaustive()
    }
}

/// What a [`RecvMsg`] learnt besides its bytes: the sender's address, the
/// ancillary records, and the message's flags. After a failed receive it
/// is empty: no address, no record, no flag.
pub struct ReceivedMsg {
    from: SockAddrBuf,
    /// The kernel wrote no address, on a Unix-domain socket.
    unnamed_sender: bool,
    control: Box<[u64]>,
    control_len: usize,
    flags: i32,
    fds: Vec<OwnedFd>,
}

impl ReceivedMsg {
    /// The sender's IP address; `None` for a connected stream, another
    /// family, or a failed receive.
    pub fn from(&self) -> Option<SocketAddr> {
        self.from.socket_addr()
    }

    /// The sender's Unix-domain address (an unbound sender's is unnamed);
    /// `None` for other families and a failed receive.
    pub fn from_unix(&self) -> Option<std::os::unix::net::SocketAddr> {
        if self.from.len() == 0 && !self.unnamed_sender {
            return None;
        }
        self.from.unix_addr()
    }

    /// The ancillary records, as the kernel wrote them.
    pub fn control(&self) -> &[u8] {
        // SAFETY: `control_len` bytes of the zeroed room, at most its
        // length; nothing writes them now.
        unsafe { std::slice::from_raw_parts(self.control.as_ptr().cast::<u8>(), self.control_len) }
    }

    /// The ancillary records, walked: see [`ControlMessage`](crate::ControlMessage)'s
    /// readers (`ip_pktinfo`, `ip_ttl`, `timestamp`, `credentials`, ...).
    pub fn control_messages(&self) -> ControlMessages<'_> {
        ControlMessages::new(self.control())
    }

    /// The `MSG_*` flags the kernel set on the message.
    pub fn flags(&self) -> i32 {
        self.flags
    }

    /// Whether the datagram was longer than the buffer and was cut to it
    /// (`MSG_TRUNC`): the rest is lost.
    pub fn is_truncated(&self) -> bool {
        self.flags & libc::MSG_TRUNC != 0
    }

    /// Whether some records did not fit the room and were dropped
    /// (`MSG_CTRUNC`); descriptors among them were closed by the kernel.
    pub fn is_control_truncated(&self) -> bool {
        self.flags & libc::MSG_CTRUNC != 0
    }

    /// The descriptors the message passed (`SCM_RIGHTS`), owned; left
    /// empty. Those not taken are closed with the `ReceivedMsg`.
    pub fn take_fds(&mut self) -> Vec<OwnedFd> {
        std::mem::take(&mut self.fds)
    }
}

impl std::fmt::Debug for ReceivedMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivedMsg")
            .field("from", &self.from)
            .field("control", &self.control_messages())
            .field("flags", &self.flags)
            .field("fds", &self.fds)
            .finish()
    }
}
