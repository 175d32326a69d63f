//! What the typed driver commands (`URING_CMD`) act on: sockets and block
//! devices, by type, so that a command number reaches only the driver that
//! gives it that meaning.

use crate::error::{Error, Result};
use crate::op::SqeField;
use crate::sys;
use std::fmt;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// A type whose descriptor is a socket: the socket commands
/// (`SocketInq`, `GetSockOpt`, ...) take only these, since the same command
/// number means something else to another driver.
///
/// # Safety
///
/// `as_fd` must return a socket's descriptor.
pub unsafe trait AsSocket: AsFd {}

// SAFETY: each of these owns a socket.
unsafe impl AsSocket for std::net::TcpStream {}
// SAFETY: as above.
unsafe impl AsSocket for std::net::TcpListener {}
// SAFETY: as above.
unsafe impl AsSocket for std::net::UdpSocket {}
// SAFETY: as above.
unsafe impl AsSocket for std::os::unix::net::UnixStream {}
// SAFETY: as above.
unsafe impl AsSocket for std::os::unix::net::UnixListener {}
// SAFETY: as above.
unsafe impl AsSocket for std::os::unix::net::UnixDatagram {}

/// A socket's descriptor, borrowed for `'a`: the target of the socket
/// commands.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SocketFd<'a> {
    fd: i32,
    _socket: PhantomData<BorrowedFd<'a>>,
}

impl<'a, S: AsSocket + ?Sized> From<&'a S> for SocketFd<'a> {
    /// `socket`'s descriptor, checked to be a socket's (`fstat(2)` says
    /// `S_IFSOCK`): std's socket types are made from any `OwnedFd`, and a
    /// socket command's number means something else to another driver. A
    /// file that is not a socket gives -1, on which the command fails with
    /// `EBADF` before any driver sees it.
    fn from(socket: &'a S) -> SocketFd<'a> {
        let fd = socket.as_fd().as_raw_fd();
        SocketFd {
            fd: if is_socket(fd) { fd } else { -1 },
            _socket: PhantomData,
        }
    }
}

/// Whether the open descriptor `fd` is a socket's.
fn is_socket(fd: i32) -> bool {
    file_type(fd).is_ok_and(|kind| kind == libc::S_IFSOCK)
}

/// The type bits (`S_IFMT`) of the open descriptor `fd`'s file, as
/// `fstat(2)` says.
fn file_type(fd: i32) -> std::io::Result<libc::mode_t> {
    // SAFETY: all-zero bytes are a valid `stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is borrowed and open; `st` is writable.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(st.st_mode & libc::S_IFMT)
}

impl fmt::Debug for SocketFd<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SocketFd").field(&self.fd).finish()
    }
}

// SAFETY: a socket descriptor borrowed for the op's lifetime: no address.
unsafe impl SqeField<i32> for SocketFd<'_> {
    #[inline(always)]
    fn into_field(self) -> i32 {
        self.fd
    }
}

/// A block device's descriptor, borrowed for `'a` and checked to be one
/// when made: the target of the block commands (`BlockDiscard`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BlockDevice<'a> {
    fd: i32,
    _device: PhantomData<BorrowedFd<'a>>,
}

impl<'a> BlockDevice<'a> {
    /// `file`, if it is a block device (`fstat(2)` says `S_IFBLK`).
    pub fn new(file: &'a impl AsFd) -> Result<BlockDevice<'a>> {
        let fd = file.as_fd().as_raw_fd();
        let kind = file_type(fd).map_err(|e| Error::os("fstat", e))?;
        if kind != libc::S_IFBLK {
            return Err(Error::InvalidArgument(
                "a block command takes a block device".into(),
            ));
        }
        Ok(BlockDevice {
            fd,
            _device: PhantomData,
        })
    }
}

impl fmt::Debug for BlockDevice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BlockDevice").field(&self.fd).finish()
    }
}

// SAFETY: a block device's descriptor borrowed for the op's lifetime.
unsafe impl SqeField<i32> for BlockDevice<'_> {
    #[inline(always)]
    fn into_field(self) -> i32 {
        self.fd
    }
}

/// The command of a `UringCmd`: a number the target file's driver
/// interprets as it likes, including as the address of memory to read or
/// write; so a raw one is made unsafely. (The typed commands, `SocketInq`,
/// `BlockDiscard`, ..., need none.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UringCmdOp(u32);

impl UringCmdOp {
    /// The command `op` of the target's driver.
    ///
    /// # Safety
    ///
    /// For the file the op targets, `op` (with the SQE's other fields, zero
    /// but for the target) must make the driver touch only memory and files
    /// the op's borrows cover, or that the caller keeps valid as for
    /// [`Ring::push_unchecked`](crate::Ring::push_unchecked).
    pub const unsafe fn new(op: u32) -> UringCmdOp {
        UringCmdOp(op)
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

// SAFETY: the constructor's caller vouched for what the driver does with it.
unsafe impl SqeField<u32> for UringCmdOp {
    #[inline(always)]
    fn into_field(self) -> u32 {
        self.0
    }
}

/// The 80-byte command area of a [`UringCmd80`](crate::ops::UringCmd80),
/// which the target's driver reads (and may take addresses from) as its
/// `cmd_op` says; so it is made unsafely, from raw bytes or from a typed
/// command such as [`NvmeCmd`]. Neither is `Clone`: one command per
/// buffer lent.
pub struct Cmd80<'a> {
    bytes: [u8; 80],
    _borrows: PhantomData<&'a mut [u8]>,
}

impl<'a> Cmd80<'a> {
    /// The command area `bytes`.
    ///
    /// # Safety
    ///
    /// With the op's `cmd_op` and target, the driver must touch only memory
    /// that stays valid, and unused in conflict with it, for `'a` (as for
    /// [`Ring::push_unchecked`](crate::Ring::push_unchecked)).
    pub const unsafe fn from_bytes(bytes: [u8; 80]) -> Cmd80<'a> {
        Cmd80 {
            bytes,
            _borrows: PhantomData,
        }
    }

    /// The bytes.
    pub const fn bytes(&self) -> &[u8; 80] {
        &self.bytes
    }
}

impl fmt::Debug for Cmd80<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Cmd80").field(&&self.bytes[..]).finish()
    }
}

// SAFETY: the bytes land in the command area of a 128-byte SQE; what they
// name was vouched for when they were made, and is borrowed for `'a`.
unsafe impl SqeField<[u8; 80]> for Cmd80<'_> {
    #[inline(always)]
    fn into_field(self) -> [u8; 80] {
        self.bytes
    }
}

/// The 16-byte command area of a [`UringCmd16`](crate::ops::UringCmd16):
/// the bytes from offset 48 of an ordinary 64-byte SQE (`sqe->cmd`, which
/// `addr3` and `__pad2` overlay), where a driver command that fits them
/// goes (ublk's `struct ublksrv_io_cmd`, for one). The target's driver
/// reads them (and may take addresses from them) as its `cmd_op` says; so
/// they are made unsafely. Not `Clone`: one command per buffer lent.
pub struct Cmd16<'a> {
    bytes: [u8; 16],
    _borrows: PhantomData<&'a mut [u8]>,
}

impl<'a> Cmd16<'a> {
    /// The command area `bytes`.
    ///
    /// # Safety
    ///
    /// With the op's `cmd_op` and target, the driver must touch only memory
    /// that stays valid, and unused in conflict with it, for `'a` (as for
    /// [`Ring::push_unchecked`](crate::Ring::push_unchecked)).
    pub const unsafe fn from_bytes(bytes: [u8; 16]) -> Cmd16<'a> {
        Cmd16 {
            bytes,
            _borrows: PhantomData,
        }
    }

    /// The bytes.
    pub const fn bytes(&self) -> &[u8; 16] {
        &self.bytes
    }
}

impl fmt::Debug for Cmd16<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Cmd16").field(&&self.bytes[..]).finish()
    }
}

// SAFETY: the bytes land in the command area of a 64-byte SQE (and the
// first 16 of a 128-byte one's, the rest zero); what they name was vouched
// for when they were made, and is borrowed for `'a`.
unsafe impl SqeField<[u8; 16]> for Cmd16<'_> {
    #[inline(always)]
    fn into_field(self) -> [u8; 16] {
        self.bytes
    }
}

/// An NVMe passthrough command (`struct nvme_uring_cmd` of
/// `linux/nvme_ioctl.h`) for a [`UringCmd80`](crate::ops::UringCmd80) to an
/// NVMe generic character device (`/dev/ngXnY`), whose data buffer it
/// borrows.
///
/// Made unsafely: the driver maps `data` for the device, but what the
/// device transfers is what the command says (its opcode, block count and
/// command dwords), which nothing checks against the buffer; a command
/// that moves more than `data` holds has the device write past it.
///
/// The CQE of the command is 32 bytes on a ring of [`Cqe32`](crate::Cqe32)
/// CQEs, its extra words the command's result dword.
pub struct NvmeCmd<'a> {
    raw: sys::nvme_uring_cmd,
    _data: PhantomData<&'a mut [u8]>,
}

impl<'a> NvmeCmd<'a> {
    /// The `cmd_op` of I/O commands (`NVME_URING_CMD_IO`).
    pub const IO: UringCmdOp = UringCmdOp(sys::NVME_URING_CMD_IO);
    /// The `cmd_op` of admin commands (`NVME_URING_CMD_ADMIN`).
    pub const ADMIN: UringCmdOp = UringCmdOp(sys::NVME_URING_CMD_ADMIN);

    /// Command `opcode` on namespace `nsid`, moving `data` (the device
    /// reads it or fills it, as the opcode says), with command dwords 10 to
    /// 15 (`cdw10_15`). A buffer over 4 GiB is refused by the device as too
    /// long: its length is clamped.
    ///
    /// # Safety
    ///
    /// On the device the op targets, the command must read or write no
    /// memory but the first `data.len()` bytes of `data`, and take no
    /// address from its dwords.
    pub unsafe fn new(
        opcode: u8,
        nsid: u32,
        data: &'a mut [u8],
        cdw10_15: [u32; 6],
    ) -> NvmeCmd<'a> {
        let [cdw10, cdw11, cdw12, cdw13, cdw14, cdw15] = cdw10_15;
        NvmeCmd {
            raw: sys::nvme_uring_cmd {
                opcode,
                nsid,
                addr: data.as_mut_ptr() as u64,
                data_len: u32::try_from(data.len()).unwrap_or(u32::MAX),
                cdw10,
                cdw11,
                cdw12,
                cdw13,
                cdw14,
                cdw15,
                ..Default::default()
            },
            _data: PhantomData,
        }
    }

    /// A read of `nlb + 1` logical blocks from `slba` into `data` (NVM
    /// command set opcode 0x02).
    ///
    /// # Safety
    ///
    /// `nlb + 1` blocks of the namespace's logical block size must fit in
    /// `data`.
    pub unsafe fn read(nsid: u32, slba: u64, nlb: u16, data: &'a mut [u8]) -> NvmeCmd<'a> {
        // SAFETY: a read moves `nlb + 1` blocks into `data`, which hold
        // them (the caller's contract).
        unsafe { NvmeCmd::new(0x02, nsid, data, lba_dwords(slba, nlb)) }
    }

    /// A write of `nlb + 1` logical blocks at `slba` from `data` (opcode
    /// 0x01). (`data` is borrowed mutably all the same: the command's
    /// direction is the device's to follow.)
    ///
    /// # Safety
    ///
    /// As for [`read`](Self::read).
    pub unsafe fn write(nsid: u32, slba: u64, nlb: u16, data: &'a mut [u8]) -> NvmeCmd<'a> {
        // SAFETY: as in `read`, from `data`.
        unsafe { NvmeCmd::new(0x01, nsid, data, lba_dwords(slba, nlb)) }
    }

    /// A timeout for the command, in milliseconds (0: the driver's).
    pub fn timeout_ms(mut self, timeout_ms: u32) -> NvmeCmd<'a> {
        self.raw.timeout_ms = timeout_ms;
        self
    }

    /// The raw structure.
    pub fn as_raw(&self) -> &sys::nvme_uring_cmd {
        &self.raw
    }
}

/// Command dwords 10 to 15 of a read or write: the starting LBA and the
/// block count less one.
fn lba_dwords(slba: u64, nlb: u16) -> [u32; 6] {
    [slba as u32, (slba >> 32) as u32, u32::from(nlb), 0, 0, 0]
}

impl<'a> From<NvmeCmd<'a>> for Cmd80<'a> {
    fn from(cmd: NvmeCmd<'a>) -> Cmd80<'a> {
        let mut bytes = [0u8; 80];
        // SAFETY: `nvme_uring_cmd` is 72 plain bytes; the rest stays zero.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&raw const cmd.raw).cast::<u8>(),
                bytes.as_mut_ptr(),
                size_of::<sys::nvme_uring_cmd>(),
            )
        };
        Cmd80 {
            bytes,
            _borrows: PhantomData,
        }
    }
}

impl fmt::Debug for NvmeCmd<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NvmeCmd")
            .field("opcode", &self.raw.opcode)
            .field("nsid", &self.raw.nsid)
            .field("data_len", &self.raw.data_len)
            .finish_non_exhaustive()
    }
}

/// A socket option that [`SetSockOpt`](crate::ops::SetSockOpt) sets or
/// [`GetSockOpt`](crate::ops::GetSockOpt) reads: a level and an option
/// name.
///
/// The constants are the options whose value the kernel reads or writes
/// as plain data, within the bytes the op lends and no further (an option
/// that cannot be set, such as [`SO_ERROR`](SockOpt::SO_ERROR), fails
/// with `ENOPROTOOPT` when set; one that cannot be read, such as
/// [`IP_ADD_MEMBERSHIP`](SockOpt::IP_ADD_MEMBERSHIP), when read). Other
/// options are not safe from arbitrary bytes: `SO_ATTACH_FILTER` reads a
/// filter program through an address in its value, `SO_ATTACH_BPF`
/// attaches the program behind a descriptor number, a packet socket's
/// fanout or an XDP socket's memory registration name memory the kernel
/// keeps using; read back, `SO_GET_FILTER` counts the value's length in
/// 8-byte filter instructions and writes the whole filter past it, and
/// `TCP_ZEROCOPY_RECEIVE` maps pages at an address inside its value. They
/// are reached with the `unsafe` [`SockOpt::new`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SockOpt {
    level: i32,
    name: i32,
}

macro_rules! sock_opts {
    ($($(#[$meta:meta])* $opt:ident = $level:ident, $name:ident;)*) => {
        impl SockOpt {
            $(
                $(#[$meta])*
                pub const $opt: SockOpt = SockOpt { level: libc::$level, name: libc::$name };
            )*

            /// Every option the constants name.
            pub const PLAIN: &'static [SockOpt] = &[$(SockOpt::$opt),*];
        }
    };
}

sock_opts! {
    /// `SO_REUSEADDR` (an `int`).
    SO_REUSEADDR = SOL_SOCKET, SO_REUSEADDR;
    /// `SO_REUSEPORT` (an `int`).
    SO_REUSEPORT = SOL_SOCKET, SO_REUSEPORT;
    /// `SO_KEEPALIVE` (an `int`).
    SO_KEEPALIVE = SOL_SOCKET, SO_KEEPALIVE;
    /// `SO_BROADCAST` (an `int`).
    SO_BROADCAST = SOL_SOCKET, SO_BROADCAST;
    /// `SO_SNDBUF` (an `int`).
    SO_SNDBUF = SOL_SOCKET, SO_SNDBUF;
    /// `SO_RCVBUF` (an `int`).
    SO_RCVBUF = SOL_SOCKET, SO_RCVBUF;
    /// `SO_RCVLOWAT` (an `int`).
    SO_RCVLOWAT = SOL_SOCKET, SO_RCVLOWAT;
    /// `SO_LINGER` (a `struct linger`).
    SO_LINGER = SOL_SOCKET, SO_LINGER;
    /// `SO_OOBINLINE` (an `int`).
    SO_OOBINLINE = SOL_SOCKET, SO_OOBINLINE;
    /// `SO_PRIORITY` (an `int`).
    SO_PRIORITY = SOL_SOCKET, SO_PRIORITY;
    /// `SO_MARK` (an `int`).
    SO_MARK = SOL_SOCKET, SO_MARK;
    /// `SO_RCVTIMEO` (a `struct timeval`).
    SO_RCVTIMEO = SOL_SOCKET, SO_RCVTIMEO;
    /// `SO_SNDTIMEO` (a `struct timeval`).
    SO_SNDTIMEO = SOL_SOCKET, SO_SNDTIMEO;
    /// `SO_BINDTODEVICE` (an interface name).
    SO_BINDTODEVICE = SOL_SOCKET, SO_BINDTODEVICE;
    /// `SO_PASSCRED` (an `int`).
    SO_PASSCRED = SOL_SOCKET, SO_PASSCRED;
    /// `SO_TIMESTAMP` (an `int`).
    SO_TIMESTAMP = SOL_SOCKET, SO_TIMESTAMP;
    /// `SO_TIMESTAMPNS` (an `int`).
    SO_TIMESTAMPNS = SOL_SOCKET, SO_TIMESTAMPNS;
    /// `SO_BUSY_POLL` (an `int`).
    SO_BUSY_POLL = SOL_SOCKET, SO_BUSY_POLL;
    /// `SO_INCOMING_CPU` (an `int`).
    SO_INCOMING_CPU = SOL_SOCKET, SO_INCOMING_CPU;
    /// `SO_ZEROCOPY` (an `int`).
    SO_ZEROCOPY = SOL_SOCKET, SO_ZEROCOPY;
    /// `SO_ERROR` (an `int`, read only: the pending error, cleared).
    SO_ERROR = SOL_SOCKET, SO_ERROR;
    /// `SO_TYPE` (an `int`, read only).
    SO_TYPE = SOL_SOCKET, SO_TYPE;
    /// `SO_DOMAIN` (an `int`, read only).
    SO_DOMAIN = SOL_SOCKET, SO_DOMAIN;
    /// `SO_PROTOCOL` (an `int`, read only).
    SO_PROTOCOL = SOL_SOCKET, SO_PROTOCOL;
    /// `SO_ACCEPTCONN` (an `int`, read only).
    SO_ACCEPTCONN = SOL_SOCKET, SO_ACCEPTCONN;
    /// `SO_PEERCRED` (a `struct ucred`, read only).
    SO_PEERCRED = SOL_SOCKET, SO_PEERCRED;
    /// `SO_PEERNAME` (the peer's address, read only; the value must not
    /// be longer than the address: `EINVAL`).
    SO_PEERNAME = SOL_SOCKET, SO_PEERNAME;
    /// `SO_COOKIE` (a `u64`, read only).
    SO_COOKIE = SOL_SOCKET, SO_COOKIE;
    /// `SO_SNDLOWAT` (an `int`, read only on Linux).
    SO_SNDLOWAT = SOL_SOCKET, SO_SNDLOWAT;
    /// `TCP_NODELAY` (an `int`).
    TCP_NODELAY = IPPROTO_TCP, TCP_NODELAY;
    /// `TCP_CORK` (an `int`).
    TCP_CORK = IPPROTO_TCP, TCP_CORK;
    /// `TCP_QUICKACK` (an `int`).
    TCP_QUICKACK = IPPROTO_TCP, TCP_QUICKACK;
    /// `TCP_KEEPIDLE` (an `int`).
    TCP_KEEPIDLE = IPPROTO_TCP, TCP_KEEPIDLE;
    /// `TCP_KEEPINTVL` (an `int`).
    TCP_KEEPINTVL = IPPROTO_TCP, TCP_KEEPINTVL;
    /// `TCP_KEEPCNT` (an `int`).
    TCP_KEEPCNT = IPPROTO_TCP, TCP_KEEPCNT;
    /// `TCP_USER_TIMEOUT` (an `int`).
    TCP_USER_TIMEOUT = IPPROTO_TCP, TCP_USER_TIMEOUT;
    /// `TCP_NOTSENT_LOWAT` (an `int`).
    TCP_NOTSENT_LOWAT = IPPROTO_TCP, TCP_NOTSENT_LOWAT;
    /// `TCP_DEFER_ACCEPT` (an `int`).
    TCP_DEFER_ACCEPT = IPPROTO_TCP, TCP_DEFER_ACCEPT;
    /// `TCP_FASTOPEN` (an `int`).
    TCP_FASTOPEN = IPPROTO_TCP, TCP_FASTOPEN;
    /// `TCP_MAXSEG` (an `int`).
    TCP_MAXSEG = IPPROTO_TCP, TCP_MAXSEG;
    /// `TCP_CONGESTION` (an algorithm's name).
    TCP_CONGESTION = IPPROTO_TCP, TCP_CONGESTION;
    /// `IP_TTL` (an `int`).
    IP_TTL = IPPROTO_IP, IP_TTL;
    /// `IP_TOS` (an `int`).
    IP_TOS = IPPROTO_IP, IP_TOS;
    /// `IP_MULTICAST_TTL` (an `int`).
    IP_MULTICAST_TTL = IPPROTO_IP, IP_MULTICAST_TTL;
    /// `IP_MULTICAST_LOOP` (an `int`).
    IP_MULTICAST_LOOP = IPPROTO_IP, IP_MULTICAST_LOOP;
    /// `IP_ADD_MEMBERSHIP` (a `struct ip_mreq` or `ip_mreqn`).
    IP_ADD_MEMBERSHIP = IPPROTO_IP, IP_ADD_MEMBERSHIP;
    /// `IP_DROP_MEMBERSHIP` (a `struct ip_mreq` or `ip_mreqn`).
    IP_DROP_MEMBERSHIP = IPPROTO_IP, IP_DROP_MEMBERSHIP;
    /// `IP_FREEBIND` (an `int`).
    IP_FREEBIND = IPPROTO_IP, IP_FREEBIND;
    /// `IP_BIND_ADDRESS_NO_PORT` (an `int`).
    IP_BIND_ADDRESS_NO_PORT = IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT;
    /// `IP_PKTINFO` (an `int`).
    IP_PKTINFO = IPPROTO_IP, IP_PKTINFO;
    /// `IP_RECVTOS` (an `int`).
    IP_RECVTOS = IPPROTO_IP, IP_RECVTOS;
    /// `IPV6_V6ONLY` (an `int`).
    IPV6_V6ONLY = IPPROTO_IPV6, IPV6_V6ONLY;
    /// `IPV6_UNICAST_HOPS` (an `int`).
    IPV6_UNICAST_HOPS = IPPROTO_IPV6, IPV6_UNICAST_HOPS;
    /// `IPV6_MULTICAST_HOPS` (an `int`).
    IPV6_MULTICAST_HOPS = IPPROTO_IPV6, IPV6_MULTICAST_HOPS;
    /// `IPV6_MULTICAST_LOOP` (an `int`).
    IPV6_MULTICAST_LOOP = IPPROTO_IPV6, IPV6_MULTICAST_LOOP;
    /// `IPV6_ADD_MEMBERSHIP` (a `struct ipv6_mreq`).
    IPV6_ADD_MEMBERSHIP = IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP;
    /// `IPV6_DROP_MEMBERSHIP` (a `struct ipv6_mreq`).
    IPV6_DROP_MEMBERSHIP = IPPROTO_IPV6, IPV6_DROP_MEMBERSHIP;
    /// `IPV6_RECVPKTINFO` (an `int`).
    IPV6_RECVPKTINFO = IPPROTO_IPV6, IPV6_RECVPKTINFO;
    /// `IPV6_TCLASS` (an `int`).
    IPV6_TCLASS = IPPROTO_IPV6, IPV6_TCLASS;
}

impl SockOpt {
    /// Any option: `level` (`SOL_SOCKET`, `IPPROTO_TCP`, ...) and `name`.
    ///
    /// # Safety
    ///
    /// The kernel must read nothing but the value's bytes for this option
    /// and act on nothing the value names by number: no address inside the
    /// value that the op does not keep borrowed, no descriptor the program
    /// does not own.
    pub const unsafe fn new(level: i32, name: i32) -> SockOpt {
        SockOpt { level, name }
    }

    /// The level.
    pub const fn level(self) -> i32 {
        self.level
    }

    /// The option's name.
    pub const fn name(self) -> i32 {
        self.name
    }
}

impl fmt::Debug for SockOpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SockOpt")
            .field("level", &self.level)
            .field("name", &self.name)
            .finish()
    }
}

// SAFETY: two integers; what the kernel reads for the option is vouched for
// by the constant or by the caller of `SockOpt::new`.
unsafe impl SqeField<(u32, u32)> for SockOpt {
    #[inline(always)]
    fn into_field(self) -> (u32, u32) {
        (self.level as u32, self.name as u32)
    }
}
