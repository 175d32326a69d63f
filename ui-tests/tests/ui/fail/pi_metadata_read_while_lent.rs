// A metadata buffer lent to a read through its `PiAttr` stays lent while
// the read may run: the kernel may be writing it. Read it after
// `ring.scope(..)`, once the `PiAttr` is no longer used.
use uring::{PiAttr, Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    let mut data = [0u8; 512];
    let mut meta = [0u8; 8];
    let mut attr = PiAttr::new(&mut meta);
    ring.scope(|s| {
        s.push(Read::new(&file, &mut data[..]).pi(&mut attr)).unwrap();
        s.submit_and_wait(1).unwrap();
        assert_eq!(meta[0], 0);
    });
}
