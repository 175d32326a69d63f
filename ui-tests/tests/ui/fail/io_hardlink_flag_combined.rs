// Combined with a flag that may be set, a link bit is still refused.
use uring::{SqeFlags, ops::Nop};

fn main() {
    let _nop = Nop::new().flags(SqeFlags::IO_DRAIN | SqeFlags::IO_HARDLINK);
}
