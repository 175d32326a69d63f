// Every member of an SQE union spans the whole union: the header's 16-bit
// `poll_events`, 8-byte `optval` and empty `cmd` are not there, since a
// union made from one would leave bytes uninitialised that reading the SQE
// (its `Debug`, its copy into a ring) would then read.
use uring::sys::{io_uring_sqe, io_uring_sqe_addr3, io_uring_sqe_op_flags};

fn main() {
    let sqe = io_uring_sqe {
        op_flags: io_uring_sqe_op_flags { poll_events: 1 },
        ..io_uring_sqe::zeroed()
    };
    let _ = io_uring_sqe {
        addr3: io_uring_sqe_addr3 { optval: 1 },
        ..sqe
    };
    let _ = io_uring_sqe_addr3 { cmd: [] };
}
