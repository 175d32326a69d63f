// A read linked to a write of its buffer (`then_write`) borrows that buffer
// and both files: the ring's safe push cannot take the pair.
use uring::{Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let src = std::fs::File::open("/dev/zero").unwrap();
    let dst = std::fs::File::create("/dev/null").unwrap();
    let mut buf = [0u8; 16];
    let _ = ring.push(Read::new(&src, &mut buf[..]).then_write(&dst, 0));
}
