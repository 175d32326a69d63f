//! What the typed driver commands (`URING_CMD`) act on: sockets and block
//! devices, by type, so that a command number reaches only the driver that
//! gives it that meaning.

use crate::error::{Error, Result};
use crate::op::SqeField;
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
