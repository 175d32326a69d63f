// The registration handle is not itself a file: take a slot from it.
use std::os::fd::AsFd;
use uring::{Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    let mut buf = [0u8; 16];
    let _read = Read::new(&files, &mut buf[..]);
}
