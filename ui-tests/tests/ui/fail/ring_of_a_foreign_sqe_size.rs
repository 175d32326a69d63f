// A ring's SQE and CQE sizes are the kernel's: a program's own type is not one.
use uring::{Cqe16, Ring};

fn main() {
    let _ring: Option<Ring<u64, Cqe16>> = None;
}
