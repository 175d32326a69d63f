// A ring's CQE size is one of the kernel's three.
use uring::{Ring, Sqe64};

fn main() {
    let _ring: Option<Ring<Sqe64, [u8; 48]>> = None;
}
