// The safe push takes only ops that borrow nothing short-lived: the kernel
// would write into `buf` after it is gone.
use uring::{Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    let mut buf = vec![0u8; 64];
    ring.push(Read::new(&file, &mut buf[..])).unwrap();
}
