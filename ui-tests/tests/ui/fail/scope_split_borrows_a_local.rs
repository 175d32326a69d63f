// The batch of a split scope takes the same ops as the scope: a read into a
// local of the scope's closure would be cut short by the closure's end,
// while the scope (which waits for the read) lasts longer.
use uring::{Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    ring.scope(|s| {
        let mut local = [0u8; 8];
        let (mut sq, completions) = s.split();
        sq.push(Read::new(&file, &mut local[..])).unwrap();
        drop(completions);
    });
}
