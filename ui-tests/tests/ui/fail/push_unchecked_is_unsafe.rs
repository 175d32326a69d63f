// `push_unchecked` takes ops that borrow, with nothing to keep the borrows
// alive until the kernel is done: the caller vouches for that, in `unsafe`.
// Push in a scope instead (`ring.scope(|s| s.push(op))`).
use uring::{Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    let mut buf = [0u8; 16];
    let _ = ring.push_unchecked(Read::new(&file, &mut buf[..]));
}
