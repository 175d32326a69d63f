// A `Fixed` borrows the registration it came from: it cannot outlive it, so
// it cannot name a slot of a later registration.
use std::os::fd::AsFd;
use uring::{Ring, ops::Fsync};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    let slot = files.get(0).unwrap();
    ring.unregister_files(files).unwrap();
    let _files = ring.register_files(&[file.as_fd()]).unwrap();
    ring.scope(|s| s.push(Fsync::new(slot)).unwrap());
}
