// `SqeFlags` has no constructor from bits: `IOSQE_FIXED_FILE`, the link bits
// and `IOSQE_BUFFER_SELECT` (bits 0, 2, 3 and 5) would make the kernel read
// what the op does not carry. Use `SqeFlags::IO_DRAIN`, `ASYNC` and
// `CQE_SKIP_SUCCESS`.
use uring::{SqeFlags, ops::Nop};

fn main() {
    let _nop = Nop::new().flags(SqeFlags::from_bits_truncate(0x01));
}
