//! The op table: every io_uring op this crate knows, declared once.
//!
//! Each entry names its opcode and the kernel that added it, says which SQE
//! field each argument lands in, which arguments are required and which are
//! optional with a default, and what the op acts on. [`ops!`](crate::ops!)
//! turns each entry into a typed builder; see its documentation for the
//! grammar.
//!
//! Every entry is written `unsafe struct`: the table vouches that each field
//! it names is the one the kernel reads for that opcode, and that each field
//! the kernel dereferences (`addr` of a read, `addr2` of an accept) is fed
//! from a reference the op carries, so that the op's lifetime covers the
//! kernel's use.

use crate::types::{
    BufferGroup, BufferPool, CancelFlags, RwFlags, SockAddr, SockAddrBuf, TimeoutFlags, Timespec,
};
use std::ffi::CStr;
use std::io::{IoSlice, IoSliceMut};

crate::ops! {
    #![list(pub const ALL)]

    /// Does nothing, and completes with 0. Measures the ring itself.
    #[since = "5.1"]
    pub unsafe struct Nop = NOP {}

    /// Reads up to `buf.len()` bytes at `offset`, like `pread(2)`; an offset
    /// of `u64::MAX` reads at the file position. Completes with the number
    /// of bytes read.
    #[since = "5.6"]
    pub unsafe struct Read<'a> = READ {
        target: fd | fixed,
        /// The buffer to read into.
        buf: &'a mut [u8] | select => addr + len,
        /// Where in the file to read.
        offset: u64 = 0 => off,
        /// Per-read `RWF_*` flags.
        rw_flags: RwFlags = RwFlags::empty() => rw_flags,
        /// The I/O priority, as `ioprio_set(2)` takes it.
        ioprio: u16 = 0 => ioprio,
    }

    /// Writes `buf` at `offset`, like `pwrite(2)`; an offset of `u64::MAX`
    /// writes at the file position. Completes with the number of bytes
    /// written.
    #[since = "5.6"]
    pub unsafe struct Write<'a> = WRITE {
        target: fd | fixed,
        /// The bytes to write.
        buf: &'a [u8] => addr + len,
        /// Where in the file to write.
        offset: u64 = 0 => off,
        /// Per-write `RWF_*` flags.
        rw_flags: RwFlags = RwFlags::empty() => rw_flags,
        /// The I/O priority, as `ioprio_set(2)` takes it.
        ioprio: u16 = 0 => ioprio,
    }

    /// Reads into several buffers at `offset`, like `preadv2(2)`. Completes
    /// with the number of bytes read.
    #[since = "5.1"]
    pub unsafe struct ReadV<'a> = READV {
        target: fd | fixed,
        /// The buffers to read into, in order.
        iovecs: &'a mut [IoSliceMut<'a>] => addr + len,
        /// Where in the file to read.
        offset: u64 = 0 => off,
        /// Per-read `RWF_*` flags.
        rw_flags: RwFlags = RwFlags::empty() => rw_flags,
        /// The I/O priority, as `ioprio_set(2)` takes it.
        ioprio: u16 = 0 => ioprio,
    }

    /// Writes several buffers at `offset`, like `pwritev2(2)`. Completes with
    /// the number of bytes written.
    #[since = "5.1"]
    pub unsafe struct WriteV<'a> = WRITEV {
        target: fd | fixed,
        /// The buffers to write, in order.
        iovecs: &'a [IoSlice<'a>] => addr + len,
        /// Where in the file to write.
        offset: u64 = 0 => off,
        /// Per-write `RWF_*` flags.
        rw_flags: RwFlags = RwFlags::empty() => rw_flags,
        /// The I/O priority, as `ioprio_set(2)` takes it.
        ioprio: u16 = 0 => ioprio,
    }

    /// Reads into buffers the kernel selects from a provided-buffer group,
    /// again each time the file has data, until the group runs out or the
    /// read fails; each read completes with its byte count and buffer id,
    /// flagged `IORING_CQE_F_MORE` while more will come. For pollable files
    /// (pipes, sockets, eventfds).
    #[since = "6.7"]
    pub unsafe struct ReadMultishot = READ_MULTISHOT {
        target: fd | fixed,
        /// The group to select buffers from.
        group: select => addr + len,
        /// Where in the file to read.
        offset: u64 = 0 => off,
    }

    /// Opens `path` relative to the directory `dirfd` (a raw descriptor or
    /// `libc::AT_FDCWD`), like `openat(2)`. Completes with the new
    /// descriptor.
    #[since = "5.6"]
    pub unsafe struct OpenAt<'a> = OPENAT {
        target: fd,
        /// The path.
        path: &'a CStr => addr,
        /// `O_*` flags; `O_CLOEXEC` unless set otherwise.
        open_flags: i32 = libc::O_CLOEXEC => open_flags,
        /// The mode of a file the call creates.
        mode: u32 = 0 => len,
    }

    /// Accepts a connection on a listening socket, like `accept4(2)`.
    /// Completes with the new connection's descriptor.
    #[since = "5.5"]
    pub unsafe struct Accept<'a> = ACCEPT {
        target: fd | fixed,
        /// Where to write the peer's address.
        peer: Option<&'a mut SockAddrBuf> = None => addr + addr2,
        /// `SOCK_NONBLOCK` and `SOCK_CLOEXEC`, for the new descriptor.
        accept_flags: i32 = 0 => accept_flags,
        /// `IORING_ACCEPT_*` flags.
        ioprio: u16 = 0 => ioprio,
    }

    /// Connects a socket to `addr`, like `connect(2)`. Completes with 0.
    #[since = "5.5"]
    pub unsafe struct Connect<'a> = CONNECT {
        target: fd | fixed,
        /// The address to connect to.
        addr: &'a SockAddr => addr + off,
    }

    /// Receives into `buf` from a socket, like `recv(2)`. Completes with the
    /// number of bytes received, 0 at end of stream.
    #[since = "5.6"]
    pub unsafe struct Recv<'a> = RECV {
        target: fd | fixed,
        /// The buffer to receive into.
        buf: &'a mut [u8] | select => addr + len,
        /// `MSG_*` flags of `recv(2)`.
        msg_flags: i32 = 0 => msg_flags,
        /// `IORING_RECVSEND_*` flags.
        ioprio: u16 = 0 => ioprio,
    }

    /// Sends `buf` on a socket, like `send(2)`. Completes with the number of
    /// bytes sent.
    #[since = "5.6"]
    pub unsafe struct Send<'a> = SEND {
        target: fd | fixed,
        /// The bytes to send.
        buf: &'a [u8] => addr + len,
        /// `MSG_*` flags of `send(2)`.
        msg_flags: i32 = 0 => msg_flags,
        /// `IORING_RECVSEND_*` flags.
        ioprio: u16 = 0 => ioprio,
    }

    /// Closes a descriptor, like `close(2)`, or empties a fixed-file slot
    /// (5.15). Completes with 0. The op takes ownership of the descriptor.
    #[since = "5.6"]
    pub unsafe struct Close = CLOSE {
        target: owned | fixed(file_index),
    }

    /// Cancels the in-flight op whose `user_data` is `target_user_data`.
    /// Completes with 0 when it was cancelled, `-EALREADY` when it was
    /// already running, `-ENOENT` when no op matched; the cancelled op
    /// completes with `-ECANCELED`.
    #[since = "5.5"]
    pub unsafe struct Cancel = ASYNC_CANCEL {
        /// The `user_data` of the op to cancel.
        target_user_data: u64 => addr,
        /// `IORING_ASYNC_CANCEL_*` flags.
        cancel_flags: CancelFlags = CancelFlags::empty() => cancel_flags,
    }

    /// Completes after `timeout`, or once `count` other completions have been
    /// posted. Completes with `-ETIME` when the time ran out, 0 when the
    /// count was reached.
    #[since = "5.4"]
    pub unsafe struct Timeout = TIMEOUT {
        /// How long to wait (or when, with `TimeoutFlags::ABS`).
        #[ring_owned]
        timeout: impl Into<Timespec> => addr,
        const len = 1,
        /// Completions to wait for instead; 0 waits for the time alone.
        count: u32 = 0 => off,
        /// `IORING_TIMEOUT_*` flags.
        timeout_flags: TimeoutFlags = TimeoutFlags::empty() => timeout_flags,
    }

    /// Bounds the op linked before it: if that op has not completed after
    /// `timeout`, it is cancelled. Completes with `-ETIME` when it fired
    /// (the op then gets `-ECANCELED`), `-ECANCELED` when the op finished
    /// first.
    #[since = "5.5"]
    #[after_link]
    pub unsafe struct LinkTimeout = LINK_TIMEOUT {
        /// How long the linked op may take.
        #[ring_owned]
        timeout: impl Into<Timespec> => addr,
        const len = 1,
        /// `IORING_TIMEOUT_*` flags.
        timeout_flags: TimeoutFlags = TimeoutFlags::empty() => timeout_flags,
    }

    /// Hands the buffers of `pool` to the kernel under `group`, with ids
    /// from `start_id` on, for ops that select a provided buffer. Completes
    /// with 0 (with the number of buffers added before 5.15).
    #[since = "5.7"]
    pub unsafe struct ProvideBuffers<'a> = PROVIDE_BUFFERS {
        /// The region and how it is cut into buffers.
        pool: BufferPool<'a> => addr + len + fd,
        /// The group the buffers join.
        group: BufferGroup => buf_group,
        /// The id of the first buffer; the next ones follow.
        start_id: u16 = 0 => off,
    }
}
