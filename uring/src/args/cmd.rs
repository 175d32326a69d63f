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
    fn from(socket: &'a S) -> SocketFd<'a> {
        SocketFd {
            fd: socket.as_fd().as_raw_fd(),
            _socket: PhantomData,
        }
    }
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
        // SAFETY: all-zero bytes are a valid `stat`.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `fd` is borrowed and open; `st` is writable.
        if unsafe { libc::fstat(fd, &mut st) } != 0 {
            return Err(Error::os("fstat", std::io::Error::last_os_error()));
        }
        if st.st_mode & libc::S_IFMT != libc::S_IFBLK {
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
/// `cmd_op` says; so raw bytes are made unsafely, and typed commands such
/// as [`NvmeCmd`] convert safely.
#[derive(Clone, Copy)]
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

/// An NVMe passthrough command (`struct nvme_uring_cmd` of
/// `linux/nvme_ioctl.h`) for a [`UringCmd80`](crate::ops::UringCmd80) to an
/// NVMe generic character device (`/dev/ngXnY`), whose data buffer it
/// borrows: the device reads or writes `data` and nothing else.
///
/// The CQE of the command is 32 bytes on a ring of [`Cqe32`](crate::Cqe32)
/// CQEs, its extra words the command's result dword.
#[derive(Clone, Copy)]
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
    pub fn new(opcode: u8, nsid: u32, data: &'a mut [u8], cdw10_15: [u32; 6]) -> NvmeCmd<'a> {
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
    pub fn read(nsid: u32, slba: u64, nlb: u16, data: &'a mut [u8]) -> NvmeCmd<'a> {
        NvmeCmd::new(0x02, nsid, data, lba_dwords(slba, nlb))
    }

    /// A write of `nlb + 1` logical blocks at `slba` from `data` (opcode
    /// 0x01). (`data` is borrowed mutably all the same: the command's
    /// direction is the device's to follow.)
    pub fn write(nsid: u32, slba: u64, nlb: u16, data: &'a mut [u8]) -> NvmeCmd<'a> {
        NvmeCmd::new(0x01, nsid, data, lba_dwords(slba, nlb))
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
