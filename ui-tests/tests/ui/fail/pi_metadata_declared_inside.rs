// A read's protection information is borrowed for the whole scope, and its
// metadata buffer with it: a buffer declared inside the closure is gone
// before the scope has waited for the op. Declare it, and its `PiAttr`,
// before `ring.scope(..)`.
use uring::{PiAttr, Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    let mut data = [0u8; 512];
    ring.scope(|s| {
        let mut meta = [0u8; 8];
        let mut attr = PiAttr::new(&mut meta);
        s.push(Read::new(&file, &mut data[..]).pi(&mut attr)).unwrap();
    });
}
