// The ring's safe push takes chains that borrow nothing: reads into a
// borrowed buffer go through a scope, which waits for them.
use std::fs::File;
use uring::{Linked, Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = File::open("/dev/zero").unwrap();
    let mut buf = [0u8; 16];
    let _ = ring.push_linked(Linked::new(vec![Read::new(&file, &mut buf[..])]));
}
