// IOSQE_FIXED_FILE follows from a `Fixed` target.
use uring::{SqeFlags, ops::Nop};

fn main() {
    let _nop = Nop::new().flags(SqeFlags::FIXED_FILE);
}
