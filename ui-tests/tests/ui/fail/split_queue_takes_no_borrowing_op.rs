// The submission half of `Ring::split` is the ring's safe push in a batch:
// like `Ring::push`, it takes no op that borrows, since nothing waits for
// the kernel before the borrow ends. Push it in a scope (`s.split()`).
use uring::{Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    let mut buf = [0u8; 8];
    let (mut sq, _completions) = ring.split();
    sq.push(Read::new(&file, &mut buf[..])).unwrap();
}
