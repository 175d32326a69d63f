// A chain pushed in a scope borrows for the whole scope: a buffer declared
// inside the scope's closure does not live long enough.
use std::fs::File;
use uring::{Linked, Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = File::open("/dev/zero").unwrap();
    ring.scope(|s| {
        let mut buf = [0u8; 16];
        let _ = s.push_linked(Linked::new(vec![Read::new(&file, &mut buf[..])]));
    });
}
