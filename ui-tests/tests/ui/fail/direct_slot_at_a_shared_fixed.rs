// An op that installs its new descriptor at a slot replaces the slot's
// file, so it needs the slot held exclusively (`files.get_mut`), not a
// shared `Fixed` whose copies other ops may use.
use std::os::fd::AsFd;
use uring::{DirectSlot, Fd, Ring, ops::OpenAt};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    let slot = files.get(0).unwrap();
    let _open = OpenAt::new(Fd::CWD, c"file").direct(DirectSlot::at(slot));
}
