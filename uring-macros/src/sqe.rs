//! The SQE as the kernel names it: every field an op argument may land in,
//! which bytes it occupies, and how to write it.
//!
//! `struct io_uring_sqe` overlays several names on the same bytes (unions).
//! Each name here belongs to a [`Slot`]; two arguments may share a slot only if
//! they are disjoint members of the same inner struct (`level` + `optname`).

/// A group of bytes of the SQE that one union covers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Slot {
    Ioprio,
    Fd,
    Off,
    Addr,
    Len,
    OpFlags,
    Buf,
    File,
    Addr3,
}

/// How a named field is written inside its slot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Member {
    /// A plain field (`ioprio`, `fd`, `len`).
    Plain,
    /// The command area of `URING_CMD`, from `addr3` on (`cmd`): its 16
    /// bytes (`addr3` and `__pad2`) in a 64-byte SQE, its 80 in the
    /// 128-byte SQE of an entry marked `#[sqe128]`.
    Cmd,
    /// A whole-size member of the slot's union (`off`, `rw_flags`, ...).
    Union(&'static str),
    /// A member of a struct inside the union (`cmd_op` of `cmd`): the union
    /// member, the struct type, this field, and every field of that struct.
    Nested {
        member: &'static str,
        ty: &'static str,
        field: &'static str,
        all: &'static [&'static str],
    },
}

/// One kernel-named SQE field.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) slot: Slot,
    /// The Rust type of the field, as `SqeField<ty>` is asked for.
    pub(crate) ty: &'static str,
    pub(crate) member: Member,
}

const fn plain(name: &'static str, slot: Slot, ty: &'static str) -> Field {
    Field {
        name,
        slot,
        ty,
        member: Member::Plain,
    }
}

const fn union(name: &'static str, slot: Slot, ty: &'static str) -> Field {
    Field {
        name,
        slot,
        ty,
        member: Member::Union(name),
    }
}

const fn nested(
    name: &'static str,
    slot: Slot,
    ty: &'static str,
    member: &'static str,
    struct_ty: &'static str,
    all: &'static [&'static str],
) -> Field {
    nested_as(name, slot, ty, member, struct_ty, name, all)
}

/// A nested field known by another name (`optval` is `addr3`).
const fn nested_as(
    name: &'static str,
    slot: Slot,
    ty: &'static str,
    member: &'static str,
    struct_ty: &'static str,
    field: &'static str,
    all: &'static [&'static str],
) -> Field {
    Field {
        name,
        slot,
        ty,
        member: Member::Nested {
            member,
            ty: struct_ty,
            field,
            all,
        },
    }
}

const CMD: &[&str] = &["cmd_op", "__pad1"];
const SOCKOPT: &[&str] = &["level", "optname"];
const ADDR_LEN: &[&str] = &["addr_len", "__pad3"];
const WRITE_STREAM: &[&str] = &["write_stream", "__pad4"];
const ADDR3: &[&str] = &["addr3", "__pad2"];
const ATTR: &[&str] = &["attr_ptr", "attr_type_mask"];

/// Every SQE field an op argument may be written to.
pub(crate) const FIELDS: &[Field] = &[
    plain("ioprio", Slot::Ioprio, "u16"),
    plain("fd", Slot::Fd, "i32"),
    union("off", Slot::Off, "u64"),
    union("addr2", Slot::Off, "u64"),
    nested("cmd_op", Slot::Off, "u32", "cmd", "io_uring_sqe_cmd", CMD),
    union("addr", Slot::Addr, "u64"),
    union("splice_off_in", Slot::Addr, "u64"),
    nested(
        "level",
        Slot::Addr,
        "u32",
        "sockopt",
        "io_uring_sqe_sockopt",
        SOCKOPT,
    ),
    nested(
        "optname",
        Slot::Addr,
        "u32",
        "sockopt",
        "io_uring_sqe_sockopt",
        SOCKOPT,
    ),
    plain("len", Slot::Len, "u32"),
    union("rw_flags", Slot::OpFlags, "i32"),
    union("fsync_flags", Slot::OpFlags, "u32"),
    union("poll32_events", Slot::OpFlags, "u32"),
    union("sync_range_flags", Slot::OpFlags, "u32"),
    union("msg_flags", Slot::OpFlags, "u32"),
    union("timeout_flags", Slot::OpFlags, "u32"),
    union("accept_flags", Slot::OpFlags, "u32"),
    union("cancel_flags", Slot::OpFlags, "u32"),
    union("open_flags", Slot::OpFlags, "u32"),
    union("statx_flags", Slot::OpFlags, "u32"),
    union("fadvise_advice", Slot::OpFlags, "u32"),
    union("splice_flags", Slot::OpFlags, "u32"),
    union("rename_flags", Slot::OpFlags, "u32"),
    union("unlink_flags", Slot::OpFlags, "u32"),
    union("hardlink_flags", Slot::OpFlags, "u32"),
    union("xattr_flags", Slot::OpFlags, "u32"),
    union("msg_ring_flags", Slot::OpFlags, "u32"),
    union("uring_cmd_flags", Slot::OpFlags, "u32"),
    union("waitid_flags", Slot::OpFlags, "u32"),
    union("futex_flags", Slot::OpFlags, "u32"),
    union("install_fd_flags", Slot::OpFlags, "u32"),
    union("nop_flags", Slot::OpFlags, "u32"),
    union("pipe_flags", Slot::OpFlags, "u32"),
    union("buf_index", Slot::Buf, "u16"),
    union("buf_group", Slot::Buf, "u16"),
    union("splice_fd_in", Slot::File, "i32"),
    union("file_index", Slot::File, "u32"),
    union("zcrx_ifq_idx", Slot::File, "u32"),
    union("optlen", Slot::File, "u32"),
    nested(
        "addr_len",
        Slot::File,
        "u16",
        "addr_len",
        "io_uring_sqe_addr_len",
        ADDR_LEN,
    ),
    nested(
        "write_stream",
        Slot::File,
        "u8",
        "write_stream",
        "io_uring_sqe_write_stream",
        WRITE_STREAM,
    ),
    nested(
        "addr3",
        Slot::Addr3,
        "u64",
        "addr3",
        "io_uring_sqe_addr3_pad",
        ADDR3,
    ),
    nested(
        "attr_ptr",
        Slot::Addr3,
        "u64",
        "attr",
        "io_uring_sqe_attr",
        ATTR,
    ),
    nested(
        "attr_type_mask",
        Slot::Addr3,
        "u64",
        "attr",
        "io_uring_sqe_attr",
        ATTR,
    ),
    // Its type, `[u8; 16]` or `[u8; 80]`, follows from the entry's SQE size.
    Field {
        name: "cmd",
        slot: Slot::Addr3,
        ty: "u8",
        member: Member::Cmd,
    },
    nested_as(
        "optval",
        Slot::Addr3,
        "u64",
        "addr3",
        "io_uring_sqe_addr3_pad",
        "addr3",
        ADDR3,
    ),
];

/// SQE fields that an argument may not name, and why.
pub(crate) const RESERVED: &[(&str, &str)] = &[
    ("opcode", "the opcode comes from the entry's `= OPCODE`"),
    (
        "flags",
        "SQE flags come from the op's type and its `.flags()` setter",
    ),
    (
        "user_data",
        "`user_data` is set with the op's `.user_data()`",
    ),
    (
        "personality",
        "`personality` is set with the op's `.personality()`",
    ),
    (
        "poll_events",
        "`poll_events` is the 16-bit compatibility view; use `poll32_events`",
    ),
    ("__pad1", "padding is always written as zero"),
    ("__pad2", "padding is always written as zero"),
    ("__pad3", "padding is always written as zero"),
    ("__pad4", "padding is always written as zero"),
];

/// Looks a field up by its kernel name.
pub(crate) fn field(name: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.name == name)
}

/// The known field closest to a misspelt one, if any is close: a few edits
/// away, or the start of it (`offset` for `off`).
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    FIELDS
        .iter()
        .map(|f| (distance(name, f.name), f.name))
        .filter(|(d, f)| *d <= 2 || (*d <= 3 && name.get(..2) == f.get(..2)))
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// The kernel's opcode names, in opcode order (Linux 6.18), for checking a
/// bare `= NAME` in an entry.
pub(crate) const OPCODES: &[&str] = &[
    "NOP",
    "READV",
    "WRITEV",
    "FSYNC",
    "READ_FIXED",
    "WRITE_FIXED",
    "POLL_ADD",
    "POLL_REMOVE",
    "SYNC_FILE_RANGE",
    "SENDMSG",
    "RECVMSG",
    "TIMEOUT",
    "TIMEOUT_REMOVE",
    "ACCEPT",
    "ASYNC_CANCEL",
    "LINK_TIMEOUT",
    "CONNECT",
    "FALLOCATE",
    "OPENAT",
    "CLOSE",
    "FILES_UPDATE",
    "STATX",
    "READ",
    "WRITE",
    "FADVISE",
    "MADVISE",
    "SEND",
    "RECV",
    "OPENAT2",
    "EPOLL_CTL",
    "SPLICE",
    "PROVIDE_BUFFERS",
    "REMOVE_BUFFERS",
    "TEE",
    "SHUTDOWN",
    "RENAMEAT",
    "UNLINKAT",
    "MKDIRAT",
    "SYMLINKAT",
    "LINKAT",
    "MSG_RING",
    "FSETXATTR",
    "SETXATTR",
    "FGETXATTR",
    "GETXATTR",
    "SOCKET",
    "URING_CMD",
    "SEND_ZC",
    "SENDMSG_ZC",
    "READ_MULTISHOT",
    "WAITID",
    "FUTEX_WAIT",
    "FUTEX_WAKE",
    "FUTEX_WAITV",
    "FIXED_FD_INSTALL",
    "FTRUNCATE",
    "BIND",
    "LISTEN",
    "RECV_ZC",
    "EPOLL_WAIT",
    "READV_FIXED",
    "WRITEV_FIXED",
    "PIPE",
];
