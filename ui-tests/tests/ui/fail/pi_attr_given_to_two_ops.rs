// One op at a time holds a `PiAttr`, as one op at a time holds a buffer it
// reads into: two reads in flight would both fill its metadata buffer.
// Give each op its own `PiAttr` over its own metadata buffer.
use uring::{PiAttr, Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    let (mut a, mut b) = ([0u8; 512], [0u8; 512]);
    let mut meta = [0u8; 8];
    let mut attr = PiAttr::new(&mut meta);
    ring.scope(|s| {
        s.push(Read::new(&file, &mut a[..]).pi(&mut attr)).unwrap();
        s.push(Read::new(&file, &mut b[..]).pi(&mut attr)).unwrap();
    });
}
