// IOSQE_IO_LINK follows from `.link(..)`: set by hand it would dangle.
use uring::{SqeFlags, ops::Nop};

fn main() {
    let _nop = Nop::new().flags(SqeFlags::IO_LINK);
}
