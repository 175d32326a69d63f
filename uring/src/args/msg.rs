//! Message headers of `SendMsg` and `RecvMsg` (`struct msghdr`).

use super::cmsg::ControlMessages;
use crate::error::{Error, Result};
use crate::op::SqeField;
use crate::types::{SockAddr, SockAddrBuf};
use std::fmt;
use std::io::{IoSlice, IoSliceMut};
use std::marker::PhantomData;
use std::mem;

/// A message for `SendMsg`: the buffers to send, and optionally a
/// destination address and ancillary data.
pub struct MsgHdr<'a> {
    raw: libc::msghdr,
    _parts: PhantomData<(&'a [IoSlice<'a>], &'a SockAddr, &'a [u8])>,
}

impl<'a> MsgHdr<'a> {
    /// A message of `buffers`.
    pub fn new(buffers: &'a [IoSlice<'a>]) -> MsgHdr<'a> {
        // SAFETY: all-zero bytes are a valid, empty `msghdr`.
        let mut raw: libc::msghdr = unsafe { mem::zeroed() };
        raw.msg_iov = buffers.as_ptr() as *mut libc::iovec;
        raw.msg_iovlen = buffers.len() as _;
        MsgHdr {
            raw,
            _parts: PhantomData,
        }
    }

    /// Sends to `addr` (an unconnected datagram socket).
    pub fn to(mut self, addr: &'a SockAddr) -> MsgHdr<'a> {
        self.raw.msg_name = addr.as_ptr() as *mut libc::c_void;
        self.raw.msg_namelen = addr.len();
        self
    }

    /// Sends `control` as ancillary data (`cmsg` records), if every record
    /// is one the kernel reads as plain data: credentials
    /// (`SCM_CREDENTIALS`), a mark, priority, transmit time or timestamping
    /// request (`SO_MARK`, `SO_PRIORITY`, `SCM_TXTIME`, `SO_TIMESTAMPING`),
    /// IPv4 and IPv6 packet info, hop limits, TOS and traffic class, IP
    /// options, `IPV6_DONTFRAG`, and UDP segmentation (`UDP_SEGMENT`).
    ///
    /// Any other record needs
    /// [`control_unchecked`](MsgHdr::control_unchecked): one that passes
    /// descriptors (`SCM_RIGHTS`) names whatever files hold its numbers when
    /// the kernel reads the message, and some protocols' records carry
    /// addresses the kernel reads or writes through after the op has
    /// completed (RDS's RDMA records), or reinterpret the message's buffers
    /// (`SCM_DEVMEM_DMABUF`).
    pub fn control(self, control: &'a [u8]) -> Result<MsgHdr<'a>> {
        if let Some((level, kind)) = first_unplain_record(control) {
            return Err(Error::InvalidArgument(format!(
                "ancillary record of level {level} and type {kind} is not one the kernel \
                 reads as plain data (descriptors passed with SCM_RIGHTS, or a protocol's \
                 own record): it needs `MsgHdr::control_unchecked`"
            )));
        }
        // SAFETY: every record of `control` is read as plain data (checked
        // just above, the way the kernel walks the records), and the bytes
        // cannot change while borrowed.
        Ok(unsafe { self.control_unchecked(control) })
    }

    /// Sends `control` as ancillary data, as it is.
    ///
    /// # Safety
    ///
    /// Every descriptor an `SCM_RIGHTS` record of `control` names must be
    /// open, and name the file the caller means, until the op completes;
    /// every address another record carries must stay valid for as long
    /// as the kernel uses it (which, for RDS's RDMA records, is after the
    /// op has completed).
    pub unsafe fn control_unchecked(mut self, control: &'a [u8]) -> MsgHdr<'a> {
        self.raw.msg_control = control.as_ptr() as *mut libc::c_void;
        self.raw.msg_controllen = control.len() as _;
        self
    }
}

/// The `(level, type)` of the first record of `control`, walked as the
/// kernel walks `cmsg` records (`for_each_cmsghdr`), that the kernel does not
/// read as plain data; `None` if there is none. A record the kernel would
/// refuse as malformed (`CMSG_OK` fails: the whole message fails with
/// `EINVAL`) ends the walk.
fn first_unplain_record(control: &[u8]) -> Option<(i32, i32)> {
    cmsg_records(control)
        .map(|(level, kind, _)| (level, kind))
        .find(|&(level, kind)| !is_plain_record(level, kind))
}

/// The ancillary records of `control` as `(level, type, data)`, walked as
/// the kernel walks them (`for_each_cmsghdr`): each header read unaligned,
/// the next one at the length rounded up to the word size; a record whose
/// length is shorter than its header or runs past the bytes ends the walk.
pub(crate) fn cmsg_records(control: &[u8]) -> impl Iterator<Item = (i32, i32, &[u8])> + '_ {
    ControlMessages::new(control).map(|m| (m.level(), m.kind(), m.data()))
}

/// Whether the kernel reads a sent record of `level` and `kind` as plain
/// data: numbers and addresses of the network, not of memory, and no
/// descriptor.
fn is_plain_record(level: i32, kind: i32) -> bool {
    match level {
        libc::SOL_SOCKET => matches!(
            kind,
            libc::SCM_CREDENTIALS
                | libc::SO_MARK
                | libc::SO_PRIORITY
                | libc::SCM_TXTIME
                | libc::SO_TIMESTAMPING
        ),
        libc::SOL_IP => matches!(
            kind,
            libc::IP_PKTINFO | libc::IP_TTL | libc::IP_TOS | libc::IP_RETOPTS
        ),
        libc::SOL_IPV6 => matches!(
            kind,
            libc::IPV6_PKTINFO | libc::IPV6_HOPLIMIT | libc::IPV6_TCLASS | libc::IPV6_DONTFRAG
        ),
        libc::SOL_UDP => kind == libc::UDP_SEGMENT,
        _ => false,
    }
}

impl fmt::Debug for MsgHdr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgHdr")
            .field("buffers", &self.raw.msg_iovlen)
            .field("namelen", &self.raw.msg_namelen)
            .field("controllen", &self.raw.msg_controllen)
            .finish()
    }
}

// SAFETY: the address of a header borrowed for the op's lifetime; the
// buffers, address and control data it points to are borrowed as long.
unsafe impl SqeField<u64> for &MsgHdr<'_> {
    #[inline(always)]
    fn into_field(self) -> u64 {
        &self.raw as *const libc::msghdr as u64
    }
}

/// A message for `RecvMsg`: the buffers to receive into, and optionally room
/// for the sender's address and ancillary data. The kernel writes the
/// lengths and flags back; read them after the completion.
///
/// For [`RecvMsgSelect`](crate::ops::RecvMsgSelect), whose payload goes to
/// a provided buffer, give no buffer (`MsgHdrMut::new(&mut [])`), or one
/// whose length caps the payload and whose bytes stay untouched.
// `repr(C)`: the header the kernel reads is the first field, at the
// value's own address.
#[repr(C)]
pub struct MsgHdrMut<'a> {
    raw: libc::msghdr,
    /// The control room lent (`control`), kept apart from `raw`, whose
    /// length the kernel rewrites.
    control: *mut u8,
    control_room: usize,
    /// The room of the address lent (`from`), kept apart from `raw` for
    /// the same reason: the kernel reads `msg_namelen` and
    /// `msg_controllen` as the rooms of its next receive into the header,
    /// so both are set again from these at each push.
    name_room: libc::socklen_t,
    _parts: PhantomData<(&'a mut [IoSliceMut<'a>], &'a mut SockAddrBuf, &'a mut [u8])>,
}

impl<'a> MsgHdrMut<'a> {
    /// A message received into `buffers`.
    pub fn new(buffers: &'a mut [IoSliceMut<'a>]) -> MsgHdrMut<'a> {
        // SAFETY: all-zero bytes are a valid, empty `msghdr`.
        let mut raw: libc::msghdr = unsafe { mem::zeroed() };
        raw.msg_iov = buffers.as_mut_ptr() as *mut libc::iovec;
        raw.msg_iovlen = buffers.len() as _;
        MsgHdrMut {
            raw,
            control: std::ptr::null_mut(),
            control_room: 0,
            name_room: 0,
            _parts: PhantomData,
        }
    }

    /// Receives the sender's address into `from` (emptied first, so that
    /// [`SockAddrBuf::socket_addr`] is `None` when the message came without
    /// an address).
    pub fn from(mut self, from: &'a mut SockAddrBuf) -> MsgHdrMut<'a> {
        let (storage, len) = from.as_out_ptrs();
        self.raw.msg_name = storage.cast();
        // SAFETY: `len` points to the buffer's length word, just reset.
        self.name_room = unsafe { *len };
        self.raw.msg_namelen = self.name_room;
        self
    }

    /// Receives ancillary data into `control`. (Descriptors received with
    /// `SCM_RIGHTS` are new descriptors of this process, owned by whoever
    /// reads them out of `control`.)
    pub fn control(mut self, control: &'a mut [u8]) -> MsgHdrMut<'a> {
        self.control = control.as_mut_ptr();
        self.control_room = control.len();
        self.raw.msg_control = self.control.cast();
        self.raw.msg_controllen = control.len() as _;
        self
    }

    /// The ancillary records the kernel wrote into the control room: the
    /// first [`control_len`](Self::control_len) bytes of it, once the
    /// receive has completed (before, the whole room, as it was lent); no
    /// records without a control room.
    ///
    /// Descriptors of `SCM_RIGHTS` records are the receiver's to close (see
    /// [`ControlMessage::fds`](crate::ControlMessage::fds)); a receive with
    /// `MSG_CMSG_CLOEXEC` among its flags opens them close-on-exec.
    ///
    /// ```
    /// use std::io::IoSliceMut;
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixDatagram;
    /// use uring::{MsgHdrMut, Ring, ops::RecvMsg};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, rx) = UnixDatagram::pair()?;
    /// let on: libc::c_int = 1;
    /// // SAFETY: `on` is an int, the option's value.
    /// let rc = unsafe {
    ///     libc::setsockopt(rx.as_raw_fd(), libc::SOL_SOCKET, libc::SO_PASSCRED,
    ///         (&raw const on).cast(), std::mem::size_of_val(&on) as u32)
    /// };
    /// assert_eq!(rc, 0);
    /// tx.send(b"hi")?;
    /// let mut ring = Ring::new(4)?;
    /// let (mut data, mut control) = ([0u8; 8], [0u8; 64]);
    /// let mut iov = [IoSliceMut::new(&mut data)];
    /// let mut msg = MsgHdrMut::new(&mut iov).control(&mut control);
    /// let res = ring.scope(|s| -> uring::Result<Option<i32>> {
    ///     s.push(RecvMsg::new(&rx, &mut msg))?;
    ///     s.submit_and_wait(1)?;
    ///     Ok(s.completions().next().map(|c| c.res()))
    /// })?;
    /// assert_eq!(res, Some(2));
    /// let creds: Vec<libc::ucred> =
    ///     msg.control_messages().filter_map(|m| m.credentials()).collect();
    /// // SAFETY: getpid has no preconditions.
    /// assert_eq!(creds[0].pid, unsafe { libc::getpid() });
    /// # Ok(())
    /// # }
    /// ```
    pub fn control_messages(&self) -> ControlMessages<'_> {
        let len = self.control_len().min(self.control_room);
        if self.control.is_null() || len == 0 {
            return ControlMessages::new(&[]);
        }
        // SAFETY: `control` and `control_room` are the slice lent to
        // `control` for `'a`, exclusively (`len` is at most its length),
        // initialized bytes; `&self` keeps any op from holding the header
        // mutably, so the kernel is not writing them (an op pushed with
        // `push_unchecked` is not touched while in flight, by its contract).
        let bytes = unsafe { std::slice::from_raw_parts(self.control, len) };
        ControlMessages::new(bytes)
    }

    /// The length of the sender's address the kernel wrote.
    pub fn name_len(&self) -> u32 {
        self.raw.msg_namelen
    }

    /// The length of the ancillary data the kernel wrote.
    // `msg_controllen` is a `size_t` on glibc and a `socklen_t` on musl.
    #[allow(clippy::unnecessary_cast)]
    pub fn control_len(&self) -> usize {
        self.raw.msg_controllen as usize
    }

    /// The `MSG_*` flags the kernel set (`MSG_TRUNC`, `MSG_CTRUNC`, ...).
    pub fn flags(&self) -> i32 {
        self.raw.msg_flags
    }
}

impl fmt::Debug for MsgHdrMut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgHdrMut")
            .field("buffers", &self.raw.msg_iovlen)
            .field("namelen", &self.raw.msg_namelen)
            .field("controllen", &self.raw.msg_controllen)
            .field("flags", &self.raw.msg_flags)
            .finish()
    }
}

// SAFETY: the address of a header borrowed exclusively for the op's lifetime
// (the kernel writes its lengths and flags); what it points to is borrowed
// as long, and the lengths it reads as rooms are set again to what was lent.
unsafe impl SqeField<u64> for &mut MsgHdrMut<'_> {
    #[inline(always)]
    fn into_field(self) -> u64 {
        // A header received into before holds the lengths the kernel wrote
        // then, which it would take as the rooms of this receive: an
        // address cut to the last sender's length, descriptors closed for
        // want of a control room that is there.
        self.raw.msg_namelen = self.name_room;
        self.raw.msg_controllen = self.control_room as _;
        self.raw.msg_flags = 0;
        &mut self.raw as *mut libc::msghdr as u64
    }
}

/// The room a multishot `RecvMsgMulti` reserves in each provided buffer for
/// the sender's address and the ancillary data, ahead of the payload: a
/// message header whose lengths alone the kernel reads.
pub struct MsgLayout {
    raw: libc::msghdr,
}

impl MsgLayout {
    /// Room for an address of `name_len` bytes (0 for none; a
    /// `sockaddr_storage` holds any) and `control_len` bytes of ancillary
    /// data.
    pub fn new(name_len: u32, control_len: usize) -> MsgLayout {
        // SAFETY: all-zero bytes are a valid, empty `msghdr`.
        let mut raw: libc::msghdr = unsafe { mem::zeroed() };
        raw.msg_namelen = name_len;
        raw.msg_controllen = control_len as _;
        MsgLayout { raw }
    }

    /// The room for the address.
    pub fn name_len(&self) -> u32 {
        self.raw.msg_namelen
    }

    /// The room for the ancillary data.
    // `msg_controllen` is a `size_t` on glibc and a `socklen_t` on musl.
    #[allow(clippy::unnecessary_cast)]
    pub fn control_len(&self) -> usize {
        self.raw.msg_controllen as usize
    }
}

impl fmt::Debug for MsgLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgLayout")
            .field("name_len", &self.name_len())
            .field("control_len", &self.control_len())
            .finish()
    }
}

// SAFETY: the address of a header borrowed for the op's lifetime, whose
// pointers are all null: a multishot receive reads its lengths and writes
// everything it receives into the provided buffer.
unsafe impl SqeField<u64> for &MsgLayout {
    #[inline(always)]
    fn into_field(self) -> u64 {
        &self.raw as *const libc::msghdr as u64
    }
}

/// One message of a multishot `RecvMsgMulti`, parsed from the provided
/// buffer its completion names: the `io_uring_recvmsg_out` header, then the
/// sender's address, the ancillary data and the payload.
#[derive(Clone, Copy, Debug)]
pub struct RecvMsgOut<'b> {
    header: crate::sys::io_uring_recvmsg_out,
    name: &'b [u8],
    control: &'b [u8],
    payload: &'b [u8],
}

impl<'b> RecvMsgOut<'b> {
    /// Parses `buf`, the bytes the completion says the kernel used (its
    /// result), laid out as `layout` reserved; `None` if `buf` is shorter
    /// than the header and the reserved room.
    pub fn parse(buf: &'b [u8], layout: &MsgLayout) -> Option<RecvMsgOut<'b>> {
        let head = mem::size_of::<crate::sys::io_uring_recvmsg_out>();
        let name_room = layout.name_len() as usize;
        let control_room = layout.control_len();
        let payload_at = head.checked_add(name_room)?.checked_add(control_room)?;
        if buf.len() < payload_at {
            return None;
        }
        let word = |i: usize| {
            let at = i * 4;
            u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
        };
        let header = crate::sys::io_uring_recvmsg_out {
            namelen: word(0),
            controllen: word(1),
            payloadlen: word(2),
            flags: word(3),
        };
        let name_len = (header.namelen as usize).min(name_room);
        let control_len = (header.controllen as usize).min(control_room);
        let payload = &buf[payload_at..];
        let payload_len = (header.payloadlen as usize).min(payload.len());
        Some(RecvMsgOut {
            header,
            name: &buf[head..head + name_len],
            control: &buf[head + name_room..head + name_room + control_len],
            payload: &payload[..payload_len],
        })
    }

    /// The sender's address as the kernel wrote it (up to the room
    /// reserved).
    pub fn name(&self) -> &'b [u8] {
        self.name
    }

    /// The sender's address, if it is IPv4 or IPv6 and fit.
    pub fn socket_addr(&self) -> Option<std::net::SocketAddr> {
        let mut storage = SockAddrBuf::new();
        storage.fill_from(self.name);
        storage.socket_addr()
    }

    /// The ancillary data (up to the room reserved).
    pub fn control(&self) -> &'b [u8] {
        self.control
    }

    /// The ancillary records of [`control`](Self::control), walked
    /// (`io_uring_recvmsg_cmsg_firsthdr` and `_nexthdr`): a record cut by the
    /// end of the room reserved ends the walk, one the kernel cut short
    /// (`MSG_CTRUNC` in [`flags`](Self::flags)) comes as the kernel wrote
    /// it.
    ///
    /// Descriptors of `SCM_RIGHTS` records are the receiver's to close (see
    /// [`ControlMessage::fds`](crate::ControlMessage::fds)).
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixDatagram;
    /// use uring::{BufferGroup, MsgLayout, RecvMsgOut, Ring, ops::RecvMsgMulti};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let ring = Ring::new(4)?;
    /// # if !ring.probe()?.supports::<RecvMsgMulti<'_>>() { return Ok(()); }
    /// # drop(ring);
    /// let (tx, rx) = UnixDatagram::pair()?;
    /// let on: libc::c_int = 1;
    /// // SAFETY: `on` is an int, the option's value.
    /// let rc = unsafe {
    ///     libc::setsockopt(rx.as_raw_fd(), libc::SOL_SOCKET, libc::SO_PASSCRED,
    ///         (&raw const on).cast(), std::mem::size_of_val(&on) as u32)
    /// };
    /// assert_eq!(rc, 0);
    /// tx.send(b"hi")?;
    /// let mut ring = Ring::new(4)?;
    /// let pool = ring.register_buf_ring(BufferGroup::new(1), 4, 256)?;
    /// let layout = MsgLayout::new(0, 64);
    /// let pids = ring.scope(|s| -> uring::Result<Vec<libc::pid_t>> {
    ///     s.push(RecvMsgMulti::new(&rx, &layout, pool.group()))?;
    ///     s.submit_and_wait(1)?;
    ///     let mut cqe = s.completions().next().expect("a completion");
    ///     let buf = pool.claim(&mut cqe)?;
    ///     let msg = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
    ///     assert_eq!(msg.payload(), b"hi");
    ///     Ok(msg.control_messages().filter_map(|m| m.credentials()).map(|c| c.pid).collect())
    /// })?;
    /// // SAFETY: getpid has no preconditions.
    /// assert_eq!(pids, [unsafe { libc::getpid() }]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn control_messages(&self) -> ControlMessages<'b> {
        ControlMessages::new(self.control)
    }

    /// The payload (the part that fit in the buffer).
    pub fn payload(&self) -> &'b [u8] {
        self.payload
    }

    /// The address's real length, as the header says: more than
    /// [`name`](Self::name) holds if it was truncated (the bytes there are
    /// `name().len()`). 0 when the layout left no room for an address
    /// (`MsgLayout::new(0, ..)`), whoever sent the message: the kernel then
    /// does not look at it.
    pub fn name_len(&self) -> u32 {
        self.header.namelen
    }

    /// The ancillary data's real length.
    pub fn control_len(&self) -> u32 {
        self.header.controllen
    }

    /// The payload's length as the socket's receive returned it. For a
    /// datagram received with `MSG_TRUNC` among the op's flags, that is the
    /// datagram's real length, more than [`payload`](Self::payload) holds
    /// if it was cut; without that flag, a cut datagram reports only the
    /// bytes placed, and `MSG_TRUNC` in [`flags`](Self::flags) says it was
    /// cut. It is the header's word as written, never checked against the
    /// buffer: the bytes present are `payload().len()`.
    pub fn payload_len(&self) -> u32 {
        self.header.payloadlen
    }

    /// The message's `MSG_*` flags.
    pub fn flags(&self) -> u32 {
        self.header.flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(level: i32, kind: i32, data: &[u8]) -> Vec<u8> {
        let header = mem::size_of::<libc::cmsghdr>();
        let len = header + data.len();
        let mut bytes = vec![0u8; len.next_multiple_of(mem::size_of::<usize>())];
        // SAFETY: all-zero bytes are a valid `cmsghdr`.
        let mut cmsg: libc::cmsghdr = unsafe { mem::zeroed() };
        cmsg.cmsg_len = len as _;
        cmsg.cmsg_level = level;
        cmsg.cmsg_type = kind;
        // SAFETY: `bytes` holds at least a header.
        unsafe {
            bytes
                .as_mut_ptr()
                .cast::<libc::cmsghdr>()
                .write_unaligned(cmsg)
        };
        bytes[header..len].copy_from_slice(data);
        bytes
    }

    #[test]
    fn a_multishot_message_parses_into_its_parts() {
        let layout = MsgLayout::new(8, 4);
        let mut buf = Vec::new();
        for word in [6u32, 3, 5, 0] {
            buf.extend_from_slice(&word.to_ne_bytes());
        }
        buf.extend_from_slice(b"abcdefXX");
        buf.extend_from_slice(b"xyzY");
        buf.extend_from_slice(b"hello");
        let out = RecvMsgOut::parse(&buf, &layout).unwrap();
        assert_eq!(out.name(), b"abcdef");
        assert_eq!(out.control(), b"xyz");
        assert_eq!(out.payload(), b"hello");
        assert_eq!(
            (out.name_len(), out.control_len(), out.payload_len()),
            (6, 3, 5)
        );
        assert!(RecvMsgOut::parse(&buf[..20], &layout).is_none());
        // A payload the buffer cut short is reported as such.
        let out = RecvMsgOut::parse(&buf[..30], &layout).unwrap();
        assert_eq!((out.payload(), out.payload_len()), (&b"he"[..], 5));
    }

    #[test]
    fn records_other_than_plain_data_are_found_in_any_position() {
        let creds = record(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &[0; 12]);
        let rights = record(libc::SOL_SOCKET, libc::SCM_RIGHTS, &0i32.to_ne_bytes());
        let pktinfo = record(libc::SOL_IP, libc::IP_PKTINFO, &[0; 12]);
        let segment = record(libc::SOL_UDP, libc::UDP_SEGMENT, &1400u16.to_ne_bytes());
        // RDS_CMSG_RDMA_ARGS (1) at SOL_RDS (276): it carries addresses.
        let rdma = record(276, 1, &[0; 48]);
        assert_eq!(first_unplain_record(&creds), None);
        assert_eq!(
            first_unplain_record(&rights),
            Some((libc::SOL_SOCKET, libc::SCM_RIGHTS))
        );
        let plain = [creds.clone(), pktinfo, segment].concat();
        assert_eq!(first_unplain_record(&plain), None);
        let both = [creds.clone(), rights].concat();
        assert_eq!(
            first_unplain_record(&both),
            Some((libc::SOL_SOCKET, libc::SCM_RIGHTS))
        );
        assert_eq!(
            first_unplain_record(&[plain.clone(), rdma].concat()),
            Some((276, 1))
        );
        assert_eq!(first_unplain_record(&[]), None);
        assert_eq!(first_unplain_record(&creds[..4]), None);
        let iov = [IoSlice::new(b"x")];
        assert!(MsgHdr::new(&iov).control(&both).is_err());
        assert!(MsgHdr::new(&iov).control(&plain).is_ok());
    }
}
