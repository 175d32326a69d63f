// An op in a scope borrows for the whole scope: a buffer declared inside the
// closure is gone before the scope has waited for the op. Declare it before
// `ring.scope(..)`.
use uring::{Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    ring.scope(|s| {
        let mut buf = [0u8; 64];
        s.push(Read::new(&file, &mut buf[..])).unwrap();
    });
}
