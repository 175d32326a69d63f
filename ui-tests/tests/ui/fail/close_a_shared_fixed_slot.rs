// Closing a slot's file needs the slot held exclusively (`files.get_mut`):
// a `Fixed` is `Copy`, and ops over its copies would run on whatever file is
// installed in the slot after the close.
use std::os::fd::AsFd;
use uring::{Ring, ops::Close};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    let _close = Close::new(files.get(0).unwrap());
}
