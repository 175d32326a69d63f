//! Structures of `linux/io_uring.h`, field for field.
//!
//! Names follow the header exactly so that a reader who knows the C API finds
//! every field where they expect it. Anonymous unions of the header become
//! named unions here (`io_uring_sqe_off` for the union that holds `off`, and so
//! on); anonymous structs inside them become `io_uring_sqe_*` structs.
//!
//! Every member of an SQE union spans the whole union. The header's three
//! narrower ones are left out: `poll_events` (the 16-bit view of
//! `poll32_events`), `optval` (the first eight bytes of `addr3`) and `cmd`
//! (a zero-length array marking where a command starts, at `addr3`). A
//! union made from one of them would leave bytes uninitialised, which an
//! SQE's `Debug`, its copy into a ring, or any read of a wider member would
//! then read: as Rust is defined, undefined behaviour, from safe code. So
//! an `io_uring_sqe` built in safe code has every byte initialised.

#![allow(non_camel_case_types, missing_docs)]

/// The `struct __kernel_timespec` that io_uring reads timeouts from.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct __kernel_timespec {
    pub tv_sec: i64,
    pub tv_nsec: i64,
}

/// `struct io_uring_sqe`: one submission queue entry, 64 bytes.
///
/// The library reads an SQE whole (to copy it into a ring, to print it),
/// so every byte of one handed to it must be initialised. An SQE built in
/// safe code always is (every member of its unions spans the union); one
/// assembled through `MaybeUninit` or raw writes must be too.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct io_uring_sqe {
    /// Type of operation for this SQE (`IORING_OP_*`).
    pub opcode: u8,
    /// `IOSQE_*` flags.
    pub flags: u8,
    /// I/O priority, or op-specific flags for some ops.
    pub ioprio: u16,
    /// File descriptor (or fixed-file index) to do I/O on.
    pub fd: i32,
    pub off: io_uring_sqe_off,
    pub addr: io_uring_sqe_addr,
    /// Buffer size or number of iovecs.
    pub len: u32,
    pub op_flags: io_uring_sqe_op_flags,
    /// Data passed back at completion time.
    pub user_data: u64,
    pub buf: io_uring_sqe_buf,
    /// Personality to use, if any.
    pub personality: u16,
    pub file: io_uring_sqe_file,
    pub addr3: io_uring_sqe_addr3,
}

/// The union of `off`, `addr2` and `{cmd_op, __pad1}`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union io_uring_sqe_off {
    pub off: u64,
    pub addr2: u64,
    pub cmd: io_uring_sqe_cmd,
}

/// `{cmd_op, __pad1}` of the `off` union.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_sqe_cmd {
    pub cmd_op: u32,
    pub __pad1: u32,
}

/// The union of `addr`, `splice_off_in` and `{level, optname}`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union io_uring_sqe_addr {
    pub addr: u64,
    pub splice_off_in: u64,
    pub sockopt: io_uring_sqe_sockopt,
}

/// `{level, optname}` of the `addr` union.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_sqe_sockopt {
    pub level: u32,
    pub optname: u32,
}

/// The union of the per-op flag words (`rw_flags`, `fsync_flags`, ...);
/// the header's 16-bit `poll_events` is `poll32_events` here (see the
/// module's docs).
#[repr(C)]
#[derive(Clone, Copy)]
pub union io_uring_sqe_op_flags {
    pub rw_flags: i32,
    pub fsync_flags: u32,
    pub poll32_events: u32,
    pub sync_range_flags: u32,
    pub msg_flags: u32,
    pub timeout_flags: u32,
    pub accept_flags: u32,
    pub cancel_flags: u32,
    pub open_flags: u32,
    pub statx_flags: u32,
    pub fadvise_advice: u32,
    pub splice_flags: u32,
    pub rename_flags: u32,
    pub unlink_flags: u32,
    pub hardlink_flags: u32,
    pub xattr_flags: u32,
    pub msg_ring_flags: u32,
    pub uring_cmd_flags: u32,
    pub waitid_flags: u32,
    pub futex_flags: u32,
    pub install_fd_flags: u32,
    pub nop_flags: u32,
    pub pipe_flags: u32,
}

/// The union of `buf_index` and `buf_group` (packed in the header).
#[repr(C, packed)]
#[derive(Clone, Copy)]
pub union io_uring_sqe_buf {
    pub buf_index: u16,
    pub buf_group: u16,
}

/// The union of `splice_fd_in`, `file_index`, `zcrx_ifq_idx`, `optlen`,
/// `{addr_len, __pad3}` and `{write_stream, __pad4}`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union io_uring_sqe_file {
    pub splice_fd_in: i32,
    pub file_index: u32,
    pub zcrx_ifq_idx: u32,
    pub optlen: u32,
    pub addr_len: io_uring_sqe_addr_len,
    pub write_stream: io_uring_sqe_write_stream,
}

/// `{addr_len, __pad3}` of the `file` union.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_sqe_addr_len {
    pub addr_len: u16,
    pub __pad3: [u16; 1],
}

/// `{write_stream, __pad4}` of the `file` union: the write stream of a
/// read or write (6.16).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_sqe_write_stream {
    pub write_stream: u8,
    pub __pad4: [u8; 3],
}

/// The last 16 bytes of an SQE: `{addr3, __pad2}`. The header's `optval`
/// is `addr3.addr3`, and its `cmd` (the command of a `URING_CMD`, 16 bytes
/// here and 80 in a 128-byte SQE) starts at the same place (see the
/// module's docs).
#[repr(C)]
#[derive(Clone, Copy)]
pub union io_uring_sqe_addr3 {
    pub addr3: io_uring_sqe_addr3_pad,
    pub attr: io_uring_sqe_attr,
}

/// `{attr_ptr, attr_type_mask}` of the last union: the attributes of a
/// read or write (6.13), a pointer to them and a mask of their kinds
/// (`IORING_RW_ATTR_FLAG_*`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_sqe_attr {
    pub attr_ptr: u64,
    pub attr_type_mask: u64,
}

/// `struct io_uring_attr_pi`: the protection information attribute of a
/// read or write (6.13), which `attr_ptr` points to when `attr_type_mask`
/// has `IORING_RW_ATTR_FLAG_PI`. The kernel copies it when it prepares
/// the op, and checks or fills the `len` bytes at `addr` until the op
/// completes.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_attr_pi {
    /// `IO_INTEGRITY_CHK_*` flags: what the device checks.
    pub flags: u16,
    /// The application tag the device checks against.
    pub app_tag: u16,
    /// The length of the metadata buffer.
    pub len: u32,
    /// The address of the metadata buffer.
    pub addr: u64,
    /// The seed of the reference tags (the first block's).
    pub seed: u64,
    /// Reserved: zero.
    pub rsvd: u64,
}

/// `{addr3, __pad2}` of the last union.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_sqe_addr3_pad {
    pub addr3: u64,
    pub __pad2: [u64; 1],
}

impl io_uring_sqe {
    /// An SQE with every byte zero (a NOP with `user_data` 0).
    pub const fn zeroed() -> Self {
        io_uring_sqe {
            opcode: 0,
            flags: 0,
            ioprio: 0,
            fd: 0,
            off: io_uring_sqe_off { off: 0 },
            addr: io_uring_sqe_addr { addr: 0 },
            len: 0,
            op_flags: io_uring_sqe_op_flags { rw_flags: 0 },
            user_data: 0,
            buf: io_uring_sqe_buf { buf_index: 0 },
            personality: 0,
            file: io_uring_sqe_file { file_index: 0 },
            addr3: io_uring_sqe_addr3 {
                addr3: io_uring_sqe_addr3_pad {
                    addr3: 0,
                    __pad2: [0],
                },
            },
        }
    }
}

impl core::fmt::Debug for io_uring_sqe {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // SAFETY: every union member of the SQE is plain integer data of the
        // union's full size or less, and an SQE is always fully initialised
        // (`zeroed` or written whole), so reading the widest member is defined.
        let (off, addr, op_flags, buf, file, addr3) = unsafe {
            (
                self.off.off,
                self.addr.addr,
                self.op_flags.poll32_events,
                self.buf.buf_index,
                self.file.file_index,
                self.addr3.addr3.addr3,
            )
        };
        f.debug_struct("io_uring_sqe")
            .field("opcode", &self.opcode)
            .field("flags", &self.flags)
            .field("ioprio", &self.ioprio)
            .field("fd", &self.fd)
            .field("off", &off)
            .field("addr", &addr)
            .field("len", &self.len)
            .field("op_flags", &op_flags)
            .field("user_data", &self.user_data)
            .field("buf_index", &buf)
            .field("personality", &self.personality)
            .field("file_index", &file)
            .field("addr3", &addr3)
            .finish()
    }
}

impl Default for io_uring_sqe {
    /// The all-zero SQE (a NOP with every field zero).
    fn default() -> io_uring_sqe {
        // SAFETY: every field of the SQE, unions included, is a plain
        // integer, for which all-zero bytes are valid.
        unsafe { core::mem::zeroed() }
    }
}

/// `struct io_uring_cqe`: one completion queue entry, 16 bytes (32 with
/// `IORING_SETUP_CQE32`, the extra 16 bytes following it in the ring).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct io_uring_cqe {
    /// `user_data` of the SQE this completes.
    pub user_data: u64,
    /// Result: a count or value on success, `-errno` on failure.
    pub res: i32,
    /// `IORING_CQE_F_*` flags; the upper 16 bits carry a buffer id.
    pub flags: u32,
}

/// An SQE of a ring made with `IORING_SETUP_SQE128`: the 64-byte SQE and
/// 64 more bytes, which `URING_CMD` uses as the rest of its 80-byte command
/// area (from `addr3` on).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct io_uring_sqe128 {
    /// The first 64 bytes, as in every ring.
    pub sqe: io_uring_sqe,
    /// The other 64.
    pub ext: [u8; 64],
}

/// A CQE of a ring made with `IORING_SETUP_CQE32` (or a 32-byte CQE of a
/// `IORING_SETUP_CQE_MIXED` ring): the CQE and `big_cqe[2]`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct io_uring_cqe32 {
    /// The first 16 bytes, as in every ring.
    pub cqe: io_uring_cqe,
    /// `big_cqe`: what the op puts in the extra 16 bytes.
    pub big_cqe: [u64; 2],
}

/// `struct io_sqring_offsets`: where the SQ ring's fields sit in its mapping.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_sqring_offsets {
    pub head: u32,
    pub tail: u32,
    pub ring_mask: u32,
    pub ring_entries: u32,
    pub flags: u32,
    pub dropped: u32,
    pub array: u32,
    pub resv1: u32,
    pub user_addr: u64,
}

/// `struct io_cqring_offsets`: where the CQ ring's fields sit in its mapping.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_cqring_offsets {
    pub head: u32,
    pub tail: u32,
    pub ring_mask: u32,
    pub ring_entries: u32,
    pub overflow: u32,
    pub cqes: u32,
    pub flags: u32,
    pub resv1: u32,
    pub user_addr: u64,
}

/// `struct io_uring_params`: passed to `io_uring_setup(2)`, filled in by it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_params {
    pub sq_entries: u32,
    pub cq_entries: u32,
    pub flags: u32,
    pub sq_thread_cpu: u32,
    pub sq_thread_idle: u32,
    pub features: u32,
    pub wq_fd: u32,
    pub resv: [u32; 3],
    pub sq_off: io_sqring_offsets,
    pub cq_off: io_cqring_offsets,
}

/// `struct io_uring_files_update` (deprecated form of `io_uring_rsrc_update`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_files_update {
    pub offset: u32,
    pub resv: u32,
    pub fds: u64,
}

/// `struct io_uring_rsrc_register`: argument of `IORING_REGISTER_FILES2` /
/// `IORING_REGISTER_BUFFERS2`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_rsrc_register {
    pub nr: u32,
    pub flags: u32,
    pub resv2: u64,
    pub data: u64,
    pub tags: u64,
}

/// `struct io_uring_rsrc_update`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_rsrc_update {
    pub offset: u32,
    pub resv: u32,
    pub data: u64,
}

/// `struct io_uring_rsrc_update2`: argument of `IORING_REGISTER_FILES_UPDATE2`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_rsrc_update2 {
    pub offset: u32,
    pub resv: u32,
    pub data: u64,
    pub tags: u64,
    pub nr: u32,
    pub resv2: u32,
}

/// `struct io_uring_probe_op`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_probe_op {
    pub op: u8,
    pub resv: u8,
    /// `IO_URING_OP_*` flags.
    pub flags: u16,
    pub resv2: u32,
}

/// `struct io_uring_query_hdr`: one query of `IORING_REGISTER_QUERY`
/// (6.18), which needs no ring; queries chain through `next_entry`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_query_hdr {
    /// The address of the next query's header, or 0.
    pub next_entry: u64,
    /// The address of the query's answer (`io_uring_query_opcode`, ...).
    pub query_data: u64,
    /// `IO_URING_QUERY_*`.
    pub query_op: u32,
    /// The size of the answer's room; the kernel writes back what it filled.
    pub size: u32,
    /// 0, or `-errno` for this query.
    pub result: i32,
    /// Zero.
    pub resv: [u32; 3],
}

/// `struct io_uring_query_opcode`, the answer of `IO_URING_QUERY_OPCODES`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_query_opcode {
    /// The number of `IORING_OP_*` opcodes the kernel knows.
    pub nr_request_opcodes: u32,
    /// The number of `IORING_[UN]REGISTER_*` opcodes it knows.
    pub nr_register_opcodes: u32,
    /// Every `IORING_FEAT_*` bit it has.
    pub feature_flags: u64,
    /// Every `IORING_SETUP_*` bit it takes.
    pub ring_setup_flags: u64,
    /// Every `IORING_ENTER_*` bit it takes.
    pub enter_flags: u64,
    /// Every `IOSQE_*` bit it takes.
    pub sqe_flags: u64,
    /// The number of `IO_URING_QUERY_*` opcodes it knows.
    pub nr_query_opcodes: u32,
    /// Padding.
    pub pad: u32,
}

/// `struct io_uring_probe`, header of a variable-length array of
/// [`io_uring_probe_op`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_probe {
    /// Last opcode supported.
    pub last_op: u8,
    /// Length of the `ops` array that follows.
    pub ops_len: u8,
    pub resv: u16,
    pub resv2: [u32; 3],
    pub ops: [io_uring_probe_op; 0],
}

/// `struct io_uring_restriction`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct io_uring_restriction {
    pub opcode: u16,
    pub arg: io_uring_restriction_arg,
    pub resv: u8,
    pub resv2: [u32; 3],
}

/// The union of `register_op`, `sqe_op` and `sqe_flags`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union io_uring_restriction_arg {
    pub register_op: u8,
    pub sqe_op: u8,
    pub sqe_flags: u8,
}

/// `struct io_uring_buf`: one entry of a provided-buffer ring.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_buf {
    pub addr: u64,
    pub len: u32,
    pub bid: u16,
    pub resv: u16,
}

/// `struct io_uring_buf_reg`: argument of `IORING_(UN)REGISTER_PBUF_RING`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_buf_reg {
    pub ring_addr: u64,
    pub ring_entries: u32,
    pub bgid: u16,
    pub flags: u16,
    pub resv: [u64; 3],
}

/// `struct io_uring_buf_status`: argument of `IORING_REGISTER_PBUF_STATUS`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_buf_status {
    pub buf_group: u32,
    pub head: u32,
    pub resv: [u32; 8],
}

/// `struct io_uring_getevents_arg`: argument of `io_uring_enter(2)` with
/// `IORING_ENTER_EXT_ARG`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_getevents_arg {
    pub sigmask: u64,
    pub sigmask_sz: u32,
    pub min_wait_usec: u32,
    pub ts: u64,
}

/// `struct io_uring_sync_cancel_reg`: argument of `IORING_REGISTER_SYNC_CANCEL`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_sync_cancel_reg {
    pub addr: u64,
    pub fd: i32,
    pub flags: u32,
    pub timeout: __kernel_timespec,
    pub opcode: u8,
    pub pad: [u8; 7],
    pub pad2: [u64; 3],
}

/// `struct io_uring_file_index_range`: argument of
/// `IORING_REGISTER_FILE_ALLOC_RANGE`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_file_index_range {
    pub off: u32,
    pub len: u32,
    pub resv: u64,
}

/// `struct io_uring_recvmsg_out`: header a multishot `RECVMSG` writes.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_recvmsg_out {
    pub namelen: u32,
    pub controllen: u32,
    pub payloadlen: u32,
    pub flags: u32,
}

/// `struct io_uring_napi`: argument of `IORING_(UN)REGISTER_NAPI`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_napi {
    pub busy_poll_to: u32,
    pub prefer_busy_poll: u8,
    /// An `IO_URING_NAPI_*_OP` / `_ID` value (6.13; 0 before).
    pub opcode: u8,
    pub pad: [u8; 2],
    /// The tracking strategy of `IO_URING_NAPI_REGISTER_OP`, or the NAPI id
    /// of `IO_URING_NAPI_STATIC_ADD_ID` / `_DEL_ID`.
    pub op_param: u32,
    pub resv: u32,
}

/// `io_uring_napi::opcode`: set busy polling and its tracking.
pub const IO_URING_NAPI_REGISTER_OP: u8 = 0;
/// `io_uring_napi::opcode`: add a NAPI id to a statically tracked list.
pub const IO_URING_NAPI_STATIC_ADD_ID: u8 = 1;
/// `io_uring_napi::opcode`: remove a NAPI id from a statically tracked list.
pub const IO_URING_NAPI_STATIC_DEL_ID: u8 = 2;
/// Tracking: the kernel adds the NAPI ids of the sockets ops touch.
pub const IO_URING_NAPI_TRACKING_DYNAMIC: u32 = 0;
/// Tracking: only the NAPI ids added by `IO_URING_NAPI_STATIC_ADD_ID`.
pub const IO_URING_NAPI_TRACKING_STATIC: u32 = 1;
/// Tracking: none (busy polling off).
pub const IO_URING_NAPI_TRACKING_INACTIVE: u32 = 255;

/// `struct io_uring_clock_register`: argument of `IORING_REGISTER_CLOCK`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_clock_register {
    pub clockid: u32,
    pub __resv: [u32; 3],
}

/// `struct io_uring_region_desc`: a memory region for
/// `IORING_REGISTER_MEM_REGION` (6.13).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_region_desc {
    pub user_addr: u64,
    pub size: u64,
    pub flags: u32,
    pub id: u32,
    pub mmap_offset: u64,
    pub __resv: [u64; 4],
}

/// `struct io_uring_mem_region_reg`: argument of
/// `IORING_REGISTER_MEM_REGION` (6.13).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_mem_region_reg {
    pub region_uptr: u64,
    pub flags: u64,
    pub __resv: [u64; 2],
}

/// `struct io_uring_reg_wait`: one registered wait argument, for
/// `io_uring_enter(2)` with `IORING_ENTER_EXT_ARG_REG` (6.13).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_reg_wait {
    pub ts: __kernel_timespec,
    pub min_wait_usec: u32,
    pub flags: u32,
    pub sigmask: u64,
    pub sigmask_sz: u32,
    pub pad: [u32; 3],
    pub pad2: [u64; 2],
}

/// `struct io_uring_clone_buffers`: argument of
/// `IORING_REGISTER_CLONE_BUFFERS` (6.12).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct io_uring_clone_buffers {
    pub src_fd: u32,
    pub flags: u32,
    pub src_off: u32,
    pub dst_off: u32,
    pub nr: u32,
    pub pad: [u32; 3],
}

/// `struct nvme_uring_cmd` (`linux/nvme_ioctl.h`): the command area of an
/// NVMe passthrough `URING_CMD`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nvme_uring_cmd {
    pub opcode: u8,
    pub flags: u8,
    pub rsvd1: u16,
    pub nsid: u32,
    pub cdw2: u32,
    pub cdw3: u32,
    pub metadata: u64,
    pub addr: u64,
    pub metadata_len: u32,
    pub data_len: u32,
    pub cdw10: u32,
    pub cdw11: u32,
    pub cdw12: u32,
    pub cdw13: u32,
    pub cdw14: u32,
    pub cdw15: u32,
    pub timeout_ms: u32,
    pub rsvd2: u32,
}
