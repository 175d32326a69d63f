// Updating the table needs the handle exclusively: no `Fixed` of it may be
// alive, since an op over one could run on the file the update installs.
use std::os::fd::AsFd;
use uring::{Ring, ops::Fsync};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let other = std::fs::File::open("/dev/zero").unwrap();
    let mut files = ring.register_files(&[file.as_fd()]).unwrap();
    let slot = files.get(0).unwrap();
    ring.update_files(&mut files, 0, &[Some(other.as_fd())]).unwrap();
    let _fsync = Fsync::new(slot);
}
