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

#[cfg(doc)]
use crate::args::RecvMsgOut;
use crate::args::{
    BlockDevice, CancelFile, CancelOpcode, CancelUserData, Cmd16, Cmd80, DirectSlot, FileUpdates,
    FilesAt, FixedBuf, FutexWaitV, MadviseRange, MsgHdr, MsgHdrMut, MsgLayout, NopBigCqe,
    NopBuffer, NopResult, NopTaskWork, PassCqeFlags, PipeFds, PipeSlots, PollEventsUpdate,
    RingSlot, SockOpt, SocketDomain, SocketFd, SocketType, SpliceSource, UringCmdOp,
    UserDataUpdate, WaitIdTarget,
};
use crate::types::{
    AcceptFlags, BufferGroup, BufferPool, CancelFlags, Fd, Fixed, FsyncFlags, FutexFlags,
    InstallFlags, MsgFlags, MsgRingFlags, PiRef, PollEvents, PollFlags, RecvFlags, RwFlags,
    SendFlags, SendZcFlags, SockAddr, SockAddrBuf, SpliceFlags, TimeoutFlags, Timespec,
};
use std::ffi::CStr;
use std::io::{IoSlice, IoSliceMut};
use std::sync::atomic::AtomicU32;

mod forward;
pub use forward::ThenWrite;

crate::ops! {
    #![list(pub const ALL)]

    /// Does nothing, and completes with 0. Measures the ring itself.
    #[since = "5.1"]
    pub unsafe struct Nop = NOP {
        const fd = -1,
        /// The result to complete with instead of 0
        /// (`IORING_NOP_INJECT_RESULT`, 6.10).
        result: impl Into<NopResult> = NopResult::NONE => len + |nop_flags,
        /// The words of a 32-byte CQE to post (`IORING_NOP_CQE32`, 6.18).
        big_cqe: impl Into<NopBigCqe> = NopBigCqe::NONE => off + addr + |nop_flags,
        /// A registered buffer to look up (`IORING_NOP_FIXED_BUFFER`, 6.13).
        buffer: impl Into<NopBuffer> = NopBuffer::NONE => buf_index + |nop_flags,
        /// Complete through task work (`IORING_NOP_TW`, 6.17).
        task_work: impl Into<NopTaskWork> = NopTaskWork::NONE => |nop_flags,
    }

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
        /// The I/O priority, as `ioprio_set(2)` takes it (a number, not
        /// flags: for reads and writes the kernel reads nothing else here).
        ioprio: u16 = 0 => ioprio,
        /// Protection information (6.14): a metadata buffer the read
        /// fills with the blocks' integrity tuples, and the checks the
        /// device makes. For `O_DIRECT` reads of a block device formatted
        /// with it; elsewhere the read fails.
        pi: impl Into<PiRef<'a>> = PiRef::NONE => attr_ptr + attr_type_mask,
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
        /// The I/O priority, as `ioprio_set(2)` takes it (a number, not
        /// flags: for reads and writes the kernel reads nothing else here).
        ioprio: u16 = 0 => ioprio,
        /// The write stream (a data placement hint of block devices that
        /// have them, such as NVMe drives with flexible data placement;
        /// 6.16): 0, the default, for none. A direct (`O_DIRECT`) write to
        /// a block device fails with `EINVAL` for a stream the device does
        /// not have; file systems and buffered writes ignore the stream.
        write_stream: u8 = 0 => write_stream,
        /// Protection information (6.14): a metadata buffer the write
        /// takes the blocks' integrity tuples from, and the checks the
        /// device makes. For `O_DIRECT` writes to a block device formatted
        /// with it; elsewhere the write fails.
        pi: impl Into<PiRef<'a>> = PiRef::NONE => attr_ptr + attr_type_mask,
    }

    /// Reads into several buffers at `offset`, like `preadv2(2)`. Completes
    /// with the number of bytes read.
    #[since = "5.1"]
    pub unsafe struct ReadV<'a, 'b> = READV {
        target: fd | fixed,
        /// The buffers to read into, in order.
        iovecs: &'a mut [IoSliceMut<'b>] => addr + len,
        /// Where in the file to read.
        offset: u64 = 0 => off,
        /// Per-read `RWF_*` flags.
        rw_flags: RwFlags = RwFlags::empty() => rw_flags,
        /// The I/O priority, as `ioprio_set(2)` takes it (a number, not
        /// flags: for reads and writes the kernel reads nothing else here).
        ioprio: u16 = 0 => ioprio,
        /// Protection information (6.14): a metadata buffer the read
        /// fills with the blocks' integrity tuples, and the checks the
        /// device makes. For `O_DIRECT` reads of a block device formatted
        /// with it; elsewhere the read fails.
        pi: impl Into<PiRef<'a>> = PiRef::NONE => attr_ptr + attr_type_mask,
    }

    /// Writes several buffers at `offset`, like `pwritev2(2)`. Completes with
    /// the number of bytes written.
    #[since = "5.1"]
    pub unsafe struct WriteV<'a, 'b> = WRITEV {
        target: fd | fixed,
        /// The buffers to write, in order.
        iovecs: &'a [IoSlice<'b>] => addr + len,
        /// Where in the file to write.
        offset: u64 = 0 => off,
        /// Per-write `RWF_*` flags.
        rw_flags: RwFlags = RwFlags::empty() => rw_flags,
        /// The I/O priority, as `ioprio_set(2)` takes it (a number, not
        /// flags: for reads and writes the kernel reads nothing else here).
        ioprio: u16 = 0 => ioprio,
        /// The write stream (a data placement hint of block devices that
        /// have them, such as NVMe drives with flexible data placement;
        /// 6.16): 0, the default, for none. A direct (`O_DIRECT`) write to
        /// a block device fails with `EINVAL` for a stream the device does
        /// not have; file systems and buffered writes ignore the stream.
        write_stream: u8 = 0 => write_stream,
        /// Protection information (6.14): a metadata buffer the write
        /// takes the blocks' integrity tuples from, and the checks the
        /// device makes. For `O_DIRECT` writes to a block device formatted
        /// with it; elsewhere the write fails.
        pi: impl Into<PiRef<'a>> = PiRef::NONE => attr_ptr + attr_type_mask,
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
    /// descriptor. Without `O_CREAT`, `O_TRUNC` or `O_TMPFILE` the kernel
    /// tries the open without blocking first: a FIFO with no reader then
    /// fails an open for writing with `ENXIO`, and one with no writer opens
    /// for reading at once (the descriptor blocks as asked); with one of
    /// them the open runs in an io-wq worker and waits as `openat(2)` does.
    #[since = "5.6"]
    pub unsafe struct OpenAt<'a> = OPENAT {
        target: fd,
        /// The path.
        path: &'a CStr => addr,
        /// `O_*` flags; `O_CLOEXEC` unless set otherwise.
        open_flags: i32 = libc::O_CLOEXEC => open_flags,
        /// The mode of a file the call creates.
        mode: u32 = 0 => len,
        /// A regular descriptor, or a direct one (5.15). The kernel refuses
        /// `O_CLOEXEC` for a direct descriptor (`EINVAL`): clear it with
        /// `.open_flags(..)`.
        direct: DirectSlot<'a> = DirectSlot::NONE => file_index,
    }

    /// Accepts a connection on a listening socket, like `accept4(2)`.
    /// Completes with the new connection's descriptor.
    #[since = "5.5"]
    pub unsafe struct Accept<'a> = ACCEPT {
        target: fd | fixed,
        /// Where to write the peer's address. A multishot accept writes
        /// every peer's into it, and the kernel keeps as its room the
        /// length the last address left: after a short address (an
        /// unbound Unix peer's, 2 bytes) the next ones are cut to it. Ask
        /// each accepted socket its peer (`getpeername(2)`) instead.
        peer: Option<&'a mut SockAddrBuf> = None => addr + addr2,
        /// `SOCK_NONBLOCK` and `SOCK_CLOEXEC`, for the new descriptor; none
        /// by default (unlike `OpenAt`'s default, the socket is not
        /// close-on-exec unless asked).
        accept_flags: i32 = 0 => accept_flags,
        /// `IORING_ACCEPT_*` flags: multishot, don't wait, poll first.
        iou_flags: AcceptFlags = AcceptFlags::empty() => ioprio,
        /// A regular descriptor, or a direct one (5.15). The kernel refuses
        /// `SOCK_CLOEXEC` for a direct descriptor (`EINVAL`), and the slot
        /// is left as it was.
        direct: DirectSlot<'a> = DirectSlot::NONE => file_index,
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
        msg_flags: MsgFlags = MsgFlags::empty() => msg_flags,
        /// `IORING_RECVSEND_*` flags: poll first, multishot, bundle.
        recv_flags: RecvFlags = RecvFlags::empty() => ioprio,
        /// With `RecvFlags::MULTISHOT`, the bytes after which the multishot
        /// receive ends, its completion that reaches them the last (without
        /// `IORING_CQE_F_MORE`) (6.17); 0 for no limit. At most
        /// `i32::MAX`: the kernel subtracts each completion's bytes as an
        /// `int`, and a limit of 2^31 or more ends the receive at its first
        /// completion. Without `MULTISHOT`, any limit is refused
        /// (`-EINVAL`). Only a bundle is cut to what is left of the limit:
        /// a receive into one buffer takes what the buffer holds, so its
        /// last completion may run past the limit.
        multishot_limit: u32 = 0 => optlen,
    }

    /// Sends `buf` on a socket, like `send(2)`, or to `dest` on an
    /// unconnected datagram socket, like `sendto(2)` (6.3). Given a
    /// `BufferSelect` in place of `buf`, sends from a provided buffer the
    /// kernel picks (6.10; several with `SendFlags::BUNDLE`). Completes with
    /// the number of bytes sent.
    #[since = "5.6"]
    pub unsafe struct Send<'a> = SEND {
        target: fd | fixed,
        /// The bytes to send.
        buf: &'a [u8] | select => addr + len,
        /// `MSG_*` flags of `send(2)`.
        msg_flags: MsgFlags = MsgFlags::empty() => msg_flags,
        /// `IORING_RECVSEND_*` flags: poll first, bundle.
        send_flags: SendFlags = SendFlags::empty() => ioprio,
        /// Where to send, on an unconnected datagram socket.
        dest: Option<&'a SockAddr> = None => addr2 + addr_len,
    }

    /// Closes a descriptor, like `close(2)`, or empties a fixed-file slot
    /// (5.15). Completes with 0. The op takes ownership of the descriptor.
    #[since = "5.6"]
    pub unsafe struct Close = CLOSE {
        target: owned | fixed(file_index),
    }

    /// Cancels the in-flight op whose `user_data` is `target_user_data`.
    /// Completes with 0 when it was cancelled, `-EALREADY` when it was
    /// already running, `-ENOENT` when no op matched; with
    /// `CancelFlags::ALL` or `ANY`, with a count of the ops cancelled that
    /// leaves out some of those io-wq workers hold (Linux 6.18 counts the
    /// pending ones of a worker pool once for all, and none that a worker
    /// is running): 0 does not mean that nothing was cancelled. A
    /// cancelled op completes with `-ECANCELED` (one interrupted in an
    /// io-wq worker, with the error its call returned: `-ERESTARTSYS`,
    /// -512, for a splice, say).
    ///
    /// In a scope, `target_user_data` names the scope's op pushed with it
    /// (the scope rewrites it to that op's tag); of several of the scope's
    /// ops that carry it, each cancel names the next in turn (an op counts
    /// until the scope reads its last completion: a cancel may name one
    /// whose completion waits in the CQ, and find nothing). One with
    /// `CancelFlags::ALL` that names a value several of the scope's tagged
    /// ops carry fails with `-EINVAL` (one request matches one tag). In a
    /// scope that does not [tag every op](crate::Scope::tags_every_op),
    /// the ops it leaves untagged are named only by a value no tagged op
    /// of the scope carries: a value both carry names the tagged ops
    /// alone. [`Scope::cancel`](crate::Scope::cancel) cancels them all,
    /// tagged and untagged.
    #[since = "5.5"]
    pub unsafe struct Cancel = ASYNC_CANCEL {
        /// The `user_data` of the op to cancel.
        target_user_data: u64 => addr,
        /// `IORING_ASYNC_CANCEL_*` flags.
        cancel_flags: CancelFlags = CancelFlags::empty() => cancel_flags,
        const fd = -1,
    }

    /// Cancels the in-flight ops on `file` (a descriptor, or a fixed file
    /// of this ring), the first or, with `CancelFlags::ALL`, every one.
    /// Completes as `Cancel` does.
    #[since = "5.19"]
    pub unsafe struct CancelFd<'a> = ASYNC_CANCEL {
        /// The file whose ops to cancel.
        file: impl Into<CancelFile<'a>> => fd + |cancel_flags,
        /// `IORING_ASYNC_CANCEL_*` flags: all.
        cancel_flags: CancelFlags = CancelFlags::empty() => |cancel_flags,
        /// Only an op that also carries this `user_data` (6.6).
        target_user_data: impl Into<CancelUserData> = CancelUserData::ANY => addr + |cancel_flags,
    }

    /// Cancels the in-flight ops of one opcode (`CancelOpcode::of::<Read>()`),
    /// the first or, with `CancelFlags::ALL`, every one. Completes as
    /// `Cancel` does.
    #[since = "6.6"]
    pub unsafe struct CancelOp = ASYNC_CANCEL {
        /// The opcode whose ops to cancel.
        op: CancelOpcode => len + |cancel_flags,
        /// `IORING_ASYNC_CANCEL_*` flags: all.
        cancel_flags: CancelFlags = CancelFlags::empty() => |cancel_flags,
        /// Only an op that also carries this `user_data` (6.6).
        target_user_data: impl Into<CancelUserData> = CancelUserData::ANY => addr + |cancel_flags,
        const fd = -1,
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
        const fd = -1,
    }

    /// Bounds the op linked before it: if that op has not completed after
    /// `timeout`, it is cancelled. Completes with `-ETIME` when it fired
    /// (the op then gets `-ECANCELED`), `-ECANCELED` when the op finished
    /// first, and `-ENOENT` or `-EALREADY` when it fired but could not
    /// cancel the op (it was completing, or could no longer be stopped).
    #[since = "5.5"]
    #[after_link]
    pub unsafe struct LinkTimeout = LINK_TIMEOUT {
        /// How long the linked op may take.
        #[ring_owned]
        timeout: impl Into<Timespec> => addr,
        const len = 1,
        /// `IORING_TIMEOUT_*` flags.
        timeout_flags: TimeoutFlags = TimeoutFlags::empty() => timeout_flags,
        const fd = -1,
    }

    /// Hands the buffers of `pool` to the kernel under `group`, with ids
    /// from `start_id` on, for ops that select a provided buffer. Completes
    /// with 0 (with the number of buffers added before 5.15). The kernel
    /// takes buffers from the group's head, in the order they were given,
    /// and checks neither their ids nor their overlap: a region given
    /// twice is written under both ids. A receive bundle over such a group
    /// may consume a buffer no completion names (see
    /// [`Ring::push_unchecked`](crate::Ring::push_unchecked)).
    #[since = "5.7"]
    #[retains_memory]
    pub unsafe struct ProvideBuffers<'a> = PROVIDE_BUFFERS {
        /// The region and how it is cut into buffers.
        pool: BufferPool<'a> => addr + len + fd,
        /// The group the buffers join.
        group: BufferGroup => buf_group,
        /// The id of the first buffer; the next ones follow.
        start_id: u16 = 0 => off,
    }

    /// Flushes a file's data and metadata to storage, like `fsync(2)` (or
    /// only its data, like `fdatasync(2)`, with `FsyncFlags::DATASYNC`).
    /// Completes with 0.
    #[since = "5.1"]
    pub unsafe struct Fsync = FSYNC {
        target: fd | fixed,
        /// `IORING_FSYNC_*` flags.
        fsync_flags: FsyncFlags = FsyncFlags::empty() => fsync_flags,
        /// The start of the range to sync (see `len`).
        offset: u64 = 0 => off,
        /// The length of the range to sync. With both `offset` and `len`
        /// 0 (the default), the whole file; a length of 0 from a non-zero
        /// offset syncs only the byte there (the kernel syncs `offset ..=
        /// offset + len`, and the whole file only when that sum is 0).
        len: u32 = 0 => len,
    }

    /// Reads into `buf`, which lies inside the registered buffer `index`, at
    /// `offset`. Completes with the number of bytes read.
    #[since = "5.1"]
    pub unsafe struct ReadFixed<'a> = READ_FIXED {
        target: fd | fixed,
        /// The bytes to read into, inside the registered buffer.
        buf: &'a mut [u8] => addr + len,
        /// The registered buffer `buf` lies in.
        index: FixedBuf => buf_index,
        /// Where in the file to read.
        offset: u64 = 0 => off,
        /// Per-read `RWF_*` flags.
        rw_flags: RwFlags = RwFlags::empty() => rw_flags,
        /// The I/O priority, as `ioprio_set(2)` takes it (a number, not
        /// flags: for reads and writes the kernel reads nothing else here).
        ioprio: u16 = 0 => ioprio,
        /// Protection information (6.14): a metadata buffer the read
        /// fills with the blocks' integrity tuples, and the checks the
        /// device makes. For `O_DIRECT` reads of a block device formatted
        /// with it; elsewhere the read fails.
        pi: impl Into<PiRef<'a>> = PiRef::NONE => attr_ptr + attr_type_mask,
    }

    /// Writes `buf`, which lies inside the registered buffer `index`, at
    /// `offset`. Completes with the number of bytes written.
    #[since = "5.1"]
    pub unsafe struct WriteFixed<'a> = WRITE_FIXED {
        target: fd | fixed,
        /// The bytes to write, inside the registered buffer.
        buf: &'a [u8] => addr + len,
        /// The registered buffer `buf` lies in.
        index: FixedBuf => buf_index,
        /// Where in the file to write.
        offset: u64 = 0 => off,
        /// Per-write `RWF_*` flags.
        rw_flags: RwFlags = RwFlags::empty() => rw_flags,
        /// The I/O priority, as `ioprio_set(2)` takes it (a number, not
        /// flags: for reads and writes the kernel reads nothing else here).
        ioprio: u16 = 0 => ioprio,
        /// The write stream (a data placement hint of block devices that
        /// have them, such as NVMe drives with flexible data placement;
        /// 6.16): 0, the default, for none. A direct (`O_DIRECT`) write to
        /// a block device fails with `EINVAL` for a stream the device does
        /// not have; file systems and buffered writes ignore the stream.
        write_stream: u8 = 0 => write_stream,
        /// Protection information (6.14): a metadata buffer the write
        /// takes the blocks' integrity tuples from, and the checks the
        /// device makes. For `O_DIRECT` writes to a block device formatted
        /// with it; elsewhere the write fails.
        pi: impl Into<PiRef<'a>> = PiRef::NONE => attr_ptr + attr_type_mask,
    }

    /// Waits until the file is ready for `events`, like `poll(2)` on one
    /// file. Completes with the events that are ready; with
    /// `PollFlags::MULTI`, once each time they are (flagged
    /// `IORING_CQE_F_MORE`) until cancelled.
    #[since = "5.1"]
    pub unsafe struct PollAdd = POLL_ADD {
        target: fd | fixed,
        /// The events to wait for.
        events: PollEvents => poll32_events,
        /// `IORING_POLL_*` flags.
        poll_flags: PollFlags = PollFlags::empty() => len,
    }

    /// Removes the poll whose `user_data` is `target_user_data`. Completes
    /// with 0, `-ENOENT` when no poll matched, or `-EALREADY` when the
    /// poll was being woken at that moment (nothing is removed: the wake
    /// goes on, and a multishot poll stays armed); a removed poll
    /// completes with `-ECANCELED`.
    #[since = "5.1"]
    pub unsafe struct PollRemove = POLL_REMOVE {
        /// The `user_data` of the poll to remove.
        target_user_data: u64 => addr,
        const fd = -1,
    }

    /// Changes the events of the poll whose `user_data` is
    /// `target_user_data`, or its `user_data`, or both, without removing it
    /// (5.13). Completes with 0, `-ENOENT` when no poll matched, or
    /// `-EALREADY` when the poll was being woken at that moment (nothing
    /// is changed). The poll stays one-shot or multishot as it was: Linux
    /// 6.18 replaces the event bits alone (see `poll_flags`). In a scope,
    /// a poll the scope did not push cannot be given a new `user_data`,
    /// and an update of one it left untagged may not carry
    /// `PollFlags::MULTI` (the update completes with `-EINVAL`).
    #[since = "5.13"]
    pub unsafe struct PollUpdate = POLL_REMOVE {
        /// The `user_data` of the poll to update.
        target_user_data: u64 => addr,
        /// New events to wait for (`IORING_POLL_UPDATE_EVENTS`).
        events: impl Into<PollEventsUpdate> = PollEventsUpdate::NONE => poll32_events + |len,
        /// A new `user_data` (`IORING_POLL_UPDATE_USER_DATA`).
        new_user_data: impl Into<UserDataUpdate> = UserDataUpdate::NONE => off + |len,
        /// `IORING_POLL_*` flags: the kernel takes `PollFlags::MULTI`
        /// here, and Linux 6.18 then ignores it (an update keeps the
        /// poll's one-shot or multishot nature).
        poll_flags: PollFlags = PollFlags::empty() => |len,
        const fd = -1,
    }

    /// Starts writeback of a file range, like `sync_file_range(2)`.
    /// Completes with 0.
    #[since = "5.2"]
    pub unsafe struct SyncFileRange = SYNC_FILE_RANGE {
        target: fd | fixed,
        /// The start of the range.
        offset: u64 = 0 => off,
        /// The length of the range; 0 is to the end of the file.
        len: u32 = 0 => len,
        /// `SYNC_FILE_RANGE_*` flags.
        sync_range_flags: u32 = 0 => sync_range_flags,
    }

    /// Sends a message, like `sendmsg(2)`. Completes with the number of
    /// bytes sent.
    #[since = "5.3"]
    pub unsafe struct SendMsg<'a, 'b> = SENDMSG {
        target: fd | fixed,
        /// The message.
        msg: &'a MsgHdr<'b> => addr,
        /// `MSG_*` flags of `sendmsg(2)`.
        msg_flags: MsgFlags = MsgFlags::empty() => msg_flags,
        /// `IORING_RECVSEND_*` flags: poll first.
        send_flags: SendFlags = SendFlags::empty() => ioprio,
        const len = 1,
    }

    /// Receives a message, like `recvmsg(2)`. Completes with the number of
    /// bytes received; the header holds the address and control lengths
    /// and the flags.
    #[since = "5.3"]
    pub unsafe struct RecvMsg<'a, 'b> = RECVMSG {
        target: fd | fixed,
        /// The message to receive into.
        msg: &'a mut MsgHdrMut<'b> => addr,
        /// `MSG_*` flags of `recvmsg(2)`.
        msg_flags: MsgFlags = MsgFlags::empty() => msg_flags,
        /// `IORING_RECVSEND_*` flags: poll first.
        recv_flags: SendFlags = SendFlags::empty() => ioprio,
        const len = 1,
    }

    /// Receives messages, again each time one arrives, each into a
    /// provided buffer of `group` the kernel picks (6.0): the buffer holds
    /// an `io_uring_recvmsg_out` header, then the sender's address, the
    /// ancillary data and the payload, laid out as `layout` says
    /// ([`RecvMsgOut::parse`]). Completes with the bytes used in the buffer
    /// and its id, flagged `IORING_CQE_F_MORE` while more will come. A
    /// layout that leaves no room for payload in a buffer ends the op at
    /// its first message (the header says `MSG_TRUNC`, the payload is
    /// empty); one larger than the buffer fails it with `-EFAULT`, one of
    /// `i32::MAX` bytes or more with `-EOVERFLOW`.
    #[since = "6.0"]
    pub unsafe struct RecvMsgMulti<'a> = RECVMSG {
        target: fd | fixed,
        /// How much room the address and the ancillary data take.
        layout: &'a MsgLayout => addr,
        /// The provided-buffer group.
        group: select => buf_group,
        /// `MSG_*` flags of `recvmsg(2)`.
        msg_flags: MsgFlags = MsgFlags::empty() => msg_flags,
        const len = 1,
        const ioprio = crate::sys::IORING_RECV_MULTISHOT,
    }

    /// Removes the timeout whose `user_data` is `target_user_data`.
    /// Completes with 0, `-ENOENT` when no pending timeout matched (one that
    /// already fired no longer does), `-EALREADY` when it was firing; the
    /// removed timeout completes with `-ECANCELED`.
    #[since = "5.5"]
    pub unsafe struct TimeoutRemove = TIMEOUT_REMOVE {
        /// The `user_data` of the timeout to remove.
        target_user_data: u64 => addr,
        const fd = -1,
    }

    /// Sets a new time on the pending timeout whose `user_data` is
    /// `target_user_data`, counting from now (5.11). Completes with 0,
    /// `-ENOENT` when no pending timeout matched (a link timeout is not
    /// one: `LinkTimeoutUpdate` updates those). The timeout then fires once,
    /// at its new time: an update drops the count of completions it was
    /// waiting for. The timespec is kept by the ring until the kernel has
    /// read it. In a scope that left the timeout untagged, an update flagged
    /// multishot completes with `-EINVAL`.
    #[since = "5.11"]
    pub unsafe struct TimeoutUpdate = TIMEOUT_REMOVE {
        /// The `user_data` of the timeout to update.
        target_user_data: u64 => addr,
        /// The new time (a duration, or when, with `TimeoutFlags::ABS`).
        #[ring_owned]
        timeout: impl Into<Timespec> => addr2,
        /// `TimeoutFlags::ABS` or nothing: the time is on the timeout's own
        /// clock, and Linux refuses every other flag here (`-EINVAL`,
        /// which also stops the submission at this SQE).
        timeout_flags: TimeoutFlags = TimeoutFlags::empty() => |timeout_flags,
        const |timeout_flags = crate::sys::IORING_TIMEOUT_UPDATE,
        const fd = -1,
    }

    /// Sets a new time on the pending link timeout whose `user_data` is
    /// `target_user_data` (5.15). Completes as `TimeoutUpdate` does
    /// (`-ENOENT` for a plain timeout); a time of zero fires the link
    /// timeout at once, and its op ends with `-ECANCELED`.
    #[since = "5.15"]
    pub unsafe struct LinkTimeoutUpdate = TIMEOUT_REMOVE {
        /// The `user_data` of the link timeout to update.
        target_user_data: u64 => addr,
        /// The new time.
        #[ring_owned]
        timeout: impl Into<Timespec> => addr2,
        /// `TimeoutFlags::ABS` or nothing, as for `TimeoutUpdate`.
        timeout_flags: TimeoutFlags = TimeoutFlags::empty() => |timeout_flags,
        // The kernel takes a link timeout update as an update (both bits),
        // and as a removal of a plain timeout without the first.
        const |timeout_flags = crate::sys::IORING_TIMEOUT_UPDATE | crate::sys::IORING_LINK_TIMEOUT_UPDATE,
        const fd = -1,
    }

    /// Allocates or deallocates space in a file, like `fallocate(2)`.
    /// Completes with 0.
    #[since = "5.6"]
    pub unsafe struct Fallocate = FALLOCATE {
        target: fd | fixed,
        /// The length of the range.
        len: u64 => addr,
        /// The start of the range.
        offset: u64 = 0 => off,
        /// `FALLOC_FL_*` mode flags; 0 allocates.
        mode: i32 = 0 => len,
    }

    /// Replaces registered files from slot `at` on with `fds` (`None`
    /// empties a slot); with [`FilesAt::ALLOC`], puts them in free slots and
    /// writes the slots chosen back into `fds`. Completes with the number of
    /// slots updated. Into free slots, the update stops at the first `None`:
    /// the entries from there on are left as given (descriptors or -1, not
    /// slots), which the count tells.
    #[since = "5.6"]
    pub unsafe struct FilesUpdate<'a, 'b> = FILES_UPDATE {
        /// The descriptors (the kernel takes its own references).
        fds: &'a mut FileUpdates<'b> => addr + len,
        /// The first slot to update, held exclusively, or free slots.
        at: FilesAt<'a> => off,
        const fd = -1,
    }

    /// Reads a file's status, like `statx(2)`, into `statx`. Completes with
    /// 0.
    #[since = "5.6"]
    pub unsafe struct Statx<'a> = STATX {
        target: fd,
        /// The path, relative to the directory `fd` (`AT_FDCWD` for the
        /// working directory; empty with `AT_EMPTY_PATH` for `fd` itself).
        path: &'a CStr => addr,
        /// Where the kernel writes the status.
        statx: &'a mut libc::statx => addr2,
        /// `AT_*` flags.
        statx_flags: i32 = 0 => statx_flags,
        /// The `STATX_*` fields wanted.
        mask: u32 = libc::STATX_BASIC_STATS => len,
    }

    /// Gives advice about a file range, like `posix_fadvise(2)`. Completes
    /// with 0.
    #[since = "5.6"]
    pub unsafe struct Fadvise = FADVISE {
        target: fd | fixed,
        /// `POSIX_FADV_*` advice.
        advice: i32 => fadvise_advice,
        /// The start of the range.
        offset: u64 = 0 => off,
        /// The length of the range; 0 is to the end of the file. (Lengths
        /// above 4 GiB need Linux 6.7.)
        len: u64 = 0 => addr + len,
    }

    /// Gives advice about a memory range, like `madvise(2)`. Completes with
    /// 0.
    #[since = "5.6"]
    pub unsafe struct Madvise = MADVISE {
        /// The memory.
        range: MadviseRange => addr + addr2 + len,
        /// `MADV_*` advice.
        advice: i32 => fadvise_advice,
        const fd = -1,
    }

    /// Opens `path` relative to the directory `dirfd` as `how` says, like
    /// `openat2(2)`. Completes with the new descriptor.
    #[since = "5.6"]
    pub unsafe struct OpenAt2<'a> = OPENAT2 {
        target: fd,
        /// The path.
        path: &'a CStr => addr,
        /// Flags, mode and resolution rules (`struct open_how`).
        how: &'a libc::open_how => addr2 + len,
        /// A regular descriptor, or a direct one (5.15).
        direct: DirectSlot<'a> = DirectSlot::NONE => file_index,
    }

    /// Adds, changes or removes `fd` in the epoll set, like `epoll_ctl(2)`.
    /// Completes with 0.
    #[since = "5.6"]
    pub unsafe struct EpollCtl<'a> = EPOLL_CTL {
        target: fd,
        /// `EPOLL_CTL_ADD`, `EPOLL_CTL_MOD` or `EPOLL_CTL_DEL`.
        op: i32 => len,
        /// The descriptor to watch.
        fd: impl Into<Fd<'a>> => addr2,
        /// The events and data (ignored by `EPOLL_CTL_DEL`).
        event: &'a libc::epoll_event => addr,
    }

    /// Moves up to `len` bytes from `input` to the target, one of them a
    /// pipe, like `splice(2)`. Completes with the number of bytes moved.
    #[since = "5.7"]
    pub unsafe struct Splice<'a> = SPLICE {
        target: fd | fixed,
        /// Where the bytes come from (a fixed file sets `SPLICE_F_FD_IN_FIXED`).
        input: impl Into<SpliceSource<'a>> => splice_fd_in + |splice_flags,
        /// How many bytes.
        len: u32 => len,
        /// The offset in `input`; `u64::MAX` for its position (a pipe
        /// takes nothing else: `ESPIPE`).
        offset_in: u64 = u64::MAX => splice_off_in,
        /// The offset in the target; `u64::MAX` for its position (a pipe
        /// takes nothing else: `ESPIPE`).
        offset_out: u64 = u64::MAX => off,
        /// `SPLICE_F_*` flags.
        splice_flags: SpliceFlags = SpliceFlags::empty() => |splice_flags,
    }

    /// Removes `count` buffers from the provided-buffer `group`. Completes
    /// with the number removed.
    #[since = "5.7"]
    pub unsafe struct RemoveBuffers = REMOVE_BUFFERS {
        /// How many buffers.
        count: u32 => fd,
        /// The group.
        group: BufferGroup => buf_group,
    }

    /// Copies up to `len` bytes from the pipe `input` to the target pipe
    /// without consuming them, like `tee(2)`. Completes with the number of
    /// bytes copied.
    #[since = "5.8"]
    pub unsafe struct Tee<'a> = TEE {
        target: fd | fixed,
        /// The pipe the bytes come from.
        input: impl Into<SpliceSource<'a>> => splice_fd_in + |splice_flags,
        /// How many bytes.
        len: u32 => len,
        /// `SPLICE_F_*` flags.
        splice_flags: SpliceFlags = SpliceFlags::empty() => |splice_flags,
    }

    /// Shuts down part of a full-duplex connection, like `shutdown(2)`.
    /// Completes with 0.
    #[since = "5.11"]
    pub unsafe struct Shutdown = SHUTDOWN {
        target: fd | fixed,
        /// `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`.
        how: i32 => len,
    }

    /// Renames `old_path` (relative to the target directory) to `new_path`
    /// (relative to `new_dir`), like `renameat2(2)`. Completes with 0.
    #[since = "5.11"]
    pub unsafe struct RenameAt<'a> = RENAMEAT {
        target: fd,
        /// The path to rename.
        old_path: &'a CStr => addr,
        /// The directory of the new path.
        new_dir: impl Into<Fd<'a>> => len,
        /// The new path.
        new_path: &'a CStr => addr2,
        /// `RENAME_*` flags.
        rename_flags: u32 = 0 => rename_flags,
    }

    /// Removes `path` (a directory with `AT_REMOVEDIR`), relative to the
    /// target directory, like `unlinkat(2)`. Completes with 0.
    #[since = "5.11"]
    pub unsafe struct UnlinkAt<'a> = UNLINKAT {
        target: fd,
        /// The path.
        path: &'a CStr => addr,
        /// `AT_REMOVEDIR` or 0.
        unlink_flags: i32 = 0 => unlink_flags,
    }

    /// Creates the directory `path`, relative to the target directory, like
    /// `mkdirat(2)`. Completes with 0.
    #[since = "5.15"]
    pub unsafe struct MkdirAt<'a> = MKDIRAT {
        target: fd,
        /// The path.
        path: &'a CStr => addr,
        /// The permissions (before the umask).
        mode: u32 = 0o777 => len,
    }

    /// Creates `link_path` (relative to the target directory) as a symbolic
    /// link to `link_target`, like `symlinkat(2)`. Completes with 0.
    #[since = "5.15"]
    pub unsafe struct SymlinkAt<'a> = SYMLINKAT {
        target: fd,
        /// What the link points to.
        link_target: &'a CStr => addr,
        /// The link to create.
        link_path: &'a CStr => addr2,
    }

    /// Creates `new_path` (relative to `new_dir`) as a hard link to
    /// `old_path` (relative to the target directory), like `linkat(2)`.
    /// Completes with 0.
    #[since = "5.15"]
    pub unsafe struct LinkAt<'a> = LINKAT {
        target: fd,
        /// The existing file.
        old_path: &'a CStr => addr,
        /// The directory of the new link.
        new_dir: impl Into<Fd<'a>> => len,
        /// The new link.
        new_path: &'a CStr => addr2,
        /// `AT_SYMLINK_FOLLOW` or 0.
        hardlink_flags: i32 = 0 => hardlink_flags,
    }

    /// Posts a completion with `res` and `data` (as its `user_data`) to the
    /// target ring, given as `&ring`. Completes with 0 on this ring. (A ring
    /// lends out no descriptor, so the `&Ring` is the only way to name one:
    /// a ring in a scope cannot be named, which keeps its completions the
    /// kernel's.) The kernel refuses a message sent under a personality
    /// (`.personality(..)`: `EINVAL`).
    #[since = "5.18"]
    pub unsafe struct MsgRing = MSG_RING {
        target: fd,
        /// The result the target ring's completion carries.
        res: i32 => len,
        /// The `user_data` the target ring's completion carries.
        data: u64 => off,
        /// `IORING_MSG_RING_*` flags.
        msg_ring_flags: MsgRingFlags = MsgRingFlags::empty() => |msg_ring_flags,
        /// The `flags` the target ring's completion carries
        /// (`IORING_MSG_RING_FLAGS_PASS`, 6.3); 0 without.
        cqe_flags: impl Into<PassCqeFlags> = PassCqeFlags::NONE => file_index + |msg_ring_flags,
        const addr = crate::sys::IORING_MSG_DATA,
    }

    /// Passes the registered file `source`, a slot of this ring's table, to
    /// the ring `dest` names, into a slot of its table: one held
    /// exclusively, or a free one the kernel picks (6.0). Completes on this
    /// ring with 0, or with the slot picked for a free one; the target ring
    /// gets a completion carrying `data` (and the same result) unless
    /// `MsgRingFlags::CQE_SKIP`. The source slot is read when the message
    /// is issued: an empty one fails with `EBADF`, and nothing reaches the
    /// target. Refused under a personality (`EINVAL`), as `MsgRing` is.
    #[since = "6.0"]
    pub unsafe struct MsgRingFd<'a> = MSG_RING {
        /// The target ring, and the slot of its table.
        dest: RingSlot<'a> => fd + file_index,
        /// The registered file to pass.
        source: Fixed<'a> => addr3,
        /// The `user_data` of the target ring's completion.
        data: u64 => off,
        /// `IORING_MSG_RING_*` flags: skip the target's completion.
        msg_ring_flags: MsgRingFlags = MsgRingFlags::empty() => msg_ring_flags,
        const addr = crate::sys::IORING_MSG_SEND_FD,
    }

    /// Sets the extended attribute `name` of the target file to `value`,
    /// like `fsetxattr(2)`. Completes with 0.
    #[since = "5.19"]
    pub unsafe struct FSetXattr<'a> = FSETXATTR {
        target: fd | fixed,
        /// The attribute's name (`user.something`).
        name: &'a CStr => addr,
        /// Its value.
        value: &'a [u8] => addr2 + len,
        /// `XATTR_CREATE`, `XATTR_REPLACE` or 0.
        xattr_flags: i32 = 0 => xattr_flags,
    }

    /// Sets the extended attribute `name` of `path` to `value`, like
    /// `setxattr(2)`. Completes with 0.
    #[since = "5.19"]
    pub unsafe struct SetXattr<'a> = SETXATTR {
        /// The file.
        path: &'a CStr => addr3,
        /// The attribute's name.
        name: &'a CStr => addr,
        /// Its value.
        value: &'a [u8] => addr2 + len,
        /// `XATTR_CREATE`, `XATTR_REPLACE` or 0.
        xattr_flags: i32 = 0 => xattr_flags,
    }

    /// Reads the extended attribute `name` of the target file into `value`,
    /// like `fgetxattr(2)`. Completes with the attribute's length.
    #[since = "5.19"]
    pub unsafe struct FGetXattr<'a> = FGETXATTR {
        target: fd | fixed,
        /// The attribute's name.
        name: &'a CStr => addr,
        /// Where to read its value.
        value: &'a mut [u8] => addr2 + len,
    }

    /// Reads the extended attribute `name` of `path` into `value`, like
    /// `getxattr(2)`. Completes with the attribute's length.
    #[since = "5.19"]
    pub unsafe struct GetXattr<'a> = GETXATTR {
        /// The file.
        path: &'a CStr => addr3,
        /// The attribute's name.
        name: &'a CStr => addr,
        /// Where to read its value.
        value: &'a mut [u8] => addr2 + len,
    }

    /// Creates a socket, like `socket(2)`. Completes with its descriptor.
    #[since = "5.19"]
    pub unsafe struct Socket<'a> = SOCKET {
        /// `AF_INET`, `AF_INET6` or `AF_UNIX` (any other fails with
        /// `EAFNOSUPPORT` unless made with `unsafe` [`SocketDomain::any`]).
        domain: impl Into<SocketDomain> => fd,
        /// `SOCK_STREAM`, `SOCK_DGRAM`, `SOCK_SEQPACKET` or `SOCK_RAW`, with
        /// `SOCK_CLOEXEC` or `SOCK_NONBLOCK` or-ed in (any other fails with
        /// `EINVAL`).
        socket_type: impl Into<SocketType> => off,
        /// The protocol; 0 picks the domain's default.
        protocol: i32 = 0 => len,
        /// A regular descriptor, or a direct one. The kernel refuses
        /// `SOCK_CLOEXEC` for a direct descriptor (`EINVAL`), and the slot
        /// is left as it was.
        direct: DirectSlot<'a> = DirectSlot::NONE => file_index,
    }

    /// A command to the target file's driver, which interprets `cmd_op`
    /// as it likes (so a raw [`UringCmdOp`] is made unsafely). Completes
    /// with the command's result.
    #[since = "5.19"]
    pub unsafe struct UringCmd = URING_CMD {
        target: fd | fixed,
        /// The command.
        cmd_op: UringCmdOp => cmd_op,
    }

    /// A command with a 16-byte command area to the target file's driver,
    /// in an ordinary SQE (the bytes from offset 48, `sqe->cmd`; on a ring
    /// of [`Sqe128`](crate::Sqe128) SQEs the first 16 of its 80, the rest
    /// zero): a ublk command (`struct ublksrv_io_cmd`) to `/dev/ublkcN`,
    /// for one. Completes with the command's result.
    #[since = "5.19"]
    pub unsafe struct UringCmd16<'a> = URING_CMD {
        target: fd | fixed,
        /// The command.
        cmd_op: UringCmdOp => cmd_op,
        /// The command area.
        cmd: impl Into<Cmd16<'a>> => cmd,
    }

    /// A command with an 80-byte command area to the target file's driver,
    /// in a 128-byte SQE (rings of [`Sqe128`](crate::Sqe128) SQEs): an NVMe
    /// passthrough command ([`NvmeCmd`](crate::NvmeCmd), with
    /// [`NvmeCmd::IO`](crate::NvmeCmd::IO)) to `/dev/ngXnY`, for one.
    /// Completes with the command's result; on a ring of
    /// [`Cqe32`](crate::Cqe32) CQEs the driver may fill the big CQE.
    #[since = "5.19"]
    #[sqe128]
    pub unsafe struct UringCmd80<'a> = URING_CMD {
        target: fd | fixed,
        /// The command.
        cmd_op: UringCmdOp => cmd_op,
        /// The command area.
        cmd: impl Into<Cmd80<'a>> => cmd,
    }

    /// [`UringCmd80`] whose command moves its data through the registered
    /// buffer `index` (`IORING_URING_CMD_FIXED`, 6.1): the driver uses that
    /// buffer's pinned pages instead of mapping the memory the command
    /// names, which must lie inside it (the kernel fails the op with
    /// `EFAULT` otherwise). NVMe passthrough over registered buffers, for
    /// one. Completes with the command's result.
    #[since = "6.1"]
    #[sqe128]
    pub unsafe struct UringCmd80Fixed<'a> = URING_CMD {
        target: fd | fixed,
        /// The command.
        cmd_op: UringCmdOp => cmd_op,
        /// The command area.
        cmd: impl Into<Cmd80<'a>> => cmd,
        /// The registered buffer the command's data lies in.
        index: FixedBuf => buf_index,
        const uring_cmd_flags = crate::sys::IORING_URING_CMD_FIXED,
    }

    /// Sends `buf` on a socket without copying it, like `send(2)` with
    /// `MSG_ZEROCOPY`. Completes twice: with the bytes sent or an error
    /// (flagged `IORING_CQE_F_MORE`), then, once the kernel no longer needs
    /// `buf`, with a notification (`IORING_CQE_F_NOTIF`). A send cancelled
    /// by its link completes `-ECANCELED` without `F_MORE`, and its
    /// notification follows all the same; outside a scope, the kernel
    /// refuses `CQE_SKIP_SUCCESS` on it (`EINVAL`, no notification).
    #[since = "6.0"]
    pub unsafe struct SendZc<'a> = SEND_ZC {
        target: fd | fixed,
        /// The bytes to send; borrowed until the notification.
        buf: &'a [u8] => addr + len,
        /// `MSG_*` flags of `send(2)`.
        msg_flags: MsgFlags = MsgFlags::empty() => msg_flags,
        /// `IORING_RECVSEND_*` and `IORING_SEND_ZC_*` flags.
        send_flags: SendZcFlags = SendZcFlags::empty() => ioprio,
        /// Where to send, on an unconnected datagram socket.
        dest: Option<&'a SockAddr> = None => addr2 + addr_len,
    }

    /// Sends a message without copying its buffers, like `sendmsg(2)` with
    /// `MSG_ZEROCOPY`. Completes twice, as `SendZc` does.
    #[since = "6.1"]
    pub unsafe struct SendMsgZc<'a, 'b> = SENDMSG_ZC {
        target: fd | fixed,
        /// The message; borrowed until the notification.
        msg: &'a MsgHdr<'b> => addr,
        /// `MSG_*` flags of `sendmsg(2)`.
        msg_flags: MsgFlags = MsgFlags::empty() => msg_flags,
        /// `IORING_RECVSEND_*` and `IORING_SEND_ZC_*` flags.
        send_flags: SendZcFlags = SendZcFlags::empty() => ioprio,
        const len = 1,
    }

    /// Sends `buf`, which lies inside the registered buffer `index`,
    /// without copying it (`IORING_RECVSEND_FIXED_BUF`, 6.0). Completes
    /// twice, as `SendZc` does.
    #[since = "6.0"]
    pub unsafe struct SendZcFixed<'a> = SEND_ZC {
        target: fd | fixed,
        /// The bytes to send, inside the registered buffer.
        buf: &'a [u8] => addr + len,
        /// The registered buffer `buf` lies in.
        index: FixedBuf => buf_index,
        /// `MSG_*` flags of `send(2)`.
        msg_flags: MsgFlags = MsgFlags::empty() => msg_flags,
        /// `IORING_RECVSEND_*` and `IORING_SEND_ZC_*` flags.
        send_flags: SendZcFlags = SendZcFlags::empty() => |ioprio,
        const |ioprio = crate::sys::IORING_RECVSEND_FIXED_BUF,
        /// Where to send, on an unconnected datagram socket.
        dest: Option<&'a SockAddr> = None => addr2 + addr_len,
    }

    /// Sends a message whose buffers lie inside the registered buffer
    /// `index`, without copying them (6.15). Completes twice, as `SendZc`
    /// does.
    #[since = "6.15"]
    pub unsafe struct SendMsgZcFixed<'a, 'b> = SENDMSG_ZC {
        target: fd | fixed,
        /// The message; its buffers lie inside the registered buffer.
        msg: &'a MsgHdr<'b> => addr,
        /// The registered buffer the message's buffers lie in.
        index: FixedBuf => buf_index,
        /// `MSG_*` flags of `sendmsg(2)`.
        msg_flags: MsgFlags = MsgFlags::empty() => msg_flags,
        /// `IORING_RECVSEND_*` and `IORING_SEND_ZC_*` flags.
        send_flags: SendZcFlags = SendZcFlags::empty() => |ioprio,
        const |ioprio = crate::sys::IORING_RECVSEND_FIXED_BUF,
        const len = 1,
    }

    /// The bytes waiting to be read on a socket (`SIOCINQ`), as a command
    /// to the socket (6.7). Completes with the count; on a socket whose
    /// protocol answers no such request, `EOPNOTSUPP` (every `AF_UNIX`
    /// socket on Linux 6.18, where `ioctl(2)` answers it all the same).
    #[since = "6.7"]
    pub unsafe struct SocketInq<'a> = URING_CMD {
        /// The socket.
        socket: impl Into<SocketFd<'a>> => fd,
        const cmd_op = crate::sys::SOCKET_URING_OP_SIOCINQ,
    }

    /// The bytes not yet sent, or not yet acknowledged, on a socket
    /// (`SIOCOUTQ`), as a command to the socket (6.7). Completes with the
    /// count; on a socket whose protocol answers no such request,
    /// `EOPNOTSUPP`, as [`SocketInq`] says.
    #[since = "6.7"]
    pub unsafe struct SocketOutq<'a> = URING_CMD {
        /// The socket.
        socket: impl Into<SocketFd<'a>> => fd,
        const cmd_op = crate::sys::SOCKET_URING_OP_SIOCOUTQ,
    }

    /// Reads a socket option into `optval`, like `getsockopt(2)` (6.7).
    /// Completes with the option's length. The option is one whose value
    /// the kernel writes as plain data, into the bytes lent and no further
    /// ([`SockOpt::SO_RCVBUF`], [`SockOpt::SO_ERROR`], ...), or one the
    /// caller vouches for ([`SockOpt::new`], `unsafe`): `SO_GET_FILTER`,
    /// for one, reads `optval`'s length as a count of 8-byte filter
    /// instructions and writes the whole filter. The kernel's command
    /// takes `SOL_SOCKET` options alone (others fail with `EOPNOTSUPP`, as
    /// of 6.18).
    #[since = "6.7"]
    pub unsafe struct GetSockOpt<'a> = URING_CMD {
        /// The socket.
        socket: impl Into<SocketFd<'a>> => fd,
        /// The level and the option.
        option: SockOpt => level + optname,
        /// Where the kernel writes the value.
        optval: &'a mut [u8] => optval + optlen,
        const cmd_op = crate::sys::SOCKET_URING_OP_GETSOCKOPT,
    }

    /// Sets a socket option from `optval`, like `setsockopt(2)` (6.7).
    /// Completes with 0. The option is one whose value the kernel reads as
    /// plain data ([`SockOpt::TCP_NODELAY`], [`SockOpt::SO_RCVBUF`], ...),
    /// or one the caller vouches for ([`SockOpt::new`], `unsafe`).
    #[since = "6.7"]
    pub unsafe struct SetSockOpt<'a> = URING_CMD {
        /// The socket.
        socket: impl Into<SocketFd<'a>> => fd,
        /// The level and the option.
        option: SockOpt => level + optname,
        /// The value.
        optval: &'a [u8] => optval + optlen,
        const cmd_op = crate::sys::SOCKET_URING_OP_SETSOCKOPT,
    }

    /// Takes the transmit timestamps off a socket's error queue (those
    /// `SO_TIMESTAMPING` asks for, queued without the packet: with
    /// `SOF_TIMESTAMPING_OPT_TSONLY`; others stay for `recvmsg(2)` with
    /// `MSG_ERRQUEUE`), as a command to the socket (6.17). Multishot, with
    /// no flag asking for it: it arms its own poll of the socket and
    /// completes once per timestamp, now and whenever more are queued,
    /// each completion flagged `IORING_CQE_F_MORE`, with the timestamp's
    /// key (the `SOF_TIMESTAMPING_OPT_ID` counter) in `res`, its type
    /// (`SCM_TSTAMP_*`) and `IORING_CQE_F_TSTAMP_HW` in the flags, and the
    /// time in the extra words of a 32-byte CQE
    /// ([`BigCqe::tx_timestamp`](crate::BigCqe::tx_timestamp) reads them).
    /// It stays armed until cancelled, its last completion (without
    /// `IORING_CQE_F_MORE`) then carrying `-ECANCELED`. The ring must have
    /// 32-byte CQEs ([`Cqe32`](crate::Cqe32), or
    /// [`CqeMixed`](crate::CqeMixed)): on one of 16-byte CQEs the op fails
    /// with `-EINVAL`.
    #[since = "6.17"]
    pub unsafe struct TxTimestamp<'a> = URING_CMD {
        /// The socket.
        socket: impl Into<SocketFd<'a>> => fd,
        const cmd_op = crate::sys::SOCKET_URING_OP_TX_TIMESTAMP,
    }

    /// Writes a socket's own address, or with `peer` its peer's, into
    /// `addr`, like `getsockname(2)` / `getpeername(2)` (6.19). Completes
    /// with 0.
    #[since = "6.19"]
    pub unsafe struct GetSockName<'a> = URING_CMD {
        /// The socket.
        socket: impl Into<SocketFd<'a>> => fd,
        /// Where the kernel writes the address.
        addr: &'a mut SockAddrBuf => addr + addr3,
        /// The peer's address rather than the socket's own.
        peer: bool = false => optlen,
        const cmd_op = crate::sys::SOCKET_URING_OP_GETSOCKNAME,
    }

    /// Discards `len` bytes of a block device from `offset` on, like the
    /// `BLKDISCARD` ioctl, as a command to the device (6.12). Completes
    /// with 0.
    #[since = "6.12"]
    pub unsafe struct BlockDiscard<'a> = URING_CMD {
        /// The block device.
        device: BlockDevice<'a> => fd,
        /// Where the range starts, in bytes.
        offset: u64 => addr,
        /// How many bytes.
        len: u64 => addr3,
        const cmd_op = crate::sys::BLOCK_URING_CMD_DISCARD,
    }

    /// Resets the write pointer of every sequential-write-required zone of
    /// a zoned block device, like the `BLKRESETZONE` ioctl over the whole
    /// device, as a command to the device (7.3). Completes with 0; with
    /// `-EOPNOTSUPP` on a device without zones, `-EBADF` through a
    /// descriptor not open for writing, `-EPERM` on a read-only device, and
    /// `-EINVAL` on a kernel without the command. Like the ioctl, it does
    /// not wait for other I/O to the device: the caller keeps reads and
    /// writes of its zones out of the way.
    #[since = "7.3"]
    pub unsafe struct BlockZoneResetAll<'a> = URING_CMD {
        /// The block device.
        device: BlockDevice<'a> => fd,
        const cmd_op = crate::sys::BLOCK_URING_CMD_ZONE_RESET_ALL,
    }

    /// Waits for a child process to change state, like `waitid(2)`, and
    /// writes what happened to `info`. Completes with 0. A wait that is
    /// cancelled (a scope's end among the ways) reaps nothing and writes
    /// nothing: the child is still to be waited for.
    #[since = "6.7"]
    pub unsafe struct WaitId<'a> = WAITID {
        /// The children to wait for: a process, a group, any, or a pidfd.
        who: WaitIdTarget<'a> => len + fd,
        /// `WEXITED`, `WSTOPPED`, `WCONTINUED`, `WNOHANG`, ...
        options: i32 => file_index,
        /// Where the kernel writes the child's state.
        info: &'a mut libc::siginfo_t => addr2,
    }

    /// Waits until `futex` no longer holds `value` (and a wake-up comes),
    /// like `futex_wait(2)`. Completes with 0, or `-EAGAIN` when the word
    /// did not hold `value` to begin with.
    #[since = "6.7"]
    pub unsafe struct FutexWait<'a> = FUTEX_WAIT {
        /// The futex word.
        futex: &'a AtomicU32 => addr,
        /// The value to wait on.
        value: u64 => addr2,
        /// The wake-up bits this waiter matches.
        mask: u64 = u64::from(u32::MAX) => addr3,
        /// `FUTEX2_*` flags (privacy; the word is 32 bits).
        futex_flags: FutexFlags = FutexFlags::empty() => fd,
    }

    /// Wakes up to `count` waiters of `futex`, like `futex_wake(2)`.
    /// Completes with the number woken.
    #[since = "6.7"]
    pub unsafe struct FutexWake<'a> = FUTEX_WAKE {
        /// The futex word.
        futex: &'a AtomicU32 => addr,
        /// How many waiters to wake: `i32::MAX` (as `futex(2)`'s
        /// `INT_MAX`) wakes them all. The kernel takes it as an `int`: a
        /// count from 2^31 to `u32::MAX` wakes one waiter, and one past
        /// `u32::MAX` is refused (`-EINVAL`).
        count: u64 => addr2,
        /// The wake-up bits; waiters whose mask shares one wake.
        mask: u64 = u64::from(u32::MAX) => addr3,
        /// `FUTEX2_*` flags (privacy; the word is 32 bits).
        futex_flags: FutexFlags = FutexFlags::empty() => fd,
    }

    /// Waits on several futexes at once, like `futex_waitv(2)`. Completes
    /// with the index of the one that woke.
    #[since = "6.7"]
    pub unsafe struct FutexWaitv<'a> = FUTEX_WAITV {
        /// The futexes and the values to wait on.
        futexes: &'a [FutexWaitV<'a>] => addr + len,
    }

    /// Installs a registered file as a regular descriptor of this process.
    /// Completes with the new descriptor (close-on-exec unless
    /// `IORING_FIXED_FD_NO_CLOEXEC`). The kernel refuses it under a
    /// personality (`.personality(..)`: `EPERM`).
    #[since = "6.8"]
    pub unsafe struct FixedFdInstall = FIXED_FD_INSTALL {
        target: fixed,
        /// `IORING_FIXED_FD_*` flags.
        install_fd_flags: InstallFlags = InstallFlags::empty() => install_fd_flags,
    }

    /// Truncates or extends a file to `len` bytes, like `ftruncate(2)`.
    /// Completes with 0.
    #[since = "6.9"]
    pub unsafe struct Ftruncate = FTRUNCATE {
        target: fd | fixed,
        /// The new length.
        len: u64 => off,
    }

    /// Binds a socket to `addr`, like `bind(2)`. Completes with 0.
    #[since = "6.11"]
    pub unsafe struct Bind<'a> = BIND {
        target: fd | fixed,
        /// The address.
        addr: &'a SockAddr => addr + addr2,
    }

    /// Marks a socket as listening, like `listen(2)`. Completes with 0.
    #[since = "6.11"]
    pub unsafe struct Listen = LISTEN {
        target: fd | fixed,
        /// The most pending connections to queue.
        backlog: i32 => len,
    }

    /// Receives without copying, into the memory of a zero-copy receive
    /// queue registered with the ring (`IORING_REGISTER_ZCRX_IFQ`).
    /// Completes with the bytes received per buffer, flagged
    /// `IORING_CQE_F_MORE` while more will come.
    #[since = "6.15"]
    pub unsafe struct RecvZc = RECV_ZC {
        target: fd | fixed,
        /// The receive queue's index.
        ifq: u32 => zcrx_ifq_idx,
        /// The most bytes to receive; 0 for no limit.
        len: u32 = 0 => len,
        /// `MSG_*` flags.
        msg_flags: MsgFlags = MsgFlags::empty() => msg_flags,
        const ioprio = crate::sys::IORING_RECV_MULTISHOT,
    }

    /// Waits for events on an epoll set, like `epoll_wait(2)` without a
    /// timeout. Completes with the number of events written to `events`.
    #[since = "6.15"]
    pub unsafe struct EpollWait<'a> = EPOLL_WAIT {
        target: fd | fixed,
        /// Where the kernel writes the events.
        events: &'a mut [libc::epoll_event] => addr + len,
    }

    /// Reads into several buffers, all inside the registered buffer
    /// `index`, at `offset`. Completes with the number of bytes read.
    #[since = "6.15"]
    pub unsafe struct ReadVFixed<'a, 'b> = READV_FIXED {
        target: fd | fixed,
        /// The buffers to read into, in order.
        iovecs: &'a mut [IoSliceMut<'b>] => addr + len,
        /// The registered buffer they lie in.
        index: FixedBuf => buf_index,
        /// Where in the file to read.
        offset: u64 = 0 => off,
        /// Per-read `RWF_*` flags.
        rw_flags: RwFlags = RwFlags::empty() => rw_flags,
        /// The I/O priority, as `ioprio_set(2)` takes it (a number, not
        /// flags: for reads and writes the kernel reads nothing else here).
        ioprio: u16 = 0 => ioprio,
        /// Protection information (6.14): a metadata buffer the read
        /// fills with the blocks' integrity tuples, and the checks the
        /// device makes. For `O_DIRECT` reads of a block device formatted
        /// with it; elsewhere the read fails.
        pi: impl Into<PiRef<'a>> = PiRef::NONE => attr_ptr + attr_type_mask,
    }

    /// Writes several buffers, all inside the registered buffer `index`, at
    /// `offset`. Completes with the number of bytes written.
    #[since = "6.15"]
    pub unsafe struct WriteVFixed<'a, 'b> = WRITEV_FIXED {
        target: fd | fixed,
        /// The buffers to write, in order.
        iovecs: &'a [IoSlice<'b>] => addr + len,
        /// The registered buffer they lie in.
        index: FixedBuf => buf_index,
        /// Where in the file to write.
        offset: u64 = 0 => off,
        /// Per-write `RWF_*` flags.
        rw_flags: RwFlags = RwFlags::empty() => rw_flags,
        /// The I/O priority, as `ioprio_set(2)` takes it (a number, not
        /// flags: for reads and writes the kernel reads nothing else here).
        ioprio: u16 = 0 => ioprio,
        /// The write stream (a data placement hint of block devices that
        /// have them, such as NVMe drives with flexible data placement;
        /// 6.16): 0, the default, for none. A direct (`O_DIRECT`) write to
        /// a block device fails with `EINVAL` for a stream the device does
        /// not have; file systems and buffered writes ignore the stream.
        write_stream: u8 = 0 => write_stream,
        /// Protection information (6.14): a metadata buffer the write
        /// takes the blocks' integrity tuples from, and the checks the
        /// device makes. For `O_DIRECT` writes to a block device formatted
        /// with it; elsewhere the write fails.
        pi: impl Into<PiRef<'a>> = PiRef::NONE => attr_ptr + attr_type_mask,
    }

    /// Creates a pipe, like `pipe2(2)`, writing its read and write ends to
    /// `fds`. Completes with 0. In a scope, a pipe over the first eight
    /// bytes of a buffer given with `push_owned` hands its ends over with
    /// [`ScopeCqe::take_pipe`](crate::ScopeCqe::take_pipe).
    #[since = "6.16"]
    pub unsafe struct Pipe<'a> = PIPE {
        /// Where the kernel writes the two descriptors: a `&mut [RawFd; 2]`
        /// or a `&mut [u8; 8]`.
        fds: impl Into<PipeFds<'a>> => addr,
        /// `O_CLOEXEC`, `O_NONBLOCK`, `O_DIRECT` or 0.
        pipe_flags: i32 = libc::O_CLOEXEC => pipe_flags,
        /// Regular descriptors, or direct ones: at a slot and the next (held
        /// with `FixedFiles::get_mut`, see [`PipeSlots`]), or in two free
        /// slots written to `fds`. The kernel refuses `O_CLOEXEC` for
        /// direct descriptors (`EINVAL`): clear it with `.pipe_flags(..)`.
        direct: impl Into<PipeSlots<'a>> = PipeSlots::NONE => file_index,
    }

    /// Sends several buffers on a socket in one go, in order, like
    /// `sendmsg(2)` of a message with only these iovecs, or to `dest` on an
    /// unconnected datagram socket (`IORING_SEND_VECTORIZED`, 6.17: `addr`
    /// and `len` are the iovec array and its length). Completes with the
    /// number of bytes sent. A kernel without the flag refuses the op
    /// (`EINVAL`).
    #[since = "6.17"]
    pub unsafe struct SendV<'a, 'b> = SEND {
        target: fd | fixed,
        /// The buffers to send, in order.
        iovecs: &'a [IoSlice<'b>] => addr + len,
        /// `MSG_*` flags of `send(2)`.
        msg_flags: MsgFlags = MsgFlags::empty() => msg_flags,
        /// `IORING_RECVSEND_*` flags: poll first. (A bundle, without a
        /// provided buffer, may post a last completion of 0 after the count
        /// on Linux 6.18; older kernels refuse it.)
        send_flags: SendFlags = SendFlags::empty() => |ioprio,
        const |ioprio = crate::sys::IORING_SEND_VECTORIZED,
        /// Where to send, on an unconnected datagram socket.
        dest: Option<&'a SockAddr> = None => addr2 + addr_len,
    }

    /// Sends several buffers on a socket without copying them, in order
    /// (`IORING_SEND_VECTORIZED` on `SEND_ZC`, 6.17: `addr` and `len` are
    /// the iovec array and its length). Completes twice, as `SendZc` does;
    /// the buffers are borrowed until the notification. A kernel without
    /// the flag refuses the op (`EINVAL`).
    #[since = "6.17"]
    pub unsafe struct SendZcV<'a, 'b> = SEND_ZC {
        target: fd | fixed,
        /// The buffers to send, in order; borrowed until the notification.
        iovecs: &'a [IoSlice<'b>] => addr + len,
        /// `MSG_*` flags of `send(2)`.
        msg_flags: MsgFlags = MsgFlags::empty() => msg_flags,
        /// `IORING_RECVSEND_*` and `IORING_SEND_ZC_*` flags.
        send_flags: SendZcFlags = SendZcFlags::empty() => |ioprio,
        const |ioprio = crate::sys::IORING_SEND_VECTORIZED,
        /// Where to send, on an unconnected datagram socket.
        dest: Option<&'a SockAddr> = None => addr2 + addr_len,
    }

    /// Looks up the target file, as an op that uses one does, then
    /// completes as `Nop` does (`IORING_NOP_FILE`, 6.13): with 0, or the
    /// injected result. A descriptor that is not open, or an empty
    /// fixed-file slot, fails the NOP, and what is linked after it is
    /// cancelled (Linux 6.18 completes it with `-EBADF`; the first kernels
    /// with the flag post its own result). The kernel takes a fixed
    /// target's slot from `fd` with `IORING_NOP_FIXED_FILE`, which the
    /// target's type sets. Kernels before 6.13 fail the NOP with `EINVAL`
    /// (before 6.10 they ignore `nop_flags`: the NOP completes with 0
    /// whatever the file).
    #[since = "6.13"]
    pub unsafe struct NopFile = NOP {
        target: fd | fixed,
        // `T` is the target's type parameter, which the macro names `T`:
        // the kernel reads a fixed target's slot from `fd` only with
        // `IORING_NOP_FIXED_FILE` (`IOSQE_FIXED_FILE`, which the target
        // sets too, is not what it checks).
        const |nop_flags = crate::sys::IORING_NOP_FILE
            | if <T as crate::Target>::FIXED { crate::sys::IORING_NOP_FIXED_FILE } else { 0 },
        /// The result to complete with instead of 0
        /// (`IORING_NOP_INJECT_RESULT`).
        result: impl Into<NopResult> = NopResult::NONE => len + |nop_flags,
        /// A registered buffer to look up as well (`IORING_NOP_FIXED_BUFFER`).
        buffer: impl Into<NopBuffer> = NopBuffer::NONE => buf_index + |nop_flags,
        /// Complete through task work (`IORING_NOP_TW`, 6.17).
        task_work: impl Into<NopTaskWork> = NopTaskWork::NONE => |nop_flags,
        /// The words of a 32-byte CQE to post (`IORING_NOP_CQE32`, 6.18).
        big_cqe: impl Into<NopBigCqe> = NopBigCqe::NONE => off + addr + |nop_flags,
    }

    /// Reads at `offset`, like `preadv2(2)` of one iovec, into a provided
    /// buffer of `group` the kernel picks: at most `cap.iov_len` bytes, or
    /// the whole buffer when that is 0 or more than the buffer holds. The
    /// kernel copies `cap` when it takes the SQE and uses its length alone,
    /// never its base, which may be null (liburing's
    /// `io_uring_prep_readv(sqe, fd, &iov, 1, off)` with
    /// `IOSQE_BUFFER_SELECT`). Completes with the number of bytes read and
    /// the buffer's id; with `-ENOBUFS` when the group has no buffer.
    #[since = "5.7"]
    pub unsafe struct ReadVSelect<'a> = READV {
        target: fd | fixed,
        /// The one iovec whose length caps the read.
        cap: &'a libc::iovec => addr,
        /// The provided-buffer group.
        group: select => buf_group,
        /// Where in the file to read.
        offset: u64 = 0 => off,
        /// Per-read `RWF_*` flags.
        rw_flags: RwFlags = RwFlags::empty() => rw_flags,
        /// The I/O priority, as `ioprio_set(2)` takes it (a number, not
        /// flags: for reads and writes the kernel reads nothing else here).
        ioprio: u16 = 0 => ioprio,
        const len = 1,
    }

    /// Receives a message, like `recvmsg(2)`, its payload into a provided
    /// buffer of `group` the kernel picks (liburing's
    /// `io_uring_prep_recvmsg` with `IOSQE_BUFFER_SELECT`). The sender's
    /// address and the ancillary data go where `msg` says, and the kernel
    /// writes their lengths and the flags back into it, as for `RecvMsg`.
    /// The buffers of `msg` receive nothing: with none, the payload may fill
    /// the whole provided buffer; with one, its length caps the payload
    /// (its bytes are left alone); with more, the kernel refuses the op
    /// (`EINVAL`). Completes with the number of bytes received and the
    /// buffer's id; with `-ENOBUFS` when the group has no buffer.
    #[since = "5.7"]
    pub unsafe struct RecvMsgSelect<'a, 'b> = RECVMSG {
        target: fd | fixed,
        /// The message header: room for the address and ancillary data.
        msg: &'a mut MsgHdrMut<'b> => addr,
        /// The provided-buffer group.
        group: select => buf_group,
        /// `MSG_*` flags of `recvmsg(2)`.
        msg_flags: MsgFlags = MsgFlags::empty() => msg_flags,
        /// `IORING_RECVSEND_*` flags: poll first.
        recv_flags: SendFlags = SendFlags::empty() => ioprio,
        const len = 1,
    }
}
