// A shared `Fixed` is `Copy`: closing through it twice would close whatever
// was installed in the slot in between. Closing takes the slot exclusively.
use std::os::fd::AsFd;
use uring::{Ring, ops::Close};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    let slot = files.get(0).unwrap();
    let _close = Close::new(slot);
}
