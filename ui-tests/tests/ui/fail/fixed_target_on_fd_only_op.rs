// OPENAT's directory is looked up as a raw descriptor; the kernel cannot use
// a fixed file there.
use std::os::fd::AsFd;
use uring::{Ring, ops::OpenAt};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let dir = std::fs::File::open("/tmp").unwrap();
    let files = ring.register_files(&[dir.as_fd()]).unwrap();
    let _open = OpenAt::new(files.get(0).unwrap(), c"file");
}
